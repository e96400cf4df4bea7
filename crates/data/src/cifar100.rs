//! CIFAR-100 from its binary version (`cifar-100-binary.tar.gz`: `train.bin`, `test.bin`, records
//! of 3,074 bytes: coarse label, fine label, 1,024 red, 1,024 green, 1,024 blue bytes, each plane
//! row-major 32×32) or Hugging Face's `uoft-cs/cifar100` Parquet (`img` struct with PNG `bytes`,
//! `fine_label`, `coarse_label`). Labels are the fine labels (100 classes).

use std::path::{Path, PathBuf};

use crate::error::{read_file, read_text, DataError, Result};
use crate::vision::{ImageExample, ImageSource};
use crate::{pq, Split};

/// Bytes per record of the binary version.
pub const RECORD_BYTES: usize = 3_074;
/// Side of a CIFAR image.
pub const SIDE: usize = 32;
/// Fine classes.
pub const NUM_CLASSES: usize = 100;
/// Coarse classes.
pub const NUM_COARSE: usize = 20;

/// Where CIFAR-100 is published, for "missing file" errors.
pub const SOURCE_HINT: &str = "CIFAR-100 comes from https://www.cs.toronto.edu/~kriz/cifar.html \
     (cifar-100-binary.tar.gz) or https://huggingface.co/datasets/uoft-cs/cifar100 (Parquet)";

fn check_split(split: Split) -> Result<()> {
    match split {
        Split::Train | Split::Test => Ok(()),
        other => Err(DataError::Invalid(format!(
            "CIFAR-100 has no split `{other}`; its splits are train and test \
             (hold a validation set out of train)"
        ))),
    }
}

/// The folders looked in: `dir`, `dir/cifar-100-binary` (the tarball's folder), `dir/cifar100`.
fn dirs(dir: &Path) -> [PathBuf; 3] {
    [
        dir.to_path_buf(),
        dir.join("cifar-100-binary"),
        dir.join("cifar100"),
    ]
}

/// The files a split would be read from: `<split>.bin`, or Parquet shards.
pub fn locate(dir: &Path, split: Split) -> Result<Vec<PathBuf>> {
    check_split(split)?;
    for d in dirs(dir) {
        let bin = d.join(format!("{}.bin", split.as_str()));
        if bin.is_file() {
            return Ok(vec![bin]);
        }
        let shards = pq::shards(&d, split.as_str());
        if !shards.is_empty() {
            return Ok(shards);
        }
    }
    Err(DataError::Missing {
        what: format!("CIFAR-100 {split}"),
        path: dir.join(format!("{}.bin", split.as_str())),
        hint: format!(
            " (nor {}); {SOURCE_HINT}",
            dir.join(format!("{}-00000-of-00001.parquet", split.as_str()))
                .display()
        ),
    })
}

/// Loads one split (train: 50,000 images, test: 10,000).
pub fn load(dir: &Path, split: Split) -> Result<Vec<ImageExample>> {
    let files = locate(dir, split)?;
    let mut out = Vec::new();
    for f in &files {
        if f.extension().is_some_and(|e| e == "bin") {
            out.extend(read_bin(f)?);
        } else {
            out.extend(read_parquet(f)?);
        }
    }
    Ok(out)
}

/// Reads a binary file of 3,074-byte records into raw 32×32 RGB examples.
pub fn read_bin(path: &Path) -> Result<Vec<ImageExample>> {
    let bytes = read_file(path, "CIFAR-100 binary", SOURCE_HINT)?;
    if bytes.len() % RECORD_BYTES != 0 {
        return Err(DataError::format(
            path,
            format!(
                "size {} bytes is not a multiple of the {RECORD_BYTES}-byte CIFAR-100 record \
                 ({} whole records and {} bytes left over); the file is truncated or not \
                 CIFAR-100 binary",
                bytes.len(),
                bytes.len() / RECORD_BYTES,
                bytes.len() % RECORD_BYTES
            ),
        ));
    }
    let plane = SIDE * SIDE;
    let name = path.display().to_string();
    let mut out = Vec::with_capacity(bytes.len() / RECORD_BYTES);
    for (i, rec) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let (coarse, fine) = (rec[0] as usize, rec[1] as usize);
        if fine >= NUM_CLASSES {
            return Err(DataError::value(
                path,
                format!("record {i}"),
                "fine label",
                format!("{fine} is outside 0..{NUM_CLASSES}"),
            ));
        }
        if coarse >= NUM_COARSE {
            return Err(DataError::value(
                path,
                format!("record {i}"),
                "coarse label",
                format!("{coarse} is outside 0..{NUM_COARSE}"),
            ));
        }
        let px = &rec[2..];
        let mut rgb = vec![0u8; plane * 3];
        for (k, dst) in rgb.chunks_exact_mut(3).enumerate() {
            dst[0] = px[k];
            dst[1] = px[plane + k];
            dst[2] = px[2 * plane + k];
        }
        out.push(ImageExample {
            image: ImageSource::Raw {
                width: SIDE,
                height: SIDE,
                rgb,
            },
            label: fine,
            origin: format!("{name} record {i}"),
        });
    }
    Ok(out)
}

fn read_parquet(path: &Path) -> Result<Vec<ImageExample>> {
    let t = pq::read(path, &["img", "fine_label"], &["coarse_label"])?;
    let bytes = t.struct_binary("img", "bytes")?;
    let labels = t.ints("fine_label")?;
    let name = path.display().to_string();
    let mut out = Vec::with_capacity(bytes.len());
    for (row, (b, l)) in bytes.into_iter().zip(labels).enumerate() {
        let label = match l {
            Some(l) if (0..NUM_CLASSES as i64).contains(&l) => l as usize,
            other => {
                return Err(DataError::value(
                    path,
                    format!("row {row}"),
                    "fine_label",
                    match other {
                        Some(v) => format!("{v} is outside 0..{NUM_CLASSES}"),
                        None => "null".into(),
                    },
                ))
            }
        };
        let Some(b) = b else {
            return Err(DataError::value(
                path,
                format!("row {row}"),
                "img.bytes",
                "null",
            ));
        };
        out.push(ImageExample {
            image: ImageSource::Encoded(b),
            label,
            origin: format!("{name} row {row}"),
        });
    }
    Ok(out)
}

/// The fine label names from `fine_label_names.txt` (one per line), when the file is there.
pub fn fine_label_names(dir: &Path) -> Result<Option<Vec<String>>> {
    for d in dirs(dir) {
        let p = d.join("fine_label_names.txt");
        if p.is_file() {
            let text = read_text(&p, "CIFAR-100 label names", SOURCE_HINT)?;
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            if names.len() != NUM_CLASSES {
                return Err(DataError::format(
                    &p,
                    format!("{} names, expected {NUM_CLASSES}", names.len()),
                ));
            }
            return Ok(Some(names));
        }
    }
    Ok(None)
}
