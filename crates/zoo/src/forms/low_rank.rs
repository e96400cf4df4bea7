//! `low_rank`: Δh = s · x W_down W_up beside a projection (LoRA).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::compose::Composer;
use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowRankSpec {
    /// LoRA+ (Hayou et al. 2024, peft's `create_loraplus_optimizer`): W_up trains at this
    /// multiple of the run's learning rate, W_down at the rate itself. An option of the
    /// optimiser, so the forward pass and the adapter files are LoRA's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_lr_ratio: Option<f64>,
}

/// W_down `[d_in, r]`, W_up `[r, d_out]`.
#[derive(Module, Debug)]
pub struct LowRank<B: Backend> {
    pub down: Param<Tensor<B, 2>>,
    pub up: Param<Tensor<B, 2>>,
    pub compose: Composer<B>,
    /// Folded into the projection's weight: the forward pass must not add it again.
    pub merged: bool,
}

impl FormSpec for LowRankSpec {
    const NAME: &'static str = "low_rank";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = LowRank<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if self
            .up_lr_ratio
            .is_some_and(|r| !(r.is_finite() && r > 0.0))
        {
            return Err(invalid(Self::NAME, "up_lr_ratio must be a positive number"));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "rank must be ≥ 1"));
        }
        if !p.position.is_projection() || p.insertion != crate::Insertion::Parallel {
            return Err(invalid(
                Self::NAME,
                format!(
                    "sits beside a projection (q, k, v, o, ffn_in, ffn_out), not at `{}`",
                    p.position
                ),
            ));
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        let r = p.budget;
        if r > dims.d_in.min(dims.d_out) {
            return Err(does_not_fit(
                Self::NAME,
                r,
                format!(
                    "rank above min(d_in, d_out) = {} at `{}`",
                    dims.d_in.min(dims.d_out),
                    p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * (dims.d_in + dims.d_out) + p.composition.params(dims.d_in)
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> LowRank<B> {
        LowRank::new(p, dims, ctx.device)
    }
}

impl<B: Backend> LowRank<B> {
    /// LoRA's initialisation: W_down Kaiming-uniform with a = √5 (bound 1/√d_in), W_up zero, so
    /// the modified model starts equal to the pretrained one.
    pub fn new(p: &Placement, dims: SiteDims, device: &B::Device) -> Self {
        let r = p.budget;
        let bound = 1.0 / (dims.d_in as f64).sqrt();
        Self {
            down: Param::from_tensor(crate::init::random(
                [dims.d_in, r],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            up: Param::from_tensor(Tensor::zeros([r, dims.d_out], device)),
            compose: Composer::new(p.composition, r, dims.d_in, device),
            merged: false,
        }
    }

    /// s·W_down W_up as a `[d_in, d_out]` matrix (Burn's Linear layout).
    pub fn delta_weight(&self) -> Tensor<B, 2> {
        self.down
            .val()
            .matmul(self.up.val())
            .mul_scalar(self.compose.fixed)
    }
}

impl<B: Backend> FormModule<B> for LowRank<B> {
    fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        if self.merged {
            return h;
        }
        let delta = x
            .clone()
            .matmul(self.down.val().unsqueeze())
            .matmul(self.up.val().unsqueeze());
        h + self.compose.apply(&x, delta)
    }

    fn mergeable(&self) -> bool {
        self.compose.learned.is_none() && self.compose.gate.is_none()
    }

    fn merge(&mut self, linear: Linear<B>, sign: f64, _shared: &Shared<B>) -> Linear<B> {
        self.merged = sign > 0.0;
        super::add_to_weight(linear, self.delta_weight().mul_scalar(sign))
    }

    fn is_merged(&self) -> bool {
        self.merged
    }
}
