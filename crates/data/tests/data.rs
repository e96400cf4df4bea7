//! The data crate's acceptance tests: small files in every public format (written here into a
//! temporary folder), good and broken, through every loader, the image pipeline, tokenisation,
//! batching, low-resource sampling and the data-check report.
//!
//! Over 800 lines on purpose: the project keeps one integration-test binary per crate (each
//! binary links Burn and costs CI minutes to build), so a crate's acceptance tests share this
//! file; they are grouped by loader/feature, each group self-contained.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use peftgrid_data::check::{self, Dataset};
use peftgrid_data::fgvc::FgvcSet;
use peftgrid_data::glue::{self, Format, GlueTask};
use peftgrid_data::image_pipeline::Resample;
use peftgrid_data::{
    batch_pixels, bucketed_batches, cifar100, fgvc, low_resource, wmt16, xsum, DataError,
    ImageExample, ImageSource, Label, Preprocessor, Split, TextEncoder, TextExample, Transform,
};
use polars::prelude::*;

mod fuzz;

// ---------------------------------------------------------------------------------------------
// Helpers: writing the public formats.

fn write_parquet(path: &Path, mut df: DataFrame) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = fs::File::create(path).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
}

fn strs(name: &str, v: &[&str]) -> Column {
    Series::new(name.into(), v).into()
}

fn i64s(name: &str, v: &[i64]) -> Column {
    Series::new(name.into(), v).into()
}

fn i32s(name: &str, v: &[i32]) -> Column {
    Series::new(name.into(), v).into()
}

fn f32s(name: &str, v: &[f32]) -> Column {
    Series::new(name.into(), v).into()
}

fn frame(cols: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(cols).unwrap()
}

fn struct_col(name: &str, fields: &[Series]) -> Column {
    let len = fields[0].len();
    StructChunked::from_series(name.into(), len, fields.iter())
        .unwrap()
        .into_series()
        .into()
}

fn png_bytes(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg_bytes(w: u32, h: u32, px: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(px));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Asserts that an error's message contains every needle.
#[track_caller]
fn assert_msg(e: &DataError, needles: &[&str]) {
    let m = e.to_string();
    for n in needles {
        assert!(m.contains(n), "error message {m:?} lacks {n:?}");
    }
}

fn minilm() -> Option<PathBuf> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2/tokenizer.json");
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} is absent (run `just fetch-minilm`)",
            p.display()
        );
        None
    }
}

// ---------------------------------------------------------------------------------------------
// GLUE

#[test]
fn glue_parquet_single_pair_and_test_splits() {
    let d = tmp();
    let root = d.path();
    write_parquet(
        &root.join("sst2/train-00000-of-00001.parquet"),
        frame(vec![
            strs("sentence", &["a gem of a film ", "dull and overlong "]),
            i64s("label", &[1, 0]),
            i32s("idx", &[0, 1]),
        ]),
    );
    write_parquet(
        &root.join("sst2/test-00000-of-00001.parquet"),
        frame(vec![
            strs("sentence", &["unseen"]),
            i64s("label", &[-1]),
            i32s("idx", &[7]),
        ]),
    );
    let train = glue::load(root, GlueTask::Sst2, Split::Train).unwrap();
    assert_eq!(train.len(), 2);
    assert_eq!(
        train[0],
        TextExample {
            idx: 0,
            text_a: "a gem of a film ".into(),
            text_b: None,
            label: Label::Class(1)
        }
    );
    assert_eq!(train[1].label, Label::Class(0));
    let test = glue::load(root, GlueTask::Sst2, Split::Test).unwrap();
    assert_eq!(test[0].label, Label::None);
    assert_eq!(test[0].idx, 7);

    // MNLI: premise/hypothesis, the matched/mismatched splits.
    write_parquet(
        &root.join("mnli/validation_matched-00000-of-00001.parquet"),
        frame(vec![
            strs("premise", &["p0", "p1", "p2"]),
            strs("hypothesis", &["h0", "h1", "h2"]),
            i64s("label", &[0, 1, 2]),
            i32s("idx", &[0, 1, 2]),
        ]),
    );
    let g = glue::load_split(root, GlueTask::Mnli, Split::ValidationMatched).unwrap();
    assert_eq!(g.format, Format::Parquet);
    assert_eq!(g.examples.len(), 3);
    assert_eq!(g.examples[2].text_a, "p2");
    assert_eq!(g.examples[2].text_b.as_deref(), Some("h2"));
    assert_eq!(g.examples[2].label, Label::Class(2));
    // MNLI has no plain `validation`.
    let e = glue::load(root, GlueTask::Mnli, Split::Validation).unwrap_err();
    assert_msg(&e, &["mnli", "validation_matched"]);

    // STS-B: float scores; -1 on test.
    write_parquet(
        &root.join("stsb/validation-00000-of-00001.parquet"),
        frame(vec![
            strs("sentence1", &["a", "b"]),
            strs("sentence2", &["c", "d"]),
            f32s("label", &[3.8, 0.0]),
            i32s("idx", &[0, 1]),
        ]),
    );
    let s = glue::load(root, GlueTask::Stsb, Split::Validation).unwrap();
    assert_eq!(s[0].label, Label::Score(3.8));
    assert_eq!(s[1].label, Label::Score(0.0));
}

