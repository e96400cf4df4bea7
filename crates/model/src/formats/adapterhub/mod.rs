//! AdapterHub (`adapters` 1.x) interop: an adapter folder (`adapter_config.json` with
//! `adapter.safetensors` or `pytorch_adapter.bin`) becomes a [`MethodSpec`] placed on the model,
//! and a method AdapterHub can express is written back in the same format.
//!
//! Every AdapterHub placement is data in the design space (see `../shared/fixtures/adapters`):
//! - `is_parallel` → `Insertion::Parallel` (reads the sublayer input x);
//! - `original_ln_before: true` (Pfeiffer, UniPELT's adapter) → `Insertion::PostNorm`
//!   (reads LN(h + x), residual h, the LayerNorm applied again);
//! - otherwise (Houlsby, Compacter) → `Insertion::Sequential`;
//! - `mh_adapter` / `output_adapter` → `Position::Attention` / `Position::Ffn`;
//! - `scaling` s → `Composition::Scaled`, `"learned"` → `Composition::Learned`, `use_gating` →
//!   `Composition::Gated` (UniPELT; for LoRA the gate replaces α/r);
//! - LoRA with `composition_mode: "scale"` is (IA)³: `Rescale` on the output of k, v and W₁;
//! - prompt tuning prepends at `Position::Embeddings` (after positions and LayerNorm);
//! - `"union"` (MAM, UniPELT) is the list of its parts.
//!
//! One file per form AdapterHub has: [`bottleneck`] (Houlsby, Pfeiffer, parallel, Compacter),
//! [`low_rank`] (LoRA), [`rescale`] ((IA)³, AdapterHub's LoRA in `scale` mode), [`prefix`] and
//! [`prompt`]. `part_config`'s match on [`Form`] names every form of the design space: a form
//! added to the zoo does not compile until this format says whether it holds it.

mod bottleneck;
mod low_rank;
mod prefix;
mod prompt;
mod rescale;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use peftgrid_zoo::compose::Composer;
use peftgrid_zoo::{Activation, Form, MethodSpec, Modification, ModificationSpec, Position};
use serde_json::{json, Map, Value};

use super::folder::{about_config, config_error, open_weights, read_config, CONFIG_FILE};
use crate::checkpoint::Checkpoint;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::tensors::NamedTensor;
use crate::{method, Model};

/// The weight files AdapterHub writes, in the order they are looked for.
pub const WEIGHT_FILES: &[&str] = &["adapter.safetensors", "pytorch_adapter.bin"];
/// The `version` written into saved configs: the AdapterHub release whose format this follows.
pub const FORMAT_VERSION: &str = "adapters.1.3.0";

/// Whether `dir` holds an AdapterHub adapter (its config has `config` and no `peft_type`).
pub fn is_adapterhub(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(CONFIG_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v.get("config").is_some() && v.get("peft_type").is_none())
}

// ---- reading ----

/// One AdapterHub config (a part of a union), with the path for error messages.
struct Part<'a> {
    path: &'a Path,
    field: String,
    config: &'a Map<String, Value>,
}

impl Part<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ModelError {
        config_error(self.path, &format!("{}.{key}", self.field), message)
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(key, format!("{v} is not a boolean"))),
        }
    }

    fn number(&self, key: &str) -> Result<f64> {
        let v = self.get(key).ok_or_else(|| self.err(key, "missing"))?;
        v.as_f64()
            .ok_or_else(|| self.err(key, format!("{v} is not a number")))
    }

    fn str(&self, key: &str) -> Result<&str> {
        let v = self.get(key).ok_or_else(|| self.err(key, "missing"))?;
        v.as_str()
            .ok_or_else(|| self.err(key, format!("{v} is not a string")))
    }

    /// Refuses a setting peftgrid does not implement, instead of ignoring it.
    fn require(&self, key: &str, ok: impl Fn(&Value) -> bool, expected: &str) -> Result<()> {
        match self.get(key) {
            Some(v) if !ok(v) => Err(self.err(
                key,
                format!("{v} is not supported (peftgrid reads {expected})"),
            )),
            _ => Ok(()),
        }
    }

    fn architecture(&self) -> &str {
        self.get("architecture")
            .and_then(Value::as_str)
            .unwrap_or("bottleneck")
    }
}

