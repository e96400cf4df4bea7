//! Functional forms of Δh, one file each. A file holds the form's options (its `*Spec`, the serde
//! side: validity, closed-form parameter count) and its Burn module (the run-time side).
//!
//! Adding a form is one file plus one line in the `forms!` list below, which generates the
//! serde enum [`Form`], the module enum [`Modification`] and their dispatch.

// `Modification` and the record enum Burn derives for it hold one form's module each, built once
// per site and rarely moved: the size difference of their variants does not matter.
#![allow(clippy::large_enum_variant)]

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::shape::{BackboneShape, SiteDims};
use crate::shared::Shared;
use crate::{Composition, Insertion, Position, PrefixKv};

/// One modification at one position: everything but the form's own options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub position: Position,
    pub insertion: Insertion,
    pub composition: Composition,
    /// The budget knob (r, l, k, ...); 0 for forms without one.
    pub budget: usize,
}

/// What building a module needs besides the spec and the site's widths.
pub struct BuildContext<'a, B: Backend> {
    pub device: &'a B::Device,
    /// Index of the layer within its stack.
    pub layer: usize,
    /// What [`FormSpec::build_shared`] returned for this group of sites.
    pub shared: Option<usize>,
}

/// The serde side of a form.
pub trait FormSpec {
    /// The form's name in specs (`kind = "..."`).
    const NAME: &'static str;
    /// The name of its budget knob, if it has one.
    const KNOB: Option<&'static str>;
    type Module<B: Backend>: FormModule<B>;

    /// Whether the form can sit at this position with this insertion, composition and budget.
    fn check(&self, p: &Placement) -> Result<()>;
    /// Whether the budget fits the widths of a site.
    fn check_site(&self, _p: &Placement, _dims: SiteDims) -> Result<()> {
        Ok(())
    }
    /// Trainable parameters at one site, composition included.
    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize;
    /// Trainable parameters shared by a group of `layers` sites (a PHM rule, a prefix generator).
    fn shared_params(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        0
    }
    /// Entries a group of `layers` sites shares that are stored with the adapter but never
    /// train (VeRA's random bases): counted in what a deployed adapter stores, not in its
    /// trainable parameters.
    fn frozen_shared_params(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        0
    }
    /// Shared parameters once training-time reparameterisations are merged.
    fn deployed_shared_params(
        &self,
        p: &Placement,
        layers: usize,
        dims: SiteDims,
        shape: &BackboneShape,
    ) -> usize {
        self.shared_params(p, layers, dims, shape)
    }
    /// Parameters once training-time reparameterisations are merged (prefix: P, not its MLP).
    fn deployed_params(&self, p: &Placement, dims: SiteDims) -> usize {
        self.site_params(p, dims)
    }
    /// The options as deployed: a training-time reparameterisation dropped (prefix: its MLP,
    /// which [`Shared::merge_prefixes`] folds away). The module built from them reads the
    /// deployed tensors under the same paths.
    fn deployed(&self) -> Self
    where
        Self: Clone,
    {
        self.clone()
    }
    /// Creates what a group of `layers` sites shares and returns its index in [`Shared`].
    fn build_shared<B: Backend>(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        _shared: &mut Shared<B>,
        _device: &B::Device,
    ) -> Option<usize> {
        None
    }
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Self::Module<B>;
}

