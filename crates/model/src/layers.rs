//! The transformer layer shared by every encoder: multi-head self-attention and the FFN, each a
//! sublayer with a residual connection and a LayerNorm placed after it (BERT, RoBERTa) or before
//! it (ViT). Every hidden state of the unified view passes through a [`Site`] of [`LayerSites`].

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{PrefixKv, Shared};

use crate::checkpoint::Checkpoint;
use crate::config::Activation;
use crate::error::Result;
use crate::sites::LayerSites;

/// Reads a PyTorch `nn.Linear` at `prefix` (`prefix.weight`, `prefix.bias`).
pub(crate) fn load_linear<B: Backend>(
    ckpt: &Checkpoint,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> Result<Linear<B>> {
    let why = format!("nn.Linear({d_in} → {d_out}) from config.json");
    let weight = ckpt.linear_weight(&format!("{prefix}.weight"), d_in, d_out, &why, device)?;
    let bias = if bias {
        let b = ckpt.tensor(&format!("{prefix}.bias"), [d_out], &why, device)?;
        Some(Param::from_tensor(b))
    } else {
        None
    };
    Ok(Linear {
        weight: Param::from_tensor(weight),
        bias,
    })
}

/// Reads a LayerNorm at `prefix`; old checkpoints name its tensors `gamma`/`beta`.
pub(crate) fn load_layer_norm<B: Backend>(
    ckpt: &Checkpoint,
    prefix: &str,
    d: usize,
    eps: f64,
    device: &B::Device,
) -> Result<LayerNorm<B>> {
    let why = format!("LayerNorm({d}), hidden_size in config.json");
    let pick = |new: &str, old: &str| {
        let old = format!("{prefix}.{old}");
        if ckpt.contains(&old) && !ckpt.contains(&format!("{prefix}.{new}")) {
            old
        } else {
            format!("{prefix}.{new}")
        }
    };
    let gamma = ckpt.tensor(&pick("weight", "gamma"), [d], &why, device)?;
    let beta = ckpt.tensor(&pick("bias", "beta"), [d], &why, device)?;
    let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(device);
    ln.gamma = Param::from_tensor(gamma);
    ln.beta = Some(Param::from_tensor(beta));
    Ok(ln)
}

pub(crate) fn activate<B: Backend, const D: usize>(
    act: Activation,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    match act {
        Activation::Gelu => activation::gelu(x),
        Activation::GeluTanh => activation::gelu_approximate(x),
        Activation::Relu => activation::relu(x),
        Activation::Silu => activation::silu(x),
        Activation::Tanh => activation::tanh(x),
    }
}

/// Where a layer's LayerNorms sit relative to its sublayers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormPlacement {
    /// x ← LN(x + sublayer(x)) (BERT, RoBERTa, BART).
    Post,
    /// x ← x + sublayer(LN(x)) (ViT, mBART, T5).
    Pre,
}

/// Multi-head self-attention with its output projection.
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    pub output: Linear<B>,
    pub heads: usize,
    pub probs_dropout: Dropout,
}

impl<B: Backend> SelfAttention<B> {
    /// `x`: `[batch, seq, d]`; `mask_bias`: `[batch, 1, 1, seq]`, 0 where a key may be attended
    /// and the float minimum where it is padding (transformers' extended attention mask).
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        sites: &LayerSites<B>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let [batch, seq, _] = x.dims();
        let q = sites.q.project(x.clone(), &self.query, shared);
        let k = sites.k.project(x.clone(), &self.key, shared);
        let v = sites.v.project(x.clone(), &self.value, shared);
        let a = q.dims()[2];
        let d_head = a / self.heads;
        let split = |t: Tensor<B, 3>| t.reshape([batch, seq, self.heads, d_head]).swap_dims(1, 2);
        let (q, mut k, mut v) = (split(q), split(k), split(v));

        let mut mask_bias = mask_bias;
        if let Some(PrefixKv { keys, values }) = sites.head.prefix_kv(&x, self.heads, shared) {
            // The prefix is never padding: its mask entries are 0.
            let l = keys.dims()[2];
            k = Tensor::cat(vec![keys, k], 2);
            v = Tensor::cat(vec![values, v], 2);
            let open = Tensor::zeros([batch, 1, 1, l], &mask_bias.device());
            mask_bias = Tensor::cat(vec![open, mask_bias], 3);
        }

        let scale = 1.0 / (d_head as f64).sqrt();
        let context = if B::ad_enabled(&x.device()) {
            // Training: the decomposed form, which autodiff differentiates (and where the
            // probabilities' dropout goes).
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + mask_bias;
            let probs = self.probs_dropout.forward(activation::softmax(scores, 3));
            probs.matmul(v)
        } else {
            // Inference: the backend's fused attention (flex: two gemms per head without
            // materialising the scores for the whole batch; cubecl: flash attention). The
            // padding bias is broadcast over heads.
            let sk = k.dims()[2];
            let bias = mask_bias.expand([batch, 1, seq, sk]);
            burn::tensor::module::attention(
                q,
                k,
                v,
                None,
                Some(bias),
                burn::tensor::ops::AttentionModuleOptions {
                    scale: Some(scale),
                    softcap: None,
                    is_causal: false,
                },
            )
        };
        let context = context.swap_dims(1, 2).reshape([batch, seq, a]);
        // `head`: the heads' outputs before W_o mixes them (multi-head parallel adapters).
        let context = sites.head.modify(x, context, shared);
        sites.o.project(context, &self.output, shared)
    }
}

