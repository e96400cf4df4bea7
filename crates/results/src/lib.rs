//! Results of peftgrid sweeps, without Burn: the [`ResultRow`] a runner writes per (run,
//! evaluated split), the Parquet [`ResultStore`] (`results/<sweep>.parquet`, atomic whole-table
//! writes), [`merge`] of `--shard i/N` outputs, paper-style [`report()`]s (`table.md`,
//! `table.tex`, `comparison.md` beside [`published`] numbers, `score_vs_params.svg`/`.png`) and
//! [`check_regressions`] (per row) or [`check_regressions_grouped`] (per (task, method,
//! budget) group over seeds, what `peftgrid regress` prints) between two results files, and
//! [`findings()`]: published claims about the design space (a TOML table, He et al.'s and
//! UniPELT's by default) tested on a results file with paired bootstrap intervals
//! (`findings.md`, `findings.svg`).

pub mod bench;
pub mod chart;
mod error;
pub mod findings;
pub mod published;
pub mod regress;
pub mod report;
pub mod row;
pub mod store;

pub use chart::pareto_front;
pub use error::{Result, ResultsError};
pub use findings::{
    evaluate, findings, findings_markdown, findings_summary, write_findings, write_findings_md,
    write_findings_png, write_findings_svg, BestChoice, Column, Expect, Finding, FindingResult,
    FindingsReport, FindingsTable, Pair, PairRun, Selector, Side, Verdict,
};
pub use published::{Published, PublishedEntry};
pub use regress::{
    check_regressions, check_regressions_grouped, compare_files, compare_groups, compare_rows,
    Comparison, GroupChange, GroupComparison, GroupIssue, GroupKey, GroupSide, Regression,
    RegressionKind,
};
pub use report::{
    fmt_percent, lower_is_better, report, report_rows, report_with, thousands, ReportOptions,
    ReportSummary, SAMPLE_BANNER,
};
pub use row::{ResultRow, Status};
pub use store::{lock_path, merge, read_rows, write_rows, ResultStore, WriterLock, METRIC_PREFIX};
