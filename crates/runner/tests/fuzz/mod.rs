//! Experiment files that cannot crash a sweep: the committed `experiments/*.toml`, mutated with
//! the shared harness's fixed seed (TOML value-tree edits and byte edits), each run through the
//! binary as a user runs it, `peftgrid sweep FILE --dry-run` (parsing, validation, grid
//! expansion, budget matching and the backbone's `config.json`). A case passes when the process
//! exits 0, or exits 1 with an error naming the file (or the file it points at that is
//! missing or malformed); a panic (exit 101), a signal (an abort on
//! a huge allocation) or a run past the harness's time limit fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

use peftgrid_testkit::fuzz::{fuzz, text_case, Outcome};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The committed experiments, with their workspace-relative paths made absolute so that the
/// mutated copies (written elsewhere) still find the backbone and data where they exist.
fn seeds() -> Vec<String> {
    let root = workspace();
    let dir = root.join("experiments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "experiments/: {files:?}");
    let root = root.display().to_string();
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .replace("\"models/", &format!("\"{root}/models/"))
                .replace("\"datasets/", &format!("\"{root}/datasets/"))
        })
        .collect()
}

#[test]
fn fuzz_experiment_toml() {
    let seeds = seeds();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("experiment.toml");
    let results = tmp.path().join("results");
    let root = workspace();
    fuzz(
        "experiment TOML (sweep --dry-run)",
        600,
        text_case(),
        |case| {
            std::fs::write(&file, case.toml(&seeds)).unwrap();
            let o = Command::new(env!("CARGO_BIN_EXE_peftgrid"))
                .args(["sweep", file.to_str().unwrap(), "--dry-run", "--results"])
                .arg(&results)
                .output()
                .expect("run peftgrid");
            let stderr = String::from_utf8_lossy(&o.stderr).to_string();
            match o.status.code() {
                Some(0) => Outcome::Ok,
                // About the experiment, or about a file it points at (a backbone's config.json,
                // a data folder), which the seeds put under the workspace.
                Some(1) => Outcome::naming_one_of(Err::<(), _>(stderr), &[&file, &root]),
                other => panic!(
                    "peftgrid exited with {other:?} (101: a panic; none: a signal)\n{stderr}"
                ),
            }
        },
    );
}

/// Found by the fuzzing: a run's generation settings are checked when the grid is expanded,
/// and that error did not say which experiment file they came from.
#[test]
fn regression_generation_range_names_the_experiment() {
    let root = workspace();
    let xsum = std::fs::read_to_string(root.join("experiments/xsum.toml")).unwrap();
    assert!(
        xsum.contains("min_length = 10,"),
        "experiments/xsum.toml changed"
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("xsum.toml");
    std::fs::write(
        &file,
        xsum.replace("min_length = 10,", "min_length = 9223372036854775807,"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_peftgrid"))
        .current_dir(&root)
        .args(["sweep", file.to_str().unwrap(), "--dry-run"])
        .output()
        .expect("run peftgrid");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("min_length"),
        "{stderr}"
    );
}
