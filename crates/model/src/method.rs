//! Putting a method on a backbone: its modifications at the sites the spec names, every other
//! parameter frozen (no gradient, so no optimizer state), and the trainable parameters counted
//! from the module itself.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use peftgrid_zoo::{count, BuildContext, Count, Form, MethodSpec, ParamGroup, Position};

use crate::config::ModelConfig;
use crate::error::Result;
use crate::Model;

/// Places `method`'s modifications on `model` and returns its accounting. Freezing is separate
/// ([`freeze`]) because it only means something on an autodiff backend.
pub fn apply<B: Backend>(
    model: &mut Model<B>,
    config: &ModelConfig,
    method: &MethodSpec,
    device: &B::Device,
) -> Result<Count> {
    let shape = config.shape();
    // Validates the method against the backbone's layout (post_norm needs post-LN, gated
    // composition an encoder) and every budget against every site before anything is built.
    let accounting = count(method, &shape)?;
    let layers = shape.layers();
    let parts = model.parts_mut();
    let (input, embedding_output, shared, mut sites, mut cross) = (
        parts.input,
        parts.embedding_output,
        parts.shared,
        parts.layers,
        parts.cross,
    );
    // The attention kinds, as BackboneShape::attention_kinds lists them: (first layer in
    // `sites`, count) for each stack's self-attention, then the decoder's cross-attention.
    let mut self_kinds = Vec::new();
    let mut start = 0;
    for n in &parts.stacks {
        self_kinds.push((start, *n));
        start += n;
    }
    for m in &method.modifications {
        let mut mod_shared = None;
        let shared_dims = m.shared_dims(&shape);
        for &position in &m.at {
            let p = m.placement(position);
            let dims = shape.sites(position).dims;
            let ctx = |layer, shared| BuildContext::<B> {
                device,
                layer,
                shared,
            };
            match position {
                Position::Input => input.push(m.form.build(&p, dims, &ctx(0, None))),
                Position::Embeddings => {
                    embedding_output.push(m.form.build(&p, dims, &ctx(0, None)))
                }
                // One prefix generator per attention kind (an encoder has one: self-attention;
                // an encoder-decoder three: encoder self, decoder self, decoder cross).
                Position::Head => {
                    for (first, n) in &self_kinds {
                        let index = m.form.build_shared(&p, *n, dims, shared, device);
                        for (i, s) in sites[*first..*first + *n].iter_mut().enumerate() {
                            s.head.push(m.form.build(&p, dims, &ctx(i, index)));
                        }
                    }
                    if !cross.is_empty() {
                        let index = m.form.build_shared(&p, cross.len(), dims, shared, device);
                        for (i, s) in cross.iter_mut().enumerate() {
                            s.head.push(m.form.build(&p, dims, &ctx(i, index)));
                        }
                    }
                }
                _ => {
                    let index = *mod_shared.get_or_insert_with(|| {
                        m.form.build_shared(&p, layers, shared_dims, shared, device)
                    });
                    for (i, s) in sites.iter_mut().enumerate() {
                        if let Some(site) = s.get_mut(position) {
                            site.push(m.form.build(&p, dims, &ctx(i, index)));
                        }
                    }
                    // Cross-attentions have attention positions only.
                    if position.is_attention() {
                        for (i, s) in cross.iter_mut().enumerate() {
                            if let Some(site) = s.get_mut(position) {
                                site.push(m.form.build(&p, dims, &ctx(i, index)));
                            }
                        }
                    }
                }
            }
        }
    }
    // Weight-space forms read (or change) the pretrained weight they sit beside.
    model.for_each_projection(|site, linear| site.attach(linear));
    let shift: usize = method
        .modifications
        .iter()
        .filter(|m| matches!(&m.form, Form::Prefix(p) if p.shift_positions))
        .map(|m| m.budget.unwrap_or(0))
        .sum();
    if shift > 0 {
        match model {
            Model::Text(m) => m.embeddings.position_offset = shift,
            _ => {
                return Err(peftgrid_zoo::ZooError::Spec {
                    spec: method.name.clone(),
                    message: format!(
                        "prefix: shift_positions (peft's numbering of tokens after the prefix) is implemented for BERT and RoBERTa encoders, not {}",
                        config.model_type
                    ),
                }
                .into())
            }
        }
    }
    Ok(accounting)
}

