//! Generation for the encoder-decoders: greedy search and batched beam search with a key/value
//! cache, reproducing transformers' `generate` (5.x) token for token.
//!
//! The beam search is transformers' vectorised one: every batch item keeps `num_beams` running
//! hypotheses and `num_beams` finished ones as tensors on the device; each step takes the top
//! `2·num_beams` continuations of all running beams, moves those that hit EOS or the length
//! limit (scored with the length penalty) into the finished set, and continues the best
//! `num_beams` others. The host reads one flag per step (whether to go on) and the final ids.
//!
//! Settings come from `generation_config.json` (or the model's `config.json`, as transformers
//! falls back to), and each can be overridden; [`GenerationConfig::resolve`] checks them.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::IndexingUpdateOp;
use serde::{Deserialize, Serialize};

use crate::config::TokenIds;
use crate::error::{ModelError, Result};
use crate::seq2seq::{DecoderCache, Encoded, EncoderDecoder};

/// transformers' `early_stopping`: `true` (stop a batch item once it has `num_beams`
/// finished hypotheses), `false` (stop when no running beam can beat them, judged at the
/// current length), `"never"` (judged at the best possible length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    Bool(bool),
    Never,
}

impl Serialize for EarlyStopping {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            EarlyStopping::Bool(b) => s.serialize_bool(*b),
            EarlyStopping::Never => s.serialize_str("never"),
        }
    }
}

impl<'de> Deserialize<'de> for EarlyStopping {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(EarlyStopping::Bool(b)),
            serde_json::Value::String(s) if s == "never" => Ok(EarlyStopping::Never),
            other => Err(serde::de::Error::custom(format!(
                "early_stopping is true, false or \"never\", not {other}"
            ))),
        }
    }
}

impl EarlyStopping {
    fn is_true(self) -> bool {
        self == EarlyStopping::Bool(true)
    }
}

/// Generation settings under transformers' names. `None` means "not set": transformers'
/// default applies (see [`GenerationConfig::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationConfig {
    pub max_length: Option<usize>,
    pub max_new_tokens: Option<usize>,
    pub min_length: Option<usize>,
    pub min_new_tokens: Option<usize>,
    pub num_beams: Option<usize>,
    pub length_penalty: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub no_repeat_ngram_size: Option<usize>,
    pub decoder_start_token_id: Option<usize>,
    pub bos_token_id: Option<usize>,
    pub eos_token_id: Option<TokenIds>,
    pub pad_token_id: Option<usize>,
    pub forced_bos_token_id: Option<usize>,
    pub forced_eos_token_id: Option<TokenIds>,
    pub do_sample: Option<bool>,
    pub num_return_sequences: Option<usize>,
    pub repetition_penalty: Option<f64>,
}

