//! Header values with non-ASCII text (RFC 2047 encoded-words), written so that no encoded-word
//! ends inside a word: "Sở Giáo dục và Đào tạo Nam Định" never reaches a client as "Nam Đị" +
//! "nh". lettre's encoder cuts its encoded-words at a byte count, and clients that do not drop
//! the whitespace between two encoded-words (RFC 2047 §6.2 says they must) then show "Nam Đị nh".
//!
//! Here a value is cut into words at whitespace; plain ASCII words stay plain text; consecutive
//! words that need encoding share one encoded-word while it fits (≤ 75 characters), and when a
//! new encoded-word follows another the space between them goes inside the second one (the
//! whitespace between two encoded-words is not text). Only a single word longer than an
//! encoded-word holds (no Vietnamese word is) is split, at a character boundary.

use base64::Engine;

/// The most bytes of text one encoded-word carries: 45 bytes are 60 base64 characters, and
/// `=?utf-8?b?` + 60 + `?=` is 72 characters, under RFC 2047's 75.
const MAX_WORD_BYTES: usize = 45;

/// Where header lines are folded (RFC 5322 §2.1.1 recommends at most 78 characters).
const LINE: usize = 76;

/// What a value is made of once cut into words.
enum Piece {
    /// Printed as is.
    Plain(String),
    /// Printed as one encoded-word.
    Encoded(String),
}

/// The encoded value of an unstructured header such as `Subject` (`name` is the header's name,
/// for the length of the first line).
pub fn unstructured(name: &str, value: &str) -> String {
    fold(name, tokens(value, false))
}

/// The encoded value of a mailbox header such as `From`: the display name (a phrase: words with
/// RFC 5322 specials are encoded too) then `<address>`.
pub fn mailbox(name: &str, display: &str, address: &str) -> String {
    let mut t = tokens(display, true);
    t.push(format!("<{address}>"));
    fold(name, t)
}

fn plain(word: &str, phrase: bool) -> bool {
    word.len() <= LINE - 2
        && !word.contains("=?")
        && word.bytes().all(|b| b.is_ascii_graphic())
        && !(phrase && word.bytes().any(|b| b"()<>[]:;@\\,.\"".contains(&b)))
}

fn tokens(value: &str, phrase: bool) -> Vec<String> {
    let mut pieces: Vec<Piece> = Vec::new();
    for word in value.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if plain(word, phrase) {
            pieces.push(Piece::Plain(word.to_string()));
            continue;
        }
        match pieces.last_mut() {
            Some(Piece::Encoded(run)) if run.len() + 1 + word.len() <= MAX_WORD_BYTES => {
                run.push(' ');
                run.push_str(word);
            }
            Some(Piece::Encoded(_)) => pieces.push(Piece::Encoded(format!(" {word}"))),
            _ => pieces.push(Piece::Encoded(word.to_string())),
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Plain(w) => out.push(w),
            Piece::Encoded(text) => {
                for chunk in chunks(&text) {
                    out.push(format!("=?utf-8?b?{}?=", b64.encode(chunk)));
                }
            }
        }
    }
    out
}

/// `text` in pieces of at most [`MAX_WORD_BYTES`], cut only at character boundaries.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_WORD_BYTES {
        let mut cut = MAX_WORD_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// Tokens joined by spaces, folded (CRLF + space) before a token that would pass [`LINE`].
fn fold(name: &str, tokens: Vec<String>) -> String {
    let mut s = String::new();
    let mut line = name.len() + 2;
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            if line + 1 + t.len() > LINE {
                s.push_str("\r\n ");
                line = 1;
            } else {
                s.push(' ');
                line += 1;
            }
        }
        s.push_str(t);
        line += t.len();
    }
    s
}

/// A MIME body in base64, lines of 76 characters joined by CRLF, written by lettre's own encoder
/// (`email_encoding`) without lettre's look over the bytes for the shortest encoding: a reply's
/// parts are the cover sheet, workbooks and Vietnamese text, for which base64 is the choice
/// anyway (quoted-printable triples every byte of a letter with a diacritic).
pub fn base64_body(bytes: &[u8]) -> lettre::message::Body {
    let mut out = String::with_capacity(email_encoding::body::base64::encoded_len(bytes.len()));
    email_encoding::body::base64::encode(bytes, &mut out).expect("a String takes any text");
    lettre::message::Body::dangerous_pre_encoded(
        out.into_bytes(),
        lettre::message::header::ContentTransferEncoding::Base64,
    )
}

