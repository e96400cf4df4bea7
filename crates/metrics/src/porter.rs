//! The Porter stemmer exactly as NLTK implements it in its default `NLTK_EXTENSIONS` mode
//! (`nltk/stem/porter.py`, `PorterStemmer()`, nltk 3.10.4), which is what rouge-score's
//! `use_stemmer=True` runs. Each function below mirrors the method of the same name there;
//! words are handled as sequences of Unicode scalar values, like Python `str` indexing.
//!
//! (crates.io has `nltk-porter` 0.1.0, a young single-release port; we keep our own ~200-line
//! port so that exactness is checked here, against NLTK, on every test run.)

/// `irregular_forms` of `PorterStemmer.__init__` (NLTK_EXTENSIONS), as `(form, stem)` pairs.
const POOL: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

type Word = Vec<char>;

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// `_is_consonant`: a 'y' is a consonant iff the letter before it is not one.
fn is_consonant(word: &[char], i: usize) -> bool {
    if is_vowel(word[i]) {
        return false;
    }
    if word[i] == 'y' {
        let mut negate = false;
        let mut i = i;
        while i > 0 && word[i] == 'y' {
            negate = !negate;
            i -= 1;
        }
        // (word[i] not in vowels) != negate
        return is_vowel(word[i]) == negate;
    }
    true
}

/// `_consonant_flags`: `true` for consonants.
fn consonant_flags(word: &[char]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(word.len());
    for (i, &ch) in word.iter().enumerate() {
        let f = if is_vowel(ch) {
            false
        } else if ch == 'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(f);
    }
    flags
}

/// `_measure`: the number of "vc" in the consonant/vowel sequence.
fn measure(stem: &[char]) -> usize {
    let flags = consonant_flags(stem);
    flags.windows(2).filter(|w| !w[0] && w[1]).count()
}

fn has_positive_measure(stem: &[char]) -> bool {
    measure(stem) > 0
}

/// `_contains_vowel`.
fn contains_vowel(stem: &[char]) -> bool {
    consonant_flags(stem).iter().any(|&c| !c)
}

/// `_ends_double_consonant` (condition *d).
fn ends_double_consonant(word: &[char]) -> bool {
    let n = word.len();
    n >= 2 && word[n - 1] == word[n - 2] && is_consonant(word, n - 1)
}

