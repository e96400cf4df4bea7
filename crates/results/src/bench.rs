//! Throughput benchmarks: one [`BenchRow`] per (tool, backend, method, shape), written by
//! `peftgrid bench` (Parquet and JSON) and by `tools/bench_torch.py` (JSON, same fields), and the
//! side-by-side [`ratio_table`] (peftgrid ÷ PyTorch) that `peftgrid bench-compare` prints.
//! Absolute times on a shared machine drift; ratios of runs taken back to back hold.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ResultsError};

/// One benchmarked configuration: train and inference throughput at a fixed shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// `peftgrid` or `pytorch`.
    pub tool: String,
    /// peftgrid's git commit, or `torch X / transformers Y / peft Z`.
    pub version: String,
    /// `flex`, `ndarray`, `wgpu`, `cuda` (peftgrid) or `cpu`, `cuda` (PyTorch).
    pub backend: String,
    /// The processor or GPU, as the OS names it.
    pub device: String,
    pub dtype: String,
    /// CPU threads the run used.
    pub threads: u64,
    /// The backbone config (file stem of its config.json).
    pub model: String,
    /// The method argument (`lora:8`, `full`, ...).
    pub method: String,
    pub batch: u64,
    pub seq_len: u64,
    /// Untimed updates before timing (kernel compilation, autotune, allocator warm-up).
    pub warmup: u64,
    pub steps: u64,
    /// Trained parameters, the task head included.
    pub trainable_params: u64,
    /// Forward + backward + AdamW update, samples per second.
    pub train_samples_per_s: f64,
    /// Forward only, no autodiff graph, samples per second.
    pub infer_samples_per_s: f64,
    /// Peak resident memory of the process (CPU) or peak device memory (GPU), when known.
    pub peak_memory_bytes: Option<u64>,
    /// `rss` or `device`.
    pub memory_kind: String,
    /// Loss of the first and last timed update (that training moves, not a score).
    pub first_loss: f64,
    pub last_loss: f64,
}

impl BenchRow {
    fn key(&self) -> (String, String, u64, u64, u64) {
        (
            self.model.clone(),
            self.method.clone(),
            self.batch,
            self.seq_len,
            self.threads,
        )
    }
}

/// Reads bench rows from a `.parquet` (written by [`write_parquet`]) or `.json` file (a list of
/// rows: what `tools/bench_torch.py` writes).
pub fn read_bench(path: &Path) -> Result<Vec<BenchRow>> {
    let corrupt = |message: String| ResultsError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    if path.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(path).map_err(|e| ResultsError::io(path, e))?;
        return serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()));
    }
    let file = File::open(path).map_err(|e| ResultsError::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| corrupt(e.to_string()))?;
    let f = crate::store::Frame { path, df: &df };
    let strs = |name: &str| f.strings(name);
    let u64s = |name: &str| f.u64s(name);
    let (tool, version, backend, device, dtype) = (
        strs("tool")?,
        strs("version")?,
        strs("backend")?,
        strs("device")?,
        strs("dtype")?,
    );
    let (threads, model, method, batch, seq_len) = (
        u64s("threads")?,
        strs("model")?,
        strs("method")?,
        u64s("batch")?,
        u64s("seq_len")?,
    );
    let (warmup, steps, trainable) = (u64s("warmup")?, u64s("steps")?, u64s("trainable_params")?);
    let (train, infer, peak, kind) = (
        f.f64s("train_samples_per_s")?,
        f.f64s("infer_samples_per_s")?,
        f.opt_u64s("peak_memory_bytes")?,
        strs("memory_kind")?,
    );
    let (first, last) = (f.f64s("first_loss")?, f.f64s("last_loss")?);
    (0..df.height())
        .map(|i| {
            Ok(BenchRow {
                tool: tool[i].clone(),
                version: version[i].clone(),
                backend: backend[i].clone(),
                device: device[i].clone(),
                dtype: dtype[i].clone(),
                threads: threads[i],
                model: model[i].clone(),
                method: method[i].clone(),
                batch: batch[i],
                seq_len: seq_len[i],
                warmup: warmup[i],
                steps: steps[i],
                trainable_params: trainable[i],
                train_samples_per_s: train[i],
                infer_samples_per_s: infer[i],
                peak_memory_bytes: peak[i],
                memory_kind: kind[i].clone(),
                first_loss: first[i],
                last_loss: last[i],
            })
        })
        .collect()
}