#[test]
fn glue_parquet_broken_files() {
    let d = tmp();
    let root = d.path();
    // A label out of range.
    let bad = root.join("rte/train-00000-of-00001.parquet");
    write_parquet(
        &bad,
        frame(vec![
            strs("sentence1", &["x", "y", "z"]),
            strs("sentence2", &["x", "y", "z"]),
            i64s("label", &[0, 1, 5]),
            i32s("idx", &[0, 1, 2]),
        ]),
    );
    let e = glue::load(root, GlueTask::Rte, Split::Train).unwrap_err();
    assert_msg(
        &e,
        &[
            "rte/train-00000-of-00001.parquet",
            "row 2",
            "label",
            "5",
            "outside",
        ],
    );

    // -1 is only allowed on test splits.
    let v = root.join("rte/validation-00000-of-00001.parquet");
    write_parquet(
        &v,
        frame(vec![
            strs("sentence1", &["x"]),
            strs("sentence2", &["x"]),
            i64s("label", &[-1]),
        ]),
    );
    let e = glue::load(root, GlueTask::Rte, Split::Validation).unwrap_err();
    assert_msg(&e, &["validation-00000-of-00001.parquet", "row 0", "-1"]);

    // Wrong column names: the error names the file, what was expected and what is there.
    let w = root.join("qnli/train-00000-of-00001.parquet");
    write_parquet(
        &w,
        frame(vec![
            strs("sentence1", &["q"]),
            strs("sentence2", &["s"]),
            i64s("label", &[0]),
        ]),
    );
    let e = glue::load(root, GlueTask::Qnli, Split::Train).unwrap_err();
    assert!(matches!(e, DataError::Columns { .. }));
    assert_msg(
        &e,
        &[
            "qnli/train-00000-of-00001.parquet",
            "`question`",
            "`sentence`",
            "found",
            "`sentence1`",
        ],
    );

    // A truncated file.
    let t = root.join("cola/train-00000-of-00001.parquet");
    write_parquet(
        &t,
        frame(vec![
            strs("sentence", &["one", "two", "three"]),
            i64s("label", &[0, 1, 1]),
        ]),
    );
    let bytes = fs::read(&t).unwrap();
    fs::write(&t, &bytes[..bytes.len() / 2]).unwrap();
    let e = glue::load(root, GlueTask::Cola, Split::Train).unwrap_err();
    assert!(matches!(e, DataError::Parquet { .. }), "{e}");
    assert_msg(&e, &["cola/train-00000-of-00001.parquet", "truncated"]);

    // A wrong type.
    let wt = root.join("sst2/train-00000-of-00001.parquet");
    write_parquet(
        &wt,
        frame(vec![strs("sentence", &["a"]), strs("label", &["positive"])]),
    );
    let e = glue::load(root, GlueTask::Sst2, Split::Train).unwrap_err();
    assert_msg(
        &e,
        &[
            "sst2/train-00000-of-00001.parquet",
            "`label`",
            "expected an integer",
        ],
    );

    // Missing altogether: both layouts and both sources named.
    let e = glue::load(root, GlueTask::Wnli, Split::Train).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }));
    assert_msg(
        &e,
        &[
            "wnli/train-00000-of-00001.parquet",
            "WNLI/train.tsv",
            "https://huggingface.co/datasets/nyu-mll/glue",
            "https://gluebenchmark.com/tasks",
        ],
    );
}

