//! `random_basis`: ΔW = A diag(d) B diag(b) beside a projection (VeRA, Kopiczko et al. 2024,
//! peft's `VERA`). A (`d_in × r`) and B (`r × d_out`) are random, frozen and shared by every
//! site of the modification (each site reads the leading rows/columns it needs); only the
//! vectors d (`r`) and b (`d_out`) train. So an adapter trains r + d_out numbers per site but
//! stores the bases too: [`FormSpec::frozen_shared_params`] counts them.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::shape::{BackboneShape, SiteDims};
use crate::shared::Shared;

/// VeRA's start for d (peft's `d_initial`); b starts at zero, so ΔW = 0.
pub const D_INITIAL: f64 = 0.1;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomBasisSpec {}

#[derive(Module, Debug)]
pub struct RandomBasis<B: Backend> {
    /// d, `[r]` (peft's `vera_lambda_d`).
    pub lambda_d: Param<Tensor<B, 1>>,
    /// b, `[d_out]` (peft's `vera_lambda_b`).
    pub lambda_b: Param<Tensor<B, 1>>,
    /// Index in [`Shared::frozen`] of A (`[max d_in, r]`, peft's `vera_A`ᵀ); B (`[r, max
    /// d_out]`, `vera_B`ᵀ) follows it.
    pub basis: usize,
    /// The site's input width: the rows of A it reads.
    pub d_in: usize,
    pub merged: bool,
}

impl FormSpec for RandomBasisSpec {
    const NAME: &'static str = "random_basis";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = RandomBasis<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget + dims.d_out
    }

    fn frozen_shared_params(
        &self,
        p: &Placement,
        _layers: usize,
        dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        p.budget * (dims.d_in + dims.d_out)
    }

    /// The bases as peft draws them (Kaiming-uniform with a = 0, fan-in = the second axis of
    /// `vera_A` `[r, d_in]` and `vera_B` `[d_out, r]`), from this run's seed rather than
    /// peft's `projection_prng_key`.
    fn build_shared<B: Backend>(
        &self,
        p: &Placement,
        _layers: usize,
        dims: SiteDims,
        shared: &mut Shared<B>,
        device: &B::Device,
    ) -> Option<usize> {
        let r = p.budget;
        let uniform = |fan_in: usize| {
            let bound = (6.0 / fan_in as f64).sqrt();
            Distribution::Uniform(-bound, bound)
        };
        let a = crate::init::random([dims.d_in, r], uniform(dims.d_in), device);
        let b = crate::init::random([r, dims.d_out], uniform(r), device);
        let index = shared.add_frozen(a);
        shared.add_frozen(b);
        Some(index)
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> RandomBasis<B> {
        RandomBasis {
            lambda_d: Param::from_tensor(
                Tensor::ones([p.budget], ctx.device).mul_scalar(D_INITIAL),
            ),
            lambda_b: Param::from_tensor(Tensor::zeros([dims.d_out], ctx.device)),
            // `build_shared` ran first for this modification.
            basis: ctx.shared.unwrap_or(0),
            d_in: dims.d_in,
            merged: false,
        }
    }
}

impl<B: Backend> RandomBasis<B> {
    /// ΔW = A[:d_in] diag(d) B[:, :d_out] diag(b), `[d_in, d_out]`.
    pub fn delta_weight(&self, shared: &Shared<B>) -> Tensor<B, 2> {
        let [d_out] = self.lambda_b.dims();
        let a = shared.frozen(self.basis);
        let b = shared.frozen(self.basis + 1);
        let [_, r] = a.dims();
        let a = a.slice([0..self.d_in, 0..r]) * self.lambda_d.val().unsqueeze::<2>();
        let b = b.slice([0..r, 0..d_out]) * self.lambda_b.val().unsqueeze::<2>();
        a.matmul(b)
    }
}

additive_weight_form!(RandomBasis);
