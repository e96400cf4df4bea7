//! The data-check report (`peftgrid data check`): for each split of a data set that is found,
//! its files, format and row count (against the public count), label distribution and, given a
//! tokenizer, token-length percentiles; for each split that is not, which file is missing and
//! where it is published; files that exist but cannot be read are listed with their error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{DataError, Result};
use crate::fgvc::FgvcSet;
use crate::glue::{self, GlueTask, SkippedRow};
use crate::vision::ImageExample;
use crate::{cifar100, fgvc, wmt16, xsum, Label, PairExample, Split, TextEncoder};

/// Token lengths are measured on at most this many rows per split (evenly spaced).
pub const TOKEN_SAMPLE: usize = 50_000;

/// A data set the harness knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Glue(GlueTask),
    Xsum,
    /// WMT16 ro-en, read as English → Romanian.
    Wmt16,
    Cifar100,
    Fgvc(FgvcSet),
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dataset::Glue(t) => write!(f, "glue/{t}"),
            Dataset::Xsum => f.write_str("xsum"),
            Dataset::Wmt16 => f.write_str("wmt16"),
            Dataset::Cifar100 => f.write_str("cifar100"),
            Dataset::Fgvc(s) => write!(f, "fgvc/{s}"),
        }
    }
}

impl FromStr for Dataset {
    type Err = DataError;
    /// `glue/sst2` or `sst2`, `xsum`, `wmt16` (or `wmt16-ro-en`), `cifar100`, `fgvc/cub` or `cub`.
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        let (family, name) = match lower.split_once('/') {
            Some((a, b)) => (Some(a), b),
            None => (None, lower.as_str()),
        };
        match family {
            Some("glue") => return Ok(Dataset::Glue(name.parse()?)),
            Some("fgvc") => return Ok(Dataset::Fgvc(name.parse()?)),
            Some(other) => {
                return Err(DataError::Invalid(format!(
                    "unknown data set family `{other}` in `{s}`; expected glue/<task> or fgvc/<set>"
                )))
            }
            None => {}
        }
        match name {
            "xsum" => Ok(Dataset::Xsum),
            "wmt16" | "wmt16-ro-en" | "wmt16_ro_en" | "wmt16-en-ro" => Ok(Dataset::Wmt16),
            "cifar100" | "cifar-100" => Ok(Dataset::Cifar100),
            other => other
                .parse::<GlueTask>()
                .map(Dataset::Glue)
                .or_else(|_| other.parse::<FgvcSet>().map(Dataset::Fgvc))
                .map_err(|_| {
                    DataError::Invalid(format!(
                        "unknown data set `{s}`; expected glue/<task> (cola, sst2, mrpc, stsb, qqp, \
                         mnli, qnli, rte, wnli), xsum, wmt16, cifar100 or fgvc/<set> (cub, \
                         nabirds, flowers, dogs, cars)"
                    ))
                }),
        }
    }
}

/// How a data set's splits are used, in one table for every data set: where it lives when an
/// experiment names no folder, which split selects the best checkpoint and which one (if any)
/// scores it at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetLayout {
    /// Under the repository root: `datasets/glue`, `datasets/fgvc/cub`, ...
    pub default_dir: PathBuf,
    /// GLUE's dev set (MNLI's matched one), CIFAR-100's test set (it has no other), VPT's
    /// val.json for FGVC, the validation split of XSum and WMT16.
    pub selection: Split,
    /// Scored once with the selected model: FGVC's test split; XSum's and WMT16's when its file
    /// is there. GLUE's test labels are not public.
    pub test: Option<Split>,
}

impl Dataset {
    /// See [`DatasetLayout`].
    pub fn layout(self) -> DatasetLayout {
        let root = PathBuf::from("datasets");
        let (default_dir, selection, test) = match self {
            Dataset::Glue(GlueTask::Mnli) => (root.join("glue"), Split::ValidationMatched, None),
            Dataset::Glue(_) => (root.join("glue"), Split::Validation, None),
            Dataset::Xsum => (root.join("xsum"), Split::Validation, Some(Split::Test)),
            Dataset::Wmt16 => (root.join("wmt16"), Split::Validation, Some(Split::Test)),
            Dataset::Cifar100 => (root.join("cifar100"), Split::Test, None),
            Dataset::Fgvc(set) => (
                root.join("fgvc").join(set.to_string()),
                Split::Validation,
                Some(Split::Test),
            ),
        };
        DatasetLayout {
            default_dir,
            selection,
            test,
        }
    }

