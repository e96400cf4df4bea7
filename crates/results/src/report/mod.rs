//! Paper-style reports of a results file: `table.md`, `table.tex`, `comparison.md` (beside
//! published numbers), `pareto.md`, the `score_vs_params` chart (with the Pareto front marked),
//! the `score_vs_budget` chart, and `findings.md` / `findings.svg` (published findings tested on
//! these runs, see [`crate::findings`]; the embedded He et al./UniPELT table unless
//! [`ReportOptions::findings`] gives another).
//!
//! # Pareto front
//!
//! `pareto.md` lists, per (backbone, task), the table cells (method, budgets) that are
//! Pareto-optimal in (% params, median score): no other cell of the task has a score at least as
//! good with at most as many trainable parameters, one of the two strictly (see
//! [`crate::chart::pareto_front`]; "good" is lower for losses). `score_vs_params` marks the
//! same front among the points it can show (% params > 0).
//!
//! # Score vs params
//!
//! One panel per (backbone, task): x = the deployed % (`ResultRow::budget_percent`, log scale),
//! one series per method (its name and design point; a name at two design points gets the design
//! added to its label), a point per (method, budgets) at the median of the main metric over the
//! seeds with a min–max bar, a line through each method's budgets and no other, the legend naming
//! the methods.
//!
//! # Score vs budget
//!
//! `score_vs_budget` has small multiples, per (backbone, task) over its ok runs with budgets (a
//! `budgets` string with a number; methods without knobs are only in `score_vs_params`): one
//! panel per design dimension (forms, positions, insertions, compositions) whose value varies
//! among those runs. x = the deployed % (log scale); a series is one method (name and design
//! point) at its budgets, a point per budgets at the median over seeds with a min–max bar. A
//! dimension's panel shows the runs whose setting of the *other* three dimensions is shared by
//! runs with another value of this one (He et al.'s figures: one dimension varied, everything
//! else fixed), series grouped by that setting and labelled by method (with the dimension's value
//! when the name does not say it); runs without such a counterpart are left out and counted
//! below the x axis. When no setting varies the dimension alone, the panel shows every run as a
//! point and draws no lines ("points only"). When no dimension varies, one panel per task has a
//! series per method. Points at 0% are left out (a log axis cannot show them) and counted.
//!
//! # Tables
//!
//! One table per backbone. Rows are (method, budgets), in the order they first appear in the
//! results file; a "% params" column gives the deployed % (`percent_deployed`: a prefix counted
//! as its keys and values, as He et al. count budgets), or `percent_trainable` for rows without
//! it. Columns are tasks, each on one
//! split (the first present of `test`, `validation`, `validation*`, `test*`, then any other,
//! `train` last; other splits are named in a footnote), scored by the task's `main_metric`.
//! A cell aggregates the `ok` runs of its (method, budgets, task, split): the **median** over
//! seeds, then `±` **half the min–max range** (omitted for a single run). The best median of
//! each column (compared as printed) is bold, when the column has two or more cells. "avg" is
//! the mean of a row's medians over all task columns, shown only where every column has one.
//! Runs that diverged or failed are left out and listed in a footnote. Rows from sample data
//! put a banner "sample numbers, not the benchmark" on top and are never compared with
//! published numbers.
//!
//! Numbers print with 2 decimals for ROUGE and 1 otherwise, like the papers (see
//! [`ReportOptions::decimals`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::chart::{self, ChartPanel, ChartPoint, ChartSeries};
use crate::error::{Result, ResultsError};
use crate::findings::{write_findings, FindingsTable};
use crate::published::{metric_key, Published, PublishedEntry};
use crate::row::{ResultRow, Status};
use crate::store::read_rows;

mod outputs;
mod sections;

use outputs::Model;

/// The banner put on reports of sample data.
pub const SAMPLE_BANNER: &str = "sample numbers, not the benchmark";

/// `10000` → `10,000`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Options of [`report_with`].
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Decimals of every number; `None`: 2 for ROUGE metrics, 1 for the others (the papers').
    pub decimals: Option<usize>,
    /// Also render `score_vs_params.png` (besides the SVG).
    pub png: bool,
    /// The findings `findings.md` tests; `None`: the embedded default
    /// ([`FindingsTable::default_table`], He et al.'s and UniPELT's).
    pub findings: Option<FindingsTable>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            decimals: None,
            png: true,
            findings: None,
        }
    }
}