/// The run-time side of a form: the hooks a site calls. Each has a neutral default, so a form
/// implements only the ones it acts through.
pub trait FormModule<B: Backend> {
    /// h ← h + s·Δh, Δh reading `x` (parallel) or `h` (sequential); `[batch, seq, d]`.
    fn modify(&self, _x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        h
    }
    /// Whether Δh reads LN(x + h) (`Insertion::PostNorm`): the site then hands it that as `x`.
    fn reads_post_norm(&self) -> bool {
        false
    }
    /// A factor on a projection's input (IA3 on the FFN inner activation).
    fn input_scale(&self) -> Option<Tensor<B, 1>> {
        None
    }
    /// Keys and values to prepend to an attention's memory; `x` is the attention input.
    fn prefix_kv(
        &self,
        _x: &Tensor<B, 3>,
        _heads: usize,
        _shared: &Shared<B>,
    ) -> Option<PrefixKv<B>> {
        None
    }
    /// The prompt tokens this layer's input gets in place of the previous layer's (VPT-deep),
    /// `[l, d]`.
    fn layer_prompts(&self, _shared: &Shared<B>) -> Option<Tensor<B, 2>> {
        None
    }
    /// Virtual tokens to prepend at the input.
    fn prepend(&self, _embeds: Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        None
    }
    /// Whether the form replaces the nonlinearity after the projection it sits at (RAFT's
    /// rational activation at `ffn_in`).
    fn replaces_activation(&self) -> bool {
        false
    }
    /// That nonlinearity, applied to the projection's output.
    fn activate(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        h
    }
    /// Whether the form rewrites the weight of the projection it sits beside (W′ = f(W): DoRA,
    /// the orthogonal forms) rather than adding to the projection's output.
    fn adapts_weight(&self) -> bool {
        false
    }
    /// W′ = f(W) for the weight `[d_in, d_out]` (Burn's layout) of that projection.
    fn adapt_weight(&self, weight: Tensor<B, 2>, _shared: &Shared<B>) -> Tensor<B, 2> {
        weight
    }
    /// Called once when the form is placed beside `linear`: a form whose start depends on the
    /// pretrained weight reads it here (DoRA's magnitude starts at ‖W‖), and one that changes
    /// the frozen weight returns the changed projection (PiSSA moves W's top singular
    /// directions into the adapter).
    fn attach(&mut self, linear: Linear<B>) -> Linear<B> {
        linear
    }
    /// Whether the form can be folded into the projection it modifies.
    fn mergeable(&self) -> bool {
        false
    }
    /// Folds the form into `linear` (`sign` = 1) or takes it back out (`sign` = −1).
    fn merge(&mut self, linear: Linear<B>, _sign: f64, _shared: &Shared<B>) -> Linear<B> {
        linear
    }
    fn is_merged(&self) -> bool {
        false
    }
    /// Parameter entries held at zero that never train (pruned weights).
    fn pruned_params(&self) -> usize {
        0
    }
    /// Puts the parameters in the state they are saved in, computing the same: a sparse
    /// adapter's pruned entries to zero, so that its mask can be read back from them.
    fn deploy(&mut self) {}
    /// Re-derives what the module holds besides its parameters (constants, which no file
    /// stores) after its parameters were loaded from a file: a pruning mask from the zeros.
    fn restore_constants(&mut self) {}
}

/// The run-time side of a form whose update is a dense ΔW (`[d_in, d_out]`, from the module's
/// `delta_weight(&Shared)`) added to the weight of the projection it sits beside: W + ΔW in the
/// forward pass, W ± ΔW to merge and unmerge. The module has a `merged: bool` field.
macro_rules! additive_weight_form {
    ($module:ident) => {
        impl<B: Backend> $crate::forms::FormModule<B> for $module<B> {
            fn adapts_weight(&self) -> bool {
                true
            }
            fn adapt_weight(&self, weight: Tensor<B, 2>, shared: &Shared<B>) -> Tensor<B, 2> {
                weight + self.delta_weight(shared)
            }
            fn mergeable(&self) -> bool {
                true
            }
            fn merge(&mut self, linear: Linear<B>, sign: f64, shared: &Shared<B>) -> Linear<B> {
                self.merged = sign > 0.0;
                let delta = self.delta_weight(shared).mul_scalar(sign);
                $crate::forms::add_to_weight(linear, delta)
            }
            fn is_merged(&self) -> bool {
                self.merged
            }
        }
    };
}

/// The run-time side of a form that maps the weight of the projection it sits beside through
/// something other than an addition (`$module::map_weight(W, &Shared)`: a rotation, a
/// reflection chain). Merging keeps the original weight as a constant and unmerging puts it
/// back, bit for bit (the maps need not be exactly invertible: peft's Neumann-series OFT is
/// not). The module has a `merged_from: Option<Tensor<B, 2>>` field.
macro_rules! mapped_weight_form {
    ($module:ident) => {
        impl<B: Backend> $crate::forms::FormModule<B> for $module<B> {
            fn adapts_weight(&self) -> bool {
                true
            }
            fn adapt_weight(&self, weight: Tensor<B, 2>, shared: &Shared<B>) -> Tensor<B, 2> {
                self.map_weight(weight, shared)
            }
            fn mergeable(&self) -> bool {
                true
            }
            fn merge(&mut self, linear: Linear<B>, sign: f64, shared: &Shared<B>) -> Linear<B> {
                if sign > 0.0 {
                    let weight = linear.weight.val();
                    self.merged_from = Some(weight.clone());
                    let mapped = self.map_weight(weight, shared);
                    $crate::forms::with_weight(linear, mapped)
                } else {
                    match self.merged_from.take() {
                        Some(weight) => $crate::forms::with_weight(linear, weight),
                        None => linear,
                    }
                }
            }
            fn is_merged(&self) -> bool {
                self.merged_from.is_some()
            }
        }
    };
}

