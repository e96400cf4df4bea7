//! Sequence-to-sequence examples (XSum summarisation, WMT16 translation). Loaders are in
//! [`crate::xsum`] and [`crate::wmt16`]; target encoding is [`crate::TextEncoder::encode_targets`].

/// A source/target pair with the data set's id (XSum's `id`, or the row number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairExample {
    pub id: String,
    pub source: String,
    pub target: String,
}

use std::path::PathBuf;

use crate::error::{DataError, Result};
use crate::Split;

/// The plain splits of XSum and WMT16.
pub(crate) fn check_plain_split(dataset: &str, split: Split) -> Result<()> {
    match split {
        Split::Train | Split::Validation | Split::Test => Ok(()),
        other => Err(DataError::Invalid(format!(
            "{dataset} has no split `{other}`; its splits are train, validation, test"
        ))),
    }
}

/// Parquet shards of `split` in the first of `dirs` that has any.
pub(crate) fn find_shards(dirs: &[PathBuf], split: Split) -> Vec<PathBuf> {
    for d in dirs {
        let s = crate::pq::shards(d, split.as_str());
        if !s.is_empty() {
            return s;
        }
    }
    Vec::new()
}

/// The lines of a text file; a final newline does not make an extra empty line.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if v.last() == Some(&"") {
        v.pop();
    }
    v
}

pub(crate) fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn missing(what: &str, tried: &[PathBuf], hint: &str) -> DataError {
    let first = tried.first().cloned().unwrap_or_default();
    DataError::Missing {
        what: what.to_string(),
        path: first,
        hint: if tried.len() > 1 {
            format!(" (nor {}); {hint}", display_list(&tried[1..]))
        } else {
            format!("; {hint}")
        },
    }
}