/// What [`report`] wrote and counted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportSummary {
    /// The files written, in `out_dir`.
    pub files: Vec<PathBuf>,
    /// Rows read.
    pub rows: usize,
    /// Rows with status ok / diverged / failed.
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Table cells filled (over all backbones).
    pub cells: usize,
    /// Lines of `comparison.md`: (cell, published entry, metric) pairs.
    pub comparisons: usize,
    /// Points drawn in the chart.
    pub chart_points: usize,
    /// Cells on the Pareto fronts of `pareto.md` (all tasks together).
    pub pareto_points: usize,
    /// Panels and points of the `score_vs_budget` chart.
    pub budget_panels: usize,
    pub budget_chart_points: usize,
    /// Whether any row is sample data (the banner is on).
    pub sample_data: bool,
    /// Findings tested in `findings.md`, and how many of them the results cover (have pairs).
    pub findings: usize,
    pub findings_covered: usize,
}

/// Writes the report of the results file `path` into `out_dir` (`reports/<sweep>/`), with the
/// published numbers of the TOML file `published` beside ours when given (see
/// [`crate::published`]).
pub fn report(path: &Path, out_dir: &Path, published: Option<&Path>) -> Result<ReportSummary> {
    let published = published.map(Published::load).transpose()?;
    report_with(path, out_dir, published.as_ref(), &ReportOptions::default())
}

/// [`report`] with parsed published numbers and options.
pub fn report_with(
    path: &Path,
    out_dir: &Path,
    published: Option<&Published>,
    options: &ReportOptions,
) -> Result<ReportSummary> {
    if !path.exists() {
        return Err(ResultsError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such results file"),
        ));
    }
    let rows = read_rows(path)?;
    report_rows(&rows, out_dir, published, options)
}

/// [`report`] of rows already in memory.
pub fn report_rows(
    rows: &[ResultRow],
    out_dir: &Path,
    published: Option<&Published>,
    options: &ReportOptions,
) -> Result<ReportSummary> {
    let model = Model::build(rows, published, options);
    std::fs::create_dir_all(out_dir).map_err(|e| ResultsError::io(out_dir, e))?;
    let mut summary = ReportSummary {
        rows: rows.len(),
        ok: count(rows, Status::Ok),
        diverged: count(rows, Status::Diverged),
        failed: count(rows, Status::Failed),
        cells: model
            .sections
            .iter()
            .flat_map(|s| &s.rows)
            .flat_map(|r| &r.cells)
            .filter(|c| c.is_some())
            .count(),
        sample_data: model.sample,
        ..ReportSummary::default()
    };
    let write = |name: &str, text: &str, files: &mut Vec<PathBuf>| -> Result<()> {
        let p = out_dir.join(name);
        std::fs::write(&p, text).map_err(|e| ResultsError::io(&p, e))?;
        files.push(p);
        Ok(())
    };
    write("table.md", &model.markdown(), &mut summary.files)?;
    write("table.tex", &model.latex(), &mut summary.files)?;
    if let Some(published) = published {
        let (text, n) = model.comparison(published);
        summary.comparisons = n;
        write("comparison.md", &text, &mut summary.files)?;
    }
    let (text, n) = model.pareto();
    summary.pareto_points = n;
    write("pareto.md", &text, &mut summary.files)?;
    let panels = model.chart_panels();
    summary.chart_points = panels
        .iter()
        .flat_map(|p| &p.series)
        .map(|s| s.points.len())
        .sum();
    let svg = out_dir.join("score_vs_params.svg");
    chart::render_svg(&panels, &svg)?;
    summary.files.push(svg);
    if options.png {
        let png = out_dir.join("score_vs_params.png");
        chart::render_png(&panels, &png)?;
        summary.files.push(png);
    }
    let panels = model.budget_panels();
    summary.budget_panels = panels.len();
    summary.budget_chart_points = panels
        .iter()
        .flat_map(|p| &p.series)
        .map(|s| s.points.len())
        .sum();
    let svg = out_dir.join("score_vs_budget.svg");
    chart::render_svg(&panels, &svg)?;
    summary.files.push(svg);
    if options.png {
        let png = out_dir.join("score_vs_budget.png");
        chart::render_png(&panels, &png)?;
        summary.files.push(png);
    }
    let default_table;
    let table = match &options.findings {
        Some(t) => t,
        None => {
            default_table = FindingsTable::default_table();
            &default_table
        }
    };
    let found = write_findings(rows, table, out_dir)?;
    summary.findings = found.results.len();
    summary.findings_covered = found.covered();
    summary.files.extend(found.files);
    Ok(summary)
}

