//! The hyperparameters of a run: declared once, with their defaults and documentation, in the
//! `hyperparameters!` list, which derives a run's resolved [`TrainConfig`], the optional
//! [`TrainPatch`] laid over it (per task, per method, one point of a sweep), the [`TrainSweep`]
//! of lists and the file's `[train]` section.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};
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
