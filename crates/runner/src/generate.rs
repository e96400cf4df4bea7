//! `peftgrid generate`: greedy or beam-search decoding with an encoder-decoder, from token ids
//! (a safetensors file) or text (with the model's tokenizer.json), as transformers' `generate`;
//! and `peftgrid bench-generate`: decoding throughput of a config's size with random weights.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use burn::prelude::*;
use burn::tensor::Device;
use peftgrid_model::generate::{generate, EarlyStopping, GenerationConfig, Resolved};
use peftgrid_model::tensors::{self, NamedTensor};
use peftgrid_model::{EncoderDecoder, Model, TextTokenizer};

use crate::backend::BackendJob;

/// Every `generate` setting that can be given on the command line; each overrides the model's
/// generation_config.json.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingArgs {
    #[arg(long)]
    pub num_beams: Option<usize>,
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Total length, decoder start token included (max_new_tokens wins when both are given).
    #[arg(long)]
    pub max_length: Option<usize>,
    #[arg(long)]
    pub min_new_tokens: Option<usize>,
    #[arg(long)]
    pub min_length: Option<usize>,
    #[arg(long, allow_hyphen_values = true)]
    pub length_penalty: Option<f64>,
    /// true, false or never.
    #[arg(long)]
    pub early_stopping: Option<String>,
    #[arg(long)]
    pub no_repeat_ngram_size: Option<usize>,
    #[arg(long)]
    pub decoder_start_token_id: Option<usize>,
    /// mBART's target-language code, forced as the first generated token.
    #[arg(long)]
    pub forced_bos_token_id: Option<usize>,
    #[arg(long)]
    pub forced_eos_token_id: Option<usize>,
    #[arg(long)]
    pub eos_token_id: Option<usize>,
    #[arg(long)]
    pub pad_token_id: Option<usize>,
}

