//! `shard_shared`: ΔW whose d_in rows repeat one trained `[r, d_out]` block shard after shard,
//! row i being block row i mod r (MiSS, Kang et al. 2024, peft's `MISS` in its default
//! "balance" form). Equivalently the input is summed over its d_in/r shards of width r and
//! multiplied by the block: r·d_out parameters reach every input.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, Result};
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardSharedSpec {}

#[derive(Module, Debug)]
pub struct ShardShared<B: Backend> {
    /// `[r, d_out]` (peft's `miss_block`).
    pub block: Param<Tensor<B, 2>>,
    pub d_in: usize,
    pub merged: bool,
}

impl FormSpec for ShardSharedSpec {
    const NAME: &'static str = "shard_shared";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = ShardShared<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        if p.budget > dims.d_in {
            return Err(does_not_fit(
                Self::NAME,
                p.budget,
                format!("shards wider than d_in = {} at `{}`", dims.d_in, p.position),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * dims.d_out
    }

    /// Zero, as peft starts it: the pretrained weight.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> ShardShared<B> {
        ShardShared {
            block: Param::from_tensor(Tensor::zeros([p.budget, dims.d_out], ctx.device)),
            d_in: dims.d_in,
            merged: false,
        }
    }
}

impl<B: Backend> ShardShared<B> {
    /// ΔW, `[d_in, d_out]`: the block tiled down the rows, the last shard cut to fit.
    pub fn delta_weight(&self, _shared: &Shared<B>) -> Tensor<B, 2> {
        let [r, d_out] = self.block.dims();
        let shards = self.d_in.div_ceil(r);
        self.block
            .val()
            .repeat_dim(0, shards)
            .slice([0..self.d_in, 0..d_out])
    }
}

additive_weight_form!(ShardShared);
