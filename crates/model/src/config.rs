//! `config.json` of a Hugging Face checkpoint, read into typed configs.
//!
//! Only the fields the forward pass needs are read; every other field is ignored, as transformers
//! does. A missing or mistyped field is an error naming the file and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use peftgrid_zoo::BackboneShape;

use crate::error::{ModelError, Result};

/// The activation of the FFN, as `hidden_act` names it in transformers' `ACT2FN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Exact GELU, x·Φ(x) with the error function.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    #[serde(rename = "gelu_tanh")]
    GeluTanh,
    #[serde(rename = "relu")]
    Relu,
    #[serde(rename = "silu", alias = "swish")]
    Silu,
    #[serde(rename = "tanh")]
    Tanh,
}

fn default_gelu() -> Activation {
    Activation::Gelu
}
fn default_ln_eps() -> f64 {
    1e-12
}
fn default_type_vocab() -> usize {
    2
}
fn default_absolute() -> String {
    "absolute".into()
}
fn default_channels() -> usize {
    3
}
fn default_true() -> bool {
    true
}
/// transformers' default `initializer_range` (BertConfig, ViTConfig).
fn default_init_range() -> f64 {
    0.02
}

/// BERT and RoBERTa (`BertConfig`, `RobertaConfig` in transformers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextEncoderConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_gelu")]
    pub hidden_act: Activation,
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// Std of the normal a new head's weights are drawn from (`_init_weights`).
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    /// Only `absolute` is implemented; relative position embeddings are refused, not ignored.
    #[serde(default = "default_absolute")]
    pub position_embedding_type: String,
}

/// ViT (`ViTConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_gelu")]
    pub hidden_act: Activation,
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    pub image_size: usize,
    pub patch_size: usize,
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    #[serde(default = "default_true")]
    pub qkv_bias: bool,
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
    /// Std of a new head's weights (transformers: a truncated normal cut at ±2, which at this
    /// std is a normal).
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
}

fn default_bart_dropout() -> f64 {
    0.1
}
fn default_pad_one() -> usize {
    1
}
fn default_two() -> usize {
    2
}

/// One token id or several (`eos_token_id` may be a list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(usize),
    Many(Vec<usize>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<usize> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// BART and mBART (`BartConfig`, `MBartConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BartConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_gelu")]
    pub activation_function: Activation,
    /// Token embeddings times sqrt(d_model) (mBART, some BARTs).
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "default_bart_dropout")]
    pub dropout: f64,
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default)]
    pub activation_dropout: f64,
    #[serde(default = "default_pad_one")]
    pub pad_token_id: usize,
    #[serde(default = "default_two")]
    pub decoder_start_token_id: usize,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
}

fn default_t5_buckets() -> usize {
    32
}
fn default_t5_distance() -> usize {
    128
}
fn default_t5_eps() -> f64 {
    1e-6
}
fn default_relu_proj() -> String {
    "relu".into()
}

/// T5 and T5 v1.1 (`T5Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T5Config {
    pub vocab_size: usize,
    pub d_model: usize,
    /// Width of one head; heads × d_kv may differ from d_model.
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_layers: usize,
    #[serde(default)]
    pub num_decoder_layers: Option<usize>,
    pub num_heads: usize,
    #[serde(default = "default_t5_buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_t5_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "default_bart_dropout")]
    pub dropout_rate: f64,
    #[serde(default = "default_t5_eps")]
    pub layer_norm_epsilon: f64,
    /// `relu`, `gelu`, or `gated-<act>` (T5 v1.1: `gated-gelu`, which means the tanh GELU).
    #[serde(default = "default_relu_proj")]
    pub feed_forward_proj: String,
    /// Original T5 ties the LM head to `shared` and rescales the decoder output by
    /// d_model^-0.5; v1.1 checkpoints (saved by transformers 4) say `false`, store `lm_head`
    /// and do not rescale. An `lm_head.weight` in the checkpoint is always used.
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
    /// Written by transformers 5 beside `tie_word_embeddings` (which it then always sets true).
    #[serde(default)]
    pub scale_decoder_outputs: Option<bool>,
    #[serde(default)]
    pub pad_token_id: usize,
    #[serde(default)]
    pub decoder_start_token_id: usize,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
}

impl T5Config {
    pub fn decoder_layers(&self) -> usize {
        self.num_decoder_layers.unwrap_or(self.num_layers)
    }

