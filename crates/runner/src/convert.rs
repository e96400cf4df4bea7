//! `peftgrid convert`: read an adapter (peftgrid's, peft's or AdapterHub's) onto its base model
//! and write it in another format, so a method trained in one ecosystem can be used in another.

use std::path::PathBuf;

use burn::tensor::backend::Backend;
use burn::tensor::Device;

use crate::backend::BackendJob;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdapterFormat {
    /// peftgrid's method.json + adapter.safetensors (every method).
    Native,
    /// peft's adapter_config.json + adapter_model.safetensors (LoRA with DoRA/rsLoRA, IA3, prompt,
    /// prefix, LoHa, LoKr, VeRA, OFT, BOFT, HRA, MiSS, FourierFT, AdaLoRA, LN tuning).
    Peft,
    /// AdapterHub's adapter_config.json + adapter.safetensors.
    Adapterhub,
}

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The base model folder (config.json + model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// The adapter folder to read (its format is told from method.json or adapter_config.json).
    #[arg(long)]
    pub adapter: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub to: AdapterFormat,
    /// The adapter's name inside AdapterHub keys (default: the input folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the converted adapter.
    #[arg(long)]
    pub out: PathBuf,
}

pub struct Convert(pub ConvertArgs);

impl BackendJob for Convert {
    type Output = ();

    fn run<B: Backend>(self, device: Device<B>) -> anyhow::Result<()> {
        let args = self.0;
        let mut loaded = peftgrid_model::load::<B>(&args.model, &device)?;
        let method = peftgrid_model::formats::load_any(
            &mut loaded.model,
            &loaded.config,
            &args.adapter,
            &device,
        )?;
        match args.to {
            AdapterFormat::Native => {
                peftgrid_model::formats::native::save(
                    &loaded.model,
                    &loaded.config,
                    &method,
                    &args.out,
                )?;
            }
            AdapterFormat::Peft => peftgrid_model::formats::peft::save_adapter(
                &loaded.model,
                &loaded.config,
                &method,
                &args.out,
            )?,
            AdapterFormat::Adapterhub => {
                let name = args.name.clone().unwrap_or_else(|| method.name.clone());
                peftgrid_model::formats::adapterhub::save_adapter(
                    &loaded.model,
                    &loaded.config,
                    &method,
                    &name,
                    &args.out,
                )?
            }
        }
        println!("{} → {}", method.name, args.out.display());
        for m in &method.modifications {
            println!("  + {m}");
        }
        Ok(())
    }
}
