//! Inputs that cannot crash the data layer: every file format a user hands the loaders (GLUE
//! TSV and Parquet, CIFAR-100 binary and Parquet, JPEG/PNG, VPT split files, CUB-200's native
//! tables, XSum JSON lines, WMT16 text, `tokenizer.json`, `preprocessor_config.json`, batch
//! orders), mutated from valid seeds with a fixed seed. Each case must end in a value or an
//! error naming the file; see `harness.rs` for what else fails a case.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use peftgrid_data::fgvc::FgvcSet;
use peftgrid_data::glue::{self, GlueTask};
use peftgrid_data::{
    batch_pixels, cifar100, fgvc, read_batch_order, wmt16, xsum, ImageExample, ImageSource,
    Preprocessor, Split, TextEncoder, Transform,
};
use polars::prelude::*;
use proptest::prelude::*;

use peftgrid_testkit::fuzz::{self as harness, bytes_case, fuzz, text_case, Outcome};
use peftgrid_testkit::seeds::tokenizer_seeds;

#[global_allocator]
static ALLOCATOR: harness::PeakAlloc = harness::PeakAlloc;

/// A file a loader reads: where the fuzzed bytes go, the valid bytes they start from, and the
/// loader (which reads `file`, alone in its folder but for the files the loader also needs).
struct Target {
    file: PathBuf,
    seed: Vec<u8>,
    load: Box<dyn Fn() -> Outcome>,
}

impl Target {
    fn new(file: PathBuf, seed: impl Into<Vec<u8>>, load: impl Fn() -> Outcome + 'static) -> Self {
        std::fs::create_dir_all(file.parent().expect("a file in a folder")).unwrap();
        Target {
            file,
            seed: seed.into(),
            load: Box::new(load),
        }
    }

    fn run(&self, bytes: &[u8]) -> Outcome {
        std::fs::write(&self.file, bytes).unwrap();
        (self.load)()
    }
}

fn seeds(targets: &[Target]) -> Vec<Vec<u8>> {
    targets.iter().map(|t| t.seed.clone()).collect()
}

/// Byte mutations of binary seeds.
fn fuzz_bytes(name: &str, cases: u32, targets: &[Target]) {
    let seeds = seeds(targets);
    fuzz(name, cases, bytes_case(), |case| {
        targets[case.seed.index(targets.len())].run(&case.apply(&seeds))
    });
}

/// Byte mutations of line-based text seeds.
fn fuzz_lines(name: &str, cases: u32, targets: &[Target]) {
    let seeds = seeds(targets);
    fuzz(name, cases, bytes_case(), |case| {
        targets[case.seed.index(targets.len())].run(&case.apply_text(&seeds))
    });
}

/// Tree and byte mutations of JSON seeds.
fn fuzz_json(name: &str, cases: u32, targets: &[Target]) {
    let texts: Vec<String> = seeds(targets)
        .into_iter()
        .map(|s| String::from_utf8(s).unwrap())
        .collect();
    fuzz(name, cases, text_case(), |case| {
        targets[case.seed.index(targets.len())].run(&case.json(&texts))
    });
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first `n` lines of a sample file (the seeds stay small, so each case is quick).
fn head(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().take(n).map(|l| format!("{l}\n")).collect()
}

/// A Parquet file as polars writes it (compressed pages) and uncompressed, so that mutations
/// also reach the value decoders directly.
fn parquet_bytes(mut df: DataFrame) -> [Vec<u8>; 2] {
    [
        ParquetCompression::default(),
        ParquetCompression::Uncompressed,
    ]
    .map(|compression| {
        let mut out = Cursor::new(Vec::new());
        ParquetWriter::new(&mut out)
            .with_compression(compression)
            .finish(&mut df)
            .unwrap();
        out.into_inner()
    })
}

fn column(name: &str, values: Series) -> Column {
    values.with_name(name.into()).into()
}

fn struct_column(name: &str, fields: &[Series]) -> Column {
    StructChunked::from_series(name.into(), fields[0].len(), fields.iter())
        .unwrap()
        .into_series()
        .into()
}

fn frame(columns: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(columns).unwrap()
}

fn png(img: image::DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(img: image::DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn rgb_pattern(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 37) as u8, (y * 91) as u8, (x ^ y) as u8])
    }))
}

