//! Encoder backbones loaded from Hugging Face checkpoints, computing what PyTorch transformers
//! computes, with an attachment [`Site`](peftgrid_zoo::Site) at every hidden state of the unified
//! view of parameter-efficient fine-tuning.
//!
//! ```text
//! folder/config.json + model.safetensors ──► load() ──► Model::{Text, Vit}
//!                                                        └─ input site, per-layer LayerSites
//! ```

pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod layers;
pub mod roberta;
pub mod sites;
pub mod tensors;
pub mod tokenizer;
pub mod vit;

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use peftgrid_zoo::Site;

pub use bert::{TextEncoder, TextOutput};
pub use checkpoint::Checkpoint;
pub use config::{Architecture, EncoderDims, HeadKind, ModelConfig};
pub use error::{ModelError, Result};
pub use sites::LayerSites;
pub use tokenizer::{Encoded, TextTokenizer};
pub use vit::{Vit, VitOutput};

/// Any backbone of this crate.
#[derive(Module, Debug)]
pub enum Model<B: Backend> {
    /// BERT or RoBERTa.
    Text(TextEncoder<B>),
    Vit(Vit<B>),
}

/// A model with the config it was built from.
pub struct Loaded<B: Backend> {
    pub config: ModelConfig,
    pub model: Model<B>,
    /// Checkpoint tensors the model did not use (e.g. a pretraining head), for the record.
    pub unused_keys: Vec<String>,
}

/// Loads a Hugging Face model folder (`config.json` + `model.safetensors` or
/// `pytorch_model.bin`).
pub fn load<B: Backend>(dir: impl AsRef<Path>, device: &B::Device) -> Result<Loaded<B>> {
    let dir = dir.as_ref();
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(ModelError::MissingFile {
            dir: dir.to_path_buf(),
            wanted: "config.json".into(),
            hint: "Point --model at a Hugging Face model folder (config.json, model.safetensors, \
                   tokenizer.json), e.g. one downloaded from the Hugging Face Hub."
                .into(),
        });
    }
    let config = ModelConfig::from_path(&config_path)?;
    let ckpt = Checkpoint::open_dir(dir)?.with_prefix(config.base_prefix());
    let model = match config.architecture {
        Architecture::Bert(_) | Architecture::Roberta(_) => {
            Model::Text(TextEncoder::load(&config, &ckpt, device)?)
        }
        Architecture::Vit(_) => Model::Vit(Vit::load(&config, &ckpt, device)?),
    };
    Ok(Loaded {
        unused_keys: ckpt.unused_keys(),
        config,
        model,
    })
}

/// Named inputs, as in a transformers forward call.
#[derive(Debug, Clone, Default)]
pub struct Inputs<B: Backend> {
    pub input_ids: Option<Tensor<B, 2, Int>>,
    pub attention_mask: Option<Tensor<B, 2, Int>>,
    pub token_type_ids: Option<Tensor<B, 2, Int>>,
    pub pixel_values: Option<Tensor<B, 4>>,
}

/// Named outputs, under the names the parity fixtures use.
#[derive(Debug, Clone)]
pub struct Outputs<B: Backend> {
    /// Text encoders: the embedding layer's output.
    pub embeddings: Option<Tensor<B, 3>>,
    /// The last layer's output. ViT: before the final LayerNorm (see `normed`).
    pub last_hidden_state: Tensor<B, 3>,
    /// ViT: the last layer's output after the final LayerNorm.
    pub normed: Option<Tensor<B, 3>>,
    /// The mask that goes with `last_hidden_state` (text encoders).
    pub attention_mask: Option<Tensor<B, 2, Int>>,
    pub logits: Option<Tensor<B, 2>>,
}

