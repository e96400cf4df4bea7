//! The results crate end to end on tiny synthetic rows: Parquet round trip, atomic writes,
//! corrupt files, merging shards, report tables (exact cells), published numbers, the chart
//! and regression checks.
//!
//! Over 800 lines on purpose: the project keeps one integration-test binary per crate (each
//! binary costs CI minutes to build and link), so a crate's acceptance tests share this
//! file; they are grouped by loader/feature, each group self-contained.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use peftgrid_results::{
    check_regressions, check_regressions_grouped, compare_files, compare_groups, evaluate,
    findings, findings_markdown, merge, pareto_front, report, report_rows, report_with,
    write_findings_svg, Column, Expect, FindingResult, FindingsTable, GroupIssue, Published,
    RegressionKind, ReportOptions, ResultRow, ResultStore, ResultsError, Status, Verdict,
};

fn metric_name(task: &str) -> &'static str {
    if task == "glue/cola" {
        "mcc"
    } else {
        "accuracy"
    }
}

/// A row of `method` at `budgets` on roberta-base, `task` / validation, `seed`, scoring `value`.
fn row(method: &str, budgets: &str, task: &str, seed: u64, value: f64) -> ResultRow {
    let metric = metric_name(task);
    let percent = match method {
        "full" => 100.0,
        "lora" => 0.2371,
        "bitfit" => 0.0812,
        _ => 0.5,
    };
    ResultRow {
        run_id: format!("{method}-{budgets}-{task}-{seed}"),
        sweep: "glue".into(),
        config_json: format!(
            r#"{{"method":"{method}","task":"{task}","seed":{seed},"lr":1e-4,"note":"ü ✓"}}"#
        ),
        method: method.into(),
        forms: match method {
            "lora" => "low_rank".into(),
            "prefix" => "prefix".into(),
            _ => String::new(),
        },
        positions: if method == "lora" {
            "q+v".into()
        } else {
            String::new()
        },
        insertions: String::new(),
        compositions: String::new(),
        budgets: budgets.into(),
        backbone: "roberta-base".into(),
        task: task.into(),
        split: "validation".into(),
        metrics: BTreeMap::from([(metric.to_string(), value)]),
        main_metric: metric.into(),
        trainable_params: (percent * 1_246_456.0) as u64,
        trainable_with_head: (percent * 1_246_456.0) as u64 + 592_130,
        percent_trainable: percent,
        percent_deployed: None,
        stored_params: None,
        peak_memory_bytes: Some(1 << 30),
        train_samples_per_s: None,
        wall_s: 12.5,
        adapter_bytes: if method == "full" { None } else { Some(4096) },
        seed,
        steps: 100,
        backend: "ndarray".into(),
        device: "cpu".into(),
        peftgrid_version: "0.1.0".into(),
        git_commit: "abc1234".into(),
        status: Status::Ok,
        note: String::new(),
        sample_data: false,
        finished_at: "2026-03-01T12:00:00Z".into(),
    }
}

fn with_status(mut r: ResultRow, status: Status, note: &str) -> ResultRow {
    r.status = status;
    r.note = note.into();
    r.metrics.clear();
    r
}

/// The known table: full and lora over 3 seeds, bitfit over 2 (sst2) and 1 (cola, the other
/// seed diverged), prefix only failed.
fn table_rows() -> Vec<ResultRow> {
    let mut rows = Vec::new();
    for (seed, sst2, cola) in [(1, 94.0, 60.0), (2, 94.6, 63.0), (3, 95.0, 61.0)] {
        rows.push(row("full", "", "glue/sst2", seed, sst2));
        rows.push(row("full", "", "glue/cola", seed, cola));
    }
    for (seed, sst2, cola) in [(1, 94.2, 62.0), (2, 94.8, 64.0), (3, 94.4, 63.2)] {
        rows.push(row("lora", "8", "glue/sst2", seed, sst2));
        rows.push(row("lora", "8", "glue/cola", seed, cola));
    }
    rows.push(row("bitfit", "", "glue/sst2", 1, 93.0));
    rows.push(row("bitfit", "", "glue/sst2", 2, 93.4));
    rows.push(row("bitfit", "", "glue/cola", 1, 58.0));
    rows.push(with_status(
        row("bitfit", "", "glue/cola", 2, 0.0),
        Status::Diverged,
        "loss NaN at step 40",
    ));
    rows.push(with_status(
        row("prefix", "30", "glue/sst2", 1, 0.0),
        Status::Failed,
        "out of memory",
    ));
    rows
}

fn write_store(path: &Path, rows: Vec<ResultRow>) {
    let mut store = ResultStore::open(path).unwrap();
    store.append(rows).unwrap();
}

#[test]
fn parquet_round_trip_reproduces_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results").join("glue.parquet");
    let mut rows = table_rows();
    // Metrics that only some rows have, options set and unset, a sample row.
    rows[0].metrics.insert("f1".into(), 93.25);
    rows[1].metrics.insert("loss".into(), 0.125);
    rows[2].train_samples_per_s = Some(321.5);
    rows[3].peak_memory_bytes = None;
    rows[4].sample_data = true;
    rows[4].note =
        "sample data (MiniLM on real movie-review polarity in SST-2 format), not GLUE".into();

    let mut store = ResultStore::open(&path).unwrap();
    assert!(store.rows().is_empty());
    assert!(!store.contains(&rows[0].run_id));
    store.append(rows[..5].to_vec()).unwrap();
    store.append(rows[5..].to_vec()).unwrap();
    assert!(store.contains(&rows[7].run_id));

    let back = ResultStore::open(&path).unwrap();
    assert_eq!(back.rows(), &rows[..]);
    assert!(back.contains("lora-8-glue/sst2-1"));
    assert!(!back.contains("nope"));

    // One column per field, metric.<name> per metric, and no temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["glue.parquet".to_string()]);

    // Appending a row with a stored (run_id, split) replaces it.
    let mut store = ResultStore::open(&path).unwrap();
    let mut newer = rows[0].clone();
    newer.metrics.insert("accuracy".into(), 99.0);
    store.append(vec![newer.clone()]).unwrap();
    let back = ResultStore::open(&path).unwrap();
    assert_eq!(back.rows().len(), rows.len());
    assert_eq!(back.rows().last().unwrap(), &newer);

    // A rerun (here: a retry after a failure before evaluation, split "-") replaces every row
    // of its run.
    let mut failed = with_status(row("lora", "4", "glue/sst2", 9, 0.0), Status::Failed, "oom");
    failed.split = "-".into();
    store.append(vec![failed]).unwrap();
    assert!(store.contains("lora-4-glue/sst2-9"));
    store
        .append(vec![row("lora", "4", "glue/sst2", 9, 91.0)])
        .unwrap();
    let back = ResultStore::open(&path).unwrap();
    let of_run: Vec<_> = back
        .rows()
        .iter()
        .filter(|r| r.run_id == "lora-4-glue/sst2-9")
        .collect();
    assert_eq!(of_run.len(), 1);
    assert_eq!(
        (of_run[0].status, of_run[0].split.as_str()),
        (Status::Ok, "validation")
    );

    // An empty table round-trips too.
    let empty = dir.path().join("empty.parquet");
    peftgrid_results::write_rows(&empty, &[]).unwrap();
    assert!(ResultStore::open(&empty).unwrap().rows().is_empty());
}

