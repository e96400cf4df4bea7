//! peft's `IA3`: one `ia3_l` vector per targeted projection, `[out, 1]` on its output or `[1, in]`
//! on its input (`feedforward_modules`): the rescale form on either side.

use std::collections::{BTreeMap, BTreeSet};

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::RescaleSpec;
use peftgrid_zoo::{Form, MethodSpec, Modification, ModificationSpec, Position, Side};
use serde_json::json;

use super::{locate, positions_on_every_layer, PeftAdapter, PeftType, Writer};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::{method, Model};

pub(super) fn load<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    adapter: &PeftAdapter,
    device: &B::Device,
) -> Result<MethodSpec> {
    adapter.refuse_flags(&["fan_in_fan_out"])?;
    let found = locate(model, adapter, adapter.modules(&["ia3_l"]))?;
    positions_on_every_layer(model, adapter, &found)?;
    // peft stores output scalings as [out, 1] and input ("feedforward") ones as [1, in].
    let side_of = |(layer, p): (usize, Position),
                   names: &BTreeMap<String, String>|
     -> Result<(Side, String)> {
        let name = adapter.tensor_name(names, "ia3_l", format!("layer {layer} {p}"))?;
        let shape = adapter
            .weights
            .shape(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: adapter.weights.path().to_path_buf(),
                key: name.clone(),
                tried: "the adapter's keys".into(),
            })?;
        match shape.as_slice() {
            [_, 1] => Ok((Side::Output, name.clone())),
            [1, _] => Ok((Side::Input, name.clone())),
            other => Err(ModelError::BadTensor {
                path: adapter.weights.path().to_path_buf(),
                key: name.clone(),
                message: format!("shape {other:?} is neither [out, 1] nor [1, in]"),
            }),
        }
    };
    let mut sides: BTreeMap<(usize, Position), (Side, String)> = BTreeMap::new();
    for (&at, names) in &found {
        sides.insert(at, side_of(at, names)?);
    }
    let mut spec = MethodSpec::new("ia3");
    for side in [Side::Output, Side::Input] {
        let at: BTreeSet<Position> = sides
            .iter()
            .filter(|(_, (s, _))| *s == side)
            .map(|((_, p), _)| *p)
            .collect();
        if !at.is_empty() {
            let at: Vec<Position> = at.into_iter().collect();
            spec = spec.with(ModificationSpec::new(
                Form::Rescale(RescaleSpec { side }),
                &at,
            ));
        }
    }
    method::apply(model, config, &spec, device)?;
    let shape = config.shape();
    let mut parts = model.parts_mut();
    for ((layer, position), (side, name)) in &sides {
        let dims = shape.sites(*position).dims;
        let (n, tensor_shape) = match side {
            Side::Output => (dims.d_out, [dims.d_out, 1]),
            Side::Input => (dims.d_in, [1, dims.d_in]),
        };
        let l: Tensor<B, 2> =
            adapter
                .weights
                .tensor(name, tensor_shape, "the projection's width", device)?;
        let site = parts.layers[*layer]
            .get_mut(*position)
            .expect("a located module is a projection site");
        if let Some(Modification::Rescale(m)) = site
            .mods
            .iter_mut()
            .find(|m| matches!(m, Modification::Rescale(r) if r.side == *side))
        {
            m.scale = Param::from_tensor(l.reshape([n]));
        }
    }
    Ok(spec)
}

pub(super) fn save<B: Backend>(w: &mut Writer<B>) -> Result<()> {
    let (mut targets, mut feedforward) = (BTreeSet::new(), BTreeSet::new());
    for m in &w.spec.modifications {
        for &p in &m.at {
            targets.insert(p);
            if let Form::Rescale(RescaleSpec { side: Side::Input }) = m.form {
                feedforward.insert(p);
            }
        }
    }
    for i in 0..w.layers.len() {
        for &p in &targets {
            let Some(site) = w.layers[i].sites.get(p) else {
                continue;
            };
            let mut out = Vec::new();
            for m in &site.mods {
                if let Modification::Rescale(r) = m {
                    let n = r.scale.dims()[0];
                    let shape = match r.side {
                        Side::Input => [1, n],
                        Side::Output => [n, 1],
                    };
                    out.push(r.scale.val().reshape(shape).into_data());
                }
            }
            let module = w.module(i, p)?;
            for data in out {
                w.put(format!("{module}.ia3_l"), data);
            }
        }
    }
    let target_names = w.target_names(&targets)?;
    let feedforward_names = w.target_names(&feedforward)?;
    w.set("peft_type", json!(PeftType::Ia3.name()));
    w.set("target_modules", json!(target_names));
    w.set("feedforward_modules", json!(feedforward_names));
    w.set("fan_in_fan_out", json!(false));
    w.set("init_ia3_weights", json!(true));
    Ok(())
}
