//! GLUE classification metrics exactly as scikit-learn 1.9 computes them (fractions, 0..1):
//! `sklearn.metrics.accuracy_score`, `f1_score` (default `average="binary"`, `pos_label=1`,
//! `zero_division="warn"`, i.e. 0.0) and `matthews_corrcoef` (multiclass formula; 0.0 when
//! the denominator is 0). Arguments are `(pred, gold)`; sklearn's order is `(y_true, y_pred)`.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::error::{check_same_len, MetricsError, Result};

fn check(metric: &'static str, pred: &[usize], gold: &[usize]) -> Result<()> {
    check_same_len("pred", pred.len(), "gold", gold.len(), "labels")?;
    if pred.is_empty() {
        return Err(MetricsError::Empty { metric });
    }
    Ok(())
}

/// `accuracy_score(gold, pred)`: the fraction of exact matches.
pub fn accuracy(pred: &[usize], gold: &[usize]) -> Result<f64> {
    check("accuracy", pred, gold)?;
    let correct = pred.iter().zip(gold).filter(|(p, g)| p == g).count();
    Ok(correct as f64 / pred.len() as f64)
}

/// `f1_score(gold, pred)`: binary F1 of class 1.
///
/// Like sklearn, labels must take at most two distinct values (else "Target is multiclass"),
/// and if they take two, one of them must be 1. With no positive in either input the score is
/// 0.0 (sklearn's `zero_division="warn"`).
pub fn f1(pred: &[usize], gold: &[usize]) -> Result<f64> {
    check("f1", pred, gold)?;
    let present: BTreeSet<usize> = pred.iter().chain(gold).copied().collect();
    if present.len() > 2 {
        return Err(MetricsError::InvalidLabels {
            metric: "f1",
            message: format!(
                "target is multiclass (labels {present:?}) but binary F1 needs at most two labels"
            ),
        });
    }
    if present.len() == 2 && !present.contains(&1) {
        return Err(MetricsError::InvalidLabels {
            metric: "f1",
            message: format!("pos_label=1 is not a valid label; labels are {present:?}"),
        });
    }
    let tp = pred
        .iter()
        .zip(gold)
        .filter(|(&p, &g)| p == 1 && g == 1)
        .count();
    let pred_sum = pred.iter().filter(|&&p| p == 1).count();
    let true_sum = gold.iter().filter(|&&g| g == 1).count();
    // _precision_recall_fscore_support: (1 + beta2) * tp / (beta2 * true_sum + pred_sum)
    let denom = true_sum as f64 + pred_sum as f64;
    if denom == 0.0 {
        return Ok(0.0);
    }
    Ok(2.0 * tp as f64 / denom)
}

/// `matthews_corrcoef(gold, pred)` via the confusion matrix, as sklearn does.
pub fn matthews_corrcoef(pred: &[usize], gold: &[usize]) -> Result<f64> {
    check("mcc", pred, gold)?;
    // LabelEncoder over both inputs
    let labels: BTreeSet<usize> = pred.iter().chain(gold).copied().collect();
    let index: BTreeMap<usize, usize> = labels.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let k = labels.len();
    let mut t_sum = vec![0.0f64; k];
    let mut p_sum = vec![0.0f64; k];
    let mut n_correct = 0.0f64;
    for (p, g) in pred.iter().zip(gold) {
        let (pi, gi) = (index[p], index[g]);
        t_sum[gi] += 1.0;
        p_sum[pi] += 1.0;
        if pi == gi {
            n_correct += 1.0;
        }
    }
    let n_samples: f64 = p_sum.iter().sum();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_ytyp = n_correct * n_samples - dot(&t_sum, &p_sum);
    let cov_ypyp = n_samples * n_samples - dot(&p_sum, &p_sum);
    let cov_ytyt = n_samples * n_samples - dot(&t_sum, &t_sum);
    let prod = cov_ypyp * cov_ytyt;
    if prod == 0.0 {
        Ok(0.0)
    } else {
        Ok(cov_ytyp / prod.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases() {
        assert_eq!(accuracy(&[0, 1, 1], &[0, 1, 0]).unwrap(), 2.0 / 3.0);
        assert_eq!(f1(&[0, 1, 1], &[0, 1, 0]).unwrap(), 2.0 / 3.0);
        assert_eq!(matthews_corrcoef(&[1, 1], &[0, 1]).unwrap(), 0.0);
        assert!(f1(&[0, 1, 2], &[0, 1, 2]).is_err());
        assert!(f1(&[0, 2], &[2, 0]).is_err());
    }
}
