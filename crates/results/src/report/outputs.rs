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

    pub(super) fn chart_panels(&self) -> Vec<ChartPanel> {
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