// ---- GLUE ----

/// Minimal TSVs of the original GLUE distribution's layouts (headers as published).
const GLUE_TSVS: &[(GlueTask, Split, &str)] = &[
    (
        GlueTask::Cola,
        Split::Train,
        "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n",
    ),
    (
        GlueTask::Cola,
        Split::Test,
        "index\tsentence\n0\tBill whistled past the house.\n1\tThe car honked.\n",
    ),
    (
        GlueTask::Mnli,
        Split::ValidationMatched,
        "index\tgenre\tsentence1\tsentence2\tlabel1\tgold_label\n0\tfiction\tA man eats.\tSomeone eats.\tentailment\tentailment\n1\tgov\tIt \"rains\".\tIt is dry.\tcontradiction\tcontradiction\n",
    ),
    (
        GlueTask::Stsb,
        Split::Train,
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays a flute.\tA man plays a big flute.\t3.800\n",
    ),
    (
        GlueTask::Qqp,
        Split::Train,
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tWhat is it?\tWhat's it?\t1\n1\t3\t4\tWhy?\tHow?\t0\n",
    ),
    (
        GlueTask::Mrpc,
        Split::Validation,
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe said.\tHe told.\n0\t3\t4\tYes.\tNo.\n",
    ),
];

#[test]
fn fuzz_glue_tsv() {
    let root = tmp();
    let mut targets = Vec::new();
    let samples = workspace().join("datasets/samples");
    for (i, (split, seed)) in [
        (
            Split::Train,
            head(&samples.join("tiny/SST-2/train.tsv"), 25),
        ),
        (
            Split::Validation,
            head(&samples.join("glue/SST-2/dev.tsv"), 30),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = root.path().join(format!("sst2-{i}"));
        let file = glue::tsv_path(&dir, GlueTask::Sst2, split);
        let shown = file.clone();
        targets.push(Target::new(file, seed, move || {
            Outcome::naming(glue::load_split(&dir, GlueTask::Sst2, split), &shown)
        }));
    }
    for (i, &(task, split, seed)) in GLUE_TSVS.iter().enumerate() {
        let dir = root.path().join(format!("{task}-{i}"));
        let file = glue::tsv_path(&dir, task, split);
        let shown = file.clone();
        targets.push(Target::new(file, seed, move || {
            Outcome::naming(glue::load_split(&dir, task, split), &shown)
        }));
    }
    fuzz_lines("GLUE TSV", 400, &targets);
}

#[test]
fn fuzz_parquet() {
    let root = tmp();
    let mut targets = Vec::new();
    let glue_files = [
        (
            GlueTask::Sst2,
            Split::Train,
            frame(vec![
                column(
                    "sentence",
                    Series::new("".into(), &["a good film", "dull", "fine"]),
                ),
                column("label", Series::new("".into(), &[1i64, 0, 1])),
                column("idx", Series::new("".into(), &[0i32, 1, 2])),
            ]),
        ),
        (
            GlueTask::Stsb,
            Split::Validation,
            frame(vec![
                column("sentence1", Series::new("".into(), &["A plane.", "A cat."])),
                column("sentence2", Series::new("".into(), &["A jet.", "A dog."])),
                column("label", Series::new("".into(), &[4.5f32, 0.25])),
                column("idx", Series::new("".into(), &[0i64, 1])),
            ]),
        ),
        (
            GlueTask::Mnli,
            Split::TestMatched,
            frame(vec![
                column("premise", Series::new("".into(), &["It rains."])),
                column("hypothesis", Series::new("".into(), &["It is wet."])),
                column("label", Series::new("".into(), &[-1i64])),
                column("idx", Series::new("".into(), &[0i64])),
            ]),
        ),
    ];
    for (i, (task, split, df)) in glue_files.into_iter().enumerate() {
        for (j, seed) in parquet_bytes(df).into_iter().enumerate() {
            let dir = root.path().join(format!("glue-{i}-{j}"));
            let file = glue::parquet_path(&dir, task, split);
            let shown = file.clone();
            targets.push(Target::new(file, seed, move || {
                Outcome::naming(glue::load_split(&dir, task, split), &shown)
            }));
        }
    }
    // CIFAR-100 as Hugging Face ships it: PNG bytes in an `img` struct.
    let cell = png(rgb_pattern(4, 4));
    let cifar = frame(vec![
        struct_column(
            "img",
            &[
                Series::new("bytes".into(), &[cell.as_slice(), cell.as_slice()]),
                Series::new("path".into(), &["0.png", "1.png"]),
            ],
        ),
        column("fine_label", Series::new("".into(), &[19i64, 99])),
        column("coarse_label", Series::new("".into(), &[11i64, 19])),
    ]);
    for (j, seed) in parquet_bytes(cifar).into_iter().enumerate() {
        let dir = root.path().join(format!("cifar-{j}"));
        let file = dir.join("train-00000-of-00001.parquet");
        let shown = file.clone();
        targets.push(Target::new(file, seed, move || {
            Outcome::naming(cifar100::load(&dir, Split::Train), &shown)
        }));
    }
    // WMT16 ro-en: a `translation` struct of two strings.
    let wmt = frame(vec![struct_column(
        "translation",
        &[
            Series::new("en".into(), &["Hello.", "Thank you."]),
            Series::new("ro".into(), &["Bună ziua.", "Mulțumesc."]),
        ],
    )]);
    for (j, seed) in parquet_bytes(wmt).into_iter().enumerate() {
        let dir = root.path().join(format!("wmt16-{j}"));
        let file = dir.join("validation-00000-of-00001.parquet");
        let shown = file.clone();
        targets.push(Target::new(file, seed, move || {
            Outcome::naming(wmt16::load(&dir, Split::Validation, "en", "ro"), &shown)
        }));
    }
    // Half the cases keep the footer (schema, row groups, page offsets) intact, so that the
    // mutations reach the page headers and encoded values it points to.
    let seeds = seeds(&targets);
    let strategy = (bytes_case(), any::<bool>());
    fuzz(
        "Parquet (GLUE, CIFAR-100, WMT16)",
        500,
        strategy,
        |(case, keep_footer)| {
            let bytes = if keep_footer {
                case.apply_keeping_tail(&seeds, parquet_footer_len)
            } else {
                case.apply(&seeds)
            };
            targets[case.seed.index(targets.len())].run(&bytes)
        },
    );
}

/// The footer's length (thrift metadata, its 4-byte length and the closing `PAR1`).
fn parquet_footer_len(file: &[u8]) -> usize {
    let n = file.len();
    let len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    len + 8
}

// ---- CIFAR-100 binary ----

fn cifar_record(coarse: u8, fine: u8, fill: u8) -> Vec<u8> {
    let mut rec = vec![coarse, fine];
    rec.extend((0..cifar100::RECORD_BYTES - 2).map(|i| fill.wrapping_add(i as u8)));
    rec
}

#[test]
fn fuzz_cifar_binary() {
    let root = tmp();
    let seeds = [
        cifar_record(11, 19, 0),
        [cifar_record(19, 99, 7), cifar_record(0, 0, 200)].concat(),
    ];
    let targets: Vec<Target> = seeds
        .into_iter()
        .enumerate()
        .map(|(i, seed)| {
            let file = root.path().join(format!("{i}/train.bin"));
            let shown = file.clone();
            Target::new(file, seed, move || {
                Outcome::naming(cifar100::read_bin(&shown), &shown)
            })
        })
        .collect();
    fuzz_bytes("CIFAR-100 binary", 200, &targets);
}

// ---- images ----

/// The standard CRC-32 of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites every chunk's CRC, so that a mutation reaches the decoder past the CRC check.
fn fix_png_crcs(bytes: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|e| e + 4 <= bytes.len()) else {
            return;
        };
        let crc = crc32(&bytes[at + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// A PNG whose header declares `width` × `height` RGB pixels, with a few bytes of data.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32(&[kind, data].concat()).to_be_bytes());
        c
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    // A zlib stream of one stored block holding [0, 0, 0, 0] (one filter byte and a pixel).
    let idat = [
        0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01,
    ];
    [
        b"\x89PNG\r\n\x1a\n".to_vec(),
        chunk(b"IHDR", &ihdr),
        chunk(b"IDAT", &idat),
        chunk(b"IEND", &[]),
    ]
    .concat()
}

/// A JPEG whose frame header (SOF0) declares `width` × `height`.
fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(rgb_pattern(8, 8));
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

fn image_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let gray16 = image::DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(3, 5, |x, y| {
        image::Luma([(x * 9000 + y * 300) as u16])
    }));
    let rgba = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(4, 4, |x, y| {
        image::Rgba([x as u8 * 60, y as u8 * 60, 9, (x + y) as u8 * 30])
    }));
    vec![
        ("rgb.png", png(rgb_pattern(7, 5))),
        ("rgba.png", png(rgba)),
        ("gray16.png", png(gray16)),
        ("rgb.jpg", jpeg(rgb_pattern(16, 9))),
        ("gray.jpg", jpeg(rgb_pattern(8, 8).grayscale())),
        // Headers declaring sizes whose pixels would not fit in memory: refused, not allocated.
        ("huge.png", png_declaring(0x7FFF_FFFF, 0x7FFF_FFFF)),
        ("wide.png", png_declaring(1 << 20, 1 << 14)),
        ("huge.jpg", jpeg_declaring(u16::MAX, u16::MAX)),
    ]
}

