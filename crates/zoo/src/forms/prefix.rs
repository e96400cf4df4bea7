//! `prefix_attention`: l learned key and value vectors per head, prepended to an attention's own
//! (prefix tuning). Concatenating them and running ordinary attention computes He et al.'s gated
//! form (1 − λ(x))·attn(x) + λ(x)·softmax(x W_q P_kᵀ) P_v exactly.

use burn::module::{Module, Param};
use burn::prelude::*;

use crate::PrefixKv;

#[derive(Module, Debug)]
pub struct Prefix<B: Backend> {
    /// `[l, d]`, heads side by side as in the attention's key projection output.
    pub keys: Param<Tensor<B, 2>>,
    /// `[l, d]`.
    pub values: Param<Tensor<B, 2>>,
}

impl<B: Backend> Prefix<B> {
    pub fn from_tensors(keys: Tensor<B, 2>, values: Tensor<B, 2>) -> Self {
        Self {
            keys: Param::from_tensor(keys),
            values: Param::from_tensor(values),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys and values as `[batch, heads, l, d_head]`.
    pub fn kv(&self, batch: usize, heads: usize) -> PrefixKv<B> {
        let [l, d] = self.keys.dims();
        let per_head = |t: Tensor<B, 2>| {
            t.reshape([1, l, heads, d / heads])
                .swap_dims(1, 2)
                .repeat_dim(0, batch)
        };
        PrefixKv {
            keys: per_head(self.keys.val()),
            values: per_head(self.values.val()),
        }
    }
}