impl GenerationConfig {
    /// The model folder's `generation_config.json`; without one, the generation fields of its
    /// `config.json` (transformers' `GenerationConfig.from_model_config`). Token ids missing
    /// from the former are taken from the latter.
    pub fn from_model_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let read = |name: &str| -> Result<Option<Self>> {
            let path = dir.join(name);
            if !path.is_file() {
                return Ok(None);
            }
            let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
                path: path.clone(),
                source,
            })?;
            Self::from_json(&text, &path).map(Some)
        };
        let model = read("config.json")?.unwrap_or_default();
        let mut config = read("generation_config.json")?.unwrap_or_else(|| model.clone());
        config.decoder_start_token_id = config
            .decoder_start_token_id
            .or(model.decoder_start_token_id);
        config.eos_token_id = config.eos_token_id.or(model.eos_token_id);
        config.pad_token_id = config.pad_token_id.or(model.pad_token_id);
        config.bos_token_id = config.bos_token_id.or(model.bos_token_id);
        Ok(config)
    }

    /// Parses generation settings; `path` names the file in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            field: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }

    /// `other`'s set fields over this config's.
    pub fn overridden_by(mut self, other: &GenerationConfig) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        take!(
            max_length,
            max_new_tokens,
            min_length,
            min_new_tokens,
            num_beams,
            length_penalty,
            early_stopping,
            no_repeat_ngram_size,
            decoder_start_token_id,
            bos_token_id,
            eos_token_id,
            pad_token_id,
            forced_bos_token_id,
            forced_eos_token_id,
            do_sample,
            num_return_sequences,
            repetition_penalty
        );
        // As in transformers, max_new_tokens takes precedence over max_length, and
        // min_new_tokens over min_length: an override of the one clears the other.
        if other.max_length.is_some() && other.max_new_tokens.is_none() {
            self.max_new_tokens = None;
        }
        if other.min_length.is_some() && other.min_new_tokens.is_none() {
            self.min_new_tokens = None;
        }
        self
    }

    /// Checks the settings and applies transformers' defaults and length rules, for a model
    /// with `vocab` tokens (and `max_positions` learned positions, if it has them).
    pub fn resolve(&self, vocab: usize, max_positions: Option<usize>) -> Result<Resolved> {
        let err = |field: &str, message: String| ModelError::Generation {
            field: field.into(),
            message,
        };
        if self.do_sample == Some(true) {
            return Err(err(
                "do_sample",
                "sampling is not implemented; set do_sample to false".into(),
            ));
        }
        if let Some(n) = self.num_return_sequences.filter(|n| *n != 1) {
            return Err(err(
                "num_return_sequences",
                format!("{n}: only 1 is implemented"),
            ));
        }
        if let Some(p) = self.repetition_penalty.filter(|p| *p != 1.0) {
            return Err(err(
                "repetition_penalty",
                format!("{p}: only 1.0 is implemented"),
            ));
        }
        let num_beams = self.num_beams.unwrap_or(1);
        if num_beams == 0 {
            return Err(err("num_beams", "must be at least 1".into()));
        }
        let length_penalty = self.length_penalty.unwrap_or(1.0);
        if !length_penalty.is_finite() {
            return Err(err(
                "length_penalty",
                format!("{length_penalty} is not finite"),
            ));
        }
        let start = self.decoder_start_token_id.ok_or_else(|| {
            err(
                "decoder_start_token_id",
                "not set in generation_config.json or config.json; pass it".into(),
            )
        })?;
        // The decoder prompt is the start token: lengths below count it.
        let prompt = 1;
        let max_length = match (self.max_new_tokens, self.max_length) {
            (Some(0), _) => return Err(err("max_new_tokens", "must be at least 1".into())),
            (Some(n), _) => n + prompt,
            (None, Some(n)) => n,
            // transformers: 20 new tokens by default, capped by the learned positions.
            (None, None) => {
                let n = 20 + prompt;
                max_positions.map_or(n, |m| n.min(m))
            }
        };
        if max_length <= prompt {
            return Err(err(
                "max_length",
                format!("{max_length} leaves no room after the decoder start token"),
            ));
        }
        let min_length = match (self.min_new_tokens, self.min_length) {
            (Some(n), _) => n + prompt,
            (None, Some(n)) => n,
            (None, None) => 0,
        };
        if min_length > max_length {
            return Err(err(
                if self.min_new_tokens.is_some() {
                    "min_new_tokens"
                } else {
                    "min_length"
                },
                format!(
                    "asks for at least {min_length} tokens but max_length is {max_length} \
                     (both count the decoder start token)"
                ),
            ));
        }
        let eos = self
            .eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default();
        // transformers pads finished rows with eos when no pad token is set.
        let pad = self.pad_token_id.or(eos.first().copied());
        let forced_eos = self
            .forced_eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default();
        let check = |field: &str, id: usize| {
            if id >= vocab {
                Err(err(
                    field,
                    format!("token {id} is outside the vocabulary (0..{vocab})"),
                ))
            } else {
                Ok(())
            }
        };
        check("decoder_start_token_id", start)?;
        for &e in &eos {
            check("eos_token_id", e)?;
        }
        for &e in &forced_eos {
            check("forced_eos_token_id", e)?;
        }
        if let Some(b) = self.forced_bos_token_id {
            check("forced_bos_token_id", b)?;
        }
        if let Some(p) = pad {
            check("pad_token_id", p)?;
        }
        Ok(Resolved {
            num_beams,
            max_length,
            min_length,
            length_penalty,
            early_stopping: self.early_stopping.unwrap_or(EarlyStopping::Bool(false)),
            no_repeat_ngram_size: self.no_repeat_ngram_size.unwrap_or(0),
            decoder_start_token_id: start,
            eos,
            pad,
            forced_bos_token_id: self.forced_bos_token_id,
            forced_eos,
        })
    }
}

