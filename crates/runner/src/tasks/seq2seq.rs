//! Sequence to sequence (XSum summarisation, WMT16 en→ro translation) on BART, mBART and T5, as
//! transformers' `run_summarization.py` / `run_translation.py` train and evaluate:
//! - teacher forcing: targets tokenised with the tokenizer's special tokens and cut at
//!   `max_target_len`, labels padded with −100, decoder inputs the labels shifted right behind
//!   the decoder start token (`DataCollatorForSeq2Seq` + `shift_tokens_right`);
//! - mBART (cc25): targets are `tokens </s> ro_RO` and decoding starts with `ro_RO`, what
//!   `MBartTokenizer` in target mode and `run_translation.py`'s `decoder_start_token_id` give
//!   (its shift wraps the language code to the front, which is the same thing);
//! - loss: token-level cross-entropy with label smoothing over non-padding targets (HF's
//!   `LabelSmoother`);
//! - evaluation: decode every source with the task's generation settings (beam search with the
//!   cache, [`peftgrid_model::generate`]), detokenise with special tokens skipped, strip, and
//!   score with rouge-score's ROUGE (XSum) or sacreBLEU and He et al.'s Romanian Moses BLEU
//!   (en-ro).

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use burn::prelude::*;
use peftgrid_data::check::Dataset;
use peftgrid_data::Split;
use peftgrid_data::{targets_from_ids, PairExample, TargetBatch, TextEncoder};
use peftgrid_metrics::Metric;
use peftgrid_model::generate::GenerationConfig;
use peftgrid_model::generate::{generate, Resolved};
use peftgrid_model::{Architecture, Inputs, Loaded, Model};

use super::{no_low_resource, splits};
use crate::experiment::RunSpec;
use crate::train::Splits;
use crate::train::{cross_entropy, Task};

pub struct Seq2SeqTask {
    /// Tokenizes sources, cut at `max_len`.
    pub source: TextEncoder,
    /// Tokenizes targets, cut at `max_target_len`.
    pub target: TextEncoder,
    /// Put before every source (T5's task prefixes).
    pub source_prefix: Option<String>,
    /// mBART's target language code: targets end `</s> code` and decoding starts with it.
    pub target_lang: Option<u32>,
    /// Decoding settings (the decoder start token is also teacher forcing's).
    pub settings: Resolved,
    /// Scored on the decoded text; the first selects the best model.
    pub metrics: Vec<Metric>,
    pub label_smoothing: f64,
    pub eval_batch_size: usize,
}

/// The metrics of a generation task: ROUGE for XSum (ROUGE-2 selects, as He et al.'s figures
/// plot it), BLEU for WMT16 en-ro (He et al.'s Moses pipeline selects; sacreBLEU beside it).
pub fn task_metrics(task: &str) -> anyhow::Result<Vec<Metric>> {
    Ok(match task {
        "xsum" => vec![
            Metric::Rouge2,
            Metric::Rouge1,
            Metric::RougeL,
            Metric::RougeLsum,
        ],
        "wmt16" => vec![Metric::BleuRoMoses, Metric::Bleu],
        other => bail!("{other} is not a generation task (xsum, wmt16)"),
    })
}

