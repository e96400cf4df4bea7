//! The training and evaluation loop (custom, not Burn's Learner), one for every kind of task:
//! what differs (batches, loss, evaluation) is a [`Task`] ([`crate::tasks`]).
//!
//! Optimisation follows what the papers' PyTorch code does:
//! - AdamW (Loshchilov & Hutter) as `torch.optim.AdamW`: decoupled decay p ← p(1 − lr·λ), bias-
//!   corrected moments, ε = 1e-8 added to √v̂ (Burn's `AdamW` computes exactly this), with no
//!   decay on biases and LayerNorm parameters (two parameter groups, as HF's Trainer makes them);
//! - global gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` (one norm over every
//!   trained tensor, coefficient max_norm / (norm + 1e-6) capped at 1), not Burn's per-tensor
//!   clipping;
//! - HF's `get_linear_schedule_with_warmup`: the k-th update uses lr·k/w during warm-up, then
//!   lr·(T − k)/(T − w);
//! - gradient accumulation with the loss divided by the number of micro-batches;
//! - cross-entropy with label smoothing as `torch.nn.CrossEntropyLoss(label_smoothing=ε)` (per
//!   target token, padding ignored, for teacher-forced seq2seq), MSE for one-output regression
//!   (STS-B), as `*ForSequenceClassification` does;
//! - random batches each epoch, the last one short (PyTorch's shuffled `DataLoader`); or
//!   bucketed by length, cut to a token budget (`batch_tokens`, fairseq's `--max-tokens`), or
//!   replayed from a file (`batch_order`).
//!
//! A NaN or infinite loss ends the run as diverged (the sweep goes on).

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::backend::AutodiffBackend;
use peftgrid_data::tokenize::IGNORE_INDEX;
use peftgrid_model::Model;
use peftgrid_zoo::dropout::with_batch_stream;

use crate::experiment::{Batching, Schedule, TrainConfig};
use crate::rank_allocation::RankAllocator;
use peftgrid_zoo::MethodSpec;
use serde::{Deserialize, Serialize};

/// HF's linear schedule with warm-up: the learning rate of update `k` (0-based) of `total`.
#[cfg(test)]
fn linear_schedule(lr: f64, k: usize, warmup: usize, total: usize) -> f64 {
    schedule(Schedule::Linear, lr, k, warmup, total)
}

