//! AdaLoRA's rank allocation in the training loop (Zhang et al. 2023; peft's `RankAllocator`
//! and `AdaLoraModel.update_and_allocate`): the `singular_value` form with a
//! [`RankSchedule`] starts at rank r per site and ends at `target_r` per site on average, the
//! ranks going where the triplets (p_i, λ_i, q_i) matter most.
//!
//! Per update, after the optimiser step, as peft's examples call it: the importance of every
//! entry of P, λ and Q, |θ·∂L/∂θ| (the gradient of the update just taken, the parameter after
//! it), is smoothed (β₁) with its deviation smoothed too (β₂); a triplet's score is its λ's
//! score plus the means of its P column's and Q row's. While budgeting, every `delta_t`
//! updates the λ_i of the lowest scores over the whole model are set to zero so that
//! `budget(t)` triplets remain, budget(t) falling on a cubic from r·sites to target_r·sites;
//! at `total − tfinal` the mask is fixed and reapplied at every later update. The
//! orthogonality penalty is [`RankAllocator::regularizer`].

use burn::module::Param;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use peftgrid_model::Model;
use peftgrid_zoo::forms::{RankSchedule, SingularValue, SingularValueSpec};
use peftgrid_zoo::{Form, MethodSpec, Modification, Position};

type Inner<B> = <B as AutodiffBackend>::InnerBackend;

/// P, λ, Q of one site (or their gradients, or statistics of them).
#[derive(Clone)]
struct Triplet<B: Backend> {
    right: Tensor<B, 2>,
    values: Tensor<B, 1>,
    left: Tensor<B, 2>,
}

impl<B: Backend> Triplet<B> {
    fn zeros_like(&self) -> Self {
        Self {
            right: self.right.zeros_like(),
            values: self.values.zeros_like(),
            left: self.left.zeros_like(),
        }
    }

    fn zip(self, other: Self, f: impl Fn(Tensor<B, 2>, Tensor<B, 2>) -> Tensor<B, 2>) -> Self {
        let values = f(self.values.unsqueeze::<2>(), other.values.unsqueeze::<2>());
        let [_, r] = values.dims();
        Self {
            right: f(self.right, other.right),
            values: values.reshape([r]),
            left: f(self.left, other.left),
        }
    }
}

/// The running statistics of one site.
struct Statistics<B: Backend> {
    importance: Triplet<B>,
    uncertainty: Triplet<B>,
}

pub struct RankAllocator<B: AutodiffBackend> {
    /// (index in `parts_mut().layers`, position) of every scheduled site.
    sites: Vec<(usize, Position)>,
    schedule: RankSchedule,
    /// Updates in the run (peft's `total_step`).
    total: usize,
    initial_budget: usize,
    target_budget: usize,
    statistics: Vec<Option<Statistics<Inner<B>>>>,
    /// The gradients of the update being taken, read before the optimiser consumes them.
    grads: Vec<Option<Triplet<Inner<B>>>>,
    /// 1 where λ_i survives, per site, once the budget is final.
    fixed_mask: Option<Vec<Tensor<Inner<B>, 1>>>,
    /// The mask applied last (every triplet survives before the first).
    last_mask: Option<Vec<Tensor<Inner<B>, 1>>>,
    rank: usize,
}

/// The `singular_value` module at `site`, if that site holds one.
fn module<B: Backend>(
    model: &mut Model<B>,
    (layer, position): (usize, Position),
) -> Option<&mut SingularValue<B>> {
    let parts = model.parts_mut();
    let site = parts.layers.into_iter().nth(layer)?.get_mut(position)?;
    site.mods.iter_mut().find_map(|m| match m {
        Modification::SingularValue(s) => Some(s),
        _ => None,
    })
}

