//! Encoder-decoders (`BartForConditionalGeneration`, `MBartForConditionalGeneration`,
//! `T5ForConditionalGeneration`) computing what transformers computes, with the attachment
//! sites of the encoders on every attention (encoder self, decoder self, decoder cross) and
//! every FFN, and a key/value cache for generation.
//!
//! ```text
//! input_ids ─► embed (×scale) + positions ─► [LN] ─► encoder layers ─► [LN] ─► memory
//! decoder_input_ids ─► embed + positions ─► [LN] ─► decoder layers (self, cross, FFN) ─► [LN]
//!                                                    └► (×d^-0.5) · Eᵀ + final_logits_bias ─► logits
//! ```
//! The three families differ only in data: norm placement and kind, learned positions with an
//! offset of 2 (BART, mBART) or relative position buckets (T5), embedding scale, output scale.

pub mod attention;
mod load;

use burn::module::{Module, Param};
use burn::nn::Embedding;
use burn::prelude::*;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{Shared, Site};

pub use attention::{Attention, CrossAttention, KeyValues, LayerCache, Memory, Norm, Seq2SeqLayer};

use crate::layers::mask_bias;
use crate::sites::LayerSites;

/// Which family a model is (its loading and generation defaults differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bart,
    Mbart,
    T5,
}

/// How positions enter.
#[derive(Module, Debug)]
pub enum Positions<B: Backend> {
    Learned(LearnedPositions<B>),
    Relative(RelativePositions<B>),
}

/// BART/mBART: learned tables, position p read at row p + 2.
#[derive(Module, Debug)]
pub struct LearnedPositions<B: Backend> {
    pub encoder: Embedding<B>,
    pub decoder: Embedding<B>,
}

/// T5: a bias per (bucket of relative distance, head), added to self-attention scores;
/// computed in the first layer of each stack and shared by all its layers.
#[derive(Module, Debug)]
pub struct RelativePositions<B: Backend> {
    /// `[buckets, heads]`
    pub encoder: Param<Tensor<B, 2>>,
    pub decoder: Param<Tensor<B, 2>>,
    pub buckets: usize,
    pub max_distance: usize,
}

/// BART's learned positions start at row 2 (a fairseq legacy kept by transformers).
pub const LEARNED_POSITION_OFFSET: usize = 2;

/// An encoder-decoder with a language-model head.
#[derive(Module, Debug)]
pub struct EncoderDecoder<B: Backend> {
    /// The token embedding both stacks share (`shared`), and the LM head when tied.
    pub embed_tokens: Embedding<B>,
    /// sqrt(d_model) when `scale_embedding` (mBART), else 1.
    pub embed_scale: f64,
    pub positions: Positions<B>,
    /// BART/mBART's `layernorm_embedding` of each stack.
    pub encoder_embedding_norm: Option<Norm<B>>,
    pub decoder_embedding_norm: Option<Norm<B>>,
    pub encoder_layers: Vec<Seq2SeqLayer<B>>,
    pub decoder_layers: Vec<Seq2SeqLayer<B>>,
    /// mBART's `layer_norm`, T5's `final_layer_norm` at the end of each stack.
    pub encoder_norm: Option<Norm<B>>,
    pub decoder_norm: Option<Norm<B>>,
    /// An untied LM head, `[d, vocab]` (`lm_head.weight` present in the checkpoint).
    pub lm_head: Option<Param<Tensor<B, 2>>>,
    /// BART/mBART's `final_logits_bias` (a buffer in transformers: never trained here either).
    pub final_logits_bias: Option<Param<Tensor<B, 1>>>,
    /// d_model^-0.5 for T5 with tied embeddings, else 1.
    pub output_scale: f64,
    pub dropout: Dropout,
    pub family: Family,
    /// Sites before the encoder's first layer (prompt tuning) and after its embeddings.
    pub input: Site<B>,
    pub embedding_output: Site<B>,
    pub shared: Shared<B>,
}

/// The encoder's output, what the decoder attends to.
#[derive(Debug, Clone)]
pub struct Encoded<B: Backend> {
    /// `[rows, src, d]` (src includes prompt tokens, if any).
    pub hidden: Tensor<B, 3>,
    /// `[rows, src]` of 1/0.
    pub attention_mask: Tensor<B, 2, Int>,
    /// The first layer's input, then every encoder layer's output.
    pub hidden_states: Vec<Tensor<B, 3>>,
}

