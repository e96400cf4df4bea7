//! The Parquet results store (`results/<sweep>.parquet`): reading, atomic whole-table writes and
//! merging shards.
//!
//! Layout: one column per [`ResultRow`] field, named as the field (`status` as `ok` /
//! `diverged` / `failed`), except `metrics`, stored as one nullable Float64 column
//! `metric.<name>` per metric name found in any row.
//!
//! One process writes a file at a time: concurrent writers to the same file would each rename
//! their whole table over it (the last one wins), so a writer holds a [`WriterLock`] on
//! `<file>.lock` and a second one gets [`ResultsError::Locked`]. Cluster shards write one file
//! each (`--shard i/N`) and [`merge`] them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Result, ResultsError};
use crate::row::{cmp_finished, ResultRow, Status};

/// Prefix of the metric columns.
pub const METRIC_PREFIX: &str = "metric.";

/// The exclusive right to write one results file, held until dropped.
///
/// An advisory lock (`flock`) on `<file>.lock`, which records the holder (pid, host, start) for
/// the error a second writer gets. The operating system releases it when the holder exits,
/// however it exits, so a killed sweep leaves no stale lock to break; the file itself stays
/// (removing it would let a writer that opened it just before lock a file no one else sees).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock of results file `path`, or says who holds it.
    pub fn acquire(path: &Path) -> Result<WriterLock> {
        let lock = lock_path(path);
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ResultsError::io(dir, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(|e| ResultsError::io(&lock, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let owner = std::fs::read_to_string(&lock)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "holder unknown".into());
                return Err(ResultsError::Locked {
                    path: path.to_path_buf(),
                    lock,
                    owner,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(ResultsError::io(&lock, e)),
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown host".into());
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let owner = format!(
            "pid {} on {host}, since unix time {since}",
            std::process::id()
        );
        file.set_len(0)
            .and_then(|()| file.write_all(owner.as_bytes()))
            .map_err(|e| ResultsError::io(&lock, e))?;
        Ok(WriterLock { _file: file })
    }
}

/// `results/glue.parquet` → `results/glue.parquet.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The results of one sweep: the rows of a Parquet file, kept in memory, written back whole.
#[derive(Debug, Clone)]
pub struct ResultStore {
    path: PathBuf,
    rows: Vec<ResultRow>,
}

impl ResultStore {
    /// Opens the store at `path` (e.g. `results/glue.parquet`): its rows if the file exists, an
    /// empty store if it does not. A file that exists but does not read as a results table is an
    /// error naming it; it is never replaced.
    pub fn open(path: &Path) -> Result<ResultStore> {
        let rows = if path.exists() {
            read_rows(path)?
        } else {
            Vec::new()
        };
        Ok(ResultStore {
            path: path.to_path_buf(),
            rows,
        })
    }

    /// The file the store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether any row (on any split) comes from run `run_id`: the runner skips such runs.
    pub fn contains(&self, run_id: &str) -> bool {
        self.rows.iter().any(|r| r.run_id == run_id)
    }

    /// The rows, in the order they were appended.
    pub fn rows(&self) -> &[ResultRow] {
        &self.rows
    }

    /// Adds `rows` and writes the whole table: first to `<path>.tmp-<pid>`, then renamed over
    /// `path`, so a crash or a failed write leaves the previous file intact (and, on error, the
    /// store unchanged). The rows of one call are the rows of whole runs: a run written again
    /// (rerun, retried after a failure) replaces every stored row of its run_id. Creates the
    /// parent directory if needed.
    pub fn append(&mut self, rows: Vec<ResultRow>) -> Result<()> {
        let rerun: HashSet<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
        let mut all: Vec<ResultRow> = self
            .rows
            .iter()
            .filter(|r| !rerun.contains(r.run_id.as_str()))
            .cloned()
            .collect();
        for row in rows {
            all.retain(|r| r.key() != row.key());
            all.push(row);
        }
        write_rows(&self.path, &all)?;
        self.rows = all;
        Ok(())
    }
}

/// Merges result files (e.g. the shards of a `--shard i/N` run) into `out`: their union,
/// de-duplicated by (run_id, split), keeping the row with the newest `finished_at` (on a tie,
/// the one from the later input); then a diverged or failed row is dropped when its run has a
/// newer row on another split (an attempt that a later one superseded; a failed run's split is
/// `-`). Metric columns may differ between inputs. Every input must exist; `out` may be one of
/// them. Returns the number of rows written.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<usize> {
    let mut merged: Vec<ResultRow> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for input in inputs {
        if !input.exists() {
            return Err(ResultsError::io(
                input,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such results file"),
            ));
        }
        for row in read_rows(input)? {
            let key = (row.run_id.clone(), row.split.clone());
            match index.get(&key) {
                Some(&i) => {
                    if cmp_finished(&row.finished_at, &merged[i].finished_at).is_ge() {
                        merged[i] = row;
                    }
                }
                None => {
                    index.insert(key, merged.len());
                    merged.push(row);
                }
            }
        }
    }
    let mut newest: HashMap<&str, &str> = HashMap::new();
    for r in &merged {
        let e = newest.entry(&r.run_id).or_insert(&r.finished_at);
        if cmp_finished(&r.finished_at, e).is_gt() {
            *e = &r.finished_at;
        }
    }
    let stale: Vec<bool> = merged
        .iter()
        .map(|r| {
            r.status != Status::Ok
                && cmp_finished(newest[r.run_id.as_str()], &r.finished_at).is_gt()
        })
        .collect();
    let mut i = 0;
    merged.retain(|_| {
        i += 1;
        !stale[i - 1]
    });
    write_rows(out, &merged)?;
    Ok(merged.len())
}

/// Reads every row of a results file.
pub fn read_rows(path: &Path) -> Result<Vec<ResultRow>> {
    let file = File::open(path).map_err(|e| ResultsError::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| ResultsError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    rows_from_frame(path, &df)
}

/// Writes `rows` to `path` atomically (temporary file in the same directory, synced, renamed).
pub fn write_rows(path: &Path, rows: &[ResultRow]) -> Result<()> {
    let mut df = frame_from_rows(rows).map_err(|e| ResultsError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_frame(path, &mut df)
}

/// Writes a table to `path` as Parquet, atomically: a temporary file in the same directory,
/// synced, then renamed over `path`, so a crash never leaves a half-written file behind.
pub(crate) fn write_frame(path: &Path, df: &mut DataFrame) -> Result<()> {
    let write_err = |message: String| ResultsError::Write {
        path: path.to_path_buf(),
        message,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| write_err(format!("creating {}: {e}", parent.display())))?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| write_err("the path has no file name".into()))?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| -> std::result::Result<(), String> {
        // Encoded in memory first (a results table is small): the file's own write then fails
        // with the operating system's reason ("File too large", "No space left on device"),
        // which the Parquet writer would report as a transport error.
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .finish(df)
            .map_err(|e| format!("encoding Parquet: {e}"))?;
        let mut file =
            File::create(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        file.write_all(&bytes)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        file.flush()
            .and_then(|_| file.sync_all())
            .map_err(|e| format!("syncing {}: {e}", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("renaming {} over it: {e}", tmp.display()))?;
        Ok(())
    })();
    if let Err(message) = result {
        if tmp.is_file() {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(write_err(message));
    }
    // Make the rename itself durable where the platform allows it.
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn frame_from_rows(rows: &[ResultRow]) -> PolarsResult<DataFrame> {
    fn strs(name: &str, rows: &[ResultRow], f: impl Fn(&ResultRow) -> &str) -> Column {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<&str>>())
    }
    fn u64s(name: &str, rows: &[ResultRow], f: impl Fn(&ResultRow) -> u64) -> Column {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<u64>>())
    }
    fn f64s(name: &str, rows: &[ResultRow], f: impl Fn(&ResultRow) -> f64) -> Column {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<f64>>())
    }
    let metric_names: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.metrics.keys().map(String::as_str))
        .collect();
    let mut columns = vec![
        strs("run_id", rows, |r| &r.run_id),
        strs("sweep", rows, |r| &r.sweep),
        strs("config_json", rows, |r| &r.config_json),
        strs("method", rows, |r| &r.method),
        strs("forms", rows, |r| &r.forms),
        strs("positions", rows, |r| &r.positions),
        strs("insertions", rows, |r| &r.insertions),
        strs("compositions", rows, |r| &r.compositions),
        strs("budgets", rows, |r| &r.budgets),
        strs("backbone", rows, |r| &r.backbone),
        strs("task", rows, |r| &r.task),
        strs("split", rows, |r| &r.split),
    ];
    for name in &metric_names {
        columns.push(Column::new(
            format!("{METRIC_PREFIX}{name}").into(),
            rows.iter()
                .map(|r| r.metrics.get(*name).copied())
                .collect::<Vec<Option<f64>>>(),
        ));
    }
    columns.extend([
        strs("main_metric", rows, |r| &r.main_metric),
        u64s("trainable_params", rows, |r| r.trainable_params),
        u64s("trainable_with_head", rows, |r| r.trainable_with_head),
        f64s("percent_trainable", rows, |r| r.percent_trainable),
        Column::new(
            "percent_deployed".into(),
            rows.iter().map(|r| r.percent_deployed).collect::<Vec<_>>(),
        ),
        Column::new(
            "stored_params".into(),
            rows.iter().map(|r| r.stored_params).collect::<Vec<_>>(),
        ),
        Column::new(
            "peak_memory_bytes".into(),
            rows.iter().map(|r| r.peak_memory_bytes).collect::<Vec<_>>(),
        ),
        Column::new(
            "train_samples_per_s".into(),
            rows.iter()
                .map(|r| r.train_samples_per_s)
                .collect::<Vec<_>>(),
        ),
        f64s("wall_s", rows, |r| r.wall_s),
        Column::new(
            "adapter_bytes".into(),
            rows.iter().map(|r| r.adapter_bytes).collect::<Vec<_>>(),
        ),
        u64s("seed", rows, |r| r.seed),
        u64s("steps", rows, |r| r.steps),
        strs("backend", rows, |r| &r.backend),
        strs("device", rows, |r| &r.device),
        strs("peftgrid_version", rows, |r| &r.peftgrid_version),
        strs("git_commit", rows, |r| &r.git_commit),
        strs("status", rows, |r| r.status.as_str()),
        strs("note", rows, |r| &r.note),
        Column::new(
            "sample_data".into(),
            rows.iter().map(|r| r.sample_data).collect::<Vec<bool>>(),
        ),
        strs("finished_at", rows, |r| &r.finished_at),
    ]);
    DataFrame::new(rows.len(), columns)
}

/// Typed access to the columns of a results frame, with errors naming the file and column.
/// Typed, null-checked column reads that name the file and column on a mismatch.
pub(crate) struct Frame<'a> {
    pub(crate) path: &'a Path,
    pub(crate) df: &'a DataFrame,
}

impl<'a> Frame<'a> {
    fn column(&self, name: &str) -> Result<&'a Column> {
        self.df.column(name).map_err(|_| {
            ResultsError::schema(
                self.path,
                format!(
                    "no column `{name}` (columns: {})",
                    self.df
                        .get_column_names()
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    fn typed(&self, name: &str, to: &DataType, want: &str, ok: bool) -> Result<Column> {
        let col = self.column(name)?;
        if !ok {
            return Err(ResultsError::schema(
                self.path,
                format!("column `{name}` has type {}, expected {want}", col.dtype()),
            ));
        }
        col.strict_cast(to).map_err(|e| {
            ResultsError::schema(
                self.path,
                format!("column `{name}` does not convert to {want}: {e}"),
            )
        })
    }

    fn no_nulls<T>(&self, name: &str, values: Vec<Option<T>>) -> Result<Vec<T>> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    ResultsError::schema(self.path, format!("column `{name}` is null in row {i}"))
                })
            })
            .collect()
    }

    fn opt_strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        let col = self.column(name)?;
        let ca = col.str().map_err(|_| {
            ResultsError::schema(
                self.path,
                format!("column `{name}` has type {}, expected String", col.dtype()),
            )
        })?;
        Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>> {
        let v = self.opt_strings(name)?;
        self.no_nulls(name, v)
    }

    pub(crate) fn opt_u64s(&self, name: &str) -> Result<Vec<Option<u64>>> {
        let dtype = self.column(name)?.dtype().clone();
        let col = self.typed(
            name,
            &DataType::UInt64,
            "an unsigned integer",
            dtype.is_integer() || dtype.is_null(),
        )?;
        Ok(col
            .u64()
            .map_err(|e| ResultsError::schema(self.path, e.to_string()))?
            .iter()
            .collect())
    }

    pub(crate) fn u64s(&self, name: &str) -> Result<Vec<u64>> {
        let v = self.opt_u64s(name)?;
        self.no_nulls(name, v)
    }

    fn opt_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let dtype = self.column(name)?.dtype().clone();
        let col = self.typed(
            name,
            &DataType::Float64,
            "a number",
            dtype.is_primitive_numeric() || dtype.is_null(),
        )?;
        Ok(col
            .f64()
            .map_err(|e| ResultsError::schema(self.path, e.to_string()))?
            .iter()
            .collect())
    }

    pub(crate) fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        let v = self.opt_f64s(name)?;
        self.no_nulls(name, v)
    }

    fn bools(&self, name: &str) -> Result<Vec<bool>> {
        let col = self.column(name)?;
        let ca = col.bool().map_err(|_| {
            ResultsError::schema(
                self.path,
                format!("column `{name}` has type {}, expected Boolean", col.dtype()),
            )
        })?;
        let v = ca.iter().collect();
        self.no_nulls(name, v)
    }
}

