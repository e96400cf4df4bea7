//! The experiment file's schema: the TOML tables and what each field means, read with the path of
//! a wrong field in its error. The zoo's types read inline (method specs, forms, compositions) do
//! not deny unknown fields, so they are probed here: a typo is an error naming the field.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, ensure, Context, Result};
use peftgrid_zoo::{Composition, Form, Insertion, MethodSpec, ParamGroup, Position};
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::hyperparameters::{TrainPatch, TrainSection};

// serde's `default` and `skip_serializing_if` helpers.
fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
/// One value or a list of them (`backbone = "models/x"` or `backbone = ["models/x", "models/y"]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

impl<T> From<T> for OneOrMany<T> {
    fn from(v: T) -> Self {
        OneOrMany::One(v)
    }
}

/// A task: `"glue/sst2"`, or a table naming its data folder, a label and a backbone of its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TaskEntry {
    Name(String),
    Table(TaskTable),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTable {
    /// The data set (`peftgrid_data::check::Dataset`): `glue/sst2`, `xsum`, `wmt16`, `cifar100`,
    /// `fgvc/cub`, ...
    pub task: String,
    /// A label for results and `[train.task.<name>]` (default: the data set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Replaces the experiment's backbone(s) for this task (BART for XSum, mBART for en-ro).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<PathBuf>,
}

/// A method: `"lora"`, `"mam:16,16"`, `"path/spec.toml"`, or a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MethodEntry {
    Arg(String),
    Table(Box<MethodTable>),
}

/// A method from exactly one of `preset`, `file` and `spec`, with the budgets to run it at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodTable {
    /// `NAME` or `NAME:B1,B2` (`peftgrid methods` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A method spec file (JSON or TOML, as `peftgrid methods --json` prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// A method spec written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MethodSpec>,
    /// Renames the method (its label in results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Budget knobs to run, one list per run, each in the method's knob order (`[[16, 16]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Vec<Vec<usize>>>,
    /// Set knob `knob` so that the trainable parameters come closest to each % of the backbone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<Vec<f64>>,
    /// Likewise for a parameter count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_params: Option<Vec<usize>>,
    /// Which knob the targets set (0: the first modification that has one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub knob: usize,
    /// Hyperparameters of this method's runs (over `[train]` and the task's overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainPatch>,
}

/// A design-space grid: one modification, every combination of the listed forms, positions,
/// insertions, compositions and budgets (each a value or a list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridBlock {
    /// Prefix of the generated method names (default: the form's kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A method (`NAME`, `NAME:B1,..`, a spec file) the grid's modification is added to, e.g.
    /// `"prefix:30"` for MAM-like unions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub form: OneOrMany<Form>,
    /// Each entry is one point of the axis: a position, or a list of positions that one
    /// modification occupies together (`["q", "v"]`).
    pub at: Vec<OneOrMany<Position>>,
    #[serde(default = "default_insertion")]
    pub insertion: OneOrMany<Insertion>,
    #[serde(default = "default_composition")]
    pub composition: OneOrMany<Composition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetAxis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfreeze: Vec<ParamGroup>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub train_head: bool,
    /// Leave out combinations the design space does not allow (a bottleneck at `input`, ...)
    /// instead of failing on them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_invalid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainPatch>,
}

fn default_insertion() -> OneOrMany<Insertion> {
    OneOrMany::One(Insertion::default())
}

fn default_composition() -> OneOrMany<Composition> {
    OneOrMany::One(Composition::default())
}

/// A grid's budget axis: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetAxis {
    /// Knob values (r, l, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knob: Option<Vec<usize>>,
    /// Trainable parameters as % of the backbone, matched on its config.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_params: Option<Vec<usize>>,
}

/// An experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Results go to `results/<name>.parquet`: letters, digits, `-`, `_`, `.`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A Hugging Face folder (or its config.json), or a list of them to sweep.
    pub backbone: OneOrMany<PathBuf>,
    pub tasks: Vec<TaskEntry>,
    /// The data folder of every task that names none (default: `datasets/glue`,
    /// `datasets/xsum`, `datasets/wmt16`, `datasets/cifar100`, `datasets/fgvc/<set>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<MethodEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<GridBlock>,
    #[serde(default)]
    pub train: TrainSection,
    /// Where relative paths are looked up (not part of the file; empty: the current directory).
    #[serde(skip)]
    pub root: PathBuf,
}

fn default_seeds() -> Vec<u64> {
    vec![42]
}

// Strings or tables / values or lists, with the errors of the variant that was written (serde's
// untagged enums only say "did not match any variant").

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or a list of values")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::deserialize(IntoDeserializer::<E>::into_deserializer(v)).map(OneOrMany::One)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// `"text"` → `S::from(text)`, `{ ... }` → `M`.
struct StringOrTable<S, M>(&'static str, PhantomData<(S, M)>);

impl<'de, S: From<String>, M: Deserialize<'de>> Visitor<'de> for StringOrTable<S, M> {
    type Value = Result<S, M>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(S::from(v.to_string())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(Err)
    }
}