    /// The files of `split` in `dir`, without reading them; the error says which file is
    /// missing and where the data set is published.
    pub fn locate(self, dir: &Path, split: Split) -> Result<Vec<PathBuf>> {
        match self {
            Dataset::Glue(task) => glue::locate(dir, task, split).map(|(_, files)| files),
            Dataset::Xsum => xsum::locate(dir, split),
            Dataset::Wmt16 => wmt16::locate(dir, split, "en", "ro"),
            Dataset::Cifar100 => cifar100::locate(dir, split),
            Dataset::Fgvc(set) => fgvc::locate(dir, set, split).map(|(_, file)| vec![file]),
        }
    }

    /// The splits the data set has.
    pub fn splits(self) -> Vec<Split> {
        match self {
            Dataset::Glue(t) => t.splits().to_vec(),
            Dataset::Cifar100 => vec![Split::Train, Split::Test],
            _ => vec![Split::Train, Split::Validation, Split::Test],
        }
    }

    /// The public row count of a split, where known.
    pub fn expected_rows(self, split: Split) -> Option<usize> {
        match (self, split) {
            (Dataset::Glue(t), s) => t.expected_rows(s),
            (Dataset::Xsum, Split::Train) => Some(204_045),
            (Dataset::Xsum, Split::Validation) => Some(11_332),
            (Dataset::Xsum, Split::Test) => Some(11_334),
            (Dataset::Wmt16, Split::Train) => Some(610_320),
            (Dataset::Wmt16, Split::Validation | Split::Test) => Some(1_999),
            (Dataset::Cifar100, Split::Train) => Some(50_000),
            (Dataset::Cifar100, Split::Test) => Some(10_000),
            _ => None,
        }
    }
}

/// Token-length percentiles (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: usize,
    pub p90: usize,
    pub p99: usize,
    pub max: usize,
    /// How many rows were measured.
    pub n: usize,
}

impl Percentiles {
    /// Percentiles of `values` (`None` when empty).
    pub fn of(values: &[usize]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Percentiles {
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: v[v.len() - 1],
            n: v.len(),
        })
    }
}

/// What was found for one split.
#[derive(Debug, Clone)]
pub struct SplitReport {
    pub split: Split,
    pub format: String,
    pub files: Vec<PathBuf>,
    pub rows: usize,
    pub expected_rows: Option<usize>,
    /// (label, count) pairs; for STS-B, score bins; for images, a summary line.
    pub labels: Vec<(String, usize)>,
    /// (which text, percentiles) when a tokenizer was given.
    pub token_lengths: Vec<(String, Percentiles)>,
    /// Malformed TSV rows that were dropped.
    pub skipped: Vec<SkippedRow>,
    pub notes: Vec<String>,
}

/// The data-check report; `Display` prints it for people.
#[derive(Debug, Clone)]
pub struct Report {
    pub dataset: Dataset,
    pub dir: PathBuf,
    pub tokenizer: Option<PathBuf>,
    pub splits: Vec<SplitReport>,
    /// One line per missing split: which file and where it comes from.
    pub missing: Vec<String>,
    /// Files that exist but could not be read, with the error.
    pub errors: Vec<String>,
}

impl Report {
    /// Whether every split was found and read.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.errors.is_empty()
    }
}

fn sample<T>(items: &[T]) -> Vec<&T> {
    if items.len() <= TOKEN_SAMPLE {
        return items.iter().collect();
    }
    (0..TOKEN_SAMPLE)
        .map(|i| &items[i * items.len() / TOKEN_SAMPLE])
        .collect()
}

fn glue_labels(task: GlueTask, examples: &[crate::TextExample]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = if task.is_regression() {
        ["0–1", "1–2", "2–3", "3–4", "4–5"]
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect()
    } else {
        task.label_names()
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect()
    };
    let mut none = 0;
    for e in examples {
        match e.label {
            Label::Class(c) => {
                if let Some(slot) = out.get_mut(c) {
                    slot.1 += 1;
                }
            }
            Label::Score(s) => {
                let bin = (s.floor() as usize).min(4);
                out[bin].1 += 1;
            }
            Label::None => none += 1,
        }
    }
    if none == examples.len() && none > 0 {
        return vec![("(unlabelled)".into(), none)];
    }
    if none > 0 {
        out.push(("(unlabelled)".into(), none));
    }
    out
}

