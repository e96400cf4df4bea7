//! The zoo on its own: the one text of a design point, parameter counts from shapes written out
//! by hand (published budgets), spec validation and the backbone rules, and properties over
//! every form at every placement (not only the presets). Counting against real modules is in
//! `peftgrid-model`'s tests, which need a backbone.

use peftgrid_zoo::presets::{preset, PRESETS};
use peftgrid_zoo::{
    count, BackboneShape, Composition, Form, Insertion, MethodSpec, ModificationSpec,
    NormPlacement, ParamGroup, Position, Stack,
};

/// bert-base-uncased as `config.json` gives it (BertModel: 109,482,240 parameters).
fn bert_base() -> BackboneShape {
    BackboneShape {
        family: "bert".into(),
        norm: NormPlacement::Post,
        hidden: 768,
        heads: 12,
        attention_dim: 768,
        ffn: 3072,
        stacks: vec![Stack {
            name: "encoder".into(),
            layers: 12,
            cross_attention: false,
        }],
        pretrained: 109_482_240,
        biases: 102_912,
        layer_norms: 38_400,
        head: 768 * 2 + 2,
    }
}

/// bart-large: 12 + 12 layers, 1024 wide, post-LN, the decoder attending to the encoder.
fn bart_large() -> BackboneShape {
    BackboneShape {
        family: "bart".into(),
        norm: NormPlacement::Post,
        hidden: 1024,
        heads: 16,
        attention_dim: 1024,
        ffn: 4096,
        stacks: vec![
            Stack {
                name: "encoder".into(),
                layers: 12,
                cross_attention: false,
            },
            Stack {
                name: "decoder".into(),
                layers: 12,
                cross_attention: true,
            },
        ],
        pretrained: 406_291_456,
        biases: 0,
        layer_norms: 0,
        head: 0,
    }
}

/// A 32-wide, 4-head toy: small enough to enumerate every placement.
fn toy(norm: NormPlacement, encoder_decoder: bool) -> BackboneShape {
    let mut stacks = vec![Stack {
        name: "encoder".into(),
        layers: 2,
        cross_attention: false,
    }];
    if encoder_decoder {
        stacks.push(Stack {
            name: "decoder".into(),
            layers: 2,
            cross_attention: true,
        });
    }
    BackboneShape {
        family: if encoder_decoder { "bart" } else { "bert" }.into(),
        norm,
        hidden: 32,
        heads: 4,
        attention_dim: 32,
        ffn: 64,
        stacks,
        pretrained: 100_000,
        biases: 1_000,
        layer_norms: 500,
        head: 66,
    }
}

#[test]
fn a_design_point_has_one_text() {
    assert_eq!(Composition::Add.to_string(), "add");
    assert_eq!(Composition::Scaled { s: 4.0 }.to_string(), "scaled(s=4.0)");
    assert_eq!(
        Composition::AlphaOverRank { alpha: 16.0 }.to_string(),
        "alpha_over_rank(alpha=16.0)"
    );
    assert_eq!(
        Composition::Learned { init: 0.5 }.to_string(),
        "learned(init=0.5)"
    );
    assert_eq!(Composition::Gated.to_string(), "gated");
    assert_eq!(Insertion::PostNorm.to_string(), "post_norm");
    assert_eq!(ParamGroup::LayerNorms.to_string(), "layer_norms");
    // The text is the spec's own serde names: the kind of a composition, the value of a group.
    for c in [
        Composition::Add,
        Composition::Scaled { s: 4.0 },
        Composition::AlphaOverRank { alpha: 16.0 },
        Composition::Learned { init: 1.0 },
        Composition::Gated,
    ] {
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["kind"], c.kind());
        assert!(c.to_string().starts_with(c.kind()));
    }
    for g in [ParamGroup::All, ParamGroup::Biases, ParamGroup::LayerNorms] {
        assert_eq!(serde_json::to_value(g).unwrap(), g.name());
    }

    let mam = preset("mam").unwrap();
    let d = mam.dimensions();
    assert_eq!(
        (
            d.forms.as_str(),
            d.positions.as_str(),
            d.insertions.as_str(),
            d.compositions.as_str(),
            d.budgets.as_str()
        ),
        (
            "prefix+bottleneck",
            "head+ffn",
            "parallel+parallel",
            "add+scaled(s=4.0)",
            "30+512"
        )
    );
    let lora = preset("lora").unwrap();
    assert_eq!(lora.dimensions().positions, "q,v");
    assert_eq!(
        lora.modifications[0].placement_label(),
        "q+v/parallel/alpha_over_rank(alpha=16.0)"
    );
    assert_eq!(
        lora.modifications[0].to_string(),
        "low_rank r=8 @ q+v, parallel, alpha_over_rank(alpha=16.0)"
    );
    // Counting rows name groups as specs do.
    let ln = count(&preset("ln_tuning").unwrap(), &bert_base()).unwrap();
    assert_eq!(ln.rows[0].what, "pretrained layer_norms");
}

