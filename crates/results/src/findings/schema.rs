//! The findings file: each finding as data (its claim, source, the two sides it compares, what
//! is held fixed, the budget rule and the expected direction), parsed and checked.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, ResultsError};
use crate::row::ResultRow;

/// The findings shipped with the crate: He et al.'s and UniPELT's
/// (`crates/results/findings/he-unipelt.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../findings/he-unipelt.toml");

/// How errors name the embedded table.
const DEFAULT_NAME: &str = "crates/results/findings/he-unipelt.toml (embedded)";

/// A table of findings: what a findings TOML file holds (`[[finding]]` entries).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsTable {
    /// Free text about the table.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub about: String,
    /// The findings, in the order reports list them.
    #[serde(rename = "finding", default)]
    pub findings: Vec<Finding>,
}

/// One claim about the design space and how runs test it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// A short unique name, e.g. `parallel-beats-sequential`.
    pub id: String,
    /// The claim in words.
    pub claim: String,
    /// Paper and table, e.g. "He et al. 2022, Table 3".
    pub source: String,
    /// The runs the claim is about (expected better, or not worse).
    pub a: Side,
    /// The runs they are compared with; may be `best_of = [selectors]`.
    pub b: Side,
    /// Columns that must be equal within a pair, besides (backbone, task, split, seed), which
    /// always are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hold: Vec<Column>,
    /// Relative tolerance on the deployed % of the two runs of a pair ([`budgets_match`]):
    /// 0.25 pairs runs whose budgets are within 25% of the larger one. Absent: budgets are not
    /// matched (e.g. MAM against full fine-tuning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tolerance: Option<f64>,
    /// Only runs with at least this deployed % count (both sides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_budget_percent: Option<f64>,
    /// Only runs with at most this deployed % count (both sides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget_percent: Option<f64>,
    /// The expected direction.
    pub expect: Expect,
    /// For `a_not_worse`: how many score points a may be below b (≥ 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub margin: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// What a finding expects of a − b.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// a scores higher than b: the interval of the mean difference lies above 0.
    ABetter,
    /// a scores at most `margin` points below b: the interval lies above −margin.
    ANotWorse,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::ABetter => "a better",
            Expect::ANotWorse => "a not worse",
        })
    }
}

/// A result-row column that selectors and `hold` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Method,
    Forms,
    Positions,
    Insertions,
    Compositions,
    Budgets,
}

impl Column {
    /// The column's value in `row`.
    pub fn get(self, row: &ResultRow) -> &str {
        match self {
            Column::Method => &row.method,
            Column::Forms => &row.forms,
            Column::Positions => &row.positions,
            Column::Insertions => &row.insertions,
            Column::Compositions => &row.compositions,
            Column::Budgets => &row.budgets,
        }
    }

    /// Its name in files and result rows.
    pub fn name(self) -> &'static str {
        match self {
            Column::Method => "method",
            Column::Forms => "forms",
            Column::Positions => "positions",
            Column::Insertions => "insertions",
            Column::Compositions => "compositions",
            Column::Budgets => "budgets",
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of runs by their design columns: every given column must match, each by an exact
/// value or a `*` glob (`compositions = "scaled*"`, `method = "mam*"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compositions: Option<String>,
}

impl Selector {
    /// The (column, pattern) pairs it sets, in column order.
    pub fn fields(&self) -> Vec<(Column, &str)> {
        [
            (Column::Method, &self.method),
            (Column::Forms, &self.forms),
            (Column::Positions, &self.positions),
            (Column::Insertions, &self.insertions),
            (Column::Compositions, &self.compositions),
        ]
        .into_iter()
        .filter_map(|(c, v)| v.as_deref().map(|v| (c, v)))
        .collect()
    }

    /// Whether `row` matches every given column.
    pub fn matches(&self, row: &ResultRow) -> bool {
        self.fields()
            .into_iter()
            .all(|(c, pattern)| glob(pattern, c.get(row)))
    }

