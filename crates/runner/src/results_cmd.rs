//! `peftgrid report`, `peftgrid merge` and `peftgrid regress`: what a sweep's results file
//! becomes (tables, charts), how shards combine, and how CI tracks scores against budget.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A results file, e.g. results/glue.parquet.
    pub results: PathBuf,
    /// Where to write the tables and charts (default reports/<sweep>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Published numbers to compare with (default: the ones shipped with peftgrid, transcribed
    /// from the papers).
    #[arg(long)]
    pub published: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Result files to combine (e.g. one per `--shard i/N`).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RegressArgs {
    /// The reference results (e.g. a committed baseline).
    #[arg(long)]
    pub baseline: PathBuf,
    /// The results to check.
    #[arg(long)]
    pub current: PathBuf,
    /// Largest allowed drop of a run's main metric, in points.
    #[arg(long, default_value_t = 0.5)]
    pub tolerance: f64,
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let stem = args
        .results
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "sweep".into());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(stem));
    let summary = match &args.published {
        Some(p) => peftgrid_results::report(&args.results, &out, Some(p))?,
        None => peftgrid_results::report_with(
            &args.results,
            &out,
            Some(&peftgrid_results::Published::builtin()),
            &peftgrid_results::ReportOptions::default(),
        )?,
    };
    println!("{summary:#?}");
    println!("wrote {}", out.display());
    Ok(())
}

pub fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let _writer = peftgrid_results::WriterLock::acquire(&args.out)?;
    let n = peftgrid_results::merge(&args.inputs, &args.out)?;
    println!("{n} rows → {}", args.out.display());
    Ok(())
}

pub fn regress(args: &RegressArgs) -> anyhow::Result<()> {
    let cmp =
        peftgrid_results::check_regressions_grouped(&args.baseline, &args.current, args.tolerance)?;
    print!("{cmp}");
    // A group that vanished is a run that no longer happens: as bad as one that broke.
    let n = cmp.regressions().len() + cmp.missing().len();
    if n > 0 {
        anyhow::bail!(
            "{n} regression(s) or missing group(s) of {} against {}",
            args.current.display(),
            args.baseline.display()
        );
    }
    println!(
        "no regressions (tolerance {} points, or the seed spread where wider)",
        args.tolerance
    );
    Ok(())
}