fn activation(part: &Part, key: &str) -> Result<Activation> {
    Ok(match part.str(key)?.to_ascii_lowercase().as_str() {
        "relu" => Activation::Relu,
        "gelu" | "gelu_orig" => Activation::Gelu,
        "swish" | "silu" => Activation::Silu,
        "tanh" => Activation::Tanh,
        "linear" | "identity" => Activation::Identity,
        other => return Err(part.err(key, format!("activation `{other}` is not supported"))),
    })
}

fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "relu",
        Activation::Gelu => "gelu",
        Activation::Silu => "swish",
        Activation::Tanh => "tanh",
        Activation::Identity => "linear",
    }
}

/// The modifications one AdapterHub config amounts to.
fn translate(part: &Part, hidden: usize) -> Result<Vec<ModificationSpec>> {
    part.require(
        "leave_out",
        |v| v.as_array().is_some_and(|a| a.is_empty()),
        "[] (every layer)",
    )?;
    match part.architecture() {
        "bottleneck" => bottleneck::translate(part, hidden),
        // LoRA, or (IA)³ in `scale` mode.
        "lora" => low_rank::translate(part),
        "prefix_tuning" => prefix::translate(part),
        "prompt_tuning" => prompt::translate(part),
        other => Err(part.err(
            "architecture",
            format!("`{other}` is not supported (bottleneck, lora, prefix_tuning, prompt_tuning and union are)"),
        )),
    }
}

/// An AdapterHub adapter folder, read.
pub struct AdapterHubAdapter {
    pub dir: PathBuf,
    pub name: String,
    pub method: MethodSpec,
    weights: Checkpoint,
}

impl AdapterHubAdapter {
    /// Reads the config and opens the weights; `config` is the base model's, for checks.
    pub fn open(dir: &Path, config: &ModelConfig) -> Result<Self> {
        let (path, root) = read_config(dir)?;
        let name = root
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| config_error(&path, "name", "missing"))?
            .to_string();
        if let Some(t) = root.get("model_type").and_then(Value::as_str) {
            if t != config.model_type {
                return Err(config_error(
                    &path,
                    "model_type",
                    format!("`{t}`, but the base model is `{}`", config.model_type),
                ));
            }
        }
        let hidden = config.dims().hidden;
        if let Some(h) = root.get("hidden_size").and_then(Value::as_u64) {
            if h as usize != hidden {
                return Err(config_error(
                    &path,
                    "hidden_size",
                    format!("{h}, but the base model's hidden_size is {hidden}"),
                ));
            }
        }
        let top = root
            .get("config")
            .and_then(Value::as_object)
            .ok_or_else(|| config_error(&path, "config", "missing or not an object"))?;
        let parts: Vec<(String, &Map<String, Value>)> = if top
            .get("architecture")
            .and_then(Value::as_str)
            == Some("union")
        {
            top.get("configs")
                .and_then(Value::as_array)
                .ok_or_else(|| config_error(&path, "config.configs", "missing"))?
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    c.as_object()
                        .map(|o| (format!("config.configs[{i}]"), o))
                        .ok_or_else(|| {
                            config_error(&path, &format!("config.configs[{i}]"), "not an object")
                        })
                })
                .collect::<Result<_>>()?
        } else {
            vec![("config".to_string(), top)]
        };
        let mut method = MethodSpec::new(&name);
        for (field, config) in parts {
            let part = Part {
                path: &path,
                field,
                config,
            };
            for m in translate(&part, hidden)? {
                method = method.with(m);
            }
        }
        let weights = open_weights(
            dir,
            WEIGHT_FILES,
            "AdapterHub's model.save_adapter(dir, name) writes it next to adapter_config.json.",
        )?
        .with_prefix(config.base_prefix());
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
            method,
            weights,
        })
    }
}

/// Where AdapterHub keeps a per-layer module's tensors, relative to a bare model
/// (`encoder.layer…`); `None` for positions AdapterHub places nothing at.
fn module_key(layer: usize, position: Position, name: &str) -> Option<String> {
    let p = format!("encoder.layer.{layer}");
    Some(match position {
        Position::Attention => format!("{p}.attention.output.adapters.{name}"),
        Position::Ffn => format!("{p}.output.adapters.{name}"),
        Position::Q => format!("{p}.attention.self.query.loras.{name}"),
        Position::K => format!("{p}.attention.self.key.loras.{name}"),
        Position::V => format!("{p}.attention.self.value.loras.{name}"),
        Position::FfnIn => format!("{p}.intermediate.dense.loras.{name}"),
        Position::FfnOut => format!("{p}.output.dense.loras.{name}"),
        Position::Head => format!("{p}.attention.self.prefix_tuning.prefix_gates.{name}"),
        Position::Input | Position::Embeddings | Position::O | Position::Block => return None,
    })
}

