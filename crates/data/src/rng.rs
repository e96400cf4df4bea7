//! Seeded randomness that gives the same numbers on every platform and with every version of
//! `rand`: a ChaCha8 stream (`rand_chacha`, whose output is specified) and our own integer and
//! float draws on top of its raw `u64`s, so nothing depends on `rand`'s distribution code.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator for `seed`, on an independent `stream` (e.g. one per example of a batch).
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// The stream of a run's batches in `epoch`: stream 0 of a seed is its data split
/// ([`crate::sample::permutation`]) and each epoch has the next one, so that epochs of one run
/// and of runs with other seeds never share a permutation (as `seed + epoch` would: seed 0's
/// second epoch was seed 1's first), nor share draws with the split. Model initialisation draws
/// from a stream of its own too (`peftgrid_zoo::init`).
pub(crate) fn epoch_stream(seed: u64, epoch: usize) -> ChaCha8Rng {
    rng(seed, 1 + epoch as u64)
}

/// A uniform integer in `0..n` (Lemire's multiply-and-reject; unbiased). `n` must be > 0.
pub(crate) fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = (rng.next_u64() as u128) * (n as u128);
    let mut low = m as u64;
    if low < n {
        let threshold = n.wrapping_neg() % n;
        while low < threshold {
            m = (rng.next_u64() as u128) * (n as u128);
            low = m as u64;
        }
    }
    (m >> 64) as u64
}

/// A uniform float in `[0, 1)` with 53 random bits.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform float in `[lo, hi)`.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = rng(7, 0);
        let mut seen = [0usize; 5];
        for _ in 0..1000 {
            seen[below(&mut r, 5) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 150), "{seen:?}");
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| rng(1, 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(rng(1, 0).next_u64(), rng(1, 1).next_u64());
        let u = unit(&mut rng(3, 0));
        assert!((0.0..1.0).contains(&u));
    }
}
