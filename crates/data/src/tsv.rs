//! Tab-separated text read as the GLUE readers read it: quoting OFF (Python's
//! `csv.QUOTE_NONE`), so a stray `"` is an ordinary character and never joins lines. Rows end at
//! `\n` (a trailing `\r` is dropped); blank lines are skipped, as `csv.DictReader` skips them.

/// One data row: its 1-based line number in the file and its fields.
pub(crate) struct Row<'a> {
    pub line: usize,
    pub fields: Vec<&'a str>,
}

/// Splits `text` into an optional header and data rows.
pub(crate) fn parse(text: &str, has_header: bool) -> (Option<Vec<&str>>, Vec<Row<'_>>) {
    let mut header = None;
    let mut rows = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if has_header && header.is_none() {
            header = Some(fields);
        } else {
            rows.push(Row {
                line: i + 1,
                fields,
            });
        }
    }
    (header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_plain_characters() {
        let (h, rows) = parse("a\tb\r\n\"x\ty\n\nz\t\"w\n", true);
        assert_eq!(h.unwrap(), vec!["a", "b"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].fields, vec!["\"x", "y"]);
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].fields, vec!["z", "\"w"]);
    }
}
