//! The fairseq mBART en-ro evaluation preprocessing ("He et al. en-ro BLEU"), applied to both
//! hypotheses and references before `sacrebleu -tok none -s none`:
//!
//! ```text
//! replace-unicode-punctuation.perl | normalize-punctuation.perl -l ro |
//! remove-non-printing-char.perl | normalise-romanian.py | remove-diacritics.py |
//! tokenizer.perl -no-escape -l ro
//! ```
//!
//! The Moses steps are ports of sacremoses 0.2.0 (`normalize.py::MosesPunctNormalizer(lang="ro",
//! pre_replace_unicode_punct=True, post_remove_control_chars=True).normalize` and
//! `tokenize.py::MosesTokenizer(lang="ro").tokenize(text, escape=False, return_str=True)`),
//! regex by regex and in the same order; the two WMT16 steps are rsennrich/wmt16-scripts
//! `preprocess/normalise-romanian.py` and `preprocess/remove-diacritics.py`.
//! Character classes (`\s`, `\d`, `\p{C}`, the Perl-Unicode-property sets) come from
//! `unicode_tables.rs`, measured from the Python references.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::pyunicode::{self, class_body, in_table};
use crate::unicode_tables::{
    MOSES_ALPHA, MOSES_IS_N, MOSES_LOWER, MOSES_PAD, PY_DECIMAL, PY_SPACE, REGEX_OTHER,
};

/// The Romanian non-breaking prefix file that sacremoses ships (see `data/README.md`).
const NONBREAKING_PREFIX_RO: &str = include_str!("../data/nonbreaking_prefix.ro");

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static moses regex")
}

