//! peft's adapter format: `adapter_config.json` + `adapter_model.safetensors` (or `.bin`).
//! Loading turns the adapter into a [`MethodSpec`] of the design space, places it on the model and
//! fills its modules with the saved tensors; saving writes ours back in the same format.
//!
//! One file per form peft has: [`low_rank`] (`LORA`), [`rescale`] (`IA3`), [`prompt`]
//! (`PROMPT_TUNING`) and [`prefix`] (`PREFIX_TUNING`). [`peft_type_of`] says, for every form of the
//! design space, which peft type holds it or why none does: a form added to the zoo does not
//! compile here until it is answered.

mod adalora;
mod boft;
mod fourierft;
mod hra;
mod ln_tuning;
mod loha;
mod lokr;
mod low_rank;
mod miss;
mod oft;
mod prefix;
mod prompt;
mod rescale;
mod vera;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::prelude::*;
use peftgrid_zoo::shared::Shared;
use peftgrid_zoo::{Composition, Form, MethodSpec, Position, Site};
use serde_json::{json, Value};

use super::folder::{about_config, config_error, open_weights, read_config};
use crate::checkpoint::Checkpoint;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::layers::EncoderLayer;
use crate::tensors::{self, NamedTensor};
use crate::Model;

/// peft's weight files, in the order they are tried.
pub const ADAPTER_FILES: &[&str] = &["adapter_model.safetensors", "adapter_model.bin"];

/// The peft types peftgrid reads and writes (`peft_type` in `adapter_config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeftType {
    Lora,
    Ia3,
    PromptTuning,
    PrefixTuning,
    Loha,
    Lokr,
    Vera,
    Oft,
    Boft,
    Hra,
    Miss,
    FourierFt,
    AdaLora,
    LnTuning,
}

impl PeftType {
    pub const ALL: [PeftType; 14] = [
        PeftType::Lora,
        PeftType::Ia3,
        PeftType::PromptTuning,
        PeftType::PrefixTuning,
        PeftType::Loha,
        PeftType::Lokr,
        PeftType::Vera,
        PeftType::Oft,
        PeftType::Boft,
        PeftType::Hra,
        PeftType::Miss,
        PeftType::FourierFt,
        PeftType::AdaLora,
        PeftType::LnTuning,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PeftType::Lora => "LORA",
            PeftType::Ia3 => "IA3",
            PeftType::PromptTuning => "PROMPT_TUNING",
            PeftType::PrefixTuning => "PREFIX_TUNING",
            PeftType::Loha => "LOHA",
            PeftType::Lokr => "LOKR",
            PeftType::Vera => "VERA",
            PeftType::Oft => "OFT",
            PeftType::Boft => "BOFT",
            PeftType::Hra => "HRA",
            PeftType::Miss => "MISS",
            PeftType::FourierFt => "FOURIERFT",
            PeftType::AdaLora => "ADALORA",
            PeftType::LnTuning => "LN_TUNING",
        }
    }
}

