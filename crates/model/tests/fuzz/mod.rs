//! Inputs that cannot crash the model layer: `config.json`, `generation_config.json`,
//! safetensors headers (synthesised, and real checkpoints mutated), PyTorch `.bin` pickles,
//! peft and AdapterHub adapter folders (`adapter_config.json` and weights), `tokenizer.json`
//! and method specs (JSON and TOML), mutated from the fixtures with a fixed seed. Each case
//! must end in a value or an error naming the file; see the harness for what else fails one.

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use peftgrid_model::generate::GenerationConfig;
use peftgrid_model::{
    method, tensors, Architecture, Checkpoint, Model, ModelConfig, TextTokenizer,
};
use peftgrid_zoo::presets::PRESETS;
use peftgrid_zoo::{count, MethodSpec};
use proptest::prelude::*;
use proptest::sample::Index;

use peftgrid_testkit::fuzz::{self as harness, bytes_case, fuzz, text_case, BytesCase, Outcome};
use peftgrid_testkit::seeds;

type B = NdArray<f32>;

#[global_allocator]
static ALLOCATOR: harness::PeakAlloc = harness::PeakAlloc;

fn fixtures() -> PathBuf {
    std::env::var_os("PEFTGRID_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap()
}

/// Copies the files of `from` into a new folder `to` (the fixtures are read-only).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The length of a safetensors file's 8-byte length and JSON header.
fn safetensors_header_len(file: &[u8]) -> usize {
    8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize
}

/// Byte edits that land in the safetensors header half of the time (most of a checkpoint is
/// tensor data, where a flipped bit only changes a weight).
fn header_or_anywhere() -> impl Strategy<Value = (BytesCase, bool)> {
    (bytes_case(), any::<bool>())
}

fn mutate_safetensors(case: &BytesCase, in_header: bool, seeds: &[Vec<u8>]) -> Vec<u8> {
    if in_header {
        case.apply_keeping_tail(seeds, |f| f.len() - safetensors_header_len(f).min(f.len()))
    } else {
        case.apply(seeds)
    }
}

// ---- config.json ----

const ENCODERS: &[&str] = &["bert", "roberta", "vit"];
const SEQ2SEQ: &[&str] = &["bart", "mbart", "t5"];

#[test]
fn fuzz_config_json() {
    let hf = fixtures().join("hf");
    let mut seeds: Vec<String> = ENCODERS
        .iter()
        .chain(SEQ2SEQ)
        .map(|m| text(&hf.join(m).join("config.json")))
        .collect();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs");
    for name in ["bert-base-uncased", "bart-large", "all-MiniLM-L6-v2"] {
        seeds.push(text(&configs.join(format!("{name}.json"))));
    }
    seeds.push(text(&fixtures().join("adapters/base/config.json")));
    let root = tmp();
    let file = root.path().join("config.json");
    fuzz("config.json", 500, text_case(), |case| {
        std::fs::write(&file, case.json(&seeds)).unwrap();
        Outcome::then(ModelConfig::from_path(&file), |config| {
            // What the runner reads of a config before any weight: its sizes and counts.
            let _ = (config.dims().head_dim(), config.shape());
            Outcome::Ok
        })
        .named(&file)
    });
}

// ---- generation settings ----

/// The vocabulary and learned positions of a seq2seq config (what `resolve` checks ids and
/// lengths against).
fn vocab_and_positions(config: &ModelConfig) -> (usize, Option<usize>) {
    match &config.architecture {
        Architecture::Bart(c) | Architecture::Mbart(c) => {
            (c.vocab_size, Some(c.max_position_embeddings))
        }
        Architecture::T5(c) => (c.vocab_size, None),
        _ => unreachable!("a seq2seq fixture"),
    }
}

#[test]
fn fuzz_generation_config() {
    let hf = fixtures().join("hf");
    let root = tmp();
    let mut seeds = Vec::new();
    let mut dirs = Vec::new();
    for name in SEQ2SEQ {
        let dir = root.path().join(name);
        copy_dir(&hf.join(name), &dir);
        seeds.push(text(&dir.join("generation_config.json")));
        let config = ModelConfig::from_path(&dir).unwrap();
        dirs.push((dir, vocab_and_positions(&config)));
    }
    fuzz("generation_config.json", 400, text_case(), |case| {
        let (dir, (vocab, positions)) = case.seed.get(&dirs);
        let file = dir.join("generation_config.json");
        std::fs::write(&file, case.json(&seeds)).unwrap();
        match GenerationConfig::from_model_dir(dir) {
            Err(e) => Outcome::naming_one_of(Err::<(), _>(e), &[&file, &dir.join("config.json")]),
            // Resolved settings are checked against the model, not a file: the error names the
            // setting instead.
            Ok(settings) => Outcome::of(settings.resolve(*vocab, *positions)),
        }
    });
}

// ---- safetensors ----

/// The dtypes of the format, with names it does not have.
const DTYPES: &[&str] = &[
    "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
    "F8_E4M3", "F8_E5M2", "F4", "Q4", "", "f32",
];
const NAMES: &[&str] = &[
    "embeddings.word_embeddings.weight",
    "input_ids",
    "a",
    "",
    "__metadata__",
];

/// A dimension: small, at the edges of the integer types, or anything.
fn dim() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..6,
        1 => Just(u64::MAX),
        1 => Just(u64::MAX / 2 + 1),
        1 => Just(1u64 << 32),
        1 => Just(1u64 << 62),
        1 => any::<u64>(),
    ]
}