/// What a parameter is to a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A parameter of the method itself (sites and shared modules).
    Method,
    /// The task head.
    Head,
    /// A pretrained parameter.
    Pretrained { bias: bool, norm: bool },
    /// A constant transformers keeps as a buffer (BART's `final_logits_bias`): never trained.
    Buffer,
    /// A tensor of the method that it stores but never trains (`Shared::frozen`: VeRA's random
    /// bases): saved with the adapter, not counted as trainable.
    Frozen,
}

/// The role of the parameter at `path` (module field names joined by '.').
pub fn role(path: &[String]) -> Role {
    let has = |name: &str| path.iter().any(|p| p == name);
    if has("final_logits_bias") {
        Role::Buffer
    } else if has("frozen") {
        Role::Frozen
    } else if has("sites") || has("input") || has("embedding_output") || has("shared") {
        Role::Method
    } else if has("head") || has("classifier") {
        Role::Head
    } else {
        let last = path.last().map(String::as_str).unwrap_or("");
        Role::Pretrained {
            bias: last == "bias" || last == "beta",
            norm: last == "gamma" || last == "beta",
        }
    }
}

/// Whether an adapter file of `method` holds a parameter of role `role`: what it trains and
/// the frozen tensors it cannot do without.
pub fn stores(method: &MethodSpec, role: Role) -> bool {
    role == Role::Frozen || trains(method, role)
}

/// Whether `method` trains a parameter of role `role`.
pub fn trains(method: &MethodSpec, role: Role) -> bool {
    match role {
        Role::Method => true,
        Role::Head => method.train_head,
        Role::Buffer | Role::Frozen => false,
        Role::Pretrained { bias, norm } => method.unfreeze.iter().any(|g| match g {
            ParamGroup::All => true,
            ParamGroup::Biases => bias,
            ParamGroup::LayerNorms => norm,
        }),
    }
}

struct Freezer<'a> {
    method: &'a MethodSpec,
    path: Vec<String>,
}

impl<B: Backend> ModuleMapper<B> for Freezer<'_> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.set_require_grad(trains(self.method, role(&self.path)))
    }
}

/// Marks every parameter `method` does not train as not requiring gradients, and the rest as
/// requiring them. On an autodiff backend, frozen parameters then get no gradient and no
/// optimizer state.
pub fn freeze<B: Backend>(model: Model<B>, method: &MethodSpec) -> Model<B> {
    model.map(&mut Freezer {
        method,
        path: Vec::new(),
    })
}

/// Every float parameter with its path, id and number of entries.
#[derive(Default)]
pub struct ParamList {
    path: Vec<String>,
    pub params: Vec<(Vec<String>, ParamId, usize)>,
}

impl<B: Backend> ModuleVisitor<B> for ParamList {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.params
            .push((self.path.clone(), param.id, param.shape().num_elements()));
    }
}

/// Every float parameter of `module` with its path.
pub fn param_list<B: Backend, M: Module<B>>(module: &M) -> Vec<(Vec<String>, ParamId, usize)> {
    let mut list = ParamList::default();
    module.visit(&mut list);
    list.params
}

/// Trainable parameters of a method on this model, counted from its modules: (without the
/// head, of the head). Pruned entries of sparse adapters do not count.
pub fn trainable<B: Backend>(model: &Model<B>, method: &MethodSpec) -> (usize, usize) {
    let (mut body, mut head) = (0, 0);
    for (path, _, n) in param_list(model) {
        let r = role(&path);
        if trains(method, r) {
            match r {
                Role::Head => head += n,
                _ => body += n,
            }
        }
    }
    (body - model.pruned_params(), head)
}
