//! Paper-style reports of a results file: `table.md`, `table.tex`, `comparison.md` (beside
//! published numbers), `pareto.md`, the `score_vs_params` chart (with the Pareto front marked)
//! and the `score_vs_budget` chart.
//!
//! # Pareto front
//!
//! `pareto.md` lists, per (backbone, task), the table cells (method, budgets) that are
//! Pareto-optimal in (% params, median score): no other cell of the task has a score at least as
//! good with at most as many trainable parameters, one of the two strictly (see
//! [`crate::chart::pareto_front`]; "good" is lower for losses). `score_vs_params` marks the
//! same front among the points it can show (% params > 0).
//!
//! # Score vs budget
//!
//! `score_vs_budget` has small multiples: per (backbone, task) and per design dimension (forms,
//! positions, insertions, compositions) whose value varies among the task's ok runs with
//! budgets, one panel; x = the budget knob (the first number of `budgets`, log scale), one series
//! per value of the dimension, a point per (value, budget knob) at the median of the main metric
//! over its runs (the seeds, and the other dimensions' settings that share the value) with a
//! min–max bar. When no dimension varies, one panel per task has a series per method. Rows
//! without budgets (or a knob ≤ 0) are left out.
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
use crate::published::{metric_key, Published, PublishedEntry};
use crate::row::{ResultRow, Status};
use crate::store::read_rows;

/// The banner put on reports of sample data.
pub const SAMPLE_BANNER: &str = "sample numbers, not the benchmark";

/// Options of [`report_with`].
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Decimals of every number; `None`: 2 for ROUGE metrics, 1 for the others (the papers').
    pub decimals: Option<usize>,
    /// Also render `score_vs_params.png` (besides the SVG).
    pub png: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            decimals: None,
            png: true,
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
    Ok(summary)
}

fn count(rows: &[ResultRow], status: Status) -> usize {
    rows.iter().filter(|r| r.status == status).count()
}

/// A task column of a table.
struct Column {
    task: String,
    split: String,
    metric: String,
    decimals: usize,
    lower_better: bool,
}

/// The ok runs of one (method, budgets, task, split), aggregated.
struct Cell {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
    /// Several runs share a seed (e.g. a learning-rate grid).
    shared_seed: bool,
    /// Some run is on sample data.
    sample: bool,
    /// Median deployed (else trainable) % of the runs (the chart's x).
    percent: f64,
    /// The first published entry for this cell's metric, and ours − it.
    published: Option<(PublishedEntry, f64)>,
    /// The cell's first run (its method, design, budgets, backbone, task).
    first: ResultRow,
}

/// A (method, budgets) row of a table.
struct TableRow {
    method: String,
    budgets: String,
    family: String,
    percent: String,
    cells: Vec<Option<Cell>>,
    avg: Option<f64>,
}

/// The table of one backbone.
struct Section {
    backbone: String,
    columns: Vec<Column>,
    rows: Vec<TableRow>,
    /// Non-ok runs, described.
    excluded: Vec<String>,
    diverged: usize,
    failed: usize,
    /// Splits evaluated but not shown ("glue/sst2 on train").
    other_splits: Vec<String>,
    /// Selected rows of this backbone (ok, on a shown split), for comparisons.
    ok_rows: Vec<ResultRow>,
}

struct Model {
    title: String,
    sample: bool,
    sample_notes: Vec<String>,
    sections: Vec<Section>,
    avg_decimals: usize,
    decimals: Option<usize>,
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

impl Model {
    fn build(rows: &[ResultRow], published: Option<&Published>, options: &ReportOptions) -> Model {
        let sweeps = first_seen(rows.iter().map(|r| r.sweep.clone()));
        let sample = rows.iter().any(|r| r.sample_data);
        let sample_notes = first_seen(
            rows.iter()
                .filter(|r| r.sample_data && r.status == Status::Ok && !r.note.is_empty())
                .map(|r| r.note.clone()),
        );
        let backbones = first_seen(rows.iter().map(|r| r.backbone.clone()));
        let mut sections = Vec::new();
        for backbone in backbones {
            let mine: Vec<&ResultRow> = rows.iter().filter(|r| r.backbone == backbone).collect();
            sections.push(Section::build(&backbone, &mine, published, options));
        }
        let avg_decimals = options.decimals.unwrap_or_else(|| {
            sections
                .iter()
                .flat_map(|s| &s.columns)
                .map(|c| c.decimals)
                .max()
                .unwrap_or(1)
        });
        Model {
            title: if sweeps.is_empty() {
                "(no results)".into()
            } else {
                sweeps.join(", ")
            },
            sample,
            sample_notes,
            sections,
            avg_decimals,
            decimals: options.decimals,
        }
    }

