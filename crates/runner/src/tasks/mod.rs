//! The kinds of task a run can train, one file each: what their data is, how a batch becomes a
//! loss and how a model is scored. [`crate::train::train`] runs any of them. Each builder here
//! loads a run's splits and readies the backbone (a new head where the task needs one).

pub mod image;
pub mod seq2seq;
pub mod text;

use anyhow::{bail, Context};
use burn::tensor::backend::Backend;
use peftgrid_data::check::Dataset;
use peftgrid_data::fgvc::FgvcSet;
use peftgrid_data::{GlueTask, Preprocessor, Split, TextEncoder};
use peftgrid_model::generate::GenerationConfig;
use peftgrid_model::{Architecture, Loaded, Model};

use crate::experiment::RunSpec;
use crate::train::Splits;

/// At most `max` examples (the split's head), when a limit is set.
fn limit<E>(mut v: Vec<E>, max: Option<usize>) -> Vec<E> {
    if let Some(n) = max {
        v.truncate(n);
    }
    v
}

fn no_low_resource(spec: &RunSpec) -> anyhow::Result<()> {
    if spec.train.low_resource_k.is_some() {
        bail!(
            "low_resource_k: UniPELT's K-shot setting is defined for GLUE-format classification, not {}",
            spec.task
        );
    }
    Ok(())
}

/// The GLUE split a task is evaluated on (GLUE's test labels are not public).
pub fn glue_eval_split(task: GlueTask) -> Split {
    if task == GlueTask::Mnli {
        Split::ValidationMatched
    } else {
        Split::Validation
    }
}

/// GLUE-format classification: a new `num_labels` head; selection on the dev set, or — in
/// UniPELT's low-resource setting — on 1,000 held-out training examples with the dev set as the
/// test set.
pub fn text<B: Backend>(
    spec: &RunSpec,
    task: GlueTask,
    loaded: &mut Loaded<B>,
    device: &B::Device,
) -> anyhow::Result<(text::TextClassification, Splits<peftgrid_data::TextExample>)> {
    loaded.model.set_new_head(
        &loaded.config,
        task.num_labels(),
        spec.train.head_pooling,
        device,
    );
    let mut train = peftgrid_data::glue::load(&spec.data_dir, task, Split::Train)?;
    let eval_split = glue_eval_split(task);
    let validation = peftgrid_data::glue::load(&spec.data_dir, task, eval_split)?;
    let (eval, eval_name, test) = match spec.train.low_resource_k {
        Some(k) => {
            let (k_train, dev) = peftgrid_data::low_resource(&train, k, 1000, spec.seed)?;
            train = k_train;
            (
                dev,
                "train-heldout-dev".to_string(),
                Some((validation, eval_split.as_str().to_string())),
            )
        }
        None => (validation, eval_split.as_str().to_string(), None),
    };
    let encoder =
        TextEncoder::from_file(&spec.backbone.join("tokenizer.json"), spec.train.max_len)?;
    Ok((
        text::TextClassification {
            task,
            encoder,
            label_smoothing: spec.train.label_smoothing,
            eval_batch_size: spec.train.eval_batch_size,
        },
        Splits {
            train: limit(train, spec.train.max_train_examples),
            eval: limit(eval, spec.train.max_eval_examples),
            eval_split: eval_name,
            test,
        },
    ))
}

/// Image classification on a ViT: a new head with the data set's classes; CIFAR-100 selects on
/// its test split (it has no other), FGVC on VPT's val.json and is then scored on test.
pub fn image<B: Backend>(
    spec: &RunSpec,
    dataset: Dataset,
    loaded: &mut Loaded<B>,
    device: &B::Device,
) -> anyhow::Result<(
    image::ImageClassification,
    Splits<peftgrid_data::ImageExample>,
)> {
    no_low_resource(spec)?;
    if !matches!(loaded.model, Model::Vit(_)) {
        bail!(
            "{}: image classification needs a ViT backbone, {} is not one",
            spec.task,
            spec.backbone.display()
        );
    }
    let dir = &spec.data_dir;
    let (classes, train, eval, eval_split, test) = match dataset {
        Dataset::Cifar100 => (
            100,
            peftgrid_data::cifar100::load(dir, Split::Train)?,
            peftgrid_data::cifar100::load(dir, Split::Test)?,
            "test",
            None,
        ),
        Dataset::Fgvc(set) => {
            let load = |s: Split| peftgrid_data::fgvc::load(dir, set, s);
            (
                FgvcSet::num_classes(set),
                load(Split::Train)?,
                load(Split::Validation)?,
                "validation",
                Some((load(Split::Test)?, "test".to_string())),
            )
        }
        other => bail!("{other} is not an image classification task"),
    };
    loaded
        .model
        .set_new_head(&loaded.config, classes, spec.train.head_pooling, device);
    let preprocessor = Preprocessor::from_config(&spec.backbone)?;
    Ok((
        image::ImageClassification {
            preprocessor,
            label_smoothing: spec.train.label_smoothing,
            eval_batch_size: spec.train.eval_batch_size,
        },
        Splits {
            train: limit(train, spec.train.max_train_examples),
            eval: limit(eval, spec.train.max_eval_examples),
            eval_split: eval_split.to_string(),
            test,
        },
    ))
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
pub fn seq2seq<B: Backend>(
    spec: &RunSpec,
    dataset: Dataset,
    loaded: &Loaded<B>,
) -> anyhow::Result<(seq2seq::Seq2SeqTask, Splits<peftgrid_data::PairExample>)> {
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
    let metrics = seq2seq::task_metrics(&dataset.to_string())?;
    let train = load(Split::Train)?;
    let eval = load(Split::Validation)?;
    // The test split is optional (without it the run reports validation only), but a test file
    // that is there and broken is an error like any other.
    let has_test = match dataset {
        Dataset::Xsum => peftgrid_data::xsum::locate(dir, Split::Test).is_ok(),
        _ => peftgrid_data::wmt16::locate(dir, Split::Test, "en", "ro").is_ok(),
    };
    let test = if has_test {
        Some((load(Split::Test)?, "test".to_string()))
    } else {
        None
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
        seq2seq::Seq2SeqTask {
            source,
            target,
            source_prefix: spec.train.source_prefix.clone(),
            target_lang,
            settings,
            metrics,
            label_smoothing: spec.train.label_smoothing,
            eval_batch_size: spec.train.eval_batch_size,
        },
        Splits {
            train: limit(train, spec.train.max_train_examples),
            eval: limit(eval, spec.train.max_eval_examples),
            eval_split: "validation".into(),
            test,
        },
    ))
}
