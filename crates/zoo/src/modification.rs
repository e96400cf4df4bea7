//! One modification: a functional form placed at a site with an insertion and a composition.
//!
//! Adding a functional form means one file in `forms/` and one variant here.

use burn::module::Module;
use burn::prelude::*;

use crate::forms::{LowRank, Prefix, Prompt};

#[derive(Module, Debug)]
pub enum Modification<B: Backend> {
    /// x W_down W_up, added in parallel with a scale (LoRA).
    LowRank(LowRank<B>),
    /// Key/value vectors prepended per head (prefix tuning); acts through [`crate::Site::prefix_kv`].
    Prefix(Prefix<B>),
    /// Embeddings prepended at the input (prompt tuning); acts through [`crate::Site::prepend`].
    Prompt(Prompt<B>),
}

impl<B: Backend> Modification<B> {
    /// h ← compose(h, Δh), where Δh reads `x` (parallel) or `h` (sequential). Forms that act on
    /// attention memory or on the sequence itself leave `h` as it is.
    pub fn modify<const D: usize>(&self, x: Tensor<B, D>, h: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Modification::LowRank(m) => m.modify(x, h),
            Modification::Prefix(_) | Modification::Prompt(_) => h,
        }
    }
}
