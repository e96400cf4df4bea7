//! Published numbers to set beside ours: `published.toml` (transcribed from
//! `../shared/docs/published-results.md`) and how a result matches an entry.
//!
//! # File format
//!
//! ```toml
//! [[table]]
//! paper = "He et al. 2022"
//! table = "Table 2"
//! caption = "RoBERTa-base, GLUE dev accuracy (median of 5 seeds)"
//! backbone = "roberta-base"         # default for the columns
//! split = "validation"              # default for the columns
//! columns = [
//!   { task = "glue/mnli", metric = "accuracy" },
//!   { task = "glue/sst2", metric = "accuracy" },
//! ]
//! rows = [
//!   { method = "lora", budget = "*", label = "LoRA", percent = 0.5, values = [87.2, 94.2] },
//! ]
//! ```
//!
//! A column may set its own `backbone` and `split`. A row names the method by `method` (a
//! preset or spec name), by `design` (the design point, in the format of the [`ResultRow`]
//! fields: `{ forms = "low_rank", positions = "ffn_in,ffn_out", insertions = "parallel",
//! compositions = "scaled(s=4.0)" }`, the zoo's texts), or both; it may carry `params` (a count such as `"0.36M"` where
//! the paper gives no %), `condition` (e.g. `"K=100"`) and `note`. A value of `nan` means the
//! paper reports none for that column.
//!
//! # Matching
//!
//! A result row matches an entry when all of these hold:
//! - **backbone**: the last path component of the row's backbone equals the entry's,
//!   ASCII-case-insensitively (`models/roberta-base` = `FacebookAI/roberta-base` =
//!   `roberta-base`);
//! - **task**: equal ASCII-case-insensitively (`glue/sst2`, `xsum`, `wmt16`, `fgvc/cub`);
//! - **budget**: the row's `budgets` string exactly (`+`-joined knobs per modification, `""`
//!   for methods without knobs), or `*` in the entry for any budget (papers that give only a %);
//! - **method or design**: the row's `method` equals the entry's `method`, or the row's
//!   `forms`, `positions`, `insertions` and `compositions` equal the entry's `design` (positions
//!   compared as sets within each modification), so that a design-space grid point such as
//!   `lora@ffn_in+ffn_out/parallel/scaled(s=4.0)` matches He et al.'s "LoRA (ffn)" whatever its
//!   name;
//! - the entry has no `condition` (conditioned entries, such as UniPELT's K-shot averages, are
//!   for reading, never matched automatically).
//!
//! The metric is then the entry's metric, compared ASCII-case-insensitively with `-` = `_`
//! (`bleu-ro-moses` = `bleu_ro_moses`). The split is not part of the key: GLUE papers report dev
//! sets, which peftgrid calls `validation`; reports show both splits.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Result, ResultsError};
use crate::row::ResultRow;

/// The published numbers shipped with the crate (`crates/results/published.toml`).
pub const BUILTIN_TOML: &str = include_str!("../published.toml");

/// One published number.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEntry {
    /// The paper, e.g. "He et al. 2022".
    pub paper: String,
    /// The table in the paper, e.g. "Table 6".
    pub table: String,
    /// The backbone, e.g. `roberta-base`.
    pub backbone: String,
    /// The task, as peftgrid names it (`glue/sst2`, `xsum`, `wmt16`, `fgvc/cub`).
    pub task: String,
    /// The split the paper reports, as peftgrid names it.
    pub split: String,
    /// The metric, as peftgrid names it (`accuracy`, `rouge2`, `bleu-ro-moses`).
    pub metric: String,
    /// Method: preset or spec name, if the entry matches by name.
    pub method: Option<String>,
    /// The design point, if the entry matches by design.
    pub design: Option<Design>,
    /// Budget in the `budgets` format, or `*` for any.
    pub budget: String,
    /// The paper's own name for the row, e.g. "MAM adapter (l=16, r=16, s=2)".
    pub label: String,
    /// The paper's "% params", when it gives one.
    pub percent: Option<f64>,
    /// The paper's parameter count when it gives a count instead, e.g. "0.36M".
    pub params: Option<String>,
    /// A setting that is not part of the key, e.g. "K=100"; such entries never match.
    pub condition: Option<String>,
    /// The published value (papers' ×100 scale).
    pub value: f64,
}

