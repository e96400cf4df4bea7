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
//!
//! # Per group (what `peftgrid regress` prints)
//!
//! [`compare_groups`] (and [`check_regressions_grouped`] on files) compares score-vs-budget
//! instead: rows are grouped by (backbone, task, split, method, budgets), and each side of a
//! group is summarised by the **median** of the main metric over its ok runs (the seeds) and its
//! **spread**, half the min–max range. A failed or diverged row on split `-` (the run failed
//! before evaluating) counts in every group of its (backbone, task, method, budgets) on a real
//! split. A group regresses when:
//! - the current median is worse than the baseline's by more than
//!   `max(tolerance, baseline spread + current spread)` (lower is worse, except for losses and
//!   error rates), or the current side has no ok score while the baseline has one;
//! - the median `percent_trainable` of the ok runs changed at all;
//! - a seed that was ok in the baseline is now only diverged or failed.
//!
//! Groups only in one file are listed and are no regressions; [`GroupComparison::missing`]
//! names the groups the current file lost, for callers that want to fail on them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Result, ResultsError};
use crate::report::{fixed, fmt_percent, lower_is_better, median, signed};
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

/// A group of runs: one (backbone, task, split, method, budgets), over seeds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub backbone: String,
    pub task: String,
    pub split: String,
    pub method: String,
    pub budgets: String,
}

impl GroupKey {
    fn of(r: &ResultRow) -> GroupKey {
        GroupKey {
            backbone: r.backbone.clone(),
            task: r.task.clone(),
            split: r.split.clone(),
            method: r.method.clone(),
            budgets: r.budgets.clone(),
        }
    }

    fn splitless(&self) -> (&str, &str, &str, &str) {
        (&self.backbone, &self.task, &self.method, &self.budgets)
    }
}

/// One file's side of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupSide {
    /// The main metric of the group's ok runs (finite values only), in row order.
    pub values: Vec<f64>,
    /// Median of `values`; `None` when there are none.
    pub median: Option<f64>,
    /// Half the min–max range of `values` (0 for one value or none).
    pub spread: f64,
    /// Median `percent_trainable` of the ok runs; `None` without ok runs.
    pub percent: Option<f64>,
    /// Seeds of the ok runs.
    pub ok_seeds: BTreeSet<u64>,
    /// Runs that diverged or failed: (seed, status, note).
    pub not_ok: Vec<(u64, Status, String)>,
}

/// Why a group regressed.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupIssue {
    /// The median got worse by more than `allowed` = max(tolerance, summed spreads).
    ScoreDrop {
        baseline: f64,
        current: f64,
        allowed: f64,
    },
    /// The baseline has an ok score, the current side none.
    ScoreMissing,
    /// The median `percent_trainable` of the ok runs changed.
    ParamsChanged { baseline: f64, current: f64 },
    /// A seed that was ok in the baseline only diverged or failed now.
    StatusChanged {
        seed: u64,
        current: Status,
        note: String,
    },
}

impl fmt::Display for GroupIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupIssue::ScoreDrop {
                baseline,
                current,
                allowed,
            } => write!(
                f,
                "score {} beyond ±{}",
                signed(current - baseline, 2),
                fixed(*allowed, 2)
            ),
            GroupIssue::ScoreMissing => f.write_str("no ok score"),
            GroupIssue::ParamsChanged { baseline, current } => write!(
                f,
                "% params {} → {}",
                fmt_percent(*baseline),
                fmt_percent(*current)
            ),
            GroupIssue::StatusChanged {
                seed,
                current,
                note,
            } => {
                write!(f, "seed {seed} ok → {current}")?;
                if !note.is_empty() {
                    write!(f, " ({note})")?;
                }
                Ok(())
            }
        }
    }
}

/// One group compared.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    pub key: GroupKey,
    /// The main metric (the baseline's where it has ok runs).
    pub metric: String,
    /// Lower values of `metric` are better.
    pub lower_better: bool,
    /// `None`: the group is only in the other file.
    pub baseline: Option<GroupSide>,
    pub current: Option<GroupSide>,
    /// Empty: no regression.
    pub issues: Vec<GroupIssue>,
}

impl GroupChange {
    /// Whether the group regressed.
    pub fn is_regression(&self) -> bool {
        !self.issues.is_empty()
    }

    /// Current median − baseline median, where both exist.
    pub fn delta(&self) -> Option<f64> {
        Some(self.current.as_ref()?.median? - self.baseline.as_ref()?.median?)
    }