/// The peft type that holds a form, or why peft has none.
pub fn peft_type_of(form: &Form) -> std::result::Result<PeftType, &'static str> {
    match form {
        Form::LowRank(_) | Form::WeightDecomposed(_) => Ok(PeftType::Lora),
        Form::Rescale(_) => Ok(PeftType::Ia3),
        Form::Prompt(_) => Ok(PeftType::PromptTuning),
        Form::Prefix(_) => Ok(PeftType::PrefixTuning),
        Form::Bottleneck(_) => Err("peft has no bottleneck adapters (AdapterHub's format has)"),
        Form::Kronecker(_) => {
            Err("peft has no KronA (its LoKr scales and factorises A ⊗ B otherwise)")
        }
        Form::TokenBias(_) => Err("peft has no AdapterBias"),
        Form::Hadamard(_) => Ok(PeftType::Loha),
        Form::FactoredKronecker(_) => Ok(PeftType::Lokr),
        Form::RandomBasis(_) => Ok(PeftType::Vera),
        Form::Spectral(_) => Ok(PeftType::FourierFt),
        Form::SingularValue(_) => Ok(PeftType::AdaLora),
        Form::ShardShared(_) => Ok(PeftType::Miss),
        Form::Orthogonal(_) => Ok(PeftType::Oft),
        Form::ButterflyOrthogonal(_) => Ok(PeftType::Boft),
        Form::Householder(_) => Ok(PeftType::Hra),
        Form::Rational(_) => Err("peft has no rational activations (RAFT)"),
        Form::DeepPrompt(_) => Err("peft has no per-layer prompts (VPT-deep)"),
    }
}

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

    /// Refuses flags that change the computation (`fan_in_fan_out`, OFT's `coft`, ...) when
    /// they are set: each must be absent or false.
    fn refuse_flags(&self, names: &[&str]) -> Result<()> {
        names
            .iter()
            .try_for_each(|name| self.refuse(name, |v| v.is_null() || v == &json!(false)))
    }

    /// Refuses trained biases of the base layers (`bias` other than "none").
    fn refuse_bias(&self) -> Result<()> {
        self.refuse("bias", |v| v.is_null() || v == &json!("none"))
    }

    /// Refuses per-module settings (`rank_pattern`, `alpha_pattern`, FourierFT's
    /// `n_frequency_pattern`): one modification of the design space has one budget and scale.
    fn refuse_patterns(&self, names: &[&str]) -> Result<()> {
        names.iter().try_for_each(|name| {
            self.refuse(name, |v| {
                v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
            })
        })
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

    /// A tensor the adapter was found to have, with an error naming it when it is missing.
    fn tensor_name<'a>(
        &self,
        names: &'a BTreeMap<String, String>,
        suffix: &str,
        at: impl std::fmt::Display,
    ) -> Result<&'a String> {
        names.get(suffix).ok_or_else(|| ModelError::MissingTensor {
            path: self.weights.path().to_path_buf(),
            key: format!("{suffix} of {at}"),
            tried: "the adapter's keys".into(),
        })
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
        return Err(super::seq2seq_unsupported("a peft adapter"));
    }
    let adapter = PeftAdapter::open(dir)?;
    let Some(peft_type) = PeftType::ALL
        .into_iter()
        .find(|t| t.name() == adapter.peft_type)
    else {
        let known: Vec<&str> = PeftType::ALL.iter().map(|t| t.name()).collect();
        return Err(config_error(
            &adapter.config_path(),
            "peft_type",
            format!(
                "`{}` is not supported ({} are)",
                adapter.peft_type,
                known.join(", ")
            ),
        ));
    };
    match peft_type {
        PeftType::Lora => low_rank::load(model, config, &adapter, device),
        PeftType::Ia3 => rescale::load(model, config, &adapter, device),
        PeftType::PromptTuning => prompt::load(model, config, &adapter, device),
        PeftType::PrefixTuning => prefix::load(model, config, &adapter, device),
        PeftType::Loha => loha::load(model, config, &adapter, device),
        PeftType::Lokr => lokr::load(model, config, &adapter, device),
        PeftType::Vera => vera::load(model, config, &adapter, device),
        PeftType::Oft => oft::load(model, config, &adapter, device),
        PeftType::Boft => boft::load(model, config, &adapter, device),
        PeftType::Hra => hra::load(model, config, &adapter, device),
        PeftType::Miss => miss::load(model, config, &adapter, device),
        PeftType::FourierFt => fourierft::load(model, config, &adapter, device),
        PeftType::AdaLora => adalora::load(model, config, &adapter, device),
        PeftType::LnTuning => ln_tuning::load(model, config, &adapter, device),
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

/// The tensors peft saved for one targeted projection, read with the shapes they must have.
pub(super) struct ModuleTensors<'a, B: Backend> {
    adapter: &'a PeftAdapter,
    names: &'a BTreeMap<String, String>,
    at: String,
    device: &'a B::Device,
}

impl<B: Backend> ModuleTensors<'_, B> {
    /// The tensor saved under `suffix`, checked to be `shape`; `why` says what sets the shape.
    pub fn get<const D: usize>(
        &self,
        suffix: &str,
        shape: [usize; D],
        why: &str,
    ) -> Result<Tensor<B, D>> {
        let name = self.adapter.tensor_name(self.names, suffix, &self.at)?;
        self.adapter.weights.tensor(name, shape, why, self.device)
    }
}

