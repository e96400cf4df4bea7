//! Token-wise linear maps computed as one 2-D product over all `batch × seq` rows.
//!
//! `x [batch, seq, d] · W [d, n]` through Burn's `linear`/`matmul` broadcasts W to `[1, d, n]`.
//! The CPU backends then run `batch` small gemms that each pack W again, and autodiff's weight
//! gradient becomes `batch` products `x_bᵀ g_b` of shape `[d, n]` (a `batch × d × n` temporary)
//! summed afterwards, each with an inner dimension of only `seq`. Flattening the rows first gives
//! one gemm forward and one per gradient with an inner dimension of `batch × seq`: the shapes a
//! BLAS-backed framework uses. The flattening is free for a contiguous `x` (a view), and so is
//! the reshape back.

use burn::nn::Linear;
use burn::prelude::*;

/// `x W + b` over the last dimension of `x`.
pub fn linear<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let [batch, seq, d] = x.dims();
    let y = burn::tensor::module::linear(x.reshape([batch * seq, d]), weight, bias);
    let n = y.dims()[1];
    y.reshape([batch, seq, n])
}

/// A `burn::nn::Linear` applied token-wise ([`linear`]).
pub fn dense<B: Backend>(x: Tensor<B, 3>, layer: &Linear<B>) -> Tensor<B, 3> {
    linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `x M` over the last dimension of `x`, without a bias.
pub fn matmul<B: Backend>(x: Tensor<B, 3>, m: Tensor<B, 2>) -> Tensor<B, 3> {
    let [batch, seq, d] = x.dims();
    let y = x.reshape([batch * seq, d]).matmul(m);
    let n = y.dims()[1];
    y.reshape([batch, seq, n])
}
