//! Builders for test and sample data: request lists as xlsx, mails as RFC 5322 bytes, Maildirs.
//!
//! Everything here is deterministic: the same input gives the same bytes (the xlsx creation date
//! is fixed, MIME boundaries are derived from the message), so generated samples can be committed
//! and compared byte for byte.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook};
use sha2::{Digest, Sha256};

/// MIME content type of an xlsx workbook.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

// ---------------------------------------------------------------------------------------------
// Spreadsheets
// ---------------------------------------------------------------------------------------------

/// A cell to write into a generated list.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
}

impl From<&str> for CellValue {
    /// Text, except that `""` is [`CellValue::Empty`].
    fn from(text: &str) -> Self {
        if text.is_empty() {
            CellValue::Empty
        } else {
            CellValue::Text(text.to_string())
        }
    }
}

impl From<String> for CellValue {
    /// Text, except that `""` is [`CellValue::Empty`].
    fn from(text: String) -> Self {
        if text.is_empty() {
            CellValue::Empty
        } else {
            CellValue::Text(text)
        }
    }
}

impl From<f64> for CellValue {
    fn from(n: f64) -> Self {
        CellValue::Number(n)
    }
}

impl From<NaiveDate> for CellValue {
    fn from(d: NaiveDate) -> Self {
        CellValue::Date(d)
    }
}

/// One sheet of a generated request list.
///
/// Layout: the title rows start at row 1 (one merged row each, across the header width), the
/// header row comes right after them (Excel row `title_rows.len() + 1`), the data rows follow, then
/// one blank row and the footer rows (merged like the title rows).
#[derive(Debug, Clone, Default)]
pub struct ListSheet {
    /// Sheet name; empty for the default ("Sheet1", ...).
    pub name: String,
    /// Lines written above the table, one merged row each (title block), e.g. "SỞ GIÁO DỤC VÀ ĐÀO TẠO".
    pub title_rows: Vec<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<CellValue>>,
    /// Lines written after the table after one blank row (footer, e.g. "Người lập biểu").
    pub footer_rows: Vec<String>,
}

impl ListSheet {
    /// The 0-based row index of the header row (what a reader sees as Excel row `+ 1`).
    pub fn header_row_index(&self) -> u32 {
        self.title_rows.len() as u32
    }
}

/// The canonical column headers, in the order of the template (TEMPLATE.md).
pub fn canonical_headers() -> Vec<String> {
    cts_intake::template::COLUMNS
        .iter()
        .map(|f| f.header().to_string())
        .collect()
}

/// Writes the sheets as an xlsx workbook (rust_xlsxwriter, in memory).
///
/// Dates are real Excel date cells formatted `dd/mm/yyyy`, Text is written as strings (so an ID
/// keeps its leading zero), Number as numbers, Empty is not written. The workbook's creation date
/// is fixed, so the output is byte-for-byte deterministic.
///
/// # Panics
/// On what rust_xlsxwriter refuses (an invalid or duplicate sheet name, a date before 1900, more
/// than 16,384 columns): this is a test helper.
pub fn xlsx(sheets: &[ListSheet]) -> Vec<u8> {
    try_xlsx(sheets).expect("testkit::xlsx: rust_xlsxwriter refused the workbook")
}

fn try_xlsx(sheets: &[ListSheet]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2022, 11, 28)?.and_hms(8, 0, 0)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_author("cts-intake testkit")
            .set_creation_datetime(&created),
    );

    let title = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let date = Format::new()
        .set_num_format("dd/mm/yyyy")
        .set_border(FormatBorder::Thin);
    let footer = Format::new().set_bold().set_align(FormatAlign::Center);

    for sheet in sheets {
        let ws = workbook.add_worksheet();
        if !sheet.name.is_empty() {
            ws.set_name(&sheet.name)?;
        }
        let width = sheet
            .headers
            .len()
            .max(sheet.rows.iter().map(Vec::len).max().unwrap_or(0))
            .max(1);
        let last_col = (width - 1) as u16;

        let mut row: u32 = 0;
        let banner = |ws: &mut rust_xlsxwriter::Worksheet, row: u32, text: &str, fmt: &Format| {
            if last_col == 0 {
                ws.write_string_with_format(row, 0, text, fmt).map(|_| ())
            } else {
                ws.merge_range(row, 0, row, last_col, text, fmt).map(|_| ())
            }
        };
        for line in &sheet.title_rows {
            banner(ws, row, line, &title)?;
            row += 1;
        }
        for (col, h) in sheet.headers.iter().enumerate() {
            ws.write_string_with_format(row, col as u16, h, &header)?;
        }
        row += 1;
        for values in &sheet.rows {
            for (col, value) in values.iter().enumerate() {
                let col = col as u16;
                match value {
                    CellValue::Empty => {}
                    CellValue::Text(t) => {
                        ws.write_string_with_format(row, col, t, &cell)?;
                    }
                    CellValue::Number(n) => {
                        ws.write_number_with_format(row, col, *n, &cell)?;
                    }
                    CellValue::Date(d) => {
                        let x = ExcelDateTime::from_ymd(
                            d.year() as u16,
                            d.month() as u8,
                            d.day() as u8,
                        )?;
                        ws.write_date_with_format(row, col, &x, &date)?;
                    }
                }
            }
            row += 1;
        }
        if !sheet.footer_rows.is_empty() {
            row += 1;
            for line in &sheet.footer_rows {
                banner(ws, row, line, &footer)?;
                row += 1;
            }
        }
        for (col, h) in sheet.headers.iter().enumerate() {
            let chars = h.chars().count() as f64;
            ws.set_column_width(col as u16, (chars * 1.1).clamp(6.0, 30.0))?;
        }
    }
    workbook.save_to_buffer()
}

// ---------------------------------------------------------------------------------------------
// Mails
// ---------------------------------------------------------------------------------------------

/// An attachment of a generated mail.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// An xlsx attachment.
    pub fn xlsx(filename: &str, bytes: Vec<u8>) -> Attachment {
        Attachment {
            filename: filename.to_string(),
            content_type: XLSX_CONTENT_TYPE.to_string(),
            bytes,
        }
    }
}

