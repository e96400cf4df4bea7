//! Sequence classification and regression on GLUE-format data (GLUE and the sample corpora), as
//! transformers' `*ForSequenceClassification`: cross-entropy over the head's classes, MSE for a
//! one-output head (STS-B); GLUE's metrics on the argmax (or the score).

use std::collections::BTreeMap;

use anyhow::Context;
use burn::prelude::*;
use peftgrid_data::check::Dataset;
use peftgrid_data::Split;
use peftgrid_data::{GlueTask, Label, TextBatch, TextEncoder, TextExample};
use peftgrid_model::{Inputs, Loaded, Model};

use super::splits;
use crate::experiment::RunSpec;
use crate::train::Splits;
use crate::train::{cross_entropy, Task};

pub struct TextClassification {
    pub task: GlueTask,
    pub encoder: TextEncoder,
    pub label_smoothing: f64,
    pub eval_batch_size: usize,
}

fn batch_inputs<B: Backend>(b: &TextBatch, device: &B::Device) -> Inputs<B> {
    let shape = [b.batch, b.seq_len];
    let int =
        |v: &[i64]| Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), shape), device);
    Inputs {
        input_ids: Some(int(&b.input_ids)),
        attention_mask: Some(int(&b.attention_mask)),
        token_type_ids: Some(int(&b.token_type_ids)),
        pixel_values: None,
        decoder_input_ids: None,
    }
}

/// Class ids of `labels` for an `n`-class head, as a tensor.
pub(crate) fn class_targets<B: Backend>(
    labels: impl Iterator<Item = Option<usize>>,
    n: usize,
    device: &B::Device,
) -> anyhow::Result<Tensor<B, 1, Int>> {
    let y: Vec<i64> = labels
        .map(|l| match l {
            Some(c) if c < n => Ok(c as i64),
            other => anyhow::bail!("a {n}-class head needs class labels below {n}, got {other:?}"),
        })
        .collect::<anyhow::Result<_>>()?;
    let len = y.len();
    Ok(Tensor::from_data(TensorData::new(y, [len]), device))
}

/// Row-wise argmax of `[b, n]` logits, read back to the host.
pub(crate) fn argmax_rows<B: Backend>(logits: Tensor<B, 2>) -> anyhow::Result<Vec<usize>> {
    let [b, _] = logits.dims();
    let ids: Vec<i64> = logits
        .argmax(1)
        .reshape([b])
        .into_data()
        .convert::<i64>()
        .into_vec()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(ids.into_iter().map(|i| i as usize).collect())
}

/// Cross-entropy of a batch's logits against its labels (MSE for a one-output head).
fn batch_loss<B: Backend>(
    model: &Model<B>,
    batch: &TextBatch,
    label_smoothing: f64,
    device: &B::Device,
) -> anyhow::Result<Tensor<B, 1>> {
    let logits = model
        .forward(batch_inputs::<B>(batch, device))?
        .logits
        .context("the model has no task head")?;
    let [b, n] = logits.dims();
    if n == 1 {
        let y: Vec<f32> = batch
            .labels
            .iter()
            .map(|l| match l {
                Label::Score(s) => Ok(*s),
                other => anyhow::bail!("a regression head needs scores, got {other:?}"),
            })
            .collect::<anyhow::Result<_>>()?;
        let y = Tensor::<B, 1>::from_data(TensorData::new(y, [b]), device);
        return Ok((logits.reshape([b]) - y).powi_scalar(2).mean());
    }
    let y = class_targets(batch.labels.iter().map(|l| l.class()), n, device)?;
    Ok(cross_entropy(logits, y, label_smoothing))
}

impl Task for TextClassification {
    type Example = TextExample;

    /// Mean cross-entropy (or MSE) over examples, each encoded on its own.
    fn shardable(&self) -> bool {
        true
    }

    fn main_metric(&self) -> &str {
        self.task.metrics()[0]
    }

