//! `prefix_attention`: l learned key and value vectors per head, prepended to an attention's own
//! (prefix tuning). Concatenating them and running ordinary attention computes He et al.'s gated
//! form (1 − λ(x))·attn(x) + λ(x)·softmax(x W_q P_kᵀ) P_v exactly.
//!
//! The prefixes of all layers come from one generator in [`Shared`]: a flat `[l, L·2·a]` matrix,
//! or during training an MLP P = MLP(P′) (Li & Liang; He et al. use a middle width of 512–800)
//! that [`Shared::merge_prefixes`] folds into the flat form afterwards. Layer i reads columns
//! `[2i·a, (2i+1)·a)` as keys and the next `a` as values (peft's and AdapterHub's layout).

use burn::module::{Module, Param};
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::compose::Composer;
use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::{BackboneShape, SiteDims};
use crate::shared::{PrefixGenerator, PrefixMlp, PrefixSource, Shared};
use crate::{Composition, Position, PrefixKv};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrefixSpec {
    /// Train the prefixes through an MLP of this middle width; `None` trains them directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparam: Option<usize>,
    /// Number the real tokens after the prefix (positions l, l + 1, …), as peft does: it hands
    /// the prefixes to transformers as a key/value cache, and transformers counts cached
    /// tokens. Off by default: Li & Liang's and He et al.'s prefixes (and AdapterHub's) are
    /// attention memory only and leave an encoder's positions alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shift_positions: bool,
}

/// The prefix of one attention: which generator and which of its layers.
#[derive(Module, Debug)]
pub struct Prefix<B: Backend> {
    pub generator: usize,
    pub layer: usize,
    /// UniPELT's gate multiplies both keys and values; otherwise a no-op.
    pub compose: Composer<B>,
}

impl FormSpec for PrefixSpec {
    const NAME: &'static str = "prefix";
    const KNOB: Option<&'static str> = Some("l");
    type Module<B: Backend> = Prefix<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if p.position != Position::Head {
            return Err(invalid(
                Self::NAME,
                format!(
                    "acts on attention memory: position `head`, not `{}`",
                    p.position
                ),
            ));
        }
        if !matches!(p.composition, Composition::Add | Composition::Gated) {
            return Err(invalid(
                Self::NAME,
                "composes by its own attention gate, or Gated (UniPELT)",
            ));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "prefix length must be ≥ 1"));
        }
        if self.reparam == Some(0) {
            return Err(invalid(Self::NAME, "reparam width must be ≥ 1"));
        }
        Ok(())
    }

    /// Per site only the gate; the prefixes live in the shared generator.
    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.composition.params(dims.d_in)
    }

    fn deployed_params(&self, p: &Placement, dims: SiteDims) -> usize {
        2 * p.budget * dims.d_out + p.composition.params(dims.d_in)
    }

    fn shared_params(
        &self,
        p: &Placement,
        layers: usize,
        dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        let (l, d, a) = (p.budget, dims.d_in, dims.d_out);
        match self.reparam {
            None => l * layers * 2 * a,
            Some(mid) => l * d + d * mid + mid + mid * layers * 2 * a + layers * 2 * a,
        }
    }

    fn deployed(&self) -> Self {
        Self {
            reparam: None,
            ..self.clone()
        }
    }

    fn deployed_shared_params(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        0
    }

    fn build_shared<B: Backend>(
        &self,
        p: &Placement,
        layers: usize,
        dims: SiteDims,
        shared: &mut Shared<B>,
        device: &B::Device,
    ) -> Option<usize> {
        let (l, d, a) = (p.budget, dims.d_in, dims.d_out);
        // P′ (and flat P) start like an nn.Embedding, normal(0, 1), as in peft.
        let source = match self.reparam {
            None => PrefixSource::Flat(Param::from_tensor(crate::init::random(
                [l, layers * 2 * a],
                Distribution::Normal(0.0, 1.0),
                device,
            ))),
            Some(mid) => PrefixSource::Mlp(PrefixMlp {
                wte: Param::from_tensor(crate::init::random(
                    [l, d],
                    Distribution::Normal(0.0, 1.0),
                    device,
                )),
                hidden: LinearConfig::new(d, mid).init(device),
                out: LinearConfig::new(mid, layers * 2 * a).init(device),
            }),
        };
        Some(shared.add_prefix(PrefixGenerator { source, layers }))
    }

    fn build<B: Backend>(&self, p: &Placement, dims: SiteDims, ctx: &BuildContext<B>) -> Prefix<B> {
        Prefix {
            generator: ctx.shared.unwrap_or(0),
            layer: ctx.layer,
            compose: Composer::new(p.composition, p.budget, dims.d_in, ctx.device),
        }
    }
}

impl<B: Backend> FormModule<B> for Prefix<B> {
    fn prefix_kv(&self, x: &Tensor<B, 3>, heads: usize, shared: &Shared<B>) -> Option<PrefixKv<B>> {
        let (keys, values) = shared.prefix_layer(self.generator, self.layer);
        let batch = x.dims()[0];
        let [l, a] = keys.dims();
        let per_head = |t: Tensor<B, 2>| {
            t.reshape([1, l, heads, a / heads])
                .swap_dims(1, 2)
                .repeat_dim(0, batch)
        };
        let (mut keys, mut values) = (per_head(keys), per_head(values));
        if let Some(g) = self.compose.gate_value(x) {
            let g = g.reshape([batch, 1, 1, 1]);
            keys = keys * g.clone();
            values = values * g;
        }
        Some(PrefixKv { keys, values })
    }
}