    /// (gated, activation) of the FFN from `feed_forward_proj`, as `T5Config.__post_init__`.
    pub fn ffn_activation(&self) -> std::result::Result<(bool, Activation), String> {
        let parts: Vec<&str> = self.feed_forward_proj.split('-').collect();
        let (gated, name) = match parts.as_slice() {
            [act] => (false, *act),
            ["gated", act] => (true, *act),
            _ => {
                return Err(format!(
                    "`{}` is not `ACT` or `gated-ACT`",
                    self.feed_forward_proj
                ))
            }
        };
        // transformers maps `gated-gelu` to the tanh approximation (`gelu_new`).
        let name = if self.feed_forward_proj == "gated-gelu" {
            "gelu_new"
        } else {
            name
        };
        let act: Activation = serde_json::from_value(serde_json::Value::String(name.into()))
            .map_err(|_| format!("activation `{name}` is not supported"))?;
        Ok((gated, act))
    }

    /// Whether the decoder output is scaled by d_model^-0.5 before the LM head.
    pub fn scale_decoder_outputs(&self) -> bool {
        self.scale_decoder_outputs
            .unwrap_or(self.tie_word_embeddings != Some(false))
    }
}

/// The architecture-specific part of a config.
#[derive(Debug, Clone, PartialEq)]
pub enum Architecture {
    Bert(TextEncoderConfig),
    Roberta(TextEncoderConfig),
    Vit(VitConfig),
    Bart(BartConfig),
    /// mBART: BART with pre-LN layers and a final LayerNorm in each stack.
    Mbart(BartConfig),
    T5(T5Config),
}

impl Architecture {
    /// Encoder-decoders (BART, mBART, T5).
    pub fn is_seq2seq(&self) -> bool {
        matches!(
            self,
            Architecture::Bart(_) | Architecture::Mbart(_) | Architecture::T5(_)
        )
    }
}

/// Which model class the checkpoint was saved from: a bare encoder or one with a classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `BertModel`, `RobertaModel`, `ViTModel`: no task head in the checkpoint.
    None,
    /// `*ForSequenceClassification` / `ViTForImageClassification` with this many labels.
    Classification { num_labels: usize },
}

/// A parsed `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub path: PathBuf,
    pub model_type: String,
    pub architecture: Architecture,
    pub head: HeadKind,
    /// Class names by index, from `id2label`.
    pub labels: Vec<String>,
}

/// Bounds on a config's sizes, far above every published checkpoint's (widths of tens of
/// thousands, vocabularies of a few hundred thousand, depths of a few hundred) and low enough
/// that the parameter counts computed from them (vocab × width, layers × width × FFN, patches ×
/// width, ...) fit in a `usize` and every loop over layers or labels ends. A size past them is a
/// mistake, refused when the file is read instead of overflowing, looping or allocating later.
pub const MAX_WIDTH: usize = 1 << 17;
/// Vocabularies, position tables, bucket counts and label sets.
pub const MAX_VOCAB: usize = 1 << 22;
/// Layers of a stack, and image channels.
pub const MAX_LAYERS: usize = 1 << 10;

/// The model types this crate implements.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert", "roberta", "vit", "bart", "mbart", "t5"];

#[derive(Deserialize)]
struct Common {
    model_type: String,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    id2label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    num_labels: Option<usize>,
}

