//! The metric names the runner and `peftgrid score` use, and [`score_lines`], which scores
//! one-item-per-line inputs the way sacreBLEU's and rouge-score's command lines do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bleu::{self, BleuConfig, BleuScore, BleuTokenizer, Smoothing};
use crate::classification;
use crate::correlation;
use crate::error::{check_same_len, MetricsError, Result};
use crate::moses;
use crate::rouge::{self, RougeCorpus, RougeType};

/// Every metric the crate reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// sacreBLEU corpus BLEU (`13a`, `exp`).
    #[serde(rename = "bleu")]
    Bleu,
    /// BLEU after the fairseq mBART en-ro Moses pipeline (`tok:none`, `smooth:none`).
    #[serde(rename = "bleu-ro-moses")]
    BleuRoMoses,
    #[serde(rename = "rouge1")]
    Rouge1,
    #[serde(rename = "rouge2")]
    Rouge2,
    #[serde(rename = "rougeL")]
    RougeL,
    #[serde(rename = "rougeLsum")]
    RougeLsum,
    #[serde(rename = "accuracy")]
    Accuracy,
    /// Binary F1 of class 1.
    #[serde(rename = "f1")]
    F1,
    /// Matthews correlation coefficient.
    #[serde(rename = "mcc")]
    Mcc,
    #[serde(rename = "pearson")]
    Pearson,
    #[serde(rename = "spearman")]
    Spearman,
}

impl Metric {
    /// All metrics, in a stable order.
    pub const ALL: [Metric; 11] = [
        Metric::Bleu,
        Metric::BleuRoMoses,
        Metric::Rouge1,
        Metric::Rouge2,
        Metric::RougeL,
        Metric::RougeLsum,
        Metric::Accuracy,
        Metric::F1,
        Metric::Mcc,
        Metric::Pearson,
        Metric::Spearman,
    ];

    /// The canonical name (also the serde name).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Bleu => "bleu",
            Metric::BleuRoMoses => "bleu-ro-moses",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rougeL",
            Metric::RougeLsum => "rougeLsum",
            Metric::Accuracy => "accuracy",
            Metric::F1 => "f1",
            Metric::Mcc => "mcc",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
        }
    }

    /// Whether a larger value is better (true for every metric here).
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::Bleu
            | Metric::BleuRoMoses
            | Metric::Rouge1
            | Metric::Rouge2
            | Metric::RougeL
            | Metric::RougeLsum
            | Metric::Accuracy
            | Metric::F1
            | Metric::Mcc
            | Metric::Pearson
            | Metric::Spearman => true,
        }
    }

    fn rouge_type(self) -> Option<RougeType> {
        match self {
            Metric::Rouge1 => Some(RougeType::Rouge1),
            Metric::Rouge2 => Some(RougeType::Rouge2),
            Metric::RougeL => Some(RougeType::RougeL),
            Metric::RougeLsum => Some(RougeType::RougeLsum),
            _ => None,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = MetricsError;

    /// The canonical names; case-insensitively, with `_` accepted for `-`.
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Metric::ALL
            .into_iter()
            .find(|m| m.name().to_ascii_lowercase() == wanted)
            .ok_or_else(|| MetricsError::UnknownMetric(s.to_string()))
    }
}

/// What lies behind a [`Score`]'s value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Details {
    Bleu(BleuScore),
    Rouge(RougeCorpus),
    /// accuracy/f1/mcc: the reference's fraction and the number of items.
    Classification {
        fraction: f64,
        n: usize,
    },
    /// pearson/spearman: the coefficient and the number of items.
    Correlation {
        coefficient: f64,
        n: usize,
    },
}

/// A corpus-level score as it is printed and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub metric: Metric,
    /// As papers print it: BLEU 0..100; ROUGE mean F1 ×100; accuracy/F1/MCC and
    /// Pearson/Spearman ×100 (GLUE convention). The library functions return the references'
    /// own scale (fractions / coefficients); `details` keeps those.
    pub value: f64,
    /// sacreBLEU's signature for BLEU; a rouge-score settings string for ROUGE; none otherwise.
    pub signature: Option<String>,
    /// Extra provenance (the Moses-ro preprocessing note for `bleu-ro-moses`).
    pub note: Option<String>,
    pub details: Details,
}

/// The note attached to `bleu-ro-moses` scores.
pub const RO_MOSES_NOTE: &str = "hyp and ref preprocessed with the fairseq mBART en-ro pipeline: \
replace-unicode-punctuation | normalize-punctuation -l ro | remove-non-printing-char | \
normalise-romanian | remove-diacritics | tokenizer -no-escape -l ro (sacremoses 0.2.0 port)";

/// The settings string reported with ROUGE scores (not an official rouge-score signature).
pub const ROUGE_SIGNATURE: &str =
    "rouge-score:0.1.2|stemmer:nltk-porter-3.10.4|lsum-split:newline|agg:mean-f1x100";