#[test]
fn counts_from_shapes_alone_match_published_budgets() {
    let bert = bert_base();
    // LoRA r = 8 at W_q, W_v of bert-base: 12 · 2 · (768 · 8 + 8 · 768).
    assert_eq!(
        count(&preset("lora").unwrap(), &bert).unwrap().trainable,
        294_912
    );
    // Houlsby: two bottlenecks of r = 64 per layer, 2 · (768 · 64 + 64 + 64 · 768 + 768).
    assert_eq!(
        count(&preset("houlsby").unwrap(), &bert).unwrap().trainable,
        12 * 2 * (768 * 64 + 64 + 64 * 768 + 768)
    );
    let probe = count(&preset("linear_probe").unwrap(), &bert).unwrap();
    assert_eq!((probe.trainable, probe.with_head), (0, 1_538));
    // He et al.'s prefix budget on BART-large: l = 200 keys and values at 36 attentions, 3.6%.
    let prefix = count(&MethodSpec::from_arg("prefix:200").unwrap(), &bart_large()).unwrap();
    assert_eq!(prefix.deployed, 2 * 200 * 1024 * 36);
    assert!(
        (prefix.deployed_percent - 3.63).abs() < 0.01,
        "{}",
        prefix.deployed_percent
    );
    assert!(
        prefix.trainable > prefix.deployed,
        "the MLP trains, is not deployed"
    );
    let deployed = MethodSpec::from_arg("prefix:200").unwrap().deployed();
    let flat = count(&deployed, &bart_large()).unwrap();
    assert_eq!(
        (flat.trainable, flat.deployed),
        (prefix.deployed, prefix.deployed)
    );
}