    fn banner_md(&self) -> Option<String> {
        if !self.sample {
            return None;
        }
        let mut line = format!("> **{SAMPLE_BANNER}**");
        if !self.sample_notes.is_empty() {
            line.push_str(": ");
            line.push_str(&self.sample_notes.join("; "));
        }
        Some(line)
    }

    fn markdown(&self) -> String {
        let mut out = format!("# Results: {}\n\n", self.title);
        if let Some(b) = self.banner_md() {
            let _ = writeln!(out, "{b}\n");
        }
        if self.sections.is_empty() {
            out.push_str("No results.\n");
        }
        for s in &self.sections {
            let _ = writeln!(out, "## {}\n", md_escape(&s.backbone));
            if s.columns.is_empty() {
                out.push_str("No run finished ok.\n\n");
            } else {
                let mut header = vec!["method".to_string(), "budget".into(), "% params".into()];
                header.extend(
                    s.columns
                        .iter()
                        .map(|c| md_escape(&format!("{} ({}, {})", c.task, c.metric, c.split))),
                );
                header.push("avg".into());
                let _ = writeln!(out, "| {} |", header.join(" | "));
                let mut align = vec!["---", "---", "---:"];
                align.extend(s.columns.iter().map(|_| "---:"));
                align.push("---:");
                let _ = writeln!(out, "| {} |", align.join(" | "));
                let bold = s.bold(self.avg_decimals);
                for (ri, row) in s.rows.iter().enumerate() {
                    let mut cells = vec![
                        md_escape(&row.method),
                        md_escape(&row.budgets),
                        row.percent.clone(),
                    ];
                    for (ci, (cell, col)) in row.cells.iter().zip(&s.columns).enumerate() {
                        cells.push(match cell {
                            Some(c) => md_cell(c, col.decimals, bold.cell(ri, ci)),
                            None => "–".into(),
                        });
                    }
                    cells.push(match row.avg {
                        Some(a) if bold.avg(ri) => format!("**{}**", fixed(a, self.avg_decimals)),
                        Some(a) => fixed(a, self.avg_decimals),
                        None => "–".into(),
                    });
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.push('\n');
            }
            for note in s.footnotes(true) {
                let _ = writeln!(out, "{note}  ");
            }
            out.push('\n');
        }
        out
    }

    fn latex(&self) -> String {
        let mut out = format!(
            "% peftgrid results: {} (needs \\usepackage{{booktabs}})\n",
            self.title
        );
        for s in &self.sections {
            out.push_str("\\begin{table}[t]\n\\centering\n\\small\n");
            if s.columns.is_empty() {
                out.push_str("No run finished ok.\n");
            } else {
                let _ = writeln!(
                    out,
                    "\\begin{{tabular}}{{llr{}r}}\n\\toprule",
                    "r".repeat(s.columns.len())
                );
                let tasks: Vec<String> = s.columns.iter().map(|c| tex_escape(&c.task)).collect();
                let metrics: Vec<String> = s
                    .columns
                    .iter()
                    .map(|c| tex_escape(&format!("{} ({})", c.metric, c.split)))
                    .collect();
                let _ = writeln!(
                    out,
                    "Method & Budget & \\% params & {} & Avg \\\\",
                    tasks.join(" & ")
                );
                let _ = writeln!(out, " & & & {} & \\\\\n\\midrule", metrics.join(" & "));
                let bold = s.bold(self.avg_decimals);
                for (ri, row) in s.rows.iter().enumerate() {
                    let mut cells = vec![
                        tex_escape(&row.method),
                        tex_escape(&row.budgets),
                        tex_escape(&row.percent),
                    ];
                    for (ci, (cell, col)) in row.cells.iter().zip(&s.columns).enumerate() {
                        cells.push(match cell {
                            Some(c) => tex_cell(c, col.decimals, bold.cell(ri, ci)),
                            None => "--".into(),
                        });
                    }
                    cells.push(match row.avg {
                        Some(a) => {
                            let v = tex_num(&fixed(a, self.avg_decimals));
                            if bold.avg(ri) {
                                format!("\\textbf{{{v}}}")
                            } else {
                                v
                            }
                        }
                        None => "--".into(),
                    });
                    let _ = writeln!(out, "{} \\\\", cells.join(" & "));
                }
                out.push_str("\\bottomrule\n\\end{tabular}\n");
            }
            let mut caption = format!("{}.", tex_escape(&s.backbone));
            if self.sample {
                let _ = write!(
                    caption,
                    " \\textbf{{{}}}",
                    tex_escape(&capitalise(SAMPLE_BANNER))
                );
                if !self.sample_notes.is_empty() {
                    let _ = write!(caption, ": {}", tex_escape(&self.sample_notes.join("; ")));
                }
                caption.push('.');
            }
            for note in s.footnotes(false) {
                caption.push(' ');
                caption.push_str(&note);
            }
            let _ = writeln!(out, "\\caption{{{caption}}}\n\\end{{table}}\n");
        }
        out
    }

    /// `comparison.md` and its number of compared lines.
    fn comparison(&self, published: &Published) -> (String, usize) {
        let mut out = format!("# Published numbers beside ours: {}\n\n", self.title);
        if let Some(b) = self.banner_md() {
            let _ = writeln!(out, "{b}\n");
        }
        out.push_str(
            "A run matches a published entry on (backbone, task, method, budget): the backbone's \
             last path component and the task compared case-insensitively, the method name \
             exactly, the budget as the `budgets` string (`*` in the entry: any budget). Ours: \
             median over the ok runs ±half the min–max range (n runs). Δ = ours − published. \
             Sample-data runs are never compared.\n\n",
        );
        let mut lines = Vec::new();
        for s in &self.sections {
            for row in &s.rows {
                for (cell, col) in row.cells.iter().zip(&s.columns) {
                    let Some(cell) = cell else { continue };
                    if cell.sample {
                        continue;
                    }
                    for e in published.matching(&cell.first) {
                        let values: Vec<f64> = s
                            .ok_rows
                            .iter()
                            .filter(|r| {
                                r.method == row.method
                                    && r.budgets == row.budgets
                                    && r.task == col.task
                                    && r.split == col.split
                            })
                            .filter_map(|r| {
                                r.metrics
                                    .iter()
                                    .find(|(k, _)| e.is_metric(k))
                                    .map(|(_, v)| *v)
                            })
                            .filter(|v| v.is_finite())
                            .collect();
                        if values.is_empty() {
                            continue;
                        }
                        let d = self.decimals.unwrap_or_else(|| default_decimals(&e.metric));
                        let (med, lo, hi) = stats(&values);
                        let ours = spread_text(med, lo, hi, values.len(), d);
                        let paper_params = match (&e.percent, &e.params) {
                            (Some(p), _) => fmt_percent(*p),
                            (None, Some(p)) => p.clone(),
                            (None, None) => "–".into(),
                        };
                        lines.push(format!(
                            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} (n={}) | {} | {} |",
                            md_escape(&e.paper),
                            md_escape(&e.table),
                            md_escape(&e.label),
                            md_escape(format!("{} {}", row.method, row.budgets).trim()),
                            md_escape(&s.backbone),
                            md_escape(&col.task),
                            md_escape(&e.metric),
                            md_escape(&col.split),
                            md_escape(&e.split),
                            row.percent,
                            paper_params,
                            ours,
                            values.len(),
                            fixed(e.value, d),
                            signed(med - e.value, d),
                        ));
                    }
                }
            }
        }
        if lines.is_empty() {
            out.push_str("No result matches a published entry.\n");
        } else {
            out.push_str(
                "| paper | table | paper's method | method (ours) | backbone | task | metric | split (ours / paper) | % params (ours / paper) | ours | published | Δ |\n",
            );
            out.push_str(
                "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |\n",
            );
            for l in &lines {
                out.push_str(l);
                out.push('\n');
            }
        }
        (out, lines.len())
    }

