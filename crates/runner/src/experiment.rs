//! Experiment files: a sweep over backbones, tasks, methods (presets, spec files, inline specs and
//! design-space grids), budgets, hyperparameters and seeds, written in TOML
//! (`experiments/*.toml`, schema in `experiments/README.md`), expanded into [`RunSpec`]s.
//!
//! - Expansion is deterministic: task, backbone, method (the `methods` list, then each `[[grid]]`
//!   block's points), budget, `[train.sweep]` point, seed.
//! - Target budgets (`target_percent`, `target_params`) are matched on the backbone's
//!   `config.json` alone with [`peftgrid_zoo::match_budget`]; no weights are read.
//! - A run's [`RunSpec::id`] is the sha256 of the canonical JSON of what the run trains (backbone,
//!   task, data folder, resolved method, seed, hyperparameters): rerunning an unchanged file gives
//!   the same ids, changing anything that is trained changes them. The experiment's name and the
//!   labels (task name, budget target, swept values) are not part of it.
//! - Every table of the file rejects unknown fields, including the method specs and forms written
//!   inline (the zoo's types tolerate them, so they are probed here): a typo is an error naming the
//!   file and the field, never a silently different experiment.
//!
//! Relative paths in a file (backbones, data folders, method files) are relative to the directory
//! the command runs in (the repository root), and are kept as written in the run specs so that ids
//! do not depend on where the checkout lives; [`Experiment::root`] is where they are looked up.

// `peftgrid sweep` uses the core (parse, expand, shard, dry run); the rest (TOML output, parsing
// in another root, per-run helpers) is API for tests and later commands.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use peftgrid_data::check::Dataset;
use peftgrid_model::config::ModelConfig;
use peftgrid_zoo::{
    count, match_budget, BackboneShape, Composition, Form, Insertion, MethodSpec, ModificationSpec,
    ParamGroup, Position, Target,
};
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Hyperparameters

/// The learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// HF's `get_linear_schedule_with_warmup`: linear decay to 0.
    #[default]
    Linear,
    /// Half-cosine decay to 0 (VPT and most ViT PEFT work).
    Cosine,
    /// Constant after warm-up.
    Constant,
}

/// How an epoch's training examples are grouped into batches (`batch_tokens` and
/// `batch_order` take precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Batching {
    /// A new random permutation each epoch cut into batches, the last one short: PyTorch's
    /// `DataLoader(shuffle=True)`, what transformers' `Trainer` and peft's examples train on.
    #[default]
    Random,
    /// Shuffled, then sorted by length within chunks of 50 batches and cut (less padding, so
    /// faster on CPU). Beware on small sets: one chunk holds the whole set, so every epoch
    /// trains on nearly the same groups of equal-length examples.
    Bucketed,
}

