//! peft's `FOURIERFT`: `fourierft_spectrum` `[n]` per targeted projection, at n frequencies
//! drawn from `random_loc_seed` (not saved), ΔW = Re(IDFT₂) · `scaling`: the `spectral` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::SpectralSpec;
use peftgrid_zoo::{Composition, Form, MethodSpec, Modification, ModificationSpec};
use serde_json::json;

use super::{load_per_module, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::Model;

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse_flags(&["fan_in_fan_out"])?;
    adapter.refuse_bias()?;
    adapter.refuse_patterns(&["n_frequency_pattern"])?;
    let n: usize = adapter.field("n_frequency")?;
    let s: f64 = adapter.field("scaling")?;
    let seed: u64 = adapter
        .field::<Option<u64>>("random_loc_seed")?
        .unwrap_or(peftgrid_zoo::forms::DEFAULT_SEED);
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["fourierft_spectrum"],
        |at| {
            MethodSpec::new("fourierft").with(
                ModificationSpec::new(Form::Spectral(SpectralSpec { seed }), at)
                    .composition(Composition::Scaled { s })
                    .budget(n),
            )
        },
        |m, t, _| {
            if let Modification::Spectral(f) = m {
                f.spectrum = Param::from_tensor(t.get("fourierft_spectrum", [n], "n_frequency")?);
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("FourierFT", |m| match m {
        Modification::Spectral(f) => {
            Some(vec![("fourierft_spectrum", f.spectrum.val().into_data())])
        }
        _ => None,
    })?;
    let seed = match &m.form {
        Form::Spectral(f) => f.seed,
        _ => peftgrid_zoo::forms::DEFAULT_SEED,
    };
    let n = m.budget.unwrap_or(0);
    let s = match m.composition {
        Composition::Scaled { s } => s,
        Composition::Add => 1.0,
        other => {
            return Err(w.unsupported(&format!(
                "FourierFT scales by a fixed `scaling`, not `{other}`"
            )))
        }
    };
    w.set("peft_type", json!(PeftType::FourierFt.name()));
    w.set("n_frequency", json!(n));
    w.set("scaling", json!(s));
    w.set("random_loc_seed", json!(seed));
    w.set("fan_in_fan_out", json!(false));
    w.set("bias", json!("none"));
    w.set("n_frequency_pattern", json!({}));
    w.set("init_weights", json!(false));
    Ok(())
}