#[test]
fn failed_append_leaves_the_previous_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glue.parquet");
    let rows = table_rows();
    write_store(&path, rows[..4].to_vec());
    let before = std::fs::read(&path).unwrap();

    // The temporary file cannot be created: a directory is in its place.
    let blocker = dir
        .path()
        .join(format!("glue.parquet.tmp-{}", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    let mut store = ResultStore::open(&path).unwrap();
    let err = store.append(rows[4..].to_vec()).unwrap_err();
    assert!(matches!(err, ResultsError::Write { .. }), "{err}");
    assert!(err.to_string().contains("glue.parquet"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(store.rows(), &rows[..4], "the store is unchanged on error");
    assert_eq!(ResultStore::open(&path).unwrap().rows(), &rows[..4]);
    std::fs::remove_dir(&blocker).unwrap();

    // A directory that cannot be created (its parent is a file).
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut store = ResultStore::open(&file.join("glue.parquet")).unwrap();
    assert!(store.append(rows[..1].to_vec()).is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"x");

    // After the blocker is gone the append works.
    let mut store = ResultStore::open(&path).unwrap();
    store.append(rows[4..].to_vec()).unwrap();
    assert_eq!(ResultStore::open(&path).unwrap().rows(), &rows[..]);
}

#[test]
fn corrupt_or_truncated_file_is_a_named_error_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_store(&good, table_rows());
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"PAR1 this is not parquet PAR1").unwrap();

    for path in [&truncated, &garbage] {
        let before = std::fs::read(path).unwrap();
        let err = ResultStore::open(path).unwrap_err();
        assert!(matches!(err, ResultsError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read(path).unwrap(), before, "never replaced");
    }

    // Parquet that is not a results table names the file and the missing column.
    let other = dir.path().join("other.parquet");
    let mut df = polars::prelude::DataFrame::new(
        1,
        vec![polars::prelude::Column::new("run_id".into(), ["x"])],
    )
    .unwrap();
    polars::prelude::ParquetWriter::new(std::fs::File::create(&other).unwrap())
        .finish(&mut df)
        .unwrap();
    let err = ResultStore::open(&other).unwrap_err();
    assert!(matches!(err, ResultsError::Schema { .. }), "{err}");
    assert!(err.to_string().contains("other.parquet"), "{err}");
    assert!(err.to_string().contains("no column `sweep`"), "{err}");

    // A missing merge input is an error naming it.
    let err = merge(
        &[good, dir.path().join("missing.parquet")],
        &dir.path().join("m.parquet"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.parquet"), "{err}");
}

#[test]
fn merge_unions_shards_keeping_the_newest_row() {
    let dir = tempfile::tempdir().unwrap();
    let rows = table_rows();
    let a = dir.path().join("shard-0.parquet");
    let b = dir.path().join("shard-1.parquet");

    let mut shard_a = rows[..10].to_vec();
    shard_a[0].finished_at = "2026-03-02T08:00:00Z".into(); // newer than its copy in b
    shard_a[1].finished_at = "2026-03-01T12:00:00Z".into(); // older than its copy in b
    let mut shard_b = rows[8..].to_vec();
    let mut dup0 = rows[0].clone();
    dup0.metrics.insert("accuracy".into(), 1.0);
    dup0.finished_at = "2026-03-02T07:59:59.999Z".into();
    let mut dup1 = rows[1].clone();
    dup1.metrics = BTreeMap::from([("mcc".into(), 2.0), ("extra_metric".into(), 3.0)]);
    dup1.finished_at = "2026-03-01T12:00:00.5Z".into();
    shard_b.push(dup0);
    shard_b.push(dup1.clone());
    // A failure superseded by a later success of the run is dropped; a later failure is kept.
    let mut stale = with_status(rows[2].clone(), Status::Failed, "oom");
    stale.split = "-".into();
    stale.finished_at = "2026-02-28T00:00:00Z".into();
    let mut later = with_status(rows[3].clone(), Status::Failed, "disk full");
    later.split = "-".into();
    later.finished_at = "2026-03-05T00:00:00Z".into();
    shard_b.push(stale);
    shard_b.push(later.clone());
    write_store(&a, shard_a.clone());
    write_store(&b, shard_b);

    let out = dir.path().join("merged").join("glue.parquet");
    let n = merge(&[a.clone(), b.clone()], &out).unwrap();
    assert_eq!(n, rows.len() + 1);
    let merged = ResultStore::open(&out).unwrap();
    assert_eq!(merged.rows().len(), rows.len() + 1);
    assert!(merged.rows().contains(&later));
    assert_eq!(
        merged
            .rows()
            .iter()
            .filter(|r| r.run_id == rows[2].run_id)
            .count(),
        1
    );
    let get = |id: &str| {
        merged
            .rows()
            .iter()
            .find(|r| r.run_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(get(&rows[0].run_id), shard_a[0]);
    assert_eq!(get(&rows[1].run_id), dup1);
    for r in &rows[2..] {
        assert_eq!(&get(&r.run_id), r);
    }
    // Merging into one of the inputs works and is idempotent.
    assert_eq!(merge(&[out.clone(), a, b], &out).unwrap(), rows.len() + 1);
}

fn published_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("published.toml")
}

fn line_of<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{text}"))
}

#[test]
fn report_table_has_medians_spreads_bold_and_averages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glue.parquet");
    write_store(&path, table_rows());
    let out = dir.path().join("reports").join("glue");
    let summary = report(&path, &out, Some(&published_path())).unwrap();
    assert_eq!(
        (summary.rows, summary.ok, summary.diverged, summary.failed),
        (17, 15, 1, 1)
    );
    assert_eq!(summary.cells, 6);
    assert!(!summary.sample_data);

    let md = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert_eq!(
        line_of(&md, "| method"),
        "| method | budget | % params | glue/sst2 (accuracy, validation) | glue/cola (mcc, validation) | avg |"
    );
    // He et al. Table 2 (RoBERTa-base, SST-2): full 94.6, LoRA 94.2 (any budget), BitFit 93.7.
    assert_eq!(
        line_of(&md, "| full "),
        "| full |  | 100 | **94.6 ±0.5** [pub. 94.6, Δ +0.0] | 61.0 ±1.5 | 77.8 |"
    );
    assert_eq!(
        line_of(&md, "| lora "),
        "| lora | 8 | 0.237 | 94.4 ±0.3 [pub. 94.2, Δ +0.2] | **63.2 ±1.0** | **78.8** |"
    );
    assert_eq!(
        line_of(&md, "| bitfit "),
        "| bitfit |  | 0.0812 | 93.2 ±0.2 [pub. 93.7, Δ -0.5] | 58.0 | 75.6 |"
    );
    assert_eq!(
        line_of(&md, "| prefix "),
        "| prefix | 30 | 0.5 | – | – | – |"
    );
    assert!(md.contains("half the min–max range"), "{md}");
    assert!(
        md.contains("Not in the table: 1 diverged run, 1 failed run"),
        "{md}"
    );
    assert!(md.contains("bitfit on glue/cola (validation) seed 2: diverged (loss NaN at step 40)"));
    assert!(md.contains("prefix 30 on glue/sst2 (validation) seed 1: failed (out of memory)"));
    assert!(md.contains("runs per cell: 3; 2 for bitfit on glue/sst2; 1 for bitfit on glue/cola"));
    assert!(!md.contains("sample numbers"));

    let tex = std::fs::read_to_string(out.join("table.tex")).unwrap();
    assert!(tex.contains("\\begin{tabular}{llrrrr}"), "{tex}");
    assert!(
        tex.contains(
            "lora & 8 & 0.237 & 94.4$_{\\pm 0.3}$~{\\scriptsize[94.2; $\\Delta$\\,+0.2]} & \
             \\textbf{63.2}$_{\\pm 1.0}$ & \\textbf{78.8} \\\\"
        ),
        "{tex}"
    );
    assert!(tex.contains("glue/cola (mcc, validation)") || tex.contains("mcc (validation)"));
    assert!(tex.contains("bitfit & "));

    let cmp = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert_eq!(summary.comparisons, 3, "{cmp}");
    assert!(
        cmp.contains(
            "| He et al. 2022 | Table 2 | LoRA | lora 8 | roberta-base | glue/sst2 | accuracy | \
             validation / validation | 0.237 / 0.5 | 94.4 ±0.3 (n=3) | 94.2 | +0.2 |"
        ),
        "{cmp}"
    );
    assert!(cmp.contains("| Full fine-tuning | full |"), "{cmp}");

    // The chart: one marker per (method, budgets, task) cell, a diamond under each point of the
    // Pareto fronts: all three on SST-2; on CoLA full (61.0 at 100%) is beaten by lora.
    let svg = std::fs::read_to_string(out.join("score_vs_params.svg")).unwrap();
    assert_eq!(summary.chart_points, 6);
    assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    assert_eq!(svg.matches("<polygon").count(), 5, "{svg}");
    assert!(svg.contains("Pareto front"));
    // One series per method, the legend naming it.
    assert!(
        svg.contains("glue/sst2 (validation)") && svg.contains("\nlora\n"),
        "{svg}"
    );
    assert!(!svg.contains("low_rank"), "{svg}");
    assert_eq!(summary.pareto_points, 5);
    let pareto = std::fs::read_to_string(out.join("pareto.md")).unwrap();
    let sst2 = pareto
        .split("## glue/sst2 (validation, accuracy)")
        .nth(1)
        .unwrap();
    let sst2 = sst2.split("## ").next().unwrap();
    assert!(
        sst2.contains(
            "3 of 3 cells on the front (higher accuracy is better).\n\n\
             | method | budget | % params | accuracy |\n\
             | --- | --- | ---: | ---: |\n\
             | bitfit |  | 0.0812 | 93.2 ±0.2 (n=2) |\n\
             | lora | 8 | 0.237 | 94.4 ±0.3 (n=3) |\n\
             | full |  | 100 | 94.6 ±0.5 (n=3) |\n"
        ),
        "{pareto}"
    );
    let cola = pareto
        .split("## glue/cola (validation, mcc)")
        .nth(1)
        .unwrap();
    assert!(
        cola.contains(
            "2 of 3 cells on the front (higher mcc is better).\n\n\
             | method | budget | % params | mcc |\n\
             | --- | --- | ---: | ---: |\n\
             | bitfit |  | 0.0812 | 58.0 (n=1) |\n\
             | lora | 8 | 0.237 | 63.2 ±1.0 (n=3) |\n\n"
        ),
        "{pareto}"
    );
    // Score vs budget: only lora has budgets and nothing varies: one panel per task, by method.
    assert_eq!((summary.budget_panels, summary.budget_chart_points), (2, 2));
    let png = std::fs::read(out.join("score_vs_params.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{}",
        png.len()
    );
    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "table.md",
            "table.tex",
            "comparison.md",
            "pareto.md",
            "score_vs_params.svg",
            "score_vs_params.png",
            "score_vs_budget.svg",
            "score_vs_budget.png",
            "findings.md",
            "findings.svg"
        ]
    );
}

#[test]
fn sample_data_gets_a_banner_and_no_published_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glue.parquet");
    let note = "sample data (MiniLM on real movie-review polarity in SST-2 format), not GLUE";
    let rows: Vec<ResultRow> = table_rows()
        .into_iter()
        .map(|mut r| {
            r.sample_data = true;
            if r.status == Status::Ok {
                r.note = note.into();
            }
            r
        })
        .collect();
    write_store(&path, rows);
    let out = dir.path().join("report");
    let options = ReportOptions {
        decimals: Some(2),
        png: false,
        ..ReportOptions::default()
    };
    let published = Published::builtin();
    let summary = report_with(&path, &out, Some(&published), &options).unwrap();
    assert!(summary.sample_data);
    assert_eq!(summary.comparisons, 0);
    let md = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(
        md.contains(&format!("> **sample numbers, not the benchmark**: {note}")),
        "{md}"
    );
    assert_eq!(
        line_of(&md, "| lora "),
        "| lora | 8 | 0.237 | 94.40 ±0.30 | **63.20 ±1.00** | **78.80** |"
    );
    let tex = std::fs::read_to_string(out.join("table.tex")).unwrap();
    assert!(
        tex.contains("\\textbf{Sample numbers, not the benchmark}"),
        "{tex}"
    );
    let cmp = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        cmp.contains("No result matches a published entry."),
        "{cmp}"
    );
    assert!(!out.join("score_vs_params.png").exists());
}