#[test]
fn glue_tsv_layouts() {
    let d = tmp();
    let root = d.path();
    // CoLA: no header; source, label, original mark, sentence.
    write(
        &root.join("CoLA/train.tsv"),
        "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n\
         gj04\t0\t*\tThey drank the pub.\n",
    );
    write(
        &root.join("CoLA/test.tsv"),
        "index\tsentence\n0\tBill whistled past the house.\n",
    );
    let c = glue::load(root, GlueTask::Cola, Split::Train).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].text_a, "They drank the pub.");
    assert_eq!(c[1].label, Label::Class(0));
    assert_eq!(c[0].label, Label::Class(1));
    let ct = glue::load(root, GlueTask::Cola, Split::Test).unwrap();
    assert_eq!(ct[0].text_a, "Bill whistled past the house.");
    assert_eq!(ct[0].label, Label::None);

    // SST-2 with a header and CRLF line ends.
    write(
        &root.join("SST-2/dev.tsv"),
        "sentence\tlabel\r\nit 's a charming journey . \t1\r\nunflinchingly bleak \t0\r\n",
    );
    let s = glue::load_split(root, GlueTask::Sst2, Split::Validation).unwrap();
    assert_eq!(s.format, Format::Tsv);
    assert_eq!(s.examples.len(), 2);
    assert_eq!(s.examples[0].text_a, "it 's a charming journey . ");
    assert_eq!(s.examples[1].label, Label::Class(0));

    // MNLI: full header, string labels, stray quotes (quoting off), a malformed row that is
    // skipped and recorded.
    let header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t\
                  sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label";
    let row = |i: usize, s1: &str, s2: &str, l: &str| {
        format!("{i}\t1\t1e\tgov\t(x)\t(y)\t(X)\t(Y)\t{s1}\t{s2}\t{l}\t{l}")
    };
    let text = [
        header.to_string(),
        row(0, "He said \"hi", "A \"quoted\" one", "neutral"),
        "1\t2\t2e\tgov\t(x)\t(y)".to_string(), // malformed: cut short
        row(2, "Premise two", "Hypothesis two", "contradiction"),
        String::new(),
    ]
    .join("\n");
    write(&root.join("MNLI/dev_matched.tsv"), text);
    let m = glue::load_split(root, GlueTask::Mnli, Split::ValidationMatched).unwrap();
    assert_eq!(m.examples.len(), 2);
    assert_eq!(m.examples[0].text_a, "He said \"hi");
    assert_eq!(m.examples[0].text_b.as_deref(), Some("A \"quoted\" one"));
    assert_eq!(m.examples[0].label, Label::Class(1));
    assert_eq!(m.examples[1].label, Label::Class(2));
    // Numbering as Hugging Face's script: the skipped row leaves a gap.
    assert_eq!(m.examples[1].idx, 2);
    assert_eq!(m.skipped.len(), 1);
    assert_eq!(m.skipped[0].line, 3);

    // MRPC: the header with a byte-order mark, as the GLUE download script leaves it.
    write(
        &root.join("MRPC/train.tsv"),
        "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused his brother .\tReferring to him as only \" the witness \" .\n",
    );
    let mr = glue::load(root, GlueTask::Mrpc, Split::Train).unwrap();
    assert_eq!(mr[0].label, Label::Class(1));
    assert_eq!(
        mr[0].text_b.as_deref(),
        Some("Referring to him as only \" the witness \" .")
    );

    // QQP test: no label column.
    write(
        &root.join("QQP/test.tsv"),
        "id\tquestion1\tquestion2\n0\tWhy?\tHow?\n",
    );
    let q = glue::load(root, GlueTask::Qqp, Split::Test).unwrap();
    assert_eq!(q[0].label, Label::None);
    assert_eq!(q[0].text_b.as_deref(), Some("How?"));

    // STS-B scores.
    write(
        &root.join("STS-B/dev.tsv"),
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n\
         0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\tA man wearing a hard hat is dancing.\t5.000\n",
    );
    let st = glue::load(root, GlueTask::Stsb, Split::Validation).unwrap();
    assert_eq!(st[0].label, Label::Score(5.0));
}

