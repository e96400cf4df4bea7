//! The dimensions of the design space that do not depend on a backend: where a modification sits,
//! how it is inserted and how its output is composed with the hidden state it modifies.

use serde::{Deserialize, Serialize};

/// Which hidden state a modification changes (the "position" dimension of the unified view).
///
/// Every backbone offers a site for each of these in every layer (`Input` once per model).
/// `attention`/`ffn` are sublayer outputs, `q`…`ffn_out` are projections (a modification there
/// sees the projection's input and output, so it can be LoRA's parallel Δ or IA3's rescaling of
/// either side), `head` is the per-head key/value memory of every attention, `block` a whole layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Token embeddings, before positions are added (prompt tuning as peft does it).
    Input,
    /// The embedding layer's output: after positions, token types and its LayerNorm (prompt
    /// tuning as AdapterHub does it: the virtual tokens get no position and no LayerNorm).
    Embeddings,
    /// Query projection `W_q`.
    Q,
    /// Key projection `W_k`.
    K,
    /// Value projection `W_v`.
    V,
    /// Attention output projection `W_o`.
    O,
    /// Per-head keys and values of the attention (prefix tuning).
    Head,
    /// The attention sublayer output, before the residual connection.
    Attention,
    /// The FFN up-projection `W_1` (d → d_ff).
    FfnIn,
    /// The FFN down-projection `W_2` (d_ff → d); its input is the FFN's inner activation.
    FfnOut,
    /// The FFN sublayer output, before the residual connection.
    Ffn,
    /// A whole transformer layer (U-Tuning's block position).
    Block,
}

impl Position {
    pub const ALL: [Position; 12] = [
        Position::Input,
        Position::Embeddings,
        Position::Q,
        Position::K,
        Position::V,
        Position::O,
        Position::Head,
        Position::Attention,
        Position::FfnIn,
        Position::FfnOut,
        Position::Ffn,
        Position::Block,
    ];

    /// A projection: the site wraps a linear map.
    pub fn is_projection(self) -> bool {
        matches!(
            self,
            Position::Q
                | Position::K
                | Position::V
                | Position::O
                | Position::FfnIn
                | Position::FfnOut
        )
    }