/// Checked settings, lengths counting the decoder start token.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub num_beams: usize,
    pub max_length: usize,
    pub min_length: usize,
    pub length_penalty: f64,
    pub early_stopping: EarlyStopping,
    pub no_repeat_ngram_size: usize,
    pub decoder_start_token_id: usize,
    pub eos: Vec<usize>,
    pub pad: Option<usize>,
    pub forced_bos_token_id: Option<usize>,
    pub forced_eos: Vec<usize>,
}

/// Generates from `input_ids` (`[batch, src]`): `[batch, len]` ids starting with the decoder
/// start token, finished rows padded with the pad token, as transformers returns them.
/// `use_cache: false` re-runs the decoder over the whole prefix at every step (for testing
/// the cache).
pub fn generate<B: Backend>(
    model: &EncoderDecoder<B>,
    input_ids: Tensor<B, 2, Int>,
    attention_mask: Option<Tensor<B, 2, Int>>,
    settings: &Resolved,
    use_cache: bool,
) -> Tensor<B, 2, Int> {
    let encoded = model.encode(input_ids, attention_mask);
    if settings.num_beams == 1 {
        greedy(model, &encoded, settings, use_cache)
    } else {
        beam_search(model, &encoded, settings, use_cache)
    }
}

/// One decoding step: the next-token logits `[rows, vocab]` for sequences `ids`
/// (`[rows, cur_len]`).
struct Stepper<'a, B: Backend> {
    model: &'a EncoderDecoder<B>,
    memory: Encoded<B>,
    cache: Option<DecoderCache<B>>,
    /// The LM head's `[d, vocab]` weight, laid out once.
    head: Tensor<B, 2>,
}

impl<B: Backend> Stepper<'_, B> {
    fn next_logits(&mut self, ids: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [rows, len] = ids.dims();
        let input = match &self.cache {
            Some(_) => ids.slice([0..rows, len - 1..len]),
            None => ids,
        };
        let hidden = self.model.decode(input, &self.memory, self.cache.as_mut());
        let t = hidden.dims()[1];
        let d = hidden.dims()[2];
        let last = hidden.slice([0..rows, t - 1..t, 0..d]);
        let logits = self.model.logits_with(last, self.head.clone());
        let vocab = logits.dims()[2];
        logits.reshape([rows, vocab])
    }
}

/// `t` copied into its own row-major buffer (a transposed view would be re-laid out by every
/// matmul that reads it).
fn contiguous<B: Backend>(t: Tensor<B, 2>) -> Tensor<B, 2> {
    let device = t.device();
    Tensor::from_data(t.into_data(), &device)
}

/// The logits processors transformers' generate builds for these settings, in its order:
/// no-repeat n-gram, min length, forced BOS, forced EOS. `ids`: `[rows, cur_len]`.
fn process<B: Backend>(
    s: &Resolved,
    ids: &Tensor<B, 2, Int>,
    scores: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let [rows, cur_len] = ids.dims();
    let vocab = scores.dims()[1];
    let mut scores = scores;
    let n = s.no_repeat_ngram_size;
    if n > 0 && cur_len >= n {
        scores = ban_repeated_ngrams(ids, scores, n);
    }
    let only = |scores: Tensor<B, 2>, keep: &[usize]| {
        let device = scores.device();
        let mut out = Tensor::<B, 2>::full([rows, vocab], f32::NEG_INFINITY, &device);
        for &t in keep {
            out = out.slice_assign([0..rows, t..t + 1], Tensor::zeros([rows, 1], &device));
        }
        drop(scores);
        out
    };
    if cur_len < s.min_length && !s.eos.is_empty() {
        let device = scores.device();
        for &e in &s.eos {
            scores = scores.slice_assign(
                [0..rows, e..e + 1],
                Tensor::full([rows, 1], f32::NEG_INFINITY, &device),
            );
        }
    }
    if let Some(bos) = s.forced_bos_token_id {
        if cur_len == 1 {
            scores = only(scores, &[bos]);
        }
    }
    if !s.forced_eos.is_empty() && cur_len + 1 == s.max_length {
        scores = only(scores, &s.forced_eos);
    }
    scores
}

