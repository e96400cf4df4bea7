//! `singular_value`: ΔW = s · P diag(λ) Q beside a projection, an update in the shape of an SVD
//! (AdaLoRA, Zhang et al. 2023, peft's `ADALORA`): P (`[d_in, r]`), λ (`[r]`) and Q (`[r,
//! d_out]`) all train, and AdaLoRA's budget schedule prunes the λ_i of least importance during
//! training so that ranks move to the sites that need them. The knob is the initial rank r.
//! peft scales by α/(r + 10⁻⁵); `alpha_over_rank` composition reproduces that here.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;
use crate::Composition;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingularValueSpec {}

#[derive(Module, Debug)]
pub struct SingularValue<B: Backend> {
    /// P, `[d_in, r]` (peft's `lora_A`ᵀ).
    pub right: Param<Tensor<B, 2>>,
    /// λ, `[r]` (peft's `lora_E` `[r, 1]`).
    pub values: Param<Tensor<B, 1>>,
    /// Q, `[r, d_out]` (peft's `lora_B`ᵀ).
    pub left: Param<Tensor<B, 2>>,
    pub scale: f64,
    pub merged: bool,
}

impl FormSpec for SingularValueSpec {
    const NAME: &'static str = "singular_value";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = SingularValue<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        crate::forms::LowRankSpec::default().check_site(p, dims)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * (dims.d_in + dims.d_out + 1)
    }

    /// peft's start: λ = 0 (so ΔW = 0), P and Q normal(0, 0.02).
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> SingularValue<B> {
        let (r, dev) = (p.budget, ctx.device);
        let normal = Distribution::Normal(0.0, 0.02);
        let scale = match p.composition {
            // peft divides by its `ranknum` plus 1e-5.
            Composition::AlphaOverRank { alpha } => alpha / (r as f64 + 1e-5),
            other => other.fixed_scale(r),
        };
        SingularValue {
            right: Param::from_tensor(crate::init::random([dims.d_in, r], normal, dev)),
            values: Param::from_tensor(Tensor::zeros([r], dev)),
            left: Param::from_tensor(crate::init::random([r, dims.d_out], normal, dev)),
            scale,
            merged: false,
        }
    }
}

impl<B: Backend> SingularValue<B> {
    /// ΔW = s · P diag(λ) Q, `[d_in, d_out]`.
    pub fn delta_weight(&self, _shared: &Shared<B>) -> Tensor<B, 2> {
        (self.right.val() * self.values.val().unsqueeze::<2>())
            .matmul(self.left.val())
            .mul_scalar(self.scale)
    }
}

additive_weight_form!(SingularValue);