    fn chart_panels(&self) -> Vec<ChartPanel> {
        let several = self.sections.len() > 1;
        let mut panels = Vec::new();
        for s in &self.sections {
            for (ci, col) in s.columns.iter().enumerate() {
                let mut series: Vec<ChartSeries> = Vec::new();
                let mut skipped = 0;
                for row in &s.rows {
                    let Some(cell) = &row.cells[ci] else { continue };
                    if !(cell.percent > 0.0 && cell.percent.is_finite()) {
                        skipped += 1;
                        continue;
                    }
                    let point = ChartPoint {
                        method: row.method.clone(),
                        x: cell.percent,
                        y: cell.median,
                        lo: cell.min,
                        hi: cell.max,
                    };
                    match series.iter_mut().find(|x| x.label == row.family) {
                        Some(x) => x.points.push(point),
                        None => series.push(ChartSeries {
                            label: row.family.clone(),
                            points: vec![point],
                        }),
                    }
                }
                let title = if several {
                    format!("{} · {} ({})", s.backbone, col.task, col.split)
                } else {
                    format!("{} ({})", col.task, col.split)
                };
                panels.push(ChartPanel {
                    title,
                    metric: col.metric.clone(),
                    series,
                    skipped_zero: skipped,
                    x_desc: String::new(),
                    pareto: true,
                    lower_better: col.lower_better,
                });
            }
        }
        panels
    }

