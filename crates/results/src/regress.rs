//! Regression checks between two results files (a baseline and the current run of a sweep).
//!
//! Rows are paired by (run_id, split); a row whose run_id the other file lacks (the config hash
//! changed, e.g. a new default) is paired by (method, budgets, backbone, task, split, seed)
//! instead, when that key is unique on both sides. A baseline row with no pair on its split is
//! paired with a diverged or failed row of the same run (found the same two ways, the split
//! aside): a run that fails before evaluating has one row, on split `-`. A pair is a regression
//! when:
//! - the baseline run was ok and the current one diverged or failed;
//! - both are ok and the baseline's main metric got worse by more than `tolerance` points
//!   (lower for most metrics, higher for losses and error rates), or went missing or non-finite;
//! - the trainable parameter count or `percent_trainable` changed at all.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use crate::error::{Result, ResultsError};
use crate::report::lower_is_better;
use crate::row::{ResultRow, Status};
use crate::store::read_rows;

/// What regressed.
#[derive(Debug, Clone, PartialEq)]
pub enum RegressionKind {
    /// The main metric got worse by more than the tolerance.
    MetricDrop {
        metric: String,
        baseline: f64,
        current: f64,
        tolerance: f64,
    },
    /// The main metric is missing or not finite in the current (ok) run.
    MetricMissing { metric: String, baseline: f64 },
    /// The parameter accounting changed.
    ParamsChanged {
        baseline_percent: f64,
        current_percent: f64,
        baseline_params: u64,
        current_params: u64,
    },
    /// The run was ok and now diverged or failed.
    StatusChanged { current: Status, note: String },
}

/// One regression of one run on one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    pub run_id: String,
    pub method: String,
    pub budgets: String,
    pub backbone: String,
    pub task: String,
    pub split: String,
    pub seed: u64,
    pub kind: RegressionKind,
}

impl fmt::Display for Regression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = format!("{} {}", self.method, self.budgets);
        write!(
            f,
            "{} on {} ({}), {}, seed {} [run {}]: ",
            method.trim(),
            self.task,
            self.split,
            self.backbone,
            self.seed,
            self.run_id
        )?;
        match &self.kind {
            RegressionKind::MetricDrop {
                metric,
                baseline,
                current,
                tolerance,
            } => write!(
                f,
                "{metric} {baseline:.2} -> {current:.2} ({:+.2} points, tolerance {tolerance})",
                current - baseline
            ),
            RegressionKind::MetricMissing { metric, baseline } => {
                write!(f, "{metric} was {baseline:.2}, now missing or not a number")
            }
            RegressionKind::ParamsChanged {
                baseline_percent,
                current_percent,
                baseline_params,
                current_params,
            } => write!(
                f,
                "trainable parameters changed: {baseline_params} ({baseline_percent}%) -> \
                 {current_params} ({current_percent}%)"
            ),
            RegressionKind::StatusChanged { current, note } => {
                write!(f, "was ok, now {current}")?;
                if !note.is_empty() {
                    write!(f, " ({note})")?;
                }
                Ok(())
            }
        }
    }
}

/// The outcome of comparing two results files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Row pairs compared.
    pub compared: usize,
    /// Baseline rows with no counterpart in the current file.
    pub only_in_baseline: usize,
    /// Current rows with no counterpart in the baseline.
    pub only_in_current: usize,
    /// What regressed, in baseline order.
    pub regressions: Vec<Regression>,
}

/// The regressions of `current` against `baseline` (see the module documentation); `tolerance`
/// is in metric points (the ×100 scale), ≥ 0.
pub fn check_regressions(
    baseline: &Path,
    current: &Path,
    tolerance: f64,
) -> Result<Vec<Regression>> {
    Ok(compare_files(baseline, current, tolerance)?.regressions)
}

/// [`check_regressions`] with the counts of what was and was not compared.
pub fn compare_files(baseline: &Path, current: &Path, tolerance: f64) -> Result<Comparison> {
    let read = |p: &Path| -> Result<Vec<ResultRow>> {
        if !p.exists() {
            return Err(ResultsError::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such results file"),
            ));
        }
        read_rows(p)
    };
    compare_rows(&read(baseline)?, &read(current)?, tolerance)
}

type FallbackKey<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, u64);

/// Fallback keys of the rows whose run_id is not in `other_ids`, where unique.
fn unique_fallbacks<'a>(
    rows: &'a [ResultRow],
    other_ids: &HashSet<&str>,
) -> HashMap<FallbackKey<'a>, usize> {
    let mut seen: HashMap<FallbackKey<'a>, Option<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if other_ids.contains(r.run_id.as_str()) {
            continue;
        }
        seen.entry(fallback_key(r))
            .and_modify(|v| *v = None)
            .or_insert(Some(i));
    }
    seen.into_iter()
        .filter_map(|(k, v)| v.map(|i| (k, i)))
        .collect()
}

