//! sacreBLEU's default `13a` tokenizer (mteval-v13a), exactly as
//! `sacrebleu/tokenizers/tokenizer_13a.py::Tokenizer13a.__call__` followed by
//! `tokenizer_re.py::TokenizerRegexp.__call__` (sacrebleu 2.6.0).

use std::sync::OnceLock;

use regex::Regex;

use crate::pyunicode;

/// The three regexes of `TokenizerRegexp` after the first (which is a single-character class
/// and is done by hand in [`pad_symbols`]).
fn regexes() -> &'static [(Regex, &'static str); 3] {
    static RE: OnceLock<[(Regex, &'static str); 3]> = OnceLock::new();
    RE.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("static 13a regex");
        [
            // tokenize period and comma unless preceded by a digit
            (re(r"([^0-9])([\.,])"), "${1} ${2} "),
            // tokenize period and comma unless followed by a digit
            (re(r"([\.,])([^0-9])"), " ${1} ${2}"),
            // tokenize dash when preceded by a digit
            (re(r"([0-9])(-)"), "${1} ${2} "),
        ]
    })
}

/// `([\{-\~\[-\` -\&\(-\+\:-\@\/])` -> `" \1 "`: the ASCII symbols `{|}~ [\]^_` ` space
/// `!"#$%&` `()*+` `:;<=>?@` and `/`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

fn pad_symbols(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    for c in line.chars() {
        if is_13a_symbol(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// `TokenizerRegexp()(line)`: the language-dependent part and whitespace normalisation.
pub fn tokenize_re(line: &str) -> String {
    let mut s = pad_symbols(line);
    for (re, rep) in regexes() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    pyunicode::squeeze(&s)
}

/// `Tokenizer13a()(line)`.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    tokenize_re(&format!(" {line} "))
}

#[cfg(test)]
mod tests {
    use super::tokenize_13a;

    #[test]
    fn examples() {
        assert_eq!(
            tokenize_13a("Hello, World! It costs $1,000.50 (3-4 days)."),
            "Hello , World ! It costs $ 1,000.50 ( 3 - 4 days ) ."
        );
        assert_eq!(tokenize_13a("a &amp;lt; b"), "a < b");
    }
}
