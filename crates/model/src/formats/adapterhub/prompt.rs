//! AdapterHub's prompt tuning (`architecture: "prompt_tuning"`, `combine: "prefix"`): `[l, d]`
//! embeddings prepended at the embedding output (after positions and LayerNorm), the prompt
//! form at `embeddings`.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{Prompt, PromptSpec};
use peftgrid_zoo::{Form, MethodSpec, ModificationSpec, Position};
use serde_json::{json, Value};

use super::{unsupported, Out, Part, Reader};
use crate::error::Result;

pub(super) fn translate(part: &Part) -> Result<Vec<ModificationSpec>> {
    part.require("combine", |v| v == &json!("prefix"), "\"prefix\"")?;
    let l = part.number("prompt_length")? as usize;
    Ok(vec![ModificationSpec::new(
        Form::Prompt(PromptSpec {}),
        &[Position::Embeddings],
    )
    .budget(l)])
}

fn key(name: &str) -> String {
    format!("prompt_tuning.prompt_tunings.{name}.prompt_embedding.weight")
}

pub(super) fn load<B: Backend>(r: &Reader<B>, p: &mut Prompt<B>, d: usize) -> Result<()> {
    let l = p.embeddings.dims()[0];
    p.embeddings = Param::from_tensor(r.weights.tensor(
        &key(r.name),
        [l, d],
        "prompt_length × hidden_size",
        r.device,
    )?);
    Ok(())
}

pub(super) fn write<B: Backend>(out: &mut Out, p: &Prompt<B>, name: &str) {
    out.put(key(name), p.embeddings.val().into_data());
}

pub(super) fn config(method: &MethodSpec, m: &ModificationSpec) -> Result<Value> {
    if m.at != [Position::Embeddings] {
        return Err(unsupported(
            method,
            "AdapterHub prepends prompts at the embedding output (`embeddings`), not at `input`",
        ));
    }
    Ok(json!({
        "architecture": "prompt_tuning",
        "combine": "prefix",
        "init_weights_seed": null,
        "prompt_init": "random_uniform",
        "prompt_init_text": null,
        "prompt_length": m.budget.unwrap_or(0),
    }))
}
