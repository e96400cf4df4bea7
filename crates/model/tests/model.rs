//! Parity with PyTorch transformers on the shared fixtures, loading errors, and the real
//! all-MiniLM-L6-v2 checkpoint when it has been fetched (`just fetch-minilm`).
//!
//! Over 800 lines on purpose: the project keeps one integration-test binary per crate (each
//! binary links Burn and costs CI minutes to build), so the crate's acceptance tests share this
//! file; each test is self-contained and named for what it asserts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use peftgrid_model::tensors::{self, max_abs_diff, NamedTensor};
use peftgrid_model::{load, Inputs};

type B = NdArray<f32>;

mod fuzz;

const TOL: f32 = 1e-4;

fn fixtures() -> PathBuf {
    std::env::var_os("PEFTGRID_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

fn golden(dir: &Path) -> BTreeMap<String, NamedTensor> {
    tensors::read(&dir.join("golden.safetensors")).expect("golden.safetensors")
}

fn inputs<Bk: Backend>(g: &BTreeMap<String, NamedTensor>, device: &Device<Bk>) -> Inputs<Bk> {
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
        decoder_input_ids: g
            .get("decoder_input_ids")
            .map(|t| t.int("decoder_input_ids", device).unwrap()),
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

/// The vendored burn-flex's strided copy (`vendor/PATCHES.md`: an odometer over the outer
/// dims) against ndarray's: every permutation of a 4-D tensor, also narrowed and broadcast, and
/// a 5-D one, each made contiguous by a reshape.
#[test]
fn flex_copies_strided_layouts_as_ndarray_does() {
    type F = burn::backend::Flex<f32>;
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut all = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                all.push(q);
            }
        }
        all
    }
    fn flat<Bk: Backend, const D: usize>(
        shape: [usize; D],
        make: impl Fn(Tensor<Bk, D>) -> Tensor<Bk, D>,
    ) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let t = Tensor::<Bk, 1>::from_floats(values.as_slice(), &Default::default()).reshape(shape);
        let t = make(t);
        let m = t.shape().num_elements();
        t.reshape([m])
            .into_data()
            .convert::<f32>()
            .into_vec()
            .unwrap()
    }
    // The same expression on both backends (a closure cannot be generic over them).
    macro_rules! same {
        ($d:literal, $shape:expr, |$t:ident| $body:expr, $what:expr) => {{
            let on_flex = |$t: Tensor<F, $d>| $body;
            let on_ndarray = |$t: Tensor<B, $d>| $body;
            assert_eq!(flat($shape, on_flex), flat($shape, on_ndarray), "{}", $what);
        }};
    }
    let shape = [2, 3, 4, 5];
    for p in permutations(4) {
        let axes: [usize; 4] = p.clone().try_into().unwrap();
        same!(4, shape, |t| t.permute(axes), format!("{p:?}"));
        same!(
            4,
            shape,
            |t| t.permute(axes).narrow(2, 1, 1),
            format!("{p:?} narrowed")
        );
    }
    same!(
        4,
        shape,
        |t| t.narrow(1, 0, 1).expand(shape).swap_dims(1, 3),
        "broadcast"
    );
    same!(5, [2, 3, 2, 4, 3], |t| t.permute([0, 3, 1, 4, 2]), "5-D");
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
        let spec = peftgrid_model::formats::peft::load_adapter(
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

const ADAPTERHUB: [&str; 12] = [
    "ad_houlsby",
    "ad_pfeiffer",
    "ad_parallel",
    "ad_scaled_parallel",
    "ad_prefix",
    "ad_prefix_flat",
    "ad_lora",
    "ad_ia3",
    "ad_mam",
    "ad_unipelt",
    "ad_compacter",
    "ad_prompt",
];

/// Loads an AdapterHub fixture's adapter (from `weights`, one of its two files) onto `base/`.
fn with_adapterhub(
    name: &str,
    weights: &str,
    device: &Device<B>,
) -> (peftgrid_model::Loaded<B>, peftgrid_zoo::MethodSpec) {
    let root = fixtures().join("adapters");
    let mut loaded = load::<B>(root.join("base"), device).unwrap();
    // Only the weight file under test sits beside the config.
    let tmp = tempfile::tempdir().unwrap();
    let src = root.join(name).join("adapter");
    std::fs::copy(
        src.join("adapter_config.json"),
        tmp.path().join("adapter_config.json"),
    )
    .unwrap();
    std::fs::copy(src.join(weights), tmp.path().join(weights)).unwrap();
    let spec =
        peftgrid_model::formats::load_any(&mut loaded.model, &loaded.config, tmp.path(), device)
            .unwrap_or_else(|e| panic!("{name}/{weights}: {e}"));
    (loaded, spec)
}

#[test]
fn adapterhub_adapters_match_adapters() {
    let device = Default::default();
    for name in ADAPTERHUB {
        let dir = fixtures().join("adapters").join(name);
        let g = golden(&dir);
        let expected = golden_json(&dir)["trainable_params"].as_u64().unwrap() as usize;
        for weights in ["adapter.safetensors", "pytorch_adapter.bin"] {
            let (loaded, spec) = with_adapterhub(name, weights, &device);
            let out = loaded.model.forward(inputs(&g, &device)).unwrap().named();
            for t in ["last_hidden_state", "hidden_states"] {
                assert_eq!(out[t].shape, g[t].shape, "{name}/{weights}: {t}");
                let diff = max_abs_diff(&out[t].as_f32(), &g[t].as_f32());
                eprintln!("{name}/{weights}: {t} max abs diff {diff:e}");
                assert!(diff < TOL, "{name}/{weights}: {t} {diff}");
            }
            let (from_modules, _) = peftgrid_model::method::trainable(&loaded.model, &spec);
            let from_config = peftgrid_zoo::count(&spec, &loaded.config.shape()).unwrap();
            assert_eq!(from_modules, expected, "{name}: counted from the modules");
            assert_eq!(
                from_config.trainable, expected,
                "{name}: counted from config.json"
            );
        }
    }
}

#[test]
fn adapterhub_save_then_load_is_bit_identical() {
    let device = Default::default();
    for name in ADAPTERHUB {
        let (loaded, spec) = with_adapterhub(name, "adapter.safetensors", &device);
        let g = golden(&fixtures().join("adapters").join(name));
        let before = loaded.model.forward(inputs(&g, &device)).unwrap().named();
        let tmp = tempfile::tempdir().unwrap();
        let adapter_name = name.trim_start_matches("ad_");
        peftgrid_model::formats::adapterhub::save_adapter(
            &loaded.model,
            &loaded.config,
            &spec,
            adapter_name,
            tmp.path(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));

        // The config we write is the one AdapterHub wrote, key for key.
        let ours: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(tmp.path().join("adapter_config.json")).unwrap(),
        )
        .unwrap();
        let theirs: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                fixtures()
                    .join("adapters")
                    .join(name)
                    .join("adapter/adapter_config.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let (mut ours_config, mut theirs_config) =
            (ours["config"].clone(), theirs["config"].clone());
        if name == "ad_unipelt" {
            // A gated LoRA ignores α (the gate replaces α/r), so peftgrid does not keep it.
            ours_config["configs"][2]["alpha"] = serde_json::Value::Null;
            theirs_config["configs"][2]["alpha"] = serde_json::Value::Null;
        }
        assert_eq!(ours_config, theirs_config, "{name}: config");
        for field in ["name", "model_type", "model_class", "hidden_size"] {
            assert_eq!(ours[field], theirs[field], "{name}: {field}");
        }

        let mut again = load::<B>(fixtures().join("adapters/base"), &device).unwrap();
        peftgrid_model::formats::load_any(&mut again.model, &again.config, tmp.path(), &device)
            .unwrap_or_else(|e| panic!("{name} reloaded: {e}"));
        let after = again.model.forward(inputs(&g, &device)).unwrap().named();
        for t in ["last_hidden_state", "hidden_states"] {
            assert_eq!(
                after[t].as_f32(),
                before[t].as_f32(),
                "{name}: {t} after a round trip"
            );
        }
    }
}

#[test]
fn bad_adapterhub_folders_are_named_errors() {
    let device = Default::default();
    let root = fixtures().join("adapters");
    let src = root.join("ad_houlsby/adapter");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("adapter_config.json")).unwrap())
            .unwrap();
    let weights = tensors::read(&src.join("adapter.safetensors")).unwrap();
    let attempt = |config: &serde_json::Value, weights: &BTreeMap<String, NamedTensor>| -> String {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("adapter_config.json"), config.to_string()).unwrap();
        tensors::write(&tmp.path().join("adapter.safetensors"), weights).unwrap();
        let mut base = load::<B>(root.join("base"), &device).unwrap();
        match peftgrid_model::formats::load_any(&mut base.model, &base.config, tmp.path(), &device)
        {
            Ok(_) => panic!("accepted a broken adapter"),
            Err(e) => e.to_string(),
        }
    };
    let mut unknown = config.clone();
    unknown["config"]["architecture"] = serde_json::json!("hyper_adapter");
    let e = attempt(&unknown, &weights);
    assert!(
        e.contains("adapter_config.json")
            && e.contains("config.architecture")
            && e.contains("hyper_adapter"),
        "{e}"
    );

    let mut layer_subset = config.clone();
    layer_subset["config"]["leave_out"] = serde_json::json!([0]);
    let e = attempt(&layer_subset, &weights);
    assert!(e.contains("leave_out"), "{e}");

    let key = "encoder.layer.1.output.adapters.houlsby.adapter_up.weight";
    let mut missing = weights.clone();
    missing.remove(key);
    let e = attempt(&config, &missing);
    assert!(e.contains("adapter.safetensors") && e.contains(key), "{e}");

    let mut wrong_shape = weights.clone();
    wrong_shape.insert(
        key.to_string(),
        NamedTensor::f32(vec![32, 5], vec![0.0; 160]),
    );
    let e = attempt(&config, &wrong_shape);
    assert!(e.contains(key) && e.contains("[32, 5]"), "{e}");

    let mut extra = weights.clone();
    extra.insert(
        "encoder.layer.0.output.adapters.other.adapter_up.bias".into(),
        NamedTensor::f32(vec![32], vec![0.0; 32]),
    );
    let e = attempt(&config, &extra);
    assert!(
        e.contains("adapters.other") && e.contains("not part of the method"),
        "{e}"
    );

    let mut wider = config.clone();
    wider["hidden_size"] = serde_json::json!(64);
    let e = attempt(&wider, &weights);
    assert!(e.contains("hidden_size") && e.contains("64"), "{e}");

    // A method AdapterHub cannot express is refused by name when saving.
    let (loaded, _) = with_adapterhub("ad_lora", "adapter.safetensors", &device);
    let krona = peftgrid_zoo::MethodSpec::from_arg("krona").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let e = peftgrid_model::formats::adapterhub::save_adapter(
        &loaded.model,
        &loaded.config,
        &krona,
        "k",
        tmp.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("krona") && e.contains("kronecker"), "{e}");
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
            decoder_input_ids: None,
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