macro_rules! forms {
    ($($(#[$doc:meta])* $variant:ident($spec:ident, $module:ident) in $file:ident;)*) => {
        $(pub use $file::{$spec, $module};)*

        /// The functional form of Δh and its options; in specs `form = { kind = "...", ... }`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Form {
            $($(#[$doc])* $variant($spec),)*
        }

        /// A form's module, placed at a site.
        #[derive(Module, Debug)]
        pub enum Modification<B: Backend> {
            $($(#[$doc])* $variant($module<B>),)*
        }

        impl Form {
            pub const NAMES: &'static [&'static str] = &[$(<$spec as FormSpec>::NAME),*];

            pub fn name(&self) -> &'static str {
                match self { $(Form::$variant(_) => <$spec as FormSpec>::NAME,)* }
            }
            pub fn knob(&self) -> Option<&'static str> {
                match self { $(Form::$variant(_) => <$spec as FormSpec>::KNOB,)* }
            }
            pub fn check(&self, p: &Placement) -> Result<()> {
                match self { $(Form::$variant(s) => s.check(p),)* }
            }
            pub fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
                match self { $(Form::$variant(s) => s.check_site(p, dims),)* }
            }
            pub fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
                match self { $(Form::$variant(s) => s.site_params(p, dims),)* }
            }
            pub fn deployed_params(&self, p: &Placement, dims: SiteDims) -> usize {
                match self { $(Form::$variant(s) => s.deployed_params(p, dims),)* }
            }
            pub fn shared_params(&self, p: &Placement, layers: usize, dims: SiteDims, shape: &BackboneShape) -> usize {
                match self { $(Form::$variant(s) => s.shared_params(p, layers, dims, shape),)* }
            }
            pub fn frozen_shared_params(&self, p: &Placement, layers: usize, dims: SiteDims, shape: &BackboneShape) -> usize {
                match self { $(Form::$variant(s) => s.frozen_shared_params(p, layers, dims, shape),)* }
            }
            pub fn deployed_shared_params(&self, p: &Placement, layers: usize, dims: SiteDims, shape: &BackboneShape) -> usize {
                match self { $(Form::$variant(s) => s.deployed_shared_params(p, layers, dims, shape),)* }
            }
            pub fn deployed(&self) -> Form {
                match self { $(Form::$variant(s) => Form::$variant(s.deployed()),)* }
            }
            pub fn build_shared<B: Backend>(&self, p: &Placement, layers: usize, dims: SiteDims, shared: &mut Shared<B>, device: &B::Device) -> Option<usize> {
                match self { $(Form::$variant(s) => s.build_shared(p, layers, dims, shared, device),)* }
            }
            pub fn build<B: Backend>(&self, p: &Placement, dims: SiteDims, ctx: &BuildContext<B>) -> Modification<B> {
                match self { $(Form::$variant(s) => Modification::$variant(s.build(p, dims, ctx)),)* }
            }
        }

        impl<B: Backend> Modification<B> {
            pub fn form(&self) -> &'static str {
                match self { $(Modification::$variant(_) => <$spec as FormSpec>::NAME,)* }
            }
            pub fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, shared: &Shared<B>) -> Tensor<B, 3> {
                match self { $(Modification::$variant(m) => m.modify(x, h, shared),)* }
            }
            pub fn reads_post_norm(&self) -> bool {
                match self { $(Modification::$variant(m) => m.reads_post_norm(),)* }
            }
            pub fn input_scale(&self) -> Option<Tensor<B, 1>> {
                match self { $(Modification::$variant(m) => m.input_scale(),)* }
            }
            pub fn prefix_kv(&self, x: &Tensor<B, 3>, heads: usize, shared: &Shared<B>) -> Option<PrefixKv<B>> {
                match self { $(Modification::$variant(m) => m.prefix_kv(x, heads, shared),)* }
            }
            pub fn prepend(&self, embeds: Tensor<B, 3>) -> Option<Tensor<B, 3>> {
                match self { $(Modification::$variant(m) => m.prepend(embeds),)* }
            }
            pub fn layer_prompts(&self, shared: &Shared<B>) -> Option<Tensor<B, 2>> {
                match self { $(Modification::$variant(m) => m.layer_prompts(shared),)* }
            }
            pub fn replaces_activation(&self) -> bool {
                match self { $(Modification::$variant(m) => m.replaces_activation(),)* }
            }
            pub fn activate(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
                match self { $(Modification::$variant(m) => m.activate(h),)* }
            }
            pub fn adapts_weight(&self) -> bool {
                match self { $(Modification::$variant(m) => m.adapts_weight(),)* }
            }
            pub fn adapt_weight(&self, weight: Tensor<B, 2>, shared: &Shared<B>) -> Tensor<B, 2> {
                match self { $(Modification::$variant(m) => m.adapt_weight(weight, shared),)* }
            }
            pub fn attach(&mut self, linear: Linear<B>) -> Linear<B> {
                match self { $(Modification::$variant(m) => m.attach(linear),)* }
            }
            pub fn mergeable(&self) -> bool {
                match self { $(Modification::$variant(m) => m.mergeable(),)* }
            }
            pub fn merge(&mut self, linear: Linear<B>, sign: f64, shared: &Shared<B>) -> Linear<B> {
                match self { $(Modification::$variant(m) => m.merge(linear, sign, shared),)* }
            }
            pub fn is_merged(&self) -> bool {
                match self { $(Modification::$variant(m) => m.is_merged(),)* }
            }
            pub fn pruned_params(&self) -> usize {
                match self { $(Modification::$variant(m) => m.pruned_params(),)* }
            }
            pub fn deploy(&mut self) {
                match self { $(Modification::$variant(m) => m.deploy(),)* }
            }
            pub fn restore_constants(&mut self) {
                match self { $(Modification::$variant(m) => m.restore_constants(),)* }
            }
        }
    };
}

