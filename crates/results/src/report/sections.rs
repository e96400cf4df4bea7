//! A report's sections: one table per backbone, its columns (task, split, metric), rows
//! (method, budgets) and cells (median ± half the range over seeds) built from the result
//! rows; a cell's Markdown and LaTeX text, the bold bests, the footnotes.

use super::*;

/// A task column of a table.
pub(super) struct Column {
    pub(super) task: String,
    pub(super) split: String,
    pub(super) metric: String,
    pub(super) decimals: usize,
    pub(super) lower_better: bool,
}

/// The ok runs of one (method, budgets, task, split), aggregated.
pub(super) struct Cell {
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) n: usize,
    /// Several runs share a seed (e.g. a learning-rate grid).
    pub(super) shared_seed: bool,
    /// Some run is on sample data.
    pub(super) sample: bool,
    /// Median deployed (else trainable) % of the runs (the chart's x).
    pub(super) percent: f64,
    /// The first published entry for this cell's metric, and ours − it.
    pub(super) published: Option<(PublishedEntry, f64)>,
    /// The cell's first run (its method, design, budgets, backbone, task).
    pub(super) first: ResultRow,
}

/// A (method, budgets) row of a table.
pub(super) struct TableRow {
    pub(super) method: String,
    pub(super) budgets: String,
    pub(super) percent: String,
    pub(super) cells: Vec<Option<Cell>>,
    pub(super) avg: Option<f64>,
}

/// The table of one backbone.
pub(super) struct Section {
    pub(super) backbone: String,
    pub(super) columns: Vec<Column>,
    pub(super) rows: Vec<TableRow>,
    /// Non-ok runs, described.
    pub(super) excluded: Vec<String>,
    pub(super) diverged: usize,
    pub(super) failed: usize,
    /// Splits evaluated but not shown ("glue/sst2 on train").
    pub(super) other_splits: Vec<String>,
    /// Selected rows of this backbone (ok, on a shown split), for comparisons.
    pub(super) ok_rows: Vec<ResultRow>,
}

/// `median ±half-range`, or just the median for one run.
pub(super) fn spread_text(med: f64, lo: f64, hi: f64, n: usize, d: usize) -> String {
    if n > 1 {
        format!("{} ±{}", fixed(med, d), fixed((hi - lo) / 2.0, d))
    } else {
        fixed(med, d)
    }
}

pub(super) fn md_cell(c: &Cell, d: usize, bold: bool) -> String {
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

pub(super) fn tex_cell(c: &Cell, d: usize, bold: bool) -> String {
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
pub(super) struct Bold {
    pub(super) cells: Vec<Vec<bool>>,
    pub(super) avg: Vec<bool>,
}

impl Bold {
    pub(super) fn cell(&self, row: usize, col: usize) -> bool {
        self.cells[row][col]
    }
    pub(super) fn avg(&self, row: usize) -> bool {
        self.avg[row]
    }
}

pub(super) fn best_of(values: &[Option<f64>], decimals: usize, lower_better: bool) -> Vec<bool> {
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
    pub(super) fn build(
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

    pub(super) fn bold(&self, avg_decimals: usize) -> Bold {
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
    pub(super) fn footnotes(&self, md: bool) -> Vec<String> {
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

pub(super) fn stats(values: &[f64]) -> (f64, f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values), lo, hi)
}
