//! XSum (Hugging Face `EdinburghNLP/xsum`): columns `document`, `summary`, `id`; read from
//! Parquet shards `<dir>/<split>-*.parquet` (or under `<dir>/data/`, sorted by name) or from JSON
//! lines `<dir>/<split>.jsonl` (one object per line with the same three fields).

use std::path::{Path, PathBuf};

use crate::error::{read_text, DataError, Result};
use crate::seq2seq::{check_plain_split, find_shards, lines, missing, PairExample};
use crate::{pq, Split};

/// Where XSum is published, for "missing file" errors.
pub const SOURCE_HINT: &str =
    "XSum comes from https://huggingface.co/datasets/EdinburghNLP/xsum (Parquet or JSON lines)";

/// The places a split's files are looked for, in order.
pub fn candidates(dir: &Path, split: Split) -> Vec<PathBuf> {
    vec![
        dir.join(format!("{}-00000-of-00001.parquet", split.as_str())),
        dir.join("data")
            .join(format!("{}-00000-of-00001.parquet", split.as_str())),
        dir.join(format!("{}.jsonl", split.as_str())),
    ]
}

/// The files a split would be read from (Parquet shards, or the JSON-lines file).
pub fn locate(dir: &Path, split: Split) -> Result<Vec<PathBuf>> {
    check_plain_split("XSum", split)?;
    let shards = find_shards(&[dir.to_path_buf(), dir.join("data")], split);
    if !shards.is_empty() {
        return Ok(shards);
    }
    let jsonl = dir.join(format!("{}.jsonl", split.as_str()));
    if jsonl.is_file() {
        return Ok(vec![jsonl]);
    }
    Err(missing(
        &format!("XSum {split}"),
        &candidates(dir, split),
        SOURCE_HINT,
    ))
}

/// Loads one split: `source` = `document`, `target` = `summary`.
pub fn load(dir: &Path, split: Split) -> Result<Vec<PairExample>> {
    let files = locate(dir, split)?;
    let mut out = Vec::new();
    for f in &files {
        if f.extension().is_some_and(|e| e == "parquet") {
            let t = pq::read(f, &["document", "summary", "id"], &[])?;
            let docs = t.strings("document")?;
            let sums = t.strings("summary")?;
            let ids = t.strings("id")?;
            out.extend(
                ids.into_iter()
                    .zip(docs.into_iter().zip(sums))
                    .map(|(id, (source, target))| PairExample { id, source, target }),
            );
        } else {
            out.extend(read_jsonl(f)?);
        }
    }
    Ok(out)
}

fn read_jsonl(path: &Path) -> Result<Vec<PairExample>> {
    let text = read_text(path, "XSum JSON lines", SOURCE_HINT)?;
    let mut out = Vec::new();
    for (i, line) in lines(&text).into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| DataError::value(path, &at, "json", e.to_string()))?;
        let field = |name: &str| -> Result<String> {
            match v.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) if name == "id" => Ok(n.to_string()),
                Some(other) => Err(DataError::value(
                    path,
                    &at,
                    name,
                    format!("expected a string, found {other}"),
                )),
                None => Err(DataError::value(
                    path,
                    &at,
                    name,
                    "missing (expected fields `document`, `summary`, `id`)",
                )),
            }
        };
        out.push(PairExample {
            id: field("id")?,
            source: field("document")?,
            target: field("summary")?,
        });
    }
    Ok(out)
}