    /// The verdict column: `REGRESSION: …`, `better`, `worse, within ±x`, `same`,
    /// `only in baseline`, `only in current`, `no ok runs`.
    pub fn verdict(&self) -> String {
        match (&self.baseline, &self.current) {
            (None, _) => return "only in current".into(),
            (_, None) => return "only in baseline".into(),
            _ => {}
        }
        if self.is_regression() {
            let issues: Vec<String> = self.issues.iter().map(|i| i.to_string()).collect();
            return format!("**REGRESSION**: {}", issues.join("; "));
        }
        let (Some(b), Some(c)) = (&self.baseline, &self.current) else {
            unreachable!("handled above")
        };
        match self.delta() {
            None => "no ok runs".into(),
            Some(d) if fixed(d, 2) == "0.00" => "same".into(),
            Some(d) if (d > 0.0) != self.lower_better => "better".into(),
            Some(_) => format!("worse, within ±{}", fixed(b.spread + c.spread, 2)),
        }
    }
}

/// Per-group comparison of two results files: every group of either, in the order they first
/// appear (baseline first). Its `Display` is a Markdown table of every group and a summary line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupComparison {
    /// The tolerance used, in metric points.
    pub tolerance: f64,
    pub groups: Vec<GroupChange>,
}

impl GroupComparison {
    /// The groups that regressed.
    pub fn regressions(&self) -> Vec<&GroupChange> {
        self.groups.iter().filter(|g| g.is_regression()).collect()
    }

    /// Groups only in the baseline (the current file lost them).
    pub fn missing(&self) -> Vec<&GroupChange> {
        self.groups.iter().filter(|g| g.current.is_none()).collect()
    }

    /// Groups only in the current file.
    pub fn added(&self) -> Vec<&GroupChange> {
        self.groups
            .iter()
            .filter(|g| g.baseline.is_none())
            .collect()
    }
}

fn side_text(side: &Option<GroupSide>) -> String {
    let Some(s) = side else {
        return "–".into();
    };
    let mut out = match s.median {
        Some(m) if s.values.len() > 1 => format!("{} ±{}", fixed(m, 2), fixed(s.spread, 2)),
        Some(m) => fixed(m, 2),
        None => "–".into(),
    };
    let _ = write!(out, " (n={}", s.values.len());
    if !s.not_ok.is_empty() {
        let _ = write!(out, ", {} not ok", s.not_ok.len());
    }
    out.push(')');
    out
}

impl fmt::Display for GroupComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esc = |s: &str| s.replace('|', "\\|");
        writeln!(
            f,
            "| backbone | task | split | method | budget | metric | % params | baseline | current | Δ | verdict |"
        )?;
        writeln!(
            f,
            "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"
        )?;
        for g in &self.groups {
            let pct = |s: &Option<GroupSide>| s.as_ref().and_then(|s| s.percent);
            let percent = match (pct(&g.baseline), pct(&g.current)) {
                (Some(b), Some(c)) if fmt_percent(b) != fmt_percent(c) => {
                    format!("{} → {}", fmt_percent(b), fmt_percent(c))
                }
                (Some(p), _) | (None, Some(p)) => fmt_percent(p),
                (None, None) => "–".into(),
            };
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                esc(&g.key.backbone),
                esc(&g.key.task),
                esc(&g.key.split),
                esc(&g.key.method),
                esc(&g.key.budgets),
                esc(&g.metric),
                percent,
                side_text(&g.baseline),
                side_text(&g.current),
                g.delta().map_or("–".into(), |d| signed(d, 2)),
                esc(&g.verdict()),
            )?;
        }
        writeln!(
            f,
            "\n{} groups: {} regressed, {} only in baseline, {} only in current. Cells: median \
             over seeds ±half the min–max range (n ok runs); a score regresses when it falls by \
             more than max(tolerance {}, baseline spread + current spread).",
            self.groups.len(),
            self.regressions().len(),
            self.missing().len(),
            self.added().len(),
            self.tolerance
        )
    }
}

/// [`compare_groups`] of two results files; the tolerance must be a number ≥ 0. This is what
/// `peftgrid regress` calls: print the comparison, fail when `regressions()` is not empty.
pub fn check_regressions_grouped(
    baseline: &Path,
    current: &Path,
    tolerance: f64,
) -> Result<GroupComparison> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(ResultsError::Invalid(format!(
            "the regression tolerance must be a number ≥ 0, not {tolerance}"
        )));
    }
    let read = |p: &Path| -> Result<Vec<ResultRow>> {
        if !p.exists() {
            return Err(ResultsError::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such results file"),
            ));
        }
        read_rows(p)
    };
    Ok(compare_groups(&read(baseline)?, &read(current)?, tolerance))
}

/// Groups `rows` by key (first-seen order); rows on split `-` that are not ok join every group
/// of their (backbone, task, method, budgets) in `real` (groups on a real split).
fn group_rows<'a>(rows: &'a [ResultRow], real: &[GroupKey]) -> Vec<(GroupKey, Vec<&'a ResultRow>)> {
    let mut out: Vec<(GroupKey, Vec<&ResultRow>)> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut push = |key: GroupKey,
                    r: &'a ResultRow,
                    out: &mut Vec<(GroupKey, Vec<&'a ResultRow>)>| {
        match index.get(&key) {
            Some(&i) => out[i].1.push(r),
            None => {
                index.insert(key.clone(), out.len());
                out.push((key, vec![r]));
            }
        }
    };
    for r in rows {
        let key = GroupKey::of(r);
        if r.split == "-" && r.status != Status::Ok {
            let targets: Vec<&GroupKey> = real
                .iter()
                .filter(|k| k.splitless() == key.splitless())
                .collect();
            if !targets.is_empty() {
                for k in targets {
                    push(k.clone(), r, &mut out);
                }
                continue;
            }
        }
        push(key, r, &mut out);
    }
    out
}