/// What reading a module's tensors needs: the weights, the adapter's name, the device.
struct Reader<'a, B: Backend> {
    weights: &'a Checkpoint,
    name: &'a str,
    device: &'a B::Device,
}

impl<B: Backend> Reader<'_, B> {
    const WHY: &'static str = "the adapter config and the model's widths";

    fn tensor<const D: usize>(&self, key: &str, shape: [usize; D]) -> Result<Tensor<B, D>> {
        self.weights.tensor(key, shape, Self::WHY, self.device)
    }

    /// A PyTorch `nn.Linear` weight `[out, in]` as ours, `[in, out]`.
    fn linear_weight(&self, key: &str, d_in: usize, d_out: usize) -> Result<Tensor<B, 2>> {
        self.weights
            .linear_weight(key, d_in, d_out, Self::WHY, self.device)
    }

    /// `key.weight` and `key.bias` into `l`.
    fn linear(&self, key: &str, l: &mut Linear<B>) -> Result<()> {
        let [d_in, d_out] = l.weight.dims();
        l.weight = Param::from_tensor(self.linear_weight(&format!("{key}.weight"), d_in, d_out)?);
        l.bias = Some(Param::from_tensor(
            self.tensor(&format!("{key}.bias"), [d_out])?,
        ));
        Ok(())
    }

    /// A learned scaling (`key.scaling`) and UniPELT's gate (`key.gate`), where the composition
    /// has them.
    fn composer(&self, key: &str, c: &mut Composer<B>) -> Result<()> {
        if let Some(s) = &mut c.learned {
            *s = Param::from_tensor(self.weights.tensor(
                &format!("{key}.scaling"),
                [1],
                "scaling \"learned\"",
                self.device,
            )?);
        }
        if let Some(g) = &mut c.gate {
            self.linear(&format!("{key}.gate"), g)?;
        }
        Ok(())
    }
}

/// Loads an AdapterHub adapter onto `model` and returns the method it amounts to.
pub fn load_adapter<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<MethodSpec> {
    if !matches!(model, Model::Text(_)) {
        return Err(config_error(
            &dir.join("adapter_config.json"),
            "model_type",
            format!(
                "AdapterHub adapters are read for BERT/RoBERTa here, not `{}`",
                config.model_type
            ),
        ));
    }
    let adapter = AdapterHubAdapter::open(dir, config)?;
    method::apply(model, config, &adapter.method, device)
        .map_err(|e| about_config(&dir.join(CONFIG_FILE), e))?;
    let r = Reader {
        weights: &adapter.weights,
        name: &adapter.name,
        device,
    };
    let layers = model.num_layers();
    let d = config.dims().hidden;
    let parts = model.parts_mut();

    // Model-level: prompts and the modules layers share.
    for m in parts.embedding_output.mods.iter_mut() {
        if let Modification::Prompt(p) = m {
            prompt::load(&r, p, d)?;
        }
    }
    for rule in parts.shared.phm_rules.iter_mut() {
        bottleneck::load_phm_rule(&r, rule)?;
    }
    for g in parts.shared.prefixes.iter_mut() {
        prefix::load_generator(&r, g, layers, d)?;
    }

    // Per layer and position.
    for (layer, sites) in parts.layers.into_iter().enumerate() {
        for position in Position::ALL {
            let (Some(site), Some(key)) =
                (sites.get_mut(position), module_key(layer, position, r.name))
            else {
                continue;
            };
            for m in site.mods.iter_mut() {
                match m {
                    Modification::Bottleneck(b) => bottleneck::fill(&r, b, &key)?,
                    Modification::LowRank(l) => low_rank::fill(&r, l, &key)?,
                    Modification::Rescale(s) => rescale::fill(&r, s, &key)?,
                    Modification::Prefix(p) => prefix::fill_gate(&r, p, &key)?,
                    // Prepended at the embedding output, read with the model-level modules.
                    Modification::Prompt(_) => {}
                    // `translate` never yields the others (`part_config` names each).
                    other => {
                        return Err(ModelError::BadTensor {
                            path: r.weights.path().to_path_buf(),
                            key,
                            message: format!("`{}` has no AdapterHub form", other.form()),
                        })
                    }
                }
            }
        }
    }

    // Anything left in the file was not understood: say so rather than drop it. The per-layer
    // copies of a prefix module are aliases of `prefix_tuning.prefix_tunings.*` (see the
    // fixtures' README), so they are not counted.
    let unexpected: Vec<String> = r
        .weights
        .unused_keys()
        .into_iter()
        .filter(|k| !k.contains(".prefix_tuning.pool.prefix_tunings."))
        .collect();
    if !unexpected.is_empty() {
        return Err(ModelError::BadTensor {
            path: r.weights.path().to_path_buf(),
            key: unexpected.join(", "),
            message: format!(
                "not part of the method adapter_config.json describes ({})",
                adapter.method.name
            ),
        });
    }
    Ok(adapter.method)
}

