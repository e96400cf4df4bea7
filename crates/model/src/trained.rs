//! A run's trainable tensors as one safetensors file, keyed by their module paths
//! (`head.out.weight`, `layers.0.sites.query.mods.0.…`): what a run starts from
//! (`init_weights`: another framework's initial weights, for a step-for-step comparison, or
//! another run's result) and what it ends with (`peftgrid sweep --save-trainable`).
//!
//! Why module paths and not Hugging Face's names: the file covers every method of the design
//! space, most of which have no peft or AdapterHub name, and it round-trips exactly. Values are
//! in peftgrid's layout (a `Linear` weight is `[in, out]`, the transpose of torch's).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use peftgrid_zoo::MethodSpec;

use crate::error::{ModelError, Result};
use crate::method::{role, stores};
use crate::tensors::{self, NamedTensor};
use crate::Model;

struct Collect<'a> {
    method: &'a MethodSpec,
    path: Vec<String>,
    out: BTreeMap<String, NamedTensor>,
}

impl<B: Backend> ModuleVisitor<B> for Collect<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if stores(self.method, role(&self.path)) {
            self.out.insert(
                self.path.join("."),
                NamedTensor::from_data(param.val().into_data()),
            );
        }
    }
}

/// Every tensor `method` trains on `model`, by module path.
pub fn trainable_tensors<B: Backend>(
    model: &Model<B>,
    method: &MethodSpec,
) -> BTreeMap<String, NamedTensor> {
    let mut c = Collect {
        method,
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    model.visit(&mut c);
    c.out
}

/// Writes [`trainable_tensors`] to `path`.
pub fn save_trainable<B: Backend>(
    model: &Model<B>,
    method: &MethodSpec,
    path: &Path,
) -> Result<()> {
    tensors::write(path, &trainable_tensors(model, method))
}

struct Replace<'a, B: Backend> {
    method: &'a MethodSpec,
    file: &'a Path,
    path: Vec<String>,
    tensors: BTreeMap<String, NamedTensor>,
    device: B::Device,
    error: Option<ModelError>,
    /// Trainable tensors the file lacks.
    missing: Vec<String>,
}

impl<B: Backend> ModuleMapper<B> for Replace<'_, B> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let key = self.path.join(".");
        if self.error.is_some() || !stores(self.method, role(&self.path)) {
            return param;
        }
        let Some(t) = self.tensors.remove(&key) else {
            self.missing.push(key);
            return param;
        };
        let expected = param.shape().to_vec();
        if t.shape != expected {
            self.error = Some(ModelError::ShapeMismatch {
                path: self.file.to_path_buf(),
                key,
                found: t.shape,
                expected,
                why: "the run's method and backbone give this parameter another shape".into(),
            });
            return param;
        }
        let value = match t.float::<B, D>(&key, &self.device) {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(e);
                return param;
            }
        };
        let id = param.id;
        let grad = param.val().is_require_grad();
        Param::initialized(id, value.set_require_grad(grad))
    }
}

/// Replaces the values of `model`'s trainable tensors by those in the safetensors file `path`
/// (keys as [`trainable_tensors`] writes them; trainable tensors the file lacks keep their
/// values). A key that is not a trainable tensor of this run, or a shape that differs, is an
/// error naming the file and the key: a silently ignored tensor would be another experiment.
pub fn load_trainable<B: Backend>(
    model: Model<B>,
    method: &MethodSpec,
    path: &Path,
    device: &B::Device,
) -> Result<Model<B>> {
    replace(model, method, path, device).map(|(model, _)| model)
}

/// [`load_trainable`], and every trainable tensor must be in the file: what an adapter file
/// needs, since a tensor it lacks would keep a fresh module's random values.
pub fn load_trainable_exact<B: Backend>(
    model: Model<B>,
    method: &MethodSpec,
    path: &Path,
    device: &B::Device,
) -> Result<Model<B>> {
    let (model, missing) = replace(model, method, path, device)?;
    match missing.first() {
        None => Ok(model),
        Some(key) => Err(ModelError::BadTensor {
            path: path.to_path_buf(),
            key: key.clone(),
            message: format!(
                "missing: the method trains {} tensor(s) the file does not hold: {}",
                missing.len(),
                abbreviate(&missing)
            ),
        }),
    }
}

/// Loads what the file holds; returns the model and the trainable tensors it lacked.
fn replace<B: Backend>(
    model: Model<B>,
    method: &MethodSpec,
    path: &Path,
    device: &B::Device,
) -> Result<(Model<B>, Vec<String>)> {
    let tensors = tensors::read(path)?;
    let mut replace = Replace {
        method,
        file: path,
        path: Vec::new(),
        tensors,
        device: device.clone(),
        error: None,
        missing: Vec::new(),
    };
    let model = model.map(&mut replace);
    if let Some(e) = replace.error {
        return Err(e);
    }
    if let Some(key) = replace.tensors.keys().next() {
        let known: Vec<String> = trainable_tensors(&model, method).into_keys().collect();
        return Err(ModelError::BadTensor {
            path: path.to_path_buf(),
            key: key.clone(),
            message: format!(
                "not a trainable tensor of this run ({} such key(s) in the file); it trains {}",
                replace.tensors.len(),
                abbreviate(&known)
            ),
        });
    }
    Ok((model, replace.missing))
}

fn abbreviate(keys: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut s = keys
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > SHOWN {
        s.push_str(&format!(", … ({} in all)", keys.len()));
    }
    s
}
