//! `hadamard`: ΔW = s · (W_down1 W_up1) ⊙ (W_down2 W_up2) beside a projection (LoHa, Hyeon-Woo et
//! al. 2022, peft's `LOHA`). Two rank-r products multiplied entry by entry reach rank r², at the
//! parameter cost of 2 LoRAs of rank r.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::forms::{check_weight_form, kaiming_uniform, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HadamardSpec {}

/// Burn's layout throughout (`[d_in, d_out]` products); peft's `hada_w1_b` is `down1ᵀ`,
/// `hada_w1_a` is `up1ᵀ`, and likewise for the second pair.
#[derive(Module, Debug)]
pub struct Hadamard<B: Backend> {
    /// `[d_in, r]`
    pub down1: Param<Tensor<B, 2>>,
    /// `[r, d_out]`
    pub up1: Param<Tensor<B, 2>>,
    pub down2: Param<Tensor<B, 2>>,
    pub up2: Param<Tensor<B, 2>>,
    /// The fixed scale s (α/r for peft's LoHa).
    pub scale: f64,
    pub merged: bool,
}

impl FormSpec for HadamardSpec {
    const NAME: &'static str = "hadamard";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = Hadamard<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        crate::forms::LowRankSpec::default().check_site(p, dims)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        2 * p.budget * (dims.d_in + dims.d_out)
    }

    /// peft's start: both products' factors Kaiming-uniform except `down2` (its `hada_w2_b`),
    /// which is zero, so ΔW = 0.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Hadamard<B> {
        let (r, d) = (p.budget, ctx.device);
        Hadamard {
            down1: Param::from_tensor(kaiming_uniform([dims.d_in, r], dims.d_in, d)),
            up1: Param::from_tensor(kaiming_uniform([r, dims.d_out], r, d)),
            down2: Param::from_tensor(Tensor::zeros([dims.d_in, r], d)),
            up2: Param::from_tensor(kaiming_uniform([r, dims.d_out], r, d)),
            scale: p.composition.fixed_scale(r),
            merged: false,
        }
    }
}

impl<B: Backend> Hadamard<B> {
    /// ΔW, `[d_in, d_out]`.
    pub fn delta_weight(&self, _shared: &Shared<B>) -> Tensor<B, 2> {
        let first = self.down1.val().matmul(self.up1.val());
        let second = self.down2.val().matmul(self.up2.val());
        (first * second).mul_scalar(self.scale)
    }
}

additive_weight_form!(Hadamard);
