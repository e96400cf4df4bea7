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

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{
    BottleneckSpec, LowRankSpec, PhmOptions, PrefixSpec, Projection, PromptSpec, RescaleSpec,
};
use peftgrid_zoo::shared::PrefixSource;
use peftgrid_zoo::{
    Activation, Composition, Form, Init, Insertion, MethodSpec, Modification, ModificationSpec,
    Position, Side,
};
use serde_json::{json, Map, Value};

use crate::checkpoint::Checkpoint;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::{method, Model};

/// The weight files AdapterHub writes, in the order they are looked for.
pub const WEIGHT_FILES: &[&str] = &["adapter.safetensors", "pytorch_adapter.bin"];
/// The `version` written into saved configs: the AdapterHub release whose format this follows.
pub const FORMAT_VERSION: &str = "adapters.1.3.0";

use crate::adapter_folder::{about_config, config_error, open_weights, read_config, CONFIG_FILE};

/// Whether `dir` holds an AdapterHub adapter (its config has `config` and no `peft_type`).
pub fn is_adapterhub(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(CONFIG_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v.get("config").is_some() && v.get("peft_type").is_none())
}

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

/// The modifications one AdapterHub config amounts to.
fn translate(part: &Part, hidden: usize) -> Result<Vec<ModificationSpec>> {
    part.require(
        "leave_out",
        |v| v.as_array().is_some_and(|a| a.is_empty()),
        "[] (every layer)",
    )?;
    match part.architecture() {
        "bottleneck" => translate_bottleneck(part, hidden),
        "lora" => translate_lora(part),
        "prefix_tuning" => {
            part.require("encoder_prefix", |v| v == &json!(true), "true")?;
            part.require("non_linearity", |v| v == &json!("tanh"), "\"tanh\"")?;
            part.require("shared_gating", |v| v == &json!(true), "true")?;
            let flat = part.bool("flat", false)?;
            let reparam = if flat {
                None
            } else {
                Some(part.number("bottleneck_size")? as usize)
            };
            let gated = part.bool("use_gating", false)?;
            let l = part.number("prefix_length")? as usize;
            Ok(vec![ModificationSpec::new(
                Form::Prefix(PrefixSpec {
                    reparam,
                    shift_positions: false,
                }),
                &[Position::Head],
            )
            .composition(if gated {
                Composition::Gated
            } else {
                Composition::Add
            })
            .budget(l)])
        }
        "prompt_tuning" => {
            part.require("combine", |v| v == &json!("prefix"), "\"prefix\"")?;
            let l = part.number("prompt_length")? as usize;
            Ok(vec![ModificationSpec::new(
                Form::Prompt(PromptSpec {}),
                &[Position::Embeddings],
            )
            .budget(l)])
        }
        other => Err(part.err(
            "architecture",
            format!("`{other}` is not supported (bottleneck, lora, prefix_tuning, prompt_tuning and union are)"),
        )),
    }
}

