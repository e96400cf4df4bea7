//! Prompt tuning: l learned embeddings prepended to the token embeddings at the input.

use burn::module::{Module, Param};
use burn::prelude::*;

#[derive(Module, Debug)]
pub struct Prompt<B: Backend> {
    /// `[l, d]`.
    pub embeddings: Param<Tensor<B, 2>>,
}

impl<B: Backend> Prompt<B> {
    pub fn from_tensor(embeddings: Tensor<B, 2>) -> Self {
        Self {
            embeddings: Param::from_tensor(embeddings),
        }
    }

    pub fn len(&self) -> usize {
        self.embeddings.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[batch, seq, d]` → `[batch, l + seq, d]`, virtual tokens first.
    pub fn prepend(&self, embeds: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, _, _] = embeds.dims();
        let prompt = self.embeddings.val().unsqueeze::<3>().repeat_dim(0, batch);
        Tensor::cat(vec![prompt, embeds], 1)
    }
}