// ---- writing ----

fn unsupported(method: &MethodSpec, why: impl Into<String>) -> ModelError {
    ModelError::Unsupported {
        what: format!("method `{}` in AdapterHub's format", method.name),
        why: why.into(),
    }
}

/// The AdapterHub config of one modification (resolved, with every key the library writes).
fn part_config(method: &MethodSpec, m: &ModificationSpec, hidden: usize) -> Result<Value> {
    match &m.form {
        Form::Bottleneck(b) => bottleneck::config(method, m, b, hidden),
        Form::LowRank(_) => low_rank::config(method, m),
        Form::Rescale(r) => rescale::config(method, m, r),
        Form::Prefix(p) => prefix::config(method, m, p),
        Form::Prompt(_) => prompt::config(method, m),
        Form::Kronecker(_) => Err(unsupported(
            method,
            "AdapterHub has no `kronecker` form (KronA)",
        )),
        Form::TokenBias(_) => Err(unsupported(
            method,
            "AdapterHub has no `token_bias` form (AdapterBias)",
        )),
        // peft's format holds these (DoRA, LoHa, LoKr, VeRA, FourierFT, AdaLoRA, MiSS, OFT,
        // BOFT, HRA); AdapterHub's has none of them.
        Form::WeightDecomposed(_)
        | Form::Hadamard(_)
        | Form::FactoredKronecker(_)
        | Form::RandomBasis(_)
        | Form::Spectral(_)
        | Form::SingularValue(_)
        | Form::ShardShared(_)
        | Form::Orthogonal(_)
        | Form::ButterflyOrthogonal(_)
        | Form::Householder(_) => Err(unsupported(
            method,
            format!(
                "AdapterHub has no `{}` form (peft's format has: `convert --to peft`)",
                m.form.name()
            ),
        )),
        Form::Rational(_) => Err(unsupported(
            method,
            "AdapterHub has no `rational` form (RAFT's activation)",
        )),
        Form::DeepPrompt(_) => Err(unsupported(
            method,
            "AdapterHub has no per-layer prompts (VPT-deep)",
        )),
    }
}

/// Writes `method` as it sits on `model` in AdapterHub's format: `adapter_config.json` and
/// `adapter.safetensors` (load it with `model.load_adapter(dir, use_safetensors=True)`).
/// Methods AdapterHub cannot express (KronA, AdapterBias, per-head or sparse adapters,
/// unfrozen pretrained groups, modifications at other positions) are refused by name.
pub fn save_adapter<B: Backend>(
    model: &Model<B>,
    config: &ModelConfig,
    method: &MethodSpec,
    name: &str,
    dir: &Path,
) -> Result<()> {
    if !method.unfreeze.is_empty() {
        return Err(unsupported(
            method,
            "an AdapterHub adapter cannot unfreeze pretrained parameters",
        ));
    }
    let hidden = config.dims().hidden;
    let mut parts = Vec::new();
    let mut families = std::collections::BTreeSet::new();
    for m in &method.modifications {
        let part = part_config(method, m, hidden)?;
        let family = part
            .get("architecture")
            .and_then(Value::as_str)
            .unwrap_or("bottleneck")
            .to_string();
        // Two configs of one family would write their tensors under the same names.
        if !families.insert(family.clone()) {
            return Err(unsupported(
                method,
                format!("two `{family}` modifications in one adapter"),
            ));
        }
        parts.push(part);
    }
    let inner = match parts.len() {
        0 => return Err(unsupported(method, "it has no modifications")),
        1 => parts.remove(0),
        _ => json!({ "architecture": "union", "configs": parts }),
    };
    let model_class = match config.head {
        crate::config::HeadKind::None => format!("{}Model", class_stem(&config.model_type)),
        _ => format!(
            "{}ForSequenceClassification",
            class_stem(&config.model_type)
        ),
    };
    let root = json!({
        "config": inner,
        "hidden_size": hidden,
        "model_class": model_class,
        "model_name": "",
        "model_type": config.model_type,
        "name": name,
        "version": FORMAT_VERSION,
    });
    let tensors = adapter_tensors(model, method, name)?;
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let config_path = dir.join("adapter_config.json");
    // A JSON value's pretty form (`{:#}`) cannot fail.
    let text = format!("{root:#}");
    std::fs::write(&config_path, text).map_err(|source| ModelError::Io {
        path: config_path,
        source,
    })?;
    crate::tensors::write(&dir.join(WEIGHT_FILES[0]), &tensors)
}

