//! `kronecker`: Δh = s · x (A ⊗ B) beside a projection (KronA). A is k × k, B is
//! (d_in/k) × (d_out/k); the budget knob is k.

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
use crate::Insertion;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KroneckerSpec {}

#[derive(Module, Debug)]
pub struct Kronecker<B: Backend> {
    /// `[k, k]`
    pub a: Param<Tensor<B, 2>>,
    /// `[d_in / k, d_out / k]`
    pub b: Param<Tensor<B, 2>>,
    pub compose: Composer<B>,
    pub merged: bool,
}

impl FormSpec for KroneckerSpec {
    const NAME: &'static str = "kronecker";
    const KNOB: Option<&'static str> = Some("k");
    type Module<B: Backend> = Kronecker<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if !p.position.is_projection() || p.insertion != Insertion::Parallel {
            return Err(invalid(
                Self::NAME,
                format!(
                    "sits beside a projection, in parallel (not `{}`)",
                    p.position
                ),
            ));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "k must be ≥ 1"));
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        let k = p.budget;
        if !dims.d_in.is_multiple_of(k) || !dims.d_out.is_multiple_of(k) {
            return Err(does_not_fit(
                Self::NAME,
                k,
                format!(
                    "k must divide d_in = {} and d_out = {} at `{}`",
                    dims.d_in, dims.d_out, p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        let k = p.budget;
        k * k + (dims.d_in / k) * (dims.d_out / k) + p.composition.params(dims.d_in)
    }

    /// KronA: A Kaiming-uniform, B zero, so training starts from the pretrained model.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Kronecker<B> {
        let k = p.budget;
        let bound = 1.0 / (k as f64).sqrt();
        Kronecker {
            a: Param::from_tensor(crate::init::random(
                [k, k],
                Distribution::Uniform(-bound, bound),
                ctx.device,
            )),
            b: Param::from_tensor(Tensor::zeros([dims.d_in / k, dims.d_out / k], ctx.device)),
            compose: Composer::new(p.composition, k, dims.d_in, ctx.device),
            merged: false,
        }
    }
}

impl<B: Backend> Kronecker<B> {
    /// A ⊗ B as a `[d_in, d_out]` matrix.
    pub fn dense(&self) -> Tensor<B, 2> {
        kron(self.a.val(), self.b.val())
    }
}

/// The Kronecker product a ⊗ b of `[k, k2]` and `[p, q]`: `[k·p, k2·q]`.
pub(crate) fn kron<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    let [k, k2] = a.dims();
    let [p, q] = b.dims();
    let a = a.reshape([k, 1, k2, 1]);
    let b = b.reshape([1, p, 1, q]);
    (a * b).reshape([k * p, k2 * q])
}

impl<B: Backend> FormModule<B> for Kronecker<B> {
    fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        if self.merged {
            return h;
        }
        // x (A ⊗ B) without forming A ⊗ B: view x as [.., k, d_in/k]; Y = Aᵀ X B.
        let [batch, seq, _] = x.dims();
        let [k, k2] = self.a.dims();
        let [p, q] = self.b.dims();
        let xb = x
            .clone()
            .reshape([batch * seq, k, p])
            .matmul(self.b.val().unsqueeze()); // [n, k, q]
        let y = xb.swap_dims(1, 2).matmul(self.a.val().unsqueeze()); // [n, q, k2]
        let delta = y.swap_dims(1, 2).reshape([batch, seq, k2 * q]);
        h + self.compose.apply(&x, delta)
    }

    fn mergeable(&self) -> bool {
        self.compose.learned.is_none() && self.compose.gate.is_none()
    }

    fn merge(&mut self, linear: Linear<B>, sign: f64, _shared: &Shared<B>) -> Linear<B> {
        self.merged = sign > 0.0;
        let delta = self.dense().mul_scalar(self.compose.fixed * sign);
        super::add_to_weight(linear, delta)
    }

    fn is_merged(&self) -> bool {
        self.merged
    }
}
