//! peft's `LORA`: `lora_A.weight` `[r, in]` and `lora_B.weight` `[out, r]` per targeted
//! projection, scaled by `lora_alpha / r` (the low-rank form with `AlphaOverRank`), or by
//! `lora_alpha / √r` with `use_rslora` (`AlphaOverSqrtRank`). With `use_dora` each projection
//! also has `lora_magnitude_vector` `[out]`: the `weight_decomposed` form (DoRA).

use std::collections::BTreeSet;

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{LowRank, LowRankInit, LowRankSpec, WeightDecomposedSpec};
use peftgrid_zoo::{Composition, Form, MethodSpec, Modification, ModificationSpec, Position};
use serde_json::json;

use super::{locate, positions_on_every_layer, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::{method, Model};

const MAGNITUDE: &str = "lora_magnitude_vector";

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse_flags(&["fan_in_fan_out", "lora_bias"])?;
    adapter.refuse_bias()?;
    adapter.refuse_patterns(&["rank_pattern", "alpha_pattern"])?;
    let flag =
        |name: &str| -> Result<bool> { Ok(adapter.field::<Option<bool>>(name)?.unwrap_or(false)) };
    let (dora, rslora) = (flag("use_dora")?, flag("use_rslora")?);
    // PiSSA and OLoRA change the frozen weight: placing the method recomputes that from the
    // base model, as peft does when it loads such an adapter, before the saved A and B land.
    let init = match adapter.config.get("init_lora_weights") {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(_)) => {
            LowRankInit::Kaiming
        }
        Some(v) if v == "gaussian" => LowRankInit::Gaussian,
        Some(v) if v == "pissa" => LowRankInit::Pissa,
        Some(v) if v == "olora" => LowRankInit::Olora,
        Some(other) => {
            return Err(super::config_error(
                &adapter.config_path(),
                "init_lora_weights",
                format!("{other} is not supported (true, \"gaussian\", \"pissa\" and \"olora\" are; a randomised or data-dependent init changes the frozen weight in a way peftgrid does not reproduce)"),
            ))
        }
    };
    if dora && matches!(init, LowRankInit::Pissa | LowRankInit::Olora) {
        return Err(super::config_error(
            &adapter.config_path(),
            "init_lora_weights",
            "PiSSA/OLoRA with DoRA is not supported",
        ));
    }
    let r: usize = adapter.field("r")?;
    let alpha: f64 = adapter.field("lora_alpha")?;
    let mut suffixes = vec!["lora_A.weight", "lora_B.weight"];
    if dora {
        suffixes.push(MAGNITUDE);
    }
    let found = locate(model, adapter, adapter.modules(&suffixes))?;
    let positions = positions_on_every_layer(model, adapter, &found)?;
    let (name, form) = if dora {
        ("dora", Form::WeightDecomposed(WeightDecomposedSpec {}))
    } else {
        (
            "lora",
            Form::LowRank(LowRankSpec {
                init,
                ..LowRankSpec::default()
            }),
        )
    };
    let composition = if rslora {
        Composition::AlphaOverSqrtRank { alpha }
    } else {
        Composition::AlphaOverRank { alpha }
    };
    let spec = MethodSpec::new(name).with(
        ModificationSpec::new(form, &positions)
            .composition(composition)
            .budget(r),
    );
    method::apply(model, config, &spec, device)?;
    let shape = config.shape();
    let mut parts = model.parts_mut();
    for ((layer, position), names) in &found {
        let dims = shape.sites(*position).dims;
        let at = format!("layer {layer} {position}");
        let get = |suffix: &str, shape: [usize; 2]| -> Result<Tensor<B, 2>> {
            let name = adapter.tensor_name(names, suffix, &at)?;
            adapter
                .weights
                .tensor(name, shape, "r and the projection's widths", device)
        };
        // peft stores nn.Linear layouts: A [r, in], B [out, r]; ours are transposed.
        let a = get("lora_A.weight", [r, dims.d_in])?.transpose();
        let b = get("lora_B.weight", [dims.d_out, r])?.transpose();
        let magnitude = if dora {
            let name = adapter.tensor_name(names, MAGNITUDE, &at)?;
            Some(adapter.weights.tensor::<B, 1>(
                name,
                [dims.d_out],
                "the projection's output width",
                device,
            )?)
        } else {
            None
        };
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("a located module is a projection site");
        let fill = |m: &mut LowRank<B>| {
            m.down = Param::from_tensor(a);
            m.up = Param::from_tensor(b);
        };
        match site.mods.last_mut() {
            Some(Modification::LowRank(m)) => fill(m),
            Some(Modification::WeightDecomposed(m)) => {
                fill(&mut m.low_rank);
                if let Some(magnitude) = magnitude {
                    m.magnitude = Param::from_tensor(magnitude);
                }
            }
            _ => {}
        }
    }
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let [m] = w.spec.modifications.as_slice() else {
        return Err(w.unsupported("peft's LoRA is one set of target modules with one r"));
    };
    let r = m.budget.unwrap_or(0);
    let (alpha, rslora) = match m.composition {
        Composition::AlphaOverRank { alpha } => (alpha, false),
        Composition::AlphaOverSqrtRank { alpha } => (alpha, true),
        Composition::Scaled { s } => (s * r as f64, false),
        Composition::Add => (r as f64, false),
        _ => return Err(w.unsupported("learned or gated LoRA scaling")),
    };
    let dora = matches!(m.form, Form::WeightDecomposed(_));
    for i in 0..w.layers.len() {
        for &p in &m.at {
            let (lr, magnitude) = match w.layers[i].sites.get(p).and_then(|s| s.mods.first()) {
                Some(Modification::LowRank(lr)) => (lr, None),
                Some(Modification::WeightDecomposed(d)) => (&d.low_rank, Some(d.magnitude.val())),
                _ => continue,
            };
            let (down, up) = (lr.down.val(), lr.up.val());
            let module = w.module(i, p)?;
            w.put(
                format!("{module}.lora_A.weight"),
                down.transpose().into_data(),
            );
            w.put(
                format!("{module}.lora_B.weight"),
                up.transpose().into_data(),
            );
            if let Some(magnitude) = magnitude {
                w.put(format!("{module}.{MAGNITUDE}"), magnitude.into_data());
            }
        }
    }
    let at: BTreeSet<Position> = m.at.iter().copied().collect();
    let targets = w.target_names(&at)?;
    w.set("peft_type", json!(PeftType::Lora.name()));
    w.set("r", json!(r));
    w.set("lora_alpha", json!(alpha));
    w.set("lora_dropout", json!(0.0));
    w.set("target_modules", json!(targets));
    w.set("bias", json!("none"));
    w.set("fan_in_fan_out", json!(false));
    let init = match &m.form {
        Form::LowRank(l) => l.init.peft_name(),
        _ => json!(true),
    };
    w.set("init_lora_weights", init);
    w.set("use_rslora", json!(rslora));
    w.set("use_dora", json!(dora));
    Ok(())
}