#[test]
fn glue_tsv_broken_files() {
    let d = tmp();
    let root = d.path();
    write(
        &root.join("RTE/train.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n",
    );
    let e = glue::load(root, GlueTask::Rte, Split::Train).unwrap_err();
    assert_msg(&e, &["RTE/train.tsv", "line 3", "label", "`maybe`"]);

    write(
        &root.join("SST-2/train.tsv"),
        "sentence\tlabel\ngood\t1\nbad\t2\n",
    );
    let e = glue::load(root, GlueTask::Sst2, Split::Train).unwrap_err();
    assert_msg(
        &e,
        &["SST-2/train.tsv", "line 3", "label 2", "outside 0..2"],
    );

    write(
        &root.join("QNLI/dev.tsv"),
        "index\tq\ts\tlabel\n0\ta\tb\tentailment\n",
    );
    let e = glue::load(root, GlueTask::Qnli, Split::Validation).unwrap_err();
    assert_msg(
        &e,
        &[
            "QNLI/dev.tsv",
            "`question`",
            "`sentence`",
            "expected columns",
        ],
    );

    write(&root.join("CoLA/dev.tsv"), "sentence\tlabel\nok\t1\n");
    let e = glue::load(root, GlueTask::Cola, Split::Validation).unwrap_err();
    assert_msg(&e, &["CoLA/dev.tsv", "source", "sentence"]);
}

// ---------------------------------------------------------------------------------------------
// XSum and WMT16

#[test]
fn xsum_parquet_shards_and_jsonl() {
    let d = tmp();
    let root = d.path();
    // Two shards, written out of order: read in name order.
    write_parquet(
        &root.join("train-00001-of-00002.parquet"),
        frame(vec![
            strs("document", &["doc 2"]),
            strs("summary", &["sum 2"]),
            strs("id", &["300"]),
        ]),
    );
    write_parquet(
        &root.join("train-00000-of-00002.parquet"),
        frame(vec![
            strs("document", &["doc 0", "doc 1"]),
            strs("summary", &["sum 0", "sum 1"]),
            strs("id", &["100", "200"]),
        ]),
    );
    let t = xsum::load(root, Split::Train).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].id, "100");
    assert_eq!(t[2].source, "doc 2");
    assert_eq!(t[2].target, "sum 2");

    write(
        &root.join("validation.jsonl"),
        "{\"document\": \"The city council met.\\nIt voted.\", \"summary\": \"Council votes.\", \"id\": \"35232142\"}\n",
    );
    let v = xsum::load(root, Split::Validation).unwrap();
    assert_eq!(v[0].source, "The city council met.\nIt voted.");
    assert_eq!(v[0].id, "35232142");

    write(
        &root.join("test.jsonl"),
        "{\"document\": \"x\", \"id\": \"1\"}\n",
    );
    let e = xsum::load(root, Split::Test).unwrap_err();
    assert_msg(&e, &["test.jsonl", "line 1", "summary"]);

    let d2 = tmp();
    write_parquet(
        &d2.path().join("test-00000-of-00001.parquet"),
        frame(vec![strs("text", &["x"]), strs("summary", &["y"])]),
    );
    let e = xsum::load(d2.path(), Split::Test).unwrap_err();
    assert_msg(&e, &["test-00000-of-00001.parquet", "`document`", "`id`"]);
    let e = xsum::load(d2.path(), Split::Train).unwrap_err();
    assert_msg(&e, &["train", "EdinburghNLP/xsum"]);
}

#[test]
fn wmt16_parquet_struct_and_plain_text() {
    let d = tmp();
    let root = d.path();
    let en = Series::new("en".into(), &["Hello.", "Thank you."]);
    let ro = Series::new("ro".into(), &["Bună ziua.", "Mulțumesc."]);
    write_parquet(
        &root.join("ro-en/validation-00000-of-00001.parquet"),
        frame(vec![struct_col("translation", &[en, ro])]),
    );
    let v = wmt16::load(root, Split::Validation, "en", "ro").unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].source, "Thank you.");
    assert_eq!(v[1].target, "Mulțumesc.");
    assert_eq!(v[1].id, "1");
    let back = wmt16::load(root, Split::Validation, "ro", "en").unwrap();
    assert_eq!(back[0].source, "Bună ziua.");
    let e = wmt16::load(root, Split::Validation, "en", "de").unwrap_err();
    assert_msg(&e, &["validation-00000-of-00001.parquet", "`de`", "en, ro"]);

    write(&root.join("test.en"), "One.\nTwo.\n");
    write(&root.join("test.ro"), "Unu.\nDoi.\n");
    let t = wmt16::load(root, Split::Test, "en", "ro").unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].target, "Doi.");

    write(&root.join("train.en"), "One.\nTwo.\nThree.\n");
    write(&root.join("train.ro"), "Unu.\nDoi.\n");
    let e = wmt16::load(root, Split::Train, "en", "ro").unwrap_err();
    assert_msg(&e, &["train.en", "3 lines", "train.ro", "2 lines"]);
}

// ---------------------------------------------------------------------------------------------
// CIFAR-100

/// A CIFAR record whose pixel (r, c) is (r*8, c*8, 200) and labels (coarse, fine).
fn cifar_record(coarse: u8, fine: u8) -> Vec<u8> {
    let mut rec = vec![coarse, fine];
    for ch in 0..3 {
        for r in 0..32u32 {
            for c in 0..32u32 {
                rec.push(match ch {
                    0 => (r * 8) as u8,
                    1 => (c * 8) as u8,
                    _ => 200,
                });
            }
        }
    }
    rec
}

