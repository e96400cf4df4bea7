//! `butterfly_orthogonal`: W′ = s ⊙ W · Mᵀ with M = M_{N−1} ··· M_0 and M_i = P_i · block_diag(R_ij) ·
//! P_iᵀ, each R_ij the exact Cayley rotation of a trained b × b block and P_i a butterfly
//! permutation that mixes blocks, so N factors reach a dense orthogonal map (BOFT, Liu et al.
//! 2024, peft's `BOFT`); s scales each output. The knob is the block size b; `factors` is N
//! (peft's `boft_n_butterfly_factor`).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, Result};
use crate::forms::orthogonal::check_blocks;
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::rotation;
use crate::shape::SiteDims;
use crate::shared::Shared;

fn one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButterflyOrthogonalSpec {
    /// N, the butterfly factors (1: one block-diagonal rotation).
    #[serde(default = "one")]
    pub factors: usize,
}

impl Default for ButterflyOrthogonalSpec {
    fn default() -> Self {
        Self { factors: 1 }
    }
}

#[derive(Module, Debug)]
pub struct ButterflyOrthogonal<B: Backend> {
    /// `[N, d_in / b, b, b]`: full matrices whose skew part S = (R − Rᵀ)/2 is used (peft's
    /// `boft_R`).
    pub blocks: Param<Tensor<B, 4>>,
    /// `[d_out]` (peft's `boft_s` `[d_out, 1]`).
    pub scale: Param<Tensor<B, 1>>,
    /// The permutation matrices P_i, `[N, d_in, d_in]`: constants rebuilt from the shape.
    pub permutations: Tensor<B, 3>,
    pub merged_from: Option<Tensor<B, 2>>,
}

impl FormSpec for ButterflyOrthogonalSpec {
    const NAME: &'static str = "butterfly_orthogonal";
    const KNOB: Option<&'static str> = Some("b");
    type Module<B: Backend> = ButterflyOrthogonal<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)?;
        if self.factors == 0 {
            return Err(does_not_fit(Self::NAME, 0, "factors must be ≥ 1"));
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        check_blocks(Self::NAME, p, dims)?;
        // peft: with N > 1, d_in must hold b · 2^(N−1) and the block count must be even.
        let span = p.budget << (self.factors - 1);
        if self.factors > 1
            && (!dims.d_in.is_multiple_of(span) || !(dims.d_in / p.budget).is_multiple_of(2))
        {
            return Err(does_not_fit(
                Self::NAME,
                p.budget,
                format!(
                    "{} butterfly factors need d_in = {} to be a multiple of b·2^(N−1) = {span} with an even number of blocks at `{}`",
                    self.factors, dims.d_in, p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        self.factors * dims.d_in * p.budget + dims.d_out
    }

    /// peft's start: every block zero (R = I) and s = 1, the pretrained weight.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> ButterflyOrthogonal<B> {
        let (b, n, dev) = (p.budget, self.factors, ctx.device);
        let blocks_per_factor = dims.d_in / b;
        let mut permutations = Vec::with_capacity(n * dims.d_in * dims.d_in);
        for i in 0..n {
            let perm = block_butterfly_perm(dims.d_in, blocks_per_factor >> i, b / 2, n - 1);
            let mut matrix = vec![0f32; dims.d_in * dims.d_in];
            for (row, &col) in perm.iter().enumerate() {
                matrix[row * dims.d_in + col] = 1.0;
            }
            permutations.extend(matrix);
        }
        ButterflyOrthogonal {
            blocks: Param::from_tensor(Tensor::zeros([n, blocks_per_factor, b, b], dev)),
            scale: Param::from_tensor(Tensor::ones([dims.d_out], dev)),
            permutations: Tensor::from_data(
                TensorData::new(permutations, [n, dims.d_in, dims.d_in]),
                dev,
            ),
            merged_from: None,
        }
    }
}

/// peft's `block_butterfly_perm(n, b, r, n_butterfly_factor)`: within each of the b chunks of
/// `n`, its r-sized pieces reordered evens first, then odds (the identity when there is one
/// factor).
pub fn block_butterfly_perm(n: usize, b: usize, r: usize, extra_factors: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    if extra_factors == 0 || b == 0 || r == 0 {
        return indices;
    }
    let block = n / b;
    let pieces = block / r;
    let sequence: Vec<usize> = (0..pieces)
        .step_by(2)
        .chain((1..pieces).step_by(2))
        .collect();
    let mut order = vec![0; block];
    for (i, &pos) in sequence.iter().enumerate() {
        order[i * r..i * r + r].copy_from_slice(&(pos * r..pos * r + r).collect::<Vec<_>>());
    }
    for start in (0..n).step_by(block) {
        let chunk: Vec<usize> = indices[start..start + block].to_vec();
        for (i, &o) in order.iter().enumerate() {
            indices[start + i] = chunk[o];
        }
    }
    indices
}

impl<B: Backend> ButterflyOrthogonal<B> {
    /// M = M_{N−1} ··· M_0, `[d_in, d_in]`.
    pub fn rotation(&self) -> Tensor<B, 2> {
        let [n, blocks, b, _] = self.blocks.dims();
        let r = self.blocks.val().reshape([n * blocks, b, b]);
        let skew = (r.clone() - r.swap_dims(1, 2)).mul_scalar(0.5);
        let rotations = rotation::cayley(skew).reshape([n, blocks, b, b]);
        let d_in = blocks * b;
        let eye = Tensor::<B, 2>::eye(d_in, &self.blocks.device());
        let mut m: Option<Tensor<B, 2>> = None;
        for i in 0..n {
            let p = self
                .permutations
                .clone()
                .slice([i..i + 1, 0..d_in, 0..d_in])
                .reshape([d_in, d_in]);
            let factor_blocks = rotations
                .clone()
                .slice([i..i + 1, 0..blocks, 0..b, 0..b])
                .reshape([blocks, b, b]);
            // P · BD · Pᵀ
            let bd = rotation::block_diagonal_times(factor_blocks, eye.clone());
            let mi = p.clone().matmul(bd).matmul(p.transpose());
            m = Some(match m {
                None => mi,
                Some(prev) => mi.matmul(prev),
            });
        }
        m.unwrap_or(eye)
    }

    /// peft runs the base layer on x·M and scales each output by s: in Burn's layout
    /// W′ = (M·W) ⊙ s.
    pub fn map_weight(&self, weight: Tensor<B, 2>, _shared: &Shared<B>) -> Tensor<B, 2> {
        self.rotation().matmul(weight) * self.scale.val().unsqueeze::<2>()
    }
}

mapped_weight_form!(ButterflyOrthogonal);
