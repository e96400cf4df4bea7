//! Dropout whose masks come from one seeded counter-based stream on the host (the default on
//! the CPU backends) or from the backend's own generator (the default on GPUs, where a host
//! mask would cross the bus at every call).
//!
//! Why not Burn's `Dropout`: on the CPU backends its Bernoulli masks are drawn element by element
//! from a ChaCha generator on one thread, 14% of a MiniLM training step (`perf`, flex backend);
//! and each backend's generator gives other masks for the same seed. Here mask element `i` of
//! call `c` is a hash of (seed, c, i): drawn in parallel, and the same on every backend, so a
//! run with host masks trains identically on flex, ndarray, WGPU and CUDA.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Where dropout masks are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskSource {
    /// The host's counter-based stream (reproducible across backends).
    Host,
    /// The backend's generator (`Tensor::random`, seeded by `B::seed`).
    Device,
}

static SOURCE: AtomicU8 = AtomicU8::new(0);

/// Chooses where masks are drawn from now on.
pub fn set_mask_source(source: MaskSource) {
    SOURCE.store(
        matches!(source, MaskSource::Device) as u8,
        Ordering::Relaxed,
    );
}

pub fn mask_source() -> MaskSource {
    match SOURCE.load(Ordering::Relaxed) {
        0 => MaskSource::Host,
        _ => MaskSource::Device,
    }
}

/// Restarts this thread's host mask stream outside a batch stream (called with the run's seed
/// by [`crate::init::seed`]). Thread-local, like the batch streams, so that two runs in one
/// process (a test binary's threads, a library user's) never draw from each other's stream.
pub fn seed_masks(seed: u64) {
    FALLBACK.with(|f| f.set((seed, 0)));
}

/// A batch's mask stream on this thread: its key, calls so far, and the batch row its first
/// row is (a shard of a batch starts at its offset, so that a sharded batch draws exactly the
/// masks the whole batch would).
#[derive(Clone, Copy)]
struct Local {
    key: u64,
    calls: u64,
    row0: u64,
}

thread_local! {
    static LOCAL: Cell<Option<Local>> = const { Cell::new(None) };
    /// Seed and calls so far of the masks drawn outside any batch stream.
    static FALLBACK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Runs `f` with this thread's masks drawn from the stream `key` (e.g. the training step's,
/// which carries the run's seed), its tensors' first row being row `row0` of the batch. The
/// masks then depend only on `key`, the call's position in `f` and each element's place in the
/// whole batch: not on how a batch is split over threads, nor on what other threads draw.
pub fn with_batch_stream<R>(key: u64, row0: usize, f: impl FnOnce() -> R) -> R {
    let before = LOCAL.with(|l| {
        l.replace(Some(Local {
            key,
            calls: 0,
            row0: row0 as u64,
        }))
    });
    let out = f();
    LOCAL.with(|l| l.set(before));
    out
}

/// splitmix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The next call's mask for a tensor of `n` elements whose first dimension is `rows`:
/// `1 / (1 − p)` where an element is kept, 0 where it is dropped.
pub fn host_mask(n: usize, rows: usize, prob: f64) -> Vec<f32> {
    let (key, call, row0) = match LOCAL.with(Cell::get) {
        Some(mut local) => {
            let call = local.calls;
            local.calls += 1;
            LOCAL.with(|l| l.set(Some(local)));
            (local.key, call, local.row0)
        }
        None => FALLBACK.with(|f| {
            let (seed, call) = f.get();
            f.set((seed, call + 1));
            (mix(seed), call, 0)
        }),
    };
    let key = mix(key ^ mix(call.wrapping_add(0x9E37_79B9_7F4A_7C15)));
    let first = row0 * (n / rows.max(1)) as u64;
    // Dropped when the top 53 bits, as a fraction of 2^53, fall below p.
    let threshold = (prob * (1u64 << 53) as f64) as u64;
    let keep = (1.0 / (1.0 - prob)) as f32;
    let mut mask = vec![0f32; n];
    mask.par_chunks_mut(1 << 14)
        .enumerate()
        .for_each(|(c, chunk)| {
            let base = first + ((c as u64) << 14);
            for (j, m) in chunk.iter_mut().enumerate() {
                let u = mix(key.wrapping_add((base + j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                    >> 11;
                *m = if u < threshold { 0.0 } else { keep };
            }
        });
    mask
}

/// Inverted dropout, as `torch.nn.Dropout` and Burn's: identity outside training (no autodiff)
/// or at p = 0.
#[derive(Module, Clone, Debug)]
pub struct Dropout {
    pub prob: f64,
}

impl Dropout {
    pub fn forward<B: Backend, const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        if !B::ad_enabled(&input.device()) || self.prob == 0.0 {
            return input;
        }
        match mask_source() {
            MaskSource::Host => {
                let rows = input.dims().first().copied().unwrap_or(1);
                let shape = input.shape();
                let mask = host_mask(shape.num_elements(), rows, self.prob);
                let mask = Tensor::<B, D>::from_data(TensorData::new(mask, shape), &input.device());
                input * mask
            }
            MaskSource::Device => {
                let keep = 1.0 - self.prob;
                let random = input.random_like(Distribution::Bernoulli(keep));
                (input * random) * (1.0 / keep)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_masks_have_the_rate_and_replay_from_the_seed() {
        seed_masks(3);
        let a = host_mask(100_000, 10, 0.1);
        let b = host_mask(100_000, 10, 0.1);
        assert_ne!(a, b, "each call draws a new mask");
        let dropped = a.iter().filter(|m| **m == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "{dropped}");
        assert!(a.iter().all(|m| *m == 0.0 || (*m - 1.0 / 0.9).abs() < 1e-6));
        seed_masks(3);
        assert_eq!(host_mask(100_000, 10, 0.1), a);

        // A batch split over two threads draws exactly the whole batch's masks.
        let whole = with_batch_stream(9, 0, || [host_mask(40, 4, 0.5), host_mask(80, 4, 0.5)]);
        let halves: Vec<[Vec<f32>; 2]> = std::thread::scope(|s| {
            let h: Vec<_> = [0usize, 2]
                .into_iter()
                .map(|row0| {
                    s.spawn(move || {
                        with_batch_stream(9, row0, || {
                            [host_mask(20, 2, 0.5), host_mask(40, 2, 0.5)]
                        })
                    })
                })
                .collect();
            h.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for call in 0..2 {
            let joined: Vec<f32> = [&halves[0][call][..], &halves[1][call][..]].concat();
            assert_eq!(joined, whole[call], "call {call}");
        }
        assert!(whole[0].contains(&0.0) && whole[0].contains(&2.0));
    }
}