impl Seq2SeqTask {
    fn sources<'a>(&self, examples: impl Iterator<Item = &'a PairExample>) -> Vec<String> {
        let prefix = self.source_prefix.as_deref().unwrap_or("");
        examples.map(|e| format!("{prefix}{}", e.source)).collect()
    }

    /// Target token ids with the special tokens training sees.
    fn target_ids(&self, targets: &[&str]) -> anyhow::Result<Vec<Vec<u32>>> {
        match self.target_lang {
            None => Ok(self
                .target
                .encode_raw(targets, None)?
                .iter()
                .map(|e| e.get_ids().to_vec())
                .collect()),
            Some(lang) => {
                let eos = *self
                    .settings
                    .eos
                    .first()
                    .context("the model has no eos_token_id for mBART targets")?
                    as u32;
                let room = self.target.max_length().saturating_sub(2);
                let tok = self.target.tokenizer();
                targets
                    .iter()
                    .map(|t| {
                        let enc = tok
                            .encode(*t, false)
                            .map_err(|e| anyhow::anyhow!("tokenizing a target: {e}"))?;
                        let mut ids: Vec<u32> = enc.get_ids().iter().take(room).copied().collect();
                        ids.extend([eos, lang]);
                        Ok(ids)
                    })
                    .collect()
            }
        }
    }

    /// Labels and decoder inputs of a batch of targets.
    pub fn targets(&self, targets: &[&str]) -> anyhow::Result<TargetBatch> {
        let ids = self.target_ids(targets)?;
        Ok(targets_from_ids(
            ids.iter().map(Vec::as_slice),
            self.settings.decoder_start_token_id as u32,
            self.target.pad_id(),
        ))
    }

    fn source_tensors<B: Backend>(
        &self,
        sources: &[String],
        device: &B::Device,
    ) -> anyhow::Result<(Tensor<B, 2, Int>, Tensor<B, 2, Int>)> {
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let b = self.source.encode_texts(&refs, None)?;
        let shape = [b.batch, b.seq_len];
        let int = |v: Vec<i64>| Tensor::<B, 2, Int>::from_data(TensorData::new(v, shape), device);
        Ok((int(b.input_ids), int(b.attention_mask)))
    }

    /// The decoded outputs for `examples`, in order.
    pub fn predict<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[PairExample],
        device: &B::Device,
    ) -> anyhow::Result<Vec<String>> {
        let Model::Seq2Seq(m) = model else {
            bail!("a generation task needs an encoder-decoder backbone (BART, mBART, T5)");
        };
        let mut out = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(self.eval_batch_size.max(1)) {
            let (ids, mask) = self.source_tensors::<B>(&self.sources(chunk.iter()), device)?;
            let generated = generate(m, ids, Some(mask), &self.settings, true);
            let [rows, cols] = generated.dims();
            let flat: Vec<i64> = generated
                .into_data()
                .convert::<i64>()
                .into_vec()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for r in 0..rows {
                let ids: Vec<u32> = flat[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&i| i as u32)
                    .collect();
                let text = self
                    .target
                    .tokenizer()
                    .decode(&ids, true)
                    .map_err(|e| anyhow::anyhow!("decoding generated ids: {e}"))?;
                out.push(text.trim().to_string());
            }
        }
        Ok(out)
    }
}

impl Task for Seq2SeqTask {
    type Example = PairExample;

    fn main_metric(&self) -> &str {
        self.metrics.first().map_or("", |m| m.name())
    }

    /// The longer of source and target, in tokens (what a token budget pays for).
    fn lengths(&self, train: &[PairExample]) -> anyhow::Result<Vec<usize>> {
        let sources = self.sources(train.iter());
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let src = self.source.encode_raw(&refs, None)?;
        let targets: Vec<&str> = train.iter().map(|e| e.target.as_str()).collect();
        let tgt = self.target_ids(&targets)?;
        Ok(src
            .iter()
            .zip(&tgt)
            .map(|(s, t)| s.get_ids().len().max(t.len()))
            .collect())
    }

    fn loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[PairExample],
        indices: &[usize],
        _stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        let picked: Vec<&PairExample> = indices.iter().map(|&i| &train[i]).collect();
        let (ids, mask) =
            self.source_tensors::<B>(&self.sources(picked.iter().copied()), device)?;
        let targets: Vec<&str> = picked.iter().map(|e| e.target.as_str()).collect();
        let t = self.targets(&targets)?;
        let shape = [t.batch, t.seq_len];
        let decoder_input_ids =
            Tensor::<B, 2, Int>::from_data(TensorData::new(t.decoder_input_ids, shape), device);
        let labels = Tensor::<B, 1, Int>::from_data(
            TensorData::new(t.labels, [t.batch * t.seq_len]),
            device,
        );
        let logits = model
            .forward(Inputs {
                input_ids: Some(ids),
                attention_mask: Some(mask),
                token_type_ids: None,
                pixel_values: None,
                decoder_input_ids: Some(decoder_input_ids),
            })?
            .token_logits
            .context("a generation task needs an encoder-decoder backbone (BART, mBART, T5)")?;
        let [b, len, vocab] = logits.dims();
        Ok(cross_entropy(
            logits.reshape([b * len, vocab]),
            labels,
            self.label_smoothing,
        ))
    }

    fn evaluate<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[PairExample],
        device: &B::Device,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let hyps = self.predict(model, examples, device)?;
        let refs: Vec<String> = examples
            .iter()
            .map(|e| e.target.trim().to_string())
            .collect();
        let mut out = BTreeMap::new();
        for &metric in &self.metrics {
            let score = peftgrid_metrics::score_lines(metric, &hyps, &refs)
                .with_context(|| format!("scoring {metric}"))?;
            out.insert(metric.name().to_string(), score.value);
        }
        Ok(out)
    }
}

