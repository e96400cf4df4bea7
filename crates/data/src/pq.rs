//! Parquet reading with polars: shard discovery, column checks and typed column extraction
//! whose errors name the file, row and column.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{DataError, Result};

/// The Parquet shards of `split` in `dir`: `<split>-*.parquet` or `<split>.parquet`, sorted by
/// name (Hugging Face's `train-00000-of-00003.parquet` order). Empty when there are none or the
/// directory does not exist.
pub(crate) fn shards(dir: &Path, split: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{split}-");
    let exact = format!("{split}.parquet");
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                return false;
            };
            name.ends_with(".parquet") && (name.starts_with(&prefix) || name == exact)
        })
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// A Parquet file read into memory, with its path for error messages.
pub(crate) struct Table {
    pub path: PathBuf,
    pub df: DataFrame,
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Runs a polars read of `path`. polars-parquet 0.55 panics on some malformed files (a page
/// header's unknown encoding is `unwrap`ped in `DataPageHeaderExt::encoding`), on this thread
/// or in its pool; the panic is caught here and reported as a Parquet error naming the file.
fn guarded<T>(path: &Path, read: impl FnOnce() -> PolarsResult<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(result) => result.map_err(|e| parquet_err(path, e)),
        Err(_) => Err(parquet_err(
            path,
            "the Parquet reader failed on malformed data",
        )),
    }
}

/// The column names of a Parquet file (reads only the footer).
pub(crate) fn column_names(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    let schema = guarded(path, || reader.schema())?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Reads `required` and whichever of `optional` exist. A missing required column is a
/// [`DataError::Columns`] that lists what was expected and what the file has.
pub(crate) fn read(path: &Path, required: &[&str], optional: &[&str]) -> Result<Table> {
    let found = column_names(path)?;
    let missing: Vec<String> = required
        .iter()
        .filter(|c| !found.iter().any(|f| f == *c))
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::Columns {
            path: path.to_path_buf(),
            missing,
            expected: required.iter().map(|c| c.to_string()).collect(),
            found,
        });
    }
    let mut columns: Vec<String> = required.iter().map(|c| c.to_string()).collect();
    for c in optional {
        if found.iter().any(|f| f == c) && !columns.iter().any(|x| x == c) {
            columns.push(c.to_string());
        }
    }
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let df = guarded(path, || {
        ParquetReader::new(file)
            .with_columns(Some(columns))
            .finish()
    })?;
    Ok(Table {
        path: path.to_path_buf(),
        df,
    })
}

impl Table {
    pub fn has(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    fn series(&self, name: &str) -> Result<&Series> {
        self.df
            .column(name)
            .map(|c| c.as_materialized_series())
            .map_err(|_| DataError::Columns {
                path: self.path.clone(),
                missing: vec![name.to_string()],
                expected: vec![name.to_string()],
                found: self
                    .df
                    .get_column_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
            })
    }

    fn wrong_type(&self, name: &str, dtype: &DataType, want: &str) -> DataError {
        DataError::format(
            &self.path,
            format!("column `{name}` has type {dtype}, expected {want}"),
        )
    }

    /// A non-null string column.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let s = self.series(name)?;
        strings_of(&self.path, name, s)
    }

    /// An integer column (any integer width); nulls are `None`.
    pub fn ints(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let s = self.series(name)?;
        ints_of(&self.path, name, s, self)
    }

    /// A numeric column read as floats; nulls are `None`.
    pub fn floats(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let s = self.series(name)?;
        if !s.dtype().is_primitive_numeric() {
            return Err(self.wrong_type(name, s.dtype(), "a number"));
        }
        let cast = s
            .cast(&DataType::Float64)
            .map_err(|e| parquet_err(&self.path, e))?;
        let ca = cast.f64().map_err(|e| parquet_err(&self.path, e))?;
        Ok(ca.iter().collect())
    }

    /// The named field of a struct column.
    fn field(&self, column: &str, field: &str) -> Result<Series> {
        let s = self.series(column)?;
        let st = s
            .struct_()
            .map_err(|_| self.wrong_type(column, s.dtype(), "a struct"))?;
        st.field_by_name(field).map_err(|_| {
            let names: Vec<String> = st
                .struct_fields()
                .iter()
                .map(|f| f.name().to_string())
                .collect();
            DataError::format(
                &self.path,
                format!(
                    "struct column `{column}` has no field `{field}` (its fields: {})",
                    names.join(", ")
                ),
            )
        })
    }

    /// A non-null string field of a struct column (`translation.en`).
    pub fn struct_strings(&self, column: &str, field: &str) -> Result<Vec<String>> {
        let s = self.field(column, field)?;
        strings_of(&self.path, &format!("{column}.{field}"), &s)
    }

    /// A binary field of a struct column (`img.bytes`); nulls are `None`.
    pub fn struct_binary(&self, column: &str, field: &str) -> Result<Vec<Option<Vec<u8>>>> {
        let s = self.field(column, field)?;
        let name = format!("{column}.{field}");
        let ca = s
            .binary()
            .map_err(|_| self.wrong_type(&name, s.dtype(), "binary"))?;
        Ok(ca.iter().map(|b| b.map(|b| b.to_vec())).collect())
    }
}

fn strings_of(path: &Path, name: &str, s: &Series) -> Result<Vec<String>> {
    let ca = s.str().map_err(|_| {
        DataError::format(
            path,
            format!("column `{name}` has type {}, expected string", s.dtype()),
        )
    })?;
    let mut out = Vec::with_capacity(ca.len());
    for (row, v) in ca.iter().enumerate() {
        match v {
            Some(v) => out.push(v.to_string()),
            None => return Err(DataError::value(path, format!("row {row}"), name, "null")),
        }
    }
    Ok(out)
}

fn ints_of(path: &Path, name: &str, s: &Series, t: &Table) -> Result<Vec<Option<i64>>> {
    if !s.dtype().is_integer() {
        return Err(t.wrong_type(name, s.dtype(), "an integer"));
    }
    let cast = s.cast(&DataType::Int64).map_err(|e| parquet_err(path, e))?;
    let ca = cast.i64().map_err(|e| parquet_err(path, e))?;
    Ok(ca.iter().collect())
}
