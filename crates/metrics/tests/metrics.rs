//! Agreement with the Python references, value by value.
//!
//! `tests/data/reference.json` was computed by `tests/data/make_reference.py` (sacrebleu 2.6.0,
//! rouge-score 0.1.2, nltk 3.10.4, sacremoses 0.2.0, scipy 1.17.1, scikit-learn 1.9.1) from
//! the committed inputs `corpus.jsonl`, `strings.json` and `glue.json`. No Python is needed here.
//! Every float must agree to 1e-9, every string exactly. Run with `--nocapture` to see the
//! largest difference per metric family.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use peftgrid_metrics::{
    bleu, bleu_ro_moses, classification, correlation, moses, porter, rouge, score_lines,
    tokenize_13a, BleuConfig, BleuTokenizer, Details, Metric, MetricsError, RougeType, Smoothing,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(data_path(name)).expect("test data file");
    serde_json::from_str(&text).expect("valid JSON")
}

struct Pair {
    lang: String,
    hyp: String,
    reference: String,
}

fn corpus() -> &'static Vec<Pair> {
    static C: OnceLock<Vec<Pair>> = OnceLock::new();
    C.get_or_init(|| {
        let text = std::fs::read_to_string(data_path("corpus.jsonl")).expect("corpus.jsonl");
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("corpus line");
                Pair {
                    lang: v["lang"].as_str().unwrap().to_string(),
                    hyp: v["hyp"].as_str().unwrap().to_string(),
                    reference: v["ref"].as_str().unwrap().to_string(),
                }
            })
            .collect()
    })
}

fn reference() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| read_json("reference.json"))
}

