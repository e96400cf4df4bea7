//! GLUE: the nine tasks, read from either Hugging Face's Parquet files (`nyu-mll/glue`,
//! `<dir>/<task>/<split>-00000-of-00001.parquet`) or the original GLUE TSVs
//! (`<dir>/SST-2/train.tsv`, `<dir>/MNLI/dev_matched.tsv`, ...).
//!
//! The TSVs are read as Hugging Face's original `glue.py` script read them (checked against
//! that script): tab-separated with quoting OFF (`csv.QUOTE_NONE`; QQP and MNLI have stray
//! quotes), columns looked up by header name, except CoLA's train/dev files which have no
//! header and are positional (source, label, original-label-mark, sentence). A label that is
//! one of the task's label names maps to its index, anything else is parsed as an integer.
//! Rows numbered `n` from 0 in file order give `idx`.
//!
//! Malformed rows: `glue.py` silently drops a row that lacks a needed field (fewer tab-separated
//! fields than the needed columns, or an empty label), which is what the few broken lines of the
//! original QQP/MNLI TSVs look like. We drop the same rows (so row counts match Hugging Face's)
//! but record each one in [`GlueSplit::skipped`], which the data-check report prints. A label
//! that is present but is neither a label name nor an integer in range is an error naming the
//! file, line and value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{read_text, DataError, Result};
use crate::{pq, tsv, Label, Split, TextExample};

/// Where GLUE is published, for "missing file" errors.
pub const SOURCE_HINT: &str = "GLUE comes from https://huggingface.co/datasets/nyu-mll/glue \
     (Parquet: <task>/<split>-00000-of-00001.parquet) or https://gluebenchmark.com/tasks (TSV)";

/// The nine GLUE tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GlueTask {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    Mnli,
    Qnli,
    Rte,
    Wnli,
}

const STANDARD_SPLITS: &[Split] = &[Split::Train, Split::Validation, Split::Test];
const MNLI_SPLITS: &[Split] = &[
    Split::Train,
    Split::ValidationMatched,
    Split::ValidationMismatched,
    Split::TestMatched,
    Split::TestMismatched,
];

impl GlueTask {
    pub const ALL: [GlueTask; 9] = [
        GlueTask::Cola,
        GlueTask::Sst2,
        GlueTask::Mrpc,
        GlueTask::Stsb,
        GlueTask::Qqp,
        GlueTask::Mnli,
        GlueTask::Qnli,
        GlueTask::Rte,
        GlueTask::Wnli,
    ];