/// transformers' `NoRepeatNGramLogitsProcessor`, on the device: a window of n tokens whose
/// first n−1 equal the last n−1 generated bans its last token.
fn ban_repeated_ngrams<B: Backend>(
    ids: &Tensor<B, 2, Int>,
    scores: Tensor<B, 2>,
    n: usize,
) -> Tensor<B, 2> {
    let [rows, cur_len] = ids.dims();
    let vocab = scores.dims()[1];
    let device = scores.device();
    let windows = cur_len + 1 - n;
    let mut matches: Option<Tensor<B, 2, Bool>> = None;
    for j in 0..n - 1 {
        let column = ids.clone().slice([0..rows, j..j + windows]);
        let p = cur_len + 1 - n + j;
        let prefix = ids
            .clone()
            .slice([0..rows, p..p + 1])
            .repeat_dim(1, windows);
        let eq = column.equal(prefix);
        matches = Some(match matches {
            Some(m) => m.bool_and(eq),
            None => eq,
        });
    }
    let last = ids.clone().slice([0..rows, n - 1..n - 1 + windows]);
    let target = match matches {
        // n = 1: every generated token is banned.
        None => last,
        Some(m) => last.mask_fill(m.bool_not(), vocab as i64),
    };
    let banned = Tensor::<B, 2>::zeros([rows, vocab + 1], &device)
        .scatter(
            1,
            target,
            Tensor::ones([rows, windows], &device),
            IndexingUpdateOp::Add,
        )
        .slice([0..rows, 0..vocab])
        .greater_elem(0.0);
    scores.mask_fill(banned, f32::NEG_INFINITY)
}

/// Whether any of `tokens` (`[.., ..]` ids) is an EOS id.
fn is_eos<B: Backend, const D: usize>(
    tokens: &Tensor<B, D, Int>,
    eos: &[usize],
) -> Tensor<B, D, Bool> {
    let mut hit = tokens.clone().equal_elem(-1);
    for &e in eos {
        hit = hit.bool_or(tokens.clone().equal_elem(e as i64));
    }
    hit
}

fn greedy<B: Backend>(
    model: &EncoderDecoder<B>,
    encoded: &Encoded<B>,
    s: &Resolved,
    use_cache: bool,
) -> Tensor<B, 2, Int> {
    let device = encoded.hidden.device();
    let rows = encoded.hidden.dims()[0];
    let mut step = Stepper {
        model,
        memory: encoded.clone(),
        cache: use_cache.then(|| DecoderCache::new(model.decoder_layers.len())),
        head: contiguous(model.lm_head_weight()),
    };
    let mut ids = Tensor::<B, 2, Int>::full([rows, 1], s.decoder_start_token_id as i64, &device);
    let mut unfinished = Tensor::<B, 2, Int>::ones([rows, 1], &device);
    let mut cur_len = 1;
    while cur_len < s.max_length {
        let logits = step.next_logits(ids.clone());
        let scores = process(s, &ids, logits);
        let mut next = scores.argmax(1);
        if let (false, Some(pad)) = (s.eos.is_empty(), s.pad) {
            // Finished rows get padding.
            next = next * unfinished.clone()
                + unfinished
                    .clone()
                    .neg()
                    .add_scalar(1)
                    .mul_scalar(pad as i64);
        }
        ids = Tensor::cat(vec![ids, next.clone()], 1);
        cur_len += 1;
        if s.eos.is_empty() {
            continue;
        }
        unfinished = unfinished * is_eos(&next, &s.eos).bool_not().int();
        if unfinished.clone().sum().into_scalar().elem::<i64>() == 0 {
            break;
        }
    }
    ids
}