/// A design point in the format of the [`ResultRow`] fields (`+` between modifications).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// e.g. `prefix+bottleneck`.
    pub forms: String,
    /// e.g. `head+ffn`, `q,v`.
    pub positions: String,
    /// e.g. `parallel+parallel`.
    pub insertions: String,
    /// e.g. `add+scaled(s=4.0)`.
    pub compositions: String,
}

impl Design {
    /// The design of a result row.
    pub fn of(row: &ResultRow) -> Design {
        Design {
            forms: row.forms.clone(),
            positions: row.positions.clone(),
            insertions: row.insertions.clone(),
            compositions: row.compositions.clone(),
        }
    }

    fn same(&self, other: &Design) -> bool {
        /// Positions as sets within each modification.
        fn positions(s: &str) -> Vec<Vec<&str>> {
            s.split('+')
                .map(|m| {
                    let mut v: Vec<&str> = m.split(',').map(str::trim).collect();
                    v.sort_unstable();
                    v
                })
                .collect()
        }
        self.forms.trim() == other.forms.trim()
            && positions(&self.positions) == positions(&other.positions)
            && self.insertions.trim() == other.insertions.trim()
            && same_compositions(&self.compositions, &other.compositions)
    }
}

/// Compositions `+`-joined per modification, compared by value: `scaled(s=4.0)` (the zoo's
/// text, what rows hold) = `scaled(s=4)` = `scaled(4)` (rows written before the zoo owned the
/// text, and `alpha/r(16)` for `alpha_over_rank(alpha=16.0)`). A bare kind in either, such as
/// `learned`, matches that kind with any value: a learned scale's start is a hyperparameter,
/// not a design point.
fn same_compositions(a: &str, b: &str) -> bool {
    /// (kind, value) of one composition.
    fn parse(text: &str) -> (String, Option<f64>) {
        let text = text.trim();
        let Some((kind, rest)) = text.split_once('(') else {
            return (text.to_string(), None);
        };
        let arg = rest.trim_end_matches(')');
        let value = arg.rsplit('=').next().unwrap_or(arg).trim().parse().ok();
        let kind = if kind == "alpha/r" {
            "alpha_over_rank"
        } else {
            kind
        };
        (kind.to_string(), value)
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('+').collect(), b.split('+').collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| match (parse(x), parse(y)) {
            ((kx, Some(vx)), (ky, Some(vy))) => kx == ky && vx == vy,
            ((kx, _), (ky, _)) => kx == ky,
        })
}

impl PublishedEntry {
    /// Whether a result row matches this entry (see the module documentation).
    pub fn matches(&self, row: &ResultRow) -> bool {
        self.condition.is_none()
            && backbone_key(&row.backbone) == backbone_key(&self.backbone)
            && row.task.eq_ignore_ascii_case(&self.task)
            && (self.budget == "*" || self.budget == row.budgets)
            && (self.method.as_deref() == Some(row.method.as_str())
                || (!row.forms.is_empty()
                    && self
                        .design
                        .as_ref()
                        .is_some_and(|d| d.same(&Design::of(row)))))
    }

    /// Whether this entry is about `metric` (ASCII-case-insensitive, `-` = `_`).
    pub fn is_metric(&self, metric: &str) -> bool {
        metric_key(metric) == metric_key(&self.metric)
    }
}

/// A set of published numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Published {
    /// Every number, in file order (tables, then rows, then columns).
    pub entries: Vec<PublishedEntry>,
}

impl Published {
    /// Reads a published-numbers file.
    pub fn load(path: &Path) -> Result<Published> {
        let text = std::fs::read_to_string(path).map_err(|e| ResultsError::io(path, e))?;
        Published::parse(&text, path)
    }

