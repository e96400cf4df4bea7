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
pub struct SingularValueSpec {
    /// AdaLoRA's rank-budget schedule (run by the training loop); without it every site keeps
    /// rank r.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<RankSchedule>,
}

/// AdaLoRA's budget schedule, peft's names and defaults: after `tinit` updates the total rank
/// falls on a cubic from r per site to `target_r` per site at `tfinal` updates before the end,
/// every `delta_t` updates masking the λ_i whose importance (an exponential moving average of
/// |θ·∂L/∂θ| times one of its deviation, β₁ and β₂) is lowest; then the mask stays. An
/// orthogonality penalty ‖PᵀP − I‖ + ‖QQᵀ − I‖ joins the loss with weight `orth_reg_weight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankSchedule {
    pub target_r: usize,
    #[serde(default)]
    pub tinit: usize,
    #[serde(default)]
    pub tfinal: usize,
    #[serde(default = "one")]
    pub delta_t: usize,
    #[serde(default = "beta")]
    pub beta1: f64,
    #[serde(default = "beta")]
    pub beta2: f64,
    #[serde(default = "orth_reg_weight")]
    pub orth_reg_weight: f64,
}

fn one() -> usize {
    1
}
fn beta() -> f64 {
    0.85
}
fn orth_reg_weight() -> f64 {
    0.5
}

impl RankSchedule {
    /// peft's defaults with `target_r`.
    pub fn new(target_r: usize) -> Self {
        Self {
            target_r,
            tinit: 0,
            tfinal: 0,
            delta_t: one(),
            beta1: beta(),
            beta2: beta(),
            orth_reg_weight: orth_reg_weight(),
        }
    }
}

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
        check_weight_form(Self::NAME, p)?;
        if let Some(s) = &self.schedule {
            if s.target_r == 0 || s.target_r > p.budget || s.delta_t == 0 {
                return Err(crate::error::invalid(
                    Self::NAME,
                    format!(
                        "schedule: target_r must be in 1..=r (r = {}, target_r = {}) and delta_t ≥ 1",
                        p.budget, s.target_r
                    ),
                ));
            }
        }
        Ok(())
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
