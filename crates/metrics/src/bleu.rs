//! sacreBLEU corpus BLEU, one reference per segment, exactly as sacrebleu 2.6.0
//! `BLEU(tokenize=..., smooth_method=..., smooth_value=...).corpus_score(hyps, [refs])`
//! with `lowercase=False`, `effective_order=False`, `max_ngram_order=4`:
//!
//! - preprocessing: `BLEU._preprocess_segment` = tokenizer(`sent.rstrip()`);
//! - statistics: `helpers.extract_all_word_ngrams` (n-grams of `line.split()`) and
//!   `BLEU._compute_segment_statistics` (clipped counts), summed over segments;
//! - score: `BLEU.compute_bleu` (brevity penalty, smoothing `none`/`floor`/`add-k`/`exp`,
//!   `utils.my_log`), same floating-point operations in the same order;
//! - signature: `BLEUSignature.format()`, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{check_same_len, MetricsError, Result};
use crate::pyunicode;
use crate::tokenize_13a::tokenize_13a;

/// The sacreBLEU version whose behaviour (and signature string) this module reproduces;
/// the reference values in `tests/data/reference.json` were computed with it.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// `MAX_NGRAM_ORDER`.
pub const MAX_NGRAM_ORDER: usize = 4;

/// Tokenizers of sacreBLEU supported here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BleuTokenizer {
    /// `13a` (mteval-v13a), sacreBLEU's default.
    #[serde(rename = "13a")]
    Tok13a,
    /// `none`: the text is only split on whitespace.
    #[serde(rename = "none")]
    None,
}

impl BleuTokenizer {
    /// The tokenizer's `signature()`.
    pub fn signature(self) -> &'static str {
        match self {
            BleuTokenizer::Tok13a => "13a",
            BleuTokenizer::None => "none",
        }
    }

    /// `BLEU._preprocess_segment` (no lowercasing): `tokenizer(sent.rstrip())`.
    pub fn preprocess(self, sent: &str) -> String {
        let sent = pyunicode::rstrip(sent);
        match self {
            BleuTokenizer::Tok13a => tokenize_13a(sent),
            BleuTokenizer::None => sent.to_string(),
        }
    }
}

/// sacreBLEU's smoothing methods (`BLEU.SMOOTH_DEFAULTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Smoothing {
    /// `none`.
    #[serde(rename = "none")]
    None,
    /// `floor` (default value 0.1).
    #[serde(rename = "floor")]
    Floor,
    /// `add-k` (default value 1).
    #[serde(rename = "add-k")]
    AddK,
    /// `exp` (NIST's geometric sequence), sacreBLEU's default.
    #[serde(rename = "exp")]
    Exp,
}

impl Smoothing {
    /// The method's name in sacreBLEU.
    pub fn name(self) -> &'static str {
        match self {
            Smoothing::None => "none",
            Smoothing::Floor => "floor",
            Smoothing::AddK => "add-k",
            Smoothing::Exp => "exp",
        }
    }

    /// `SMOOTH_DEFAULTS[method]`.
    pub fn default_value(self) -> Option<f64> {
        match self {
            Smoothing::Floor => Some(0.1),
            Smoothing::AddK => Some(1.0),
            Smoothing::None | Smoothing::Exp => None,
        }
    }
}

/// Options of [`corpus_bleu`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BleuConfig {
    pub tokenizer: BleuTokenizer,
    pub smoothing: Smoothing,
    /// `smooth_value`; `None` means the method's default.
    pub smooth_value: Option<f64>,
}

impl Default for BleuConfig {
    /// sacreBLEU's defaults: `13a`, `exp`.
    fn default() -> Self {
        BleuConfig {
            tokenizer: BleuTokenizer::Tok13a,
            smoothing: Smoothing::Exp,
            smooth_value: None,
        }
    }
}

