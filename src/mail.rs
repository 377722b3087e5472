//! RawMail bytes → [`ParsedMail`] (mail-parser): who sent it, what it is about, whether it was
//! written by a machine (and must never be answered), and its attachments. A mail that cannot be
//! parsed is a value with `malformed` set, never a panic or an error.

use chrono::{DateTime, FixedOffset};
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};

/// A mail's parts that the pipeline needs.
#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    /// Message-ID without angle brackets; `None` when the mail has none.
    pub message_id: Option<String>,
    /// The From address, lower case.
    pub from: Option<String>,
    /// The From display name.
    pub from_name: Option<String>,
    /// The subject, decoded (empty when missing).
    pub subject: String,
    /// The sender's Date header (informative only: lateness uses the delivery time).
    pub date: Option<DateTime<FixedOffset>>,
    /// The mail's References, for threading our reply after them.
    pub references: Vec<String>,
    /// Why this mail was written by a machine and must not be answered (RFC 3834), if it was.
    pub automatic: Option<String>,
    /// Files attached, nested forwarded mails included.
    pub attachments: Vec<Attachment>,
    /// Why the MIME structure could not be read, when it could not.
    pub malformed: Option<String>,
}

/// One attached file.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The decoded file name ("Danh sách CTS.xlsx"); "" when the part had none.
    pub filename: String,
    /// The declared MIME type, lower case ("application/octet-stream" when missing).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Parses a mail. `own_address` is the department's mailbox: mail from it is never answered.
pub fn parse(bytes: &[u8], own_address: &str) -> ParsedMail {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return ParsedMail {
            malformed: Some("the mail has no readable header or body".into()),
            automatic: None,
            ..Default::default()
        };
    };
    let from_addr = message.from().and_then(|a| a.first());
    let from = from_addr
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty());
    let from_name = from_addr
        .and_then(|a| a.name())
        .map(crate::text::clean)
        .filter(|n| !n.is_empty());
    let mut attachments = Vec::new();
    collect_attachments(&message, &mut attachments, 0);
    let malformed = if message.headers().is_empty() {
        Some("the mail has no header".to_string())
    } else {
        None
    };
    ParsedMail {
        message_id: message
            .message_id()
            .map(|m| m.trim().trim_matches(['<', '>']).to_string())
            .filter(|m| !m.is_empty()),
        automatic: automatic_reason(&message, from.as_deref(), own_address),
        from,
        from_name,
        subject: message
            .subject()
            .map(crate::text::clean)
            .unwrap_or_default(),
        date: message
            .date()
            .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok()),
        references: text_list(message.references()),
        attachments,
        malformed,
    }
}

fn text_list(value: &HeaderValue) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn collect_attachments(message: &Message, out: &mut Vec<Attachment>, depth: usize) {
    for part in message.attachments() {
        if let Some(inner) = part.message() {
            if depth < 3 {
                collect_attachments(inner, out, depth + 1);
            }
            continue;
        }
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string())
            .to_ascii_lowercase();
        out.push(Attachment {
            filename: part
                .attachment_name()
                .map(crate::text::clean)
                .unwrap_or_default(),
            content_type,
            bytes: utf16_body(message, part).unwrap_or_else(|| part.contents().to_vec()),
        });
    }
}

/// The bytes of a text part (text/csv, text/plain, text/html...) as the school's program
/// wrote them, when they are UTF-16 (Excel's "Unicode text", some web exports): mail-parser
/// decodes a text part by its declared charset, and a UTF-16 file labelled without one (or as
/// UTF-8) would come out as replacement characters. Only the transfer encoding is undone here;
/// the reader then decodes the UTF-16 itself.
fn utf16_body(message: &Message, part: &mail_parser::MessagePart) -> Option<Vec<u8>> {
    use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
    if !matches!(
        part.body,
        mail_parser::PartType::Text(_) | mail_parser::PartType::Html(_)
    ) {
        return None;
    }
    let raw = message
        .raw_message()
        .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)?;
    let bytes = match part.encoding {
        mail_parser::Encoding::Base64 => base64_decode(raw)?,
        mail_parser::Encoding::QuotedPrintable => quoted_printable_decode(raw)?,
        mail_parser::Encoding::None => raw.to_vec(),
    };
    (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF")).then_some(bytes)
}

