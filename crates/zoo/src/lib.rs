//! The PEFT design space of He et al. ("Towards a Unified View of Parameter-Efficient Transfer
//! Learning") as types.
//!
//! A modification Δh of a frozen model is described by five dimensions: its functional form, the
//! position (which hidden state it modifies), the insertion (sequential or parallel), the
//! composition (add, scaled add, gated) and the budget. Backbones in `peftgrid-model` expose a
//! [`Site`] at every position of the unified view; a method is a set of modifications placed at
//! those sites.

pub mod forms;
mod modification;
mod site;
mod space;

pub use modification::Modification;
pub use site::{PrefixKv, Site};
pub use space::{Composition, Insertion, Position};
