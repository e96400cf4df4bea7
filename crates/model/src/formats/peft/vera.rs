//! peft's `VERA`: `vera_lambda_b` `[out]` and `vera_lambda_d` `[r]` per targeted projection, and
//! the shared frozen bases `base_model.vera_A` `[r, max in]` and `base_model.vera_B` `[max out,
//! r]`, ΔW = diag(λ_b) B[:out] diag(λ_d) A[:, :in]: the `random_basis` form.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::RandomBasisSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec};
use serde_json::json;

use super::{config_error, load_per_module, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::Model;

const BASIS_A: &str = "base_model.vera_A";
const BASIS_B: &str = "base_model.vera_B";

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse_flags(&["fan_in_fan_out"])?;
    adapter.refuse_bias()?;
    if !adapter.weights.contains(BASIS_A) || !adapter.weights.contains(BASIS_B) {
        return Err(config_error(
            &adapter.config_path(),
            "save_projection",
            format!("the file has no `{BASIS_A}`/`{BASIS_B}`: peft regenerates them from `projection_prng_key` with torch's generator, which peftgrid does not; save the adapter with `VeraConfig(save_projection=True)`"),
        ));
    }
    let r: usize = adapter.field("r")?;
    let why = "r and the projection's widths";
    let spec = load_per_module(
        model,
        config,
        adapter,
        device,
        &["vera_lambda_b", "vera_lambda_d"],
        |at| {
            MethodSpec::new("vera")
                .with(ModificationSpec::new(Form::RandomBasis(RandomBasisSpec {}), at).budget(r))
        },
        |m, t, dims| {
            if let Modification::RandomBasis(v) = m {
                v.lambda_b = Param::from_tensor(t.get("vera_lambda_b", [dims.d_out], why)?);
                v.lambda_d = Param::from_tensor(t.get("vera_lambda_d", [r], why)?);
            }
            Ok(())
        },
    )?;
    // The bases: the shared pair the placement just drew, replaced by the file's.
    let parts = model.parts_mut();
    let shared = parts.shared;
    let Some(first) = shared.frozen.len().checked_sub(2) else {
        return Err(ModelError::BadTensor {
            path: adapter.weights.path().to_path_buf(),
            key: BASIS_A.into(),
            message: "the random bases were not placed".into(),
        });
    };
    let [max_in, _] = shared.frozen[first].dims();
    let [_, max_out] = shared.frozen[first + 1].dims();
    let why = "r and the widest targeted projection";
    let a: Tensor<B, 2> = adapter.weights.tensor(BASIS_A, [r, max_in], why, device)?;
    let b: Tensor<B, 2> = adapter.weights.tensor(BASIS_B, [max_out, r], why, device)?;
    shared.frozen[first] = Param::from_tensor(a.transpose()).set_require_grad(false);
    shared.frozen[first + 1] = Param::from_tensor(b.transpose()).set_require_grad(false);
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let mut basis = None;
    let m = w.put_per_module("VeRA", |m| match m {
        Modification::RandomBasis(v) => Some(vec![
            ("vera_lambda_b", v.lambda_b.val().into_data()),
            ("vera_lambda_d", v.lambda_d.val().into_data()),
        ]),
        _ => None,
    })?;
    for layer in w.layers {
        for p in &m.at {
            if let Some(Modification::RandomBasis(v)) =
                layer.sites.get(*p).and_then(|s| s.mods.first())
            {
                basis.get_or_insert(v.basis);
            }
        }
    }
    let Some(basis) = basis else {
        return Err(w.unsupported("no VeRA module was found on the model"));
    };
    let a = w.shared.frozen(basis).transpose().into_data();
    let b = w.shared.frozen(basis + 1).transpose().into_data();
    w.put(BASIS_A.into(), a);
    w.put(BASIS_B.into(), b);
    w.set("peft_type", json!(PeftType::Vera.name()));
    w.set("r", json!(m.budget.unwrap_or(0)));
    w.set("projection_prng_key", json!(0));
    w.set("save_projection", json!(true));
    w.set("vera_dropout", json!(0.0));
    w.set("d_initial", json!(peftgrid_zoo::forms::D_INITIAL));
    w.set("fan_in_fan_out", json!(false));
    w.set("bias", json!("none"));
    w.set("init_weights", json!(true));
    Ok(())
}
