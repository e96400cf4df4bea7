//! BERT (`BertModel`, `BertForSequenceClassification`) and the text encoder it shares with
//! RoBERTa: token + position + token-type embeddings, LayerNorm, post-LN layers.

use burn::module::{Module, Param};
use burn::nn::{Dropout, Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation;
use peftgrid_zoo::Site;

use crate::checkpoint::Checkpoint;
use crate::config::{Architecture, HeadKind, ModelConfig, TextEncoderConfig};
use crate::error::{ModelError, Result};
use crate::layers::{
    load_layer_norm, load_linear, mask_bias, EncoderLayer, LayerKeys, LayerSpec, NormPlacement,
};
use crate::roberta;

/// How position ids are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionIds {
    /// 0, 1, 2, … (BERT).
    Absolute,
    /// pad + 1, pad + 2, … over real tokens, pad on padding (RoBERTa).
    AfterPadding { pad: usize },
}

#[derive(Module, Debug)]
pub struct TextEmbeddings<B: Backend> {
    pub word: Embedding<B>,
    pub position: Embedding<B>,
    pub token_type: Embedding<B>,
    pub norm: LayerNorm<B>,
    pub dropout: Dropout,
    pub position_ids: PositionIds,
}

/// Where the head's dropout acts: the two heads differ only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadStyle {
    /// `BertForSequenceClassification`: classifier(dropout(tanh(pooler(h₀)))).
    BertPooler,
    /// `RobertaClassificationHead`: out_proj(dropout(tanh(dense(dropout(h₀))))).
    Roberta,
}

/// The sequence-classification head of the checkpoint's class: a tanh-activated dense layer on
/// the first token, then a linear map to the labels.
#[derive(Module, Debug)]
pub struct TextHead<B: Backend> {
    /// BERT's `pooler.dense`, RoBERTa's `classifier.dense`.
    pub dense: Linear<B>,
    /// BERT's `classifier`, RoBERTa's `classifier.out_proj`.
    pub out: Linear<B>,
    pub dropout: Dropout,
    pub style: HeadStyle,
}

impl<B: Backend> TextHead<B> {
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, _, d] = hidden.dims();
        let mut x = hidden.slice([0..batch, 0..1]).reshape([batch, d]);
        if self.style == HeadStyle::Roberta {
            x = self.dropout.forward(x);
        }
        let x = activation::tanh(self.dense.forward(x));
        self.out.forward(self.dropout.forward(x))
    }
}

/// A BERT-style text encoder (BERT or RoBERTa) with its attachment sites.
#[derive(Module, Debug)]
pub struct TextEncoder<B: Backend> {
    pub embeddings: TextEmbeddings<B>,
    pub layers: Vec<EncoderLayer<B>>,
    /// `Position::Input`: modifications of the token embeddings (prompt tuning).
    pub input: Site<B>,
    pub head: Option<TextHead<B>>,
}

/// What a text encoder computes for a batch.
#[derive(Debug, Clone)]
pub struct TextOutput<B: Backend> {
    /// Output of the embedding layer (after its LayerNorm), `[batch, seq', d]`.
    pub embeddings: Tensor<B, 3>,
    /// `[batch, seq', d]`; seq' = seq + the virtual tokens an input site prepended.
    pub last_hidden_state: Tensor<B, 3>,
    /// The attention mask that goes with `last_hidden_state` (virtual tokens count as real).
    pub attention_mask: Tensor<B, 2, Int>,
    /// `[batch, num_labels]` when the model has a classification head.
    pub logits: Option<Tensor<B, 2>>,
}

impl<B: Backend> TextEncoder<B> {
    /// Builds the encoder described by `config` from the tensors of `ckpt`.
    pub fn load(config: &ModelConfig, ckpt: &Checkpoint, device: &B::Device) -> Result<Self> {
        let (c, position_ids) = match &config.architecture {
            Architecture::Bert(c) => (c, PositionIds::Absolute),
            Architecture::Roberta(c) => (
                c,
                PositionIds::AfterPadding {
                    // validate() checked it is present
                    pad: c.pad_token_id.unwrap_or(1),
                },
            ),
            Architecture::Vit(_) => {
                return Err(ModelError::Config {
                    path: config.path.clone(),
                    field: "model_type".into(),
                    message: "a ViT config cannot build a text encoder".into(),
                })
            }
        };
        let d = c.hidden_size;
        let embedding = |name: &str, n: usize, field: &str| -> Result<Embedding<B>> {
            let why = format!("{field} × hidden_size in config.json");
            let w = ckpt.tensor(&format!("embeddings.{name}.weight"), [n, d], &why, device)?;
            Ok(Embedding {
                weight: Param::from_tensor(w),
            })
        };
        let embeddings = TextEmbeddings {
            word: embedding("word_embeddings", c.vocab_size, "vocab_size")?,
            position: embedding(
                "position_embeddings",
                c.max_position_embeddings,
                "max_position_embeddings",
            )?,
            token_type: embedding(
                "token_type_embeddings",
                c.type_vocab_size,
                "type_vocab_size",
            )?,
            norm: load_layer_norm(ckpt, "embeddings.LayerNorm", d, c.layer_norm_eps, device)?,
            dropout: Dropout {
                prob: c.hidden_dropout_prob,
            },
            position_ids,
        };

        let spec = layer_spec(c);
        let layers = (0..c.num_hidden_layers)
            .map(|i| spec.load(ckpt, &bert_layer_keys(i), device))
            .collect::<Result<Vec<_>>>()?;

        let head = match config.head {
            HeadKind::None => None,
            HeadKind::Classification { num_labels } => Some(match position_ids {
                PositionIds::Absolute => TextHead {
                    dense: load_linear(ckpt, "pooler.dense", d, d, true, device)?,
                    out: load_linear(ckpt, "classifier", d, num_labels, true, device)?,
                    dropout: Dropout {
                        prob: c.classifier_dropout.unwrap_or(c.hidden_dropout_prob),
                    },
                    style: HeadStyle::BertPooler,
                },
                PositionIds::AfterPadding { .. } => {
                    roberta::load_head(ckpt, c, num_labels, device)?
                }
            }),
        };

        Ok(Self {
            embeddings,
            layers,
            input: Site::default(),
            head,
        })
    }