    /// `pareto.md` and the number of cells on the fronts.
    fn pareto(&self) -> (String, usize) {
        let mut out = format!("# Pareto fronts: {}\n\n", self.title);
        if let Some(b) = self.banner_md() {
            let _ = writeln!(out, "{b}\n");
        }
        out.push_str(
            "Per task, the (method, budget) cells that no other cell beats on both axes: a \
             median score at least as good with at most the % of trainable parameters, one of the \
             two strictly. Sorted by % params. Score: median over the ok runs ±half the min–max \
             range (n runs).\n\n",
        );
        let several = self.sections.len() > 1;
        let mut total = 0;
        let mut any_column = false;
        for s in &self.sections {
            for (ci, col) in s.columns.iter().enumerate() {
                any_column = true;
                let cells: Vec<(&TableRow, &Cell)> = s
                    .rows
                    .iter()
                    .filter_map(|r| r.cells[ci].as_ref().map(|c| (r, c)))
                    .collect();
                let points: Vec<(f64, f64)> = cells
                    .iter()
                    .map(|(_, c)| {
                        let score = if col.lower_better {
                            -c.median
                        } else {
                            c.median
                        };
                        (c.percent, score)
                    })
                    .collect();
                let front = chart::pareto_front(&points);
                let title = if several {
                    format!(
                        "{} · {} ({}, {})",
                        s.backbone, col.task, col.split, col.metric
                    )
                } else {
                    format!("{} ({}, {})", col.task, col.split, col.metric)
                };
                let _ = writeln!(out, "## {}\n", md_escape(&title));
                let better = if col.lower_better { "lower" } else { "higher" };
                let _ = writeln!(
                    out,
                    "{} of {} cells on the front ({better} {} is better).\n",
                    front.len(),
                    cells.len(),
                    md_escape(&col.metric)
                );
                let _ = writeln!(
                    out,
                    "| method | budget | % params | {} |\n| --- | --- | ---: | ---: |",
                    md_escape(&col.metric)
                );
                for i in &front {
                    let (row, c) = cells[*i];
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} (n={}) |",
                        md_escape(&row.method),
                        md_escape(&row.budgets),
                        fmt_percent(c.percent),
                        spread_text(c.median, c.min, c.max, c.n, col.decimals),
                        c.n
                    );
                }
                out.push('\n');
                total += front.len();
            }
        }
        if !any_column {
            out.push_str("No run finished ok.\n");
        }
        (out, total)
    }

    /// The `score_vs_budget` panels (see the module documentation).
    fn budget_panels(&self) -> Vec<ChartPanel> {
        type Dim = (&'static str, fn(&ResultRow) -> &str);
        const DIMS: [Dim; 4] = [
            ("forms", |r| &r.forms),
            ("positions", |r| &r.positions),
            ("insertions", |r| &r.insertions),
            ("compositions", |r| &r.compositions),
        ];
        const BY_METHOD: Dim = ("method", |r| &r.method);
        let several = self.sections.len() > 1;
        let mut panels = Vec::new();
        for s in &self.sections {
            for col in &s.columns {
                let runs: Vec<(&ResultRow, f64, f64)> = s
                    .ok_rows
                    .iter()
                    .filter(|r| r.task == col.task && r.split == col.split)
                    .filter_map(|r| {
                        let knob = budget_knob(&r.budgets)?;
                        let v = r.metrics.get(&col.metric).copied()?;
                        v.is_finite().then_some((r, knob, v))
                    })
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let mut dims: Vec<Dim> = DIMS
                    .into_iter()
                    .filter(|(_, get)| first_seen(runs.iter().map(|(r, _, _)| get(r))).len() > 1)
                    .collect();
                if dims.is_empty() {
                    dims.push(BY_METHOD);
                }
                for (name, get) in dims {
                    let mut series: Vec<ChartSeries> = Vec::new();
                    let mut skipped = 0;
                    for value in first_seen(runs.iter().map(|(r, _, _)| get(r))) {
                        let label = if value.is_empty() {
                            "(none)".to_string()
                        } else {
                            value.to_string()
                        };
                        let mine: Vec<(f64, f64)> = runs
                            .iter()
                            .filter(|(r, _, _)| get(r) == value)
                            .map(|(_, k, v)| (*k, *v))
                            .collect();
                        let mut knobs: Vec<f64> = mine.iter().map(|(k, _)| *k).collect();
                        knobs.sort_by(f64::total_cmp);
                        knobs.dedup();
                        let mut points = Vec::new();
                        for k in knobs {
                            if k <= 0.0 {
                                skipped += 1;
                                continue;
                            }
                            let values: Vec<f64> = mine
                                .iter()
                                .filter(|(x, _)| *x == k)
                                .map(|(_, v)| *v)
                                .collect();
                            let (med, lo, hi) = stats(&values);
                            points.push(ChartPoint {
                                method: label.clone(),
                                x: k,
                                y: med,
                                lo,
                                hi,
                            });
                        }
                        if !points.is_empty() {
                            series.push(ChartSeries { label, points });
                        }
                    }
                    let task = if several {
                        format!("{} · {} ({})", s.backbone, col.task, col.split)
                    } else {
                        format!("{} ({})", col.task, col.split)
                    };
                    panels.push(ChartPanel {
                        title: format!("{task} by {name}"),
                        metric: col.metric.clone(),
                        series,
                        skipped_zero: skipped,
                        x_desc: "budget (first number of `budgets`, log scale)".into(),
                        pareto: false,
                        lower_better: col.lower_better,
                    });
                }
            }
        }
        panels
    }
}

