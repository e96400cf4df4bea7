//! The crate's one error type. Every message names the file (and, where it applies, the row,
//! column or field) and says what is wrong with it.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading or preparing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An I/O error on a named file.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file the loader needs is not there.
    #[error("{what} not found: {}{hint}", .path.display())]
    Missing {
        what: String,
        path: PathBuf,
        /// Where the file comes from (starts with "; " when non-empty).
        hint: String,
    },

    /// A Parquet file that cannot be read (truncated, not Parquet, unsupported encoding).
    #[error("{}: cannot read Parquet ({message}); is the file truncated or not Parquet?", .path.display())]
    Parquet { path: PathBuf, message: String },

    /// A table (Parquet or TSV) lacks the columns the loader needs.
    #[error(
        "{}: missing column(s) {}; expected columns {}, found {}",
        .path.display(),
        list(.missing),
        list(.expected),
        list(.found)
    )]
    Columns {
        path: PathBuf,
        missing: Vec<String>,
        expected: Vec<String>,
        found: Vec<String>,
    },

    /// A bad value at a known place: `at` is "row 17" (Parquet, 0-based), "line 18" (text
    /// files, 1-based) or "record 5" (CIFAR binary, 0-based).
    #[error("{}: {at}, {field}: {message}", .path.display())]
    Value {
        path: PathBuf,
        at: String,
        field: String,
        message: String,
    },

    /// A file whose overall shape is wrong (size, line counts, JSON structure, ...).
    #[error("{}: {message}", .path.display())]
    Format { path: PathBuf, message: String },

    /// An image that cannot be decoded; `origin` names the file or the Parquet row.
    #[error("{origin}: cannot decode image: {message}")]
    Image { origin: String, message: String },

    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer {}: {message}", .path.display())]
    Tokenizer { path: PathBuf, message: String },

    /// A request the data cannot satisfy (a split a task does not have, k larger than the
    /// training set, a batch size of zero, ...).
    #[error("{0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn value(
        path: &Path,
        at: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Value {
            path: path.to_path_buf(),
            at: at.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn missing(what: impl Into<String>, path: &Path, source_hint: &str) -> Self {
        DataError::Missing {
            what: what.into(),
            path: path.to_path_buf(),
            hint: if source_hint.is_empty() {
                String::new()
            } else {
                format!("; {source_hint}")
            },
        }
    }
}

/// Reads a whole file, naming it in the error; a missing file is a [`DataError::Missing`].
pub(crate) fn read_file(path: &Path, what: &str, source_hint: &str) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(DataError::missing(what, path, source_hint))
        }
        Err(e) => Err(DataError::io(path, e)),
    }
}

/// Reads a whole UTF-8 text file (a leading byte-order mark is dropped); invalid UTF-8 is an
/// error naming the line.
pub(crate) fn read_text(path: &Path, what: &str, source_hint: &str) -> Result<String> {
    let bytes = read_file(path, what, source_hint)?;
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..'\u{feff}'.len_utf8());
            }
            Ok(s)
        }
        Err(e) => {
            let upto = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..upto].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::format(
                path,
                format!("line {line}: not valid UTF-8 (byte offset {upto})"),
            ))
        }
    }
}