#[test]
fn cifar_binary_records_and_pixels() {
    let d = tmp();
    let root = d.path().join("cifar-100-binary");
    let mut bytes = cifar_record(4, 30);
    bytes.extend(cifar_record(19, 99));
    write(&root.join("train.bin"), &bytes);
    let names: String = (0..100).map(|i| format!("class{i}\n")).collect();
    write(&root.join("fine_label_names.txt"), names);

    let ex = cifar100::load(d.path(), Split::Train).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!((ex[0].label, ex[1].label), (30, 99));
    assert!(ex[1].origin.ends_with("train.bin record 1"));
    let img = ex[0].decode().unwrap();
    assert_eq!((img.width, img.height), (32, 32));
    assert_eq!(img.pixel(5, 9), [40, 72, 200]);
    assert_eq!(
        cifar100::fine_label_names(d.path()).unwrap().unwrap()[42],
        "class42"
    );

    // At 32×32 the eval transform is the identity before normalisation: check the CHW value of
    // a known pixel, normalised with mean = std = 0.5.
    let pre = Preprocessor {
        size: (32, 32),
        resize_shorter: Some(32),
        ..Preprocessor::default()
    };
    let (px, shape) = batch_pixels(&ex, &pre, Transform::Eval, 0).unwrap();
    assert_eq!(shape, [2, 3, 32, 32]);
    let at = |b: usize, c: usize, r: usize, col: usize| px[((b * 3 + c) * 32 + r) * 32 + col];
    // Hugging Face's order: rescale (multiply by 1/255), then (x - mean) / std.
    let norm = |v: f32| (v * (1.0 / 255.0) - 0.5) / 0.5;
    assert_eq!(at(0, 0, 5, 9), norm(40.0));
    assert_eq!(at(0, 1, 5, 9), norm(72.0));
    assert_eq!(at(0, 2, 5, 9), norm(200.0));
    assert_eq!(at(1, 0, 31, 0), norm(248.0));

    // Full ViT size: 32 → 224 bilinear. A blue plane that is constant stays exact; red varies by
    // row only, so every column of a row agrees, and rows increase.
    let pre = Preprocessor::default();
    let (px, shape) = batch_pixels(&ex[..1], &pre, Transform::Eval, 0).unwrap();
    assert_eq!(shape, [1, 3, 224, 224]);
    let plane = 224 * 224;
    assert!(px[2 * plane..].iter().all(|&v| v == norm(200.0)));
    let red = &px[..plane];
    assert!((0..224).all(|r| red[r * 224..(r + 1) * 224]
        .iter()
        .all(|&v| v == red[r * 224])));
    assert!((1..224).all(|r| red[(r - 1) * 224] <= red[r * 224]));
    assert_eq!(red[0], norm(0.0));
    assert_eq!(red[223 * 224], norm(248.0));
}

#[test]
fn cifar_broken_files() {
    let d = tmp();
    let mut bytes = cifar_record(0, 1);
    bytes.extend([1, 2, 3]);
    write(&d.path().join("train.bin"), &bytes);
    let e = cifar100::load(d.path(), Split::Train).unwrap_err();
    assert_msg(
        &e,
        &["train.bin", "3077 bytes", "not a multiple of the 3074-byte"],
    );

    write(&d.path().join("test.bin"), cifar_record(3, 120));
    let e = cifar100::load(d.path(), Split::Test).unwrap_err();
    assert_msg(&e, &["test.bin", "record 0", "fine label", "120"]);

    let e = cifar100::load(d.path(), Split::Validation).unwrap_err();
    assert_msg(&e, &["no split `validation`"]);
    let empty = tmp();
    let e = cifar100::load(empty.path(), Split::Train).unwrap_err();
    assert_msg(
        &e,
        &["train.bin", "cifar-100-binary.tar.gz", "uoft-cs/cifar100"],
    );
}

#[test]
fn cifar_parquet_png_bytes() {
    let d = tmp();
    let good = png_bytes(32, 32, |x, y| [x as u8, y as u8, 7]);
    let bytes = Series::new("bytes".into(), &[good.as_slice(), good.as_slice()]);
    let path = Series::new("path".into(), &["0.png", "1.png"]);
    write_parquet(
        &d.path().join("cifar100/train-00000-of-00001.parquet"),
        frame(vec![
            struct_col("img", &[bytes, path]),
            i64s("fine_label", &[19, 29]),
            i64s("coarse_label", &[11, 15]),
        ]),
    );
    let ex = cifar100::load(d.path(), Split::Train).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[1].label, 29);
    assert!(matches!(ex[0].image, ImageSource::Encoded(_)));
    assert_eq!(ex[0].decode().unwrap().pixel(3, 10), [10, 3, 7]);

    // A corrupt PNG in row 1: the error names the file and the row; no panic.
    let bad: &[u8] = &good[..40];
    let bytes = Series::new("bytes".into(), &[good.as_slice(), bad]);
    let path = Series::new("path".into(), &["0.png", "1.png"]);
    write_parquet(
        &d.path().join("cifar100/test-00000-of-00001.parquet"),
        frame(vec![
            struct_col("img", &[bytes, path]),
            i64s("fine_label", &[0, 1]),
        ]),
    );
    let ex = cifar100::load(d.path(), Split::Test).unwrap();
    let e = batch_pixels(&ex, &Preprocessor::default(), Transform::Eval, 0).unwrap_err();
    assert!(matches!(e, DataError::Image { .. }));
    assert_msg(
        &e,
        &["test-00000-of-00001.parquet row 1", "cannot decode image"],
    );
}

// ---------------------------------------------------------------------------------------------
// FGVC and the image pipeline

