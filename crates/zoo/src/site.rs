//! Attachment sites: the places in a backbone where modifications live.
//!
//! A backbone calls its sites at every hidden state the unified view names. An empty site returns
//! its input untouched, so a plain model pays one branch per site and nothing else.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;

use crate::forms::Modification;
use crate::shared::Shared;

/// Per-head keys and values prepended to an attention's own (prefix tuning).
/// Both are `[batch, heads, l, d_head]`.
#[derive(Debug, Clone)]
pub struct PrefixKv<B: Backend> {
    pub keys: Tensor<B, 4>,
    pub values: Tensor<B, 4>,
}

/// The modifications placed at one position of one layer, applied in order.
#[derive(Module, Debug)]
pub struct Site<B: Backend> {
    pub mods: Vec<Modification<B>>,
}

impl<B: Backend> Default for Site<B> {
    fn default() -> Self {
        Self { mods: Vec::new() }
    }
}

impl<B: Backend> Site<B> {
    pub fn is_empty(&self) -> bool {
        self.mods.is_empty()
    }

    pub fn push(&mut self, modification: Modification<B>) {
        self.mods.push(modification);
    }

    /// Applies every modification placed here to `h`, the output of the wrapped computation;
    /// `x` is that computation's input (what parallel insertion reads). `[batch, seq, d]`.
    pub fn modify(&self, x: Tensor<B, 3>, h: Tensor<B, 3>, shared: &Shared<B>) -> Tensor<B, 3> {
        self.mods
            .iter()
            .fold(h, |h, m| m.modify(x.clone(), h, shared))
    }

    /// A sublayer-output site (`attention`, `ffn`) of a post-LN layer whose LayerNorm is `norm`:
    /// like [`Site::modify`], but a `post_norm` modification reads LN(x + h) of the unmodified h.
    pub fn modify_sublayer(
        &self,
        x: Tensor<B, 3>,
        h: Tensor<B, 3>,
        norm: &LayerNorm<B>,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        let mut normed: Option<Tensor<B, 3>> = None;
        self.mods.iter().fold(h.clone(), |acc, m| {
            if m.reads_post_norm() {
                let z = normed
                    .get_or_insert_with(|| norm.forward(x.clone() + h.clone()))
                    .clone();
                m.modify(z, acc, shared)
            } else {
                m.modify(x.clone(), acc, shared)
            }
        })
    }

    /// Whether a modification here reads LN(x + h) (only post-LN sublayers can offer it).
    pub fn needs_post_norm(&self) -> bool {
        self.mods.iter().any(Modification::reads_post_norm)
    }

    /// A projection with the modifications placed beside it: input rescalings, then `linear`
    /// with its weight rewritten by the weight-space forms (in order), then everything that
    /// modifies its output (each reading the original input).
    pub fn project(&self, x: Tensor<B, 3>, linear: &Linear<B>, shared: &Shared<B>) -> Tensor<B, 3> {
        if self.mods.is_empty() {
            return crate::rows::dense(x, linear);
        }
        let scaled = self
            .mods
            .iter()
            .filter_map(Modification::input_scale)
            .fold(x.clone(), |x, s| x * s.unsqueeze());
        let h = match self.adapted_weight(linear, shared) {
            Some(weight) => {
                crate::rows::linear(scaled, weight, linear.bias.as_ref().map(|b| b.val()))
            }
            None => crate::rows::dense(scaled, linear),
        };
        self.modify(x, h, shared)
    }

    /// A layer's input with its prompt tokens (`[offset, offset + l)`) replaced by the layer's
    /// own, when a modification here has some (VPT-deep at `block`).
    pub fn replace_prompts(
        &self,
        hidden: Tensor<B, 3>,
        offset: usize,
        shared: &Shared<B>,
    ) -> Tensor<B, 3> {
        self.mods.iter().fold(hidden, |hidden, m| {
            let Some(prompts) = m.layer_prompts(shared) else {
                return hidden;
            };
            let [batch, seq, d] = hidden.dims();
            let [l, _] = prompts.dims();
            let end = (offset + l).min(seq);
            let prompts = prompts
                .slice([0..end - offset, 0..d])
                .unsqueeze::<3>()
                .repeat_dim(0, batch);
            hidden.slice_assign([0..batch, offset..end, 0..d], prompts)
        })
    }

    /// The nonlinearity after this site's projection: a modification's that replaces it (RAFT),
    /// else `default`.
    pub fn activate(
        &self,
        h: Tensor<B, 3>,
        default: impl FnOnce(Tensor<B, 3>) -> Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        match self.mods.iter().find(|m| m.replaces_activation()) {
            Some(m) => m.activate(h),
            None => default(h),
        }
    }

    /// W′ of `linear` under the unmerged weight-space forms placed here, if there are any.
    pub fn adapted_weight(&self, linear: &Linear<B>, shared: &Shared<B>) -> Option<Tensor<B, 2>> {
        self.mods
            .iter()
            .filter(|m| m.adapts_weight() && !m.is_merged())
            .fold(None, |w: Option<Tensor<B, 2>>, m| {
                Some(m.adapt_weight(w.unwrap_or_else(|| linear.weight.val()), shared))
            })
    }

    /// Hands `linear` to every modification placed here, in order (see `FormModule::attach`).
    pub fn attach(&mut self, linear: Linear<B>) -> Linear<B> {
        self.mods.iter_mut().fold(linear, |l, m| m.attach(l))
    }

    /// The keys and values of every prefix placed here, concatenated along the prefix axis;
    /// `x` is the attention's input.
    pub fn prefix_kv(
        &self,
        x: &Tensor<B, 3>,
        heads: usize,
        shared: &Shared<B>,
    ) -> Option<PrefixKv<B>> {
        let parts: Vec<PrefixKv<B>> = self
            .mods
            .iter()
            .filter_map(|m| m.prefix_kv(x, heads, shared))
            .collect();
        if parts.len() <= 1 {
            return parts.into_iter().next();
        }
        let (keys, values) = parts.into_iter().map(|p| (p.keys, p.values)).unzip();
        Some(PrefixKv {
            keys: Tensor::cat(keys, 2),
            values: Tensor::cat(values, 2),
        })
    }

    /// Prepends the virtual tokens of every prompt placed here to `embeds` (`[batch, seq, d]`);
    /// returns the new embeddings and how many tokens were prepended.
    pub fn prepend(&self, embeds: Tensor<B, 3>) -> (Tensor<B, 3>, usize) {
        let before = embeds.dims()[1];
        let out = self
            .mods
            .iter()
            .fold(embeds, |e, m| m.prepend(e.clone()).unwrap_or(e));
        let added = out.dims()[1] - before;
        (out, added)
    }

    /// Trainable entries of the modifications placed here (pruned weights excluded).
    pub fn num_trainable(&self) -> usize {
        self.mods
            .iter()
            .map(|m| m.num_params() - m.pruned_params())
            .sum()
    }

    /// Folds every mergeable, unmerged modification into `linear` (LoRA, KronA, IA3).
    pub fn merge(&mut self, linear: Linear<B>, shared: &Shared<B>) -> Linear<B> {
        self.mods
            .iter_mut()
            .filter(|m| m.mergeable() && !m.is_merged())
            .fold(linear, |l, m| m.merge(l, 1.0, shared))
    }

    /// Takes every merged modification back out of `linear`, in reverse order.
    pub fn unmerge(&mut self, linear: Linear<B>, shared: &Shared<B>) -> Linear<B> {
        self.mods
            .iter_mut()
            .rev()
            .filter(|m| m.is_merged())
            .fold(linear, |l, m| m.merge(l, -1.0, shared))
    }
}