    /// Parses the TOML text of a published-numbers file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Published> {
        let err = |message: String| ResultsError::Published {
            path: path.to_path_buf(),
            message,
        };
        let file: FileToml = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut entries = Vec::new();
        for (ti, table) in file.table.into_iter().enumerate() {
            let at = format!("table {} ({} {})", ti + 1, table.paper, table.table);
            if table.columns.is_empty() {
                return Err(err(format!("{at}: no columns")));
            }
            let mut columns = Vec::new();
            for (ci, c) in table.columns.iter().enumerate() {
                let backbone = c.backbone.clone().or_else(|| table.backbone.clone());
                let split = c.split.clone().or_else(|| table.split.clone());
                let (Some(backbone), Some(split)) = (backbone, split) else {
                    return Err(err(format!(
                        "{at}, column {}: no backbone or split (set them on the column or the table)",
                        ci + 1
                    )));
                };
                columns.push((backbone, split, c));
            }
            for row in &table.rows {
                if row.method.as_deref().is_none_or(str::is_empty) && row.design.is_none() {
                    return Err(err(format!(
                        "{at}, row `{}`: neither a method nor a design",
                        row.label
                    )));
                }
                if row.values.len() != columns.len() {
                    return Err(err(format!(
                        "{at}, row `{}`: {} values for {} columns",
                        row.label,
                        row.values.len(),
                        columns.len()
                    )));
                }
                for ((backbone, split, c), &value) in columns.iter().zip(&row.values) {
                    if value.is_nan() {
                        continue;
                    }
                    entries.push(PublishedEntry {
                        paper: table.paper.clone(),
                        table: table.table.clone(),
                        backbone: backbone.clone(),
                        task: c.task.clone(),
                        split: split.clone(),
                        metric: c.metric.clone(),
                        method: row.method.clone(),
                        design: row.design.clone(),
                        budget: row.budget.clone(),
                        label: row.label.clone(),
                        percent: row.percent,
                        params: row.params.clone(),
                        condition: row.condition.clone(),
                        value,
                    });
                }
            }
        }
        Ok(Published { entries })
    }

    /// The numbers shipped with the crate ([`BUILTIN_TOML`]).
    pub fn builtin() -> Published {
        Published::parse(BUILTIN_TOML, Path::new("crates/results/published.toml"))
            .expect("the built-in published.toml parses (checked by the tests)")
    }

    /// The entries `row` matches, in file order, exact budgets before `*`.
    pub fn matching(&self, row: &ResultRow) -> Vec<&PublishedEntry> {
        let mut found: Vec<&PublishedEntry> =
            self.entries.iter().filter(|e| e.matches(row)).collect();
        found.sort_by_key(|e| e.budget == "*");
        found
    }
}

/// A backbone's matching key: its last path component, lowercased.
pub fn backbone_key(backbone: &str) -> String {
    backbone
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(backbone)
        .to_ascii_lowercase()
}

/// A metric's matching key: lowercased, `-` as `_`.
pub fn metric_key(metric: &str) -> String {
    metric.to_ascii_lowercase().replace('-', "_")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    table: Vec<TableToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableToml {
    paper: String,
    table: String,
    #[serde(default)]
    #[allow(dead_code)]
    caption: Option<String>,
    backbone: Option<String>,
    split: Option<String>,
    columns: Vec<ColumnToml>,
    rows: Vec<RowToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnToml {
    task: String,
    metric: String,
    backbone: Option<String>,
    split: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowToml {
    method: Option<String>,
    design: Option<Design>,
    #[serde(default)]
    budget: String,
    label: String,
    percent: Option<f64>,
    params: Option<String>,
    condition: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    values: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(backbone_key("models/RoBERTa-base/"), "roberta-base");
        assert_eq!(backbone_key("roberta-base"), "roberta-base");
        assert_eq!(metric_key("bleu-ro-moses"), metric_key("BLEU_ro_moses"));
    }

    #[test]
    fn values_must_fill_the_columns() {
        let text = r#"
            [[table]]
            paper = "P"
            table = "T"
            backbone = "b"
            split = "test"
            columns = [{ task = "t1", metric = "m" }, { task = "t2", metric = "m" }]
            rows = [{ method = "x", label = "X", values = [1.0] }]
        "#;
        let e = Published::parse(text, Path::new("p.toml")).unwrap_err();
        assert!(e.to_string().contains("1 values for 2 columns"), "{e}");
    }
}