/// RFC 3834 and common practice: the reasons a mail must not be answered automatically.
fn automatic_reason(message: &Message, from: Option<&str>, own_address: &str) -> Option<String> {
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = raw("Auto-Submitted")
        && v != "no"
        && !v.starts_with("no;")
        && !v.starts_with("no ")
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    if let Some(v) = raw("Precedence")
        && ["bulk", "junk", "list"].contains(&v.as_str())
    {
        return Some(format!("Precedence: {v}"));
    }
    if let Some((name, _)) = message
        .headers_raw()
        .find(|(n, _)| n.to_ascii_lowercase().starts_with("list-"))
    {
        return Some(format!("mailing list ({name})"));
    }
    if message.header_raw("X-Auto-Response-Suppress").is_some() {
        return Some("X-Auto-Response-Suppress".into());
    }
    if let Some(v) = raw("Return-Path")
        && (v.is_empty() || v == "<>")
    {
        return Some("empty Return-Path (a bounce)".into());
    }
    if let Some(ct) = message.root_part().content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return Some("delivery or read report (multipart/report)".into());
    }
    // A report part anywhere (some servers wrap their bounces in multipart/mixed).
    if let Some(kind) = message.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        let sub = ct.subtype()?.to_ascii_lowercase();
        (ct.ctype().eq_ignore_ascii_case("message")
            && [
                "delivery-status",
                "disposition-notification",
                "global-delivery-status",
            ]
            .contains(&sub.as_str()))
        .then_some(sub)
    }) {
        return Some(format!("delivery or read report (message/{kind})"));
    }
    // Out-of-office responders that do not set Auto-Submitted (older Exchange, some webmails).
    for name in ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"] {
        if message.header_raw(name).is_some() {
            return Some(format!("auto-reply ({name})"));
        }
    }
    match from {
        None => Some("no From address".into()),
        Some(f) => {
            let local = f.split('@').next().unwrap_or("");
            if f == own_address {
                Some("sent by our own mailbox".into())
            } else if [
                "mailer-daemon",
                "postmaster",
                "no-reply",
                "noreply",
                "donotreply",
                "do-not-reply",
            ]
            .contains(&local)
            {
                Some(format!("machine sender {f}"))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "cttt@namdinh.edu.vn";

    fn mail(headers: &str) -> Vec<u8> {
        format!(
            "From: =?UTF-8?B?VHLGsOG7nW5nIFRIUFQ=?= <C3X@namdinh.edu.vn>\r\nTo: {OWN}\r\nSubject: =?UTF-8?B?RGFuaCBzw6FjaA==?=\r\nMessage-ID: <abc@x>\r\n{headers}\r\nhello\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn headers_are_decoded_and_lower_cased() {
        let m = parse(&mail(""), OWN);
        assert_eq!(m.from.as_deref(), Some("c3x@namdinh.edu.vn"));
        assert_eq!(m.from_name.as_deref(), Some("Trường THPT"));
        assert_eq!(m.subject, "Danh sách");
        assert_eq!(m.message_id.as_deref(), Some("abc@x"));
        assert!(m.automatic.is_none());
        assert!(m.malformed.is_none());
    }

    #[test]
    fn machine_written_mail_is_recognised() {
        for h in [
            "Auto-Submitted: auto-replied\r\n",
            "Auto-Submitted: auto-generated\r\n",
            "Auto-Submitted: Auto-Notified; owner-email=x@y\r\n",
            "Precedence: bulk\r\n",
            "Precedence: junk\r\n",
            "Precedence: List\r\n",
            "List-Id: <x.list>\r\n",
            "List-Unsubscribe: <mailto:u@x>\r\n",
            "List-Post: NO\r\n",
            "X-Auto-Response-Suppress: All\r\n",
            "X-Auto-Response-Suppress: OOF, AutoReply\r\n",
            "X-Autoreply: yes\r\n",
            "Return-Path: <>\r\n",
            "Return-Path: \r\n",
        ] {
            assert!(parse(&mail(h), OWN).automatic.is_some(), "{h}");
        }
        for h in [
            "Auto-Submitted: no\r\n",
            "Auto-Submitted: No; comment\r\n",
            "Precedence: normal\r\n",
            "Return-Path: <c3x@namdinh.edu.vn>\r\n",
        ] {
            assert!(parse(&mail(h), OWN).automatic.is_none(), "{h}");
        }
        let from = |addr: &str| {
            String::from_utf8(mail(""))
                .unwrap()
                .replace("C3X@namdinh.edu.vn", addr)
        };
        for sender in [
            "MAILER-DAEMON@mx.namdinh.edu.vn",
            "postmaster@namdinh.edu.vn",
            "no-reply@gov.vn",
            "noreply@gmail.com",
            "donotreply@x.vn",
            "cttt@namdinh.edu.vn",
            "CTTT@NamDinh.edu.vn",
        ] {
            assert!(
                parse(from(sender).as_bytes(), OWN).automatic.is_some(),
                "{sender}"
            );
        }
        assert!(
            parse(from("reply@x.vn").as_bytes(), OWN)
                .automatic
                .is_none()
        );
        // Delivery and read reports, at the top or wrapped.
        for (outer, inner) in [
            (
                "multipart/report; report-type=delivery-status",
                "message/delivery-status",
            ),
            (
                "multipart/report; report-type=disposition-notification",
                "message/disposition-notification",
            ),
            ("multipart/mixed", "message/delivery-status"),
        ] {
            let m = format!(
                "From: someone@x.vn\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: {outer}; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n--b\r\nContent-Type: {inner}\r\n\r\nReporting-MTA: dns; x\r\n\r\n--b--\r\n"
            );
            assert!(
                parse(m.as_bytes(), OWN).automatic.is_some(),
                "{outer} / {inner}"
            );
        }
        assert!(
            parse(&mail("Auto-Submitted: no\r\n"), OWN)
                .automatic
                .is_none()
        );
        let bounce = String::from_utf8(mail(""))
            .unwrap()
            .replace("C3X@namdinh.edu.vn", "MAILER-DAEMON@mx.namdinh.edu.vn");
        assert!(parse(bounce.as_bytes(), OWN).automatic.is_some());
    }

    #[test]
    fn garbage_is_a_value_not_a_panic() {
        let m = parse(b"", OWN);
        assert!(m.malformed.is_some());
        let m = parse(&[0xff, 0xfe, 0x00, 0x13, 0x10], OWN);
        assert!(m.attachments.is_empty());
    }
}