impl<B: AutodiffBackend> RankAllocator<B> {
    /// The allocator of `method` on `model` for a run of `total` updates; `None` when the
    /// method has no scheduled `singular_value` modification.
    pub fn new(
        method: &MethodSpec,
        model: &Model<B>,
        total: usize,
    ) -> anyhow::Result<Option<Self>> {
        let mut schedule: Option<RankSchedule> = None;
        let mut positions = Vec::new();
        let mut rank = 0;
        for m in &method.modifications {
            if let Form::SingularValue(SingularValueSpec { schedule: Some(s) }) = &m.form {
                anyhow::ensure!(
                    schedule.as_ref().is_none_or(|first| first == s),
                    "method `{}`: AdaLoRA's schedule is one for the whole model, and two modifications give two",
                    method.name
                );
                schedule = Some(s.clone());
                positions.extend(m.at.iter().copied());
                rank = m.budget.unwrap_or(0);
            }
        }
        let Some(schedule) = schedule else {
            return Ok(None);
        };
        let mut probe = model.clone();
        let layers = probe.parts_mut().layers.len();
        let mut sites = Vec::new();
        for layer in 0..layers {
            for &p in &positions {
                if module(&mut probe, (layer, p)).is_some() {
                    sites.push((layer, p));
                }
            }
        }
        let n = sites.len();
        Ok(Some(Self {
            sites,
            total,
            initial_budget: rank * n,
            target_budget: schedule.target_r * n,
            schedule,
            statistics: (0..n).map(|_| None).collect(),
            grads: (0..n).map(|_| None).collect(),
            fixed_mask: None,
            last_mask: None,
            rank,
        }))
    }

    /// P, λ, Q of every site.
    fn triplets(&self, model: &Model<B>) -> Vec<Triplet<B>> {
        let mut probe = model.clone();
        self.sites
            .iter()
            .filter_map(|&site| {
                module(&mut probe, site).map(|m| Triplet {
                    right: m.right.val(),
                    values: m.values.val(),
                    left: m.left.val(),
                })
            })
            .collect()
    }

    /// The orthogonality penalty `orth_reg_weight` · mean over matrices of ‖PᵀP − I‖_F and
    /// ‖QQᵀ − I‖_F (peft's on A Aᵀ and BᵀB), to add to the loss of an update.
    pub fn regularizer(&self, model: &Model<B>) -> Option<Tensor<B, 1>> {
        if self.schedule.orth_reg_weight == 0.0 {
            return None;
        }
        let triplets = self.triplets(model);
        let count = 2 * triplets.len();
        let frobenius = |m: Tensor<B, 2>| {
            let [r, _] = m.dims();
            let eye = Tensor::<B, 2>::eye(r, &m.device());
            (m - eye).powi_scalar(2).sum().sqrt()
        };
        let sum = triplets
            .into_iter()
            .map(|t| {
                frobenius(t.right.clone().transpose().matmul(t.right))
                    + frobenius(t.left.clone().matmul(t.left.transpose()))
            })
            .reduce(|a, b| a + b)?;
        Some(sum.mul_scalar(self.schedule.orth_reg_weight / count as f64))
    }

    /// Keeps the gradients of P, λ, Q of this update (the optimiser consumes `grads`).
    pub fn capture(&mut self, model: &Model<B>, grads: &GradientsParams) {
        let mut probe = model.clone();
        for (k, &site) in self.sites.iter().enumerate() {
            self.grads[k] = module(&mut probe, site).and_then(|m| {
                Some(Triplet {
                    right: grads.get::<Inner<B>, 2>(m.right.id)?,
                    values: grads.get::<Inner<B>, 1>(m.values.id)?,
                    left: grads.get::<Inner<B>, 2>(m.left.id)?,
                })
            });
        }
    }

