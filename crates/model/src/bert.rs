//! BERT (`BertModel`, `BertForSequenceClassification`) and the text encoder it shares with
//! RoBERTa: token + position + token-type embeddings, LayerNorm, post-LN layers.

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation;
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{Shared, Site};

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
    /// Added to every real token's position. transformers numbers tokens after cached keys and
    /// values, and peft hands prefixes to it as such a cache, so a peft prefix of length l
    /// shifts positions by l; the peft loader sets this to match.
    pub position_offset: usize,
}

/// What a text classification head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The first token, as transformers' `*ForSequenceClassification` (through BERT's pooler).
    #[default]
    Cls,
    /// The mean of the last hidden states over real tokens, as sentence-transformers pools
    /// (the natural head for sentence-embedding checkpoints such as all-MiniLM-L6-v2, whose
    /// pooler was never trained).
    Mean,
}

/// The sequence-classification head of the checkpoint's class. BERT's classifier reads the
/// encoder's (pretrained) pooler; RoBERTa's head has a dense–tanh layer of its own:
/// `out_proj(dropout(tanh(dense(dropout(h₀)))))`.
#[derive(Module, Debug)]
pub struct TextHead<B: Backend> {
    /// RoBERTa's `classifier.dense`; BERT has none.
    pub dense: Option<Linear<B>>,
    /// BERT's `classifier`, RoBERTa's `classifier.out_proj`.
    pub out: Linear<B>,
    pub dropout: Dropout,
    pub pooling: Pooling,
}

/// A BERT-style text encoder (BERT or RoBERTa) with its attachment sites.
#[derive(Module, Debug)]
pub struct TextEncoder<B: Backend> {
    pub embeddings: TextEmbeddings<B>,
    pub layers: Vec<EncoderLayer<B>>,
    /// `Position::Input`: modifications of the token embeddings (prompt tuning).
    pub input: Site<B>,
    /// `Position::Embeddings`: modifications of the embedding layer's output (AdapterHub's
    /// prompt tuning: virtual tokens after positions and LayerNorm).
    pub embedding_output: Site<B>,
    /// BERT's pooler: tanh(W h₀ + b), pretrained with next-sentence prediction.
    pub pooler: Option<Linear<B>>,
    /// Parameters several sites use (prefix generators, PHM rules).
    pub shared: Shared<B>,
    pub head: Option<TextHead<B>>,
}