/// The budget knob of a `budgets` string: the first number in it (`30+512` → 30, `0.5` → 0.5),
/// or `None` for no budgets.
pub(crate) fn budget_knob(budgets: &str) -> Option<f64> {
    let start = budgets.find(|c: char| c.is_ascii_digit())?;
    let rest = &budgets[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let mut num = &rest[..end];
    // Before the number: a `.` as in `.5`.
    if start > 0 && budgets.as_bytes()[start - 1] == b'.' {
        num = &budgets[start - 1..start + end];
    }
    num.trim_end_matches('.')
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values), lo, hi)
}

/// `median ±half-range`, or just the median for one run.
fn spread_text(med: f64, lo: f64, hi: f64, n: usize, d: usize) -> String {
    if n > 1 {
        format!("{} ±{}", fixed(med, d), fixed((hi - lo) / 2.0, d))
    } else {
        fixed(med, d)
    }
}

fn md_cell(c: &Cell, d: usize, bold: bool) -> String {
    let core = spread_text(c.median, c.min, c.max, c.n, d);
    let mut s = if bold { format!("**{core}**") } else { core };
    if c.shared_seed {
        s.push('†');
    }
    if let Some((e, delta)) = &c.published {
        let _ = write!(s, " [pub. {}, Δ {}]", fixed(e.value, d), signed(*delta, d));
    }
    s
}

