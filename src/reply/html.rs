//! The HTML alternative of a reply, made from its plain text (one source of wording): paragraphs,
//! indented lines kept indented, upper-case headings ("CÁC LỖI CẦN SỬA:", "MÃ ĐỐI CHIẾU: ...")
//! in bold, the signature set apart.

/// Renders the plain text of a reply as a small, self-contained HTML document. One pass into
/// one string: a reply's text is a few kilobytes and every reply has one.
pub fn from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2 + 512);
    out.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.5\">\n",
    );
    let (main, signature) = match text.split_once("\n--\n") {
        Some((m, s)) => (m, Some(s)),
        None => (text, None),
    };
    for paragraph in main.split("\n\n") {
        let mut lines = paragraph
            .lines()
            .filter(|l| !l.trim().is_empty())
            .peekable();
        if lines.peek().is_none() {
            continue;
        }
        out.push_str("<p>");
        for (i, line) in lines.enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            line_html(&mut out, line);
        }
        out.push_str("</p>\n");
    }
    if let Some(sig) = signature {
        out.push_str("<hr style=\"border: none; border-top: 1px solid #ccc\">\n");
        out.push_str("<p style=\"color: #555; font-size: 12px\">");
        for (i, line) in sig.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            escape(&mut out, line);
        }
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn line_html(out: &mut String, line: &str) {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let body = line.trim_start();
    if indent > 0 {
        out.push_str("<span style=\"display: inline-block; padding-left: ");
        out.push_str(&(indent / 2 + 1).to_string());
        out.push_str("em\">");
    }
    let arrow = body.starts_with('→');
    if arrow {
        out.push_str("<span style=\"color: #9c0006\">");
    }
    match body.split_once(':') {
        Some((head, rest)) if is_heading(head) => {
            out.push_str("<b>");
            escape(out, head);
            out.push_str(":</b>");
            escape(out, rest);
        }
        _ => escape(out, body),
    }
    if arrow {
        out.push_str("</span>");
    }
    if indent > 0 {
        out.push_str("</span>");
    }
}

/// An upper-case label of at least two letters ("LƯU Ý (không bắt buộc sửa...)" counts by its
/// first word).
fn is_heading(head: &str) -> bool {
    let first = head.split(" (").next().unwrap_or(head);
    let mut letters = 0;
    for c in first.chars().filter(|c| c.is_alphabetic()) {
        if c.is_lowercase() {
            return false;
        }
        letters += 1;
    }
    letters >= 2
}

/// Appends `s` with the characters HTML gives a meaning escaped.
fn escape(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&quot;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_are_bold_text_is_escaped_and_the_signature_is_set_apart() {
        let html = from_text(
            "Kính gửi: Trường <A>\n\nCÁC LỖI CẦN SỬA:\n1. dòng 6\n   → sửa\n\nMÃ ĐỐI CHIẾU: AB12\n--\nSở",
        );
        assert!(html.contains("Kính gửi: Trường &lt;A&gt;"), "{html}");
        assert!(html.contains("<b>CÁC LỖI CẦN SỬA:</b>"), "{html}");
        assert!(html.contains("<b>MÃ ĐỐI CHIẾU:</b> AB12"), "{html}");
        assert!(html.contains("padding-left"), "{html}");
        assert!(html.contains("<hr"), "{html}");
    }
}
