//! peftgrid's own adapter folder, which every method of the design space fits:
//!
//! - `method.json`: the method as deployed ([`MethodSpec::deployed`]), the task head its head
//!   tensors belong to, and the backbone it was trained on;
//! - `adapter.safetensors`: every tensor the method trains, under its module path
//!   (`Text.layers.0.sites.v.mods.0.LowRank.a`, `Text.shared.prefixes.0.source.Flat`,
//!   `Text.head.out.weight`),
//!   in peftgrid's layout (a `Linear` weight is `[in, out]`).
//!
//! Nothing here knows a form: the tensors are whatever the modules hold, so a new form persists
//! as soon as it is a module. What is saved is what is deployed: a prefix's training MLP is
//! folded into its keys and values first ([`Model::deploy`]), as peft stores a prefix, and a
//! module's constants (a sparse adapter's mask) are re-derived from its tensors on loading.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use peftgrid_zoo::{BackboneShape, MethodSpec};
use serde::{Deserialize, Serialize};

use super::folder::{about_config, config_error};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::method::apply;
use crate::trained::{load_trainable_exact, trainable_tensors};
use crate::{tensors, HeadSpec, Model};

pub const CONFIG_FILE: &str = "method.json";
pub const WEIGHT_FILE: &str = "adapter.safetensors";
/// `format` in `method.json`, so that another program's `method.json` is not taken for one.
pub const FORMAT: &str = "peftgrid-adapter";
pub const VERSION: u32 = 1;

/// `method.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub format: String,
    pub version: u32,
    /// The method the tensors are of, as deployed.
    pub method: MethodSpec,
    /// What was trained, where it differs from `method` (a prefix trained through an MLP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_as: Option<MethodSpec>,
    /// The head the `head.*` tensors make, when the method trains the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadSpec>,
    /// The backbone the adapter was trained on; loading onto another is refused.
    pub backbone: BackboneShape,
}

/// Whether `dir` holds an adapter in this format.
pub fn is_native(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}

/// Writes `method` as trained on `model` to `dir` (created if needed) and returns the size of
/// `adapter.safetensors` in bytes. `model` itself is left as it is (deploying works on a copy).
pub fn save<B: Backend>(
    model: &Model<B>,
    config: &ModelConfig,
    method: &MethodSpec,
    dir: &Path,
) -> Result<u64> {
    let mut deployed = model.clone();
    deployed.deploy();
    let spec = method.deployed();
    let tensors = trainable_tensors(&deployed, &spec);
    let adapter = AdapterConfig {
        format: FORMAT.to_string(),
        version: VERSION,
        trained_as: (spec != *method).then(|| method.clone()),
        head: if spec.train_head {
            deployed.head_spec()
        } else {
            None
        },
        method: spec,
        backbone: config.shape(),
    };
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let weights = dir.join(WEIGHT_FILE);
    tensors::write(&weights, &tensors)?;
    let json = serde_json::to_string_pretty(&adapter).map_err(|e| ModelError::Unsupported {
        what: format!("method `{}` as {CONFIG_FILE}", adapter.method.name),
        why: e.to_string(),
    })?;
    let config_path = dir.join(CONFIG_FILE);
    std::fs::write(&config_path, json + "\n").map_err(|source| ModelError::Io {
        path: config_path,
        source,
    })?;
    std::fs::metadata(&weights)
        .map(|m| m.len())
        .map_err(|source| ModelError::Io {
            path: weights,
            source,
        })
}

/// `dir/method.json`, parsed and checked, with its path.
pub fn read_config(dir: &Path) -> Result<(PathBuf, AdapterConfig)> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
        path: path.clone(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| config_error(&path, "(file)", e.to_string()))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        other => {
            return Err(config_error(
                &path,
                "format",
                format!("is {other:?}, not \"{FORMAT}\": not a peftgrid adapter"),
            ))
        }
    }
    let adapter: AdapterConfig =
        serde_json::from_value(value).map_err(|e| config_error(&path, "(file)", e.to_string()))?;
    if adapter.version != VERSION {
        return Err(config_error(
            &path,
            "version",
            format!(
                "{} is not a version this build reads ({VERSION})",
                adapter.version
            ),
        ));
    }
    adapter
        .method
        .check()
        .map_err(|e| config_error(&path, "method", e.to_string()))?;
    Ok((path, adapter))
}

/// Puts the adapter in `dir` on `model` (a fresh load of the backbone it was trained on) and
/// returns its method. The head, if the adapter has one, replaces the model's.
pub fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<MethodSpec> {
    let (path, adapter) = read_config(dir)?;
    check_backbone(&path, &adapter.backbone, &config.shape())?;
    if let Some(head) = adapter.head {
        model.set_new_head(config, head.num_labels, head.pooling, device);
    }
    apply(model, config, &adapter.method, device).map_err(|e| about_config(&path, e))?;
    let weights = dir.join(WEIGHT_FILE);
    if !weights.is_file() {
        return Err(ModelError::MissingFile {
            dir: dir.to_path_buf(),
            wanted: WEIGHT_FILE.to_string(),
            hint: format!(
                "`peftgrid sweep` writes it beside {CONFIG_FILE} (results/<sweep>/adapters/<run>/)"
            ),
        });
    }
    *model = load_trainable_exact(model.clone(), &adapter.method, &weights, device)?;
    model.restore_constants();
    Ok(adapter.method)
}

/// The adapter's backbone must have the layout of this one (its head may differ: the adapter
/// brings its own).
fn check_backbone(path: &Path, trained_on: &BackboneShape, this: &BackboneShape) -> Result<()> {
    let layout = |s: &BackboneShape| {
        (
            s.family.clone(),
            s.hidden,
            s.heads,
            s.attention_dim,
            s.ffn,
            s.stacks.clone(),
        )
    };
    if layout(trained_on) == layout(this) {
        return Ok(());
    }
    let describe = |s: &BackboneShape| {
        format!(
            "{} (hidden {}, {} heads, ffn {}, {} layers)",
            s.family,
            s.hidden,
            s.heads,
            s.ffn,
            s.layers()
        )
    };
    Err(config_error(
        path,
        "backbone",
        format!(
            "the adapter was trained on {}; this model is {}",
            describe(trained_on),
            describe(this)
        ),
    ))
}