    /// `insertions=sequential, positions=ffn`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(c, v)| format!("{c}={v}"))
            .collect();
        if parts.is_empty() {
            "(any run)".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One side of a finding: a [`Selector`], or (side b only) `best_of` a list of them — per task,
/// the candidate (method, budgets) with the best mean score over seeds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compositions: Option<String>,
    /// Candidates: per task, the best of them by mean score over seeds is the comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of: Option<Vec<Selector>>,
}

impl Side {
    /// The side's own selector (empty for a `best_of` side).
    pub fn selector(&self) -> Selector {
        Selector {
            method: self.method.clone(),
            forms: self.forms.clone(),
            positions: self.positions.clone(),
            insertions: self.insertions.clone(),
            compositions: self.compositions.clone(),
        }
    }

    /// `insertions=parallel`, or `best of (method=prefix | method=lora)`.
    pub fn describe(&self) -> String {
        match &self.best_of {
            Some(list) => format!(
                "best of ({})",
                list.iter()
                    .map(Selector::describe)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            None => self.selector().describe(),
        }
    }

    /// Whether `row` is a run of this side (for `best_of`: any candidate).
    pub fn matches(&self, row: &ResultRow) -> bool {
        match &self.best_of {
            Some(list) => list.iter().any(|s| s.matches(row)),
            None => self.selector().matches(row),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (possibly
/// empty) and everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether two deployed %s are within `tolerance` of each other, relative to the larger:
/// |a − b| ≤ tolerance · max(a, b) (0.25: 0.4% and 0.5% pair, 0.5% and 2% do not).
pub fn budgets_match(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()) + 1e-12
}

impl Finding {
    /// Whether a run with deployed % `percent` is in the finding's budget range.
    pub fn in_range(&self, percent: f64) -> bool {
        self.min_budget_percent.is_none_or(|m| percent >= m)
            && self.max_budget_percent.is_none_or(|m| percent <= m)
    }

    /// The budget range in words, e.g. "≥ 1%", "≤ 0.2%", or "" for none.
    pub fn range_text(&self) -> String {
        use crate::report::fmt_percent;
        match (self.min_budget_percent, self.max_budget_percent) {
            (Some(lo), Some(hi)) => format!("{}–{}%", fmt_percent(lo), fmt_percent(hi)),
            (Some(lo), None) => format!("≥ {}%", fmt_percent(lo)),
            (None, Some(hi)) => format!("≤ {}%", fmt_percent(hi)),
            (None, None) => String::new(),
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("an empty `id`".into());
        }
        if self.a.best_of.is_some() {
            return Err("`best_of` is only for side b".into());
        }
        if self.a.selector().fields().is_empty() {
            return Err(
                "side a selects every run: give at least one of method, forms, positions, \
                 insertions, compositions"
                    .into(),
            );
        }
        match &self.b.best_of {
            Some(list) => {
                if !self.b.selector().fields().is_empty() {
                    return Err(
                        "side b has both `best_of` and columns of its own; put the columns in \
                         each candidate"
                            .into(),
                    );
                }
                if list.is_empty() {
                    return Err("side b: `best_of` is empty".into());
                }
                if list.iter().any(|s| s.fields().is_empty()) {
                    return Err("side b: a `best_of` candidate selects every run".into());
                }
            }
            None => {
                if self.b.selector().fields().is_empty() {
                    return Err(
                        "side b selects every run: give at least one of method, forms, \
                         positions, insertions, compositions, or best_of"
                            .into(),
                    );
                }
            }
        }
        let (a, b) = (self.a.selector(), self.b.selector());
        for c in &self.hold {
            fn pick(s: &Selector, c: Column) -> Option<&str> {
                s.fields().into_iter().find(|(x, _)| *x == c).map(|f| f.1)
            }
            let (pa, pb) = (pick(&a, *c), pick(&b, *c));
            if (pa.is_some() || pb.is_some()) && pa != pb {
                return Err(format!(
                    "holds `{c}` fixed, but its sides select different `{c}`: no pair could \
                     ever form"
                ));
            }
        }
        if let Some(t) = self.budget_tolerance {
            if !(t.is_finite() && t >= 0.0) {
                return Err(format!("budget_tolerance {t} is not a number ≥ 0"));
            }
        }
        for (name, v) in [
            ("min_budget_percent", self.min_budget_percent),
            ("max_budget_percent", self.max_budget_percent),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!("{name} {v} is not a number ≥ 0"));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_budget_percent, self.max_budget_percent) {
            if lo > hi {
                return Err(format!(
                    "min_budget_percent {lo} is above max_budget_percent {hi}"
                ));
            }
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(format!("margin {} is not a number ≥ 0", self.margin));
        }
        if self.expect == Expect::ABetter && self.margin != 0.0 {
            return Err(
                "`margin` is for expect = \"a_not_worse\"; a_better means a difference above 0"
                    .into(),
            );
        }
        Ok(())
    }
}

impl FindingsTable {
    /// The embedded default table ([`DEFAULT_TOML`]).
    pub fn default_table() -> FindingsTable {
        FindingsTable::parse(DEFAULT_TOML, Path::new(DEFAULT_NAME))
            .expect("the embedded findings table parses (checked by the tests)")
    }

    /// Reads a findings TOML file.
    pub fn from_path(path: &Path) -> Result<FindingsTable> {
        let text = std::fs::read_to_string(path).map_err(|e| ResultsError::io(path, e))?;
        FindingsTable::parse(&text, path)
    }

    /// Parses findings TOML; `path` names the file in errors, each error names the finding (its
    /// `id`, or its position when it has none).
    pub fn parse(text: &str, path: &Path) -> Result<FindingsTable> {
        let err = |message: String| ResultsError::Findings {
            path: PathBuf::from(path),
            message,
        };
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let items = match doc.remove("finding") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(_) => {
                return Err(err(
                    "`finding` must be an array of tables ([[finding]])".into()
                ))
            }
        };
        let about = match doc.remove("about") {
            None => String::new(),
            Some(toml::Value::String(s)) => s,
            Some(_) => return Err(err("`about` must be a string".into())),
        };
        if let Some(key) = doc.keys().next() {
            return Err(err(format!(
                "unknown top-level key `{key}`; expected `about` or `[[finding]]`"
            )));
        }
        let mut findings: Vec<Finding> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let name = match item.get("id").and_then(toml::Value::as_str) {
                Some(id) => format!("finding `{id}`"),
                None => format!("finding #{} (no id)", i + 1),
            };
            let finding: Finding = item
                .try_into()
                .map_err(|e: toml::de::Error| err(format!("{name}: {}", e.message().trim())))?;
            finding.check().map_err(|m| err(format!("{name}: {m}")))?;
            if findings.iter().any(|f| f.id == finding.id) {
                return Err(err(format!("{name}: the id is used twice")));
            }
            findings.push(finding);
        }
        Ok(FindingsTable { about, findings })
    }

    /// The table as TOML (parses back to the same table).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| ResultsError::Findings {
            path: PathBuf::from("(table)"),
            message: format!("cannot be written as TOML: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("scaled*", "scaled(s=4.0)"));
        assert!(!glob("scaled*", "add"));
        assert!(glob("add", "add") && !glob("add", "add+add"));
        assert!(glob("*", ""));
        assert!(glob("mam*", "mam_glue"));
        assert!(glob("*@ffn/*/add", "adapter@ffn/parallel/add"));
        assert!(!glob("*@ffn/*/add", "adapter@attention/parallel/add"));
        assert!(glob("a*b*c", "abc") && glob("a*b*c", "axxbyyc") && !glob("a*b*c", "acb"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn budget_tolerance_is_relative_to_the_larger() {
        assert!(budgets_match(0.4, 0.5, 0.25));
        assert!(budgets_match(0.53, 0.53, 0.0));
        assert!(!budgets_match(0.5, 2.0, 0.25));
        assert!(!budgets_match(0.3, 0.5, 0.25));
    }
}
