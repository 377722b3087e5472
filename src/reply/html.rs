//! The HTML alternative of a reply, made from its plain text (one source of wording): paragraphs,
//! indented lines kept indented, upper-case headings ("CÁC LỖI CẦN SỬA:", "MÃ ĐỐI CHIẾU: ...")
//! in bold, the signature set apart.

/// Renders the plain text of a reply as a small, self-contained HTML document.
pub fn from_text(text: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.5\">\n",
    );
    let (main, signature) = match text.split_once("\n--\n") {
        Some((m, s)) => (m, Some(s)),
        None => (text, None),
    };
    for paragraph in main.split("\n\n") {
        let lines: Vec<&str> = paragraph.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str("<p>");
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            out.push_str(&line_html(line));
        }
        out.push_str("</p>\n");
    }
    if let Some(sig) = signature {
        out.push_str("<hr style=\"border: none; border-top: 1px solid #ccc\">\n");
        out.push_str("<p style=\"color: #555; font-size: 12px\">");
        let lines: Vec<String> = sig.lines().map(escape).collect();
        out.push_str(&lines.join("<br>\n"));
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn line_html(line: &str) -> String {
    let indent = line.chars().take_while(|c| *c == ' ').count();
    let body = line.trim_start();
    let mut html = match body.split_once(':') {
        Some((head, rest)) if is_heading(head) => {
            format!("<b>{}:</b>{}", escape(head), escape(rest))
        }
        _ => escape(body),
    };
    if body.starts_with('→') {
        html = format!("<span style=\"color: #9c0006\">{html}</span>");
    }
    if indent > 0 {
        format!(
            "<span style=\"display: inline-block; padding-left: {}em\">{html}</span>",
            indent / 2 + 1
        )
    } else {
        html
    }
}

/// An upper-case label of at least two letters ("LƯU Ý (không bắt buộc sửa...)" counts by its
/// first word).
fn is_heading(head: &str) -> bool {
    let first = head.split(" (").next().unwrap_or(head);
    let letters: Vec<char> = first.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2 && letters.iter().all(|c| !c.is_lowercase())
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
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
