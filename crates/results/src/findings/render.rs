//! `findings.md`: the table of verdicts, then per finding its pairs or what to run to cover it.

use std::fmt::Write as _;
use std::path::Path;

use super::{bootstrap, percent_text, Expect, FindingResult, MIN_PAIRS};
use crate::error::{Result, ResultsError};
use crate::report::{fixed, md_escape, signed, thousands, SAMPLE_BANNER};

/// Pairs listed per finding before "and N more".
const MAX_PAIRS_LISTED: usize = 60;

fn ci_text(r: &FindingResult) -> String {
    match r.interval {
        Some((lo, hi)) => format!("[{}, {}]", signed(lo, 2), signed(hi, 2)),
        None => "–".into(),
    }
}

fn mean_text(r: &FindingResult) -> String {
    r.mean.map_or_else(|| "–".into(), |m| signed(m, 2))
}

fn expect_text(r: &FindingResult) -> String {
    match r.finding.expect {
        Expect::ABetter => "a better than b (Δ > 0)".into(),
        Expect::ANotWorse => format!(
            "a not worse than b by more than {} point{} (Δ > {})",
            r.finding.margin,
            if r.finding.margin == 1.0 { "" } else { "s" },
            fixed(r.threshold(), 1)
        ),
    }
}

/// The table of verdicts alone (what `peftgrid findings` prints).
pub fn findings_summary(results: &[FindingResult]) -> String {
    let mut out = String::from(
        "| finding | claim | source | pairs | mean Δ | 95% CI | verdict |\n\
         | --- | --- | --- | ---: | ---: | --- | --- |\n",
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_escape(&r.finding.id),
            md_escape(&r.finding.claim),
            md_escape(&r.finding.source),
            r.pairs.len(),
            mean_text(r),
            ci_text(r),
            r.verdict
        );
    }
    if results.is_empty() {
        out.push_str("| (the findings table is empty) | | | | | | |\n");
    }
    out
}

/// The whole of `findings.md` for results of `title` (the sweeps), with the sample banner when
/// `sample`.
pub fn findings_markdown(results: &[FindingResult], title: &str, sample: bool) -> String {
    let mut out = format!("# Findings: {}\n\n", md_escape(title));
    if sample {
        let _ = writeln!(
            out,
            "> **{SAMPLE_BANNER}**: the verdicts are about these runs, not the papers' setting.\n"
        );
    }
    let _ = writeln!(
        out,
        "Each finding compares runs of side a with runs of side b of the same backbone, task, \
         split and seed, equal in the columns it holds fixed and, where it says so, with deployed \
         budgets within a tolerance (the closest budget when several match). Δ = a − b in points \
         of the task's main metric, sign-flipped for lower-is-better metrics so that Δ > 0 means \
         a is better. 95% CI: paired bootstrap percentile interval of the mean Δ over the pairs \
         ({} resamples, fixed seed). Verdicts: **holds** (the interval lies above 0, or above \
         −margin for \"not worse\"), **contradicted** (below it), **inconclusive** (it contains \
         it, or fewer than {MIN_PAIRS} pairs), **not covered** (no pairs; the section says which \
         runs to add). Only runs that finished ok count.\n",
        thousands(bootstrap::RESAMPLES)
    );
    out.push_str(&findings_summary(results));
    out.push('\n');
    for r in results {
        section(&mut out, r);
    }
    out
}