    fn lengths(&self, train: &[TextExample]) -> anyhow::Result<Vec<usize>> {
        Ok(self.encoder.lengths(train)?)
    }

    fn loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[TextExample],
        indices: &[usize],
        _stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        let batch = self.encoder.encode_batch(train, indices)?;
        batch_loss(model, &batch, self.label_smoothing, device)
    }

    fn part_loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[TextExample],
        indices: &[usize],
        part: std::ops::Range<usize>,
        _stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        let batch = self.encoder.encode_batch(train, indices)?.rows(part);
        batch_loss(model, &batch, self.label_smoothing, device)
    }

    fn evaluate<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[TextExample],
        device: &B::Device,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let (mut pred_class, mut pred_score) = (Vec::new(), Vec::new());
        let indices: Vec<usize> = (0..examples.len()).collect();
        let chunks: Vec<&[usize]> = indices.chunks(self.eval_batch_size.max(1)).collect();
        // Evaluation batches run on the shard threads, as training batches do; results keep
        // their order.
        let outputs = crate::train::in_parallel(chunks.len(), |c| {
            let batch = self.encoder.encode_batch(examples, chunks[c])?;
            let logits = model
                .forward(batch_inputs::<B>(&batch, device))?
                .logits
                .context("the model has no task head")?;
            if logits.dims()[1] == 1 {
                let values: Vec<f32> = logits
                    .into_data()
                    .convert::<f32>()
                    .into_vec()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok((Vec::new(), values.into_iter().map(f64::from).collect()))
            } else {
                Ok((argmax_rows(logits)?, Vec::new()))
            }
        })?;
        for (classes, scores) in outputs {
            pred_class.extend(classes);
            pred_score.extend(scores);
        }
        let mut out = BTreeMap::new();
        for &metric in self.task.metrics() {
            let value = if self.task.num_labels() == 1 {
                let gold: Vec<f64> = examples
                    .iter()
                    .map(|e| e.label.as_f32().map_or(f64::NAN, f64::from))
                    .collect();
                match metric {
                    "pearson" => peftgrid_metrics::correlation::pearson(&pred_score, &gold)?,
                    "spearman" => peftgrid_metrics::correlation::spearman(&pred_score, &gold)?,
                    other => anyhow::bail!("metric {other} on a regression task"),
                }
            } else {
                let gold: Vec<usize> = examples
                    .iter()
                    .map(|e| {
                        e.label.class().with_context(|| {
                            format!("evaluation example without a class label: {:?}", e.label)
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                match metric {
                    "accuracy" => peftgrid_metrics::classification::accuracy(&pred_class, &gold)?,
                    "f1" => peftgrid_metrics::classification::f1(&pred_class, &gold)?,
                    "mcc" => {
                        peftgrid_metrics::classification::matthews_corrcoef(&pred_class, &gold)?
                    }
                    other => anyhow::bail!("metric {other} on a classification task"),
                }
            };
            out.insert(metric.to_string(), value * 100.0);
        }
        Ok(out)
    }
}

/// GLUE-format classification: a new `num_labels` head; selection on the dev set, or — in
/// UniPELT's low-resource setting — on 1,000 held-out training examples with the dev set as the
/// test set.
pub fn build<B: Backend>(
    spec: &RunSpec,
    task: GlueTask,
    loaded: &mut Loaded<B>,
    device: &B::Device,
) -> anyhow::Result<(TextClassification, Splits<TextExample>)> {
    loaded.model.set_new_head(
        &loaded.config,
        task.num_labels(),
        spec.train.head_pooling,
        device,
    );
    let mut train = peftgrid_data::glue::load(&spec.data_dir, task, Split::Train)?;
    let eval_split = Dataset::Glue(task).layout().selection;
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
        TextClassification {
            task,
            encoder,
            label_smoothing: spec.train.label_smoothing,
            eval_batch_size: spec.train.eval_batch_size,
        },
        splits(spec, train, eval, eval_name, test),
    ))
}