    /// A position inside an attention sublayer: every attention (a decoder's cross-attention
    /// too) has one site of each.
    pub fn is_attention(self) -> bool {
        matches!(
            self,
            Position::Q
                | Position::K
                | Position::V
                | Position::O
                | Position::Head
                | Position::Attention
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Position::Input => "input",
            Position::Embeddings => "embeddings",
            Position::Q => "q",
            Position::K => "k",
            Position::V => "v",
            Position::O => "o",
            Position::Head => "head",
            Position::Attention => "attention",
            Position::FfnIn => "ffn_in",
            Position::FfnOut => "ffn_out",
            Position::Ffn => "ffn",
            Position::Block => "block",
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where Δh takes its input from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Insertion {
    /// Δh is computed from the modified representation itself: h ← h + Δh(h).
    Sequential,
    /// Δh is computed from the input of the modified computation: h ← h + Δh(x).
    #[default]
    Parallel,
    /// Δh is computed from the sublayer's normalised residual sum, h ← h + Δh(LN(x + h)), and the
    /// sublayer's LayerNorm is then applied as usual, so it runs twice: LN(x + h + Δh(LN(x + h))).
    /// AdapterHub's `original_ln_before` placement (its Pfeiffer and UniPELT adapters). Only at
    /// `attention`/`ffn` of post-LN backbones.
    PostNorm,
}

impl Insertion {
    /// Its name in specs and in result columns.
    pub fn name(self) -> &'static str {
        match self {
            Insertion::Sequential => "sequential",
            Insertion::Parallel => "parallel",
            Insertion::PostNorm => "post_norm",
        }
    }

    /// Whether Δh reads the state it modifies, h. Otherwise it reads what the site hands it
    /// beside h: the wrapped computation's input x, or LN(x + h) for `PostNorm`.
    pub fn reads_h(self) -> bool {
        self == Insertion::Sequential
    }

    /// The width Δh reads at a site whose computation maps `d_in` to `d_out`.
    pub fn read_width(self, d_in: usize, d_out: usize) -> usize {
        match self {
            Insertion::Sequential | Insertion::PostNorm => d_out,
            Insertion::Parallel => d_in,
        }
    }
}

/// How Δh is combined with the hidden state.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Composition {
    /// h + Δh.
    #[default]
    Add,
    /// h + s·Δh with a fixed s (the scaled parallel adapter's s = 4).
    Scaled { s: f64 },
    /// h + (α/r)·Δh: LoRA's convention, the scale follows the rank.
    AlphaOverRank { alpha: f64 },
    /// h + (α/√r)·Δh: rank-stabilised LoRA (Kalajdzievski 2023, peft's `use_rslora`), whose
    /// updates keep their size as r grows.
    AlphaOverSqrtRank { alpha: f64 },
    /// h + s·Δh with s a trained scalar starting at `init`.
    Learned { init: f64 },
    /// h + g(x)·Δh with g(x) the mean over positions of σ(x W_g + b_g), one gate per example
    /// (UniPELT); a prefix's keys and values are both multiplied by g.
    Gated,
}

impl std::fmt::Display for Insertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The one text of a composition, its spec's `kind` and options: `add`, `scaled(s=4.0)`,
/// `alpha_over_rank(alpha=16.0)`, `learned(init=1.0)`, `gated`. Numbers are written as JSON
/// writes them, so the text reads back the value the spec holds.
impl std::fmt::Display for Composition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = |x: f64| serde_json::Value::from(x).to_string();
        match *self {
            Composition::Add => f.write_str("add"),
            Composition::Scaled { s } => write!(f, "scaled(s={})", number(s)),
            Composition::AlphaOverRank { alpha } => {
                write!(f, "alpha_over_rank(alpha={})", number(alpha))
            }
            Composition::AlphaOverSqrtRank { alpha } => {
                write!(f, "alpha_over_sqrt_rank(alpha={})", number(alpha))
            }
            Composition::Learned { init } => write!(f, "learned(init={})", number(init)),
            Composition::Gated => f.write_str("gated"),
        }
    }
}

impl Composition {
    /// Its `kind` in specs: `scaled` for `scaled(s=4.0)`.
    pub fn kind(&self) -> &'static str {
        match self {
            Composition::Add => "add",
            Composition::Scaled { .. } => "scaled",
            Composition::AlphaOverRank { .. } => "alpha_over_rank",
            Composition::AlphaOverSqrtRank { .. } => "alpha_over_sqrt_rank",
            Composition::Learned { .. } => "learned",
            Composition::Gated => "gated",
        }
    }

    /// The fixed factor (1 for learned and gated, whose factor is a parameter).
    pub fn fixed_scale(&self, budget: usize) -> f64 {
        match *self {
            Composition::Scaled { s } => s,
            Composition::AlphaOverRank { alpha } => alpha / budget.max(1) as f64,
            Composition::AlphaOverSqrtRank { alpha } => alpha / (budget.max(1) as f64).sqrt(),
            _ => 1.0,
        }
    }

    /// Parameters the composition itself adds at one site with input width `d_in`.
    pub fn params(&self, d_in: usize) -> usize {
        match self {
            Composition::Learned { .. } => 1,
            Composition::Gated => d_in + 1,
            _ => 0,
        }
    }
}

/// The nonlinearity f of a bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Relu,
    /// Exact (erf) GELU.
    Gelu,
    Tanh,
    /// SiLU, AdapterHub's "swish".
    Silu,
    Identity,
}

/// How a bottleneck's or low-rank form's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// LoRA's: down Kaiming-uniform (a = √5), up zero, biases zero; starts as the identity.
    #[default]
    Lora,
    /// Houlsby's / BERT's: down and up normal(0, 0.02), biases zero; near the identity.
    Bert,
}

/// Which side of a projection IA3-style rescaling multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// (W x + b) ⊙ l.
    #[default]
    Output,
    /// W (x ⊙ l) + b: peft's IA3 on "feedforward" modules (the FFN inner activation).
    Input,
}
