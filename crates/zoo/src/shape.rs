//! What parameter accounting needs to know of a backbone: its widths and how many sublayers of
//! each kind it has. Built from a `config.json` alone, so counting never allocates a model.

use serde::{Deserialize, Serialize};

use crate::Position;

/// One stack of layers (an encoder, or a decoder with cross-attention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    pub name: String,
    pub layers: usize,
    /// Decoder layers attend to the encoder too: one more attention sublayer per layer.
    pub cross_attention: bool,
}

/// Where a backbone's LayerNorms sit relative to its sublayers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// LN(x + sublayer(x)): BERT, RoBERTa, BART. Only these have an LN(x + h) for a
    /// `post_norm` modification to read.
    #[default]
    Post,
    /// x + sublayer(LN(x)): ViT, T5, mBART.
    Pre,
}

/// Widths and counts of a backbone, and the facts about its layout that decide which methods
/// it can carry ([`crate::MethodSpec::check_backbone`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneShape {
    /// The checkpoint's `model_type` (`bert`, `bart`, ...), for messages.
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub norm: NormPlacement,
    /// d, the residual stream width.
    pub hidden: usize,
    pub heads: usize,
    /// heads × d_head: the width of q, k, v (equal to d except in some T5s).
    pub attention_dim: usize,
    /// d_ff.
    pub ffn: usize,
    pub stacks: Vec<Stack>,
    /// Every parameter of the pretrained model (the task head excluded).
    pub pretrained: usize,
    /// Bias parameters of the pretrained model (BitFit's set: linear and LayerNorm biases).
    pub biases: usize,
    /// LayerNorm gains and biases of the pretrained model (LN-tuning's set).
    pub layer_norms: usize,
    /// Parameters of the task head.
    pub head: usize,
}

/// A group of sites of one kind, all of the same widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteGroup {
    pub position: Position,
    /// How many such sites the backbone has.
    pub count: usize,
    pub dims: SiteDims,
}

/// The widths a modification sees at a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteDims {
    /// Width of what Δh reads (a projection's input; d for sublayers).
    pub d_in: usize,
    /// Width of the modified hidden state.
    pub d_out: usize,
    pub heads: usize,
}

impl BackboneShape {
    /// Whether a stack attends to another (a decoder with cross-attention).
    pub fn is_encoder_decoder(&self) -> bool {
        self.stacks.iter().any(|s| s.cross_attention)
    }

    pub fn layers(&self) -> usize {
        self.stacks.iter().map(|s| s.layers).sum()
    }

    /// Attention sublayers: self-attention in every layer, cross-attention in decoder layers.
    pub fn attentions(&self) -> usize {
        self.stacks
            .iter()
            .map(|s| s.layers * if s.cross_attention { 2 } else { 1 })
            .sum()
    }

    /// The prefix memories: one per (stack, attention kind), each serving `layers` attentions.
    pub fn attention_kinds(&self) -> Vec<(String, usize)> {
        let mut kinds = Vec::new();
        for s in &self.stacks {
            kinds.push((format!("{}.self", s.name), s.layers));
            if s.cross_attention {
                kinds.push((format!("{}.cross", s.name), s.layers));
            }
        }
        kinds
    }

    /// Where a modification at `position` goes, and the widths it sees there.
    pub fn sites(&self, position: Position) -> SiteGroup {
        let (d, a, f, h) = (self.hidden, self.attention_dim, self.ffn, self.heads);
        let (count, d_in, d_out) = match position {
            Position::Input | Position::Embeddings => (1, d, d),
            Position::Q | Position::K | Position::V => (self.attentions(), d, a),
            Position::O => (self.attentions(), a, d),
            // Δ of a head reads the attention input (width d, for a gate); prefixes are a wide.
            Position::Head => (self.attentions(), d, a),
            Position::Attention => (self.attentions(), d, d),
            Position::FfnIn => (self.layers(), d, f),
            Position::FfnOut => (self.layers(), f, d),
            Position::Ffn | Position::Block => (self.layers(), d, d),
        };
        SiteGroup {
            position,
            count,
            dims: SiteDims {
                d_in,
                d_out,
                heads: h,
            },
        }
    }
}