fn summarise(rows: &[&ResultRow], metric: &str) -> GroupSide {
    let ok: Vec<&&ResultRow> = rows.iter().filter(|r| r.status == Status::Ok).collect();
    let values: Vec<f64> = ok
        .iter()
        .filter_map(|r| r.metrics.get(metric).copied())
        .filter(|v| v.is_finite())
        .collect();
    let (med, spread) = if values.is_empty() {
        (None, 0.0)
    } else {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (Some(median(&values)), (hi - lo) / 2.0)
    };
    let percents: Vec<f64> = ok.iter().map(|r| r.percent_trainable).collect();
    GroupSide {
        median: med,
        spread,
        values,
        percent: (!percents.is_empty()).then(|| median(&percents)),
        ok_seeds: ok.iter().map(|r| r.seed).collect(),
        not_ok: rows
            .iter()
            .filter(|r| r.status != Status::Ok)
            .map(|r| (r.seed, r.status, r.note.clone()))
            .collect(),
    }
}

/// Compares `current` with `baseline` per (backbone, task, split, method, budgets) group, seed
/// spread aware (see the module documentation); `tolerance` is in metric points (a negative or
/// NaN one counts as 0).
pub fn compare_groups(
    baseline: &[ResultRow],
    current: &[ResultRow],
    tolerance: f64,
) -> GroupComparison {
    let tolerance = if tolerance.is_finite() {
        tolerance.max(0.0)
    } else {
        0.0
    };
    let mut real: Vec<GroupKey> = Vec::new();
    for r in baseline.iter().chain(current) {
        if r.split != "-" {
            let k = GroupKey::of(r);
            if !real.contains(&k) {
                real.push(k);
            }
        }
    }
    let base = group_rows(baseline, &real);
    let cur = group_rows(current, &real);
    let mut keys: Vec<&GroupKey> = Vec::new();
    for (k, _) in base.iter().chain(&cur) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    fn find<'r>(
        groups: &[(GroupKey, Vec<&'r ResultRow>)],
        k: &GroupKey,
    ) -> Option<Vec<&'r ResultRow>> {
        groups
            .iter()
            .find(|(g, _)| g == k)
            .map(|(_, rows)| rows.clone())
    }
    let mut out = GroupComparison {
        tolerance,
        groups: Vec::new(),
    };
    for key in keys {
        let b_rows = find(&base, key);
        let c_rows = find(&cur, key);
        let all: Vec<&ResultRow> = b_rows.iter().chain(&c_rows).flatten().copied().collect();
        let metric = all
            .iter()
            .find(|r| r.status == Status::Ok)
            .or(all.first())
            .map(|r| r.main_metric.clone())
            .unwrap_or_default();
        let lower_better = lower_is_better(&metric);
        let b = b_rows.map(|rows| summarise(&rows, &metric));
        let c = c_rows.map(|rows| summarise(&rows, &metric));
        let mut issues = Vec::new();
        if let (Some(b), Some(c)) = (&b, &c) {
            if let (Some(bp), Some(cp)) = (b.percent, c.percent) {
                if bp != cp && bp.to_bits() != cp.to_bits() {
                    issues.push(GroupIssue::ParamsChanged {
                        baseline: bp,
                        current: cp,
                    });
                }
            }
            for &seed in &b.ok_seeds {
                if c.ok_seeds.contains(&seed) {
                    continue;
                }
                if let Some((_, status, note)) = c.not_ok.iter().find(|(s, _, _)| *s == seed) {
                    issues.push(GroupIssue::StatusChanged {
                        seed,
                        current: *status,
                        note: note.clone(),
                    });
                }
            }
            match (b.median, c.median) {
                (Some(bm), Some(cm)) => {
                    let worse_by = if lower_better { cm - bm } else { bm - cm };
                    let allowed = tolerance.max(b.spread + c.spread);
                    // A hair of slack so that a drop of exactly the allowance passes.
                    if worse_by > allowed + 1e-9 {
                        issues.push(GroupIssue::ScoreDrop {
                            baseline: bm,
                            current: cm,
                            allowed,
                        });
                    }
                }
                (Some(_), None) => issues.push(GroupIssue::ScoreMissing),
                _ => {}
            }
        }
        out.groups.push(GroupChange {
            key: key.clone(),
            metric,
            lower_better,
            baseline: b,
            current: c,
            issues,
        });
    }
    out
}