/// The loading of every peft type that puts one module beside each targeted projection: finds
/// the modules that hold tensors ending in `suffixes`, builds the method `spec` makes of their
/// positions (every layer must have them), places it, and lets `fill` read each module's tensors
/// into the modification just placed at its site (with that site's widths).
pub(super) fn load_per_module<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
    suffixes: &[&str],
    spec: impl FnOnce(&[Position]) -> MethodSpec,
    mut fill: impl FnMut(
        &mut peftgrid_zoo::Modification<B>,
        &ModuleTensors<B>,
        peftgrid_zoo::SiteDims,
    ) -> Result<()>,
) -> Result<MethodSpec> {
    let found = locate(model, adapter, adapter.modules(suffixes))?;
    let positions = positions_on_every_layer(model, adapter, &found)?;
    let spec = spec(&positions);
    crate::method::apply(model, config, &spec, device)?;
    let shape = config.shape();
    let mut parts = model.parts_mut();
    for ((layer, position), names) in &found {
        let tensors = ModuleTensors {
            adapter,
            names,
            at: format!("layer {layer} {position}"),
            device,
        };
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("a located module is a projection site");
        if let Some(m) = site.mods.last_mut() {
            fill(m, &tensors, shape.sites(*position).dims)?;
        }
    }
    Ok(spec)
}

/// What a form's writer gets: the method's layers and model-level modules, and where to put
/// tensors and config keys.
struct Writer<'a, B: Backend> {
    model: &'a Model<B>,
    config: &'a ModelConfig,
    spec: &'a MethodSpec,
    layers: &'a [EncoderLayer<B>],
    input: &'a Site<B>,
    shared: &'a Shared<B>,
    /// `base_model.model.` + the backbone's prefix inside a model with a head.
    prefix: String,
    tensors: BTreeMap<String, NamedTensor>,
    adapter_config: Value,
    config_path: PathBuf,
}

impl<B: Backend> Writer<'_, B> {
    fn put(&mut self, name: String, t: TensorData) {
        self.tensors.insert(name, NamedTensor::from_data(t));
    }

    /// The one modification of a peft type that puts a module beside each projection: writes,
    /// for every site it sits at, the tensors `tensors` names (suffix, data) under peft's module
    /// path, and sets `target_modules`. Returns the modification for the type's config keys.
    fn put_per_module(
        &mut self,
        what: &str,
        tensors: impl Fn(&peftgrid_zoo::Modification<B>) -> Option<Vec<(&'static str, TensorData)>>,
    ) -> Result<peftgrid_zoo::ModificationSpec> {
        let [m] = self.spec.modifications.as_slice() else {
            return Err(self.unsupported(&format!(
                "peft's {what} is one set of target modules with one budget"
            )));
        };
        let m = m.clone();
        for i in 0..self.layers.len() {
            for &p in &m.at {
                let Some(found) = self.layers[i]
                    .sites
                    .get(p)
                    .and_then(|s| s.mods.first())
                    .and_then(&tensors)
                else {
                    continue;
                };
                let module = self.module(i, p)?;
                for (suffix, data) in found {
                    self.put(format!("{module}.{suffix}"), data);
                }
            }
        }
        let at: BTreeSet<Position> = m.at.iter().copied().collect();
        let targets = self.target_names(&at)?;
        self.set("target_modules", json!(targets));
        Ok(m)
    }

    fn set(&mut self, key: &str, value: Value) {
        self.adapter_config[key] = value;
    }

    /// peft's module path of the projection at `p` in layer `layer`.
    fn module(&self, layer: usize, p: Position) -> Result<String> {
        let keys = self.model.layer_keys(layer);
        let projection = keys.projection(p).ok_or_else(|| {
            self.unsupported(&format!(
                "peft places its modules on projections, and `{p}` is not one"
            ))
        })?;
        Ok(format!("base_model.model.{}{projection}", self.prefix))
    }

    /// peft's `target_modules`: it matches by suffix, and the last two path components of a
    /// projection are unambiguous.
    fn target_names(&self, positions: &BTreeSet<Position>) -> Result<Vec<String>> {
        let keys = self.model.layer_keys(0);
        positions
            .iter()
            .map(|p| {
                let k = keys.projection(*p).ok_or_else(|| {
                    self.unsupported(&format!("`{p}` is not a projection peft can target"))
                })?;
                Ok(k.splitn(4, '.').nth(3).unwrap_or(k).to_string())
            })
            .collect()
    }

    /// α of a rank-scaled update, for the types whose config holds α with α/r implied.
    fn alpha_of(&self, m: &peftgrid_zoo::ModificationSpec, r: usize) -> Result<f64> {
        match m.composition {
            Composition::AlphaOverRank { alpha } => Ok(alpha),
            Composition::Scaled { s } => Ok(s * r as f64),
            Composition::Add => Ok(r as f64),
            other => Err(self.unsupported(&format!("peft scales this type by α/r, not `{other}`"))),
        }
    }

    fn unsupported(&self, why: &str) -> ModelError {
        no_peft_form(&self.config_path, self.spec, why)
    }

    /// The config keys of peft's prompt-learning types (prompt and prefix tuning).
    fn prompt_learning(&mut self, peft_type: PeftType, l: usize) {
        let dims = self.config.dims();
        let layers = self.layers.len();
        self.set("peft_type", json!(peft_type.name()));
        self.set("task_type", json!("FEATURE_EXTRACTION"));
        self.set("num_virtual_tokens", json!(l));
        self.set("token_dim", json!(dims.hidden));
        self.set("num_transformer_submodules", json!(1));
        self.set("num_attention_heads", json!(dims.heads));
        self.set("num_layers", json!(layers));
    }
}

