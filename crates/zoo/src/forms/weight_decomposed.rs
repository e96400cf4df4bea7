//! `weight_decomposed`: W′ = m ⊙ (W + s·W_down W_up) / ‖W + s·W_down W_up‖, the norm taken per
//! output (DoRA, Liu et al. 2024; peft's `use_dora`). The pretrained weight is split into a
//! trained magnitude m and a direction that LoRA's low-rank update steers.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{
    check_beside_projection, BuildContext, FormModule, FormSpec, LowRank, Placement,
};
use crate::shape::SiteDims;
use crate::shared::Shared;
use crate::Composition;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDecomposedSpec {}

#[derive(Module, Debug)]
pub struct WeightDecomposed<B: Backend> {
    /// The direction's update: W_down `[d_in, r]`, W_up `[r, d_out]` and the fixed scale s.
    pub low_rank: LowRank<B>,
    /// m, `[d_out]`: ‖W‖ per output when the form is attached, so training starts at W.
    pub magnitude: Param<Tensor<B, 1>>,
    /// ‖W + s·W_down W_up‖ per output at the time of merging: unmerging divides it back out
    /// (what peft caches too). A constant, never saved.
    pub merged_norm: Option<Tensor<B, 1>>,
}

impl FormSpec for WeightDecomposedSpec {
    const NAME: &'static str = "weight_decomposed";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = WeightDecomposed<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_beside_projection(Self::NAME, p)?;
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "rank must be ≥ 1"));
        }
        if matches!(
            p.composition,
            Composition::Learned { .. } | Composition::Gated
        ) {
            return Err(invalid(
                Self::NAME,
                "the magnitude rescales W itself: only a fixed scale of the update (add, scaled, alpha_over_rank, alpha_over_sqrt_rank)",
            ));
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        crate::forms::LowRankSpec::default().check_site(p, dims)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * (dims.d_in + dims.d_out) + dims.d_out
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> WeightDecomposed<B> {
        WeightDecomposed {
            low_rank: LowRank::new(p, dims, ctx.device),
            // Set from W by `attach`; ones until then.
            magnitude: Param::from_tensor(Tensor::ones([dims.d_out], ctx.device)),
            merged_norm: None,
        }
    }
}

impl<B: Backend> WeightDecomposed<B> {
    /// W′ = m ⊙ (W + s·W_down W_up) / ‖W + s·W_down W_up‖ and that norm per output (`[1,
    /// d_out]`), the norm detached: peft (after the paper's §4.3) treats it as a constant in the
    /// backward pass, which saves memory and changes the gradient, so it does the same.
    fn decomposed(&self, weight: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let combined = weight + self.low_rank.delta_weight();
        let norm = column_norm(combined.clone()).detach();
        let adapted = combined * (self.magnitude.val().unsqueeze::<2>() / norm.clone());
        (adapted, norm)
    }
}

/// ‖w[:, j]‖ for every column j of `w` (`[d_in, d_out]` → `[1, d_out]`).
fn column_norm<B: Backend>(w: Tensor<B, 2>) -> Tensor<B, 2> {
    w.powi_scalar(2).sum_dim(0).sqrt()
}

impl<B: Backend> FormModule<B> for WeightDecomposed<B> {
    fn adapts_weight(&self) -> bool {
        true
    }

    fn adapt_weight(&self, weight: Tensor<B, 2>, _shared: &Shared<B>) -> Tensor<B, 2> {
        self.decomposed(weight).0
    }

    fn attach(&mut self, linear: Linear<B>) -> Linear<B> {
        let norm = column_norm(linear.weight.val()).detach().squeeze::<1>();
        self.magnitude = Param::initialized(self.magnitude.id, norm.set_require_grad(true));
        linear
    }

    fn mergeable(&self) -> bool {
        true
    }

    /// Merging writes W′ into the projection and keeps ‖W + s·ΔW‖; unmerging inverts it:
    /// W = W′ · ‖W + s·ΔW‖ / m − s·ΔW.
    fn merge(&mut self, linear: Linear<B>, sign: f64, _shared: &Shared<B>) -> Linear<B> {
        let weight = linear.weight.val();
        if sign > 0.0 {
            let (merged, norm) = self.decomposed(weight);
            self.merged_norm = Some(norm.squeeze::<1>());
            self.low_rank.merged = true;
            super::with_weight(linear, merged)
        } else {
            let Some(norm) = self.merged_norm.take() else {
                return linear;
            };
            let direction = weight * (norm / self.magnitude.val()).unsqueeze::<2>();
            self.low_rank.merged = false;
            super::with_weight(linear, direction - self.low_rank.delta_weight())
        }
    }

    fn is_merged(&self) -> bool {
        self.low_rank.merged
    }
}
