//! Adapter folders: peftgrid's own ([`native`], every method) and the ecosystems' ([`peft`],
//! [`adapterhub`], for the methods they can express, one file per form each).

pub mod adapterhub;
pub(crate) mod folder;
pub mod native;
pub mod peft;

use std::path::Path;

use burn::prelude::*;
use peftgrid_zoo::MethodSpec;

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::Model;

/// Loads an adapter folder of any format onto `model`, telling them apart by their config
/// file: `method.json` (peftgrid's), or `adapter_config.json` (AdapterHub's or peft's, by its
/// keys).
pub fn load_any<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<MethodSpec> {
    if native::is_native(dir) {
        native::load(model, config, dir, device)
    } else if adapterhub::is_adapterhub(dir) {
        adapterhub::load_adapter(model, config, dir, device)
    } else {
        peft::load_adapter(model, config, dir, device)
    }
}

/// AdapterHub and peft folders for encoder-decoders are not read or written yet.
pub(crate) fn seq2seq_unsupported(what: &str) -> ModelError {
    ModelError::Unsupported {
        what: what.into(),
        why: "encoder-decoder backbones (BART, mBART, T5) are not supported by this format \
              reader/writer yet; train and save with peftgrid's own runs"
            .into(),
    }
}
