//! Parameter counts of the pretrained backbones from their configs: the denominators of every
//! "% of the pretrained model" and the sets BitFit and LN-tuning train. Each formula mirrors the
//! module tree of the transformers class, and tests check it against the loaded models.

use peftgrid_zoo::NormPlacement::{Post, Pre};
use peftgrid_zoo::{BackboneShape, Stack};

use crate::config::{Architecture, BartConfig, T5Config, TextEncoderConfig, VitConfig};

/// Parameters of a transformer layer's pieces, d = hidden, f = FFN width.
struct Pieces {
    d: usize,
    f: usize,
}

impl Pieces {
    /// q, k, v, o with biases.
    fn attention(&self) -> usize {
        4 * (self.d * self.d + self.d)
    }
    fn ffn(&self) -> usize {
        self.d * self.f + self.f + self.f * self.d + self.d
    }
    /// Bias parameters of an attention (4d) or FFN (f + d), and a LayerNorm's beta (d).
    fn attention_biases(&self) -> usize {
        4 * self.d
    }
    fn ffn_biases(&self) -> usize {
        self.f + self.d
    }
}

/// Totals of a backbone: everything, biases, LayerNorm parameters.
#[derive(Default)]
struct Totals {
    all: usize,
    biases: usize,
    norms: usize,
}

impl Totals {
    fn add(&mut self, all: usize, biases: usize) {
        self.all += all;
        self.biases += biases;
    }
    fn norm(&mut self, d: usize, count: usize) {
        self.all += 2 * d * count;
        self.norms += 2 * d * count;
        self.biases += d * count;
    }
}

/// `bare`: the checkpoint's class is the bare encoder (`*Model`), which has a pooler in
/// RoBERTa and ViT; their classification classes drop it. BERT's classifier reads the pooler.
pub(crate) fn backbone_shape(arch: &Architecture, labels: usize, bare: bool) -> BackboneShape {
    let (mut shape, family, norm) = match arch {
        Architecture::Bert(c) => (text_shape(c, labels, false, true), "bert", Post),
        Architecture::Roberta(c) => (text_shape(c, labels, true, bare), "roberta", Post),
        Architecture::Vit(c) => (vit_shape(c, labels, bare), "vit", Pre),
        Architecture::Bart(c) => (bart_shape(c, labels, false, bare), "bart", Post),
        Architecture::Mbart(c) => (bart_shape(c, labels, true, bare), "mbart", Pre),
        Architecture::T5(c) => (t5_shape(c), "t5", Pre),
    };
    shape.family = family.to_string();
    shape.norm = norm;
    shape
}

/// Post-LN encoder layers (BERT, RoBERTa, ViT have the same pieces).
fn encoder_layers(t: &mut Totals, p: &Pieces, layers: usize) {
    for _ in 0..layers {
        t.add(
            p.attention() + p.ffn(),
            p.attention_biases() + p.ffn_biases(),
        );
        t.norm(p.d, 2);
    }
}

