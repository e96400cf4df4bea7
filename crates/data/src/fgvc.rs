//! The FGVC sets (CUB-200-2011, NABirds, Oxford Flowers-102, Stanford Dogs, Stanford Cars) as
//! VPT splits them: `train.json`, `val.json`, `test.json` in the set's folder, each an object
//! mapping an image path (relative to the set's image root) to an integer label (0-based). The
//! image roots are VPT's: `images/` for CUB and NABirds, `Images/` for Stanford Dogs, the folder
//! itself for Flowers and Cars. CUB-200-2011's native layout (`images.txt`,
//! `image_class_labels.txt` with classes 1–200, `train_test_split.txt`, images under `images/`)
//! is read when there are no JSON files; it has train and test only.
//!
//! Images are not decoded here: examples are [`ImageSource::File`]s, checked to exist, and
//! decoded by [`crate::batch_pixels`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{read_text, DataError, Result};
use crate::vision::{ImageExample, ImageSource};
use crate::Split;

/// The five fine-grained sets of VPT's FGVC benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FgvcSet {
    Cub,
    Nabirds,
    Flowers,
    Dogs,
    Cars,
}

impl FgvcSet {
    pub const ALL: [FgvcSet; 5] = [
        FgvcSet::Cub,
        FgvcSet::Nabirds,
        FgvcSet::Flowers,
        FgvcSet::Dogs,
        FgvcSet::Cars,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FgvcSet::Cub => "cub",
            FgvcSet::Nabirds => "nabirds",
            FgvcSet::Flowers => "flowers",
            FgvcSet::Dogs => "dogs",
            FgvcSet::Cars => "cars",
        }
    }

    pub fn num_classes(self) -> usize {
        match self {
            FgvcSet::Cub => 200,
            FgvcSet::Nabirds => 555,
            FgvcSet::Flowers => 102,
            FgvcSet::Dogs => 120,
            FgvcSet::Cars => 196,
        }
    }

    /// The folder the JSON paths are relative to.
    pub fn image_root(self, root: &Path) -> PathBuf {
        match self {
            FgvcSet::Cub | FgvcSet::Nabirds => root.join("images"),
            FgvcSet::Dogs => root.join("Images"),
            FgvcSet::Flowers | FgvcSet::Cars => root.to_path_buf(),
        }
    }

    /// Where the images are published.
    pub fn source_hint(self) -> &'static str {
        match self {
            FgvcSet::Cub => "CUB-200-2011 comes from https://www.vision.caltech.edu/datasets/cub_200_2011/; VPT's split files from https://github.com/KMnP/vpt",
            FgvcSet::Nabirds => "NABirds comes from https://dl.allaboutbirds.org/nabirds; VPT's split files from https://github.com/KMnP/vpt",
            FgvcSet::Flowers => "Oxford Flowers-102 comes from https://www.robots.ox.ac.uk/~vgg/data/flowers/102/; VPT's split files from https://github.com/KMnP/vpt",
            FgvcSet::Dogs => "Stanford Dogs comes from http://vision.stanford.edu/aditya86/ImageNetDogs/; VPT's split files from https://github.com/KMnP/vpt",
            FgvcSet::Cars => "Stanford Cars comes from https://ai.stanford.edu/~jkrause/cars/car_dataset.html; VPT's split files from https://github.com/KMnP/vpt",
        }
    }
}

impl fmt::Display for FgvcSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FgvcSet {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let k: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Ok(match k.as_str() {
            "cub" | "cub200" | "cub2002011" => FgvcSet::Cub,
            "nabirds" => FgvcSet::Nabirds,
            "flowers" | "flowers102" | "oxfordflowers" | "oxfordflower" => FgvcSet::Flowers,
            "dogs" | "stanforddogs" => FgvcSet::Dogs,
            "cars" | "stanfordcars" => FgvcSet::Cars,
            _ => {
                return Err(DataError::Invalid(format!(
                    "unknown FGVC set `{s}`; expected one of cub, nabirds, flowers, dogs, cars"
                )))
            }
        })
    }
}

/// VPT's split file name for a split.
pub fn json_name(split: Split) -> Result<&'static str> {
    match split {
        Split::Train => Ok("train.json"),
        Split::Validation => Ok("val.json"),
        Split::Test => Ok("test.json"),
        other => Err(DataError::Invalid(format!(
            "FGVC sets have no split `{other}`; their splits are train, validation (val.json), test"
        ))),
    }
}

/// Which layout a split is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    VptJson,
    CubNative,
}

