//! `token_bias`: Δh = α(z)·v with α(z) = z w_α + b_α, one scalar per token (AdapterBias).
//! v starts at zero, so the model starts as the pretrained one.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compose::Composer;
use crate::error::{invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;
use crate::{Insertion, Position};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenBiasSpec {}

#[derive(Module, Debug)]
pub struct TokenBias<B: Backend> {
    /// v: `[d_out]`
    pub v: Param<Tensor<B, 1>>,
    /// w_α, b_α: `d → 1`
    pub alpha: Linear<B>,
    pub insertion: Insertion,
    pub compose: Composer<B>,
}

fn reads(p: &Placement, dims: SiteDims) -> usize {
    p.insertion.read_width(dims.d_in, dims.d_out)
}

impl FormSpec for TokenBiasSpec {
    const NAME: &'static str = "token_bias";
    const KNOB: Option<&'static str> = None;
    type Module<B: Backend> = TokenBias<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if matches!(
            p.position,
            Position::Input | Position::Embeddings | Position::Head
        ) {
            return Err(invalid(
                Self::NAME,
                format!("adds to a hidden state, not at `{}`", p.position),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        let d_in = reads(p, dims);
        dims.d_out + d_in + 1 + p.composition.params(d_in)
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> TokenBias<B> {
        let d_in = reads(p, dims);
        TokenBias {
            v: Param::from_tensor(Tensor::zeros([dims.d_out], ctx.device)),
            alpha: LinearConfig::new(d_in, 1).init(ctx.device),
            insertion: p.insertion,
            compose: Composer::new(p.composition, 1, d_in, ctx.device),
        }
    }
}

impl<B: Backend> FormModule<B> for TokenBias<B> {
    fn reads_post_norm(&self) -> bool {
        self.insertion == Insertion::PostNorm
    }

    fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        let z = if self.insertion.reads_h() {
            h.clone()
        } else {
            x
        };
        let delta = self.alpha.forward(z.clone()) * self.v.val().unsqueeze();
        h + self.compose.apply(&z, delta)
    }
}