impl ModelConfig {
    /// Reads `config.json` (a file, or a folder that contains one).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path = path.join("config.json");
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_json(&text, &path)
    }

    /// Parses the text of a `config.json`; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let common: Common = parse(text, path)?;
        let architecture = match common.model_type.as_str() {
            "bert" => Architecture::Bert(parse(text, path)?),
            "roberta" => Architecture::Roberta(parse(text, path)?),
            "vit" => Architecture::Vit(parse(text, path)?),
            "bart" => Architecture::Bart(parse(text, path)?),
            "mbart" => Architecture::Mbart(parse(text, path)?),
            "t5" => Architecture::T5(parse(text, path)?),
            other => {
                return Err(ModelError::UnsupportedModelType {
                    path: path.to_path_buf(),
                    model_type: other.to_string(),
                    supported: SUPPORTED_MODEL_TYPES.join(", "),
                })
            }
        };

        let labels = labels(&common, path)?;
        let class = common
            .architectures
            .as_ref()
            .and_then(|a| a.first())
            .map(String::as_str)
            .unwrap_or("");
        let head = if class.ends_with("ForSequenceClassification")
            || class.ends_with("ForImageClassification")
        {
            HeadKind::Classification {
                num_labels: labels.len(),
            }
        } else {
            HeadKind::None
        };

        let config = Self {
            path: path.to_path_buf(),
            model_type: common.model_type,
            architecture,
            head,
            labels,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let err = |field: &str, message: String| ModelError::Config {
            path: self.path.clone(),
            field: field.to_string(),
            message,
        };
        for (field, value, max) in self.sizes() {
            if value > max {
                return Err(err(
                    field,
                    format!("{value} is larger than any model this crate reads (at most {max})"),
                ));
            }
        }
        let (hidden, heads, layers, ffn) = match &self.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => (
                c.hidden_size,
                c.num_attention_heads,
                c.num_hidden_layers,
                c.intermediate_size,
            ),
            Architecture::Bart(c) | Architecture::Mbart(c) => {
                for (field, heads) in [
                    ("encoder_attention_heads", c.encoder_attention_heads),
                    ("decoder_attention_heads", c.decoder_attention_heads),
                ] {
                    if heads == 0 || c.d_model % heads != 0 {
                        return Err(err(
                            field,
                            format!("{heads} does not divide d_model {}", c.d_model),
                        ));
                    }
                }
                if c.decoder_layers == 0 || c.decoder_ffn_dim == 0 {
                    return Err(err(
                        "decoder_layers",
                        "the decoder needs at least one layer and a non-zero decoder_ffn_dim"
                            .into(),
                    ));
                }
                (
                    c.d_model,
                    c.encoder_attention_heads,
                    c.encoder_layers,
                    c.encoder_ffn_dim,
                )
            }
            Architecture::T5(c) => {
                if let Err(message) = c.ffn_activation() {
                    return Err(err("feed_forward_proj", message));
                }
                if c.decoder_layers() == 0 {
                    return Err(err("num_decoder_layers", "must be at least 1".into()));
                }
                if c.num_heads == 0 || c.d_kv == 0 {
                    return Err(err(
                        "num_heads",
                        "num_heads and d_kv must be at least 1".into(),
                    ));
                }
                if c.relative_attention_num_buckets < 4 {
                    return Err(err(
                        "relative_attention_num_buckets",
                        "must be at least 4".into(),
                    ));
                }
                // heads × d_kv need not equal d_model in T5: check against itself.
                (c.num_heads * c.d_kv, c.num_heads, c.num_layers, c.d_ff)
            }
            Architecture::Vit(c) => {
                if c.patch_size == 0 || c.image_size % c.patch_size != 0 {
                    return Err(err(
                        "patch_size",
                        format!(
                            "{} does not divide image_size {}",
                            c.patch_size, c.image_size
                        ),
                    ));
                }
                (
                    c.hidden_size,
                    c.num_attention_heads,
                    c.num_hidden_layers,
                    c.intermediate_size,
                )
            }
        };
        if heads == 0 || hidden % heads != 0 {
            return Err(err(
                "num_attention_heads",
                format!("{heads} does not divide hidden_size {hidden}"),
            ));
        }
        if layers == 0 {
            return Err(err("num_hidden_layers", "must be at least 1".into()));
        }
        if ffn == 0 {
            return Err(err("intermediate_size", "must be at least 1".into()));
        }
        if let Architecture::Bert(c) | Architecture::Roberta(c) = &self.architecture {
            if c.position_embedding_type != "absolute" {
                return Err(err(
                    "position_embedding_type",
                    format!(
                        "`{}` is not supported (only `absolute`)",
                        c.position_embedding_type
                    ),
                ));
            }
        }
        let dropouts: Vec<(&str, f64)> = match &self.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => vec![
                ("hidden_dropout_prob", c.hidden_dropout_prob),
                (
                    "attention_probs_dropout_prob",
                    c.attention_probs_dropout_prob,
                ),
                ("classifier_dropout", c.classifier_dropout.unwrap_or(0.0)),
            ],
            Architecture::Vit(c) => vec![
                ("hidden_dropout_prob", c.hidden_dropout_prob),
                (
                    "attention_probs_dropout_prob",
                    c.attention_probs_dropout_prob,
                ),
            ],
            Architecture::Bart(c) | Architecture::Mbart(c) => vec![
                ("dropout", c.dropout),
                ("attention_dropout", c.attention_dropout),
                ("activation_dropout", c.activation_dropout),
            ],
            Architecture::T5(c) => vec![("dropout_rate", c.dropout_rate)],
        };
        for (field, p) in dropouts {
            if !(0.0..=1.0).contains(&p) {
                return Err(err(field, format!("{p} is not a probability")));
            }
        }
        let initializer_range = match &self.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => Some(c.initializer_range),
            Architecture::Vit(c) => Some(c.initializer_range),
            _ => None,
        };
        if let Some(std) = initializer_range.filter(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err(err(
                "initializer_range",
                format!("{std} is not a standard deviation"),
            ));
        }
        if let Architecture::Roberta(c) = &self.architecture {
            if c.pad_token_id.is_none() {
                return Err(err(
                    "pad_token_id",
                    "RoBERTa needs it: position ids start at pad_token_id + 1".into(),
                ));
            }
        }
        Ok(())
    }

    /// Every size and id of the config with its bound (see [`MAX_WIDTH`]); ids are bounded by
    /// the vocabulary they index.
    fn sizes(&self) -> Vec<(&'static str, usize, usize)> {
        let ids = |vocab: usize, ids: &[(&'static str, Option<usize>)]| {
            ids.iter()
                .filter_map(|&(f, id)| id.map(|id| (f, id, vocab.saturating_sub(1))))
                .collect::<Vec<_>>()
        };
        // An encoder-decoder's special ids (the largest of several eos ids).
        let decoder_ids = |vocab: usize, pad: usize, start: usize, eos: &Option<TokenIds>| {
            let eos = eos.as_ref().and_then(|e| e.to_vec().into_iter().max());
            ids(
                vocab,
                &[
                    ("pad_token_id", Some(pad)),
                    ("decoder_start_token_id", Some(start)),
                    ("eos_token_id", eos),
                ],
            )
        };
        let mut sizes = match &self.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => {
                let mut v = vec![
                    ("vocab_size", c.vocab_size, MAX_VOCAB),
                    ("hidden_size", c.hidden_size, MAX_WIDTH),
                    ("num_hidden_layers", c.num_hidden_layers, MAX_LAYERS),
                    ("num_attention_heads", c.num_attention_heads, MAX_WIDTH),
                    ("intermediate_size", c.intermediate_size, MAX_WIDTH),
                    (
                        "max_position_embeddings",
                        c.max_position_embeddings,
                        MAX_VOCAB,
                    ),
                    ("type_vocab_size", c.type_vocab_size, MAX_VOCAB),
                ];
                v.extend(ids(c.vocab_size, &[("pad_token_id", c.pad_token_id)]));
                v
            }
            Architecture::Vit(c) => vec![
                ("hidden_size", c.hidden_size, MAX_WIDTH),
                ("num_hidden_layers", c.num_hidden_layers, MAX_LAYERS),
                ("num_attention_heads", c.num_attention_heads, MAX_WIDTH),
                ("intermediate_size", c.intermediate_size, MAX_WIDTH),
                ("image_size", c.image_size, MAX_WIDTH),
                ("patch_size", c.patch_size, MAX_WIDTH),
                ("num_channels", c.num_channels, MAX_LAYERS),
            ],
            Architecture::Bart(c) | Architecture::Mbart(c) => {
                let mut v = vec![
                    ("vocab_size", c.vocab_size, MAX_VOCAB),
                    ("d_model", c.d_model, MAX_WIDTH),
                    ("encoder_layers", c.encoder_layers, MAX_LAYERS),
                    ("decoder_layers", c.decoder_layers, MAX_LAYERS),
                    (
                        "encoder_attention_heads",
                        c.encoder_attention_heads,
                        MAX_WIDTH,
                    ),
                    (
                        "decoder_attention_heads",
                        c.decoder_attention_heads,
                        MAX_WIDTH,
                    ),
                    ("encoder_ffn_dim", c.encoder_ffn_dim, MAX_WIDTH),
                    ("decoder_ffn_dim", c.decoder_ffn_dim, MAX_WIDTH),
                    (
                        "max_position_embeddings",
                        c.max_position_embeddings,
                        MAX_VOCAB,
                    ),
                ];
                v.extend(decoder_ids(
                    c.vocab_size,
                    c.pad_token_id,
                    c.decoder_start_token_id,
                    &c.eos_token_id,
                ));
                v
            }
            Architecture::T5(c) => {
                let mut v = vec![
                    ("vocab_size", c.vocab_size, MAX_VOCAB),
                    ("d_model", c.d_model, MAX_WIDTH),
                    ("d_kv", c.d_kv, MAX_WIDTH),
                    ("d_ff", c.d_ff, MAX_WIDTH),
                    ("num_layers", c.num_layers, MAX_LAYERS),
                    ("num_decoder_layers", c.decoder_layers(), MAX_LAYERS),
                    ("num_heads", c.num_heads, MAX_WIDTH),
                    (
                        "relative_attention_num_buckets",
                        c.relative_attention_num_buckets,
                        MAX_VOCAB,
                    ),
                    (
                        "relative_attention_max_distance",
                        c.relative_attention_max_distance,
                        MAX_VOCAB,
                    ),
                ];
                v.extend(decoder_ids(
                    c.vocab_size,
                    c.pad_token_id,
                    c.decoder_start_token_id,
                    &c.eos_token_id,
                ));
                v
            }
        };
        sizes.push(("num_labels", self.labels.len(), MAX_VOCAB));
        sizes
    }

    /// The encoder's dimensions, which is all that parameter accounting needs.
    pub fn dims(&self) -> EncoderDims {
        match &self.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => EncoderDims {
                hidden: c.hidden_size,
                heads: c.num_attention_heads,
                layers: c.num_hidden_layers,
                ffn: c.intermediate_size,
            },
            Architecture::Vit(c) => EncoderDims {
                hidden: c.hidden_size,
                heads: c.num_attention_heads,
                layers: c.num_hidden_layers,
                ffn: c.intermediate_size,
            },
            Architecture::Bart(c) | Architecture::Mbart(c) => EncoderDims {
                hidden: c.d_model,
                heads: c.encoder_attention_heads,
                layers: c.encoder_layers,
                ffn: c.encoder_ffn_dim,
            },
            Architecture::T5(c) => EncoderDims {
                hidden: c.d_model,
                heads: c.num_heads,
                layers: c.num_layers,
                ffn: c.d_ff,
            },
        }
    }

    /// The key prefix transformers puts before the encoder's tensors in `*For*` classes.
    pub fn base_prefix(&self) -> &'static str {
        match self.architecture {
            Architecture::Bert(_) => "bert",
            Architecture::Roberta(_) => "roberta",
            Architecture::Vit(_) => "vit",
            Architecture::Bart(_) | Architecture::Mbart(_) => "model",
            // T5ForConditionalGeneration keeps `shared`, `encoder`, `decoder` at the top.
            Architecture::T5(_) => "",
        }
    }

    /// Widths and parameter counts for accounting, from this config alone (nothing is
    /// allocated). The pretrained count is that of transformers' base class (`BertModel`,
    /// `RobertaModel` and `ViTModel` with their pooler, `BartModel`, `MBartModel`, `T5Model`).
    pub fn shape(&self) -> BackboneShape {
        let labels = match self.head {
            HeadKind::Classification { num_labels } => num_labels,
            HeadKind::None => self.labels.len(),
        };
        crate::shape::backbone_shape(&self.architecture, labels, self.head == HeadKind::None)
    }
}

