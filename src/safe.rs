//! Spreadsheet safety ("CSV injection"): text from schools that starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return could be taken for a formula by Excel or LibreOffice.
//!
//! - In the workbook every cell is written as a string (`write_string`, never a formula) with the
//!   Text number format, and risky strings also get the quote-prefix attribute, which is what
//!   typing a leading `'` in Excel does: the cell shows `=HYPERLINK(...)` as text, and stays text
//!   when someone edits it.
//! - In the CSVs, which carry no cell types, a risky field is written with a leading `'` (the
//!   usual defence, OWASP "CSV Injection"): Excel shows the text without evaluating it. Programs
//!   reading the CSVs see the `'` and should strip it from a field that starts with `'=`, `'+`,
//!   `'-`, `'@`, `'\t` or `'\r`.
//! - In HTML everything is escaped, so nothing needs a prefix.

/// True when a spreadsheet could read `text` as a formula.
pub fn is_risky(text: &str) -> bool {
    matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// The text as a CSV field: a leading `'` when it is risky, else unchanged.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if is_risky(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
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
}
