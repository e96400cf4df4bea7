//! `peftgrid compare-torch`: a sweep's dev scores beside `tools/train_torch.py glue`'s for the
//! same methods, seeds and settings: per method the mean and spread (max − min) over seeds on
//! each side, the difference, and whether it is inside the larger spread (or 1 point, the
//! resolution such comparisons can claim on a few hundred dev examples).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use peftgrid_results::Status;

#[derive(Debug, clap::Args)]
pub struct CompareTorchArgs {
    /// The PyTorch runs (`tools/train_torch.py glue --out`).
    #[arg(long)]
    pub torch: PathBuf,
    /// peftgrid's runs of the same grid (results/<sweep>.parquet).
    #[arg(long)]
    pub results: PathBuf,
    /// The metric to compare (a key of the rows' metrics and of the PyTorch runs).
    #[arg(long, default_value = "accuracy")]
    pub metric: String,
    /// Also write the table here (Markdown).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Mean and spread (max − min) of a method's scores over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub spread: f64,
}

pub fn summarise(scores: &[f64]) -> Option<Summary> {
    if scores.is_empty() {
        return None;
    }
    let n = scores.len();
    let mean = scores.iter().sum::<f64>() / n as f64;
    let lo = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Summary {
        n,
        mean,
        spread: hi - lo,
    })
}

/// The method's name without its budget (`lora:8` → `lora`), as results rows name it.
fn method_name(arg: &str) -> &str {
    arg.split(':').next().unwrap_or(arg)
}

/// The table, and whether every method present on both sides is within its tolerance.
pub fn table(
    ours: &BTreeMap<String, Vec<f64>>,
    theirs: &BTreeMap<String, Vec<f64>>,
    metric: &str,
) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| method | peftgrid {metric} (mean ± spread, n) | PyTorch + peft | Δ | tolerance | within |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | :---: |");
    let mut all = true;
    let fmt = |s: &Option<Summary>| match s {
        Some(s) => format!("{:.2} ± {:.2} ({})", s.mean, s.spread, s.n),
        None => "–".into(),
    };
    let methods: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for m in methods {
        let a = ours.get(m).and_then(|v| summarise(v));
        let b = theirs.get(m).and_then(|v| summarise(v));
        let (delta, tol, within) = match (&a, &b) {
            (Some(a), Some(b)) => {
                let d = a.mean - b.mean;
                let tol = a.spread.max(b.spread).max(1.0);
                let ok = d.abs() <= tol;
                all &= ok;
                (
                    format!("{d:+.2}"),
                    format!("{tol:.2}"),
                    if ok { "yes" } else { "**no**" }.to_string(),
                )
            }
            _ => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "| {m} | {} | {} | {delta} | {tol} | {within} |",
            fmt(&a),
            fmt(&b)
        );
    }
    (out, all)
}

pub fn compare(args: &CompareTorchArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.torch)
        .with_context(|| format!("reading {}", args.torch.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not JSON", args.torch.display()))?;
    let runs = json["runs"].as_array().with_context(|| {
        format!(
            "{}: no `runs` list (tools/train_torch.py glue writes one)",
            args.torch.display()
        )
    })?;
    let mut theirs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        let method = r["method"]
            .as_str()
            .with_context(|| format!("{}: runs[{i}].method", args.torch.display()))?;
        let score = r[&args.metric]
            .as_f64()
            .with_context(|| format!("{}: runs[{i}].{}", args.torch.display(), args.metric))?;
        theirs
            .entry(method_name(method).to_string())
            .or_default()
            .push(score);
    }
    let rows = peftgrid_results::read_rows(&args.results)?;
    let mut ours: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == Status::Ok) {
        if let Some(v) = r.metrics.get(&args.metric) {
            ours.entry(r.method.clone()).or_default().push(*v);
        }
    }
    anyhow::ensure!(
        ours.keys().any(|m| theirs.contains_key(m)),
        "no method is in both {} and {}",
        args.torch.display(),
        args.results.display()
    );
    let (table, all) = table(&ours, &theirs, &args.metric);
    print!("{table}");
    println!(
        "{}",
        if all {
            "every method is within tolerance"
        } else {
            "some methods differ by more than the tolerance"
        }
    );
    if let Some(out) = &args.out {
        std::fs::write(out, &table).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tolerance_is_the_larger_spread_or_one_point() {
        let ours = BTreeMap::from([
            ("lora".to_string(), vec![80.0, 82.0, 84.0]),
            ("full".to_string(), vec![85.0, 85.5]),
            ("bitfit".to_string(), vec![70.0]),
        ]);
        let theirs = BTreeMap::from([
            ("lora".to_string(), vec![85.5, 85.5]),
            ("full".to_string(), vec![86.2, 86.4]),
            ("prefix".to_string(), vec![60.0]),
        ]);
        let (t, all) = table(&ours, &theirs, "accuracy");
        assert!(!all, "{t}");
        // LoRA: Δ −3.5 with spread 4 → within; full: Δ −1.05 against 1 point → not.
        assert!(
            t.contains("| lora | 82.00 ± 4.00 (3) | 85.50 ± 0.00 (2) | -3.50 | 4.00 | yes |"),
            "{t}"
        );
        assert!(
            t.contains("| full | 85.25 ± 0.50 (2) | 86.30 ± 0.20 (2) | -1.05 | 1.00 | **no** |"),
            "{t}"
        );
        assert!(
            t.contains("| bitfit | 70.00 ± 0.00 (1) | – | – | – | – |"),
            "{t}"
        );
        assert!(t.contains("| prefix | – |"), "{t}");
        assert_eq!(method_name("lora:8"), "lora");
    }
}