/// What a text encoder computes for a batch.
#[derive(Debug, Clone)]
pub struct TextOutput<B: Backend> {
    /// Output of the embedding layer (after its LayerNorm), `[batch, seq', d]`.
    pub embeddings: Tensor<B, 3>,
    /// `[batch, seq', d]`; seq' = seq + the virtual tokens an input site prepended.
    pub last_hidden_state: Tensor<B, 3>,
    /// The input of the first layer (embedding output, prompts included) and every layer's
    /// output: transformers' `hidden_states`.
    pub hidden_states: Vec<Tensor<B, 3>>,
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
            _ => {
                return Err(ModelError::Config {
                    path: config.path.clone(),
                    field: "model_type".into(),
                    message: format!("`{}` cannot build a BERT-style encoder", config.model_type),
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
            position_offset: 0,
        };

        let spec = layer_spec(c);
        let layers = (0..c.num_hidden_layers)
            .map(|i| spec.load(ckpt, &bert_layer_keys(i), device))
            .collect::<Result<Vec<_>>>()?;

        let bert = position_ids == PositionIds::Absolute;
        let has_head = matches!(config.head, HeadKind::Classification { .. });
        // BERT's classifier needs the pooler; a bare BertModel may have been saved without it.
        let pooler = if bert && (has_head || ckpt.contains("pooler.dense.weight")) {
            Some(load_linear(ckpt, "pooler.dense", d, d, true, device)?)
        } else {
            None
        };
        let head = match config.head {
            HeadKind::None => None,
            HeadKind::Classification { num_labels } if bert => Some(TextHead {
                dense: None,
                out: load_linear(ckpt, "classifier", d, num_labels, true, device)?,
                dropout: Dropout {
                    prob: c.classifier_dropout.unwrap_or(c.hidden_dropout_prob),
                },
                pooling: Pooling::Cls,
            }),
            HeadKind::Classification { num_labels } => {
                Some(roberta::load_head(ckpt, c, num_labels, device)?)
            }
        };

        Ok(Self {
            embeddings,
            layers,
            input: Site::default(),
            pooler,
            embedding_output: Site::default(),
            shared: Shared::default(),
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
                PositionIds::Absolute => {
                    absolute_positions(batch, seq, e.position_offset as i64, &device)
                }
                PositionIds::AfterPadding { pad } => {
                    roberta::position_ids(input_ids, pad, e.position_offset)
                }
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
        let (hidden, prompted) = self
            .embedding_output
            .prepend(e.dropout.forward(embeddings.clone()));
        let attention_mask = if prompted == 0 {
            attention_mask
        } else {
            // Virtual tokens at the embedding output are visible to every query.
            let ones = Tensor::ones([batch, prompted], &device);
            Tensor::cat(vec![ones, attention_mask], 1)
        };
        let bias = mask_bias(attention_mask.clone());
        let mut hidden_states = vec![hidden];
        for layer in &self.layers {
            // VPT-deep: a text encoder's prompt tokens come first.
            let input = layer.sites.block.replace_prompts(
                hidden_states[hidden_states.len() - 1].clone(),
                0,
                &self.shared,
            );
            let next = layer.forward(input, bias.clone(), &self.shared);
            hidden_states.push(next);
        }
        let hidden = hidden_states[hidden_states.len() - 1].clone();
        let logits = self
            .head
            .as_ref()
            .map(|h| self.classify(h, hidden.clone(), attention_mask.clone()));
        TextOutput {
            embeddings,
            last_hidden_state: hidden,
            attention_mask,
            hidden_states,
            logits,
        }
    }
}

/// A `Linear(d_in → d_out)` initialised as transformers initialises a new head:
/// weights N(0, 0.02), bias 0.
pub(crate) fn fresh_linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: burn::module::Param::from_tensor(peftgrid_zoo::init::random(
            [d_in, d_out],
            burn::tensor::Distribution::Normal(0.0, std),
            device,
        )),
        bias: Some(burn::module::Param::from_tensor(Tensor::zeros(
            [d_out],
            device,
        ))),
    }
}

impl<B: Backend> TextEncoder<B> {
    /// Replaces the task head with a new one for `num_labels` outputs, as the checkpoint's
    /// `*ForSequenceClassification` class would create it: BERT's classifier on the pooler
    /// (CLS itself if the checkpoint has no pooler), RoBERTa's dense–tanh–out_proj.
    pub fn set_new_head(
        &mut self,
        num_labels: usize,
        dropout: f64,
        init_std: f64,
        pooling: Pooling,
        device: &B::Device,
    ) {
        let d = self.embeddings.word.weight.dims()[1];
        let roberta = matches!(
            self.embeddings.position_ids,
            PositionIds::AfterPadding { .. }
        );
        self.head = Some(TextHead {
            dense: roberta.then(|| fresh_linear(d, d, init_std, device)),
            out: fresh_linear(d, num_labels, init_std, device),
            dropout: Dropout { prob: dropout },
            pooling,
        });
    }

    fn classify(
        &self,
        head: &TextHead<B>,
        hidden: Tensor<B, 3>,
        mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 2> {
        let [batch, seq, d] = hidden.dims();
        if head.pooling == Pooling::Mean {
            // sentence-transformers' pooling: the mean over real tokens, padding excluded.
            let m = mask.float().reshape([batch, seq, 1]);
            let summed = (hidden * m.clone()).sum_dim(1).reshape([batch, d]);
            let count = m.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
            return head.out.forward(head.dropout.forward(summed / count));
        }
        let first = hidden.slice([0..batch, 0..1]).reshape([batch, d]);
        let features = match (&head.dense, &self.pooler) {
            (Some(dense), _) => activation::tanh(dense.forward(head.dropout.forward(first))),
            (None, Some(pooler)) => activation::tanh(pooler.forward(first)),
            (None, None) => first,
        };
        head.out.forward(head.dropout.forward(features))
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
