//! `peftgrid bench`: train and inference throughput of methods on a backbone config's size
//! (random weights: nothing to download), at a fixed batch and sequence length, after warm-up.
//! Each method runs in a child process (`peftgrid bench-one`) so that its peak memory is its
//! own. Rows go to Parquet (+ JSON) and a Markdown table; `peftgrid bench-compare` puts them
//! beside `tools/bench_torch.py`'s for the same configurations.

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Instant;

use anyhow::Context;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use clap::Args;
use peftgrid_model::{method, Checkpoint, Inputs, Model, ModelConfig, Pooling};
use peftgrid_results::bench::{markdown_table, ratio_table, read_bench, write_parquet, BenchRow};
use peftgrid_zoo::MethodSpec;
use rand::{Rng, SeedableRng};

use crate::backend::{train_on, BackendKind, Masks, TrainJob};
use crate::experiment::TrainConfig;
use crate::train::{batch_grads, cross_entropy, GroupedAdamW, Task};
use clap::ValueEnum;

/// The methods of the comparison, at the budgets `tools/bench_torch.py` builds.
pub const DEFAULT_METHODS: &str =
    "full,linear_probe,bitfit,lora:8,parallel:64,houlsby:64,prefix:10,ia3";

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// A backbone's config.json (random weights of its size).
    #[arg(
        long,
        default_value = "crates/model/tests/configs/all-MiniLM-L6-v2.json"
    )]
    pub config: PathBuf,
    /// Methods, comma-separated (presets with optional budgets).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_METHODS)]
    pub methods: Vec<String>,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Tokens per sequence (no padding: every position is real).
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Untimed updates first (kernel compilation, autotune, allocator warm-up).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed updates (and as many timed inference batches); rates are per-step medians.
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// Results table (Parquet; a .json copy is written beside it).
    #[arg(long, default_value = "results/bench.parquet")]
    pub out: PathBuf,
    /// Markdown table of this run.
    #[arg(long, default_value = "reports/bench/peftgrid.md")]
    pub report: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BenchCompareArgs {
    /// peftgrid's rows (`peftgrid bench --out`, .parquet or .json).
    #[arg(long, default_value = "results/bench.parquet")]
    pub peftgrid: PathBuf,
    /// PyTorch's rows (`tools/bench_torch.py --out`, .json).
    #[arg(long, default_value = "reports/bench/torch.json")]
    pub torch: PathBuf,
    /// Also write the table here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs every method in its own process and collects the rows.
pub fn bench(
    args: &BenchArgs,
    backend: BackendKind,
    threads: usize,
    masks: Masks,
) -> anyhow::Result<()> {
    let masks = masks
        .to_possible_value()
        .map_or("auto".to_string(), |v| v.get_name().to_string());
    let masks = masks.as_str();
    let exe = std::env::current_exe().context("finding the peftgrid binary")?;
    let mut rows = Vec::new();
    for m in &args.methods {
        // Checked here so that a typo fails before any child runs.
        MethodSpec::from_arg(m).with_context(|| format!("--methods: {m}"))?;
    }
    for m in &args.methods {
        let out = Process::new(&exe)
            .args([
                "--backend",
                backend.name(),
                "--threads",
                &threads.to_string(),
            ])
            .args(["--dropout-masks", masks])
            .args(["--shards", &crate::train::shards().to_string()])
            .arg("bench-one")
            .arg("--config")
            .arg(&args.config)
            .args(["--method", m])
            .args(["--batch", &args.batch.to_string()])
            .args(["--seq-len", &args.seq_len.to_string()])
            .args(["--warmup", &args.warmup.to_string()])
            .args(["--steps", &args.steps.to_string()])
            .output()
            .with_context(|| format!("running {} bench-one", exe.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            anyhow::bail!(
                "bench of {m} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BENCH_ROW "))
            .with_context(|| format!("bench of {m} printed no row"))?;
        let row: BenchRow = serde_json::from_str(line).context("reading a bench row")?;
        println!(
            "{:<16} train {:>7.1} samples/s   inference {:>7.1} samples/s   peak {:>6.0} MiB   loss {:.4} → {:.4}",
            row.method,
            row.train_samples_per_s,
            row.infer_samples_per_s,
            row.peak_memory_bytes.unwrap_or(0) as f64 / 1048576.0,
            row.first_loss,
            row.last_loss
        );
        rows.push(row);
    }
    // Rows of other backends/models already in the file stay; this run's configurations are
    // replaced.
    let mut all = if args.out.is_file() {
        read_bench(&args.out)?
    } else {
        Vec::new()
    };
    all.retain(|r| {
        !rows.iter().any(|n| {
            n.backend == r.backend
                && n.model == r.model
                && n.method == r.method
                && n.batch == r.batch
                && n.seq_len == r.seq_len
                && n.threads == r.threads
        })
    });
    all.extend(rows.iter().cloned());
    write_parquet(&args.out, &all)?;
    if let Some(dir) = args.report.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.report, markdown_table(&rows))
        .with_context(|| format!("writing {}", args.report.display()))?;
    println!(
        "rows: {}   table: {}",
        args.out.display(),
        args.report.display()
    );
    Ok(())
}

/// Prints (and writes) the peftgrid ÷ PyTorch table.
pub fn compare(args: &BenchCompareArgs) -> anyhow::Result<()> {
    let ours = read_bench(&args.peftgrid)?;
    let theirs = read_bench(&args.torch)?;
    let table = ratio_table(&ours, &theirs);
    print!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, &table).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Args)]
