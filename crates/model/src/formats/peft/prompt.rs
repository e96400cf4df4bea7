//! peft's `PROMPT_TUNING`: `prompt_embeddings` `[l, d]` prepended to the input embeddings (the
//! prompt form at `input`).

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::PromptSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec, Position};
use serde_json::json;

use super::{PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::{method, Model};

/// `num_virtual_tokens`, with peft's encoder-decoder option refused.
pub(super) fn virtual_tokens(adapter: &PeftAdapter) -> Result<usize> {
    adapter.refuse("num_transformer_submodules", |v| {
        v.is_null() || v == &json!(1)
    })?;
    adapter.field("num_virtual_tokens")
}

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    let l = virtual_tokens(adapter)?;
    let d = config.dims().hidden;
    let spec = MethodSpec::new("prompt")
        .with(ModificationSpec::new(Form::Prompt(PromptSpec {}), &[Position::Input]).budget(l));
    method::apply(model, config, &spec, device)?;
    let embeddings = adapter.weights.tensor(
        "prompt_embeddings",
        [l, d],
        "num_virtual_tokens × hidden_size",
        device,
    )?;
    if let Some(Modification::Prompt(p)) = model.parts_mut().input.mods.last_mut() {
        p.embeddings = Param::from_tensor(embeddings);
    }
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let Some(Modification::Prompt(p)) = w.input.mods.first() else {
        return Err(w.unsupported(
            "peft prepends prompts to the input embeddings (`input`); this prompt is elsewhere",
        ));
    };
    let embeddings = p.embeddings.val();
    let l = embeddings.dims()[0];
    w.put("prompt_embeddings".into(), embeddings.into_data());
    w.prompt_learning(PeftType::PromptTuning, l);
    w.set("prompt_tuning_init", json!("RANDOM"));
    Ok(())
}
