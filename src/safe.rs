//! Spreadsheet safety ("CSV injection"): text from schools that starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return could be taken for a formula by Excel or LibreOffice.
//!
//! - In the workbook every cell is written as a string (`write_string`, never a formula) with the
//!   Text number format, and risky strings also get the quote-prefix attribute, which is what
//!   typing a leading `'` in Excel does: the cell shows `=HYPERLINK(...)` as text, and stays text
//!   when someone edits it.
//! - In the CSVs, which carry no cell types, a risky field is written with a leading `'` (the
//!   usual defence, OWASP "CSV Injection"): Excel shows the text without evaluating it. A field
//!   is risky when it starts with one of those characters, or when a part of it after a `,`,
//!   `;` or tab does (Excel on a Vietnamese Windows splits a line on `;`), and a field holding
//!   any of those separators is quoted, so Excel keeps it whole whichever it splits on.
//!   Programs reading the CSVs see the `'` and should strip it from a field that starts with
//!   `'` followed by a risky character.
//! - In HTML everything is escaped, so nothing needs a prefix.

/// True when a spreadsheet could read `text` as a formula.
pub fn is_risky(text: &str) -> bool {
    matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// The characters a spreadsheet may split a CSV line on: the comma, and the semicolon and tab
/// that Excel uses where the list separator is not a comma (a Vietnamese Windows: `;`).
pub const CSV_SEPARATORS: [char; 3] = [',', ';', '\t'];

/// True when a spreadsheet could read `text`, or a part of it split off at a separator, as a
/// formula (`Xem ghi chú;=cmd|' /C calc'!A0` opened where `;` separates fields).
pub fn is_risky_csv(text: &str) -> bool {
    is_risky(text)
        || text
            .split(CSV_SEPARATORS)
            .skip(1)
            .any(|part| is_risky(part.trim_start_matches(' ')))
}

/// The text as a CSV field: a leading `'` when it, or a part after a separator, is risky;
/// else unchanged. ([`write_csv_record`] quotes a field holding any separator.)
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if is_risky_csv(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// Writes one CSV record, comma-separated, `\n`-terminated, RFC 4180 quoting: a field is
/// quoted when it holds a quote, a line break or any of [`CSV_SEPARATORS`] (so Excel keeps it
/// whole whichever separator it splits on).
pub fn write_csv_record<S: AsRef<str>>(
    out: &mut impl std::io::Write,
    fields: impl IntoIterator<Item = S>,
) -> std::io::Result<()> {
    let mut line = String::new();
    let mut count = 0;
    for (i, f) in fields.into_iter().enumerate() {
        let f = f.as_ref();
        count += 1;
        if i > 0 {
            line.push(',');
        }
        if f.contains(['"', '\r', '\n']) || f.contains(CSV_SEPARATORS) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    if count == 1 && line.is_empty() {
        // A record of one empty field is written as "" (a blank line would be no record).
        line.push_str("\"\"");
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Escapes text for HTML element content and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_gets_a_quote_in_csv_and_nothing_else_does() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        for risky in ["+84912", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_field(risky).starts_with('\''), "{risky:?}");
        }
        for plain in [
            "Nguyễn Văn An",
            "036194003517",
            "",
            "a=b",
            "2022-12-08T08:40:03+00:00",
        ] {
            assert_eq!(csv_field(plain), plain);
        }
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    fn record(fields: &[&str]) -> String {
        let mut out = Vec::new();
        write_csv_record(&mut out, fields.iter().map(|f| csv_field(f))).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_field_holding_a_separator_is_quoted_and_a_formula_after_one_is_defused() {
        assert_eq!(
            record(&["Xem ghi chú;=cmd|' /C calc'!A0", "x"]),
            "\"'Xem ghi chú;=cmd|' /C calc'!A0\",x\n"
        );
        assert_eq!(record(&["a\t+1", "b"]), "\"'a\t+1\",b\n");
        assert_eq!(record(&["a; b", "c"]), "\"a; b\",c\n");
        assert_eq!(record(&["=1+1"]), "'=1+1\n");
        assert_eq!(record(&["Nguyễn \"An\"", ""]), "\"Nguyễn \"\"An\"\"\",\n");
        assert_eq!(record(&["plain", "text"]), "plain,text\n");
        assert_eq!(record(&[""]), "\"\"\n");
    }
}
