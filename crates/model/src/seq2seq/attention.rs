//! Attention, FFN and layer of the encoder-decoders, with a key/value cache for decoding.
//!
//! One [`Attention`] serves encoder self-attention, decoder self-attention (its keys and values
//! grow by one position per decoded token) and decoder cross-attention (keys and values of the
//! source, computed once). Every projection and sublayer output passes through a
//! [`LayerSites`] site exactly as in the encoders, so a method reaches all three kinds.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear, RmsNorm};
use burn::prelude::*;
use burn::tensor::activation;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{PrefixKv, Shared, Site};

use crate::layers::{FeedForward, NormPlacement};
use crate::sites::LayerSites;

/// BART's LayerNorm or T5's RMS norm (a gain, no mean, no bias).
#[derive(Module, Debug)]
pub enum Norm<B: Backend> {
    Layer(LayerNorm<B>),
    Rms(RmsNorm<B>),
}

impl<B: Backend> Norm<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self {
            Norm::Layer(n) => n.forward(x),
            Norm::Rms(n) => n.forward(x),
        }
    }
}

/// Keys and values of one attention, `[rows, heads, len, d_head]` each.
#[derive(Debug, Clone)]
pub struct KeyValues<B: Backend> {
    pub keys: Tensor<B, 4>,
    pub values: Tensor<B, 4>,
}

impl<B: Backend> KeyValues<B> {
    fn cat(self, next: Self) -> Self {
        Self {
            keys: Tensor::cat(vec![self.keys, next.keys], 2),
            values: Tensor::cat(vec![self.values, next.values], 2),
        }
    }

