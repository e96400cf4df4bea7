//! Python `str` semantics that the references rely on: `str.isspace()` (which is also `re`'s
//! `\s`), `str.split()` with no argument, `str.strip()`/`rstrip()`, and `re`'s `\d`.
//!
//! Python's whitespace set is Unicode White_Space plus U+001C..U+001F, so Rust's
//! `char::is_whitespace`/`str::split_whitespace` are *not* equivalent. The sets come from
//! `unicode_tables.rs`, measured from Python 3.11.7 (Unicode 14.0.0).

use crate::unicode_tables::{PY_DECIMAL, PY_SPACE};

/// Whether `c` lies in one of the sorted inclusive ranges of `table`.
pub(crate) fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The body of a regex character class (`lo-hi` items, no brackets) matching exactly `table`.
pub(crate) fn class_body(table: &[(u32, u32)]) -> String {
    let mut s = String::with_capacity(table.len() * 20);
    for &(lo, hi) in table {
        if lo == hi {
            s.push_str(&format!("\\x{{{lo:X}}}"));
        } else {
            s.push_str(&format!("\\x{{{lo:X}}}-\\x{{{hi:X}}}"));
        }
    }
    s
}

/// Python `str.isspace()` for one character (also `re`'s `\s` on str patterns).
pub fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '\t'..='\r' | '\x1c'..=' ')
    } else {
        in_table(PY_SPACE, c)
    }
}

/// Python `re`'s `\d` on str patterns (Unicode decimal digits, Python's Unicode version).
pub fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_table(PY_DECIMAL, c)
    }
}

/// Python `s.split()`: split on runs of whitespace, dropping empty pieces.
pub fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
}

/// Python `s.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python `s.rstrip()`.
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// Python `" ".join(s.split())`.
pub fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, t) in split(s).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fast_path_agrees_with_table() {
        for b in 0u8..128 {
            let c = b as char;
            assert_eq!(is_space(c), in_table(PY_SPACE, c), "{b:#x}");
            assert_eq!(is_decimal(c), in_table(PY_DECIMAL, c), "{b:#x}");
        }
    }

    #[test]
    fn python_split_semantics() {
        let s = "\x1ca\u{3000}b  c\u{a0}\u{85}d \u{200b}";
        assert_eq!(
            split(s).collect::<Vec<_>>(),
            ["a", "b", "c", "d", "\u{200b}"]
        );
        assert_eq!(strip("\x1f x \x1c"), "x");
        assert_eq!(rstrip(" x \x1c"), " x");
    }
}