// ---- methods on backbones ----

mod methods {
    use super::*;
    use burn::backend::Autodiff;
    use burn::module::{Module, ModuleMapper, Param};
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use burn::tensor::Distribution;
    use peftgrid_model::formats::{self, native};
    use peftgrid_model::method::{self, param_list, role, trains, Role};
    use peftgrid_model::{Model, ModelConfig};
    use peftgrid_zoo::presets::{preset, PRESETS};
    use peftgrid_zoo::{count, match_budget, MethodSpec, Target};

    type AD = Autodiff<B>;

    fn config(name: &str) -> ModelConfig {
        ModelConfig::from_path(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/configs")
                .join(format!("{name}.json")),
        )
        .unwrap()
    }

    /// Adds noise to every method parameter, as if trained a little: zero-initialised halves
    /// (LoRA's B, an adapter's up-projection) would otherwise hide the other half's gradient.
    struct Perturb<'a>(&'a mut Vec<String>);
    impl<Bk: Backend> ModuleMapper<Bk> for Perturb<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.0.push(name.into());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.0.pop();
        }
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
            if role(self.0) != Role::Method {
                return p;
            }
            let (id, t, mapper) = p.consume();
            let noise =
                peftgrid_zoo::init::random(t.dims(), Distribution::Normal(0.0, 0.1), &t.device());
            // Positive biases keep every ReLU unit of a bottleneck alive, so that every weight
            // has a gradient in the one-step test.
            let noise = if self.0.last().is_some_and(|l| l == "bias") {
                noise.abs().add_scalar(0.1)
            } else {
                noise
            };
            Param::from_mapped_value(id, (t + noise).detach(), mapper)
        }
    }

    fn with_method<Bk: Backend>(
        fixture: &str,
        spec: &MethodSpec,
        device: &Bk::Device,
    ) -> (Model<Bk>, ModelConfig) {
        let loaded = load::<Bk>(fixtures().join("hf").join(fixture), device).unwrap();
        let mut model = loaded.model;
        // Reproducible noise: the host stream is per thread, and each test seeds its own.
        peftgrid_zoo::init::seed(0);
        method::apply(&mut model, &loaded.config, spec, device)
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        let mut path = Vec::new();
        (model.map(&mut Perturb(&mut path)), loaded.config)
    }

    fn values<Bk: Backend>(model: &Model<Bk>) -> BTreeMap<String, Vec<f32>> {
        struct Values<Bk: Backend>(
            Vec<String>,
            BTreeMap<String, Vec<f32>>,
            std::marker::PhantomData<Bk>,
        );
        impl<Bk: Backend> burn::module::ModuleVisitor<Bk> for Values<Bk> {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.0.push(name.into());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.0.pop();
            }
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Bk, D>>) {
                let v = p.val().into_data().convert::<f32>().into_vec().unwrap();
                self.1.insert(self.0.join("."), v);
            }
        }
        let mut v = Values(Vec::new(), BTreeMap::new(), std::marker::PhantomData);
        model.visit(&mut v);
        v.1
    }

    /// Every method on every encoder-decoder decodes the same ids with the key/value cache as
    /// without it (prefixes reach the cached self-attention and the once-computed cross
    /// attention; prompts and input sites only the encoder), greedy and with beams.
    #[test]
    fn decoding_with_a_method_is_the_same_with_and_without_the_cache() {
        use peftgrid_model::generate::{generate, GenerationConfig};
        let device = Default::default();
        for p in PRESETS {
            let spec = small((p.build)());
            for fixture in ["bart", "mbart", "t5"] {
                if !fits(&spec, fixture) {
                    continue;
                }
                let (model, _) = with_method::<B>(fixture, &spec, &device);
                let Model::Seq2Seq(m) = &model else {
                    panic!("{fixture}: not an encoder-decoder")
                };
                let dir = fixtures().join("hf").join(fixture);
                let g = golden(&dir);
                let ins = inputs::<B>(&g, &device);
                for beams in [1, 3] {
                    let settings = GenerationConfig::from_model_dir(&dir)
                        .unwrap()
                        .overridden_by(&GenerationConfig {
                            num_beams: Some(beams),
                            max_new_tokens: Some(8),
                            ..Default::default()
                        })
                        .resolve(m.vocab_size(), None)
                        .unwrap();
                    let run = |cache| {
                        let ids = generate(
                            m,
                            ins.input_ids.clone().unwrap(),
                            ins.attention_mask.clone(),
                            &settings,
                            cache,
                        );
                        ids.into_data().convert::<i64>().into_vec::<i64>().unwrap()
                    };
                    assert_eq!(
                        run(true),
                        run(false),
                        "{} on {fixture}, {beams} beam(s)",
                        spec.name
                    );
                }
            }
        }
    }

    #[test]
    fn one_step_trains_exactly_the_method_for_every_preset() {
        let device = Default::default();
        for p in PRESETS {
            let spec = (p.build)();
            // The fixture is 32 wide: budgets that suit base models are cut down to fit.
            let spec = small(spec);
            for fixture in ["bert", "vit", "bart", "t5"] {
                if !fits(&spec, fixture) {
                    continue;
                }
                let (model, _) = with_method::<AD>(fixture, &spec, &device);
                let model = method::freeze(model, &spec);
                let before = values(&model);
                let g = golden(&fixtures().join("hf").join(fixture));
                let out = model.forward(inputs(&g, &device)).unwrap();
                // Every token's output counts (ViT's logits read only the CLS token).
                let logits = match (out.logits, out.token_logits) {
                    (Some(l), _) => l.powf_scalar(2.0).mean(),
                    (None, Some(l)) => l.powf_scalar(2.0).mean(),
                    (None, None) => panic!("{fixture}: no logits"),
                };
                let loss = logits + out.last_hidden_state.powf_scalar(2.0).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let mut optim = AdamConfig::new().init::<AD, Model<AD>>();
                let model = optim.step(1e-2, model, grads);
                let after = values(&model);

                let trained: std::collections::BTreeSet<_> = param_list(&model)
                    .into_iter()
                    .filter(|(path, _, _)| trains(&spec, role(path)))
                    .map(|(_, id, _)| id)
                    .collect();
                let state: std::collections::BTreeSet<_> =
                    optim.to_record().keys().copied().collect();
                assert_eq!(
                    state, trained,
                    "{}/{fixture}: optimizer state only for trained parameters",
                    spec.name
                );

                for (path, _, _) in param_list(&model) {
                    let key = path.join(".");
                    let changed = before[&key] != after[&key];
                    // The key bias adds q·b_k to every score of a query, which softmax cancels:
                    // its gradient is exactly zero, so it may train and still not move.
                    let gradient_free = key.ends_with("attention.key.bias");
                    if trains(&spec, role(&path)) && !gradient_free {
                        assert!(
                            changed,
                            "{}/{fixture}: trained {key} did not change",
                            spec.name
                        );
                    } else if !trains(&spec, role(&path)) {
                        assert!(!changed, "{}/{fixture}: frozen {key} changed", spec.name);
                    }
                }
            }
        }
    }

    /// The native adapter of every preset on every fixture backbone (encoders and
    /// encoder-decoders) reloads onto a fresh load of the backbone to the same outputs: what a
    /// sweep's `adapters/<run>/` is for. The "trained" state is the perturbed one (every method
    /// tensor moved, LoRA's B and adapters' up-projections included).
    #[test]
    fn native_adapters_reload_to_the_same_outputs_for_every_preset() {
        let device = Default::default();
        for p in PRESETS {
            let spec = small((p.build)());
            for fixture in ["bert", "roberta", "vit", "bart", "mbart", "t5"] {
                if !fits(&spec, fixture) {
                    continue;
                }
                let (trained, config) = with_method::<B>(fixture, &spec, &device);
                let g = golden(&fixtures().join("hf").join(fixture));
                let want = trained.forward(inputs(&g, &device)).unwrap().named();
                let dir = tempfile::tempdir().unwrap();
                let bytes = native::save(&trained, &config, &spec, dir.path())
                    .unwrap_or_else(|e| panic!("{}/{fixture}: {e}", spec.name));
                assert_eq!(
                    bytes,
                    std::fs::metadata(dir.path().join(native::WEIGHT_FILE))
                        .unwrap()
                        .len()
                );

                let mut fresh = load::<B>(fixtures().join("hf").join(fixture), &device).unwrap();
                let method =
                    formats::load_any(&mut fresh.model, &fresh.config, dir.path(), &device)
                        .unwrap_or_else(|e| panic!("{}/{fixture}: {e}", spec.name));
                assert_eq!(method, spec.deployed(), "{}/{fixture}", spec.name);
                let got = fresh.model.forward(inputs(&g, &device)).unwrap().named();
                assert_eq!(
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>()
                );
                for (name, w) in &want {
                    let diff = max_abs_diff(&got[name].as_f32(), &w.as_f32());
                    assert!(
                        diff <= 1e-6,
                        "{}/{fixture}/{name}: reloaded adapter differs by {diff:e}",
                        spec.name
                    );
                }
            }
        }
    }

    /// A prefix is saved as its keys and values (the training MLP folded away, as peft saves
    /// it): the file holds 2·l·L·a values for L attentions of width a, plus its header.
    #[test]
    fn native_prefix_adapters_hold_the_deployed_prefix_only() {
        let device = Default::default();
        let spec = MethodSpec::from_arg("prefix:4").unwrap();
        assert!(matches!(
            &spec.modifications[0].form,
            peftgrid_zoo::Form::Prefix(p) if p.reparam.is_some()
        ));
        let (trained, config) = with_method::<B>("bert", &spec, &device);
        let dir = tempfile::tempdir().unwrap();
        let bytes = native::save(&trained, &config, &spec, dir.path()).unwrap();
        let file = tensors::read(&dir.path().join(native::WEIGHT_FILE)).unwrap();
        let shape = config.shape();
        let prefix_values = 2 * 4 * shape.layers() * shape.attention_dim;
        let held: usize = file
            .iter()
            .filter(|(k, _)| !k.contains(".head."))
            .map(|(_, t)| t.shape.iter().product::<usize>())
            .sum();
        assert_eq!(held, prefix_values, "{:?}", file.keys().collect::<Vec<_>>());
        let head: usize = file
            .iter()
            .filter(|(k, _)| k.contains(".head."))
            .map(|(_, t)| t.shape.iter().product::<usize>())
            .sum();
        let payload = 4 * (held + head) as u64;
        assert!(
            bytes > payload && bytes < payload + 4096,
            "{bytes} bytes for {payload} bytes of tensors"
        );
        let (_, adapter) = native::read_config(dir.path()).unwrap();
        assert_eq!(adapter.method, spec.deployed());
        assert_eq!(adapter.trained_as.as_ref(), Some(&spec));
    }

    /// Loading refuses an adapter that is not one, that was trained on another backbone, or
    /// whose file lacks a tensor the method trains, naming the file and the field or key.
    #[test]
    fn native_adapter_errors_name_the_file() {
        let device = Default::default();
        let spec = MethodSpec::from_arg("lora:4").unwrap();
        let (trained, config) = with_method::<B>("bert", &spec, &device);
        let dir = tempfile::tempdir().unwrap();
        native::save(&trained, &config, &spec, dir.path()).unwrap();
        let config_path = dir.path().join(native::CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path).unwrap();
        let load_err = |fixture: &str| {
            let mut fresh = load::<B>(fixtures().join("hf").join(fixture), &device).unwrap();
            formats::load_any(&mut fresh.model, &fresh.config, dir.path(), &device)
                .expect_err("refused")
                .to_string()
        };

        let err = load_err("roberta");
        assert!(
            err.contains("method.json") && err.contains("backbone") && err.contains("roberta"),
            "{err}"
        );

        std::fs::write(&config_path, text.replace("peftgrid-adapter", "other")).unwrap();
        let err = load_err("bert");
        assert!(
            err.contains("method.json") && err.contains("format"),
            "{err}"
        );

        std::fs::write(&config_path, &text).unwrap();
        let weights = dir.path().join(native::WEIGHT_FILE);
        let mut held = tensors::read(&weights).unwrap();
        let dropped = held.keys().find(|k| k.contains("sites")).unwrap().clone();
        held.remove(&dropped);
        tensors::write(&weights, &held).unwrap();
        let err = load_err("bert");
        assert!(
            err.contains("adapter.safetensors")
                && err.contains(&dropped)
                && err.contains("missing"),
            "{err}"
        );

        std::fs::remove_file(&weights).unwrap();
        let err = load_err("bert");
        assert!(err.contains("adapter.safetensors"), "{err}");
    }

    /// Post-norm insertion (Pfeiffer, UniPELT) exists only on post-LN backbones, UniPELT's
    /// sequence-mean gates and VPT-deep's per-layer prompts only on encoders; elsewhere `apply`
    /// refuses them (checked here).
    fn fits(spec: &MethodSpec, fixture: &str) -> bool {
        let post_norm = spec
            .modifications
            .iter()
            .any(|m| m.insertion == peftgrid_zoo::Insertion::PostNorm);
        let gated = spec
            .modifications
            .iter()
            .any(|m| m.composition == peftgrid_zoo::Composition::Gated);
        let deep = spec
            .modifications
            .iter()
            .any(|m| matches!(m.form, peftgrid_zoo::Form::DeepPrompt(_)));
        let refused = (post_norm && matches!(fixture, "vit" | "mbart" | "t5"))
            || ((gated || deep) && matches!(fixture, "bart" | "mbart" | "t5"));
        let fits = !refused;
        let shape = ModelConfig::from_path(fixtures().join("hf").join(fixture).join("config.json"))
            .unwrap()
            .shape();
        assert_eq!(
            spec.check_backbone(&shape).is_ok(),
            fits,
            "{} on {fixture}: the shape's rules disagree",
            spec.name
        );
        if !fits {
            let loaded =
                load::<B>(fixtures().join("hf").join(fixture), &Default::default()).unwrap();
            let mut model = loaded.model;
            let err = method::apply(&mut model, &loaded.config, spec, &Default::default())
                .expect_err("refused")
                .to_string();
            assert!(
                err.contains("post_norm")
                    || err.contains("gated composition")
                    || err.contains("VPT-deep"),
                "{}: {err}",
                spec.name
            );
        }
        fits
    }

    /// Budgets that fit a 32-wide, 4-head toy model.
    fn small(spec: MethodSpec) -> MethodSpec {
        let budgets: Vec<usize> = spec.budgets().iter().map(|_| 4).collect();
        spec.with_budgets(&budgets).unwrap()
    }

    #[test]
    fn module_counts_equal_the_closed_forms_for_every_preset() {
        let device = Default::default();
        for p in PRESETS {
            let spec = small((p.build)());
            for fixture in ["bert", "roberta", "vit", "bart", "mbart", "t5"] {
                if !fits(&spec, fixture) {
                    continue;
                }
                let (model, config) = with_method::<B>(fixture, &spec, &device);
                let (body, head) = method::trainable(&model, &spec);
                let c = count(&spec, &config.shape()).unwrap();
                assert_eq!(body, c.trainable, "{}/{fixture}", spec.name);
                assert_eq!(
                    head,
                    if spec.train_head { c.head } else { 0 },
                    "{}/{fixture}: head",
                    spec.name
                );
                assert_eq!(
                    c.with_head,
                    c.trainable + if spec.train_head { c.head } else { 0 }
                );
            }
        }
    }

    /// Not only the presets: every form with its default options at every position it accepts
    /// (sequential and parallel, added and scaled) has as many parameters in its modules as
    /// its closed form says, on an encoder and on an encoder-decoder.
    #[test]
    fn module_counts_equal_the_closed_forms_for_every_form() {
        use peftgrid_zoo::{Composition, Form, Insertion, ModificationSpec, Position};
        let device = Default::default();
        let mut placed = 0;
        for name in Form::NAMES {
            let form: Form = serde_json::from_value(serde_json::json!({ "kind": name })).unwrap();
            for position in Position::ALL {
                for insertion in [Insertion::Sequential, Insertion::Parallel] {
                    for composition in [Composition::Add, Composition::Scaled { s: 2.0 }] {
                        let mut m = ModificationSpec::new(form.clone(), &[position])
                            .insertion(insertion)
                            .composition(composition);
                        if form.knob().is_some() {
                            m = m.budget(4);
                        }
                        let spec = MethodSpec::new(name).with(m);
                        for fixture in ["bert", "bart"] {
                            let config = ModelConfig::from_path(
                                fixtures().join("hf").join(fixture).join("config.json"),
                            )
                            .unwrap();
                            let Ok(c) = count(&spec, &config.shape()) else {
                                continue;
                            };
                            let (model, _) = with_method::<B>(fixture, &spec, &device);
                            let (body, _) = method::trainable(&model, &spec);
                            assert_eq!(body, c.trainable, "{} on {fixture}", spec.modifications[0]);
                            placed += 1;
                        }
                    }
                }
            }
        }
        assert!(placed > 50, "only {placed} placements counted");
    }

    #[test]
    fn config_counts_equal_the_loaded_models() {
        let device = Default::default();
        for fixture in ["bert", "roberta", "vit", "bart", "mbart", "t5"] {
            let loaded = load::<B>(fixtures().join("hf").join(fixture), &device).unwrap();
            let shape = loaded.config.shape();
            let (mut pretrained, mut biases, mut norms, mut head) = (0, 0, 0, 0);
            for (path, _, n) in param_list(&loaded.model) {
                match role(&path) {
                    Role::Pretrained { bias, norm } => {
                        pretrained += n;
                        biases += if bias { n } else { 0 };
                        norms += if norm { n } else { 0 };
                    }
                    Role::Head => head += n,
                    Role::Method | Role::Buffer | Role::Frozen => {}
                }
            }
            assert_eq!(
                (pretrained, biases, norms, head),
                (
                    shape.pretrained,
                    shape.biases,
                    shape.layer_norms,
                    shape.head
                ),
                "{fixture}"
            );
        }
    }

    #[test]
    fn he_et_al_budgets_from_configs_alone() {
        let bert = config("bert-base-uncased").shape();
        let roberta = config("roberta-base").shape();
        let bart = config("bart-large").shape();
        assert_eq!(bert.pretrained, 109_482_240);
        // roberta-base's class is RobertaForMaskedLM: counted as RobertaModel, pooler included.
        assert_eq!(roberta.pretrained, 124_645_632);
        assert_eq!(bart.pretrained, 406_291_456);

        let lora = preset("lora").unwrap();
        assert_eq!(count(&lora, &bert).unwrap().trainable, 294_912);

        let prefix = MethodSpec::from_arg("prefix:200").unwrap();
        let c = count(&prefix, &bart).unwrap();
        assert_eq!(c.deployed, 2 * 200 * 1024 * 36);
        assert!(
            (c.deployed_percent - 3.6).abs() < 0.05,
            "{}",
            c.deployed_percent
        );

        let mam = preset("mam").unwrap();
        let c = count(&mam, &bart).unwrap();
        assert_eq!(
            c.deployed,
            2 * 30 * 1024 * 36 + 24 * (2 * 512 * 1024 + 512 + 1024)
        );
        assert!(
            (c.deployed_percent - 6.7).abs() < 0.06,
            "{}",
            c.deployed_percent
        );

        let c = count(&preset("mam_glue").unwrap(), &roberta).unwrap();
        assert!(
            (c.deployed_percent - 0.5).abs() < 0.05,
            "{}",
            c.deployed_percent
        );
        // Training-time prefix MLP (l·d + d·512 + 512 + 512·L·2d + L·2d) is counted too.
        assert_eq!(
            c.trainable - c.deployed,
            (16 * 768 + 768 * 512 + 512 + 512 * 12 * 2 * 768 + 12 * 2 * 768) - 2 * 16 * 768 * 12
        );
    }

    #[test]
    fn budget_matching_picks_the_closest_knob() {
        let bert = config("bert-base-uncased").shape();
        let (spec, c) =
            match_budget(&preset("lora").unwrap(), &bert, Target::Params(294_912), 0).unwrap();
        assert_eq!((spec.budgets(), c.trainable), (vec![8], 294_912));

        let roberta = config("roberta-base").shape();
        let (spec, c) = match_budget(
            &preset("houlsby").unwrap(),
            &roberta,
            Target::Percent(0.5),
            0,
        )
        .unwrap();
        let r = spec.budgets()[0];
        let at = |r: usize| {
            count(&spec.clone().with_budgets(&[r]).unwrap(), &roberta)
                .unwrap()
                .trainable as f64
        };
        let wanted = 0.005 * roberta.pretrained as f64;
        assert!(
            (at(r) - wanted).abs() <= (at(r - 1) - wanted).abs()
                && (at(r) - wanted).abs() <= (at(r + 1) - wanted).abs()
        );
        // One step of r moves the count by 24 × (2·768 + 1) ≈ 0.03%.
        assert!((c.percent - 0.5).abs() < 0.015, "{}", c.percent);

        // KronA's k must divide the widths: 7 never does, matching still finds a fitting k.
        let (spec, _) =
            match_budget(&preset("krona").unwrap(), &bert, Target::Params(10_000), 0).unwrap();
        assert_eq!(768 % spec.budgets()[0], 0);
        let err =
            match_budget(&preset("ia3").unwrap(), &bert, Target::Percent(1.0), 0).unwrap_err();
        assert!(err.to_string().contains("0 budget knob"), "{err}");
    }

    #[test]
    fn budgets_that_do_not_fit_are_errors() {
        let bert = config("bert-base-uncased").shape();
        for (arg, needle) in [
            ("krona:7", "k must divide"),
            ("lora:1000", "rank above"),
            ("compacter:30", "multiple of phm n"),
            ("prefix:0", "prefix length must be"),
        ] {
            let err = MethodSpec::from_arg(arg)
                .and_then(|m| count(&m, &bert))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{arg}: {err}");
        }
        let err = MethodSpec::from_arg("loar").unwrap_err().to_string();
        assert!(
            err.contains("unknown method `loar`") && err.contains("lora"),
            "{err}"
        );
        let device = Default::default();
        let mut loaded = load::<B>(fixtures().join("hf/bert"), &device).unwrap();
        let err = method::apply(
            &mut loaded.model,
            &loaded.config,
            &MethodSpec::from_arg("lora:33").unwrap(),
            &device,
        )
        .unwrap_err();
        assert!(err.to_string().contains("rank above"), "{err}");
    }

    #[test]
    fn merged_and_unmerged_outputs_agree() {
        let device = Default::default();
        for (name, fixture) in [
            "lora",
            "ia3",
            "krona",
            "dora",
            "rslora",
            "loha",
            "lokr",
            "vera",
            "fourierft",
            "adalora",
            "miss",
            "oft",
            "boft",
            "hra",
        ]
        .into_iter()
        .flat_map(|n| ["bert", "bart", "t5"].map(|f| (n, f)))
        {
            let spec = small(preset(name).unwrap());
            let (mut model, _) = with_method::<B>(fixture, &spec, &device);
            let g = golden(&fixtures().join("hf").join(fixture));
            let run = |m: &Model<B>| {
                m.forward(inputs(&g, &device)).unwrap().named()["last_hidden_state"].as_f32()
            };
            let weights = |m: &Model<B>| {
                values(m)
                    .into_iter()
                    .filter(|(k, _)| !k.contains("sites"))
                    .collect::<BTreeMap<_, _>>()
            };
            let (unmerged, w0) = (run(&model), weights(&model));
            model.merge();
            assert_ne!(
                weights(&model),
                w0,
                "{name}: merging changes the projections"
            );
            let merged = run(&model);
            model.unmerge();
            let restored = run(&model);
            assert!(
                max_abs_diff(&unmerged, &merged) < 1e-5,
                "{name}/{fixture}: merged {}",
                max_abs_diff(&unmerged, &merged)
            );
            // Unmerging divides the merged weights by the IA3 vector again: exact only to float
            // rounding (measured 1.1e-6 on T5's outputs, |out| ≤ 3; multiplying by the
            // reciprocal instead rounded twice and reached 4.8e-4 on another CPU).
            assert!(
                max_abs_diff(&unmerged, &restored) < 2e-5,
                "{name}/{fixture}: unmerged {}",
                max_abs_diff(&unmerged, &restored)
            );
            for (k, v) in weights(&model) {
                let d = max_abs_diff(&v, &w0[&k]);
                let scale = w0[&k].iter().fold(1f32, |a, b| a.max(b.abs()));
                assert!(d < 5e-5 * scale, "{name}/{fixture}: {k} restored: {d}");
            }
        }
    }

    /// peft's methods beyond LoRA, IA3 and prompt/prefix tuning, each saved by peft 0.21.2
    /// (`../shared/fixtures/peft-methods`, made by the script there).
    const PEFT_METHODS: &[&str] = &[
        "peft_dora",
        "peft_rslora",
        "peft_lora_ffn",
        "peft_vera",
        "peft_loha",
        "peft_lokr",
        "peft_oft",
        "peft_boft",
        "peft_hra",
        "peft_miss",
        "peft_fourierft",
        "peft_adalora",
        "peft_ln_tuning",
    ];

    /// Each loads with peft's own file, matches peft's output and trainable count, and, where
    /// the form merges, gives the same output merged, and its pretrained weights back unmerged.
    #[test]
    fn peft_methods_match_peft() {
        let device = Default::default();
        for name in PEFT_METHODS {
            let dir = fixtures().join("peft-methods").join(name);
            let mut loaded = load::<B>(dir.join("base"), &device).unwrap();
            let spec = formats::peft::load_adapter(
                &mut loaded.model,
                &loaded.config,
                &dir.join("adapter"),
                &device,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let g = golden(&dir);
            let run = |m: &Model<B>| {
                m.forward(inputs(&g, &device)).unwrap().named()["last_hidden_state"].as_f32()
            };
            let unmerged = run(&loaded.model);
            let diff = max_abs_diff(&unmerged, &g["last_hidden_state"].as_f32());
            eprintln!("{name}: max abs diff {diff:e}");
            assert!(diff < TOL, "{name}: {diff}");

            let expected = golden_json(&dir)["trainable_params"].as_u64().unwrap() as usize;
            let (from_modules, _) = method::trainable(&loaded.model, &spec);
            let from_config = count(&spec, &loaded.config.shape()).unwrap();
            assert_eq!(from_modules, expected, "{name}: counted from the modules");
            assert_eq!(from_config.trainable, expected, "{name}: closed form");

            let pretrained = |m: &Model<B>| {
                values(m)
                    .into_iter()
                    .filter(|(k, _)| !k.contains("sites") && !k.contains("shared"))
                    .collect::<BTreeMap<_, _>>()
            };
            let w0 = pretrained(&loaded.model);
            loaded.model.merge();
            let merged = run(&loaded.model);
            assert!(
                max_abs_diff(&unmerged, &merged) < 1e-5,
                "{name}: merged {}",
                max_abs_diff(&unmerged, &merged)
            );
            loaded.model.unmerge();
            for (k, v) in pretrained(&loaded.model) {
                let d = max_abs_diff(&v, &w0[&k]);
                assert!(d < 1e-6, "{name}: {k} restored to {d}");
            }
            assert!(
                max_abs_diff(&run(&loaded.model), &unmerged) < 1e-5,
                "{name}"
            );
        }
    }

    /// PiSSA and OLoRA on the BERT fixture against peft 0.21.2 (`tests/data/lora-init/make.py`):
    /// the residual weight each leaves in the projection and the product B·A of its adapter
    /// (A and B alone are fixed only up to signs), and the unchanged output.
    #[test]
    fn pissa_and_olora_start_as_peft_does() {
        use peftgrid_zoo::forms::{LowRankInit, LowRankSpec};
        use peftgrid_zoo::{Composition, Form, ModificationSpec, Position};
        let device = Default::default();
        let reference = tensors::read(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/lora-init/reference.safetensors"),
        )
        .unwrap();
        for (init, name) in [(LowRankInit::Pissa, "pissa"), (LowRankInit::Olora, "olora")] {
            let spec = MethodSpec::new(name).with(
                ModificationSpec::new(
                    Form::LowRank(LowRankSpec {
                        init,
                        ..LowRankSpec::default()
                    }),
                    &[Position::Q, Position::V],
                )
                .composition(Composition::AlphaOverRank { alpha: 8.0 })
                .budget(4),
            );
            let mut loaded = load::<B>(fixtures().join("hf/bert"), &device).unwrap();
            method::apply(&mut loaded.model, &loaded.config, &spec, &device).unwrap();
            let Model::Text(m) = &loaded.model else {
                panic!("bert is a text encoder")
            };
            for (i, layer) in m.layers.iter().enumerate() {
                for (position, linear, key) in [
                    (Position::Q, &layer.attention.query, "query"),
                    (Position::V, &layer.attention.value, "value"),
                ] {
                    let at = format!("{name}.layer.{i}.attention.self.{key}");
                    let residual = linear
                        .weight
                        .val()
                        .transpose()
                        .into_data()
                        .to_vec::<f32>()
                        .unwrap();
                    let d = max_abs_diff(&residual, &reference[&format!("{at}.residual")].as_f32());
                    assert!(d < 1e-5, "{at}: residual off by {d}");
                    let Some(peftgrid_zoo::Modification::LowRank(l)) =
                        layer.sites.get(position).and_then(|s| s.mods.first())
                    else {
                        panic!("{at}: no LoRA")
                    };
                    let delta = l.down.val().matmul(l.up.val()).transpose();
                    let delta = delta.into_data().to_vec::<f32>().unwrap();
                    let d = max_abs_diff(&delta, &reference[&format!("{at}.delta")].as_f32());
                    assert!(d < 1e-5, "{at}: B·A off by {d}");
                }
            }
            let g = golden(&fixtures().join("hf/bert"));
            let out = loaded.model.forward(inputs(&g, &device)).unwrap().named();
            let d = max_abs_diff(
                &out["last_hidden_state"].as_f32(),
                &reference[&format!("{name}.last_hidden_state")].as_f32(),
            );
            assert!(d < TOL, "{name}: output off by {d}");
        }
    }

    #[test]
    fn a_fresh_method_starts_as_the_pretrained_model() {
        // Zero-initialised up-projections, unit rescalings, zero bias vectors: no change at step 0.
        let device = Default::default();
        for (fixture, output) in [
            ("bert", "last_hidden_state"),
            ("bart", "logits"),
            ("t5", "logits"),
        ] {
            let g = golden(&fixtures().join("hf").join(fixture));
            for name in [
                "lora",
                "ia3",
                "parallel",
                "scaled_parallel",
                "mh_parallel",
                "krona",
                "adapter_bias",
                "u_tuning",
                // The weight-space forms as peft starts them (FourierFT's random spectrum does
                // not: peft's default).
                "rslora",
                "dora",
                "loha",
                "lokr",
                "vera",
                "adalora",
                "miss",
                "oft",
                "boft",
                "hra",
                "pissa",
                "olora",
            ] {
                let spec = small(preset(name).unwrap());
                let mut loaded = load::<B>(fixtures().join("hf").join(fixture), &device).unwrap();
                method::apply(&mut loaded.model, &loaded.config, &spec, &device).unwrap();
                let out = loaded.model.forward(inputs(&g, &device)).unwrap().named();
                let diff = max_abs_diff(&out[output].as_f32(), &g[output].as_f32());
                assert!(diff < TOL, "{name}/{fixture}: {diff}");
            }
        }
    }

    #[test]
    fn peft_save_then_load_is_the_same_model() {
        let device = Default::default();
        let g = golden(&fixtures().join("hf/bert"));
        for name in [
            "lora",
            "ia3",
            "prompt",
            "prefix",
            "rslora",
            "dora",
            "loha",
            "lokr",
            "vera",
            "fourierft",
            "adalora",
            "miss",
            "oft",
            "boft",
            "hra",
            "ln_tuning",
            "pissa",
            "olora",
            "lora_plus",
        ] {
            let mut spec = small(preset(name).unwrap());
            // A peft prefix numbers the real tokens after it: only such a prefix is one.
            if let Some(peftgrid_zoo::Form::Prefix(p)) =
                spec.modifications.first_mut().map(|m| &mut m.form)
            {
                p.shift_positions = true;
            }
            let (mut model, config) = with_method::<B>("bert", &spec, &device);
            model.deploy();
            let dir = tempfile::tempdir().unwrap();
            peftgrid_model::formats::peft::save_adapter(&model, &config, &spec, dir.path())
                .unwrap();
            let mut fresh = load::<B>(fixtures().join("hf/bert"), &device).unwrap();
            let loaded_spec = peftgrid_model::formats::peft::load_adapter(
                &mut fresh.model,
                &fresh.config,
                dir.path(),
                &device,
            )
            .unwrap();
            let ours =
                model.forward(inputs(&g, &device)).unwrap().named()["last_hidden_state"].as_f32();
            let back = fresh.model.forward(inputs(&g, &device)).unwrap().named()
                ["last_hidden_state"]
                .as_f32();
            assert!(
                max_abs_diff(&ours, &back) < 1e-6,
                "{name}: {}",
                max_abs_diff(&ours, &back)
            );
            assert_eq!(
                count(&loaded_spec, &config.shape()).unwrap().deployed,
                count(&spec, &config.shape()).unwrap().deployed,
                "{name}"
            );
        }
    }

    /// A spec written by hand parses and counts on a real config (the presets' round trips are
    /// the zoo's own tests).
    #[test]
    fn a_custom_spec_parses_and_counts() {
        let custom = r#"
            name = "prefix + parallel at attention"
            [[modifications]]
            form = { kind = "prefix" }
            at = ["head"]
            budget = 8
            [[modifications]]
            form = { kind = "bottleneck", act = "gelu" }
            at = ["attention", "ffn"]
            insertion = "parallel"
            composition = { kind = "scaled", s = 2.0 }
            budget = 4
        "#;
        let spec = MethodSpec::parse(custom, "custom").unwrap();
        let c = count(&spec, &config("roberta-base").shape()).unwrap();
        assert_eq!(
            c.deployed,
            12 * (2 * 8 * 768) + 24 * (768 * 4 + 4 + 4 * 768 + 768)
        );
        let err = MethodSpec::parse(
            "name = \"x\"\n[[modifications]]\nform = { kind = \"lora\" }\nat = [\"q\"]",
            "bad",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("bad") && err.to_string().contains("lora"),
            "{err}"
        );
    }
}

