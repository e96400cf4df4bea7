//! Data-loading throughput on full-size synthetic data (written to a temporary folder):
//! - CIFAR-100: a 50,000-record `train.bin` → load; eval transform to 224×224 normalised f32
//!   (rayon), per batch of 256 and as one full pass over all 50,000 images;
//! - GLUE: a 400,000-row MNLI-like Parquet (premise, hypothesis, label, idx) → load; tokenise
//!   pairs with all-MiniLM-L6-v2's tokenizer when `models/all-MiniLM-L6-v2` is present.
//!
//! `cargo bench -p peftgrid-data -- --sample-size 10`

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peftgrid_data::glue::{self, GlueTask};
use peftgrid_data::{batch_pixels, cifar100, Preprocessor, Split, TextEncoder, Transform};
use polars::prelude::*;

const CIFAR_RECORDS: usize = 50_000;
const GLUE_ROWS: usize = 400_000;
const BATCH: usize = 256;
const TOKENISE_ROWS: usize = 50_000;

/// A small deterministic generator (no dependency on the crate's RNG).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn write_cifar(dir: &Path) {
    let mut g = Lcg(1);
    let mut bytes = Vec::with_capacity(CIFAR_RECORDS * cifar100::RECORD_BYTES);
    for _ in 0..CIFAR_RECORDS {
        bytes.push((g.next() % 20) as u8);
        bytes.push((g.next() % 100) as u8);
        // Smooth-ish pixels: a random gradient per record.
        let (a, b, c) = (g.next() % 8, g.next() % 8, g.next() % 256);
        for ch in 0..3u64 {
            for r in 0..32u64 {
                for col in 0..32u64 {
                    bytes.push(((a * r + b * col + c + ch * 40) % 256) as u8);
                }
            }
        }
    }
    std::fs::write(dir.join("train.bin"), bytes).unwrap();
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "man",
    "woman",
    "government",
    "report",
    "said",
    "that",
    "it",
    "was",
    "not",
    "in",
    "of",
    "and",
    "to",
    "children",
    "were",
    "playing",
    "outside",
    "during",
    "summer",
    "economy",
    "grew",
    "slowly",
    "because",
    "people",
    "believed",
    "new",
    "policy",
    "would",
    "fail",
    "tourists",
    "visited",
    "museum",
    "yesterday",
    "although",
    "rain",
    "continued",
];

fn sentence(g: &mut Lcg, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[(g.next() as usize) % WORDS.len()]);
    }
    s.push('.');
    s
}

fn write_glue(dir: &Path) {
    let mut g = Lcg(2);
    let mut premise = Vec::with_capacity(GLUE_ROWS);
    let mut hypothesis = Vec::with_capacity(GLUE_ROWS);
    let mut label = Vec::with_capacity(GLUE_ROWS);
    for _ in 0..GLUE_ROWS {
        let n = 8 + (g.next() % 30) as usize;
        premise.push(sentence(&mut g, n));
        let m = 4 + (g.next() % 12) as usize;
        hypothesis.push(sentence(&mut g, m));
        label.push((g.next() % 3) as i64);
    }
    let idx: Vec<i32> = (0..GLUE_ROWS as i32).collect();
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("premise".into(), premise).into(),
        Series::new("hypothesis".into(), hypothesis).into(),
        Series::new("label".into(), label).into(),
        Series::new("idx".into(), idx).into(),
    ])
    .unwrap();
    let path = dir.join("mnli/train-00000-of-00001.parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    eprintln!(
        "GLUE-like Parquet: {} rows, {:.1} MB",
        GLUE_ROWS,
        std::fs::metadata(&path).unwrap().len() as f64 / 1e6
    );
}

fn cifar(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let mut group = c.benchmark_group("cifar100");
    group.throughput(Throughput::Elements(CIFAR_RECORDS as u64));
    group.bench_function("load_train_bin_50k", |b| {
        b.iter(|| cifar100::load(dir.path(), Split::Train).unwrap())
    });
    let examples = cifar100::load(dir.path(), Split::Train).unwrap();
    let pre = Preprocessor::default();
    group.throughput(Throughput::Elements(BATCH as u64));
    for transform in [Transform::Eval, Transform::Train] {
        let mut cursor = 0usize;
        group.bench_function(
            BenchmarkId::new("transform_224_batch256", format!("{transform:?}")),
            |b| {
                b.iter(|| {
                    let batch = &examples[cursor..cursor + BATCH];
                    cursor = (cursor + BATCH) % (CIFAR_RECORDS - BATCH);
                    batch_pixels(batch, &pre, transform, cursor as u64).unwrap()
                })
            },
        );
    }
    group.finish();

    // One full pass: all 50,000 images through the eval transform, in batches of 256.
    let t = Instant::now();
    let mut checksum = 0.0f64;
    for batch in examples.chunks(BATCH) {
        let (px, _) = batch_pixels(batch, &pre, Transform::Eval, 0).unwrap();
        checksum += px[0] as f64;
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "cifar100 full eval pass: {CIFAR_RECORDS} images in {secs:.1} s = {:.0} images/s \
         on {} threads (checksum {checksum:.3})",
        CIFAR_RECORDS as f64 / secs,
        rayon::current_num_threads()
    );
}

fn glue_parquet(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_glue(dir.path());
    let mut group = c.benchmark_group("glue");
    group.throughput(Throughput::Elements(GLUE_ROWS as u64));
    group.bench_function("load_parquet_400k", |b| {
        b.iter(|| glue::load(dir.path(), GlueTask::Mnli, Split::Train).unwrap())
    });
    let tok =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2/tokenizer.json");
    if tok.is_file() {
        let examples = glue::load(dir.path(), GlueTask::Mnli, Split::Train).unwrap();
        let enc = TextEncoder::from_file(&tok, 128).unwrap();
        let slice = &examples[..TOKENISE_ROWS];
        let refs: Vec<_> = slice.iter().collect();
        group.throughput(Throughput::Elements(TOKENISE_ROWS as u64));
        group.bench_function("tokenise_pairs_minilm_50k", |b| {
            b.iter(|| enc.encode_examples(&refs).unwrap())
        });
    } else {
        eprintln!("skipping tokenisation: {} is absent", tok.display());
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(5));
    targets = cifar, glue_parquet
}
criterion_main!(benches);
