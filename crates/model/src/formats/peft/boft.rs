//! peft's `BOFT`: `boft_R` `[N, in / b, b, b]` (the skew parts of N butterfly factors' blocks)
//! and `boft_s` `[out, 1]` per targeted projection: the `butterfly_orthogonal` form. N is read
//! from `boft_R`, not from `boft_n_butterfly_factor`: peft without its CUDA extension silently
//! saves one factor whatever the config says.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::ButterflyOrthogonalSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec};
use serde_json::json;

use super::{config_error, load_per_module, PeftAdapter, PeftType, Writer};
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
    let shape = adapter
        .weights
        .keys()
        .find(|k| k.ends_with("boft_R"))
        .and_then(|k| adapter.weights.shape(k))
        .ok_or_else(|| {
            config_error(
                &adapter.config_path(),
                "boft_block_size",
                "no `boft_R` in the adapter",
            )
        })?;
    let [factors, _, b, _] = shape[..] else {
        return Err(config_error(
            &adapter.config_path(),
            "boft_block_size",
            format!("`boft_R` has shape {shape:?}, not [N, blocks, b, b]"),
        ));
    };
    let why = "the block size, the butterfly factors and the projection's widths";
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["boft_R", "boft_s"],
        |at| {
            MethodSpec::new("boft").with(
                ModificationSpec::new(
                    Form::ButterflyOrthogonal(ButterflyOrthogonalSpec { factors }),
                    at,
                )
                .budget(b),
            )
        },
        |m, t, dims| {
            if let Modification::ButterflyOrthogonal(o) = m {
                o.blocks =
                    Param::from_tensor(t.get("boft_R", [factors, dims.d_in / b, b, b], why)?);
                let s: Tensor<B, 2> = t.get("boft_s", [dims.d_out, 1], why)?;
                o.scale = Param::from_tensor(s.reshape([dims.d_out]));
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("BOFT", |m| match m {
        Modification::ButterflyOrthogonal(o) => {
            let [d_out] = o.scale.dims();
            Some(vec![
                ("boft_R", o.blocks.val().into_data()),
                ("boft_s", o.scale.val().reshape([d_out, 1]).into_data()),
            ])
        }
        _ => None,
    })?;
    let factors = match &m.form {
        Form::ButterflyOrthogonal(o) => o.factors,
        _ => 1,
    };
    w.set("peft_type", json!(PeftType::Boft.name()));
    w.set("boft_block_size", json!(m.budget.unwrap_or(0)));
    w.set("boft_block_num", json!(0));
    w.set("boft_n_butterfly_factor", json!(factors));
    w.set("boft_dropout", json!(0.0));
    w.set("fan_in_fan_out", json!(false));
    w.set("bias", json!("none"));
    w.set("init_weights", json!(true));
    Ok(())
}
