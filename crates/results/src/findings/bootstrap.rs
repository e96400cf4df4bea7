//! The paired bootstrap: a percentile interval of the mean difference over pairs, resampling
//! pairs with replacement, from a fixed-seed generator written here (SplitMix64) so that a
//! report is the same every time it is written.

/// Resamples per interval.
pub const RESAMPLES: usize = 10_000;

/// The generator's seed: every interval starts from it.
pub const SEED: u64 = 0x5EED_0FF1_4D12_6500;

/// Coverage of the interval (a 95% percentile interval: the 2.5% and 97.5% quantiles).
pub const LEVEL: f64 = 0.95;

/// SplitMix64 (Steele, Lea and Flood 2014; the generator Java's `SplittableRandom` and
/// xoshiro's seeding use): a 64-bit state advanced by a constant, output mixed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (> 0), by the multiply-shift map (bias < n / 2⁶⁴).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The mean of `values` (NaN when empty).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `q` quantile of sorted `v` (linear interpolation between order statistics, R's type 7).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// The paired bootstrap percentile interval of the mean of `diffs` (one difference per pair):
/// `resamples` times, draw `diffs.len()` pairs with replacement and take their mean; the
/// interval runs from the 2.5% to the 97.5% quantile of those means. `None` for no pairs.
/// Deterministic: the same `diffs` and `seed` give the same interval.
pub fn paired_bootstrap(diffs: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64)> {
    if diffs.is_empty() || resamples == 0 {
        return None;
    }
    let n = diffs.len();
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    Some((quantile(&means, tail), quantile(&means, 1.0 - tail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_outputs() {
        // The first outputs of SplitMix64 seeded with 0 (the reference implementation's).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SplitMix64::new(7);
        assert!((0..1000).all(|_| r.below(3) < 3));
    }

    #[test]
    fn intervals() {
        assert_eq!(paired_bootstrap(&[], RESAMPLES, SEED), None);
        assert_eq!(
            paired_bootstrap(&[2.0, 2.0, 2.0], RESAMPLES, SEED),
            Some((2.0, 2.0))
        );
        let d = [1.0, -1.0, 0.5, -0.5, 2.0, -2.0];
        let (lo, hi) = paired_bootstrap(&d, RESAMPLES, SEED).unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
        // Symmetric data: a nearly symmetric interval, about ±1.96 · sd/√n = ±1.06 (the
        // resampled mean's sd is the population sd, 1.32, over √6).
        assert!((lo + hi).abs() < 0.1, "{lo} {hi}");
        assert!((hi - 1.06).abs() < 0.2, "{hi}");
        assert_eq!(paired_bootstrap(&d, RESAMPLES, SEED), Some((lo, hi)));
        assert_eq!(quantile(&[0.0, 10.0], 0.25), 2.5);
    }
}
