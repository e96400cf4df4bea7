//! Exact parameter accounting from a backbone's shape alone (He et al., App. B), and budget
//! matching: the knob value whose count comes closest to a target.

use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::shape::BackboneShape;
use crate::spec::{MethodSpec, ModificationSpec, ParamGroup};
use crate::Position;

/// One line of the accounting: a modification at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountRow {
    pub what: String,
    pub sites: usize,
    pub per_site: usize,
    /// Parameters shared by those sites (prefix generators, PHM rules).
    pub shared: usize,
    pub total: usize,
}

/// What a method trains on a backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// Trained parameters, task head excluded (method modules and unfrozen pretrained groups).
    pub trainable: usize,
    /// Parameters of the task head (trained when `train_head`).
    pub head: usize,
    /// `trainable` plus the head if it trains.
    pub with_head: usize,
    /// Parameters after merging training-time reparameterisations (a prefix counts as its P).
    pub deployed: usize,
    /// The pretrained model's parameters.
    pub pretrained: usize,
    /// `trainable` as a % of `pretrained`.
    pub percent: f64,
    /// `deployed` as a % of `pretrained` (He et al.'s budget for prefix tuning).
    pub deployed_percent: f64,
    /// Entries a deployed adapter file stores: `deployed` plus the frozen tensors it keeps
    /// beside them (VeRA's shared random bases). Can exceed `trainable` by far.
    pub stored: usize,
    pub rows: Vec<CountRow>,
}

/// Counts a method on a backbone, checking that every budget fits every site.
pub fn count(method: &MethodSpec, shape: &BackboneShape) -> Result<Count> {
    method.check()?;
    method.check_backbone(shape)?;
    let mut rows = Vec::new();
    let mut deployed = 0;
    let mut frozen = 0;
    for m in &method.modifications {
        let (mod_rows, mod_deployed, mod_frozen) = count_modification(m, shape)?;
        rows.extend(mod_rows);
        deployed += mod_deployed;
        frozen += mod_frozen;
    }
    let has = |g: ParamGroup| method.unfreeze.contains(&g);
    for &group in &method.unfreeze {
        let n = match group {
            ParamGroup::All => shape.pretrained,
            ParamGroup::Biases => shape.biases,
            ParamGroup::LayerNorms => shape.layer_norms,
        };
        rows.push(CountRow {
            what: format!("pretrained {group}"),
            sites: 1,
            per_site: n,
            shared: 0,
            total: n,
        });
    }
    // Every group lies inside All; Biases and LayerNorms share the LayerNorm betas.
    let unfrozen = if has(ParamGroup::All) {
        shape.pretrained
    } else {
        let biases = if has(ParamGroup::Biases) {
            shape.biases
        } else {
            0
        };
        let norms = if has(ParamGroup::LayerNorms) {
            shape.layer_norms
        } else {
            0
        };
        let overlap = if biases > 0 && norms > 0 {
            shape.layer_norms / 2
        } else {
            0
        };
        biases + norms - overlap
    };
    let added: usize = rows
        .iter()
        .filter(|r| !r.what.starts_with("pretrained"))
        .map(|r| r.total)
        .sum();
    let trainable = added + unfrozen;
    let deployed = deployed + unfrozen;
    let head = shape.head;
    let pct = |n: usize| 100.0 * n as f64 / shape.pretrained.max(1) as f64;
    Ok(Count {
        trainable,
        head,
        with_head: trainable + if method.train_head { head } else { 0 },
        deployed,
        pretrained: shape.pretrained,
        percent: pct(trainable),
        deployed_percent: pct(deployed),
        stored: deployed + frozen,
        rows,
    })
}

/// Rows, deployed parameters and frozen stored entries of one modification.
fn count_modification(
    m: &ModificationSpec,
    shape: &BackboneShape,
) -> Result<(Vec<CountRow>, usize, usize)> {
    let mut rows = Vec::new();
    let mut deployed = 0;
    let mut frozen = 0;
    let mut mod_shared_done = false;
    let shared_dims = m.shared_dims(shape);
    for &position in &m.at {
        let p = m.placement(position);
        let group = shape.sites(position);
        m.form.check_site(&p, group.dims)?;
        let per_site = m.form.site_params(&p, group.dims);
        // Prefix generators are per attention kind; other shared parameters (PHM rules) are
        // shared by every site of the modification.
        let (shared, deployed_shared) = if position == Position::Head {
            shape
                .attention_kinds()
                .iter()
                .fold((0, 0), |(s, d), (_, layers)| {
                    (
                        s + m.form.shared_params(&p, *layers, group.dims, shape),
                        d + m
                            .form
                            .deployed_shared_params(&p, *layers, group.dims, shape),
                    )
                })
        } else if !mod_shared_done {
            mod_shared_done = true;
            frozen = m
                .form
                .frozen_shared_params(&p, shape.layers(), shared_dims, shape);
            (
                m.form.shared_params(&p, shape.layers(), shared_dims, shape),
                m.form
                    .deployed_shared_params(&p, shape.layers(), shared_dims, shape),
            )
        } else {
            (0, 0)
        };
        deployed += group.count * m.form.deployed_params(&p, group.dims) + deployed_shared;
        rows.push(CountRow {
            what: format!("{} at {}", m.form.name(), position),
            sites: group.count,
            per_site,
            shared,
            total: group.count * per_site + shared,
        });
    }
    Ok((rows, deployed, frozen))
}

/// A budget target: a parameter count or a % of the pretrained model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Params(usize),
    Percent(f64),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Params(n) => write!(f, "{n} parameters"),
            Target::Percent(p) => write!(f, "{p}% of the pretrained model"),
        }
    }
}

/// The method with knob `knob` (index among its budget knobs) set to the value whose trainable
/// count comes closest to `target` (ties: the smaller budget), and that count.
pub fn match_budget(
    method: &MethodSpec,
    shape: &BackboneShape,
    target: Target,
    knob: usize,
) -> Result<(MethodSpec, Count)> {
    let budgets = method.budgets();
    if knob >= budgets.len() {
        return Err(ZooError::TargetOutOfReach {
            form: method.name.clone(),
            target: target.to_string(),
            why: format!(
                "it has {} budget knob(s), knob {knob} asked for",
                budgets.len()
            ),
        });
    }
    let wanted = match target {
        Target::Params(n) => n as f64,
        Target::Percent(p) => p / 100.0 * shape.pretrained as f64,
    };
    let mut best: Option<(f64, MethodSpec, Count)> = None;
    // Every knob value up to the widest dimension (and prefix/prompt lengths up to 4096).
    let limit = shape.hidden.max(shape.ffn).max(4096);
    for value in 1..=limit {
        let mut b = budgets.clone();
        b[knob] = value;
        let Ok(candidate) = method.clone().with_budgets(&b) else {
            continue;
        };
        let Ok(c) = count(&candidate, shape) else {
            continue;
        };
        let miss = (c.trainable as f64 - wanted).abs();
        if best.as_ref().is_none_or(|(m, _, _)| miss < *m) {
            best = Some((miss, candidate, c));
        }
    }
    best.map(|(_, m, c)| (m, c))
        .ok_or_else(|| ZooError::TargetOutOfReach {
            form: method.name.clone(),
            target: target.to_string(),
            why: "no value of the knob fits this backbone".into(),
        })
}
