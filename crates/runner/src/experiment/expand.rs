//! From a checked file to runs: tasks and their data folders, methods (presets, files, inline
//! specs, grid points) with their budgets (fixed knobs, or targets matched on the backbone's
//! config.json), hyperparameter overrides and sweeps, seeds; in a fixed order, each run distinct.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use peftgrid_data::check::Dataset;
use peftgrid_model::config::ModelConfig;
use peftgrid_zoo::{count, match_budget, BackboneShape, MethodSpec, ModificationSpec, Target};

use super::hyperparameters::TrainPatch;
use super::run::RunSpec;
use super::schema::{deny_unknown, Experiment, GridBlock, MethodEntry, TaskEntry};
/// The config.json of a backbone path (a folder or the file itself).
pub fn config_path(backbone: &Path) -> PathBuf {
    if backbone.extension().is_some_and(|e| e == "json") {
        backbone.to_path_buf()
    } else {
        backbone.join("config.json")
    }
}

/// The backbone's shape from its config.json; `None` when there is no config.json.
pub(super) fn load_shape(root: &Path, backbone: &Path) -> Result<Option<BackboneShape>> {
    let path = config_path(&root.join(backbone));
    if !path.is_file() {
        return Ok(None);
    }
    let config = ModelConfig::from_path(&path)
        .with_context(|| format!("backbone `{}`", backbone.display()))?;
    Ok(Some(config.shape()))
}

/// How a method's budget knobs are chosen.
#[derive(Debug, Clone)]
enum Budgets {
    /// As the spec has them.
    Keep,
    /// Each list sets every knob.
    Fixed(Vec<Vec<usize>>),
    /// Knob `knob` matched to each target on the backbone.
    Targets(Vec<Target>, usize),
}

/// A method of the experiment before budgets: where it is in the file, its spec, its budgets.
#[derive(Debug, Clone)]
struct MethodSource {
    origin: String,
    spec: MethodSpec,
    budgets: Budgets,
    train: Option<TrainPatch>,
}

fn parse_targets(
    percent: &Option<Vec<f64>>,
    params: &Option<Vec<usize>>,
) -> Result<Option<Vec<Target>>> {
    Ok(match (percent, params) {
        (Some(_), Some(_)) => bail!("give target_percent or target_params, not both"),
        (Some(p), None) => {
            for &v in p {
                ensure!(
                    v > 0.0 && v.is_finite(),
                    "target_percent: {v} is not a positive %"
                );
            }
            Some(p.iter().map(|&v| Target::Percent(v)).collect())
        }
        (None, Some(n)) => {
            ensure!(n.iter().all(|&v| v > 0), "target_params: must be positive");
            Some(n.iter().map(|&v| Target::Params(v)).collect())
        }
        (None, None) => None,
    })
}

/// A method spec file (JSON or TOML), with unknown fields refused.
fn read_method_file(path: &Path, shown: &Path) -> Result<MethodSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("method file `{}`", shown.display()))?;
    let value: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text)?
    } else {
        serde_json::to_value(toml::from_str::<toml::Table>(&text)?)?
    };
    deny_unknown::<MethodSpec>(&value, &format!("method file `{}`", shown.display()))?;
    Ok(MethodSpec::parse(&text, &shown.display().to_string())?)
}

