//! The experiment file: parsing, errors, expansion, ids, budgets, dry run.

use std::path::{Path, PathBuf};

use peftgrid_zoo::Target;

use super::*;

/// The workspace root (paths in experiment files are relative to it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const ROBERTA: &str = "crates/model/tests/configs/roberta-base.json";

fn exp(text: &str) -> Experiment {
    Experiment::parse_in(text, root()).unwrap_or_else(|e| panic!("{e:#}"))
}

fn err(text: &str) -> String {
    match Experiment::parse_in(text, root()).and_then(|e| e.expand()) {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

const FULL: &str = r#"
name = "demo"
description = "everything the schema has"
backbone = ["crates/model/tests/configs/roberta-base.json", "crates/model/tests/configs/bert-base-uncased.json"]
tasks = ["glue/sst2", { task = "mrpc", name = "mrpc-small", data_dir = "datasets/other" }]
data_dir = "datasets/glue"
seeds = [42, 2]
methods = [
  "lora",
  "mam:16,16",
  { preset = "parallel", budgets = [[16], [64]], train = { lr = 3e-4 } },
  { preset = "parallel", name = "pa_target", target_percent = [0.5] },
  { spec = { name = "gated_lora_ffn", modifications = [{ form = { kind = "low_rank" }, at = ["ffn_in", "ffn_out"], composition = { kind = "gated" }, budget = 4 }] } },
]

[[grid]]
form = { kind = "bottleneck", act = "relu", init = "lora" }
at = ["attention", ["ffn"]]
insertion = ["sequential", "parallel"]
composition = [{ kind = "add" }, { kind = "scaled", s = 4 }]
budget = { knob = [8, 32] }

[train]
lr = 1e-4
epochs = 3
max_steps = 1000
generation = { num_beams = 4, max_length = 60 }

[train.task."glue/mrpc"]
lr = 2e-4
patience = 3

[train.sweep]
label_smoothing = [0.0, 0.1]
"#;

#[test]
fn round_trip_and_counts() {
    let e = exp(FULL);
    let text = e.to_toml().unwrap();
    let back = exp(&text);
    assert_eq!(back, e, "{text}");
    assert_eq!(exp(&back.to_toml().unwrap()), e);
    let runs = e.expand().unwrap();
    // methods: 1 + 1 + 2 + 1 + 1 = 6; grid: 2 at × 2 insertions × 2 compositions × 2 knobs
    // = 16; × 2 label smoothings × 2 seeds × 2 tasks × 2 backbones.
    assert_eq!(runs.len(), (6 + 16) * 2 * 2 * 2 * 2);
    // Order: task, backbone, method, budget, sweep point, seed.
    assert_eq!(runs[0].task, "glue/sst2");
    assert_eq!(runs[0].method.name, "lora");
    assert_eq!((runs[0].seed, runs[1].seed), (42, 2));
    assert_eq!(runs[2].varied["label_smoothing"], serde_json::json!(0.1));
    assert_eq!(runs[0].train.label_smoothing, 0.0);
    assert_eq!(runs[2].train.label_smoothing, 0.1);
    assert_eq!(runs[4].method.name, "mam");
    assert_eq!(runs[4].method.budgets(), vec![16, 16]);
    assert_eq!(runs[8].method.budgets(), vec![16]);
    assert_eq!(runs[8].train.lr, 3e-4);
    assert_eq!(runs[12].method.budgets(), vec![64]);
    assert!(runs[0].backbone.ends_with("roberta-base.json"));
    let half = runs.len() / 2;
    assert_eq!(runs[half].task_name, "mrpc-small");
    assert_eq!(runs[half].task, "glue/mrpc");
    assert_eq!(runs[half].data_dir, PathBuf::from("datasets/other"));
    assert_eq!(runs[half].train.lr, 2e-4);
    assert_eq!(runs[half].train.patience, Some(3));
    assert_eq!(runs[0].train.patience, None);
    assert_eq!(runs[0].data_dir, PathBuf::from("datasets/glue"));
    let grid: Vec<&RunSpec> = runs
        .iter()
        .filter(|r| r.method.name.contains('@'))
        .collect();
    assert_eq!(grid.len(), 16 * 2 * 2 * 2 * 2);
    assert_eq!(grid[0].method.name, "bottleneck@attention/sequential/add");
    assert!(grid
        .iter()
        .any(|r| r.method.name == "bottleneck@ffn/parallel/scaled(s=4.0)"));
    // RunSpec round-trips through JSON, and the id with it.
    let json = serde_json::to_string(&runs[5]).unwrap();
    let back: RunSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, runs[5]);
    assert_eq!(back.id(), runs[5].id());
    assert!(
        runs[5].short_label().contains("mam · l=16,r=16"),
        "{}",
        runs[5].short_label()
    );
}

#[test]
fn target_percent_matches_params() {
    // As `peftgrid params --model roberta-base.json --method parallel --target 0.5%`.
    let e = exp(&format!(
        r#"
name = "t"
backbone = "{ROBERTA}"
tasks = ["sst2"]
methods = [{{ preset = "parallel", target_percent = [0.5] }}]

[[grid]]
name = "pa"
form = {{ kind = "bottleneck", act = "relu", init = "lora" }}
at = ["ffn"]
insertion = "parallel"
budget = {{ target_percent = [0.5, 0.1] }}
"#
    ));
    let runs = e.expand().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].method.budgets(), vec![33]);
    assert_eq!(runs[0].target, Some(Target::Percent(0.5)));
    assert_eq!(runs[1].method.budgets(), vec![33]);
    assert_eq!(runs[1].method.name, "pa@ffn/parallel/add");
    assert!(runs[2].method.budgets()[0] < 33);
    let table = dry_run_table_in(&root(), &runs);
    assert!(table.contains("617,868"), "{table}");
    assert!(table.contains("0.4957"), "{table}");
    assert!(table.contains("r=33 (≈0.5%)"), "{table}");
    assert!(table.contains("bottleneck(act=relu, init=lora) r=33 @ ffn, parallel, add"));
    assert_eq!(table.lines().count(), 1 + 3 + 1, "{table}");
}