fn count(rows: &[ResultRow], status: Status) -> usize {
    rows.iter().filter(|r| r.status == status).count()
}

fn first_seen<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn split_rank(split: &str) -> (u8, String) {
    let rank = match split {
        "test" => 0,
        "validation" => 1,
        s if s.starts_with("validation") => 2,
        s if s.starts_with("test") => 3,
        "train" => 9,
        _ => 5,
    };
    (rank, split.to_string())
}

/// Whether lower values of `metric` are better (losses, perplexity, error rates).
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric_key(metric);
    m.contains("loss")
        || m.contains("perplexity")
        || m == "ppl"
        || m.contains("error")
        || matches!(m.as_str(), "ter" | "wer" | "cer")
}

fn default_decimals(metric: &str) -> usize {
    if metric_key(metric).starts_with("rouge") {
        2
    } else {
        1
    }
}

/// The median of non-empty `values`.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `v` with `decimals` decimals, never `-0.0`.
pub(crate) fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A signed difference: `+0.3`, `-1.2`, `+0.0`.
pub(crate) fn signed(v: f64, decimals: usize) -> String {
    let s = fixed(v, decimals);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

/// A percentage of parameters: 3 significant digits, trailing zeros dropped (`100`, `6.7`,
/// `0.481`, `0.0812`).
pub fn fmt_percent(p: f64) -> String {
    if !p.is_finite() {
        return "–".into();
    }
    if p == 0.0 {
        return "0".into();
    }
    let digits = (2 - p.abs().log10().floor() as i64).max(0) as usize;
    let s = fixed(p, digits);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn count_refs(rows: &[&ResultRow], status: Status) -> usize {
    rows.iter().filter(|r| r.status == status).count()
}

fn list(items: &[String], at_most: usize) -> String {
    if items.len() <= at_most {
        items.join("; ")
    } else {
        format!(
            "{}; and {} more",
            items[..at_most].join("; "),
            items.len() - at_most
        )
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Escapes LaTeX's special characters.
pub fn tex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '–' => out.push_str("--"),
            '—' => out.push_str("---"),
            '−' => out.push_str("$-$"),
            '±' => out.push_str("$\\pm$"),
            '×' => out.push_str("$\\times$"),
            'Δ' => out.push_str("$\\Delta$"),
            '†' => out.push_str("$^\\dagger$"),
            '·' => out.push_str("\\textperiodcentered{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(ch),
        }
    }
    out
}

/// A number for LaTeX text: a leading minus as `$-$`.
fn tex_num(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(rest) => format!("$-${rest}"),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::outputs::budget_knob;
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(signed(0.04, 1), "+0.0");
        assert_eq!(signed(-0.25, 2), "-0.25");
        assert_eq!(fmt_percent(100.0), "100");
        assert_eq!(fmt_percent(6.7), "6.7");
        assert_eq!(fmt_percent(12.3), "12.3");
        assert_eq!(fmt_percent(99.99), "100");
        assert_eq!(fmt_percent(0.4807), "0.481");
        assert_eq!(fmt_percent(0.0912), "0.0912");
        assert_eq!(tex_escape("mam_glue 50%"), "mam\\_glue 50\\%");
        assert_eq!(tex_escape("a–b ±1"), "a--b $\\pm$1");
        assert!(lower_is_better("eval_loss") && !lower_is_better("accuracy"));
        assert_eq!(budget_knob("30+512"), Some(30.0));
        assert_eq!(budget_knob("0.5"), Some(0.5));
        assert_eq!(budget_knob(".5+8"), Some(0.5));
        assert_eq!(budget_knob("r=16"), Some(16.0));
        assert_eq!(budget_knob(""), None);
    }
}
