//! (IA)³ in AdapterHub: its LoRA architecture in `composition_mode: "scale"` with r = 1, whose
//! `lora_B` `[out, 1]` is the scaling vector, on the output of k, v and W₁.

use burn::module::Param;
use burn::prelude::*;
use peftgrid_zoo::forms::{Rescale, RescaleSpec};
use peftgrid_zoo::{Form, MethodSpec, ModificationSpec, Position, Side};
use serde_json::Value;

use super::{low_rank, unsupported, Out, Part, Reader};
use crate::error::{ModelError, Result};

/// A `lora` config in `scale` mode, already read by [`low_rank::translate`].
pub(super) fn translate(
    part: &Part,
    at: &[Position],
    r: usize,
    alpha: f64,
    gated: bool,
) -> Result<Vec<ModificationSpec>> {
    if r != 1 || gated {
        return Err(part.err(
            "r",
            "(IA)³ (composition_mode \"scale\") needs r = 1 and no gate",
        ));
    }
    if alpha != 1.0 {
        return Err(part.err(
            "alpha",
            format!("{alpha}: (IA)³ is read with alpha = 1 only"),
        ));
    }
    Ok(vec![ModificationSpec::new(
        Form::Rescale(RescaleSpec { side: Side::Output }),
        at,
    )])
}

pub(super) fn fill<B: Backend>(r: &Reader<B>, s: &mut Rescale<B>, key: &str) -> Result<()> {
    let n = s.scale.dims()[0];
    let t: Tensor<B, 2> = r.tensor(&format!("{key}.lora_B"), [n, 1])?;
    s.scale = Param::from_tensor(t.reshape([n]));
    Ok(())
}

pub(super) fn write<B: Backend>(out: &mut Out, s: &Rescale<B>, key: &str) -> Result<()> {
    if s.merged {
        return Err(ModelError::Unsupported {
            what: "saving a merged (IA)³".into(),
            why: "unmerge it first".into(),
        });
    }
    let n = s.scale.dims()[0];
    out.put(
        format!("{key}.lora_B"),
        s.scale.val().reshape([n, 1]).into_data(),
    );
    Ok(())
}

pub(super) fn config(method: &MethodSpec, m: &ModificationSpec, r: &RescaleSpec) -> Result<Value> {
    match r.side {
        Side::Output => low_rank::lora_config(method, m, true),
        Side::Input => Err(unsupported(
            method,
            "AdapterHub's (IA)³ scales a projection's output, not its input",
        )),
    }
}
