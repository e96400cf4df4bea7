//! What every adapter folder format shares (peft's, AdapterHub's): an `adapter_config.json` and
//! a weight file beside it, read with errors that name the file and field.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::error::{ModelError, Result};

pub(crate) const CONFIG_FILE: &str = "adapter_config.json";

pub(crate) fn config_error(path: &Path, field: &str, message: impl Into<String>) -> ModelError {
    ModelError::Config {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// `dir/adapter_config.json`, parsed, with its path.
pub(crate) fn read_config(dir: &Path) -> Result<(PathBuf, Value)> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
        path: path.clone(),
        source,
    })?;
    let value =
        serde_json::from_str(&text).map_err(|e| config_error(&path, "(file)", e.to_string()))?;
    Ok((path, value))
}

/// The first of `files` that exists in `dir`, opened; `hint` says what writes it.
pub(crate) fn open_weights(dir: &Path, files: &[&str], hint: &str) -> Result<Checkpoint> {
    let path = files
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::MissingFile {
            dir: dir.to_path_buf(),
            wanted: files.join(" or "),
            hint: hint.to_string(),
        })?;
    Checkpoint::open_file(&path)
}

/// A method an adapter's config describes that the model cannot carry (a budget that does not
/// fit its widths, a placement it has no site for) is an error about that config: name it.
pub(crate) fn about_config(path: &Path, error: ModelError) -> ModelError {
    match error {
        ModelError::Method(e) => config_error(path, "(the method it describes)", e.to_string()),
        other => other,
    }
}