fn translate_bottleneck(part: &Part, hidden: usize) -> Result<Vec<ModificationSpec>> {
    let no = |v: &Value| v == &json!(false) || v.is_null();
    part.require("ln_before", no, "false")?;
    part.require("ln_after", no, "false")?;
    part.require("cross_adapter", no, "false")?;
    part.require("inv_adapter", Value::is_null, "null")?;
    part.require("original_ln_after", |v| v == &json!(true), "true")?;
    part.require("residual_before_ln", |v| v == &json!(true), "true")?;
    let parallel = part.bool("is_parallel", false)?;
    let ln_before = part.bool("original_ln_before", false)?;
    let insertion = match (parallel, ln_before) {
        (true, false) => Insertion::Parallel,
        (false, false) => Insertion::Sequential,
        (false, true) => Insertion::PostNorm,
        (true, true) => {
            return Err(part.err(
                "original_ln_before",
                "true with is_parallel is not supported",
            ))
        }
    };
    let factor = part.number("reduction_factor")?;
    if factor <= 0.0 {
        return Err(part.err("reduction_factor", "must be positive"));
    }
    // adapters: down_sample = int(hidden_size // reduction_factor).
    let r = (hidden as f64 / factor).floor() as usize;
    let mut at = Vec::new();
    if part.bool("mh_adapter", false)? {
        at.push(Position::Attention);
    }
    if part.bool("output_adapter", true)? {
        at.push(Position::Ffn);
    }
    if at.is_empty() {
        return Err(part.err(
            "output_adapter",
            "neither mh_adapter nor output_adapter is set",
        ));
    }
    let phm = if part.bool("phm_layer", false)? {
        for (key, want) in [
            ("shared_phm_rule", true),
            ("factorized_phm_W", true),
            ("factorized_phm_rule", false),
            ("shared_W_phm", false),
            ("phm_bias", true),
        ] {
            part.require(key, |v| v == &json!(want), &want.to_string())?;
        }
        Some(PhmOptions {
            n: part.number("phm_dim")? as usize,
            rank: part.number("phm_rank")? as usize,
        })
    } else {
        None
    };
    let composition = if part.bool("use_gating", false)? {
        Composition::Gated
    } else {
        match part.get("scaling") {
            None => Composition::Add,
            Some(Value::String(s)) if s == "learned" => Composition::Learned { init: 1.0 },
            Some(v) => match v.as_f64() {
                Some(1.0) => Composition::Add,
                Some(s) => Composition::Scaled { s },
                None => {
                    return Err(part.err(
                        "scaling",
                        format!("{v} is not supported (a number or \"learned\")"),
                    ))
                }
            },
        }
    };
    let init = match part.get("init_weights").and_then(Value::as_str) {
        Some("mam_adapter" | "lora") => Init::Lora,
        _ => Init::Bert,
    };
    let form = Form::Bottleneck(BottleneckSpec {
        act: activation(part, "non_linearity")?,
        init,
        phm,
        ..BottleneckSpec::default()
    });
    Ok(vec![ModificationSpec::new(form, &at)
        .insertion(insertion)
        .composition(composition)
        .budget(r)])
}

fn translate_lora(part: &Part) -> Result<Vec<ModificationSpec>> {
    let no = |v: &Value| v == &json!(false) || v.is_null();
    part.require("use_dora", no, "false")?;
    part.require("vera_d", Value::is_null, "null")?;
    part.require("vera_b", Value::is_null, "null")?;
    let mut at = Vec::new();
    if part.bool("selfattn_lora", true)? {
        let matrices = part
            .get("attn_matrices")
            .and_then(Value::as_array)
            .ok_or_else(|| part.err("attn_matrices", "missing"))?;
        for m in matrices {
            at.push(match m.as_str() {
                Some("q") => Position::Q,
                Some("k") => Position::K,
                Some("v") => Position::V,
                _ => return Err(part.err("attn_matrices", format!("{m} is not q, k or v"))),
            });
        }
    }
    if part.bool("intermediate_lora", false)? {
        at.push(Position::FfnIn);
    }
    if part.bool("output_lora", false)? {
        at.push(Position::FfnOut);
    }
    let r = part.number("r")? as usize;
    let alpha = part.number("alpha")?;
    let gated = part.bool("use_gating", false)?;
    match part.str("composition_mode")? {
        "add" => Ok(vec![ModificationSpec::new(
            Form::LowRank(LowRankSpec {}),
            &at,
        )
        .composition(if gated {
            Composition::Gated
        } else {
            Composition::AlphaOverRank { alpha }
        })
        .budget(r)]),
        "scale" => {
            if r != 1 || gated {
                return Err(part.err(
                    "r",
                    "(IA)³ (composition_mode \"scale\") needs r = 1 and no gate",
                ));
            }
            if alpha != 1.0 {
                return Err(part.err(
                    "alpha",
                    format!("{alpha}: (IA)³ is read with alpha = 1 only"),
                ));
            }
            Ok(vec![ModificationSpec::new(
                Form::Rescale(RescaleSpec { side: Side::Output }),
                &at,
            )])
        }
        other => Err(part.err("composition_mode", format!("`{other}` is not add or scale"))),
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

/// Where AdapterHub keeps a modification's tensors, relative to a bare model (`encoder.layer…`).
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
        _ => return None,
    })
}