/// A row of `method` at `budgets` with a design (`forms|positions|insertions|compositions`).
fn design_row(backbone: &str, task: &str, method: &str, budgets: &str, design: &str) -> ResultRow {
    let mut r = row(method, budgets, "glue/sst2", 42, 50.0);
    let d: Vec<&str> = design.split('|').collect();
    r.backbone = backbone.into();
    r.task = task.into();
    r.forms = d[0].into();
    r.positions = d[1].into();
    r.insertions = d[2].into();
    r.compositions = d[3].into();
    r
}

#[test]
fn builtin_published_numbers_parse_and_match() {
    let p = Published::load(&published_path()).unwrap();
    assert_eq!(p, Published::builtin());
    // Table 6: 11 rows × 4 columns, one not legible; Table 3/12: 12 × 4; Table 5: 5 × 3;
    // Table 2: 6 × 2; UniPELT: 27; FGVC: 8 × 6.
    assert_eq!(p.entries.len(), 43 + 48 + 15 + 12 + 27 + 48);
    let mam_design = "prefix+bottleneck|head+ffn|parallel+parallel|add+scaled(2)";
    let mam = p.matching(&design_row(
        "models/RoBERTa-base",
        "glue/sst2",
        "mam_glue",
        "16+16",
        mam_design,
    ));
    assert_eq!(mam.len(), 1);
    assert_eq!((mam[0].value, mam[0].percent), (94.2, Some(0.5)));
    assert!(p
        .matching(&design_row(
            "roberta-base",
            "glue/sst2",
            "mam_glue",
            "16+8",
            mam_design
        ))
        .is_empty());

    // By design: a grid point named anything matches He et al.'s LoRA (ffn) and PA rows.
    let lora_ffn = "low_rank|ffn_out,ffn_in|parallel|scaled(4)";
    let grid = design_row(
        "models/bart-large",
        "xsum",
        "lora@ffn_in+ffn_out/parallel/scaled(s=4.0)",
        "102",
        lora_ffn,
    );
    let found = p.matching(&grid);
    let tables: Vec<&str> = found.iter().map(|e| e.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "Table 6",
            "Table 6",
            "Table 6",
            "Table 3 and 12",
            "Table 3 and 12",
            "Table 3 and 12"
        ]
        .iter()
        .chain(&["Table 5", "Table 5", "Table 5"])
        .copied()
        .collect::<Vec<_>>()
    );
    assert!(found[0].is_metric("rouge1") && found[0].value == 44.53);
    let s1 = design_row(
        "bart-large",
        "xsum",
        "x",
        "102",
        "low_rank|ffn_in,ffn_out|parallel|scaled(1)",
    );
    assert_eq!(p.matching(&s1)[0].value, 44.17);
    // Rows hold the zoo's text (`scaled(s=4.0)`); rows written before it held `scaled(4)` and
    // `alpha/r(16)`: both match, by value.
    for text in ["scaled(s=4.0)", "scaled(s=4)", "scaled(4)"] {
        let row = design_row(
            "bart-large",
            "xsum",
            "x",
            "102",
            &format!("low_rank|ffn_in,ffn_out|parallel|{text}"),
        );
        assert_eq!(p.matching(&row)[0].value, 44.53, "{text}");
    }
    let s2 = design_row(
        "bart-large",
        "xsum",
        "x",
        "102",
        "low_rank|ffn_in,ffn_out|parallel|scaled(s=2.0)",
    );
    assert!(p.matching(&s2).is_empty());
    // A published `learned` is any learned scale, whatever it starts at.
    let learned = design_row(
        "bart-large",
        "xsum",
        "x",
        "512",
        "bottleneck|ffn|parallel|learned(init=1.0)",
    );
    assert_eq!(
        p.matching(&learned)[0].label,
        "Scaled PA (ffn, learnable s)"
    );
    // The lora preset (alpha/r) is not He et al.'s LoRA at the attention (s = 4).
    let preset = design_row(
        "bart-large",
        "xsum",
        "lora",
        "200",
        "low_rank|q,v|parallel|alpha/r(16)",
    );
    assert!(p.matching(&preset).is_empty());
    let preset = design_row(
        "bart-large",
        "xsum",
        "lora",
        "200",
        "low_rank|q,v|parallel|alpha_over_rank(alpha=16.0)",
    );
    assert!(p.matching(&preset).is_empty());
    let pfeiffer = design_row(
        "bart-large",
        "xsum",
        "pfeiffer",
        "512",
        "bottleneck|ffn|sequential|add",
    );
    assert_eq!(
        p.matching(&pfeiffer)[0].label,
        "Sequential adapter (ffn, r = 512)"
    );
    // The metric is compared with - = _; the MAM row of Table 6 on en-ro.
    let mam_mbart = design_row(
        "mbart-large-cc25",
        "wmt16",
        "mam",
        "30+512",
        "prefix+bottleneck|head+ffn|parallel+parallel|add+scaled(4)",
    );
    let bleu = p.matching(&mam_mbart);
    assert!(bleu.len() == 1 && bleu[0].is_metric("bleu_ro_moses") && bleu[0].value == 37.5);
    // Methods without modifications match by name only; conditioned (K-shot) entries never.
    let bitfit = design_row(
        "vit-base-patch16-224-in21k",
        "fgvc/cars",
        "bitfit",
        "",
        "|||",
    );
    assert_eq!(p.matching(&bitfit)[0].value, 81.5);
    let probe = design_row(
        "vit-base-patch16-224-in21k",
        "fgvc/cars",
        "ln_tuning",
        "",
        "|||",
    );
    assert!(p.matching(&probe).is_empty());
    let unipelt = design_row(
        "bert-base-uncased",
        "glue/avg8",
        "unipelt",
        "10+48+8",
        "|||",
    );
    assert!(p.matching(&unipelt).is_empty());

    let bad = Published::parse("[[table]]\npaper = 1\n", Path::new("bad.toml")).unwrap_err();
    assert!(bad.to_string().contains("bad.toml"), "{bad}");
}