/// The error for a method peft cannot hold, naming the config it would have been written to.
fn no_peft_form(config_path: &Path, spec: &MethodSpec, why: &str) -> ModelError {
    config_error(
        config_path,
        "peft_type",
        format!("method `{}` has no peft form: {why}", spec.name),
    )
}

/// Writes the method on `model` as a peft adapter: one peft type (LoRA, IA3, prompt or prefix
/// tuning), nothing pretrained unfrozen.
pub fn save_adapter<B: Backend>(
    model: &Model<B>,
    config: &ModelConfig,
    spec: &MethodSpec,
    dir: &Path,
) -> Result<()> {
    let config_path = dir.join("adapter_config.json");
    let unsupported = |why: &str| no_peft_form(&config_path, spec, why);
    let (layers, input, shared) = match model {
        Model::Text(m) => (&m.layers, &m.input, &m.shared),
        Model::Vit(m) => (&m.layers, &m.input, &m.shared),
        Model::Seq2Seq(_) => return Err(super::seq2seq_unsupported("a peft adapter")),
    };
    let ln_tuning = spec.modifications.is_empty()
        && spec.unfreeze.as_slice() == [peftgrid_zoo::ParamGroup::LayerNorms];
    if !spec.unfreeze.is_empty() && !ln_tuning {
        return Err(unsupported(
            "a peft adapter holds no unfrozen pretrained parameters but LayerNorms (LN_TUNING)",
        ));
    }
    let types = spec
        .modifications
        .iter()
        .map(|m| peft_type_of(&m.form))
        .collect::<std::result::Result<BTreeSet<PeftType>, _>>()
        .map_err(unsupported)?;
    let peft_type = match (types.len(), types.first()) {
        _ if ln_tuning => PeftType::LnTuning,
        (1, Some(&t)) => t,
        (0, _) => return Err(unsupported("it has no modifications")),
        _ => return Err(unsupported("a peft adapter holds one peft type")),
    };
    let prefix = match config.head {
        crate::HeadKind::None => String::new(),
        _ => format!("{}.", config.base_prefix()),
    };
    let mut w = Writer {
        model,
        config,
        spec,
        layers,
        input,
        shared,
        prefix,
        tensors: BTreeMap::new(),
        adapter_config: json!({
            "peft_version": "0.21.0",
            "base_model_name_or_path": null,
            "inference_mode": true,
            "revision": null,
            "task_type": null,
            "modules_to_save": null,
            "auto_mapping": null,
        }),
        config_path: config_path.clone(),
    };
    match peft_type {
        PeftType::Lora => low_rank::save(&mut w)?,
        PeftType::Ia3 => rescale::save(&mut w)?,
        PeftType::PromptTuning => prompt::save(&mut w)?,
        PeftType::PrefixTuning => prefix::save(&mut w)?,
        PeftType::Loha => loha::save(&mut w)?,
        PeftType::Lokr => lokr::save(&mut w)?,
        PeftType::Vera => vera::save(&mut w)?,
        PeftType::Oft => oft::save(&mut w)?,
        PeftType::Boft => boft::save(&mut w)?,
        PeftType::Hra => hra::save(&mut w)?,
        PeftType::Miss => miss::save(&mut w)?,
        PeftType::FourierFt => fourierft::save(&mut w)?,
        PeftType::AdaLora => adalora::save(&mut w)?,
        PeftType::LnTuning => ln_tuning::save(&mut w)?,
    }
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // A JSON value's pretty form (`{:#}`) cannot fail.
    std::fs::write(&config_path, format!("{:#}", w.adapter_config)).map_err(|source| {
        ModelError::Io {
            path: config_path.clone(),
            source,
        }
    })?;
    tensors::write(&dir.join(ADAPTER_FILES[0]), &w.tensors)
}