#[derive(Debug, Clone)]
enum Offsets {
    /// Where the declared shape and dtype put the tensor (products wrap, as a writer's would).
    Consistent,
    Raw(u64, u64),
}

#[derive(Debug, Clone)]
struct SynthTensor {
    name: Index,
    dtype: Index,
    shape: Vec<u64>,
    offsets: Offsets,
}

#[derive(Debug, Clone)]
enum HeaderLen {
    Exact,
    Declared(u64),
}

/// A safetensors file built from parts: the 8-byte header length, the JSON header, the data.
#[derive(Debug, Clone)]
struct SynthFile {
    header_len: HeaderLen,
    tensors: Vec<SynthTensor>,
    metadata: bool,
    /// Bytes after the header: `None` for where the last tensor's offsets end (at most 4 KiB).
    data_len: Option<usize>,
}

fn synth_file() -> impl Strategy<Value = SynthFile> {
    let offsets = prop_oneof![
        3 => Just(Offsets::Consistent),
        1 => (prop_oneof![0u64..64, any::<u64>()], prop_oneof![0u64..64, any::<u64>(), Just(u64::MAX)])
            .prop_map(|(a, b)| Offsets::Raw(a, b)),
    ];
    let tensor = (
        any::<Index>(),
        any::<Index>(),
        proptest::collection::vec(dim(), 0..4),
        offsets,
    )
        .prop_map(|(name, dtype, shape, offsets)| SynthTensor {
            name,
            dtype,
            shape,
            offsets,
        });
    let header_len = prop_oneof![
        3 => Just(HeaderLen::Exact),
        1 => prop_oneof![Just(0u64), Just(7), Just(u64::MAX), Just(100_000_001), any::<u64>()]
            .prop_map(HeaderLen::Declared),
    ];
    // Mostly as much data as the offsets ask for (capped), else any amount.
    let data_len = prop_oneof![3 => Just(None), 1 => (0usize..300).prop_map(Some)];
    (
        header_len,
        proptest::collection::vec(tensor, 0..4),
        any::<bool>(),
        data_len,
    )
        .prop_map(|(header_len, tensors, metadata, data_len)| SynthFile {
            header_len,
            tensors,
            metadata,
            data_len,
        })
}

fn dtype_bytes(name: &str) -> u64 {
    match name {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        _ => 1,
    }
}

impl SynthFile {
    fn bytes(&self) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut end = 0u64;
        for t in &self.tensors {
            let dtype = *t.dtype.get(DTYPES);
            let (begin, stop) = match t.offsets {
                Offsets::Consistent => {
                    let n = t.shape.iter().fold(1u64, |a, &d| a.wrapping_mul(d));
                    let stop = end.wrapping_add(n.wrapping_mul(dtype_bytes(dtype)));
                    (end, stop)
                }
                Offsets::Raw(a, b) => (a, b),
            };
            end = stop;
            header.insert(
                t.name.get(NAMES).to_string(),
                serde_json::json!({"dtype": dtype, "shape": t.shape, "data_offsets": [begin, stop]}),
            );
        }
        if self.metadata {
            header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
        }
        let json = serde_json::to_vec(&header).unwrap();
        let declared = match self.header_len {
            HeaderLen::Exact => json.len() as u64,
            HeaderLen::Declared(n) => n,
        };
        let mut out = declared.to_le_bytes().to_vec();
        out.extend(json);
        let data_len = self.data_len.unwrap_or(end.min(4096) as usize);
        out.extend((0..data_len).map(|i| (i * 7) as u8));
        out
    }
}