impl<'de> Deserialize<'de> for TaskEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(StringOrTable::<String, TaskTable>(
            "a data set (\"glue/sst2\") or a table { task = ..., data_dir = ..., name = ..., backbone = ... }",
            PhantomData,
        ))?;
        Ok(v.map_or_else(TaskEntry::Table, TaskEntry::Name))
    }
}

impl<'de> Deserialize<'de> for MethodEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(StringOrTable::<String, MethodTable>(
            "a method (\"lora\", \"mam:16,16\", \"spec.toml\") or a table with one of preset, file, spec",
            PhantomData,
        ))?;
        Ok(v.map_or_else(|t| MethodEntry::Table(Box::new(t)), MethodEntry::Arg))
    }
}

/// Reports fields of `input` that deserialising `T` ignores. The zoo's types do not deny unknown
/// fields, so each member that is missing when the parsed value is written back is probed: if
/// the document still parses with that member set to a value no field accepts, nothing read it.
fn unknown_fields<T: DeserializeOwned + Serialize>(input: &serde_json::Value) -> Vec<String> {
    let Ok(parsed) = serde_json::from_value::<T>(input.clone()) else {
        return Vec::new();
    };
    // A value just parsed from JSON writes back to JSON (string keys, no non-UTF-8 paths).
    let output = serde_json::to_value(&parsed).expect("a parsed spec serialises to JSON");
    let mut found = Vec::new();
    probe::<T>(input, input, &output, String::new(), &mut found);
    found
}

fn probe<T: DeserializeOwned>(
    root: &serde_json::Value,
    input: &serde_json::Value,
    output: &serde_json::Value,
    pointer: String,
    found: &mut Vec<String>,
) {
    use serde_json::Value;
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = format!("{pointer}/{}", escape(k));
                match b.get(k) {
                    Some(w) => probe::<T>(root, v, w, here, found),
                    None => {
                        let mut changed = root.clone();
                        if let Some(slot) = changed.pointer_mut(&here) {
                            *slot = Value::String("\u{1}not a value\u{1}".into());
                        }
                        if serde_json::from_value::<T>(changed).is_ok() {
                            found.push(
                                here.trim_start_matches('/')
                                    .replace('/', ".")
                                    .replace("~1", "/")
                                    .replace("~0", "~"),
                            );
                        }
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                probe::<T>(root, v, w, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Fails when `input` has fields `T` does not read; `at` names where `input` sits.
pub(super) fn deny_unknown<T: DeserializeOwned + Serialize>(
    input: &serde_json::Value,
    at: &str,
) -> Result<()> {
    let unknown = unknown_fields::<T>(input);
    ensure!(
        unknown.is_empty(),
        "{at}: unknown field(s) {} (not read by peftgrid; check the spelling)",
        unknown
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

impl Experiment {
    /// Reads and checks an experiment file; relative paths in it are relative to the current
    /// directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Experiment> {
        Self::from_file_in(path, "")
    }

    /// [`Experiment::from_file`] with relative paths looked up under `root`.
    pub fn from_file_in(path: impl AsRef<Path>, root: impl Into<PathBuf>) -> Result<Experiment> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        Self::parse_in(&text, root).with_context(|| format!("experiment file {}", path.display()))
    }

    /// Parses and checks the text of an experiment file (paths relative to the current
    /// directory).
    pub fn parse(text: &str) -> Result<Experiment> {
        Self::parse_in(text, "")
    }

    /// [`Experiment::parse`] with relative paths looked up under `root`.
    pub fn parse_in(text: &str, root: impl Into<PathBuf>) -> Result<Experiment> {
        let de = toml::Deserializer::parse(text).map_err(|e| anyhow!("{e}"))?;
        let exp: Experiment = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            let message = message.trim_end();
            if path == "." || path.is_empty() {
                anyhow!("{message}")
            } else {
                anyhow!("field `{path}`: {message}")
            }
        })?;
        // The zoo's types read inline here do not deny unknown fields: probe them.
        let raw = serde_json::to_value(toml::from_str::<toml::Table>(text)?)?;
        if let Some(methods) = raw.get("methods").and_then(|m| m.as_array()) {
            for (i, m) in methods.iter().enumerate() {
                if let Some(spec) = m.get("spec") {
                    deny_unknown::<MethodSpec>(spec, &format!("field `methods[{i}].spec`"))?;
                }
            }
        }
        if let Some(grid) = raw.get("grid").and_then(|g| g.as_array()) {
            for (j, g) in grid.iter().enumerate() {
                if let Some(v) = g.get("form") {
                    deny_unknown::<OneOrMany<Form>>(v, &format!("field `grid[{j}].form`"))?;
                }
                if let Some(v) = g.get("composition") {
                    deny_unknown::<OneOrMany<Composition>>(
                        v,
                        &format!("field `grid[{j}].composition`"),
                    )?;
                }
            }
        }
        let exp = exp.with_root(root);
        exp.check()?;
        Ok(exp)
    }

    /// Sets where relative paths are looked up.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// The file's TOML (round-trips through [`Experiment::parse`]).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string(self)?)
    }
}
