//! GLUE regression metrics (STS-B) exactly as scipy 1.17 computes them (coefficients, -1..1):
//! `scipy.stats.pearsonr(x, y).statistic` and `scipy.stats.spearmanr(x, y).statistic`
//! (Pearson on `rankdata(..., method="average")` ranks via `np.corrcoef`).
//!
//! Where scipy returns NaN with a warning (constant input) or raises (fewer than two points),
//! these return an error; NaN/infinite inputs are rejected too.

use crate::error::{check_same_len, MetricsError, Result};

fn check(metric: &'static str, x: &[f64], y: &[f64]) -> Result<()> {
    check_same_len("x", x.len(), "y", y.len(), "values")?;
    if x.len() < 2 {
        return Err(MetricsError::TooFew {
            metric,
            needed: 2,
            got: x.len(),
        });
    }
    for (which, v) in [("x", x), ("y", y)] {
        if let Some((index, &value)) = v.iter().enumerate().find(|(_, a)| !a.is_finite()) {
            return Err(MetricsError::NonFinite {
                metric,
                which,
                index,
                value,
            });
        }
        if v.iter().all(|&a| a == v[0]) {
            return Err(MetricsError::ConstantInput { metric, which });
        }
    }
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// `scipy.stats.pearsonr(x, y)[0]`: centred, scaled by the max-abs deviation before the norm
/// (as scipy does against overflow), dot product of the normalised vectors, clipped to [-1, 1].
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check("pearson", x, y)?;
    let normalised = |v: &[f64]| -> Vec<f64> {
        let m = mean(v);
        let dev: Vec<f64> = v.iter().map(|a| a - m).collect();
        let max = dev.iter().fold(0.0f64, |acc, a| acc.max(a.abs()));
        let norm = max
            * dev
                .iter()
                .map(|a| (a / max) * (a / max))
                .sum::<f64>()
                .sqrt();
        dev.iter().map(|a| a / norm).collect()
    };
    let (xn, yn) = (normalised(x), normalised(y));
    let r: f64 = xn.iter().zip(&yn).map(|(a, b)| a * b).sum();
    Ok(r.clamp(-1.0, 1.0))
}

/// `scipy.stats.rankdata(v, method="average")`: 1-based ranks, ties get their mean rank.
pub fn rank_average(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // positions i..=j (0-based) share the rank ((i + 1) + (j + 1)) / 2
        let r = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// `scipy.stats.spearmanr(x, y)[0]`: `np.corrcoef` of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check("spearman", x, y)?;
    let (rx, ry) = (rank_average(x), rank_average(y));
    let n1 = (x.len() - 1) as f64;
    let (mx, my) = (mean(&rx), mean(&ry));
    let dx: Vec<f64> = rx.iter().map(|a| a - mx).collect();
    let dy: Vec<f64> = ry.iter().map(|a| a - my).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    // np.cov then c /= stddev[:, None]; c /= stddev[None, :]
    let cxy = dot(&dx, &dy) / n1;
    let sx = (dot(&dx, &dx) / n1).sqrt();
    let sy = (dot(&dy, &dy) / n1).sqrt();
    Ok((cxy / sy / sx).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_ties() {
        assert_eq!(
            rank_average(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn perfect_correlation() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-15);
        assert!((spearman(&[1.0, 2.0, 3.0], &[1.0, 4.0, 9.0]).unwrap() - 1.0).abs() < 1e-15);
    }
}