/// A text part's body: its line ends made CRLF (MIME's canonical form for text), in base64.
pub fn text_body(text: &str) -> lettre::message::Body {
    let mut crlf = Vec::with_capacity(text.len() + text.len() / 16);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', text.as_bytes()) {
        crlf.extend_from_slice(&text.as_bytes()[last..i]);
        if i == 0 || text.as_bytes()[i - 1] != b'\r' {
            crlf.push(b'\r');
        }
        last = i;
    }
    crlf.extend_from_slice(&text.as_bytes()[last..]);
    base64_body(&crlf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoded-words of a header value, decoded one by one.
    fn decoded_words(v: &str) -> Vec<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        v.split_whitespace()
            .filter_map(|t| t.strip_prefix("=?utf-8?b?")?.strip_suffix("?="))
            .map(|b| String::from_utf8(b64.decode(b).unwrap()).unwrap())
            .collect()
    }

    /// How a client that keeps the whitespace between encoded-words shows the value.
    fn naive(v: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        v.split_whitespace()
            .map(|t| {
                match t
                    .strip_prefix("=?utf-8?b?")
                    .and_then(|t| t.strip_suffix("?="))
                {
                    Some(b) => String::from_utf8(b64.decode(b).unwrap()).unwrap(),
                    None => t.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn no_encoded_word_ends_inside_a_word() {
        let name = "Sở Giáo dục và Đào tạo Nam Định";
        let subject = "Re: Danh sách đề nghị cấp chứng thư số - Trường THPT chuyên Lê Hồng \
                       Phong, Thành phố Nam Định (bổ sung lần hai) [Đã tiếp nhận]";
        for (header, v) in [
            ("From", mailbox("From", name, "cttt@namdinh.edu.vn")),
            ("Subject", unstructured("Subject", subject)),
        ] {
            assert!(v.is_ascii(), "{v}");
            for (i, line) in v.split("\r\n").enumerate() {
                let prefix = if i == 0 { header.len() + 2 } else { 0 };
                assert!(prefix + line.len() <= 78, "{line}");
            }
            let original = if header == "From" { name } else { subject };
            let words: Vec<&str> = original.split(' ').collect();
            for w in decoded_words(&v) {
                // Every encoded-word holds whole words of the original (with their spaces).
                assert!(
                    w.trim().split(' ').all(|piece| words.contains(&piece)),
                    "{w:?} in {v}"
                );
            }
            assert!(naive(&v).starts_with(original), "{}", naive(&v));
        }
    }

    #[test]
    fn a_standard_client_reads_the_same_text_back() {
        let name = "Sở Giáo dục và Đào tạo Nam Định";
        let v = mailbox("From", name, "cttt@namdinh.edu.vn");
        let raw = format!(
            "From: {v}\r\nSubject: {}\r\n\r\nx",
            unstructured("Subject", name)
        );
        let m = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some(name));
        assert_eq!(from.address(), Some("cttt@namdinh.edu.vn"));
        assert_eq!(m.subject(), Some(name));
    }

    #[test]
    fn a_long_word_is_split_at_a_character_boundary_and_controls_go() {
        let v = unstructured("Subject", &format!("{}\r\nBcc: x@y", "Đ".repeat(60)));
        assert!(!v.contains("\r\nBcc"), "no header injection: {v}");
        assert_eq!(decoded_words(&v).concat(), "Đ".repeat(60));
        assert!(v.ends_with("Bcc: x@y"));
    }

    #[test]
    fn a_base64_body_is_what_lettre_writes_and_text_gets_crlf() {
        use lettre::message::Body;
        for n in [0, 1, 56, 57, 58, 114, 1000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
            let ours = super::base64_body(&bytes);
            let theirs = Body::new_with_encoding(
                bytes.clone(),
                lettre::message::header::ContentTransferEncoding::Base64,
            )
            .unwrap();
            assert_eq!(ours.into_vec(), theirs.into_vec(), "{n} bytes");
        }
        let text = super::text_body("Kính gửi\nTrường\r\nA\n\n");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(
                text.into_vec()
                    .split(|b| *b == b'\r' || *b == b'\n')
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>(),
            )
            .unwrap();
        assert_eq!(decoded, "Kính gửi\r\nTrường\r\nA\r\n\r\n".as_bytes());
    }
}
