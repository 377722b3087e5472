//! Attachment bytes → [`Sheet`]s: the format is sniffed from the bytes (not the name), then read
//! with calamine (xlsx, xls, ods) or the csv crate. [`header`] then finds the table in a sheet.

pub mod header;

use std::io::Cursor;

use calamine::{Data, Reader, SheetVisible, Xls, Xlsx, open_workbook_from_rs};
use chrono::NaiveDate;

/// A cell as the workbook typed it, before any field rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
    /// An Excel error value such as `#REF!`.
    Error(String),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as a school would read it on screen (numbers without `.0`, dates dd/mm/yyyy).
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => number_text(*n),
            Cell::Date(d) => d.format("%d/%m/%Y").to_string(),
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// A number as its integer text when it is integral ("36123456789", never "3.6E+10").
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// One sheet of a workbook, as a grid.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The sheet's name as the school named it.
    pub name: String,
    /// The grid; `rows[i][j]` is the cell at (first_row + i, first_col + j), 0-based.
    pub rows: Vec<Vec<Cell>>,
    /// The 0-based row of `rows[0]` (a used range may start below row 1).
    pub first_row: u32,
    /// The 0-based column of each row's first cell.
    pub first_col: u32,
    /// Hidden in the workbook (such sheets are skipped).
    pub hidden: bool,
}

/// The file formats recognised by their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Ods,
    Csv,
}

/// Why an attachment could not be read as a list, in words the school can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not a spreadsheet at all (image, PDF, Word...).
    #[error("not a spreadsheet ({0})")]
    NotSpreadsheet(String),
    /// A workbook protected by a password.
    #[error("the workbook is password protected")]
    Encrypted,
    /// A spreadsheet that could not be opened.
    #[error("the file is damaged or unreadable: {0}")]
    Corrupt(String),
    /// A workbook with no visible cell.
    #[error("the workbook is empty")]
    Empty,
}

/// Says what the bytes are, whatever the file is called.
pub fn sniff(filename: &str, bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Some(Format::Xls);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let head = &bytes[..bytes.len().min(100)];
        if head
            .windows(46)
            .any(|w| w == b"application/vnd.oasis.opendocument.spreadsheet")
        {
            return Some(Format::Ods);
        }
        return Some(Format::Xlsx);
    }
    let lower = filename.to_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return Some(Format::Csv);
    }
    None
}

/// True when the attachment is meant as a list (by name or bytes), so a failure to read it must
/// be answered; false for logos, signatures and the like.
pub fn is_list_candidate(filename: &str, content_type: &str, bytes: &[u8]) -> bool {
    let lower = filename.to_lowercase();
    sniff(filename, bytes).is_some()
        || [".xlsx", ".xlsm", ".xls", ".ods", ".csv"]
            .iter()
            .any(|e| lower.ends_with(e))
        || content_type.contains("spreadsheet")
        || content_type.contains("excel")
}

/// Reads every sheet of an attachment.
pub fn read(filename: &str, bytes: &[u8]) -> Result<Vec<Sheet>, ReadError> {
    let sheets = match sniff(filename, bytes) {
        Some(Format::Xlsx) => read_calamine::<Xlsx<_>>(bytes)?,
        Some(Format::Xls) => match read_calamine::<Xls<_>>(bytes) {
            // An encrypted xlsx is an OLE file too.
            Err(ReadError::Corrupt(_)) => read_calamine::<Xlsx<_>>(bytes)?,
            other => other?,
        },
        Some(Format::Ods) => read_calamine::<calamine::Ods<_>>(bytes)?,
        Some(Format::Csv) => vec![read_csv(filename, bytes)?],
        None => return Err(ReadError::NotSpreadsheet(describe(filename, bytes))),
    };
    if sheets
        .iter()
        .all(|s| s.rows.iter().all(|r| r.iter().all(Cell::is_empty)))
    {
        return Err(ReadError::Empty);
    }
    Ok(sheets)
}