impl<B: Backend> Encoded<B> {
    /// Every row repeated `times` times in place (`repeat_interleave`), for beams.
    pub fn repeat_rows(&self, times: usize) -> Self {
        let [rows, src, d] = self.hidden.dims();
        Self {
            hidden: self
                .hidden
                .clone()
                .unsqueeze_dim::<4>(1)
                .repeat_dim(1, times)
                .reshape([rows * times, src, d]),
            attention_mask: self
                .attention_mask
                .clone()
                .unsqueeze_dim::<3>(1)
                .repeat_dim(1, times)
                .reshape([rows * times, src]),
            hidden_states: Vec::new(),
        }
    }
}

/// What the decoder keeps between steps: per-layer keys and values.
#[derive(Debug, Clone)]
pub struct DecoderCache<B: Backend> {
    pub layers: Vec<LayerCache<B>>,
    /// Positions decoded so far.
    pub len: usize,
}

impl<B: Backend> DecoderCache<B> {
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); layers],
            len: 0,
        }
    }

    /// Reorders the self-attention keys and values by row (beam search keeps the rows of the
    /// surviving beams). Cross-attention keys stay: every beam of a source shares them.
    pub fn select_rows(&mut self, rows: Tensor<B, 1, Int>) {
        for l in self.layers.iter_mut() {
            if let Some(kv) = l.self_kv.take() {
                l.self_kv = Some(kv.select_rows(rows.clone()));
            }
        }
    }
}

/// Named outputs of a teacher-forced forward pass.
#[derive(Debug, Clone)]
pub struct Seq2SeqOutput<B: Backend> {
    pub encoder: Encoded<B>,
    /// The decoder's output after its final norm, `[rows, tgt, d]`.
    pub last_hidden_state: Tensor<B, 3>,
    /// `[rows, tgt, vocab]`
    pub logits: Tensor<B, 3>,
}

impl<B: Backend> EncoderDecoder<B> {
    pub fn vocab_size(&self) -> usize {
        self.embed_tokens.weight.dims()[0]
    }

    pub fn hidden_size(&self) -> usize {
        self.embed_tokens.weight.dims()[1]
    }

    fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let e = self.embed_tokens.forward(ids);
        if self.embed_scale != 1.0 {
            e.mul_scalar(self.embed_scale)
        } else {
            e
        }
    }

    /// Runs the encoder. `attention_mask` defaults to all ones.
    pub fn encode(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Option<Tensor<B, 2, Int>>,
    ) -> Encoded<B> {
        let device = input_ids.device();
        let [rows, src] = input_ids.dims();
        let mask = attention_mask.unwrap_or_else(|| Tensor::ones([rows, src], &device));
        // Prompts come in as embeddings, which transformers does not scale.
        let (x, prompted) = self.input.prepend(self.embed(input_ids));
        let mask = with_visible_prefix(mask, prompted);
        let len = x.dims()[1];
        let x = match &self.positions {
            Positions::Learned(p) => x + learned_positions(&p.encoder, rows, 0, len),
            Positions::Relative(_) => x,
        };
        let x = match &self.encoder_embedding_norm {
            Some(n) => n.forward(x),
            None => x,
        };
        let (x, prompted) = self.embedding_output.prepend(self.dropout.forward(x));
        let mask = with_visible_prefix(mask, prompted);
        let len = x.dims()[1];
        let mut bias = mask_bias(mask.clone());
        if let Positions::Relative(p) = &self.positions {
            bias = bias + relative_bias(&p.encoder, len, len, 0, true, p.buckets, p.max_distance);
        }
        let mut hidden_states = vec![x];
        for layer in &self.encoder_layers {
            let last = hidden_states[hidden_states.len() - 1].clone();
            hidden_states.push(layer.forward(last, Some(bias.clone()), None, None, &self.shared));
        }
        let last = hidden_states[hidden_states.len() - 1].clone();
        let hidden = match &self.encoder_norm {
            Some(n) => self.final_dropout(n.forward(last)),
            None => last,
        };
        Encoded {
            hidden,
            attention_mask: mask,
            hidden_states,
        }
    }

    /// Runs the decoder on `decoder_input_ids` (`[rows, t]`) against `memory`. Without a cache
    /// the t positions attend causally to each other; with one they are the next positions
    /// after the cached ones, and the cache is extended.
    pub fn decode(
        &self,
        decoder_input_ids: Tensor<B, 2, Int>,
        memory: &Encoded<B>,
        mut cache: Option<&mut DecoderCache<B>>,
    ) -> Tensor<B, 3> {
        let device = decoder_input_ids.device();
        let [rows, t] = decoder_input_ids.dims();
        let past = cache.as_ref().map(|c| c.len).unwrap_or(0);
        let x = self.embed(decoder_input_ids);
        let x = match &self.positions {
            Positions::Learned(p) => x + learned_positions(&p.decoder, rows, past, t),
            Positions::Relative(_) => x,
        };
        let x = match &self.decoder_embedding_norm {
            Some(n) => n.forward(x),
            None => x,
        };
        let mut x = self.dropout.forward(x);
        let causal = (t > 1).then(|| causal_bias::<B>(t, past, &device));
        let self_bias = match &self.positions {
            Positions::Relative(p) => {
                let rel = relative_bias(
                    &p.decoder,
                    t,
                    past + t,
                    past,
                    false,
                    p.buckets,
                    p.max_distance,
                );
                Some(match causal {
                    Some(c) => rel + c,
                    None => rel,
                })
            }
            Positions::Learned(_) => causal,
        };
        let memory = Memory {
            hidden: &memory.hidden,
            bias: mask_bias(memory.attention_mask.clone()),
        };
        for (i, layer) in self.decoder_layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(
                x,
                self_bias.clone(),
                Some(&memory),
                layer_cache,
                &self.shared,
            );
        }
        if let Some(c) = cache {
            c.len += t;
        }
        match &self.decoder_norm {
            Some(n) => self.final_dropout(n.forward(x)),
            None => x,
        }
    }

    /// T5 applies dropout after each stack's final norm; mBART does not.
    fn final_dropout(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self.family {
            Family::T5 => self.dropout.forward(x),
            _ => x,
        }
    }

    /// The LM head's weight as `[d, vocab]` (the shared embedding transposed when tied).
    pub fn lm_head_weight(&self) -> Tensor<B, 2> {
        match &self.lm_head {
            Some(w) => w.val(),
            None => self.embed_tokens.weight.val().transpose(),
        }
    }

    /// The LM head: `[rows, t, d]` → `[rows, t, vocab]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        self.logits_with(hidden, self.lm_head_weight())
    }

    /// [`EncoderDecoder::logits`] with the head's weight given: decoding lays the tied weight
    /// out once (`[d, vocab]`, contiguous) instead of transposing it at every step.
    pub fn logits_with(&self, hidden: Tensor<B, 3>, weight: Tensor<B, 2>) -> Tensor<B, 3> {
        let [rows, t, d] = hidden.dims();
        let hidden = if self.output_scale != 1.0 {
            hidden.mul_scalar(self.output_scale)
        } else {
            hidden
        };
        let logits = hidden.reshape([rows * t, d]).matmul(weight);
        let logits = match &self.final_logits_bias {
            Some(b) => logits + b.val().unsqueeze(),
            None => logits,
        };
        logits.reshape([rows, t, self.vocab_size()])
    }

    /// Teacher-forced forward pass, as `*ForConditionalGeneration(input_ids, attention_mask,
    /// decoder_input_ids)`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Option<Tensor<B, 2, Int>>,
        decoder_input_ids: Tensor<B, 2, Int>,
    ) -> Seq2SeqOutput<B> {
        let encoder = self.encode(input_ids, attention_mask);
        let last_hidden_state = self.decode(decoder_input_ids, &encoder, None);
        let logits = self.logits(last_hidden_state.clone());
        Seq2SeqOutput {
            encoder,
            last_hidden_state,
            logits,
        }
    }

    /// Every (site, projection) pair, for merging.
    pub(crate) fn projections_mut(&mut self) -> Vec<(&mut Site<B>, &mut burn::nn::Linear<B>)> {
        let mut out = Vec::new();
        for l in self
            .encoder_layers
            .iter_mut()
            .chain(self.decoder_layers.iter_mut())
        {
            let (a, s) = (&mut l.self_attention, &mut l.sites);
            out.push((&mut s.q, &mut a.query));
            out.push((&mut s.k, &mut a.key));
            out.push((&mut s.v, &mut a.value));
            out.push((&mut s.o, &mut a.output));
            out.push((&mut s.ffn_in, &mut l.ffn.up));
            out.push((&mut s.ffn_out, &mut l.ffn.down));
            if let Some(c) = l.cross.as_mut() {
                let (a, s) = (&mut c.attention, &mut c.sites);
                out.push((&mut s.q, &mut a.query));
                out.push((&mut s.k, &mut a.key));
                out.push((&mut s.v, &mut a.value));
                out.push((&mut s.o, &mut a.output));
            }
        }
        out
    }

    /// Every site, read-only.
    pub(crate) fn all_sites(&self) -> Vec<&LayerSites<B>> {
        let mut out = Vec::new();
        for l in self.encoder_layers.iter().chain(self.decoder_layers.iter()) {
            out.push(&l.sites);
            if let Some(c) = &l.cross {
                out.push(&c.sites);
            }
        }
        out
    }
}