#[test]
fn regressions_are_found_and_not_invented() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("baseline.parquet");
    let cur_path = dir.path().join("current.parquet");
    let baseline = table_rows();
    write_store(&base_path, baseline.clone());

    // Identical results: nothing.
    write_store(&cur_path, baseline.clone());
    assert!(check_regressions(&base_path, &cur_path, 0.0)
        .unwrap()
        .is_empty());

    let mut current = baseline.clone();
    let find =
        |rows: &mut Vec<ResultRow>, id: &str| rows.iter().position(|r| r.run_id == id).unwrap();
    // A drop beyond the tolerance.
    let i = find(&mut current, "lora-8-glue/sst2-1");
    current[i].metrics.insert("accuracy".into(), 93.0);
    // A drop within it, and a gain.
    let i = find(&mut current, "lora-8-glue/sst2-2");
    current[i].metrics.insert("accuracy".into(), 94.4);
    let i = find(&mut current, "full--glue/sst2-1");
    current[i].metrics.insert("accuracy".into(), 96.0);
    // Parameter accounting changed.
    let i = find(&mut current, "bitfit--glue/sst2-1");
    current[i].percent_trainable = 0.0813;
    // ok → diverged.
    let i = find(&mut current, "full--glue/cola-2");
    current[i] = with_status(current[i].clone(), Status::Diverged, "loss inf at step 3");
    // The config hash changed (new run_id), matched by (method, budgets, ..., seed), with a drop.
    let i = find(&mut current, "lora-8-glue/cola-3");
    current[i].run_id = "new-hash".into();
    current[i].metrics.insert("mcc".into(), 60.0);
    // ok → failed before evaluating (one row, on split "-").
    let i = find(&mut current, "lora-8-glue/cola-1");
    current[i] = with_status(current[i].clone(), Status::Failed, "out of memory");
    current[i].split = "-".into();
    // diverged → ok is no regression; a run only in current is ignored.
    let i = find(&mut current, "bitfit--glue/cola-2");
    current[i] = row("bitfit", "", "glue/cola", 2, 57.0);
    current.push(row("lora", "16", "glue/sst2", 1, 10.0));
    std::fs::remove_file(&cur_path).unwrap();
    write_store(&cur_path, current);

    let cmp = compare_files(&base_path, &cur_path, 0.5).unwrap();
    assert_eq!(
        (cmp.compared, cmp.only_in_baseline, cmp.only_in_current),
        (17, 0, 1)
    );
    let regs = cmp.regressions;
    let text: Vec<String> = regs.iter().map(|r| r.to_string()).collect();
    assert_eq!(regs.len(), 5, "{text:#?}");
    assert!(matches!(
        &regs[0].kind,
        RegressionKind::StatusChanged {
            current: Status::Diverged,
            ..
        }
    ));
    assert_eq!(
        text[0],
        "full on glue/cola (validation), roberta-base, seed 2 [run full--glue/cola-2]: was ok, \
         now diverged (loss inf at step 3)"
    );
    assert_eq!(
        text[1],
        "lora 8 on glue/sst2 (validation), roberta-base, seed 1 [run lora-8-glue/sst2-1]: \
         accuracy 94.20 -> 93.00 (-1.20 points, tolerance 0.5)"
    );
    assert_eq!(
        text[2],
        "lora 8 on glue/cola (-), roberta-base, seed 1 [run lora-8-glue/cola-1]: was ok, now \
         failed (out of memory)"
    );
    assert_eq!(regs[3].run_id, "new-hash");
    assert!(text[3].contains("mcc 63.20 -> 60.00"), "{}", text[3]);
    assert!(matches!(regs[4].kind, RegressionKind::ParamsChanged { .. }));
    assert!(
        text[4].contains("(0.0812%) -> ") && text[4].contains("(0.0813%)"),
        "{}",
        text[4]
    );

    // A larger tolerance forgives the drops, never the status or the parameters.
    let regs = check_regressions(&base_path, &cur_path, 5.0).unwrap();
    assert_eq!(regs.len(), 3);
    assert!(check_regressions(&base_path, &cur_path, -1.0).is_err());
}

#[test]
fn pareto_front_keeps_the_undominated_points_in_percent_order() {
    let points = [
        (1.0, 92.0),
        (0.1, 90.0),
        (0.5, 89.0),  // beaten by (0.1, 90)
        (10.0, 92.0), // as good as (1, 92) with more parameters
        (100.0, 95.0),
        (0.1, 90.0), // a tie: both on the front
        (f64::NAN, 99.0),
        (50.0, 95.0),
    ];
    assert_eq!(pareto_front(&points), vec![1, 5, 0, 7]);
    assert_eq!(pareto_front(&[]), Vec::<usize>::new());
    assert_eq!(pareto_front(&[(0.3, 1.0)]), vec![0]);
    // Lower is better: pass the negated scores.
    let losses = [(1.0, -0.5), (2.0, -0.4), (3.0, -0.6)];
    assert_eq!(pareto_front(&losses), vec![0, 1]);
}