pub struct BenchOneArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub batch: usize,
    #[arg(long)]
    pub seq_len: usize,
    #[arg(long)]
    pub warmup: usize,
    #[arg(long)]
    pub steps: usize,
    /// Print every update's loss (`LOSS <step> <value>`): the cross-backend tests compare them.
    #[arg(long)]
    pub print_losses: bool,
}

/// One method's measurement, in this process.
pub struct BenchOne(pub BenchOneArgs);

impl TrainJob for BenchOne {
    type Output = BenchRow;

    fn run<B: AutodiffBackend>(
        self,
        device: Device<B>,
        backend: BackendKind,
    ) -> anyhow::Result<BenchRow> {
        let a = self.0;
        let config = ModelConfig::from_path(&a.config)?;
        let spec = MethodSpec::from_arg(&a.method)?;
        peftgrid_zoo::init::seed(0);
        B::seed(&device, 0);
        let mut model: Model<B> = peftgrid_model::build(&config, &Checkpoint::random(0), &device)?;
        model.set_new_head(&config, 2, Pooling::Mean, &device);
        method::apply(&mut model, &config, &spec, &device)?;
        let model = method::freeze(model, &spec);
        let (body, head) = method::trainable(&model, &spec);
        let trainable = body + head;
        let vocab = match &config.architecture {
            peftgrid_model::Architecture::Bert(c) | peftgrid_model::Architecture::Roberta(c) => {
                c.vocab_size
            }
            _ => anyhow::bail!("bench: text encoders (BERT, RoBERTa) only"),
        };

        // The same token ids and labels at every step (host RNG: the same on every backend).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (b, s) = (a.batch, a.seq_len);
        // Ordinary word pieces: above the special and unused ids (BERT's first 1,000).
        let low = (vocab as i64 / 4).min(1000);
        let ids: Vec<i64> = (0..b * s)
            .map(|_| rng.random_range(low..vocab as i64))
            .collect();
        let labels: Vec<i64> = (0..b).map(|_| rng.random_range(0..2)).collect();
        // The training loop's own batch step (threads, shards, dropout streams) on these rows.
        let synthetic = Synthetic {
            ids: ids.clone(),
            labels,
            seq_len: s,
        };
        let all_rows: Vec<usize> = (0..b).collect();

        let h = TrainConfig::default();
        let mut optim = GroupedAdamW::<B, Model<B>>::new(&h);
        let mut model = model;
        let mut losses = Vec::new();
        let mut timed = Vec::new();
        crate::sweep::reset_peak_rss();
        for step in 0..a.warmup + a.steps {
            let start = Instant::now();
            let (value, grads) =
                batch_grads(&model, &synthetic, &[], &all_rows, step as u64, 1, &device)?;
            if a.print_losses {
                println!("LOSS {step} {value:.9}");
            }
            let (next, _) = optim.step(1e-4, model, grads);
            model = next;
            B::sync(&device).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if step >= a.warmup {
                timed.push(start.elapsed().as_secs_f64());
                losses.push(value);
            }
        }
        let peak = crate::sweep::peak_rss_bytes();

        // Inference as evaluation runs it: batches of `b` on the shard threads, so one timed
        // round is `shards` batches.
        let frozen = model.valid();
        let rounds = crate::train::shards().max(1);
        let forward = |_: usize| -> anyhow::Result<()> {
            let logits = frozen
                .forward(token_inputs(ids.clone(), b, s, &device))?
                .logits
                .context("no task head")?;
            let _ = logits.into_data();
            Ok(())
        };
        let mut infer = Vec::new();
        for step in 0..a.warmup + a.steps {
            let start = Instant::now();
            crate::train::in_parallel(rounds, forward)?;
            if step >= a.warmup {
                infer.push(start.elapsed().as_secs_f64() / rounds as f64);
            }
        }
        // Per-step medians: robust to a neighbour's burst on a shared machine.
        let samples = b as f64;
        Ok(BenchRow {
            tool: "peftgrid".into(),
            version: crate::sweep::git_commit(),
            backend: backend.label(),
            device: device_name(backend),
            dtype: "f32".into(),
            threads: rayon::current_num_threads() as u64,
            model: a
                .config
                .file_stem()
                .map_or("?".into(), |s| s.to_string_lossy().into_owned()),
            method: a.method.clone(),
            batch: b as u64,
            seq_len: s as u64,
            warmup: a.warmup as u64,
            steps: a.steps as u64,
            trainable_params: trainable as u64,
            train_samples_per_s: samples / median(&mut timed),
            infer_samples_per_s: samples / median(&mut infer),
            // The process's RSS is the CPU backends' memory; a GPU's is not read (see README).
            peak_memory_bytes: if backend.is_cpu() { peak } else { None },
            memory_kind: "rss".into(),
            first_loss: losses.first().copied().unwrap_or(f64::NAN),
            last_loss: losses.last().copied().unwrap_or(f64::NAN),
        })
    }
}

