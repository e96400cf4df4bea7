//! peftgrid's runner as a library: experiments (a grid of design points, expanded into runs with
//! stable ids), the training loop every task shares, the tasks, sweeps into Parquet results, and
//! the backends. The `peftgrid` binary (`main.rs`) parses its command line and calls these.
//!
//! - [`experiment`]: the experiment file (schema, hyperparameters), its expansion into
//!   [`experiment::RunSpec`]s, run ids and the dry-run table;
//! - [`train`]: one loop for every task (AdamW groups, schedule, clipping, accumulation,
//!   evaluation, selection, divergence);
//! - [`tasks`]: text classification/regression, image classification, seq2seq, each with the
//!   builder that reads its data;
//! - [`sweep`]: runs a grid, skipping what the results file has, writing rows, curves and adapters;
//! - [`backend`]: CPU (flex, ndarray) and GPU (cuda, wgpu) backends behind one `--backend`;
//! - the other modules are the subcommands' bodies, each with its `clap` arguments.

pub mod backend;
pub mod bench;
pub mod compare_torch;
pub mod convert;
pub mod data;
pub mod embed;
pub mod experiment;
pub mod forward;
pub mod generate;
pub mod methods;
pub mod rank_allocation;
pub mod results_cmd;
pub mod score;
pub mod slurm;
pub mod sweep;
pub mod tasks;
pub mod train;