/// Decoding settings for sequence-to-sequence tasks (XSum, WMT16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    #[serde(default = "one")]
    pub num_beams: usize,
    /// Longest output, in target tokens.
    pub max_length: usize,
    #[serde(default)]
    pub min_length: usize,
    /// Never repeat an n-gram of this size (0: off).
    #[serde(default)]
    pub no_repeat_ngram_size: usize,
    #[serde(default = "one_f64")]
    pub length_penalty: f64,
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Declares the hyperparameters once and derives from the list: [`TrainConfig`] (a run's
/// resolved values), [`TrainPatch`] (every field optional: per-task and per-method overrides, one
/// point of a sweep), [`TrainSweep`] (a list per field) and [`TrainSection`] (the file's `[train]`:
/// the values, `task` overrides and the `sweep`).
macro_rules! hyperparameters {
    ($($(#[doc = $doc:literal])* $field:ident : $ty:ty = $default:expr;)*) => {
        /// The hyperparameters of one run, resolved.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct TrainConfig {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for TrainConfig {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        /// Some hyperparameters, to lay over a [`TrainConfig`].
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct TrainPatch {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl TrainPatch {
            pub fn apply(&self, to: &mut TrainConfig) {
                $(if let Some(v) = &self.$field { to.$field = v.clone(); })*
            }
        }

        /// Hyperparameters to sweep: each field a list of values, expanded as a product.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct TrainSweep {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<Vec<$ty>>,
            )*
        }

        impl TrainSweep {
            /// Every point of the product, in field order (one empty patch when nothing is swept).
            pub fn points(&self) -> Result<Vec<TrainPatch>> {
                let mut points = vec![TrainPatch::default()];
                $(
                    if let Some(values) = &self.$field {
                        ensure!(
                            !values.is_empty(),
                            "train.sweep.{}: empty list (it would expand to no runs)",
                            stringify!($field)
                        );
                        let mut next = Vec::with_capacity(points.len() * values.len());
                        for p in &points {
                            for v in values {
                                let mut q = p.clone();
                                q.$field = Some(v.clone());
                                next.push(q);
                            }
                        }
                        points = next;
                    }
                )*
                Ok(points)
            }
        }

        /// The file's `[train]`: hyperparameters for every run, per-task overrides
        /// (`[train.task."glue/cola"]`) and hyperparameters to sweep (`[train.sweep]`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct TrainSection {
            $($(#[doc = $doc])* pub $field: $ty,)*
            /// Overrides by task: the task's `name`, or the data set (`glue/cola`, `xsum`).
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            pub task: BTreeMap<String, TrainPatch>,
            #[serde(skip_serializing_if = "TrainSweep::is_empty")]
            pub sweep: TrainSweep,
        }

        impl Default for TrainSection {
            fn default() -> Self {
                Self { $($field: $default,)* task: BTreeMap::new(), sweep: TrainSweep::default() }
            }
        }

        impl TrainSection {
            /// The values every run starts from.
            pub fn base(&self) -> TrainConfig {
                TrainConfig { $($field: self.$field.clone(),)* }
            }
        }
    };
}

hyperparameters! {
    /// Peak learning rate (AdamW).
    lr: f64 = 1e-4;
    /// Examples per optimizer update and micro-batch (see `grad_accum`).
    batch_size: usize = 32;
    epochs: usize = 10;
    /// Stop after this many optimizer updates (whichever of epochs and steps ends first).
    max_steps: Option<usize> = None;
    /// Warm-up as a fraction of all updates.
    warmup_ratio: f64 = 0.06;
    /// Warm-up in updates; overrides `warmup_ratio`.
    warmup_steps: Option<usize> = None;
    schedule: Schedule = Schedule::Linear;
    /// Decoupled weight decay (not on biases and LayerNorms).
    weight_decay: f64 = 0.1;
    adam_betas: [f64; 2] = [0.9, 0.999];
    adam_eps: f64 = 1e-8;
    /// Global gradient-norm clipping; 0 turns it off.
    grad_clip: f64 = 1.0;
    /// Micro-batches per update.
    grad_accum: usize = 1;
    /// How examples are grouped into batches: `random` (PyTorch's shuffled DataLoader, the
    /// default) or `bucketed` by length.
    batching: Batching = Batching::Random;
    /// Batch by tokens instead of examples (fairseq's max_tokens; WMT16 en-ro uses 16,384).
    batch_tokens: Option<usize> = None;
    /// Replay the batches of a JSON file `{"epochs": [[[indices], ...], ...]}` (another
    /// framework's order, for a step-for-step comparison) instead of drawing them.
    batch_order: Option<PathBuf> = None;
    /// Start the trainable tensors from a safetensors file keyed by module path (as
    /// `sweep --save-trainable` writes them; those it lacks keep their initialisation).
    init_weights: Option<PathBuf> = None;
    /// Longest input in tokens (the source, for sequence-to-sequence tasks).
    max_len: usize = 128;
    /// What a new text classification head reads: `cls` (transformers' `*ForSequenceClassification`,
    /// through BERT's pooler) or `mean` (sentence-transformers' mean over real tokens).
    head_pooling: peftgrid_model::Pooling = peftgrid_model::Pooling::Cls;
    /// Longest target in tokens (sequence-to-sequence tasks).
    max_target_len: Option<usize> = None;
    /// Cross-entropy label smoothing ε.
    label_smoothing: f64 = 0.0;
    /// Evaluate every this many updates (default: once per epoch).
    eval_every: Option<usize> = None;
    /// Stop after this many evaluations without improvement of the task's main metric.
    patience: Option<usize> = None;
    /// UniPELT's low-resource setting: train on K examples drawn with the run's seed, and use
    /// 1,000 further training examples as the dev set (the task's dev set becomes the test set).
    low_resource_k: Option<usize> = None;
    /// Decoding, for sequence-to-sequence tasks.
    generation: Option<Generation> = None;
    /// Examples per evaluation batch (sources per batch when generating).
    eval_batch_size: usize = 64;
    /// Train on the first N examples of the training split only (quick runs, learning curves,
    /// the same subset another framework reads).
    max_train_examples: Option<usize> = None;
    /// Evaluate on the first N examples of the evaluation split only (generation on CPU);
    /// the final test split, when there is one, is always scored whole.
    max_eval_examples: Option<usize> = None;
    /// Text put before every source (T5's task prefixes: "summarize: ",
    /// "translate English to Romanian: ").
    source_prefix: Option<String> = None;
}

impl TrainSweep {
    pub fn is_empty(&self) -> bool {
        *self == TrainSweep::default()
    }
}

impl TrainConfig {
    /// Checks the values; the error names the field.
    pub fn check(&self) -> Result<()> {
        let fraction = |v: f64| (0.0..1.0).contains(&v);
        ensure!(
            self.lr > 0.0 && self.lr.is_finite(),
            "lr: {} must be positive",
            self.lr
        );
        ensure!(self.batch_size >= 1, "batch_size: must be at least 1");
        ensure!(
            self.epochs >= 1 || self.max_steps.is_some(),
            "epochs: must be at least 1 (or give max_steps)"
        );
        ensure!(self.max_steps != Some(0), "max_steps: must be at least 1");
        ensure!(
            fraction(self.warmup_ratio),
            "warmup_ratio: {} is not in [0, 1)",
            self.warmup_ratio
        );
        ensure!(
            self.weight_decay >= 0.0,
            "weight_decay: {} is negative",
            self.weight_decay
        );
        for (i, b) in self.adam_betas.iter().enumerate() {
            ensure!(fraction(*b), "adam_betas[{i}]: {b} is not in [0, 1)");
        }
        ensure!(self.adam_eps > 0.0, "adam_eps: must be positive");
        ensure!(
            self.grad_clip >= 0.0,
            "grad_clip: {} is negative (0 turns clipping off)",
            self.grad_clip
        );
        ensure!(self.grad_accum >= 1, "grad_accum: must be at least 1");
        ensure!(
            self.batch_tokens != Some(0),
            "batch_tokens: must be at least 1"
        );
        ensure!(self.max_len >= 1, "max_len: must be at least 1");
        ensure!(
            self.max_train_examples != Some(0),
            "max_train_examples: must be at least 1"
        );
        ensure!(
            self.max_target_len != Some(0),
            "max_target_len: must be at least 1"
        );
        ensure!(
            fraction(self.label_smoothing),
            "label_smoothing: {} is not in [0, 1)",
            self.label_smoothing
        );
        ensure!(self.eval_every != Some(0), "eval_every: must be at least 1");
        ensure!(
            self.eval_batch_size >= 1,
            "eval_batch_size: must be at least 1"
        );
        ensure!(
            self.max_eval_examples != Some(0),
            "max_eval_examples: must be at least 1"
        );
        ensure!(self.patience != Some(0), "patience: must be at least 1");
        ensure!(
            self.low_resource_k != Some(0),
            "low_resource_k: must be at least 1"
        );
        if let Some(g) = &self.generation {
            ensure!(g.num_beams >= 1, "generation.num_beams: must be at least 1");
            ensure!(
                g.max_length >= 1 && g.min_length <= g.max_length,
                "generation: min_length {} / max_length {} are not a range",
                g.min_length,
                g.max_length
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The file

/// One value or a list of them (`backbone = "models/x"` or `backbone = ["models/x", "models/y"]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

impl<T> From<T> for OneOrMany<T> {
    fn from(v: T) -> Self {
        OneOrMany::One(v)
    }
}

/// A task: `"glue/sst2"`, or a table naming its data folder, a label and a backbone of its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TaskEntry {
    Name(String),
    Table(TaskTable),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTable {
    /// The data set (`peftgrid_data::check::Dataset`): `glue/sst2`, `xsum`, `wmt16`, `cifar100`,
    /// `fgvc/cub`, ...
    pub task: String,
    /// A label for results and `[train.task.<name>]` (default: the data set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Replaces the experiment's backbone(s) for this task (BART for XSum, mBART for en-ro).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<PathBuf>,
}

/// A method: `"lora"`, `"mam:16,16"`, `"path/spec.toml"`, or a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MethodEntry {
    Arg(String),
    Table(Box<MethodTable>),
}

/// A method from exactly one of `preset`, `file` and `spec`, with the budgets to run it at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodTable {
    /// `NAME` or `NAME:B1,B2` (`peftgrid methods` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A method spec file (JSON or TOML, as `peftgrid methods --json` prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// A method spec written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MethodSpec>,
    /// Renames the method (its label in results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Budget knobs to run, one list per run, each in the method's knob order (`[[16, 16]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Vec<Vec<usize>>>,
    /// Set knob `knob` so that the trainable parameters come closest to each % of the backbone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<Vec<f64>>,
    /// Likewise for a parameter count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_params: Option<Vec<usize>>,
    /// Which knob the targets set (0: the first modification that has one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub knob: usize,
    /// Hyperparameters of this method's runs (over `[train]` and the task's overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainPatch>,
}

/// A design-space grid: one modification, every combination of the listed forms, positions,
/// insertions, compositions and budgets (each a value or a list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridBlock {
    /// Prefix of the generated method names (default: the form's kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A method (`NAME`, `NAME:B1,..`, a spec file) the grid's modification is added to, e.g.
    /// `"prefix:30"` for MAM-like unions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub form: OneOrMany<Form>,
    /// Each entry is one point of the axis: a position, or a list of positions that one
    /// modification occupies together (`["q", "v"]`).
    pub at: Vec<OneOrMany<Position>>,
    #[serde(default = "default_insertion")]
    pub insertion: OneOrMany<Insertion>,
    #[serde(default = "default_composition")]
    pub composition: OneOrMany<Composition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetAxis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfreeze: Vec<ParamGroup>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub train_head: bool,
    /// Leave out combinations the design space does not allow (a bottleneck at `input`, ...)
    /// instead of failing on them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_invalid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainPatch>,
}

fn default_insertion() -> OneOrMany<Insertion> {
    OneOrMany::One(Insertion::default())
}

fn default_composition() -> OneOrMany<Composition> {
    OneOrMany::One(Composition::default())
}

/// A grid's budget axis: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetAxis {
    /// Knob values (r, l, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knob: Option<Vec<usize>>,
    /// Trainable parameters as % of the backbone, matched on its config.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_params: Option<Vec<usize>>,
}

/// An experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Results go to `results/<name>.parquet`: letters, digits, `-`, `_`, `.`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A Hugging Face folder (or its config.json), or a list of them to sweep.
    pub backbone: OneOrMany<PathBuf>,
    pub tasks: Vec<TaskEntry>,
    /// The data folder of every task that names none (default: `datasets/glue`,
    /// `datasets/xsum`, `datasets/wmt16`, `datasets/cifar100`, `datasets/fgvc/<set>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<MethodEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<GridBlock>,
    #[serde(default)]
    pub train: TrainSection,
    /// Where relative paths are looked up (not part of the file; empty: the current directory).
    #[serde(skip)]
    pub root: PathBuf,
}

fn default_seeds() -> Vec<u64> {
    vec![42]
}

// Strings or tables / values or lists, with the errors of the variant that was written (serde's
// untagged enums only say "did not match any variant").

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or a list of values")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// `"text"` → `S::from(text)`, `{ ... }` → `M`.
struct StringOrTable<S, M>(&'static str, PhantomData<(S, M)>);

impl<'de, S: From<String>, M: Deserialize<'de>> Visitor<'de> for StringOrTable<S, M> {
    type Value = Result<S, M>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(S::from(v.to_string())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(Err)
    }
}

impl<'de> Deserialize<'de> for TaskEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(StringOrTable::<String, TaskTable>(
            "a data set (\"glue/sst2\") or a table { task = ..., data_dir = ..., name = ..., backbone = ... }",
            PhantomData,
        ))?;
        Ok(v.map_or_else(TaskEntry::Table, TaskEntry::Name))
    }
}

