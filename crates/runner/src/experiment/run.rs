//! One run, resolved ([`RunSpec`]), its id and label, and how a list of runs is sharded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, ensure, Result};
use peftgrid_data::check::Dataset;
use peftgrid_zoo::{MethodSpec, Target};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::hyperparameters::TrainConfig;
/// One run of a sweep, fully resolved: what the training loop needs and nothing to look up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The experiment's name (results/<sweep>.parquet).
    pub sweep: String,
    pub backbone: PathBuf,
    /// The data set, canonical (`glue/sst2`).
    pub task: String,
    /// The task's label (its `name`, else `task`).
    pub task_name: String,
    pub data_dir: PathBuf,
    /// The method with every budget knob set.
    pub method: MethodSpec,
    /// The budget target the knob was matched to, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The hyperparameters `[train.sweep]` set for this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub varied: BTreeMap<String, serde_json::Value>,
    pub seed: u64,
    pub train: TrainConfig,
}

impl RunSpec {
    /// Hex sha256 of the canonical JSON (keys sorted, nulls dropped, floats in shortest
    /// round-trip form) of what the run trains: backbone, task, data folder, method, seed and
    /// hyperparameters. Labels (sweep, task name, target, varied) are left out, and so are
    /// hyperparameters at their default value: adding a hyperparameter to [`TrainConfig`] whose
    /// default keeps the old behaviour keeps every existing id (the zoo's specs likewise skip
    /// default options). Changing a default in code, by the same token, does not change ids.
    pub fn id(&self) -> String {
        let mut train = json_value(&self.train);
        let defaults = json_value(&TrainConfig::default());
        if let (Some(t), Some(d)) = (train.as_object_mut(), defaults.as_object()) {
            // `batching` stays even at its default: that default changed from bucketed to
            // random, and a results file's rows trained the old way must not pass for new runs.
            t.retain(|k, v| k == "batching" || d.get(k) != Some(v));
        }
        let key = serde_json::json!({
            "backbone": self.backbone,
            "task": self.task,
            "data_dir": self.data_dir,
            "method": self.method,
            "seed": self.seed,
            "train": train,
        });
        let mut text = String::new();
        canonical_json(&key, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The run as JSON: what a results row stores to rerun it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a run's settings serialise to JSON")
    }

    /// `sst2 · lora r=8 · lr=0.0003 · seed 42` (with the backbone's folder name in front).
    pub fn short_label(&self) -> String {
        let backbone = self
            .backbone
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_default();
        let mut parts = vec![backbone, self.task_name.clone(), self.method.name.clone()];
        let knobs = knob_label(&self.method);
        if !knobs.is_empty() {
            parts.push(knobs);
        }
        for (k, v) in &self.varied {
            parts.push(format!("{k}={v}"));
        }
        parts.push(format!("seed {}", self.seed));
        parts.join(" · ")
    }

    /// The data set.
    pub fn dataset(&self) -> Result<Dataset> {
        Ok(self.task.parse()?)
    }
}

/// A run's parts as JSON. They cannot fail to serialise: their maps have string keys, and their
/// paths come from TOML strings (always UTF-8) or from the workspace.
fn json_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("a run's settings serialise to JSON")
}

/// `r=8`, `l=16,r=16`: the method's budget knobs with their names.
pub(super) fn knob_label(method: &MethodSpec) -> String {
    method
        .modifications
        .iter()
        .filter_map(|m| Some(format!("{}={}", m.form.knob()?, m.budget?)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes `v` with object keys sorted and null members dropped; numbers as serde_json prints them
/// (integers exactly, floats in the shortest form that reads back to the same f64; -0 as 0).
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&v.to_string()),
        // serde_json writes floats in ryu's shortest round-trip form (4.0, 0.0001, 1e-8).
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f == 0.0 => out.push_str("0.0"),
            _ => out.push_str(&v.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// The runs of shard `i` of `n` (1-based), round-robin by index: runs i−1, i−1+n, ...
pub fn shard<T: Clone>(runs: &[T], i: usize, n: usize) -> Result<Vec<T>> {
    ensure!(
        n >= 1,
        "--shard {i}/{n}: the number of shards must be at least 1"
    );
    ensure!(
        (1..=n).contains(&i),
        "--shard {i}/{n}: the shard must be in 1..={n}"
    );
    Ok(runs.iter().skip(i - 1).step_by(n).cloned().collect())
}

/// Parses `i/N` (`--shard 2/4`).
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parse = || -> Option<(usize, usize)> {
        let (i, n) = text.trim().split_once('/')?;
        Some((i.trim().parse().ok()?, n.trim().parse().ok()?))
    };
    let (i, n) = parse().ok_or_else(|| anyhow!("--shard `{text}`: expected i/N, e.g. 2/4"))?;
    shard::<()>(&[], i, n)?;
    Ok((i, n))
}