/// `_ends_cvc` (condition *o), with the NLTK two-letter extension.
fn ends_cvc(word: &[char]) -> bool {
    let n = word.len();
    (n >= 3
        && is_consonant(word, n - 3)
        && !is_consonant(word, n - 2)
        && is_consonant(word, n - 1)
        && !matches!(word[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(word, 0) && is_consonant(word, 1))
}

fn ends_with(word: &[char], suffix: &str) -> bool {
    let s: Vec<char> = suffix.chars().collect();
    word.len() >= s.len() && word[word.len() - s.len()..] == s[..]
}

/// `_replace_suffix` (the caller has checked `ends_with`).
fn replace_suffix(word: &[char], suffix: &str, replacement: &str) -> Word {
    let n = suffix.chars().count();
    let mut out: Word = word[..word.len() - n].to_vec();
    out.extend(replacement.chars());
    out
}

fn join(stem: &[char], replacement: &str) -> Word {
    let mut out = stem.to_vec();
    out.extend(replacement.chars());
    out
}

/// The suffix of a rule: a literal, or `"*d"` (ends in a double consonant).
enum Suffix {
    Lit(&'static str),
    DoubleConsonant,
}

type Cond<'a> = Option<&'a dyn Fn(&[char]) -> bool>;

struct Rule<'a> {
    suffix: Suffix,
    replacement: String,
    condition: Cond<'a>,
}

fn rule<'a>(suffix: &'static str, replacement: &str, condition: Cond<'a>) -> Rule<'a> {
    Rule {
        suffix: Suffix::Lit(suffix),
        replacement: replacement.to_string(),
        condition,
    }
}

/// `_apply_rule_list`: the first rule whose suffix matches decides; if its condition fails
/// the word is returned unchanged.
fn apply_rule_list(word: &[char], rules: &[Rule<'_>]) -> Word {
    for r in rules {
        match r.suffix {
            Suffix::DoubleConsonant => {
                if ends_double_consonant(word) {
                    let stem = &word[..word.len() - 2];
                    return if r.condition.is_none_or(|c| c(stem)) {
                        join(stem, &r.replacement)
                    } else {
                        word.to_vec()
                    };
                }
            }
            Suffix::Lit(suffix) => {
                if ends_with(word, suffix) {
                    let stem = replace_suffix(word, suffix, "");
                    return if r.condition.is_none_or(|c| c(&stem)) {
                        join(&stem, &r.replacement)
                    } else {
                        word.to_vec()
                    };
                }
            }
        }
    }
    word.to_vec()
}

/// `_step1a`.
fn step1a(word: &[char]) -> Word {
    if ends_with(word, "ies") && word.len() == 4 {
        return replace_suffix(word, "ies", "ie");
    }
    apply_rule_list(
        word,
        &[
            rule("sses", "ss", None),
            rule("ies", "i", None),
            rule("ss", "ss", None),
            rule("s", "", None),
        ],
    )
}

/// `_step1b`.
fn step1b(word: &[char]) -> Word {
    if ends_with(word, "ied") {
        return if word.len() == 4 {
            replace_suffix(word, "ied", "ie")
        } else {
            replace_suffix(word, "ied", "i")
        };
    }
    if ends_with(word, "eed") {
        let stem = replace_suffix(word, "eed", "");
        return if measure(&stem) > 0 {
            join(&stem, "ee")
        } else {
            word.to_vec()
        };
    }
    let mut intermediate: Option<Word> = None;
    for suffix in ["ed", "ing"] {
        if ends_with(word, suffix) {
            let stem = replace_suffix(word, suffix, "");
            if contains_vowel(&stem) {
                intermediate = Some(stem);
                break;
            }
        }
    }
    let Some(stem) = intermediate else {
        return word.to_vec();
    };
    // `intermediate_stem` is non-empty: it contains a vowel.
    let last = stem[stem.len() - 1];
    let not_lsz = move |_: &[char]| !matches!(last, 'l' | 's' | 'z');
    let m1_cvc = |s: &[char]| measure(s) == 1 && ends_cvc(s);
    apply_rule_list(
        &stem,
        &[
            rule("at", "ate", None),
            rule("bl", "ble", None),
            rule("iz", "ize", None),
            Rule {
                suffix: Suffix::DoubleConsonant,
                replacement: last.to_string(),
                condition: Some(&not_lsz),
            },
            rule("", "e", Some(&m1_cvc)),
        ],
    )
}

/// `_step1c` with NLTK's condition: y -> i after a consonant, unless the stem is one letter.
fn step1c(word: &[char]) -> Word {
    let cond = |stem: &[char]| stem.len() > 1 && is_consonant(stem, stem.len() - 1);
    apply_rule_list(word, &[rule("y", "i", Some(&cond))])
}

/// `_step2`.
fn step2(word: &[char]) -> Word {
    if ends_with(word, "alli") && has_positive_measure(&replace_suffix(word, "alli", "")) {
        return step2(&replace_suffix(word, "alli", "al"));
    }
    let m0: &dyn Fn(&[char]) -> bool = &has_positive_measure;
    // 'logi' -> 'log' keeps the 'l' with the stem: its condition is on word[:-3].
    let logi_cond = |_: &[char]| word.len() >= 3 && has_positive_measure(&word[..word.len() - 3]);
    let rules = [
        rule("ational", "ate", Some(m0)),
        rule("tional", "tion", Some(m0)),
        rule("enci", "ence", Some(m0)),
        rule("anci", "ance", Some(m0)),
        rule("izer", "ize", Some(m0)),
        rule("bli", "ble", Some(m0)),
        rule("alli", "al", Some(m0)),
        rule("entli", "ent", Some(m0)),
        rule("eli", "e", Some(m0)),
        rule("ousli", "ous", Some(m0)),
        rule("ization", "ize", Some(m0)),
        rule("ation", "ate", Some(m0)),
        rule("ator", "ate", Some(m0)),
        rule("alism", "al", Some(m0)),
        rule("iveness", "ive", Some(m0)),
        rule("fulness", "ful", Some(m0)),
        rule("ousness", "ous", Some(m0)),
        rule("aliti", "al", Some(m0)),
        rule("iviti", "ive", Some(m0)),
        rule("biliti", "ble", Some(m0)),
        rule("fulli", "ful", Some(m0)),
        rule("logi", "log", Some(&logi_cond)),
    ];
    apply_rule_list(word, &rules)
}

/// `_step3`.
fn step3(word: &[char]) -> Word {
    let m0: &dyn Fn(&[char]) -> bool = &has_positive_measure;
    apply_rule_list(
        word,
        &[
            rule("icate", "ic", Some(m0)),
            rule("ative", "", Some(m0)),
            rule("alize", "al", Some(m0)),
            rule("iciti", "ic", Some(m0)),
            rule("ical", "ic", Some(m0)),
            rule("ful", "", Some(m0)),
            rule("ness", "", Some(m0)),
        ],
    )
}

/// `_step4`.
fn step4(word: &[char]) -> Word {
    let m1 = |s: &[char]| measure(s) > 1;
    let m1: &dyn Fn(&[char]) -> bool = &m1;
    let ion = |s: &[char]| measure(s) > 1 && matches!(s.last(), Some('s' | 't'));
    apply_rule_list(
        word,
        &[
            rule("al", "", Some(m1)),
            rule("ance", "", Some(m1)),
            rule("ence", "", Some(m1)),
            rule("er", "", Some(m1)),
            rule("ic", "", Some(m1)),
            rule("able", "", Some(m1)),
            rule("ible", "", Some(m1)),
            rule("ant", "", Some(m1)),
            rule("ement", "", Some(m1)),
            rule("ment", "", Some(m1)),
            rule("ent", "", Some(m1)),
            rule("ion", "", Some(&ion)),
            rule("ou", "", Some(m1)),
            rule("ism", "", Some(m1)),
            rule("ate", "", Some(m1)),
            rule("iti", "", Some(m1)),
            rule("ous", "", Some(m1)),
            rule("ive", "", Some(m1)),
            rule("ize", "", Some(m1)),
        ],
    )
}

/// `_step5a`: both E rules are tried (not `_apply_rule_list`).
fn step5a(word: &[char]) -> Word {
    if ends_with(word, "e") {
        let stem = &word[..word.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    word.to_vec()
}

/// `_step5b`: -ll -> -l when measure(word[:-1]) > 1.
fn step5b(word: &[char]) -> Word {
    let cond = |_: &[char]| measure(&word[..word.len() - 1]) > 1;
    apply_rule_list(word, &[rule("ll", "l", Some(&cond))])
}

/// `PorterStemmer().stem(word)` (NLTK_EXTENSIONS mode, `to_lowercase=True`).
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some(&(_, s)) = POOL.iter().find(|(form, _)| *form == lower) {
        return s.to_string();
    }
    // NLTK tests the length of the word as given, before lowercasing.
    if word.chars().count() <= 2 {
        return lower;
    }
    let w: Word = lower.chars().collect();
    let w = step1a(&w);
    let w = step1b(&w);
    let w = step1c(&w);
    let w = step2(&w);
    let w = step3(&w);
    let w = step4(&w);
    let w = step5a(&w);
    let w = step5b(&w);
    w.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn docstring_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("sky", "sky"),
            ("skies", "sky"),
            ("dying", "die"),
            ("relational", "relat"),
            ("generously", "gener"),
            ("happiness", "happi"),
            ("news", "news"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
