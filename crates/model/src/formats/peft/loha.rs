//! peft's `LOHA`: `hada_w1_a` `[out, r]`, `hada_w1_b` `[r, in]` and the same pair `hada_w2_*` per
//! targeted projection, ΔW = (w1_a w1_b) ⊙ (w2_a w2_b) · α/r: the `hadamard` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::HadamardSpec;
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
    adapter.refuse_patterns(&["rank_pattern", "alpha_pattern"])?;
    let r: usize = adapter.field("r")?;
    let alpha: f64 = adapter.field("alpha")?;
    let why = "r and the projection's widths";
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"],
        |at| {
            MethodSpec::new("loha").with(
                ModificationSpec::new(Form::Hadamard(HadamardSpec {}), at)
                    .composition(Composition::AlphaOverRank { alpha })
                    .budget(r),
            )
        },
        |m, t, dims| {
            if let Modification::Hadamard(h) = m {
                // peft's layouts are ΔW's `[out, in]`; ours are transposed.
                h.up1 =
                    Param::from_tensor(t.get::<2>("hada_w1_a", [dims.d_out, r], why)?.transpose());
                h.down1 =
                    Param::from_tensor(t.get::<2>("hada_w1_b", [r, dims.d_in], why)?.transpose());
                h.up2 =
                    Param::from_tensor(t.get::<2>("hada_w2_a", [dims.d_out, r], why)?.transpose());
                h.down2 =
                    Param::from_tensor(t.get::<2>("hada_w2_b", [r, dims.d_in], why)?.transpose());
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("LoHa", |m| match m {
        Modification::Hadamard(h) => Some(vec![
            ("hada_w1_a", h.up1.val().transpose().into_data()),
            ("hada_w1_b", h.down1.val().transpose().into_data()),
            ("hada_w2_a", h.up2.val().transpose().into_data()),
            ("hada_w2_b", h.down2.val().transpose().into_data()),
        ]),
        _ => None,
    })?;
    let r = m.budget.unwrap_or(0);
    w.set("peft_type", json!(PeftType::Loha.name()));
    w.set("r", json!(r));
    w.set("alpha", json!(w.alpha_of(&m, r)?));
    w.set("rank_dropout", json!(0.0));
    w.set("module_dropout", json!(0.0));
    w.set("use_effective_conv2d", json!(false));
    w.set("init_weights", json!(true));
    w.set("rank_pattern", json!({}));
    w.set("alpha_pattern", json!({}));
    Ok(())
}
