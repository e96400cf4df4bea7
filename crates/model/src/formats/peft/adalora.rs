//! peft's `ADALORA`: `lora_A` `[r, in]`, `lora_E` `[r, 1]` and `lora_B` `[out, r]` per targeted
//! projection (no `.weight` suffix), ΔW = B (A ⊙ E) · α/(r + 10⁻⁵) with r = `init_r`: the
//! `singular_value` form. A `rank_pattern` (the ranks a finished run kept) is refused: one
//! modification of the design space has one rank.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{RankSchedule, SingularValueSpec};
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
    adapter.refuse_patterns(&["rank_pattern"])?;
    // peft builds the layers with `init_r`; its inherited `r` is unused.
    let r: usize = adapter.field("init_r")?;
    let alpha: f64 = adapter.field("lora_alpha")?;
    // The budget schedule, so that training the loaded adapter further continues it.
    let number = |name: &str, default: f64| -> Result<f64> {
        Ok(adapter.field::<Option<f64>>(name)?.unwrap_or(default))
    };
    let defaults = RankSchedule::new(r);
    let schedule = RankSchedule {
        target_r: adapter.field::<Option<usize>>("target_r")?.unwrap_or(r),
        tinit: adapter.field::<Option<usize>>("tinit")?.unwrap_or(0),
        tfinal: adapter.field::<Option<usize>>("tfinal")?.unwrap_or(0),
        delta_t: adapter.field::<Option<usize>>("deltaT")?.unwrap_or(1),
        beta1: number("beta1", defaults.beta1)?,
        beta2: number("beta2", defaults.beta2)?,
        orth_reg_weight: number("orth_reg_weight", defaults.orth_reg_weight)?,
    };
    let why = "init_r and the projection's widths";
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["lora_A", "lora_E", "lora_B"],
        |at| {
            MethodSpec::new("adalora").with(
                ModificationSpec::new(
                    Form::SingularValue(SingularValueSpec {
                        schedule: Some(schedule),
                    }),
                    at,
                )
                .composition(Composition::AlphaOverRank { alpha })
                .budget(r),
            )
        },
        |m, t, dims| {
            if let Modification::SingularValue(s) = m {
                s.right =
                    Param::from_tensor(t.get::<2>("lora_A", [r, dims.d_in], why)?.transpose());
                let e: Tensor<B, 2> = t.get("lora_E", [r, 1], why)?;
                s.values = Param::from_tensor(e.reshape([r]));
                s.left =
                    Param::from_tensor(t.get::<2>("lora_B", [dims.d_out, r], why)?.transpose());
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("AdaLoRA", |m| match m {
        Modification::SingularValue(s) => {
            let [r] = s.values.dims();
            Some(vec![
                ("lora_A", s.right.val().transpose().into_data()),
                ("lora_E", s.values.val().reshape([r, 1]).into_data()),
                ("lora_B", s.left.val().transpose().into_data()),
            ])
        }
        _ => None,
    })?;
    let r = m.budget.unwrap_or(0);
    let schedule = match &m.form {
        Form::SingularValue(SingularValueSpec {
            schedule: Some(s), ..
        }) => s.clone(),
        _ => RankSchedule::new(r),
    };
    w.set("peft_type", json!(PeftType::AdaLora.name()));
    w.set("init_r", json!(r));
    w.set("target_r", json!(schedule.target_r));
    w.set("tinit", json!(schedule.tinit));
    w.set("tfinal", json!(schedule.tfinal));
    w.set("deltaT", json!(schedule.delta_t));
    w.set("beta1", json!(schedule.beta1));
    w.set("beta2", json!(schedule.beta2));
    w.set("orth_reg_weight", json!(schedule.orth_reg_weight));
    w.set("r", json!(r));
    w.set("lora_alpha", json!(w.alpha_of(&m, r)?));
    w.set("lora_dropout", json!(0.0));
    w.set("fan_in_fan_out", json!(false));
    w.set("bias", json!("none"));
    w.set("rank_pattern", json!(null));
    // peft requires a positive total_step; the run's own count is not part of the method.
    w.set("total_step", json!(schedule.tinit + schedule.tfinal + 1));
    Ok(())
}
