//! AdapterHub's bottleneck adapters (`architecture: "bottleneck"`): Houlsby, Pfeiffer, the
//! parallel adapter and Compacter's PHM layers, at `attention` (`mh_adapter`) and `ffn`
//! (`output_adapter`), with `adapter_down.0` / `adapter_up` under `...adapters.NAME`.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{Bottleneck, BottleneckSpec, PhmOptions, Projection};
use peftgrid_zoo::{Composition, Form, Init, Insertion, MethodSpec, ModificationSpec, Position};
use serde_json::{json, Value};

use super::{activation, activation_name, unsupported, Out, Part, Reader};
use crate::error::{ModelError, Result};

pub(super) fn translate(part: &Part, hidden: usize) -> Result<Vec<ModificationSpec>> {
    let no = |v: &Value| v == &json!(false) || v.is_null();
    part.require("ln_before", no, "false")?;
    part.require("ln_after", no, "false")?;
    part.require("cross_adapter", no, "false")?;
    part.require("inv_adapter", Value::is_null, "null")?;
    part.require("original_ln_after", |v| v == &json!(true), "true")?;
    part.require("residual_before_ln", |v| v == &json!(true), "true")?;
    let parallel = part.bool("is_parallel", false)?;
    let ln_before = part.bool("original_ln_before", false)?;
    let insertion = match (parallel, ln_before) {
        (true, false) => Insertion::Parallel,
        (false, false) => Insertion::Sequential,
        (false, true) => Insertion::PostNorm,
        (true, true) => {
            return Err(part.err(
                "original_ln_before",
                "true with is_parallel is not supported",
            ))
        }
    };
    let factor = part.number("reduction_factor")?;
    if factor <= 0.0 {
        return Err(part.err("reduction_factor", "must be positive"));
    }
    // adapters: down_sample = int(hidden_size // reduction_factor).
    let r = (hidden as f64 / factor).floor() as usize;
    let mut at = Vec::new();
    if part.bool("mh_adapter", false)? {
        at.push(Position::Attention);
    }
    if part.bool("output_adapter", true)? {
        at.push(Position::Ffn);
    }
    if at.is_empty() {
        return Err(part.err(
            "output_adapter",
            "neither mh_adapter nor output_adapter is set",
        ));
    }
    let phm = if part.bool("phm_layer", false)? {
        for (key, want) in [
            ("shared_phm_rule", true),
            ("factorized_phm_W", true),
            ("factorized_phm_rule", false),
            ("shared_W_phm", false),
            ("phm_bias", true),
        ] {
            part.require(key, |v| v == &json!(want), &want.to_string())?;
        }
        Some(PhmOptions {
            n: part.number("phm_dim")? as usize,
            rank: part.number("phm_rank")? as usize,
        })
    } else {
        None
    };
    let composition = if part.bool("use_gating", false)? {
        Composition::Gated
    } else {
        match part.get("scaling") {
            None => Composition::Add,
            Some(Value::String(s)) if s == "learned" => Composition::Learned { init: 1.0 },
            Some(v) => match v.as_f64() {
                Some(1.0) => Composition::Add,
                Some(s) => Composition::Scaled { s },
                None => {
                    return Err(part.err(
                        "scaling",
                        format!("{v} is not supported (a number or \"learned\")"),
                    ))
                }
            },
        }
    };
    let init = match part.get("init_weights").and_then(Value::as_str) {
        Some("mam_adapter" | "lora") => Init::Lora,
        _ => Init::Bert,
    };
    let form = Form::Bottleneck(BottleneckSpec {
        act: activation(part, "non_linearity")?,
        init,
        phm,
        ..BottleneckSpec::default()
    });
    Ok(vec![ModificationSpec::new(form, &at)
        .insertion(insertion)
        .composition(composition)
        .budget(r)])
}

/// The shared PHM rule of Compacter's layers.
fn phm_rule_key(name: &str) -> String {
    format!("shared_parameters.{name}.phm_rule")
}

pub(super) fn load_phm_rule<B: Backend>(
    r: &Reader<B>,
    rule: &mut Param<Tensor<B, 3>>,
) -> Result<()> {
    let n = rule.dims()[0];
    *rule = Param::from_tensor(r.weights.tensor(
        &phm_rule_key(r.name),
        [n, n, n],
        "phm_dim³",
        r.device,
    )?);
    Ok(())
}

pub(super) fn write_phm_rule<B: Backend>(out: &mut Out, rule: &Param<Tensor<B, 3>>, name: &str) {
    out.put(phm_rule_key(name), rule.val().into_data());
}

