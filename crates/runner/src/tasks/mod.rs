//! The kinds of task a run can train, one file each: what their data is, how a batch becomes a
//! loss and how a model is scored, and the `build` function that loads a run's splits (as the
//! data set's [`peftgrid_data::check::DatasetLayout`] says) and readies the backbone (a new head
//! where the task needs one). [`crate::train::train`] runs any of them.

pub mod image;
pub mod seq2seq;
pub mod text;

use anyhow::bail;

use crate::experiment::RunSpec;
use crate::train::Splits;

/// A run's splits, cut to `max_train_examples` / `max_eval_examples` (the split's head) where
/// the run sets them; the test split is always whole.
pub(crate) fn splits<E>(
    spec: &RunSpec,
    mut train: Vec<E>,
    mut eval: Vec<E>,
    eval_split: String,
    test: Option<(Vec<E>, String)>,
) -> Splits<E> {
    if let Some(n) = spec.train.max_train_examples {
        train.truncate(n);
    }
    if let Some(n) = spec.train.max_eval_examples {
        eval.truncate(n);
    }
    Splits {
        train,
        eval,
        eval_split,
        test,
    }
}

pub(crate) fn no_low_resource(spec: &RunSpec) -> anyhow::Result<()> {
    if spec.train.low_resource_k.is_some() {
        bail!(
            "low_resource_k: UniPELT's K-shot setting is defined for GLUE-format classification, not {}",
            spec.task
        );
    }
    Ok(())
}
