//! peft's `LORA`: `lora_A.weight` `[r, in]` and `lora_B.weight` `[out, r]` per targeted
//! projection, scaled by `lora_alpha / r` (the low-rank form with `AlphaOverRank`).

use std::collections::BTreeSet;

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::LowRankSpec;
use peftgrid_zoo::{Composition, Form, MethodSpec, Modification, ModificationSpec, Position};
use serde_json::json;

use super::{locate, positions_on_every_layer, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::{method, Model};

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    for flag in ["use_dora", "use_rslora", "fan_in_fan_out", "lora_bias"] {
        adapter.refuse(flag, |v| v.is_null() || v == &json!(false))?;
    }
    adapter.refuse("bias", |v| v.is_null() || v == &json!("none"))?;
    for pattern in ["rank_pattern", "alpha_pattern"] {
        adapter.refuse(pattern, |v| {
            v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
        })?;
    }
    let r: usize = adapter.field("r")?;
    let alpha: f64 = adapter.field("lora_alpha")?;
    let found = locate(
        model,
        adapter,
        adapter.modules(&["lora_A.weight", "lora_B.weight"]),
    )?;
    let positions = positions_on_every_layer(model, adapter, &found)?;
    let spec = MethodSpec::new("lora").with(
        ModificationSpec::new(Form::LowRank(LowRankSpec {}), &positions)
            .composition(Composition::AlphaOverRank { alpha })
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
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("a located module is a projection site");
        if let Some(Modification::LowRank(m)) = site.mods.last_mut() {
            m.down = Param::from_tensor(a);
            m.up = Param::from_tensor(b);
        }
    }
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let [m] = w.spec.modifications.as_slice() else {
        return Err(w.unsupported("peft's LoRA is one set of target modules with one r"));
    };
    let r = m.budget.unwrap_or(0);
    let alpha = match m.composition {
        Composition::AlphaOverRank { alpha } => alpha,
        Composition::Scaled { s } => s * r as f64,
        Composition::Add => r as f64,
        _ => return Err(w.unsupported("learned or gated LoRA scaling")),
    };
    for i in 0..w.layers.len() {
        for &p in &m.at {
            let Some(Modification::LowRank(lr)) =
                w.layers[i].sites.get(p).and_then(|s| s.mods.first())
            else {
                continue;
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
    w.set("init_lora_weights", json!(true));
    w.set("use_rslora", json!(false));
    w.set("use_dora", json!(false));
    Ok(())
}