    /// peft's `budget_schedule`: (budget, whether to mask) at update `step` (0-based).
    fn budget(&self, step: usize) -> (usize, bool) {
        let s = &self.schedule;
        let end = self.total.saturating_sub(s.tfinal);
        if step <= s.tinit {
            (self.initial_budget, false)
        } else if step > end {
            (self.target_budget, true)
        } else {
            let span = end.saturating_sub(s.tinit).max(1) as f64;
            let coeff = 1.0 - (step - s.tinit) as f64 / span;
            let excess = (self.initial_budget - self.target_budget) as f64 * coeff.powi(3);
            (
                (excess + self.target_budget as f64) as usize,
                step.is_multiple_of(s.delta_t),
            )
        }
    }

    /// peft's `update_and_allocate` after the optimiser step of update `step` (0-based).
    pub fn update(&mut self, mut model: Model<B>, step: usize) -> Model<B> {
        let end = self.total.saturating_sub(self.schedule.tfinal);
        if step > end {
            if let Some(masks) = self.fixed_mask.clone() {
                self.apply(&mut model, &masks);
            }
            return model;
        }
        if step < end {
            self.update_importance(&model);
        }
        let (budget, mask) = self.budget(step);
        if mask || step == end {
            if let Some(masks) = self.masks(budget) {
                self.apply(&mut model, &masks);
                if step == end {
                    self.fixed_mask = Some(masks);
                    self.statistics.iter_mut().for_each(|s| *s = None);
                }
            }
        }
        model
    }

    fn update_importance(&mut self, model: &Model<B>) {
        let (b1, b2) = (self.schedule.beta1, self.schedule.beta2);
        let triplets = self.triplets(model);
        for (k, t) in triplets.into_iter().enumerate() {
            let Some(g) = self.grads[k].take() else {
                continue;
            };
            let p = Triplet {
                right: t.right.inner(),
                values: t.values.inner(),
                left: t.left.inner(),
            };
            let importance = p.zip(g, |p, g| (p * g).abs());
            // peft starts both averages at zero.
            let previous = self.statistics[k].take().unwrap_or_else(|| Statistics {
                importance: importance.zeros_like(),
                uncertainty: importance.zeros_like(),
            });
            let average = previous.importance.zip(importance.clone(), |a, i| {
                a.mul_scalar(b1) + i.mul_scalar(1.0 - b1)
            });
            let deviation = importance.zip(average.clone(), |i, a| (i - a).abs());
            let uncertainty = previous
                .uncertainty
                .zip(deviation, |u, d| u.mul_scalar(b2) + d.mul_scalar(1.0 - b2));
            self.statistics[k] = Some(Statistics {
                importance: average,
                uncertainty,
            });
        }
    }

    /// Per site, 1 for the triplets kept at `budget` (all scores above the
    /// (initial − budget)-th smallest), 0 for the others; `None` before any statistics.
    fn masks(&self, budget: usize) -> Option<Vec<Tensor<Inner<B>, 1>>> {
        let drop = self.initial_budget.saturating_sub(budget);
        let scores: Vec<Tensor<Inner<B>, 1>> = self
            .statistics
            .iter()
            .map(|s| {
                let s = s.as_ref()?;
                let e = s
                    .importance
                    .clone()
                    .zip(s.uncertainty.clone(), |i, u| i * u);
                let [_, r] = e.right.dims();
                let right = e.right.mean_dim(0).reshape([r]);
                let left = e.left.mean_dim(1).reshape([r]);
                Some(e.values + right + left)
            })
            .collect::<Option<_>>()?;
        if drop == 0 {
            return Some(scores.iter().map(|s| s.ones_like()).collect());
        }
        let mut all: Vec<f32> = scores
            .iter()
            .flat_map(|s| {
                s.to_data()
                    .convert::<f32>()
                    .into_vec::<f32>()
                    .unwrap_or_default()
            })
            .collect();
        all.sort_by(f32::total_cmp);
        let threshold = *all.get(drop - 1)?;
        Some(
            scores
                .into_iter()
                .map(|s| s.greater_elem(threshold).float())
                .collect(),
        )
    }

