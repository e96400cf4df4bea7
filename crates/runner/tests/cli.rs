//! The `peftgrid` binary as a user runs it.
//!
//! Over 800 lines on purpose: the project keeps one integration-test binary per crate (each
//! binary links Burn and costs CI minutes to build), so the crate's acceptance tests share this
//! file; each test is self-contained and named for what it asserts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod fuzz;

use peftgrid_model::tensors::{self, max_abs_diff};

fn fixtures() -> PathBuf {
    std::env::var_os("PEFTGRID_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

fn peftgrid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peftgrid"))
        .args(args)
        .output()
        .expect("run peftgrid")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The backends this build can run: both CPU backends always, WGPU when built with
/// `--features wgpu` (CI runs it on Mesa's software Vulkan device, lavapipe).
fn backends() -> Vec<&'static str> {
    let mut b = vec!["flex", "ndarray"];
    if cfg!(feature = "wgpu") {
        b.push("wgpu");
    }
    b
}

#[test]
fn forward_reproduces_every_encoder_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    for backend in backends() {
        for (name, outputs) in [
            ("bert", &["embeddings", "last_hidden_state", "logits"][..]),
            ("roberta", &["last_hidden_state", "logits"][..]),
            ("vit", &["last_hidden_state", "logits"][..]),
            ("bart", &["encoder_last_hidden_state", "logits"][..]),
            ("mbart", &["encoder_last_hidden_state", "logits"][..]),
            ("t5", &["encoder_last_hidden_state", "logits"][..]),
        ] {
            let dir = fixtures().join("hf").join(name);
            let golden = dir.join("golden.safetensors");
            let out = tmp.path().join(format!("{name}.safetensors"));
            let o = peftgrid(&[
                "--backend",
                backend,
                "forward",
                "--model",
                dir.to_str().unwrap(),
                "--inputs",
                golden.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--compare",
                golden.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{backend} {name}: {}", text(&o));

            // The written file holds the outputs under the fixture's names and shapes.
            let ours = tensors::read(&out).unwrap();
            let reference = tensors::read(&golden).unwrap();
            for o in outputs {
                assert_eq!(ours[*o].shape, reference[*o].shape, "{name}/{o}");
                let diff = max_abs_diff(&ours[*o].as_f32(), &reference[*o].as_f32());
                assert!(diff < 1e-4, "{backend} {name}/{o}: {diff}");
            }
        }
    }
}

/// The fixture BERT's config with every dropout off: training is then deterministic and equal
/// across backends (initial weights are drawn on the host).
fn dropout_free_bert(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join("hf/bert/config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["hidden_dropout_prob"] = 0.0.into();
    config["attention_probs_dropout_prob"] = 0.0.into();
    let path = dir.join("tiny-bert.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn step_losses(o: &Output) -> Vec<f64> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("LOSS "))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect()
}

/// Three AdamW updates of LoRA and of a parallel adapter (and full fine-tuning) give the same
/// losses on every backend: the same initial weights from the same seed, the same kernels'
/// results within 1e-4.
#[test]
fn training_steps_agree_across_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let config = dropout_free_bert(tmp.path());
    for method in ["lora:2", "parallel:4", "full"] {
        let mut reference: Option<Vec<f64>> = None;
        for backend in backends() {
            let o = peftgrid(&[
                "--backend",
                backend,
                "bench-one",
                "--config",
                config.to_str().unwrap(),
                "--method",
                method,
                "--batch",
                "4",
                "--seq-len",
                "12",
                "--warmup",
                "0",
                "--steps",
                "3",
                "--print-losses",
            ]);
            assert!(o.status.success(), "{backend} {method}: {}", text(&o));
            let losses = step_losses(&o);
            assert_eq!(losses.len(), 3, "{}", text(&o));
            // The updates change the loss (a step that trained nothing would not).
            assert!(
                (losses[2] - losses[0]).abs() > 1e-4,
                "{backend} {method}: {losses:?}"
            );
            match &reference {
                None => reference = Some(losses),
                Some(r) => {
                    for (a, b) in r.iter().zip(&losses) {
                        assert!(
                            (a - b).abs() < 1e-4,
                            "{method}: flex {r:?} vs {backend} {losses:?}"
                        );
                    }
                }
            }
        }
    }
}

/// A batch split over two threads is the same training step as the whole batch on one, dropout
/// included (masks drawn per example): the same losses, update after update.
#[test]
fn sharded_steps_equal_whole_batch_steps() {
    let config = fixtures().join("hf/bert/config.json");
    let run = |shards: &str| {
        let o = peftgrid(&[
            "--shards",
            shards,
            "bench-one",
            "--config",
            config.to_str().unwrap(),
            "--method",
            "full",
            "--batch",
            "6",
            "--seq-len",
            "10",
            "--warmup",
            "0",
            "--steps",
            "4",
            "--print-losses",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        step_losses(&o)
    };
    let (whole, split) = (run("1"), run("2"));
    assert_eq!(whole.len(), 4);
    assert!((whole[3] - whole[0]).abs() > 1e-4, "{whole:?}");
    for (a, b) in whole.iter().zip(&split) {
        assert!((a - b).abs() < 1e-5, "whole {whole:?} vs split {split:?}");
    }
}

/// `peftgrid bench` writes a row per method (the head counted in the trainable parameters),
/// keeps rows of other configurations, and `bench-compare` divides by PyTorch's rows.
#[test]
fn bench_writes_rows_and_compares_with_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let config = dropout_free_bert(tmp.path());
    let out = tmp.path().join("bench.parquet");
    let report = tmp.path().join("bench.md");
    let o = peftgrid(&[
        "--threads",
        "1",
        "bench",
        "--config",
        config.to_str().unwrap(),
        "--methods",
        "lora:2,full",
        "--batch",
        "2",
        "--seq-len",
        "8",
        "--warmup",
        "1",
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows = peftgrid_results::bench::read_bench(&out).unwrap();
    assert_eq!(rows.len(), 2);
    // LoRA r=2 on W_q, W_v of 2 layers (32 → 32): 2·2·(32·2 + 2·32) = 512; head 32·2 + 2.
    assert_eq!(rows[0].trainable_params, 512 + 66);
    // Full: embeddings 512·32 + 64·32 + 2·32 + LN 64; per layer attention 4·(32·32 + 32), FFN
    // 32·64 + 64 + 64·32 + 32, two LNs 128; the pooler 32·32 + 32 (counted though the head
    // reads the mean, as transformers counts a BertModel's parameters); the head.
    assert_eq!(rows[1].trainable_params, 18_560 + 2 * 8_544 + 1_056 + 66);
    for r in &rows {
        assert!(r.train_samples_per_s > 0.0 && r.infer_samples_per_s > 0.0);
        assert!(r.peak_memory_bytes.unwrap() > 0 && r.threads == 1 && r.backend == "flex");
        assert!(r.first_loss.is_finite());
    }
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("| lora:2 |"));

    let mut torch = rows.clone();
    for r in &mut torch {
        r.tool = "pytorch".into();
        r.backend = "cpu".into();
        r.train_samples_per_s = rows[0].train_samples_per_s / 2.0;
        r.infer_samples_per_s = rows[0].infer_samples_per_s;
    }
    torch.pop();
    let torch_file = tmp.path().join("torch.json");
    std::fs::write(&torch_file, serde_json::to_string(&torch).unwrap()).unwrap();
    let o = peftgrid(&[
        "bench-compare",
        "--peftgrid",
        out.to_str().unwrap(),
        "--torch",
        torch_file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let table = text(&o);
    assert!(
        table.contains("| lora:2 |") && table.contains("**2.00**"),
        "{table}"
    );
    assert!(table.contains("full (peftgrid only)"), "{table}");

    // An unknown method fails before anything runs, naming it.
    let o = peftgrid(&[
        "bench",
        "--methods",
        "lora,nosuch",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("nosuch"),
        "{}",
        text(&o)
    );
}

#[test]
fn generate_reproduces_the_golden_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let greedy: &[&str] = &["--max-new-tokens", "12", "--min-new-tokens", "4"];
    let beam4: &[&str] = &[
        "--max-new-tokens",
        "12",
        "--min-new-tokens",
        "4",
        "--num-beams",
        "4",
        "--early-stopping",
        "true",
        "--no-repeat-ngram-size",
        "3",
    ];
    for (name, key, settings) in [
        ("bart", "greedy_ids", greedy),
        ("bart", "beam4_ids", beam4),
        ("mbart", "beam4_ids", beam4),
        ("t5", "greedy_ids", greedy),
    ] {
        let dir = fixtures().join("hf").join(name);
        let golden = dir.join("golden.safetensors");
        let out = tmp.path().join(format!("{name}-{key}.safetensors"));
        let mut args = vec![
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--compare",
            golden.to_str().unwrap(),
            "--compare-key",
            key,
        ];
        args.extend_from_slice(settings);
        let o = peftgrid(&args);
        assert!(o.status.success(), "{name}/{key}: {}", text(&o));
        let ours = tensors::read(&out).unwrap();
        let reference = tensors::read(&golden).unwrap();
        assert_eq!(ours["generated_ids"].shape, reference[key].shape);
        assert_eq!(
            ours["generated_ids"].as_f32(),
            reference[key].as_f32(),
            "{name}/{key}"
        );
    }
    // Settings that contradict each other fail before anything runs; encoders cannot generate.
    let bart = fixtures().join("hf/bart");
    let golden = bart.join("golden.safetensors");
    for (extra, field) in [
        (&["--num-beams", "0"][..], "num_beams"),
        (
            &["--min-new-tokens", "9", "--max-new-tokens", "3"][..],
            "min_new_tokens",
        ),
        (&["--early-stopping", "maybe"][..], "early-stopping"),
    ] {
        let mut args = vec![
            "generate",
            "--model",
            bart.to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = peftgrid(&args);
        assert!(
            !o.status.success() && text(&o).contains(field),
            "{}",
            text(&o)
        );
    }
    // Text in, text out: a word-level tokenizer.json over the fixture's 512 ids beside it.
    let model = tmp.path().join("bart-with-tokenizer");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "model.safetensors", "generation_config.json"] {
        std::fs::copy(bart.join(f), model.join(f)).unwrap();
    }
    peftgrid_testkit::word_level_tokenizer(
        &model,
        &[("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3)],
        &["$A"],
    );
    let o = peftgrid(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--text",
        "w40 w41 w42 w43 </s>",
        "--text",
        "w7 w8 </s>",
        "--max-new-tokens",
        "6",
        "--min-new-tokens",
        "6",
    ]);
    let printed = text(&o);
    assert!(o.status.success(), "{printed}");
    // Each source echoed, then its decoded output: six generated words, special tokens dropped.
    let outputs: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.trim().strip_prefix("→ "))
        .collect();
    assert_eq!(outputs.len(), 2, "{printed}");
    for out in outputs {
        assert_eq!(out.split_whitespace().count(), 6, "{printed}");
        assert!(
            out.split_whitespace().all(|w| w.starts_with('w')),
            "{printed}"
        );
    }

    let bert = fixtures().join("hf/bert");
    let o = peftgrid(&[
        "generate",
        "--model",
        bert.to_str().unwrap(),
        "--inputs",
        bert.join("golden.safetensors").to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("not an encoder-decoder"),
        "{}",
        text(&o)
    );
}

#[test]
fn forward_fails_when_the_reference_disagrees() {
    let tmp = tempfile::tempdir().unwrap();
    let bert = fixtures().join("hf/bert");
    let golden = bert.join("golden.safetensors");
    // The roberta fixture's reference has the same output names but other values.
    let other = fixtures().join("hf/roberta/golden.safetensors");
    let o = peftgrid(&[
        "forward",
        "--model",
        bert.to_str().unwrap(),
        "--inputs",
        golden.to_str().unwrap(),
        "--out",
        tmp.path().join("o.safetensors").to_str().unwrap(),
        "--compare",
        other.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("differ from the reference"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_invocations_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.safetensors");
    let bert = fixtures().join("hf/bert");
    // ViT inputs to a BERT model: no input_ids.
    let vit_inputs = fixtures().join("hf/vit/golden.safetensors");
    let o = peftgrid(&[
        "forward",
        "--model",
        bert.to_str().unwrap(),
        "--inputs",
        vit_inputs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("input_ids"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());

    let o = peftgrid(&[
        "forward",
        "--model",
        "/nonexistent",
        "--inputs",
        "x",
        "--out",
        "y",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("config.json"),
        "{}",
        text(&o)
    );

    if !cfg!(feature = "cuda") {
        let o = peftgrid(&[
            "--backend",
            "cuda",
            "forward",
            "--model",
            "m",
            "--inputs",
            "x",
            "--out",
            "y",
        ]);
        assert!(
            !o.status.success() && text(&o).contains("--features cuda"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn embed_reproduces_the_published_minilm_similarities() {
    let dir = std::env::var_os("PEFTGRID_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        });
    if !dir.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} not fetched (run `just fetch-minilm`)",
            dir.display()
        );
        return;
    }
    let o = peftgrid(&[
        "embed",
        "--model",
        dir.to_str().unwrap(),
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "A man is riding a horse.",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first_row: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("cosine similarity"))
        .nth(1)
        .expect("cosine table")
        .split_whitespace()
        .collect();
    // "[0]  1.0000  0.7553  0.2474": sentence-transformers' published figures.
    assert_eq!(first_row, ["[0]", "1.0000", "0.7553", "0.2474"], "{stdout}");
}

#[test]
fn forward_with_a_peft_adapter_reproduces_peft() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, trainable) in [
        ("peft_lora", 1024),
        ("peft_ia3", 320),
        ("peft_prompt", 160),
        ("peft_prefix", 640),
    ] {
        let dir = fixtures().join("hf").join(name);
        let golden = dir.join("golden.safetensors");
        let o = peftgrid(&[
            "forward",
            "--model",
            dir.join("base").to_str().unwrap(),
            "--adapter",
            dir.join("adapter").to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
            "--out",
            tmp.path().join("o.safetensors").to_str().unwrap(),
            "--compare",
            golden.to_str().unwrap(),
        ]);
        let out = text(&o);
        assert!(o.status.success(), "{name}: {out}");
        assert!(out.contains("last_hidden_state"), "{name}: {out}");
        assert!(
            out.contains(&format!("({trainable} trainable parameters)")),
            "{name}: {out}"
        );
    }
    // An adapter folder without its config is named.
    let o = peftgrid(&[
        "forward",
        "--model",
        fixtures().join("hf/peft_lora/base").to_str().unwrap(),
        "--adapter",
        tmp.path().to_str().unwrap(),
        "--inputs",
        "x",
        "--out",
        "y",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("adapter_config.json"),
        "{}",
        text(&o)
    );
}

#[test]
fn params_prints_he_et_al_budgets_and_matches_targets() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/configs");
    let bert = configs.join("bert-base-uncased.json");
    let o = peftgrid(&[
        "params",
        "--model",
        bert.to_str().unwrap(),
        "--method",
        "lora",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["count"]["trainable"], 294_912);

    // Prefix l = 200 on BART-large: He et al.'s 3.6% once the reparameterisation is merged.
    let bart = configs.join("bart-large.json");
    let o = peftgrid(&[
        "params",
        "--model",
        bart.to_str().unwrap(),
        "--method",
        "prefix:200",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pct = v["count"]["deployed_percent"].as_f64().unwrap();
    assert!((pct - 3.6).abs() < 0.05, "{pct}");

    // A target: the parallel adapter's r closest to 0.5% of RoBERTa-base.
    let roberta = configs.join("roberta-base.json");
    let o = peftgrid(&[
        "params",
        "--model",
        roberta.to_str().unwrap(),
        "--method",
        "parallel",
        "--target",
        "0.5%",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["method"]["modifications"][0]["budget"], 33);
    let pct = v["count"]["percent"].as_f64().unwrap();
    assert!((pct - 0.5).abs() < 0.01, "{pct}");

    for (method, says) in [
        ("nope", "unknown method `nope`"),
        ("lora:9999", "does not fit"),
    ] {
        let o = peftgrid(&[
            "params",
            "--model",
            bert.to_str().unwrap(),
            "--method",
            method,
        ]);
        assert!(
            !o.status.success() && text(&o).contains(says),
            "{}",
            text(&o)
        );
    }

    let o = peftgrid(&["methods"]);
    assert!(o.status.success());
    let listing = String::from_utf8_lossy(&o.stdout);
    for preset in peftgrid_zoo::presets::PRESETS {
        assert!(listing.contains(preset.name), "{}", preset.name);
    }
    // Every preset printed as JSON parses back into the same specs.
    let o = peftgrid(&["methods", "--json"]);
    let specs: Vec<peftgrid_zoo::MethodSpec> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(specs.len(), peftgrid_zoo::presets::PRESETS.len());
    assert_eq!(specs[0], (peftgrid_zoo::presets::PRESETS[0].build)());
}

#[test]
fn forward_with_an_adapterhub_adapter_reproduces_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixtures().join("adapters");
    for name in [
        "ad_pfeiffer",
        "ad_mam",
        "ad_unipelt",
        "ad_compacter",
        "ad_prompt",
    ] {
        let dir = root.join(name);
        let golden = dir.join("golden.safetensors");
        let o = peftgrid(&[
            "forward",
            "--model",
            root.join("base").to_str().unwrap(),
            "--adapter",
            dir.join("adapter").to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
            "--out",
            tmp.path().join("o.safetensors").to_str().unwrap(),
            "--compare",
            golden.to_str().unwrap(),
        ]);
        let out = text(&o);
        assert!(o.status.success(), "{name}: {out}");
        assert!(
            out.contains("hidden_states") && out.contains("last_hidden_state"),
            "{name}: {out}"
        );
    }

    // AdapterHub's LoRA → peft's format, and LoRA and MAM (its prefix MLP folded into keys and
    // values) → peftgrid's: the same outputs as AdapterHub's.
    for (name, to) in [
        ("ad_lora", "peft"),
        ("ad_lora", "native"),
        ("ad_mam", "native"),
    ] {
        let converted = tmp.path().join(format!("{name}_{to}"));
        let o = peftgrid(&[
            "convert",
            "--model",
            root.join("base").to_str().unwrap(),
            "--adapter",
            root.join(name).join("adapter").to_str().unwrap(),
            "--to",
            to,
            "--out",
            converted.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name} → {to}: {}", text(&o));
        let golden = root.join(name).join("golden.safetensors");
        let o = peftgrid(&[
            "forward",
            "--model",
            root.join("base").to_str().unwrap(),
            "--adapter",
            converted.to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
            "--out",
            tmp.path().join("o.safetensors").to_str().unwrap(),
            "--compare",
            golden.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name} → {to}: {}", text(&o));
    }
}

#[test]
fn score_reads_line_files_like_sacrebleu_and_rouge_score() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../metrics/tests/data/corpus.jsonl");
    let (mut hyps, mut refs) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(corpus).unwrap().lines() {
        let pair: serde_json::Value = serde_json::from_str(line).unwrap();
        let (h, r) = (pair["hyp"].as_str().unwrap(), pair["ref"].as_str().unwrap());
        // One item per line: pairs with line breaks inside cannot be written that way.
        if !(h.contains(['\n', '\r']) || r.contains(['\n', '\r'])) {
            hyps.push(h.to_string());
            refs.push(r.to_string());
        }
    }
    let (hyp, reference) = (tmp.path().join("hyp.txt"), tmp.path().join("ref.txt"));
    std::fs::write(&hyp, hyps.join("\n") + "\n").unwrap();
    std::fs::write(&reference, refs.join("\n") + "\n").unwrap();
    for metric in [
        "bleu",
        "bleu-ro-moses",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
    ] {
        let o = peftgrid(&[
            "score",
            "--metric",
            metric,
            "--hyp",
            hyp.to_str().unwrap(),
            "--ref",
            reference.to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{metric}: {}", text(&o));
        let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let library = peftgrid_metrics::score_lines(metric.parse().unwrap(), &hyps, &refs).unwrap();
        assert_eq!(ours["value"].as_f64().unwrap(), library.value, "{metric}");
    }
    let o = peftgrid(&[
        "score",
        "--metric",
        "bleu",
        "--hyp",
        hyp.to_str().unwrap(),
        "--ref",
        reference.to_str().unwrap(),
    ]);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        printed.starts_with("BLEU = ")
            && printed.contains("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:"),
        "{printed}"
    );

    // Bad input: an unknown metric, files of different lengths.
    let o = peftgrid(&[
        "score",
        "--metric",
        "meteor",
        "--hyp",
        hyp.to_str().unwrap(),
        "--ref",
        reference.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("meteor"),
        "{}",
        text(&o)
    );
    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "one line\n").unwrap();
    let o = peftgrid(&[
        "score",
        "--metric",
        "bleu",
        "--hyp",
        short.to_str().unwrap(),
        "--ref",
        reference.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("short.txt") && text(&o).contains("lines"),
        "{}",
        text(&o)
    );
}

#[test]
fn data_check_reports_found_and_missing_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let sst2 = tmp.path().join("SST-2");
    std::fs::create_dir_all(&sst2).unwrap();
    std::fs::write(
        sst2.join("train.tsv"),
        "sentence\tlabel\na fine film \t1\na dull one \t0\nworth it \t1\n",
    )
    .unwrap();
    std::fs::write(sst2.join("dev.tsv"), "sentence\tlabel\nnot bad \t1\n").unwrap();
    let o = peftgrid(&[
        "data",
        "check",
        "sst2",
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("train") && out.contains('3') && out.contains("test"),
        "{out}"
    );
    assert!(
        out.contains("gluebenchmark.com") || out.contains("nyu-mll/glue"),
        "{out}"
    );
    let o = peftgrid(&[
        "data",
        "check",
        "sst2",
        "--dir",
        tmp.path().to_str().unwrap(),
        "--strict",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("incomplete"),
        "{}",
        text(&o)
    );

    // A label out of range names the file and the row.
    std::fs::write(sst2.join("dev.tsv"), "sentence\tlabel\nnot bad \t7\n").unwrap();
    let o = peftgrid(&[
        "data",
        "check",
        "sst2",
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(out.contains("dev.tsv") && out.contains('7'), "{out}");

    let o = peftgrid(&["data", "check", "imagenet"]);
    assert!(
        !o.status.success() && text(&o).contains("imagenet"),
        "{}",
        text(&o)
    );
}

/// A tiny SST-2-format task written by the test: 24 training and 12 dev sentences from the
/// committed sample, so a run takes seconds.
fn tiny_glue(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sst2 = dir.join("SST-2");
    std::fs::create_dir_all(&sst2).unwrap();
    for (file, n) in [("train.tsv", 24), ("dev.tsv", 12)] {
        let text =
            std::fs::read_to_string(root.join("datasets/samples/glue/SST-2").join(file)).unwrap();
        let lines: Vec<&str> = text.lines().take(n + 1).collect();
        std::fs::write(sst2.join(file), lines.join("\n") + "\n").unwrap();
    }
}

#[test]
fn sweep_trains_resumes_reports_and_tracks_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let minilm = root.join("models/all-MiniLM-L6-v2");
    if !minilm.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} not fetched (run `just fetch-minilm`)",
            minilm.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("glue");
    tiny_glue(&data);
    let experiment = tmp.path().join("tiny.toml");
    // 3 methods × 2 budgets × 2 seeds = 12 runs.
    std::fs::write(
        &experiment,
        format!(
            r#"name = "tiny"
backbone = "{}"
tasks = [{{ task = "glue/sst2", name = "tiny-sst2", data_dir = "{}" }}]
seeds = [42, 2]
methods = [
  {{ preset = "lora", budgets = [[2], [4]] }},
  {{ preset = "parallel", budgets = [[4], [8]] }},
  {{ preset = "prefix", budgets = [[2], [4]] }},
]
[train]
lr = 1e-3
batch_size = 8
epochs = 1
max_steps = 2
max_len = 32
head_pooling = "mean"
"#,
            minilm.display(),
            data.display()
        ),
    )
    .unwrap();
    let results = tmp.path().join("results");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "sweep".to_string(),
            experiment.display().to_string(),
            "--results".into(),
            results.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let sweep = |extra: &[&str]| {
        let a = args(extra);
        peftgrid(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = sweep(&["--dry-run"]);
    assert!(
        o.status.success() && text(&o).contains("12 run(s)"),
        "{}",
        text(&o)
    );

    // Killed mid-sweep: what was written stays, the rerun does the rest, one row per run.
    let file = results.join("tiny.parquet");
    let mut child = Command::new(env!("CARGO_BIN_EXE_peftgrid"))
        .args(args(&["--no-report"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while peftgrid_results::read_rows(&file).map_or(0, |r| r.len()) < 2 {
        assert!(
            started.elapsed().as_secs() < 600,
            "no rows after 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = peftgrid_results::read_rows(&file).unwrap().len();
    assert!((2..12).contains(&before), "{before} rows before the kill");

    // A second writer on the same file (here this test, holding the lock) stops the sweep
    // before it trains anything, saying who holds it; the killed sweep left no stale lock.
    let held = peftgrid_results::WriterLock::acquire(&file).unwrap();
    let o = sweep(&["--no-report"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("being written by another sweep")
            && out.contains(&format!("pid {}", std::process::id()))
            && out.contains("tiny.parquet.lock"),
        "{out}"
    );
    assert_eq!(peftgrid_results::read_rows(&file).unwrap().len(), before);
    drop(held);

    let o = sweep(&[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("{before} already")), "{out}");
    let rows = peftgrid_results::read_rows(&file).unwrap();
    assert_eq!(rows.len(), 12);
    let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(ids.len(), 12, "one row per run");
    for r in &rows {
        assert_eq!(r.status, peftgrid_results::Status::Ok);
        assert_eq!(r.task, "tiny-sst2");
        assert_eq!(r.split, "validation");
        assert_eq!(r.steps, 2);
        assert!((0.0..=100.0).contains(&r.metrics["accuracy"]));
        let spec: serde_json::Value = serde_json::from_str(&r.config_json).unwrap();
        assert_eq!(spec["seed"].as_u64(), Some(r.seed));
        assert!(!r.git_commit.is_empty() && r.backend == "flex" && r.wall_s > 0.0);
    }
    let lora2 = rows
        .iter()
        .find(|r| r.method == "lora" && r.budgets == "2")
        .unwrap();
    // LoRA r = 2 on q, v of MiniLM (6 layers, 384 wide): 6 · 2 · 2 · 384 · 2.
    assert_eq!(lora2.trainable_params, 18_432);
    assert_eq!(
        (lora2.forms.as_str(), lora2.positions.as_str()),
        ("low_rank", "q,v")
    );
    assert!(lora2.adapter_bytes.is_some_and(|b| b > 18_432 * 4));
    let adapters = results.join("tiny/adapters");
    for r in &rows {
        let dir = adapters.join(&r.run_id[..16]);
        assert_eq!(
            r.adapter_bytes,
            Some(
                std::fs::metadata(dir.join("adapter.safetensors"))
                    .unwrap()
                    .len()
            ),
            "{}",
            r.method
        );
        // Copies where the ecosystem has the method: LoRA in both; the parallel adapter and
        // the preset's prefix (positions left alone) in AdapterHub's only.
        let copies: &[&str] = match r.method.as_str() {
            "lora" => &["adapterhub", "peft"],
            _ => &["adapterhub"],
        };
        for copy in ["adapterhub", "peft"] {
            assert_eq!(
                dir.join(copy).join("adapter_config.json").is_file(),
                copies.contains(&copy),
                "{} {copy}",
                r.method
            );
        }
    }
    // A prefix is saved as its keys and values, 2 · l · layers · d floats, and the head
    // (384 · 2 + 2): not its 512-wide training MLP.
    let prefix2 = rows
        .iter()
        .find(|r| r.method == "prefix" && r.budgets == "2")
        .unwrap();
    let deployed = 4 * (2 * 2 * 6 * 384 + 384 * 2 + 2);
    assert!(
        prefix2
            .adapter_bytes
            .is_some_and(|b| b > deployed && b < deployed + 4096),
        "{prefix2:?}"
    );

    // A rerun adds nothing.
    let o = sweep(&[]);
    assert!(
        o.status.success() && text(&o).contains("12 already"),
        "{}",
        text(&o)
    );
    assert_eq!(peftgrid_results::read_rows(&file).unwrap(), rows);

    // The Markdown table holds the Parquet's numbers: the median over the two seeds.
    let table = std::fs::read_to_string(tmp.path().join("reports/tiny/table.md")).unwrap();
    let mut acc: Vec<f64> = rows
        .iter()
        .filter(|r| r.method == "lora" && r.budgets == "2")
        .map(|r| r.metrics["accuracy"])
        .collect();
    acc.sort_by(f64::total_cmp);
    let median = format!("{:.1}", (acc[0] + acc[1]) / 2.0);
    let line = table
        .lines()
        .find(|l| l.starts_with("| lora | 2 |"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains(&median), "{line} vs median {median}");

    // regress: identical files pass, a planted drop fails.
    let o = peftgrid(&[
        "regress",
        "--baseline",
        file.to_str().unwrap(),
        "--current",
        file.to_str().unwrap(),
    ]);
    assert!(
        o.status.success() && text(&o).contains("no regressions"),
        "{}",
        text(&o)
    );
    let mut dropped = rows.clone();
    for r in dropped.iter_mut().filter(|r| r.method == "parallel") {
        let a = r.metrics.get_mut("accuracy").unwrap();
        *a = (*a - 30.0).max(0.0) - 1.0;
    }
    let worse = tmp.path().join("worse.parquet");
    peftgrid_results::write_rows(&worse, &dropped).unwrap();
    let o = peftgrid(&[
        "regress",
        "--baseline",
        file.to_str().unwrap(),
        "--current",
        worse.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("parallel"),
        "{}",
        text(&o)
    );

    // A corrupt results file is an error naming it, and it is left as it was.
    std::fs::write(&file, b"PAR1 not really").unwrap();
    let o = sweep(&["--no-report"]);
    assert!(
        !o.status.success() && text(&o).contains("tiny.parquet"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"PAR1 not really");
}

/// Copies a fixture checkpoint (without its goldens) to `dir`.
fn fixture_copy(name: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(fixtures().join("hf").join(name)).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !file.starts_with("golden") {
            std::fs::copy(&path, dir.join(file)).unwrap();
        }
    }
}

/// Runs `peftgrid sweep` on an experiment text and returns its rows.
fn sweep_rows(root: &Path, name: &str, toml: &str) -> Vec<peftgrid_results::ResultRow> {
    let file = root.join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    let results = root.join("results");
    let o = peftgrid(&[
        "sweep",
        file.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(root.join("reports").join(name).join("table.md").is_file());
    peftgrid_results::read_rows(&results.join(format!("{name}.parquet"))).unwrap()
}

/// Generation and image tasks train end to end on the fixture BART, mBART and ViT: every
/// summary (translation) is one fixed sentence and the two image classes are red and blue, so a
/// method that learns decodes exactly the reference (ROUGE and BLEU 100: beam search with the
/// cache, detokenisation, scoring) or classifies every test image. UniPELT's gates are refused on
/// an encoder-decoder before any run.
#[test]
fn sweep_trains_generation_and_image_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bart = root.join("bart");
    fixture_copy("bart", &bart);
    peftgrid_testkit::word_level_tokenizer(
        &bart,
        &[("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3)],
        &["<s>", "$A", "</s>"],
    );
    let mbart = root.join("mbart");
    fixture_copy("mbart", &mbart);
    peftgrid_testkit::word_level_tokenizer(
        &mbart,
        &[
            ("<s>", 0),
            ("<pad>", 1),
            ("</s>", 2),
            ("<unk>", 3),
            ("en_XX", 500),
            ("ro_RO", 501),
        ],
        &["$A", "</s>", "en_XX"],
    );
    // Sources are seeded word salad; the target is always the same sentence.
    let mut state = 7u64;
    let mut source = || {
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let n = 4 + next() % 8;
        (0..n)
            .map(|_| format!("w{}", 10 + next() % 390))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (xsum, wmt) = (root.join("xsum"), root.join("wmt16"));
    std::fs::create_dir_all(&xsum).unwrap();
    std::fs::create_dir_all(&wmt).unwrap();
    for (split, n) in [("train", 16), ("validation", 4), ("test", 4)] {
        let docs: Vec<String> = (0..n).map(|_| source()).collect();
        let jsonl: Vec<String> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                serde_json::json!({"id": format!("{split}{i}"), "document": d,
                    "summary": "w40 w41 w42 w43"})
                .to_string()
            })
            .collect();
        std::fs::write(xsum.join(format!("{split}.jsonl")), jsonl.join("\n") + "\n").unwrap();
        std::fs::write(wmt.join(format!("{split}.en")), docs.join("\n") + "\n").unwrap();
        let ro = vec!["w60 w61 w62 w63 w64"; n];
        std::fs::write(wmt.join(format!("{split}.ro")), ro.join("\n") + "\n").unwrap();
    }
    let common = r#"
max_len = 32
max_target_len = 16
label_smoothing = 0.1
eval_every = 20
generation = { num_beams = 2, max_length = 12 }
"#;
    let rows = sweep_rows(
        root,
        "xsum-tiny",
        &format!(
            r#"name = "xsum-tiny"
backbone = "{}"
tasks = [{{ task = "xsum", data_dir = "{}" }}]
seeds = [1]
methods = [
  {{ preset = "full" }},
  {{ preset = "parallel", budgets = [[16]], train = {{ lr = 5e-2 }} }},
  {{ preset = "prefix", budgets = [[4]] }},
]
[train]
lr = 1e-2
batch_size = 4
max_steps = 40
epochs = 20
{common}"#,
            bart.display(),
            xsum.display()
        ),
    );
    let ok: Vec<_> = rows
        .iter()
        .filter(|r| r.status == peftgrid_results::Status::Ok)
        .collect();
    assert_eq!(ok.len(), 6, "3 runs × (validation, test)");
    for r in &ok {
        assert_eq!(r.main_metric, "rouge2");
        assert_eq!(r.steps, 40);
        for m in ["rouge1", "rouge2", "rougeL", "rougeLsum"] {
            assert!(r.metrics.contains_key(m), "{m} missing: {:?}", r.metrics);
            if r.method != "prefix" {
                assert!(
                    (r.metrics[m] - 100.0).abs() < 1e-9,
                    "{} [{}]: {m}",
                    r.method,
                    r.split
                );
            }
        }
        // He et al.'s budget: a prefix counts as its keys and values, not its MLP.
        let deployed = r.percent_deployed.unwrap();
        if r.method == "prefix" {
            assert!(deployed < r.percent_trainable / 2.0, "{r:?}");
        } else {
            assert_eq!(deployed, r.percent_trainable);
        }
    }
    // Every run left a native adapter that reloads (outputs: the model crate's round trip).
    for r in &ok {
        let adapter = root
            .join("results/xsum-tiny/adapters")
            .join(&r.run_id[..16]);
        assert!(adapter.join("method.json").is_file(), "{}", r.method);
        assert_eq!(
            r.adapter_bytes,
            Some(
                std::fs::metadata(adapter.join("adapter.safetensors"))
                    .unwrap()
                    .len()
            )
        );
        let golden = fixtures().join("hf/bart/golden.safetensors");
        let o = peftgrid(&[
            "forward",
            "--model",
            bart.to_str().unwrap(),
            "--adapter",
            adapter.to_str().unwrap(),
            "--inputs",
            golden.to_str().unwrap(),
            "--out",
            root.join("reloaded.safetensors").to_str().unwrap(),
        ]);
        let out = text(&o);
        assert!(
            o.status.success() && out.contains(&format!("adapter {}", adapter.display())),
            "{out}"
        );
    }
    // The prefix adapter is its keys and values, 2 · l · attentions · d = 2 · 4 · 6 · 32 floats
    // (the fixture BART: 2 + 2 self-attentions, 2 cross-attentions, 32 wide), not its MLP.
    let prefix = ok.iter().find(|r| r.method == "prefix").unwrap();
    assert!(
        prefix
            .adapter_bytes
            .is_some_and(|b| b < 4 * 2 * 4 * 6 * 32 + 4096),
        "{prefix:?}"
    );

    // UniPELT's gates are refused on an encoder-decoder when the sweep is expanded: the dry
    // run says why, and nothing trains.
    let refused = root.join("unipelt-bart.toml");
    std::fs::write(
        &refused,
        format!(
            "name = \"unipelt-bart\"\nbackbone = \"{}\"\ntasks = [{{ task = \"xsum\", data_dir = \"{}\" }}]\nmethods = [{{ preset = \"unipelt\" }}]\n",
            bart.display(),
            xsum.display()
        ),
    )
    .unwrap();
    let o = peftgrid(&["sweep", refused.to_str().unwrap(), "--dry-run"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("unipelt") && out.contains("gated composition") && out.contains("bart"),
        "{out}"
    );

    let rows = sweep_rows(
        root,
        "mt-tiny",
        &format!(
            r#"name = "mt-tiny"
backbone = "{}"
tasks = [{{ task = "wmt16", data_dir = "{}" }}]
seeds = [1]
methods = [
  {{ preset = "full" }},
  {{ preset = "parallel", budgets = [[16]], train = {{ lr = 5e-2 }} }},
]
[train]
lr = 1e-2
batch_size = 8
batch_tokens = 64
max_steps = 40
epochs = 40
{common}"#,
            mbart.display(),
            wmt.display()
        ),
    );
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r.status, peftgrid_results::Status::Ok, "{}", r.note);
        assert!(
            (r.metrics["bleu"] - 100.0).abs() < 1e-9,
            "{} [{}]",
            r.method,
            r.split
        );
        assert!(
            (r.metrics["bleu-ro-moses"] - 100.0).abs() < 1e-9,
            "{} [{}]",
            r.method,
            r.split
        );
    }

    // CIFAR-100's binary format: red images are class 0, blue ones class 1.
    let cifar = root.join("cifar");
    std::fs::create_dir_all(&cifar).unwrap();
    let mut noise = 1u32;
    for (split, n) in [("train", 40), ("test", 10)] {
        let mut bytes = Vec::new();
        for i in 0..n {
            let label = (i % 2) as u8;
            bytes.extend([0, label]);
            let base = if label == 0 {
                [200, 40, 40]
            } else {
                [40, 40, 200]
            };
            for c in base {
                for _ in 0..1024 {
                    noise = noise.wrapping_mul(1103515245).wrapping_add(12345);
                    bytes.push((c + (noise >> 16) % 80 - 40) as u8);
                }
            }
        }
        std::fs::write(cifar.join(format!("{split}.bin")), bytes).unwrap();
    }
    let vit = root.join("vit");
    fixture_copy("vit", &vit);
    std::fs::write(
        vit.join("preprocessor_config.json"),
        r#"{"do_resize": true, "size": {"height": 32, "width": 32}, "do_normalize": true,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2,
            "do_rescale": true, "rescale_factor": 0.00392156862745098}"#,
    )
    .unwrap();
    let rows = sweep_rows(
        root,
        "cifar-tiny",
        &format!(
            r#"name = "cifar-tiny"
backbone = "{}"
tasks = [{{ task = "cifar100", data_dir = "{}" }}]
seeds = [1]
methods = [
  {{ preset = "linear_probe" }},
  {{ preset = "lora", budgets = [[4]] }},
  {{ preset = "raft" }},
  {{ preset = "vpt_deep", budgets = [[4, 4]] }},
]
[train]
lr = 1e-1
batch_size = 8
epochs = 10
eval_every = 5
schedule = "cosine"
"#,
            vit.display(),
            cifar.display()
        ),
    );
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r.status, peftgrid_results::Status::Ok, "{}", r.note);
        assert_eq!(r.split, "test");
        assert!((r.metrics["accuracy"] - 100.0).abs() < 1e-9, "{}", r.method);
    }
    // The fixture ViT: 2 layers, 32 wide. RAFT: 6 + 4 coefficients per layer; VPT-deep: l = 4
    // prompt tokens at the input and 4 more for the second layer.
    let trainable = |method: &str| {
        rows.iter()
            .find(|r| r.method == method)
            .map(|r| r.trainable_params)
    };
    assert_eq!(trainable("raft"), Some(2 * 10));
    assert_eq!(trainable("vpt_deep"), Some(4 * 32 + 4 * 32));
}

/// The fixture BERT as a model folder in `dir`: dropout off, with the word-level tokenizer of
/// `tests/data/training` ("w17" is id 17).
fn tiny_bert(dir: &Path) -> PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/training");
    let backbone = dir.join("bert");
    std::fs::create_dir_all(&backbone).unwrap();
    std::fs::copy(dropout_free_bert(dir), backbone.join("config.json")).unwrap();
    std::fs::copy(
        fixtures().join("hf/bert/model.safetensors"),
        backbone.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(data.join("tokenizer.json"), backbone.join("tokenizer.json")).unwrap();
    backbone
}

/// The whole training loop equals PyTorch + peft (+ adapters) step for step: with dropout
/// off, from PyTorch's initial trainable tensors and on its batches
/// (`tests/data/reference_training.py` wrote them with tools/train_torch.py's Trainer recipe),
/// 30 updates of AdamW in two groups with warm-up, linear decay and clipping give PyTorch's
/// per-step losses and final trainable tensors within 1e-4, for six methods, on the fixture
/// BERT (word-level tokens) and on MiniLM (its WordPiece tokenizer, real sentences). The
/// forward passes, the optimizer and the losses each have their own tests; this one finds what
/// only the loop can get wrong (batching, padding, the schedule's step count, the head, the
/// parameter groups).
#[test]
fn training_equals_pytorch_step_for_step() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/training");
    let tmp = tempfile::tempdir().unwrap();
    let backbone = tiny_bert(tmp.path());
    // peft's prefix numbers the real tokens after the prefix (`shift_positions`).
    let prefix = |reparam: &str, l: usize| {
        format!(
            r#"{{ spec = {{ name = "prefix", train_head = true, modifications = [{{ form = {{ kind = "prefix", {reparam}shift_positions = true }}, at = ["head"], budget = {l} }}] }} }}"#
        )
    };
    let tiny = [
        ("linear_probe", r#""linear_probe""#.to_string()),
        ("full", r#""full""#.to_string()),
        ("lora", r#""lora:2""#.to_string()),
        ("parallel", r#""parallel:4""#.to_string()),
        ("prefix", prefix("reparam = 512, ", 3)),
        ("ia3", r#""ia3""#.to_string()),
    ];
    replay_pytorch(tmp.path(), &backbone, &data, &data, &tiny);

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let minilm = root.join("models/all-MiniLM-L6-v2");
    if !minilm.join("model.safetensors").is_file() {
        eprintln!(
            "MiniLM half skipped: {} not fetched (just fetch-minilm)",
            minilm.display()
        );
        return;
    }
    let backbone = tmp.path().join("minilm");
    std::fs::create_dir_all(&backbone).unwrap();
    let text = std::fs::read_to_string(minilm.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["hidden_dropout_prob"] = 0.0.into();
    config["attention_probs_dropout_prob"] = 0.0.into();
    std::fs::write(backbone.join("config.json"), config.to_string()).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(minilm.join(f), backbone.join(f)).unwrap();
    }
    let methods = [
        ("linear_probe", r#""linear_probe""#.to_string()),
        ("full", r#""full""#.to_string()),
        ("lora", r#""lora:8""#.to_string()),
        // r = 8: at r = 16 (seed 0) one bottleneck unit of layer 0 sits at ReLU's kink for a
        // token, and float rounding decides its side: its 381 input weights end up to 7e-4
        // from PyTorch's while every loss still agrees within 2e-6.
        ("parallel", r#""parallel:8""#.to_string()),
        ("prefix", prefix("", 10)),
        ("ia3", r#""ia3""#.to_string()),
    ];
    let samples = root.join("datasets/samples/tiny");
    replay_pytorch(
        tmp.path(),
        &backbone,
        &samples,
        &data.join("minilm"),
        &methods,
    );
}

/// Trains each method of `methods` (reference folder name, TOML method entry) on `backbone`
/// as PyTorch did for `refs/<name>/` and checks its losses and final tensors against it.
fn replay_pytorch(
    tmp: &Path,
    backbone: &Path,
    data: &Path,
    refs: &Path,
    methods: &[(&str, String)],
) {
    let model = backbone.file_name().unwrap().to_string_lossy().to_string();
    for (name, method) in methods {
        let dir = refs.join(name);
        let reference: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
                .unwrap();
        let torch_losses: Vec<f64> = reference["losses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let h = |k: &str| reference[k].clone();
        let sweep = format!("parity-{model}-{name}");
        let toml = format!(
            r#"name = "{sweep}"
backbone = "{backbone}"
tasks = [{{ task = "glue/sst2", name = "parity", data_dir = "{data}" }}]
seeds = [0]
methods = [{method}]

[train]
lr = {lr}
batch_size = {batch}
epochs = {epochs}
max_len = {max_len}
weight_decay = {wd}
warmup_ratio = {warmup}
grad_clip = {clip}
head_pooling = "mean"
eval_every = 1000
batch_order = "{order}"
init_weights = "{init}"
"#,
            backbone = backbone.display(),
            data = data.display(),
            lr = h("lr"),
            batch = h("batch"),
            epochs = h("epochs"),
            max_len = h("max_len"),
            wd = h("weight_decay"),
            warmup = h("warmup_ratio"),
            clip = h("grad_clip"),
            order = dir.join("order.json").display(),
            init = dir.join("init.safetensors").display(),
        );
        let file = tmp.join(format!("{sweep}.toml"));
        std::fs::write(&file, toml).unwrap();
        let results = tmp.join("results");
        let o = peftgrid(&[
            "sweep",
            file.to_str().unwrap(),
            "--results",
            results.to_str().unwrap(),
            "--no-report",
            "--save-trainable",
        ]);
        assert!(o.status.success(), "{model} {name}: {}", text(&o));
        let out = results.join(&sweep);
        let only_file = |sub: &str| {
            let files: Vec<PathBuf> = std::fs::read_dir(out.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(files.len(), 1, "{model} {name}: {files:?}");
            files[0].clone()
        };
        let curve: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(only_file("curves")).unwrap()).unwrap();
        let ours: Vec<f64> = curve["losses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .collect();
        assert_eq!(ours.len(), torch_losses.len(), "{model} {name}: steps");
        assert!(ours.len() >= 30);
        let worst = ours
            .iter()
            .zip(&torch_losses)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-4,
            "{model} {name}: per-step losses differ by up to {worst:e}\npeftgrid {ours:?}\ntorch    {torch_losses:?}"
        );

        let trained = tensors::read(&only_file("trained")).unwrap();
        let torch_final = tensors::read(&dir.join("final.safetensors")).unwrap();
        let initial = tensors::read(&dir.join("init.safetensors")).unwrap();
        // How far the tensors the method adds (or unfreezes) moved: a loop that trained
        // nothing past the head would match a reference that did not either.
        let (mut body_moved, mut worst_tensor) = (0f32, 0f32);
        for (key, t) in &torch_final {
            let mine = trained
                .get(key)
                .unwrap_or_else(|| panic!("{model} {name}: peftgrid does not train `{key}`"));
            assert_eq!(mine.shape, t.shape, "{model} {name}: {key}");
            let d = max_abs_diff(&mine.as_f32(), &t.as_f32());
            assert!(d < 1e-4, "{model} {name}: final `{key}` differs by {d:e}");
            worst_tensor = worst_tensor.max(d);
            if let (false, Some(init)) = (key.contains(".head."), initial.get(key)) {
                body_moved = body_moved.max(max_abs_diff(&init.as_f32(), &t.as_f32()));
            }
        }
        eprintln!(
            "{model} {name}: {} steps, losses within {worst:.1e}, {} final tensors within {worst_tensor:.1e}",
            ours.len(),
            torch_final.len()
        );
        let complete = reference["final_keys"].is_null() && reference["init_keys"].is_null();
        assert!(
            *name == "linear_probe" || !complete || body_moved > 1e-3,
            "{model} {name}: the method's tensors moved by {body_moved:e} only"
        );
        // Where the reference wrote every trained tensor, what PyTorch's model lacks is only
        // the pooler, which a mean head does not read.
        if complete {
            for key in trained.keys().filter(|k| !torch_final.contains_key(*k)) {
                assert!(
                    key.contains("pooler"),
                    "{model} {name}: peftgrid also trains `{key}`"
                );
            }
        }
    }
}

/// `peftgrid slurm` writes an sbatch array of `sweep --shard i/N` tasks, a merge job and a
/// submit script with the dependency; run here as Slurm would run them (each task with its
/// `SLURM_ARRAY_TASK_ID`, then the merge), the merged file holds exactly the runs of the
/// unsharded sweep.
#[test]
fn slurm_scripts_shard_and_merge_to_the_unsharded_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let experiment = tiny_sweep(tmp.path(), "slurm-tiny", &[0, 1]);
    let slurm = |extra: &[&str]| {
        let mut args = vec![
            "slurm",
            experiment.to_str().unwrap(),
            "--partition",
            "gpu",
            "--gpus-per-task",
            "1",
            "--time",
            "01:00:00",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_peftgrid"))
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let o = slurm(&["--tasks", "13"]);
    assert!(
        !o.status.success() && text(&o).contains("the grid has 12 run(s)"),
        "{}",
        text(&o)
    );
    let o = slurm(&["--tasks", "3", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("#SBATCH --array=1-3") && !tmp.path().join("slurm").exists());

    let o = slurm(&["--tasks", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    let dir = tmp.path().join("slurm");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let array = read("slurm-tiny-array.sbatch");
    for line in [
        "#SBATCH --array=1-3",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --time=01:00:00",
        "--shard \"$i/3\"",
    ] {
        assert!(array.contains(line), "{line}:\n{array}");
    }
    let submit = read("slurm-tiny-submit.sh");
    assert!(
        submit.contains("sbatch --parsable") && submit.contains("--dependency=afterany:"),
        "{submit}"
    );
    for i in 1..=3 {
        let o = Command::new("bash")
            .arg(dir.join("slurm-tiny-array.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .output()
            .unwrap();
        assert!(o.status.success(), "task {i}: {}", text(&o));
    }
    let o = Command::new("bash")
        .arg(dir.join("slurm-tiny-merge.sbatch"))
        .output()
        .unwrap();
    assert!(o.status.success(), "merge: {}", text(&o));
    let merged =
        peftgrid_results::read_rows(&tmp.path().join("results/slurm-tiny.parquet")).unwrap();
    assert!(tmp.path().join("reports/slurm-tiny/table.md").is_file());

    let whole = tmp.path().join("whole");
    let o = peftgrid(&[
        "sweep",
        experiment.to_str().unwrap(),
        "--results",
        whole.to_str().unwrap(),
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ids = |rows: &[peftgrid_results::ResultRow]| {
        rows.iter()
            .map(|r| r.run_id.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let unsharded = peftgrid_results::read_rows(&whole.join("slurm-tiny.parquet")).unwrap();
    assert_eq!(merged.len(), 12);
    assert_eq!(ids(&merged), ids(&unsharded));
}

/// RAFT and VPT-deep train in a sweep on a text encoder too (the fixture BERT, synthetic
/// sentences, 3 updates), with their closed-form counts: 2 layers × 10 coefficients, and l = 4
/// prompt tokens of width 32 at the input and before the second layer.
#[test]
fn raft_and_vpt_deep_sweep_on_a_text_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let methods = r#"["raft", "vpt_deep:4,4", "adalora:4"]"#;
    let toml = tiny_experiment(tmp.path(), "text-new-forms", &[1], methods);
    let rows = sweep_rows(tmp.path(), "text-new-forms", &toml);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(
            r.status,
            peftgrid_results::Status::Ok,
            "{}: {}",
            r.method,
            r.note
        );
    }
    let trainable = |method: &str| {
        rows.iter()
            .find(|r| r.method == method)
            .map(|r| r.trainable_params)
    };
    assert_eq!(trainable("raft"), Some(2 * 10));
    assert_eq!(trainable("vpt_deep"), Some(2 * 4 * 32));
    // AdaLoRA at W_q, W_v of 2 layers, r = 4: P, λ, Q per site.
    assert_eq!(trainable("adalora"), Some(4 * 4 * (32 + 32 + 1)));
}

/// An experiment of six tiny runs per seed (fixture BERT, synthetic sentences, 3 updates each)
/// in `dir`, named `name`.
fn tiny_sweep(dir: &Path, name: &str, seeds: &[u64]) -> PathBuf {
    let methods = r#"["linear_probe", "lora:2", "bitfit", "ia3", "parallel:4", "prefix:3"]"#;
    let experiment = dir.join(format!("{name}.toml"));
    std::fs::write(&experiment, tiny_experiment(dir, name, seeds, methods)).unwrap();
    experiment
}

/// The text of an experiment of `methods` (a TOML list) on the fixture BERT in `dir`, synthetic
/// sentences, 3 updates per run.
fn tiny_experiment(dir: &Path, name: &str, seeds: &[u64], methods: &str) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/training");
    let backbone = tiny_bert(dir);
    format!(
        r#"name = "{name}"
backbone = "{}"
tasks = [{{ task = "glue/sst2", name = "synthetic", data_dir = "{}" }}]
seeds = {seeds:?}
methods = {methods}

[train]
batch_size = 8
epochs = 1
max_steps = 3
max_len = 32
head_pooling = "mean"
"#,
        backbone.display(),
        data.display()
    )
}

/// Killed by SIGKILL at 20 seeded random moments and restarted each time, a sweep loses and
/// duplicates no run: the results file reads after every kill, its rows only grow, and at the end
/// every run is there once with its curve (and adapter, where the method has one).
///
/// How many runs 20 kills need depends on the machine's speed (a fast machine finishes many runs
/// between two kills), so the experiment starts with 10 seeds (60 runs) and, whenever the sweep
/// completes before the 20th kill, gains 5 more seeds, as a user extends a finished sweep.
#[test]
fn a_sweep_killed_twenty_times_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let runs_per_seed = 6;
    let mut seeds: Vec<u64> = (0..10).collect();
    let experiment = tiny_sweep(tmp.path(), "kills", &seeds);
    let results = tmp.path().join("results");
    let file = results.join("kills.parquet");
    let args = [
        "sweep",
        experiment.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--no-report",
    ];
    // A fixed linear congruential stream: the same kill moments on every machine.
    let mut state: u64 = 20_261_203;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let (mut kills, mut last) = (0, 0);
    while kills < 20 {
        if last == seeds.len() * runs_per_seed {
            assert!(
                seeds.len() < 200,
                "1,200 runs finished within {kills} kills"
            );
            let more = seeds.len() as u64;
            seeds.extend(more..more + 5);
            tiny_sweep(tmp.path(), "kills", &seeds);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_peftgrid"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30 + next() % 200));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        if file.exists() {
            let rows = peftgrid_results::read_rows(&file)
                .unwrap_or_else(|e| panic!("after kill {kills}: {e}"));
            let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| &r.run_id).collect();
            assert_eq!(ids.len(), rows.len(), "after kill {kills}: a run twice");
            assert!(rows.len() >= last, "after kill {kills}: rows lost");
            last = rows.len();
        }
    }
    let total = seeds.len() * runs_per_seed;
    let o = peftgrid(&args);
    assert!(o.status.success(), "{}", text(&o));
    let rows = peftgrid_results::read_rows(&file).unwrap();
    assert_eq!(rows.len(), total);
    let ids: std::collections::BTreeSet<String> =
        rows.iter().map(|r| r.run_id[..16].to_string()).collect();
    assert_eq!(ids.len(), total);
    for r in &rows {
        assert_eq!(r.status, peftgrid_results::Status::Ok, "{}", r.note);
        let short = &r.run_id[..16];
        assert!(results.join(format!("kills/curves/{short}.json")).is_file());
        assert_eq!(
            results.join("kills/adapters").join(short).is_dir(),
            r.adapter_bytes.is_some(),
            "{} {}",
            r.method,
            short
        );
    }
    // Whatever a killed run left behind belongs to a run that has its row now.
    for sub in ["curves", "adapters"] {
        for e in std::fs::read_dir(results.join("kills").join(sub)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(ids.contains(&name[..16]), "{sub}/{name} belongs to no row");
        }
    }
    eprintln!("{kills} kills survived, {total} runs, no row lost or repeated");
}

/// Under a file-size limit (`ulimit -f`, a full disk's stand-in) a sweep that cannot write its
/// results says which file and why, and the results file it had keeps its rows.
#[test]
fn a_full_disk_is_an_error_naming_the_file_and_keeps_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    let experiment = tiny_sweep(tmp.path(), "full", &[0, 1]);
    let results = tmp.path().join("results");
    let file = results.join("full.parquet");
    let sweep = |limit_kb: Option<u64>, shard: &str| {
        let limit = limit_kb.map_or(String::new(), |k| format!("ulimit -f {k}; "));
        Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{limit}exec \"$0\" sweep \"$1\" --results \"$2\" --no-report --shard {shard}"
            ))
            .arg(env!("CARGO_BIN_EXE_peftgrid"))
            .arg(&experiment)
            .arg(&results)
            .output()
            .unwrap()
    };
    let o = sweep(None, "1/2");
    assert!(o.status.success(), "{}", text(&o));
    let before = peftgrid_results::read_rows(&file).unwrap();
    assert_eq!(before.len(), 6);
    let size_kb = std::fs::metadata(&file).unwrap().len() / 1024;
    // Room for neither the grown results table nor the adapters: every write past it fails.
    let o = sweep(Some(size_kb.max(1)), "2/2");
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("full.parquet") && out.to_lowercase().contains("file too large"),
        "{out}"
    );
    let after = peftgrid_results::read_rows(&file).unwrap();
    assert_eq!(after, before, "the previous results survive");
}