#[test]
fn ids_are_stable_and_sensitive() {
    let base = format!(
        "name = \"a\"\nbackbone = \"{ROBERTA}\"\ntasks = [\"sst2\"]\nseeds = [1, 2]\nmethods = [\"lora\", \"bitfit\"]\n"
    );
    let ids = |text: &str| -> Vec<String> {
        exp(text)
            .expand()
            .unwrap()
            .iter()
            .map(RunSpec::id)
            .collect()
    };
    let a = ids(&base);
    assert_eq!(a.len(), 4);
    assert_eq!(a, ids(&base), "same file, same ids");
    assert!(a
        .iter()
        .all(|id| id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())));
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 4);
    // Pinned: ids written to results files stay valid across versions of peftgrid. (Changed
    // once, on purpose, when the default batching became random: old rows trained
    // differently.)
    assert_eq!(
        a[0], "0d2cc36f3b1f070c94eb1a7eefdc17c46597725cd45844ee3cae5aed53874893",
        "the canonical form of run ids changed"
    );
    // Renaming the sweep, spelling a default out or writing a float as an integer: same ids.
    assert_eq!(a, ids(&base.replace("name = \"a\"", "name = \"b\"")));
    assert_eq!(
        a,
        ids(&format!("{base}[train]\nlr = 0.0001\nweight_decay = 0.1\n"))
    );
    assert_eq!(a, ids(&base.replace(ROBERTA, &format!("./{ROBERTA}"))));
    // Any hyperparameter, seed, budget or data folder: new ids.
    let lr = ids(&format!("{base}[train]\nlr = 2e-4\n"));
    assert!(lr.iter().all(|id| !a.contains(id)));
    let warm = ids(&format!("{base}[train]\nwarmup_ratio = 0.1\n"));
    assert!(warm.iter().all(|id| !a.contains(id)));
    let seeds = ids(&base.replace("[1, 2]", "[1, 3]"));
    assert_eq!(seeds[0], a[0]);
    assert_ne!(seeds[1], a[1]);
    let knob = ids(&base.replace("\"lora\"", "\"lora:16\""));
    assert_ne!(knob[0], a[0]);
    assert_eq!(knob[2], a[2]);
    let dir = ids(&format!("{base}data_dir = \"datasets/samples/glue\"\n"));
    assert!(dir.iter().all(|id| !a.contains(id)));
}