    /// The Hugging Face config name (`cola`, `sst2`, ...), also the Parquet folder name.
    pub fn name(self) -> &'static str {
        match self {
            GlueTask::Cola => "cola",
            GlueTask::Sst2 => "sst2",
            GlueTask::Mrpc => "mrpc",
            GlueTask::Stsb => "stsb",
            GlueTask::Qqp => "qqp",
            GlueTask::Mnli => "mnli",
            GlueTask::Qnli => "qnli",
            GlueTask::Rte => "rte",
            GlueTask::Wnli => "wnli",
        }
    }

    /// The folder of the original GLUE TSV distribution (`CoLA`, `SST-2`, ...).
    pub fn tsv_dir(self) -> &'static str {
        match self {
            GlueTask::Cola => "CoLA",
            GlueTask::Sst2 => "SST-2",
            GlueTask::Mrpc => "MRPC",
            GlueTask::Stsb => "STS-B",
            GlueTask::Qqp => "QQP",
            GlueTask::Mnli => "MNLI",
            GlueTask::Qnli => "QNLI",
            GlueTask::Rte => "RTE",
            GlueTask::Wnli => "WNLI",
        }
    }

    /// The text columns of the Hugging Face files: the first sentence and, for pair tasks, the
    /// second.
    pub fn text_fields(self) -> (&'static str, Option<&'static str>) {
        match self {
            GlueTask::Cola | GlueTask::Sst2 => ("sentence", None),
            GlueTask::Mrpc | GlueTask::Stsb | GlueTask::Rte | GlueTask::Wnli => {
                ("sentence1", Some("sentence2"))
            }
            GlueTask::Qqp => ("question1", Some("question2")),
            GlueTask::Qnli => ("question", Some("sentence")),
            GlueTask::Mnli => ("premise", Some("hypothesis")),
        }
    }

    /// Whether examples are sentence pairs.
    pub fn is_pair(self) -> bool {
        self.text_fields().1.is_some()
    }

    /// Whether the label is a regression score (STS-B).
    pub fn is_regression(self) -> bool {
        self == GlueTask::Stsb
    }

    /// The number of model outputs: classes, or 1 for STS-B's regression.
    pub fn num_labels(self) -> usize {
        match self {
            GlueTask::Stsb => 1,
            GlueTask::Mnli => 3,
            _ => 2,
        }
    }

    /// The class names in label-index order (Hugging Face's `ClassLabel` names); empty for STS-B.
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            GlueTask::Cola => &["unacceptable", "acceptable"],
            GlueTask::Sst2 => &["negative", "positive"],
            GlueTask::Mrpc => &["not_equivalent", "equivalent"],
            GlueTask::Stsb => &[],
            GlueTask::Qqp => &["not_duplicate", "duplicate"],
            GlueTask::Mnli => &["entailment", "neutral", "contradiction"],
            GlueTask::Qnli | GlueTask::Rte => &["entailment", "not_entailment"],
            GlueTask::Wnli => &["not_entailment", "entailment"],
        }
    }

    /// The splits the task has.
    pub fn splits(self) -> &'static [Split] {
        if self == GlueTask::Mnli {
            MNLI_SPLITS
        } else {
            STANDARD_SPLITS
        }
    }

    /// The evaluation split(s) with labels: `validation`, or MNLI's matched and mismatched.
    pub fn eval_splits(self) -> &'static [Split] {
        if self == GlueTask::Mnli {
            &MNLI_SPLITS[1..3]
        } else {
            &STANDARD_SPLITS[1..2]
        }
    }

    /// The metrics GLUE reports for the task, by name: `mcc`, `accuracy`, `f1`, `pearson`,
    /// `spearman`.
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            GlueTask::Cola => &["mcc"],
            GlueTask::Mrpc | GlueTask::Qqp => &["f1", "accuracy"],
            GlueTask::Stsb => &["pearson", "spearman"],
            _ => &["accuracy"],
        }
    }

    /// The row count of the public files (Hugging Face's), for the data-check report.
    pub fn expected_rows(self, split: Split) -> Option<usize> {
        use GlueTask::*;
        use Split::*;
        Some(match (self, split) {
            (Cola, Train) => 8_551,
            (Cola, Validation) => 1_043,
            (Cola, Test) => 1_063,
            (Sst2, Train) => 67_349,
            (Sst2, Validation) => 872,
            (Sst2, Test) => 1_821,
            (Mrpc, Train) => 3_668,
            (Mrpc, Validation) => 408,
            (Mrpc, Test) => 1_725,
            (Stsb, Train) => 5_749,
            (Stsb, Validation) => 1_500,
            (Stsb, Test) => 1_379,
            (Qqp, Train) => 363_846,
            (Qqp, Validation) => 40_430,
            (Qqp, Test) => 390_965,
            (Mnli, Train) => 392_702,
            (Mnli, ValidationMatched) => 9_815,
            (Mnli, ValidationMismatched) => 9_832,
            (Mnli, TestMatched) => 9_796,
            (Mnli, TestMismatched) => 9_847,
            (Qnli, Train) => 104_743,
            (Qnli, Validation) => 5_463,
            (Qnli, Test) => 5_463,
            (Rte, Train) => 2_490,
            (Rte, Validation) => 277,
            (Rte, Test) => 3_000,
            (Wnli, Train) => 635,
            (Wnli, Validation) => 71,
            (Wnli, Test) => 146,
            _ => return None,
        })
    }

    fn check_split(self, split: Split) -> Result<()> {
        if self.splits().contains(&split) {
            Ok(())
        } else {
            Err(DataError::Invalid(format!(
                "GLUE {} has no split `{split}`; its splits are {}",
                self.name(),
                self.splits()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// The TSV file name of a split in the original distribution.
    pub fn tsv_file(self, split: Split) -> &'static str {
        match split {
            Split::Train => "train.tsv",
            Split::Validation => "dev.tsv",
            Split::Test => "test.tsv",
            Split::ValidationMatched => "dev_matched.tsv",
            Split::ValidationMismatched => "dev_mismatched.tsv",
            Split::TestMatched => "test_matched.tsv",
            Split::TestMismatched => "test_mismatched.tsv",
        }
    }

    /// Where the TSV columns are: (first text, second text, label).
    fn tsv_layout(self, split: Split) -> TsvLayout {
        use Col::Name;
        let (a, b, label) = match self {
            GlueTask::Cola if !split.is_test() => {
                return TsvLayout {
                    header: false,
                    a: Col::Index(3),
                    b: None,
                    label: Some(Col::Index(1)),
                }
            }
            GlueTask::Cola | GlueTask::Sst2 => ("sentence", None, "label"),
            GlueTask::Mrpc => ("#1 String", Some("#2 String"), "Quality"),
            GlueTask::Stsb => ("sentence1", Some("sentence2"), "score"),
            GlueTask::Qqp => ("question1", Some("question2"), "is_duplicate"),
            GlueTask::Mnli => ("sentence1", Some("sentence2"), "gold_label"),
            GlueTask::Qnli => ("question", Some("sentence"), "label"),
            GlueTask::Rte | GlueTask::Wnli => ("sentence1", Some("sentence2"), "label"),
        };
        TsvLayout {
            header: true,
            a: Name(a),
            b: b.map(Name),
            label: Some(Name(label)),
        }
    }
}

impl fmt::Display for GlueTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GlueTask {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        GlueTask::ALL
            .into_iter()
            .find(|t| t.name() == key)
            .ok_or_else(|| {
                DataError::Invalid(format!(
                    "unknown GLUE task `{s}`; expected one of {}",
                    GlueTask::ALL.map(GlueTask::name).join(", ")
                ))
            })
    }
}

#[derive(Clone, Copy)]
enum Col {
    Name(&'static str),
    Index(usize),
}

struct TsvLayout {
    header: bool,
    a: Col,
    b: Option<Col>,
    label: Option<Col>,
}

/// Which public format a split was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Tsv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Parquet => "Parquet",
            Format::Tsv => "TSV",
        })
    }
}