/// Reads a safetensors file both ways the crate does: as named tensors (`forward`'s inputs)
/// and as a checkpoint, every tensor materialised at its stored shape.
fn read_safetensors(file: &Path) -> Outcome {
    Outcome::naming(tensors::read(file), file).and_then(|| {
        Outcome::then(Checkpoint::open_file(file), |ckpt| {
            let keys: Vec<String> = ckpt.keys().map(String::from).collect();
            for key in keys {
                let shape = ckpt.shape(&key).unwrap_or_default();
                if let Err(e) = ckpt.data(&key, &shape, "the fuzzed header") {
                    return Outcome::Err(e.to_string());
                }
            }
            Outcome::Ok
        })
        .named(file)
    })
}

#[test]
fn fuzz_safetensors_headers() {
    let root = tmp();
    let file = root.path().join("synth.safetensors");
    fuzz(
        "safetensors headers (synthesised)",
        500,
        synth_file(),
        |synth| {
            std::fs::write(&file, synth.bytes()).unwrap();
            read_safetensors(&file)
        },
    );
}

#[test]
fn fuzz_safetensors_files() {
    let hf = fixtures().join("hf");
    let seeds: Vec<Vec<u8>> = ["bert", "vit", "t5"]
        .iter()
        .map(|m| read(&hf.join(m).join("golden.safetensors")))
        .chain([read(
            &fixtures().join("adapters/ad_lora/adapter/adapter.safetensors"),
        )])
        .collect();
    let root = tmp();
    let file = root.path().join("tensors.safetensors");
    fuzz(
        "safetensors files (fixtures mutated)",
        300,
        header_or_anywhere(),
        |(case, in_header)| {
            std::fs::write(&file, mutate_safetensors(&case, in_header, &seeds)).unwrap();
            read_safetensors(&file)
        },
    );
}

#[test]
fn fuzz_model_checkpoint() {
    let root = tmp();
    let mut dirs = Vec::new();
    let mut seeds = Vec::new();
    for name in ["bert", "t5"] {
        let dir = root.path().join(name);
        copy_dir(&fixtures().join("hf").join(name), &dir);
        seeds.push(read(&dir.join("model.safetensors")));
        dirs.push(dir);
    }
    let device = Default::default();
    fuzz(
        "model.safetensors (model load)",
        200,
        header_or_anywhere(),
        |(case, in_header)| {
            let dir = case.seed.get(&dirs);
            let file = dir.join("model.safetensors");
            std::fs::write(&file, mutate_safetensors(&case, in_header, &seeds)).unwrap();
            Outcome::naming(peftgrid_model::load::<B>(dir, &device), &file)
        },
    );
}

#[test]
fn fuzz_pytorch_pickles() {
    let adapters = fixtures().join("adapters");
    let seeds: Vec<Vec<u8>> = ["ad_lora", "ad_prefix"]
        .iter()
        .map(|a| read(&adapters.join(a).join("adapter/pytorch_adapter.bin")))
        .collect();
    let root = tmp();
    let file = root.path().join("pytorch_adapter.bin");
    fuzz("PyTorch .bin (pickle in zip)", 300, bytes_case(), |case| {
        std::fs::write(&file, case.apply(&seeds)).unwrap();
        Outcome::then(Checkpoint::open_file(&file), |ckpt| {
            let keys: Vec<String> = ckpt.keys().map(String::from).collect();
            for key in keys {
                let shape = ckpt.shape(&key).unwrap_or_default();
                if let Err(e) = ckpt.data(&key, &shape, "the fuzzed pickle") {
                    return Outcome::Err(e.to_string());
                }
            }
            Outcome::Ok
        })
        .named(&file)
    });
}

// ---- adapter folders ----

/// An adapter fixture copied to a folder of its own, with the base model it was made on.
struct AdapterFolder {
    dir: PathBuf,
    config: ModelConfig,
    model: Model<B>,
}