fn image_labels(examples: &[ImageExample], num_classes: usize) -> Vec<(String, usize)> {
    let mut counts = vec![0usize; num_classes];
    for e in examples {
        if let Some(c) = counts.get_mut(e.label) {
            *c += 1;
        }
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    let min = counts.iter().copied().filter(|&c| c > 0).min().unwrap_or(0);
    let max = counts.iter().copied().max().unwrap_or(0);
    vec![
        (format!("classes present (of {num_classes})"), present),
        ("fewest per class".into(), min),
        ("most per class".into(), max),
    ]
}

/// Checks the data set in `dir` (for FGVC: the set's own folder) and reports what is there.
pub fn report(dir: &Path, dataset: Dataset, tokenizer: Option<&Path>) -> Report {
    let mut rep = Report {
        dataset,
        dir: dir.to_path_buf(),
        tokenizer: tokenizer.map(Path::to_path_buf),
        splits: Vec::new(),
        missing: Vec::new(),
        errors: Vec::new(),
    };
    let encoder = match tokenizer {
        Some(t) => match TextEncoder::from_file(t, 512) {
            Ok(e) => Some(e),
            Err(e) => {
                rep.errors.push(e.to_string());
                None
            }
        },
        None => None,
    };
    for split in dataset.splits() {
        match check_split(dir, dataset, split, encoder.as_ref()) {
            Ok(s) => rep.splits.push(s),
            Err(e @ DataError::Missing { .. }) => rep.missing.push(format!("{split}: {e}")),
            Err(e) => rep.errors.push(format!("{split}: {e}")),
        }
    }
    rep
}

fn lengths_of(
    enc: &TextEncoder,
    name: &str,
    a: &[&str],
    b: Option<&[&str]>,
    out: &mut Vec<(String, Percentiles)>,
) -> Result<()> {
    let l = enc.untruncated_lengths(a, b)?;
    if let Some(p) = Percentiles::of(&l) {
        out.push((name.to_string(), p));
    }
    Ok(())
}

fn pair_lengths(
    enc: &TextEncoder,
    pairs: &[PairExample],
    out: &mut Vec<(String, Percentiles)>,
) -> Result<()> {
    let s = sample(pairs);
    let src: Vec<&str> = s.iter().map(|p| p.source.as_str()).collect();
    let tgt: Vec<&str> = s.iter().map(|p| p.target.as_str()).collect();
    lengths_of(enc, "source", &src, None, out)?;
    lengths_of(enc, "target", &tgt, None, out)
}

fn check_split(
    dir: &Path,
    dataset: Dataset,
    split: Split,
    enc: Option<&TextEncoder>,
) -> Result<SplitReport> {
    let mut r = SplitReport {
        split,
        format: String::new(),
        files: Vec::new(),
        rows: 0,
        expected_rows: dataset.expected_rows(split),
        labels: Vec::new(),
        token_lengths: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    let is_parquet = |f: &[PathBuf]| {
        f.first()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "parquet"))
    };
    match dataset {
        Dataset::Glue(task) => {
            let g = glue::load_split(dir, task, split)?;
            r.format = g.format.to_string();
            r.files = g.files;
            r.rows = g.examples.len();
            r.labels = glue_labels(task, &g.examples);
            r.skipped = g.skipped;
            if let Some(enc) = enc {
                let s = sample(&g.examples);
                let a: Vec<&str> = s.iter().map(|e| e.text_a.as_str()).collect();
                let b: Option<Vec<&str>> = task.is_pair().then(|| {
                    s.iter()
                        .map(|e| e.text_b.as_deref().unwrap_or(""))
                        .collect()
                });
                let name = if task.is_pair() { "pair" } else { "sentence" };
                lengths_of(enc, name, &a, b.as_deref(), &mut r.token_lengths)?;
            }
        }
        Dataset::Xsum => {
            r.files = xsum::locate(dir, split)?;
            r.format = if is_parquet(&r.files) {
                "Parquet"
            } else {
                "JSON lines"
            }
            .into();
            let pairs = xsum::load(dir, split)?;
            r.rows = pairs.len();
            if let Some(enc) = enc {
                pair_lengths(enc, &pairs, &mut r.token_lengths)?;
            }
        }
        Dataset::Wmt16 => {
            r.files = wmt16::locate(dir, split, "en", "ro")?;
            r.format = if is_parquet(&r.files) {
                "Parquet"
            } else {
                "parallel text"
            }
            .into();
            let pairs = wmt16::load(dir, split, "en", "ro")?;
            r.rows = pairs.len();
            if let Some(enc) = enc {
                pair_lengths(enc, &pairs, &mut r.token_lengths)?;
            }
        }
        Dataset::Cifar100 => {
            r.files = cifar100::locate(dir, split)?;
            r.format = if is_parquet(&r.files) {
                "Parquet"
            } else {
                "binary"
            }
            .into();
            let ex = cifar100::load(dir, split)?;
            r.rows = ex.len();
            r.labels = image_labels(&ex, cifar100::NUM_CLASSES);
            if let Some(first) = ex.first() {
                let img = first.decode()?;
                r.notes
                    .push(format!("first image decodes: {}×{}", img.width, img.height));
            }
            match cifar100::fine_label_names(dir)? {
                Some(_) => r.notes.push("fine_label_names.txt present".into()),
                None => r
                    .notes
                    .push("fine_label_names.txt absent (labels are indices)".into()),
            }
        }
        Dataset::Fgvc(set) => {
            let (layout, file) = fgvc::locate(dir, set, split)?;
            r.format = match layout {
                fgvc::Layout::VptJson => "VPT JSON",
                fgvc::Layout::CubNative => "CUB native",
            }
            .into();
            r.files = vec![file];
            let ex = fgvc::load(dir, set, split)?;
            r.rows = ex.len();
            r.labels = image_labels(&ex, set.num_classes());
            if let Some(first) = ex.first() {
                let img = first.decode()?;
                r.notes
                    .push(format!("first image decodes: {}×{}", img.width, img.height));
            }
        }
    }
    Ok(r)
}