#[test]
fn fgvc_vpt_json_and_cub_native() {
    let d = tmp();
    let cub = d.path().join("CUB_200_2011");
    write(
        &cub.join("images/001.Black_footed_Albatross/a.jpg"),
        jpeg_bytes(40, 30, [200, 30, 30]),
    );
    write(
        &cub.join("images/002.Laysan_Albatross/b.jpg"),
        jpeg_bytes(30, 40, [30, 30, 200]),
    );
    write(
        &cub.join("train.json"),
        r#"{"001.Black_footed_Albatross/a.jpg": 0, "002.Laysan_Albatross/b.jpg": 1}"#,
    );
    let ex = fgvc::load(&cub, FgvcSet::Cub, Split::Train).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[1].label, 1);
    assert!(
        matches!(&ex[0].image, ImageSource::File(p) if p.ends_with("images/001.Black_footed_Albatross/a.jpg"))
    );

    // Eval transform: a solid JPEG stays (nearly) solid; shape [2, 3, 224, 224].
    let (px, shape) = batch_pixels(&ex, &Preprocessor::default(), Transform::Eval, 0).unwrap();
    assert_eq!(shape, [2, 3, 224, 224]);
    let plane = 224 * 224;
    let mean_of = |b: usize, c: usize| {
        let s = &px[(b * 3 + c) * plane..(b * 3 + c + 1) * plane];
        s.iter().sum::<f32>() / plane as f32
    };
    assert!(
        mean_of(0, 0) > 0.4 && mean_of(0, 2) < -0.5,
        "{}",
        mean_of(0, 0)
    );
    assert!(mean_of(1, 2) > 0.4 && mean_of(1, 0) < -0.5);

    // Training transform: seeded and reproducible, different for another seed.
    let (a, _) = batch_pixels(&ex, &Preprocessor::default(), Transform::Train, 11).unwrap();
    let (b, _) = batch_pixels(&ex, &Preprocessor::default(), Transform::Train, 11).unwrap();
    assert_eq!(a, b);

    // Broken: a label out of range; a missing image; a corrupt JPEG.
    write(
        &cub.join("val.json"),
        r#"{"001.Black_footed_Albatross/a.jpg": 200}"#,
    );
    let e = fgvc::load(&cub, FgvcSet::Cub, Split::Validation).unwrap_err();
    assert_msg(
        &e,
        &[
            "val.json",
            "001.Black_footed_Albatross/a.jpg",
            "200",
            "0..200",
        ],
    );
    write(
        &cub.join("test.json"),
        r#"{"003.Sooty_Albatross/c.jpg": 2}"#,
    );
    let e = fgvc::load(&cub, FgvcSet::Cub, Split::Test).unwrap_err();
    assert_msg(&e, &["003.Sooty_Albatross/c.jpg", "not found"]);
    let corrupt = cub.join("images/003.Sooty_Albatross/c.jpg");
    write(&corrupt, &jpeg_bytes(16, 16, [1, 2, 3])[..30]);
    let ex = fgvc::load(&cub, FgvcSet::Cub, Split::Test).unwrap();
    let e = batch_pixels(&ex, &Preprocessor::default(), Transform::Eval, 0).unwrap_err();
    assert_msg(&e, &["003.Sooty_Albatross/c.jpg", "cannot decode image"]);

    // CUB's native layout (no JSON files): classes 1-based → 0-based.
    let native = d.path().join("native");
    write(
        &native.join("images/001.Black_footed_Albatross/a.jpg"),
        jpeg_bytes(8, 8, [0, 0, 0]),
    );
    write(
        &native.join("images/200.Common_Yellowthroat/z.jpg"),
        jpeg_bytes(8, 8, [0, 0, 0]),
    );
    write(
        &native.join("images.txt"),
        "1 001.Black_footed_Albatross/a.jpg\n2 200.Common_Yellowthroat/z.jpg\n",
    );
    write(&native.join("image_class_labels.txt"), "1 1\n2 200\n");
    write(&native.join("train_test_split.txt"), "1 1\n2 0\n");
    let tr = fgvc::load(&native, FgvcSet::Cub, Split::Train).unwrap();
    let te = fgvc::load(&native, FgvcSet::Cub, Split::Test).unwrap();
    assert_eq!((tr.len(), tr[0].label), (1, 0));
    assert_eq!((te.len(), te[0].label), (1, 199));
    let e = fgvc::load(&native, FgvcSet::Cub, Split::Validation).unwrap_err();
    assert_msg(&e, &["val.json", "train and test only"]);
}