pub(super) fn fill<B: Backend>(r: &Reader<B>, b: &mut Bottleneck<B>, key: &str) -> Result<()> {
    for (name, p) in [("adapter_down.0", &mut b.down), ("adapter_up", &mut b.up)] {
        match p {
            Projection::Dense(l) => r.linear(&format!("{key}.{name}"), l)?,
            Projection::Phm(phm) => {
                let (left, right) = (phm.left.dims(), phm.right.dims());
                phm.left = Param::from_tensor(r.tensor(&format!("{key}.{name}.W_left"), left)?);
                phm.right = Param::from_tensor(r.tensor(&format!("{key}.{name}.W_right"), right)?);
                let n = phm.bias.dims()[0];
                phm.bias = Param::from_tensor(r.tensor(&format!("{key}.{name}.b"), [n])?);
            }
            Projection::PerHead(_) | Projection::Masked(_) => {
                return Err(ModelError::BadTensor {
                    path: r.weights.path().to_path_buf(),
                    key: key.to_string(),
                    message: "per-head and sparse bottlenecks have no AdapterHub form".into(),
                })
            }
        }
    }
    r.composer(key, &mut b.compose)
}

pub(super) fn write<B: Backend>(out: &mut Out, b: &Bottleneck<B>, key: &str) {
    for (part, p) in [("adapter_down.0", &b.down), ("adapter_up", &b.up)] {
        match p {
            Projection::Dense(l) => out.linear(&format!("{key}.{part}"), l),
            Projection::Phm(phm) => {
                out.put(format!("{key}.{part}.W_left"), phm.left.val().into_data());
                out.put(format!("{key}.{part}.W_right"), phm.right.val().into_data());
                out.put(format!("{key}.{part}.b"), phm.bias.val().into_data());
            }
            // Refused by `config` before any tensor is written.
            Projection::PerHead(_) | Projection::Masked(_) => {}
        }
    }
    out.composer(key, &b.compose);
}

/// A reduction factor that gives back exactly `r` under AdapterHub's `int(hidden // factor)`.
fn reduction_factor(hidden: usize, r: usize) -> Value {
    if hidden.is_multiple_of(r) {
        json!(hidden / r)
    } else {
        json!(hidden as f64 / r as f64)
    }
}

pub(super) fn config(
    method: &MethodSpec,
    m: &ModificationSpec,
    b: &BottleneckSpec,
    hidden: usize,
) -> Result<Value> {
    if b.per_head || b.sparsity > 0.0 {
        return Err(unsupported(
            method,
            "per-head and sparse bottlenecks have no AdapterHub config",
        ));
    }
    if m.at
        .iter()
        .any(|p| !matches!(p, Position::Attention | Position::Ffn))
    {
        return Err(unsupported(
            method,
            "AdapterHub's bottlenecks sit at `attention` or `ffn` only",
        ));
    }
    let r = m.budget.unwrap_or(0).max(1);
    let scaling = match m.composition {
        Composition::Add | Composition::Gated => json!(1.0),
        Composition::Scaled { s } => json!(s),
        Composition::Learned { init: 1.0 } => json!("learned"),
        other => {
            return Err(unsupported(
                method,
                format!("bottleneck composition {other}"),
            ))
        }
    };
    let (n, rank) = b.phm.map(|p| (p.n, p.rank)).unwrap_or((4, 1));
    Ok(json!({
        "adapter_residual_before_ln": false,
        "cross_adapter": false,
        "dropout": 0.0,
        "factorized_phm_W": true,
        "factorized_phm_rule": false,
        "hypercomplex_nonlinearity": "glorot-uniform",
        "init_weights": if b.init == Init::Lora { "mam_adapter" } else { "bert" },
        "init_weights_seed": null,
        "inv_adapter": null,
        "inv_adapter_reduction_factor": null,
        "is_parallel": m.insertion == Insertion::Parallel,
        "learn_phm": true,
        "leave_out": [],
        "ln_after": false,
        "ln_before": false,
        "mh_adapter": m.at.contains(&Position::Attention),
        "non_linearity": activation_name(b.act),
        "original_ln_after": true,
        "original_ln_before": m.insertion == Insertion::PostNorm,
        "output_adapter": m.at.contains(&Position::Ffn),
        "phm_bias": true,
        "phm_c_init": "normal",
        "phm_dim": n,
        "phm_init_range": 0.0001,
        "phm_layer": b.phm.is_some(),
        "phm_rank": rank,
        // adapters: r = hidden // reduction_factor; a float factor keeps any r exact.
        "reduction_factor": reduction_factor(hidden, r),
        "residual_before_ln": true,
        "scaling": scaling,
        "shared_W_phm": false,
        "shared_phm_rule": true,
        "stochastic_depth": 0.0,
        "use_gating": m.composition == Composition::Gated,
    }))
}