/// A row of a TSV that was dropped as malformed (as Hugging Face's reader drops it).
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedRow {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// A loaded split, with where it came from and what was dropped.
#[derive(Debug, Clone)]
pub struct GlueSplit {
    pub task: GlueTask,
    pub split: Split,
    pub format: Format,
    pub files: Vec<PathBuf>,
    pub examples: Vec<TextExample>,
    pub skipped: Vec<SkippedRow>,
}

/// The Parquet path Hugging Face uses for a split (for messages).
pub fn parquet_path(dir: &Path, task: GlueTask, split: Split) -> PathBuf {
    dir.join(task.name())
        .join(format!("{}-00000-of-00001.parquet", split.as_str()))
}

/// The TSV path of the original distribution (for messages).
pub fn tsv_path(dir: &Path, task: GlueTask, split: Split) -> PathBuf {
    dir.join(task.tsv_dir()).join(task.tsv_file(split))
}

/// Finds a split's files: Parquet shards if there are any, else the TSV; a
/// [`DataError::Missing`] naming both expected paths otherwise.
pub fn locate(dir: &Path, task: GlueTask, split: Split) -> Result<(Format, Vec<PathBuf>)> {
    task.check_split(split)?;
    let shards = pq::shards(&dir.join(task.name()), split.as_str());
    if !shards.is_empty() {
        return Ok((Format::Parquet, shards));
    }
    let tsv = tsv_path(dir, task, split);
    if tsv.is_file() {
        return Ok((Format::Tsv, vec![tsv]));
    }
    Err(DataError::Missing {
        what: format!("GLUE {task} {split}"),
        path: parquet_path(dir, task, split),
        hint: format!(" (nor {}); {SOURCE_HINT}", tsv.display()),
    })
}

/// Loads one split of a GLUE task from `dir` (Parquet or TSV layout, detected).
pub fn load(dir: &Path, task: GlueTask, split: Split) -> Result<Vec<TextExample>> {
    Ok(load_split(dir, task, split)?.examples)
}

/// Like [`load`], also telling the format, the files and the skipped malformed TSV rows.
pub fn load_split(dir: &Path, task: GlueTask, split: Split) -> Result<GlueSplit> {
    let (format, files) = locate(dir, task, split)?;
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    match format {
        Format::Parquet => {
            for f in &files {
                let offset = examples.len() as u64;
                examples.extend(read_parquet(f, task, split, offset)?);
            }
        }
        Format::Tsv => {
            let (ex, sk) = read_tsv(&files[0], task, split)?;
            examples = ex;
            skipped = sk;
        }
    }
    Ok(GlueSplit {
        task,
        split,
        format,
        files,
        examples,
        skipped,
    })
}

fn range_message(task: GlueTask, shown: &str) -> String {
    if task.is_regression() {
        format!("label {shown} is outside STS-B's score range 0–5")
    } else {
        format!(
            "label {shown} is outside 0..{} for {} (classes: {})",
            task.num_labels(),
            task.name(),
            task.label_names().join(", ")
        )
    }
}

fn read_parquet(
    path: &Path,
    task: GlueTask,
    split: Split,
    offset: u64,
) -> Result<Vec<TextExample>> {
    let (fa, fb) = task.text_fields();
    let mut required = vec![fa];
    required.extend(fb);
    required.push("label");
    let table = pq::read(path, &required, &["idx"])?;
    let a = table.strings(fa)?;
    let b = match fb {
        Some(fb) => Some(table.strings(fb)?),
        None => None,
    };
    let idx = if table.has("idx") {
        Some(table.ints("idx")?)
    } else {
        None
    };
    let labels: Vec<Label> = if task.is_regression() {
        let raw = table.floats("label")?;
        raw.into_iter()
            .enumerate()
            .map(|(row, v)| match v {
                Some(v) if split.is_test() && v == -1.0 => Ok(Label::None),
                None if split.is_test() => Ok(Label::None),
                Some(v) if (0.0..=5.0).contains(&v) => Ok(Label::Score(v as f32)),
                Some(v) => Err(DataError::value(
                    path,
                    format!("row {row}"),
                    "label",
                    range_message(task, &v.to_string()),
                )),
                None => Err(DataError::value(
                    path,
                    format!("row {row}"),
                    "label",
                    "null",
                )),
            })
            .collect::<Result<_>>()?
    } else {
        let raw = table.ints("label")?;
        let n = task.num_labels() as i64;
        raw.into_iter()
            .enumerate()
            .map(|(row, v)| match v {
                Some(-1) | None if split.is_test() => Ok(Label::None),
                Some(v) if (0..n).contains(&v) => Ok(Label::Class(v as usize)),
                Some(v) => Err(DataError::value(
                    path,
                    format!("row {row}"),
                    "label",
                    range_message(task, &v.to_string()),
                )),
                None => Err(DataError::value(
                    path,
                    format!("row {row}"),
                    "label",
                    "null",
                )),
            })
            .collect::<Result<_>>()?
    };
    let mut out = Vec::with_capacity(a.len());
    let mut b = b.map(|v| v.into_iter());
    for (row, (text_a, label)) in a.into_iter().zip(labels).enumerate() {
        let idx = match &idx {
            Some(ids) => match ids[row] {
                Some(i) if i >= 0 => i as u64,
                other => {
                    return Err(DataError::value(
                        path,
                        format!("row {row}"),
                        "idx",
                        format!("expected a non-negative integer, found {other:?}"),
                    ))
                }
            },
            None => offset + row as u64,
        };
        out.push(TextExample {
            idx,
            text_a,
            text_b: b.as_mut().and_then(|it| it.next()),
            label,
        });
    }
    Ok(out)
}

/// Maps a TSV label field: a label name gives its index, else an integer; `Ok(None)` for an
/// empty field (a malformed row).
fn tsv_label(task: GlueTask, raw: &str) -> std::result::Result<Option<Label>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    if task.is_regression() {
        let v: f32 = raw
            .trim()
            .parse()
            .map_err(|_| format!("label `{raw}` is not a number"))?;
        if !(0.0..=5.0).contains(&v) {
            return Err(range_message(task, raw));
        }
        return Ok(Some(Label::Score(v)));
    }
    if let Some(i) = task.label_names().iter().position(|n| *n == raw) {
        return Ok(Some(Label::Class(i)));
    }
    let v: i64 = raw.trim().parse().map_err(|_| {
        format!(
            "label `{raw}` is neither a class name ({}) nor an integer",
            task.label_names().join(", ")
        )
    })?;
    if (0..task.num_labels() as i64).contains(&v) {
        Ok(Some(Label::Class(v as usize)))
    } else {
        Err(range_message(task, raw))
    }
}

