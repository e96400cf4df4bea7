//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong when scoring. Messages name the offending input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    /// Two inputs that must be parallel have different lengths,
    /// e.g. "hyp has 199 lines, ref has 200".
    #[error("{left} has {left_len} {unit}, {right} has {right_len}")]
    LengthMismatch {
        left: &'static str,
        left_len: usize,
        right: &'static str,
        right_len: usize,
        unit: &'static str,
    },
    /// No items at all.
    #[error("{metric}: empty input")]
    Empty { metric: &'static str },
    /// Fewer items than the statistic needs.
    #[error("{metric}: needs at least {needed} values, got {got}")]
    TooFew {
        metric: &'static str,
        needed: usize,
        got: usize,
    },
    /// A correlation of a constant series is undefined (scipy returns NaN and warns).
    #[error("{metric}: constant input ({which} has a single distinct value)")]
    ConstantInput {
        metric: &'static str,
        which: &'static str,
    },
    /// NaN or infinity in a numeric input.
    #[error("{metric}: non-finite value {value} at index {index} of {which}")]
    NonFinite {
        metric: &'static str,
        which: &'static str,
        index: usize,
        value: f64,
    },
    /// Labels the metric cannot handle (e.g. binary F1 on multiclass labels).
    #[error("{metric}: {message}")]
    InvalidLabels {
        metric: &'static str,
        message: String,
    },
    /// A line of a one-item-per-line input that does not parse.
    #[error("{side} line {line}: cannot parse {value:?} as {expected}")]
    Parse {
        side: &'static str,
        line: usize,
        value: String,
        expected: &'static str,
    },
    /// An unknown metric name.
    #[error("unknown metric {0:?} (expected one of: bleu, bleu-ro-moses, rouge1, rouge2, rougeL, rougeLsum, accuracy, f1, mcc, pearson, spearman)")]
    UnknownMetric(String),
    /// An invalid option value (e.g. a negative smoothing value).
    #[error("{0}")]
    InvalidOption(String),
}

/// `Result` with [`MetricsError`].
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Checks that two parallel inputs have the same length.
pub(crate) fn check_same_len(
    left: &'static str,
    left_len: usize,
    right: &'static str,
    right_len: usize,
    unit: &'static str,
) -> Result<()> {
    if left_len == right_len {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch {
            left,
            left_len,
            right,
            right_len,
            unit,
        })
    }
}