/// Sizes of an encoder stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderDims {
    pub hidden: usize,
    pub heads: usize,
    pub layers: usize,
    pub ffn: usize,
}

impl EncoderDims {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

fn labels(common: &Common, path: &Path) -> Result<Vec<String>> {
    if let Some(map) = &common.id2label {
        let mut labels = vec![None; map.len()];
        for (id, name) in map {
            let index: usize =
                id.parse()
                    .ok()
                    .filter(|i| *i < map.len())
                    .ok_or_else(|| ModelError::Config {
                        path: path.to_path_buf(),
                        field: format!("id2label.{id}"),
                        message: format!("ids must be 0..{} without gaps", map.len()),
                    })?;
            labels[index] = Some(name.clone());
        }
        return Ok(labels.into_iter().flatten().collect());
    }
    // transformers' default when neither is given is two labels.
    let n = common.num_labels.unwrap_or(2);
    if n > MAX_VOCAB {
        return Err(ModelError::Config {
            path: path.to_path_buf(),
            field: "num_labels".into(),
            message: format!("{n} is larger than any model this crate reads (at most {MAX_VOCAB})"),
        });
    }
    Ok((0..n).map(|i| format!("LABEL_{i}")).collect())
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde reports a missing field at the parent path; pull the name out of the message.
        let field = match message.split('`').nth(1) {
            Some(name) if message.starts_with("missing field") => name.to_string(),
            _ => field,
        };
        ModelError::Config {
            path: path.to_path_buf(),
            field,
            message,
        }
    })
}
