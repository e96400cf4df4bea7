//! peftgrid's data layer: loaders for the public formats of GLUE, XSum, WMT16 ro-en, CIFAR-100
//! and the FGVC sets, tokenisation and batching, the ViT image pipeline, UniPELT's low-resource
//! subsampling and a data-check report.
//!
//! Nothing here depends on Burn: batches are flat `Vec`s with their shapes, and the runner turns
//! them into tensors. Nothing is downloaded: every loader reads files as their public
//! distributions ship them, and a missing file is an error that names the file and where it is
//! published. Bad input never panics; every error names the file (and row/column) and the problem.

pub mod check;
pub mod cifar100;
mod error;
pub mod fgvc;
pub mod glue;
pub mod image_pipeline;
mod pq;
mod rng;
pub mod sample;
pub mod seq2seq;
pub mod tokenize;
mod tsv;
pub mod vision;
pub mod wmt16;
pub mod xsum;

pub use error::{DataError, Result};
pub use glue::GlueTask;
pub use image_pipeline::{batch_pixels, Preprocessor, Transform};
pub use sample::low_resource;
pub use seq2seq::PairExample;
pub use tokenize::{
    bucketed_batches, random_batches, read_batch_order, targets_from_ids, token_batches,
    TargetBatch, TextBatch, TextEncoder,
};
pub use vision::{ImageExample, ImageSource};

use std::fmt;
use std::str::FromStr;

/// A split of a data set, by its Hugging Face name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Validation,
    Test,
    ValidationMatched,
    ValidationMismatched,
    TestMatched,
    TestMismatched,
}

impl Split {
    /// Every split, in a stable order.
    pub const ALL: [Split; 7] = [
        Split::Train,
        Split::Validation,
        Split::Test,
        Split::ValidationMatched,
        Split::ValidationMismatched,
        Split::TestMatched,
        Split::TestMismatched,
    ];

    /// The Hugging Face name (`train`, `validation_matched`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
            Split::ValidationMatched => "validation_matched",
            Split::ValidationMismatched => "validation_mismatched",
            Split::TestMatched => "test_matched",
            Split::TestMismatched => "test_mismatched",
        }
    }

    /// Whether this is a test split (labels withheld: −1 in the public files).
    pub fn is_test(self) -> bool {
        matches!(
            self,
            Split::Test | Split::TestMatched | Split::TestMismatched
        )
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.to_ascii_lowercase();
        Ok(match s.as_str() {
            "train" => Split::Train,
            "validation" | "valid" | "val" | "dev" => Split::Validation,
            "test" => Split::Test,
            "validation_matched" | "dev_matched" => Split::ValidationMatched,
            "validation_mismatched" | "dev_mismatched" => Split::ValidationMismatched,
            "test_matched" => Split::TestMatched,
            "test_mismatched" => Split::TestMismatched,
            other => {
                return Err(DataError::Invalid(format!(
                    "unknown split `{other}`; expected one of {}",
                    Split::ALL.map(Split::as_str).join(", ")
                )))
            }
        })
    }
}

/// The label of a text example.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Label {
    /// A class index, `0..num_labels`.
    Class(usize),
    /// A regression target (STS-B: 0–5).
    Score(f32),
    /// No label (test splits, where the public files have −1).
    None,
}

impl Label {
    /// The class index, if this is a class label.
    pub fn class(self) -> Option<usize> {
        match self {
            Label::Class(c) => Some(c),
            _ => None,
        }
    }

    /// The label as a float (class index or score), if there is one.
    pub fn as_f32(self) -> Option<f32> {
        match self {
            Label::Class(c) => Some(c as f32),
            Label::Score(s) => Some(s),
            Label::None => None,
        }
    }
}

/// One example of a sentence or sentence-pair task.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExample {
    /// The `idx` column of the Parquet files; for TSVs, the data row's number (0-based, as
    /// Hugging Face's GLUE script numbers them, so skipped malformed rows leave gaps).
    pub idx: u64,
    pub text_a: String,
    pub text_b: Option<String>,
    pub label: Label,
}
