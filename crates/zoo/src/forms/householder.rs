//! `householder`: W′ = W · H with H = (I − 2u_1u_1ᵀ) ··· (I − 2u_ru_rᵀ), a chain of r Householder
//! reflections of the projection's input (HRA, Yuan et al. 2024, peft's `HRA`); each u_i is a
//! trained d_in vector, normalised before use. H is orthogonal, so W′ keeps W's singular
//! values, as OFT does, with r·d_in parameters.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, Result};
use crate::forms::{check_weight_form, kaiming_uniform, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholderSpec {}

#[derive(Module, Debug)]
pub struct Householder<B: Backend> {
    /// `[d_in, r]`: u_1 … u_r as columns (peft's `hra_u`).
    pub vectors: Param<Tensor<B, 2>>,
    pub merged_from: Option<Tensor<B, 2>>,
}

impl FormSpec for HouseholderSpec {
    const NAME: &'static str = "householder";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = Householder<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        if p.budget > dims.d_in {
            return Err(does_not_fit(
                Self::NAME,
                p.budget,
                format!(
                    "more reflections than d_in = {} at `{}`",
                    dims.d_in, p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * dims.d_in
    }

    /// peft's start: r/2 Kaiming-uniform vectors, each used twice in a row, so that every pair
    /// of reflections cancels and H = I (an odd r keeps r independent vectors, as peft does).
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Householder<B> {
        let (r, d_in) = (p.budget, dims.d_in);
        let vectors = if r % 2 == 0 {
            let half = kaiming_uniform::<B>([d_in, r / 2], r / 2, ctx.device);
            half.unsqueeze_dim::<3>(2)
                .repeat_dim(2, 2)
                .reshape([d_in, r])
        } else {
            kaiming_uniform([d_in, r], r, ctx.device)
        };
        Householder {
            vectors: Param::from_tensor(vectors),
            merged_from: None,
        }
    }
}

impl<B: Backend> Householder<B> {
    /// peft's W·H in Burn's `[d_in, d_out]` layout is Hᵀ·W: the reflections applied to W's rows
    /// from u_1 to u_r.
    pub fn map_weight(&self, weight: Tensor<B, 2>, _shared: &Shared<B>) -> Tensor<B, 2> {
        let u = self.vectors.val();
        let [d_in, r] = u.dims();
        let u = u.clone() / u.powi_scalar(2).sum_dim(0).sqrt();
        (0..r).fold(weight, |w, i| {
            let ui = u.clone().slice([0..d_in, i..i + 1]);
            let projection = ui.clone().transpose().matmul(w.clone());
            w - ui.matmul(projection).mul_scalar(2.0)
        })
    }
}

mapped_weight_form!(Householder);
