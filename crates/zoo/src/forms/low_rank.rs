//! `low_rank`: Δh = s · x W_down W_up beside a projection (LoRA).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::compose::Composer;
use crate::error::{does_not_fit, invalid, Result};
use crate::forms::{BuildContext, FormModule, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

/// How W_down and W_up start: an axis of the design space of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LowRankInit {
    /// LoRA's (peft's `init_lora_weights = True`): W_down Kaiming-uniform, W_up zero.
    #[default]
    Kaiming,
    /// peft's `"gaussian"`: W_down normal(0, 1/r), W_up zero.
    Gaussian,
    /// PiSSA (Meng et al. 2024): W_down, W_up from W's r leading singular triplets,
    /// (√σ·v, √σ·u)/√s, and the frozen W becomes W − s·W_down W_up, its residual.
    Pissa,
    /// OLoRA (Büyükakyüz 2024): W_down, W_up from the first r rows of R and columns of Q in
    /// W = QR, and the frozen W becomes the residual W − s·W_down W_up.
    Olora,
}

impl LowRankInit {
    fn is_default(&self) -> bool {
        *self == LowRankInit::Kaiming
    }

    /// peft's `init_lora_weights` value.
    pub fn peft_name(&self) -> serde_json::Value {
        match self {
            LowRankInit::Kaiming => serde_json::Value::Bool(true),
            LowRankInit::Gaussian => "gaussian".into(),
            LowRankInit::Pissa => "pissa".into(),
            LowRankInit::Olora => "olora".into(),
        }
    }
}

impl std::fmt::Display for LowRankInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LowRankInit::Kaiming => "kaiming",
            LowRankInit::Gaussian => "gaussian",
            LowRankInit::Pissa => "pissa",
            LowRankInit::Olora => "olora",
        })
    }
}

// A constant of the module (no record): it only matters when the module is placed.
use burn::empty;
empty!(LowRankInit);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowRankSpec {
    #[serde(default, skip_serializing_if = "LowRankInit::is_default")]
    pub init: LowRankInit,
    /// LoRA+ (Hayou et al. 2024, peft's `create_loraplus_optimizer`): W_up trains at this
    /// multiple of the run's learning rate, W_down at the rate itself. An option of the
    /// optimiser, so the forward pass and the adapter files are LoRA's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_lr_ratio: Option<f64>,
}

/// W_down `[d_in, r]`, W_up `[r, d_out]`.
#[derive(Module, Debug)]
pub struct LowRank<B: Backend> {
    pub down: Param<Tensor<B, 2>>,
    pub up: Param<Tensor<B, 2>>,
    pub compose: Composer<B>,
    /// Folded into the projection's weight: the forward pass must not add it again.
    pub merged: bool,
    pub init: LowRankInit,
}