impl BleuConfig {
    /// `BLEUSignature(...).format()` for one reference per segment.
    pub fn signature(&self) -> String {
        let mut smooth = self.smoothing.name().to_string();
        if let Some(def) = self.smoothing.default_value() {
            let v = self.smooth_value.unwrap_or(def);
            smooth.push_str(&format!("[{v:.2}]"));
        }
        format!(
            "nrefs:1|case:mixed|eff:no|tok:{}|smooth:{}|version:{}",
            self.tokenizer.signature(),
            smooth,
            SACREBLEU_VERSION
        )
    }
}

/// `BLEUScore`, plus the signature.
///
/// `counts`/`totals` are the raw clipped-match and total n-gram counts. (For `add-k`,
/// sacreBLEU's own `BLEUScore.counts`/`totals` come back with `k` already added to orders
/// 2..4, because `compute_bleu` smooths them in place; `precisions` and `score` agree.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU, 0..100, unrounded.
    pub score: f64,
    pub counts: [u64; MAX_NGRAM_ORDER],
    pub totals: [u64; MAX_NGRAM_ORDER],
    /// n-gram precisions ×100 (after smoothing).
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    pub sys_len: u64,
    pub ref_len: u64,
    /// sacreBLEU's reproducibility signature for these settings.
    pub signature: String,
}

impl BleuScore {
    /// `sys_len / ref_len` (0 when `ref_len` is 0), as sacreBLEU prints it.
    pub fn ratio(&self) -> f64 {
        if self.ref_len > 0 {
            self.sys_len as f64 / self.ref_len as f64
        } else {
            0.0
        }
    }
}

impl fmt::Display for BleuScore {
    /// `BLEUScore.format()` without signature:
    /// `BLEU = 26.41 58.1/32.0/19.9/12.5 (BP = 1.000 ratio = 1.020 hyp_len = 51 ref_len = 50)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.precisions;
        write!(
            f,
            "BLEU = {:.2} {:.1}/{:.1}/{:.1}/{:.1} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            self.score,
            p[0],
            p[1],
            p[2],
            p[3],
            self.bp,
            self.ratio(),
            self.sys_len,
            self.ref_len
        )
    }
}

/// Sufficient statistics of a corpus (`[hyp_len, ref_len] + correct + total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BleuStats {
    pub sys_len: u64,
    pub ref_len: u64,
    pub correct: [u64; MAX_NGRAM_ORDER],
    pub total: [u64; MAX_NGRAM_ORDER],
}

/// `extract_all_word_ngrams(line, 1, 4)`: n-gram counts of `line.split()` and its length.
fn word_ngrams(line: &str) -> (HashMap<Vec<&str>, u64>, u64) {
    let tokens: Vec<&str> = pyunicode::split(line).collect();
    let mut counts: HashMap<Vec<&str>, u64> = HashMap::new();
    for n in 1..=MAX_NGRAM_ORDER {
        if tokens.len() >= n {
            for w in tokens.windows(n) {
                *counts.entry(w.to_vec()).or_insert(0) += 1;
            }
        }
    }
    (counts, tokens.len() as u64)
}

/// `_compute_segment_statistics` for already preprocessed strings, one reference.
pub fn segment_stats(hyp: &str, reference: &str) -> BleuStats {
    let (ref_ngrams, ref_len) = word_ngrams(reference);
    let (hyp_ngrams, hyp_len) = word_ngrams(hyp);
    let mut st = BleuStats {
        sys_len: hyp_len,
        ref_len,
        ..Default::default()
    };
    for (g, &c) in &hyp_ngrams {
        let n = g.len() - 1;
        st.total[n] += c;
        if let Some(&r) = ref_ngrams.get(g) {
            st.correct[n] += c.min(r);
        }
    }
    st
}

/// `utils.my_log`.
fn my_log(x: f64) -> f64 {
    if x == 0.0 {
        -9999999999.0
    } else {
        x.ln()
    }
}

