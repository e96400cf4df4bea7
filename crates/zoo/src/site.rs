//! Attachment sites: the places in a backbone where modifications live.
//!
//! A backbone calls its sites at every hidden state the unified view names. An empty site returns
//! its input untouched, so a plain model pays one branch per site and nothing else.

use burn::module::Module;
use burn::prelude::*;

use crate::Modification;

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
    /// `x` is that computation's input (what parallel insertion reads).
    pub fn modify<const D: usize>(&self, x: Tensor<B, D>, h: Tensor<B, D>) -> Tensor<B, D> {
        self.mods.iter().fold(h, |h, m| m.modify(x.clone(), h))
    }

    /// The keys and values of every prefix placed here, concatenated along the prefix axis.
    pub fn prefix_kv(&self, batch: usize, heads: usize) -> Option<PrefixKv<B>> {
        let parts: Vec<PrefixKv<B>> = self
            .mods
            .iter()
            .filter_map(|m| match m {
                Modification::Prefix(p) => Some(p.kv(batch, heads)),
                _ => None,
            })
            .collect();
        match parts.len() {
            0 => None,
            1 => parts.into_iter().next(),
            _ => {
                let (keys, values) = parts.into_iter().map(|p| (p.keys, p.values)).unzip();
                Some(PrefixKv {
                    keys: Tensor::cat(keys, 2),
                    values: Tensor::cat(values, 2),
                })
            }
        }
    }

    /// Prepends the virtual tokens of every prompt placed here to `embeds` (`[batch, seq, d]`);
    /// returns the new embeddings and how many tokens were prepended.
    pub fn prepend(&self, embeds: Tensor<B, 3>) -> (Tensor<B, 3>, usize) {
        self.mods.iter().fold((embeds, 0), |(e, n), m| match m {
            Modification::Prompt(p) => (p.prepend(e), n + p.len()),
            _ => (e, n),
        })
    }
}
