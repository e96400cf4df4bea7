//! `rescale`: h ⊙ l on a projection's output, or x ⊙ l on its input (IA3). Starts at ones.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;
use crate::{Composition, Side};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RescaleSpec {
    #[serde(default)]
    pub side: Side,
}

#[derive(Module, Debug)]
pub struct Rescale<B: Backend> {
    pub scale: Param<Tensor<B, 1>>,
    pub side: Side,
    pub merged: bool,
}

impl FormSpec for RescaleSpec {
    const NAME: &'static str = "rescale";
    const KNOB: Option<&'static str> = None;
    type Module<B: Backend> = Rescale<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if !p.position.is_projection() {
            return Err(invalid(
                Self::NAME,
                format!(
                    "rescales a projection's input or output, not `{}`",
                    p.position
                ),
            ));
        }
        if p.composition != Composition::Add {
            return Err(invalid(
                Self::NAME,
                "is multiplicative by itself: composition must be add",
            ));
        }
        Ok(())
    }

    fn site_params(&self, _p: &Placement, dims: SiteDims) -> usize {
        match self.side {
            Side::Output => dims.d_out,
            Side::Input => dims.d_in,
        }
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Rescale<B> {
        Rescale {
            scale: Param::from_tensor(Tensor::ones([self.site_params(p, dims)], ctx.device)),
            side: self.side,
            merged: false,
        }
    }
}

impl<B: Backend> FormModule<B> for Rescale<B> {
    fn modify(&self, _x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        match (self.side, self.merged) {
            (Side::Output, false) => h * self.scale.val().unsqueeze(),
            _ => h,
        }
    }

    fn input_scale(&self) -> Option<Tensor<B, 1>> {
        (self.side == Side::Input && !self.merged).then(|| self.scale.val())
    }

    fn mergeable(&self) -> bool {
        true
    }

    /// Output side: W ← W diag(l), b ← b ⊙ l. Input side: W ← diag(l) W. Unmerging divides.
    fn merge(&mut self, linear: Linear<B>, sign: f64, _shared: &Shared<B>) -> Linear<B> {
        self.merged = sign > 0.0;
        let l = self.scale.val().detach();
        // Unmerging divides (as peft does) rather than multiplying by 1/l: one rounding per
        // weight instead of two, so that merge then unmerge returns W to within one ulp.
        let apply = |w: Tensor<B, 2>, l: Tensor<B, 2>| if sign > 0.0 { w * l } else { w / l };
        let [d_in, d_out] = linear.weight.dims();
        let keep = |p: &Param<Tensor<B, 2>>| p.is_require_grad();
        let require_grad = keep(&linear.weight);
        let (weight, bias) = match self.side {
            Side::Output => (
                apply(linear.weight.val(), l.clone().reshape([1, d_out])),
                linear.bias.map(|b| {
                    let rg = b.is_require_grad();
                    let v = apply(b.val().reshape([1, d_out]), l.reshape([1, d_out]));
                    Param::initialized(b.id, v.reshape([d_out]).detach().set_require_grad(rg))
                }),
            ),
            Side::Input => (
                apply(linear.weight.val(), l.reshape([d_in, 1])),
                linear.bias,
            ),
        };
        Linear {
            weight: Param::initialized(
                linear.weight.id,
                weight.detach().set_require_grad(require_grad),
            ),
            bias,
        }
    }

    fn is_merged(&self) -> bool {
        self.merged
    }
}
