//! `peftgrid slurm`: a sweep on many machines through Slurm, the scheduler clusters already run.
//!
//! Writes three files: an sbatch job array (task i runs `peftgrid sweep --shard i/N` into its own
//! results folder, so no two tasks share a file), a merge job that combines the shards' files
//! and writes the report, and `submit.sh`, which submits the array and the merge with a
//! dependency on it (`afterany`: the merge also runs when a task failed, merges what exists and
//! names what is missing; rerunning the array resumes, as every sweep does).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::backend::BackendKind;
use crate::experiment::Experiment;

#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// The experiment file (experiments/*.toml).
    pub experiment: PathBuf,
    /// Array tasks: the grid is split round robin into this many shards (`sweep --shard i/N`).
    /// Named apart from the global `--shards`, which splits a training batch over threads.
    #[arg(long)]
    pub tasks: usize,
    /// GPUs per array task (`#SBATCH --gpus-per-task`).
    #[arg(long)]
    pub gpus_per_task: Option<usize>,
    /// CPU cores per array task (`#SBATCH --cpus-per-task`).
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// The partition (`#SBATCH --partition`).
    #[arg(long)]
    pub partition: Option<String>,
    /// Wall-time limit per task (`#SBATCH --time`, e.g. 24:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Where results/<sweep>.parquet (and results/shards/) live.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Where the scripts (and the tasks' logs) go.
    #[arg(long, default_value = "slurm")]
    pub out: PathBuf,
    /// Print the scripts instead of writing them.
    #[arg(long)]
    pub dry_run: bool,
}

/// The scripts for one sweep: (file name, contents).
pub struct Scripts {
    pub files: Vec<(String, String)>,
}

fn quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The scripts for `args`, run from `workdir` with the `peftgrid` binary at `exe`.
pub fn scripts(
    args: &SlurmArgs,
    name: &str,
    runs: usize,
    backend: BackendKind,
    exe: &Path,
    workdir: &Path,
) -> anyhow::Result<Scripts> {
    let n = args.tasks;
    anyhow::ensure!(n >= 1, "--tasks: must be at least 1");
    anyhow::ensure!(
        n <= runs,
        "--tasks {n}: the grid has {runs} run(s); more shards would leave tasks with nothing to do"
    );
    let shard_dir = |i: &str| args.results.join("shards").join(format!("{name}-{i}"));
    let logs = args.out.join("logs");
    let mut header = String::new();
    let _ = writeln!(header, "#!/usr/bin/env bash");
    let _ = writeln!(header, "#SBATCH --job-name=peftgrid-{name}");
    if let Some(p) = &args.partition {
        let _ = writeln!(header, "#SBATCH --partition={p}");
    }
    if let Some(t) = &args.time {
        let _ = writeln!(header, "#SBATCH --time={t}");
    }
    let mut array = header.clone();
    let _ = writeln!(array, "#SBATCH --array=1-{n}");
    let _ = writeln!(
        array,
        "#SBATCH --output={}",
        quote(&logs.join(format!("{name}-%A_%a.out")))
    );
    if let Some(g) = args.gpus_per_task {
        let _ = writeln!(array, "#SBATCH --gpus-per-task={g}");
    }
    if let Some(c) = args.cpus_per_task {
        let _ = writeln!(array, "#SBATCH --cpus-per-task={c}");
    }
    let _ = writeln!(
        array,
        "# {runs} runs of {} in {n} shards; task i writes {}/{name}.parquet.",
        args.experiment.display(),
        shard_dir("i").display()
    );
    let _ = writeln!(array, "set -euo pipefail");
    let _ = writeln!(array, "cd {}", quote(workdir));
    let _ = writeln!(
        array,
        "i=${{SLURM_ARRAY_TASK_ID:?run as a Slurm array task}}"
    );
    // The task's cores, when asked for, are the CPU backends' threads.
    let threads = args
        .cpus_per_task
        .map(|c| format!(" --threads {c}"))
        .unwrap_or_default();
    let _ = writeln!(
        array,
        "{} --backend {}{threads} sweep {} --shard \"$i/{n}\" --results {}-\"$i\" --no-report",
        quote(exe),
        backend.name(),
        quote(&args.experiment),
        quote(&args.results.join("shards").join(name))
    );

    let mut merge = header;
    let _ = writeln!(
        merge,
        "#SBATCH --output={}",
        quote(&logs.join(format!("{name}-merge-%j.out")))
    );
    let _ = writeln!(merge, "set -euo pipefail");
    let _ = writeln!(merge, "cd {}", quote(workdir));
    let _ = writeln!(merge, "inputs=()");
    let _ = writeln!(merge, "for i in $(seq 1 {n}); do");
    let _ = writeln!(
        merge,
        "    f={}-\"$i\"/{name}.parquet",
        quote(&args.results.join("shards").join(name))
    );
    let _ = writeln!(
        merge,
        "    if [ -f \"$f\" ]; then inputs+=(\"$f\"); else echo \"shard $i/{n}: no $f (rerun the array: it resumes)\" >&2; fi"
    );
    let _ = writeln!(merge, "done");
    let _ = writeln!(
        merge,
        "[ ${{#inputs[@]}} -gt 0 ] || {{ echo \"no shard wrote results\" >&2; exit 1; }}"
    );
    let merged = args.results.join(format!("{name}.parquet"));
    let _ = writeln!(
        merge,
        "{} merge \"${{inputs[@]}}\" --out {}",
        quote(exe),
        quote(&merged)
    );
    let _ = writeln!(merge, "{} report {}", quote(exe), quote(&merged));

    let array_file = format!("{name}-array.sbatch");
    let merge_file = format!("{name}-merge.sbatch");
    let mut submit = String::new();
    let _ = writeln!(submit, "#!/usr/bin/env bash");
    let _ = writeln!(
        submit,
        "# Submits the {n}-task array, then the merge once every task has ended."
    );
    let _ = writeln!(submit, "set -euo pipefail");
    let _ = writeln!(submit, "cd {}", quote(workdir));
    let _ = writeln!(submit, "mkdir -p {}", quote(&logs));
    let _ = writeln!(
        submit,
        "array=$(sbatch --parsable {})",
        quote(&args.out.join(&array_file))
    );
    let _ = writeln!(
        submit,
        "sbatch --dependency=afterany:\"${{array%%;*}}\" {}",
        quote(&args.out.join(&merge_file))
    );
    Ok(Scripts {
        files: vec![
            (array_file, array),
            (merge_file, merge),
            (format!("{name}-submit.sh"), submit),
        ],
    })
}

pub fn slurm(args: &SlurmArgs, backend: BackendKind) -> anyhow::Result<()> {
    let runs = Experiment::from_file(&args.experiment)?.expand()?;
    let name = runs
        .first()
        .map(|r| r.sweep.clone())
        .with_context(|| format!("{}: the grid has no runs", args.experiment.display()))?;
    let exe = std::env::current_exe().context("locating the peftgrid binary")?;
    let workdir = std::env::current_dir().context("the working directory")?;
    let s = scripts(args, &name, runs.len(), backend, &exe, &workdir)?;
    if args.dry_run {
        for (file, text) in &s.files {
            println!("==> {} <==\n{text}", args.out.join(file).display());
        }
        return Ok(());
    }
    std::fs::create_dir_all(args.out.join("logs"))
        .with_context(|| format!("creating {}", args.out.display()))?;
    for (file, text) in &s.files {
        let path = args.out.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }
    println!(
        "{} runs in {} array tasks: submit with {}",
        runs.len(),
        args.tasks,
        args.out.join(format!("{name}-submit.sh")).display()
    );
    Ok(())
}