/// `n` unpadded rows of `s` token ids (one segment) as model inputs.
fn token_inputs<Bk: Backend>(ids: Vec<i64>, n: usize, s: usize, device: &Bk::Device) -> Inputs<Bk> {
    Inputs {
        input_ids: Some(Tensor::from_data(TensorData::new(ids, [n, s]), device)),
        attention_mask: Some(Tensor::ones([n, s], device)),
        token_type_ids: Some(Tensor::zeros([n, s], device)),
        ..Default::default()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// Fixed token ids and labels as a task, so that `bench` times the training loop's batch step.
struct Synthetic {
    ids: Vec<i64>,
    labels: Vec<i64>,
    seq_len: usize,
}

impl Task for Synthetic {
    type Example = ();

    fn shardable(&self) -> bool {
        true
    }

    fn main_metric(&self) -> &str {
        "loss"
    }

    fn lengths(&self, _: &[()]) -> anyhow::Result<Vec<usize>> {
        Ok(vec![self.seq_len; self.labels.len()])
    }

    fn loss<B: Backend>(
        &self,
        model: &Model<B>,
        _: &[()],
        indices: &[usize],
        _: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        let s = self.seq_len;
        let n = indices.len();
        let ids: Vec<i64> = indices
            .iter()
            .flat_map(|&i| self.ids[i * s..(i + 1) * s].iter().copied())
            .collect();
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i]).collect();
        let logits = model
            .forward(token_inputs(ids, n, s, device))?
            .logits
            .context("no task head")?;
        let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [n]), device);
        Ok(cross_entropy(logits, y, 0.0))
    }

    /// Never called: `bench` times steps, it does not evaluate.
    fn evaluate<B: Backend>(
        &self,
        _: &Model<B>,
        _: &[()],
        _: &B::Device,
    ) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
        anyhow::bail!("the bench task is not evaluated")
    }
}

/// The processor's name (CPU backends) or the backend's own name for its device.
fn device_name(backend: BackendKind) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    match backend {
        BackendKind::Flex | BackendKind::Ndarray => cpu,
        other => format!("{} device 0", other.name()),
    }
}

/// Runs one method and prints its row for the parent process.
pub fn bench_one(args: BenchOneArgs, backend: BackendKind) -> anyhow::Result<()> {
    let row = train_on(backend, BenchOne(args))?;
    println!("BENCH_ROW {}", serde_json::to_string(&row)?);
    Ok(())
}