impl FormSpec for LowRankSpec {
    const NAME: &'static str = "low_rank";
    const KNOB: Option<&'static str> = Some("r");
    type Module<B: Backend> = LowRank<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        if self
            .up_lr_ratio
            .is_some_and(|r| !(r.is_finite() && r > 0.0))
        {
            return Err(invalid(Self::NAME, "up_lr_ratio must be a positive number"));
        }
        if p.budget == 0 {
            return Err(does_not_fit(Self::NAME, 0, "rank must be ≥ 1"));
        }
        if !p.position.is_projection() || p.insertion != crate::Insertion::Parallel {
            return Err(invalid(
                Self::NAME,
                format!(
                    "sits beside a projection (q, k, v, o, ffn_in, ffn_out), not at `{}`",
                    p.position
                ),
            ));
        }
        Ok(())
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        let r = p.budget;
        if r > dims.d_in.min(dims.d_out) {
            return Err(does_not_fit(
                Self::NAME,
                r,
                format!(
                    "rank above min(d_in, d_out) = {} at `{}`",
                    dims.d_in.min(dims.d_out),
                    p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, dims: SiteDims) -> usize {
        p.budget * (dims.d_in + dims.d_out) + p.composition.params(dims.d_in)
    }

    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> LowRank<B> {
        let mut m = LowRank::new(p, dims, ctx.device);
        m.init = self.init;
        if self.init == LowRankInit::Gaussian {
            let std = 1.0 / p.budget as f64;
            m.down = Param::from_tensor(crate::init::random(
                [dims.d_in, p.budget],
                Distribution::Normal(0.0, std),
                ctx.device,
            ));
        }
        m
    }
}

impl<B: Backend> LowRank<B> {
    /// LoRA's initialisation: W_down Kaiming-uniform with a = √5 (bound 1/√d_in), W_up zero, so
    /// the modified model starts equal to the pretrained one.
    pub fn new(p: &Placement, dims: SiteDims, device: &B::Device) -> Self {
        let r = p.budget;
        let bound = 1.0 / (dims.d_in as f64).sqrt();
        Self {
            down: Param::from_tensor(crate::init::random(
                [dims.d_in, r],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            up: Param::from_tensor(Tensor::zeros([r, dims.d_out], device)),
            compose: Composer::new(p.composition, r, dims.d_in, device),
            merged: false,
            init: LowRankInit::Kaiming,
        }
    }

    /// PiSSA's or OLoRA's start from the pretrained weight (`[d_in, d_out]`): (W_down, W_up,
    /// the residual weight), or `None` for the inits that do not read it.
    fn start_from_weight(
        &self,
        weight: Tensor<B, 2>,
    ) -> Option<(Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>)> {
        use crate::decompose::{qr_top, svd_top, Matrix};
        if !matches!(self.init, LowRankInit::Pissa | LowRankInit::Olora) {
            return None;
        }
        let device = weight.device();
        let [d_in, d_out] = weight.dims();
        let r = self.down.dims()[1];
        let s = self.compose.fixed;
        let values: Vec<f64> = weight
            .clone()
            .transpose()
            .into_data()
            .convert::<f64>()
            .into_vec()
            .ok()?;
        // peft's layout: W `[out, in]`, lora_A `[r, in]`, lora_B `[out, r]`.
        let w = Matrix::new(d_out, d_in, values);
        let (lora_b, lora_a) = match self.init {
            LowRankInit::Pissa => {
                let (u, sigma, vt) = svd_top(&w, r);
                let root: Vec<f64> = sigma.iter().map(|x| (x / s).sqrt()).collect();
                let mut b = u;
                let mut a = vt;
                for i in 0..b.rows {
                    for (k, rk) in root.iter().enumerate() {
                        b.data[i * r + k] *= rk;
                    }
                }
                for (k, rk) in root.iter().enumerate() {
                    for j in 0..a.cols {
                        a.data[k * a.cols + j] *= rk;
                    }
                }
                (b, a)
            }
            _ => qr_top(&w, r),
        };
        let tensor = |m: &Matrix| {
            let data: Vec<f32> = m.data.iter().map(|&x| x as f32).collect();
            Tensor::<B, 2>::from_data(TensorData::new(data, [m.rows, m.cols]), &device)
        };
        let (a, b) = (tensor(&lora_a), tensor(&lora_b));
        // W_res = W − s·B·A, in Burn's layout W − s·Aᵀ Bᵀ.
        let down = a.transpose();
        let up = b.transpose();
        let residual = weight - down.clone().matmul(up.clone()).mul_scalar(s);
        Some((down, up, residual))
    }

    /// s·W_down W_up as a `[d_in, d_out]` matrix (Burn's Linear layout).
    pub fn delta_weight(&self) -> Tensor<B, 2> {
        self.down
            .val()
            .matmul(self.up.val())
            .mul_scalar(self.compose.fixed)
    }
}

impl<B: Backend> FormModule<B> for LowRank<B> {
    /// PiSSA and OLoRA move W's leading directions into the adapter and leave the residual in
    /// the frozen weight, so the model starts unchanged.
    fn attach(&mut self, linear: Linear<B>) -> Linear<B> {
        let Some((down, up, residual)) = self.start_from_weight(linear.weight.val()) else {
            return linear;
        };
        self.down = Param::initialized(self.down.id, down.set_require_grad(true));
        self.up = Param::initialized(self.up.id, up.set_require_grad(true));
        super::with_weight(linear, residual)
    }

    fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, _shared: &Shared<B>) -> Tensor<B, 3> {
        if self.merged {
            return h;
        }
        let delta = crate::rows::matmul(x.clone(), self.down.val());
        let delta = crate::rows::matmul(delta, self.up.val());
        h + self.compose.apply(&x, delta)
    }

    fn mergeable(&self) -> bool {
        self.compose.learned.is_none() && self.compose.gate.is_none()
    }

    fn merge(&mut self, linear: Linear<B>, sign: f64, _shared: &Shared<B>) -> Linear<B> {
        self.merged = sign > 0.0;
        super::add_to_weight(linear, self.delta_weight().mul_scalar(sign))
    }

    fn is_merged(&self) -> bool {
        self.merged
    }
}
