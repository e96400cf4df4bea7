//! Results of peftgrid sweeps, without Burn: the [`ResultRow`] a runner writes per (run,
//! evaluated split), the Parquet [`ResultStore`] (`results/<sweep>.parquet`, atomic whole-table
//! writes), [`merge`] of `--shard i/N` outputs, paper-style [`report()`]s (`table.md`,
//! `table.tex`, `comparison.md` beside [`published`] numbers, `score_vs_params.svg`/`.png`) and
//! [`check_regressions`] (per row) or [`check_regressions_grouped`] (per (task, method,
//! budget) group over seeds, what `peftgrid regress` prints) between two results files.

pub mod bench;
pub mod chart;
mod error;
pub mod published;
pub mod regress;
pub mod report;
pub mod row;
pub mod store;

pub use chart::pareto_front;
pub use error::{Result, ResultsError};
pub use published::{Published, PublishedEntry};
pub use regress::{
    check_regressions, check_regressions_grouped, compare_files, compare_groups, compare_rows,
    Comparison, GroupChange, GroupComparison, GroupIssue, GroupKey, GroupSide, Regression,
    RegressionKind,
};
pub use report::{
    fmt_percent, lower_is_better, report, report_rows, report_with, ReportOptions, ReportSummary,
    SAMPLE_BANNER,
};
pub use row::{ResultRow, Status};
pub use store::{lock_path, merge, read_rows, write_rows, ResultStore, WriterLock, METRIC_PREFIX};
