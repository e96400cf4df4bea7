//! The kinds of task a run can train, one file each: what their data is, how a batch becomes a
//! loss and how a model is scored, and the `build` function that loads a run's splits (as the
//! data set's [`peftgrid_data::check::DatasetLayout`] says) and readies the backbone (a new head
//! where the task needs one). [`crate::train::train`] runs any of them.

pub mod image;
pub mod seq2seq;
pub mod text;

use anyhow::bail;

use crate::experiment::RunSpec;

/// At most `max` examples (the split's head), when a limit is set.
pub(crate) fn limit<E>(mut v: Vec<E>, max: Option<usize>) -> Vec<E> {
    if let Some(n) = max {
        v.truncate(n);
    }
    v
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
