//! Tensors of a Hugging Face checkpoint (`model.safetensors` or `pytorch_model.bin`), read lazily
//! through burn-store and handed out by name with the shape the config implies.
//!
//! transformers saves `*For*` classes with the encoder under a prefix (`bert.`, `roberta.`,
//! `vit.`) and bare encoders without it; both are accepted, so a name is looked up with the
//! prefix first and then without it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::DType;
use burn_store::{ModuleStore, PytorchStore, SafetensorsStore, TensorSnapshot};

use crate::error::{ModelError, Result};

/// The weight files a Hugging Face folder may hold, in the order they are tried.
pub const WEIGHT_FILES: &[&str] = &["model.safetensors", "pytorch_model.bin"];

pub struct Checkpoint {
    path: PathBuf,
    tensors: BTreeMap<String, TensorSnapshot>,
    prefix: Option<String>,
    used: RefCell<BTreeSet<String>>,
    /// A stand-in that hands out random weights for every name (benchmarks of a config's size).
    random_seed: Option<u64>,
}

impl Checkpoint {
    /// Opens the weights of a Hugging Face model folder.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        for name in WEIGHT_FILES {
            let path = dir.join(name);
            if path.is_file() {
                return Self::open_file(&path);
            }
        }
        Err(ModelError::MissingFile {
            dir: dir.to_path_buf(),
            wanted: WEIGHT_FILES.join(" or "),
            hint: "A Hugging Face model folder holds config.json and model.safetensors \
                   (download them from the model's page on the Hugging Face Hub)."
                .into(),
        })
    }

    /// Opens one weight file; `.bin`/`.pt`/`.pth` are read as PyTorch pickles, the rest as
    /// safetensors.
    pub fn open_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(ModelError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let fail = |message: String| ModelError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let is_pickle = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("bin" | "pt" | "pth")
        );
        let tensors = if is_pickle {
            let mut store = PytorchStore::from_file(path);
            store
                .get_all_snapshots()
                .map_err(|e| fail(e.to_string()))?
                .clone()
        } else {
            let mut store = SafetensorsStore::from_file(path);
            store
                .get_all_snapshots()
                .map_err(|e| fail(e.to_string()))?
                .clone()
        };
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
            prefix: None,
            used: RefCell::new(BTreeSet::new()),
            random_seed: None,
        })
    }

    /// No file: every requested tensor is random (N(0, 0.02); norm gains 1, other vectors 0),
    /// reproducible from `seed` and the tensor's name, and optional tensors are absent. For
    /// benchmarking a model of a config's size without its weights.
    pub fn random(seed: u64) -> Self {
        Self {
            path: PathBuf::from("<random init>"),
            tensors: BTreeMap::new(),
            prefix: None,
            used: RefCell::new(BTreeSet::new()),
            random_seed: Some(seed),
        }
    }

    fn random_data(seed: u64, name: &str, shape: &[usize]) -> TensorData {
        let n: usize = shape.iter().product();
        if shape.len() == 1 {
            let v = if name.contains("norm") && name.ends_with("weight") {
                1.0
            } else {
                0.0
            };
            return TensorData::new(vec![v as f32; n], shape.to_vec());
        }
        // splitmix64 seeded by the name, Box–Muller for normals.
        let mut state = name.bytes().fold(seed ^ 0x9E37_79B9_7F4A_7C15, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
        });
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let values: Vec<f32> = (0..n)
            .map(|_| {
                let (u1, u2) = (next().max(1e-300), next());
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * 0.02) as f32
            })
            .collect();
        TensorData::new(values, shape.to_vec())
    }

    /// Looks names up under `prefix.` first (e.g. `bert.` for `BertForSequenceClassification`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_string());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    fn candidates(&self, name: &str) -> Vec<String> {
        match &self.prefix {
            Some(p) if !p.is_empty() => vec![format!("{p}.{name}"), name.to_string()],
            _ => vec![name.to_string()],
        }
    }

    /// The stored key that `name` resolves to, if any.
    pub fn resolve(&self, name: &str) -> Option<String> {
        self.candidates(name)
            .into_iter()
            .find(|k| self.tensors.contains_key(k))
    }

    /// The stored shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.resolve(name).map(|k| self.tensors[&k].shape.to_vec())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// Keys that no call to [`Checkpoint::tensor`] asked for (e.g. a pooler nobody uses, or
    /// buffers like `position_ids`).
    pub fn unused_keys(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.tensors
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect()
    }

    /// Reads `name` as float32 data of shape `expected`; `why` says where the expected shape
    /// comes from, for the error message.
    pub fn data(&self, name: &str, expected: &[usize], why: &str) -> Result<TensorData> {
        if let Some(seed) = self.random_seed {
            return Ok(Self::random_data(seed, name, expected));
        }
        let key = self
            .resolve(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.clone(),
                key: name.to_string(),
                tried: self
                    .candidates(name)
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let snapshot = &self.tensors[&key];
        if snapshot.shape.as_slice() != expected {
            return Err(ModelError::ShapeMismatch {
                path: self.path.clone(),
                key,
                found: snapshot.shape.to_vec(),
                expected: expected.to_vec(),
                why: why.to_string(),
            });
        }
        if !matches!(
            snapshot.dtype,
            DType::F32 | DType::F16 | DType::BF16 | DType::F64
        ) {
            return Err(ModelError::BadTensor {
                path: self.path.clone(),
                key,
                message: format!("dtype {:?} is not a float type", snapshot.dtype),
            });
        }
        let data = snapshot.to_data().map_err(|e| ModelError::BadTensor {
            path: self.path.clone(),
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.used.borrow_mut().insert(key);
        Ok(data.convert::<f32>())
    }

    /// Reads `name` into a float tensor of shape `expected` on `device`.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        why: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let data = self.data(name, &expected, why)?;
        Ok(Tensor::from_data(data, device))
    }

    /// Reads a PyTorch `nn.Linear` weight (`[out, in]`) transposed into Burn's `[in, out]`
    /// layout, so that the matmul reads it contiguously.
    pub fn linear_weight<B: Backend>(
        &self,
        name: &str,
        d_in: usize,
        d_out: usize,
        why: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>> {
        self.flattened_weight(name, &[d_out, d_in], why, device)
    }

    /// Reads a weight whose first axis is the output (`[out, ...]`, e.g. a `Conv2d` kernel
    /// `[out, c, kh, kw]`) as a `[prod(...), out]` matrix, the layout of a Burn `Linear` weight.
    pub fn flattened_weight<B: Backend>(
        &self,
        name: &str,
        shape: &[usize],
        why: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>> {
        let d_out = shape[0];
        let d_in: usize = shape[1..].iter().product();
        let data = self.data(name, shape, why)?;
        let values: Vec<f32> = data.into_vec().map_err(|e| ModelError::BadTensor {
            path: self.path.clone(),
            key: name.to_string(),
            message: format!("{e:?}"),
        })?;
        let mut transposed = vec![0f32; values.len()];
        for (o, row) in values.chunks_exact(d_in).enumerate() {
            for (i, v) in row.iter().enumerate() {
                transposed[i * d_out + o] = *v;
            }
        }
        Ok(Tensor::from_data(
            TensorData::new(transposed, [d_in, d_out]),
            device,
        ))
    }
}