impl<'de> Deserialize<'de> for MethodEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(StringOrTable::<String, MethodTable>(
            "a method (\"lora\", \"mam:16,16\", \"spec.toml\") or a table with one of preset, file, spec",
            PhantomData,
        ))?;
        Ok(v.map_or_else(|t| MethodEntry::Table(Box::new(t)), MethodEntry::Arg))
    }
}

// ---------------------------------------------------------------------------------------------
// Runs

/// One run of a sweep, fully resolved: what the training loop needs and nothing to look up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The experiment's name (results/<sweep>.parquet).
    pub sweep: String,
    pub backbone: PathBuf,
    /// The data set, canonical (`glue/sst2`).
    pub task: String,
    /// The task's label (its `name`, else `task`).
    pub task_name: String,
    pub data_dir: PathBuf,
    /// The method with every budget knob set.
    pub method: MethodSpec,
    /// The budget target the knob was matched to, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The hyperparameters `[train.sweep]` set for this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub varied: BTreeMap<String, serde_json::Value>,
    pub seed: u64,
    pub train: TrainConfig,
}

impl RunSpec {
    /// Hex sha256 of the canonical JSON (keys sorted, nulls dropped, floats in shortest
    /// round-trip form) of what the run trains: backbone, task, data folder, method, seed and
    /// hyperparameters. Labels (sweep, task name, target, varied) are left out, and so are
    /// hyperparameters at their default value: adding a hyperparameter to [`TrainConfig`] whose
    /// default keeps the old behaviour keeps every existing id (the zoo's specs likewise skip
    /// default options). Changing a default in code, by the same token, does not change ids.
    pub fn id(&self) -> String {
        let mut train = serde_json::to_value(&self.train).unwrap_or_default();
        let defaults = serde_json::to_value(TrainConfig::default()).unwrap_or_default();
        if let (Some(t), Some(d)) = (train.as_object_mut(), defaults.as_object()) {
            // `batching` stays even at its default: that default changed from bucketed to
            // random, and a results file's rows trained the old way must not pass for new runs.
            t.retain(|k, v| k == "batching" || d.get(k) != Some(v));
        }
        let key = serde_json::json!({
            "backbone": self.backbone,
            "task": self.task,
            "data_dir": self.data_dir,
            "method": self.method,
            "seed": self.seed,
            "train": train,
        });
        let mut text = String::new();
        canonical_json(&key, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// `sst2 · lora r=8 · lr=0.0003 · seed 42` (with the backbone's folder name in front).
    pub fn short_label(&self) -> String {
        let backbone = self
            .backbone
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_default();
        let mut parts = vec![backbone, self.task_name.clone(), self.method.name.clone()];
        let knobs = knob_label(&self.method);
        if !knobs.is_empty() {
            parts.push(knobs);
        }
        for (k, v) in &self.varied {
            parts.push(format!("{k}={v}"));
        }
        parts.push(format!("seed {}", self.seed));
        parts.join(" · ")
    }

    /// The data set.
    pub fn dataset(&self) -> Result<Dataset> {
        Ok(self.task.parse()?)
    }
}

/// `r=8`, `l=16,r=16`: the method's budget knobs with their names.
fn knob_label(method: &MethodSpec) -> String {
    method
        .modifications
        .iter()
        .filter_map(|m| Some(format!("{}={}", m.form.knob()?, m.budget?)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes `v` with object keys sorted and null members dropped; numbers as serde_json prints them
/// (integers exactly, floats in the shortest form that reads back to the same f64; -0 as 0).
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&v.to_string()),
        // serde_json writes floats in ryu's shortest round-trip form (4.0, 0.0001, 1e-8).
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f == 0.0 => out.push_str("0.0"),
            _ => out.push_str(&v.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// The runs of shard `i` of `n` (1-based), round-robin by index: runs i−1, i−1+n, ...
pub fn shard<T: Clone>(runs: &[T], i: usize, n: usize) -> Result<Vec<T>> {
    ensure!(
        n >= 1,
        "--shard {i}/{n}: the number of shards must be at least 1"
    );
    ensure!(
        (1..=n).contains(&i),
        "--shard {i}/{n}: the shard must be in 1..={n}"
    );
    Ok(runs.iter().skip(i - 1).step_by(n).cloned().collect())
}

/// Parses `i/N` (`--shard 2/4`).
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parse = || -> Option<(usize, usize)> {
        let (i, n) = text.trim().split_once('/')?;
        Some((i.trim().parse().ok()?, n.trim().parse().ok()?))
    };
    let (i, n) = parse().ok_or_else(|| anyhow!("--shard `{text}`: expected i/N, e.g. 2/4"))?;
    shard::<()>(&[], i, n)?;
    Ok((i, n))
}

/// The config.json of a backbone path (a folder or the file itself).
pub fn config_path(backbone: &Path) -> PathBuf {
    if backbone.extension().is_some_and(|e| e == "json") {
        backbone.to_path_buf()
    } else {
        backbone.join("config.json")
    }
}

/// The backbone's shape from its config.json; `None` when there is no config.json.
fn load_shape(root: &Path, backbone: &Path) -> Result<Option<BackboneShape>> {
    let path = config_path(&root.join(backbone));
    if !path.is_file() {
        return Ok(None);
    }
    let config = ModelConfig::from_path(&path)
        .with_context(|| format!("backbone `{}`", backbone.display()))?;
    Ok(Some(config.shape()))
}

/// One line per run: index, id, task, method, budget knobs, trainable parameters (task head
/// excluded) and their % of the backbone, the % once merged (prefix MLPs dropped), seed, then the
/// method's modifications (form, options, budget, positions, insertion, composition) and
/// unfrozen groups. Counts come from each
/// backbone's config.json (relative paths from the current directory); "?" where it is missing.
pub fn dry_run_table(runs: &[RunSpec]) -> String {
    dry_run_table_in(Path::new(""), runs)
}

/// [`dry_run_table`] with backbones looked up under `root`.
pub fn dry_run_table_in(root: &Path, runs: &[RunSpec]) -> String {
    let mut shapes: HashMap<&Path, Option<BackboneShape>> = HashMap::new();
    let header = [
        "#",
        "id",
        "task",
        "method",
        "budget",
        "trainable",
        "%",
        "merged %",
        "seed",
        "design",
    ];
    let mut rows: Vec<[String; 10]> = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let shape = shapes
            .entry(run.backbone.as_path())
            .or_insert_with(|| load_shape(root, &run.backbone).ok().flatten());
        let counted = shape.as_ref().map(|s| count(&run.method, s));
        let (trainable, percent, merged) = match counted {
            Some(Ok(c)) => (
                thousands(c.trainable),
                format!("{:.4}", c.percent),
                format!("{:.4}", c.deployed_percent),
            ),
            Some(Err(e)) => (format!("error: {e}"), String::new(), String::new()),
            None => ("?".into(), "?".into(), "?".into()),
        };
        let mut budget = knob_label(&run.method);
        if budget.is_empty() {
            budget = "-".into();
        }
        if let Some(t) = run.target {
            budget.push_str(&match t {
                Target::Percent(p) => format!(" (≈{p}%)"),
                Target::Params(n) => format!(" (≈{})", thousands(n)),
            });
        }
        let mut task = run.task_name.clone();
        if run.task_name != run.task {
            task = format!("{task} ({})", run.task);
        }
        let mut method = run.method.name.clone();
        for (k, v) in &run.varied {
            method.push_str(&format!(" {k}={v}"));
        }
        rows.push([
            (i + 1).to_string(),
            run.id()[..8].to_string(),
            task,
            method,
            budget,
            trainable,
            percent,
            merged,
            run.seed.to_string(),
            design(&run.method),
        ]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let right = [
        true, false, false, false, false, true, true, true, true, false,
    ];
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut s = String::new();
        for (k, cell) in cells.iter().enumerate() {
            let pad = widths[k].saturating_sub(cell.chars().count());
            if k > 0 {
                s.push_str("  ");
            }
            if k == cells.len() - 1 {
                s.push_str(cell);
            } else if right[k] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    let backbones: std::collections::BTreeSet<_> = runs.iter().map(|r| &r.backbone).collect();
    let missing: Vec<String> = backbones
        .iter()
        .filter(|b| shapes.get(b.as_path()).is_some_and(Option::is_none))
        .map(|b| config_path(b).display().to_string())
        .collect();
    let _ = writeln!(
        out,
        "{} run(s); trainable excludes the task head; merged % counts a prefix as its keys and \
         values, not the MLP that trains them (He et al.'s budget)",
        runs.len()
    );
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "? = no config.json to count on: {}",
            missing.join(", ")
        );
    }
    out
}

/// The modifications and unfrozen groups of a method, on one line.
fn design(method: &MethodSpec) -> String {
    let mut parts: Vec<String> = method
        .modifications
        .iter()
        .map(ModificationSpec::to_string)
        .collect();
    if !method.unfreeze.is_empty() {
        let groups: Vec<String> = method
            .unfreeze
            .iter()
            .map(|g| format!("{g:?}").to_lowercase())
            .collect();
        parts.push(format!("unfreeze {}", groups.join("+")));
    }
    if !method.train_head {
        parts.push("head frozen".into());
    } else if parts.is_empty() {
        parts.push("head only".into());
    }
    parts.join(" + ")
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading and expanding

/// How a method's budget knobs are chosen.
#[derive(Debug, Clone)]
enum Budgets {
    /// As the spec has them.
    Keep,
    /// Each list sets every knob.
    Fixed(Vec<Vec<usize>>),
    /// Knob `knob` matched to each target on the backbone.
    Targets(Vec<Target>, usize),
}

/// A method of the experiment before budgets: where it is in the file, its spec, its budgets.
#[derive(Debug, Clone)]
struct MethodSource {
    origin: String,
    spec: MethodSpec,
    budgets: Budgets,
    train: Option<TrainPatch>,
}

fn parse_targets(
    percent: &Option<Vec<f64>>,
    params: &Option<Vec<usize>>,
) -> Result<Option<Vec<Target>>> {
    Ok(match (percent, params) {
        (Some(_), Some(_)) => bail!("give target_percent or target_params, not both"),
        (Some(p), None) => {
            for &v in p {
                ensure!(
                    v > 0.0 && v.is_finite(),
                    "target_percent: {v} is not a positive %"
                );
            }
            Some(p.iter().map(|&v| Target::Percent(v)).collect())
        }
        (None, Some(n)) => {
            ensure!(n.iter().all(|&v| v > 0), "target_params: must be positive");
            Some(n.iter().map(|&v| Target::Params(v)).collect())
        }
        (None, None) => None,
    })
}

/// The serde text of a composition, `scaled(s=4.0)`.
fn composition_label(c: &Composition) -> String {
    let v = serde_json::to_value(c).unwrap_or_default();
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("?");
    let options: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "kind")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if options.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}({})", options.join(","))
    }
}

fn insertion_label(i: Insertion) -> &'static str {
    match i {
        Insertion::Sequential => "sequential",
        Insertion::Parallel => "parallel",
        Insertion::PostNorm => "post_norm",
    }
}

/// Reports fields of `input` that deserialising `T` ignores. The zoo's types do not deny unknown
/// fields, so each member that is missing when the parsed value is written back is probed: if
/// the document still parses with that member set to a value no field accepts, nothing read it.
fn unknown_fields<T: DeserializeOwned + Serialize>(input: &serde_json::Value) -> Vec<String> {
    let Ok(parsed) = serde_json::from_value::<T>(input.clone()) else {
        return Vec::new();
    };
    let output = serde_json::to_value(&parsed).unwrap_or_default();
    let mut found = Vec::new();
    probe::<T>(input, input, &output, String::new(), &mut found);
    found
}

fn probe<T: DeserializeOwned>(
    root: &serde_json::Value,
    input: &serde_json::Value,
    output: &serde_json::Value,
    pointer: String,
    found: &mut Vec<String>,
) {
    use serde_json::Value;
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = format!("{pointer}/{}", escape(k));
                match b.get(k) {
                    Some(w) => probe::<T>(root, v, w, here, found),
                    None => {
                        let mut changed = root.clone();
                        if let Some(slot) = changed.pointer_mut(&here) {
                            *slot = Value::String("\u{1}not a value\u{1}".into());
                        }
                        if serde_json::from_value::<T>(changed).is_ok() {
                            found.push(
                                here.trim_start_matches('/')
                                    .replace('/', ".")
                                    .replace("~1", "/")
                                    .replace("~0", "~"),
                            );
                        }
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                probe::<T>(root, v, w, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Fails when `input` has fields `T` does not read; `at` names where `input` sits.
fn deny_unknown<T: DeserializeOwned + Serialize>(
    input: &serde_json::Value,
    at: &str,
) -> Result<()> {
    let unknown = unknown_fields::<T>(input);
    ensure!(
        unknown.is_empty(),
        "{at}: unknown field(s) {} (not read by peftgrid; check the spelling)",
        unknown
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// A method spec file (JSON or TOML), with unknown fields refused.
fn read_method_file(path: &Path, shown: &Path) -> Result<MethodSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("method file `{}`", shown.display()))?;
    let value: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text)?
    } else {
        serde_json::to_value(toml::from_str::<toml::Table>(&text)?)?
    };
    deny_unknown::<MethodSpec>(&value, &format!("method file `{}`", shown.display()))?;
    Ok(MethodSpec::parse(&text, &shown.display().to_string())?)
}

/// `path` without `.` components or a trailing separator, so equal paths give equal ids.
fn normalise(path: &Path) -> PathBuf {
    let p: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

/// Where a data set lives when the experiment does not say (as `peftgrid data check`).
pub fn default_data_dir(dataset: Dataset) -> PathBuf {
    let root = PathBuf::from("datasets");
    match dataset {
        Dataset::Glue(_) => root.join("glue"),
        Dataset::Xsum => root.join("xsum"),
        Dataset::Wmt16 => root.join("wmt16"),
        Dataset::Cifar100 => root.join("cifar100"),
        Dataset::Fgvc(set) => root.join("fgvc").join(set.to_string()),
    }
}

/// A task entry, resolved.
struct Task {
    dataset: Dataset,
    name: String,
    data_dir: PathBuf,
    backbones: Vec<PathBuf>,
}

impl Experiment {
    /// Reads and checks an experiment file; relative paths in it are relative to the current
    /// directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Experiment> {
        Self::from_file_in(path, "")
    }

    /// [`Experiment::from_file`] with relative paths looked up under `root`.
    pub fn from_file_in(path: impl AsRef<Path>, root: impl Into<PathBuf>) -> Result<Experiment> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        Self::parse_in(&text, root).with_context(|| format!("experiment file {}", path.display()))
    }

    /// Parses and checks the text of an experiment file (paths relative to the current
    /// directory).
    pub fn parse(text: &str) -> Result<Experiment> {
        Self::parse_in(text, "")
    }

    /// [`Experiment::parse`] with relative paths looked up under `root`.
    pub fn parse_in(text: &str, root: impl Into<PathBuf>) -> Result<Experiment> {
        let de = toml::Deserializer::parse(text).map_err(|e| anyhow!("{e}"))?;
        let exp: Experiment = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            let message = message.trim_end();
            if path == "." || path.is_empty() {
                anyhow!("{message}")
            } else {
                anyhow!("field `{path}`: {message}")
            }
        })?;
        // The zoo's types read inline here do not deny unknown fields: probe them.
        let raw = serde_json::to_value(toml::from_str::<toml::Table>(text)?)?;
        if let Some(methods) = raw.get("methods").and_then(|m| m.as_array()) {
            for (i, m) in methods.iter().enumerate() {
                if let Some(spec) = m.get("spec") {
                    deny_unknown::<MethodSpec>(spec, &format!("field `methods[{i}].spec`"))?;
                }
            }
        }
        if let Some(grid) = raw.get("grid").and_then(|g| g.as_array()) {
            for (j, g) in grid.iter().enumerate() {
                if let Some(v) = g.get("form") {
                    deny_unknown::<OneOrMany<Form>>(v, &format!("field `grid[{j}].form`"))?;
                }
                if let Some(v) = g.get("composition") {
                    deny_unknown::<OneOrMany<Composition>>(
                        v,
                        &format!("field `grid[{j}].composition`"),
                    )?;
                }
            }
        }
        let exp = exp.with_root(root);
        exp.check()?;
        Ok(exp)
    }

