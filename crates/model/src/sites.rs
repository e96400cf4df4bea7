//! The attachment sites of an encoder layer: one [`Site`] per position of the unified view.

use burn::module::Module;
use burn::prelude::*;
use peftgrid_zoo::{Position, Site};

/// The sites of one transformer layer. `Position::Input` lives on the model, not on a layer.
#[derive(Module, Debug)]
pub struct LayerSites<B: Backend> {
    pub q: Site<B>,
    pub k: Site<B>,
    pub v: Site<B>,
    pub o: Site<B>,
    pub head: Site<B>,
    pub attention: Site<B>,
    pub ffn_in: Site<B>,
    pub ffn_out: Site<B>,
    pub ffn: Site<B>,
    pub block: Site<B>,
}

impl<B: Backend> Default for LayerSites<B> {
    fn default() -> Self {
        Self {
            q: Site::default(),
            k: Site::default(),
            v: Site::default(),
            o: Site::default(),
            head: Site::default(),
            attention: Site::default(),
            ffn_in: Site::default(),
            ffn_out: Site::default(),
            ffn: Site::default(),
            block: Site::default(),
        }
    }
}

impl<B: Backend> LayerSites<B> {
    /// The site at `position`; `None` for `Position::Input`, which is not a per-layer position.
    pub fn get(&self, position: Position) -> Option<&Site<B>> {
        Some(match position {
            Position::Input | Position::Embeddings => return None,
            Position::Q => &self.q,
            Position::K => &self.k,
            Position::V => &self.v,
            Position::O => &self.o,
            Position::Head => &self.head,
            Position::Attention => &self.attention,
            Position::FfnIn => &self.ffn_in,
            Position::FfnOut => &self.ffn_out,
            Position::Ffn => &self.ffn,
            Position::Block => &self.block,
        })
    }

    /// The site at `position`; `None` for `Position::Input`, which is not a per-layer position.
    pub fn get_mut(&mut self, position: Position) -> Option<&mut Site<B>> {
        Some(match position {
            Position::Input | Position::Embeddings => return None,
            Position::Q => &mut self.q,
            Position::K => &mut self.k,
            Position::V => &mut self.v,
            Position::O => &mut self.o,
            Position::Head => &mut self.head,
            Position::Attention => &mut self.attention,
            Position::FfnIn => &mut self.ffn_in,
            Position::FfnOut => &mut self.ffn_out,
            Position::Ffn => &mut self.ffn,
            Position::Block => &mut self.block,
        })
    }
}