/// A small output size, so that each case's resize is quick in a debug build.
fn small_preprocessor() -> Preprocessor {
    Preprocessor {
        size: (8, 8),
        resize_shorter: Some(8),
        ..Preprocessor::default()
    }
}

#[test]
fn fuzz_images() {
    let root = tmp();
    let seeds = image_seeds();
    let pre = small_preprocessor();
    let bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
    let strategy = (bytes_case(), any::<bool>(), any::<bool>());
    fuzz(
        "JPEG/PNG (FGVC images)",
        400,
        strategy,
        |(case, fix_crcs, train)| {
            let (name, _) = case.seed.get(&seeds);
            let mut data = case.apply(&bytes);
            if fix_crcs && name.ends_with(".png") {
                fix_png_crcs(&mut data);
            }
            let file = root.path().join(name);
            std::fs::write(&file, &data).unwrap();
            let example = ImageExample {
                image: ImageSource::File(file.clone()),
                label: 0,
                origin: file.display().to_string(),
            };
            let transform = if train {
                Transform::Train
            } else {
                Transform::Eval
            };
            Outcome::naming(
                batch_pixels(std::slice::from_ref(&example), &pre, transform, 7),
                &file,
            )
        },
    );
}

#[test]
fn huge_declared_images_are_refused() {
    let root = tmp();
    for (name, bytes) in image_seeds()
        .into_iter()
        .filter(|(n, _)| n.starts_with("huge") || n.starts_with("wide"))
    {
        let file = root.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let example = ImageExample {
            image: ImageSource::File(file.clone()),
            label: 0,
            origin: file.display().to_string(),
        };
        let e = example.decode().unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
    }
}

