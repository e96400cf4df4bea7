//! `sweep --dry-run`: one line per run with its budget counted on the backbone's config.json.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use peftgrid_results::thousands;
use peftgrid_zoo::{count, BackboneShape, MethodSpec, ModificationSpec, Target};

use super::expand::{config_path, load_shape};
use super::run::{knob_label, RunSpec};
/// One line per run: index, id, task, method, budget knobs, trainable parameters (task head
/// excluded) and their % of the backbone, the % once merged (prefix MLPs dropped), seed, then the
/// method's modifications (form, options, budget, positions, insertion, composition) and
/// unfrozen groups. Counts come from each
/// backbone's config.json (relative paths from the current directory); "?" where it is missing.
pub fn dry_run_table(runs: &[RunSpec]) -> String {
    dry_run_table_in(Path::new(""), runs)
}

/// [`dry_run_table`] with backbones looked up under `root`.
pub fn dry_run_table_in(root: &Path, runs: &[RunSpec]) -> String {
    let mut shapes: HashMap<&Path, Option<BackboneShape>> = HashMap::new();
    let header = [
        "#",
        "id",
        "task",
        "method",
        "budget",
        "trainable",
        "%",
        "merged %",
        "seed",
        "design",
    ];
    let mut rows: Vec<[String; 10]> = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let shape = shapes
            .entry(run.backbone.as_path())
            .or_insert_with(|| load_shape(root, &run.backbone).ok().flatten());
        let counted = shape.as_ref().map(|s| count(&run.method, s));
        let (trainable, percent, merged) = match counted {
            Some(Ok(c)) => (
                thousands(c.trainable),
                format!("{:.4}", c.percent),
                format!("{:.4}", c.deployed_percent),
            ),
            Some(Err(e)) => (format!("error: {e}"), String::new(), String::new()),
            None => ("?".into(), "?".into(), "?".into()),
        };
        let mut budget = knob_label(&run.method);
        if budget.is_empty() {
            budget = "-".into();
        }
        if let Some(t) = run.target {
            budget.push_str(&match t {
                Target::Percent(p) => format!(" (≈{p}%)"),
                Target::Params(n) => format!(" (≈{})", thousands(n)),
            });
        }
        let mut task = run.task_name.clone();
        if run.task_name != run.task {
            task = format!("{task} ({})", run.task);
        }
        let mut method = run.method.name.clone();
        for (k, v) in &run.varied {
            method.push_str(&format!(" {k}={v}"));
        }
        rows.push([
            (i + 1).to_string(),
            run.id()[..8].to_string(),
            task,
            method,
            budget,
            trainable,
            percent,
            merged,
            run.seed.to_string(),
            design(&run.method),
        ]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let right = [
        true, false, false, false, false, true, true, true, true, false,
    ];
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut s = String::new();
        for (k, cell) in cells.iter().enumerate() {
            let pad = widths[k].saturating_sub(cell.chars().count());
            if k > 0 {
                s.push_str("  ");
            }
            if k == cells.len() - 1 {
                s.push_str(cell);
            } else if right[k] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    let backbones: std::collections::BTreeSet<_> = runs.iter().map(|r| &r.backbone).collect();
    let missing: Vec<String> = backbones
        .iter()
        .filter(|b| shapes.get(b.as_path()).is_some_and(Option::is_none))
        .map(|b| config_path(b).display().to_string())
        .collect();
    let _ = writeln!(
        out,
        "{} run(s); trainable excludes the task head; merged % counts a prefix as its keys and \
         values, not the MLP that trains them (He et al.'s budget)",
        runs.len()
    );
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "? = no config.json to count on: {}",
            missing.join(", ")
        );
    }
    out
}

/// The modifications and unfrozen groups of a method, on one line.
fn design(method: &MethodSpec) -> String {
    let mut parts: Vec<String> = method
        .modifications
        .iter()
        .map(ModificationSpec::to_string)
        .collect();
    if !method.unfreeze.is_empty() {
        let groups: Vec<String> = method.unfreeze.iter().map(|g| g.to_string()).collect();
        parts.push(format!("unfreeze {}", groups.join("+")));
    }
    if !method.train_head {
        parts.push("head frozen".into());
    } else if parts.is_empty() {
        parts.push("head only".into());
    }
    parts.join(" + ")
}

// ---------------------------------------------------------------------------------------------