#[test]
fn shards_partition_the_runs() {
    let runs: Vec<usize> = (0..10).collect();
    let mut all = Vec::new();
    for i in 1..=3 {
        let s = shard(&runs, i, 3).unwrap();
        assert!(s.len() == 3 || s.len() == 4);
        all.extend(s);
    }
    all.sort();
    assert_eq!(all, runs);
    assert_eq!(shard(&runs, 2, 3).unwrap(), vec![1, 4, 7]);
    assert_eq!(shard(&runs, 1, 1).unwrap(), runs);
    assert!(shard(&runs, 0, 3).is_err());
    assert!(shard(&runs, 4, 3).is_err());
    assert!(shard(&runs, 1, 0).is_err());
    assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
    assert!(parse_shard("5/4").is_err());
    assert!(parse_shard("two").is_err());
}

#[test]
fn clear_errors() {
    let head = format!("name = \"e\"\nbackbone = \"{ROBERTA}\"\ntasks = [\"sst2\"]\n");
    let e = err(&format!("{head}methods = [\"lora\", \"lorra\"]\n"));
    assert!(
        e.contains("methods[1]") && e.contains("unknown method `lorra`"),
        "{e}"
    );
    let e = err(&format!("{head}methods = [{{ preset = \"nope\" }}]\n"));
    assert!(
        e.contains("methods[0]") && e.contains("unknown method `nope`"),
        "{e}"
    );
    // Unknown fields, at every level, with the line.
    let e = err(&format!("{head}methods = [\"lora\"]\nseed = [1]\n"));
    assert!(
        e.contains("unknown field `seed`") && e.contains("line 5"),
        "{e}"
    );
    let e = err(&format!(
        "{head}methods = [\"lora\"]\n[train]\nlearning_rate = 1e-3\n"
    ));
    assert!(
        e.contains("train.learning_rate") || e.contains("unknown field `learning_rate`"),
        "{e}"
    );
    let e = err(&format!(
        "{head}methods = [{{ preset = \"lora\", budget = [[4]] }}]\n"
    ));
    assert!(
        e.contains("methods[0]") && e.contains("unknown field `budget`"),
        "{e}"
    );
    let e = err(&format!(
        "{head}methods = [{{ spec = {{ name = \"x\", modifications = [{{ form = {{ kind = \"bottleneck\", activation = \"gelu\" }}, at = [\"ffn\"], budget = 8 }}] }} }}]\n"
    ));
    assert!(
        e.contains("methods[0].spec") && e.contains("modifications.0.form.activation"),
        "{e}"
    );
    let e = err(&format!(
        "{head}[[grid]]\nform = {{ kind = \"bottleneck\", ack = \"relu\" }}\nat = [\"ffn\"]\nbudget = {{ knob = [8] }}\n"
    ));
    assert!(e.contains("grid[0].form") && e.contains("`ack`"), "{e}");
    let e = err(&format!(
        "{head}[[grid]]\nform = {{ kind = \"bottleneck\" }}\nat = [\"ffn\"]\n"
    ));
    assert!(e.contains("grid[0]") && e.contains("needs a budget"), "{e}");
    let e = err(&format!(
        "{head}methods = [\"lora\"]\n[train.task.colaa]\nlr = 1.0\n"
    ));
    assert!(e.contains("train.task.colaa") && e.contains("sst2"), "{e}");
    // A data set the experiment does not run is fine (its settings wait for it).
    exp(&format!(
        "{head}methods = [\"lora\"]\n[train.task.cola]\nlr = 1.0\n"
    ));
    let e = err(&format!(
        "{head}methods = [\"lora\"]\n[train]\nwarmup_ratio = 1.5\n"
    ));
    assert!(e.contains("warmup_ratio"), "{e}");
    let e = err(&format!("{head}methods = [\"lora\", \"lora\"]\n"));
    assert!(e.contains("same run"), "{e}");
    // Missing backbone config: only target budgets need it, and they say so.
    let missing = "name = \"m\"\nbackbone = \"models/no-such-model\"\ntasks = [\"sst2\"]\n";
    assert!(exp(&format!("{missing}methods = [\"lora\"]\n"))
        .expand()
        .is_ok());
    let e = err(&format!(
        "{missing}methods = [{{ preset = \"lora\", target_percent = [0.5] }}]\n"
    ));
    assert!(
        e.contains("methods[0]") && e.contains("models/no-such-model/config.json"),
        "{e}"
    );
    let e = Experiment::from_file(root().join("experiments/no-such-file.toml")).unwrap_err();
    assert!(format!("{e:#}").contains("no-such-file.toml"));
}

