//! WMT16 English–Romanian (Hugging Face `wmt16`, config `ro-en`): Parquet with a `translation`
//! struct column {`en`, `ro`} (`<dir>/<split>-*.parquet` or under `<dir>/ro-en/`), or plain
//! parallel text `<dir>/<split>.en` / `<dir>/<split>.ro`, one sentence per line, whose line
//! counts must match. Ids are the row numbers.

use std::path::{Path, PathBuf};

use crate::error::{read_text, DataError, Result};
use crate::seq2seq::{check_plain_split, find_shards, lines, missing, PairExample};
use crate::{pq, Split};

/// Where WMT16 ro-en is published, for "missing file" errors.
pub const SOURCE_HINT: &str = "WMT16 ro-en comes from https://huggingface.co/datasets/wmt/wmt16 \
     (config ro-en, Parquet) or https://www.statmt.org/wmt16/translation-task.html (plain text)";

/// The places a split's files are looked for, in order.
pub fn candidates(dir: &Path, split: Split, src_lang: &str, tgt_lang: &str) -> Vec<PathBuf> {
    let s = split.as_str();
    vec![
        dir.join(format!("{s}-00000-of-00001.parquet")),
        dir.join("ro-en")
            .join(format!("{s}-00000-of-00001.parquet")),
        dir.join(format!("{s}.{src_lang}")),
        dir.join(format!("{s}.{tgt_lang}")),
    ]
}

/// The files a split would be read from: Parquet shards, or the two text files.
pub fn locate(dir: &Path, split: Split, src_lang: &str, tgt_lang: &str) -> Result<Vec<PathBuf>> {
    check_plain_split("WMT16", split)?;
    let shards = find_shards(&[dir.to_path_buf(), dir.join("ro-en")], split);
    if !shards.is_empty() {
        return Ok(shards);
    }
    let s = split.as_str();
    let src = dir.join(format!("{s}.{src_lang}"));
    let tgt = dir.join(format!("{s}.{tgt_lang}"));
    match (src.is_file(), tgt.is_file()) {
        (true, true) => Ok(vec![src, tgt]),
        (true, false) => Err(DataError::missing(
            format!("WMT16 {split} target side"),
            &tgt,
            &format!(
                "{} exists but its parallel file does not; {SOURCE_HINT}",
                src.display()
            ),
        )),
        (false, true) => Err(DataError::missing(
            format!("WMT16 {split} source side"),
            &src,
            &format!(
                "{} exists but its parallel file does not; {SOURCE_HINT}",
                tgt.display()
            ),
        )),
        (false, false) => Err(missing(
            &format!("WMT16 {split}"),
            &candidates(dir, split, src_lang, tgt_lang),
            SOURCE_HINT,
        )),
    }
}

/// Loads one split as `src_lang` → `tgt_lang` pairs (the paper's direction: `"en"`, `"ro"`).
pub fn load(dir: &Path, split: Split, src_lang: &str, tgt_lang: &str) -> Result<Vec<PairExample>> {
    let files = locate(dir, split, src_lang, tgt_lang)?;
    if files[0].extension().is_some_and(|e| e == "parquet") {
        let mut out = Vec::new();
        for f in &files {
            let t = pq::read(f, &["translation"], &[])?;
            let src = t.struct_strings("translation", src_lang)?;
            let tgt = t.struct_strings("translation", tgt_lang)?;
            let base = out.len();
            out.extend(
                src.into_iter()
                    .zip(tgt)
                    .enumerate()
                    .map(|(i, (source, target))| PairExample {
                        id: (base + i).to_string(),
                        source,
                        target,
                    }),
            );
        }
        return Ok(out);
    }
    let (src_path, tgt_path) = (&files[0], &files[1]);
    let src_text = read_text(src_path, "WMT16 source text", SOURCE_HINT)?;
    let tgt_text = read_text(tgt_path, "WMT16 target text", SOURCE_HINT)?;
    let src = lines(&src_text);
    let tgt = lines(&tgt_text);
    if src.len() != tgt.len() {
        return Err(DataError::format(
            src_path,
            format!(
                "{} lines, but its parallel file {} has {} lines; the two sides must align line by line",
                src.len(),
                tgt_path.display(),
                tgt.len()
            ),
        ));
    }
    Ok(src
        .into_iter()
        .zip(tgt)
        .enumerate()
        .map(|(i, (s, t))| PairExample {
            id: i.to_string(),
            source: s.to_string(),
            target: t.to_string(),
        })
        .collect())
}
