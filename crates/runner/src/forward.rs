//! `peftgrid forward`: run a model folder on named input tensors and write the named outputs,
//! optionally comparing them with reference outputs (how a user checks a conversion).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::backend::Backend;
use burn::tensor::Device;
use peftgrid_model::tensors::{self, max_abs_diff, NamedTensor};
use peftgrid_model::Inputs;

use crate::backend::BackendJob;

#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// Hugging Face model folder: config.json + model.safetensors (or pytorch_model.bin).
    #[arg(long)]
    pub model: PathBuf,
    /// safetensors file with `input_ids`, `attention_mask`, `token_type_ids`,
    /// `decoder_input_ids` (encoder-decoders; int64) and/or `pixel_values` (float32).
    #[arg(long)]
    pub inputs: PathBuf,
    /// An adapter folder to load onto the model first: peftgrid's (method.json +
    /// adapter.safetensors, every method), peft's (adapter_config.json +
    /// adapter_model.safetensors: LoRA, IA3, prompt, prefix) or AdapterHub's (adapter_config.json
    /// + adapter.safetensors or pytorch_adapter.bin); the format is read from the config.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Where to write the outputs (`last_hidden_state`, `logits`, `embeddings`,
    /// `encoder_last_hidden_state`, ...).
    #[arg(long)]
    pub out: PathBuf,
    /// A safetensors file of reference outputs (e.g. a fixture's golden.safetensors): prints the
    /// max abs difference of every output it shares with ours, and fails above --tolerance.
    #[arg(long)]
    pub compare: Option<PathBuf>,
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f32,
}

/// One output's agreement with its reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub name: String,
    pub max_abs_diff: f32,
}

pub struct Forward(pub ForwardArgs);

impl BackendJob for Forward {
    type Output = Option<Vec<Agreement>>;

    fn run<B: Backend>(self, device: Device<B>) -> anyhow::Result<Self::Output> {
        let args = self.0;
        let mut loaded = peftgrid_model::load::<B>(&args.model, &device)?;
        if !loaded.unused_keys.is_empty() {
            eprintln!(
                "note: {} checkpoint tensor(s) not used by {}: {}",
                loaded.unused_keys.len(),
                loaded.config.model_type,
                loaded.unused_keys.join(", ")
            );
        }
        if let Some(dir) = &args.adapter {
            let method =
                peftgrid_model::formats::load_any(&mut loaded.model, &loaded.config, dir, &device)?;
            let (trainable, _) = peftgrid_model::method::trainable(&loaded.model, &method);
            println!(
                "adapter {}: {} ({trainable} trainable parameters)",
                dir.display(),
                method.name
            );
            for m in &method.modifications {
                println!("  + {m}");
            }
        }
        let named = tensors::read(&args.inputs)?;
        let inputs = read_inputs::<B>(&named, &device)?;
        let outputs = loaded.model.forward(inputs)?.named();
        tensors::write(&args.out, &outputs)?;
        for (name, t) in &outputs {
            println!("{name} {:?}", t.shape);
        }
        println!("wrote {}", args.out.display());

        let Some(reference) = &args.compare else {
            return Ok(None);
        };
        let reference = tensors::read(reference)?;
        let agreements = compare(&outputs, &reference);
        if agreements.is_empty() {
            anyhow::bail!(
                "{}: shares no output name with ours",
                args.compare.unwrap_or_default().display()
            );
        }
        let mut worst = 0f32;
        for a in &agreements {
            println!("{:<28} max abs diff {:.3e}", a.name, a.max_abs_diff);
            worst = worst.max(a.max_abs_diff);
        }
        if worst >= args.tolerance {
            anyhow::bail!(
                "outputs differ from the reference by {worst:e} ≥ tolerance {:e}",
                args.tolerance
            );
        }
        Ok(Some(agreements))
    }
}

/// Max abs difference for every output name both maps hold (shape mismatches count as ∞).
pub fn compare(
    ours: &BTreeMap<String, NamedTensor>,
    reference: &BTreeMap<String, NamedTensor>,
) -> Vec<Agreement> {
    ours.iter()
        .filter_map(|(name, t)| {
            let r = reference.get(name)?;
            let diff = if r.shape == t.shape {
                max_abs_diff(&t.as_f32(), &r.as_f32())
            } else {
                f32::INFINITY
            };
            Some(Agreement {
                name: name.clone(),
                max_abs_diff: diff,
            })
        })
        .collect()
}

fn read_inputs<B: Backend>(
    named: &BTreeMap<String, NamedTensor>,
    device: &Device<B>,
) -> anyhow::Result<Inputs<B>> {
    let int = |name: &str| -> anyhow::Result<_> {
        named
            .get(name)
            .map(|t| t.int::<B, 2>(name, device))
            .transpose()
            .with_context(|| format!("input `{name}`"))
    };
    Ok(Inputs {
        input_ids: int("input_ids")?,
        attention_mask: int("attention_mask")?,
        token_type_ids: int("token_type_ids")?,
        pixel_values: named
            .get("pixel_values")
            .map(|t| t.float::<B, 4>("pixel_values", device))
            .transpose()?,
        decoder_input_ids: int("decoder_input_ids")?,
    })
}
