//! `spectral`: ΔW = s · Re(IDFT₂(C)) beside a projection, C holding n trained coefficients at n
//! fixed random frequencies and zeros elsewhere (FourierFT, Gao et al. 2024, peft's
//! `FOURIERFT`). The frequencies are not stored: like peft they are drawn from a seed
//! (`torch.randperm` of d_out·d_in, reproduced here), so a site stores n numbers.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::{does_not_fit, Result};
use crate::forms::{check_weight_form, BuildContext, FormSpec, Placement};
use crate::shape::SiteDims;
use crate::shared::Shared;

/// peft's `random_loc_seed`.
pub const DEFAULT_SEED: u64 = 777;

fn default_seed() -> u64 {
    DEFAULT_SEED
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectralSpec {
    /// Seed of the frequencies (peft's `random_loc_seed`; every site of one shape gets the same).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Default for SpectralSpec {
    fn default() -> Self {
        Self { seed: DEFAULT_SEED }
    }
}

/// The coefficients and, as constants rebuilt from the seed, the cosines and sines of the
/// chosen frequencies along each axis.
#[derive(Module, Debug)]
pub struct Spectral<B: Backend> {
    /// c, `[n]` (peft's `fourierft_spectrum`).
    pub spectrum: Param<Tensor<B, 1>>,
    /// cos(2π q·col_k / d_in) and its sine, `[d_in, n]`.
    pub cos_in: Tensor<B, 2>,
    pub sin_in: Tensor<B, 2>,
    /// cos(2π p·row_k / d_out) and its sine, `[n, d_out]`.
    pub cos_out: Tensor<B, 2>,
    pub sin_out: Tensor<B, 2>,
    /// s / (d_in·d_out): the fixed scale and the inverse DFT's normalisation.
    pub scale: f64,
    pub merged: bool,
}

impl FormSpec for SpectralSpec {
    const NAME: &'static str = "spectral";
    const KNOB: Option<&'static str> = Some("n");
    type Module<B: Backend> = Spectral<B>;

    fn check(&self, p: &Placement) -> Result<()> {
        check_weight_form(Self::NAME, p)
    }

    fn check_site(&self, p: &Placement, dims: SiteDims) -> Result<()> {
        if p.budget > dims.d_in * dims.d_out {
            return Err(does_not_fit(
                Self::NAME,
                p.budget,
                format!(
                    "more frequencies than the {} × {} entries at `{}`",
                    dims.d_in, dims.d_out, p.position
                ),
            ));
        }
        Ok(())
    }

    fn site_params(&self, p: &Placement, _dims: SiteDims) -> usize {
        p.budget
    }

    /// peft's default start (`init_weights = False`): c ~ N(0, 1), so unlike LoRA a fresh
    /// FourierFT adapter already changes the model a little.
    fn build<B: Backend>(
        &self,
        p: &Placement,
        dims: SiteDims,
        ctx: &BuildContext<B>,
    ) -> Spectral<B> {
        let n = p.budget;
        let (d_in, d_out, dev) = (dims.d_in, dims.d_out, ctx.device);
        let chosen = &torch_randperm(d_out * d_in, self.seed)[..n];
        let tau = 2.0 * std::f64::consts::PI;
        let mut cos_in = vec![0f32; d_in * n];
        let mut sin_in = vec![0f32; d_in * n];
        let mut cos_out = vec![0f32; n * d_out];
        let mut sin_out = vec![0f32; n * d_out];
        for (k, &index) in chosen.iter().enumerate() {
            let (row, col) = (index / d_in, index % d_in);
            for q in 0..d_in {
                let angle = tau * ((q * col) % d_in) as f64 / d_in as f64;
                cos_in[q * n + k] = angle.cos() as f32;
                sin_in[q * n + k] = angle.sin() as f32;
            }
            for o in 0..d_out {
                let angle = tau * ((o * row) % d_out) as f64 / d_out as f64;
                cos_out[k * d_out + o] = angle.cos() as f32;
                sin_out[k * d_out + o] = angle.sin() as f32;
            }
        }
        let constant = |v: Vec<f32>, shape: [usize; 2]| {
            Tensor::<B, 2>::from_data(TensorData::new(v, shape), dev)
        };
        Spectral {
            spectrum: Param::from_tensor(crate::init::random(
                [n],
                Distribution::Normal(0.0, 1.0),
                dev,
            )),
            cos_in: constant(cos_in, [d_in, n]),
            sin_in: constant(sin_in, [d_in, n]),
            cos_out: constant(cos_out, [n, d_out]),
            sin_out: constant(sin_out, [n, d_out]),
            scale: p.composition.fixed_scale(n) / (d_in * d_out) as f64,
            merged: false,
        }
    }
}

impl<B: Backend> Spectral<B> {
    /// ΔWᵀ[q, p] = s/(d_in·d_out) Σ_k c_k cos(2π (p·row_k/d_out + q·col_k/d_in)), `[d_in, d_out]`:
    /// the real part of the inverse 2-D DFT, with cos(α + β) = cos α cos β − sin α sin β.
    pub fn delta_weight(&self, _shared: &Shared<B>) -> Tensor<B, 2> {
        let c = self.spectrum.val().unsqueeze::<2>();
        let real = (self.cos_in.clone() * c.clone()).matmul(self.cos_out.clone());
        let imaginary = (self.sin_in.clone() * c).matmul(self.sin_out.clone());
        (real - imaginary).mul_scalar(self.scale)
    }
}

additive_weight_form!(Spectral);

/// `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` on the CPU: a
/// Fisher–Yates shuffle driven by the 32-bit outputs of MT19937 (for n below 2³²/20).
pub fn torch_randperm(n: usize, seed: u64) -> Vec<usize> {
    let mut mt = Mt19937::new(seed as u32);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in 0..n.saturating_sub(1) {
        let z = mt.next_u32() as usize % (n - i);
        perm.swap(i, i + z);
    }
    perm
}

/// The Mersenne Twister MT19937, seeded as `init_genrand` (what torch's CPU generator uses).
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Self { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[i] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}
