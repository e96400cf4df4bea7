//! `factored_kronecker`: ΔW = s · (W_1 ⊗ W_2) beside a projection, with the widths factored as
//! peft's LoKr does (`LOKR`, after LyCORIS): d_out = a·b and d_in = c·d, each the divisor pair
//! nearest its square root; W_1 is a × c, and W_2 is b × d, itself a rank-r product when
//! r < max(b, d)/2. KronA (`kronecker`) is the other point of this family: a k × k factor.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::forms::{check_weight_form, kaiming_uniform, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoredKroneckerSpec {}

/// peft's `factorization(dimension, factor = -1)`: the divisor pair (m ≤ n) of `dimension`
/// reached by walking up the divisors while m + n shrinks.
pub fn factorization(dimension: usize) -> (usize, usize) {
    let (mut m, mut n) = (1, dimension);
    let length = m + n;
    while m < n {
        let mut new_m = m + 1;
        while !dimension.is_multiple_of(new_m) {
            new_m += 1;
        }
        let new_n = dimension / new_m;
        if new_m + new_n > length {
            break;
        }
        (m, n) = (new_m, new_n);
    }
    if m > n {
        (n, m)
    } else {
        (m, n)
    }
}

/// The factor shapes at a site: `((a, b), (c, d))` with d_out = a·b, d_in = c·d, and whether
/// W_2 is a rank-r product.
pub fn lokr_shapes(r: usize, dims: SiteDims) -> ((usize, usize), (usize, usize), bool) {
    let (a, b) = factorization(dims.d_out);
    let (c, d) = factorization(dims.d_in);
    // peft: use_w2 = not (r < max(b, d) / 2), compared in floating point.
    let low_rank = (r as f64) < b.max(d) as f64 / 2.0;
    ((a, b), (c, d), low_rank)
}

/// Burn's layout: `w1` is W_1ᵀ (`[c, a]`), and W_2ᵀ (`[d, b]`) is `w2` or `w2_down · w2_up`
/// (peft's `lokr_w2_b`ᵀ `[d, r]` and `lokr_w2_a`ᵀ `[r, b]`).
#[derive(Module, Debug)]
pub struct FactoredKronecker<B: Backend> {
    pub w1: Param<Tensor<B, 2>>,
    pub w2: Option<Param<Tensor<B, 2>>>,
    pub w2_down: Option<Param<Tensor<B, 2>>>,
    pub w2_up: Option<Param<Tensor<B, 2>>>,
    pub scale: f64,
    pub merged: bool,
}

impl FormSpec for FactoredKroneckerSpec {
    const NAME: &'static str = "factored_kronecker";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = FactoredKronecker<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        let ((a, b), (c, d), low_rank) = lokr_shapes(p.budget, dims);
        a * c + if low_rank { p.budget * (b + d) } else { b * d }
    }

    /// peft's start: W_1 zero (so ΔW = 0), W_2's factors Kaiming-uniform.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> FactoredKronecker<B> {
        let (r, dev) = (p.budget, ctx.device);
        let ((a, b), (c, d), low_rank) = lokr_shapes(r, dims);
        let param = |t: Tensor<B, 2>| Some(Param::from_tensor(t));
        let (w2, w2_down, w2_up) = if low_rank {
            (
                None,
                param(kaiming_uniform([d, r], d, dev)),
                param(kaiming_uniform([r, b], r, dev)),
            )
        } else {
            (param(kaiming_uniform([d, b], d, dev)), None, None)
        };
        FactoredKronecker {
            w1: Param::from_tensor(Tensor::zeros([c, a], dev)),
            w2,
            w2_down,
            w2_up,
            scale: p.composition.fixed_scale(r),
            merged: false,
        }
    }
}

impl<B: Backend> FactoredKronecker<B> {
    /// W_2ᵀ, `[d, b]`.
    pub fn w2t(&self) -> Tensor<B, 2> {
        match (&self.w2, &self.w2_down, &self.w2_up) {
            (Some(w2), _, _) => w2.val(),
            (None, Some(down), Some(up)) => down.val().matmul(up.val()),
            _ => unreachable!("built with either W_2 or both of its factors"),
        }
    }

    /// ΔWᵀ = s · (W_1ᵀ ⊗ W_2ᵀ), `[d_in, d_out]`.
    pub fn delta_weight(&self, _shared: &Shared<B>) -> Tensor<B, 2> {
        super::kronecker::kron(self.w1.val(), self.w2t()).mul_scalar(self.scale)
    }
}

additive_weight_form!(FactoredKronecker);
