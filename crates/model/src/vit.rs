//! ViT (`ViTModel`, `ViTForImageClassification`): non-overlapping patches projected to tokens, a
//! CLS token, learned position embeddings, pre-LN layers, a final LayerNorm and a linear
//! classifier on the CLS token.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{Shared, Site};

use crate::checkpoint::Checkpoint;
use crate::config::{Architecture, HeadKind, ModelConfig};
use crate::error::{ModelError, Result};
use crate::layers::{
    load_layer_norm, load_linear, EncoderLayer, LayerKeys, LayerSpec, NormPlacement,
};

#[derive(Module, Debug)]
pub struct Vit<B: Backend> {
    /// The patch embedding `Conv2d(c, d, kernel = stride = p)` as a linear map of flattened
    /// `c × p × p` patches, which is the same computation.
    pub patch: Linear<B>,
    /// `[1, 1, d]`
    pub cls_token: Param<Tensor<B, 3>>,
    /// `[1, 1 + patches, d]`
    pub position: Param<Tensor<B, 3>>,
    pub dropout: Dropout,
    pub layers: Vec<EncoderLayer<B>>,
    pub norm: LayerNorm<B>,
    /// `Position::Input`: prompts are inserted between the CLS token and the patches, after
    /// position embeddings (VPT).
    pub input: Site<B>,
    /// `Position::Embeddings`: modifications of the embedding output; prompts go after the CLS
    /// token, which the classifier reads.
    pub embedding_output: Site<B>,
    /// Parameters several sites use (prefix generators, PHM rules).
    pub shared: Shared<B>,
    pub classifier: Option<Linear<B>>,
    pub patch_size: usize,
    pub channels: usize,
    pub image_size: usize,
}

/// What ViT computes for a batch of images.
#[derive(Debug, Clone)]
pub struct VitOutput<B: Backend> {
    /// The first layer's input, then every layer's output (before the final LayerNorm).
    pub hidden_states: Vec<Tensor<B, 3>>,
    /// Output of the last layer, before the final LayerNorm, `[batch, 1 + patches, d]`.
    pub encoder_output: Tensor<B, 3>,
    /// After the final LayerNorm (what `ViTModel` returns as `last_hidden_state`).
    pub normed: Tensor<B, 3>,
    pub logits: Option<Tensor<B, 2>>,
}

impl<B: Backend> Vit<B> {
    pub fn load(config: &ModelConfig, ckpt: &Checkpoint, device: &B::Device) -> Result<Self> {
        let Architecture::Vit(c) = &config.architecture else {
            return Err(ModelError::Config {
                path: config.path.clone(),
                field: "model_type".into(),
                message: "not a ViT config".into(),
            });
        };
        let d = c.hidden_size;
        let p = c.patch_size;
        let n = (c.image_size / p).pow(2);
        let why = "hidden_size, num_channels, patch_size in config.json";
        let weight = ckpt.flattened_weight(
            "embeddings.patch_embeddings.projection.weight",
            &[d, c.num_channels, p, p],
            why,
            device,
        )?;
        let bias = ckpt.tensor(
            "embeddings.patch_embeddings.projection.bias",
            [d],
            why,
            device,
        )?;
        let patch = Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        };
        let cls = ckpt.tensor(
            "embeddings.cls_token",
            [1, 1, d],
            "hidden_size in config.json",
            device,
        )?;
        let position = ckpt.tensor(
            "embeddings.position_embeddings",
            [1, n + 1, d],
            "(image_size / patch_size)² + 1 tokens × hidden_size in config.json",
            device,
        )?;

        let spec = LayerSpec {
            hidden: d,
            heads: c.num_attention_heads,
            ffn: c.intermediate_size,
            act: c.hidden_act,
            eps: c.layer_norm_eps,
            qkv_bias: c.qkv_bias,
            hidden_dropout: c.hidden_dropout_prob,
            attention_dropout: c.attention_probs_dropout_prob,
            placement: NormPlacement::Pre,
        };
        let layers = (0..c.num_hidden_layers)
            .map(|i| spec.load(ckpt, &vit_layer_keys(i), device))
            .collect::<Result<Vec<_>>>()?;

        let classifier = match config.head {
            HeadKind::None => None,
            HeadKind::Classification { num_labels } => Some(load_linear(
                ckpt,
                "classifier",
                d,
                num_labels,
                true,
                device,
            )?),
        };
        Ok(Self {
            patch,
            cls_token: Param::from_tensor(cls),
            position: Param::from_tensor(position),
            dropout: Dropout {
                prob: c.hidden_dropout_prob,
            },
            layers,
            norm: load_layer_norm(ckpt, "layernorm", d, c.layer_norm_eps, device)?,
            input: Site::default(),
            embedding_output: Site::default(),
            shared: Shared::default(),
            classifier,
            patch_size: p,
            channels: c.num_channels,
            image_size: c.image_size,
        })
    }

    /// `pixel_values`: `[batch, channels, image_size, image_size]`, already normalised.
    pub fn forward(&self, pixel_values: Tensor<B, 4>) -> VitOutput<B> {
        let [batch, channels, height, width] = pixel_values.dims();
        let p = self.patch_size;
        let (gh, gw) = (height / p, width / p);
        let patches = pixel_values
            .reshape([batch, channels, gh, p, gw, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([batch, gh * gw, channels * p * p]);
        let tokens = self.patch.forward(patches);
        let d = tokens.dims()[2];

        let position = self.position.val();
        let cls = self.cls_token.val().repeat_dim(0, batch) + position.clone().slice([0..1, 0..1]);
        let tokens = tokens + position.slice([0..1, 1..1 + gh * gw]);
        let (tokens, _) = self.input.prepend(tokens);
        let mut hidden = self.dropout.forward(Tensor::cat(vec![cls, tokens], 1));
        if !self.embedding_output.is_empty() {
            let seq = hidden.dims()[1];
            let cls = hidden.clone().slice([0..batch, 0..1]);
            let (rest, _) = self
                .embedding_output
                .prepend(hidden.slice([0..batch, 1..seq]));
            hidden = Tensor::cat(vec![cls, rest], 1);
        }

        let seq = hidden.dims()[1];
        let no_mask = Tensor::zeros([batch, 1, 1, seq], &hidden.device());
        let mut hidden_states = vec![hidden.clone()];
        for layer in &self.layers {
            // VPT-deep: ViT's prompt tokens follow the CLS token.
            let input = layer.sites.block.replace_prompts(hidden, 1, &self.shared);
            hidden = layer.forward(input, no_mask.clone(), &self.shared);
            hidden_states.push(hidden.clone());
        }
        let normed = self.norm.forward(hidden.clone());
        let logits = self
            .classifier
            .as_ref()
            .map(|c| c.forward(normed.clone().slice([0..batch, 0..1]).reshape([batch, d])));
        VitOutput {
            encoder_output: hidden,
            hidden_states,
            normed,
            logits,
        }
    }
}

pub(crate) fn vit_layer_keys(i: usize) -> LayerKeys {
    let p = format!("encoder.layer.{i}");
    LayerKeys {
        query: format!("{p}.attention.attention.query"),
        key: format!("{p}.attention.attention.key"),
        value: format!("{p}.attention.attention.value"),
        output: format!("{p}.attention.output.dense"),
        attention_norm: format!("{p}.layernorm_before"),
        up: format!("{p}.intermediate.dense"),
        down: format!("{p}.output.dense"),
        ffn_norm: format!("{p}.layernorm_after"),
    }
}
