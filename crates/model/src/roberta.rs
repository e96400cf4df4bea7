//! RoBERTa's differences from BERT: position ids that start after the padding index and skip
//! padding, and the dense–tanh–out_proj classification head of `RobertaForSequenceClassification`.

use burn::prelude::*;
use peftgrid_zoo::dropout::Dropout;

use crate::bert::TextHead;
use crate::checkpoint::Checkpoint;
use crate::config::TextEncoderConfig;
use crate::error::Result;
use crate::layers::load_linear;

/// transformers' `create_position_ids_from_input_ids`: real tokens are numbered pad + 1 + offset,
/// pad + 2 + offset, …; padding tokens get pad.
pub fn position_ids<B: Backend>(
    input_ids: Tensor<B, 2, Int>,
    pad: usize,
    offset: usize,
) -> Tensor<B, 2, Int> {
    let real = input_ids.not_equal_elem(pad as i64).int();
    real.clone()
        .cumsum(1)
        .add_scalar(offset as i64)
        .mul(real)
        .add_scalar(pad as i64)
}

pub(crate) fn load_head<B: Backend>(
    ckpt: &Checkpoint,
    c: &TextEncoderConfig,
    num_labels: usize,
    device: &B::Device,
) -> Result<TextHead<B>> {
    let d = c.hidden_size;
    Ok(TextHead {
        dense: Some(load_linear(ckpt, "classifier.dense", d, d, true, device)?),
        out: load_linear(ckpt, "classifier.out_proj", d, num_labels, true, device)?,
        dropout: Dropout {
            prob: c.classifier_dropout.unwrap_or(c.hidden_dropout_prob),
        },
        pooling: crate::bert::Pooling::Cls,
    })
}
