//! Published findings about the design space, tested on a results file: `findings.md` (a
//! verdict per finding) and `findings.svg` (each finding's paired differences).
//!
//! # Findings are data
//!
//! A findings TOML file ([`FindingsTable`]; the default, [`DEFAULT_TOML`], holds He et al.'s and
//! UniPELT's) lists `[[finding]]`s:
//!
//! ```toml
//! [[finding]]
//! id = "parallel-beats-sequential"
//! claim = "Parallel insertion beats sequential insertion ..."
//! source = "He et al. 2022, Table 3"
//! a = { insertions = "parallel" }           # selectors over result-row columns:
//! b = { insertions = "sequential" }         # method, forms, positions, insertions,
//! hold = ["forms", "positions", "compositions"]  # compositions; exact or `*` globs
//! budget_tolerance = 0.25                   # deployed % within 25% of the larger
//! min_budget_percent = 1.0                  # optional: only runs in this range count
//! expect = "a_better"                       # or "a_not_worse" with margin = 1.0
//! ```
//!
//! Side b may be `b = { best_of = [{ method = "prefix" }, { method = "lora" }] }`: per (backbone,
//! task, split), the candidate (method, budgets) with the best mean score over seeds is the
//! comparison. Unknown fields, unknown columns, contradictory settings are errors naming the
//! file and the finding.
//!
//! # Pairs
//!
//! Only `ok` runs with a finite main metric count, and only those in the finding's budget range
//! (`ResultRow::budget_percent`, the deployed %). Each run of side a is paired with a run of
//! side b of the same backbone, task, split, seed and main metric, equal in every `hold` column,
//! with a budget within `budget_tolerance` (|a − b| ≤ tolerance · max(a, b); no tolerance: any
//! budget); of several, the closest budget (ties: by method, budgets, run id). A pair's
//! difference is d = a − b in score points, negated for lower-is-better metrics
//! ([`crate::lower_is_better`]) so that d > 0 always means a is better. Runs of side a whose
//! only possible partners differ in budget beyond the tolerance are counted (with an example).
//!
//! # Verdicts
//!
//! The mean of d and its paired bootstrap 95% percentile interval (pairs resampled with
//! replacement, [`bootstrap::RESAMPLES`] times, from a fixed-seed SplitMix64, so a report is
//! reproducible). Let t = 0 for `a_better`, −margin for `a_not_worse`: **holds** when the
//! interval lies above t, **contradicted** when it lies below, **inconclusive** when it contains
//! t or there are fewer than [`MIN_PAIRS`] pairs, **not covered** when there are none (the
//! result says which runs to add).

pub mod bootstrap;
mod chart;
mod pairing;
mod render;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

pub use chart::{write_findings_png, write_findings_svg};
pub use render::{findings_markdown, findings_summary, write_findings_md};
pub use schema::{
    budgets_match, glob, Column, Expect, Finding, FindingsTable, Selector, Side, DEFAULT_TOML,
};

use crate::error::Result;
use crate::report::fmt_percent;
use crate::row::ResultRow;

/// Fewer pairs than this give "inconclusive" whatever the interval.
pub const MIN_PAIRS: usize = 3;

/// A finding's verdict on a set of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The interval lies on the expected side.
    Holds,
    /// The interval lies on the other side.
    Contradicted,
    /// The interval crosses the threshold, or there are too few pairs.
    Inconclusive,
    /// No pairs.
    NotCovered,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotCovered => "not covered",
        })
    }
}

/// One run of a pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRun {
    pub run_id: String,
    pub method: String,
    pub budgets: String,
    /// Deployed % ([`ResultRow::budget_percent`]).
    pub percent: f64,
    /// The main metric as stored (not sign-flipped).
    pub value: f64,
}

/// Two runs that test a finding: same backbone, task, split and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub backbone: String,
    pub task: String,
    pub split: String,
    pub seed: u64,
    /// The main metric both are scored by.
    pub metric: String,
    pub a: PairRun,
    pub b: PairRun,
    /// a − b in score points, negated for lower-is-better metrics: > 0 means a is better.
    pub diff: f64,
}

/// For a `best_of` side: the candidate chosen on one (backbone, task, split).
#[derive(Debug, Clone, PartialEq)]
pub struct BestChoice {
    pub backbone: String,
    pub task: String,
    pub split: String,
    pub method: String,
    pub budgets: String,
    /// Its mean score over its runs.
    pub mean: f64,
    pub runs: usize,
    /// Every candidate (`method budgets`) with its mean score, by method then budgets.
    pub candidates: Vec<(String, f64)>,
}