    /// Keeps the rows `rows` (a beam reordering).
    pub fn select_rows(self, rows: Tensor<B, 1, Int>) -> Self {
        Self {
            keys: self.keys.select(0, rows.clone()),
            values: self.values.select(0, rows),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.dims()[2]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Multi-head attention with its output projection.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    pub output: Linear<B>,
    pub heads: usize,
    /// Factor on q·k: 1/sqrt(d_head) (BART), 1 (T5, which folds it into its initialisation).
    pub scaling: f64,
    pub probs_dropout: Dropout,
}

impl<B: Backend> Attention<B> {
    fn split(&self, t: Tensor<B, 3>) -> Tensor<B, 4> {
        let [rows, len, a] = t.dims();
        t.reshape([rows, len, self.heads, a / self.heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `x` (`[rows, len, d]`) through the k and v sites.
    pub fn key_values(
        &self,
        x: Tensor<B, 3>,
        sites: &LayerSites<B>,
        shared: &Shared<B>,
    ) -> KeyValues<B> {
        KeyValues {
            keys: self.split(sites.k.project(x.clone(), &self.key, shared)),
            values: self.split(sites.v.project(x, &self.value, shared)),
        }
    }

    /// Attends from `x` (`[rows, q, d]`) to `kv`; `bias` (broadcast to `[rows, heads, q, k]`)
    /// is added to the scores: padding and causal masks, T5's relative positions.
    pub fn attend(
        &self,
        x: Tensor<B, 3>,
        kv: &KeyValues<B>,
        bias: Option<Tensor<B, 4>>,
        sites: &LayerSites<B>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let [rows, q_len, _] = x.dims();
        let q = self.split(sites.q.project(x.clone(), &self.query, shared));
        let a = q.dims()[1] * q.dims()[3];
        let (mut keys, mut values, mut bias) = (kv.keys.clone(), kv.values.clone(), bias);
        if let Some(PrefixKv {
            keys: pk,
            values: pv,
        }) = sites.head.prefix_kv(&x, self.heads, shared)
        {
            // Prefix positions are never masked and have no relative position: bias 0.
            let l = pk.dims()[2];
            keys = Tensor::cat(vec![pk, keys], 2);
            values = Tensor::cat(vec![pv, values], 2);
            bias = bias.map(|b| {
                let [b0, b1, b2, _] = b.dims();
                Tensor::cat(vec![Tensor::zeros([b0, b1, b2, l], &b.device()), b], 3)
            });
        }
        let mut scores = q.matmul(keys.swap_dims(2, 3));
        if self.scaling != 1.0 {
            scores = scores.mul_scalar(self.scaling);
        }
        if let Some(b) = bias {
            scores = scores + b;
        }
        let probs = self.probs_dropout.forward(activation::softmax(scores, 3));
        let context = probs
            .matmul(values)
            .swap_dims(1, 2)
            .reshape([rows, q_len, a]);
        let context = sites.head.modify(x, context, shared);
        sites.o.project(context, &self.output, shared)
    }
}

/// The decoder's cross-attention and its norm.
#[derive(Module, Debug)]
pub struct CrossAttention<B: Backend> {
    pub attention: Attention<B>,
    pub norm: Norm<B>,
    /// Its own q, k, v, o, head and attention sites (the FFN ones stay empty).
    pub sites: LayerSites<B>,
}

/// One encoder or decoder layer.
#[derive(Module, Debug)]
pub struct Seq2SeqLayer<B: Backend> {
    pub self_attention: Attention<B>,
    pub self_attention_norm: Norm<B>,
    /// Decoder layers only.
    pub cross: Option<CrossAttention<B>>,
    pub ffn: FeedForward<B>,
    pub ffn_norm: Norm<B>,
    pub dropout: Dropout,
    pub placement: NormPlacement,
    /// Self-attention, FFN and block sites.
    pub sites: LayerSites<B>,
}

/// What a decoder layer keeps between decoding steps.
#[derive(Debug, Clone, Default)]
pub struct LayerCache<B: Backend> {
    /// Keys and values of every decoded position so far.
    pub self_kv: Option<KeyValues<B>>,
    /// Keys and values of the source, computed at the first step.
    pub cross_kv: Option<KeyValues<B>>,
}

/// The source a decoder layer attends to.
pub struct Memory<'a, B: Backend> {
    /// Encoder output, `[rows, src, d]`.
    pub hidden: &'a Tensor<B, 3>,
    /// Added to cross-attention scores: the source padding mask, `[rows, 1, 1, src]`.
    pub bias: Tensor<B, 4>,
}

impl<B: Backend> Seq2SeqLayer<B> {
    /// A residual sublayer `f` with its norm and output site, post- or pre-LN.
    fn sublayer(
        &self,
        x: Tensor<B, 3>,
        site: &Site<B>,
        norm: &Norm<B>,
        shared: &Shared<B>,
        f: impl FnOnce(Tensor<B, 3>) -> Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        match self.placement {
            NormPlacement::Post => {
                let h = self.dropout.forward(f(x.clone()));
                let h = match norm {
                    Norm::Layer(ln) => site.modify_sublayer(x.clone(), h, ln, shared),
                    Norm::Rms(_) => site.modify(x.clone(), h, shared),
                };
                norm.forward(x + h)
            }
            NormPlacement::Pre => {
                let n = norm.forward(x.clone());
                let h = self.dropout.forward(f(n.clone()));
                x + site.modify(n, h, shared)
            }
        }
    }

    /// `x`: `[rows, t, d]`; `self_bias`: added to self-attention scores (padding, causal mask,
    /// relative positions). `memory` and `cache` are for decoder layers: with a cache, `x`
    /// holds only the new positions and the cache supplies (and then keeps) the earlier ones.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        self_bias: Option<Tensor<B, 4>>,
        memory: Option<&Memory<'_, B>>,
        mut cache: Option<&mut LayerCache<B>>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let s = &self.sites;
        let input = x.clone();
        let h = self.sublayer(x, &s.attention, &self.self_attention_norm, shared, |n| {
            let mut kv = self.self_attention.key_values(n.clone(), s, shared);
            if let Some(c) = cache.as_deref_mut() {
                if let Some(past) = c.self_kv.take() {
                    kv = past.cat(kv);
                }
                c.self_kv = Some(kv.clone());
            }
            self.self_attention.attend(n, &kv, self_bias, s, shared)
        });
        let h = match (&self.cross, memory) {
            (Some(cross), Some(memory)) => {
                let cs = &cross.sites;
                self.sublayer(h, &cs.attention, &cross.norm, shared, |n| {
                    let cached = cache.as_deref().and_then(|c| c.cross_kv.clone());
                    let kv = cached.unwrap_or_else(|| {
                        cross
                            .attention
                            .key_values(memory.hidden.clone(), cs, shared)
                    });
                    if let Some(c) = cache {
                        c.cross_kv.get_or_insert_with(|| kv.clone());
                    }
                    cross
                        .attention
                        .attend(n, &kv, Some(memory.bias.clone()), cs, shared)
                })
            }
            _ => h,
        };
        let out = self.sublayer(h, &s.ffn, &self.ffn_norm, shared, |n| {
            self.ffn.forward(n, s, shared)
        });
        s.block.modify(input, out, shared)
    }
}
