//! peft's `PREFIX_TUNING`: `prompt_embeddings` `[l, L·2·d]`, every layer's keys and values
//! already through the reparameterisation (peft stores what it deploys), handed to transformers
//! as cached keys and values: the prefix form at `head` with `shift_positions`.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::PrefixSpec;
use peftgrid_zoo::shared::PrefixSource;
use peftgrid_zoo::{Composition, Form, MethodSpec, ModificationSpec, Position};
use serde_json::json;

use super::prompt::virtual_tokens;
use super::{PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::{method, Model};

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    let l = virtual_tokens(adapter)?;
    let dims = config.dims();
    let layers = model.num_layers();
    let spec = MethodSpec::new("prefix").with(
        ModificationSpec::new(
            Form::Prefix(PrefixSpec {
                reparam: None,
                shift_positions: true,
            }),
            &[Position::Head],
        )
        .budget(l),
    );
    method::apply(model, config, &spec, device)?;
    // peft saves the prefixes already through its projection, if it used one: [l, L·2·d].
    let flat = adapter.weights.tensor(
        "prompt_embeddings",
        [l, layers * 2 * dims.hidden],
        "num_virtual_tokens × (layers · 2 · hidden_size)",
        device,
    )?;
    if let Some(g) = model.parts_mut().shared.prefixes.last_mut() {
        g.source = PrefixSource::Flat(Param::from_tensor(flat));
    }
    // peft passes the prefixes to transformers as cached keys/values, and transformers numbers
    // the real tokens after them: the spec says `shift_positions`, and `apply` shifted them.
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    // peft hands a prefix to transformers as cached keys/values, which numbers the real tokens
    // after it: a prefix trained without that shift computes otherwise.
    let shifts = w
        .spec
        .modifications
        .iter()
        .all(|m| matches!(&m.form, Form::Prefix(p) if p.shift_positions));
    if !shifts {
        return Err(w.unsupported(
            "peft numbers the real tokens after a prefix (shift_positions = true); this one leaves positions alone (AdapterHub's way)",
        ));
    }
    let ([g], [m]) = (
        w.shared.prefixes.as_slice(),
        w.spec.modifications.as_slice(),
    ) else {
        return Err(w.unsupported("peft's prefix tuning is one prefix at every layer's attention"));
    };
    if m.at != [Position::Head] || m.composition != Composition::Add {
        return Err(w.unsupported(
            "peft's prefixes sit at the attention heads (`head`), added without a gate",
        ));
    }
    let flat = match &g.source {
        PrefixSource::Flat(p) => p.val(),
        PrefixSource::Mlp(m) => m.flat(),
    };
    let l = flat.dims()[0];
    w.put("prompt_embeddings".into(), flat.into_data());
    w.prompt_learning(PeftType::PrefixTuning, l);
    w.set("prefix_projection", json!(false));
    let hidden = w.config.dims().hidden;
    w.set("encoder_hidden_size", json!(hidden));
    Ok(())
}