#[test]
fn specs_are_validated_with_the_reason() {
    let err = |spec: &MethodSpec| spec.check().unwrap_err().to_string();
    let lora = |budget: Option<usize>| {
        let mut m = ModificationSpec::new(
            Form::LowRank(Default::default()),
            &[Position::Q, Position::V],
        );
        m.budget = budget;
        MethodSpec::new("x").with(m)
    };
    assert!(err(&lora(None)).contains("needs a budget"));
    assert!(err(&lora(Some(1 << 20))).contains("larger than any knob needs"));
    let nowhere = MethodSpec::new("x")
        .with(ModificationSpec::new(Form::LowRank(Default::default()), &[]).budget(4));
    assert!(err(&nowhere).contains("no position"));
    let post_norm_at_q = MethodSpec::new("x").with(
        ModificationSpec::new(Form::Bottleneck(Default::default()), &[Position::Q])
            .insertion(Insertion::PostNorm)
            .budget(4),
    );
    assert!(err(&post_norm_at_q).contains("post_norm"));
    // A budget that does not fit the widths is the shape's to refuse.
    let wide = lora(Some(64));
    assert!(wide.check().is_ok());
    assert!(count(&wide, &toy(NormPlacement::Post, false)).is_err());
    // Parsing names the origin.
    let e = MethodSpec::parse("name = 3", "my.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("my.toml"), "{e}");
    let e = MethodSpec::from_arg("lora:x").unwrap_err().to_string();
    assert!(e.contains("not a whole number"), "{e}");
    assert!(MethodSpec::from_arg("no_such_method").is_err());
}

#[test]
fn backbone_rules_refuse_what_the_layout_cannot_carry() {
    // AdapterHub's Pfeiffer placement: the adapter reads LN(x + h).
    let pfeiffer = MethodSpec::new("pfeiffer_post_norm").with(
        ModificationSpec::new(Form::Bottleneck(Default::default()), &[Position::Ffn])
            .insertion(Insertion::PostNorm)
            .budget(4),
    );
    let unipelt = preset("unipelt").unwrap();
    let encoder = toy(NormPlacement::Post, false);
    let pre_ln = toy(NormPlacement::Pre, false);
    let enc_dec = toy(NormPlacement::Post, true);
    assert!(pfeiffer.check_backbone(&encoder).is_ok());
    let e = pfeiffer.check_backbone(&pre_ln).unwrap_err().to_string();
    assert!(e.contains("post_norm") && e.contains("post-LN"), "{e}");
    assert!(pfeiffer.check_backbone(&enc_dec).is_ok());
    assert!(unipelt.check_backbone(&encoder).is_ok());
    let e = unipelt.check_backbone(&enc_dec).unwrap_err().to_string();
    assert!(e.contains("gated composition") && e.contains("bart"), "{e}");
    // `count`, which every dry run and run calls, applies them.
    assert!(count(&unipelt, &enc_dec).is_err());
}

#[test]
fn every_preset_is_valid_and_round_trips() {
    for p in PRESETS {
        let spec = (p.build)();
        spec.check().unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(
            MethodSpec::parse(&spec.to_json().unwrap(), "json").unwrap(),
            spec,
            "{}",
            p.name
        );
        assert_eq!(
            MethodSpec::parse(&spec.to_toml().unwrap(), "toml").unwrap(),
            spec,
            "{}",
            p.name
        );
        // Deploying is idempotent and keeps the placement.
        let deployed = spec.deployed();
        assert_eq!(deployed.deployed(), deployed, "{}", p.name);
        assert_eq!(deployed.dimensions(), spec.dimensions(), "{}", p.name);
    }
}

/// Every form with its default options at every position, insertion, composition and a few
/// budgets: a placement the spec accepts counts on a backbone or is refused with an error (never
/// a panic), the count moves with the budget, deployed never exceeds trained
/// (reparameterisations only shrink), and the spec round-trips.
#[test]
fn every_form_at_every_placement() {
    let compositions = [
        Composition::Add,
        Composition::Scaled { s: 4.0 },
        Composition::AlphaOverRank { alpha: 8.0 },
        Composition::Learned { init: 1.0 },
        Composition::Gated,
    ];
    let insertions = [
        Insertion::Sequential,
        Insertion::Parallel,
        Insertion::PostNorm,
    ];
    let shapes = [
        toy(NormPlacement::Post, false),
        toy(NormPlacement::Pre, false),
        toy(NormPlacement::Post, true),
    ];
    let mut accepted = std::collections::BTreeMap::<&str, usize>::new();
    for name in Form::NAMES {
        let form: Form = serde_json::from_value(serde_json::json!({ "kind": name }))
            .unwrap_or_else(|e| panic!("{name}: default options: {e}"));
        assert_eq!(form.name(), *name);
        for position in Position::ALL {
            for insertion in insertions {
                for composition in compositions {
                    let mut last: Option<usize> = None;
                    for budget in [1, 2, 4] {
                        let mut m = ModificationSpec::new(form.clone(), &[position])
                            .insertion(insertion)
                            .composition(composition);
                        if form.knob().is_some() {
                            m = m.budget(budget);
                        } else if budget > 1 {
                            continue;
                        }
                        let mut spec = MethodSpec::new("p").with(m);
                        // VPT-deep replaces the tokens of a prompt at the input.
                        if *name == "deep_prompt" {
                            let prompt: Form =
                                serde_json::from_value(serde_json::json!({ "kind": "prompt" }))
                                    .unwrap();
                            spec = spec.with(
                                ModificationSpec::new(prompt, &[Position::Input]).budget(budget),
                            );
                        }
                        if spec.check().is_err() {
                            continue;
                        }
                        *accepted.entry(name).or_default() += 1;
                        assert_eq!(
                            MethodSpec::parse(&spec.to_json().unwrap(), "json").unwrap(),
                            spec
                        );
                        for shape in &shapes {
                            let Ok(c) = count(&spec, shape) else {
                                continue;
                            };
                            assert!(c.deployed <= c.trainable, "{}", spec.modifications[0]);
                            // The budget is a knob of the count (it grows with r and l;
                            // KronA's k² + d_in·d_out/k² falls with k).
                            if shape == &shapes[0] {
                                if let Some(before) = last {
                                    assert_ne!(c.trainable, before, "{}", spec.modifications[0]);
                                }
                                last = Some(c.trainable);
                            }
                        }
                    }
                }
            }
        }
    }
    // Every form has placements it accepts.
    for name in Form::NAMES {
        assert!(
            accepted.get(name).is_some_and(|&n| n > 0),
            "{name}: none accepted"
        );
    }
}

#[test]
fn torch_randperm_is_reproduced() {
    // torch.randperm(1024, generator=torch.Generator().manual_seed(777))[:24], torch 2.15 CPU:
    // the frequencies peft's FourierFT draws for a 32 × 32 projection.
    let perm = peftgrid_zoo::forms::torch_randperm(1024, 777);
    assert_eq!(
        &perm[..24],
        &[
            103, 249, 319, 701, 999, 360, 217, 998, 735, 263, 687, 944, 486, 601, 290, 169, 578,
            788, 246, 699, 371, 380, 166, 631
        ]
    );
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1024).collect::<Vec<_>>());
}