/// Where the prefix generator's tensor `suffix` is stored. AdapterHub saves the one module under
/// `prefix_tuning.prefix_tunings.*` and once more per layer (`...pool.prefix_tunings.*`); in the
/// `.bin` the copies are one pickled object, and only some of the names survive reading, so
/// any copy will do (they are identical). burn-store's pickle reader also renumbers the
/// children of an `nn.Sequential` contiguously, so `control_trans.2` (after the parameter-less
/// Tanh at index 1) reads back from a `.bin` as `control_trans.1`.
fn prefix_tensor(w: &Checkpoint, name: &str, layers: usize, suffix: &str) -> String {
    let suffixes = [
        suffix.to_string(),
        suffix.replace("control_trans.2.", "control_trans.1."),
    ];
    let main = format!("prefix_tuning.prefix_tunings.{name}.self_prefix.{suffix}");
    suffixes
        .iter()
        .flat_map(|suffix| {
            std::iter::once(format!("prefix_tuning.prefix_tunings.{name}.self_prefix.{suffix}")).chain(
                (0..layers).map(move |i| {
                    format!("encoder.layer.{i}.attention.self.prefix_tuning.pool.prefix_tunings.{name}.self_prefix.{suffix}")
                }),
            )
        })
        .find(|k| w.contains(k))
        .unwrap_or(main)
}

fn prompt_key(name: &str) -> String {
    format!("prompt_tuning.prompt_tunings.{name}.prompt_embedding.weight")
}

fn phm_rule_key(name: &str) -> String {
    format!("shared_parameters.{name}.phm_rule")
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
    let w = &adapter.weights;
    let name = &adapter.name;
    let layers = model.num_layers();
    let dims = config.dims();
    let d = dims.hidden;
    let parts = model.parts_mut();

    // Model-level: prompt and shared modules.
    for m in parts.embedding_output.mods.iter_mut() {
        if let Modification::Prompt(p) = m {
            let l = p.embeddings.dims()[0];
            p.embeddings = Param::from_tensor(w.tensor(
                &prompt_key(name),
                [l, d],
                "prompt_length × hidden_size",
                device,
            )?);
        }
    }
    for rule in parts.shared.phm_rules.iter_mut() {
        let n = rule.dims()[0];
        *rule = Param::from_tensor(w.tensor(&phm_rule_key(name), [n, n, n], "phm_dim³", device)?);
    }
    for g in parts.shared.prefixes.iter_mut() {
        let key = |suffix: &str| prefix_tensor(w, name, layers, suffix);
        let width = layers * 2 * d;
        match &mut g.source {
            PrefixSource::Flat(p) => {
                let l = p.dims()[0];
                let flat: Tensor<B, 1> = w.tensor(
                    &key("control_trans"),
                    [l * width],
                    "prefix_length × layers × 2 × hidden_size",
                    device,
                )?;
                *p = Param::from_tensor(flat.reshape([l, width]));
            }
            PrefixSource::Mlp(mlp) => {
                let [l, _] = mlp.wte.dims();
                let mid = mlp.hidden.weight.dims()[1];
                let why = "prefix_length, bottleneck_size and the model's widths";
                mlp.wte = Param::from_tensor(w.tensor(&key("wte.weight"), [l, d], why, device)?);
                mlp.hidden.weight = Param::from_tensor(w.linear_weight(
                    &key("control_trans.0.weight"),
                    d,
                    mid,
                    why,
                    device,
                )?);
                mlp.hidden.bias = Some(Param::from_tensor(w.tensor(
                    &key("control_trans.0.bias"),
                    [mid],
                    why,
                    device,
                )?));
                mlp.out.weight = Param::from_tensor(w.linear_weight(
                    &key("control_trans.2.weight"),
                    mid,
                    width,
                    why,
                    device,
                )?);
                mlp.out.bias = Some(Param::from_tensor(w.tensor(
                    &key("control_trans.2.bias"),
                    [width],
                    why,
                    device,
                )?));
            }
        }
    }

    // Per layer and position.
    for (layer, sites) in parts.layers.into_iter().enumerate() {
        for position in Position::ALL {
            let Some(site) = sites.get_mut(position) else {
                continue;
            };
            for m in site.mods.iter_mut() {
                let Some(key) = module_key(layer, position, name) else {
                    continue;
                };
                fill(w, m, &key, device)?;
            }
        }
    }

    // Anything left in the file was not understood: say so rather than drop it. The per-layer
    // copies of a prefix module are aliases of `prefix_tuning.prefix_tunings.*` (see the
    // fixtures' README), so they are not counted.
    let unexpected: Vec<String> = w
        .unused_keys()
        .into_iter()
        .filter(|k| !k.contains(".prefix_tuning.pool.prefix_tunings."))
        .collect();
    if !unexpected.is_empty() {
        return Err(ModelError::BadTensor {
            path: w.path().to_path_buf(),
            key: unexpected.join(", "),
            message: format!(
                "not part of the method adapter_config.json describes ({})",
                adapter.method.name
            ),
        });
    }
    Ok(adapter.method)
}