impl SettingArgs {
    pub fn overrides(&self) -> anyhow::Result<GenerationConfig> {
        let early_stopping = match self.early_stopping.as_deref() {
            None => None,
            Some("true") => Some(EarlyStopping::Bool(true)),
            Some("false") => Some(EarlyStopping::Bool(false)),
            Some("never") => Some(EarlyStopping::Never),
            Some(other) => bail!("--early-stopping: `{other}` is not true, false or never"),
        };
        let one = |id: Option<usize>| id.map(peftgrid_model::config::TokenIds::One);
        Ok(GenerationConfig {
            num_beams: self.num_beams,
            max_new_tokens: self.max_new_tokens,
            max_length: self.max_length,
            min_new_tokens: self.min_new_tokens,
            min_length: self.min_length,
            length_penalty: self.length_penalty,
            early_stopping,
            no_repeat_ngram_size: self.no_repeat_ngram_size,
            decoder_start_token_id: self.decoder_start_token_id,
            forced_bos_token_id: self.forced_bos_token_id,
            forced_eos_token_id: one(self.forced_eos_token_id),
            eos_token_id: one(self.eos_token_id),
            pad_token_id: self.pad_token_id,
            ..GenerationConfig::default()
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Hugging Face folder of a BART, mBART or T5 *ForConditionalGeneration model
    /// (config.json, model.safetensors; generation_config.json and tokenizer.json if present).
    #[arg(long)]
    pub model: PathBuf,
    /// safetensors file with `input_ids` and optionally `attention_mask` (int64).
    #[arg(long, conflicts_with_all = ["text", "text_file"])]
    pub inputs: Option<PathBuf>,
    /// A source text (repeat for several); needs tokenizer.json beside the model.
    #[arg(long)]
    pub text: Vec<String>,
    /// A file of source texts, one per line.
    #[arg(long)]
    pub text_file: Option<PathBuf>,
    /// Where to write the ids, under `generated_ids` (int64).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A safetensors file with reference ids (e.g. a fixture's golden.safetensors): fails
    /// unless ours are identical to its `--compare-key` tensor.
    #[arg(long, requires = "compare_key")]
    pub compare: Option<PathBuf>,
    #[arg(long)]
    pub compare_key: Option<String>,
    /// Re-run the decoder over the whole prefix at each step (checks the cache; slower).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub settings: SettingArgs,
}

pub struct Generate(pub GenerateArgs);

fn seq2seq<B: Backend>(model: Model<B>, what: &str) -> anyhow::Result<EncoderDecoder<B>> {
    match model {
        Model::Seq2Seq(m) => Ok(m),
        _ => bail!("{what} is not an encoder-decoder (BART, mBART, T5): it cannot generate"),
    }
}

fn int_rows(t: Tensor<impl Backend, 2, Int>) -> Vec<Vec<i64>> {
    let [rows, cols] = t.dims();
    let v = t
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .expect("the data was converted to i64 just before");
    (0..rows)
        .map(|r| v[r * cols..(r + 1) * cols].to_vec())
        .collect()
}

impl BackendJob for Generate {
    type Output = Vec<Vec<i64>>;

    fn run<B: Backend>(self, device: Device<B>) -> anyhow::Result<Self::Output> {
        let args = self.0;
        let loaded = peftgrid_model::load::<B>(&args.model, &device)?;
        let config = loaded.config;
        let model = seq2seq(loaded.model, &args.model.display().to_string())?;
        let settings = GenerationConfig::from_model_dir(&args.model)?
            .overridden_by(&args.settings.overrides()?)
            .resolve(
                model.vocab_size(),
                crate::tasks::seq2seq::max_positions(&config),
            )?;

        let mut texts = args.text.clone();
        if let Some(path) = &args.text_file {
            let body = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            texts.extend(
                body.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(String::from),
            );
        }
        let tokenizer = if texts.is_empty() {
            None
        } else {
            Some(TextTokenizer::from_path(&args.model)?)
        };
        let (ids, mask) = match (&args.inputs, &tokenizer) {
            (Some(path), _) => {
                let named = tensors::read(path)?;
                let ids = named
                    .get("input_ids")
                    .with_context(|| format!("{}: no `input_ids` tensor", path.display()))?
                    .int::<B, 2>("input_ids", &device)?;
                let mask = named
                    .get("attention_mask")
                    .map(|t| t.int::<B, 2>("attention_mask", &device))
                    .transpose()?;
                if let Some(m) = &mask {
                    if m.dims() != ids.dims() {
                        bail!(
                            "{}: attention_mask {:?} differs from input_ids {:?}",
                            path.display(),
                            m.dims(),
                            ids.dims()
                        );
                    }
                }
                (ids, mask)
            }
            (None, Some(tok)) => {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let [ids, mask, _] = tok.encode(&refs)?.tensors::<B>(&device);
                (ids, Some(mask))
            }
            (None, None) => bail!("give the source as --inputs FILE, --text or --text-file"),
        };
        check_vocab(&ids, model.vocab_size())?;
        print_settings(&settings);
        let start = Instant::now();
        let out = generate(&model, ids, mask, &settings, !args.no_cache);
        let rows = int_rows(out.clone());
        eprintln!(
            "generated {} × {} ids in {:.2} s",
            rows.len(),
            rows.first().map_or(0, Vec::len),
            start.elapsed().as_secs_f64()
        );

        if let Some(tok) = &tokenizer {
            for (src, row) in texts.iter().zip(&rows) {
                let ids: Vec<u32> = row.iter().map(|&i| i as u32).collect();
                println!("{src}\n  → {}", tok.decode(&ids)?);
            }
        } else {
            for row in &rows {
                println!("{row:?}");
            }
        }
        if let Some(path) = &args.out {
            let mut named = std::collections::BTreeMap::new();
            named.insert(
                "generated_ids".to_string(),
                NamedTensor::from_data(out.into_data()),
            );
            tensors::write(path, &named)?;
            println!("wrote {}", path.display());
        }
        if let (Some(path), Some(key)) = (&args.compare, &args.compare_key) {
            let reference = tensors::read(path)?;
            let want = reference
                .get(key)
                .with_context(|| format!("{}: no `{key}` tensor", path.display()))?
                .int::<B, 2>(key, &device)?;
            let want = int_rows(want);
            if want != rows {
                bail!(
                    "generated ids differ from {}[{key}]:\n  ours   {rows:?}\n  theirs {want:?}",
                    path.display()
                );
            }
            println!("identical to {}[{key}]", path.display());
        }
        Ok(rows)
    }
}

fn check_vocab<B: Backend>(ids: &Tensor<B, 2, Int>, vocab: usize) -> anyhow::Result<()> {
    let max = ids.clone().max().into_scalar().elem::<i64>();
    let min = ids.clone().min().into_scalar().elem::<i64>();
    if min < 0 || max as usize >= vocab {
        bail!("input_ids hold token ids in {min}..={max}, outside the vocabulary (0..{vocab})");
    }
    Ok(())
}

fn print_settings(s: &Resolved) {
    eprintln!(
        "num_beams {} · max_length {} · min_length {} · length_penalty {} · early_stopping {:?} · \
         no_repeat_ngram_size {} · decoder_start {} · eos {:?} · pad {:?}{}{}",
        s.num_beams,
        s.max_length,
        s.min_length,
        s.length_penalty,
        s.early_stopping,
        s.no_repeat_ngram_size,
        s.decoder_start_token_id,
        s.eos,
        s.pad,
        s.forced_bos_token_id
            .map(|b| format!(" · forced_bos {b}"))
            .unwrap_or_default(),
        if s.forced_eos.is_empty() {
            String::new()
        } else {
            format!(" · forced_eos {:?}", s.forced_eos)
        },
    );
}

#[derive(Debug, clap::Args)]
pub struct BenchGenerateArgs {
    /// A config.json (or a folder with one) of a BART, mBART or T5 model; the weights are
    /// random, so only the sizes matter.
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Source length in tokens.
    #[arg(long, default_value_t = 512)]
    pub source: usize,
    #[arg(long, default_value_t = 60)]
    pub new_tokens: usize,
    /// Beam widths to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub num_beams: Vec<usize>,
    /// Also time decoding without the cache (the whole prefix re-run at every step).
    #[arg(long)]
    pub no_cache_too: bool,
    /// Untimed runs first (GPU kernels compile and autotune on first use).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
}

/// One timing of `bench-generate`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerationTiming {
    pub num_beams: usize,
    pub cache: bool,
    pub seconds: f64,
    /// Generated tokens (batch × new tokens, the best beam's) per second.
    pub tokens_per_second: f64,
}

pub struct BenchGenerate(pub BenchGenerateArgs);

impl BackendJob for BenchGenerate {
    type Output = Vec<GenerationTiming>;

    fn run<B: Backend>(self, device: Device<B>) -> anyhow::Result<Self::Output> {
        let args = self.0;
        let config = peftgrid_model::ModelConfig::from_path(&args.config)?;
        let ckpt = peftgrid_model::Checkpoint::random(0);
        let model = seq2seq(
            peftgrid_model::build::<B>(&config, &ckpt, &device)?,
            &args.config.display().to_string(),
        )?;
        let vocab = model.vocab_size();
        B::seed(&device, 0);
        let ids = Tensor::<B, 2, Int>::random(
            [args.batch, args.source],
            burn::tensor::Distribution::Uniform(4.0, vocab as f64),
            &device,
        );
        let mut timings = Vec::new();
        let caches: &[bool] = if args.no_cache_too {
            &[true, false]
        } else {
            &[true]
        };
        for &beams in &args.num_beams {
            for &cache in caches {
                // No EOS: every row decodes exactly new_tokens tokens.
                let settings = GenerationConfig {
                    num_beams: Some(beams),
                    max_new_tokens: Some(args.new_tokens),
                    decoder_start_token_id: Some(2),
                    ..Default::default()
                }
                .resolve(vocab, None)?;
                for _ in 0..args.warmup {
                    let _ = int_rows(generate(&model, ids.clone(), None, &settings, cache));
                }
                let start = Instant::now();
                let out = generate(&model, ids.clone(), None, &settings, cache);
                let rows = int_rows(out);
                let seconds = start.elapsed().as_secs_f64();
                let tokens: usize = rows.iter().map(|r| r.len() - 1).sum();
                let t = GenerationTiming {
                    num_beams: beams,
                    cache,
                    seconds,
                    tokens_per_second: tokens as f64 / seconds,
                };
                println!(
                    "num_beams {beams:>2}  cache {:<5}  {:>8.2} s  {:>9.1} tokens/s  (batch {}, source {}, {} new tokens)",
                    cache, seconds, t.tokens_per_second, args.batch, args.source, args.new_tokens
                );
                timings.push(t);
            }
        }
        Ok(timings)
    }
}