impl<B: Backend> Outputs<B> {
    /// The outputs under their fixture names: `embeddings`, `last_hidden_state`,
    /// `last_hidden_state_normed` (ViT), `logits`.
    pub fn named(&self) -> std::collections::BTreeMap<String, tensors::NamedTensor> {
        let mut out = std::collections::BTreeMap::new();
        let mut put = |name: &str, data: TensorData| {
            out.insert(name.to_string(), tensors::NamedTensor::from_data(data));
        };
        if let Some(t) = &self.embeddings {
            put("embeddings", t.to_data());
        }
        put("last_hidden_state", self.last_hidden_state.to_data());
        if let Some(t) = &self.normed {
            put("last_hidden_state_normed", t.to_data());
        }
        if let Some(t) = &self.logits {
            put("logits", t.to_data());
        }
        out
    }
}

impl<B: Backend> Model<B> {
    /// Runs the model on named inputs; a missing required input is an error naming it.
    pub fn forward(&self, inputs: Inputs<B>) -> Result<Outputs<B>> {
        match self {
            Model::Text(m) => {
                let ids = inputs.input_ids.ok_or_else(|| ModelError::Input {
                    name: "input_ids".into(),
                    message: "a text encoder needs token ids".into(),
                })?;
                let [batch, seq] = ids.dims();
                for (name, t) in [
                    ("attention_mask", &inputs.attention_mask),
                    ("token_type_ids", &inputs.token_type_ids),
                ] {
                    if let Some(t) = t {
                        if t.dims() != [batch, seq] {
                            return Err(ModelError::Input {
                                name: name.into(),
                                message: format!(
                                    "shape {:?} differs from input_ids {:?}",
                                    t.dims(),
                                    [batch, seq]
                                ),
                            });
                        }
                    }
                }
                let out = m.forward(ids, inputs.attention_mask, inputs.token_type_ids);
                Ok(Outputs {
                    embeddings: Some(out.embeddings),
                    last_hidden_state: out.last_hidden_state,
                    normed: None,
                    attention_mask: Some(out.attention_mask),
                    logits: out.logits,
                })
            }
            Model::Vit(m) => {
                let pixels = inputs.pixel_values.ok_or_else(|| ModelError::Input {
                    name: "pixel_values".into(),
                    message: "ViT needs images".into(),
                })?;
                let [_, c, h, w] = pixels.dims();
                if c != m.channels || h != m.image_size || w != m.image_size {
                    return Err(ModelError::Input {
                        name: "pixel_values".into(),
                        message: format!(
                            "shape [_, {c}, {h}, {w}], the model expects [_, {}, {}, {}] (num_channels, image_size)",
                            m.channels, m.image_size, m.image_size
                        ),
                    });
                }
                let out = m.forward(pixels);
                Ok(Outputs {
                    embeddings: None,
                    last_hidden_state: out.encoder_output,
                    normed: Some(out.normed),
                    attention_mask: None,
                    logits: out.logits,
                })
            }
        }
    }

    /// The per-layer sites, in layer order.
    pub fn layer_sites_mut(&mut self) -> Vec<&mut LayerSites<B>> {
        let layers = match self {
            Model::Text(m) => &mut m.layers,
            Model::Vit(m) => &mut m.layers,
        };
        layers.iter_mut().map(|l| &mut l.sites).collect()
    }

    /// The `Position::Input` site.
    pub fn input_site_mut(&mut self) -> &mut Site<B> {
        match self {
            Model::Text(m) => &mut m.input,
            Model::Vit(m) => &mut m.input,
        }
    }
}

/// Mean of the token vectors under the mask, then L2-normalised (sentence-transformers'
/// mean pooling followed by `Normalize`). `hidden`: `[batch, seq, d]`, `mask`: `[batch, seq]`.
pub fn mean_pool_normalized<B: Backend>(
    hidden: Tensor<B, 3>,
    mask: Tensor<B, 2, Int>,
) -> Tensor<B, 2> {
    let [batch, seq, d] = hidden.dims();
    let mask = mask.float().reshape([batch, seq, 1]);
    let summed = (hidden * mask.clone()).sum_dim(1).reshape([batch, d]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    let mean = summed / counts;
    let norm = mean
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    mean / norm
}
