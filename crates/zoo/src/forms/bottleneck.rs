//! `bottleneck`: Δh = f(z W_down + b) W_up + b', z = h (sequential) or the computation's input
//! (parallel). Houlsby, Pfeiffer, parallel and scaled parallel adapters, U-Tuning's tuner, and
//! the variants that change the projections: one bottleneck per head (multi-head PA), weights
//! pruned at initialisation (SparseAdapter), PHM projections (Compacter).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use super::phm::PhmLinear;
use crate::compose::Composer;
use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{activate, BuildContext, FormModule, FormSpec, Placement};
use crate::shape::{BackboneShape, SiteDims};
use crate::shared::Shared;
use crate::{Activation, Init, Insertion, Position};

/// Compacter's parameterised hypercomplex multiplication: W = Σᵢ Aᵢ ⊗ (sᵢ tᵢ), with the n
/// rules Aᵢ (n × n) shared by every projection of the method and sᵢ tᵢ of rank `rank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhmOptions {
    pub n: usize,
    #[serde(default = "one")]
    pub rank: usize,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BottleneckSpec {
    #[serde(default)]
    pub act: Activation,
    #[serde(default)]
    pub init: Init,
    /// One bottleneck per attention head: W_down maps to heads × r, W_up is block-diagonal,
    /// head i's r-slice to head i's output slice (multi-head parallel adapter, at `head`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_head: bool,
    /// Fraction of each weight matrix pruned by magnitude at initialisation (SparseAdapter).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sparsity: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phm: Option<PhmOptions>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Entries of an `n`-entry matrix that survive pruning a fraction `sparsity`.
pub fn kept(n: usize, sparsity: f64) -> usize {
    n - (n as f64 * sparsity).floor() as usize
}

impl BottleneckSpec {
    /// Width of what the bottleneck reads.
    fn reads(p: &Placement, dims: SiteDims) -> usize {
        p.insertion.read_width(dims.d_in, dims.d_out)
    }
}

impl FormSpec for BottleneckSpec {
    const NAME: &'static str = "bottleneck";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = Bottleneck<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if matches!(p.position, Position::Input | Position::Embeddings) {
            return Err(invalid(
                Self::NAME,
                format!("cannot sit at `{}` (use prompt)", p.position),
            ));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "a bottleneck needs r ≥ 1"));
        }
        if !(0.0..1.0).contains(&self.sparsity) {
            return Err(invalid(
                Self::NAME,
                format!("sparsity {} is not in [0, 1)", self.sparsity),
            ));
        }
        let variants = [self.per_head, self.sparsity > 0.0, self.phm.is_some()];
        if variants.iter().filter(|v| **v).count() > 1 {
            return Err(invalid(
                Self::NAME,
                "per_head, sparsity and phm do not combine",
            ));
        }
        if self.per_head && (p.position != Position::Head || p.insertion != Insertion::Parallel) {
            return Err(invalid(
                Self::NAME,
                "per_head bottlenecks sit at `head`, in parallel",
            ));
        }
        if let Some(phm) = self.phm {
            if phm.n == 0 || phm.rank == 0 {
                return Err(invalid(Self::NAME, "phm needs n ≥ 1 and rank ≥ 1"));
            }
            if !p.budget.is_multiple_of(phm.n) {
                return Err(does_not_fit(
                    Self::NAME,
                    p.budget,
                    format!("r must be a multiple of phm n = {}", phm.n),
                ));
            }
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        if let Some(phm) = self.phm {
            let reads = Self::reads(p, dims);
            if !reads.is_multiple_of(phm.n) || !dims.d_out.is_multiple_of(phm.n) {
                return Err(does_not_fit(
                    Self::NAME,
                    p.budget,
                    format!(
                        "phm n = {} must divide the widths {reads} and {} at `{}`",
                        phm.n, dims.d_out, p.position
                    ),
                ));
            }
        }
        if self.per_head && !dims.d_out.is_multiple_of(dims.heads) {
            return Err(invalid(
                Self::NAME,
                format!("{} heads do not divide width {}", dims.heads, dims.d_out),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        let (d_in, d_out, r) = (Self::reads(p, dims), dims.d_out, p.budget);
        let weights = if self.per_head {
            d_in * dims.heads * r + dims.heads * r + dims.heads * r * (d_out / dims.heads)
        } else if let Some(phm) = self.phm {
            phm.rank * (d_in + r) + phm.rank * (r + d_out) + r
        } else {
            kept(d_in * r, self.sparsity) + kept(r * d_out, self.sparsity) + r
        };
        weights + d_out + p.composition.params(d_in)
    }

    fn shared_params(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        _shape: &BackboneShape,
    ) -> usize {
        self.phm.map_or(0, |phm| phm.n.pow(3))
    }

    fn build_shared<B: Backend>(
        &self,
        _p: &Placement,
        _layers: usize,
        _dims: SiteDims,
        shared: &mut Shared<B>,
        device: &B::Device,
    ) -> Option<usize> {
        // AdapterHub's Compacter initialises the rules normal(0, 1e-4) ("phm_c_init": "normal").
        self.phm.map(|phm| {
            shared.add_phm_rule(crate::init::random(
                [phm.n, phm.n, phm.n],
                Distribution::Normal(0.0, 1e-4),
                device,
            ))
        })
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Bottleneck<B> {
        let device = ctx.device;
        let (d_in, d_out, r) = (Self::reads(p, dims), dims.d_out, p.budget);
        let (down, up) = if self.per_head {
            let h = dims.heads;
            (
                Projection::Dense(dense(d_in, h * r, self.init, true, device)),
                Projection::PerHead(PerHeadLinear::new(h, r, d_out / h, self.init, device)),
            )
        } else if let (Some(phm), Some(rule)) = (self.phm, ctx.shared) {
            (
                Projection::Phm(PhmLinear::new(phm.n, phm.rank, d_in, r, rule, device)),
                Projection::Phm(PhmLinear::new(phm.n, phm.rank, r, d_out, rule, device)),
            )
        } else if self.sparsity > 0.0 {
            (
                Projection::Masked(MaskedLinear::pruned(
                    dense(d_in, r, self.init, true, device),
                    self.sparsity,
                )),
                Projection::Masked(MaskedLinear::pruned(
                    dense(r, d_out, self.init, false, device),
                    self.sparsity,
                )),
            )
        } else {
            (
                Projection::Dense(dense(d_in, r, self.init, true, device)),
                Projection::Dense(dense(r, d_out, self.init, false, device)),
            )
        };
        Bottleneck {
            down,
            up,
            act: self.act,
            insertion: p.insertion,
            compose: Composer::new(p.composition, r, d_in, device),
        }
    }
}

/// A linear map with the initialisation of `init`; `is_down` tells which half of the bottleneck.
fn dense<B: Backend>(
    d_in: usize,
    d_out: usize,
    init: Init,
    is_down: bool,
    device: &B::Device,
) -> Linear<B> {
    let weight = match (init, is_down) {
        (Init::Bert, _) => {
            crate::init::random([d_in, d_out], Distribution::Normal(0.0, 0.02), device)
        }
        (Init::Lora, true) => {
            let bound = 1.0 / (d_in as f64).sqrt();
            crate::init::random([d_in, d_out], Distribution::Uniform(-bound, bound), device)
        }
        (Init::Lora, false) => Tensor::zeros([d_in, d_out], device),
    };
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// The projections a bottleneck may be made of.
#[derive(Module, Debug)]
pub enum Projection<B: Backend> {
    Dense(Linear<B>),
    Masked(MaskedLinear<B>),
    PerHead(PerHeadLinear<B>),
    Phm(PhmLinear<B>),
}

impl<B: Backend> Projection<B> {
    pub fn forward(&self, x: Tensor<B, 3>, shared: &Shared<B>) -> Tensor<B, 3> {
        match self {
            Projection::Dense(l) => crate::rows::dense(x, l),
            Projection::Masked(l) => l.forward(x),
            Projection::PerHead(l) => l.forward(x),
            Projection::Phm(l) => l.forward(x, shared),
        }
    }
}

/// A linear map whose pruned entries stay zero: the weight is multiplied by a fixed 0/1 mask,
/// so pruned entries get no gradient either.
#[derive(Module, Debug)]
pub struct MaskedLinear<B: Backend> {
    pub linear: Linear<B>,
    /// `[d_in, d_out]`, 1 where the weight is kept. A constant, not a parameter.
    pub mask: Tensor<B, 2>,
}

impl<B: Backend> MaskedLinear<B> {
    /// Keeps the largest-magnitude entries, prunes `sparsity` of them (ties: lower index first).
    pub fn pruned(linear: Linear<B>, sparsity: f64) -> Self {
        let [d_in, d_out] = linear.weight.dims();
        let n = d_in * d_out;
        let values: Vec<f32> = linear
            .weight
            .val()
            .into_data()
            .convert::<f32>()
            .into_vec()
            .unwrap_or_else(|_| vec![0.0; n]);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()).then(a.cmp(&b)));
        let mut mask = vec![1f32; n];
        for &i in order.iter().take(n - kept(n, sparsity)) {
            mask[i] = 0.0;
        }
        let device = linear.weight.device();
        Self {
            mask: Tensor::from_data(TensorData::new(mask, [d_in, d_out]), &device),
            linear,
        }
    }

    /// Zeroes the pruned entries of the weight (training leaves them at their initial values,
    /// masked out), so that the mask can be read back from a saved weight.
    pub fn zero_pruned(&mut self) {
        let mask = self.mask.clone();
        self.linear.weight = self.linear.weight.clone().map(|w| w * mask);
    }

    /// The mask of a weight loaded from a file: 1 where it is not zero. A kept entry that
    /// trained to exactly zero would be taken as pruned, which computes the same.
    pub fn restore_mask(&mut self) {
        self.mask = self.linear.weight.val().not_equal_elem(0.0).float();
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let w = self.linear.weight.val() * self.mask.clone();
        crate::rows::linear(x, w, self.linear.bias.as_ref().map(|b| b.val()))
    }
}

/// `heads` independent maps r → d_head, head i reading its own r-slice: a block-diagonal matrix.
#[derive(Module, Debug)]
pub struct PerHeadLinear<B: Backend> {
    /// `[heads, r, d_head]`
    pub weight: Param<Tensor<B, 3>>,
    /// `[heads × d_head]`
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> PerHeadLinear<B> {
    fn new(heads: usize, r: usize, d_head: usize, init: Init, device: &B::Device) -> Self {
        let weight = match init {
            Init::Bert => {
                crate::init::random([heads, r, d_head], Distribution::Normal(0.0, 0.02), device)
            }
            Init::Lora => Tensor::zeros([heads, r, d_head], device),
        };
        Self {
            weight: Param::from_tensor(weight),
            bias: Param::from_tensor(Tensor::zeros([heads * d_head], device)),
        }
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, _] = x.dims();
        let [heads, r, d_head] = self.weight.dims();
        let y = x
            .reshape([batch, seq, heads, r])
            .swap_dims(1, 2)
            .matmul(self.weight.val().unsqueeze::<4>())
            .swap_dims(1, 2)
            .reshape([batch, seq, heads * d_head]);
        y + self.bias.val().unsqueeze()
    }
}

#[derive(Module, Debug)]
pub struct Bottleneck<B: Backend> {
    pub down: Projection<B>,
    pub up: Projection<B>,
    pub act: Activation,
    pub insertion: Insertion,
    pub compose: Composer<B>,
}

impl<B: Backend> FormModule<B> for Bottleneck<B> {
    fn reads_post_norm(&self) -> bool {
        self.insertion == Insertion::PostNorm
    }

    fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, shared: &Shared<B>) -> Tensor<B, 3> {
        let z = if self.insertion.reads_h() {
            h.clone()
        } else {
            x
        };
        let delta = self.up.forward(
            activate(self.act, self.down.forward(z.clone(), shared)),
            shared,
        );
        h + self.compose.apply(&z, delta)
    }

    fn deploy(&mut self) {
        for p in [&mut self.down, &mut self.up] {
            if let Projection::Masked(m) = p {
                m.zero_pruned();
            }
        }
    }

    fn restore_constants(&mut self) {
        for p in [&mut self.down, &mut self.up] {
            if let Projection::Masked(m) = p {
                m.restore_mask();
            }
        }
    }

    fn pruned_params(&self) -> usize {
        [&self.down, &self.up]
            .into_iter()
            .map(|p| match p {
                Projection::Masked(m) => {
                    let kept: f32 = m.mask.clone().sum().into_scalar().elem();
                    m.mask.shape().num_elements() - kept as usize
                }
                _ => 0,
            })
            .sum()
    }
}