/// Reads one modification's tensors from under `key`.
fn fill<B: Backend>(
    w: &Checkpoint,
    m: &mut Modification<B>,
    key: &str,
    device: &B::Device,
) -> Result<()> {
    let why = "the adapter config and the model's widths";
    let linear = |name: &str, l: &mut burn::nn::Linear<B>| -> Result<()> {
        let [d_in, d_out] = l.weight.dims();
        l.weight = Param::from_tensor(w.linear_weight(
            &format!("{key}.{name}.weight"),
            d_in,
            d_out,
            why,
            device,
        )?);
        l.bias = Some(Param::from_tensor(w.tensor(
            &format!("{key}.{name}.bias"),
            [d_out],
            why,
            device,
        )?));
        Ok(())
    };
    let compose = |c: &mut peftgrid_zoo::compose::Composer<B>| -> Result<()> {
        if let Some(s) = &mut c.learned {
            *s = Param::from_tensor(w.tensor(
                &format!("{key}.scaling"),
                [1],
                "scaling \"learned\"",
                device,
            )?);
        }
        if let Some(g) = &mut c.gate {
            linear("gate", g)?;
        }
        Ok(())
    };
    match m {
        Modification::Bottleneck(b) => {
            for (name, p) in [("adapter_down.0", &mut b.down), ("adapter_up", &mut b.up)] {
                match p {
                    Projection::Dense(l) => linear(name, l)?,
                    Projection::Phm(phm) => {
                        let (left, right) = (phm.left.dims(), phm.right.dims());
                        phm.left = Param::from_tensor(w.tensor(
                            &format!("{key}.{name}.W_left"),
                            left,
                            why,
                            device,
                        )?);
                        phm.right = Param::from_tensor(w.tensor(
                            &format!("{key}.{name}.W_right"),
                            right,
                            why,
                            device,
                        )?);
                        let n = phm.bias.dims()[0];
                        phm.bias = Param::from_tensor(w.tensor(
                            &format!("{key}.{name}.b"),
                            [n],
                            why,
                            device,
                        )?);
                    }
                    _ => {
                        return Err(ModelError::BadTensor {
                            path: w.path().to_path_buf(),
                            key: key.to_string(),
                            message: "per-head and sparse bottlenecks have no AdapterHub form"
                                .into(),
                        })
                    }
                }
            }
            compose(&mut b.compose)?;
        }
        Modification::LowRank(l) => {
            let [d_in, r] = l.down.dims();
            let d_out = l.up.dims()[1];
            l.down = Param::from_tensor(w.linear_weight(
                &format!("{key}.lora_A"),
                d_in,
                r,
                why,
                device,
            )?);
            l.up = Param::from_tensor(w.linear_weight(
                &format!("{key}.lora_B"),
                r,
                d_out,
                why,
                device,
            )?);
            compose(&mut l.compose)?;
        }
        Modification::Rescale(s) => {
            let n = s.scale.dims()[0];
            let t: Tensor<B, 2> = w.tensor(&format!("{key}.lora_B"), [n, 1], why, device)?;
            s.scale = Param::from_tensor(t.reshape([n]));
        }
        Modification::Prefix(p) => {
            if let Some(g) = &mut p.compose.gate {
                let d_in = g.weight.dims()[0];
                g.weight = Param::from_tensor(w.linear_weight(
                    &format!("{key}.weight"),
                    d_in,
                    1,
                    why,
                    device,
                )?);
                g.bias = Some(Param::from_tensor(w.tensor(
                    &format!("{key}.bias"),
                    [1],
                    why,
                    device,
                )?));
            }
        }
        _ => {}
    }
    Ok(())
}