/// A finding tested on a set of results.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingResult {
    pub finding: Finding,
    pub pairs: Vec<Pair>,
    /// The mean difference over the pairs.
    pub mean: Option<f64>,
    /// The paired bootstrap 95% percentile interval of the mean.
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// Why, in words (the threshold, too few pairs, no pairs).
    pub reason: String,
    /// For "not covered": the runs to add.
    pub advice: Vec<String>,
    /// Runs of side a left unpaired because every otherwise matching run of side b had a budget
    /// beyond the tolerance, and one of them described.
    pub unpaired_budget: usize,
    pub unpaired_example: Option<String>,
    /// For a `best_of` side b: the candidate chosen per (backbone, task, split).
    pub best_of: Vec<BestChoice>,
    /// Ok runs of side a and of side b (for `best_of`: of the chosen candidates) in the budget
    /// range.
    pub a_runs: usize,
    pub b_runs: usize,
}

impl FindingResult {
    /// Whether the results test the finding at all (it has pairs).
    pub fn covered(&self) -> bool {
        !self.pairs.is_empty()
    }

    /// The verdict's threshold on the mean difference: 0, or −margin for "not worse".
    pub fn threshold(&self) -> f64 {
        match self.finding.expect {
            Expect::ABetter => 0.0,
            Expect::ANotWorse => -self.finding.margin,
        }
    }
}

/// Tests every finding of `table` on `rows` (see the module documentation).
pub fn findings(rows: &[ResultRow], table: &FindingsTable) -> Vec<FindingResult> {
    table.findings.iter().map(|f| evaluate(rows, f)).collect()
}

/// Tests one finding on `rows`.
pub fn evaluate(rows: &[ResultRow], finding: &Finding) -> FindingResult {
    let out = pairing::pair(rows, finding);
    let diffs: Vec<f64> = out.pairs.iter().map(|p| p.diff).collect();
    let (mean, interval) = if diffs.is_empty() {
        (None, None)
    } else {
        (
            Some(bootstrap::mean(&diffs)),
            bootstrap::paired_bootstrap(&diffs, bootstrap::RESAMPLES, bootstrap::SEED),
        )
    };
    let t = match finding.expect {
        Expect::ABetter => 0.0,
        Expect::ANotWorse => -finding.margin,
    };
    let t_text = if t == 0.0 {
        "0".to_string()
    } else {
        crate::report::fixed(t, 1)
    };
    let (verdict, reason) = match interval {
        None => (
            Verdict::NotCovered,
            "no pair of runs tests it in these results".to_string(),
        ),
        Some(_) if diffs.len() < MIN_PAIRS => (
            Verdict::Inconclusive,
            format!(
                "only {} pair{}; a verdict needs at least {MIN_PAIRS}",
                diffs.len(),
                if diffs.len() == 1 { "" } else { "s" }
            ),
        ),
        Some((lo, _)) if lo > t => (
            Verdict::Holds,
            format!("the 95% interval lies above {t_text}"),
        ),
        Some((_, hi)) if hi < t => (
            Verdict::Contradicted,
            format!("the 95% interval lies below {t_text}"),
        ),
        Some(_) => (
            Verdict::Inconclusive,
            format!("the 95% interval contains {t_text}"),
        ),
    };
    FindingResult {
        finding: finding.clone(),
        pairs: out.pairs,
        mean,
        interval,
        verdict,
        reason,
        advice: out.advice,
        unpaired_budget: out.unpaired_budget,
        unpaired_example: out.unpaired_example,
        best_of: out.best_of,
        a_runs: out.a_runs,
        b_runs: out.b_runs,
    }
}

/// What [`write_findings`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingsReport {
    pub results: Vec<FindingResult>,
    /// `findings.md` and `findings.svg`, in `out_dir`.
    pub files: Vec<PathBuf>,
}

impl FindingsReport {
    /// Findings with at least one pair.
    pub fn covered(&self) -> usize {
        self.results.iter().filter(|r| r.covered()).count()
    }
}

/// Tests `table` on `rows` and writes `findings.md` and `findings.svg` into `out_dir` (which
/// must exist).
pub fn write_findings(
    rows: &[ResultRow],
    table: &FindingsTable,
    out_dir: &Path,
) -> Result<FindingsReport> {
    let results = findings(rows, table);
    let mut sweeps: Vec<&str> = Vec::new();
    for r in rows {
        if !sweeps.contains(&r.sweep.as_str()) {
            sweeps.push(&r.sweep);
        }
    }
    let title = if sweeps.is_empty() {
        "(no results)".to_string()
    } else {
        sweeps.join(", ")
    };
    let sample = rows.iter().any(|r| r.sample_data);
    let md = out_dir.join("findings.md");
    write_findings_md(&results, &title, sample, &md)?;
    let svg = out_dir.join("findings.svg");
    write_findings_svg(&results, &svg)?;
    Ok(FindingsReport {
        results,
        files: vec![md, svg],
    })
}

/// `0.53%`-style budget of a pair run.
fn percent_text(p: f64) -> String {
    format!("{}%", fmt_percent(p))
}
