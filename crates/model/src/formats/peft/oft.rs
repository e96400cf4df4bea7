//! peft's `OFT`: `oft_R.weight` `[in / b, b(b−1)/2]` per targeted projection, each row the upper
//! triangle of a skew-symmetric Q whose Cayley rotation (peft's Neumann series by default)
//! turns a block of b inputs: the `orthogonal` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::OrthogonalSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec};
use serde_json::{json, Value};

use super::{config_error, load_per_module, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::Model;

const UPPER: &str = "oft_R.weight";

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse_flags(&["coft", "block_share", "fan_in_fan_out"])?;
    adapter.refuse_bias()?;
    let neumann = adapter
        .field::<Option<bool>>("use_cayley_neumann")?
        .unwrap_or(true);
    let terms = adapter
        .field::<Option<usize>>("num_cayley_neumann_terms")?
        .unwrap_or(peftgrid_zoo::forms::NEUMANN_TERMS);
    // The block size from the saved triangles, b(b−1)/2 entries each (the config may give it
    // as `oft_block_size` or, with 0 there, through r = in / b).
    let entries = adapter
        .weights
        .keys()
        .find(|k| k.ends_with(UPPER))
        .and_then(|k| adapter.weights.shape(k))
        .and_then(|s| s.last().copied())
        .ok_or_else(|| {
            config_error(
                &adapter.config_path(),
                "oft_block_size",
                "no `oft_R.weight` in the adapter",
            )
        })?;
    let b = (2..=4096)
        .find(|b| b * (b - 1) / 2 == entries)
        .ok_or_else(|| {
            config_error(
                &adapter.config_path(),
                "oft_block_size",
                format!("`oft_R.weight` rows of {entries} entries are no b(b−1)/2"),
            )
        })?;
    if let Some(size) = adapter.config.get("oft_block_size").and_then(Value::as_u64) {
        if size != 0 && size as usize != b {
            return Err(config_error(
                &adapter.config_path(),
                "oft_block_size",
                format!("{size}, but the saved blocks are {b} × {b}"),
            ));
        }
    }
    let spec = OrthogonalSpec {
        neumann_terms: if neumann { terms } else { 0 },
    };
    load_per_module(
        model,
        config,
        adapter,
        device,
        &[UPPER],
        |at| {
            MethodSpec::new("oft").with(ModificationSpec::new(Form::Orthogonal(spec), at).budget(b))
        },
        |m, t, dims| {
            if let Modification::Orthogonal(o) = m {
                let shape = [dims.d_in / b, entries];
                o.upper = Param::from_tensor(t.get(UPPER, shape, "the block size and d_in")?);
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let mut terms = None;
    let m = w.put_per_module("OFT", |m| match m {
        Modification::Orthogonal(o) => Some(vec![(UPPER, o.upper.val().into_data())]),
        _ => None,
    })?;
    if let Form::Orthogonal(o) = &m.form {
        terms = Some(o.neumann_terms);
    }
    let terms = terms.unwrap_or(peftgrid_zoo::forms::NEUMANN_TERMS);
    w.set("peft_type", json!(PeftType::Oft.name()));
    w.set("r", json!(0));
    w.set("oft_block_size", json!(m.budget.unwrap_or(0)));
    w.set("use_cayley_neumann", json!(terms > 0));
    w.set("num_cayley_neumann_terms", json!(terms.max(1)));
    w.set("module_dropout", json!(0.0));
    w.set("coft", json!(false));
    w.set("eps", json!(6e-5));
    w.set("block_share", json!(false));
    w.set("fan_in_fan_out", json!(false));
    w.set("bias", json!("none"));
    w.set("init_weights", json!(true));
    Ok(())
}
