//! `peftgrid sweep EXPERIMENT.toml`: expand the grid, skip the runs already in
//! `results/<sweep>.parquet`, train the rest one by one, and append one row per evaluated split
//! right after each run (an atomic whole-file write), so a killed sweep loses at most the run in
//! progress and a rerun resumes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use peftgrid_data::check::Dataset;
use peftgrid_data::Split;
use peftgrid_model::method;
use peftgrid_results::{ResultRow, ResultStore, Status};
use peftgrid_zoo::MethodSpec;

use crate::backend::{train_on, BackendKind, TrainJob};
use crate::experiment::{dry_run_table, parse_shard, shard, Experiment, RunSpec};
use crate::tasks;
use crate::train::{train, Ending, Progress, Splits, Task};

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The experiment file (experiments/*.toml).
    pub experiment: PathBuf,
    /// Print the grid with each run's parameter budget and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Run slice i of N of the grid (1-based), e.g. for a Slurm job array; combine the result
    /// files with `peftgrid merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Where results/<sweep>.parquet lives.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Do not write reports/<sweep>/ (tables and charts) at the end.
    #[arg(long)]
    pub no_report: bool,
    /// An experiment to run instead when this one's backbone or data is not on this machine
    /// (the embedded default: `just sweep glue` falls back to experiments/glue-sample.toml).
    #[arg(long)]
    pub fallback: Option<PathBuf>,
    /// Also write each run's trainable tensors (of the model it scores) to
    /// results/<sweep>/trained/<run>.safetensors, keyed by module path: what `init_weights`
    /// reads, and what a step-for-step comparison with another framework checks.
    #[arg(long)]
    pub save_trainable: bool,
}

/// What is missing for `runs` on this machine, if anything.
fn missing_inputs(runs: &[RunSpec]) -> Option<String> {
    // Each backbone and each (task, folder) once: a grid repeats them for every method and seed.
    let mut seen = std::collections::HashSet::new();
    for r in runs {
        if !seen.insert((r.backbone.clone(), r.task.clone(), r.data_dir.clone())) {
            continue;
        }
        if !crate::experiment::config_path(&r.backbone).is_file() {
            return Some(format!(
                "backbone {} (config.json + model.safetensors + tokenizer.json)",
                r.backbone.display()
            ));
        }
        if let Ok(dataset) = r.task.parse::<Dataset>() {
            if let Err(why) = train_split_here(dataset, &r.data_dir) {
                return Some(format!("{} training data ({why})", r.task));
            }
        }
    }
    None
}

/// Whether the training split of `dataset` is in `dir` (the error says where to get it).
fn train_split_here(dataset: Dataset, dir: &Path) -> Result<(), String> {
    dataset
        .locate(dir, Split::Train)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub fn sweep(args: &SweepArgs, backend: BackendKind) -> anyhow::Result<()> {
    let experiment = Experiment::from_file(&args.experiment)?;
    // Expanding reads the backbone's config.json (for target budgets): a missing checkpoint
    // shows up here already.
    let (mut runs, missing) = match experiment.expand() {
        Ok(runs) => {
            let missing = missing_inputs(&runs);
            (runs, missing)
        }
        Err(e) if args.fallback.is_some() => (Vec::new(), Some(format!("{e:#}"))),
        // Expansion validates every run's resolved settings: say which file they came from.
        Err(e) => return Err(e.context(format!("experiment file {}", args.experiment.display()))),
    };
    if let Some(why) = missing {
        let Some(fallback) = &args.fallback else {
            anyhow::bail!("{}: missing {why}", args.experiment.display());
        };
        eprintln!(
            "\n*** {} cannot run here: missing {why}.\n*** Running the embedded default {} instead: \
             SAMPLE NUMBERS on stand-in data, not the benchmark.\n*** Put the real files in place \
             (see datasets/README.md) and rerun to get the real table.\n",
            args.experiment.display(),
            fallback.display()
        );
        runs = Experiment::from_file(fallback)?
            .expand()
            .with_context(|| format!("experiment file {}", fallback.display()))?;
        if let Some(why) = missing_inputs(&runs) {
            anyhow::bail!(
                "{}: missing {why} (run `just fetch-minilm`)",
                fallback.display()
            );
        }
    }
    if let Some(s) = &args.shard {
        let (i, n) = parse_shard(s)?;
        runs = shard(&runs, i, n)?;
    }
    if args.dry_run {
        println!("{}", dry_run_table(&runs));
        return Ok(());
    }
    let name = runs.first().map(|r| r.sweep.clone()).unwrap_or_default();
    let path = args.results.join(format!("{name}.parquet"));
    std::fs::create_dir_all(&args.results)
        .with_context(|| format!("{}", args.results.display()))?;
    // Held for the whole sweep: a second sweep on this file stops here with who holds it.
    let _writer = peftgrid_results::WriterLock::acquire(&path)?;
    let mut store = ResultStore::open(&path)?;
    let todo: Vec<&RunSpec> = runs.iter().filter(|r| !store.contains(&r.id())).collect();
    println!(
        "{name}: {} runs, {} already in {}, {} to run on {}",
        runs.len(),
        runs.len() - todo.len(),
        path.display(),
        todo.len(),
        backend.name()
    );

    let bars = MultiProgress::new();
    let overall = bars.add(ProgressBar::new(todo.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("run {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut ok, mut bad) = (0, 0);
    for spec in todo {
        overall.set_message(spec.short_label());
        let steps = bars.add(ProgressBar::new(0));
        steps.set_style(
            ProgressStyle::with_template("  step {pos}/{len} {bar:30} loss {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let rows = train_on(
            backend,
            RunJob {
                spec,
                adapters_dir: args.results.join(&name).join("adapters"),
                save_trainable: args.save_trainable,
                bar: steps.clone(),
            },
        )
        .unwrap_or_else(|e| vec![failed_row(spec, backend, &format!("{e:#}"))]);
        steps.finish_and_clear();
        for r in &rows {
            match r.status {
                Status::Ok => ok += 1,
                _ => bad += 1,
            }
            let metrics: Vec<String> = r
                .metrics
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect();
            let line = format!(
                "{} [{}] {} {} ({:.0} s)",
                spec.short_label(),
                r.split,
                r.status.as_str(),
                if metrics.is_empty() {
                    r.note.clone()
                } else {
                    metrics.join(", ")
                },
                r.wall_s
            );
            // Printed whether or not the bars are drawn (they are not when stdout is no TTY).
            bars.suspend(|| println!("{line}"));
        }
        store.append(rows)?;
        overall.inc(1);
    }
    overall.finish_and_clear();
    println!(
        "{name}: {ok} rows ok, {bad} diverged/failed; results in {}",
        path.display()
    );
    if !args.no_report && path.is_file() {
        // reports/ beside results/ (the repository's, unless --results points elsewhere).
        let out = args
            .results
            .parent()
            .unwrap_or(Path::new(""))
            .join("reports")
            .join(&name);
        let summary = peftgrid_results::report_with(
            &path,
            &out,
            Some(&peftgrid_results::Published::builtin()),
            &peftgrid_results::ReportOptions::default(),
        )?;
        println!(
            "report: {} ({} files){}",
            out.display(),
            summary.files.len(),
            if summary.sample_data {
                " — SAMPLE NUMBERS, not the benchmark"
            } else {
                ""
            }
        );
    }
    Ok(())
}

struct RunJob<'a> {
    spec: &'a RunSpec,
    adapters_dir: PathBuf,
    save_trainable: bool,
    bar: ProgressBar,
}

impl TrainJob for RunJob<'_> {
    type Output = Vec<ResultRow>;

    fn run<B: AutodiffBackend>(
        self,
        device: Device<B>,
        backend: BackendKind,
    ) -> anyhow::Result<Vec<ResultRow>> {
        let spec = self.spec;
        let started = Instant::now();
        reset_peak_rss();
        let dataset: Dataset = spec.task.parse()?;
        B::seed(&device, spec.seed);
        peftgrid_zoo::init::seed(spec.seed);
        let mut loaded = peftgrid_model::load::<B>(&spec.backbone, &device)?;
        match dataset {
            Dataset::Glue(task) => {
                let (task, splits) = tasks::text::build(spec, task, &mut loaded, &device)?;
                self.train_and_score(backend, started, loaded, &task, splits, &device)
            }
            Dataset::Cifar100 | Dataset::Fgvc(_) => {
                let (task, splits) = tasks::image::build(spec, dataset, &mut loaded, &device)?;
                self.train_and_score(backend, started, loaded, &task, splits, &device)
            }
            Dataset::Xsum | Dataset::Wmt16 => {
                let (task, splits) = tasks::seq2seq::build(spec, dataset, &loaded)?;
                self.train_and_score(backend, started, loaded, &task, splits, &device)
            }
        }
    }
}

impl RunJob<'_> {
    /// Applies the method to the readied backbone, trains, and makes the run's rows: the
    /// selection split's best metrics, and the test split's when there is one.
    fn train_and_score<B: AutodiffBackend, T: Task>(
        self,
        backend: BackendKind,
        started: Instant,
        loaded: peftgrid_model::Loaded<B>,
        task: &T,
        data: Splits<T::Example>,
        device: &Device<B>,
    ) -> anyhow::Result<Vec<ResultRow>> {
        let spec = self.spec;
        let mut model = loaded.model;
        // The accounting of what the method adds; `deployed` is He et al.'s budget (what is
        // left after merging: a prefix's MLP dropped).
        let counted = method::apply(&mut model, &loaded.config, &spec.method, device)?;
        let mut model = method::freeze(model, &spec.method);
        if let Some(path) = &spec.train.init_weights {
            model = peftgrid_model::trained::load_trainable(model, &spec.method, path, device)
                .with_context(|| format!("init_weights {}", path.display()))?;
        }
        let (body, with_head) = {
            let (body, head) = method::trainable(&model, &spec.method);
            (body, body + head)
        };
        let pretrained = counted.pretrained;

        let bar = self.bar;
        let log_steps = std::env::var_os("PEFTGRID_LOG_STEPS").is_some();
        let mut on_step = |p: Progress| {
            if log_steps {
                eprintln!("step {}/{} loss {:.5}", p.step, p.total, p.loss);
            }
            bar.set_length(p.total as u64);
            bar.set_position(p.step as u64);
            bar.set_message(format!("{:.4}", p.loss));
        };
        let outcome = train(
            model,
            &spec.method,
            task,
            &data,
            &spec.train,
            spec.seed,
            device,
            &mut on_step,
        )?;

        // The learning curve beside the results: loss per update, metrics per evaluation.
        let curves = self.adapters_dir.with_file_name("curves");
        if std::fs::create_dir_all(&curves).is_ok() {
            let curve = serde_json::json!({
                "run_id": spec.id(),
                "label": spec.short_label(),
                "best_step": outcome.best_step,
                "losses": outcome.losses,
                "evals": outcome.evals,
            });
            let _ = std::fs::write(
                curves.join(format!("{}.json", &spec.id()[..16])),
                curve.to_string(),
            );
        }
        let mut base = base_row(spec, backend, &format!("{device:?}"));
        base.main_metric = task.main_metric().to_string();
        base.trainable_params = body as u64;
        base.trainable_with_head = with_head as u64;
        base.percent_trainable = 100.0 * body as f64 / pretrained as f64;
        base.percent_deployed = Some(counted.deployed_percent);
        base.stored_params = Some(counted.stored as u64);
        base.steps = outcome.steps as u64;
        base.train_samples_per_s =
            Some(outcome.train_samples as f64 / outcome.train_seconds.max(1e-9));
        base.peak_memory_bytes = peak_rss_bytes();
        match outcome.ending {
            Ending::Diverged { at_step, loss } => {
                base.status = Status::Diverged;
                base.note = format!("loss {loss} at step {at_step}");
                base.split = data.eval_split;
                base.wall_s = started.elapsed().as_secs_f64();
                return Ok(vec![base]);
            }
            // The best step and the whole curve are in results/<sweep>/curves/.
            Ending::EarlyStopped { at_step } => base.note = format!("early stop at step {at_step}"),
            Ending::Finished => {}
        }
        if let Some(note) = sample_note(&spec.data_dir) {
            base.sample_data = true;
            base.note = if base.note.is_empty() {
                note
            } else {
                format!("{note}; {}", base.note)
            };
        }
        if self.save_trainable {
            // A run that trained is a result even when its tensors cannot be written: said in
            // the row's note, not turned into a failed run.
            let dir = self.adapters_dir.with_file_name("trained");
            let file = dir.join(format!("{}.safetensors", &spec.id()[..16]));
            let saved = std::fs::create_dir_all(&dir)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    Ok(peftgrid_model::trained::save_trainable(
                        &outcome.model,
                        &spec.method,
                        &file,
                    )?)
                });
            if let Err(e) = saved {
                let why = format!("trainable tensors not written to {}: {e:#}", file.display());
                base.note = [base.note.as_str(), why.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
            }
        }
        let (bytes, failures) = save_adapters(
            &outcome.model,
            &loaded.config,
            &spec.method,
            &self.adapters_dir.join(&spec.id()[..16]),
        );
        base.adapter_bytes = bytes;
        // A run that trained is a result even when its adapter cannot be written: said in the
        // row's note, not dropped and not turned into a failed run.
        for why in failures {
            base.note = [base.note.as_str(), why.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
        }
        let mut rows = Vec::new();
        let mut row = base.clone();
        row.split = data.eval_split;
        row.metrics = outcome.best.clone();
        if let Some((test, split)) = &data.test {
            let metrics = task.evaluate(&outcome.model.valid(), test, device)?;
            let mut test_row = base.clone();
            test_row.split = split.clone();
            test_row.metrics = metrics;
            test_row.wall_s = started.elapsed().as_secs_f64();
            rows.push(test_row);
        }
        row.wall_s = started.elapsed().as_secs_f64();
        rows.insert(0, row);
        Ok(rows)
    }
}

/// Data under `datasets/samples/` is the embedded stand-in, never the benchmark.
fn sample_note(data_dir: &Path) -> Option<String> {
    let s = data_dir.to_string_lossy();
    s.contains("datasets/samples").then(|| {
        format!(
            "SAMPLE DATA ({s}: real text in the benchmark's format, see datasets/samples/README.md), not the benchmark"
        )
    })
}

/// Writes the trained method to `dir` in peftgrid's format, which every method fits
/// (`method.json` + `adapter.safetensors`, deployed: a prefix as its keys and values), and
/// copies in AdapterHub's and peft's formats where the method is one they can say
/// (`dir/adapterhub/`, `dir/peft/`). Returns the deployed file's size and what could not be
/// written: the native adapter, or a copy that fits its format but failed to write.
fn save_adapters<B: burn::tensor::backend::Backend>(
    model: &peftgrid_model::Model<B>,
    config: &peftgrid_model::ModelConfig,
    method: &MethodSpec,
    dir: &Path,
) -> (Option<u64>, Vec<String>) {
    use peftgrid_model::formats::{adapterhub, native, peft};
    use peftgrid_model::ModelError;
    let mut failures = Vec::new();
    let bytes = match native::save(model, config, method, dir) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            failures.push(format!("adapter not written to {}: {e}", dir.display()));
            None
        }
    };
    if method.modifications.is_empty() {
        // Head and unfrozen pretrained tensors only: neither ecosystem has an adapter of that.
        return (bytes, failures);
    }
    // The copies are of the deployed method too (a prefix as its keys and values, which both
    // formats can hold), not of its training MLP.
    let mut deployed = model.clone();
    deployed.deploy();
    let spec = method.deployed();
    // A method outside a format is refused with an error about the format; only a failed
    // write (the disk, the quota) is a failure worth a note.
    type Writer<'a> = &'a dyn Fn(&Path) -> peftgrid_model::Result<()>;
    let copies: [(&str, Writer); 2] = [
        ("adapterhub", &|d| {
            adapterhub::save_adapter(&deployed, config, &spec, &spec.name, d)
        }),
        ("peft", &|d| peft::save_adapter(&deployed, config, &spec, d)),
    ];
    for (format, save) in copies {
        let copy = dir.join(format);
        match save(&copy) {
            Ok(()) => {}
            Err(e @ ModelError::Io { .. }) => failures.push(format!(
                "{format} copy not written to {}: {e}",
                copy.display()
            )),
            // Not in this format: leave no half-written folder behind.
            Err(_) => {
                let _ = std::fs::remove_dir_all(&copy);
            }
        }
    }
    (bytes, failures)
}

/// Resets the process's peak resident memory (Linux: `5` to /proc/self/clear_refs), so that each
/// run's `peak_memory_bytes` is its own, not the sweep's high-water mark so far.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory since the last reset (Linux): the CPU backend's peak.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub(crate) fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        None => "unknown".into(),
    }
}

fn base_row(spec: &RunSpec, backend: BackendKind, device: &str) -> ResultRow {
    // The zoo's one text of a design point (`scaled(s=4.0)`), what reports group by and
    // published numbers are matched on.
    let peftgrid_zoo::Dimensions {
        forms,
        positions,
        insertions,
        compositions,
        budgets,
    } = spec.method.dimensions();
    ResultRow {
        run_id: spec.id(),
        sweep: spec.sweep.clone(),
        // Everything to rerun the run.
        config_json: spec.to_json(),
        method: spec.method.name.clone(),
        forms,
        positions,
        insertions,
        compositions,
        budgets,
        backbone: spec
            .backbone
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        // The task's label: two stand-ins in SST-2's format are two tasks, not one.
        task: spec.task_name.clone(),
        split: String::new(),
        metrics: Default::default(),
        main_metric: String::new(),
        trainable_params: 0,
        trainable_with_head: 0,
        percent_trainable: 0.0,
        percent_deployed: None,
        stored_params: None,
        peak_memory_bytes: None,
        train_samples_per_s: None,
        wall_s: 0.0,
        adapter_bytes: None,
        seed: spec.seed,
        steps: 0,
        backend: backend.label(),
        device: device.to_string(),
        peftgrid_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git_commit(),
        status: Status::Ok,
        note: String::new(),
        sample_data: sample_note(&spec.data_dir).is_some(),
        finished_at: now_rfc3339(),
    }
}

/// A run that could not train (bad data, missing file): recorded, and the sweep goes on.
fn failed_row(spec: &RunSpec, backend: BackendKind, error: &str) -> ResultRow {
    let mut row = base_row(spec, backend, "");
    row.status = Status::Failed;
    row.note = error.to_string();
    row.split = "-".into();
    row
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
