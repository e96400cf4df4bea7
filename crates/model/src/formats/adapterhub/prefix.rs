//! AdapterHub's prefix tuning (`architecture: "prefix_tuning"`): one generator for the encoder's
//! self-attention (its MLP `wte` → `control_trans`, or the flat `control_trans` of `flat: true`),
//! stored once under `prefix_tuning.prefix_tunings.NAME` and again under every layer's pool; and,
//! with `use_gating`, UniPELT's per-layer gate under `...prefix_gates.NAME`. AdapterHub leaves the
//! real tokens' positions alone (`shift_positions = false`).

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{Prefix, PrefixSpec};
use peftgrid_zoo::shared::{PrefixGenerator, PrefixSource};
use peftgrid_zoo::{Composition, Form, MethodSpec, ModificationSpec, Position};
use serde_json::{json, Value};

use super::{unsupported, Out, Part, Reader};
use crate::checkpoint::Checkpoint;
use crate::error::Result;

pub(super) fn translate(part: &Part) -> Result<Vec<ModificationSpec>> {
    part.require("encoder_prefix", |v| v == &json!(true), "true")?;
    part.require("non_linearity", |v| v == &json!("tanh"), "\"tanh\"")?;
    part.require("shared_gating", |v| v == &json!(true), "true")?;
    let flat = part.bool("flat", false)?;
    let reparam = if flat {
        None
    } else {
        Some(part.number("bottleneck_size")? as usize)
    };
    let gated = part.bool("use_gating", false)?;
    let l = part.number("prefix_length")? as usize;
    Ok(vec![ModificationSpec::new(
        Form::Prefix(PrefixSpec {
            reparam,
            shift_positions: false,
        }),
        &[Position::Head],
    )
    .composition(if gated {
        Composition::Gated
    } else {
        Composition::Add
    })
    .budget(l)])
}

/// The module's own copy and every layer's pool copy of the generator.
fn bases(name: &str, layers: usize) -> impl Iterator<Item = String> + '_ {
    std::iter::once(format!("prefix_tuning.prefix_tunings.{name}.self_prefix")).chain(
        (0..layers).map(move |i| {
            format!(
            "encoder.layer.{i}.attention.self.prefix_tuning.pool.prefix_tunings.{name}.self_prefix"
        )
        }),
    )
}

/// Where the prefix generator's tensor `suffix` is stored. AdapterHub saves the one module under
/// `prefix_tuning.prefix_tunings.*` and once more per layer (`...pool.prefix_tunings.*`); in the
/// `.bin` the copies are one pickled object, and only some of the names survive reading, so
/// any copy will do (they are identical). burn-store's pickle reader also renumbers the
/// children of an `nn.Sequential` contiguously, so `control_trans.2` (after the parameter-less
/// Tanh at index 1) reads back from a `.bin` as `control_trans.1`.
fn prefix_tensor(w: &Checkpoint, name: &str, layers: usize, suffix: &str) -> String {
    let suffixes = [
        suffix.to_string(),
        suffix.replace("control_trans.2.", "control_trans.1."),
    ];
    let main = format!("prefix_tuning.prefix_tunings.{name}.self_prefix.{suffix}");
    suffixes
        .iter()
        .flat_map(|suffix| bases(name, layers).map(move |base| format!("{base}.{suffix}")))
        .find(|k| w.contains(k))
        .unwrap_or(main)
}

pub(super) fn load_generator<B: Backend>(
    r: &Reader<B>,
    g: &mut PrefixGenerator<B>,
    layers: usize,
    d: usize,
) -> Result<()> {
    let key = |suffix: &str| prefix_tensor(r.weights, r.name, layers, suffix);
    let width = layers * 2 * d;
    let why = "prefix_length, bottleneck_size and the model's widths";
    match &mut g.source {
        PrefixSource::Flat(p) => {
            let l = p.dims()[0];
            let flat: Tensor<B, 1> = r.weights.tensor(
                &key("control_trans"),
                [l * width],
                "prefix_length × layers × 2 × hidden_size",
                r.device,
            )?;
            *p = Param::from_tensor(flat.reshape([l, width]));
        }
        PrefixSource::Mlp(mlp) => {
            let [l, _] = mlp.wte.dims();
            let mid = mlp.hidden.weight.dims()[1];
            let linear_weight =
                |key: &str, d_in, d_out| r.weights.linear_weight(key, d_in, d_out, why, r.device);
            mlp.wte =
                Param::from_tensor(
                    r.weights
                        .tensor(&key("wte.weight"), [l, d], why, r.device)?,
                );
            mlp.hidden.weight =
                Param::from_tensor(linear_weight(&key("control_trans.0.weight"), d, mid)?);
            mlp.hidden.bias = Some(Param::from_tensor(r.weights.tensor(
                &key("control_trans.0.bias"),
                [mid],
                why,
                r.device,
            )?));
            mlp.out.weight =
                Param::from_tensor(linear_weight(&key("control_trans.2.weight"), mid, width)?);
            mlp.out.bias = Some(Param::from_tensor(r.weights.tensor(
                &key("control_trans.2.bias"),
                [width],
                why,
                r.device,
            )?));
        }
    }
    Ok(())
}

pub(super) fn write_generator<B: Backend>(
    out: &mut Out,
    g: &PrefixGenerator<B>,
    name: &str,
    layers: usize,
) {
    // The library stores the module once and again under every layer's pool; write both.
    for base in bases(name, layers) {
        match &g.source {
            PrefixSource::Flat(p) => {
                let n = p.val().shape().num_elements();
                out.put(
                    format!("{base}.control_trans"),
                    p.val().reshape([n]).into_data(),
                );
            }
            PrefixSource::Mlp(mlp) => {
                out.put(format!("{base}.wte.weight"), mlp.wte.val().into_data());
                out.linear(&format!("{base}.control_trans.0"), &mlp.hidden);
                out.linear(&format!("{base}.control_trans.2"), &mlp.out);
            }
        }
    }
}

/// UniPELT's prefix gate of one layer: `key.weight` `[1, d]` and `key.bias` `[1]`.
pub(super) fn fill_gate<B: Backend>(r: &Reader<B>, p: &mut Prefix<B>, key: &str) -> Result<()> {
    if let Some(g) = &mut p.compose.gate {
        r.linear(key, g)?;
    }
    Ok(())
}

pub(super) fn write_gate<B: Backend>(out: &mut Out, p: &Prefix<B>, key: &str) {
    if let Some(g) = &p.compose.gate {
        out.linear(key, g);
    }
}

pub(super) fn config(method: &MethodSpec, m: &ModificationSpec, p: &PrefixSpec) -> Result<Value> {
    if p.shift_positions {
        return Err(unsupported(
            method,
            "AdapterHub's prefixes leave the token positions alone; this one shifts them (peft's way, shift_positions = true)",
        ));
    }
    if m.at != [Position::Head] || !matches!(m.composition, Composition::Add | Composition::Gated) {
        return Err(unsupported(
            method,
            format!(
                "AdapterHub has prefixes at `head`, added or gated, not at {:?} with {}",
                m.at, m.composition
            ),
        ));
    }
    Ok(json!({
        "architecture": "prefix_tuning",
        "bottleneck_size": p.reparam.unwrap_or(512),
        "cross_prefix": true,
        "dropout": 0.0,
        "encoder_prefix": true,
        "flat": p.reparam.is_none(),
        "init_weights_seed": null,
        "leave_out": [],
        "non_linearity": "tanh",
        "prefix_length": m.budget.unwrap_or(0),
        "shared_gating": true,
        "use_gating": m.composition == Composition::Gated,
    }))
}
