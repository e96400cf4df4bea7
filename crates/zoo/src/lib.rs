//! The PEFT design space of He et al. ("Towards a Unified View of Parameter-Efficient Transfer
//! Learning") as types.
//!
//! A modification Δh of a frozen model is described by five dimensions: its functional form
//! ([`Form`], one file each in [`forms`]), the position ([`Position`]), the insertion
//! ([`Insertion`]), the composition ([`Composition`]) and the budget (the form's knob). A method
//! ([`MethodSpec`]) is a list of modifications plus the pretrained groups it unfreezes; every named
//! method is a preset ([`presets`]). Backbones in `peftgrid-model` expose a [`Site`] at every
//! position; [`accounting`] counts a method from a backbone's [`BackboneShape`] alone.

pub mod accounting;
pub mod compose;
pub mod decompose;
pub mod dropout;
pub mod error;
pub mod forms;
pub mod init;
pub mod presets;
pub mod rotation;
pub mod rows;
pub mod shape;
pub mod shared;
mod site;
mod space;
pub mod spec;

pub use accounting::{count, match_budget, Count, Target};
pub use error::{Result, ZooError};
pub use forms::{BuildContext, Form, Modification, Placement};
pub use shape::{BackboneShape, NormPlacement, SiteDims, SiteGroup, Stack};
pub use shared::Shared;
pub use site::{PrefixKv, Site};
pub use space::{Activation, Composition, Init, Insertion, Position, Side};
pub use spec::{Dimensions, MethodSpec, ModificationSpec, ParamGroup};
