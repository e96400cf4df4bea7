//! Pairing the runs of a finding's two sides: same (backbone, task, split, seed, metric), equal
//! held columns, budgets within the tolerance, the closest budget when several match; `best_of`
//! candidates chosen per task; what to run when nothing pairs.

use std::collections::BTreeSet;

use super::schema::{budgets_match, Finding};
use super::{BestChoice, Pair, PairRun};
use crate::report::{fmt_percent, lower_is_better};
use crate::row::{ResultRow, Status};

/// Advice lines listed before "and N more".
const MAX_ADVICE: usize = 8;

/// What pairing found for one finding.
pub(super) struct Outcome {
    pub(super) pairs: Vec<Pair>,
    pub(super) unpaired_budget: usize,
    pub(super) unpaired_example: Option<String>,
    pub(super) best_of: Vec<BestChoice>,
    pub(super) a_runs: usize,
    pub(super) b_runs: usize,
    pub(super) advice: Vec<String>,
}

/// The main score with the sign that makes higher better.
fn better_score(r: &ResultRow) -> f64 {
    let v = r.main_value().unwrap_or(f64::NAN);
    if lower_is_better(&r.main_metric) {
        -v
    } else {
        v
    }
}

fn usable(r: &ResultRow) -> bool {
    r.status == Status::Ok && r.main_value().is_some_and(f64::is_finite)
}

/// `adapter@ffn/parallel/add 64 (1.31%) on glue/sst2 seed 42`.
pub(super) fn run_text(r: &ResultRow) -> String {
    let name = format!("{} {}", r.method, r.budgets);
    format!(
        "{} ({}%) on {} seed {}",
        name.trim(),
        fmt_percent(r.budget_percent()),
        r.task,
        r.seed
    )
}

fn pair_run(r: &ResultRow) -> PairRun {
    PairRun {
        run_id: r.run_id.clone(),
        method: r.method.clone(),
        budgets: r.budgets.clone(),
        percent: r.budget_percent(),
        value: r.main_value().unwrap_or(f64::NAN),
    }
}

fn same_place(a: &ResultRow, b: &ResultRow) -> bool {
    a.backbone == b.backbone && a.task == b.task && a.split == b.split
}

/// Pairs the runs of `f`'s sides among `rows` (see the module documentation).
pub(super) fn pair(rows: &[ResultRow], f: &Finding) -> Outcome {
    let a_all: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| usable(r) && f.a.matches(r))
        .collect();
    let a_runs: Vec<&ResultRow> = a_all
        .iter()
        .copied()
        .filter(|r| f.in_range(r.budget_percent()))
        .collect();
    let b_all: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| usable(r) && f.b.matches(r))
        .filter(|r| !(f.b.best_of.is_some() && f.a.matches(r)))
        .collect();
    let b_in_range: Vec<&ResultRow> = b_all
        .iter()
        .copied()
        .filter(|r| f.in_range(r.budget_percent()))
        .collect();
    let (b_runs, best_of) = if f.b.best_of.is_some() {
        best_candidates(&b_in_range)
    } else {
        (b_in_range.clone(), Vec::new())
    };

    let mut pairs = Vec::new();
    let mut unpaired_budget = 0;
    let mut unpaired_example = None;
    for a in &a_runs {
        let candidates: Vec<&ResultRow> = b_runs
            .iter()
            .copied()
            .filter(|b| {
                same_place(a, b)
                    && a.seed == b.seed
                    && a.main_metric == b.main_metric
                    && !(a.run_id == b.run_id && a.split == b.split)
                    && f.hold.iter().all(|c| c.get(a) == c.get(b))
            })
            .collect();
        let within: Vec<&ResultRow> = match f.budget_tolerance {
            Some(t) => candidates
                .iter()
                .copied()
                .filter(|b| budgets_match(a.budget_percent(), b.budget_percent(), t))
                .collect(),
            None => candidates.clone(),
        };
        let Some(b) = nearest(a, &within) else {
            if let Some(b) = nearest(a, &candidates) {
                unpaired_budget += 1;
                unpaired_example.get_or_insert_with(|| {
                    format!(
                        "{} against {} {} ({}%): budgets differ by more than ±{}%",
                        run_text(a),
                        b.method,
                        b.budgets,
                        fmt_percent(b.budget_percent()),
                        fmt_percent(f.budget_tolerance.unwrap_or(0.0) * 100.0)
                    )
                });
            }
            continue;
        };
        pairs.push(Pair {
            backbone: a.backbone.clone(),
            task: a.task.clone(),
            split: a.split.clone(),
            seed: a.seed,
            metric: a.main_metric.clone(),
            a: pair_run(a),
            b: pair_run(b),
            diff: better_score(a) - better_score(b),
        });
    }
    let advice = if pairs.is_empty() {
        advise(
            f,
            &a_runs,
            &b_runs,
            a_all.len() - a_runs.len(),
            b_all.len() - b_in_range.len(),
        )
    } else {
        Vec::new()
    };
    Outcome {
        pairs,
        unpaired_budget,
        unpaired_example,
        best_of,
        a_runs: a_runs.len(),
        b_runs: b_runs.len(),
        advice,
    }
}

/// The run of `list` whose budget is closest to `a`'s (ties: by method, budgets, run id).
fn nearest<'r>(a: &ResultRow, list: &[&'r ResultRow]) -> Option<&'r ResultRow> {
    let closeness = |b: &ResultRow| (a.budget_percent() - b.budget_percent()).abs();
    list.iter().copied().min_by(|x, y| {
        closeness(x)
            .total_cmp(&closeness(y))
            .then_with(|| x.method.cmp(&y.method))
            .then_with(|| x.budgets.cmp(&y.budgets))
            .then_with(|| x.run_id.cmp(&y.run_id))
    })
}