/// The position-wise FFN: W_2 f(W_1 x).
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    pub up: Linear<B>,
    /// T5 v1.1's gated FFN (`gated-gelu`): act(x W_up) ⊙ (x W_gate). The encoders have none.
    pub gate: Option<Linear<B>>,
    pub down: Linear<B>,
    pub act: Activation,
    /// Dropout on the inner activation (BART's `activation_dropout`, T5's `dropout_rate`; 0 for
    /// the encoders, whose FFN has none).
    pub activation_dropout: Dropout,
}

impl<B: Backend> FeedForward<B> {
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        sites: &LayerSites<B>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let up = sites.ffn_in.project(x.clone(), &self.up, shared);
        let mut inner = sites.ffn_in.activate(up, |h| activate(self.act, h));
        if let Some(gate) = &self.gate {
            inner = inner * peftgrid_zoo::rows::dense(x, gate);
        }
        let inner = self.activation_dropout.forward(inner);
        sites.ffn_out.project(inner, &self.down, shared)
    }
}

/// One encoder layer with its attachment sites.
#[derive(Module, Debug)]
pub struct EncoderLayer<B: Backend> {
    pub attention: SelfAttention<B>,
    pub attention_norm: LayerNorm<B>,
    pub ffn: FeedForward<B>,
    pub ffn_norm: LayerNorm<B>,
    pub dropout: Dropout,
    pub placement: NormPlacement,
    pub sites: LayerSites<B>,
}

impl<B: Backend> EncoderLayer<B> {
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let s = &self.sites;
        let attention = |n: Tensor<B, 3>| {
            self.dropout
                .forward(self.attention.forward(n, mask_bias.clone(), s, shared))
        };
        let ffn = |n: Tensor<B, 3>| self.dropout.forward(self.ffn.forward(n, s, shared));
        let out = match self.placement {
            NormPlacement::Post => {
                let a = s.attention.modify_sublayer(
                    x.clone(),
                    attention(x.clone()),
                    &self.attention_norm,
                    shared,
                );
                let h = self.attention_norm.forward(x.clone() + a);
                let f = s
                    .ffn
                    .modify_sublayer(h.clone(), ffn(h.clone()), &self.ffn_norm, shared);
                self.ffn_norm.forward(h + f)
            }
            NormPlacement::Pre => {
                let n = self.attention_norm.forward(x.clone());
                let h = x.clone() + s.attention.modify(n.clone(), attention(n), shared);
                let n = self.ffn_norm.forward(h.clone());
                h + s.ffn.modify(n.clone(), ffn(n), shared)
            }
        };
        s.block.modify(x, out, shared)
    }
}

/// Names of one layer's tensors inside a checkpoint, relative to the encoder prefix.
pub(crate) struct LayerKeys {
    pub query: String,
    pub key: String,
    pub value: String,
    pub output: String,
    pub attention_norm: String,
    pub up: String,
    pub down: String,
    pub ffn_norm: String,
}

impl LayerKeys {
    /// The checkpoint module behind a projection position (`q` → `...attention.self.query`).
    pub fn projection(&self, position: peftgrid_zoo::Position) -> Option<&str> {
        use peftgrid_zoo::Position::*;
        Some(match position {
            Q => &self.query,
            K => &self.key,
            V => &self.value,
            O => &self.output,
            FfnIn => &self.up,
            FfnOut => &self.down,
            _ => return None,
        })
    }
}

/// Everything needed to build a layer besides its weights.
pub(crate) struct LayerSpec {
    pub hidden: usize,
    pub heads: usize,
    pub ffn: usize,
    pub act: Activation,
    pub eps: f64,
    pub qkv_bias: bool,
    pub hidden_dropout: f64,
    pub attention_dropout: f64,
    pub placement: NormPlacement,
}

impl LayerSpec {
    pub(crate) fn load<B: Backend>(
        &self,
        ckpt: &Checkpoint,
        keys: &LayerKeys,
        device: &B::Device,
    ) -> Result<EncoderLayer<B>> {
        let d = self.hidden;
        let attention = SelfAttention {
            query: load_linear(ckpt, &keys.query, d, d, self.qkv_bias, device)?,
            key: load_linear(ckpt, &keys.key, d, d, self.qkv_bias, device)?,
            value: load_linear(ckpt, &keys.value, d, d, self.qkv_bias, device)?,
            output: load_linear(ckpt, &keys.output, d, d, true, device)?,
            heads: self.heads,
            probs_dropout: Dropout {
                prob: self.attention_dropout,
            },
        };
        let ffn = FeedForward {
            up: load_linear(ckpt, &keys.up, d, self.ffn, true, device)?,
            gate: None,
            down: load_linear(ckpt, &keys.down, self.ffn, d, true, device)?,
            act: self.act,
            activation_dropout: Dropout { prob: 0.0 },
        };
        Ok(EncoderLayer {
            attention,
            attention_norm: load_layer_norm(ckpt, &keys.attention_norm, d, self.eps, device)?,
            ffn,
            ffn_norm: load_layer_norm(ckpt, &keys.ffn_norm, d, self.eps, device)?,
            dropout: Dropout {
                prob: self.hidden_dropout,
            },
            placement: self.placement,
            sites: LayerSites::default(),
        })
    }
}

/// transformers' extended attention mask: `[batch, seq]` of 1/0 → `[batch, 1, 1, seq]` of 0 and
/// the float32 minimum, added to the attention scores.
pub fn mask_bias<B: Backend>(attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, seq] = attention_mask.dims();
    let keep = attention_mask.float();
    keep.neg()
        .add_scalar(1.0)
        .mul_scalar(f32::MIN)
        .reshape([batch, 1, 1, seq])
}
