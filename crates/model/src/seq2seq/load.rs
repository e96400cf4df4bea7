//! Building the encoder-decoders from transformers checkpoints.
//!
//! BART/mBART keys (under `model.`, which may be absent): `shared`, `{encoder,decoder}.
//! embed_positions`, `layernorm_embedding`, `layers.{i}.{self_attn,encoder_attn}.{q,k,v,out}_proj`,
//! `self_attn_layer_norm`, `encoder_attn_layer_norm`, `fc1`, `fc2`, `final_layer_norm`, mBART's
//! `layer_norm`; `final_logits_bias` and `lm_head` at the top. T5 keys: `shared`,
//! `{encoder,decoder}.block.{i}.layer.{j}.{SelfAttention,EncDecAttention,DenseReluDense,
//! layer_norm}`, `final_layer_norm`, `lm_head`.

use burn::module::Param;
use burn::nn::{Embedding, RmsNorm};
use burn::prelude::*;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{Shared, Site};

use super::{
    Attention, CrossAttention, EncoderDecoder, Family, LearnedPositions, Norm, Positions,
    RelativePositions, Seq2SeqLayer, LEARNED_POSITION_OFFSET,
};
use crate::checkpoint::Checkpoint;
use crate::config::{Architecture, BartConfig, ModelConfig, T5Config};
use crate::error::{ModelError, Result};
use crate::layers::{load_layer_norm, load_linear, FeedForward, NormPlacement};
use crate::sites::LayerSites;

/// nn.LayerNorm's default epsilon, which BART and mBART use.
const BART_LN_EPS: f64 = 1e-5;

fn dropout(prob: f64) -> Dropout {
    Dropout { prob }
}

fn embedding<B: Backend>(
    ckpt: &Checkpoint,
    name: &str,
    rows: usize,
    d: usize,
    why: &str,
    device: &B::Device,
) -> Result<Embedding<B>> {
    Ok(Embedding {
        weight: Param::from_tensor(ckpt.tensor(name, [rows, d], why, device)?),
    })
}

/// The LM head: `lm_head.weight` when the checkpoint has its own, else tied to `shared`.
fn lm_head<B: Backend>(
    ckpt: &Checkpoint,
    vocab: usize,
    d: usize,
    device: &B::Device,
) -> Result<Option<Param<Tensor<B, 2>>>> {
    if !ckpt.contains("lm_head.weight") {
        return Ok(None);
    }
    let w = ckpt.linear_weight(
        "lm_head.weight",
        d,
        vocab,
        "lm_head: d_model → vocab_size",
        device,
    )?;
    Ok(Some(Param::from_tensor(w)))
}

impl<B: Backend> EncoderDecoder<B> {
    pub fn load(config: &ModelConfig, ckpt: &Checkpoint, device: &B::Device) -> Result<Self> {
        match &config.architecture {
            Architecture::Bart(c) => load_bart(c, Family::Bart, ckpt, device),
            Architecture::Mbart(c) => load_bart(c, Family::Mbart, ckpt, device),
            Architecture::T5(c) => load_t5(c, ckpt, device),
            _ => Err(ModelError::Config {
                path: config.path.clone(),
                field: "model_type".into(),
                message: format!("`{}` is not an encoder-decoder", config.model_type),
            }),
        }
    }
}

fn bart_attention<B: Backend>(
    ckpt: &Checkpoint,
    prefix: &str,
    d: usize,
    heads: usize,
    attention_dropout: f64,
    device: &B::Device,
) -> Result<Attention<B>> {
    let linear = |name: &str| load_linear(ckpt, &format!("{prefix}.{name}"), d, d, true, device);
    Ok(Attention {
        query: linear("q_proj")?,
        key: linear("k_proj")?,
        value: linear("v_proj")?,
        output: linear("out_proj")?,
        heads,
        scaling: 1.0 / ((d / heads) as f64).sqrt(),
        probs_dropout: dropout(attention_dropout),
    })
}

