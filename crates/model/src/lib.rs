//! Backbones loaded from Hugging Face checkpoints (BERT, RoBERTa, ViT encoders; BART, mBART, T5
//! encoder-decoders), computing what PyTorch transformers computes, with an attachment
//! [`Site`](peftgrid_zoo::Site) at every hidden state of the unified view of
//! parameter-efficient fine-tuning, and Hugging Face-equivalent generation.
//!
//! ```text
//! folder/config.json + model.safetensors ──► load() ──► Model::{Text, Vit, Seq2Seq}
//!                                                        └─ input site, per-layer LayerSites
//! ```

pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod formats;
pub mod generate;
pub mod layers;
pub mod method;
pub mod roberta;
pub mod seq2seq;
pub mod shape;
pub mod sites;
pub mod tensors;
pub mod tokenizer;
pub mod trained;
pub mod vit;

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use peftgrid_zoo::Site;

pub use bert::{Pooling, TextEncoder, TextOutput};
pub use checkpoint::Checkpoint;
pub use config::{Architecture, EncoderDims, HeadKind, ModelConfig};
pub use error::{ModelError, Result};
pub use seq2seq::EncoderDecoder;
pub use sites::LayerSites;
pub use tokenizer::{Encoded, TextTokenizer};
pub use vit::{Vit, VitOutput};

/// Any backbone of this crate.
// One per run, built once: the size difference of the variants (and of the record enum Burn
// derives) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model<B: Backend> {
    /// BERT or RoBERTa.
    Text(TextEncoder<B>),
    Vit(Vit<B>),
    /// BART, mBART or T5 with its LM head.
    Seq2Seq(EncoderDecoder<B>),
}

/// Every site of a model and its shared modules, borrowed together.
pub struct SiteParts<'a, B: Backend> {
    pub input: &'a mut Site<B>,
    pub embedding_output: &'a mut Site<B>,
    pub shared: &'a mut peftgrid_zoo::Shared<B>,
    /// Every layer's self-attention, FFN and block sites, stack after stack.
    pub layers: Vec<&'a mut LayerSites<B>>,
    /// Decoder cross-attention sites, one per decoder layer (only their attention positions
    /// are used); empty for encoders.
    pub cross: Vec<&'a mut LayerSites<B>>,
    /// Layers per stack, in the order of `layers` (encoder, then decoder).
    pub stacks: Vec<usize>,
}

/// A classification head as [`Model::set_new_head`] makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadSpec {
    pub num_labels: usize,
    /// What a text head reads (ViT's always reads CLS).
    pub pooling: bert::Pooling,
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
    let model = build(&config, &ckpt, device)?;
    Ok(Loaded {
        unused_keys: ckpt.unused_keys(),
        config,
        model,
    })
}

/// The model `config` describes, with the weights of `ckpt` (which may be
/// [`Checkpoint::random`], for benchmarks).
pub fn build<B: Backend>(
    config: &ModelConfig,
    ckpt: &Checkpoint,
    device: &B::Device,
) -> Result<Model<B>> {
    Ok(match config.architecture {
        Architecture::Bert(_) | Architecture::Roberta(_) => {
            Model::Text(TextEncoder::load(config, ckpt, device)?)
        }
        Architecture::Vit(_) => Model::Vit(Vit::load(config, ckpt, device)?),
        Architecture::Bart(_) | Architecture::Mbart(_) | Architecture::T5(_) => {
            Model::Seq2Seq(EncoderDecoder::load(config, ckpt, device)?)
        }
    })
}

/// Named inputs, as in a transformers forward call.
#[derive(Debug, Clone, Default)]
pub struct Inputs<B: Backend> {
    pub input_ids: Option<Tensor<B, 2, Int>>,
    pub attention_mask: Option<Tensor<B, 2, Int>>,
    pub token_type_ids: Option<Tensor<B, 2, Int>>,
    pub pixel_values: Option<Tensor<B, 4>>,
    /// Encoder-decoders: the decoder's input (teacher forcing).
    pub decoder_input_ids: Option<Tensor<B, 2, Int>>,
}

/// Named outputs, under the names the parity fixtures use.
#[derive(Debug, Clone)]
pub struct Outputs<B: Backend> {
    /// Text encoders: the embedding layer's output.
    pub embeddings: Option<Tensor<B, 3>>,
    /// The last layer's output. ViT: before the final LayerNorm (see `normed`).
    /// Encoder-decoders: the decoder's output.
    pub last_hidden_state: Tensor<B, 3>,
    /// Encoder-decoders: the encoder's output.
    pub encoder_last_hidden_state: Option<Tensor<B, 3>>,
    /// ViT: the last layer's output after the final LayerNorm.
    pub normed: Option<Tensor<B, 3>>,
    /// transformers' `hidden_states`: the first layer's input, then every layer's output.
    pub hidden_states: Vec<Tensor<B, 3>>,
    /// The mask that goes with `last_hidden_state` (text encoders).
    pub attention_mask: Option<Tensor<B, 2, Int>>,
    pub logits: Option<Tensor<B, 2>>,
    /// Encoder-decoders: LM logits, `[batch, tgt, vocab]`.
    pub token_logits: Option<Tensor<B, 3>>,
}

