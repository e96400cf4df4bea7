//! A PHM layer (Compacter): M = Σᵢ Aᵢ ⊗ (sᵢ tᵢ), y = x M + b, with the rules Aᵢ held in
//! [`Shared`] so that every layer's projections use the same ones.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::shared::Shared;

#[derive(Module, Debug)]
pub struct PhmLinear<B: Backend> {
    /// sᵢ: `[n, d_in / n, rank]`
    pub left: Param<Tensor<B, 3>>,
    /// tᵢ: `[n, rank, d_out / n]`
    pub right: Param<Tensor<B, 3>>,
    pub bias: Param<Tensor<B, 1>>,
    /// Index of the rules in [`Shared::phm_rules`].
    pub rule: usize,
}

fn glorot<B: Backend, const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    fan_out: usize,
    device: &B::Device,
) -> Tensor<B, D> {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
    crate::init::random(shape, Distribution::Uniform(-bound, bound), device)
}

impl<B: Backend> PhmLinear<B> {
    pub fn new(
        n: usize,
        rank: usize,
        d_in: usize,
        d_out: usize,
        rule: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            left: Param::from_tensor(glorot([n, d_in / n, rank], d_in / n, rank, device)),
            right: Param::from_tensor(glorot([n, rank, d_out / n], rank, d_out / n, device)),
            bias: Param::from_tensor(Tensor::zeros([d_out], device)),
            rule,
        }
    }

    /// Σᵢ Aᵢ ⊗ Wᵢ as a `[d_in, d_out]` matrix.
    pub fn weight(&self, rules: Tensor<B, 3>) -> Tensor<B, 2> {
        let w = self.left.val().matmul(self.right.val()); // [n, p, q]
        let [n, p, q] = w.dims();
        // (A ⊗ W)[a·p + i, b·q + j] = A[a, b] · W[i, j], summed over the n terms.
        let a = rules.reshape([n, n, 1, n, 1]);
        let w = w.reshape([n, 1, p, 1, q]);
        (a * w).sum_dim(0).reshape([n * p, n * q])
    }

    pub fn forward(&self, x: Tensor<B, 3>, shared: &Shared<B>) -> Tensor<B, 3> {
        let m = self.weight(shared.phm_rule(self.rule));
        crate::rows::linear(x, m, Some(self.bias.val()))
    }
}