forms! {
    /// f(x W_down + b) W_up + b': adapters (Houlsby, Pfeiffer, parallel, multi-head, sparse, PHM).
    Bottleneck(BottleneckSpec, Bottleneck) in bottleneck;
    /// x W_down W_up beside a projection (LoRA).
    LowRank(LowRankSpec, LowRank) in low_rank;
    /// m ⊙ (W + s·W_down W_up) / ‖W + s·W_down W_up‖: magnitude and direction (DoRA).
    WeightDecomposed(WeightDecomposedSpec, WeightDecomposed) in weight_decomposed;
    /// ΔW = s·(W_1 W_1′) ⊙ (W_2 W_2′), a Hadamard product of two rank-r products (LoHa).
    Hadamard(HadamardSpec, Hadamard) in hadamard;
    /// ΔW = s·(W_1 ⊗ W_2) with peft's factorisation of the widths, W_2 low-rank below r (LoKr).
    FactoredKronecker(FactoredKroneckerSpec, FactoredKronecker) in factored_kronecker;
    /// ΔW = A diag(d) B diag(b): shared frozen random bases A, B, trained vectors d, b (VeRA).
    RandomBasis(RandomBasisSpec, RandomBasis) in random_basis;
    /// ΔW = s·Re(IDFT₂(c at n fixed random frequencies)): trained spectral entries (FourierFT).
    Spectral(SpectralSpec, Spectral) in spectral;
    /// ΔW = s·P diag(λ) Q, an SVD-shaped update whose rank a budget schedule prunes (AdaLoRA).
    SingularValue(SingularValueSpec, SingularValue) in singular_value;
    /// ΔW whose input rows repeat one trained r × d_out block, shard after shard (MiSS).
    ShardShared(ShardSharedSpec, ShardShared) in shard_shared;
    /// W′ = W · block_diag(R_i)ᵀ, each R_i a Cayley rotation of a b × b block (OFT).
    Orthogonal(OrthogonalSpec, Orthogonal) in orthogonal;
    /// W′ = s ⊙ W · (Π P_i block_diag(R_ij) P_iᵀ)ᵀ: butterfly products of Cayley rotations (BOFT).
    ButterflyOrthogonal(ButterflyOrthogonalSpec, ButterflyOrthogonal) in butterfly_orthogonal;
    /// W′ = W · (I − 2u_1u_1ᵀ)···(I − 2u_ru_rᵀ): a chain of r Householder reflections (HRA).
    Householder(HouseholderSpec, Householder) in householder;
    /// The FFN activation replaced by a trained rational function P(x)/Q(x) (RAFT).
    Rational(RationalSpec, Rational) in rational;
    /// Each layer's prompt tokens replaced by its own learned ones (VPT-deep).
    DeepPrompt(DeepPromptSpec, DeepPrompt) in deep_prompt;
    /// x (A ⊗ B) beside a projection (KronA).
    Kronecker(KroneckerSpec, Kronecker) in kronecker;
    /// l key/value vectors per head prepended to an attention's memory (prefix tuning).
    Prefix(PrefixSpec, Prefix) in prefix;
    /// l embeddings prepended to the input (prompt tuning).
    Prompt(PromptSpec, Prompt) in prompt;
    /// h ⊙ l on a projection's output or input (IA3).
    Rescale(RescaleSpec, Rescale) in rescale;
    /// α(x)·v with α(x) = x w_α + b, one scalar per token (AdapterBias).
    TokenBias(TokenBiasSpec, TokenBias) in token_bias;
}