fn tex_cell(c: &Cell, d: usize, bold: bool) -> String {
    let m = tex_num(&fixed(c.median, d));
    let mut s = if bold { format!("\\textbf{{{m}}}") } else { m };
    if c.n > 1 {
        let _ = write!(s, "$_{{\\pm {}}}$", fixed((c.max - c.min) / 2.0, d));
    }
    if c.shared_seed {
        s.push_str("$^\\dagger$");
    }
    if let Some((e, delta)) = &c.published {
        let _ = write!(
            s,
            "~{{\\scriptsize[{}; $\\Delta$\\,{}]}}",
            tex_num(&fixed(e.value, d)),
            tex_num(&signed(*delta, d))
        );
    }
    s
}

/// Best cells per column (and avg), compared as printed.
struct Bold {
    cells: Vec<Vec<bool>>,
    avg: Vec<bool>,
}

impl Bold {
    fn cell(&self, row: usize, col: usize) -> bool {
        self.cells[row][col]
    }
    fn avg(&self, row: usize) -> bool {
        self.avg[row]
    }
}

fn best_of(values: &[Option<f64>], decimals: usize, lower_better: bool) -> Vec<bool> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.len() < 2 {
        return vec![false; values.len()];
    }
    let best = if lower_better {
        present.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        present.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    };
    let best = fixed(best, decimals);
    values
        .iter()
        .map(|v| v.is_some_and(|v| fixed(v, decimals) == best))
        .collect()
}

