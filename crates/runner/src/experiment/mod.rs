//! Experiment files: a sweep over backbones, tasks, methods (presets, spec files, inline specs and
//! design-space grids), budgets, hyperparameters and seeds, written in TOML
//! (`experiments/*.toml`, schema in `experiments/README.md`), expanded into [`RunSpec`]s.
//!
//! - Expansion is deterministic: task, backbone, method (the `methods` list, then each `[[grid]]`
//!   block's points), budget, `[train.sweep]` point, seed.
//! - Target budgets (`target_percent`, `target_params`) are matched on the backbone's
//!   `config.json` alone with [`peftgrid_zoo::match_budget`]; no weights are read.
//! - A run's [`RunSpec::id`] is the sha256 of the canonical JSON of what the run trains (backbone,
//!   task, data folder, resolved method, seed, hyperparameters): rerunning an unchanged file gives
//!   the same ids, changing anything that is trained changes them. The experiment's name and the
//!   labels (task name, budget target, swept values) are not part of it.
//! - Every table of the file rejects unknown fields, including the method specs and forms written
//!   inline (the zoo's types tolerate them, so they are probed here): a typo is an error naming the
//!   file and the field, never a silently different experiment.
//!
//! Relative paths in a file (backbones, data folders, method files) are relative to the directory
//! the command runs in (the repository root), and are kept as written in the run specs so that ids
//! do not depend on where the checkout lives; [`Experiment::root`] is where they are looked up.
//!
//! One file per concern: [`schema`] (the tables), [`hyperparameters`], [`expand`] (file → runs),
//! [`run`] (a run, its id, shards) and [`dry_run`].

pub mod dry_run;
pub mod expand;
pub mod hyperparameters;
pub mod run;
pub mod schema;
#[cfg(test)]
mod tests;

pub use dry_run::{dry_run_table, dry_run_table_in};
pub use expand::{config_path, default_data_dir};
pub use hyperparameters::{
    Batching, Generation, Schedule, TrainConfig, TrainPatch, TrainSection, TrainSweep,
};
pub use run::{parse_shard, shard, RunSpec};
pub use schema::{
    BudgetAxis, Experiment, GridBlock, MethodEntry, MethodTable, OneOrMany, TaskEntry, TaskTable,
};