// Declared here, not inside `forms!`, so that rustfmt (which does not expand macros) formats
// every form file.
mod bottleneck;
mod butterfly_orthogonal;
mod deep_prompt;
mod factored_kronecker;
mod hadamard;
mod householder;
mod kronecker;
mod low_rank;
mod orthogonal;
mod phm;
mod prefix;
mod prompt;
mod random_basis;
mod rational;
mod rescale;
mod shard_shared;
mod singular_value;
mod spectral;
mod token_bias;
mod weight_decomposed;

pub use bottleneck::{kept, MaskedLinear, PerHeadLinear, PhmOptions, Projection};
pub use factored_kronecker::{factorization, lokr_shapes};
pub use low_rank::LowRankInit;
pub use orthogonal::NEUMANN_TERMS;
pub use phm::PhmLinear;
pub use random_basis::D_INITIAL;
pub use singular_value::RankSchedule;
pub use spectral::{torch_randperm, DEFAULT_SEED};

/// The check of a form that sits beside a projection, reading its input in parallel (LoRA and
/// every weight-space form).
pub(crate) fn check_beside_projection(name: &str, p: &Placement) -> Result<()> {
    if !p.position.is_projection() || p.insertion != crate::Insertion::Parallel {
        return Err(crate::error::invalid(
            name,
            format!(
                "sits beside a projection (q, k, v, o, ffn_in, ffn_out), in parallel, not at `{}` ({})",
                p.position, p.insertion
            ),
        ));
    }
    Ok(())
}

/// The checks of a weight-space form with a rank-like knob: beside a projection, a knob of at
/// least 1, and a fixed scale (a learned or gated one has no merged form).
pub(crate) fn check_weight_form(name: &str, p: &Placement) -> Result<()> {
    check_beside_projection(name, p)?;
    if p.budget == 0 {
        return Err(crate::error::does_not_fit(
            name,
            0,
            "the budget must be ≥ 1",
        ));
    }
    if matches!(
        p.composition,
        crate::Composition::Learned { .. } | crate::Composition::Gated
    ) {
        return Err(crate::error::invalid(
            name,
            "a weight-space update takes a fixed scale (add, scaled, alpha_over_rank, alpha_over_sqrt_rank)",
        ));
    }
    Ok(())
}

/// PyTorch's `kaiming_uniform_(a = √5)` on a tensor whose fan-in is `fan_in`: U(±1/√fan_in),
/// how LoRA, LoHa and LoKr start their non-zero factors.
pub(crate) fn kaiming_uniform<B: Backend>(
    shape: [usize; 2],
    fan_in: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    crate::init::random(
        shape,
        burn::tensor::Distribution::Uniform(-bound, bound),
        device,
    )
}

/// `linear` with its weight replaced by `weight`, keeping the parameter's id and gradient
/// requirement (merging a weight-space form into a frozen projection).
pub(crate) fn with_weight<B: Backend>(linear: Linear<B>, weight: Tensor<B, 2>) -> Linear<B> {
    let require_grad = linear.weight.is_require_grad();
    Linear {
        weight: burn::module::Param::initialized(
            linear.weight.id,
            weight.detach().set_require_grad(require_grad),
        ),
        bias: linear.bias,
    }
}

/// `linear` with `delta` (`[d_in, d_out]`) added to its weight, keeping the parameter's id and
/// gradient requirement (merging LoRA-like forms into a frozen projection).
pub(crate) fn add_to_weight<B: Backend>(linear: Linear<B>, delta: Tensor<B, 2>) -> Linear<B> {
    let weight = linear.weight.val() + delta;
    with_weight(linear, weight)
}

/// Applies the bottleneck nonlinearity.
pub(crate) fn activate<B: Backend>(act: crate::Activation, x: Tensor<B, 3>) -> Tensor<B, 3> {
    use burn::tensor::activation as a;
    match act {
        crate::Activation::Relu => a::relu(x),
        crate::Activation::Gelu => a::gelu(x),
        crate::Activation::Tanh => a::tanh(x),
        crate::Activation::Silu => a::silu(x),
        crate::Activation::Identity => x,
    }
}
