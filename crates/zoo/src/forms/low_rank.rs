//! `low_rank`: Δh = s · x W_down W_up, inserted in parallel with a projection (LoRA).

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

#[derive(Module, Debug)]
pub struct LowRank<B: Backend> {
    /// `[d_in, r]`
    pub down: Param<Tensor<B, 2>>,
    /// `[r, d_out]`
    pub up: Param<Tensor<B, 2>>,
    /// s = α / r.
    pub scale: f64,
}

impl<B: Backend> LowRank<B> {
    /// LoRA's initialisation: W_down Kaiming-uniform with a = √5 (bound 1/√d_in), W_up zero, so the
    /// modified model starts equal to the pretrained one.
    pub fn init(d_in: usize, d_out: usize, rank: usize, scale: f64, device: &B::Device) -> Self {
        let bound = 1.0 / (d_in as f64).sqrt();
        let down = Tensor::random([d_in, rank], Distribution::Uniform(-bound, bound), device);
        let up = Tensor::zeros([rank, d_out], device);
        Self {
            down: Param::from_tensor(down),
            up: Param::from_tensor(up),
            scale,
        }
    }

    pub fn modify<const D: usize>(&self, x: Tensor<B, D>, h: Tensor<B, D>) -> Tensor<B, D> {
        let delta = x
            .matmul(self.down.val().unsqueeze())
            .matmul(self.up.val().unsqueeze());
        h + delta.mul_scalar(self.scale)
    }
}