/// The learning rate of update `k` (0-based) of `total` under HF's schedules with warm-up
/// (`get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`,
/// `get_constant_schedule_with_warmup`).
pub fn schedule(kind: Schedule, lr: f64, k: usize, warmup: usize, total: usize) -> f64 {
    if k < warmup {
        return lr * k as f64 / warmup.max(1) as f64;
    }
    let progress = (k - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    match kind {
        Schedule::Linear => lr * (total.saturating_sub(k)) as f64 / (total - warmup).max(1) as f64,
        Schedule::Cosine => lr * (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
        Schedule::Constant => lr,
    }
}

/// Whether weight decay applies to the parameter at `path` (HF Trainer: not to biases nor to
/// LayerNorm weights).
pub fn decays(path: &[String]) -> bool {
    let last = path.last().map(String::as_str).unwrap_or("");
    let in_norm = path
        .iter()
        .any(|p| p.contains("norm") || p.contains("Norm"));
    !(last == "bias" || last == "beta" || last == "gamma" || in_norm)
}

/// Trained parameters of a model by group, and their global gradient norm.
struct Groups<'a, B: AutodiffBackend> {
    path: Vec<String>,
    grads: &'a mut GradientsParams,
    decay: GradientsParams,
    no_decay: GradientsParams,
    /// Parameters in the group with its own learning rate (LoRA+'s W_up), and their gradients.
    fast_ids: &'a HashSet<ParamId>,
    fast: GradientsParams,
    scale: f64,
    /// Σ‖g‖² over the trained tensors, kept on the device: one read per update, not per tensor.
    sq_norm: Option<Tensor<B::InnerBackend, 1>>,
    collect: bool,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Groups<'_, B> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let id: ParamId = param.id;
        if !self.collect {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(id) {
                let s = g.powi_scalar(2).sum();
                self.sq_norm = Some(match self.sq_norm.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
            return;
        }
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(id) {
            let g = if self.scale < 1.0 {
                g.mul_scalar(self.scale)
            } else {
                g
            };
            if self.fast_ids.contains(&id) {
                self.fast.register(id, g);
            } else if decays(&self.path) {
                self.decay.register(id, g);
            } else {
                self.no_decay.register(id, g);
            }
        }
    }
}

/// AdamW in two parameter groups (with and without weight decay), with global clipping, and
/// optionally a third group at a multiple of the learning rate (LoRA+'s W_up, with decay).
pub struct GroupedAdamW<B: AutodiffBackend, M: AutodiffModule<B>> {
    decay: OptimizerAdaptor<AdamW, M, B>,
    no_decay: OptimizerAdaptor<AdamW, M, B>,
    fast: OptimizerAdaptor<AdamW, M, B>,
    fast_ids: HashSet<ParamId>,
    fast_ratio: f64,
    grad_clip: Option<f64>,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> GroupedAdamW<B, M> {
    pub fn new(h: &TrainConfig) -> Self {
        let config = |wd: f64| {
            AdamWConfig::new()
                .with_beta_1(h.adam_betas[0] as f32)
                .with_beta_2(h.adam_betas[1] as f32)
                .with_epsilon(h.adam_eps as f32)
                .with_weight_decay(wd as f32)
        };
        Self {
            decay: config(h.weight_decay).init(),
            no_decay: config(0.0).init(),
            fast: config(h.weight_decay).init(),
            fast_ids: HashSet::new(),
            fast_ratio: 1.0,
            // 0 (or less) turns clipping off.
            grad_clip: (h.grad_clip > 0.0).then_some(h.grad_clip),
        }
    }

    /// Trains the parameters `ids` at `ratio` × the learning rate.
    pub fn with_fast_group(mut self, ratio: f64, ids: HashSet<ParamId>) -> Self {
        self.fast_ratio = ratio;
        self.fast_ids = ids;
        self
    }

    /// One update; returns the model and the gradient norm before clipping.
    pub fn step(&mut self, lr: f64, model: M, mut grads: GradientsParams) -> (M, f64) {
        let mut groups = Groups::<B> {
            path: Vec::new(),
            grads: &mut grads,
            decay: GradientsParams::new(),
            no_decay: GradientsParams::new(),
            fast_ids: &self.fast_ids,
            fast: GradientsParams::new(),
            scale: 1.0,
            sq_norm: None,
            collect: false,
            _b: std::marker::PhantomData,
        };
        model.visit(&mut groups);
        let norm = groups
            .sq_norm
            .take()
            .map_or(0.0, |s| s.into_scalar().elem::<f64>().sqrt());
        if let Some(max) = self.grad_clip {
            groups.scale = (max / (norm + 1e-6)).min(1.0);
        }
        groups.collect = true;
        model.visit(&mut groups);
        let (decay, no_decay, fast) = (groups.decay, groups.no_decay, groups.fast);
        let model = self.decay.step(lr, model, decay);
        let model = self.no_decay.step(lr, model, no_decay);
        let model = if self.fast_ids.is_empty() {
            model
        } else {
            self.fast.step(lr * self.fast_ratio, model, fast)
        };
        (model, norm)
    }
}

/// LoRA+: the learning-rate ratio of W_up and the ids of the W_up it applies to, from the
/// `low_rank` modifications of `method` that set `up_lr_ratio`.
pub fn up_lr_group<B: Backend>(
    method: &MethodSpec,
    model: &Model<B>,
) -> anyhow::Result<Option<(f64, HashSet<ParamId>)>> {
    use peftgrid_zoo::{Form, Modification};
    let mut ratio: Option<f64> = None;
    let mut positions = Vec::new();
    for m in &method.modifications {
        if let Form::LowRank(peftgrid_zoo::forms::LowRankSpec {
            up_lr_ratio: Some(r),
            ..
        }) = &m.form
        {
            anyhow::ensure!(
                ratio.is_none_or(|first| first == *r),
                "method `{}`: one up_lr_ratio for the whole method (LoRA+ has one W_up group)",
                method.name
            );
            ratio = Some(*r);
            positions.extend(m.at.iter().copied());
        }
    }
    let Some(ratio) = ratio else {
        return Ok(None);
    };
    let mut probe = model.clone();
    let parts = probe.parts_mut();
    let mut ids = HashSet::new();
    for sites in parts.layers.into_iter().chain(parts.cross) {
        for &p in &positions {
            let Some(site) = sites.get(p) else { continue };
            for m in &site.mods {
                if let Modification::LowRank(l) = m {
                    ids.insert(l.up.id);
                }
            }
        }
    }
    Ok(Some((ratio, ids)))
}

/// What a task brings to the loop: the examples' lengths (for batching), the loss of a batch and
/// the evaluation. One implementation per kind of task (text classification, image
/// classification, sequence to sequence) in [`crate::tasks`].
pub trait Task: Sync {
    type Example: Sync;

    /// Whether a batch may be split over threads ([`set_shards`]): its loss must be the mean of
    /// per-example losses (so that shard means weighted by their sizes give it) and its inputs
    /// must not depend on the batch as a whole (augmentation streams do).
    fn shardable(&self) -> bool {
        false
    }

    /// The mean loss of rows `part` of the batch `indices`, batched as the whole batch would be
    /// (the same padding), for one shard's thread.
    fn part_loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[Self::Example],
        indices: &[usize],
        part: std::ops::Range<usize>,
        stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        self.loss(model, train, &indices[part], stream, device)
    }

    /// The metric model selection maximises (a key of [`Task::evaluate`]'s map).
    fn main_metric(&self) -> &str;

    /// Each training example's length in tokens (batches are bucketed by it, or cut to a token
    /// budget); equal lengths for images.
    fn lengths(&self, train: &[Self::Example]) -> anyhow::Result<Vec<usize>>;

    /// The mean loss of the batch `indices` of `train`; `stream` seeds its augmentation.
    fn loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[Self::Example],
        indices: &[usize],
        stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>>;

    /// Metrics (×100, the papers' scale) of `model` on `examples`.
    fn evaluate<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[Self::Example],
        device: &B::Device,
    ) -> anyhow::Result<BTreeMap<String, f64>>;
}

/// A task's examples: what it trains on, what selects the best model, and what that model is
/// finally scored on when it is another split.
pub struct Splits<E> {
    pub train: Vec<E>,
    pub eval: Vec<E>,
    pub eval_split: String,
    pub test: Option<(Vec<E>, String)>,
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    pub loss: f64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Ending {
    Finished,
    EarlyStopped { at_step: usize },
    Diverged { at_step: usize, loss: f64 },
}

pub struct Outcome<B: AutodiffBackend> {
    pub ending: Ending,
    /// Metrics (×100) of the best evaluation, on `eval_split`.
    pub best: BTreeMap<String, f64>,
    pub best_step: usize,
    pub steps: usize,
    pub train_samples: usize,
    pub train_seconds: f64,
    /// (step, metrics) of every evaluation.
    pub evals: Vec<(usize, BTreeMap<String, f64>)>,
    /// (step, mean loss of the update).
    pub losses: Vec<(usize, f64)>,
    /// The model at its best evaluation.
    pub model: Model<B>,
}

/// Cross-entropy of `logits` (`[n, classes]`) against `targets` (`[n]`), averaged over the
/// entries whose target is not `ignore` (−100 for padded target tokens), with label smoothing ε
/// as `torch.nn.CrossEntropyLoss(label_smoothing=ε, ignore_index=-100)` and HF's
/// `LabelSmoother`: (1 − ε)·NLL + ε·(mean over classes of −log p).
pub fn cross_entropy<B: Backend>(
    logits: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    label_smoothing: f64,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    let active = targets.clone().not_equal_elem(IGNORE_INDEX);
    let weight = active.clone().float();
    let count = weight.clone().sum().clamp_min(1.0);
    let safe = targets.mask_fill(active.bool_not(), 0).reshape([n, 1]);
    let logp = activation::log_softmax(logits, 1);
    let nll = logp.clone().gather(1, safe).reshape([n]).neg();
    let nll = (nll * weight.clone()).sum() / count.clone();
    if label_smoothing == 0.0 {
        return nll;
    }
    let smooth = logp.mean_dim(1).reshape([n]).neg();
    let smooth = (smooth * weight).sum() / count;
    nll.mul_scalar(1.0 - label_smoothing) + smooth.mul_scalar(label_smoothing)
}

/// The augmentation stream of batch `b` of `epoch` (distinct per batch, fixed by the seed).
fn stream(seed: u64, epoch: usize, b: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((epoch as u64) << 32 | b as u64)
}

static SHARDS: AtomicUsize = AtomicUsize::new(1);

/// Splits each batch of a shardable task over `n` threads (the CPU backends: `--threads`).
///
/// Why: burn-flex's elementwise kernels (bias adds, GELU, LayerNorm, softmax, dropout's mask
/// product) run on one thread, and only the large matmuls use the pool; one batch per thread
/// keeps every core busy through the whole step (MiniLM, 2 cores: 1.4–1.7× samples/s). Each
/// shard trains a replica of the model with its own autodiff leaves (the parameters' values are
/// shared, not copied); the gradients are summed before the one optimizer step, and dropout
/// masks are drawn by example, so a sharded step is the same step.
pub fn set_shards(n: usize) {
    SHARDS.store(n.max(1), Ordering::Relaxed);
}

pub(crate) fn shards() -> usize {
    SHARDS.load(Ordering::Relaxed)
}

/// `f(0..n)` on the shard threads (each thread takes every `shards`-th index), in order:
/// a batch's shards in training, evaluation batches (a model is shared by reference).
pub fn in_parallel<R: Send>(
    n: usize,
    f: impl Fn(usize) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = shards().min(n);
    if threads <= 1 {
        return (0..n).map(f).collect();
    }
    let f = &f;
    let pools = shard_pools(threads)?;
    let mut parts: Vec<Vec<(usize, anyhow::Result<R>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pools
            .iter()
            .enumerate()
            .map(|(t, pool)| {
                scope.spawn(move || {
                    pool.install(|| (t..n).step_by(threads).map(|i| (i, f(i))).collect())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Err(anyhow::anyhow!("a worker thread panicked")))])
            })
            .collect()
    });
    let mut all: Vec<(usize, anyhow::Result<R>)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// One rayon pool per shard thread, each with its share of the global pool's threads (on
/// `--threads 2` with 2 shards: one each), so that the kernels a shard calls (flex's gemm and
/// batched loops) split only its own share. Called from plain threads, they would all queue on
/// the global pool and wait on each other: serial kernels inside the shards measured 5–10% more
/// samples/s on 2 cores than the shared pool (MiniLM, full and LoRA, back to back).
fn shard_pools(shards: usize) -> anyhow::Result<Vec<std::sync::Arc<rayon::ThreadPool>>> {
    static POOLS: std::sync::Mutex<Vec<std::sync::Arc<rayon::ThreadPool>>> =
        std::sync::Mutex::new(Vec::new());
    let each = (rayon::current_num_threads() / shards).max(1);
    let mut pools = POOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if pools.len() != shards || pools.iter().any(|p| p.current_num_threads() != each) {
        *pools = (0..shards)
            .map(|t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(each)
                    .thread_name(move |i| format!("shard-{t}-{i}"))
                    .build()
                    .map(std::sync::Arc::new)
                    .map_err(|e| anyhow::anyhow!("could not start the pool of shard {t}: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(pools.clone())
}

/// The model again with fresh autodiff leaves (same ids, values and gradient requirements), so
/// that a thread can build and differentiate its own graph: replicas of one model share no
/// graph, and their backward passes do not wait on each other's lock.
struct Releaf;

impl<B: AutodiffBackend> ModuleMapper<B> for Releaf {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let id = param.id;
        let value = param.val();
        let grad = value.is_require_grad();
        Param::initialized(id, Tensor::from_inner(value.inner()).set_require_grad(grad))
    }
}

/// The loss (÷ `micro_batches`, read back: the NaN check) and gradients of the batch
/// `indices`, on one thread or split over [`set_shards`] threads when the task allows it.
pub fn batch_grads<B: AutodiffBackend, T: Task>(
    model: &Model<B>,
    task: &T,
    train: &[T::Example],
    indices: &[usize],
    key: u64,
    micro_batches: usize,
    device: &B::Device,
) -> anyhow::Result<(f64, GradientsParams)> {
    let shards = if task.shardable() {
        shards().min(indices.len())
    } else {
        1
    };
    if shards > 1 {
        return sharded_loss(
            model,
            task,
            train,
            indices,
            key,
            shards,
            micro_batches,
            device,
        );
    }
    let l = with_batch_stream(key, 0, || task.loss(model, train, indices, key, device))?
        .div_scalar(micro_batches as f64);
    let value: f64 = l.clone().into_scalar().elem();
    Ok((value, GradientsParams::from_grads(l.backward(), model)))
}

/// The loss (÷ `micro_batches`) and gradients of the batch `indices`, split into `shards`
/// contiguous parts that run on their own threads; part k's mean loss weighs |part k| / |batch|.
#[allow(clippy::too_many_arguments)]
fn sharded_loss<B: AutodiffBackend, T: Task>(
    model: &Model<B>,
    task: &T,
    train: &[T::Example],
    indices: &[usize],
    key: u64,
    shards: usize,
    micro_batches: usize,
    device: &B::Device,
) -> anyhow::Result<(f64, GradientsParams)> {
    let per = indices.len().div_ceil(shards);
    let n = indices.len() as f64;
    let parts = in_parallel(indices.len().div_ceil(per), |k| {
        let start = k * per;
        let part = start..(start + per).min(indices.len());
        let replica = model.clone().map(&mut Releaf);
        let weight = part.len() as f64 / n / micro_batches as f64;
        let l = with_batch_stream(key, start, || {
            task.part_loss(&replica, train, indices, part, key, device)
        })?
        .mul_scalar(weight);
        let value: f64 = l.clone().into_scalar().elem();
        Ok((value, GradientsParams::from_grads(l.backward(), &replica)))
    })?;
    let mut acc = GradientsAccumulator::<Model<B>>::new();
    let mut value = 0.0;
    for (v, g) in parts {
        value += v;
        acc.accumulate(model, g);
    }
    Ok((value, acc.grads()))
}

/// (updates per epoch, updates in all, warm-up updates) for `batches` per epoch, as `Trainer`
/// counts them: a short last accumulation group is an update of its own
/// (ceil(batches / grad_accum) per epoch), warm-up is ceil(warmup_ratio × updates) unless
/// `warmup_steps` is set. Unlike `Trainer`, `max_steps` caps the epochs rather than replacing
/// them (whichever ends first).
fn update_counts(batches: usize, h: &TrainConfig) -> (usize, usize, usize) {
    let per_epoch = batches.div_ceil(h.grad_accum.max(1));
    let by_epochs = per_epoch * h.epochs.max(1);
    let total = h.max_steps.map_or(by_epochs, |m| m.min(by_epochs).max(1));
    let warmup = h
        .warmup_steps
        .unwrap_or((h.warmup_ratio * total as f64).ceil() as usize);
    (per_epoch, total, warmup)
}

/// Trains `model` (method applied and frozen, head set) on `task`: AdamW in two groups,
/// warm-up and decay, global clipping, accumulation, evaluation every `eval_every` updates (once
/// per epoch by default) keeping the best model, early stopping, NaN → diverged; `method`'s
/// training-time schedules (AdaLoRA's rank allocation) run beside the optimiser.
#[allow(clippy::too_many_arguments)]
pub fn train<B: AutodiffBackend, T: Task>(
    mut model: Model<B>,
    method: &MethodSpec,
    task: &T,
    data: &Splits<T::Example>,
    h: &TrainConfig,
    seed: u64,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<Outcome<B>> {
    anyhow::ensure!(!data.train.is_empty(), "no training examples");
    anyhow::ensure!(
        !data.eval.is_empty(),
        "no evaluation examples ({})",
        data.eval_split
    );
    let lengths = task.lengths(&data.train)?;
    let accum = h.grad_accum.max(1);
    let order = match &h.batch_order {
        Some(path) => {
            let order = peftgrid_data::read_batch_order(path, data.train.len())?;
            anyhow::ensure!(
                order.len() >= h.epochs.max(1),
                "batch_order {}: {} epoch(s) of batches, the run trains {}",
                path.display(),
                order.len(),
                h.epochs.max(1)
            );
            Some(order)
        }
        None => None,
    };
    let epoch_batches = |epoch: usize| {
        if let Some(order) = &order {
            return order[epoch].clone();
        }
        match (h.batch_tokens, h.batching) {
            (Some(tokens), _) => {
                peftgrid_data::token_batches(&lengths, tokens, h.batch_size, seed, epoch)
            }
            (None, Batching::Random) => {
                peftgrid_data::random_batches(lengths.len(), h.batch_size, seed, epoch)
            }
            (None, Batching::Bucketed) => {
                peftgrid_data::bucketed_batches(&lengths, h.batch_size.max(1), seed, epoch, true)
            }
        }
    };
    let (per_epoch, total, warmup) = update_counts(epoch_batches(0).len(), h);
    let eval_every = h.eval_every.unwrap_or(per_epoch).max(1);
    let main_metric = task.main_metric().to_string();

    let mut optim = GroupedAdamW::<B, Model<B>>::new(h);
    if let Some((ratio, ids)) = up_lr_group(method, &model)? {
        optim = optim.with_fast_group(ratio, ids);
    }
    let mut ranks = RankAllocator::new(method, &model, total)?;
    let mut step = 0usize;
    let mut samples = 0usize;
    let started = Instant::now();
    let mut evals = Vec::new();
    let mut losses = Vec::new();
    // (score, step, metrics, model) of the best evaluation so far.
    type Best<B> = (f64, usize, BTreeMap<String, f64>, Model<B>);
    let mut best: Option<Best<B>> = None;
    let mut since_best = 0usize;
    let mut ending = Ending::Finished;

    'epochs: for epoch in 0..h.epochs.max(1) {
        let batches = epoch_batches(epoch);
        for (g, group) in batches.chunks(accum).enumerate() {
            let mut acc = GradientsAccumulator::<Model<B>>::new();
            let mut update_loss = 0.0;
            for (k, indices) in group.iter().enumerate() {
                let key = stream(seed, epoch, g * accum + k);
                let (value, grads) =
                    batch_grads(&model, task, &data.train, indices, key, group.len(), device)?;
                if !value.is_finite() {
                    ending = Ending::Diverged {
                        at_step: step,
                        loss: value,
                    };
                    break 'epochs;
                }
                update_loss += value;
                samples += indices.len();
                acc.accumulate(&model, grads);
            }
            if let Some(penalty) = ranks.as_ref().and_then(|r| r.regularizer(&model)) {
                acc.accumulate(
                    &model,
                    GradientsParams::from_grads(penalty.backward(), &model),
                );
            }
            let grads = acc.grads();
            if let Some(r) = ranks.as_mut() {
                r.capture(&model, &grads);
            }
            let lr = schedule(h.schedule, h.lr, step, warmup, total);
            let (next, _grad_norm) = optim.step(lr, model, grads);
            model = match ranks.as_mut() {
                Some(r) => r.update(next, step),
                None => next,
            };
            step += 1;
            losses.push((step, update_loss));
            progress(Progress {
                step,
                total,
                loss: update_loss,
            });
            if step.is_multiple_of(eval_every) || step == total {
                let metrics = task.evaluate(&model.valid(), &data.eval, device)?;
                let score = metrics.get(&main_metric).copied().unwrap_or(f64::NAN);
                evals.push((step, metrics.clone()));
                if best.as_ref().is_none_or(|(b, ..)| score > *b) {
                    best = Some((score, step, metrics, model.clone()));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if h.patience.is_some_and(|p| since_best >= p) {
                        ending = Ending::EarlyStopped { at_step: step };
                        break 'epochs;
                    }
                }
            }
            if step >= total {
                break 'epochs;
            }
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let (best_metrics, best_step, best_model) = match best {
        Some((_, s, m, model)) => (m, s, model),
        None => (BTreeMap::new(), 0, model),
    };
    Ok(Outcome {
        ending,
        best: best_metrics,
        best_step,
        steps: step,
        train_samples: samples,
        train_seconds,
        evals,
        losses,
        model: best_model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    #[test]
    fn schedule_is_hf_linear_with_warmup() {
        // get_linear_schedule_with_warmup(num_warmup_steps=2, num_training_steps=10)
        let lrs: Vec<f64> = (0..10).map(|k| linear_schedule(1.0, k, 2, 10)).collect();
        assert_eq!(
            lrs,
            [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
        );
    }

    type AD = burn::backend::Autodiff<burn::backend::NdArray<f32>>;

    /// LoRA+ on the BERT fixture: Adam's first step moves every entry by ±lr where its
    /// gradient is non-zero, so W_up (the only half with a gradient at the start, W_down's
    /// gradient being W_up = 0 times something) moves by 16 × lr, and W_down not at all.
    #[test]
    fn lora_plus_trains_w_up_at_its_ratio() {
        use peftgrid_zoo::presets::preset;
        use peftgrid_zoo::{Modification, Position};
        let device = Default::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/hf/bert");
        let loaded = peftgrid_model::load::<AD>(&dir, &device).unwrap();
        let spec = preset("lora_plus").unwrap().with_budgets(&[4]).unwrap();
        let mut model = loaded.model;
        peftgrid_model::method::apply(&mut model, &loaded.config, &spec, &device).unwrap();
        let model = peftgrid_model::method::freeze(model, &spec);
        let h = TrainConfig {
            weight_decay: 0.0,
            ..TrainConfig::default()
        };
        let (ratio, ids) = up_lr_group(&spec, &model).unwrap().unwrap();
        assert_eq!((ratio, ids.len()), (16.0, 4));
        let mut optim = GroupedAdamW::<AD, Model<AD>>::new(&h).with_fast_group(ratio, ids);
        let ids = Tensor::<AD, 2, Int>::from_ints([[2, 7, 11, 5, 9, 3]], &device);
        let inputs = peftgrid_model::Inputs {
            input_ids: Some(ids),
            attention_mask: None,
            token_type_ids: None,
            pixel_values: None,
            decoder_input_ids: None,
        };
        let loss = model.forward(inputs).unwrap().last_hidden_state.sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let low_rank = |m: &Model<AD>| {
            let mut m = m.clone();
            let parts = m.parts_mut();
            let site = parts
                .layers
                .into_iter()
                .next()
                .unwrap()
                .get(Position::Q)
                .unwrap();
            match &site.mods[0] {
                Modification::LowRank(l) => (l.down.val().inner(), l.up.val().inner()),
                _ => panic!("not LoRA"),
            }
        };
        let (down0, up0) = low_rank(&model);
        let (next, _) = optim.step(1e-3, model, grads);
        let (down1, up1) = low_rank(&next);
        let moved = |a: Tensor<_, 2>, b: Tensor<_, 2>| -> f32 { (a - b).abs().max().into_scalar() };
        assert!((moved(up1, up0) - 16e-3).abs() < 1e-4);
        assert_eq!(moved(down1, down0), 0.0);
    }

    #[derive(Module, Debug)]
    struct Toy<B: Backend> {
        weight: Param<Tensor<B, 2>>,
        bias: Param<Tensor<B, 1>>,
    }

    /// Against `tests/data/reference_adamw.py` (torch 2.15): AdamW with a decayed weight and an
    /// undecayed bias, clip_grad_norm_(0.5), HF's linear schedule, five updates. Burn forms the
    /// bias corrections 1 − βᵗ in f32 where torch uses Python floats, hence ~1e-6, not 1e-7.
    #[test]
    fn grouped_adamw_matches_torch() {
        let device = Default::default();
        let t2 =
            |v: Vec<f32>, s: [usize; 2]| Tensor::<AD, 2>::from_data(TensorData::new(v, s), &device);
        let x = t2(
            vec![
                1.0, -2.0, 0.5, 0.3, 0.8, -1.2, 2.0, 0.1, 0.7, -0.4, 1.5, 1.0,
            ],
            [4, 3],
        );
        let y = t2(vec![0.5, -1.0, 1.0, 0.2, -0.3, 0.8, 0.9, -0.6], [4, 2]);
        let mut toy = Toy {
            weight: Param::from_tensor(t2(vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6], [3, 2])),
            bias: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.05f32, -0.05], [2]),
                &device,
            )),
        };
        let h = TrainConfig {
            lr: 0.1,
            weight_decay: 0.1,
            grad_clip: 0.5,
            ..TrainConfig::default()
        };
        let mut optim = GroupedAdamW::<AD, Toy<AD>>::new(&h);
        let mut norms = Vec::new();
        for k in 0..5 {
            let out = x.clone().matmul(toy.weight.val()) + toy.bias.val().unsqueeze();
            let loss = (out - y.clone()).powi_scalar(2).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &toy);
            let (next, norm) = optim.step(linear_schedule(0.1, k, 1, 5), toy, grads);
            toy = next;
            norms.push(norm);
        }
        let close = |ours: &[f64], theirs: &[f64], tol: f64| {
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(theirs) {
                assert!((a - b).abs() < tol, "{ours:?} vs torch {theirs:?}");
            }
        };
        close(
            &norms,
            &[
                8.900219917297363,
                8.900219917297363,
                6.55843448638916,
                5.764681339263916,
                5.423892974853516,
            ],
            1e-5,
        );
        let w: Vec<f64> = toy
            .weight
            .val()
            .into_data()
            .convert::<f64>()
            .into_vec()
            .unwrap();
        let b: Vec<f64> = toy
            .bias
            .val()
            .into_data()
            .convert::<f64>()
            .into_vec()
            .unwrap();
        close(
            &w,
            &[
                0.13410930335521698,
                0.053309179842472076,
                0.11551390588283539,
                0.1693708449602127,
                -0.24815216660499573,
                0.33665770292282104,
            ],
            5e-6,
        );
        close(&b, &[0.2972918152809143, -0.29007118940353394], 5e-6);
    }

    /// transformers 4.57's Trainer: num_update_steps_per_epoch = len // accum +
    /// (len % accum > 0), max_steps = ceil(epochs × that), warm-up = ceil(max_steps × ratio).
    #[test]
    fn update_counts_are_trainers() {
        let trainer = |batches: usize, accum: usize, epochs: usize, ratio: f64| {
            let per = batches / accum + usize::from(!batches.is_multiple_of(accum));
            let total = epochs * per;
            (per, total, (total as f64 * ratio).ceil() as usize)
        };
        for (batches, accum, epochs, ratio) in [
            (32, 1, 3, 0.06),
            (63, 1, 3, 0.06),
            (32, 3, 3, 0.1),
            (7, 4, 10, 0.06),
            (1, 1, 1, 0.0),
        ] {
            let h = TrainConfig {
                grad_accum: accum,
                epochs,
                warmup_ratio: ratio,
                ..TrainConfig::default()
            };
            assert_eq!(
                update_counts(batches, &h),
                trainer(batches, accum, epochs, ratio),
                "{batches} batches, accum {accum}, {epochs} epochs, ratio {ratio}"
            );
        }
        // 1,000 examples in batches of 32, 3 epochs: 32 batches (the last of 8), 96 updates, 6
        // of warm-up (the setting).
        let h = TrainConfig {
            epochs: 3,
            ..TrainConfig::default()
        };
        assert_eq!(update_counts(1000usize.div_ceil(32), &h), (32, 96, 6));
    }

    #[test]
    fn no_decay_on_biases_and_layer_norms() {
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert!(decays(&p("layers.0.attention.query.weight")));
        assert!(!decays(&p("layers.0.attention.query.bias")));
        assert!(!decays(&p("layers.0.ffn_norm.gamma")));
        assert!(!decays(&p("embeddings.norm.beta")));
        assert!(decays(&p(
            "layers.0.sites.ffn.mods.0.Bottleneck.down.Dense.weight"
        )));
    }
}
