//! AdapterHub's LoRA (`architecture: "lora"`, `composition_mode: "add"`): `lora_A` / `lora_B`
//! under `...loras.NAME` of q, k, v (`attn_matrices`), W₁ (`intermediate_lora`) and W₂
//! (`output_lora`). The same architecture in `scale` mode is (IA)³, in [`super::rescale`].

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{LowRank, LowRankSpec};
use peftgrid_zoo::{Composition, Form, MethodSpec, ModificationSpec, Position};
use serde_json::{json, Value};

use super::{rescale, unsupported, Out, Part, Reader};
use crate::error::{ModelError, Result};

pub(super) fn translate(part: &Part) -> Result<Vec<ModificationSpec>> {
    let no = |v: &Value| v == &json!(false) || v.is_null();
    part.require("use_dora", no, "false")?;
    part.require("vera_d", Value::is_null, "null")?;
    part.require("vera_b", Value::is_null, "null")?;
    let mut at = Vec::new();
    if part.bool("selfattn_lora", true)? {
        let matrices = part
            .get("attn_matrices")
            .and_then(Value::as_array)
            .ok_or_else(|| part.err("attn_matrices", "missing"))?;
        for m in matrices {
            at.push(match m.as_str() {
                Some("q") => Position::Q,
                Some("k") => Position::K,
                Some("v") => Position::V,
                _ => return Err(part.err("attn_matrices", format!("{m} is not q, k or v"))),
            });
        }
    }
    if part.bool("intermediate_lora", false)? {
        at.push(Position::FfnIn);
    }
    if part.bool("output_lora", false)? {
        at.push(Position::FfnOut);
    }
    let r = part.number("r")? as usize;
    let alpha = part.number("alpha")?;
    let gated = part.bool("use_gating", false)?;
    match part.str("composition_mode")? {
        "add" => Ok(vec![ModificationSpec::new(
            Form::LowRank(LowRankSpec::default()),
            &at,
        )
        .composition(if gated {
            Composition::Gated
        } else {
            Composition::AlphaOverRank { alpha }
        })
        .budget(r)]),
        "scale" => rescale::translate(part, &at, r, alpha, gated),
        other => Err(part.err("composition_mode", format!("`{other}` is not add or scale"))),
    }
}

pub(super) fn fill<B: Backend>(r: &Reader<B>, l: &mut LowRank<B>, key: &str) -> Result<()> {
    let [d_in, rank] = l.down.dims();
    let d_out = l.up.dims()[1];
    l.down = Param::from_tensor(r.linear_weight(&format!("{key}.lora_A"), d_in, rank)?);
    l.up = Param::from_tensor(r.linear_weight(&format!("{key}.lora_B"), rank, d_out)?);
    r.composer(key, &mut l.compose)
}

pub(super) fn write<B: Backend>(out: &mut Out, l: &LowRank<B>, key: &str) -> Result<()> {
    if l.merged {
        return Err(ModelError::Unsupported {
            what: "saving a merged LoRA".into(),
            why: "unmerge it first".into(),
        });
    }
    out.put(
        format!("{key}.lora_A"),
        l.down.val().transpose().into_data(),
    );
    out.put(format!("{key}.lora_B"), l.up.val().transpose().into_data());
    out.composer(key, &l.compose);
    Ok(())
}

/// The `lora` config AdapterHub writes for LoRA (`ia3` false) or (IA)³ (`ia3` true).
pub(super) fn lora_config(method: &MethodSpec, m: &ModificationSpec, ia3: bool) -> Result<Value> {
    let gated = m.composition == Composition::Gated;
    let mut matrices = Vec::new();
    for p in &m.at {
        match p {
            Position::Q => matrices.push("q"),
            Position::K => matrices.push("k"),
            Position::V => matrices.push("v"),
            Position::FfnIn | Position::FfnOut => {}
            other => {
                return Err(unsupported(
                    method,
                    format!("AdapterHub's LoRA/(IA)³ cannot sit at `{other}`"),
                ))
            }
        }
    }
    let (r, alpha) = match m.composition {
        _ if ia3 => (1, 1.0),
        Composition::AlphaOverRank { alpha } => (m.budget.unwrap_or(0), alpha),
        // Gated LoRA ignores α/r; AdapterHub still stores them.
        Composition::Gated => (m.budget.unwrap_or(0), m.budget.unwrap_or(0) as f64),
        other => return Err(unsupported(method, format!("LoRA composition {other}"))),
    };
    // AdapterHub's alpha is an int; keep whole numbers whole.
    let alpha = if alpha.fract() == 0.0 {
        json!(alpha as i64)
    } else {
        json!(alpha)
    };
    Ok(json!({
        "alpha": alpha,
        "architecture": "lora",
        "attn_matrices": matrices,
        "composition_mode": if ia3 { "scale" } else { "add" },
        "dropout": 0.0,
        "dtype": null,
        "init_weights": if ia3 { "ia3" } else { "lora" },
        "init_weights_seed": null,
        "intermediate_lora": m.at.contains(&Position::FfnIn),
        "leave_out": [],
        "output_lora": m.at.contains(&Position::FfnOut),
        "r": r,
        "selfattn_lora": !matrices.is_empty(),
        "use_dora": false,
        "use_gating": gated,
        "vera_b": null,
        "vera_d": null,
    }))
}

pub(super) fn config(method: &MethodSpec, m: &ModificationSpec) -> Result<Value> {
    lora_config(method, m, false)
}