// ---- FGVC split files ----

/// A CUB folder in VPT's layout (`train.json` + `images/`), with the listed images present.
fn vpt_folder(root: &Path) -> (PathBuf, String) {
    let listed = [
        ("001.Black_footed_Albatross/a.jpg", 0),
        ("002.Laysan_Albatross/b.jpg", 1),
        ("200.Common_Yellowthroat/c.jpg", 199),
    ];
    for (rel, _) in listed {
        let p = root.join("images").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }
    let json = serde_json::Value::Object(
        listed
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect(),
    );
    (root.join("train.json"), json.to_string())
}

#[test]
fn fuzz_fgvc_split_files() {
    let root = tmp();
    let vpt = root.path().join("vpt");
    let (file, seed) = vpt_folder(&vpt);
    let shown = file.clone();
    let targets = vec![Target::new(file, seed, move || {
        Outcome::naming(fgvc::load(&vpt, FgvcSet::Cub, Split::Train), &shown)
    })];
    fuzz_json("VPT split JSON", 150, &targets);

    // CUB-200-2011's native tables: one of the three mutated at a time.
    let cub = root.path().join("cub");
    let tables = [
        (
            "images.txt",
            "1 001.Black_footed_Albatross/a.jpg\n2 002.Laysan_Albatross/b.jpg\n",
        ),
        ("image_class_labels.txt", "1 1\n2 2\n"),
        ("train_test_split.txt", "1 1\n2 0\n"),
    ];
    let files: Vec<PathBuf> = tables.iter().map(|(n, _)| cub.join(n)).collect();
    let targets: Vec<Target> = tables
        .iter()
        .enumerate()
        .map(|(i, (name, seed))| {
            let (cub, files) = (cub.clone(), files.clone());
            let others = tables
                .iter()
                .filter(|(n, _)| n != name)
                .map(|(n, s)| (cub.join(n), s.to_string()))
                .collect::<Vec<_>>();
            Target::new(files[i].clone(), *seed, move || {
                for (path, text) in &others {
                    std::fs::write(path, text).unwrap();
                }
                let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
                Outcome::naming_one_of(fgvc::load(&cub, FgvcSet::Cub, Split::Train), &files)
            })
        })
        .collect();
    for (rel, _) in [
        ("001.Black_footed_Albatross/a.jpg", 0),
        ("002.Laysan_Albatross/b.jpg", 0),
    ] {
        let p = cub.join("images").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }
    fuzz_lines("CUB-200-2011 native tables", 150, &targets);
}