fn text_shape(c: &TextEncoderConfig, labels: usize, roberta: bool, pooler: bool) -> BackboneShape {
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let p = Pieces { d, f };
    let mut t = Totals::default();
    t.add(
        (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * d,
        0,
    );
    t.norm(d, 1);
    encoder_layers(&mut t, &p, c.num_hidden_layers);
    if pooler {
        t.add(d * d + d, d);
    }
    // BERT's classifier reads the pooler; RoBERTa's head has its own dense layer.
    let head = if roberta {
        d * d + d + d * labels + labels
    } else {
        d * labels + labels
    };
    BackboneShape {
        family: String::new(),
        norm: Post,
        hidden: d,
        heads: c.num_attention_heads,
        attention_dim: d,
        ffn: f,
        stacks: vec![Stack {
            name: "encoder".into(),
            layers: c.num_hidden_layers,
            cross_attention: false,
        }],
        pretrained: t.all,
        biases: t.biases,
        layer_norms: t.norms,
        head,
    }
}

fn vit_shape(c: &VitConfig, labels: usize, pooler: bool) -> BackboneShape {
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let p = Pieces { d, f };
    let mut t = Totals::default();
    let patches = (c.image_size / c.patch_size).pow(2);
    t.add(d * c.num_channels * c.patch_size * c.patch_size + d, d); // patch projection
    t.add(d + (patches + 1) * d, 0); // CLS token, positions
    encoder_layers(&mut t, &p, c.num_hidden_layers);
    if !c.qkv_bias {
        t.all -= 3 * d * c.num_hidden_layers;
        t.biases -= 3 * d * c.num_hidden_layers;
    }
    t.norm(d, 1); // final LayerNorm
    if pooler {
        t.add(d * d + d, d);
    }
    BackboneShape {
        family: String::new(),
        norm: Post,
        hidden: d,
        heads: c.num_attention_heads,
        attention_dim: d,
        ffn: f,
        stacks: vec![Stack {
            name: "encoder".into(),
            layers: c.num_hidden_layers,
            cross_attention: false,
        }],
        pretrained: t.all,
        biases: t.biases,
        layer_norms: t.norms,
        head: d * labels + labels,
    }
}

fn bart_shape(c: &BartConfig, labels: usize, mbart: bool, bare: bool) -> BackboneShape {
    let d = c.d_model;
    let enc = Pieces {
        d,
        f: c.encoder_ffn_dim,
    };
    let dec = Pieces {
        d,
        f: c.decoder_ffn_dim,
    };
    let mut t = Totals::default();
    // Shared token embeddings; learned positions with BART's offset of 2, one table per stack.
    t.add(
        c.vocab_size * d + 2 * (c.max_position_embeddings + 2) * d,
        0,
    );
    t.norm(d, 2); // layernorm_embedding of each stack
    for _ in 0..c.encoder_layers {
        t.add(
            enc.attention() + enc.ffn(),
            enc.attention_biases() + enc.ffn_biases(),
        );
        t.norm(d, 2);
    }
    for _ in 0..c.decoder_layers {
        t.add(
            2 * dec.attention() + dec.ffn(),
            2 * dec.attention_biases() + dec.ffn_biases(),
        );
        t.norm(d, 3);
    }
    if mbart {
        t.norm(d, 2); // final layer_norm of each stack
    }
    BackboneShape {
        family: String::new(),
        norm: Post,
        hidden: d,
        heads: c.encoder_attention_heads,
        attention_dim: d,
        ffn: c.encoder_ffn_dim,
        stacks: vec![
            Stack {
                name: "encoder".into(),
                layers: c.encoder_layers,
                cross_attention: false,
            },
            Stack {
                name: "decoder".into(),
                layers: c.decoder_layers,
                cross_attention: true,
            },
        ],
        pretrained: t.all,
        biases: t.biases,
        layer_norms: t.norms,
        // BartClassificationHead (dense + out_proj on the last EOS state) for classification
        // checkpoints; *ForConditionalGeneration's LM head is the shared embedding (frozen).
        head: if bare {
            0
        } else {
            d * d + d + d * labels + labels
        },
    }
}

/// T5: no biases anywhere, RMS norms (a gain only), one relative-position table per stack
/// (in its first layer), q/k/v/o of width heads × d_kv. The LM head is tied to `shared`
/// (`T5Model`, the base class, has none), so the head counts 0.
fn t5_shape(c: &T5Config) -> BackboneShape {
    let (d, f) = (c.d_model, c.d_ff);
    let a = c.num_heads * c.d_kv;
    let gated = c.ffn_activation().map(|(g, _)| g).unwrap_or(false);
    let attention = 4 * d * a;
    let ffn = if gated { 3 * d * f } else { 2 * d * f };
    let mut t = Totals::default();
    t.add(c.vocab_size * d, 0);
    let relative = c.relative_attention_num_buckets * c.num_heads;
    let rms = |t: &mut Totals, count: usize| {
        t.all += d * count;
        t.norms += d * count;
    };
    for _ in 0..c.num_layers {
        t.add(attention + ffn, 0);
        rms(&mut t, 2);
    }
    for _ in 0..c.decoder_layers() {
        t.add(2 * attention + ffn, 0);
        rms(&mut t, 3);
    }
    rms(&mut t, 2); // final_layer_norm of each stack
    t.add(2 * relative, 0);
    BackboneShape {
        family: String::new(),
        norm: Post,
        hidden: d,
        heads: c.num_heads,
        attention_dim: a,
        ffn: f,
        stacks: vec![
            Stack {
                name: "encoder".into(),
                layers: c.num_layers,
                cross_attention: false,
            },
            Stack {
                name: "decoder".into(),
                layers: c.decoder_layers(),
                cross_attention: true,
            },
        ],
        pretrained: t.all,
        biases: t.biases,
        layer_norms: t.norms,
        head: 0,
    }
}