    fn apply(&mut self, model: &mut Model<B>, masks: &[Tensor<Inner<B>, 1>]) {
        self.last_mask = Some(masks.to_vec());
        for (&site, mask) in self.sites.iter().zip(masks) {
            if let Some(m) = module(model, site) {
                let masked = m.values.val().inner() * mask.clone();
                m.values = Param::initialized(
                    m.values.id,
                    Tensor::from_inner(masked).set_require_grad(true),
                );
            }
        }
    }

    /// The rank of every scheduled site: the triplets its last mask kept (r before any
    /// mask). Their λ are the only ones of the site that may be non-zero.
    pub fn ranks(&self, model: &Model<B>) -> Vec<usize> {
        let Some(masks) = &self.last_mask else {
            return vec![self.rank; self.sites.len()];
        };
        let triplets = self.triplets(model);
        masks
            .iter()
            .zip(triplets)
            .map(|(mask, t)| {
                let pruned = mask.clone().neg().add_scalar(1.0);
                let outside: f64 = (t.values.inner() * pruned).abs().sum().into_scalar().elem();
                debug_assert_eq!(outside, 0.0, "a pruned λ is non-zero");
                mask.clone().sum().into_scalar().elem::<f64>() as usize
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::TrainConfig;
    use crate::train::GroupedAdamW;
    use burn::backend::{Autodiff, NdArray};
    use peftgrid_model::{method, Inputs};
    use peftgrid_zoo::ModificationSpec;

    type B = Autodiff<NdArray<f32>>;

    /// AdaLoRA on the BERT fixture, r = 4 at W_q and W_v of its 2 layers, pruned to 2 per site
    /// on average over 12 updates of a toy loss: the budget ends at 2 × 4 sites, and the
    /// penalty pulls PᵀP towards I.
    #[test]
    fn final_ranks_equal_the_target_budget() {
        let device = Default::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/hf/bert");
        let loaded = peftgrid_model::load::<B>(&dir, &device).unwrap();
        let mut schedule = RankSchedule::new(2);
        (schedule.tinit, schedule.tfinal) = (2, 3);
        let spec = MethodSpec::new("adalora").with(
            ModificationSpec::new(
                Form::SingularValue(SingularValueSpec {
                    schedule: Some(schedule),
                }),
                &[Position::Q, Position::V],
            )
            .budget(4),
        );
        let mut model = loaded.model;
        method::apply(&mut model, &loaded.config, &spec, &device).unwrap();
        let mut model = method::freeze(model, &spec);
        let total = 12;
        let mut ranks = RankAllocator::new(&spec, &model, total).unwrap().unwrap();
        assert_eq!(ranks.ranks(&model), vec![4; 4]);
        let mut optim = GroupedAdamW::<B, Model<B>>::new(&TrainConfig::default());
        let ids =
            Tensor::<B, 2, Int>::from_ints([[2, 7, 11, 5, 9, 3], [2, 4, 8, 6, 10, 3]], &device);
        let penalty_at_start = ranks.regularizer(&model).unwrap().into_scalar();
        for step in 0..total {
            let inputs = Inputs {
                input_ids: Some(ids.clone()),
                attention_mask: None,
                token_type_ids: None,
                pixel_values: None,
                decoder_input_ids: None,
            };
            let out = model.forward(inputs).unwrap().last_hidden_state;
            let loss = out.slice([0..2, 0..1]).sum() + ranks.regularizer(&model).unwrap();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            ranks.capture(&model, &grads);
            let (next, _) = optim.step(1e-2, model, grads);
            model = ranks.update(next, step);
        }
        let final_ranks = ranks.ranks(&model);
        assert_eq!(final_ranks.iter().sum::<usize>(), 2 * 4, "{final_ranks:?}");
        // The ranks moved between sites or stayed even, but every site kept its shape.
        assert_eq!(final_ranks.len(), 4);
        assert!(ranks.regularizer(&model).unwrap().into_scalar() < penalty_at_start);
    }
}