/// Every experiment file parses; those whose backbone config.json is here expand (the others
/// are expanded on a stand-in config of the same family from crates/model/tests/configs).
#[test]
fn experiment_files_parse_and_expand() {
    let dir = root().join("experiments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    // google/vit-base-patch16-224-in21k's dimensions (its config.json, labels aside).
    let tmp = tempfile::tempdir().unwrap();
    let vit = tmp.path().join("vit-base-patch16-224-in21k.json");
    std::fs::write(
        &vit,
        r#"{"model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 768,
            "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
            "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": true}"#,
    )
    .unwrap();
    let vit = vit.to_string_lossy().to_string();
    let stand_in = |b: &Path| -> Option<String> {
        let name = b.to_string_lossy().to_lowercase();
        let config = if name.contains("roberta") {
            "crates/model/tests/configs/roberta-base.json"
        } else if name.contains("bart") {
            "crates/model/tests/configs/bart-large.json"
        } else if name.contains("bert") {
            "crates/model/tests/configs/bert-base-uncased.json"
        } else if name.contains("vit") {
            &vit
        } else {
            return None;
        };
        Some(config.to_string())
    };
    for file in files {
        let e = Experiment::from_file_in(&file, root()).unwrap_or_else(|e| panic!("{e:#}"));
        let backbones: Vec<PathBuf> = e
            .tasks
            .iter()
            .filter_map(|t| match t {
                TaskEntry::Table(t) => t.backbone.clone(),
                _ => None,
            })
            .chain(e.backbone.as_slice().iter().cloned())
            .collect();
        let present = backbones
            .iter()
            .all(|b| config_path(&root().join(b)).is_file());
        if present {
            let runs = e
                .expand()
                .unwrap_or_else(|err| panic!("{}: {err:#}", file.display()));
            assert!(!runs.is_empty());
            println!("{}: {} runs", file.display(), runs.len());
            continue;
        }
        // Swap in a stand-in config where one exists, to check budgets and specs fit.
        let mut e2 = e.clone();
        let mut ok = true;
        let swap = |b: &PathBuf| stand_in(b).map(PathBuf::from);
        match e2
            .backbone
            .as_slice()
            .iter()
            .map(swap)
            .collect::<Option<Vec<_>>>()
        {
            Some(b) => e2.backbone = OneOrMany::Many(b),
            None => ok = false,
        }
        for t in &mut e2.tasks {
            if let TaskEntry::Table(t) = t {
                if let Some(b) = &t.backbone {
                    match swap(b) {
                        Some(s) => t.backbone = Some(s),
                        None => ok = false,
                    }
                }
            }
        }
        if ok {
            let runs = e2
                .expand()
                .unwrap_or_else(|err| panic!("{} (on stand-in configs): {err:#}", file.display()));
            println!(
                "{}: {} runs (on stand-in configs)",
                file.display(),
                runs.len()
            );
        } else {
            println!(
                "{}: parsed; not expanded (no config.json for {:?} here)",
                file.display(),
                backbones
            );
        }
    }
}