impl<B: Backend> Outputs<B> {
    /// The outputs under their fixture names: `embeddings`, `last_hidden_state`,
    /// `last_hidden_state_normed` (ViT), `encoder_last_hidden_state`, `logits`.
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
        if let Some(t) = &self.encoder_last_hidden_state {
            put("encoder_last_hidden_state", t.to_data());
        }
        if let Some(t) = &self.logits {
            put("logits", t.to_data());
        }
        if let Some(t) = &self.token_logits {
            put("logits", t.to_data());
        }
        if !self.hidden_states.is_empty() {
            put(
                "hidden_states",
                Tensor::stack::<4>(self.hidden_states.clone(), 0).to_data(),
            );
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
                    hidden_states: out.hidden_states,
                    attention_mask: Some(out.attention_mask),
                    logits: out.logits,
                    encoder_last_hidden_state: None,
                    token_logits: None,
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
                    hidden_states: out.hidden_states,
                    attention_mask: None,
                    logits: out.logits,
                    encoder_last_hidden_state: None,
                    token_logits: None,
                })
            }
            Model::Seq2Seq(m) => {
                let missing = |name: &str, why: &str| ModelError::Input {
                    name: name.into(),
                    message: why.into(),
                };
                let ids = inputs
                    .input_ids
                    .ok_or_else(|| missing("input_ids", "an encoder-decoder needs source ids"))?;
                let decoder_ids = inputs.decoder_input_ids.ok_or_else(|| {
                    missing(
                        "decoder_input_ids",
                        "the forward pass is teacher-forced: give decoder_input_ids (or use `generate`)",
                    )
                })?;
                check_ids(&ids, "input_ids", m.vocab_size())?;
                check_ids(&decoder_ids, "decoder_input_ids", m.vocab_size())?;
                if let Some(mask) = &inputs.attention_mask {
                    if mask.dims() != ids.dims() {
                        return Err(ModelError::Input {
                            name: "attention_mask".into(),
                            message: format!(
                                "shape {:?} differs from input_ids {:?}",
                                mask.dims(),
                                ids.dims()
                            ),
                        });
                    }
                }
                if decoder_ids.dims()[0] != ids.dims()[0] {
                    return Err(ModelError::Input {
                        name: "decoder_input_ids".into(),
                        message: format!(
                            "batch {} differs from input_ids' {}",
                            decoder_ids.dims()[0],
                            ids.dims()[0]
                        ),
                    });
                }
                let out = m.forward(ids, inputs.attention_mask, decoder_ids);
                Ok(Outputs {
                    embeddings: None,
                    last_hidden_state: out.last_hidden_state,
                    normed: None,
                    hidden_states: out.encoder.hidden_states,
                    attention_mask: Some(out.encoder.attention_mask),
                    logits: None,
                    encoder_last_hidden_state: Some(out.encoder.hidden),
                    token_logits: Some(out.logits),
                })
            }
        }
    }

    /// Gives the model a new task head with `num_labels` outputs (replacing any loaded one):
    /// what fine-tuning a bare checkpoint on a new task starts from.
    /// `pooling` is what a text head reads (ViT's classifier always reads CLS).
    pub fn set_new_head(
        &mut self,
        config: &ModelConfig,
        num_labels: usize,
        pooling: bert::Pooling,
        device: &B::Device,
    ) {
        // As transformers' `_init_weights`: normal(0, initializer_range) weights, zero biases.
        let (dropout, std) = match &config.architecture {
            Architecture::Bert(c) | Architecture::Roberta(c) => (
                c.classifier_dropout.unwrap_or(c.hidden_dropout_prob),
                c.initializer_range,
            ),
            Architecture::Vit(c) => (0.0, c.initializer_range),
            _ => (0.0, 0.02),
        };
        match self {
            Model::Text(m) => m.set_new_head(num_labels, dropout, std, pooling, device),
            Model::Vit(m) => {
                let d = m.patch.weight.dims()[1];
                m.classifier = Some(bert::fresh_linear(d, num_labels, std, device));
            }
            // Generation tasks read the LM head, which stays.
            Model::Seq2Seq(_) => {}
        }
    }

    /// Tensor names of layer `i` in the transformers checkpoint (without the encoder prefix).
    pub(crate) fn layer_keys(&self, i: usize) -> layers::LayerKeys {
        match self {
            Model::Text(_) => bert::bert_layer_keys(i),
            Model::Vit(_) | Model::Seq2Seq(_) => vit::vit_layer_keys(i),
        }
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Model::Text(m) => m.layers.len(),
            Model::Vit(m) => m.layers.len(),
            Model::Seq2Seq(m) => m.encoder_layers.len() + m.decoder_layers.len(),
        }
    }

    /// (layer, position) of a transformers module path such as
    /// `encoder.layer.3.attention.self.value` (an encoder prefix like `bert.` may precede it).
    pub fn locate(&self, module: &str) -> Option<(usize, peftgrid_zoo::Position)> {
        let rest = module.split("encoder.layer.").nth(1)?;
        let layer: usize = rest.split('.').next()?.parse().ok()?;
        let keys = self.layer_keys(layer);
        let position = peftgrid_zoo::Position::ALL
            .into_iter()
            .find(|p| keys.projection(*p).is_some_and(|k| module.ends_with(k)))?;
        (layer < self.num_layers()).then_some((layer, position))
    }

    /// Folds every mergeable modification (LoRA, KronA, IA3) into the projections it modifies.
    pub fn merge(&mut self) {
        let shared = self.shared().clone();
        self.for_each_projection(|site, linear| site.merge(linear, &shared));
    }

    /// Takes merged modifications back out of the projections.
    pub fn unmerge(&mut self) {
        let shared = self.shared().clone();
        self.for_each_projection(|site, linear| site.unmerge(linear, &shared));
    }

    /// What the sites of the model share (prefix generators, PHM rules, VeRA's bases).
    pub fn shared(&self) -> &peftgrid_zoo::Shared<B> {
        match self {
            Model::Text(m) => &m.shared,
            Model::Vit(m) => &m.shared,
            Model::Seq2Seq(m) => &m.shared,
        }
    }

    /// Calls `f` with every non-empty projection site and its projection (taken out and put
    /// back), in layer order.
    pub(crate) fn for_each_projection(
        &mut self,
        mut f: impl FnMut(&mut Site<B>, burn::nn::Linear<B>) -> burn::nn::Linear<B>,
    ) {
        let layers = match self {
            Model::Text(m) => &mut m.layers,
            Model::Vit(m) => &mut m.layers,
            Model::Seq2Seq(m) => {
                for (site, linear) in m.projections_mut() {
                    if !site.is_empty() {
                        let taken = std::mem::replace(linear, placeholder(linear));
                        *linear = f(site, taken);
                    }
                }
                return;
            }
        };
        for l in layers.iter_mut() {
            let (a, s) = (&mut l.attention, &mut l.sites);
            for (site, linear) in [
                (&mut s.q, &mut a.query),
                (&mut s.k, &mut a.key),
                (&mut s.v, &mut a.value),
                (&mut s.o, &mut a.output),
                (&mut s.ffn_in, &mut l.ffn.up),
                (&mut s.ffn_out, &mut l.ffn.down),
            ] {
                if !site.is_empty() {
                    let taken = std::mem::replace(linear, placeholder(linear));
                    *linear = f(site, taken);
                }
            }
        }
    }

    /// Mutable access to every site at once, and to the shared modules.
    pub fn parts_mut(&mut self) -> SiteParts<'_, B> {
        if let Model::Seq2Seq(m) = self {
            let stacks = vec![m.encoder_layers.len(), m.decoder_layers.len()];
            let (input, embedding_output, shared) =
                (&mut m.input, &mut m.embedding_output, &mut m.shared);
            let mut layers = Vec::new();
            let mut cross = Vec::new();
            for l in m
                .encoder_layers
                .iter_mut()
                .chain(m.decoder_layers.iter_mut())
            {
                layers.push(&mut l.sites);
                if let Some(c) = l.cross.as_mut() {
                    cross.push(&mut c.sites);
                }
            }
            return SiteParts {
                input,
                embedding_output,
                shared,
                layers,
                cross,
                stacks,
            };
        }
        let (input, embedding_output, shared, layers) = match self {
            Model::Text(m) => (
                &mut m.input,
                &mut m.embedding_output,
                &mut m.shared,
                &mut m.layers,
            ),
            Model::Vit(m) => (
                &mut m.input,
                &mut m.embedding_output,
                &mut m.shared,
                &mut m.layers,
            ),
            Model::Seq2Seq(_) => unreachable!("handled above"),
        };
        SiteParts {
            input,
            embedding_output,
            shared,
            stacks: vec![layers.len()],
            layers: layers.iter_mut().map(|l| &mut l.sites).collect(),
            cross: Vec::new(),
        }
    }

    /// Every site (input, embedding output, each layer's positions, cross-attention), for
    /// passes that treat all modifications alike.
    pub fn sites_mut(&mut self) -> Vec<&mut Site<B>> {
        let parts = self.parts_mut();
        let mut sites = vec![parts.input, parts.embedding_output];
        for layer in parts.layers.into_iter().chain(parts.cross) {
            let LayerSites {
                q,
                k,
                v,
                o,
                head,
                attention,
                ffn_in,
                ffn_out,
                ffn,
                block,
            } = layer;
            sites.extend([q, k, v, o, head, attention, ffn_in, ffn_out, ffn, block]);
        }
        sites
    }

    /// Folds training-time reparameterisations into what is deployed (a prefix MLP into its
    /// keys and values) and puts every modification in its saved state: the model then
    /// matches `method.deployed()`, and computes the same.
    pub fn deploy(&mut self) {
        self.parts_mut().shared.merge_prefixes();
        for site in self.sites_mut() {
            site.mods
                .iter_mut()
                .for_each(peftgrid_zoo::Modification::deploy);
        }
    }

    /// Re-derives every modification's constants after its parameters were loaded from a file
    /// (see [`peftgrid_zoo::forms::FormModule::restore_constants`]).
    pub fn restore_constants(&mut self) {
        for site in self.sites_mut() {
            site.mods
                .iter_mut()
                .for_each(peftgrid_zoo::Modification::restore_constants);
        }
    }

    /// The task head a fine-tuning run gave the model: its outputs and what it reads (`None`
    /// for encoder-decoders, whose LM head stays, and for a model without a head).
    pub fn head_spec(&self) -> Option<HeadSpec> {
        match self {
            Model::Text(m) => m.head.as_ref().map(|h| HeadSpec {
                num_labels: h.out.weight.dims()[1],
                pooling: h.pooling,
            }),
            Model::Vit(m) => m.classifier.as_ref().map(|c| HeadSpec {
                num_labels: c.weight.dims()[1],
                pooling: bert::Pooling::Cls,
            }),
            Model::Seq2Seq(_) => None,
        }
    }

    /// Weight entries of sparse adapters that are pruned (held at zero).
    pub fn pruned_params(&self) -> usize {
        let (input, embedding_output, sites): (_, _, Vec<&LayerSites<B>>) = match self {
            Model::Text(m) => (
                &m.input,
                &m.embedding_output,
                m.layers.iter().map(|l| &l.sites).collect(),
            ),
            Model::Vit(m) => (
                &m.input,
                &m.embedding_output,
                m.layers.iter().map(|l| &l.sites).collect(),
            ),
            Model::Seq2Seq(m) => (&m.input, &m.embedding_output, m.all_sites()),
        };
        let per_site = |s: &Site<B>| s.mods.iter().map(|m| m.pruned_params()).sum::<usize>();
        per_site(input)
            + per_site(embedding_output)
            + sites
                .iter()
                .map(|l| {
                    peftgrid_zoo::Position::ALL
                        .iter()
                        .filter_map(|p| l.get(*p))
                        .map(per_site)
                        .sum::<usize>()
                })
                .sum::<usize>()
    }

    /// The per-layer sites, in layer order.
    pub fn layer_sites_mut(&mut self) -> Vec<&mut LayerSites<B>> {
        self.parts_mut().layers
    }

    /// The `Position::Input` site.
    pub fn input_site_mut(&mut self) -> &mut Site<B> {
        match self {
            Model::Text(m) => &mut m.input,
            Model::Vit(m) => &mut m.input,
            Model::Seq2Seq(m) => &mut m.input,
        }
    }
}

/// Token ids must index the vocabulary (an out-of-range id would read past the embedding).
fn check_ids<B: Backend>(ids: &Tensor<B, 2, Int>, name: &str, vocab: usize) -> Result<()> {
    let data = ids.to_data().convert::<i64>();
    let values = data.as_slice::<i64>().unwrap_or(&[]);
    if let Some(bad) = values.iter().find(|v| **v < 0 || **v as usize >= vocab) {
        return Err(ModelError::Input {
            name: name.into(),
            message: format!("token id {bad} is outside the vocabulary (0..{vocab})"),
        });
    }
    Ok(())
}

/// A cheap stand-in while a projection is moved out and back (a 1 × 1 zero weight).
fn placeholder<B: Backend>(linear: &burn::nn::Linear<B>) -> burn::nn::Linear<B> {
    let device = linear.weight.device();
    burn::nn::Linear {
        weight: burn::module::Param::from_tensor(Tensor::zeros([1, 1], &device)),
        bias: None,
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
