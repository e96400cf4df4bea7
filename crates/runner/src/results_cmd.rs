//! `peftgrid report`, `peftgrid merge`, `peftgrid regress` and `peftgrid findings`: what a
//! sweep's results file becomes (tables, charts, findings tested), how shards combine, and how CI
//! tracks scores against budget.

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
pub struct FindingsArgs {
    /// A results file, e.g. results/he-findings-sample.parquet.
    pub results: PathBuf,
    /// A findings TOML file (default: He et al.'s and UniPELT's, shipped with peftgrid; the
    /// format is in crates/results/findings/he-unipelt.toml).
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// Where to write findings.md and findings.svg (default reports/<sweep>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
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

/// `--out`, or `reports/<stem of the results file>/`.
fn out_dir(results: &std::path::Path, out: &Option<PathBuf>) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "sweep".into());
    out.clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(stem))
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let out = out_dir(&args.results, &args.out);
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

/// Tests the findings on a results file: prints the table of verdicts, writes findings.md and
/// findings.svg.
pub fn findings(args: &FindingsArgs) -> anyhow::Result<()> {
    let table = match &args.findings {
        Some(p) => peftgrid_results::FindingsTable::from_path(p)?,
        None => peftgrid_results::FindingsTable::default_table(),
    };
    if !args.results.exists() {
        anyhow::bail!("{}: no such results file", args.results.display());
    }
    let rows = peftgrid_results::read_rows(&args.results)?;
    let out = out_dir(&args.results, &args.out);
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let report = peftgrid_results::write_findings(&rows, &table, &out)?;
    print!("{}", peftgrid_results::findings_summary(&report.results));
    println!(
        "{} of {} findings covered by {} ({} rows); wrote {}",
        report.covered(),
        report.results.len(),
        args.results.display(),
        rows.len(),
        report
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
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
