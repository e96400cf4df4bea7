//! peft's `LOKR`: `lokr_w1` `[a, c]` and `lokr_w2` `[b, d]` (or `lokr_w2_a` `[b, r]` ·
//! `lokr_w2_b` `[r, d]`) per targeted projection, ΔW = (w1 ⊗ w2) · α/r with peft's
//! factorisation of the widths: the `factored_kronecker` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{lokr_shapes, FactoredKroneckerSpec};
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
    adapter.refuse_flags(&["decompose_both"])?;
    adapter.refuse("decompose_factor", |v| v.is_null() || v == &json!(-1))?;
    let r: usize = adapter.field("r")?;
    let alpha: f64 = adapter.field("alpha")?;
    let why = "peft's factorisation of the projection's widths and r";
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["lokr_w1", "lokr_w2", "lokr_w2_a", "lokr_w2_b"],
        |at| {
            MethodSpec::new("lokr").with(
                ModificationSpec::new(Form::FactoredKronecker(FactoredKroneckerSpec {}), at)
                    .composition(Composition::AlphaOverRank { alpha })
                    .budget(r),
            )
        },
        |m, t, dims| {
            let Modification::FactoredKronecker(k) = m else {
                return Ok(());
            };
            let ((a, b), (c, d), low_rank) = lokr_shapes(r, dims);
            k.w1 = Param::from_tensor(t.get::<2>("lokr_w1", [a, c], why)?.transpose());
            if low_rank {
                let w2_a = t.get::<2>("lokr_w2_a", [b, r], why)?;
                let w2_b = t.get::<2>("lokr_w2_b", [r, d], why)?;
                k.w2_down = Some(Param::from_tensor(w2_b.transpose()));
                k.w2_up = Some(Param::from_tensor(w2_a.transpose()));
            } else {
                k.w2 = Some(Param::from_tensor(
                    t.get::<2>("lokr_w2", [b, d], why)?.transpose(),
                ));
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("LoKr", |m| {
        let Modification::FactoredKronecker(k) = m else {
            return None;
        };
        let mut out = vec![("lokr_w1", k.w1.val().transpose().into_data())];
        match (&k.w2, &k.w2_down, &k.w2_up) {
            (Some(w2), _, _) => out.push(("lokr_w2", w2.val().transpose().into_data())),
            (None, Some(down), Some(up)) => {
                out.push(("lokr_w2_a", up.val().transpose().into_data()));
                out.push(("lokr_w2_b", down.val().transpose().into_data()));
            }
            _ => {}
        }
        Some(out)
    })?;
    let r = m.budget.unwrap_or(0);
    w.set("peft_type", json!(PeftType::Lokr.name()));
    w.set("r", json!(r));
    w.set("alpha", json!(w.alpha_of(&m, r)?));
    w.set("rank_dropout", json!(0.0));
    w.set("module_dropout", json!(0.0));
    w.set("use_effective_conv2d", json!(false));
    w.set("decompose_both", json!(false));
    w.set("decompose_factor", json!(-1));
    w.set("rank_dropout_scale", json!(false));
    w.set("init_weights", json!(true));
    w.set("rank_pattern", json!({}));
    w.set("alpha_pattern", json!({}));
    Ok(())
}