/// `row` with a design (forms and positions) and a deployed % of 0.03 × the first budget knob.
fn budget_row(method: &str, budgets: &str, task: &str, seed: u64, value: f64) -> ResultRow {
    let mut r = row(method, budgets, task, seed, value);
    if let Some(knob) = budgets
        .split('+')
        .next()
        .and_then(|k| k.parse::<f64>().ok())
    {
        r.percent_deployed = Some(0.03 * knob);
    }
    match method {
        "lora" => {}
        "lora_ffn" => {
            r.forms = "low_rank".into();
            r.positions = "ffn".into();
        }
        "prefix" => r.positions = "head".into(),
        _ => {}
    }
    r
}

#[test]
fn score_vs_budget_has_a_panel_per_task_and_varying_dimension() {
    let mut rows = Vec::new();
    for budgets in ["4", "8", "16"] {
        rows.push(budget_row("lora", budgets, "glue/sst2", 1, 94.0));
        rows.push(budget_row("lora", budgets, "glue/sst2", 2, 95.0));
    }
    for budgets in ["8", "16+2"] {
        rows.push(budget_row("lora_ffn", budgets, "glue/sst2", 1, 90.0));
    }
    for budgets in ["10", "30+512"] {
        rows.push(budget_row("prefix", budgets, "glue/sst2", 1, 91.0));
    }
    // No budgets: not in this chart.
    rows.push(budget_row("full", "", "glue/sst2", 1, 95.0));
    // CoLA: only lora q+v, nothing varies: one panel by method.
    rows.push(budget_row("lora", "8", "glue/cola", 1, 60.0));
    rows.push(budget_row("lora", "16", "glue/cola", 1, 61.0));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let options = ReportOptions {
        png: false,
        ..ReportOptions::default()
    };
    let summary = report_rows(&rows, &out, None, &options).unwrap();
    // SST-2 by forms: low_rank and prefix never differ in forms alone (their positions differ
    // too): points only, one per (method, budgets): 3 + 2 + 2 = 7. By positions: lora (q+v) and
    // lora_ffn (ffn) differ in positions alone: 3 + 2 points with lines; prefix has no
    // counterpart and is left out (2 cells). CoLA: nothing varies, by method: 2.
    assert_eq!(
        (summary.budget_panels, summary.budget_chart_points),
        (3, 14)
    );
    let svg = std::fs::read_to_string(out.join("score_vs_budget.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 14, "{svg}");
    assert_eq!(svg.matches("<polygon").count(), 0, "{svg}");
    for text in [
        "glue/sst2 (validation) by forms",
        "glue/sst2 (validation) by positions",
        "glue/cola (validation) by method",
        "\nlora\n",
        "\nlora_ffn\n",
        "\nprefix\n",
        "\nlora (q+v)\n",
        "% parameters (deployed; log scale) · points only: forms never varies alone",
        "% parameters (deployed; log scale) · 2 method/budget point(s) without a counterpart",
    ] {
        assert!(svg.contains(text), "{text} not in {svg}");
    }
    // Lines (coloured polylines): lora and lora_ffn by positions, lora on CoLA; none by forms.
    let lines = svg
        .lines()
        .filter(|l| l.starts_with("<polyline") && !l.contains("#000000"))
        .count();
    assert_eq!(lines, 3, "{svg}");
    assert!(!svg.contains("by insertions") && !svg.contains("by compositions"));
    assert!(!out.join("score_vs_budget.png").exists());
    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "table.md",
            "table.tex",
            "pareto.md",
            "score_vs_params.svg",
            "score_vs_budget.svg",
            "findings.md",
            "findings.svg"
        ]
    );
}

#[test]
fn grouped_regressions_respect_the_seed_spread() {
    let baseline = table_rows();
    // Identical results: no regression, every group the same.
    let same = compare_groups(&baseline, &baseline, 0.5);
    assert!(same.regressions().is_empty(), "{same}");
    assert_eq!(same.groups.len(), 7);
    let verdicts: Vec<String> = same.groups.iter().map(|g| g.verdict()).collect();
    assert_eq!(
        verdicts,
        ["same", "same", "same", "same", "same", "same", "no ok runs"]
    );

    let mut current = baseline.clone();
    let find =
        |rows: &mut Vec<ResultRow>, id: &str| rows.iter().position(|r| r.run_id == id).unwrap();
    // A planted drop beyond the tolerance and the spread: lora on SST-2, every seed −2.
    for seed in 1..=3 {
        let i = find(&mut current, &format!("lora-8-glue/sst2-{seed}"));
        *current[i].metrics.get_mut("accuracy").unwrap() -= 2.0;
    }
    // A drop of 1 median point, beyond the tolerance but within the seeds' spread: full on CoLA,
    // 60, 63, 61 (61 ±1.5) → 59, 60, 61 (60 ±1.0).
    let i = find(&mut current, "full--glue/cola-1");
    current[i].metrics.insert("mcc".into(), 59.0);
    let i = find(&mut current, "full--glue/cola-2");
    current[i].metrics.insert("mcc".into(), 60.0);
    // The parameter budget changed: bitfit on SST-2.
    for seed in 1..=2 {
        let i = find(&mut current, &format!("bitfit--glue/sst2-{seed}"));
        current[i].percent_trainable = 0.0813;
    }
    // ok → diverged: full on SST-2, seed 3.
    let i = find(&mut current, "full--glue/sst2-3");
    current[i] = with_status(current[i].clone(), Status::Diverged, "loss inf");
    // ok → failed before evaluating (split "-"): bitfit on CoLA, seed 1.
    let i = find(&mut current, "bitfit--glue/cola-1");
    current[i] = with_status(current[i].clone(), Status::Failed, "out of memory");
    current[i].split = "-".into();
    // The budgets string changed: lora 8 on CoLA is gone, lora 16 is new.
    for r in current.iter_mut() {
        if r.method == "lora" && r.task == "glue/cola" {
            r.budgets = "16".into();
        }
    }

    let cmp = compare_groups(&baseline, &current, 0.5);
    let text = cmp.to_string();
    assert_eq!(cmp.groups.len(), 8, "{text}");
    let regs = cmp.regressions();
    let keys: Vec<(&str, &str)> = regs
        .iter()
        .map(|g| (g.key.method.as_str(), g.key.task.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("full", "glue/sst2"),
            ("lora", "glue/sst2"),
            ("bitfit", "glue/sst2"),
            ("bitfit", "glue/cola")
        ],
        "{text}"
    );
    assert_eq!(
        regs[0].issues,
        [GroupIssue::StatusChanged {
            seed: 3,
            current: Status::Diverged,
            note: "loss inf".into()
        }]
    );
    assert!(matches!(
        regs[1].issues[..],
        [GroupIssue::ScoreDrop { allowed, .. }] if (allowed - 0.6).abs() < 1e-9
    ));
    assert_eq!(
        regs[2].issues,
        [GroupIssue::ParamsChanged {
            baseline: 0.0812,
            current: 0.0813
        }]
    );
    assert_eq!(regs[3].issues.len(), 2, "{text}");
    assert_eq!(cmp.missing().len(), 1);
    assert_eq!(cmp.missing()[0].key.budgets, "8");
    assert_eq!(cmp.added().len(), 1);
    assert_eq!(cmp.added()[0].key.budgets, "16");

    assert_eq!(
        line_of(&text, "| backbone"),
        "| backbone | task | split | method | budget | metric | % params | baseline | current | Δ | verdict |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/sst2 | validation | lora |"),
        "| roberta-base | glue/sst2 | validation | lora | 8 | accuracy | 0.237 | 94.40 ±0.30 (n=3) \
         | 92.40 ±0.30 (n=3) | -2.00 | **REGRESSION**: score -2.00 beyond ±0.60 |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/cola | validation | full |"),
        "| roberta-base | glue/cola | validation | full |  | mcc | 100 | 61.00 ±1.50 (n=3) \
         | 60.00 ±1.00 (n=3) | -1.00 | worse, within ±2.50 |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/sst2 | validation | full |"),
        "| roberta-base | glue/sst2 | validation | full |  | accuracy | 100 | 94.60 ±0.50 (n=3) \
         | 94.30 ±0.30 (n=2, 1 not ok) | -0.30 | **REGRESSION**: seed 3 ok → diverged (loss inf) |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/sst2 | validation | bitfit |"),
        "| roberta-base | glue/sst2 | validation | bitfit |  | accuracy | 0.0812 → 0.0813 \
         | 93.20 ±0.20 (n=2) | 93.20 ±0.20 (n=2) | +0.00 | **REGRESSION**: % params 0.0812 → 0.0813 |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/cola | validation | bitfit |"),
        "| roberta-base | glue/cola | validation | bitfit |  | mcc | 0.0812 | 58.00 (n=1, 1 not ok) \
         | – (n=0, 2 not ok) | – | **REGRESSION**: seed 1 ok → failed (out of memory); no ok score |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/cola | validation | lora | 8 "),
        "| roberta-base | glue/cola | validation | lora | 8 | mcc | 0.237 | 63.20 ±1.00 (n=3) | – \
         | – | only in baseline |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/cola | validation | lora | 16 "),
        "| roberta-base | glue/cola | validation | lora | 16 | mcc | 0.237 | – | 63.20 ±1.00 (n=3) \
         | – | only in current |"
    );
    assert_eq!(
        line_of(&text, "| roberta-base | glue/sst2 | validation | prefix |"),
        "| roberta-base | glue/sst2 | validation | prefix | 30 | accuracy | – | – (n=0, 1 not ok) \
         | – (n=0, 1 not ok) | – | no ok runs |"
    );
    assert!(
        text.contains("8 groups: 4 regressed, 1 only in baseline, 1 only in current."),
        "{text}"
    );

    // A tolerance above every drop still flags the status, the parameters and the lost score.
    let lenient = compare_groups(&baseline, &current, 5.0);
    assert_eq!(lenient.regressions().len(), 3);

    // From files; the tolerance is checked.
    let dir = tempfile::tempdir().unwrap();
    let (b, c) = (dir.path().join("b.parquet"), dir.path().join("c.parquet"));
    write_store(&b, baseline);
    write_store(&c, current);
    let from_files = check_regressions_grouped(&b, &c, 0.5).unwrap();
    assert_eq!(from_files.regressions().len(), 4);
    assert!(check_regressions_grouped(&b, &c, -1.0).is_err());
    assert!(check_regressions_grouped(&b, &dir.path().join("none.parquet"), 0.5).is_err());
}