/// BART, mBART and T5: teacher-forced outputs, greedy and beam-search ids against
/// transformers, the cache against no cache, and the errors of bad settings.
mod seq2seq {
    use super::*;
    use peftgrid_model::generate::{generate, EarlyStopping, GenerationConfig};
    use peftgrid_model::{EncoderDecoder, Model};

    fn load_s2s(dir: &Path) -> EncoderDecoder<B> {
        match load::<B>(dir, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .model
        {
            Model::Seq2Seq(m) => m,
            _ => panic!("{}: not an encoder-decoder", dir.display()),
        }
    }

    fn ids_of(t: Tensor<B, 2, Int>) -> Vec<Vec<i64>> {
        let [rows, cols] = t.dims();
        let v = t.into_data().convert::<i64>().into_vec::<i64>().unwrap();
        (0..rows)
            .map(|r| v[r * cols..(r + 1) * cols].to_vec())
            .collect()
    }

    fn golden_ids(t: &NamedTensor) -> Vec<Vec<i64>> {
        let device = Default::default();
        ids_of(t.int::<B, 2>("ids", &device).unwrap())
    }

    #[test]
    fn bart_matches_transformers() {
        assert_parity("bart", &["encoder_last_hidden_state", "logits"]);
    }

    #[test]
    fn mbart_matches_transformers() {
        assert_parity("mbart", &["encoder_last_hidden_state", "logits"]);
    }

    #[test]
    fn t5_matches_transformers() {
        assert_parity("t5", &["encoder_last_hidden_state", "logits"]);
    }

    /// The settings of golden.json's `generation` block.
    fn golden_settings(dir: &Path, beam: bool) -> GenerationConfig {
        let g = golden_json(dir)["generation"].clone();
        let base = GenerationConfig::from_model_dir(dir).unwrap();
        let mut o = GenerationConfig {
            max_new_tokens: g["max_new_tokens"].as_u64().map(|v| v as usize),
            min_new_tokens: g["min_new_tokens"].as_u64().map(|v| v as usize),
            no_repeat_ngram_size: g["greedy_no_repeat_ngram_size"]
                .as_u64()
                .map(|v| v as usize),
            ..Default::default()
        };
        if beam {
            let b = &g["beam4"];
            o.num_beams = b["num_beams"].as_u64().map(|v| v as usize);
            o.early_stopping = Some(EarlyStopping::Bool(b["early_stopping"].as_bool().unwrap()));
            o.length_penalty = b["length_penalty"].as_f64();
            o.no_repeat_ngram_size = b["no_repeat_ngram_size"].as_u64().map(|v| v as usize);
        }
        base.overridden_by(&o)
    }

    fn check_golden_generation(name: &str) {
        let dir = fixtures().join("hf").join(name);
        let model = load_s2s(&dir);
        let g = golden(&dir);
        let device = Default::default();
        let ins = inputs::<B>(&g, &device);
        let mut cases = vec![("greedy_ids", false)];
        if g.contains_key("beam4_ids") {
            cases.push(("beam4_ids", true));
        }
        for (key, beam) in cases {
            let settings = golden_settings(&dir, beam)
                .resolve(model.vocab_size(), None)
                .unwrap();
            let want = golden_ids(&g[key]);
            for use_cache in [true, false] {
                let got = generate(
                    &model,
                    ins.input_ids.clone().unwrap(),
                    ins.attention_mask.clone(),
                    &settings,
                    use_cache,
                );
                assert_eq!(ids_of(got), want, "{name}/{key} (cache: {use_cache})");
            }
        }
    }

    /// A path of cases.json (relative to the repository root) on this machine.
    fn case_path(path: &str) -> PathBuf {
        match path.strip_prefix("../shared/fixtures/") {
            Some(rest) => fixtures().join(rest),
            None => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(path),
        }
    }

    /// 67 settings × models from tests/data/generation/make_reference.py (transformers 5.17):
    /// greedy and beam search with EOS at different steps per row and beam, early stopping
    /// true/false/"never", length penalties, min/max lengths, no-repeat n-grams, forced
    /// BOS/EOS. Each with and without the cache.
    #[test]
    fn generation_matches_transformers_across_settings() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generation");
        let cases: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("cases.json")).unwrap())
                .unwrap();
        let device = Default::default();
        let mut models: BTreeMap<String, (EncoderDecoder<B>, Option<usize>)> = BTreeMap::new();
        let cases = cases["cases"].as_array().unwrap();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let mut eos_rows = 0;
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let model_dir = case_path(case["model"].as_str().unwrap());
            let key = model_dir.display().to_string();
            if !models.contains_key(&key) {
                let config = peftgrid_model::ModelConfig::from_path(&model_dir).unwrap();
                let max_positions = match &config.architecture {
                    peftgrid_model::Architecture::Bart(c)
                    | peftgrid_model::Architecture::Mbart(c) => Some(c.max_position_embeddings),
                    _ => None,
                };
                models.insert(key.clone(), (load_s2s(&model_dir), max_positions));
            }
            let (model, max_positions) = &models[&key];
            let named =
                tensors::read(&case_path(case["inputs"]["file"].as_str().unwrap())).unwrap();
            let ids = named["input_ids"]
                .int::<B, 2>("input_ids", &device)
                .unwrap();
            let mask = named
                .get("attention_mask")
                .map(|t| t.int::<B, 2>("attention_mask", &device).unwrap());
            let overrides: GenerationConfig =
                serde_json::from_value(case["kwargs"].clone()).unwrap();
            let settings = GenerationConfig::from_model_dir(&model_dir)
                .unwrap()
                .overridden_by(&overrides)
                .resolve(model.vocab_size(), *max_positions)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want: Vec<Vec<i64>> = serde_json::from_value(case["ids"].clone()).unwrap();
            let eos = settings.eos.first().map(|e| *e as i64);
            eos_rows += want
                .iter()
                .filter(|r| r[1..].iter().any(|t| Some(*t) == eos))
                .count();
            for use_cache in [true, false] {
                let got = generate(model, ids.clone(), mask.clone(), &settings, use_cache);
                assert_eq!(ids_of(got), want, "{name} (cache: {use_cache})");
            }
        }
        // The cases exercise finishing: many rows end with EOS before the length limit.
        assert!(eos_rows > 50, "only {eos_rows} rows with EOS");
    }

    #[test]
    fn broken_encoder_decoders_and_settings_are_named_errors() {
        // A missing decoder tensor: the key and the names tried.
        let key = "model.decoder.layers.1.encoder_attn.k_proj.weight";
        let dir = edited_copy(
            "bart",
            |_| {},
            |w| {
                w.remove(key);
            },
        );
        let msg = load_error(dir.path());
        assert!(msg.contains("missing tensor") && msg.contains(key), "{msg}");
        // T5 without its decoder's relative position table.
        let key = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
        let dir = edited_copy(
            "t5",
            |_| {},
            |w| {
                w.remove(key);
            },
        );
        assert!(load_error(dir.path()).contains(key));
        // A config that does not fit the weights.
        let dir = edited_copy("mbart", |c| c["decoder_ffn_dim"] = 48.into(), |_| {});
        let msg = load_error(dir.path());
        assert!(
            msg.contains("fc1.weight") && msg.contains("[48, 32]"),
            "{msg}"
        );
        // A wrong model_type, and a T5 FFN kind that does not exist.
        let dir = edited_copy("bart", |c| c["model_type"] = "pegasus".into(), |_| {});
        let msg = load_error(dir.path());
        assert!(msg.contains("`pegasus`") && msg.contains("t5"), "{msg}");
        let dir = edited_copy(
            "t5",
            |c| c["feed_forward_proj"] = "gated-gelu-x".into(),
            |_| {},
        );
        let msg = load_error(dir.path());
        assert!(msg.contains("feed_forward_proj"), "{msg}");
        let dir = edited_copy("bart", |c| c["decoder_attention_heads"] = 5.into(), |_| {});
        let msg = load_error(dir.path());
        assert!(msg.contains("decoder_attention_heads"), "{msg}");

        // Inconsistent generation settings.
        let base = GenerationConfig::from_model_dir(fixtures().join("hf/bart")).unwrap();
        let bad = |o: GenerationConfig| {
            base.clone()
                .overridden_by(&o)
                .resolve(512, Some(64))
                .unwrap_err()
                .to_string()
        };
        let msg = bad(GenerationConfig {
            num_beams: Some(0),
            ..Default::default()
        });
        assert!(msg.contains("num_beams"), "{msg}");
        let msg = bad(GenerationConfig {
            min_new_tokens: Some(10),
            max_new_tokens: Some(5),
            ..Default::default()
        });
        assert!(
            msg.contains("min_new_tokens") && msg.contains("max_length"),
            "{msg}"
        );
        let msg = bad(GenerationConfig {
            min_length: Some(30),
            max_length: Some(20),
            ..Default::default()
        });
        assert!(msg.contains("min_length"), "{msg}");
        let msg = bad(GenerationConfig {
            max_new_tokens: Some(0),
            ..Default::default()
        });
        assert!(msg.contains("max_new_tokens"), "{msg}");
        let msg = bad(GenerationConfig {
            forced_bos_token_id: Some(9999),
            ..Default::default()
        });
        assert!(
            msg.contains("forced_bos_token_id") && msg.contains("9999"),
            "{msg}"
        );
        let msg = bad(GenerationConfig {
            do_sample: Some(true),
            ..Default::default()
        });
        assert!(msg.contains("do_sample"), "{msg}");
        // A generation_config.json with a mistyped field names file and field.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("generation_config.json"),
            r#"{"early_stopping": "sometimes"}"#,
        )
        .unwrap();
        let msg = GenerationConfig::from_model_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("generation_config.json") && msg.contains("early_stopping"),
            "{msg}"
        );
        // transformers' defaults: 20 new tokens, capped by the learned positions.
        let r = base.resolve(512, Some(16)).unwrap();
        assert_eq!((r.max_length, r.num_beams, r.min_length), (16, 1, 0));
        assert_eq!(base.resolve(512, None).unwrap().max_length, 21);
    }

    /// transformers' bucket function on a grid of distances (values from
    /// `T5Attention._relative_position_bucket` in transformers 5.17).
    #[test]
    fn t5_relative_buckets_match_transformers() {
        use peftgrid_model::seq2seq::relative_position_bucket as bucket;
        let rel: Vec<i64> = vec![
            -200, -128, -100, -40, -17, -16, -9, -8, -7, -1, 0, 1, 7, 8, 9, 16, 17, 40, 100, 127,
            128, 200,
        ];
        let bi: Vec<usize> = rel.iter().map(|r| bucket(*r, true, 32, 128)).collect();
        let uni: Vec<usize> = rel.iter().map(|r| bucket(*r, false, 32, 128)).collect();
        assert_eq!(bi, super::BIDIRECTIONAL_32_128);
        assert_eq!(uni, super::UNIDIRECTIONAL_32_128);
    }

    #[test]
    fn bart_generates_the_golden_ids() {
        check_golden_generation("bart");
    }

    #[test]
    fn mbart_generates_the_golden_ids() {
        check_golden_generation("mbart");
    }

    #[test]
    fn t5_generates_the_golden_ids() {
        check_golden_generation("t5");
    }
}

/// `T5Attention._relative_position_bucket(rel, bidirectional, 32, 128)` in transformers 5.17
/// for rel = -200, -128, -100, -40, -17, -16, -9, -8, -7, -1, 0, 1, 7, 8, 9, 16, 17, 40, 100,
/// 127, 128, 200.
const BIDIRECTIONAL_32_128: [usize; 22] = [
    15, 15, 15, 12, 10, 10, 8, 8, 7, 1, 0, 17, 23, 24, 24, 26, 26, 28, 31, 31, 31, 31,
];
const UNIDIRECTIONAL_32_128: [usize; 22] = [
    31, 31, 30, 23, 16, 16, 9, 8, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