#[test]
fn preprocessor_from_config_and_train_transform() {
    let d = tmp();
    write(
        &d.path().join("preprocessor_config.json"),
        r#"{"do_normalize": true, "do_rescale": true, "do_resize": true,
            "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor",
            "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
            "size": {"height": 224, "width": 224}}"#,
    );
    let p = Preprocessor::from_config(d.path()).unwrap();
    assert_eq!(p, Preprocessor::default());
    assert_eq!(p.resample, Resample::Bilinear);

    // Train transform on a left-to-right red ramp: any crop keeps the ramp rising unless it
    // was flipped.
    let raw: Vec<u8> = (0..48 * 48)
        .flat_map(|k| [(k % 48 * 5) as u8, 0, 0])
        .collect();
    let ex = vec![
        ImageExample {
            image: ImageSource::Raw {
                width: 48,
                height: 48,
                rgb: raw,
            },
            label: 0,
            origin: "synthetic".into(),
        };
        16
    ];
    let small = Preprocessor {
        size: (16, 16),
        resize_shorter: Some(16),
        ..Preprocessor::default()
    };
    let (px, shape) = batch_pixels(&ex, &small, Transform::Train, 5).unwrap();
    assert_eq!(shape, [16, 3, 16, 16]);
    assert!(px.iter().all(|v| (-1.0..=1.0).contains(v)));
    // Across 16 examples, some are flipped (ramp falling) and some are not.
    let ends = |b: usize| (px[b * 3 * 256 + 8 * 16], px[b * 3 * 256 + 8 * 16 + 15]);
    assert!((0..16).all(|b| ends(b).0 != ends(b).1));
    let flipped = (0..16).filter(|&b| ends(b).0 > ends(b).1).count();
    assert!(flipped > 0 && flipped < 16, "{flipped}");
    let (again, _) = batch_pixels(&ex, &small, Transform::Train, 5).unwrap();
    assert_eq!(px, again);
    let (other, _) = batch_pixels(&ex, &small, Transform::Train, 6).unwrap();
    assert_ne!(px, other);

    let e = Preprocessor::from_config(&d.path().join("nope")).unwrap_err();
    assert_msg(&e, &["preprocessor config", "nope"]);
}

// ---------------------------------------------------------------------------------------------
// Tokenisation, batching, targets

#[test]
fn tokenizer_pairs_truncation_padding() {
    let Some(tok) = minilm() else { return };
    let enc = TextEncoder::from_file(&tok, 128).unwrap();
    assert_eq!(enc.pad_id(), 0);
    let b = enc
        .encode_texts(&["Hello world", "hello"], Some(&["how are you", "you"]))
        .unwrap();
    assert_eq!((b.batch, b.seq_len), (2, 8));
    // [CLS] hello world [SEP] how are you [SEP]
    assert_eq!(b.row(0), &[101, 7592, 2088, 102, 2129, 2024, 2017, 102]);
    assert_eq!(&b.token_type_ids[..8], &[0, 0, 0, 0, 1, 1, 1, 1]);
    // The shorter row is padded with 0 and masked out.
    assert_eq!(b.row(1), &[101, 7592, 102, 2017, 102, 0, 0, 0]);
    assert_eq!(&b.attention_mask[8..], &[1, 1, 1, 1, 1, 0, 0, 0]);
    assert_eq!(&b.token_type_ids[8..], &[0, 0, 0, 1, 1, 0, 0, 0]);
    assert_eq!(b.len_of(1), 5);

    // Longest-first truncation to 7 (room for 4 text tokens): the longer first sequence is
    // cut down to the second's length.
    let short = enc.with_max_length(7).unwrap();
    let t = short
        .encode_texts(&["hello world how are"], Some(&["you you"]))
        .unwrap();
    assert_eq!(t.row(0), &[101, 7592, 2088, 102, 2017, 2017, 102]);
    assert_eq!(t.seq_len, 7);

    // Examples with labels, through bucketed batches.
    let ex: Vec<TextExample> = ["a", "a b c d e f", "a b", "a b c"]
        .iter()
        .enumerate()
        .map(|(i, s)| TextExample {
            idx: i as u64,
            text_a: s.to_string(),
            text_b: None,
            label: Label::Class(i % 2),
        })
        .collect();
    let lengths = enc.lengths(&ex).unwrap();
    assert_eq!(lengths, vec![3, 8, 4, 5]);
    let batches = bucketed_batches(&lengths, 2, 0, 0, false);
    assert_eq!(batches, vec![vec![1, 3], vec![2, 0]]);
    let tb = enc.encode_batch(&ex, &batches[1]).unwrap();
    assert_eq!(tb.labels, vec![Label::Class(0), Label::Class(0)]);
    assert_eq!(tb.seq_len, 4);

    // Targets: labels with −100 padding, decoder inputs shifted right.
    let tg = enc.encode_targets(&["hello world", "hello"], 101).unwrap();
    assert_eq!(tg.labels, vec![101, 7592, 2088, 102, 101, 7592, 102, -100]);
    assert_eq!(
        tg.decoder_input_ids,
        vec![101, 101, 7592, 2088, 101, 101, 7592, 102]
    );

    let e = TextEncoder::from_file(Path::new("/nonexistent/tokenizer.json"), 8).unwrap_err();
    assert_msg(&e, &["/nonexistent/tokenizer.json", "not found"]);
}