/// The `k` largest entries of each row of `scores` (`[rows, n]`), largest first, with their
/// column indices; ties go to the lower index. k passes of arg-max, so it stays on the device
/// (Burn's sort-based top-k reads the tensor back to the host) and costs O(k·n) instead of a
/// sort. Banned entries (−∞) rank below every finite score but above the entries already
/// taken, so the indices are always distinct.
fn top_k<B: Backend>(scores: Tensor<B, 2>, k: usize) -> (Tensor<B, 2>, Tensor<B, 2, Int>) {
    let [rows, _] = scores.dims();
    let device = scores.device();
    let banned = scores.clone().equal_elem(f32::NEG_INFINITY);
    let mut x = scores.mask_fill(banned, f32::MIN);
    let taken = Tensor::<B, 2>::full([rows, 1], f32::NEG_INFINITY, &device);
    let (mut values, mut indices) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for _ in 0..k {
        let (v, i) = x.clone().max_dim_with_indices(1);
        x = x.scatter(1, i.clone(), taken.clone(), IndexingUpdateOp::Add);
        values.push(v);
        indices.push(i);
    }
    let values = Tensor::cat(values, 1);
    let was_banned = values.clone().equal_elem(f32::MIN);
    (
        values.mask_fill(was_banned, f32::NEG_INFINITY),
        Tensor::cat(indices, 1),
    )
}

