//! peft's adapter format: `adapter_config.json` + `adapter_model.safetensors` (or `.bin`) for
//! LoRA, IA3, prompt tuning and prefix tuning. Loading turns the adapter into a [`MethodSpec`]
//! of the design space, places it on the model and fills its modules with the saved tensors;
//! saving writes ours back in the same format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{LowRankSpec, PrefixSpec, PromptSpec, RescaleSpec};
use peftgrid_zoo::shared::PrefixSource;
use peftgrid_zoo::{Composition, Form, MethodSpec, Modification, ModificationSpec, Position, Side};
use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::tensors::{self, NamedTensor};
use crate::{method, Model};

/// peft's weight files, in the order they are tried.
pub const ADAPTER_FILES: &[&str] = &["adapter_model.safetensors", "adapter_model.bin"];

use crate::adapter_folder::{about_config, config_error, open_weights, read_config};

/// A peft adapter folder, read.
pub struct PeftAdapter {
    pub dir: PathBuf,
    pub config: Value,
    pub peft_type: String,
    weights: Checkpoint,
}

impl PeftAdapter {
    pub fn open(dir: &Path) -> Result<Self> {
        let (config_path, config) = read_config(dir)?;
        let peft_type = config
            .get("peft_type")
            .and_then(Value::as_str)
            .ok_or_else(|| config_error(&config_path, "peft_type", "missing"))?
            .to_string();
        let weights = open_weights(
            dir,
            ADAPTER_FILES,
            "peft's save_pretrained() writes it next to adapter_config.json.",
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            peft_type,
            weights,
        })
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("adapter_config.json")
    }

    fn field<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let value = self.config.get(name).cloned().unwrap_or(Value::Null);
        serde_json::from_value(value)
            .map_err(|e| config_error(&self.config_path(), name, e.to_string()))
    }

    /// Refuses options whose semantics peftgrid does not implement, instead of ignoring them.
    fn refuse(&self, name: &str, allowed: impl Fn(&Value) -> bool) -> Result<()> {
        match self.config.get(name) {
            Some(v) if !allowed(v) => Err(config_error(
                &self.config_path(),
                name,
                format!("{v} is not supported"),
            )),
            _ => Ok(()),
        }
    }

    /// The weight entries by module: `module path → (suffix → tensor name)`.
    fn modules(&self, suffixes: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for key in self.weights.keys() {
            for suffix in suffixes {
                if let Some(module) = key.strip_suffix(&format!(".{suffix}")) {
                    let module = module.strip_prefix("base_model.model.").unwrap_or(module);
                    out.entry(module.to_string())
                        .or_default()
                        .insert(suffix.to_string(), key.to_string());
                }
            }
        }
        out
    }
}

/// Loads a peft adapter onto `model` and returns the method it amounts to.
pub fn load_adapter<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<MethodSpec> {
    if matches!(model, Model::Seq2Seq(_)) {
        return Err(crate::adapterhub::seq2seq_unsupported("a peft adapter"));
    }
    let adapter = PeftAdapter::open(dir)?;
    match adapter.peft_type.as_str() {
        "LORA" => load_lora(model, config, &adapter, device),
        "IA3" => load_ia3(model, config, &adapter, device),
        "PROMPT_TUNING" => load_prompt(model, config, &adapter, device),
        "PREFIX_TUNING" => load_prefix(model, config, &adapter, device),
        other => Err(config_error(
            &adapter.config_path(),
            "peft_type",
            format!("`{other}` is not supported (LORA, IA3, PROMPT_TUNING, PREFIX_TUNING are)"),
        )),
    }
    .map_err(|e| about_config(&adapter.config_path(), e))
}