fn describe(filename: &str, bytes: &[u8]) -> String {
    if bytes.starts_with(b"%PDF") {
        "PDF".into()
    } else if bytes.starts_with(&[0xFF, 0xD8]) || bytes.starts_with(b"\x89PNG") {
        "image".into()
    } else {
        match filename.rsplit_once('.') {
            Some((_, ext)) => format!(".{ext}"),
            None => "unknown format".into(),
        }
    }
}

fn read_calamine<R>(bytes: &[u8]) -> Result<Vec<Sheet>, ReadError>
where
    R: Reader<Cursor<Vec<u8>>>,
    R::Error: std::fmt::Display,
{
    let mut wb: R = open_workbook_from_rs(Cursor::new(bytes.to_vec())).map_err(classify)?;
    let meta: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect();
    let mut sheets = Vec::with_capacity(meta.len());
    for (name, hidden) in meta {
        let range = wb.worksheet_range(&name).map_err(classify)?;
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        let rows = range
            .rows()
            .map(|r| r.iter().map(cell_of).collect())
            .collect();
        sheets.push(Sheet {
            name,
            rows,
            first_row,
            first_col,
            hidden,
        });
    }
    Ok(sheets)
}

fn classify<E: std::fmt::Display>(e: E) -> ReadError {
    let text = e.to_string();
    if text.to_lowercase().contains("password") || text.contains("Encrypt") {
        ReadError::Encrypted
    } else {
        ReadError::Corrupt(text)
    }
}

fn cell_of(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if !dt.is_duration() => Cell::Date(t.date()),
            _ => Cell::Number(dt.as_f64()),
        },
        Data::DateTimeIso(s) => NaiveDate::parse_from_str(&s[..s.len().min(10)], "%Y-%m-%d")
            .map(Cell::Date)
            .unwrap_or_else(|_| Cell::Text(s.clone())),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("{e:?}")),
    }
}

fn read_csv(filename: &str, bytes: &[u8]) -> Result<Sheet, ReadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ReadError::Corrupt("the CSV file is not UTF-8 text".into()))?;
    let first_lines: String = text.lines().take(30).collect();
    let delimiter = if first_lines.matches(';').count() > first_lines.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReadError::Corrupt(e.to_string()))?;
        rows.push(
            record
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(v.to_string())
                    }
                })
                .collect(),
        );
    }
    let name = filename
        .rsplit_once('.')
        .map_or(filename, |(stem, _)| stem)
        .to_string();
    Ok(Sheet {
        name,
        rows,
        first_row: 0,
        first_col: 0,
        hidden: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_sniffed_from_the_bytes_not_the_name() {
        assert_eq!(sniff("a.xls", b"PK\x03\x04rest"), Some(Format::Xlsx));
        assert_eq!(
            sniff("a.xlsx", &[0xD0, 0xCF, 0x11, 0xE0, 0]),
            Some(Format::Xls)
        );
        assert_eq!(sniff("a.csv", b"STT,Ho ten"), Some(Format::Csv));
        assert_eq!(sniff("a.pdf", b"%PDF-1.4"), None);
    }

    #[test]
    fn numbers_keep_their_integer_text() {
        assert_eq!(number_text(36123456789.0), "36123456789");
        assert_eq!(number_text(912345678.0), "912345678");
        assert_eq!(number_text(1.5), "1.5");
    }

    #[test]
    fn a_pdf_is_not_a_spreadsheet_and_garbage_is_corrupt() {
        assert!(matches!(
            read("ds.pdf", b"%PDF-1.4 ..."),
            Err(ReadError::NotSpreadsheet(_))
        ));
        assert!(matches!(
            read("ds.xlsx", b"PK\x03\x04garbage"),
            Err(ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn csv_with_semicolons_and_bom_is_read() {
        let s = read(
            "ds.csv",
            "\u{FEFF}STT;Họ và tên\n1;Nguyễn Văn A\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(s[0].rows[1][1], Cell::Text("Nguyễn Văn A".into()));
    }
}
