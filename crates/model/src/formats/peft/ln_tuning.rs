//! peft's `LN_TUNING`: `ln_tuning_layers.weight` and `.bias` for every LayerNorm, trained copies
//! that replace the pretrained ones: the `ln_tuning` preset (LayerNorms unfrozen, nothing
//! added). Loading writes them into the model's LayerNorms; saving writes those out.

use burn::module::Param;
use burn::nn::LayerNorm;
use burn::prelude::*;
use peftgrid_zoo::{MethodSpec, ParamGroup};
use serde_json::json;

use super::{config_error, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::Model;

const WEIGHT: &str = "ln_tuning_layers.weight";
const BIAS: &str = "ln_tuning_layers.bias";

/// Calls `f` with the transformers module path and the module of every LayerNorm of an
/// encoder (text or ViT).
fn for_each_norm<B: Backend>(
    model: &mut Model<B>,
    mut f: impl FnMut(&str, &mut LayerNorm<B>) -> Result<()>,
) -> Result<()> {
    let keys = |m: &Model<B>, i| m.layer_keys(i);
    let key_list: Vec<_> = (0..model.num_layers()).map(|i| keys(model, i)).collect();
    let (layers, top) = match model {
        Model::Text(m) => (
            &mut m.layers,
            ("embeddings.LayerNorm", &mut m.embeddings.norm),
        ),
        Model::Vit(m) => (&mut m.layers, ("layernorm", &mut m.norm)),
        Model::Seq2Seq(_) => {
            return Err(crate::formats::seq2seq_unsupported(
                "a peft LN-tuning adapter",
            ))
        }
    };
    f(top.0, top.1)?;
    for (layer, k) in layers.iter_mut().zip(&key_list) {
        f(&k.attention_norm, &mut layer.attention_norm)?;
        f(&k.ffn_norm, &mut layer.ffn_norm)?;
    }
    Ok(())
}

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    _config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    let modules = adapter.modules(&[WEIGHT, BIAS]);
    if modules.is_empty() {
        return Err(config_error(
            &adapter.config_path(),
            "target_modules",
            "no LayerNorm in the adapter",
        ));
    }
    let mut used = 0;
    for_each_norm(model, |path, norm| {
        let Some((_, names)) = modules
            .iter()
            .find(|(m, _)| *m == path || m.ends_with(&format!(".{path}")))
        else {
            return Err(ModelError::MissingTensor {
                path: adapter.weights.path().to_path_buf(),
                key: format!("{path}.{WEIGHT}"),
                tried: "the adapter's keys (peft's LN tuning replaces every LayerNorm)".into(),
            });
        };
        let [d] = norm.gamma.dims();
        let why = "the LayerNorm's width";
        let get = |suffix: &str| -> Result<Tensor<B, 1>> {
            let name = adapter.tensor_name(names, suffix, path)?;
            adapter.weights.tensor(name, [d], why, device)
        };
        norm.gamma = Param::from_tensor(get(WEIGHT)?);
        norm.beta = Some(Param::from_tensor(get(BIAS)?));
        used += 1;
        Ok(())
    })?;
    if used != modules.len() {
        return Err(config_error(
            &adapter.config_path(),
            "target_modules",
            format!(
                "{} LayerNorms in the adapter, {used} in the model",
                modules.len()
            ),
        ));
    }
    Ok(MethodSpec::new("ln_tuning").unfreezing(ParamGroup::LayerNorms))
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let mut model = w.model.clone();
    let mut out = Vec::new();
    for_each_norm(&mut model, |path, norm| {
        out.push((
            path.to_string(),
            norm.gamma.val().into_data(),
            norm.beta.as_ref().map(|b| b.val().into_data()),
        ));
        Ok(())
    })?;
    for (path, weight, bias) in out {
        let module = format!("base_model.model.{}{path}", w.prefix);
        w.put(format!("{module}.{WEIGHT}"), weight);
        if let Some(bias) = bias {
            w.put(format!("{module}.{BIAS}"), bias);
        }
    }
    let target = match w.model {
        Model::Vit(_) => json!(["layernorm", "layernorm_before", "layernorm_after"]),
        _ => json!(["LayerNorm"]),
    };
    w.set("peft_type", json!(PeftType::LnTuning.name()));
    w.set("target_modules", target);
    Ok(())
}