fn section(out: &mut String, r: &FindingResult) {
    let f = &r.finding;
    let _ = writeln!(out, "## {}: {}\n", md_escape(&f.id), r.verdict);
    let _ = writeln!(
        out,
        "{}. Source: {}.\n",
        md_escape(&f.claim),
        md_escape(&f.source)
    );
    let _ = writeln!(out, "- a: `{}`; b: `{}`", f.a.describe(), f.b.describe());
    let mut held = vec!["backbone", "task", "split", "seed"];
    held.extend(f.hold.iter().map(|c| c.name()));
    let mut fixed_line = format!("- held fixed: {}", held.join(", "));
    match f.budget_tolerance {
        Some(t) => {
            let _ = write!(
                fixed_line,
                "; deployed budgets within ±{}",
                percent_text(t * 100.0)
            );
        }
        None => fixed_line.push_str("; budgets not matched"),
    }
    let range = f.range_text();
    if !range.is_empty() {
        let _ = write!(fixed_line, "; only runs at {range} deployed");
    }
    let _ = writeln!(out, "{fixed_line}");
    let _ = writeln!(out, "- expected: {}", expect_text(r));
    let _ = writeln!(
        out,
        "- runs in range: {} of side a, {} of side b",
        r.a_runs, r.b_runs
    );
    let stats = match (r.mean, r.interval) {
        (Some(_), Some(_)) => format!(
            " ({} pair{}, mean Δ {}, 95% CI {})",
            r.pairs.len(),
            if r.pairs.len() == 1 { "" } else { "s" },
            mean_text(r),
            ci_text(r)
        ),
        _ => String::new(),
    };
    let _ = writeln!(out, "- verdict: **{}**: {}{stats}", r.verdict, r.reason);
    if r.unpaired_budget > 0 {
        let _ = writeln!(
            out,
            "- unpaired because of the budget: {} run{} of side a, e.g. {}",
            r.unpaired_budget,
            if r.unpaired_budget == 1 { "" } else { "s" },
            md_escape(r.unpaired_example.as_deref().unwrap_or(""))
        );
    }
    out.push('\n');
    if !r.best_of.is_empty() {
        out.push_str("Side b per task, the best candidate by mean score over its runs:\n\n");
        out.push_str("| backbone | task | chosen | mean | candidates (mean) |\n");
        out.push_str("| --- | --- | --- | ---: | --- |\n");
        for c in &r.best_of {
            let chosen = format!("{} {}", c.method, c.budgets);
            let all: Vec<String> = c
                .candidates
                .iter()
                .map(|(name, mean)| format!("{name} {}", fixed(*mean, 2)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} (n={}) | {} | {} |",
                md_escape(&c.backbone),
                md_escape(&c.task),
                md_escape(&c.split),
                md_escape(chosen.trim()),
                c.runs,
                fixed(c.mean, 2),
                md_escape(&all.join("; "))
            );
        }
        out.push('\n');
    }
    if !r.pairs.is_empty() {
        let several = r.pairs.iter().any(|p| p.backbone != r.pairs[0].backbone);
        let _ = writeln!(
            out,
            "| {}task | seed | a | b | a score | b score | Δ |\n| {}--- | ---: | --- | --- | ---: | ---: | ---: |",
            if several { "backbone | " } else { "" },
            if several { "--- | " } else { "" }
        );
        for p in r.pairs.iter().take(MAX_PAIRS_LISTED) {
            let run = |method: &str, budgets: &str, percent: f64| {
                md_escape(
                    format!("{method} {budgets} ({})", percent_text(percent))
                        .replace("  ", " ")
                        .as_str(),
                )
            };
            let _ = writeln!(
                out,
                "| {}{} ({}, {}) | {} | {} | {} | {} | {} | {} |",
                if several {
                    format!("{} | ", md_escape(&p.backbone))
                } else {
                    String::new()
                },
                md_escape(&p.task),
                md_escape(&p.split),
                md_escape(&p.metric),
                p.seed,
                run(&p.a.method, &p.a.budgets, p.a.percent),
                run(&p.b.method, &p.b.budgets, p.b.percent),
                fixed(p.a.value, 2),
                fixed(p.b.value, 2),
                signed(p.diff, 2)
            );
        }
        if r.pairs.len() > MAX_PAIRS_LISTED {
            let _ = writeln!(
                out,
                "\n… and {} more pairs.",
                r.pairs.len() - MAX_PAIRS_LISTED
            );
        }
        out.push('\n');
    }
    if !r.advice.is_empty() {
        out.push_str("Not covered. To cover it:\n\n");
        for a in &r.advice {
            let _ = writeln!(out, "- {}", md_escape(a));
        }
        out.push('\n');
    }
}

/// Writes `findings.md` (see [`findings_markdown`]).
pub fn write_findings_md(
    results: &[FindingResult],
    title: &str,
    sample: bool,
    path: &Path,
) -> Result<()> {
    std::fs::write(path, findings_markdown(results, title, sample))
        .map_err(|e| ResultsError::io(path, e))
}