/// One writer per results file: a second one gets an error naming the holder, the lock goes with
/// its holder, and a file whose lock is free is writable again.
#[test]
fn a_second_writer_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/glue.parquet");
    let first = peftgrid_results::WriterLock::acquire(&path).unwrap();
    let err = peftgrid_results::WriterLock::acquire(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ResultsError::Locked { .. }), "{msg}");
    assert!(
        msg.contains("glue.parquet.lock") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(first);
    let again = peftgrid_results::WriterLock::acquire(&path);
    assert!(again.is_ok(), "{:?}", again.err());
    assert_eq!(
        peftgrid_results::lock_path(&path),
        dir.path().join("sub/glue.parquet.lock")
    );
}

// ---------------------------------------------------------------------------------------------
// Findings: published claims tested on planted results (paired bootstrap, verdicts, advice).
// ---------------------------------------------------------------------------------------------

/// A run of `method` with a design (`forms|positions|insertions|compositions`) on roberta-base,
/// `task` / validation, `seed`, at `percent` deployed, scoring `value` (accuracy).
fn design_run(
    method: &str,
    design: &str,
    task: &str,
    seed: u64,
    percent: f64,
    value: f64,
) -> ResultRow {
    let mut r = design_row("roberta-base", task, method, "64", design);
    r.run_id = format!("{method}-{task}-{seed}-{percent}");
    r.seed = seed;
    r.percent_deployed = Some(percent);
    r.metrics = BTreeMap::from([("accuracy".to_string(), value)]);
    r.main_metric = "accuracy".into();
    r
}

const PAR: &str = "bottleneck|ffn|parallel|add";
const SEQ: &str = "bottleneck|ffn|sequential|add";

/// Parallel and sequential adapters at the FFN, 0.53% each, on 2 tasks × 3 seeds; the parallel
/// run scores `diffs[k]` points above the sequential one of pair k.
fn insertion_rows(diffs: &[f64; 6]) -> Vec<ResultRow> {
    let mut rows = Vec::new();
    let mut k = 0;
    for task in ["glue/sst2", "glue/mnli"] {
        for seed in 1..=3 {
            let seq = 80.0 + k as f64;
            rows.push(design_run("par", PAR, task, seed, 0.53, seq + diffs[k]));
            rows.push(design_run("seq", SEQ, task, seed, 0.53, seq));
            k += 1;
        }
    }
    rows
}

fn finding<'a>(results: &'a [FindingResult], id: &str) -> &'a FindingResult {
    results
        .iter()
        .find(|r| r.finding.id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

#[test]
fn findings_planted_difference_holds_and_its_reverse_is_contradicted() {
    let table = FindingsTable::default_table();
    // +3 points with noise that sums to zero: the mean is exactly 3.
    let rows = insertion_rows(&[3.4, 2.7, 3.2, 2.5, 3.1, 3.1]);
    let results = findings(&rows, &table);
    let r = finding(&results, "parallel-beats-sequential");
    assert_eq!(r.pairs.len(), 6);
    assert!(r
        .pairs
        .iter()
        .all(|p| p.a.method == "par" && p.b.method == "seq" && p.diff > 0.0));
    let mean = r.mean.unwrap();
    assert!((mean - 3.0).abs() < 1e-9, "{mean}");
    let (lo, hi) = r.interval.unwrap();
    assert!(lo > 2.5 && lo < 3.0 && hi > 3.0 && hi < 3.5, "{lo} {hi}");
    assert_eq!(r.verdict, Verdict::Holds);
    assert_eq!((r.a_runs, r.b_runs, r.unpaired_budget), (6, 6, 0));
    // The bootstrap is deterministic: the same interval every time, containing the mean.
    let again = findings(&rows, &table);
    assert_eq!(again, results);
    assert!(lo <= mean && mean <= hi);
    // The other findings are not about these runs.
    assert_eq!(
        finding(&results, "scaled-beats-add").verdict,
        Verdict::NotCovered
    );

    // Reversed: sequential 3 points ahead.
    let rows = insertion_rows(&[-3.4, -2.7, -3.2, -2.5, -3.1, -3.1]);
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.finding.id, "parallel-beats-sequential");
    assert!((r.mean.unwrap() + 3.0).abs() < 1e-9);
    assert!(r.interval.unwrap().1 < 0.0);
    assert_eq!(r.verdict, Verdict::Contradicted);

    // A lower-is-better metric flips the sign: a lower loss for parallel is "a better".
    let mut rows = insertion_rows(&[-0.4, -0.3, -0.5, -0.4, -0.2, -0.6]);
    for r in &mut rows {
        let v = r.metrics["accuracy"];
        r.metrics = BTreeMap::from([("eval_loss".to_string(), v)]);
        r.main_metric = "eval_loss".into();
    }
    let r = evaluate(&rows, &table.findings[0]);
    assert!((r.mean.unwrap() - 0.4).abs() < 1e-9, "{:?}", r.mean);
    assert_eq!(r.verdict, Verdict::Holds);
}

