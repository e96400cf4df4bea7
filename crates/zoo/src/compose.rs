//! The composition dimension at run time: how Δh is scaled before it is added.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;

use crate::Composition;

/// s·Δh with s fixed, learned, gated, or a product of those.
#[derive(Module, Debug)]
pub struct Composer<B: Backend> {
    /// The fixed part of s (1 for plain addition).
    pub fixed: f64,
    /// A trained scalar (the scaled parallel adapter with learnable s).
    pub learned: Option<Param<Tensor<B, 1>>>,
    /// UniPELT's gate: g(x) = mean over positions of σ(x W_g + b_g), one value per example.
    pub gate: Option<Linear<B>>,
}

impl<B: Backend> Composer<B> {
    /// The composer of `composition` for a form whose budget is `budget` and which reads inputs of
    /// width `d_in`.
    pub fn new(composition: Composition, budget: usize, d_in: usize, device: &B::Device) -> Self {
        let learned = match composition {
            Composition::Learned { init } => Some(Param::from_tensor(Tensor::from_floats(
                [init as f32],
                device,
            ))),
            _ => None,
        };
        let gate = match composition {
            Composition::Gated => Some(LinearConfig::new(d_in, 1).init(device)),
            _ => None,
        };
        Self {
            fixed: composition.fixed_scale(budget),
            learned,
            gate,
        }
    }

    /// `[batch, 1, 1]`: the gate of each example, if this composer is gated.
    pub fn gate_value(&self, x: &Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        self.gate
            .as_ref()
            .map(|g| activation::sigmoid(crate::rows::dense(x.clone(), g)).mean_dim(1))
    }

    /// Scales `delta` (`[batch, seq, d]`); `x` is what the gate reads.
    pub fn apply(&self, x: &Tensor<B, 3>, delta: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut delta = if self.fixed == 1.0 {
            delta
        } else {
            delta.mul_scalar(self.fixed)
        };
        if let Some(s) = &self.learned {
            delta = delta * s.val().reshape([1, 1, 1]);
        }
        if let Some(g) = self.gate_value(x) {
            delta = delta * g;
        }
        delta
    }
}