fn thousands(n: usize) -> String {
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

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} in {}", self.dataset, self.dir.display())?;
        if let Some(t) = &self.tokenizer {
            writeln!(f, "tokenizer: {}", t.display())?;
        }
        for s in &self.splits {
            let expected = match s.expected_rows {
                Some(e) if e == s.rows => " (as published)".to_string(),
                Some(e) => format!(" (published: {})", thousands(e)),
                None => String::new(),
            };
            writeln!(
                f,
                "  {:<22} {:<13} {} rows{expected}",
                s.split.as_str(),
                s.format,
                thousands(s.rows)
            )?;
            for file in &s.files {
                writeln!(f, "      file: {}", file.display())?;
            }
            if !s.labels.is_empty() {
                let total: usize = if matches!(self.dataset, Dataset::Glue(_)) {
                    s.labels.iter().map(|(_, c)| c).sum()
                } else {
                    0
                };
                let parts: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(name, c)| {
                        if total > 0 {
                            format!(
                                "{name} {} ({:.1}%)",
                                thousands(*c),
                                100.0 * *c as f64 / total as f64
                            )
                        } else {
                            format!("{name}: {}", thousands(*c))
                        }
                    })
                    .collect();
                writeln!(f, "      labels: {}", parts.join(", "))?;
            }
            for (name, p) in &s.token_lengths {
                let sampled = if p.n < s.rows {
                    format!(" (sample of {})", thousands(p.n))
                } else {
                    String::new()
                };
                writeln!(
                    f,
                    "      tokens ({name}): p50 {} · p90 {} · p99 {} · max {}{sampled}",
                    p.p50, p.p90, p.p99, p.max
                )?;
            }
            if !s.skipped.is_empty() {
                writeln!(
                    f,
                    "      skipped {} malformed row(s), as Hugging Face's reader does:",
                    s.skipped.len()
                )?;
                for k in s.skipped.iter().take(5) {
                    writeln!(f, "        line {}: {}", k.line, k.reason)?;
                }
                if s.skipped.len() > 5 {
                    writeln!(f, "        ... and {} more", s.skipped.len() - 5)?;
                }
            }
            for n in &s.notes {
                writeln!(f, "      {n}")?;
            }
        }
        if !self.missing.is_empty() {
            writeln!(f, "missing:")?;
            for m in &self.missing {
                writeln!(f, "  - {m}")?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "errors:")?;
            for e in &self.errors {
                writeln!(f, "  - {e}")?;
            }
        }
        if self.is_complete() {
            writeln!(f, "all {} split(s) found and read", self.splits.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<usize> = (1..=100).collect();
        let p = Percentiles::of(&v).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max, p.n), (50, 90, 99, 100, 100));
        assert_eq!(Percentiles::of(&[7]).unwrap().p50, 7);
        assert!(Percentiles::of(&[]).is_none());
    }

    #[test]
    fn dataset_names() {
        assert_eq!(
            "glue/sst2".parse::<Dataset>().unwrap(),
            Dataset::Glue(GlueTask::Sst2)
        );
        assert_eq!(
            "mnli".parse::<Dataset>().unwrap(),
            Dataset::Glue(GlueTask::Mnli)
        );
        assert_eq!(
            "fgvc/cub".parse::<Dataset>().unwrap(),
            Dataset::Fgvc(FgvcSet::Cub)
        );
        assert_eq!("cifar100".parse::<Dataset>().unwrap(), Dataset::Cifar100);
        assert!("imagenet".parse::<Dataset>().is_err());
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