type SplitlessKey<'a> = (&'a str, &'a str, &'a str, &'a str, u64);

fn splitless_key(r: &ResultRow) -> SplitlessKey<'_> {
    (&r.method, &r.budgets, &r.backbone, &r.task, r.seed)
}

fn fallback_key(r: &ResultRow) -> FallbackKey<'_> {
    (
        &r.method,
        &r.budgets,
        &r.backbone,
        &r.task,
        &r.split,
        r.seed,
    )
}

/// [`compare_files`] on rows in memory.
pub fn compare_rows(
    baseline: &[ResultRow],
    current: &[ResultRow],
    tolerance: f64,
) -> Result<Comparison> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(ResultsError::Invalid(format!(
            "the regression tolerance must be a number ≥ 0, not {tolerance}"
        )));
    }
    let by_id: HashMap<(&str, &str), usize> = current
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key(), i))
        .collect();
    let base_ids: HashSet<&str> = baseline.iter().map(|r| r.run_id.as_str()).collect();
    let cur_ids: HashSet<&str> = current.iter().map(|r| r.run_id.as_str()).collect();
    // Fallback keys, only where unique on their side and the run_id is not on the other side.
    let cur_fallback = unique_fallbacks(current, &base_ids);
    let base_fallback = unique_fallbacks(baseline, &cur_ids);

    let mut out = Comparison::default();
    // Non-ok current rows by run_id, and by the fallback key without the split (where unique).
    let mut bad_by_id: HashMap<&str, usize> = HashMap::new();
    let mut bad_fallback: HashMap<SplitlessKey<'_>, Option<usize>> = HashMap::new();
    for (i, r) in current.iter().enumerate() {
        if r.status == Status::Ok {
            continue;
        }
        bad_by_id.entry(r.run_id.as_str()).or_insert(i);
        if !base_ids.contains(r.run_id.as_str()) {
            bad_fallback
                .entry(splitless_key(r))
                .and_modify(|v| *v = None)
                .or_insert(Some(i));
        }
    }
    let mut matched_current: HashSet<usize> = HashSet::new();
    for b in baseline {
        let c = if cur_ids.contains(b.run_id.as_str()) {
            by_id
                .get(&b.key())
                .or_else(|| bad_by_id.get(b.run_id.as_str()))
                .copied()
        } else if base_fallback.contains_key(&fallback_key(b)) {
            cur_fallback
                .get(&fallback_key(b))
                .copied()
                .or_else(|| bad_fallback.get(&splitless_key(b)).copied().flatten())
        } else {
            None
        };
        let Some(c) = c else {
            out.only_in_baseline += 1;
            continue;
        };
        matched_current.insert(c);
        out.compared += 1;
        compare_pair(b, &current[c], tolerance, &mut out.regressions);
    }
    out.only_in_current = current.len() - matched_current.len();
    Ok(out)
}

fn compare_pair(b: &ResultRow, c: &ResultRow, tolerance: f64, out: &mut Vec<Regression>) {
    let mut push = |kind| {
        out.push(Regression {
            run_id: c.run_id.clone(),
            method: c.method.clone(),
            budgets: c.budgets.clone(),
            backbone: c.backbone.clone(),
            task: c.task.clone(),
            split: c.split.clone(),
            seed: c.seed,
            kind,
        })
    };
    // "At all": exact comparison (NaN equal to NaN, 0.0 to -0.0).
    let same_percent = b.percent_trainable == c.percent_trainable
        || b.percent_trainable.to_bits() == c.percent_trainable.to_bits();
    if !same_percent || b.trainable_params != c.trainable_params {
        push(RegressionKind::ParamsChanged {
            baseline_percent: b.percent_trainable,
            current_percent: c.percent_trainable,
            baseline_params: b.trainable_params,
            current_params: c.trainable_params,
        });
    }
    if b.status != Status::Ok {
        return;
    }
    if c.status != Status::Ok {
        push(RegressionKind::StatusChanged {
            current: c.status,
            note: c.note.clone(),
        });
        return;
    }
    let metric = &b.main_metric;
    let Some(base) = b.metrics.get(metric).copied().filter(|v| v.is_finite()) else {
        return;
    };
    match c.metrics.get(metric).copied().filter(|v| v.is_finite()) {
        None => push(RegressionKind::MetricMissing {
            metric: metric.clone(),
            baseline: base,
        }),
        Some(cur) => {
            let worse_by = if lower_is_better(metric) {
                cur - base
            } else {
                base - cur
            };
            // A hair of slack so that a drop of exactly `tolerance` (as printed) passes.
            if worse_by > tolerance + 1e-9 {
                push(RegressionKind::MetricDrop {
                    metric: metric.clone(),
                    baseline: base,
                    current: cur,
                    tolerance,
                });
            }
        }
    }
}
