//! Adapter folders: peftgrid's own ([`native`], every method) and the ecosystems' (peft's,
//! AdapterHub's, for the methods they can express).

pub mod native;

use std::path::Path;

use burn::prelude::*;
use peftgrid_zoo::MethodSpec;

use crate::config::ModelConfig;
use crate::error::Result;
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
    } else if crate::adapterhub::is_adapterhub(dir) {
        crate::adapterhub::load_adapter(model, config, dir, device)
    } else {
        crate::peft::load_adapter(model, config, dir, device)
    }
}