/// Writes `rows` as Parquet (atomically) and beside it as JSON (`.json`, same stem).
pub fn write_parquet(path: &Path, rows: &[BenchRow]) -> Result<()> {
    let write_err = |message: String| ResultsError::Write {
        path: path.to_path_buf(),
        message,
    };
    let strs = |name: &str, f: &dyn Fn(&BenchRow) -> &str| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<&str>>())
    };
    let u64s = |name: &str, f: &dyn Fn(&BenchRow) -> u64| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<u64>>())
    };
    let f64s = |name: &str, f: &dyn Fn(&BenchRow) -> f64| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<f64>>())
    };
    let columns = vec![
        strs("tool", &|r| &r.tool),
        strs("version", &|r| &r.version),
        strs("backend", &|r| &r.backend),
        strs("device", &|r| &r.device),
        strs("dtype", &|r| &r.dtype),
        u64s("threads", &|r| r.threads),
        strs("model", &|r| &r.model),
        strs("method", &|r| &r.method),
        u64s("batch", &|r| r.batch),
        u64s("seq_len", &|r| r.seq_len),
        u64s("warmup", &|r| r.warmup),
        u64s("steps", &|r| r.steps),
        u64s("trainable_params", &|r| r.trainable_params),
        f64s("train_samples_per_s", &|r| r.train_samples_per_s),
        f64s("infer_samples_per_s", &|r| r.infer_samples_per_s),
        Column::new(
            "peak_memory_bytes".into(),
            rows.iter().map(|r| r.peak_memory_bytes).collect::<Vec<_>>(),
        ),
        strs("memory_kind", &|r| &r.memory_kind),
        f64s("first_loss", &|r| r.first_loss),
        f64s("last_loss", &|r| r.last_loss),
    ];
    let mut df = DataFrame::new(rows.len(), columns).map_err(|e| write_err(e.to_string()))?;
    crate::store::write_frame(path, &mut df)?;
    let json = path.with_extension("json");
    let text = serde_json::to_string_pretty(rows).map_err(|e| write_err(e.to_string()))?;
    std::fs::write(&json, text).map_err(|e| ResultsError::io(&json, e))
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| {
        format!("{:.0}", b as f64 / (1024.0 * 1024.0))
    })
}

/// A Markdown table of one tool's rows.
pub fn markdown_table(rows: &[BenchRow]) -> String {
    let mut out = String::from(
        "| tool | backend | threads | model | method | batch × seq | trainable | train samples/s | inference samples/s | peak memory MiB |\n\
         | --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} × {} | {} | {:.1} | {:.1} | {} ({}) |\n",
            r.tool,
            r.backend,
            r.threads,
            r.model,
            r.method,
            r.batch,
            r.seq_len,
            r.trainable_params,
            r.train_samples_per_s,
            r.infer_samples_per_s,
            mib(r.peak_memory_bytes),
            r.memory_kind
        ));
    }
    out
}

/// peftgrid ÷ PyTorch for every configuration both measured (same model, method, batch,
/// sequence length and thread count), as Markdown; configurations only one side has are listed
/// under the table.
pub fn ratio_table(ours: &[BenchRow], reference: &[BenchRow]) -> String {
    let theirs: BTreeMap<_, &BenchRow> = reference.iter().map(|r| (r.key(), r)).collect();
    let mut out = String::from(
        "| model | method | batch × seq | threads | backend | train samples/s (peftgrid / PyTorch) | ratio | inference samples/s | ratio | peak MiB (peftgrid / PyTorch) |\n\
         | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut unmatched = Vec::new();
    for r in ours {
        let Some(t) = theirs.get(&r.key()) else {
            unmatched.push(format!("{} {} (peftgrid only)", r.model, r.method));
            continue;
        };
        out.push_str(&format!(
            "| {} | {} | {} × {} | {} | {} vs {} | {:.1} / {:.1} | **{:.2}** | {:.1} / {:.1} | **{:.2}** | {} / {} |\n",
            r.model,
            r.method,
            r.batch,
            r.seq_len,
            r.threads,
            r.backend,
            t.backend,
            r.train_samples_per_s,
            t.train_samples_per_s,
            r.train_samples_per_s / t.train_samples_per_s,
            r.infer_samples_per_s,
            t.infer_samples_per_s,
            r.infer_samples_per_s / t.infer_samples_per_s,
            mib(r.peak_memory_bytes),
            mib(t.peak_memory_bytes),
        ));
    }
    let ours_keys: std::collections::BTreeSet<_> = ours.iter().map(BenchRow::key).collect();
    for t in reference {
        if !ours_keys.contains(&t.key()) {
            unmatched.push(format!("{} {} (PyTorch only)", t.model, t.method));
        }
    }
    if !unmatched.is_empty() {
        out.push_str(&format!("\nNot on both sides: {}\n", unmatched.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tool: &str, method: &str, train: f64) -> BenchRow {
        BenchRow {
            tool: tool.into(),
            version: "v".into(),
            backend: "cpu".into(),
            device: "x".into(),
            dtype: "f32".into(),
            threads: 2,
            model: "minilm".into(),
            method: method.into(),
            batch: 32,
            seq_len: 64,
            warmup: 2,
            steps: 5,
            trainable_params: 10,
            train_samples_per_s: train,
            infer_samples_per_s: 2.0 * train,
            peak_memory_bytes: Some(1 << 20),
            memory_kind: "rss".into(),
            first_loss: 0.7,
            last_loss: 0.6,
        }
    }

    #[test]
    fn parquet_round_trip_and_ratios() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.parquet");
        let ours = vec![
            row("peftgrid", "lora:8", 30.0),
            row("peftgrid", "full", 9.0),
        ];
        write_parquet(&path, &ours).unwrap();
        assert_eq!(read_bench(&path).unwrap(), ours);
        assert_eq!(read_bench(&path.with_extension("json")).unwrap(), ours);
        let theirs = vec![row("pytorch", "lora:8", 20.0), row("pytorch", "ia3", 5.0)];
        let table = ratio_table(&ours, &theirs);
        assert!(table.contains("**1.50**"), "{table}");
        assert!(table.contains("full (peftgrid only)") && table.contains("ia3 (PyTorch only)"));
    }

    #[test]
    fn a_bad_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("torch.json");
        std::fs::write(&path, r#"[{"tool": "pytorch"}]"#).unwrap();
        let e = read_bench(&path).unwrap_err().to_string();
        assert!(
            e.contains("torch.json") && e.contains("missing field"),
            "{e}"
        );
    }
}
