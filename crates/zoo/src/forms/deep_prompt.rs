//! `deep_prompt`: VPT-deep's prompts (Jia et al. 2022) at the input of every layer after the
//! first: before layer i ≥ 1 the l prompt tokens of the hidden state are replaced by layer i's
//! own l learned vectors (the first layer's are the `prompt` modification at `input`, which a
//! deep prompt requires with the same l). The model says where its prompt tokens sit (after
//! ViT's CLS token, before a text encoder's first token). (L − 1)·l·d parameters, shared by
//! the `block` sites of the L layers.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::{BackboneShape, SiteDims};
use crate::shared::Shared;
use crate::{Composition, Position};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeepPromptSpec {}

/// Layer `layer`'s view of the shared prompts.
#[derive(Module, Debug)]
pub struct DeepPrompt<B: Backend> {
    pub layer: usize,
    /// Index in [`Shared::deep_prompts`].
    pub index: usize,
    _backend: std::marker::PhantomData<B>,
}

impl FormSpec for DeepPromptSpec {
    const NAME: &'static str = "deep_prompt";
    const KNOB: Option<&'static str> = Some("l");
    type Module<B: Backend> = DeepPrompt<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if p.position != Position::Block || p.composition != Composition::Add {
            return Err(invalid(
                Self::NAME,
                "replaces each layer's prompt tokens: at `block` (composition add)",
            ));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "prompt length must be ≥ 1"));
        }
        Ok(())
    }

    fn site_params(&self, _p: &Placement, _dims: SiteDims) -> usize {
        0
    }

    fn shared_params(
        &self,
        p: &Placement,
        layers: usize,
        dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        layers.saturating_sub(1) * p.budget * dims.d_out
    }

    /// Normal(0, 0.02), as `prompt` starts.
    fn build_shared<B: Backend>(
        &self,
        p: &Placement,
        layers: usize,
        dims: SiteDims,
        shared: &mut Shared<B>,
        device: &B::Device,
    ) -> Option<usize> {
        let prompts = crate::init::random(
            [layers.saturating_sub(1), p.budget, dims.d_out],
            Distribution::Normal(0.0, 0.02),
            device,
        );
        shared.deep_prompts.push(Param::from_tensor(prompts));
        Some(shared.deep_prompts.len() - 1)
    }

    fn build<B: Backend>(
        &self,
        _p: &Placement,
        _dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> DeepPrompt<B> {
        DeepPrompt {
            layer: ctx.layer,
            index: ctx.shared.unwrap_or(0),
            _backend: std::marker::PhantomData,
        }
    }
}

impl<B: Backend> FormModule<B> for DeepPrompt<B> {
    fn layer_prompts(&self, shared: &Shared<B>) -> Option<Tensor<B, 2>> {
        let all = shared.deep_prompts.get(self.index)?.val();
        let [_, l, d] = all.dims();
        (self.layer > 0).then(|| {
            all.slice([self.layer - 1..self.layer, 0..l, 0..d])
                .reshape([l, d])
        })
    }
}