/// Finds the split's file: VPT's JSON, or (CUB, train/test) the native `images.txt`.
pub fn locate(root: &Path, set: FgvcSet, split: Split) -> Result<(Layout, PathBuf)> {
    let json = root.join(json_name(split)?);
    if json.is_file() {
        return Ok((Layout::VptJson, json));
    }
    let native = root.join("images.txt");
    if set == FgvcSet::Cub && native.is_file() {
        if split == Split::Validation {
            return Err(DataError::missing(
                "FGVC cub validation split",
                &json,
                "CUB's native layout has train and test only; VPT's val.json comes from https://github.com/KMnP/vpt",
            ));
        }
        return Ok((Layout::CubNative, native));
    }
    let hint = if set == FgvcSet::Cub {
        format!(" (nor {}); {}", native.display(), set.source_hint())
    } else {
        format!("; {}", set.source_hint())
    };
    Err(DataError::Missing {
        what: format!("FGVC {set} {split} split file"),
        path: json,
        hint,
    })
}

/// Loads one split of an FGVC set from its folder `root`.
pub fn load(root: &Path, set: FgvcSet, split: Split) -> Result<Vec<ImageExample>> {
    let (layout, file) = locate(root, set, split)?;
    let examples = match layout {
        Layout::VptJson => read_json(&file, set, &set.image_root(root))?,
        Layout::CubNative => read_cub_native(root, split)?,
    };
    for ex in &examples {
        if let ImageSource::File(p) = &ex.image {
            if !p.is_file() {
                return Err(DataError::missing(
                    format!("image listed in {}", file.display()),
                    p,
                    set.source_hint(),
                ));
            }
        }
    }
    Ok(examples)
}

fn read_json(path: &Path, set: FgvcSet, image_root: &Path) -> Result<Vec<ImageExample>> {
    let text = read_text(path, "VPT split file", set.source_hint())?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| DataError::format(path, format!("not valid JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| {
        DataError::format(path, "expected a JSON object mapping image path to label")
    })?;
    let n = set.num_classes() as i64;
    let mut out = Vec::with_capacity(obj.len());
    for (rel, label) in obj {
        let l = label
            .as_i64()
            .filter(|l| (0..n).contains(l))
            .ok_or_else(|| {
                DataError::value(
                    path,
                    format!("key \"{rel}\""),
                    "label",
                    format!("{label} is not a class index in 0..{n} for {set}"),
                )
            })?;
        let file = image_root.join(rel);
        out.push(ImageExample {
            origin: file.display().to_string(),
            image: ImageSource::File(file),
            label: l as usize,
        });
    }
    Ok(out)
}

/// Parses `<id> <value>` lines; errors name the file and line.
fn id_table(path: &Path) -> Result<Vec<(u64, String)>> {
    let text = read_text(path, "CUB-200-2011 file", FgvcSet::Cub.source_hint())?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (id, rest) = line.split_once(' ').ok_or_else(|| {
            DataError::value(
                path,
                format!("line {}", i + 1),
                "row",
                "expected `<id> <value>`",
            )
        })?;
        let id: u64 = id.parse().map_err(|_| {
            DataError::value(
                path,
                format!("line {}", i + 1),
                "id",
                format!("`{id}` is not an integer"),
            )
        })?;
        rows.push((id, rest.trim().to_string()));
    }
    Ok(rows)
}

fn read_cub_native(root: &Path, split: Split) -> Result<Vec<ImageExample>> {
    let images = id_table(&root.join("images.txt"))?;
    let labels_path = root.join("image_class_labels.txt");
    let split_path = root.join("train_test_split.txt");
    let labels: HashMap<u64, String> = id_table(&labels_path)?.into_iter().collect();
    let is_train: HashMap<u64, String> = id_table(&split_path)?.into_iter().collect();
    let want_train = split == Split::Train;
    let image_root = root.join("images");
    let mut out = Vec::new();
    for (id, rel) in images {
        let label = labels.get(&id).ok_or_else(|| {
            DataError::value(&labels_path, format!("image id {id}"), "class", "missing")
        })?;
        let class: usize = label
            .parse()
            .ok()
            .filter(|c| (1..=200).contains(c))
            .ok_or_else(|| {
                DataError::value(
                    &labels_path,
                    format!("image id {id}"),
                    "class",
                    format!("`{label}` is not a class in 1..=200"),
                )
            })?;
        let flag = is_train.get(&id).ok_or_else(|| {
            DataError::value(&split_path, format!("image id {id}"), "is_train", "missing")
        })?;
        let train = match flag.as_str() {
            "1" => true,
            "0" => false,
            other => {
                return Err(DataError::value(
                    &split_path,
                    format!("image id {id}"),
                    "is_train",
                    format!("`{other}` is not 0 or 1"),
                ))
            }
        };
        if train == want_train {
            let file = image_root.join(&rel);
            out.push(ImageExample {
                origin: file.display().to_string(),
                image: ImageSource::File(file),
                label: class - 1,
            });
        }
    }
    Ok(out)
}
