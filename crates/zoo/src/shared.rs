//! Parameters that several sites use: Compacter's PHM rules (shared by every layer) and the
//! prefix generators (one makes the prefixes of all layers). A backbone holds one `Shared` and
//! passes it to every site.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation;

/// The prefixes of the `layers` attentions of one kind (e.g. every encoder self-attention).
#[derive(Module, Debug)]
pub struct PrefixGenerator<B: Backend> {
    pub source: PrefixSource<B>,
    pub layers: usize,
}

/// Where the prefixes come from.
// One per prefix group, built once: the size difference of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum PrefixSource<B: Backend> {
    /// `[l, L·2·a]`, trained directly (or merged from an MLP).
    Flat(Param<Tensor<B, 2>>),
    /// P = MLP(P′), the training-time reparameterisation.
    Mlp(PrefixMlp<B>),
}

/// out(tanh(hidden(P′))): Li & Liang's reparameterisation, as He et al. and AdapterHub use it.
#[derive(Module, Debug)]
pub struct PrefixMlp<B: Backend> {
    /// P′: `[l, d]`
    pub wte: Param<Tensor<B, 2>>,
    pub hidden: Linear<B>,
    /// `mid → L·2·a`
    pub out: Linear<B>,
}

impl<B: Backend> PrefixMlp<B> {
    fn hidden_states(&self) -> Tensor<B, 2> {
        activation::tanh(self.hidden.forward(self.wte.val()))
    }

    /// Columns `[c0, c1)` of the MLP output, computing only those.
    fn columns(&self, c0: usize, c1: usize) -> Tensor<B, 2> {
        let h = self.hidden_states();
        let [mid, _] = self.out.weight.dims();
        let w = self.out.weight.val().slice([0..mid, c0..c1]);
        let y = h.matmul(w);
        match &self.out.bias {
            Some(b) => y + b.val().slice(c0..c1).unsqueeze(),
            None => y,
        }
    }

    pub fn flat(&self) -> Tensor<B, 2> {
        self.out.forward(self.hidden_states())
    }
}

#[derive(Module, Debug)]
pub struct Shared<B: Backend> {
    /// Compacter's rules, `[n, n, n]` each.
    pub phm_rules: Vec<Param<Tensor<B, 3>>>,
    pub prefixes: Vec<PrefixGenerator<B>>,
    /// Tensors a method stores but never trains (VeRA's random bases), each `[rows, cols]`.
    /// The name `frozen` is what keeps them out of the optimiser (`method::role`).
    pub frozen: Vec<Param<Tensor<B, 2>>>,
    /// VPT-deep's prompts of layers 1 … L−1, `[L − 1, l, d]` each.
    pub deep_prompts: Vec<Param<Tensor<B, 3>>>,
}

impl<B: Backend> Default for Shared<B> {
    fn default() -> Self {
        Self {
            phm_rules: Vec::new(),
            prefixes: Vec::new(),
            frozen: Vec::new(),
            deep_prompts: Vec::new(),
        }
    }
}

impl<B: Backend> Shared<B> {
    pub fn add_phm_rule(&mut self, rule: Tensor<B, 3>) -> usize {
        self.phm_rules.push(Param::from_tensor(rule));
        self.phm_rules.len() - 1
    }

    /// Adds a tensor that is stored but never trained; returns its index.
    pub fn add_frozen(&mut self, t: Tensor<B, 2>) -> usize {
        self.frozen
            .push(Param::from_tensor(t).set_require_grad(false));
        self.frozen.len() - 1
    }

    pub fn frozen(&self, index: usize) -> Tensor<B, 2> {
        self.frozen[index].val()
    }

    pub fn phm_rule(&self, index: usize) -> Tensor<B, 3> {
        self.phm_rules[index].val()
    }

    pub fn add_prefix(&mut self, generator: PrefixGenerator<B>) -> usize {
        self.prefixes.push(generator);
        self.prefixes.len() - 1
    }

    /// Keys and values (`[l, a]` each) that generator `index` makes for `layer`.
    pub fn prefix_layer(&self, index: usize, layer: usize) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let g = &self.prefixes[index];
        let kv = match &g.source {
            PrefixSource::Flat(p) => {
                let [l, width] = p.dims();
                let a = width / g.layers / 2;
                p.val().slice([0..l, 2 * layer * a..(2 * layer + 2) * a])
            }
            PrefixSource::Mlp(m) => {
                let a = m.out.weight.dims()[1] / g.layers / 2;
                m.columns(2 * layer * a, (2 * layer + 2) * a)
            }
        };
        let [l, two_a] = kv.dims();
        let a = two_a / 2;
        (kv.clone().slice([0..l, 0..a]), kv.slice([0..l, a..two_a]))
    }

    /// Folds every MLP generator into its flat output (after training, as He et al. do).
    pub fn merge_prefixes(&mut self) {
        for g in self.prefixes.iter_mut() {
            if let PrefixSource::Mlp(m) = &g.source {
                g.source = PrefixSource::Flat(Param::from_tensor(m.flat().detach()));
            }
        }
    }
}