/// One substitution: a literal `str.replace` or a regex `re.sub`.
enum Sub {
    Lit(&'static str, &'static str),
    Re(Regex, &'static str),
}

impl Sub {
    fn apply(&self, text: &str) -> String {
        match self {
            Sub::Lit(from, to) => text.replace(from, to),
            Sub::Re(rx, to) => rx.replace_all(text, *to).into_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// replace-unicode-punctuation.perl (MosesPunctNormalizer.REPLACE_UNICODE_PUNCTUATION)
// ---------------------------------------------------------------------------------------------

fn replace_unicode_punct_subs() -> &'static [Sub] {
    static SUBS: OnceLock<Vec<Sub>> = OnceLock::new();
    SUBS.get_or_init(|| {
        let space = class_body(PY_SPACE);
        vec![
            Sub::Lit("，", ","),
            Sub::Re(re(&format!("。[{space}]*")), ". "),
            Sub::Lit("、", ","),
            Sub::Lit("”", "\""),
            Sub::Lit("“", "\""),
            Sub::Lit("∶", ":"),
            Sub::Lit("：", ":"),
            Sub::Lit("？", "?"),
            Sub::Lit("《", "\""),
            Sub::Lit("》", "\""),
            Sub::Lit("）", ")"),
            Sub::Lit("！", "!"),
            Sub::Lit("（", "("),
            Sub::Lit("；", ";"),
            Sub::Lit("」", "\""),
            Sub::Lit("「", "\""),
            Sub::Lit("０", "0"),
            Sub::Lit("１", "1"),
            Sub::Lit("２", "2"),
            Sub::Lit("３", "3"),
            Sub::Lit("４", "4"),
            Sub::Lit("５", "5"),
            Sub::Lit("６", "6"),
            Sub::Lit("７", "7"),
            Sub::Lit("８", "8"),
            Sub::Lit("９", "9"),
            Sub::Re(re(&format!("．[{space}]*")), ". "),
            Sub::Lit("～", "~"),
            Sub::Lit("’", "'"),
            Sub::Lit("…", "..."),
            Sub::Lit("━", "-"),
            Sub::Lit("〈", "<"),
            Sub::Lit("〉", ">"),
            Sub::Lit("【", "["),
            Sub::Lit("】", "]"),
            Sub::Lit("％", "%"),
        ]
    })
}

/// `MosesPunctNormalizer.replace_unicode_punct` (replace-unicode-punctuation.perl).
pub fn replace_unicode_punct(text: &str) -> String {
    let mut s = text.to_string();
    for sub in replace_unicode_punct_subs() {
        s = sub.apply(&s);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// normalize-punctuation.perl -l ro (MosesPunctNormalizer(lang="ro").substitutions)
// ---------------------------------------------------------------------------------------------

fn normalize_subs() -> &'static [Sub] {
    static SUBS: OnceLock<Vec<Sub>> = OnceLock::new();
    SUBS.get_or_init(|| {
        let digit = class_body(PY_DECIMAL);
        vec![
            // EXTRA_WHITESPACE
            Sub::Lit("\r", ""),
            Sub::Lit("(", " ("),
            Sub::Lit(")", ") "),
            Sub::Re(re(" +"), " "),
            Sub::Re(re(r"\) ([.!:?;,])"), ")${1}"),
            Sub::Lit("( ", "("),
            Sub::Lit(" )", ")"),
            Sub::Re(re(&format!("([{digit}]) %")), "${1}%"),
            Sub::Lit(" :", ":"),
            Sub::Lit(" ;", ";"),
            // NORMALIZE_UNICODE_IF_NOT_PENN (penn=True)
            Sub::Lit("`", "'"),
            Sub::Lit("''", " \" "),
            // NORMALIZE_UNICODE
            Sub::Lit("„", "\""),
            Sub::Lit("“", "\""),
            Sub::Lit("”", "\""),
            Sub::Lit("–", "-"),
            Sub::Lit("—", " - "),
            Sub::Re(re(" +"), " "),
            Sub::Lit("´", "'"),
            Sub::Re(re("([a-zA-Z])‘([a-zA-Z])"), "${1}'${2}"),
            Sub::Re(re("([a-zA-Z])’([a-zA-Z])"), "${1}'${2}"),
            Sub::Lit("‘", "'"),
            Sub::Lit("‚", "'"),
            Sub::Lit("’", "'"),
            Sub::Lit("''", "\""),
            Sub::Lit("´´", "\""),
            Sub::Lit("…", "..."),
            // FRENCH_QUOTES
            Sub::Lit("\u{a0}«\u{a0}", "\""),
            Sub::Lit("«\u{a0}", "\""),
            Sub::Lit("«", "\""),
            Sub::Lit("\u{a0}»\u{a0}", "\""),
            Sub::Lit("\u{a0}»", "\""),
            Sub::Lit("»", "\""),
            // HANDLE_PSEUDO_SPACES
            Sub::Lit("\u{a0}%", "%"),
            Sub::Lit("nº\u{a0}", "nº "),
            Sub::Lit("\u{a0}:", ":"),
            Sub::Lit("\u{a0}ºC", " ºC"),
            Sub::Lit("\u{a0}cm", " cm"),
            Sub::Lit("\u{a0}?", "?"),
            Sub::Lit("\u{a0}!", "!"),
            Sub::Lit("\u{a0};", ";"),
            Sub::Lit(",\u{a0}", ", "),
            Sub::Re(re(" +"), " "),
            // norm_quote_commas: nothing for "ro"; norm_numbers: OTHER
            Sub::Re(re(&format!("([{digit}])\u{a0}([{digit}])")), "${1}.${2}"),
        ]
    })
}

/// `MosesPunctNormalizer.remove_control_chars` (remove-non-printing-char.perl): drops `\p{C}`.
pub fn remove_control_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| !in_table(REGEX_OTHER, c))
        .collect()
}

/// `MosesPunctNormalizer(lang="ro", pre_replace_unicode_punct=True,
/// post_remove_control_chars=True).normalize(text)`: replace-unicode-punctuation,
/// normalize-punctuation -l ro, remove-non-printing-char, then `strip()`.
pub fn normalize_punctuation_ro(text: &str) -> String {
    let mut s = replace_unicode_punct(text);
    for sub in normalize_subs() {
        s = sub.apply(&s);
    }
    let s = remove_control_chars(&s);
    pyunicode::strip(&s).to_string()
}

// ---------------------------------------------------------------------------------------------
// WMT16 Romanian scripts
// ---------------------------------------------------------------------------------------------

/// WMT16 `normalise-romanian.py`: s/t with cedilla (ş ţ Ş Ţ) -> with comma below (ș ț Ș Ț).
pub fn normalise_romanian(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{15e}' => '\u{218}',
            '\u{15f}' => '\u{219}',
            '\u{162}' => '\u{21a}',
            '\u{163}' => '\u{21b}',
            c => c,
        })
        .collect()
}