/// A generated mail.
#[derive(Debug, Clone)]
pub struct MailSpec {
    /// Sender address.
    pub from: String,
    /// Display name, may be Vietnamese ("" for none).
    pub from_name: String,
    pub to: String,
    /// May be Vietnamese.
    pub subject: String,
    pub date: DateTime<FixedOffset>,
    /// Without angle brackets.
    pub message_id: String,
    /// Plain text, may be Vietnamese; line ends are written as CRLF.
    pub body: String,
    pub attachments: Vec<Attachment>,
    /// Extra header lines, e.g. ("Auto-Submitted","auto-replied"), written after MIME-Version.
    pub headers: Vec<(String, String)>,
}

/// Serialises a mail to RFC 5322 bytes with CRLF line endings.
///
/// Headers From/To/Subject/Date/Message-ID/MIME-Version, then the extra headers. Non-ASCII display
/// names, subjects and extra header values are RFC 2047 encoded (`=?UTF-8?B?...?=`, folded). The
/// body is text/plain; charset=utf-8 in base64. With attachments the message is multipart/mixed;
/// each attachment part has `name=` on Content-Type (an encoded word when non-ASCII) and
/// `Content-Disposition: attachment` with the file name RFC 2231 encoded (`filename*=UTF-8''...`,
/// split into `filename*0*`, `filename*1*`... when long) when non-ASCII. Base64 is wrapped at 76
/// columns. The MIME boundary is derived from the Message-ID, so the output is deterministic.
pub fn eml(spec: &MailSpec) -> Vec<u8> {
    let mut out = String::new();
    // From
    if spec.from_name.is_empty() {
        header_line(&mut out, "From", std::slice::from_ref(&spec.from));
    } else {
        let mut tokens = phrase_tokens(&spec.from_name);
        tokens.push(format!("<{}>", spec.from));
        header_line(&mut out, "From", &tokens);
    }
    header_line(&mut out, "To", std::slice::from_ref(&spec.to));
    header_line(&mut out, "Subject", &unstructured_tokens(&spec.subject));
    header_line(&mut out, "Date", &[spec.date.to_rfc2822()]);
    header_line(&mut out, "Message-ID", &[format!("<{}>", spec.message_id)]);
    header_line(&mut out, "MIME-Version", &["1.0".to_string()]);
    for (name, value) in &spec.headers {
        header_line(&mut out, name, &unstructured_tokens(value));
    }

    let body = crlf(&spec.body);
    if spec.attachments.is_empty() {
        text_part_headers(&mut out);
        out.push_str("\r\n");
        out.push_str(&base64_wrapped(body.as_bytes()));
        return out.into_bytes();
    }

    let boundary = boundary_for(spec);
    out.push_str(&format!(
        "Content-Type: multipart/mixed;\r\n boundary=\"{boundary}\"\r\n"
    ));
    out.push_str("\r\nThis is a multi-part message in MIME format.\r\n");
    out.push_str(&format!("\r\n--{boundary}\r\n"));
    text_part_headers(&mut out);
    out.push_str("\r\n");
    out.push_str(&base64_wrapped(body.as_bytes()));
    for att in &spec.attachments {
        out.push_str(&format!("\r\n--{boundary}\r\n"));
        out.push_str(&format!(
            "Content-Type: {};\r\n name={}\r\n",
            att.content_type,
            name_param_value(&att.filename)
        ));
        out.push_str("Content-Disposition: attachment;");
        for (i, p) in filename_params(&att.filename).iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str("\r\n ");
            out.push_str(p);
        }
        out.push_str("\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        out.push_str(&base64_wrapped(&att.bytes));
    }
    out.push_str(&format!("\r\n--{boundary}--\r\n"));
    out.into_bytes()
}

fn text_part_headers(out: &mut String) {
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("Content-Transfer-Encoding: base64\r\n");
}

fn boundary_for(spec: &MailSpec) -> String {
    let mut h = Sha256::new();
    h.update(spec.message_id.as_bytes());
    h.update([0]);
    h.update(spec.subject.as_bytes());
    let digest = h.finalize();
    let mut b = String::from("=_cts_");
    for byte in &digest[..12] {
        let _ = write!(b, "{byte:02x}");
    }
    b
}

/// Normalises line ends to CRLF.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