/// `path` without `.` components or a trailing separator, so equal paths give equal ids.
fn normalise(path: &Path) -> PathBuf {
    let p: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

/// Where a data set lives when the experiment does not say (as `peftgrid data check`).
pub fn default_data_dir(dataset: Dataset) -> PathBuf {
    dataset.layout().default_dir
}

/// A task entry, resolved.
struct Task {
    dataset: Dataset,
    name: String,
    data_dir: PathBuf,
    backbones: Vec<PathBuf>,
}

impl Experiment {
    /// Checks what can be checked without the backbone: names, tasks, seeds, hyperparameters,
    /// presets and spec files, grid axes.
    pub fn check(&self) -> Result<()> {
        ensure!(
            !self.name.is_empty()
                && self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "field `name`: `{}` must be letters, digits, `-`, `_` or `.` (results go to results/<name>.parquet)",
            self.name
        );
        ensure!(
            !self.backbone.as_slice().is_empty(),
            "field `backbone`: empty list"
        );
        ensure!(!self.tasks.is_empty(), "field `tasks`: no task given");
        ensure!(!self.seeds.is_empty(), "field `seeds`: no seed given");
        let mut seen = std::collections::HashSet::new();
        for s in &self.seeds {
            ensure!(seen.insert(s), "field `seeds`: {s} is listed twice");
        }
        ensure!(
            !self.methods.is_empty() || !self.grid.is_empty(),
            "no methods: give `methods = [...]` and/or `[[grid]]` blocks"
        );
        let tasks = self.tasks()?;
        self.train.base().check().context("field `train`")?;
        // A key names a task or a data set; one for a data set the experiment does not run is
        // kept (settings ready for when the task is added), anything else is a typo.
        for key in self.train.task.keys() {
            let matches = key.parse::<Dataset>().is_ok() || tasks.iter().any(|t| t.name == *key);
            ensure!(
                matches,
                "field `train.task.{key}`: neither a task of the experiment nor a data set (tasks: {})",
                tasks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.train.sweep.points()?;
        self.method_sources()?;
        Ok(())
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        let mut out: Vec<Task> = Vec::new();
        for (i, entry) in self.tasks.iter().enumerate() {
            let (task, name, dir, backbone) = match entry {
                TaskEntry::Name(t) => (t.as_str(), None, None, None),
                TaskEntry::Table(t) => (
                    t.task.as_str(),
                    t.name.clone(),
                    t.data_dir.clone(),
                    t.backbone.clone(),
                ),
            };
            let dataset: Dataset = task
                .parse()
                .with_context(|| format!("field `tasks[{i}]`"))?;
            let name = name.unwrap_or_else(|| dataset.to_string());
            ensure!(
                !out.iter().any(|t| t.name == name),
                "field `tasks[{i}]`: a second task called `{name}` (give one a `name`)"
            );
            let data_dir = dir
                .or_else(|| self.data_dir.clone())
                .unwrap_or_else(|| default_data_dir(dataset));
            let backbones = match backbone {
                Some(b) => vec![normalise(&b)],
                None => self
                    .backbone
                    .as_slice()
                    .iter()
                    .map(|b| normalise(b))
                    .collect(),
            };
            out.push(Task {
                dataset,
                name,
                data_dir: normalise(&data_dir),
                backbones,
            });
        }
        Ok(out)
    }

    /// Loads a method argument (`NAME`, `NAME:B..`, or a spec file under the root).
    fn method_arg(&self, arg: &str) -> Result<MethodSpec> {
        if arg.ends_with(".toml") || arg.ends_with(".json") {
            read_method_file(&self.root.join(arg), Path::new(arg))
        } else {
            Ok(MethodSpec::from_arg(arg)?)
        }
    }

    /// Every method of the file, in order, before budgets are applied.
    fn method_sources(&self) -> Result<Vec<MethodSource>> {
        let mut out = Vec::new();
        for (i, entry) in self.methods.iter().enumerate() {
            let origin = format!("methods[{i}]");
            let source = self
                .method_source(entry, &origin)
                .with_context(|| format!("field `{origin}`"))?;
            out.push(source);
        }
        for (j, block) in self.grid.iter().enumerate() {
            let origin = format!("grid[{j}]");
            out.extend(
                self.grid_sources(block, &origin)
                    .with_context(|| format!("field `{origin}`"))?,
            );
        }
        Ok(out)
    }

    fn method_source(&self, entry: &MethodEntry, origin: &str) -> Result<MethodSource> {
        let table = match entry {
            MethodEntry::Arg(arg) => {
                return Ok(MethodSource {
                    origin: origin.to_string(),
                    spec: self.method_arg(arg)?,
                    budgets: Budgets::Keep,
                    train: None,
                })
            }
            MethodEntry::Table(t) => t,
        };
        let mut spec = match (&table.preset, &table.file, &table.spec) {
            (Some(p), None, None) => self.method_arg(p)?,
            (None, Some(f), None) => read_method_file(&self.root.join(f), f)?,
            (None, None, Some(s)) => {
                s.check()?;
                s.clone()
            }
            _ => bail!("give exactly one of `preset`, `file` and `spec`"),
        };
        if let Some(name) = &table.name {
            spec.name = name.clone();
        }
        let targets = parse_targets(&table.target_percent, &table.target_params)?;
        let budgets = match (&table.budgets, targets) {
            (Some(_), Some(_)) => bail!("give `budgets` or a target, not both"),
            (Some(b), None) => {
                ensure!(!b.is_empty(), "budgets: empty list");
                for knobs in b {
                    spec.clone().with_budgets(knobs)?.check()?;
                }
                Budgets::Fixed(b.clone())
            }
            (None, Some(t)) => {
                let knobs = spec.budgets().len();
                ensure!(
                    table.knob < knobs,
                    "knob {} asked for, but `{}` has {knobs} budget knob(s)",
                    table.knob,
                    spec.name
                );
                Budgets::Targets(t, table.knob)
            }
            (None, None) => {
                ensure!(table.knob == 0, "`knob` is only used with a target");
                Budgets::Keep
            }
        };
        Ok(MethodSource {
            origin: origin.to_string(),
            spec,
            budgets,
            train: table.train.clone(),
        })
    }

    fn grid_sources(&self, block: &GridBlock, origin: &str) -> Result<Vec<MethodSource>> {
        let forms = block.form.as_slice();
        let inserts = block.insertion.as_slice();
        let comps = block.composition.as_slice();
        for (axis, n) in [
            ("form", forms.len()),
            ("at", block.at.len()),
            ("insertion", inserts.len()),
            ("composition", comps.len()),
        ] {
            ensure!(n > 0, "`{axis}`: empty list");
        }
        let base = match &block.base {
            Some(arg) => self.method_arg(arg).context("`base`")?,
            None => MethodSpec::new(""),
        };
        let base_knobs = base.budgets();
        let axis = block.budget.clone().unwrap_or_default();
        let targets = parse_targets(&axis.target_percent, &axis.target_params)?;
        let knob_values = match (&axis.knob, &targets) {
            (Some(_), Some(_)) => bail!("`budget`: give `knob` or a target, not both"),
            (Some(k), None) => {
                ensure!(!k.is_empty(), "`budget.knob`: empty list");
                Some(k.clone())
            }
            _ => None,
        };
        let mut out = Vec::new();
        for (f, form) in forms.iter().enumerate() {
            let has_knob = form.knob().is_some();
            match (has_knob, knob_values.is_some() || targets.is_some()) {
                (true, false) => bail!(
                    "form `{}` needs a budget (its {}): budget = {{ knob = [...] }} or {{ target_percent = [...] }}",
                    form.name(),
                    form.knob().unwrap_or("knob")
                ),
                (false, true) => bail!("form `{}` has no budget knob, but `budget` is given", form.name()),
                _ => {}
            }
            // Several forms of one kind in a block are told apart by their index.
            let same_kind = forms.iter().filter(|g| g.name() == form.name()).count() > 1;
            let stem = match (&block.name, forms.len() > 1) {
                (Some(n), false) => n.clone(),
                (Some(n), true) if same_kind => format!("{n}.{}{f}", form.name()),
                (Some(n), true) => format!("{n}.{}", form.name()),
                (None, _) if same_kind => format!("{}{f}", form.name()),
                (None, _) => form.name().to_string(),
            };
            for at in &block.at {
                let at = at.as_slice();
                ensure!(!at.is_empty(), "`at`: an empty list of positions");
                for &insertion in inserts {
                    for composition in comps {
                        let mut m = ModificationSpec::new(form.clone(), at)
                            .insertion(insertion)
                            .composition(*composition);
                        if has_knob {
                            m = m.budget(knob_values.as_ref().map_or(1, |k| k[0]));
                        }
                        // The zoo's one text of a placement: `q+v/parallel/scaled(s=4.0)`.
                        let name = format!("{stem}@{}", m.placement_label());
                        let mut spec = base.clone();
                        spec.name = match &block.base {
                            Some(b) => format!("{b}+{name}"),
                            None => name,
                        };
                        spec.modifications.push(m);
                        spec.unfreeze.extend(block.unfreeze.iter().copied());
                        spec.train_head = spec.train_head && block.train_head;
                        if let Err(e) = spec.check() {
                            if block.skip_invalid {
                                continue;
                            }
                            bail!(
                                "{}: {e} (set skip_invalid = true to leave such points out)",
                                spec.name
                            );
                        }
                        let budgets = match (&knob_values, &targets) {
                            (Some(k), _) => {
                                let all = k
                                    .iter()
                                    .map(|&v| {
                                        let mut b = base_knobs.clone();
                                        b.push(v);
                                        b
                                    })
                                    .collect();
                                Budgets::Fixed(all)
                            }
                            (None, Some(t)) => Budgets::Targets(t.clone(), base_knobs.len()),
                            (None, None) => Budgets::Keep,
                        };
                        out.push(MethodSource {
                            origin: origin.to_string(),
                            spec,
                            budgets,
                            train: block.train.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every run, in order: task, backbone, method, budget, `[train.sweep]` point, seed.
    pub fn expand(&self) -> Result<Vec<RunSpec>> {
        let tasks = self.tasks()?;
        let sources = self.method_sources()?;
        let points = self.train.sweep.points()?;
        let mut shapes: HashMap<PathBuf, Option<BackboneShape>> = HashMap::new();
        let mut runs = Vec::new();
        for task in &tasks {
            let mut task_train = self.train.base();
            // The data set's overrides, then those under the task's own name.
            for (key, patch) in &self.train.task {
                if key.parse::<Dataset>().is_ok_and(|d| d == task.dataset) && *key != task.name {
                    patch.apply(&mut task_train);
                }
            }
            if let Some(patch) = self.train.task.get(&task.name) {
                patch.apply(&mut task_train);
            }
            for backbone in &task.backbones {
                if !shapes.contains_key(backbone) {
                    let shape = load_shape(&self.root, backbone)?;
                    shapes.insert(backbone.clone(), shape);
                }
                let shape = shapes[backbone].as_ref();
                for source in &sources {
                    let variants = resolve_budgets(source, shape, backbone)
                        .with_context(|| format!("field `{}`", source.origin))?;
                    for (method, target) in variants {
                        for point in &points {
                            let mut train = task_train.clone();
                            if let Some(patch) = &source.train {
                                patch.apply(&mut train);
                            }
                            point.apply(&mut train);
                            train.check().with_context(|| {
                                format!("hyperparameters of {} on {}", method.name, task.name)
                            })?;
                            let varied = match serde_json::to_value(point)? {
                                serde_json::Value::Object(m) => m.into_iter().collect(),
                                _ => BTreeMap::new(),
                            };
                            for &seed in &self.seeds {
                                runs.push(RunSpec {
                                    sweep: self.name.clone(),
                                    backbone: backbone.clone(),
                                    task: task.dataset.to_string(),
                                    task_name: task.name.clone(),
                                    data_dir: task.data_dir.clone(),
                                    method: method.clone(),
                                    target,
                                    varied: varied.clone(),
                                    seed,
                                    train: train.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        check_distinct(&runs)?;
        Ok(runs)
    }
}

/// The methods a source runs at, each with the target it was matched to.
fn resolve_budgets(
    source: &MethodSource,
    shape: Option<&BackboneShape>,
    backbone: &Path,
) -> Result<Vec<(MethodSpec, Option<Target>)>> {
    let fits = |m: &MethodSpec| -> Result<()> {
        if let Some(shape) = shape {
            count(m, shape).with_context(|| {
                format!("{} does not fit backbone `{}`", m.name, backbone.display())
            })?;
        }
        Ok(())
    };
    match &source.budgets {
        Budgets::Keep => {
            fits(&source.spec)?;
            Ok(vec![(source.spec.clone(), None)])
        }
        Budgets::Fixed(all) => all
            .iter()
            .map(|knobs| {
                let m = source.spec.clone().with_budgets(knobs)?;
                m.check()?;
                fits(&m)?;
                Ok((m, None))
            })
            .collect(),
        Budgets::Targets(targets, knob) => {
            let Some(shape) = shape else {
                bail!(
                    "target budgets are matched on the backbone's config.json, and there is none at {} \
                     (download the checkpoint, point `backbone` at a folder or config.json that exists, \
                     or give `budgets`/`knob` values instead)",
                    config_path(backbone).display()
                );
            };
            targets
                .iter()
                .map(|&t| {
                    let (m, _) = match_budget(&source.spec, shape, t, *knob)?;
                    Ok((m, Some(t)))
                })
                .collect()
        }
    }
}

/// Two runs with one id train the same thing; two different methods with one name would be
/// indistinguishable in results.
fn check_distinct(runs: &[RunSpec]) -> Result<()> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<(&str, &str), &MethodSpec> = HashMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(&j) = ids.get(&run.id()) {
            bail!(
                "runs {} and {} are the same run ({}): a method, budget or task is listed twice{}",
                j + 1,
                i + 1,
                run.short_label(),
                match (runs[j].target, run.target) {
                    (Some(a), Some(b)) => format!(" (targets {a} and {b} match the same budget)"),
                    _ => String::new(),
                }
            );
        }
        ids.insert(run.id(), i);
        let key = (
            run.method.name.as_str(),
            run.backbone.to_str().unwrap_or(""),
        );
        if let Some(other) = names.get(&key) {
            let same_but_budget = {
                let strip = |m: &MethodSpec| {
                    let mut m = m.clone();
                    m.modifications.iter_mut().for_each(|x| x.budget = None);
                    m
                };
                strip(other) == strip(&run.method)
            };
            ensure!(
                same_but_budget,
                "two different methods are both called `{}`: give them distinct names",
                run.method.name
            );
        } else {
            names.insert(key, &run.method);
        }
    }
    Ok(())
}