/// WMT16 `remove-diacritics.py`: ș Ș ț Ț ă Ă â Â î Î -> s S t T a A a A i I
/// (cedilla forms are expected to be normalised first).
pub fn remove_diacritics(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{218}' => 'S',
            '\u{219}' => 's',
            '\u{21a}' => 'T',
            '\u{21b}' => 't',
            '\u{102}' => 'A',
            '\u{103}' => 'a',
            '\u{c2}' => 'A',
            '\u{e2}' => 'a',
            '\u{ce}' => 'I',
            '\u{ee}' => 'i',
            c => c,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tokenizer.perl -no-escape -l ro (MosesTokenizer(lang="ro").tokenize(escape=False))
// ---------------------------------------------------------------------------------------------

struct Prefixes {
    nonbreaking: HashSet<String>,
    numeric_only: HashSet<String>,
}

/// `MosesTokenizer.__init__`: NONBREAKING_PREFIXES (via `NonbreakingPrefixes.words`) and
/// NUMERIC_ONLY_PREFIXES (entries carrying `#NUMERIC_ONLY#`).
fn prefixes() -> &'static Prefixes {
    static P: OnceLock<Prefixes> = OnceLock::new();
    P.get_or_init(|| {
        let mut nonbreaking = HashSet::new();
        let mut numeric_only = HashSet::new();
        for line in NONBREAKING_PREFIX_RO.lines() {
            let line = pyunicode::strip(line);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            nonbreaking.insert(line.to_string());
            // has_numeric_only: r"\s\#NUMERIC_ONLY\#"; then w.rpartition(" ")[0]
            let has_marker = line.match_indices("#NUMERIC_ONLY#").any(|(i, _)| {
                line[..i]
                    .chars()
                    .next_back()
                    .is_some_and(pyunicode::is_space)
            });
            if has_marker {
                let head = line.rsplit_once(' ').map(|(h, _)| h).unwrap_or("");
                numeric_only.insert(head.to_string());
            }
        }
        Prefixes {
            nonbreaking,
            numeric_only,
        }
    })
}

struct TokRegexes {
    multidot: Regex,
    comma_1: Regex,
    comma_2: Regex,
    comma_3: Regex,
    trailing_dot_apostrophe: Regex,
    multidot_marker: Regex,
}

fn tok_regexes() -> &'static TokRegexes {
    static R: OnceLock<TokRegexes> = OnceLock::new();
    R.get_or_init(|| {
        let is_n = class_body(MOSES_IS_N);
        TokRegexes {
            multidot: re(r"\.{2,}"),
            comma_1: re(&format!("([^{is_n}])[,]")),
            comma_2: re(&format!("[,]([^{is_n}])")),
            comma_3: re(&format!("([{is_n}])[,]$")),
            trailing_dot_apostrophe: re(r"\.' ?$"),
            multidot_marker: re("(?:DOT)+MULTI"),
        }
    })
}