#[test]
fn bucketing_is_a_seeded_partition() {
    let lengths: Vec<usize> = (0..5_000).map(|i| (i * 31) % 97 + 1).collect();
    let b = bucketed_batches(&lengths, 32, 42, 0, true);
    let mut seen = vec![0u8; lengths.len()];
    for batch in &b {
        for &i in batch {
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert_eq!(b, bucketed_batches(&lengths, 32, 42, 0, true));
    assert_ne!(b, bucketed_batches(&lengths, 32, 43, 0, true));
    // Batches are tight: the spread of lengths within a batch is small.
    let spread: usize = b
        .iter()
        .map(|x| lengths[x[0]] - lengths[*x.last().unwrap()])
        .sum::<usize>()
        / b.len();
    assert!(spread <= 3, "{spread}");
}

// ---------------------------------------------------------------------------------------------
// Low-resource sampling

#[test]
fn low_resource_sampling_is_disjoint_and_seeded() {
    let train: Vec<TextExample> = (0..3_000)
        .map(|i| TextExample {
            idx: i,
            text_a: format!("s{i}"),
            text_b: None,
            label: Label::Class((i % 2) as usize),
        })
        .collect();
    let (k, dev) = low_resource(&train, 100, 1_000, 7).unwrap();
    assert_eq!((k.len(), dev.len()), (100, 1_000));
    let ids: std::collections::HashSet<u64> = k.iter().chain(&dev).map(|e| e.idx).collect();
    assert_eq!(ids.len(), 1_100);
    let (k2, dev2) = low_resource(&train, 100, 1_000, 7).unwrap();
    assert_eq!((&k, &dev), (&k2, &dev2));
    let (k3, _) = low_resource(&train, 100, 1_000, 8).unwrap();
    assert_ne!(k, k3);
    // Not just the first rows.
    assert!(k.iter().any(|e| e.idx >= 1_100));
    // A larger K keeps the smaller one as its prefix (one shuffle, sliced).
    let (k500, _) = low_resource(&train, 500, 1_000, 7).unwrap();
    assert_eq!(&k500[..100], &k[..]);
    let e = low_resource(&train, 2_500, 1_000, 7).unwrap_err();
    assert_msg(&e, &["2500 + 1000", "3000"]);
}

// ---------------------------------------------------------------------------------------------
// Data check

#[test]
fn data_check_report() {
    let d = tmp();
    let root = d.path();
    write_parquet(
        &root.join("sst2/train-00000-of-00001.parquet"),
        frame(vec![
            strs("sentence", &["good", "bad film", "a fine , fine film"]),
            i64s("label", &[1, 0, 1]),
            i32s("idx", &[0, 1, 2]),
        ]),
    );
    write(
        &root.join("SST-2/dev.tsv"),
        "sentence\tlabel\nok\t1\nbroken\n",
    );
    write(&root.join("SST-2/test.tsv"), "index\tsentence\n0\tok\n");
    let tok = minilm();
    let rep = check::report(root, Dataset::Glue(GlueTask::Sst2), tok.as_deref());
    let text = rep.to_string();
    eprintln!("{text}");
    assert_eq!(rep.splits.len(), 3, "{text}");
    assert!(text.contains("glue/sst2"), "{text}");
    assert!(text.contains("train"), "{text}");
    assert!(text.contains("3 rows (published: 67,349)"), "{text}");
    assert!(
        text.contains("negative 1 (33.3%), positive 2 (66.7%)"),
        "{text}"
    );
    assert!(text.contains("skipped 1 malformed row"), "{text}");
    assert!(text.contains("(unlabelled)"), "{text}");
    if tok.is_some() {
        assert!(text.contains("tokens (sentence): p50 4"), "{text}");
    }

    // Nothing there: every split missing, with where to get it.
    let empty = tmp();
    let rep = check::report(empty.path(), Dataset::Cifar100, None);
    assert!(!rep.is_complete());
    assert_eq!(rep.missing.len(), 2);
    let text = rep.to_string();
    assert!(
        text.contains("missing:") && text.contains("train.bin"),
        "{text}"
    );
    assert!(text.contains("cifar-100-binary.tar.gz"), "{text}");

    // A broken file is an error line, not a panic.
    write(&empty.path().join("train.bin"), [0u8; 10]);
    let rep = check::report(empty.path(), Dataset::Cifar100, None);
    assert_eq!(rep.errors.len(), 1);
    assert!(rep.to_string().contains("not a multiple"), "{rep}");
}
