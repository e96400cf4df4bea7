//! `orthogonal`: W′ = W · R with R = block_diag(R_1 … R_{d_in/b}) rotating the projection's input
//! in blocks of b (OFT, Qiu et al. 2023, as peft 0.21's `OFT` computes it). Each R_i comes from
//! a skew-symmetric Q_i (its b(b−1)/2 upper entries train) through the Cayley transform; peft
//! by default takes its Neumann series (`use_cayley_neumann`, 5 terms), which
//! `neumann_terms` reproduces; 0 takes the exact transform. The knob is the block size b.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, Result};
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::rotation;
use crate::shape::SiteDims;
use crate::shared::Shared;

/// peft's `num_cayley_neumann_terms`.
pub const NEUMANN_TERMS: usize = 5;

fn default_terms() -> usize {
    NEUMANN_TERMS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrthogonalSpec {
    /// Terms of the Neumann series of the Cayley transform; 0 for the exact transform.
    #[serde(default = "default_terms")]
    pub neumann_terms: usize,
}

impl Default for OrthogonalSpec {
    fn default() -> Self {
        Self {
            neumann_terms: NEUMANN_TERMS,
        }
    }
}

#[derive(Module, Debug)]
pub struct Orthogonal<B: Backend> {
    /// `[d_in / b, b(b−1)/2]`: each block's upper triangle (peft's `oft_R.weight`).
    pub upper: Param<Tensor<B, 2>>,
    pub block: usize,
    pub neumann_terms: usize,
    pub merged_from: Option<Tensor<B, 2>>,
}

/// The check shared by the block-rotation forms: b ≥ 2 dividing d_in.
pub(crate) fn check_blocks(name: &str, p: &Placement, dims: SiteDims) -> Result<()> {
    let b = p.budget;
    if b < 2 || !dims.d_in.is_multiple_of(b) {
        return Err(does_not_fit(
            name,
            b,
            format!(
                "the block size must be ≥ 2 and divide d_in = {} at `{}`",
                dims.d_in, p.position
            ),
        ));
    }
    Ok(())
}

impl FormSpec for OrthogonalSpec {
    const NAME: &'static str = "orthogonal";
    const KNOB: Option<&'static str> = Some("b");
    type Module<B: Backend> = Orthogonal<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        check_blocks(Self::NAME, p, dims)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        let b = p.budget;
        dims.d_in / b * (b * (b - 1) / 2)
    }

    /// Zero: R = I, the pretrained weight.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Orthogonal<B> {
        let b = p.budget;
        Orthogonal {
            upper: Param::from_tensor(Tensor::zeros([dims.d_in / b, b * (b - 1) / 2], ctx.device)),
            block: b,
            neumann_terms: self.neumann_terms,
            merged_from: None,
        }
    }
}

impl<B: Backend> Orthogonal<B> {
    /// R_i, `[d_in / b, b, b]`.
    pub fn rotations(&self) -> Tensor<B, 3> {
        let q = rotation::skew_from_upper(self.upper.val(), self.block);
        if self.neumann_terms == 0 {
            // peft's exact branch, (I − Q)(I + Q)⁻¹. (Its series approximates the inverse
            // rotation, (I + Q)(I − Q)⁻¹; peft keeps both as they are, and so does this.)
            rotation::cayley(q)
        } else {
            rotation::cayley_neumann(q, self.neumann_terms)
        }
    }

    /// peft rotates the input, x ↦ x·R, before W: in Burn's `[d_in, d_out]` layout W′ = R·W.
    pub fn map_weight(&self, weight: Tensor<B, 2>, _shared: &Shared<B>) -> Tensor<B, 2> {
        rotation::block_diagonal_times(self.rotations(), weight)
    }
}

mapped_weight_form!(Orthogonal);