/// (layer, position) → tensor names, for every module the adapter touches.
fn locate<B: Backend>(
    model: &Model<B>,
    adapter: &PeftAdapter,
    modules: BTreeMap<String, BTreeMap<String, String>>,
) -> Result<BTreeMap<(usize, Position), BTreeMap<String, String>>> {
    modules
        .into_iter()
        .map(|(module, tensors)| {
            model
                .locate(&module)
                .map(|at| (at, tensors))
                .ok_or_else(|| ModelError::BadTensor {
                    path: adapter.weights.path().to_path_buf(),
                    key: module.clone(),
                    message: "not a projection of this model's layers".into(),
                })
        })
        .collect()
}

/// Every layer must carry the adapter at every position it names (peft's `layers_to_transform`
/// would place it on some layers only; that is refused, not silently extended).
fn positions_on_every_layer<B: Backend>(
    model: &Model<B>,
    adapter: &PeftAdapter,
    found: &BTreeMap<(usize, Position), BTreeMap<String, String>>,
) -> Result<Vec<Position>> {
    let positions: BTreeSet<Position> = found.keys().map(|(_, p)| *p).collect();
    for &p in &positions {
        for layer in 0..model.num_layers() {
            if !found.contains_key(&(layer, p)) {
                return Err(ModelError::MissingTensor {
                    path: adapter.weights.path().to_path_buf(),
                    key: format!("layer {layer}, position {p}"),
                    tried: "the adapter's keys".into(),
                });
            }
        }
    }
    Ok(positions.into_iter().collect())
}

fn load_lora<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    for flag in ["use_dora", "use_rslora", "fan_in_fan_out", "lora_bias"] {
        adapter.refuse(flag, |v| v.is_null() || v == &json!(false))?;
    }
    adapter.refuse("bias", |v| v.is_null() || v == &json!("none"))?;
    for pattern in ["rank_pattern", "alpha_pattern"] {
        adapter.refuse(pattern, |v| {
            v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
        })?;
    }
    let r: usize = adapter.field("r")?;
    let alpha: f64 = adapter.field("lora_alpha")?;
    let found = locate(
        model,
        adapter,
        adapter.modules(&["lora_A.weight", "lora_B.weight"]),
    )?;
    let positions = positions_on_every_layer(model, adapter, &found)?;
    let spec = MethodSpec::new("lora").with(
        ModificationSpec::new(Form::LowRank(LowRankSpec {}), &positions)
            .composition(Composition::AlphaOverRank { alpha })
            .budget(r),
    );
    method::apply(model, config, &spec, device)?;
    let shape = config.shape();
    let mut parts = model.parts_mut();
    for ((layer, position), names) in &found {
        let dims = shape.sites(*position).dims;
        let get = |suffix: &str, shape: [usize; 2]| -> Result<Tensor<B, 2>> {
            let name = names.get(suffix).ok_or_else(|| ModelError::MissingTensor {
                path: adapter.weights.path().to_path_buf(),
                key: format!("{suffix} of layer {layer} {position}"),
                tried: "the adapter's keys".into(),
            })?;
            adapter
                .weights
                .tensor(name, shape, "r and the projection's widths", device)
        };
        // peft stores nn.Linear layouts: A [r, in], B [out, r]; ours are transposed.
        let a = get("lora_A.weight", [r, dims.d_in])?.transpose();
        let b = get("lora_B.weight", [dims.d_out, r])?.transpose();
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("projection site");
        if let Some(Modification::LowRank(m)) = site.mods.last_mut() {
            m.down = Param::from_tensor(a);
            m.up = Param::from_tensor(b);
        }
    }
    Ok(spec)
}

