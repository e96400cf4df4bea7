//! What a report writes from its sections: `table.md`, `table.tex`, the comparison with
//! published numbers, the charts' panels and the Pareto front.

use super::sections::*;
use super::*;

/// A whole report: its sections (one per backbone) and how numbers print.
pub(super) struct Model {
    pub(super) title: String,
    pub(super) sample: bool,
    pub(super) sample_notes: Vec<String>,
    pub(super) sections: Vec<Section>,
    pub(super) avg_decimals: usize,
    pub(super) decimals: Option<usize>,
}

impl Model {
    pub(super) fn build(
        rows: &[ResultRow],
        published: Option<&Published>,
        options: &ReportOptions,
    ) -> Model {
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

    pub(super) fn banner_md(&self) -> Option<String> {
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

    pub(super) fn markdown(&self) -> String {
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

    pub(super) fn latex(&self) -> String {
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
    pub(super) fn comparison(&self, published: &Published) -> (String, usize) {
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

    /// The `score_vs_params` panels: per (backbone, task), one series per method (its name and
    /// design point; its budgets are the series' points), a point per (method, budgets) cell.
    pub(super) fn chart_panels(&self) -> Vec<ChartPanel> {
        let several = self.sections.len() > 1;
        let mut panels = Vec::new();
        for s in &self.sections {
            for (ci, col) in s.columns.iter().enumerate() {
                let mut series: Vec<(String, ChartSeries)> = Vec::new();
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
                    let key = series_key(&cell.first);
                    match series.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, x)) => x.points.push(point),
                        None => series.push((
                            key,
                            ChartSeries {
                                label: row.method.clone(),
                                points: vec![point],
                            },
                        )),
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
                    series: unique_labels(series),
                    skipped_zero: skipped,
                    x_desc: String::new(),
                    pareto: true,
                    lower_better: col.lower_better,
                    lines: true,
                });
            }
        }
        panels
    }

    /// `pareto.md` and the number of cells on the fronts.
    pub(super) fn pareto(&self) -> (String, usize) {
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
    pub(super) fn budget_panels(&self) -> Vec<ChartPanel> {
        type Dim = (&'static str, fn(&ResultRow) -> &str);
        const DIMS: [Dim; 4] = [
            ("forms", |r| &r.forms),
            ("positions", |r| &r.positions),
            ("insertions", |r| &r.insertions),
            ("compositions", |r| &r.compositions),
        ];
        let several = self.sections.len() > 1;
        let mut panels = Vec::new();
        for s in &self.sections {
            for col in &s.columns {
                let runs: Vec<(&ResultRow, f64)> = s
                    .ok_rows
                    .iter()
                    .filter(|r| r.task == col.task && r.split == col.split)
                    .filter(|r| budget_knob(&r.budgets).is_some())
                    .filter_map(|r| {
                        let v = r.metrics.get(&col.metric).copied()?;
                        v.is_finite().then_some((r, v))
                    })
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let task = if several {
                    format!("{} · {} ({})", s.backbone, col.task, col.split)
                } else {
                    format!("{} ({})", col.task, col.split)
                };
                let panel = |name: &str,
                             series: Vec<ChartSeries>,
                             skipped: usize,
                             lines: bool,
                             note: String| {
                    let mut x_desc = "% parameters (deployed; log scale)".to_string();
                    if !note.is_empty() {
                        x_desc.push_str(" · ");
                        x_desc.push_str(&note);
                    }
                    ChartPanel {
                        title: format!("{task} by {name}"),
                        metric: col.metric.clone(),
                        series,
                        skipped_zero: skipped,
                        x_desc,
                        pareto: false,
                        lower_better: col.lower_better,
                        lines,
                    }
                };
                let dims: Vec<Dim> = DIMS
                    .into_iter()
                    .filter(|(_, get)| first_seen(runs.iter().map(|(r, _)| get(r))).len() > 1)
                    .collect();
                if dims.is_empty() {
                    let (series, skipped) = method_series(&runs, |r| r.method.clone());
                    panels.push(panel("method", series, skipped, true, String::new()));
                    continue;
                }
                for (name, get) in dims {
                    // A run's setting of the other three dimensions.
                    let context = |r: &ResultRow| -> Vec<String> {
                        DIMS.iter()
                            .filter(|(n, _)| *n != name)
                            .map(|(_, g)| g(r).to_string())
                            .collect()
                    };
                    let contexts = first_seen(runs.iter().map(|(r, _)| context(r)));
                    let comparable: Vec<&Vec<String>> = contexts
                        .iter()
                        .filter(|c| {
                            first_seen(
                                runs.iter()
                                    .filter(|(r, _)| context(r) == **c)
                                    .map(|(r, _)| get(r)),
                            )
                            .len()
                                > 1
                        })
                        .collect();
                    if comparable.is_empty() {
                        // No setting varies this dimension alone: every run as a point, no line
                        // pretends otherwise.
                        let (series, skipped) = method_series(&runs, |r| r.method.clone());
                        let note = format!("points only: {name} never varies alone");
                        panels.push(panel(name, series, skipped, false, note));
                        continue;
                    }
                    // Series grouped by setting, then by value, so that the compared methods sit
                    // side by side in the legend.
                    let mut mine: Vec<(&ResultRow, f64)> = Vec::new();
                    for c in &comparable {
                        for value in first_seen(
                            runs.iter()
                                .filter(|(r, _)| context(r) == **c)
                                .map(|(r, _)| get(r)),
                        ) {
                            mine.extend(
                                runs.iter()
                                    .filter(|(r, _)| context(r) == **c && get(r) == value),
                            );
                        }
                    }
                    let left_out = first_seen(
                        runs.iter()
                            .filter(|(r, _)| !comparable.contains(&&context(r)))
                            .map(|(r, _)| (r.method.as_str(), r.budgets.as_str())),
                    )
                    .len();
                    let (series, skipped) = method_series(&mine, |r| {
                        let value = get(r);
                        if value.is_empty() || r.method.contains(value) {
                            r.method.clone()
                        } else {
                            format!("{} ({value})", r.method)
                        }
                    });
                    let note = if left_out > 0 {
                        format!("{left_out} method/budget point(s) without a counterpart not shown")
                    } else {
                        String::new()
                    };
                    panels.push(panel(name, series, skipped, true, note));
                }
            }
        }
        panels
    }
}

/// What makes runs one series: the method and its design point (not the budgets).
fn series_key(r: &ResultRow) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        r.method, r.forms, r.positions, r.insertions, r.compositions
    )
}

/// Series with their keys; labels shared by series of different keys (one method name at two
/// design points) get the design point added.
fn unique_labels(series: Vec<(String, ChartSeries)>) -> Vec<ChartSeries> {
    let labels: Vec<String> = series.iter().map(|(_, s)| s.label.clone()).collect();
    series
        .into_iter()
        .map(|(key, mut s)| {
            if labels.iter().filter(|l| **l == s.label).count() > 1 {
                let design: Vec<&str> = key.split('\u{1f}').skip(1).collect();
                s.label = format!("{} [{}]", s.label, design.join(" "));
            }
            s
        })
        .collect()
}

/// One series per method (name and design point) of `runs`, labelled by `label`, a point per
/// budgets at the median over its runs (seeds) with a min–max bar, x = the median deployed %,
/// points in x order. Also the number of points left out at 0%.
fn method_series(
    runs: &[(&ResultRow, f64)],
    label: impl Fn(&ResultRow) -> String,
) -> (Vec<ChartSeries>, usize) {
    let mut skipped = 0;
    let mut series = Vec::new();
    for key in first_seen(runs.iter().map(|(r, _)| series_key(r))) {
        let of: Vec<&(&ResultRow, f64)> =
            runs.iter().filter(|(r, _)| series_key(r) == key).collect();
        let mut points = Vec::new();
        for budgets in first_seen(of.iter().map(|(r, _)| r.budgets.as_str())) {
            let cell: Vec<&(&ResultRow, f64)> = of
                .iter()
                .copied()
                .filter(|(r, _)| r.budgets == budgets)
                .collect();
            let values: Vec<f64> = cell.iter().map(|(_, v)| *v).collect();
            let x = median(
                &cell
                    .iter()
                    .map(|(r, _)| r.budget_percent())
                    .collect::<Vec<_>>(),
            );
            if !(x > 0.0 && x.is_finite()) {
                skipped += 1;
                continue;
            }
            let (y, lo, hi) = stats(&values);
            points.push(ChartPoint {
                method: of[0].0.method.clone(),
                x,
                y,
                lo,
                hi,
            });
        }
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        if !points.is_empty() {
            series.push((
                key,
                ChartSeries {
                    label: label(of[0].0),
                    points,
                },
            ));
        }
    }
    (unique_labels(series), skipped)
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