/// `strings.json` fuzz lines zipped with their `reference.json` entries.
fn fuzz() -> Vec<(&'static str, &'static Value)> {
    static S: OnceLock<Value> = OnceLock::new();
    let strings = S.get_or_init(|| read_json("strings.json"));
    let inputs = strings["fuzz_lines"].as_array().unwrap();
    let entries = reference()["fuzz"].as_array().unwrap();
    assert_eq!(inputs.len(), entries.len());
    inputs.iter().map(s).zip(entries).collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Tracks the largest absolute difference seen and every value outside the tolerance.
#[derive(Default)]
struct Diff {
    max: f64,
    failures: Vec<String>,
    count: usize,
}

impl Diff {
    fn check(&mut self, what: impl FnOnce() -> String, got: f64, want: f64) {
        self.count += 1;
        let d = (got - want).abs();
        if d.is_nan() || d > TOL {
            self.failures
                .push(format!("{}: got {got:?}, want {want:?}", what()));
        }
        if d > self.max {
            self.max = d;
        }
    }

    fn finish(self, family: &str) {
        eprintln!(
            "{family}: {} values, max |diff| = {:.3e}",
            self.count, self.max
        );
        assert!(
            self.failures.is_empty(),
            "{family}: {} of {} values differ by more than {TOL}:\n{}",
            self.failures.len(),
            self.count,
            self.failures[..self.failures.len().min(30)].join("\n")
        );
    }
}

/// Collects string mismatches and fails with the first few.
#[derive(Default)]
struct Strings {
    failures: Vec<String>,
    count: usize,
}

impl Strings {
    fn check(&mut self, what: impl FnOnce() -> String, got: &str, want: &str) {
        self.count += 1;
        if got != want {
            self.failures
                .push(format!("{}:\n   got {got:?}\n  want {want:?}", what()));
        }
    }

    fn finish(self, family: &str) {
        eprintln!("{family}: {} strings", self.count);
        assert!(
            self.failures.is_empty(),
            "{family}: {} of {} strings differ:\n{}",
            self.failures.len(),
            self.count,
            self.failures[..self.failures.len().min(20)].join("\n")
        );
    }
}

#[test]
fn corpus_is_large_and_varied() {
    let c = corpus();
    assert!(c.len() >= 200);
    assert!(c.iter().filter(|p| p.lang == "ro").count() >= 50);
    assert!(c.iter().any(|p| p.hyp.is_empty()) && c.iter().any(|p| p.reference.is_empty()));
    assert!(c.iter().any(|p| p.hyp.contains('\n')));
    assert!(c.iter().any(|p| p.hyp.contains('ş')) && c.iter().any(|p| p.reference.contains('ș')));
    let versions = &reference()["versions"];
    assert_eq!(
        s(&versions["sacrebleu"]),
        peftgrid_metrics::SACREBLEU_VERSION
    );
}

#[test]
fn porter_stems_match_nltk() {
    let mut st = Strings::default();
    for (word, stem) in reference()["porter"].as_object().unwrap() {
        st.check(|| format!("stem({word:?})"), &porter::stem(word), s(stem));
    }
    st.finish("porter");
}

#[test]
fn rouge_tokens_match_rouge_score() {
    let mut st = Strings::default();
    for (i, (p, r)) in corpus()
        .iter()
        .zip(reference()["pairs"].as_array().unwrap())
        .enumerate()
    {
        st.check(
            || format!("pair {i} hyp"),
            &rouge::tokenize(&p.hyp).join(" "),
            s(&r["rouge_tokens_hyp"]),
        );
        st.check(
            || format!("pair {i} ref"),
            &rouge::tokenize(&p.reference).join(" "),
            s(&r["rouge_tokens_ref"]),
        );
    }
    for (i, (input, fz)) in fuzz().into_iter().enumerate() {
        st.check(
            || format!("fuzz {i}"),
            &rouge::tokenize(input).join(" "),
            s(&fz["rouge_tokens"]),
        );
    }
    st.finish("rouge tokens");
}

#[test]
fn rouge_scores_match_rouge_score() {
    let mut d = Diff::default();
    for (i, (p, r)) in corpus()
        .iter()
        .zip(reference()["pairs"].as_array().unwrap())
        .enumerate()
    {
        let got = rouge::score_pair(&p.hyp, &p.reference);
        for kind in RougeType::ALL {
            let want = &r["rouge"][kind.name()];
            let g = got.get(kind);
            // the single-type entry point must agree with the all-types one
            assert_eq!(rouge::score(kind, &p.hyp, &p.reference), g);
            d.check(|| format!("pair {i} {kind} P"), g.precision, f(&want[0]));
            d.check(|| format!("pair {i} {kind} R"), g.recall, f(&want[1]));
            d.check(|| format!("pair {i} {kind} F"), g.fmeasure, f(&want[2]));
        }
    }
    // corpus means ×100 on all pairs and on the language subsets
    let c = corpus();
    for subset in ["all", "ro", "en"] {
        let idx: Vec<usize> = (0..c.len())
            .filter(|&i| subset == "all" || c[i].lang == subset)
            .collect();
        let hyps: Vec<&str> = idx.iter().map(|&i| c[i].hyp.as_str()).collect();
        let refs: Vec<&str> = idx.iter().map(|&i| c[i].reference.as_str()).collect();
        for kind in RougeType::ALL {
            let got = rouge::corpus(kind, &hyps, &refs).unwrap();
            let want = f(&reference()["rouge_corpus"][subset][kind.name()]);
            d.check(|| format!("corpus {subset} {kind}"), got.fmeasure, want);
        }
    }
    d.finish("rouge");
}

#[test]
fn tokenize_13a_matches_sacrebleu() {
    let mut st = Strings::default();
    for (i, (p, r)) in corpus()
        .iter()
        .zip(reference()["pairs"].as_array().unwrap())
        .enumerate()
    {
        let tok = BleuTokenizer::Tok13a;
        st.check(
            || format!("pair {i} hyp"),
            &tok.preprocess(&p.hyp),
            s(&r["tok13a_hyp"]),
        );
        st.check(
            || format!("pair {i} ref"),
            &tok.preprocess(&p.reference),
            s(&r["tok13a_ref"]),
        );
    }
    for (i, (input, fz)) in fuzz().into_iter().enumerate() {
        st.check(
            || format!("fuzz {i}"),
            &BleuTokenizer::Tok13a.preprocess(input),
            s(&fz["tok13a"]),
        );
    }
    // the bare tokenizer (no rstrip) on a line without trailing whitespace
    st.check(
        || "bare".into(),
        &tokenize_13a::tokenize_13a("a-b 3-4"),
        "a-b 3 - 4",
    );
    st.finish("13a tokenizer");
}

#[test]
fn moses_ro_pipeline_matches_sacremoses() {
    let mut st = Strings::default();
    for (i, (p, r)) in corpus()
        .iter()
        .zip(reference()["pairs"].as_array().unwrap())
        .enumerate()
    {
        st.check(
            || format!("pair {i} hyp"),
            &moses::ro_pipeline(&p.hyp),
            s(&r["moses_ro_hyp"]),
        );
        st.check(
            || format!("pair {i} ref"),
            &moses::ro_pipeline(&p.reference),
            s(&r["moses_ro_ref"]),
        );
    }
    for (i, (input, fz)) in fuzz().into_iter().enumerate() {
        let normalized = moses::normalize_punctuation_ro(input);
        st.check(
            || format!("fuzz {i} normalize {input:?}"),
            &normalized,
            s(&fz["normalized"]),
        );
        let romanian = moses::remove_diacritics(&moses::normalise_romanian(s(&fz["normalized"])));
        st.check(
            || format!("fuzz {i} tokenize {romanian:?}"),
            &moses::tokenize_ro(&romanian),
            s(&fz["tokenized"]),
        );
        st.check(
            || format!("fuzz {i} tokenize only {input:?}"),
            &moses::tokenize_ro(input),
            s(&fz["moses_tokenized_only"]),
        );
        st.check(
            || format!("fuzz {i} pipeline"),
            &moses::ro_pipeline(input),
            s(&fz["tokenized"]),
        );
    }
    st.finish("moses-ro pipeline");
}

#[test]
fn bleu_matches_sacrebleu() {
    let c = corpus();
    let mut d = Diff::default();
    let mut st = Strings::default();
    let mut n_cases = 0;
    for case in reference()["bleu"].as_array().unwrap() {
        n_cases += 1;
        let name = s(&case["name"]);
        let indices = match case.get("subset") {
            Some(subset) => &reference()["subsets"][s(subset)],
            None => &case["indices"],
        };
        let idx: Vec<usize> = indices
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let hyps: Vec<&str> = idx.iter().map(|&i| c[i].hyp.as_str()).collect();
        let refs: Vec<&str> = idx.iter().map(|&i| c[i].reference.as_str()).collect();
        let smoothing = match s(&case["smooth"]) {
            "exp" => Smoothing::Exp,
            "floor" => Smoothing::Floor,
            "none" => Smoothing::None,
            "add-k" => Smoothing::AddK,
            other => panic!("smoothing {other}"),
        };
        let smooth_value = case["smooth_value"].as_f64();
        let got = match s(&case["variant"]) {
            "13a" => bleu::corpus_bleu(
                &hyps,
                &refs,
                &BleuConfig {
                    tokenizer: BleuTokenizer::Tok13a,
                    smoothing,
                    smooth_value,
                },
            )
            .unwrap(),
            "ro-moses" => {
                let h: Vec<String> = hyps.iter().map(|t| moses::ro_pipeline(t)).collect();
                let r: Vec<String> = refs.iter().map(|t| moses::ro_pipeline(t)).collect();
                let config = BleuConfig {
                    tokenizer: BleuTokenizer::None,
                    smoothing,
                    smooth_value,
                };
                let got = bleu::corpus_bleu(&h, &r, &config).unwrap();
                if smoothing == Smoothing::None {
                    assert_eq!(bleu_ro_moses(&hyps, &refs).unwrap(), got, "{name}");
                }
                got
            }
            other => panic!("variant {other}"),
        };
        d.check(|| format!("{name} score"), got.score, f(&case["score"]));
        d.check(|| format!("{name} bp"), got.bp, f(&case["bp"]));
        for n in 0..4 {
            d.check(
                || format!("{name} precision {n}"),
                got.precisions[n],
                f(&case["precisions"][n]),
            );
            // sacreBLEU's add-k adds k in place to the counts/totals of orders 2..4 it returns
            // (only when there is at least one match); ours stay raw.
            let k = if smoothing == Smoothing::AddK && n > 0 && got.counts.iter().any(|&x| x > 0) {
                smooth_value.unwrap_or(1.0)
            } else {
                0.0
            };
            d.check(
                || format!("{name} count {n}"),
                got.counts[n] as f64 + k,
                f(&case["counts"][n]),
            );
            d.check(
                || format!("{name} total {n}"),
                got.totals[n] as f64 + k,
                f(&case["totals"][n]),
            );
        }
        assert_eq!(got.sys_len, case["sys_len"].as_u64().unwrap(), "{name}");
        assert_eq!(got.ref_len, case["ref_len"].as_u64().unwrap(), "{name}");
        st.check(
            || format!("{name} signature"),
            &got.signature,
            s(&case["signature"]),
        );
        st.check(
            || format!("{name} format"),
            &got.to_string(),
            s(&case["formatted"]),
        );
    }
    eprintln!("bleu: {n_cases} corpus_score cases");
    d.finish("bleu");
    st.finish("bleu strings");
}

fn expect(entry: &Value) -> Result<f64, String> {
    match entry.get("value") {
        Some(v) => Ok(f(v)),
        None => Err(s(&entry["error"]).to_string()),
    }
}

#[test]
fn glue_metrics_match_sklearn_and_scipy() {
    let glue = read_json("glue.json");
    let refs = &reference()["glue"];
    let mut d = Diff::default();
    let labels = |v: &Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    };
    let floats = |v: &Value| -> Vec<f64> { v.as_array().unwrap().iter().map(f).collect() };
    for (set, want) in glue["classification"]
        .as_array()
        .unwrap()
        .iter()
        .zip(refs["classification"].as_array().unwrap())
    {
        let name = s(&set["name"]);
        let (gold, pred) = (labels(&set["gold"]), labels(&set["pred"]));
        type Fun = fn(&[usize], &[usize]) -> peftgrid_metrics::Result<f64>;
        let funs: [(&str, Fun); 3] = [
            ("accuracy", classification::accuracy),
            ("f1", classification::f1),
            ("mcc", classification::matthews_corrcoef),
        ];
        for (metric, fun) in funs {
            let got = fun(&pred, &gold);
            match (expect(&want[metric]), got) {
                (Ok(w), Ok(g)) => d.check(|| format!("{name} {metric}"), g, w),
                (Err(_), Err(e)) => {
                    assert!(
                        matches!(e, MetricsError::InvalidLabels { .. }),
                        "{name}: {e}"
                    )
                }
                (w, g) => panic!("{name} {metric}: reference {w:?}, ours {g:?}"),
            }
        }
    }
    for (set, want) in glue["regression"]
        .as_array()
        .unwrap()
        .iter()
        .zip(refs["regression"].as_array().unwrap())
    {
        let name = s(&set["name"]);
        let (x, y) = (floats(&set["x"]), floats(&set["y"]));
        d.check(
            || format!("{name} pearson"),
            correlation::pearson(&x, &y).unwrap(),
            expect(&want["pearson"]).unwrap(),
        );
        d.check(
            || format!("{name} spearman"),
            correlation::spearman(&x, &y).unwrap(),
            expect(&want["spearman"]).unwrap(),
        );
    }
    d.finish("glue (sklearn/scipy)");
}