#[test]
fn lokr_factors_the_widths_as_peft_does() {
    use peftgrid_zoo::forms::factorization;
    // peft's docstring and its LoKr fixture (32 → (4, 8)).
    for (d, want) in [
        (256, (16, 16)),
        (128, (8, 16)),
        (127, (1, 127)),
        (32, (4, 8)),
        (768, (24, 32)),
    ] {
        assert_eq!(factorization(d), want, "{d}");
    }
}

mod rotations {
    use burn::backend::NdArray;
    use burn::prelude::*;
    use peftgrid_zoo::rotation::{cayley, inverse, skew_from_upper};

    type B = NdArray<f32>;

    fn max_abs(t: Tensor<B, 3>) -> f32 {
        t.abs().max().into_scalar()
    }

    #[test]
    fn the_cayley_transform_is_orthogonal_and_gauss_jordan_inverts() {
        let device = Default::default();
        let upper = Tensor::<B, 2>::random(
            [3, 10],
            burn::tensor::Distribution::Normal(0.0, 0.7),
            &device,
        );
        let s = skew_from_upper(upper, 5);
        // Skew-symmetric.
        assert!(max_abs(s.clone() + s.clone().swap_dims(1, 2)) < 1e-7);
        let eye = Tensor::<B, 2>::eye(5, &device)
            .unsqueeze::<3>()
            .repeat_dim(0, 3);
        let a = eye.clone() + s.clone();
        assert!(max_abs(a.clone().matmul(inverse(a)) - eye.clone()) < 1e-5);
        let q = cayley(s);
        assert!(max_abs(q.clone().matmul(q.swap_dims(1, 2)) - eye) < 1e-5);
    }

    #[test]
    fn butterfly_factors_mix_blocks_and_stay_orthogonal() {
        use burn::module::Param;
        use peftgrid_zoo::forms::{ButterflyOrthogonalSpec, FormSpec};
        use peftgrid_zoo::{BuildContext, Composition, Insertion, Placement, Position, SiteDims};
        let device = Default::default();
        let p = Placement {
            position: Position::Q,
            insertion: Insertion::Parallel,
            composition: Composition::Add,
            budget: 4,
        };
        let dims = SiteDims {
            d_in: 16,
            d_out: 8,
            heads: 2,
        };
        let ctx = BuildContext::<B> {
            device: &device,
            layer: 0,
            shared: None,
        };
        let spec = ButterflyOrthogonalSpec { factors: 2 };
        let mut m = spec.build(&p, dims, &ctx);
        m.blocks = Param::from_tensor(Tensor::random(
            [2, 4, 4, 4],
            burn::tensor::Distribution::Normal(0.0, 0.5),
            &device,
        ));
        let r = m.rotation();
        let eye = Tensor::<B, 2>::eye(16, &device);
        let err: f32 = (r.clone().matmul(r.clone().transpose()) - eye)
            .abs()
            .max()
            .into_scalar();
        assert!(err < 1e-5, "{err}");
        // The second factor's permutation couples neighbouring blocks: entries outside the
        // 4 × 4 diagonal blocks are non-zero.
        let off: f32 = r.slice([0..4, 4..8]).abs().max().into_scalar();
        assert!(off > 1e-3, "{off}");
    }

    /// RAFT starts as its GELU fit: within the fit's 8e-3 of exact GELU on [−8, 8]
    /// (`tools/fit_rational_gelu.py` measured 7.99e-3 in f64).
    #[test]
    fn the_rational_activation_starts_as_gelu() {
        use peftgrid_zoo::forms::{FormModule, FormSpec, RationalSpec};
        use peftgrid_zoo::{BuildContext, Composition, Insertion, Placement, Position, SiteDims};
        let device = Default::default();
        let p = Placement {
            position: Position::FfnIn,
            insertion: Insertion::Parallel,
            composition: Composition::Add,
            budget: 0,
        };
        let dims = SiteDims {
            d_in: 4,
            d_out: 8,
            heads: 1,
        };
        let ctx = BuildContext::<B> {
            device: &device,
            layer: 0,
            shared: None,
        };
        let m = RationalSpec {}.build(&p, dims, &ctx);
        let xs: Vec<f32> = (0..=1600).map(|i| -8.0 + i as f32 * 0.01).collect();
        let x = Tensor::<B, 1>::from_floats(xs.as_slice(), &device).reshape([1, 1, 1601]);
        let exact = burn::tensor::activation::gelu(x.clone());
        let err: f32 = (m.activate(x) - exact).abs().max().into_scalar();
        assert!(err < 8.1e-3, "{err}");
    }
}
