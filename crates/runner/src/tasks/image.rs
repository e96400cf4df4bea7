//! Image classification (CIFAR-100, FGVC) with a ViT, as transformers'
//! `ViTForImageClassification` on a new head: training images get a seeded random resized crop and
//! horizontal flip, evaluation images the checkpoint's resize and centre crop
//! (`preprocessor_config.json`); cross-entropy with label smoothing, top-1 accuracy.

use std::collections::BTreeMap;

use anyhow::Context;
use burn::prelude::*;
use peftgrid_data::{batch_pixels, ImageExample, Preprocessor, Transform};
use peftgrid_model::{Inputs, Model};

use super::text::{argmax_rows, class_targets};
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