impl Section {
    fn build(
        backbone: &str,
        rows: &[&ResultRow],
        published: Option<&Published>,
        options: &ReportOptions,
    ) -> Section {
        let ok: Vec<&ResultRow> = rows
            .iter()
            .copied()
            .filter(|r| r.status == Status::Ok)
            .collect();
        let tasks = first_seen(ok.iter().map(|r| r.task.clone()));
        let mut columns = Vec::new();
        let mut other_splits = Vec::new();
        for task in tasks {
            let splits: BTreeSet<&str> = ok
                .iter()
                .filter(|r| r.task == task)
                .map(|r| r.split.as_str())
                .collect();
            let split = splits
                .iter()
                .min_by_key(|s| split_rank(s))
                .expect("a task of an ok row has a split")
                .to_string();
            for other in splits.iter().filter(|s| **s != split) {
                other_splits.push(format!("{task} on {other}"));
            }
            let metric = ok
                .iter()
                .find(|r| r.task == task && r.split == split)
                .map(|r| r.main_metric.clone())
                .unwrap_or_default();
            columns.push(Column {
                decimals: options
                    .decimals
                    .unwrap_or_else(|| default_decimals(&metric)),
                lower_better: lower_is_better(&metric),
                task,
                split,
                metric,
            });
        }
        let shown: Vec<&ResultRow> = ok
            .iter()
            .copied()
            .filter(|r| {
                columns
                    .iter()
                    .any(|c| c.task == r.task && c.split == r.split)
            })
            .collect();
        let keys = first_seen(rows.iter().map(|r| (r.method.clone(), r.budgets.clone())));
        let mut table_rows = Vec::new();
        for (method, budgets) in keys {
            let of_key = |r: &ResultRow| r.method == method && r.budgets == budgets;
            let mut percents: Vec<f64> = shown
                .iter()
                .filter(|r| of_key(r))
                .map(|r| r.budget_percent())
                .collect();
            if percents.is_empty() {
                percents = rows
                    .iter()
                    .filter(|r| of_key(r))
                    .map(|r| r.budget_percent())
                    .collect();
            }
            let percent = {
                let lo = percents.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = percents.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if percents.is_empty() {
                    "–".to_string()
                } else if fmt_percent(lo) == fmt_percent(hi) {
                    fmt_percent(lo)
                } else {
                    format!("{}–{}", fmt_percent(lo), fmt_percent(hi))
                }
            };
            let family = rows
                .iter()
                .find(|r| of_key(r))
                .map(|r| {
                    if r.forms.is_empty() {
                        r.method.clone()
                    } else {
                        r.forms.clone()
                    }
                })
                .unwrap_or_default();
            let mut cells = Vec::new();
            for col in &columns {
                let runs: Vec<&ResultRow> = shown
                    .iter()
                    .copied()
                    .filter(|r| of_key(r) && r.task == col.task && r.split == col.split)
                    .filter(|r| r.metrics.get(&col.metric).is_some_and(|v| v.is_finite()))
                    .collect();
                if runs.is_empty() {
                    cells.push(None);
                    continue;
                }
                let values: Vec<f64> = runs.iter().map(|r| r.metrics[&col.metric]).collect();
                let (med, lo, hi) = stats(&values);
                let seeds: BTreeSet<u64> = runs.iter().map(|r| r.seed).collect();
                let sample = runs.iter().any(|r| r.sample_data);
                let published = if sample {
                    None
                } else {
                    published.and_then(|p| {
                        p.matching(runs[0])
                            .into_iter()
                            .find(|e| e.is_metric(&col.metric))
                            .map(|e| (e.clone(), med - e.value))
                    })
                };
                cells.push(Some(Cell {
                    median: med,
                    min: lo,
                    max: hi,
                    n: runs.len(),
                    shared_seed: seeds.len() < runs.len(),
                    sample,
                    percent: median(&runs.iter().map(|r| r.budget_percent()).collect::<Vec<_>>()),
                    published,
                    first: runs[0].clone(),
                }));
            }
            let avg = if !cells.is_empty() && cells.iter().all(Option::is_some) {
                Some(cells.iter().flatten().map(|c| c.median).sum::<f64>() / cells.len() as f64)
            } else {
                None
            };
            table_rows.push(TableRow {
                method,
                budgets,
                family,
                percent,
                cells,
                avg,
            });
        }
        let mut excluded = Vec::new();
        for r in rows.iter().filter(|r| r.status != Status::Ok) {
            let mut what = format!("{} {}", r.method, r.budgets).trim().to_string();
            let _ = write!(
                what,
                " on {} ({}) seed {}: {}",
                r.task, r.split, r.seed, r.status
            );
            if !r.note.is_empty() {
                let _ = write!(what, " ({})", r.note);
            }
            excluded.push(what);
        }
        Section {
            backbone: backbone.to_string(),
            columns,
            rows: table_rows,
            excluded,
            diverged: count_refs(rows, Status::Diverged),
            failed: count_refs(rows, Status::Failed),
            other_splits,
            ok_rows: shown.into_iter().cloned().collect(),
        }
    }

    fn bold(&self, avg_decimals: usize) -> Bold {
        let mut cells = vec![vec![false; self.columns.len()]; self.rows.len()];
        for (ci, col) in self.columns.iter().enumerate() {
            let medians: Vec<Option<f64>> = self
                .rows
                .iter()
                .map(|r| r.cells[ci].as_ref().map(|c| c.median))
                .collect();
            for (ri, b) in best_of(&medians, col.decimals, col.lower_better)
                .into_iter()
                .enumerate()
            {
                cells[ri][ci] = b;
            }
        }
        let avgs: Vec<Option<f64>> = self.rows.iter().map(|r| r.avg).collect();
        let lower = !self.columns.is_empty() && self.columns.iter().all(|c| c.lower_better);
        Bold {
            cells,
            avg: best_of(&avgs, avg_decimals, lower),
        }
    }