#[test]
fn score_lines_reports_paper_scale() {
    let c = corpus();
    let hyps: Vec<String> = c.iter().map(|p| p.hyp.clone()).collect();
    let refs: Vec<String> = c.iter().map(|p| p.reference.clone()).collect();
    let cases: HashMap<&str, &Value> = reference()["bleu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (s(&v["name"]), v))
        .collect();

    let b = score_lines(Metric::Bleu, &hyps, &refs).unwrap();
    let want = cases["all-13a-exp"];
    assert!((b.value - f(&want["score"])).abs() < TOL);
    assert_eq!(b.signature.as_deref(), Some(s(&want["signature"])));
    assert_eq!(
        b.to_string(),
        format!("{}\n{}", s(&want["formatted"]), s(&want["signature"]))
    );

    // a Score survives a JSON round trip (the runner stores them)
    let json = serde_json::to_string(&b).unwrap();
    // (serde_json's default float parser may be 1 ulp off, so compare the printed form)
    let back: peftgrid_metrics::Score = serde_json::from_str(&json).unwrap();
    assert_eq!((back.metric, &back.signature), (b.metric, &b.signature));
    assert!((back.value - b.value).abs() < 1e-12);
    assert_eq!(back.to_string(), b.to_string());
    assert!(json.contains("\"metric\":\"bleu\"") && json.contains("\"kind\":\"bleu\""));

    let b = score_lines(Metric::BleuRoMoses, &hyps, &refs).unwrap();
    let want = cases["all-moses-none"];
    assert!((b.value - f(&want["score"])).abs() < TOL);
    assert_eq!(
        b.signature.as_deref(),
        Some("nrefs:1|case:mixed|eff:no|tok:none|smooth:none|version:2.6.0")
    );
    assert!(b
        .note
        .as_deref()
        .unwrap()
        .contains("tokenizer -no-escape -l ro"));
    assert!(b.to_string().starts_with(s(&want["formatted"])));

    for (metric, kind) in [
        (Metric::Rouge1, "rouge1"),
        (Metric::Rouge2, "rouge2"),
        (Metric::RougeL, "rougeL"),
        (Metric::RougeLsum, "rougeLsum"),
    ] {
        let r = score_lines(metric, &hyps, &refs).unwrap();
        let want = f(&reference()["rouge_corpus"]["all"][kind]);
        assert!((r.value - want).abs() < TOL, "{metric}");
        assert!(r.to_string().starts_with(&format!("{kind} = {want:.2} ")));
    }

    let glue = read_json("glue.json");
    let set = &glue["classification"][0];
    let lines = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect()
    };
    let (pred, gold) = (lines(&set["pred"]), lines(&set["gold"]));
    let want = &reference()["glue"]["classification"][0];
    for (metric, key) in [
        (Metric::Accuracy, "accuracy"),
        (Metric::F1, "f1"),
        (Metric::Mcc, "mcc"),
    ] {
        let sc = score_lines(metric, &pred, &gold).unwrap();
        assert!(
            (sc.value - 100.0 * f(&want[key]["value"])).abs() < TOL,
            "{metric}"
        );
        assert!(matches!(sc.details, Details::Classification { n: 250, .. }));
    }
    let set = &glue["regression"][0];
    let want = &reference()["glue"]["regression"][0];
    let (x, y) = (lines(&set["x"]), lines(&set["y"]));
    for (metric, key) in [(Metric::Pearson, "pearson"), (Metric::Spearman, "spearman")] {
        let sc = score_lines(metric, &x, &y).unwrap();
        assert!(
            (sc.value - 100.0 * f(&want[key]["value"])).abs() < TOL,
            "{metric}"
        );
        assert_eq!(
            sc.to_string(),
            format!("{metric} = {:.2} (n = 250)", sc.value)
        );
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let v = |xs: &[&str]| -> Vec<String> { xs.iter().map(|x| x.to_string()).collect() };
    let hyps: Vec<String> = (0..199).map(|i| format!("h {i}")).collect();
    let refs: Vec<String> = (0..200).map(|i| format!("r {i}")).collect();
    for m in Metric::ALL {
        let e = score_lines(m, &hyps, &refs).unwrap_err();
        assert_eq!(e.to_string(), "hyp has 199 lines, ref has 200", "{m}");
        let e = score_lines(m, &[], &[]).unwrap_err();
        assert!(matches!(e, MetricsError::Empty { .. }), "{m}: {e}");
    }
    assert!(bleu::corpus_bleu(&["a"], &["a", "b"], &BleuConfig::default()).is_err());
    assert!(rouge::corpus(RougeType::RougeL, &["a"], &[]).is_err());
    assert!(bleu_ro_moses(&["a", "b"], &["a"]).is_err());
    assert!(classification::accuracy(&[1, 0], &[1]).is_err());
    assert!(classification::matthews_corrcoef(&[], &[]).is_err());

    // unparsable values name the line
    let e = score_lines(Metric::Accuracy, &v(&["1", "0", "x"]), &v(&["1", "0", "1"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "hyp line 3: cannot parse \"x\" as a non-negative integer label"
    );
    let e = score_lines(Metric::F1, &v(&["1", "0"]), &v(&["1", "-1"])).unwrap_err();
    assert!(e.to_string().starts_with("ref line 2:"), "{e}");
    let e = score_lines(
        Metric::Pearson,
        &v(&["1", "nan", "2"]),
        &v(&["1", "2", "3"]),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("hyp line 2:"), "{e}");
    let e = score_lines(Metric::Spearman, &v(&["1", "2"]), &v(&["1", "2.5e"])).unwrap_err();
    assert!(e.to_string().starts_with("ref line 2:"), "{e}");

    // NaN and constant inputs
    let e = correlation::pearson(&[1.0, f64::NAN, 2.0], &[1.0, 2.0, 3.0]).unwrap_err();
    assert!(matches!(e, MetricsError::NonFinite { index: 1, .. }), "{e}");
    let e = correlation::spearman(&[1.0, 2.0], &[f64::INFINITY, 0.0]).unwrap_err();
    assert!(matches!(e, MetricsError::NonFinite { index: 0, .. }), "{e}");
    let e = correlation::pearson(&[3.0, 3.0, 3.0], &[1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pearson: constant input (x has a single distinct value)"
    );
    let e = correlation::spearman(&[1.0, 2.0, 3.0], &[0.5, 0.5, 0.5]).unwrap_err();
    assert!(
        matches!(e, MetricsError::ConstantInput { which: "y", .. }),
        "{e}"
    );
    assert!(matches!(
        correlation::pearson(&[1.0], &[1.0]).unwrap_err(),
        MetricsError::TooFew { .. }
    ));
    let e = score_lines(Metric::Pearson, &v(&["1", "1"]), &v(&["1", "2"])).unwrap_err();
    assert!(matches!(e, MetricsError::ConstantInput { .. }), "{e}");

    // multiclass labels for binary F1
    let e = score_lines(Metric::F1, &v(&["0", "1", "2"]), &v(&["0", "1", "2"])).unwrap_err();
    assert!(e.to_string().contains("multiclass"), "{e}");

    // invalid smoothing value
    let config = BleuConfig {
        tokenizer: BleuTokenizer::Tok13a,
        smoothing: Smoothing::Floor,
        smooth_value: Some(f64::NAN),
    };
    assert!(bleu::corpus_bleu(&["a b"], &["a b"], &config).is_err());

    // unknown metric names
    assert!(matches!(
        "bleurt".parse::<Metric>().unwrap_err(),
        MetricsError::UnknownMetric(_)
    ));
}