// ---- seq2seq text ----

#[test]
fn fuzz_seq2seq_text() {
    let root = tmp();
    let xsum_dir = root.path().join("xsum");
    let file = xsum_dir.join("validation.jsonl");
    let shown = file.clone();
    let mut targets = vec![Target::new(
        file,
        "{\"document\": \"The cat sat.\", \"summary\": \"Cat.\", \"id\": \"1\"}\n{\"document\": \"Rain.\", \"summary\": \"Wet.\", \"id\": 2}\n",
        move || Outcome::naming(xsum::load(&xsum_dir, Split::Validation), &shown),
    )];
    let wmt_dir = root.path().join("wmt16");
    std::fs::create_dir_all(&wmt_dir).unwrap();
    std::fs::write(wmt_dir.join("test.ro"), "Bună ziua.\nMulțumesc.\n").unwrap();
    let file = wmt_dir.join("test.en");
    let (shown, ro) = (file.clone(), wmt_dir.join("test.ro"));
    targets.push(Target::new(file, "Hello.\nThank you.\n", move || {
        Outcome::naming_one_of(
            wmt16::load(&wmt_dir, Split::Test, "en", "ro"),
            &[&shown, &ro],
        )
    }));
    fuzz_lines("XSum JSON lines, WMT16 text", 150, &targets);
}

// ---- tokenizer.json ----

#[test]
fn tokenizer_seeds_are_valid() {
    let root = tmp();
    for (i, seed) in tokenizer_seeds().iter().enumerate() {
        let file = root.path().join(format!("{i}.json"));
        std::fs::write(&file, seed).unwrap();
        let enc = TextEncoder::from_file(&file, 16).unwrap();
        enc.encode_texts(&["the cat", "a good film"], Some(&["ab", "w1 w2"]))
            .unwrap();
    }
}

#[test]
fn fuzz_tokenizer_json() {
    let root = tmp();
    let file = root.path().join("tokenizer.json");
    let targets: Vec<Target> = tokenizer_seeds()
        .into_iter()
        .map(|seed| {
            let shown = file.clone();
            Target::new(file.clone(), seed, move || {
                Outcome::then(TextEncoder::from_file(&shown, 12), |enc| {
                    Outcome::of(enc.encode_texts(
                        &["the cat sat", "", "ab ab"],
                        Some(&["a good film", "Ġa", "w1 w2 w3"]),
                    ))
                })
                .named(&shown)
            })
        })
        .collect();
    fuzz_json("tokenizer.json (data)", 250, &targets);
}

// ---- preprocessor_config.json, batch orders ----