#[test]
fn findings_without_a_difference_or_with_few_pairs_are_inconclusive() {
    let table = FindingsTable::default_table();
    let rows = insertion_rows(&[1.0, -1.0, 0.5, -0.5, 2.0, -2.0]);
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.pairs.len(), 6);
    assert!(r.mean.unwrap().abs() < 1e-9);
    let (lo, hi) = r.interval.unwrap();
    assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(r.reason.contains("contains 0"), "{}", r.reason);

    // Two pairs, however large the difference: too few for a verdict, and it says so.
    let rows: Vec<ResultRow> = insertion_rows(&[5.0; 6])
        .into_iter()
        .filter(|r| r.task == "glue/sst2" && r.seed <= 2)
        .collect();
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.pairs.len(), 2);
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(r.reason.contains("only 2 pairs"), "{}", r.reason);
}

#[test]
fn findings_without_pairs_are_not_covered_and_name_the_runs_to_add() {
    let table = FindingsTable::default_table();
    // Only parallel runs.
    let rows: Vec<ResultRow> = insertion_rows(&[3.0; 6])
        .into_iter()
        .filter(|r| r.insertions == "parallel")
        .collect();
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.verdict, Verdict::NotCovered);
    assert!(r.pairs.is_empty() && r.mean.is_none() && r.interval.is_none());
    let advice = r.advice.join("\n");
    assert!(
        advice.contains(
            "add runs with insertions=sequential matching task glue/sst2 (validation), \
             forms=bottleneck, positions=ffn, compositions=add, budget ≈ 0.53% (±25%), seeds 1, 2, 3"
        ),
        "{advice}"
    );
    assert!(advice.contains("task glue/mnli"), "{advice}");
    assert!(
        advice.contains("no ok run matches side b: insertions=sequential"),
        "{advice}"
    );

    // Neither side has runs: the advice names both selectors.
    let r = evaluate(&[], &table.findings[0]);
    assert_eq!(r.verdict, Verdict::NotCovered);
    assert!(
        r.advice[0].contains("side a (insertions=parallel)")
            && r.advice[0].contains("side b (insertions=sequential)"),
        "{:?}",
        r.advice
    );

    // Failed and diverged runs do not count.
    let rows: Vec<ResultRow> = insertion_rows(&[3.0; 6])
        .into_iter()
        .map(|r| {
            if r.insertions == "sequential" {
                with_status(r, Status::Failed, "oom")
            } else {
                r
            }
        })
        .collect();
    assert_eq!(
        evaluate(&rows, &table.findings[0]).verdict,
        Verdict::NotCovered
    );
}

#[test]
fn findings_do_not_pair_budgets_beyond_the_tolerance() {
    let table = FindingsTable::default_table();
    // Parallel at 0.5%, sequential at 2%: four times the budget, beyond ±25%.
    let mut rows = Vec::new();
    for seed in 1..=3 {
        rows.push(design_run("par", PAR, "glue/sst2", seed, 0.5, 90.0));
        rows.push(design_run("seq", SEQ, "glue/sst2", seed, 2.0, 85.0));
    }
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.verdict, Verdict::NotCovered);
    assert_eq!(r.unpaired_budget, 3);
    let example = r.unpaired_example.clone().unwrap();
    assert!(
        example.contains("par 64 (0.5%) on glue/sst2 seed 1")
            && example.contains("seq 64 (2%)")
            && example.contains("±25%"),
        "{example}"
    );
    assert!(r.advice.join("\n").contains("budget ≈ 0.5% (±25%)"));
    let md = findings_markdown(&[r], "planted", false);
    assert!(
        md.contains("- unpaired because of the budget: 3 runs of side a, e.g. par 64"),
        "{md}"
    );

    // Of several partners within the tolerance, the closest budget is taken.
    rows.push(design_run("seq", SEQ, "glue/sst2", 1, 0.45, 86.0));
    rows.push(design_run("seq", SEQ, "glue/sst2", 1, 0.52, 87.0));
    let r = evaluate(&rows, &table.findings[0]);
    assert_eq!(r.pairs.len(), 1);
    assert_eq!((r.pairs[0].b.percent, r.pairs[0].diff), (0.52, 3.0));
    assert_eq!(r.unpaired_budget, 2);
}