    /// Runs the encoder. `attention_mask` defaults to all ones, `token_type_ids` to zeros.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Option<Tensor<B, 2, Int>>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> TextOutput<B> {
        let device = input_ids.device();
        let [batch, seq] = input_ids.dims();
        let attention_mask = attention_mask.unwrap_or_else(|| Tensor::ones([batch, seq], &device));
        let token_type_ids = token_type_ids.unwrap_or_else(|| Tensor::zeros([batch, seq], &device));
        let e = &self.embeddings;

        let words = e.word.forward(input_ids.clone());
        let (words, virtual_tokens) = self.input.prepend(words);
        let (position_ids, attention_mask, token_type_ids) = if virtual_tokens == 0 {
            let positions = match e.position_ids {
                PositionIds::Absolute => absolute_positions(batch, seq, 0, &device),
                PositionIds::AfterPadding { pad } => roberta::position_ids(input_ids, pad),
            };
            (positions, attention_mask, token_type_ids)
        } else {
            // Virtual tokens are real tokens of type 0. transformers gives sequences that come in
            // as embeddings sequential positions (RoBERTa: from pad + 1, padding included).
            let total = seq + virtual_tokens;
            let start = match e.position_ids {
                PositionIds::Absolute => 0,
                PositionIds::AfterPadding { pad } => pad as i64 + 1,
            };
            let ones = Tensor::ones([batch, virtual_tokens], &device);
            let zeros = Tensor::zeros([batch, virtual_tokens], &device);
            (
                absolute_positions(batch, total, start, &device),
                Tensor::cat(vec![ones, attention_mask], 1),
                Tensor::cat(vec![zeros, token_type_ids], 1),
            )
        };

        let x = words + e.position.forward(position_ids) + e.token_type.forward(token_type_ids);
        let embeddings = e.norm.forward(x);
        let bias = mask_bias(attention_mask.clone());
        let mut hidden = e.dropout.forward(embeddings.clone());
        for layer in &self.layers {
            hidden = layer.forward(hidden, bias.clone());
        }
        let logits = self.head.as_ref().map(|h| h.forward(hidden.clone()));
        TextOutput {
            embeddings,
            last_hidden_state: hidden,
            attention_mask,
            logits,
        }
    }
}

fn absolute_positions<B: Backend>(
    batch: usize,
    seq: usize,
    start: i64,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    Tensor::<B, 1, Int>::arange(start..start + seq as i64, device)
        .reshape([1, seq])
        .repeat_dim(0, batch)
}

pub(crate) fn layer_spec(c: &TextEncoderConfig) -> LayerSpec {
    LayerSpec {
        hidden: c.hidden_size,
        heads: c.num_attention_heads,
        ffn: c.intermediate_size,
        act: c.hidden_act,
        eps: c.layer_norm_eps,
        qkv_bias: true,
        hidden_dropout: c.hidden_dropout_prob,
        attention_dropout: c.attention_probs_dropout_prob,
        placement: NormPlacement::Post,
    }
}

/// Tensor names of BERT/RoBERTa layer `i`.
pub(crate) fn bert_layer_keys(i: usize) -> LayerKeys {
    let p = format!("encoder.layer.{i}");
    LayerKeys {
        query: format!("{p}.attention.self.query"),
        key: format!("{p}.attention.self.key"),
        value: format!("{p}.attention.self.value"),
        output: format!("{p}.attention.output.dense"),
        attention_norm: format!("{p}.attention.output.LayerNorm"),
        up: format!("{p}.intermediate.dense"),
        down: format!("{p}.output.dense"),
        ffn_norm: format!("{p}.output.LayerNorm"),
    }
}