/// The learned-position limit transformers caps a default max_length by.
pub fn max_positions(config: &peftgrid_model::ModelConfig) -> Option<usize> {
    match &config.architecture {
        Architecture::Bart(c) | Architecture::Mbart(c) => Some(c.max_position_embeddings),
        _ => None,
    }
}

/// Summarisation or translation on an encoder-decoder: selection on the validation split (its
/// first `max_eval_examples`), then the test split scored whole when its file is there.
pub fn build<B: Backend>(
    spec: &RunSpec,
    dataset: Dataset,
    loaded: &Loaded<B>,
) -> anyhow::Result<(Seq2SeqTask, Splits<PairExample>)> {
    no_low_resource(spec)?;
    let Model::Seq2Seq(model) = &loaded.model else {
        bail!(
            "{}: a generation task needs an encoder-decoder backbone (BART, mBART, T5), {} is not one",
            spec.task,
            spec.backbone.display()
        );
    };
    let dir = &spec.data_dir;
    let load = |split: Split| match dataset {
        Dataset::Xsum => peftgrid_data::xsum::load(dir, split),
        _ => peftgrid_data::wmt16::load(dir, split, "en", "ro"),
    };
    let metrics = task_metrics(&dataset.to_string())?;
    let train = load(Split::Train)?;
    let layout = dataset.layout();
    let eval = load(layout.selection)?;
    // The test split is optional (without it the run reports validation only), but a test file
    // that is there and broken is an error like any other.
    let test = match layout.test {
        Some(split) if dataset.locate(dir, split).is_ok() => {
            Some((load(split)?, split.as_str().to_string()))
        }
        _ => None,
    };

    let tokenizer = spec.backbone.join("tokenizer.json");
    let source = TextEncoder::from_file(&tokenizer, spec.train.max_len)?;
    let target = source.with_max_length(spec.train.max_target_len.unwrap_or(spec.train.max_len))?;
    // mBART translates into the language whose code ends the targets and starts decoding.
    let target_lang = match (&loaded.config.architecture, dataset) {
        (Architecture::Mbart(_), Dataset::Wmt16) => {
            Some(target.token_id("ro_RO").with_context(|| {
                format!(
                    "{}: mBART needs the target language code `ro_RO` in its vocabulary",
                    tokenizer.display()
                )
            })?)
        }
        _ => None,
    };
    let mut overrides = GenerationConfig::default();
    if let Some(g) = &spec.train.generation {
        overrides.num_beams = Some(g.num_beams);
        overrides.max_length = Some(g.max_length);
        overrides.min_length = Some(g.min_length);
        overrides.no_repeat_ngram_size = Some(g.no_repeat_ngram_size);
        overrides.length_penalty = Some(g.length_penalty);
    }
    overrides.decoder_start_token_id = target_lang.map(|l| l as usize);
    let settings = GenerationConfig::from_model_dir(&spec.backbone)?
        .overridden_by(&overrides)
        .resolve(model.vocab_size(), max_positions(&loaded.config))
        .with_context(|| format!("{}: generation settings", spec.task))?;
    Ok((
        Seq2SeqTask {
            source,
            target,
            source_prefix: spec.train.source_prefix.clone(),
            target_lang,
            settings,
            metrics,
            label_smoothing: spec.train.label_smoothing,
            eval_batch_size: spec.train.eval_batch_size,
        },
        splits(
            spec,
            train,
            eval,
            layout.selection.as_str().to_string(),
            test,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use peftgrid_testkit::word_level_tokenizer as tokenizer;
    use std::path::{Path, PathBuf};

    type B = burn::backend::NdArray<f32>;

    fn fixtures() -> PathBuf {
        std::env::var_os("PEFTGRID_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
            })
    }

    /// Teacher-forced loss, with and without label smoothing, against
    /// `tests/data/reference_seq2seq_loss.py` (transformers 5.17: the model's own loss and
    /// Trainer's LabelSmoother): target layout, −100 padding, the shift behind the decoder start
    /// (mBART's language code wrapped to the front) and the smoothing all agree.
    #[test]
    fn teacher_forced_loss_matches_transformers() {
        let tmp = tempfile::tempdir().unwrap();
        // (fixture, special tokens, post-processor template, mBART target language,
        // transformers' loss at ε = 0 and 0.1)
        type Case<'a> = (
            &'a str,
            Vec<(&'a str, usize)>,
            Vec<&'a str>,
            Option<u32>,
            [f64; 2],
        );
        let cases: [Case; 3] = [
            (
                "bart",
                vec![("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3)],
                vec!["<s>", "$A", "</s>"],
                None,
                [6.21630573, 6.21911383],
            ),
            (
                "t5",
                vec![("<pad>", 0), ("</s>", 1), ("<unk>", 2)],
                vec!["$A", "</s>"],
                None,
                [7.05166674, 7.01831341],
            ),
            (
                "mbart",
                vec![
                    ("<s>", 0),
                    ("<pad>", 1),
                    ("</s>", 2),
                    ("<unk>", 3),
                    ("en_XX", 500),
                    ("ro_RO", 501),
                ],
                vec!["$A", "</s>", "en_XX"],
                Some(501),
                [6.23838472, 6.23908710],
            ),
        ];
        let device = Default::default();
        let pairs: Vec<PairExample> = [
            ("w10 w11 w12 w13 w14", "w40 w41 w42"),
            ("w20 w21", "w50"),
            ("w30 w31 w32", "w60 w61 w62 w63"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (s, t))| PairExample {
            id: i.to_string(),
            source: s.to_string(),
            target: t.to_string(),
        })
        .collect();
        for (name, special, template, lang, want) in cases {
            let dir = fixtures().join("hf").join(name);
            let model = peftgrid_model::load::<B>(&dir, &device).unwrap();
            let Model::Seq2Seq(m) = &model.model else {
                panic!("{name} is not an encoder-decoder")
            };
            let tok_dir = tmp.path().join(name);
            std::fs::create_dir_all(&tok_dir).unwrap();
            let source =
                TextEncoder::from_file(&tokenizer(&tok_dir, &special, &template), 32).unwrap();
            let overrides = peftgrid_model::generate::GenerationConfig {
                decoder_start_token_id: lang.map(|l| l as usize),
                ..Default::default()
            };
            let settings = peftgrid_model::generate::GenerationConfig::from_model_dir(&dir)
                .unwrap()
                .overridden_by(&overrides)
                .resolve(m.vocab_size(), Some(64))
                .unwrap();
            for (smoothing, want) in [0.0, 0.1].into_iter().zip(want) {
                let task = Seq2SeqTask {
                    target: source.clone(),
                    source: source.clone(),
                    source_prefix: None,
                    target_lang: lang,
                    settings: settings.clone(),
                    metrics: task_metrics("xsum").unwrap(),
                    label_smoothing: smoothing,
                    eval_batch_size: 2,
                };
                let loss: f64 = task
                    .loss(&model.model, &pairs, &[0, 1, 2], 0, &device)
                    .unwrap()
                    .into_scalar()
                    .elem();
                assert!(
                    (loss - want).abs() < 2e-5,
                    "{name} ε={smoothing}: ours {loss}, transformers {want}"
                );
            }
            if let Some(lang) = lang {
                // mBART: `tokens </s> ro_RO`, decoding fed `ro_RO tokens </s>`.
                let task = Seq2SeqTask {
                    target: source.clone(),
                    source: source.clone(),
                    source_prefix: None,
                    target_lang: Some(lang),
                    settings: settings.clone(),
                    metrics: vec![],
                    label_smoothing: 0.0,
                    eval_batch_size: 2,
                };
                let t = task.targets(&["w50"]).unwrap();
                assert_eq!(t.labels, [50, 2, 501]);
                assert_eq!(t.decoder_input_ids, [501, 50, 2]);
            }
        }
    }
}
