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

// ---- loading errors: each names the file and the key or field, and nothing panics ----

/// A copy of a fixture folder whose config.json and tensors the test may edit.
fn edited_copy(
    name: &str,
    edit_config: impl FnOnce(&mut serde_json::Value),
    edit_tensors: impl FnOnce(&mut BTreeMap<String, NamedTensor>),
) -> tempfile::TempDir {
    let src = fixtures().join("hf").join(name);
    let dir = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    edit_config(&mut config);
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let mut weights = tensors::read(&src.join("model.safetensors")).unwrap();
    edit_tensors(&mut weights);
    tensors::write(&dir.path().join("model.safetensors"), &weights).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match load::<B>(dir, &Default::default()) {
        Ok(_) => panic!("{} loaded although it is broken", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_tensor_is_named_with_the_keys_tried() {
    let key = "bert.encoder.layer.1.attention.self.value.bias";
    let dir = edited_copy(
        "bert",
        |_| {},
        |w| {
            w.remove(key);
        },
    );
    let msg = load_error(dir.path());
    assert!(msg.contains("model.safetensors"), "{msg}");
    assert!(msg.contains(&format!("`{key}`")), "{msg}");
    assert!(msg.contains("missing tensor"), "{msg}");
}

#[test]
fn shape_mismatch_names_key_shapes_and_config_field() {
    let dir = edited_copy("roberta", |c| c["intermediate_size"] = 48.into(), |_| {});
    let msg = load_error(dir.path());
    assert!(
        msg.contains("roberta.encoder.layer.0.intermediate.dense.weight"),
        "{msg}"
    );
    assert!(
        msg.contains("[64, 32]") && msg.contains("[48, 32]"),
        "{msg}"
    );
}

#[test]
fn unsupported_model_type_is_refused() {
    let dir = edited_copy("bert", |c| c["model_type"] = "gpt2".into(), |_| {});
    let msg = load_error(dir.path());
    assert!(
        msg.contains("config.json") && msg.contains("`gpt2`") && msg.contains("bert, roberta, vit"),
        "{msg}"
    );
}

#[test]
fn mistyped_and_missing_config_fields_are_named() {
    let dir = edited_copy("vit", |c| c["hidden_size"] = "large".into(), |_| {});
    let msg = load_error(dir.path());
    assert!(msg.contains("field `hidden_size`"), "{msg}");

    let dir = edited_copy(
        "bert",
        |c| {
            c.as_object_mut().unwrap().remove("num_attention_heads");
        },
        |_| {},
    );
    let msg = load_error(dir.path());
    assert!(msg.contains("field `num_attention_heads`"), "{msg}");

    let dir = edited_copy("bert", |c| c["num_attention_heads"] = 5.into(), |_| {});
    let msg = load_error(dir.path());
    assert!(
        msg.contains("field `num_attention_heads`") && msg.contains("hidden_size 32"),
        "{msg}"
    );

    let dir = edited_copy(
        "bert",
        |c| c["position_embedding_type"] = "relative_key".into(),
        |_| {},
    );
    assert!(load_error(dir.path()).contains("position_embedding_type"));
}

#[test]
fn corrupt_or_missing_weights_are_errors_not_panics() {
    let dir = edited_copy("bert", |_| {}, |_| {});
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("model.safetensors"), "{msg}");

    std::fs::remove_file(&path).unwrap();
    let msg = load_error(dir.path());
    assert!(
        msg.contains("model.safetensors or pytorch_model.bin"),
        "{msg}"
    );

    let msg = load_error(&dir.path().join("nowhere"));
    assert!(msg.contains("config.json"), "{msg}");
}

#[test]
fn keys_without_the_encoder_prefix_load_the_same_model() {
    // all-MiniLM-L6-v2 and other bare encoders are saved without `bert.`.
    let dir = edited_copy(
        "bert",
        |_| {},
        |w| {
            *w = std::mem::take(w)
                .into_iter()
                .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
                .collect();
        },
    );
    let device = Default::default();
    let g = golden(&fixtures().join("hf/bert"));
    let out = load::<B>(dir.path(), &device)
        .unwrap()
        .model
        .forward(inputs(&g, &device))
        .unwrap()
        .named();
    let diff = max_abs_diff(&out["logits"].as_f32(), &g["logits"].as_f32());
    assert!(diff < TOL, "{diff}");
}

#[test]
fn wrong_inputs_are_named() {
    let device = Default::default();
    let bert = load::<B>(fixtures().join("hf/bert"), &device).unwrap();
    let err = bert
        .model
        .forward(Inputs::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("input_ids"), "{err}");
    let vit = load::<B>(fixtures().join("hf/vit"), &device).unwrap();
    let err = vit
        .model
        .forward(Inputs {
            pixel_values: Some(Tensor::zeros([1, 3, 16, 16], &device)),
            ..Inputs::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pixel_values") && err.contains("image_size"),
        "{err}"
    );
}

// ---- peft adapters ----

fn golden_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap()
}

#[test]
fn peft_adapters_match_peft() {
    for name in ["peft_lora", "peft_ia3", "peft_prompt", "peft_prefix"] {
        let dir = fixtures().join("hf").join(name);
        let device = Default::default();
        let mut loaded = load::<B>(dir.join("base"), &device).unwrap();
        let spec = peftgrid_model::peft::load_adapter(
            &mut loaded.model,
            &loaded.config,
            &dir.join("adapter"),
            &device,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = golden(&dir);
        let out = loaded.model.forward(inputs(&g, &device)).unwrap().named();
        let diff = max_abs_diff(
            &out["last_hidden_state"].as_f32(),
            &g["last_hidden_state"].as_f32(),
        );
        eprintln!(
            "{name}: max abs diff {diff:e}, shape {:?}",
            out["last_hidden_state"].shape
        );
        assert_eq!(
            out["last_hidden_state"].shape, g["last_hidden_state"].shape,
            "{name}"
        );
        assert!(diff < TOL, "{name}: {diff}");

        let expected = golden_json(&dir)["trainable_params"].as_u64().unwrap() as usize;
        let (from_modules, _) = peftgrid_model::method::trainable(&loaded.model, &spec);
        let from_config = peftgrid_zoo::count(&spec, &loaded.config.shape()).unwrap();
        assert_eq!(from_modules, expected, "{name}: counted from the modules");
        assert_eq!(
            from_config.deployed, expected,
            "{name}: counted from config.json"
        );
    }
}

// ---- the real checkpoint ----

/// all-MiniLM-L6-v2, if `just fetch-minilm` has put it in models/.
fn minilm() -> Option<PathBuf> {
    let dir = std::env::var_os("PEFTGRID_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} not fetched (run `just fetch-minilm`)",
            dir.display()
        );
        None
    }
}

#[test]
fn minilm_reproduces_the_published_sentence_similarities() {
    let Some(dir) = minilm() else { return };
    let device = Default::default();
    let tokenizer = peftgrid_model::TextTokenizer::from_path(&dir)
        .unwrap()
        .with_max_len(256)
        .unwrap();
    let model = load::<B>(&dir, &device).unwrap().model;
    let texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "A man is riding a horse.",
    ];
    let [ids, mask, types] = tokenizer.encode(&texts).unwrap().tensors::<B>(&device);
    let out = model
        .forward(Inputs {
            input_ids: Some(ids),
            attention_mask: Some(mask),
            token_type_ids: Some(types),
            pixel_values: None,
        })
        .unwrap();
    let e =
        peftgrid_model::mean_pool_normalized(out.last_hidden_state, out.attention_mask.unwrap());
    let cos: Vec<f32> = e
        .clone()
        .matmul(e.transpose())
        .into_data()
        .into_vec()
        .unwrap();
    // sentence-transformers' published example: 0.7553 and 0.2474 (4 decimals).
    assert!((cos[1] - 0.7553).abs() < 5e-5, "{}", cos[1]);
    assert!((cos[2] - 0.2474).abs() < 5e-5, "{}", cos[2]);
}