#[test]
fn findings_best_of_compares_with_the_best_sub_method_per_task() {
    let table = FindingsTable::default_table();
    let id = "unipelt-beats-best-sub-method";
    let mut rows = Vec::new();
    // SST-2: lora is the best sub-method (mean 91), MNLI: pfeiffer (mean 86); unipelt is one
    // point above the best on every seed. A houlsby run at seed 1 only is worse everywhere.
    for seed in 1..=3 {
        let s = seed as f64 - 2.0;
        for (task, prefix, lora, pfeiffer) in [
            ("glue/sst2", 89.0, 91.0, 90.0),
            ("glue/mnli", 84.0, 83.0, 86.0),
        ] {
            rows.push(design_run(
                "prefix",
                "prefix|head|parallel|add",
                task,
                seed,
                0.2,
                prefix + s,
            ));
            rows.push(design_run(
                "lora",
                "low_rank|q,v|parallel|x",
                task,
                seed,
                0.3,
                lora + s,
            ));
            rows.push(design_run("pfeiffer", SEQ, task, seed, 0.9, pfeiffer + s));
            let best = lora.max(pfeiffer);
            rows.push(design_run(
                "unipelt",
                "g|g|g|gated",
                task,
                seed,
                1.3,
                best + 1.0 + 0.1 * s,
            ));
        }
    }
    rows.push(design_run("houlsby", SEQ, "glue/sst2", 1, 1.8, 70.0));
    let results = findings(&rows, &table);
    let r = finding(&results, id);
    let chosen: Vec<(&str, &str, f64)> = r
        .best_of
        .iter()
        .map(|c| (c.task.as_str(), c.method.as_str(), c.mean))
        .collect();
    assert_eq!(
        chosen,
        [("glue/mnli", "pfeiffer", 86.0), ("glue/sst2", "lora", 91.0)]
    );
    assert_eq!(r.best_of[1].candidates.len(), 4);
    assert_eq!(r.pairs.len(), 6);
    for p in &r.pairs {
        let want = if p.task == "glue/sst2" {
            "lora"
        } else {
            "pfeiffer"
        };
        assert_eq!(
            (p.a.method.as_str(), p.b.method.as_str()),
            ("unipelt", want)
        );
    }
    assert!((r.mean.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(r.verdict, Verdict::Holds);
    let md = findings_markdown(&results, "planted", true);
    assert!(
        md.contains("| roberta-base | glue/sst2 (validation) | lora 64 (n=3) | 91.00 |"),
        "{md}"
    );
    assert!(md.contains("> **sample numbers, not the benchmark**"));
    assert!(md.contains(&format!("## {id}: holds")));
}

#[test]
fn findings_table_parses_round_trips_and_names_bad_findings() {
    let table = FindingsTable::default_table();
    let ids: Vec<&str> = table.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "parallel-beats-sequential",
            "ffn-beats-attention-at-larger-budgets",
            "attention-at-tiny-budgets",
            "scaled-beats-add",
            "mam-matches-full",
            "unipelt-beats-best-sub-method"
        ]
    );
    let f = &table.findings;
    assert_eq!(f[0].a.insertions.as_deref(), Some("parallel"));
    assert_eq!(
        f[0].hold,
        [Column::Forms, Column::Positions, Column::Compositions]
    );
    assert_eq!(f[0].budget_tolerance, Some(0.25));
    assert_eq!(f[1].min_budget_percent, Some(1.0));
    assert_eq!(f[2].max_budget_percent, Some(0.2));
    assert_eq!(f[3].a.compositions.as_deref(), Some("scaled*"));
    assert_eq!(
        (f[4].expect, f[4].margin, f[4].budget_tolerance),
        (Expect::ANotWorse, 1.0, None)
    );
    assert_eq!(f[5].b.best_of.as_ref().map(Vec::len), Some(4));
    // The file on disk is the embedded one.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("findings/he-unipelt.toml");
    assert_eq!(FindingsTable::from_path(&path).unwrap(), table);
    // TOML round trip.
    let text = table.to_toml().unwrap();
    let back = FindingsTable::parse(&text, Path::new("round-trip.toml")).unwrap();
    assert_eq!(back, table, "{text}");

    let bad = |body: &str| -> String {
        let text = format!(
            "[[finding]]\nid = \"ok\"\nclaim = \"c\"\nsource = \"s\"\na = {{ method = \"x\" }}\n\
             b = {{ method = \"y\" }}\nexpect = \"a_better\"\n\n[[finding]]\nid = \"oops\"\n\
             claim = \"c\"\nsource = \"s\"\n{body}\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, text).unwrap();
        let err = FindingsTable::from_path(&path).unwrap_err();
        assert!(matches!(err, ResultsError::Findings { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("mine.toml") && msg.contains("finding `oops`"),
            "{msg}"
        );
        msg
    };
    let sides = "a = { insertions = \"parallel\" }\nb = { insertions = \"sequential\" }\n";
    let msg = bad(&format!(
        "{sides}hold = [\"forms\", \"colour\"]\nexpect = \"a_better\""
    ));
    assert!(msg.contains("colour"), "{msg}");
    let msg = bad(&format!("{sides}tolerance = 0.25\nexpect = \"a_better\""));
    assert!(msg.contains("unknown field `tolerance`"), "{msg}");
    let msg =
        bad("a = { insertion = \"parallel\" }\nb = { insertions = \"x\" }\nexpect = \"a_better\"");
    assert!(msg.contains("insertion"), "{msg}");
    let msg = bad(&format!("{sides}expect = \"a_best\""));
    assert!(msg.contains("a_best"), "{msg}");
    let msg = bad(&format!("{sides}expect = \"a_better\"\nmargin = 1.0"));
    assert!(msg.contains("margin"), "{msg}");
    let msg = bad(&format!(
        "{sides}hold = [\"insertions\"]\nexpect = \"a_better\""
    ));
    assert!(msg.contains("holds `insertions` fixed"), "{msg}");
    let msg = bad(
        "a = { best_of = [{ method = \"x\" }] }\nb = { method = \"y\" }\nexpect = \"a_better\"",
    );
    assert!(msg.contains("only for side b"), "{msg}");
    let msg = bad(&format!(
        "{sides}expect = \"a_better\"\nmin_budget_percent = 2.0\nmax_budget_percent = 1.0"
    ));
    assert!(msg.contains("above max_budget_percent"), "{msg}");
}

#[test]
fn findings_are_in_every_report_and_drawn_per_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let rows = insertion_rows(&[3.4, 2.7, 3.2, 2.5, 3.1, 3.1]);
    let options = ReportOptions {
        png: false,
        ..ReportOptions::default()
    };
    let summary = report_rows(&rows, &out, None, &options).unwrap();
    assert_eq!((summary.findings, summary.findings_covered), (6, 1));
    let md = std::fs::read_to_string(out.join("findings.md")).unwrap();
    assert!(
        md.contains("| parallel-beats-sequential | Parallel insertion beats sequential insertion"),
        "{md}"
    );
    assert!(
        md.contains("| He et al. 2022, Table 3 (and 12) | 6 | +3.00 | ["),
        "{md}"
    );
    assert!(md.contains("| holds |"), "{md}");
    assert!(
        md.contains("| glue/sst2 (validation, accuracy) | 1 | par 64 (0.53%) | seq 64 (0.53%) | 83.40 | 80.00 | +3.40 |"),
        "{md}"
    );
    assert!(md.contains("## mam-matches-full: not covered"), "{md}");
    let svg = std::fs::read_to_string(out.join("findings.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    assert!(svg.contains("parallel-beats-sequential") && !svg.contains("mam-matches-full"));
    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.ends_with(&["findings.md".to_string(), "findings.svg".to_string()]));

    // A table of the user's own: only its findings.
    let mine = FindingsTable::parse(
        "[[finding]]\nid = \"mine\"\nclaim = \"c\"\nsource = \"s\"\n\
         a = { method = \"seq\" }\nb = { method = \"par\" }\nexpect = \"a_not_worse\"\nmargin = 4.0\n",
        Path::new("mine.toml"),
    )
    .unwrap();
    let options = ReportOptions {
        png: false,
        findings: Some(mine.clone()),
        ..ReportOptions::default()
    };
    let summary = report_rows(&rows, &out, None, &options).unwrap();
    assert_eq!((summary.findings, summary.findings_covered), (1, 1));
    let r = &findings(&rows, &mine)[0];
    // seq is 3 below par, within the 4-point margin: not worse holds.
    assert_eq!((r.verdict, r.threshold()), (Verdict::Holds, -4.0));
    let svg = std::fs::read_to_string(out.join("findings.svg")).unwrap();
    assert!(svg.contains("stroke-dasharray") || svg.contains("<line") || svg.contains("<polyline"));

    // Nothing covered: a chart that says so.
    let path = dir.path().join("empty.svg");
    write_findings_svg(&findings(&[], &FindingsTable::default_table()), &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("no finding is covered"), "{svg}");
}

#[test]
fn score_vs_params_gives_each_method_its_own_series() {
    // Houlsby and the parallel adapter share the form `bottleneck`: two series, two legend
    // entries, two colours; each method's two budgets are joined, never the two methods.
    let mut rows = Vec::new();
    for (method, design, budgets, percent, value) in [
        (
            "houlsby",
            "bottleneck|attention,ffn|sequential|add",
            "16",
            0.5,
            90.0,
        ),
        (
            "houlsby",
            "bottleneck|attention,ffn|sequential|add",
            "64",
            2.0,
            91.0,
        ),
        ("parallel", "bottleneck|ffn|parallel|add", "16", 0.25, 90.5),
        ("parallel", "bottleneck|ffn|parallel|add", "64", 1.0, 91.5),
    ] {
        for seed in 1..=2 {
            let mut r = design_run(
                method,
                design,
                "glue/sst2",
                seed,
                percent,
                value + seed as f64,
            );
            r.budgets = budgets.into();
            r.run_id = format!("{method}-{budgets}-{seed}");
            rows.push(r);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let options = ReportOptions {
        png: false,
        ..ReportOptions::default()
    };
    let summary = report_rows(&rows, &out, None, &options).unwrap();
    assert_eq!(summary.chart_points, 4);
    let svg = std::fs::read_to_string(out.join("score_vs_params.svg")).unwrap();
    assert!(
        svg.contains("\nhoulsby\n") && svg.contains("\nparallel\n"),
        "{svg}"
    );
    assert!(!svg.contains("\nbottleneck\n"), "{svg}");
    assert!(svg.contains("#1F77B4") && svg.contains("#FF7F0E"), "{svg}");
    // score_vs_budget: positions and insertions vary together (no setting varies one alone):
    // points only, two panels of 4 points.
    assert_eq!((summary.budget_panels, summary.budget_chart_points), (2, 8));
    let svg = std::fs::read_to_string(out.join("score_vs_budget.svg")).unwrap();
    assert!(
        svg.contains("points only: positions never varies alone"),
        "{svg}"
    );
    assert!(
        svg.contains("\nhoulsby\n") && svg.contains("\nparallel\n"),
        "{svg}"
    );
}
