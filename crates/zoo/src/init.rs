//! Initial weights drawn on the host from one seeded stream, then moved to the device, as
//! transformers initialises on the CPU before `.to(device)`: the same seed gives the same
//! initial weights on every backend (Burn's `Tensor::random` draws from each backend's own
//! generator, so flex, ndarray, wgpu and CUDA would each start from other weights). Dropout
//! masks come from [`crate::dropout`]'s host stream on the CPU backends (reseeded here too) and
//! from the backend's generator on GPUs; a results row names its backend and mask source.

use std::cell::RefCell;

use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

thread_local! {
    /// Per thread, so that runs in one process (a sweep's, a test binary's concurrent tests)
    /// cannot interleave their draws: a run seeds and builds its model on one thread.
    static STREAM: RefCell<ChaCha8Rng> = RefCell::new(init_stream(0));
}

/// Restarts this thread's initialisation stream at `seed` (a sweep does this per run, beside
/// `B::seed`).
pub fn seed(seed: u64) {
    crate::dropout::seed_masks(seed);
    STREAM.with(|s| *s.borrow_mut() = init_stream(seed));
}

fn init_stream(seed: u64) -> ChaCha8Rng {
    let mut stream = ChaCha8Rng::seed_from_u64(seed);
    stream.set_stream(INIT_STREAM);
    stream
}

/// The ChaCha stream initial weights draw from. `peftgrid_data` draws a seed's data split from
/// its stream 0 and epoch `e`'s batches from stream `1 + e`; sharing one of those would tie the
/// initial weights to which examples are seen first (before this, the weights and the first
/// epoch's permutation were the same `u64`s).
const INIT_STREAM: u64 = u64::MAX;

/// A tensor of `shape` drawn from `dist` on the host (this thread's stream starts at seed 0
/// until [`seed`] is called). Normals by Box–Muller from f64 uniforms, so every platform draws the
/// same values.
pub fn random<B: Backend, const D: usize>(
    shape: [usize; D],
    dist: Distribution,
    device: &B::Device,
) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let values = STREAM.with(|s| draw(&mut s.borrow_mut(), n, dist));
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn draw(rng: &mut ChaCha8Rng, n: usize, dist: Distribution) -> Vec<f32> {
    let mut uniform = || rng.random::<f64>();
    match dist {
        Distribution::Normal(mean, std) => {
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                // Box–Muller: two normals from two uniforms in (0, 1].
                let (u1, u2) = (1.0 - uniform(), uniform());
                let r = (-2.0 * u1.ln()).sqrt();
                let t = std::f64::consts::TAU * u2;
                v.push((mean + std * r * t.cos()) as f32);
                if v.len() < n {
                    v.push((mean + std * r * t.sin()) as f32);
                }
            }
            v
        }
        Distribution::Uniform(lo, hi) => (0..n)
            .map(|_| (lo + (hi - lo) * uniform()) as f32)
            .collect(),
        Distribution::Bernoulli(p) => (0..n).map(|_| f32::from(uniform() < p)).collect(),
        Distribution::Default => (0..n).map(|_| uniform() as f32).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type B = burn::backend::NdArray<f32>;
    type F = burn::backend::Flex<f32>;

    fn draw<Bk: Backend, const D: usize>(
        seed_: u64,
        shape: [usize; D],
        dist: Distribution,
    ) -> Vec<f32> {
        seed(seed_);
        random::<Bk, D>(shape, dist, &Default::default())
            .into_data()
            .to_vec()
            .unwrap()
    }

    fn mean_std(v: &[f32]) -> (f64, f64) {
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn same_seed_same_weights_on_every_backend() {
        let normal = Distribution::Normal(0.0, 0.02);
        assert_eq!(
            draw::<B, 2>(7, [3, 5], normal),
            draw::<F, 2>(7, [3, 5], normal)
        );
        // And the moments are those asked for.
        let v = draw::<B, 1>(1, [20_000], Distribution::Uniform(-0.5, 1.5));
        let (mean, _) = mean_std(&v);
        assert!(
            (mean - 0.5).abs() < 0.02 && v.iter().all(|x| (-0.5..1.5).contains(x)),
            "{mean}"
        );
        let (mean, std) = mean_std(&draw::<B, 1>(2, [20_000], Distribution::Normal(1.0, 2.0)));
        assert!(
            (mean - 1.0).abs() < 0.05 && (std - 2.0).abs() < 0.05,
            "{mean} {std}"
        );
    }
}