fn load_ia3<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse("fan_in_fan_out", |v| v.is_null() || v == &json!(false))?;
    let found = locate(model, adapter, adapter.modules(&["ia3_l"]))?;
    positions_on_every_layer(model, adapter, &found)?;
    // peft stores output scalings as [out, 1] and input ("feedforward") ones as [1, in].
    let side_of = |names: &BTreeMap<String, String>| -> Result<Side> {
        let name = &names["ia3_l"];
        let shape = adapter.weights.shape(name).unwrap_or_default();
        match shape.as_slice() {
            [_, 1] => Ok(Side::Output),
            [1, _] => Ok(Side::Input),
            other => Err(ModelError::BadTensor {
                path: adapter.weights.path().to_path_buf(),
                key: name.clone(),
                message: format!("shape {other:?} is neither [out, 1] nor [1, in]"),
            }),
        }
    };
    let mut by_side: BTreeMap<(u8, Position), Side> = BTreeMap::new();
    for ((_, p), names) in &found {
        let side = side_of(names)?;
        by_side.insert((side as u8, *p), side);
    }
    let mut spec = MethodSpec::new("ia3");
    for side in [Side::Output, Side::Input] {
        let at: Vec<Position> = by_side
            .iter()
            .filter(|(_, s)| **s == side)
            .map(|((_, p), _)| *p)
            .collect();
        if !at.is_empty() {
            spec = spec.with(ModificationSpec::new(
                Form::Rescale(RescaleSpec { side }),
                &at,
            ));
        }
    }
    method::apply(model, config, &spec, device)?;
    let shape = config.shape();
    let mut parts = model.parts_mut();
    for ((layer, position), names) in &found {
        let dims = shape.sites(*position).dims;
        let side = side_of(names)?;
        let (n, tensor_shape) = match side {
            Side::Output => (dims.d_out, [dims.d_out, 1]),
            Side::Input => (dims.d_in, [1, dims.d_in]),
        };
        let l: Tensor<B, 2> = adapter.weights.tensor(
            &names["ia3_l"],
            tensor_shape,
            "the projection's width",
            device,
        )?;
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("projection site");
        if let Some(Modification::Rescale(m)) = site
            .mods
            .iter_mut()
            .find(|m| matches!(m, Modification::Rescale(r) if r.side == side))
        {
            m.scale = Param::from_tensor(l.reshape([n]));
        }
    }
    Ok(spec)
}

fn virtual_tokens(adapter: &PeftAdapter) -> Result<usize> {
    adapter.refuse("num_transformer_submodules", |v| {
        v.is_null() || v == &json!(1)
    })?;
    adapter.field("num_virtual_tokens")
}

fn load_prompt<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    let l = virtual_tokens(adapter)?;
    let d = config.dims().hidden;
    let spec = MethodSpec::new("prompt")
        .with(ModificationSpec::new(Form::Prompt(PromptSpec {}), &[Position::Input]).budget(l));
    method::apply(model, config, &spec, device)?;
    let embeddings = adapter.weights.tensor(
        "prompt_embeddings",
        [l, d],
        "num_virtual_tokens × hidden_size",
        device,
    )?;
    if let Some(Modification::Prompt(p)) = model.parts_mut().input.mods.last_mut() {
        p.embeddings = Param::from_tensor(embeddings);
    }
    Ok(spec)
}

fn load_prefix<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    let l = virtual_tokens(adapter)?;
    let dims = config.dims();
    let layers = model.num_layers();
    let spec = MethodSpec::new("prefix").with(
        ModificationSpec::new(
            Form::Prefix(PrefixSpec {
                reparam: None,
                shift_positions: true,
            }),
            &[Position::Head],
        )
        .budget(l),
    );
    method::apply(model, config, &spec, device)?;
    // peft saves the prefixes already through its projection, if it used one: [l, L·2·d].
    let flat = adapter.weights.tensor(
        "prompt_embeddings",
        [l, layers * 2 * dims.hidden],
        "num_virtual_tokens × (layers · 2 · hidden_size)",
        device,
    )?;
    if let Some(g) = model.parts_mut().shared.prefixes.last_mut() {
        g.source = PrefixSource::Flat(Param::from_tensor(flat));
    }
    // peft passes the prefixes to transformers as cached keys/values, and transformers numbers
    // the real tokens after them: the spec says `shift_positions`, and `apply` shifted them.
    Ok(spec)
}