impl fmt::Display for Score {
    /// sacreBLEU style: `BLEU = 26.41 58.1/32.0/19.9/12.5 (BP = ...)`, then the signature line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.details {
            Details::Bleu(b) => write!(f, "{b}")?,
            Details::Rouge(r) => write!(
                f,
                "{} = {:.2} (P = {:.2} R = {:.2} mean over {} pairs)",
                self.metric, r.fmeasure, r.precision, r.recall, r.n
            )?,
            Details::Classification { n, .. } | Details::Correlation { n, .. } => {
                write!(f, "{} = {:.2} (n = {})", self.metric, self.value, n)?
            }
        }
        if let Some(sig) = &self.signature {
            write!(f, "\n{sig}")?;
        }
        if let Some(note) = &self.note {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

fn parse_labels(side: &'static str, lines: &[String]) -> Result<Vec<usize>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.trim().parse::<usize>().map_err(|_| MetricsError::Parse {
                side,
                line: i + 1,
                value: l.clone(),
                expected: "a non-negative integer label",
            })
        })
        .collect()
}

fn parse_floats(side: &'static str, lines: &[String]) -> Result<Vec<f64>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| MetricsError::Parse {
                    side,
                    line: i + 1,
                    value: l.clone(),
                    expected: "a finite number",
                })
        })
        .collect()
}

/// Scores parallel one-item-per-line inputs (`hyps[i]` against `refs[i]`).
///
/// BLEU: `sacrebleu REF < HYP` (13a, exp). `bleu-ro-moses`: both sides through
/// [`moses::ro_pipeline`], then `sacrebleu -tok none -s none`. ROUGE: rouge-score with the
/// Porter stemmer, mean F1 ×100 (a line may hold several `\n`-separated sentences for
/// rougeLsum). accuracy/f1/mcc: integer labels (hyps = predictions, refs = gold);
/// pearson/spearman: floats. Classification and correlation values are ×100.
pub fn score_lines(metric: Metric, hyps: &[String], refs: &[String]) -> Result<Score> {
    check_same_len("hyp", hyps.len(), "ref", refs.len(), "lines")?;
    if hyps.is_empty() {
        return Err(MetricsError::Empty {
            metric: metric.name(),
        });
    }
    match metric {
        Metric::Bleu => {
            let b = bleu::corpus_bleu(hyps, refs, &BleuConfig::default())?;
            Ok(Score {
                metric,
                value: b.score,
                signature: Some(b.signature.clone()),
                note: None,
                details: Details::Bleu(b),
            })
        }
        Metric::BleuRoMoses => {
            let b = bleu_ro_moses(hyps, refs)?;
            Ok(Score {
                metric,
                value: b.score,
                signature: Some(b.signature.clone()),
                note: Some(RO_MOSES_NOTE.to_string()),
                details: Details::Bleu(b),
            })
        }
        Metric::Rouge1 | Metric::Rouge2 | Metric::RougeL | Metric::RougeLsum => {
            let kind = metric
                .rouge_type()
                .ok_or_else(|| MetricsError::UnknownMetric(metric.to_string()))?;
            let r = rouge::corpus(kind, hyps, refs)?;
            Ok(Score {
                metric,
                value: r.fmeasure,
                signature: Some(ROUGE_SIGNATURE.to_string()),
                note: None,
                details: Details::Rouge(r),
            })
        }
        Metric::Accuracy | Metric::F1 | Metric::Mcc => {
            let pred = parse_labels("hyp", hyps)?;
            let gold = parse_labels("ref", refs)?;
            let fraction = match metric {
                Metric::Accuracy => classification::accuracy(&pred, &gold)?,
                Metric::F1 => classification::f1(&pred, &gold)?,
                _ => classification::matthews_corrcoef(&pred, &gold)?,
            };
            Ok(Score {
                metric,
                value: fraction * 100.0,
                signature: None,
                note: None,
                details: Details::Classification {
                    fraction,
                    n: pred.len(),
                },
            })
        }
        Metric::Pearson | Metric::Spearman => {
            let x = parse_floats("hyp", hyps)?;
            let y = parse_floats("ref", refs)?;
            let coefficient = if metric == Metric::Pearson {
                correlation::pearson(&x, &y)?
            } else {
                correlation::spearman(&x, &y)?
            };
            Ok(Score {
                metric,
                value: coefficient * 100.0,
                signature: None,
                note: None,
                details: Details::Correlation {
                    coefficient,
                    n: x.len(),
                },
            })
        }
    }
}

/// He et al.'s en-ro BLEU: [`moses::ro_pipeline`] on both sides, then sacreBLEU with
/// `tokenize="none"`, `smooth_method="none"`. The signature is sacreBLEU's for those settings
/// (`nrefs:1|case:mixed|eff:no|tok:none|smooth:none|version:2.6.0`); see [`RO_MOSES_NOTE`].
pub fn bleu_ro_moses<S: AsRef<str>>(hyps: &[S], refs: &[S]) -> Result<BleuScore> {
    check_same_len("hyp", hyps.len(), "ref", refs.len(), "lines")?;
    let h: Vec<String> = hyps
        .iter()
        .map(|s| moses::ro_pipeline(s.as_ref()))
        .collect();
    let r: Vec<String> = refs
        .iter()
        .map(|s| moses::ro_pipeline(s.as_ref()))
        .collect();
    let config = BleuConfig {
        tokenizer: BleuTokenizer::None,
        smoothing: Smoothing::None,
        smooth_value: None,
    };
    bleu::corpus_bleu(&h, &r, &config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m);
            assert!(m.higher_is_better());
        }
        assert_eq!("ROUGEL".parse::<Metric>().unwrap(), Metric::RougeL);
        assert_eq!(
            "bleu_ro_moses".parse::<Metric>().unwrap(),
            Metric::BleuRoMoses
        );
        assert!("meteor".parse::<Metric>().is_err());
    }
}