#[test]
fn fuzz_preprocessor_config() {
    let root = tmp();
    let file = root.path().join("preprocessor_config.json");
    let image = ImageExample {
        image: ImageSource::Raw {
            width: 5,
            height: 3,
            rgb: (0..45).collect(),
        },
        label: 0,
        origin: "raw".into(),
    };
    let seeds = [
        r#"{"do_normalize": true, "do_rescale": true, "do_resize": true,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "resample": 2, "rescale_factor": 0.00392156862745098, "size": {"height": 8, "width": 8}}"#,
        r#"{"crop_size": 8, "do_center_crop": true, "image_mean": [0.485, 0.456, 0.406],
            "image_std": [0.229, 0.224, 0.225], "resample": 3, "size": {"shortest_edge": 10}}"#,
    ];
    let targets: Vec<Target> = seeds
        .iter()
        .map(|seed| {
            let (shown, image) = (file.clone(), image.clone());
            Target::new(file.clone(), *seed, move || {
                Outcome::then(Preprocessor::from_config(&shown), |pre| {
                    Outcome::of(batch_pixels(
                        std::slice::from_ref(&image),
                        &pre,
                        Transform::Train,
                        3,
                    ))
                })
                .named(&shown)
            })
        })
        .collect();
    fuzz_json("preprocessor_config.json", 200, &targets);
}

#[test]
fn fuzz_batch_order() {
    let root = tmp();
    let file = root.path().join("order.json");
    let shown = file.clone();
    let targets = vec![Target::new(
        file,
        r#"{"epochs": [[[0, 1, 2], [3, 4]], [[4, 3, 2, 1, 0]]]}"#,
        move || Outcome::naming(read_batch_order(&shown, 5), &shown),
    )];
    fuzz_json("batch order JSON", 100, &targets);
}

// ---- regressions: inputs the fuzzing found, kept with their concrete bytes ----

/// `preprocessor_config.json` sizes past any image were trusted: `3 * h * w` overflowed in
/// `batch_pixels` (a panic in debug builds, a wrapped buffer size in release).
#[test]
fn regression_preprocessor_sizes_past_any_image() {
    let root = tmp();
    let file = root.path().join("preprocessor_config.json");
    for text in [
        r#"{"size": 18446744073709551615}"#,
        r#"{"size": 4294967296}"#,
        r#"{"size": {"height": 3, "width": 9223372036854775807}}"#,
        r#"{"size": {"shortest_edge": 18446744073709551615}, "crop_size": 4}"#,
    ] {
        std::fs::write(&file, text).unwrap();
        let e = Preprocessor::from_config(&file).unwrap_err().to_string();
        assert!(
            e.contains(&file.display().to_string()) && e.contains("size"),
            "{e}"
        );
    }
}

/// The tokenizers crate `expect`s a base64 charsmap in a `Precompiled` normaliser: a
/// `tokenizer.json` with another value panicked inside `TextEncoder::from_file`.
#[test]
fn regression_tokenizer_precompiled_charsmap_not_a_string() {
    let root = tmp();
    let file = root.path().join("tokenizer.json");
    let mut json: serde_json::Value = serde_json::from_str(&tokenizer_seeds()[3]).unwrap();
    json["normalizer"] = serde_json::json!({"type": "Precompiled", "precompiled_charsmap": null});
    std::fs::write(&file, json.to_string()).unwrap();
    let e = TextEncoder::from_file(&file, 8).unwrap_err().to_string();
    assert!(e.contains(&file.display().to_string()), "{e}");
}

/// polars-parquet `unwrap`s a data page header's encoding: this STS-B validation file (as
/// polars writes it, one byte of a page header changed by the fuzzing) panicked in a polars
/// worker thread inside `glue::load`.
#[test]
fn regression_parquet_unknown_page_encoding() {
    let root = tmp();
    let file = glue::parquet_path(root.path(), GlueTask::Stsb, Split::Validation);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz/cases/unknown-page-encoding.parquet"),
        &file,
    )
    .unwrap();
    let e = glue::load(root.path(), GlueTask::Stsb, Split::Validation)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&file.display().to_string()), "{e}");
}
