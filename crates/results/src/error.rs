//! The one error type of the crate; every variant names the file it is about.

use std::path::{Path, PathBuf};

/// What went wrong reading, writing or reporting results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A results file exists but is not readable Parquet (truncated, corrupt, not Parquet). It is
    /// never replaced silently.
    #[error(
        "cannot read results file {}: {message} (the file was left as it is; move it away or \
         restore it before writing results there)",
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    /// A results file is Parquet but not a results table (a column missing or of the wrong type,
    /// an unknown status).
    #[error("results file {}: {message}", path.display())]
    Schema { path: PathBuf, message: String },
    /// Writing a results file failed; the previous file (if any) is intact.
    #[error(
        "cannot write results file {}: {message} (the previous file, if any, is unchanged)",
        path.display()
    )]
    Write { path: PathBuf, message: String },
    /// The published-numbers file does not parse or is inconsistent.
    #[error("published numbers {}: {message}", path.display())]
    Published { path: PathBuf, message: String },
    /// A findings file does not parse or is inconsistent (see [`crate::findings`]); the message
    /// names the finding.
    #[error("findings {}: {message}", path.display())]
    Findings { path: PathBuf, message: String },
    /// Drawing a chart failed.
    #[error("chart {}: {message}", path.display())]
    Chart { path: PathBuf, message: String },
    /// Another process is writing this results file (it holds `<file>.lock`).
    #[error(
        "results file {} is being written by another sweep ({owner}; lock {}). Wait for it to \
         finish, or give each concurrent sweep or shard its own file (--results DIR, or --shard \
         i/N with one DIR each, then `peftgrid merge`)",
        path.display(),
        lock.display()
    )]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        owner: String,
    },
    /// An argument is out of its domain.
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = ResultsError> = std::result::Result<T, E>;

impl ResultsError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ResultsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn schema(path: &Path, message: impl Into<String>) -> Self {
        ResultsError::Schema {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