/// `DEDUPLICATE_SPACE`: `re.sub(r"\s+", " ", text)` with Python's `\s`.
fn deduplicate_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if pyunicode::is_space(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// `handles_nonbreaking_prefixes`.
fn handle_nonbreaking_prefixes(text: &str) -> String {
    let p = prefixes();
    let mut tokens: Vec<String> = pyunicode::split(text).map(str::to_string).collect();
    let n = tokens.len();
    for i in 0..n {
        // re.search(r"^(\S+)\.$", token)
        let Some(prefix) = tokens[i].strip_suffix('.') else {
            continue;
        };
        if prefix.is_empty() {
            continue;
        }
        let prefix = prefix.to_string();
        let keep = (prefix.contains('.') && prefix.chars().any(|c| in_table(MOSES_ALPHA, c)))
            || (p.nonbreaking.contains(&prefix) && !p.numeric_only.contains(&prefix))
            || (i != n - 1
                && tokens[i + 1]
                    .chars()
                    .next()
                    .is_some_and(|c| in_table(MOSES_LOWER, c)));
        if keep {
            continue;
        }
        let numeric = p.numeric_only.contains(&prefix)
            && i + 1 < n
            && tokens[i + 1].starts_with(|c: char| c.is_ascii_digit());
        if !numeric {
            tokens[i] = format!("{prefix} .");
        }
    }
    tokens.join(" ")
}

/// `MosesTokenizer(lang="ro").tokenize(text, escape=False, return_str=True)`
/// (`aggressive_dash_splits=False`, no protected patterns).
pub fn tokenize_ro(text: &str) -> String {
    let rx = tok_regexes();
    // DEDUPLICATE_SPACE, ASCII_JUNK ([\000-\037]), strip
    let text = deduplicate_space(text);
    let text: String = text.chars().filter(|&c| c as u32 > 0x1f).collect();
    let text = pyunicode::strip(&text);
    // PAD_NOT_ISALNUM
    let mut padded = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if in_table(MOSES_PAD, c) {
            padded.push(' ');
            padded.push(c);
            padded.push(' ');
        } else {
            padded.push(c);
        }
    }
    // replace_multidots: a run of k >= 2 dots -> " " + "DOT" * k + "MULTI" (+ " " unless at end)
    let len = padded.len();
    let text = rx
        .multidot
        .replace_all(&padded, |c: &Captures<'_>| {
            let m = c.get(0).map(|m| (m.len(), m.end())).unwrap_or((0, 0));
            let mut s = String::with_capacity(3 * m.0 + 7);
            s.push(' ');
            s.push_str(&"DOT".repeat(m.0));
            s.push_str("MULTI");
            if m.1 < len {
                s.push(' ');
            }
            s
        })
        .into_owned();
    // COMMA_SEPARATE_1..3
    let text = rx.comma_1.replace_all(&text, "${1} , ").into_owned();
    let text = rx.comma_2.replace_all(&text, " , ${1}").into_owned();
    let text = rx.comma_3.replace_all(&text, "${1} , ").into_owned();
    // NON_SPECIFIC_APOSTROPHE (lang is neither en nor fr/it)
    let text = text.replace('\'', " ' ");
    let text = handle_nonbreaking_prefixes(&text);
    let text = deduplicate_space(&text);
    let text = pyunicode::strip(&text);
    let text = rx
        .trailing_dot_apostrophe
        .replace_all(text, " . ' ")
        .into_owned();
    // restore_multidots: (?:DOT)+MULTI -> "." * ((len - 5) / 3)
    rx.multidot_marker
        .replace_all(&text, |c: &Captures<'_>| {
            let l = c.get(0).map_or(0, |m| m.len());
            ".".repeat(l.saturating_sub(5) / 3)
        })
        .into_owned()
}

/// The whole fairseq mBART en-ro pipeline for one line.
pub fn ro_pipeline(text: &str) -> String {
    let normalized = normalize_punctuation_ro(text);
    let romanian = remove_diacritics(&normalise_romanian(&normalized));
    tokenize_ro(&romanian)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_examples() {
        assert_eq!(
            ro_pipeline("Ştiinţa şi tehnologia sunt importante."),
            "Stiinta si tehnologia sunt importante ."
        );
        assert_eq!(
            ro_pipeline("Dl. Popescu a spus că ţara are nevoie de reforme."),
            "Dl. Popescu a spus ca tara are nevoie de reforme ."
        );
    }

    #[test]
    fn prefix_list_loaded() {
        let p = prefixes();
        assert!(p.nonbreaking.contains("Dl") && p.nonbreaking.contains("șamd"));
        assert!(p.numeric_only.is_empty());
    }
}