/// Writes the method on `model` as a peft adapter (LoRA, IA3, prompt or prefix tuning alone).
pub fn save_adapter<B: Backend>(
    model: &Model<B>,
    config: &ModelConfig,
    spec: &MethodSpec,
    dir: &Path,
) -> Result<()> {
    let unsupported = |why: &str| {
        config_error(
            &dir.join("adapter_config.json"),
            "peft_type",
            format!("method `{}` has no peft form: {why}", spec.name),
        )
    };
    let forms: BTreeSet<&str> = spec.modifications.iter().map(|m| m.form.name()).collect();
    let prefix = match config.head {
        crate::HeadKind::None => String::new(),
        _ => format!("{}.", config.base_prefix()),
    };
    let module = |layer: usize, p: Position| {
        let keys = model.layer_keys(layer);
        format!(
            "base_model.model.{prefix}{}",
            keys.projection(p).unwrap_or_default()
        )
    };
    let mut tensors_out = BTreeMap::new();
    let mut put = |name: String, t: TensorData| {
        tensors_out.insert(name, NamedTensor::from_data(t));
    };
    let (layers, input, shared) = match model {
        Model::Text(m) => (&m.layers, &m.input, &m.shared),
        Model::Vit(m) => (&m.layers, &m.input, &m.shared),
        Model::Seq2Seq(_) => return Err(crate::adapterhub::seq2seq_unsupported("a peft adapter")),
    };
    let mut adapter_config = json!({
        "peft_version": "0.21.0",
        "base_model_name_or_path": null,
        "inference_mode": true,
        "revision": null,
        "task_type": null,
        "modules_to_save": null,
        "auto_mapping": null,
    });
    let names = |ps: &BTreeSet<Position>, model: &Model<B>| -> Vec<String> {
        // peft matches target modules by suffix: the last two path components are unambiguous.
        let keys = model.layer_keys(0);
        ps.iter()
            .filter_map(|p| keys.projection(*p))
            .map(|k| k.splitn(4, '.').nth(3).unwrap_or(k).to_string())
            .collect()
    };
    match forms.iter().copied().collect::<Vec<_>>().as_slice() {
        ["low_rank"] if spec.modifications.len() == 1 => {
            let m = &spec.modifications[0];
            let r = m.budget.unwrap_or(0);
            let alpha = match m.composition {
                Composition::AlphaOverRank { alpha } => alpha,
                Composition::Scaled { s } => s * r as f64,
                Composition::Add => r as f64,
                _ => return Err(unsupported("learned or gated LoRA scaling")),
            };
            for (i, l) in layers.iter().enumerate() {
                for &p in &m.at {
                    if let Some(Modification::LowRank(lr)) =
                        l.sites.get(p).and_then(|s| s.mods.first())
                    {
                        put(
                            format!("{}.lora_A.weight", module(i, p)),
                            lr.down.val().transpose().into_data(),
                        );
                        put(
                            format!("{}.lora_B.weight", module(i, p)),
                            lr.up.val().transpose().into_data(),
                        );
                    }
                }
            }
            let at: BTreeSet<Position> = m.at.iter().copied().collect();
            let obj = adapter_config.as_object_mut().expect("object");
            obj.insert("peft_type".into(), json!("LORA"));
            obj.insert("r".into(), json!(r));
            obj.insert("lora_alpha".into(), json!(alpha));
            obj.insert("lora_dropout".into(), json!(0.0));
            obj.insert("target_modules".into(), json!(names(&at, model)));
            obj.insert("bias".into(), json!("none"));
            obj.insert("fan_in_fan_out".into(), json!(false));
            obj.insert("init_lora_weights".into(), json!(true));
            obj.insert("use_rslora".into(), json!(false));
            obj.insert("use_dora".into(), json!(false));
        }
        ["rescale"] => {
            let (mut targets, mut feedforward) = (BTreeSet::new(), BTreeSet::new());
            for m in &spec.modifications {
                for &p in &m.at {
                    targets.insert(p);
                    if let Form::Rescale(RescaleSpec { side: Side::Input }) = m.form {
                        feedforward.insert(p);
                    }
                }
            }
            for (i, l) in layers.iter().enumerate() {
                for &p in &targets {
                    for m in l
                        .sites
                        .get(p)
                        .map(|s| s.mods.as_slice())
                        .unwrap_or_default()
                    {
                        if let Modification::Rescale(r) = m {
                            let n = r.scale.dims()[0];
                            let shape = if r.side == Side::Input {
                                [1, n]
                            } else {
                                [n, 1]
                            };
                            put(
                                format!("{}.ia3_l", module(i, p)),
                                r.scale.val().reshape(shape).into_data(),
                            );
                        }
                    }
                }
            }
            let obj = adapter_config.as_object_mut().expect("object");
            obj.insert("peft_type".into(), json!("IA3"));
            obj.insert("target_modules".into(), json!(names(&targets, model)));
            obj.insert(
                "feedforward_modules".into(),
                json!(names(&feedforward, model)),
            );
            obj.insert("fan_in_fan_out".into(), json!(false));
            obj.insert("init_ia3_weights".into(), json!(true));
        }
        ["prompt"] => {
            let Some(Modification::Prompt(p)) = input.mods.first() else {
                return Err(unsupported("no prompt on the model"));
            };
            put("prompt_embeddings".into(), p.embeddings.val().into_data());
            prompt_config(
                &mut adapter_config,
                "PROMPT_TUNING",
                p.embeddings.dims()[0],
                config,
                layers.len(),
            );
            adapter_config["prompt_tuning_init"] = json!("RANDOM");
        }
        ["prefix"] => {
            // peft hands a prefix to transformers as cached keys/values, which numbers the
            // real tokens after it: a prefix trained without that shift computes otherwise.
            if matches!(&spec.modifications[0].form, Form::Prefix(p) if !p.shift_positions) {
                return Err(unsupported(
                    "peft numbers the real tokens after a prefix (shift_positions = true); this one leaves positions alone (AdapterHub's way)",
                ));
            }
            let Some(g) = shared.prefixes.first() else {
                return Err(unsupported("no prefix on the model"));
            };
            let flat = match &g.source {
                PrefixSource::Flat(p) => p.val(),
                PrefixSource::Mlp(m) => m.flat(),
            };
            let l = flat.dims()[0];
            put("prompt_embeddings".into(), flat.into_data());
            prompt_config(
                &mut adapter_config,
                "PREFIX_TUNING",
                l,
                config,
                layers.len(),
            );
            adapter_config["prefix_projection"] = json!(false);
            adapter_config["encoder_hidden_size"] = json!(config.dims().hidden);
        }
        _ => {
            return Err(unsupported(
                "peft holds one of LoRA, IA3, prompt or prefix tuning",
            ))
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let config_path = dir.join("adapter_config.json");
    std::fs::write(
        &config_path,
        serde_json::to_string_pretty(&adapter_config).unwrap_or_default(),
    )
    .map_err(|source| ModelError::Io {
        path: config_path,
        source,
    })?;
    tensors::write(&dir.join("adapter_model.safetensors"), &tensors_out)
}

fn prompt_config(c: &mut Value, peft_type: &str, l: usize, config: &ModelConfig, layers: usize) {
    let dims = config.dims();
    let obj = c.as_object_mut().expect("object");
    obj.insert("peft_type".into(), json!(peft_type));
    obj.insert("task_type".into(), json!("FEATURE_EXTRACTION"));
    obj.insert("num_virtual_tokens".into(), json!(l));
    obj.insert("token_dim".into(), json!(dims.hidden));
    obj.insert("num_transformer_submodules".into(), json!(1));
    obj.insert("num_attention_heads".into(), json!(dims.heads));
    obj.insert("num_layers".into(), json!(layers));
}