fn rows_from_frame(path: &Path, df: &DataFrame) -> Result<Vec<ResultRow>> {
    let f = Frame { path, df };
    let mut text: HashMap<&str, Vec<String>> = HashMap::new();
    for name in TEXT_COLUMNS {
        text.insert(name, f.strings(name)?);
    }
    let trainable_params = f.u64s("trainable_params")?;
    let trainable_with_head = f.u64s("trainable_with_head")?;
    let percent_trainable = f.f64s("percent_trainable")?;
    // Added after the first files were written: absent means unknown.
    let percent_deployed = if df
        .get_column_names()
        .iter()
        .any(|n| n.as_str() == "percent_deployed")
    {
        f.opt_f64s("percent_deployed")?
    } else {
        vec![None; df.height()]
    };
    let stored_params = if df
        .get_column_names()
        .iter()
        .any(|n| n.as_str() == "stored_params")
    {
        f.opt_u64s("stored_params")?
    } else {
        vec![None; df.height()]
    };
    let peak_memory_bytes = f.opt_u64s("peak_memory_bytes")?;
    let train_samples_per_s = f.opt_f64s("train_samples_per_s")?;
    let wall_s = f.f64s("wall_s")?;
    let adapter_bytes = f.opt_u64s("adapter_bytes")?;
    let seed = f.u64s("seed")?;
    let steps = f.u64s("steps")?;
    let status = f
        .strings("status")?
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Status>()
                .map_err(|e| ResultsError::schema(path, format!("column `status`, row {i}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let sample_data = f.bools("sample_data")?;
    let mut metric_columns: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for name in df.get_column_names() {
        if let Some(metric) = name.as_str().strip_prefix(METRIC_PREFIX) {
            metric_columns.push((metric.to_string(), f.opt_f64s(name.as_str())?));
        }
    }

    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut take = |name: &str| {
            std::mem::take(&mut text.get_mut(name).expect("every text column was read")[i])
        };
        rows.push(ResultRow {
            run_id: take("run_id"),
            sweep: take("sweep"),
            config_json: take("config_json"),
            method: take("method"),
            forms: take("forms"),
            positions: take("positions"),
            insertions: take("insertions"),
            compositions: take("compositions"),
            budgets: take("budgets"),
            backbone: take("backbone"),
            task: take("task"),
            split: take("split"),
            metrics: metric_columns
                .iter()
                .filter_map(|(name, values)| values[i].map(|v| (name.clone(), v)))
                .collect(),
            main_metric: take("main_metric"),
            trainable_params: trainable_params[i],
            trainable_with_head: trainable_with_head[i],
            percent_trainable: percent_trainable[i],
            percent_deployed: percent_deployed[i],
            stored_params: stored_params[i],
            peak_memory_bytes: peak_memory_bytes[i],
            train_samples_per_s: train_samples_per_s[i],
            wall_s: wall_s[i],
            adapter_bytes: adapter_bytes[i],
            seed: seed[i],
            steps: steps[i],
            backend: take("backend"),
            device: take("device"),
            peftgrid_version: take("peftgrid_version"),
            git_commit: take("git_commit"),
            status: status[i],
            note: take("note"),
            sample_data: sample_data[i],
            finished_at: take("finished_at"),
        });
    }
    Ok(rows)
}

/// The non-null String columns (besides `status`).
const TEXT_COLUMNS: [&str; 19] = [
    "run_id",
    "sweep",
    "config_json",
    "method",
    "forms",
    "positions",
    "insertions",
    "compositions",
    "budgets",
    "backbone",
    "task",
    "split",
    "main_metric",
    "backend",
    "device",
    "peftgrid_version",
    "git_commit",
    "note",
    "finished_at",
];