/// Writes `Name: tok tok tok`, folding (CRLF SP) between tokens to keep lines near 78 columns.
fn header_line(out: &mut String, name: &str, tokens: &[String]) {
    let mut line_len = name.len() + 1;
    out.push_str(name);
    out.push(':');
    for tok in tokens {
        if line_len + 1 + tok.len() > 78 && line_len > name.len() + 1 && !tok.is_empty() {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(tok);
        line_len += 1 + tok.len();
    }
    out.push_str("\r\n");
}

fn needs_encoding(text: &str) -> bool {
    text.contains("=?") || text.chars().any(|c| !(' '..='~').contains(&c))
}

/// Tokens of an unstructured header value (Subject, extra headers): the words as they are when
/// plain ASCII (folding between them gives the same text back), else RFC 2047 encoded words.
fn unstructured_tokens(text: &str) -> Vec<String> {
    if needs_encoding(text) {
        encoded_words(text)
    } else {
        text.split(' ').map(String::from).collect()
    }
}

/// Tokens of a display name: a quoted string when ASCII, else encoded words.
fn phrase_tokens(name: &str) -> Vec<String> {
    if needs_encoding(name) {
        encoded_words(name)
    } else {
        vec![quoted(name)]
    }
}

fn quoted(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    q.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// RFC 2047 B-encoded words, each at most 75 characters, never splitting a UTF-8 character.
fn encoded_words(text: &str) -> Vec<String> {
    const MAX_BYTES: usize = 39; // 52 base64 characters + "=?UTF-8?B?" + "?=" = 64
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let next = i + c.len_utf8();
        if next - start > MAX_BYTES {
            words.push(format!(
                "=?UTF-8?B?{}?=",
                base64(&text.as_bytes()[start..end])
            ));
            start = end;
        }
        end = next;
    }
    if end > start || words.is_empty() {
        words.push(format!(
            "=?UTF-8?B?{}?=",
            base64(&text.as_bytes()[start..end])
        ));
    }
    words
}

/// The value of the Content-Type `name=` parameter: quoted, encoded words when non-ASCII.
fn name_param_value(filename: &str) -> String {
    if needs_encoding(filename) {
        format!("\"{}\"", encoded_words(filename).join("\r\n "))
    } else {
        quoted(filename)
    }
}

/// The Content-Disposition file name parameters: `filename="..."` when ASCII, else RFC 2231
/// (`filename*=UTF-8''%..`), split into numbered continuations when long.
fn filename_params(filename: &str) -> Vec<String> {
    if !needs_encoding(filename) {
        return vec![format!("filename={}", quoted(filename))];
    }
    let encoded = format!("UTF-8''{}", percent_encode_2231(filename));
    if encoded.len() + "filename*=".len() <= 76 {
        return vec![format!("filename*={encoded}")];
    }
    // Numbered continuations of at most ~60 characters, cut only between characters: RFC 2231
    // joins the octets before decoding, but some readers (mail-parser among them) decode each
    // piece on its own, so a piece must never end inside a UTF-8 sequence.
    let mut pieces = vec![String::from("UTF-8''")];
    let mut buf = [0u8; 4];
    for c in filename.chars() {
        let enc = percent_encode_2231(c.encode_utf8(&mut buf));
        let last = pieces.last_mut().expect("non-empty");
        if last.len() + enc.len() > 60 {
            pieces.push(enc);
        } else {
            last.push_str(&enc);
        }
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| format!("filename*{i}*={p}"))
        .collect()
}

fn percent_encode_2231(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        let plain = b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Base64 in lines of 76 characters, each ended by CRLF.
fn base64_wrapped(bytes: &[u8]) -> String {
    let flat = base64(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76 * 2 + 2);
    for line in flat.as_bytes().chunks(76) {
        // base64 output is ASCII, so any byte split is a char split.
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Maildir
// ---------------------------------------------------------------------------------------------

/// A mail to place in a Maildir.
#[derive(Debug, Clone)]
pub struct MaildirMail {
    /// Delivery time (unix seconds), the first part of the file name.
    pub delivered: i64,
    /// Seen mails go to `cur/` with the `:2,S` suffix, others to `new/`.
    pub seen: bool,
    pub bytes: Vec<u8>,
}

/// The path, relative to the Maildir, where [`write_maildir`] puts the mail at `index` (0-based in
/// the slice; the file name carries `index + 1`): `new/{delivered}.M{n}P1.sample`, or
/// `cur/{delivered}.M{n}P1.sample:2,S` when seen.
pub fn maildir_path(index: usize, mail: &MaildirMail) -> PathBuf {
    let base = format!("{}.M{}P1.sample", mail.delivered, index + 1);
    if mail.seen {
        Path::new("cur").join(format!("{base}:2,S"))
    } else {
        Path::new("new").join(base)
    }
}

/// Writes mails into a Maildir at `dir`, creating `dir/new`, `dir/cur` and `dir/tmp`.
///
/// Each mail goes to the path given by [`maildir_path`] (written in `tmp/` first, then renamed, as
/// a delivery agent does). Existing files of the same name are overwritten; nothing else is touched.
pub fn write_maildir(dir: &Path, mails: &[MaildirMail]) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for (i, mail) in mails.iter().enumerate() {
        let rel = maildir_path(i, mail);
        let file_name = rel.file_name().expect("maildir_path has a file name");
        let tmp = dir.join("tmp").join(file_name);
        std::fs::write(&tmp, &mail.bytes)?;
        std::fs::rename(&tmp, dir.join(&rel))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The sample campaign
// ---------------------------------------------------------------------------------------------

/// The address the campaign's mails are sent to.
pub const SAMPLE_MAILBOX: &str = "cttt@namdinh.edu.vn";

/// One person row of a sample list, in canonical column order.
#[derive(Debug, Clone)]
struct Person {
    name: &'static str,
    birth: (i32, u32, u32),
    id: &'static str,
    issued: (i32, u32, u32),
    position: &'static str,
    email: &'static str,
    phone: &'static str,
    request: &'static str,
    serial: &'static str,
    change: &'static str,
    reason: &'static str,
}

const ISSUE_PLACE: &str = "Cục Cảnh sát QLHC về TTXH";

fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid sample date")
}

impl Person {
    fn row(&self, seq: usize, unit: &str) -> Vec<CellValue> {
        vec![
            CellValue::Number(seq as f64),
            self.name.into(),
            CellValue::Date(ymd(self.birth)),
            self.id.into(),
            CellValue::Date(ymd(self.issued)),
            ISSUE_PLACE.into(),
            self.position.into(),
            unit.into(),
            self.email.into(),
            self.phone.into(),
            self.request.into(),
            self.serial.into(),
            self.change.into(),
            self.reason.into(),
            CellValue::Empty,
        ]
    }
}

const LHP: &str = "Trường THPT chuyên Lê Hồng Phong";
const NK: &str = "Trường THPT Nguyễn Khuyến";
const HHA: &str = "Trường THPT Hải Hậu A";

const HA: Person = Person {
    name: "Trần Thị Thu Hà",
    birth: (1994, 3, 15),
    id: "036194003517",
    issued: (2021, 4, 12),
    position: "Giáo viên",
    email: "",
    phone: "0912 345 678",
    request: "Cấp mới hòm thư công vụ",
    serial: "",
    change: "",
    reason: "",
};
const HUNG: Person = Person {
    name: "Nguyễn Văn Hùng",
    birth: (1975, 8, 22),
    id: "036075001284",
    issued: (2021, 5, 6),
    position: "Phó Hiệu trưởng",
    email: "hungnv.lhp@namdinh.edu.vn",
    phone: "0983 456 123",
    request: "Cấp mới chứng thư số",
    serial: "",
    change: "",
    reason: "",
};
const NGUYET: Person = Person {
    name: "Phạm Thị Minh Nguyệt",
    birth: (1980, 11, 2),
    id: "036180004629",
    issued: (2021, 3, 29),
    position: "Kế toán",
    email: "nguyetptm.lhp@namdinh.edu.vn",
    phone: "0368 221 457",
    request: "Cấp mới CTS",
    serial: "",
    change: "",
    reason: "",
};
const VINH: Person = Person {
    name: "Đỗ Quang Vinh",
    birth: (1970, 5, 30),
    id: "036070002853",
    issued: (2021, 6, 18),
    position: "Hiệu trưởng",
    email: "vinhdq.lhp@namdinh.edu.vn",
    phone: "0904 117 289",
    request: "Cấp lại chứng thư số",
    serial: "540101095C3A2E7F00A1D4B6",
    change: "",
    reason: "Mất thiết bị lưu khoá bí mật (USB Token)",
};
const NHUNG: Person = Person {
    name: "Lê Thị Hồng Nhung",
    birth: (1967, 1, 12),
    id: "036167005172",
    issued: (2021, 4, 2),
    position: "Tổ trưởng chuyên môn",
    email: "nhunglth.lhp@namdinh.edu.vn",
    phone: "0977 864 302",
    request: "Thu hồi chứng thư số",
    serial: "5401010A7D3B91C4E2F60018",
    change: "",
    reason: "Chuyển công tác sang Ban Tuyên giáo Tỉnh ủy",
};
const THANG: Person = Person {
    name: "Vũ Đức Thắng",
    birth: (1978, 9, 9),
    id: "036078006391",
    issued: (2021, 7, 21),
    position: "Phó Hiệu trưởng",
    email: "thangvd.lhp@namdinh.edu.vn",
    phone: "0356 902 114",
    request: "Gia hạn CTS",
    serial: "540101083FA2C7D91B4E05C6",
    change: "",
    reason: "Chứng thư số hết hạn ngày 20/01/2023",
};
const TUAN: Person = Person {
    name: "Hoàng Minh Tuấn",
    birth: (1988, 4, 17),
    id: "036088007416",
    issued: (2021, 9, 8),
    position: "Giáo viên",
    email: "tuanhm.lhp@namdinh.edu.vn",
    phone: "0862 735 190",
    request: "Khôi phục thiết bị lưu khoá bí mật",
    serial: "54010109B7E21D4C8A30F2D5",
    change: "",
    reason: "Quên mã PIN, thiết bị bị khoá",
};

const LAN_ANH: Person = Person {
    name: "Nguyễn Thị Lan Anh",
    birth: (1985, 6, 14),
    id: "036185002047",
    issued: (2021, 5, 25),
    position: "Phó Hiệu trưởng",
    email: "anhntl.nk@namdinh.edu.vn",
    phone: "0396 554 218",
    request: "Cấp mới chứng thư số",
    serial: "",
    change: "",
    reason: "",
};
const BINH: Person = Person {
    name: "Trần Văn Bình",
    birth: (1982, 2, 3),
    id: "036082001235",
    issued: (2021, 8, 16),
    position: "Nhân viên văn thư",
    email: "",
    phone: "0916 332 781",
    request: "Cấp mới hòm thư công vụ",
    serial: "",
    change: "",
    reason: "",
};
const CUONG: Person = Person {
    name: "Phạm Văn Cường",
    birth: (1963, 3, 10),
    id: "036063003768",
    issued: (2021, 4, 20),
    position: "Tổ trưởng chuyên môn",
    email: "cuongpv.nk@namdinh.edu.vn",
    phone: "0945 208 663",
    request: "Thu hồi CTS",
    serial: "540101074E9A2C1D6B83F0A7",
    change: "",
    reason: "Nghỉ hưu theo chế độ từ tháng 01/2023",
};
const HUYEN: Person = Person {
    name: "Đinh Thị Thanh Huyền",
    birth: (1990, 12, 25),
    id: "036190004815",
    issued: (2021, 10, 4),
    position: "Giáo viên",
    email: "huyendtt.nk@namdinh.edu.vn",
    phone: "0707 419 552",
    request: "Gia hạn chứng thư số",
    serial: "540101086C1F3E8A2D7B94E0",
    change: "",
    reason: "",
};

const AN: Person = Person {
    name: "Nguyễn Văn An",
    birth: (1980, 7, 19),
    id: "036080005927",
    issued: (2021, 6, 1),
    position: "Phó Hiệu trưởng",
    email: "annv.hha@namdinh.edu.vn",
    phone: "0903 662 418",
    request: "Cấp mới chứng thư số",
    serial: "",
    change: "",
    reason: "",
};
const HUONG: Person = Person {
    name: "Bùi Thị Hương",
    birth: (1996, 10, 8),
    id: "036196008134",
    issued: (2022, 1, 14),
    position: "Giáo viên",
    email: "",
    phone: "0388 145 907",
    request: "Cấp mới hòm thư công vụ",
    serial: "",
    change: "",
    reason: "",
};

const LIST_TITLE: &str = "DANH SÁCH ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ DỊCH VỤ CHỨNG THƯ SỐ";

fn footer() -> Vec<String> {
    vec![
        "Người lập biểu".to_string(),
        "THỦ TRƯỞNG ĐƠN VỊ (Ký, đóng dấu)".to_string(),
    ]
}

fn list_sheet(sheet_name: &str, school_line: &str, unit: &str, people: &[Person]) -> ListSheet {
    ListSheet {
        name: sheet_name.to_string(),
        title_rows: vec![
            "SỞ GIÁO DỤC VÀ ĐÀO TẠO NAM ĐỊNH".to_string(),
            school_line.to_string(),
            LIST_TITLE.to_string(),
        ],
        headers: canonical_headers(),
        rows: people
            .iter()
            .enumerate()
            .map(|(i, p)| p.row(i + 1, unit))
            .collect(),
        footer_rows: footer(),
    }
}

/// The people of the sample lists, by version, with which rows are invalid (for tests and docs).
fn lhp_v1() -> Vec<Person> {
    vec![HA, HUNG, NGUYET, VINH, NHUNG, THANG]
}

/// Version 2: Nguyệt removed, Tuấn (key recovery) added, Hà's phone changed.
fn lhp_v2() -> Vec<Person> {
    let ha = Person {
        phone: "0915 678 234",
        ..HA
    };
    vec![ha, HUNG, VINH, NHUNG, THANG, TUAN]
}

/// First NK list: rows 2 and 3 are invalid.
fn nk_v1() -> Vec<Person> {
    let binh = Person {
        id: "0360820012", // 10 digits
        phone: "12345",   // not a mobile number
        ..BINH
    };
    let cuong = Person {
        email: "cuongpv1963@gmail.com", // not an official domain
        reason: "",                     // revoke requires a reason
        ..CUONG
    };
    vec![LAN_ANH, binh, cuong, HUYEN]
}

fn nk_v2() -> Vec<Person> {
    vec![LAN_ANH, BINH, CUONG, HUYEN]
}

fn hha_list() -> Vec<Person> {
    vec![AN, HUONG]
}

fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600)
        .expect("+07:00")
        .with_ymd_and_hms(2022, 12, day, h, m, s)
        .single()
        .expect("valid sample time")
}

fn sample_id(n: u32) -> String {
    format!("sample-{n:02}@namdinh.edu.vn")
}

#[allow(clippy::too_many_arguments)]
fn mail(
    n: u32,
    from: &str,
    from_name: &str,
    subject: &str,
    date: DateTime<FixedOffset>,
    body: &str,
    attachments: Vec<Attachment>,
    headers: Vec<(String, String)>,
) -> MailSpec {
    MailSpec {
        from: from.to_string(),
        from_name: from_name.to_string(),
        to: SAMPLE_MAILBOX.to_string(),
        subject: subject.to_string(),
        date,
        message_id: sample_id(n),
        body: body.to_string(),
        attachments,
        headers,
    }
}

/// The sample campaign's mails as specs, in delivery order, with delivery delay (seconds after
/// the Date) and seen flag. Mail 7 (a re-delivery of mail 1) is not a spec: [`sample_mails`]
/// inserts a copy of mail 1's bytes.
fn sample_specs() -> Vec<(MailSpec, i64, bool)> {
    let lhp_body = "Kính gửi: Sở Giáo dục và Đào tạo Nam Định (Phòng Công nghệ thông tin)\n\n\
        Thực hiện Công văn của Sở về việc đăng ký cấp hòm thư công vụ và dịch vụ chứng thư số \
        năm 2022, Trường THPT chuyên Lê Hồng Phong xin gửi danh sách cán bộ, giáo viên đề nghị \
        cấp (file đính kèm).\n\nTrân trọng!\n--\nVăn thư Trường THPT chuyên Lê Hồng Phong\n\
        ĐT: 0228 3640 297\n";
    let m1 = mail(
        1,
        "c3lehongphong@namdinh.edu.vn",
        "Trường THPT chuyên Lê Hồng Phong",
        "Danh sách đề nghị cấp chứng thư số - THPT chuyên Lê Hồng Phong",
        at(1, 8, 30, 0),
        lhp_body,
        vec![Attachment::xlsx(
            "Danh sách CTS - THPT Lê Hồng Phong.xlsx",
            xlsx(&[list_sheet(
                "Danh sách",
                "TRƯỜNG THPT CHUYÊN LÊ HỒNG PHONG",
                LHP,
                &lhp_v1(),
            )]),
        )],
        vec![],
    );

    let m2 = mail(
        2,
        "c3nguyenkhuyen@namdinh.edu.vn",
        "THPT Nguyễn Khuyến",
        "V/v gửi danh sách đề nghị CTS",
        at(2, 9, 15, 0),
        "Kính gửi Phòng CNTT - Sở GD&ĐT Nam Định,\n\n\
        Trường THPT Nguyễn Khuyến gửi danh sách đề nghị cấp, thu hồi, gia hạn chứng thư số \
        của nhà trường theo mẫu của Sở.\n\nTrân trọng cảm ơn.\n",
        vec![Attachment::xlsx(
            "DS de nghi CTS - Nguyen Khuyen.xlsx",
            xlsx(&[list_sheet(
                "DS đề nghị",
                "TRƯỜNG THPT NGUYỄN KHUYẾN",
                NK,
                &nk_v1(),
            )]),
        )],
        vec![],
    );

    let m3 = mail(
        3,
        "c3tranquocbao@namdinh.edu.vn",
        "Trường THPT Trần Quốc Bảo",
        "Danh sách đề nghị cấp hòm thư công vụ, chứng thư số",
        at(5, 14, 20, 0),
        "Kính gửi Sở, trường xin gửi danh sách đề nghị cấp hòm thư công vụ và chứng thư số \
        của Trường THPT Trần Quốc Bảo.\n\nTrân trọng.\n",
        vec![],
        vec![],
    );

    let m4 = mail(
        4,
        "c3giaothuy@namdinh.edu.vn",
        "Trường THPT Giao Thủy",
        "Trả lời tự động: V/v đề nghị cấp hòm thư công vụ và chứng thư số năm 2022",
        at(6, 7, 2, 0),
        "Cảm ơn quý vị đã gửi thư. Hiện tôi đang đi công tác đến hết ngày 09/12/2022 và sẽ \
        trả lời ngay khi trở lại.\n\nThis is an automatic reply.\n",
        vec![],
        vec![("Auto-Submitted".to_string(), "auto-replied".to_string())],
    );

    let m5 = mail(
        5,
        "c3nguyenkhuyen@namdinh.edu.vn",
        "THPT Nguyễn Khuyến",
        "Gửi lại danh sách đã sửa - THPT Nguyễn Khuyến",
        at(7, 10, 5, 0),
        "Kính gửi Phòng CNTT,\n\nTrường đã sửa các lỗi theo thư phản hồi của Sở (số CCCD, \
        số điện thoại, email công vụ, lý do thu hồi) và xin gửi lại danh sách đầy đủ.\n\n\
        Trân trọng.\n",
        vec![Attachment::xlsx(
            "DS de nghi CTS - Nguyen Khuyen (da sua).xlsx",
            xlsx(&[list_sheet(
                "DS đề nghị",
                "TRƯỜNG THPT NGUYỄN KHUYẾN",
                NK,
                &nk_v2(),
            )]),
        )],
        vec![],
    );

    let m6 = mail(
        6,
        "vanthu.lhp@namdinh.edu.vn",
        "Văn thư THPT chuyên Lê Hồng Phong",
        "Danh sách đề nghị cấp chứng thư số - THPT chuyên Lê Hồng Phong (cập nhật)",
        at(8, 15, 40, 0),
        "Kính gửi: Sở Giáo dục và Đào tạo Nam Định,\n\n\
        Nhà trường gửi lại danh sách đầy đủ đã cập nhật, thay cho danh sách gửi ngày \
        01/12/2022: bỏ đ/c Phạm Thị Minh Nguyệt, thêm đ/c Hoàng Minh Tuấn (khôi phục thiết bị \
        lưu khoá), sửa số điện thoại của đ/c Trần Thị Thu Hà.\n\nTrân trọng!\n",
        vec![Attachment::xlsx(
            "Danh sách CTS - THPT Lê Hồng Phong (cập nhật).xlsx",
            xlsx(&[list_sheet(
                "Danh sách",
                "TRƯỜNG THPT CHUYÊN LÊ HỒNG PHONG",
                LHP,
                &lhp_v2(),
            )]),
        )],
        vec![],
    );

    // An attachment that is not a workbook: the first 300 bytes of a real xlsx (a truncated zip).
    let mut broken = xlsx(&[list_sheet(
        "Danh sách",
        "TRUNG TÂM GDNN-GDTX THÀNH PHỐ NAM ĐỊNH",
        "Trung tâm GDNN-GDTX thành phố Nam Định",
        &[],
    )]);
    broken.truncate(300);
    let m8 = mail(
        8,
        "ttgdtx.tpnd@namdinh.edu.vn",
        "Trung tâm GDNN-GDTX TP Nam Định",
        "Danh sách đề nghị cấp CTS - TT GDNN-GDTX TP Nam Định",
        at(12, 9, 0, 0),
        "Kính gửi Sở GD&ĐT,\n\nTrung tâm gửi danh sách đề nghị cấp chứng thư số (đính kèm).\n\n\
        Trân trọng.\n",
        vec![Attachment::xlsx("danh sach.xlsx", broken)],
        vec![],
    );

    let mut m9 = mail(
        9,
        "nguyenvana1980@gmail.com",
        "Nguyễn Văn A",
        "Danh sách đề nghị cấp CTS trường THPT Hải Hậu A",
        at(15, 20, 45, 0),
        "Kính gửi Sở,\n\nEm gửi hộ danh sách của Trường THPT Hải Hậu A vì hòm thư công vụ \
        của trường đang bị lỗi không đăng nhập được.\n\nCảm ơn anh chị.\n",
        vec![Attachment::xlsx(
            "DS CTS Hai Hau A.xlsx",
            xlsx(&[list_sheet(
                "Sheet1",
                "TRƯỜNG THPT HẢI HẬU A",
                HHA,
                &hha_list(),
            )]),
        )],
        vec![],
    );
    m9.message_id = "sample-09@mail.gmail.com".to_string();

    vec![
        (m1, 3, false),
        (m2, 4, false),
        (m3, 2, false),
        (m4, 1, false),
        (m5, 5, true),
        (m6, 3, false),
        (m8, 6, false),
        (m9, 2, false),
    ]
}

/// The sample campaign shipped in `samples/maildir`, in delivery order (deterministic: the same
/// bytes every time). Nine mails to [`SAMPLE_MAILBOX`], dated 2022-12-01 .. 2022-12-15 (+07:00):
///
/// 1. THPT-LHP, a clean list (6 valid rows: new_mailbox, new_cert ×2, reissue, revoke, renew).
/// 2. THPT-NK, 4 rows of which 2 are invalid (10-digit ID and phone "12345"; a gmail address
///    and no reason on a revoke).
/// 3. THPT-TQB, no attachment (forgotten).
/// 4. THPT-GT out-of-office auto-reply (`Auto-Submitted: auto-replied`), no attachment.
/// 5. THPT-NK, the corrected list (all 4 rows valid); in `cur/`, seen.
/// 6. THPT-LHP from its second address, a new full version (one row removed, one added, one
///    phone changed).
/// 7. An exact re-delivery of mail 1 (same bytes), delivered after mail 6.
/// 8. TTGDTX-ND, an attachment "danh sach.xlsx" that is a truncated zip.
/// 9. A personal gmail address (not registered) with a valid list for THPT Hải Hậu A.
pub fn sample_mails() -> Vec<MaildirMail> {
    let mut out: Vec<MaildirMail> = sample_specs()
        .into_iter()
        .map(|(spec, delay, seen)| MaildirMail {
            delivered: spec.date.timestamp() + delay,
            seen,
            bytes: eml(&spec),
        })
        .collect();
    // Mail 7: mail 1 delivered again (same bytes), a minute after mail 6.
    let again = MaildirMail {
        delivered: out[5].delivered + 60,
        seen: false,
        bytes: out[0].bytes.clone(),
    };
    out.insert(6, again);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, DataType, Reader, Xlsx, open_workbook_from_rs};
    use mail_parser::{MessageParser, MimeHeaders};
    use std::io::Cursor;

    fn read_range(bytes: Vec<u8>, sheet: &str) -> calamine::Range<Data> {
        let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("an xlsx");
        wb.worksheet_range(sheet).expect("the sheet")
    }

    fn text_at(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
        match range.get_value((row, col)) {
            Some(Data::String(s)) => s.clone(),
            other => panic!("expected text at ({row},{col}), got {other:?}"),
        }
    }

    #[test]
    fn xlsx_reads_back_with_calamine() {
        let sheet = ListSheet {
            name: "Danh sách".into(),
            title_rows: vec!["SỞ GIÁO DỤC VÀ ĐÀO TẠO".into(), "DANH SÁCH ĐỀ NGHỊ".into()],
            headers: canonical_headers(),
            rows: vec![vec![
                CellValue::Number(1.0),
                "Nguyễn Thị Ngọc Ánh".into(),
                CellValue::Date(NaiveDate::from_ymd_opt(1985, 6, 14).unwrap()),
                "036185002047".into(),
                "".into(),
            ]],
            footer_rows: vec!["Người lập biểu".into()],
        };
        assert_eq!(sheet.header_row_index(), 2);
        let bytes = xlsx(std::slice::from_ref(&sheet));
        assert_eq!(bytes, xlsx(std::slice::from_ref(&sheet)), "deterministic");
        let range = read_range(bytes, "Danh sách");

        assert_eq!(text_at(&range, 0, 0), "SỞ GIÁO DỤC VÀ ĐÀO TẠO");
        for (col, h) in canonical_headers().iter().enumerate() {
            assert_eq!(&text_at(&range, 2, col as u32), h);
        }
        assert_eq!(range.get_value((3, 0)), Some(&Data::Float(1.0)));
        assert_eq!(text_at(&range, 3, 1), "Nguyễn Thị Ngọc Ánh");
        let birth = range.get_value((3, 2)).unwrap();
        assert!(birth.is_datetime(), "{birth:?}");
        assert_eq!(birth.as_date(), NaiveDate::from_ymd_opt(1985, 6, 14));
        assert_eq!(text_at(&range, 3, 3), "036185002047");
        assert!(matches!(range.get_value((3, 4)), None | Some(Data::Empty)));
        // One blank row, then the footer.
        assert!(matches!(range.get_value((4, 1)), None | Some(Data::Empty)));
        assert_eq!(text_at(&range, 5, 0), "Người lập biểu");
    }

    fn spec_with(filename: &str, bytes: Vec<u8>) -> MailSpec {
        MailSpec {
            from: "c3lehongphong@namdinh.edu.vn".into(),
            from_name: "Trường THPT chuyên Lê Hồng Phong".into(),
            to: SAMPLE_MAILBOX.into(),
            subject:
                "Danh sách đề nghị cấp chứng thư số - THPT chuyên Lê Hồng Phong (đợt 1 năm 2022)"
                    .into(),
            date: at(1, 8, 30, 0),
            message_id: "abc.123@namdinh.edu.vn".into(),
            body: "Kính gửi Sở,\nTrường gửi danh sách đính kèm.\n".into(),
            attachments: vec![Attachment::xlsx(filename, bytes)],
            headers: vec![("X-Ghi-Chu".into(), "Thư thử nghiệm".into())],
        }
    }

    #[test]
    fn eml_parses_back_with_mail_parser() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        for filename in [
            "Danh sách CTS - THPT Lê Hồng Phong.xlsx",
            "Danh sách đề nghị cấp hòm thư công vụ và chứng thư số năm 2022 - Trường THPT chuyên Lê Hồng Phong.xlsx",
            "danh sach.xlsx",
        ] {
            let spec = spec_with(filename, payload.clone());
            let raw = eml(&spec);
            let text = std::str::from_utf8(&raw).expect("ASCII output");
            assert!(text.is_ascii());
            for line in text.split("\r\n") {
                assert!(!line.contains('\n') && !line.contains('\r'));
                assert!(line.len() <= 80, "long line: {line}");
            }
            let msg = MessageParser::default().parse(&raw).expect("parsed");
            assert_eq!(msg.subject(), Some(spec.subject.as_str()));
            let from = msg.from().and_then(|a| a.first()).expect("from");
            assert_eq!(from.address(), Some("c3lehongphong@namdinh.edu.vn"));
            assert_eq!(from.name(), Some("Trường THPT chuyên Lê Hồng Phong"));
            assert_eq!(msg.message_id(), Some("abc.123@namdinh.edu.vn"));
            // mail-parser leaves unknown headers raw unless told to read them as text.
            let typed = MessageParser::default()
                .header_text("X-Ghi-Chu")
                .parse(&raw)
                .expect("parsed");
            assert_eq!(
                typed.header("X-Ghi-Chu").and_then(|h| h.as_text()),
                Some("Thư thử nghiệm")
            );
            assert_eq!(
                msg.date().map(|d| d.to_timestamp()),
                Some(spec.date.timestamp())
            );
            let body = msg.body_text(0).expect("body");
            assert!(body.contains("Trường gửi danh sách"), "{body}");
            let atts: Vec<_> = msg.attachments().collect();
            assert_eq!(atts.len(), 1);
            assert_eq!(atts[0].attachment_name(), Some(filename));
            assert_eq!(atts[0].contents(), payload.as_slice());
            let ct = atts[0].content_type().expect("content type");
            assert_eq!(ct.c_type, "application");
            assert_eq!(
                ct.attribute("name"),
                Some(filename),
                "name= on Content-Type"
            );
        }
    }

    #[test]
    fn eml_without_attachment_and_ascii_headers() {
        let spec = MailSpec {
            from: "a@example.org".into(),
            from_name: "".into(),
            to: SAMPLE_MAILBOX.into(),
            subject: "Plain subject".into(),
            date: at(3, 10, 0, 0),
            message_id: "x@y".into(),
            body: "Xin chào".into(),
            attachments: vec![],
            headers: vec![("Auto-Submitted".into(), "auto-replied".into())],
        };
        let raw = eml(&spec);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("Plain subject"));
        assert_eq!(
            msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("a@example.org")
        );
        assert_eq!(msg.body_text(0).as_deref(), Some("Xin chào"));
        assert_eq!(msg.attachments().count(), 0);
        assert_eq!(
            msg.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let wrapped = base64_wrapped(&[0u8; 100]);
        assert!(wrapped.split("\r\n").all(|l| l.len() <= 76));
    }

    #[test]
    fn sample_mails_are_deterministic_and_fill_a_maildir() {
        let a = sample_mails();
        let b = sample_mails();
        assert_eq!(a.len(), 9);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.bytes, y.bytes);
            assert_eq!(x.delivered, y.delivered);
            assert_eq!(x.seen, y.seen);
        }
        // Delivery order, mail 7 = mail 1's bytes, only mail 5 seen.
        assert!(a.windows(2).all(|w| w[0].delivered < w[1].delivered));
        assert_eq!(a[6].bytes, a[0].bytes);
        let seen: Vec<usize> = (0..9).filter(|&i| a[i].seen).collect();
        assert_eq!(seen, vec![4]);

        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("cur").join("keep.me");
        std::fs::create_dir_all(other.parent().unwrap()).unwrap();
        std::fs::write(&other, b"x").unwrap();
        write_maildir(dir.path(), &a).unwrap();
        write_maildir(dir.path(), &a).unwrap(); // overwrites, same names
        let count = |sub: &str| std::fs::read_dir(dir.path().join(sub)).unwrap().count();
        assert_eq!(count("new"), 8);
        assert_eq!(count("cur"), 2); // mail 5 + the untouched file
        assert_eq!(count("tmp"), 0);
        assert!(other.exists());
        for (i, m) in a.iter().enumerate() {
            assert_eq!(
                std::fs::read(dir.path().join(maildir_path(i, m))).unwrap(),
                m.bytes
            );
        }

        let parser = MessageParser::default();
        let parsed: Vec<_> = a.iter().map(|m| parser.parse(&m.bytes).unwrap()).collect();
        let lo = at(1, 0, 0, 0).timestamp();
        let hi = at(16, 23, 59, 59).timestamp();
        for (m, p) in a.iter().zip(&parsed) {
            let date = p.date().unwrap().to_timestamp();
            assert!((lo..=hi).contains(&date));
            assert!(m.delivered > date && m.delivered - date < 3600 * 24 * 8);
            assert_eq!(
                p.to().and_then(|t| t.first()).and_then(|a| a.address()),
                Some(SAMPLE_MAILBOX)
            );
        }
        assert_eq!(parsed[2].attachments().count(), 0);
        assert_eq!(parsed[3].attachments().count(), 0);
        assert!(parsed[3].header_raw("Auto-Submitted").is_some());
        assert_eq!(
            parsed[5]
                .from()
                .and_then(|f| f.first())
                .and_then(|a| a.address()),
            Some("vanthu.lhp@namdinh.edu.vn")
        );
        // Mail 8's attachment is not a readable workbook.
        let broken = parsed[7].attachments().next().unwrap();
        assert_eq!(broken.attachment_name(), Some("danh sach.xlsx"));
        assert!(
            open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(broken.contents().to_vec())).is_err()
        );
        // Mail 1's list reads back: header row 4 (index 3), six rows, footer after a blank row.
        let att = parsed[0].attachments().next().unwrap();
        assert_eq!(
            att.attachment_name(),
            Some("Danh sách CTS - THPT Lê Hồng Phong.xlsx")
        );
        let range = read_range(att.contents().to_vec(), "Danh sách");
        assert_eq!(text_at(&range, 3, 1), "Họ và tên");
        assert_eq!(text_at(&range, 4, 1), "Trần Thị Thu Hà");
        assert_eq!(text_at(&range, 9, 1), "Vũ Đức Thắng");
        assert_eq!(text_at(&range, 11, 0), "Người lập biểu");
    }

    // ----- The sample rows obey TEMPLATE.md (a small, independent re-statement of its rules) -----

    fn digits(s: &str) -> String {
        s.chars().filter(|c| !" .-()".contains(*c)).collect()
    }

    fn phone_ok(p: &str) -> bool {
        let d = digits(p);
        let b = d.as_bytes();
        d.len() == 10
            && d.bytes().all(|c| c.is_ascii_digit())
            && b[0] == b'0'
            && match (b[1], b[2]) {
                (b'3', c) => (b'2'..=b'9').contains(&c),
                (b'5', c) => b"25689".contains(&c),
                (b'7', c) => b"06789".contains(&c),
                (b'8', c) => (b'1'..=b'9').contains(&c),
                (b'9', _) => true,
                _ => false,
            }
    }

    fn id_ok(id: &str, birth_year: i32) -> bool {
        let b = id.as_bytes();
        id.len() == 12
            && id.bytes().all(|c| c.is_ascii_digit())
            && b[0] == b'0'
            && (b'0'..=b'3').contains(&b[3])
            && {
                let century = if b[3] <= b'1' { 1900 } else { 2000 };
                century + id[4..6].parse::<i32>().unwrap() == birth_year
            }
    }

    fn serial_ok(s: &str) -> bool {
        (16..=40).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit())
    }

    /// The problems of one row, by field name.
    fn problems(p: &Person) -> Vec<&'static str> {
        let kind = cts_intake::text::fold(p.request);
        let kind = match kind.as_str() {
            "cap moi hom thu cong vu" => "new_mailbox",
            "cap moi chung thu so" | "cap moi cts" => "new_cert",
            "cap lai chung thu so" => "reissue",
            "khoi phuc thiet bi luu khoa bi mat" => "key_recovery",
            "thu hoi chung thu so" | "thu hoi cts" => "revoke",
            "gia han chung thu so" | "gia han cts" => "renew",
            other => panic!("unexpected request type in samples: {other}"),
        };
        let mut out = vec![];
        if p.name.split(' ').count() < 2 {
            out.push("full_name");
        }
        let age = 2022 - p.birth.0;
        if !(25..=60).contains(&age) {
            out.push("birth_date");
        }
        if !id_ok(p.id, p.birth.0) || !p.id.starts_with("036") {
            out.push("id_number");
        }
        if kind == "new_mailbox" {
            if !p.email.is_empty() {
                out.push("email(should be empty)");
            }
        } else if !p.email.ends_with("@namdinh.edu.vn") {
            out.push("email");
        }
        if !phone_ok(p.phone) {
            out.push("phone");
        }
        let needs_serial = matches!(kind, "key_recovery" | "revoke" | "renew" | "change");
        if (needs_serial || !p.serial.is_empty()) && !serial_ok(p.serial) {
            out.push("cert_serial");
        }
        if matches!(kind, "reissue" | "key_recovery" | "revoke") && p.reason.is_empty() {
            out.push("reason");
        }
        if matches!(kind, "new_cert" | "reissue") && p.position.is_empty() {
            out.push("position");
        }
        out
    }

    #[test]
    fn sample_rows_are_valid_except_the_planned_errors() {
        for p in lhp_v1()
            .iter()
            .chain(&lhp_v2())
            .chain(&nk_v2())
            .chain(&hha_list())
        {
            assert!(problems(p).is_empty(), "{}: {:?}", p.name, problems(p));
        }
        let nk: Vec<_> = nk_v1().iter().map(problems).collect();
        assert_eq!(
            nk,
            vec![
                vec![],
                vec!["id_number", "phone"],
                vec!["email", "reason"],
                vec![]
            ]
        );
        // IDs are unique across all lists' people.
        let mut ids: Vec<_> = [HA, HUNG, NGUYET, VINH, NHUNG, THANG, TUAN]
            .iter()
            .chain(&nk_v2())
            .chain(&hha_list())
            .map(|p| p.id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 13);
    }
}