type TsvRows = (Vec<TextExample>, Vec<SkippedRow>);

fn read_tsv(path: &Path, task: GlueTask, split: Split) -> Result<TsvRows> {
    let text = read_text(path, &format!("GLUE {task} {split} TSV"), SOURCE_HINT)?;
    let layout = task.tsv_layout(split);
    let (header, rows) = tsv::parse(&text, layout.header);

    // Resolve named columns against the header.
    let header: Vec<&str> = header.unwrap_or_default();
    let mut wanted: Vec<&'static str> = Vec::new();
    for c in [Some(layout.a), layout.b, layout.label]
        .into_iter()
        .flatten()
    {
        if let Col::Name(n) = c {
            wanted.push(n);
        }
    }
    let resolve = |c: Col| -> Option<usize> {
        match c {
            Col::Index(i) => Some(i),
            Col::Name(n) => header.iter().position(|h| h.trim() == n),
        }
    };
    let col_a = resolve(layout.a);
    let col_b = layout.b.map(resolve);
    // Test files carry no label column (Hugging Face gives −1); a test file that has one is read.
    let col_label = layout.label.and_then(resolve);
    let label_required = !split.is_test();
    let mut missing = Vec::new();
    if col_a.is_none() {
        if let Col::Name(n) = layout.a {
            missing.push(n.to_string());
        }
    }
    if let (Some(None), Some(Col::Name(n))) = (col_b, layout.b) {
        missing.push(n.to_string());
    }
    if label_required && col_label.is_none() {
        if let Some(Col::Name(n)) = layout.label {
            missing.push(n.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(DataError::Columns {
            path: path.to_path_buf(),
            missing,
            expected: wanted.iter().map(|s| s.to_string()).collect(),
            found: header.iter().map(|s| s.to_string()).collect(),
        });
    }
    let col_a = col_a.unwrap_or(0);
    let col_b = col_b.flatten();

    // CoLA's headerless files: a first row without four fields is not CoLA's layout.
    if !layout.header {
        if let Some(first) = rows.first() {
            if first.fields.len() < 4 {
                return Err(DataError::Columns {
                    path: path.to_path_buf(),
                    missing: vec!["sentence (4th field)".into()],
                    expected: ["source", "label", "original-label-mark", "sentence"]
                        .map(String::from)
                        .to_vec(),
                    found: first.fields.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
    }

    let mut examples = Vec::with_capacity(rows.len());
    let mut skipped = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        let get = |i: usize| row.fields.get(i).copied();
        let skip = |reason: String| SkippedRow {
            file: path.to_path_buf(),
            line: row.line,
            reason,
        };
        let Some(text_a) = get(col_a) else {
            skipped.push(skip(format!(
                "{} field(s), the text is field {}",
                row.fields.len(),
                col_a + 1
            )));
            continue;
        };
        let text_b = match col_b {
            Some(i) => match get(i) {
                Some(t) => Some(t.to_string()),
                None => {
                    skipped.push(skip(format!(
                        "{} field(s), the second text is field {}",
                        row.fields.len(),
                        i + 1
                    )));
                    continue;
                }
            },
            None => None,
        };
        let label = match col_label {
            Some(i) => {
                let Some(raw) = get(i) else {
                    skipped.push(skip(format!(
                        "{} field(s), the label is field {}",
                        row.fields.len(),
                        i + 1
                    )));
                    continue;
                };
                match tsv_label(task, raw) {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        skipped.push(skip("empty label".into()));
                        continue;
                    }
                    Err(message) => {
                        let field = match layout.label {
                            Some(Col::Name(n)) => n.to_string(),
                            _ => format!("field {}", i + 1),
                        };
                        return Err(DataError::value(
                            path,
                            format!("line {}", row.line),
                            field,
                            message,
                        ));
                    }
                }
            }
            None => Label::None,
        };
        examples.push(TextExample {
            idx: n as u64,
            text_a: text_a.to_string(),
            text_b,
            label,
        });
    }
    Ok((examples, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_tables() {
        assert_eq!("SST-2".parse::<GlueTask>().unwrap(), GlueTask::Sst2);
        assert_eq!("sts-b".parse::<GlueTask>().unwrap(), GlueTask::Stsb);
        assert!("glue".parse::<GlueTask>().is_err());
        assert_eq!(GlueTask::Stsb.num_labels(), 1);
        assert_eq!(GlueTask::Mnli.label_names()[2], "contradiction");
        assert_eq!(GlueTask::Qqp.metrics(), &["f1", "accuracy"]);
        assert_eq!(GlueTask::Cola.metrics(), &["mcc"]);
        assert!(GlueTask::Mnli.splits().contains(&Split::TestMismatched));
        assert!(!GlueTask::Sst2.splits().contains(&Split::ValidationMatched));
    }

    #[test]
    fn tsv_labels() {
        assert_eq!(
            tsv_label(GlueTask::Mnli, "neutral"),
            Ok(Some(Label::Class(1)))
        );
        assert_eq!(tsv_label(GlueTask::Sst2, "1"), Ok(Some(Label::Class(1))));
        assert_eq!(tsv_label(GlueTask::Sst2, ""), Ok(None));
        assert!(tsv_label(GlueTask::Sst2, "2").is_err());
        assert!(tsv_label(GlueTask::Mnli, "-").is_err());
        assert_eq!(
            tsv_label(GlueTask::Stsb, "3.800"),
            Ok(Some(Label::Score(3.8)))
        );
        assert!(tsv_label(GlueTask::Stsb, "5.5").is_err());
    }
}