/// transformers' `_beam_search`, state for state (see the module documentation).
fn beam_search<B: Backend>(
    model: &EncoderDecoder<B>,
    encoded: &Encoded<B>,
    s: &Resolved,
    use_cache: bool,
) -> Tensor<B, 2, Int> {
    const NEG: f32 = -1.0e9;
    let device = encoded.hidden.device();
    let batch = encoded.hidden.dims()[0];
    let (nb, max_len, prompt) = (s.num_beams, s.max_length, 1usize);
    let vocab = model.vocab_size();
    let keep = 2.max(1 + s.eos.len()) * nb;
    let mut step = Stepper {
        model,
        memory: encoded.repeat_rows(nb),
        cache: use_cache.then(|| DecoderCache::new(model.decoder_layers.len())),
        head: contiguous(model.lm_head_weight()),
    };
    // transformers: `pad_token_id or eos_token_id[0]` (a pad id of 0 falls through to eos).
    let fill = match (s.pad, s.eos.first()) {
        (Some(p), Some(e)) => {
            if p == 0 {
                *e as i64
            } else {
                p as i64
            }
        }
        (_, None) => -1,
        (None, Some(e)) => *e as i64,
    };
    let mut running = Tensor::<B, 3, Int>::full([batch, nb, max_len], fill, &device).slice_assign(
        [0..batch, 0..nb, 0..prompt],
        Tensor::full(
            [batch, nb, prompt],
            s.decoder_start_token_id as i64,
            &device,
        ),
    );
    let mut sequences = running.clone();
    let mut running_scores = Tensor::<B, 2>::full([batch, nb], NEG, &device)
        .slice_assign([0..batch, 0..1], Tensor::zeros([batch, 1], &device));
    let mut beam_scores = Tensor::<B, 2>::full([batch, nb], NEG, &device);
    // Generated length of each finished hypothesis (transformers counts its beam indices).
    let mut lengths = Tensor::<B, 2, Int>::zeros([batch, nb], &device);
    let mut finished = Tensor::<B, 2, Int>::zeros([batch, nb], &device).equal_elem(1);
    let mut improvable = Tensor::<B, 2, Int>::ones([batch, 1], &device).equal_elem(1);
    let batch_offset = Tensor::<B, 1, Int>::arange(0..batch as i64, &device)
        .reshape([batch, 1])
        .mul_scalar(nb as i64);
    let top_mask = Tensor::<B, 1, Int>::arange(0..keep as i64, &device)
        .lower_elem(nb as i64)
        .reshape([1, keep]);
    let gather3 = |t: Tensor<B, 3, Int>, idx: Tensor<B, 2, Int>| {
        let [b, k] = idx.dims();
        let l = t.dims()[2];
        t.gather(1, idx.reshape([b, k, 1]).repeat_dim(2, l))
    };
    let mut cur_len = prompt;
    loop {
        let flat = running
            .clone()
            .slice([0..batch, 0..nb, 0..cur_len])
            .reshape([batch * nb, cur_len]);
        let logits = step.next_logits(flat.clone());
        let log_probs = process(s, &flat, log_softmax(logits, 1));
        let log_probs =
            log_probs.reshape([batch, nb, vocab]) + running_scores.clone().unsqueeze_dim(2);
        let (topk_scores, topk_indices) = top_k(log_probs.reshape([batch, nb * vocab]), keep);
        let source_beam = topk_indices.clone().div_scalar(vocab as i64);
        let topk_ids = topk_indices.remainder_scalar(vocab as i64);
        let topk_sequences = gather3(running.clone(), source_beam.clone()).slice_assign(
            [0..batch, 0..keep, cur_len..cur_len + 1],
            topk_ids.clone().reshape([batch, keep, 1]),
        );
        let source_row = source_beam + batch_offset.clone();
        // Stopping criteria: the length limit, or EOS as the new token.
        let hits = if cur_len + 1 >= max_len {
            Tensor::<B, 2, Int>::ones([batch, keep], &device).equal_elem(1)
        } else {
            is_eos(&topk_ids, &s.eos)
        };

        // The best num_beams continuations that did not stop run on.
        let penalised = topk_scores.clone() + hits.clone().float().mul_scalar(NEG);
        let (_, next) = top_k(penalised.clone(), nb);
        running = gather3(topk_sequences.clone(), next.clone());
        running_scores = penalised.gather(1, next.clone());
        let rows = source_row.gather(1, next);

        // Those among the top num_beams that stopped join the finished set if they beat it.
        let just_finished = hits.clone().bool_and(top_mask.clone().repeat_dim(0, batch));
        let divisor = ((cur_len + 1 - prompt) as f64).powf(s.length_penalty);
        let full = finished.clone().int().min_dim(1).equal_elem(1).bool_and(
            Tensor::<B, 2, Int>::full([batch, 1], s.early_stopping.is_true() as i64, &device)
                .equal_elem(1),
        );
        let candidate = topk_scores.div_scalar(divisor)
            + full.float().mul_scalar(NEG)
            + improvable.clone().bool_not().float().mul_scalar(NEG)
            + just_finished.clone().bool_not().float().mul_scalar(NEG);
        let merged_scores = Tensor::cat(vec![beam_scores, candidate], 1);
        let (_, best) = top_k(merged_scores.clone(), nb);
        sequences = gather3(
            Tensor::cat(vec![sequences, topk_sequences], 1),
            best.clone(),
        );
        beam_scores = merged_scores.gather(1, best.clone());
        let new_lengths =
            Tensor::<B, 2, Int>::full([batch, keep], (cur_len + 1 - prompt) as i64, &device);
        lengths = Tensor::cat(vec![lengths, new_lengths], 1).gather(1, best.clone());
        finished = Tensor::cat(vec![finished.int(), just_finished.int()], 1)
            .gather(1, best)
            .equal_elem(1);

        if let Some(cache) = step.cache.as_mut() {
            cache.select_rows(rows.reshape([batch * nb]));
        }
        cur_len += 1;

        // Can a running beam still beat the worst finished one?
        let best_len = if s.early_stopping == EarlyStopping::Never && s.length_penalty > 0.0 {
            max_len - prompt
        } else {
            cur_len - prompt
        };
        let best_possible = running_scores
            .clone()
            .slice([0..batch, 0..1])
            .div_scalar((best_len as f64).powf(s.length_penalty));
        // Per beam: the worst finished score where that beam is finished, else -1e9.
        let worst = beam_scores.clone().min_dim(1).repeat_dim(1, nb);
        let worst_finished =
            Tensor::<B, 2>::full([batch, nb], NEG, &device).mask_where(finished.clone(), worst);
        let beats = best_possible
            .repeat_dim(1, nb)
            .greater(worst_finished)
            .int()
            .max_dim(1)
            .equal_elem(1);
        improvable = improvable.bool_and(beats);

        // Go on while some batch item can improve, is not complete under early stopping, and
        // has a continuation that did not hit a stopping criterion.
        let can_improve = improvable.clone().int().sum();
        let all_done = finished.clone().int().min_dim(1).min_dim(0).reshape([1]);
        let stop_on_full = if s.early_stopping.is_true() {
            all_done
        } else {
            Tensor::zeros([1], &device)
        };
        let all_hit = hits.int().min_dim(1).min_dim(0).reshape([1]);
        let go_on = can_improve.clamp_max(1)
            * (stop_on_full.neg().add_scalar(1))
            * (all_hit.neg().add_scalar(1));
        if go_on.into_scalar().elem::<i64>() == 0 {
            break;
        }
    }
    let longest = lengths
        .slice([0..batch, 0..1])
        .max()
        .into_scalar()
        .elem::<i64>() as usize;
    sequences
        .slice([0..batch, 0..1, 0..prompt + longest])
        .reshape([batch, prompt + longest])
}