fn load_bart<B: Backend>(
    c: &BartConfig,
    family: Family,
    ckpt: &Checkpoint,
    device: &B::Device,
) -> Result<EncoderDecoder<B>> {
    let d = c.d_model;
    let ln = |name: &str| -> Result<Norm<B>> {
        Ok(Norm::Layer(load_layer_norm(
            ckpt,
            name,
            d,
            BART_LN_EPS,
            device,
        )?))
    };
    let placement = match family {
        Family::Mbart => NormPlacement::Pre,
        _ => NormPlacement::Post,
    };
    let why = "vocab_size × d_model from config.json";
    let embed_name =
        if !ckpt.contains("shared.weight") && ckpt.contains("encoder.embed_tokens.weight") {
            "encoder.embed_tokens.weight"
        } else {
            "shared.weight"
        };
    let embed_tokens = embedding(ckpt, embed_name, c.vocab_size, d, why, device)?;
    let rows = c.max_position_embeddings + LEARNED_POSITION_OFFSET;
    let why = "max_position_embeddings + 2 (BART's offset) × d_model";
    let positions = Positions::Learned(LearnedPositions {
        encoder: embedding(ckpt, "encoder.embed_positions.weight", rows, d, why, device)?,
        decoder: embedding(ckpt, "decoder.embed_positions.weight", rows, d, why, device)?,
    });
    let layer =
        |stack: &str, i: usize, heads: usize, ffn: usize, cross: bool| -> Result<Seq2SeqLayer<B>> {
            let p = format!("{stack}.layers.{i}");
            let cross = if cross {
                Some(CrossAttention {
                    attention: bart_attention(
                        ckpt,
                        &format!("{p}.encoder_attn"),
                        d,
                        heads,
                        c.attention_dropout,
                        device,
                    )?,
                    norm: ln(&format!("{p}.encoder_attn_layer_norm"))?,
                    sites: LayerSites::default(),
                })
            } else {
                None
            };
            Ok(Seq2SeqLayer {
                self_attention: bart_attention(
                    ckpt,
                    &format!("{p}.self_attn"),
                    d,
                    heads,
                    c.attention_dropout,
                    device,
                )?,
                self_attention_norm: ln(&format!("{p}.self_attn_layer_norm"))?,
                cross,
                ffn: FeedForward {
                    up: load_linear(ckpt, &format!("{p}.fc1"), d, ffn, true, device)?,
                    gate: None,
                    down: load_linear(ckpt, &format!("{p}.fc2"), ffn, d, true, device)?,
                    act: c.activation_function,
                    activation_dropout: dropout(c.activation_dropout),
                },
                ffn_norm: ln(&format!("{p}.final_layer_norm"))?,
                dropout: dropout(c.dropout),
                placement,
                sites: LayerSites::default(),
            })
        };
    let encoder_layers = (0..c.encoder_layers)
        .map(|i| {
            layer(
                "encoder",
                i,
                c.encoder_attention_heads,
                c.encoder_ffn_dim,
                false,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let decoder_layers = (0..c.decoder_layers)
        .map(|i| {
            layer(
                "decoder",
                i,
                c.decoder_attention_heads,
                c.decoder_ffn_dim,
                true,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let (encoder_norm, decoder_norm) = match family {
        Family::Mbart => (
            Some(ln("encoder.layer_norm")?),
            Some(ln("decoder.layer_norm")?),
        ),
        _ => (None, None),
    };
    // A buffer transformers fills with zeros when the checkpoint lacks it.
    let final_logits_bias = if ckpt.contains("final_logits_bias") {
        ckpt.tensor::<B, 2>(
            "final_logits_bias",
            [1, c.vocab_size],
            "[1, vocab_size]",
            device,
        )?
        .reshape([c.vocab_size])
    } else {
        Tensor::zeros([c.vocab_size], device)
    };
    let lm_head = if c.tie_word_embeddings {
        None
    } else {
        lm_head(ckpt, c.vocab_size, d, device)?
    };
    Ok(EncoderDecoder {
        embed_tokens,
        embed_scale: if c.scale_embedding {
            (d as f64).sqrt()
        } else {
            1.0
        },
        positions,
        encoder_embedding_norm: Some(ln("encoder.layernorm_embedding")?),
        decoder_embedding_norm: Some(ln("decoder.layernorm_embedding")?),
        encoder_layers,
        decoder_layers,
        encoder_norm,
        decoder_norm,
        lm_head,
        final_logits_bias: Some(Param::from_tensor(final_logits_bias).set_require_grad(false)),
        output_scale: 1.0,
        dropout: dropout(c.dropout),
        family,
        input: Site::default(),
        embedding_output: Site::default(),
        shared: Shared::default(),
    })
}

fn rms<B: Backend>(
    ckpt: &Checkpoint,
    name: &str,
    d: usize,
    eps: f64,
    device: &B::Device,
) -> Result<Norm<B>> {
    let gamma = ckpt.tensor(
        &format!("{name}.weight"),
        [d],
        "T5LayerNorm(d_model)",
        device,
    )?;
    Ok(Norm::Rms(RmsNorm {
        gamma: Param::from_tensor(gamma),
        epsilon: eps,
    }))
}

fn load_t5<B: Backend>(
    c: &T5Config,
    ckpt: &Checkpoint,
    device: &B::Device,
) -> Result<EncoderDecoder<B>> {
    let (d, f, a, heads) = (c.d_model, c.d_ff, c.num_heads * c.d_kv, c.num_heads);
    let (gated, act) = c.ffn_activation().map_err(|message| ModelError::Config {
        path: ckpt.path().to_path_buf(),
        field: "feed_forward_proj".into(),
        message,
    })?;
    let eps = c.layer_norm_epsilon;
    let attention = |prefix: &str| -> Result<Attention<B>> {
        let linear = |name: &str, d_in, d_out| {
            load_linear(
                ckpt,
                &format!("{prefix}.{name}"),
                d_in,
                d_out,
                false,
                device,
            )
        };
        Ok(Attention {
            query: linear("q", d, a)?,
            key: linear("k", d, a)?,
            value: linear("v", d, a)?,
            output: linear("o", a, d)?,
            heads,
            scaling: 1.0,
            probs_dropout: dropout(c.dropout_rate),
        })
    };
    let layer = |stack: &str, i: usize, decoder: bool| -> Result<Seq2SeqLayer<B>> {
        let p = format!("{stack}.block.{i}.layer");
        let ffn_index = if decoder { 2 } else { 1 };
        let ff = format!("{p}.{ffn_index}.DenseReluDense");
        let (up, gate) = if gated {
            (
                load_linear(ckpt, &format!("{ff}.wi_0"), d, f, false, device)?,
                Some(load_linear(
                    ckpt,
                    &format!("{ff}.wi_1"),
                    d,
                    f,
                    false,
                    device,
                )?),
            )
        } else {
            (
                load_linear(ckpt, &format!("{ff}.wi"), d, f, false, device)?,
                None,
            )
        };
        let cross = if decoder {
            Some(CrossAttention {
                attention: attention(&format!("{p}.1.EncDecAttention"))?,
                norm: rms(ckpt, &format!("{p}.1.layer_norm"), d, eps, device)?,
                sites: LayerSites::default(),
            })
        } else {
            None
        };
        Ok(Seq2SeqLayer {
            self_attention: attention(&format!("{p}.0.SelfAttention"))?,
            self_attention_norm: rms(ckpt, &format!("{p}.0.layer_norm"), d, eps, device)?,
            cross,
            ffn: FeedForward {
                up,
                gate,
                down: load_linear(ckpt, &format!("{ff}.wo"), f, d, false, device)?,
                act,
                activation_dropout: dropout(c.dropout_rate),
            },
            ffn_norm: rms(ckpt, &format!("{p}.{ffn_index}.layer_norm"), d, eps, device)?,
            dropout: dropout(c.dropout_rate),
            placement: NormPlacement::Pre,
            sites: LayerSites::default(),
        })
    };
    let why = "relative_attention_num_buckets × num_heads";
    let table = |stack: &str| -> Result<Param<Tensor<B, 2>>> {
        Ok(Param::from_tensor(ckpt.tensor(
            &format!("{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
            [c.relative_attention_num_buckets, heads],
            why,
            device,
        )?))
    };
    let embed_tokens = embedding(
        ckpt,
        "shared.weight",
        c.vocab_size,
        d,
        "vocab_size × d_model",
        device,
    )?;
    Ok(EncoderDecoder {
        embed_tokens,
        embed_scale: 1.0,
        positions: Positions::Relative(RelativePositions {
            encoder: table("encoder")?,
            decoder: table("decoder")?,
            buckets: c.relative_attention_num_buckets,
            max_distance: c.relative_attention_max_distance,
        }),
        encoder_embedding_norm: None,
        decoder_embedding_norm: None,
        encoder_layers: (0..c.num_layers)
            .map(|i| layer("encoder", i, false))
            .collect::<Result<Vec<_>>>()?,
        decoder_layers: (0..c.decoder_layers())
            .map(|i| layer("decoder", i, true))
            .collect::<Result<Vec<_>>>()?,
        encoder_norm: Some(rms(ckpt, "encoder.final_layer_norm", d, eps, device)?),
        decoder_norm: Some(rms(ckpt, "decoder.final_layer_norm", d, eps, device)?),
        lm_head: lm_head(ckpt, c.vocab_size, d, device)?,
        final_logits_bias: None,
        output_scale: if c.scale_decoder_outputs() {
            (d as f64).powf(-0.5)
        } else {
            1.0
        },
        dropout: dropout(c.dropout_rate),
        family: Family::T5,
        input: Site::default(),
        embedding_output: Site::default(),
        shared: Shared::default(),
    })
}
