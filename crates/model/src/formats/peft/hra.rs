//! peft's `HRA`: `hra_u` `[in, r]` per targeted projection, r Householder vectors whose
//! reflections multiply the weight from the input side: the `householder` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::HouseholderSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec};
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
    adapter.refuse_flags(&["apply_GS"])?;
    adapter.refuse_bias()?;
    adapter.refuse_patterns(&["rank_pattern", "alpha_pattern"])?;
    let r: usize = adapter.field("r")?;
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["hra_u"],
        |at| {
            MethodSpec::new("hra")
                .with(ModificationSpec::new(Form::Householder(HouseholderSpec {}), at).budget(r))
        },
        |m, t, dims| {
            if let Modification::Householder(h) = m {
                h.vectors = Param::from_tensor(t.get("hra_u", [dims.d_in, r], "r and d_in")?);
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("HRA", |m| match m {
        Modification::Householder(h) => Some(vec![("hra_u", h.vectors.val().into_data())]),
        _ => None,
    })?;
    w.set("peft_type", json!(PeftType::Hra.name()));
    w.set("r", json!(m.budget.unwrap_or(0)));
    w.set("apply_GS", json!(false));
    w.set("bias", json!("none"));
    w.set("init_weights", json!(true));
    w.set("rank_pattern", json!({}));
    Ok(())
}
