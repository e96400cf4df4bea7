//! ROUGE exactly as Google's `rouge-score` 0.1.2 computes it with
//! `rouge_scorer.RougeScorer([...], use_stemmer=True)` and `scorer.score(target, prediction)`.
//!
//! - tokenizer: `rouge_score/tokenize.py::tokenize` with NLTK's Porter stemmer ([`crate::porter`]);
//! - rouge1/rouge2: `rouge_scorer._create_ngrams` + `_score_ngrams`;
//! - rougeL: `_score_lcs` (LCS over the whole token sequences);
//! - rougeLsum: texts split on `"\n"` (empty pieces dropped, `split_summaries=False`), then
//!   `_summary_level_lcs` (union LCS per reference sentence, with the clipped hit counting);
//! - F-measure: `scoring.fmeasure`.
//!
//! Corpus level ([`corpus`]) is the plain mean over pairs, returned ×100 like papers report it.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{check_same_len, MetricsError, Result};
use crate::porter;

/// The ROUGE variants rouge-score calls rouge1, rouge2, rougeL and rougeLsum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RougeType {
    #[serde(rename = "rouge1")]
    Rouge1,
    #[serde(rename = "rouge2")]
    Rouge2,
    #[serde(rename = "rougeL")]
    RougeL,
    #[serde(rename = "rougeLsum")]
    RougeLsum,
}

impl RougeType {
    /// All four, in rouge-score's usual order.
    pub const ALL: [RougeType; 4] = [
        RougeType::Rouge1,
        RougeType::Rouge2,
        RougeType::RougeL,
        RougeType::RougeLsum,
    ];

    /// rouge-score's name for it.
    pub fn name(self) -> &'static str {
        match self {
            RougeType::Rouge1 => "rouge1",
            RougeType::Rouge2 => "rouge2",
            RougeType::RougeL => "rougeL",
            RougeType::RougeLsum => "rougeLsum",
        }
    }
}

impl fmt::Display for RougeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `scoring.Score`: precision, recall and F-measure of one pair, as fractions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl RougeScore {
    fn from_pr(precision: f64, recall: f64) -> Self {
        RougeScore {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }
}

/// The four scores of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairScores {
    pub rouge1: RougeScore,
    #[serde(rename = "rouge2")]
    pub rouge2: RougeScore,
    #[serde(rename = "rougeL")]
    pub rouge_l: RougeScore,
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: RougeScore,
}

impl PairScores {
    /// The score of one type.
    pub fn get(&self, kind: RougeType) -> RougeScore {
        match kind {
            RougeType::Rouge1 => self.rouge1,
            RougeType::Rouge2 => self.rouge2,
            RougeType::RougeL => self.rouge_l,
            RougeType::RougeLsum => self.rouge_lsum,
        }
    }
}

/// Corpus-level ROUGE: the means over pairs of precision, recall and F-measure, ×100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RougeCorpus {
    pub rouge_type: RougeType,
    /// Mean F-measure ×100: the number reported.
    pub fmeasure: f64,
    /// Mean precision ×100.
    pub precision: f64,
    /// Mean recall ×100.
    pub recall: f64,
    /// Number of pairs.
    pub n: usize,
}

/// `scoring.fmeasure`.
pub fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// `tokenize.tokenize(text, PorterStemmer())`: lowercase, every run of characters other than
/// `[a-z0-9]` becomes a space, split, stem tokens longer than 3 characters, keep `[a-z0-9]+`.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut norm = String::with_capacity(text.len());
    for c in text.chars() {
        // Python lowercases the whole string first; only ASCII letters and digits survive, and
        // the only non-ASCII characters whose lowercase contains one are U+0130 and U+212A,
        // which `char::to_lowercase` maps the same way.
        for l in c.to_lowercase() {
            if l.is_ascii_lowercase() || l.is_ascii_digit() {
                norm.push(l);
            } else {
                norm.push(' ');
            }
        }
    }
    norm.split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.len() > 3 {
                porter::stem(t)
            } else {
                t.to_string()
            }
        })
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        .collect()
}

/// `_create_ngrams`.
fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

/// `_create_ngrams` + `_score_ngrams` on token sequences (`target` = reference).
pub fn score_ngrams(target: &[String], prediction: &[String], n: usize) -> RougeScore {
    let t = ngrams(target, n);
    let p = ngrams(prediction, n);
    let intersection: usize = t
        .iter()
        .map(|(g, &c)| c.min(p.get(g).copied().unwrap_or(0)))
        .sum();
    let t_count: usize = t.values().sum();
    let p_count: usize = p.values().sum();
    let precision = intersection as f64 / p_count.max(1) as f64;
    let recall = intersection as f64 / t_count.max(1) as f64;
    RougeScore::from_pr(precision, recall)
}

/// `_lcs_table`.
fn lcs_table(r: &[String], c: &[String]) -> Vec<Vec<usize>> {
    let mut t = vec![vec![0usize; c.len() + 1]; r.len() + 1];
    for i in 1..=r.len() {
        for j in 1..=c.len() {
            t[i][j] = if r[i - 1] == c[j - 1] {
                t[i - 1][j - 1] + 1
            } else {
                t[i - 1][j].max(t[i][j - 1])
            };
        }
    }
    t
}

