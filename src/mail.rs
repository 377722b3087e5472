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
    /// The Message-IDs the mail's In-Reply-To names (a mail answering one of ours stops a loop).
    pub in_reply_to: Vec<String>,
    /// Why the From header is not exactly one plain address (an obsolete route, several
    /// addresses, a group, none), when it is not: such a sender is unknown, whatever the address
    /// inside reads, and `from` then holds the header's own text for staff.
    pub sender_problem: Option<String>,
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

/// A mail's header: its bytes up to the first empty line (CRLF or bare LF, whichever comes
/// first), the empty line included; all of it when it has none.
pub fn header(bytes: &[u8]) -> &[u8] {
    let crlf = memchr::memmem::find(bytes, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(bytes, b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(bytes.len()),
    };
    &bytes[..end]
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
    let sender_problem = sender_problem(&message);
    let from = match &sender_problem {
        Some(_) => raw_from(&message),
        None => from_addr
            .and_then(|a| a.address())
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty()),
    };
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
        in_reply_to: text_list(message.in_reply_to()),
        sender_problem,
        attachments,
        malformed,
    }
}

/// The longest From text kept for staff when it is not one plain address.
const MAX_RAW_FROM: usize = 200;

/// The From header's own text, unfolded and bounded, for a From that is not one plain address.
fn raw_from(message: &Message) -> Option<String> {
    let raw = message.header_raw("From")?;
    let text: String = crate::text::clean(raw)
        .chars()
        .take(MAX_RAW_FROM)
        .collect::<String>()
        .to_ascii_lowercase();
    (!text.is_empty()).then_some(text)
}

/// Why the From header is not exactly one plain address (RFC 5322 `mailbox`, no obsolete route,
/// no group, one header), if it is not. mail-parser reads `<@evil.example:a@b>` as `a@b`, so the
/// raw header is looked at too.
fn sender_problem(message: &Message) -> Option<String> {
    use mail_parser::Address;
    let headers = message
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case("From"))
        .count();
    if headers == 0 {
        return Some("no From header".into());
    }
    if headers > 1 {
        return Some(format!("{headers} From headers"));
    }
    let one = match message.from() {
        None => return Some("no address in From".into()),
        Some(Address::Group(_)) => return Some("a group in From".into()),
        Some(Address::List(list)) => match list.as_slice() {
            [one] => one,
            [] => return Some("no address in From".into()),
            many => return Some(format!("{} addresses in From", many.len())),
        },
    };
    let Some(address) = one.address().map(str::trim).filter(|a| !a.is_empty()) else {
        return Some("no address in From".into());
    };
    if !plain_address(address) {
        return Some("the From address is not a plain address".into());
    }
    let raw = message.header_raw("From").unwrap_or("");
    if let Some(problem) = raw_from_problem(raw) {
        return Some(problem.into());
    }
    None
}

/// `local@domain` with an unquoted local part of RFC 5322 `atext` and dots, and a domain of
/// letters, digits, hyphens and dots.
fn plain_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    !local.is_empty()
        && local.chars().all(atext)
        && domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// What the raw From text shows that the parsed address hides: an obsolete route
/// (`<@host:addr>`), a second address or a group (`;`, `:` or `,` outside quotes, comments and
/// angle brackets), more than one `@` outside quotes and comments.
fn raw_from_problem(raw: &str) -> Option<&'static str> {
    let (mut quoted, mut escaped, mut comment, mut angle) = (false, false, 0usize, false);
    let mut ats = 0;
    let mut after_angle_open = false;
    for c in raw.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || comment > 0 => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            _ if quoted || comment > 0 => {}
            '<' => {
                if angle {
                    return Some("nested angle brackets in From");
                }
                angle = true;
                after_angle_open = true;
                continue;
            }
            '>' => angle = false,
            '@' if after_angle_open => return Some("an obsolete route in From"),
            ':' if angle => return Some("an obsolete route in From"),
            ':' | ';' => return Some("a group in From"),
            ',' => return Some("several addresses in From"),
            '@' => ats += 1,
            c if c.is_whitespace() => continue,
            _ => {}
        }
        after_angle_open = false;
    }
    (ats > 1).then_some("several addresses in From")
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
        // No From at all is a sender problem (an unknown sender, held for staff), not a machine.
        None => None,
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
    fn the_header_ends_at_the_first_empty_line_of_either_kind() {
        assert_eq!(
            header(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore"),
            b"A: 1\r\nB: 2\r\n\r\n"
        );
        // A header written with bare LF, its body holding a CRLF pair further on.
        assert_eq!(header(b"A: 1\n\nbody\r\n\r\nmore"), b"A: 1\n\n");
        assert_eq!(header(b"A: 1\r\n"), b"A: 1\r\n");
        let raw = mail("");
        let whole = parse(&raw, OWN);
        let head = parse(header(&raw), OWN);
        assert_eq!(
            (head.from, head.subject, head.message_id),
            (whole.from, whole.subject, whole.message_id)
        );
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
    fn a_from_that_is_not_one_plain_address_is_a_sender_problem() {
        let with_from = |from: &str| {
            String::from_utf8(mail("")).unwrap().replace(
                "From: =?UTF-8?B?VHLGsOG7nW5nIFRIUFQ=?= <C3X@namdinh.edu.vn>",
                from,
            )
        };
        for from in [
            "From: <@evil.example:c3x@namdinh.edu.vn>",
            "From: Truong <@evil.example,@b.example:c3x@namdinh.edu.vn>",
            "From: a@x.vn, c3x@namdinh.edu.vn",
            "From: Schools: a@x.vn, c3x@namdinh.edu.vn;",
            "From: undisclosed-recipients:;",
            "From: Nobody",
            "From: c3x@namdinh.edu.vn\r\nFrom: a@x.vn",
            "From: \"a@b\"@namdinh.edu.vn",
            "X-No-From: here",
        ] {
            let m = parse(with_from(from).as_bytes(), OWN);
            assert!(m.sender_problem.is_some(), "{from}: {:?}", m.from);
            assert_ne!(m.from.as_deref(), Some("c3x@namdinh.edu.vn"), "{from}");
            assert_eq!(
                m.automatic, None,
                "{from}: held for staff, not taken for a machine"
            );
        }
        for from in [
            "From: c3x@namdinh.edu.vn",
            "From: <c3x@namdinh.edu.vn>",
            "From: \"Tr\u{1b0}\u{1edd}ng, THPT\" <c3x@namdinh.edu.vn>",
            "From: c3x@namdinh.edu.vn (THPT: a, b; c)",
            "From: =?UTF-8?B?VHLGsOG7nW5nIFRIUFQ=?= <C3X@namdinh.edu.vn>",
        ] {
            let m = parse(with_from(from).as_bytes(), OWN);
            assert_eq!(m.sender_problem, None, "{from}");
            assert_eq!(m.from.as_deref(), Some("c3x@namdinh.edu.vn"), "{from}");
        }
    }

    #[test]
    fn in_reply_to_is_read() {
        let m = parse(
            &mail("In-Reply-To: <cts-intake.abc@namdinh.edu.vn>\r\n"),
            OWN,
        );
        assert_eq!(m.in_reply_to, ["cts-intake.abc@namdinh.edu.vn"]);
    }

    #[test]
    fn garbage_is_a_value_not_a_panic() {
        let m = parse(b"", OWN);
        assert!(m.malformed.is_some());
        let m = parse(&[0xff, 0xfe, 0x00, 0x13, 0x10], OWN);
        assert!(m.attachments.is_empty());
    }
}
