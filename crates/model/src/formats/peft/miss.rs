//! peft's `MISS` (default "balance" variant): `miss_block` `[r, out]` per targeted projection,
//! repeated over the input's shards of width r: the `shard_shared` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::ShardSharedSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec};
use serde_json::{json, Value};

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
    // `init_weights = "bat"` / `"mini"` select MiSS's other variants, with other tensors.
    adapter.refuse("init_weights", |v| v.is_null() || v.is_boolean())?;
    adapter.refuse_bias()?;
    adapter.refuse_patterns(&["rank_pattern", "alpha_pattern"])?;
    let r: usize = adapter.field("r")?;
    load_per_module(
        model,
        config,
        adapter,
        device,
        &["miss_block"],
        |at| {
            MethodSpec::new("miss")
                .with(ModificationSpec::new(Form::ShardShared(ShardSharedSpec {}), at).budget(r))
        },
        |m, t, dims| {
            if let Modification::ShardShared(s) = m {
                s.block =
                    Param::from_tensor(t.get("miss_block", [r, dims.d_out], "r and d_out")?);
            }
            Ok(())
        },
    )
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let m = w.put_per_module("MiSS", |m| match m {
        Modification::ShardShared(s) => Some(vec![("miss_block", s.block.val().into_data())]),
        _ => None,
    })?;
    w.set("peft_type", json!(PeftType::Miss.name()));
    w.set("r", json!(m.budget.unwrap_or(0)));
    w.set("miss_dropout", json!(0.0));
    w.set("mini_r", json!(1));
    w.set("bias", json!("none"));
    w.set("init_weights", Value::Bool(true));
    w.set("rank_pattern", json!({}));
    Ok(())
}
