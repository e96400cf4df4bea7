//! The `peftgrid` command line.

use clap::{Parser, Subcommand};

/// mimalloc keeps freed tensor buffers for reuse instead of returning them to the OS between
/// steps (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use peftgrid_runner::backend::{self, run_on, BackendKind};
use peftgrid_runner::{
    bench, compare_torch, convert, data, embed, forward, generate, methods, results_cmd, score,
    slurm, sweep, train,
};

#[derive(Debug, Parser)]
#[command(
    name = "peftgrid",
    version,
    about = "Parameter-efficient fine-tuning, the unified design space, on Burn"
)]
struct Cli {
    /// Where tensors live and kernels run.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex, global = true)]
    backend: BackendKind,
    /// CPU threads for the CPU backends (default: every core, or RAYON_NUM_THREADS).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Where dropout masks are drawn: `auto` = the host stream on CPUs (the same masks on
    /// every backend), the backend's generator on GPUs.
    #[arg(long, value_enum, default_value_t = backend::Masks::Auto, global = true)]
    dropout_masks: backend::Masks,
    /// Threads a training batch is split over (default: --threads on CPU backends, 1 on GPUs).
    #[arg(long, global = true)]
    shards: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a Hugging Face model folder on named input tensors and write the named outputs.
    Forward(forward::ForwardArgs),
    /// Decode with an encoder-decoder (greedy or beam search, as transformers' generate), from
    /// token ids or text.
    Generate(Box<generate::GenerateArgs>),
    /// Decoding throughput (tokens/s) of a BART/mBART/T5 config's size with random weights,
    /// greedy and beam search, with and without the key/value cache.
    BenchGenerate(generate::BenchGenerateArgs),
    /// Train and inference throughput (samples/s) and peak memory of methods on a backbone
    /// config's size with random weights, into results/bench.parquet and reports/bench/.
    Bench(bench::BenchArgs),
    /// One method of `bench`, in its own process (prints its row as JSON).
    #[command(hide = true)]
    BenchOne(bench::BenchOneArgs),
    /// peftgrid ÷ PyTorch: `bench` rows beside `tools/bench_torch.py`'s.
    BenchCompare(bench::BenchCompareArgs),
    /// A sweep's dev scores beside `tools/train_torch.py glue`'s (mean ± spread over seeds).
    CompareTorch(compare_torch::CompareTorchArgs),
    /// Mean-pooled, L2-normalised sentence embeddings and their pairwise cosine similarities.
    Embed(embed::EmbedArgs),
    /// Convert an adapter between peft's and AdapterHub's formats.
    Convert(convert::ConvertArgs),
    /// Train every run of an experiment grid that is not in results/<sweep>.parquet yet.
    Sweep(sweep::SweepArgs),
    /// Run a sweep on a Slurm cluster: an sbatch array (one `sweep --shard i/N` per task),
    /// a dependent merge + report job, and the script that submits both.
    Slurm(slurm::SlurmArgs),
    /// Paper-style tables (Markdown, LaTeX) and charts from a results file.
    Report(results_cmd::ReportArgs),
    /// Test published findings (He et al.'s, UniPELT's, or a TOML file's) on a results file:
    /// paired differences, bootstrap intervals, verdicts; writes findings.md and findings.svg.
    Findings(results_cmd::FindingsArgs),
    /// Combine result files (e.g. the shards of a cluster job array).
    Merge(results_cmd::MergeArgs),
    /// Compare two result files; fails on a score drop, a budget change or a run that broke.
    Regress(results_cmd::RegressArgs),
    /// Inspect data folders.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Score one-item-per-line outputs against references (BLEU, ROUGE, GLUE metrics), as
    /// sacreBLEU's and rouge-score's command lines do.
    Score(score::ScoreArgs),
    /// List the method presets and where each sits in the design space.
    Methods(methods::MethodsArgs),
    /// A method's exact trainable-parameter accounting on a backbone (from config.json alone).
    Params(methods::ParamsArgs),
}

fn main() -> std::process::ExitCode {
    // A file-size limit (`ulimit -f`, a full quota) kills a process that writes past it by
    // SIGXFSZ, mid-write and without a word. Ignored, the write fails with EFBIG instead, and
    // the error names the file (the results file's previous version stays: writes go to a
    // temporary file first).
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain on one line: the file, the field, and why.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let threads = backend::init_threads(cli.threads)?;
    cli.backend.use_masks(cli.dropout_masks);
    // One batch shard per thread on the CPU backends (see `train::set_shards`); a GPU takes
    // the whole batch.
    train::set_shards(if cli.backend.is_cpu() {
        cli.shards.unwrap_or(threads)
    } else {
        cli.shards.unwrap_or(1)
    });
    match cli.command {
        Command::Forward(args) => {
            run_on(cli.backend, forward::Forward(args))?;
        }
        Command::Embed(args) => {
            let texts = args.texts.clone();
            let full = args.full;
            run_on(cli.backend, embed::Embed(args))?.print(&texts, full);
        }
        Command::Generate(args) => {
            run_on(cli.backend, generate::Generate(*args))?;
        }
        Command::BenchGenerate(args) => {
            run_on(cli.backend, generate::BenchGenerate(args))?;
        }
        Command::Bench(args) => bench::bench(&args, cli.backend, threads, cli.dropout_masks)?,
        Command::BenchOne(args) => bench::bench_one(args, cli.backend)?,
        Command::BenchCompare(args) => bench::compare(&args)?,
        Command::CompareTorch(args) => compare_torch::compare(&args)?,
        Command::Convert(args) => run_on(cli.backend, convert::Convert(args))?,
        Command::Score(args) => score::score(&args)?,
        Command::Data(command) => data::run(&command)?,
        Command::Sweep(args) => sweep::sweep(&args, cli.backend)?,
        Command::Slurm(args) => slurm::slurm(&args, cli.backend)?,
        Command::Report(args) => results_cmd::report(&args)?,
        Command::Findings(args) => results_cmd::findings(&args)?,
        Command::Merge(args) => results_cmd::merge(&args)?,
        Command::Regress(args) => results_cmd::regress(&args)?,
        Command::Methods(args) => methods::methods(&args)?,
        Command::Params(args) => methods::params(&args)?,
    }
    Ok(())
}
