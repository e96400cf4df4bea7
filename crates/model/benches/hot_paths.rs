//! The hot paths of a training step, so that a regression shows on any machine (ratios between
//! runs on one machine; absolute times drift on shared machines):
//! - self-attention of one MiniLM layer (d 384, 12 heads), inference (the backend's fused
//!   attention) and training forward (the decomposed form autodiff differentiates);
//! - a LoRA linear (W x + B A x, r = 8) and a parallel bottleneck adapter (r = 64);
//! - one training step of MiniLM-L6 with LoRA (forward, backward, AdamW), batch 8 × 64.
//!
//! `cargo bench -p peftgrid-model --bench hot_paths -- --sample-size 10`

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::nn::LinearConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{criterion_group, criterion_main, Criterion};
use peftgrid_model::layers::SelfAttention;
use peftgrid_model::{method, Checkpoint, Inputs, LayerSites, Model, ModelConfig, Pooling};
use peftgrid_zoo::dropout::Dropout;
use peftgrid_zoo::{BuildContext, MethodSpec, Position, Shared, Site, SiteDims};

type B = Flex<f32>;
type AD = Autodiff<B>;

const BATCH: usize = 32;
const SEQ: usize = 64;
const D: usize = 384;

fn attention<Bk: Backend>(device: &Bk::Device) -> SelfAttention<Bk> {
    let linear = || LinearConfig::new(D, D).init(device);
    SelfAttention {
        query: linear(),
        key: linear(),
        value: linear(),
        output: linear(),
        heads: 12,
        probs_dropout: Dropout { prob: 0.1 },
    }
}

/// A site holding the first modification of the method `arg` at `position`.
fn site<Bk: Backend>(arg: &str, position: Position, device: &Bk::Device) -> Site<Bk> {
    let spec = MethodSpec::from_arg(arg).expect("preset");
    let m = &spec.modifications[0];
    let dims = SiteDims {
        d_in: D,
        d_out: D,
        heads: 12,
    };
    let ctx = BuildContext {
        device,
        layer: 0,
        shared: None,
    };
    let mut site = Site::default();
    site.push(m.form.build(&m.placement(position), dims, &ctx));
    site
}

fn hot_paths(c: &mut Criterion) {
    let device = Default::default();
    let x = Tensor::<B, 3>::random([BATCH, SEQ, D], Distribution::Normal(0.0, 1.0), &device);
    let mask = Tensor::<B, 4>::zeros([BATCH, 1, 1, SEQ], &device);
    let shared = Shared::<B>::default();
    let sites = LayerSites::<B>::default();

    let attn = attention::<B>(&device);
    c.bench_function("attention/inference 32x64x384", |b| {
        b.iter(|| {
            attn.forward(x.clone(), mask.clone(), &sites, &shared)
                .into_data()
        })
    });
    let attn_ad = attention::<AD>(&device);
    let x_ad = Tensor::<AD, 3>::from_inner(x.clone());
    let mask_ad = Tensor::<AD, 4>::from_inner(mask.clone());
    let sites_ad = LayerSites::<AD>::default();
    let shared_ad = Shared::<AD>::default();
    c.bench_function("attention/train forward+backward 32x64x384", |b| {
        b.iter(|| {
            let y = attn_ad.forward(x_ad.clone(), mask_ad.clone(), &sites_ad, &shared_ad);
            y.sum().backward()
        })
    });

    let linear = LinearConfig::new(D, D).init::<B>(&device);
    let lora = site::<B>("lora:8", Position::Q, &device);
    c.bench_function("lora linear r=8 32x64x384", |b| {
        b.iter(|| lora.project(x.clone(), &linear, &shared).into_data())
    });
    let adapter = site::<B>("parallel:64", Position::Ffn, &device);
    c.bench_function("parallel adapter r=64 32x64x384", |b| {
        b.iter(|| adapter.modify(x.clone(), x.clone(), &shared).into_data())
    });

    // One LoRA training step of MiniLM-L6 (random weights of its size).
    let config = ModelConfig::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/configs/all-MiniLM-L6-v2.json"
    ))
    .expect("config");
    let spec = MethodSpec::from_arg("lora:8").expect("preset");
    let mut model: Model<AD> =
        peftgrid_model::build(&config, &Checkpoint::random(0), &device).expect("model");
    model.set_new_head(&config, 2, Pooling::Mean, &device);
    method::apply(&mut model, &config, &spec, &device).expect("apply");
    let mut model = Some(method::freeze(model, &spec));
    let mut optim = AdamWConfig::new().init::<AD, Model<AD>>();
    let n = 8;
    let ids: Vec<i64> = (0..n * SEQ)
        .map(|i| 1000 + (i as i64 * 7919) % 29_000)
        .collect();
    let labels = Tensor::<AD, 1, Int>::from_data(
        TensorData::new(vec![0i64, 1, 0, 1, 1, 0, 0, 1], [n]),
        &device,
    );
    c.bench_function("minilm lora train step 8x64", |b| {
        b.iter(|| {
            let m = model.take().expect("model");
            let logits = m
                .forward(Inputs {
                    input_ids: Some(Tensor::from_data(
                        TensorData::new(ids.clone(), [n, SEQ]),
                        &device,
                    )),
                    attention_mask: Some(Tensor::ones([n, SEQ], &device)),
                    token_type_ids: Some(Tensor::zeros([n, SEQ], &device)),
                    ..Default::default()
                })
                .expect("forward")
                .logits
                .expect("head");
            let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                .init(&device)
                .forward(logits, labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            model = Some(optim.step(1e-4, m, grads));
        })
    });
    // Keep the inference model alive to the end (and used).
    let _ = model.map(|m| m.valid());
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