    /// Footnotes, as Markdown (`md`) or LaTeX caption sentences.
    fn footnotes(&self, md: bool) -> Vec<String> {
        let esc = |s: &str| if md { md_escape(s) } else { tex_escape(s) };
        let mut notes = Vec::new();
        if !self.columns.is_empty() {
            let mut counts: HashMap<usize, usize> = HashMap::new();
            let mut all = Vec::new();
            for row in &self.rows {
                for (cell, col) in row.cells.iter().zip(&self.columns) {
                    if let Some(c) = cell {
                        *counts.entry(c.n).or_default() += 1;
                        all.push((row, col, c.n));
                    }
                }
            }
            let common = counts
                .iter()
                .max_by_key(|(n, k)| (**k, std::cmp::Reverse(**n)))
                .map(|(n, _)| *n)
                .unwrap_or(0);
            let mut runs = format!("runs per cell: {common}");
            let odd: Vec<String> = all
                .iter()
                .filter(|(_, _, n)| *n != common)
                .map(|(r, c, n)| {
                    format!(
                        "{n} for {} on {}",
                        format!("{} {}", r.method, r.budgets).trim(),
                        c.task
                    )
                })
                .collect();
            if !odd.is_empty() {
                let _ = write!(runs, "; {}", list(&odd, 8));
            }
            let (pm, dash) = if md { ("±", "–") } else { ("$\\pm$", "--") };
            notes.push(format!(
                "Cells: median over seeds {pm}half the min{dash}max range ({}), ok runs only.",
                esc(&runs)
            ));
            if self
                .rows
                .iter()
                .flat_map(|r| r.cells.iter().flatten())
                .any(|c| c.shared_seed)
            {
                let dagger = if md { "†" } else { "$^\\dagger$" };
                notes.push(format!(
                    "{dagger} several runs share a seed in this cell (e.g. a learning-rate grid); \
                     the median is over all of them."
                ));
            }
            let lower: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| c.lower_better)
                .map(|c| c.metric.as_str())
                .collect();
            let best = if md { "**Bold**" } else { "\\textbf{Bold}" };
            if lower.is_empty() {
                notes.push(format!("{best}: best in the column (higher is better)."));
            } else {
                notes.push(format!(
                    "{best}: best in the column (higher is better; lower for {}).",
                    esc(&lower.join(", "))
                ));
            }
            notes.push(format!(
                "avg: mean of the medians over the {} task column{}, where every one has a result.",
                self.columns.len(),
                if self.columns.len() == 1 { "" } else { "s" }
            ));
            notes.push(format!(
                "{} params: trainable parameters without the task head, as a {} of the backbone's.",
                if md { "%" } else { "\\%" },
                if md { "%" } else { "\\%" }
            ));
            if self
                .rows
                .iter()
                .flat_map(|r| r.cells.iter().flatten())
                .any(|c| c.published.is_some())
            {
                notes.push(if md {
                    "[pub. x, Δ d]: the published number for this method, budget, backbone and \
                     task, and Δ = ours − published; comparison.md lists every match."
                        .to_string()
                } else {
                    "[x; $\\Delta$ d]: the published number and $\\Delta$ = ours $-$ published."
                        .to_string()
                });
            }
        }
        if !self.excluded.is_empty() {
            let mut parts = Vec::new();
            if self.diverged > 0 {
                parts.push(format!(
                    "{} diverged run{}",
                    self.diverged,
                    if self.diverged == 1 { "" } else { "s" }
                ));
            }
            if self.failed > 0 {
                parts.push(format!(
                    "{} failed run{}",
                    self.failed,
                    if self.failed == 1 { "" } else { "s" }
                ));
            }
            notes.push(format!(
                "Not in the table: {}: {}.",
                parts.join(", "),
                esc(&list(&self.excluded, 10))
            ));
        }
        if !self.other_splits.is_empty() {
            notes.push(format!(
                "Also evaluated, not shown: {}.",
                esc(&list(&self.other_splits, 10))
            ));
        }
        notes
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

fn md_escape(s: &str) -> String {
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
