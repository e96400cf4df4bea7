//! The dimensions of the design space that do not depend on a backend: where a modification sits,
//! how it is inserted and how its output is composed with the hidden state it modifies.

use serde::{Deserialize, Serialize};

/// Which hidden state a modification changes (the "position" dimension of the unified view).
///
/// Every backbone offers a site for each of these in every layer (`Input` once per model).
/// Names follow the unified view: `attention`/`ffn` are sublayer outputs, `q`…`ffn_out` are
/// projections, `head` is the per-head key/value memory of an attention, `block` a whole layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Token embeddings before positions are added (prompt tuning).
    Input,
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
    /// The FFN inner activation f(x W_1), the input of `W_2` (IA3's FFN rescaling).
    FfnActivation,
    /// The FFN down-projection `W_2` (d_ff → d).
    FfnOut,
    /// The FFN sublayer output, before the residual connection.
    Ffn,
    /// A whole transformer layer (U-Tuning's block position).
    Block,
}

impl Position {
    /// All positions, in the order a layer computes them.
    pub const ALL: [Position; 12] = [
        Position::Input,
        Position::Q,
        Position::K,
        Position::V,
        Position::O,
        Position::Head,
        Position::Attention,
        Position::FfnIn,
        Position::FfnActivation,
        Position::FfnOut,
        Position::Ffn,
        Position::Block,
    ];
}

/// Where Δh takes its input from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Insertion {
    /// Δh is computed from the modified representation itself: h ← h + Δh(h).
    Sequential,
    /// Δh is computed from the input of the modified computation: h ← h + Δh(x).
    Parallel,
}

/// How Δh is combined with the hidden state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Composition {
    /// h + Δh.
    Add,
    /// h + s·Δh with a fixed scale s (LoRA's α/r, the scaled parallel adapter's s = 4).
    Scaled { s: f64 },
}
