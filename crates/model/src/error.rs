use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while turning a Hugging Face folder into a model.
/// Every variant names the file and, where there is one, the key or field.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{dir}: no {wanted} found. {hint}")]
    MissingFile {
        dir: PathBuf,
        wanted: String,
        hint: String,
    },

    #[error("{path}: field `{field}`: {message}")]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },

    #[error("{path}: unsupported model_type `{model_type}` (supported: {supported})")]
    UnsupportedModelType {
        path: PathBuf,
        model_type: String,
        supported: String,
    },

    #[error("cannot write {what}: {why}")]
    Unsupported { what: String, why: String },

    #[error("{path}: cannot read checkpoint: {message}")]
    Checkpoint { path: PathBuf, message: String },

    #[error("{path}: missing tensor `{key}` (looked for {tried})")]
    MissingTensor {
        path: PathBuf,
        key: String,
        tried: String,
    },

    #[error("{path}: tensor `{key}` has shape {found:?}, expected {expected:?} ({why})")]
    ShapeMismatch {
        path: PathBuf,
        key: String,
        found: Vec<usize>,
        expected: Vec<usize>,
        why: String,
    },

    #[error("{path}: tensor `{key}`: {message}")]
    BadTensor {
        path: PathBuf,
        key: String,
        message: String,
    },

    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },

    #[error(transparent)]
    Method(#[from] peftgrid_zoo::ZooError),

    #[error("input `{name}`: {message}")]
    Input { name: String, message: String },

    #[error("generation setting `{field}`: {message}")]
    Generation { field: String, message: String },
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