// ---- writing ----

fn unsupported(method: &MethodSpec, why: impl Into<String>) -> ModelError {
    ModelError::Unsupported {
        what: format!("method `{}` in AdapterHub's format", method.name),
        why: why.into(),
    }
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

/// The AdapterHub config of one modification (resolved, with every key the library writes).
fn part_config(method: &MethodSpec, m: &ModificationSpec, hidden: usize) -> Result<Value> {
    let gated = m.composition == Composition::Gated;
    match &m.form {
        Form::Bottleneck(b) => {
            if b.per_head || b.sparsity > 0.0 {
                return Err(unsupported(
                    method,
                    "per-head and sparse bottlenecks have no AdapterHub config",
                ));
            }
            if m.at
                .iter()
                .any(|p| !matches!(p, Position::Attention | Position::Ffn))
            {
                return Err(unsupported(
                    method,
                    "AdapterHub's bottlenecks sit at `attention` or `ffn` only",
                ));
            }
            let r = m.budget.unwrap_or(0).max(1);
            let scaling = match m.composition {
                Composition::Add | Composition::Gated => json!(1.0),
                Composition::Scaled { s } => json!(s),
                Composition::Learned { init: 1.0 } => json!("learned"),
                other => {
                    return Err(unsupported(
                        method,
                        format!("bottleneck composition {other:?}"),
                    ))
                }
            };
            let (n, rank) = b.phm.map(|p| (p.n, p.rank)).unwrap_or((4, 1));
            Ok(json!({
                "adapter_residual_before_ln": false,
                "cross_adapter": false,
                "dropout": 0.0,
                "factorized_phm_W": true,
                "factorized_phm_rule": false,
                "hypercomplex_nonlinearity": "glorot-uniform",
                "init_weights": if b.init == Init::Lora { "mam_adapter" } else { "bert" },
                "init_weights_seed": null,
                "inv_adapter": null,
                "inv_adapter_reduction_factor": null,
                "is_parallel": m.insertion == Insertion::Parallel,
                "learn_phm": true,
                "leave_out": [],
                "ln_after": false,
                "ln_before": false,
                "mh_adapter": m.at.contains(&Position::Attention),
                "non_linearity": activation_name(b.act),
                "original_ln_after": true,
                "original_ln_before": m.insertion == Insertion::PostNorm,
                "output_adapter": m.at.contains(&Position::Ffn),
                "phm_bias": true,
                "phm_c_init": "normal",
                "phm_dim": n,
                "phm_init_range": 0.0001,
                "phm_layer": b.phm.is_some(),
                "phm_rank": rank,
                // adapters: r = hidden // reduction_factor; a float factor keeps any r exact.
                "reduction_factor": reduction_factor(hidden, r),
                "residual_before_ln": true,
                "scaling": scaling,
                "shared_W_phm": false,
                "shared_phm_rule": true,
                "stochastic_depth": 0.0,
                "use_gating": gated,
            }))
        }
        Form::LowRank(_) | Form::Rescale(RescaleSpec { side: Side::Output }) => {
            let ia3 = matches!(m.form, Form::Rescale(_));
            let mut matrices = Vec::new();
            for p in &m.at {
                match p {
                    Position::Q => matrices.push("q"),
                    Position::K => matrices.push("k"),
                    Position::V => matrices.push("v"),
                    Position::FfnIn | Position::FfnOut => {}
                    other => {
                        return Err(unsupported(
                            method,
                            format!("AdapterHub's LoRA/(IA)³ cannot sit at `{other}`"),
                        ))
                    }
                }
            }
            let (r, alpha) = match m.composition {
                _ if ia3 => (1, 1.0),
                Composition::AlphaOverRank { alpha } => (m.budget.unwrap_or(0), alpha),
                // Gated LoRA ignores α/r; AdapterHub still stores them.
                Composition::Gated => (m.budget.unwrap_or(0), m.budget.unwrap_or(0) as f64),
                other => return Err(unsupported(method, format!("LoRA composition {other:?}"))),
            };
            // AdapterHub's alpha is an int; keep whole numbers whole.
            let alpha = if alpha.fract() == 0.0 {
                json!(alpha as i64)
            } else {
                json!(alpha)
            };
            Ok(json!({
                "alpha": alpha,
                "architecture": "lora",
                "attn_matrices": matrices,
                "composition_mode": if ia3 { "scale" } else { "add" },
                "dropout": 0.0,
                "dtype": null,
                "init_weights": if ia3 { "ia3" } else { "lora" },
                "init_weights_seed": null,
                "intermediate_lora": m.at.contains(&Position::FfnIn),
                "leave_out": [],
                "output_lora": m.at.contains(&Position::FfnOut),
                "r": r,
                "selfattn_lora": !matrices.is_empty(),
                "use_dora": false,
                "use_gating": gated,
                "vera_b": null,
                "vera_d": null,
            }))
        }
        Form::Prefix(p) if p.shift_positions => Err(unsupported(
            method,
            "AdapterHub's prefixes leave the token positions alone; this one shifts them (peft's way, shift_positions = true)",
        )),
        Form::Prefix(p)
            if m.at == [Position::Head]
                && matches!(m.composition, Composition::Add | Composition::Gated) =>
        {
            Ok(json!({
                "architecture": "prefix_tuning",
                "bottleneck_size": p.reparam.unwrap_or(512),
                "cross_prefix": true,
                "dropout": 0.0,
                "encoder_prefix": true,
                "flat": p.reparam.is_none(),
                "init_weights_seed": null,
                "leave_out": [],
                "non_linearity": "tanh",
                "prefix_length": m.budget.unwrap_or(0),
                "shared_gating": true,
                "use_gating": gated,
            }))
        }
        Form::Prompt(_) if m.at == [Position::Embeddings] => Ok(json!({
            "architecture": "prompt_tuning",
            "combine": "prefix",
            "init_weights_seed": null,
            "prompt_init": "random_uniform",
            "prompt_init_text": null,
            "prompt_length": m.budget.unwrap_or(0),
        })),
        Form::Prompt(_) => Err(unsupported(
            method,
            "AdapterHub prepends prompts at the embedding output (`embeddings`), not at `input`",
        )),
        other => Err(unsupported(
            method,
            format!("AdapterHub has no `{}` at {:?}", other.name(), m.at),
        )),
    }
}

/// A reduction factor that gives back exactly `r` under AdapterHub's `int(hidden // factor)`.
fn reduction_factor(hidden: usize, r: usize) -> Value {
    if hidden.is_multiple_of(r) {
        json!(hidden / r)
    } else {
        json!(hidden as f64 / r as f64)
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
    let tensors = adapter_tensors(model, name)?;
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let config_path = dir.join("adapter_config.json");
    let text = serde_json::to_string_pretty(&root).unwrap_or_default();
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

/// Every tensor of the method on `model` under AdapterHub's names (bare-model keys).
fn adapter_tensors<B: Backend>(
    model: &Model<B>,
    name: &str,
) -> Result<std::collections::BTreeMap<String, crate::tensors::NamedTensor>> {
    use crate::tensors::NamedTensor;
    let mut out = std::collections::BTreeMap::new();
    let mut put = |key: String, data: TensorData| {
        out.insert(key, NamedTensor::from_data(data));
    };
    // PyTorch nn.Linear layout: weight [out, in].
    let linear = |put: &mut dyn FnMut(String, TensorData), key: &str, l: &burn::nn::Linear<B>| {
        put(
            format!("{key}.weight"),
            l.weight.val().transpose().into_data(),
        );
        if let Some(b) = &l.bias {
            put(format!("{key}.bias"), b.val().into_data());
        }
    };
    let (embedding_output, shared, layers) = match model {
        Model::Text(m) => (&m.embedding_output, &m.shared, &m.layers),
        Model::Vit(m) => (&m.embedding_output, &m.shared, &m.layers),
        Model::Seq2Seq(_) => return Err(seq2seq_unsupported("AdapterHub weights")),
    };
    for m in &embedding_output.mods {
        if let Modification::Prompt(p) = m {
            put(prompt_key(name), p.embeddings.val().into_data());
        }
    }
    for rule in &shared.phm_rules {
        put(phm_rule_key(name), rule.val().into_data());
    }
    let n_layers = layers.len();
    for g in &shared.prefixes {
        // The library stores the module once and again under every layer's pool; write both.
        let bases: Vec<String> = std::iter::once(format!("prefix_tuning.prefix_tunings.{name}.self_prefix"))
            .chain((0..n_layers).map(|i| {
                format!("encoder.layer.{i}.attention.self.prefix_tuning.pool.prefix_tunings.{name}.self_prefix")
            }))
            .collect();
        for base in &bases {
            match &g.source {
                PrefixSource::Flat(p) => {
                    let n = p.val().shape().num_elements();
                    put(
                        format!("{base}.control_trans"),
                        p.val().reshape([n]).into_data(),
                    );
                }
                PrefixSource::Mlp(mlp) => {
                    put(format!("{base}.wte.weight"), mlp.wte.val().into_data());
                    linear(&mut put, &format!("{base}.control_trans.0"), &mlp.hidden);
                    linear(&mut put, &format!("{base}.control_trans.2"), &mlp.out);
                }
            }
        }
    }
    for (i, layer) in layers.iter().enumerate() {
        for position in Position::ALL {
            let (Some(site), Some(key)) =
                (layer.sites.get(position), module_key(i, position, name))
            else {
                continue;
            };
            for m in &site.mods {
                let compose =
                    |put: &mut dyn FnMut(String, TensorData),
                     c: &peftgrid_zoo::compose::Composer<B>| {
                        if let Some(s) = &c.learned {
                            put(format!("{key}.scaling"), s.val().into_data());
                        }
                        if let Some(g) = &c.gate {
                            linear(put, &format!("{key}.gate"), g);
                        }
                    };
                match m {
                    Modification::Bottleneck(b) => {
                        for (part, p) in [("adapter_down.0", &b.down), ("adapter_up", &b.up)] {
                            match p {
                                Projection::Dense(l) => {
                                    linear(&mut put, &format!("{key}.{part}"), l)
                                }
                                Projection::Phm(phm) => {
                                    put(format!("{key}.{part}.W_left"), phm.left.val().into_data());
                                    put(
                                        format!("{key}.{part}.W_right"),
                                        phm.right.val().into_data(),
                                    );
                                    put(format!("{key}.{part}.b"), phm.bias.val().into_data());
                                }
                                _ => {}
                            }
                        }
                        compose(&mut put, &b.compose);
                    }
                    Modification::LowRank(l) => {
                        if l.merged {
                            return Err(ModelError::Unsupported {
                                what: "saving a merged LoRA".into(),
                                why: "unmerge it first".into(),
                            });
                        }
                        put(
                            format!("{key}.lora_A"),
                            l.down.val().transpose().into_data(),
                        );
                        put(format!("{key}.lora_B"), l.up.val().transpose().into_data());
                        compose(&mut put, &l.compose);
                    }
                    Modification::Rescale(s) => {
                        let n = s.scale.dims()[0];
                        put(
                            format!("{key}.lora_B"),
                            s.scale.val().reshape([n, 1]).into_data(),
                        );
                    }
                    Modification::Prefix(p) => {
                        if let Some(g) = &p.compose.gate {
                            linear(&mut put, &key, g);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// AdapterHub and peft folders for encoder-decoders are not read or written yet.
pub(crate) fn seq2seq_unsupported(what: &str) -> ModelError {
    ModelError::Unsupported {
        what: what.into(),
        why: "encoder-decoder backbones (BART, mBART, T5) are not supported by this format \
              reader/writer yet; train and save with peftgrid's own runs"
            .into(),
    }
}
