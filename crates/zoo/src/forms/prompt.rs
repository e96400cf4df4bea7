//! Prompt tuning: l learned embeddings prepended to the token embeddings at the input.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::{Composition, Position};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PromptSpec {}

#[derive(Module, Debug)]
pub struct Prompt<B: Backend> {
    /// `[l, d]`.
    pub embeddings: Param<Tensor<B, 2>>,
}

impl FormSpec for PromptSpec {
    const NAME: &'static str = "prompt";
    const KNOB: Option<&'static str> = Some("l");
    type Module<B: Backend> = Prompt<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if !matches!(p.position, Position::Input | Position::Embeddings)
            || p.composition != Composition::Add
        {
            return Err(invalid(
                Self::NAME,
                "prepends tokens at `input` or `embeddings` (composition add)",
            ));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "prompt length must be ≥ 1"));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * dims.d_out
    }

    /// Normal(0, 0.02), the scale of BERT-style embedding initialisation.
    fn build<B: Backend>(&self, p: &Placement, dims: SiteDims, ctx: &BuildContext<B>) -> Prompt<B> {
        Prompt::from_tensor(crate::init::random(
            [p.budget, dims.d_out],
            Distribution::Normal(0.0, 0.02),
            ctx.device,
        ))
    }
}

impl<B: Backend> Prompt<B> {
    pub fn from_tensor(embeddings: Tensor<B, 2>) -> Self {
        Self {
            embeddings: Param::from_tensor(embeddings),
        }
    }
}

impl<B: Backend> FormModule<B> for Prompt<B> {
    /// `[batch, seq, d]` → `[batch, l + seq, d]`, virtual tokens first.
    fn prepend(&self, embeds: Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        let batch = embeds.dims()[0];
        let prompt = self.embeddings.val().unsqueeze::<3>().repeat_dim(0, batch);
        Some(Tensor::cat(vec![prompt, embeds], 1))
    }
}
