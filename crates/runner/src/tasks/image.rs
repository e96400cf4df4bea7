//! Image classification (CIFAR-100, FGVC) with a ViT, as transformers'
//! `ViTForImageClassification` on a new head: training images get a seeded random resized crop and
//! horizontal flip, evaluation images the checkpoint's resize and centre crop
//! (`preprocessor_config.json`); cross-entropy with label smoothing, top-1 accuracy.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use burn::prelude::*;
use peftgrid_data::check::Dataset;
use peftgrid_data::fgvc::FgvcSet;
use peftgrid_data::Split;
use peftgrid_data::{batch_pixels, ImageExample, Preprocessor, Transform};
use peftgrid_model::{Inputs, Loaded, Model};

use super::text::{argmax_rows, class_targets};
use super::{no_low_resource, splits};
use crate::experiment::RunSpec;
use crate::train::Splits;
use crate::train::{cross_entropy, Task};

pub struct ImageClassification {
    pub preprocessor: Preprocessor,
    pub label_smoothing: f64,
    pub eval_batch_size: usize,
}

impl ImageClassification {
    /// The class logits of `examples`, transformed by `transform` with augmentation `stream`.
    fn logits<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[ImageExample],
        transform: Transform,
        stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 2>> {
        let (pixels, shape) = batch_pixels(examples, &self.preprocessor, transform, stream)?;
        let pixels = Tensor::<B, 4>::from_data(TensorData::new(pixels, shape), device);
        model
            .forward(Inputs {
                input_ids: None,
                attention_mask: None,
                token_type_ids: None,
                pixel_values: Some(pixels),
                decoder_input_ids: None,
            })?
            .logits
            .context("the model has no classification head")
    }
}

impl Task for ImageClassification {
    type Example = ImageExample;

    fn main_metric(&self) -> &str {
        "accuracy"
    }

    /// Images are all one size after preprocessing: batches are plain shuffles.
    fn lengths(&self, train: &[ImageExample]) -> anyhow::Result<Vec<usize>> {
        Ok(vec![1; train.len()])
    }

    fn loss<B: Backend>(
        &self,
        model: &Model<B>,
        train: &[ImageExample],
        indices: &[usize],
        stream: u64,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 1>> {
        let picked: Vec<ImageExample> = indices.iter().map(|&i| train[i].clone()).collect();
        let logits = self.logits(model, &picked, Transform::Train, stream, device)?;
        let n = logits.dims()[1];
        let y = class_targets(picked.iter().map(|e| Some(e.label)), n, device)?;
        Ok(cross_entropy(logits, y, self.label_smoothing))
    }

    fn evaluate<B: Backend>(
        &self,
        model: &Model<B>,
        examples: &[ImageExample],
        device: &B::Device,
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        let mut predicted = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(self.eval_batch_size.max(1)) {
            let logits = self.logits(model, chunk, Transform::Eval, 0, device)?;
            predicted.extend(argmax_rows(logits)?);
        }
        let gold: Vec<usize> = examples.iter().map(|e| e.label).collect();
        let accuracy = peftgrid_metrics::classification::accuracy(&predicted, &gold)?;
        Ok(BTreeMap::from([("accuracy".to_string(), accuracy * 100.0)]))
    }
}

/// Image classification on a ViT: a new head with the data set's classes; CIFAR-100 selects on
/// its test split (it has no other), FGVC on VPT's val.json and is then scored on test.
pub fn build<B: Backend>(
    spec: &RunSpec,
    dataset: Dataset,
    loaded: &mut Loaded<B>,
    device: &B::Device,
) -> anyhow::Result<(ImageClassification, Splits<ImageExample>)> {
    no_low_resource(spec)?;
    if !matches!(loaded.model, Model::Vit(_)) {
        bail!(
            "{}: image classification needs a ViT backbone, {} is not one",
            spec.task,
            spec.backbone.display()
        );
    }
    let dir = &spec.data_dir;
    let classes = match dataset {
        Dataset::Cifar100 => 100,
        Dataset::Fgvc(set) => FgvcSet::num_classes(set),
        other => bail!("{other} is not an image classification task"),
    };
    let load = |split: Split| match dataset {
        Dataset::Fgvc(set) => peftgrid_data::fgvc::load(dir, set, split),
        _ => peftgrid_data::cifar100::load(dir, split),
    };
    let layout = dataset.layout();
    let train = load(Split::Train)?;
    let eval = load(layout.selection)?;
    let test = match layout.test {
        Some(split) => Some((load(split)?, split.as_str().to_string())),
        None => None,
    };
    loaded
        .model
        .set_new_head(&loaded.config, classes, spec.train.head_pooling, device);
    let preprocessor = Preprocessor::from_config(&spec.backbone)?;
    Ok((
        ImageClassification {
            preprocessor,
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