/// `_score_lcs` (`target` = reference).
pub fn score_lcs(target: &[String], prediction: &[String]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    let lcs = lcs_table(target, prediction)[target.len()][prediction.len()];
    RougeScore::from_pr(
        lcs as f64 / prediction.len() as f64,
        lcs as f64 / target.len() as f64,
    )
}

/// `lcs_ind` = `_lcs_table` + `_backtrack_norec`: indices into `r` of one LCS.
fn lcs_indices(r: &[String], c: &[String]) -> Vec<usize> {
    let t = lcs_table(r, c);
    let (mut i, mut j) = (r.len(), c.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if r[i - 1] == c[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i][j - 1] > t[i - 1][j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

/// `_summary_level_lcs` on tokenised sentences (`ref_sents` = reference).
pub fn summary_level_lcs(ref_sents: &[Vec<String>], can_sents: &[Vec<String>]) -> RougeScore {
    if ref_sents.is_empty() || can_sents.is_empty() {
        return RougeScore::default();
    }
    let m: usize = ref_sents.iter().map(Vec::len).sum();
    let n: usize = can_sents.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return RougeScore::default();
    }
    let mut cnt_r: HashMap<&str, usize> = HashMap::new();
    let mut cnt_c: HashMap<&str, usize> = HashMap::new();
    for t in ref_sents.iter().flatten() {
        *cnt_r.entry(t.as_str()).or_insert(0) += 1;
    }
    for t in can_sents.iter().flatten() {
        *cnt_c.entry(t.as_str()).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    for r in ref_sents {
        // `_union_lcs` / `_find_union`: sorted union of the LCS indices against every candidate.
        let mut union: Vec<usize> = can_sents.iter().flat_map(|c| lcs_indices(r, c)).collect();
        union.sort_unstable();
        union.dedup();
        for i in union {
            let t = r[i].as_str();
            let (Some(c), Some(rr)) = (cnt_c.get(t).copied(), cnt_r.get(t).copied()) else {
                continue;
            };
            if c > 0 && rr > 0 {
                hits += 1;
                cnt_c.insert(t, c - 1);
                cnt_r.insert(t, rr - 1);
            }
        }
    }
    RougeScore::from_pr(hits as f64 / n as f64, hits as f64 / m as f64)
}

/// `get_sents` of `RougeScorer.score` with `split_summaries=False`.
fn sentences(text: &str) -> Vec<Vec<String>> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(tokenize)
        .collect()
}

/// `RougeScorer([kind], use_stemmer=True).score(reference, hyp)[kind]`.
pub fn score(kind: RougeType, hyp: &str, reference: &str) -> RougeScore {
    match kind {
        RougeType::Rouge1 => score_ngrams(&tokenize(reference), &tokenize(hyp), 1),
        RougeType::Rouge2 => score_ngrams(&tokenize(reference), &tokenize(hyp), 2),
        RougeType::RougeL => score_lcs(&tokenize(reference), &tokenize(hyp)),
        RougeType::RougeLsum => summary_level_lcs(&sentences(reference), &sentences(hyp)),
    }
}

/// All four scores of one (hypothesis, reference) pair; `RougeScorer.score(target=reference,
/// prediction=hyp)`.
pub fn score_pair(hyp: &str, reference: &str) -> PairScores {
    let t = tokenize(reference);
    let p = tokenize(hyp);
    PairScores {
        rouge1: score_ngrams(&t, &p, 1),
        rouge2: score_ngrams(&t, &p, 2),
        rouge_l: score_lcs(&t, &p),
        rouge_lsum: summary_level_lcs(&sentences(reference), &sentences(hyp)),
    }
}

/// Corpus ROUGE: the mean over pairs, ×100 (fmeasure is the reported number).
pub fn corpus<S: AsRef<str>>(kind: RougeType, hyps: &[S], refs: &[S]) -> Result<RougeCorpus> {
    check_same_len("hyp", hyps.len(), "ref", refs.len(), "lines")?;
    if hyps.is_empty() {
        return Err(MetricsError::Empty {
            metric: kind.name(),
        });
    }
    let (mut p, mut r, mut f) = (0.0, 0.0, 0.0);
    for (h, t) in hyps.iter().zip(refs) {
        let s = score(kind, h.as_ref(), t.as_ref());
        p += s.precision;
        r += s.recall;
        f += s.fmeasure;
    }
    let n = hyps.len() as f64;
    Ok(RougeCorpus {
        rouge_type: kind,
        fmeasure: f / n * 100.0,
        precision: p / n * 100.0,
        recall: r / n * 100.0,
        n: hyps.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_example() {
        // RougeScorer(['rouge1', 'rougeL'], use_stemmer=True).score(
        //     'The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the log.')
        let s = score_pair(
            "The quick brown dog jumps on the log.",
            "The quick brown fox jumps over the lazy dog",
        );
        assert!((s.rouge1.precision - 0.75).abs() < 1e-12);
        assert!((s.rouge1.recall - 0.6666666666666666).abs() < 1e-12);
        assert!((s.rouge1.fmeasure - 0.7058823529411765).abs() < 1e-12);
        assert!((s.rouge_l.precision - 0.625).abs() < 1e-12);
        assert!((s.rouge_l.fmeasure - 0.5882352941176471).abs() < 1e-12);
    }

    #[test]
    fn empty_sides_score_zero() {
        for k in RougeType::ALL {
            assert_eq!(score(k, "", "a b c"), RougeScore::default());
            assert_eq!(score(k, "a b c", ""), RougeScore::default());
        }
    }
}
