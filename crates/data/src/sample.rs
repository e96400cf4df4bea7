//! UniPELT's low-resource setting (Mao et al., 2022, §4.1 and their `run_glue.py`): the training
//! set is shuffled with the data seed, its first K examples are the training set, the next
//! 1,000 are the development set used for model selection, and the original GLUE dev set becomes
//! the test set.
//!
//! UniPELT does this with `datasets.Dataset.shuffle(seed=data_seed)` (`train_as_val=True`:
//! `train = shuffled[:K]`, `dev = shuffled[K:K+1000]`). We take the same slices of a ChaCha8
//! Fisher–Yates permutation, so the index sets are not the ones NumPy's generator would pick for
//! the same seed, but the protocol (disjoint K train / 1,000 dev drawn from train, seeded) is the
//! same and reproducible on every platform.

use crate::error::{DataError, Result};
use crate::{rng, TextExample};

/// UniPELT's development-set size.
pub const UNIPELT_DEV_SIZE: usize = 1_000;

/// The seeded permutation of `0..n` used by [`low_resource`].
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    rng::shuffle(&mut rng::rng(seed, 0), &mut idx);
    idx
}

/// Splits `train` into `k` training examples and a disjoint dev set of `dev_size` (UniPELT:
/// 1,000), both drawn from one seeded shuffle. Fails when `k + dev_size` exceeds the training
/// set (UniPELT's script fails there too); pass a smaller `dev_size` explicitly if wanted.
pub fn low_resource(
    train: &[TextExample],
    k: usize,
    dev_size: usize,
    seed: u64,
) -> Result<(Vec<TextExample>, Vec<TextExample>)> {
    if k + dev_size > train.len() {
        return Err(DataError::Invalid(format!(
            "low-resource sampling needs k + dev_size = {k} + {dev_size} = {} examples, but the \
             training set has {}",
            k + dev_size,
            train.len()
        )));
    }
    let perm = permutation(train.len(), seed);
    let pick = |r: &[usize]| r.iter().map(|&i| train[i].clone()).collect::<Vec<_>>();
    Ok((pick(&perm[..k]), pick(&perm[k..k + dev_size])))
}