/// `BLEU.compute_bleu` (effective_order off, max order 4).
pub fn compute_bleu(stats: &BleuStats, config: &BleuConfig) -> Result<BleuScore> {
    let smooth_value = config
        .smooth_value
        .or(config.smoothing.default_value())
        .unwrap_or(0.0);
    if !smooth_value.is_finite() || smooth_value < 0.0 {
        return Err(MetricsError::InvalidOption(format!(
            "bleu: smooth_value must be a finite non-negative number, got {smooth_value}"
        )));
    }
    let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
    let mut bp = 1.0;
    if sys_len < ref_len {
        bp = if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        };
    }
    let mut precisions = [0.0f64; MAX_NGRAM_ORDER];
    let mut out = BleuScore {
        score: 0.0,
        counts: stats.correct,
        totals: stats.total,
        precisions,
        bp,
        sys_len,
        ref_len,
        signature: config.signature(),
    };
    // Early stop if there are no matches (#141)
    if stats.correct.iter().all(|&c| c == 0) {
        return Ok(out);
    }
    let mut smooth_mteval = 1.0f64;
    for n in 1..=MAX_NGRAM_ORDER {
        let mut correct = stats.correct[n - 1] as f64;
        let mut total = stats.total[n - 1] as f64;
        if config.smoothing == Smoothing::AddK && n > 1 {
            correct += smooth_value;
            total += smooth_value;
        }
        if total == 0.0 {
            break;
        }
        if correct == 0.0 {
            match config.smoothing {
                Smoothing::Exp => {
                    smooth_mteval *= 2.0;
                    precisions[n - 1] = 100.0 / (smooth_mteval * total);
                }
                Smoothing::Floor => precisions[n - 1] = 100.0 * smooth_value / total,
                Smoothing::None | Smoothing::AddK => {}
            }
        } else {
            precisions[n - 1] = 100.0 * correct / total;
        }
    }
    let mut log_sum = 0.0f64;
    for p in precisions {
        log_sum += my_log(p);
    }
    out.score = bp * (log_sum / MAX_NGRAM_ORDER as f64).exp();
    out.precisions = precisions;
    Ok(out)
}

/// Sums the statistics of preprocessed segments (`sum_of_lists`).
pub fn corpus_stats<S: AsRef<str>>(hyps: &[S], refs: &[S]) -> Result<BleuStats> {
    check_same_len("hyp", hyps.len(), "ref", refs.len(), "lines")?;
    let mut acc = BleuStats::default();
    for (h, r) in hyps.iter().zip(refs) {
        let s = segment_stats(h.as_ref(), r.as_ref());
        acc.sys_len += s.sys_len;
        acc.ref_len += s.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            acc.correct[n] += s.correct[n];
            acc.total[n] += s.total[n];
        }
    }
    Ok(acc)
}

/// `BLEU(tokenize, smooth_method, smooth_value).corpus_score(hyps, [refs])`.
pub fn corpus_bleu<S: AsRef<str>>(
    hyps: &[S],
    refs: &[S],
    config: &BleuConfig,
) -> Result<BleuScore> {
    check_same_len("hyp", hyps.len(), "ref", refs.len(), "lines")?;
    if hyps.is_empty() {
        return Err(MetricsError::Empty { metric: "bleu" });
    }
    let h: Vec<String> = hyps
        .iter()
        .map(|s| config.tokenizer.preprocess(s.as_ref()))
        .collect();
    let r: Vec<String> = refs
        .iter()
        .map(|s| config.tokenizer.preprocess(s.as_ref()))
        .collect();
    compute_bleu(&corpus_stats(&h, &r)?, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut c = BleuConfig::default();
        assert_eq!(
            c.signature(),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
        );
        c.smoothing = Smoothing::Floor;
        assert!(c.signature().contains("smooth:floor[0.10]|"));
        c.smoothing = Smoothing::AddK;
        assert!(c.signature().contains("smooth:add-k[1.00]|"));
    }

    #[test]
    fn identical_corpus_scores_100() {
        let s = corpus_bleu(
            &["the cat sat on the mat"],
            &["the cat sat on the mat"],
            &BleuConfig::default(),
        )
        .unwrap();
        assert!((s.score - 100.0).abs() < 1e-9);
    }
}