    /// Sets where relative paths are looked up.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// The file's TOML (round-trips through [`Experiment::parse`]).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string(self)?)
    }

    /// Checks what can be checked without the backbone: names, tasks, seeds, hyperparameters,
    /// presets and spec files, grid axes.
    pub fn check(&self) -> Result<()> {
        ensure!(
            !self.name.is_empty()
                && self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "field `name`: `{}` must be letters, digits, `-`, `_` or `.` (results go to results/<name>.parquet)",
            self.name
        );
        ensure!(
            !self.backbone.as_slice().is_empty(),
            "field `backbone`: empty list"
        );
        ensure!(!self.tasks.is_empty(), "field `tasks`: no task given");
        ensure!(!self.seeds.is_empty(), "field `seeds`: no seed given");
        let mut seen = std::collections::HashSet::new();
        for s in &self.seeds {
            ensure!(seen.insert(s), "field `seeds`: {s} is listed twice");
        }
        ensure!(
            !self.methods.is_empty() || !self.grid.is_empty(),
            "no methods: give `methods = [...]` and/or `[[grid]]` blocks"
        );
        let tasks = self.tasks()?;
        self.train.base().check().context("field `train`")?;
        // A key names a task or a data set; one for a data set the experiment does not run is
        // kept (settings ready for when the task is added), anything else is a typo.
        for key in self.train.task.keys() {
            let matches = key.parse::<Dataset>().is_ok() || tasks.iter().any(|t| t.name == *key);
            ensure!(
                matches,
                "field `train.task.{key}`: neither a task of the experiment nor a data set (tasks: {})",
                tasks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.train.sweep.points()?;
        self.method_sources()?;
        Ok(())
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        let mut out: Vec<Task> = Vec::new();
        for (i, entry) in self.tasks.iter().enumerate() {
            let (task, name, dir, backbone) = match entry {
                TaskEntry::Name(t) => (t.as_str(), None, None, None),
                TaskEntry::Table(t) => (
                    t.task.as_str(),
                    t.name.clone(),
                    t.data_dir.clone(),
                    t.backbone.clone(),
                ),
            };
            let dataset: Dataset = task
                .parse()
                .with_context(|| format!("field `tasks[{i}]`"))?;
            let name = name.unwrap_or_else(|| dataset.to_string());
            ensure!(
                !out.iter().any(|t| t.name == name),
                "field `tasks[{i}]`: a second task called `{name}` (give one a `name`)"
            );
            let data_dir = dir
                .or_else(|| self.data_dir.clone())
                .unwrap_or_else(|| default_data_dir(dataset));
            let backbones = match backbone {
                Some(b) => vec![normalise(&b)],
                None => self
                    .backbone
                    .as_slice()
                    .iter()
                    .map(|b| normalise(b))
                    .collect(),
            };
            out.push(Task {
                dataset,
                name,
                data_dir: normalise(&data_dir),
                backbones,
            });
        }
        Ok(out)
    }

    /// Loads a method argument (`NAME`, `NAME:B..`, or a spec file under the root).
    fn method_arg(&self, arg: &str) -> Result<MethodSpec> {
        if arg.ends_with(".toml") || arg.ends_with(".json") {
            read_method_file(&self.root.join(arg), Path::new(arg))
        } else {
            Ok(MethodSpec::from_arg(arg)?)
        }
    }

    /// Every method of the file, in order, before budgets are applied.
    fn method_sources(&self) -> Result<Vec<MethodSource>> {
        let mut out = Vec::new();
        for (i, entry) in self.methods.iter().enumerate() {
            let origin = format!("methods[{i}]");
            let source = self
                .method_source(entry, &origin)
                .with_context(|| format!("field `{origin}`"))?;
            out.push(source);
        }
        for (j, block) in self.grid.iter().enumerate() {
            let origin = format!("grid[{j}]");
            out.extend(
                self.grid_sources(block, &origin)
                    .with_context(|| format!("field `{origin}`"))?,
            );
        }
        Ok(out)
    }

    fn method_source(&self, entry: &MethodEntry, origin: &str) -> Result<MethodSource> {
        let table = match entry {
            MethodEntry::Arg(arg) => {
                return Ok(MethodSource {
                    origin: origin.to_string(),
                    spec: self.method_arg(arg)?,
                    budgets: Budgets::Keep,
                    train: None,
                })
            }
            MethodEntry::Table(t) => t,
        };
        let mut spec = match (&table.preset, &table.file, &table.spec) {
            (Some(p), None, None) => self.method_arg(p)?,
            (None, Some(f), None) => read_method_file(&self.root.join(f), f)?,
            (None, None, Some(s)) => {
                s.check()?;
                s.clone()
            }
            _ => bail!("give exactly one of `preset`, `file` and `spec`"),
        };
        if let Some(name) = &table.name {
            spec.name = name.clone();
        }
        let targets = parse_targets(&table.target_percent, &table.target_params)?;
        let budgets = match (&table.budgets, targets) {
            (Some(_), Some(_)) => bail!("give `budgets` or a target, not both"),
            (Some(b), None) => {
                ensure!(!b.is_empty(), "budgets: empty list");
                for knobs in b {
                    spec.clone().with_budgets(knobs)?.check()?;
                }
                Budgets::Fixed(b.clone())
            }
            (None, Some(t)) => {
                let knobs = spec.budgets().len();
                ensure!(
                    table.knob < knobs,
                    "knob {} asked for, but `{}` has {knobs} budget knob(s)",
                    table.knob,
                    spec.name
                );
                Budgets::Targets(t, table.knob)
            }
            (None, None) => {
                ensure!(table.knob == 0, "`knob` is only used with a target");
                Budgets::Keep
            }
        };
        Ok(MethodSource {
            origin: origin.to_string(),
            spec,
            budgets,
            train: table.train.clone(),
        })
    }

    fn grid_sources(&self, block: &GridBlock, origin: &str) -> Result<Vec<MethodSource>> {
        let forms = block.form.as_slice();
        let inserts = block.insertion.as_slice();
        let comps = block.composition.as_slice();
        for (axis, n) in [
            ("form", forms.len()),
            ("at", block.at.len()),
            ("insertion", inserts.len()),
            ("composition", comps.len()),
        ] {
            ensure!(n > 0, "`{axis}`: empty list");
        }
        let base = match &block.base {
            Some(arg) => self.method_arg(arg).context("`base`")?,
            None => MethodSpec::new(""),
        };
        let base_knobs = base.budgets();
        let axis = block.budget.clone().unwrap_or_default();
        let targets = parse_targets(&axis.target_percent, &axis.target_params)?;
        let knob_values = match (&axis.knob, &targets) {
            (Some(_), Some(_)) => bail!("`budget`: give `knob` or a target, not both"),
            (Some(k), None) => {
                ensure!(!k.is_empty(), "`budget.knob`: empty list");
                Some(k.clone())
            }
            _ => None,
        };
        let mut out = Vec::new();
        for (f, form) in forms.iter().enumerate() {
            let has_knob = form.knob().is_some();
            match (has_knob, knob_values.is_some() || targets.is_some()) {
                (true, false) => bail!(
                    "form `{}` needs a budget (its {}): budget = {{ knob = [...] }} or {{ target_percent = [...] }}",
                    form.name(),
                    form.knob().unwrap_or("knob")
                ),
                (false, true) => bail!("form `{}` has no budget knob, but `budget` is given", form.name()),
                _ => {}
            }
            // Several forms of one kind in a block are told apart by their index.
            let same_kind = forms.iter().filter(|g| g.name() == form.name()).count() > 1;
            let stem = match (&block.name, forms.len() > 1) {
                (Some(n), false) => n.clone(),
                (Some(n), true) if same_kind => format!("{n}.{}{f}", form.name()),
                (Some(n), true) => format!("{n}.{}", form.name()),
                (None, _) if same_kind => format!("{}{f}", form.name()),
                (None, _) => form.name().to_string(),
            };
            for at in &block.at {
                let at = at.as_slice();
                ensure!(!at.is_empty(), "`at`: an empty list of positions");
                for &insertion in inserts {
                    for composition in comps {
                        let mut m = ModificationSpec::new(form.clone(), at)
                            .insertion(insertion)
                            .composition(*composition);
                        if has_knob {
                            m = m.budget(knob_values.as_ref().map_or(1, |k| k[0]));
                        }
                        let positions: Vec<&str> = at.iter().map(|p| p.name()).collect();
                        let name = format!(
                            "{stem}@{}/{}/{}",
                            positions.join("+"),
                            insertion_label(insertion),
                            composition_label(composition)
                        );
                        let mut spec = base.clone();
                        spec.name = match &block.base {
                            Some(b) => format!("{b}+{name}"),
                            None => name,
                        };
                        spec.modifications.push(m);
                        spec.unfreeze.extend(block.unfreeze.iter().copied());
                        spec.train_head = spec.train_head && block.train_head;
                        if let Err(e) = spec.check() {
                            if block.skip_invalid {
                                continue;
                            }
                            bail!(
                                "{}: {e} (set skip_invalid = true to leave such points out)",
                                spec.name
                            );
                        }
                        let budgets = match (&knob_values, &targets) {
                            (Some(k), _) => {
                                let all = k
                                    .iter()
                                    .map(|&v| {
                                        let mut b = base_knobs.clone();
                                        b.push(v);
                                        b
                                    })
                                    .collect();
                                Budgets::Fixed(all)
                            }
                            (None, Some(t)) => Budgets::Targets(t.clone(), base_knobs.len()),
                            (None, None) => Budgets::Keep,
                        };
                        out.push(MethodSource {
                            origin: origin.to_string(),
                            spec,
                            budgets,
                            train: block.train.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every run, in order: task, backbone, method, budget, `[train.sweep]` point, seed.
    pub fn expand(&self) -> Result<Vec<RunSpec>> {
        let tasks = self.tasks()?;
        let sources = self.method_sources()?;
        let points = self.train.sweep.points()?;
        let mut shapes: HashMap<PathBuf, Option<BackboneShape>> = HashMap::new();
        let mut runs = Vec::new();
        for task in &tasks {
            let mut task_train = self.train.base();
            // The data set's overrides, then those under the task's own name.
            for (key, patch) in &self.train.task {
                if key.parse::<Dataset>().is_ok_and(|d| d == task.dataset) && *key != task.name {
                    patch.apply(&mut task_train);
                }
            }
            if let Some(patch) = self.train.task.get(&task.name) {
                patch.apply(&mut task_train);
            }
            for backbone in &task.backbones {
                if !shapes.contains_key(backbone) {
                    let shape = load_shape(&self.root, backbone)?;
                    shapes.insert(backbone.clone(), shape);
                }
                let shape = shapes[backbone].as_ref();
                for source in &sources {
                    let variants = resolve_budgets(source, shape, backbone)
                        .with_context(|| format!("field `{}`", source.origin))?;
                    for (method, target) in variants {
                        for point in &points {
                            let mut train = task_train.clone();
                            if let Some(patch) = &source.train {
                                patch.apply(&mut train);
                            }
                            point.apply(&mut train);
                            train.check().with_context(|| {
                                format!("hyperparameters of {} on {}", method.name, task.name)
                            })?;
                            let varied = match serde_json::to_value(point)? {
                                serde_json::Value::Object(m) => m.into_iter().collect(),
                                _ => BTreeMap::new(),
                            };
                            for &seed in &self.seeds {
                                runs.push(RunSpec {
                                    sweep: self.name.clone(),
                                    backbone: backbone.clone(),
                                    task: task.dataset.to_string(),
                                    task_name: task.name.clone(),
                                    data_dir: task.data_dir.clone(),
                                    method: method.clone(),
                                    target,
                                    varied: varied.clone(),
                                    seed,
                                    train: train.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        check_distinct(&runs)?;
        Ok(runs)
    }
}

/// The methods a source runs at, each with the target it was matched to.
fn resolve_budgets(
    source: &MethodSource,
    shape: Option<&BackboneShape>,
    backbone: &Path,
) -> Result<Vec<(MethodSpec, Option<Target>)>> {
    let fits = |m: &MethodSpec| -> Result<()> {
        if let Some(shape) = shape {
            count(m, shape).with_context(|| {
                format!("{} does not fit backbone `{}`", m.name, backbone.display())
            })?;
        }
        Ok(())
    };
    match &source.budgets {
        Budgets::Keep => {
            fits(&source.spec)?;
            Ok(vec![(source.spec.clone(), None)])
        }
        Budgets::Fixed(all) => all
            .iter()
            .map(|knobs| {
                let m = source.spec.clone().with_budgets(knobs)?;
                m.check()?;
                fits(&m)?;
                Ok((m, None))
            })
            .collect(),
        Budgets::Targets(targets, knob) => {
            let Some(shape) = shape else {
                bail!(
                    "target budgets are matched on the backbone's config.json, and there is none at {} \
                     (download the checkpoint, point `backbone` at a folder or config.json that exists, \
                     or give `budgets`/`knob` values instead)",
                    config_path(backbone).display()
                );
            };
            targets
                .iter()
                .map(|&t| {
                    let (m, _) = match_budget(&source.spec, shape, t, *knob)?;
                    Ok((m, Some(t)))
                })
                .collect()
        }
    }
}

/// Two runs with one id train the same thing; two different methods with one name would be
/// indistinguishable in results.
fn check_distinct(runs: &[RunSpec]) -> Result<()> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<(&str, &str), &MethodSpec> = HashMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(&j) = ids.get(&run.id()) {
            bail!(
                "runs {} and {} are the same run ({}): a method, budget or task is listed twice{}",
                j + 1,
                i + 1,
                run.short_label(),
                match (runs[j].target, run.target) {
                    (Some(a), Some(b)) => format!(" (targets {a} and {b} match the same budget)"),
                    _ => String::new(),
                }
            );
        }
        ids.insert(run.id(), i);
        let key = (
            run.method.name.as_str(),
            run.backbone.to_str().unwrap_or(""),
        );
        if let Some(other) = names.get(&key) {
            let same_but_budget = {
                let strip = |m: &MethodSpec| {
                    let mut m = m.clone();
                    m.modifications.iter_mut().for_each(|x| x.budget = None);
                    m
                };
                strip(other) == strip(&run.method)
            };
            ensure!(
                same_but_budget,
                "two different methods are both called `{}`: give them distinct names",
                run.method.name
            );
        } else {
            names.insert(key, &run.method);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace root (paths in experiment files are relative to it).
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    const ROBERTA: &str = "crates/model/tests/configs/roberta-base.json";

    fn exp(text: &str) -> Experiment {
        Experiment::parse_in(text, root()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn err(text: &str) -> String {
        match Experiment::parse_in(text, root()).and_then(|e| e.expand()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    const FULL: &str = r#"
name = "demo"
description = "everything the schema has"
backbone = ["crates/model/tests/configs/roberta-base.json", "crates/model/tests/configs/bert-base-uncased.json"]
tasks = ["glue/sst2", { task = "mrpc", name = "mrpc-small", data_dir = "datasets/other" }]
data_dir = "datasets/glue"
seeds = [42, 2]
methods = [
  "lora",
  "mam:16,16",
  { preset = "parallel", budgets = [[16], [64]], train = { lr = 3e-4 } },
  { preset = "parallel", name = "pa_target", target_percent = [0.5] },
  { spec = { name = "gated_lora_ffn", modifications = [{ form = { kind = "low_rank" }, at = ["ffn_in", "ffn_out"], composition = { kind = "gated" }, budget = 4 }] } },
]

[[grid]]
form = { kind = "bottleneck", act = "relu", init = "lora" }
at = ["attention", ["ffn"]]
insertion = ["sequential", "parallel"]
composition = [{ kind = "add" }, { kind = "scaled", s = 4 }]
budget = { knob = [8, 32] }

[train]
lr = 1e-4
epochs = 3
max_steps = 1000
generation = { num_beams = 4, max_length = 60 }

[train.task."glue/mrpc"]
lr = 2e-4
patience = 3

[train.sweep]
label_smoothing = [0.0, 0.1]
"#;

    #[test]
    fn round_trip_and_counts() {
        let e = exp(FULL);
        let text = e.to_toml().unwrap();
        let back = exp(&text);
        assert_eq!(back, e, "{text}");
        assert_eq!(exp(&back.to_toml().unwrap()), e);
        let runs = e.expand().unwrap();
        // methods: 1 + 1 + 2 + 1 + 1 = 6; grid: 2 at × 2 insertions × 2 compositions × 2 knobs
        // = 16; × 2 label smoothings × 2 seeds × 2 tasks × 2 backbones.
        assert_eq!(runs.len(), (6 + 16) * 2 * 2 * 2 * 2);
        // Order: task, backbone, method, budget, sweep point, seed.
        assert_eq!(runs[0].task, "glue/sst2");
        assert_eq!(runs[0].method.name, "lora");
        assert_eq!((runs[0].seed, runs[1].seed), (42, 2));
        assert_eq!(runs[2].varied["label_smoothing"], serde_json::json!(0.1));
        assert_eq!(runs[0].train.label_smoothing, 0.0);
        assert_eq!(runs[2].train.label_smoothing, 0.1);
        assert_eq!(runs[4].method.name, "mam");
        assert_eq!(runs[4].method.budgets(), vec![16, 16]);
        assert_eq!(runs[8].method.budgets(), vec![16]);
        assert_eq!(runs[8].train.lr, 3e-4);
        assert_eq!(runs[12].method.budgets(), vec![64]);
        assert!(runs[0].backbone.ends_with("roberta-base.json"));
        let half = runs.len() / 2;
        assert_eq!(runs[half].task_name, "mrpc-small");
        assert_eq!(runs[half].task, "glue/mrpc");
        assert_eq!(runs[half].data_dir, PathBuf::from("datasets/other"));
        assert_eq!(runs[half].train.lr, 2e-4);
        assert_eq!(runs[half].train.patience, Some(3));
        assert_eq!(runs[0].train.patience, None);
        assert_eq!(runs[0].data_dir, PathBuf::from("datasets/glue"));
        let grid: Vec<&RunSpec> = runs
            .iter()
            .filter(|r| r.method.name.contains('@'))
            .collect();
        assert_eq!(grid.len(), 16 * 2 * 2 * 2 * 2);
        assert_eq!(grid[0].method.name, "bottleneck@attention/sequential/add");
        assert!(grid
            .iter()
            .any(|r| r.method.name == "bottleneck@ffn/parallel/scaled(s=4.0)"));
        // RunSpec round-trips through JSON, and the id with it.
        let json = serde_json::to_string(&runs[5]).unwrap();
        let back: RunSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, runs[5]);
        assert_eq!(back.id(), runs[5].id());
        assert!(
            runs[5].short_label().contains("mam · l=16,r=16"),
            "{}",
            runs[5].short_label()
        );
    }

    #[test]
    fn target_percent_matches_params() {
        // As `peftgrid params --model roberta-base.json --method parallel --target 0.5%`.
        let e = exp(&format!(
            r#"
name = "t"
backbone = "{ROBERTA}"
tasks = ["sst2"]
methods = [{{ preset = "parallel", target_percent = [0.5] }}]

[[grid]]
name = "pa"
form = {{ kind = "bottleneck", act = "relu", init = "lora" }}
at = ["ffn"]
insertion = "parallel"
budget = {{ target_percent = [0.5, 0.1] }}
"#
        ));
        let runs = e.expand().unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].method.budgets(), vec![33]);
        assert_eq!(runs[0].target, Some(Target::Percent(0.5)));
        assert_eq!(runs[1].method.budgets(), vec![33]);
        assert_eq!(runs[1].method.name, "pa@ffn/parallel/add");
        assert!(runs[2].method.budgets()[0] < 33);
        let table = dry_run_table_in(&root(), &runs);
        assert!(table.contains("617,868"), "{table}");
        assert!(table.contains("0.4957"), "{table}");
        assert!(table.contains("r=33 (≈0.5%)"), "{table}");
        assert!(table.contains("bottleneck(act=relu, init=lora) r=33 @ ffn, parallel, add"));
        assert_eq!(table.lines().count(), 1 + 3 + 1, "{table}");
    }

    #[test]
    fn ids_are_stable_and_sensitive() {
        let base = format!(
            "name = \"a\"\nbackbone = \"{ROBERTA}\"\ntasks = [\"sst2\"]\nseeds = [1, 2]\nmethods = [\"lora\", \"bitfit\"]\n"
        );
        let ids = |text: &str| -> Vec<String> {
            exp(text)
                .expand()
                .unwrap()
                .iter()
                .map(RunSpec::id)
                .collect()
        };
        let a = ids(&base);
        assert_eq!(a.len(), 4);
        assert_eq!(a, ids(&base), "same file, same ids");
        assert!(a
            .iter()
            .all(|id| id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 4);
        // Pinned: ids written to results files stay valid across versions of peftgrid. (Changed
        // once, on purpose, when the default batching became random: old rows trained
        // differently.)
        assert_eq!(
            a[0], "0d2cc36f3b1f070c94eb1a7eefdc17c46597725cd45844ee3cae5aed53874893",
            "the canonical form of run ids changed"
        );
        // Renaming the sweep, spelling a default out or writing a float as an integer: same ids.
        assert_eq!(a, ids(&base.replace("name = \"a\"", "name = \"b\"")));
        assert_eq!(
            a,
            ids(&format!("{base}[train]\nlr = 0.0001\nweight_decay = 0.1\n"))
        );
        assert_eq!(a, ids(&base.replace(ROBERTA, &format!("./{ROBERTA}"))));
        // Any hyperparameter, seed, budget or data folder: new ids.
        let lr = ids(&format!("{base}[train]\nlr = 2e-4\n"));
        assert!(lr.iter().all(|id| !a.contains(id)));
        let warm = ids(&format!("{base}[train]\nwarmup_ratio = 0.1\n"));
        assert!(warm.iter().all(|id| !a.contains(id)));
        let seeds = ids(&base.replace("[1, 2]", "[1, 3]"));
        assert_eq!(seeds[0], a[0]);
        assert_ne!(seeds[1], a[1]);
        let knob = ids(&base.replace("\"lora\"", "\"lora:16\""));
        assert_ne!(knob[0], a[0]);
        assert_eq!(knob[2], a[2]);
        let dir = ids(&format!("{base}data_dir = \"datasets/samples/glue\"\n"));
        assert!(dir.iter().all(|id| !a.contains(id)));
    }

    #[test]
    fn shards_partition_the_runs() {
        let runs: Vec<usize> = (0..10).collect();
        let mut all = Vec::new();
        for i in 1..=3 {
            let s = shard(&runs, i, 3).unwrap();
            assert!(s.len() == 3 || s.len() == 4);
            all.extend(s);
        }
        all.sort();
        assert_eq!(all, runs);
        assert_eq!(shard(&runs, 2, 3).unwrap(), vec![1, 4, 7]);
        assert_eq!(shard(&runs, 1, 1).unwrap(), runs);
        assert!(shard(&runs, 0, 3).is_err());
        assert!(shard(&runs, 4, 3).is_err());
        assert!(shard(&runs, 1, 0).is_err());
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("two").is_err());
    }

    #[test]
    fn clear_errors() {
        let head = format!("name = \"e\"\nbackbone = \"{ROBERTA}\"\ntasks = [\"sst2\"]\n");
        let e = err(&format!("{head}methods = [\"lora\", \"lorra\"]\n"));
        assert!(
            e.contains("methods[1]") && e.contains("unknown method `lorra`"),
            "{e}"
        );
        let e = err(&format!("{head}methods = [{{ preset = \"nope\" }}]\n"));
        assert!(
            e.contains("methods[0]") && e.contains("unknown method `nope`"),
            "{e}"
        );
        // Unknown fields, at every level, with the line.
        let e = err(&format!("{head}methods = [\"lora\"]\nseed = [1]\n"));
        assert!(
            e.contains("unknown field `seed`") && e.contains("line 5"),
            "{e}"
        );
        let e = err(&format!(
            "{head}methods = [\"lora\"]\n[train]\nlearning_rate = 1e-3\n"
        ));
        assert!(
            e.contains("train.learning_rate") || e.contains("unknown field `learning_rate`"),
            "{e}"
        );
        let e = err(&format!(
            "{head}methods = [{{ preset = \"lora\", budget = [[4]] }}]\n"
        ));
        assert!(
            e.contains("methods[0]") && e.contains("unknown field `budget`"),
            "{e}"
        );
        let e = err(&format!(
            "{head}methods = [{{ spec = {{ name = \"x\", modifications = [{{ form = {{ kind = \"bottleneck\", activation = \"gelu\" }}, at = [\"ffn\"], budget = 8 }}] }} }}]\n"
        ));
        assert!(
            e.contains("methods[0].spec") && e.contains("modifications.0.form.activation"),
            "{e}"
        );
        let e = err(&format!(
            "{head}[[grid]]\nform = {{ kind = \"bottleneck\", ack = \"relu\" }}\nat = [\"ffn\"]\nbudget = {{ knob = [8] }}\n"
        ));
        assert!(e.contains("grid[0].form") && e.contains("`ack`"), "{e}");
        let e = err(&format!(
            "{head}[[grid]]\nform = {{ kind = \"bottleneck\" }}\nat = [\"ffn\"]\n"
        ));
        assert!(e.contains("grid[0]") && e.contains("needs a budget"), "{e}");
        let e = err(&format!(
            "{head}methods = [\"lora\"]\n[train.task.colaa]\nlr = 1.0\n"
        ));
        assert!(e.contains("train.task.colaa") && e.contains("sst2"), "{e}");
        // A data set the experiment does not run is fine (its settings wait for it).
        exp(&format!(
            "{head}methods = [\"lora\"]\n[train.task.cola]\nlr = 1.0\n"
        ));
        let e = err(&format!(
            "{head}methods = [\"lora\"]\n[train]\nwarmup_ratio = 1.5\n"
        ));
        assert!(e.contains("warmup_ratio"), "{e}");
        let e = err(&format!("{head}methods = [\"lora\", \"lora\"]\n"));
        assert!(e.contains("same run"), "{e}");
        // Missing backbone config: only target budgets need it, and they say so.
        let missing = "name = \"m\"\nbackbone = \"models/no-such-model\"\ntasks = [\"sst2\"]\n";
        assert!(exp(&format!("{missing}methods = [\"lora\"]\n"))
            .expand()
            .is_ok());
        let e = err(&format!(
            "{missing}methods = [{{ preset = \"lora\", target_percent = [0.5] }}]\n"
        ));
        assert!(
            e.contains("methods[0]") && e.contains("models/no-such-model/config.json"),
            "{e}"
        );
        let e = Experiment::from_file(root().join("experiments/no-such-file.toml")).unwrap_err();
        assert!(format!("{e:#}").contains("no-such-file.toml"));
    }

    /// Every experiment file parses; those whose backbone config.json is here expand (the others
    /// are expanded on a stand-in config of the same family from crates/model/tests/configs).
    #[test]
    fn experiment_files_parse_and_expand() {
        let dir = root().join("experiments");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        // google/vit-base-patch16-224-in21k's dimensions (its config.json, labels aside).
        let tmp = tempfile::tempdir().unwrap();
        let vit = tmp.path().join("vit-base-patch16-224-in21k.json");
        std::fs::write(
            &vit,
            r#"{"model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 768,
                "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": true}"#,
        )
        .unwrap();
        let vit = vit.to_string_lossy().to_string();
        let stand_in = |b: &Path| -> Option<String> {
            let name = b.to_string_lossy().to_lowercase();
            let config = if name.contains("roberta") {
                "crates/model/tests/configs/roberta-base.json"
            } else if name.contains("bart") {
                "crates/model/tests/configs/bart-large.json"
            } else if name.contains("bert") {
                "crates/model/tests/configs/bert-base-uncased.json"
            } else if name.contains("vit") {
                &vit
            } else {
                return None;
            };
            Some(config.to_string())
        };
        for file in files {
            let e = Experiment::from_file_in(&file, root()).unwrap_or_else(|e| panic!("{e:#}"));
            let backbones: Vec<PathBuf> = e
                .tasks
                .iter()
                .filter_map(|t| match t {
                    TaskEntry::Table(t) => t.backbone.clone(),
                    _ => None,
                })
                .chain(e.backbone.as_slice().iter().cloned())
                .collect();
            let present = backbones
                .iter()
                .all(|b| config_path(&root().join(b)).is_file());
            if present {
                let runs = e
                    .expand()
                    .unwrap_or_else(|err| panic!("{}: {err:#}", file.display()));
                assert!(!runs.is_empty());
                println!("{}: {} runs", file.display(), runs.len());
                continue;
            }
            // Swap in a stand-in config where one exists, to check budgets and specs fit.
            let mut e2 = e.clone();
            let mut ok = true;
            let swap = |b: &PathBuf| stand_in(b).map(PathBuf::from);
            match e2
                .backbone
                .as_slice()
                .iter()
                .map(swap)
                .collect::<Option<Vec<_>>>()
            {
                Some(b) => e2.backbone = OneOrMany::Many(b),
                None => ok = false,
            }
            for t in &mut e2.tasks {
                if let TaskEntry::Table(t) = t {
                    if let Some(b) = &t.backbone {
                        match swap(b) {
                            Some(s) => t.backbone = Some(s),
                            None => ok = false,
                        }
                    }
                }
            }
            if ok {
                let runs = e2.expand().unwrap_or_else(|err| {
                    panic!("{} (on stand-in configs): {err:#}", file.display())
                });
                println!(
                    "{}: {} runs (on stand-in configs)",
                    file.display(),
                    runs.len()
                );
            } else {
                println!(
                    "{}: parsed; not expanded (no config.json for {:?} here)",
                    file.display(),
                    backbones
                );
            }
        }
    }
}
