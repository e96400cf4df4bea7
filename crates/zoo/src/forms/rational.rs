//! `rational`: the FFN's activation replaced by a trained rational function (RAFT: rational
//! activations for fine-tuning; Padé activation units, Molina et al. 2020):
//! R(x) = (a₀ + a₁x + … + a₅x⁵) / (1 + |b₁x + … + b₄x⁴|), orders 5/4, one R per layer, starting
//! as a fit of GELU on [−8, 8] (`tools/fit_rational_gelu.py`: max error 8e-3). It sits at
//! `ffn_in` and acts on that projection's output before the FFN's inner activation, which
//! it replaces. 10 parameters per layer.

use burn::module::{Module, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::{Composition, Position};

/// P's coefficients a₀ … a₅ of the GELU fit.
pub const GELU_NUMERATOR: [f64; 6] = [
    0.005573429998,
    0.5,
    0.405434288,
    0.118535301,
    0.01483604912,
    0.0006735684347,
];
/// Q's coefficients b₁ … b₄ of the GELU fit.
pub const GELU_DENOMINATOR: [f64; 4] = [
    -2.012645221e-09,
    0.2370706013,
    4.55415898e-09,
    0.001347156418,
];

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RationalSpec {}

#[derive(Module, Debug)]
pub struct Rational<B: Backend> {
    /// a₀ … a₅
    pub numerator: Param<Tensor<B, 1>>,
    /// b₁ … b₄
    pub denominator: Param<Tensor<B, 1>>,
}

impl FormSpec for RationalSpec {
    const NAME: &'static str = "rational";
    const KNOB: Option<&'static str> = None;
    type Module<B: Backend> = Rational<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if p.position != Position::FfnIn || p.composition != Composition::Add {
            return Err(invalid(
                Self::NAME,
                format!(
                    "replaces the FFN's activation: only at `ffn_in` with `add` composition, not `{}` ({})",
                    p.position, p.composition
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, _p: &Placement, _dims: SiteDims) -> usize {
        GELU_NUMERATOR.len() + GELU_DENOMINATOR.len()
    }

    fn build<B: Backend>(
        &self,
        _p: &Placement,
        _dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Rational<B> {
        let tensor = |c: &[f64]| {
            let c: Vec<f32> = c.iter().map(|&v| v as f32).collect();
            Param::from_tensor(Tensor::from_floats(c.as_slice(), ctx.device))
        };
        Rational {
            numerator: tensor(&GELU_NUMERATOR),
            denominator: tensor(&GELU_DENOMINATOR),
        }
    }
}

impl<B: Backend> Rational<B> {
    /// Σ c_j x^(j + first) by Horner's rule, the coefficients read as scalars of `c`.
    fn polynomial(c: &Tensor<B, 1>, x: &Tensor<B, 3>, first: usize) -> Tensor<B, 3> {
        let [n] = c.dims();
        let coefficient = |j: usize| c.clone().narrow(0, j, 1).reshape([1, 1, 1]);
        let mut acc = coefficient(n - 1) * x.clone().ones_like();
        for j in (0..n - 1).rev() {
            acc = acc * x.clone() + coefficient(j);
        }
        (0..first).fold(acc, |acc, _| acc * x.clone())
    }
}

impl<B: Backend> FormModule<B> for Rational<B> {
    fn replaces_activation(&self) -> bool {
        true
    }

    fn activate(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let p = Self::polynomial(&self.numerator.val(), &h, 0);
        let q = Self::polynomial(&self.denominator.val(), &h, 1)
            .abs()
            .add_scalar(1.0);
        p / q
    }
}