fn class_stem(model_type: &str) -> &str {
    match model_type {
        "bert" => "Bert",
        "roberta" => "Roberta",
        other => other,
    }
}

/// Tensors being written, under AdapterHub's names.
#[derive(Default)]
struct Out {
    tensors: BTreeMap<String, NamedTensor>,
}

impl Out {
    fn put(&mut self, key: String, data: TensorData) {
        self.tensors.insert(key, NamedTensor::from_data(data));
    }

    /// A `Linear` in PyTorch's `nn.Linear` layout: weight `[out, in]`.
    fn linear<B: Backend>(&mut self, key: &str, l: &Linear<B>) {
        self.put(
            format!("{key}.weight"),
            l.weight.val().transpose().into_data(),
        );
        if let Some(b) = &l.bias {
            self.put(format!("{key}.bias"), b.val().into_data());
        }
    }

    /// A learned scaling and UniPELT's gate, where the composition has them.
    fn composer<B: Backend>(&mut self, key: &str, c: &Composer<B>) {
        if let Some(s) = &c.learned {
            self.put(format!("{key}.scaling"), s.val().into_data());
        }
        if let Some(g) = &c.gate {
            self.linear(&format!("{key}.gate"), g);
        }
    }
}

/// Every tensor of the method on `model` under AdapterHub's names (bare-model keys).
fn adapter_tensors<B: Backend>(
    model: &Model<B>,
    method: &MethodSpec,
    name: &str,
) -> Result<BTreeMap<String, NamedTensor>> {
    let mut out = Out::default();
    let (embedding_output, shared, layers) = match model {
        Model::Text(m) => (&m.embedding_output, &m.shared, &m.layers),
        Model::Vit(m) => (&m.embedding_output, &m.shared, &m.layers),
        Model::Seq2Seq(_) => return Err(super::seq2seq_unsupported("AdapterHub weights")),
    };
    for m in &embedding_output.mods {
        if let Modification::Prompt(p) = m {
            prompt::write(&mut out, p, name);
        }
    }
    for rule in &shared.phm_rules {
        bottleneck::write_phm_rule(&mut out, rule, name);
    }
    for g in &shared.prefixes {
        prefix::write_generator(&mut out, g, name, layers.len());
    }
    for (i, layer) in layers.iter().enumerate() {
        for position in Position::ALL {
            let (Some(site), Some(key)) =
                (layer.sites.get(position), module_key(i, position, name))
            else {
                continue;
            };
            for m in &site.mods {
                match m {
                    Modification::Bottleneck(b) => bottleneck::write(&mut out, b, &key),
                    Modification::LowRank(l) => low_rank::write(&mut out, l, &key)?,
                    Modification::Rescale(s) => rescale::write(&mut out, s, &key)?,
                    Modification::Prefix(p) => prefix::write_gate(&mut out, p, &key),
                    // Prepended at the embedding output, written with the model-level modules.
                    Modification::Prompt(_) => {}
                    // Refused by `part_config` already, which names every form.
                    other => {
                        return Err(unsupported(
                            method,
                            format!("`{}` has no AdapterHub form", other.form()),
                        ))
                    }
                }
            }
        }
    }
    Ok(out.tensors)
}