/// Per (backbone, task, split), the candidate (method, budgets) with the best mean score over
/// its runs (ties: the first by method, then budgets): its runs, and the choices.
fn best_candidates<'a>(candidates: &[&'a ResultRow]) -> (Vec<&'a ResultRow>, Vec<BestChoice>) {
    let places: BTreeSet<(&str, &str, &str)> = candidates
        .iter()
        .map(|r| (r.backbone.as_str(), r.task.as_str(), r.split.as_str()))
        .collect();
    let mut runs = Vec::new();
    let mut choices = Vec::new();
    for (backbone, task, split) in places {
        let here: Vec<&ResultRow> = candidates
            .iter()
            .copied()
            .filter(|r| r.backbone == backbone && r.task == task && r.split == split)
            .collect();
        let keys: BTreeSet<(&str, &str)> = here
            .iter()
            .map(|r| (r.method.as_str(), r.budgets.as_str()))
            .collect();
        let mut scored: Vec<(String, String, f64, usize)> = Vec::new();
        for (method, budgets) in keys {
            let of: Vec<f64> = here
                .iter()
                .filter(|r| r.method == method && r.budgets == budgets)
                .map(|r| better_score(r))
                .collect();
            let mean = of.iter().sum::<f64>() / of.len() as f64;
            scored.push((method.to_string(), budgets.to_string(), mean, of.len()));
        }
        let Some(best) = scored
            .iter()
            .enumerate()
            .max_by(|(i, x), (j, y)| x.2.total_cmp(&y.2).then(j.cmp(i)))
            .map(|(_, s)| s.clone())
        else {
            continue;
        };
        let sign = if here
            .first()
            .is_some_and(|r| lower_is_better(&r.main_metric))
        {
            -1.0
        } else {
            1.0
        };
        runs.extend(
            here.iter()
                .copied()
                .filter(|r| r.method == best.0 && r.budgets == best.1),
        );
        choices.push(BestChoice {
            backbone: backbone.to_string(),
            task: task.to_string(),
            split: split.to_string(),
            method: best.0,
            budgets: best.1,
            mean: sign * best.2,
            runs: best.3,
            candidates: scored
                .into_iter()
                .map(|(m, b, mean, _)| (format!("{m} {b}").trim().to_string(), sign * mean))
                .collect(),
        });
    }
    (runs, choices)
}

/// What to run so that a finding without pairs gets some.
fn advise(
    f: &Finding,
    a_runs: &[&ResultRow],
    b_runs: &[&ResultRow],
    a_outside: usize,
    b_outside: usize,
) -> Vec<String> {
    let range = f.range_text();
    let outside = |n: usize, side: &str| {
        if n > 0 {
            format!(" ({n} run(s) of side {side} lie outside the finding's budget range, {range})")
        } else {
            String::new()
        }
    };
    if a_runs.is_empty() && b_runs.is_empty() {
        return vec![format!(
            "no ok run matches side a ({}){} or side b ({}){}: add runs of both",
            f.a.describe(),
            outside(a_outside, "a"),
            f.b.describe(),
            outside(b_outside, "b"),
        )];
    }
    // Runs of the side that has some; the other side's selector is what to add.
    let (have, missing, want) = if !a_runs.is_empty() {
        let want = match &f.b.best_of {
            Some(_) => format!("any of {}", f.b.describe().trim_start_matches("best of ")),
            None => f.b.describe(),
        };
        (a_runs, "b", want)
    } else {
        (b_runs, "a", f.a.describe())
    };
    let mut groups: Vec<(String, BTreeSet<u64>)> = Vec::new();
    for r in have {
        let mut what = format!("add runs with {want} matching ");
        if have.iter().any(|x| x.backbone != r.backbone) {
            what.push_str(&format!("backbone {}, ", r.backbone));
        }
        what.push_str(&format!("task {} ({})", r.task, r.split));
        for c in &f.hold {
            what.push_str(&format!(", {c}={}", c.get(r)));
        }
        if let Some(t) = f.budget_tolerance {
            what.push_str(&format!(
                ", budget ≈ {}% (±{}%)",
                fmt_percent(r.budget_percent()),
                fmt_percent(t * 100.0)
            ));
        } else if !range.is_empty() {
            what.push_str(&format!(", budget {range}"));
        }
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, seeds)) => {
                seeds.insert(r.seed);
            }
            None => groups.push((what, BTreeSet::from([r.seed]))),
        }
    }
    let mut out: Vec<String> = groups
        .iter()
        .take(MAX_ADVICE)
        .map(|(what, seeds)| {
            let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
            format!(
                "{what}, seed{} {}",
                if seeds.len() == 1 { "" } else { "s" },
                seeds.join(", ")
            )
        })
        .collect();
    if groups.len() > MAX_ADVICE {
        out.push(format!(
            "… and {} more such groups",
            groups.len() - MAX_ADVICE
        ));
    }
    if a_runs.is_empty() {
        out.push(format!(
            "(no ok run matches side {missing}: {}{})",
            f.a.describe(),
            outside(a_outside, "a")
        ));
    } else if b_runs.is_empty() {
        out.push(format!(
            "(no ok run matches side {missing}: {}{})",
            f.b.describe(),
            outside(b_outside, "b")
        ));
    } else {
        out.push(format!(
            "(side b has {} ok run(s), but none shares backbone, task, split, seed{} with a run \
             of side a{})",
            b_runs.len(),
            f.hold.iter().map(|c| format!(", {c}")).collect::<String>(),
            if f.budget_tolerance.is_some() {
                " and a budget within the tolerance"
            } else {
                ""
            }
        ));
    }
    out
}