fn adapter_folders(root: &Path) -> Vec<AdapterFolder> {
    let device = Default::default();
    let hf = fixtures().join("hf");
    let adapters = fixtures().join("adapters");
    let mut pairs: Vec<(PathBuf, PathBuf)> =
        ["peft_lora", "peft_ia3", "peft_prefix", "peft_prompt"]
            .iter()
            .map(|p| (hf.join(p).join("adapter"), hf.join(p).join("base")))
            .collect();
    for entry in std::fs::read_dir(&adapters).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("adapter/adapter_config.json").is_file() {
            pairs.push((dir.join("adapter"), adapters.join("base")));
        }
    }
    pairs.sort();
    pairs
        .into_iter()
        .enumerate()
        .map(|(i, (adapter, base))| {
            let dir = root.join(format!("adapter-{i}"));
            copy_dir(&adapter, &dir);
            let loaded = peftgrid_model::load::<B>(&base, &device).unwrap();
            AdapterFolder {
                dir,
                config: loaded.config,
                model: loaded.model,
            }
        })
        .collect()
}

#[test]
fn fuzz_adapter_config() {
    let root = tmp();
    let folders = adapter_folders(root.path());
    let seeds: Vec<String> = folders
        .iter()
        .map(|f| text(&f.dir.join("adapter_config.json")))
        .collect();
    let device = Default::default();
    fuzz(
        "adapter_config.json (peft, AdapterHub)",
        500,
        text_case(),
        |case| {
            let folder = case.seed.get(&folders);
            let file = folder.dir.join("adapter_config.json");
            std::fs::write(&file, case.json(&seeds)).unwrap();
            let mut model = folder.model.clone();
            let weights: Vec<PathBuf> = std::fs::read_dir(&folder.dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            let mut files: Vec<&Path> = weights.iter().map(PathBuf::as_path).collect();
            files.push(&folder.dir);
            Outcome::naming_one_of(
                peftgrid_model::formats::load_any(&mut model, &folder.config, &folder.dir, &device),
                &files,
            )
        },
    );
}

#[test]
fn fuzz_adapter_weights() {
    let root = tmp();
    let folders: Vec<(AdapterFolder, PathBuf)> = adapter_folders(root.path())
        .into_iter()
        .filter_map(|f| {
            let weights = ["adapter_model.safetensors", "adapter.safetensors"]
                .iter()
                .map(|w| f.dir.join(w))
                .find(|p| p.is_file())?;
            // Only the safetensors file is read when both are there; the pickle is fuzzed on
            // its own.
            let _ = std::fs::remove_file(f.dir.join("pytorch_adapter.bin"));
            Some((f, weights))
        })
        .collect();
    let seeds: Vec<Vec<u8>> = folders.iter().map(|(_, w)| read(w)).collect();
    let device = Default::default();
    fuzz(
        "adapter weights (safetensors)",
        300,
        header_or_anywhere(),
        |(case, in_header)| {
            let (folder, weights) = case.seed.get(&folders);
            std::fs::write(weights, mutate_safetensors(&case, in_header, &seeds)).unwrap();
            let mut model = folder.model.clone();
            let config_file = folder.dir.join("adapter_config.json");
            Outcome::naming_one_of(
                peftgrid_model::formats::load_any(&mut model, &folder.config, &folder.dir, &device),
                &[weights, &config_file],
            )
        },
    );
}

// ---- tokenizer.json ----

#[test]
fn fuzz_tokenizer_json() {
    let seeds = seeds::tokenizer_seeds();
    let root = tmp();
    let file = root.path().join("tokenizer.json");
    fuzz("tokenizer.json (model)", 250, text_case(), |case| {
        std::fs::write(&file, case.json(&seeds)).unwrap();
        Outcome::then(TextTokenizer::from_path(&file), |tokenizer| {
            Outcome::then(tokenizer.with_max_len(12), |tokenizer| {
                Outcome::then(
                    tokenizer.encode_pairs(&[("the cat sat", "a good film"), ("", "ab ab")]),
                    |encoded| {
                        let ids: Vec<u32> = encoded.input_ids.iter().map(|&i| i as u32).collect();
                        Outcome::of(tokenizer.decode(&ids))
                    },
                )
            })
        })
        .named(&file)
    });
}

// ---- method specs ----

#[test]
fn fuzz_method_specs() {
    let specs: Vec<MethodSpec> = PRESETS.iter().map(|p| (p.build)()).collect();
    let json: Vec<String> = specs.iter().map(|s| s.to_json().unwrap()).collect();
    let toml: Vec<String> = specs.iter().map(|s| s.to_toml().unwrap()).collect();
    let device = Default::default();
    let base = peftgrid_model::load::<B>(fixtures().join("adapters/base"), &device).unwrap();
    let shape = base.config.shape();
    let root = tmp();
    for (format, seeds) in [("JSON", &json), ("TOML", &toml)] {
        let file = root
            .path()
            .join(format!("method.{}", format.to_lowercase()));
        let origin = file.display().to_string();
        fuzz(&format!("method spec {format}"), 300, text_case(), |case| {
            let bytes = if format == "JSON" {
                case.json(seeds)
            } else {
                case.toml(seeds)
            };
            let text = String::from_utf8_lossy(&bytes);
            match MethodSpec::parse(&text, &origin) {
                Err(e) => Outcome::naming(Err::<(), _>(e), &file),
                // A spec that parses is counted and placed on a model, as `peftgrid train`
                // does; those errors are about the backbone, not the file.
                Ok(spec) => Outcome::then(count(&spec, &shape), |_| {
                    let mut model = base.model.clone();
                    Outcome::of(method::apply(&mut model, &base.config, &spec, &device))
                }),
            }
        });
    }
}

// ---- regressions: what the fuzzing found ----

/// The config of `hf/peft_lora`'s adapter with `field` set to `value`, in a fresh folder.
fn peft_lora_with(root: &Path, field: &str, value: serde_json::Value) -> AdapterFolder {
    let folder = adapter_folders(root)
        .into_iter()
        .find(|f| text(&f.dir.join("adapter_config.json")).contains("\"LORA\""))
        .expect("the peft LoRA fixture");
    let file = folder.dir.join("adapter_config.json");
    let mut config: serde_json::Value = serde_json::from_str(&text(&file)).unwrap();
    config[field] = value;
    std::fs::write(&file, config.to_string()).unwrap();
    folder
}

/// A peft LoRA config with r = 2^40 went on to build [d, r] factors: one 512 GiB allocation,
/// and the process aborted. The budget is now refused with the config named, before anything
/// of that size exists.
#[test]
fn regression_adapter_rank_past_any_budget() {
    let root = tmp();
    let folder = peft_lora_with(root.path(), "r", (1u64 << 40).into());
    let mut model = folder.model.clone();
    let (result, peak) = harness::tracking_allocations(|| {
        peftgrid_model::formats::load_any(
            &mut model,
            &folder.config,
            &folder.dir,
            &Default::default(),
        )
    });
    let e = result.expect_err("refused").to_string();
    assert!(
        e.contains("adapter_config.json") && e.contains("budget"),
        "{e}"
    );
    assert!(peak < 1 << 24, "largest allocation {peak} bytes");
}

/// A config.json with a width no model has (2^40) overflowed the parameter counts computed
/// from it; it is refused when read, naming the field.
#[test]
fn regression_config_sizes_past_any_model() {
    let root = tmp();
    let file = root.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&text(&fixtures().join("hf/bert/config.json"))).unwrap();
    config["hidden_size"] = (1u64 << 40).into();
    std::fs::write(&file, config.to_string()).unwrap();
    let e = ModelConfig::from_path(&file)
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("config.json") && e.contains("hidden_size"),
        "{e}"
    );
    config["hidden_size"] = 32.into();
    config["initializer_range"] = "NaN".into();
    std::fs::write(&file, config.to_string()).unwrap();
    assert!(ModelConfig::from_path(&file).is_err(), "a NaN init std");
}

/// A method spec whose budget no knob needs (2^40) is refused by the zoo, and the error names
/// the file it came from.
#[test]
fn regression_method_spec_budget_names_the_file() {
    let lora = PRESETS.iter().find(|p| p.name == "lora").unwrap();
    let json = (lora.build)().to_json().unwrap();
    assert!(json.contains("\"budget\": 8"), "{json}");
    let json = json.replace("\"budget\": 8", &format!("\"budget\": {}", 1u64 << 40));
    let e = MethodSpec::parse(&json, "specs/huge.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("specs/huge.json") && e.contains("budget"), "{e}");
}