/// `mask` with `prefix` always-visible positions put in front.
fn with_visible_prefix<B: Backend>(mask: Tensor<B, 2, Int>, prefix: usize) -> Tensor<B, 2, Int> {
    if prefix == 0 {
        return mask;
    }
    let rows = mask.dims()[0];
    let ones = Tensor::ones([rows, prefix], &mask.device());
    Tensor::cat(vec![ones, mask], 1)
}

/// Learned position embeddings of positions `start..start + len`, `[rows, len, d]`.
fn learned_positions<B: Backend>(
    table: &Embedding<B>,
    rows: usize,
    start: usize,
    len: usize,
) -> Tensor<B, 3> {
    let device = table.weight.device();
    let first = (start + LEARNED_POSITION_OFFSET) as i64;
    let ids = Tensor::<B, 1, Int>::arange(first..first + len as i64, &device).reshape([1, len]);
    table.forward(ids).repeat_dim(0, rows)
}

/// Additive causal mask for `t` new positions after `past` cached ones: `[1, 1, t, past + t]`,
/// 0 where a key may be attended, the float32 minimum where it lies in the future.
fn causal_bias<B: Backend>(t: usize, past: usize, device: &B::Device) -> Tensor<B, 4> {
    let k = past + t;
    let values: Vec<f32> = (0..t)
        .flat_map(|i| (0..k).map(move |j| if j > past + i { f32::MIN } else { 0.0 }))
        .collect();
    Tensor::<B, 1>::from_data(TensorData::new(values, [t * k]), device).reshape([1, 1, t, k])
}

/// T5's bucket of a relative position (`memory − query`), as
/// `T5Attention._relative_position_bucket`: exact buckets for small distances, logarithmic
/// ones up to `max_distance`, the sign in the upper half when bidirectional. The logarithm is
/// taken in float32 as torch takes it, so bucket edges agree.
pub fn relative_position_bucket(
    relative: i64,
    bidirectional: bool,
    buckets: usize,
    max_distance: usize,
) -> usize {
    let mut buckets = buckets as i64;
    let mut out = 0i64;
    let distance = if bidirectional {
        buckets /= 2;
        if relative > 0 {
            out += buckets;
        }
        relative.abs()
    } else {
        (-relative).max(0)
    };
    let max_exact = buckets / 2;
    if distance < max_exact {
        return (out + distance) as usize;
    }
    let log_ratio = (distance as f32 / max_exact as f32).ln();
    let scale = (max_distance as f64 / max_exact as f64).ln() as f32;
    let large = max_exact + (log_ratio / scale * (buckets - max_exact) as f32) as i64;
    (out + large.min(buckets - 1)) as usize
}

/// T5's position bias `[1, heads, q, k]` for queries at `past..past + q` and keys at `0..k`.
fn relative_bias<B: Backend>(
    table: &Param<Tensor<B, 2>>,
    q: usize,
    k: usize,
    past: usize,
    bidirectional: bool,
    buckets: usize,
    max_distance: usize,
) -> Tensor<B, 4> {
    let device = table.device();
    let heads = table.dims()[1];
    let ids: Vec<i64> = (0..q)
        .flat_map(|i| {
            (0..k).map(move |j| {
                let relative = j as i64 - (past + i) as i64;
                relative_position_bucket(relative, bidirectional, buckets, max_distance) as i64
            })
        })
        .collect();
    let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [q * k]), &device);
    table
        .val()
        .select(0, ids)
        .reshape([q, k, heads])
        .permute([2, 0, 1])
        .unsqueeze::<4>()
}
