//! `peftgrid data check`: what a data folder holds (splits, rows against the public counts,
//! labels, token lengths) and what is missing, before a sweep depends on it.

use std::path::PathBuf;

use peftgrid_data::check::{report, Dataset};

#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Report the splits found for a data set, their rows, labels and token lengths, and what is
    /// missing with where to get it.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// glue/<task> (or just the task: sst2, mnli, ...), xsum, wmt16, cifar100, fgvc/<set>.
    pub dataset: String,
    /// The data folder; default `datasets/glue`, `datasets/xsum`, `datasets/wmt16`,
    /// `datasets/cifar100` or `datasets/fgvc/<set>`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A tokenizer.json for token-length percentiles (e.g. the backbone's).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Exit with an error when a split is missing or unreadable.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(command: &DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Check(args) => {
            let dataset: Dataset = args.dataset.parse()?;
            let dir = args
                .dir
                .clone()
                .unwrap_or_else(|| crate::experiment::default_data_dir(dataset));
            let rep = report(&dir, dataset, args.tokenizer.as_deref());
            println!("{rep}");
            if args.strict && !rep.is_complete() {
                anyhow::bail!("{dataset} in {} is incomplete (see above)", dir.display());
            }
            Ok(())
        }
    }
}
