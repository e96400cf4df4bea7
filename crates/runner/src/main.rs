//! The `peftgrid` command line.

mod backend;
mod embed;
mod forward;

use clap::{Parser, Subcommand};

use backend::{run_on, BackendKind};

#[derive(Debug, Parser)]
#[command(
    name = "peftgrid",
    version,
    about = "Parameter-efficient fine-tuning, the unified design space, on Burn"
)]
struct Cli {
    /// Where tensors live and kernels run.
    #[arg(long, value_enum, default_value_t = BackendKind::Ndarray, global = true)]
    backend: BackendKind,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a Hugging Face model folder on named input tensors and write the named outputs.
    Forward(forward::ForwardArgs),
    /// Mean-pooled, L2-normalised sentence embeddings and their pairwise cosine similarities.
    Embed(embed::EmbedArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Forward(args) => {
            run_on(cli.backend, forward::Forward(args))?;
        }
        Command::Embed(args) => {
            let texts = args.texts.clone();
            let full = args.full;
            run_on(cli.backend, embed::Embed(args))?.print(&texts, full);
        }
    }
    Ok(())
}
