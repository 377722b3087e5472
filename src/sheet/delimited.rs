//! Text lists: CSV (or tab-separated "Unicode text" from Excel) in UTF-8 with or without BOM,
//! UTF-16, Windows-1258, or the Western bytes of a legacy TCVN3/VNI file; the separator (`,` `;`
//! or tab) is detected.

use super::{Budget, Cell, ReadError, Sheet};

/// The bytes as text, if they are text: `None` for binary data.
pub(super) fn decode_text(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Some(String::from_utf8_lossy(rest).into_owned());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let (text, _, _) = encoding_rs::UTF_16LE.decode(bytes); // BOM sniffing picks LE or BE
        return Some(text.into_owned());
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return None;
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_string());
    }
    // Not UTF-8: Windows-1258, unless the bytes are a legacy font's (TCVN3/VNI), which are
    // decoded cell by cell later from their Western (Latin-1) reading.
    let latin1: String = bytes.iter().map(|&b| char::from(b)).collect();
    if legacy_evidence(bytes) > cp1258_evidence(bytes) {
        return Some(latin1);
    }
    let (text, _, _) = encoding_rs::WINDOWS_1258.decode(bytes);
    Some(text.into_owned())
}

/// Windows-1258 writes tones as combining bytes after a vowel.
fn cp1258_evidence(bytes: &[u8]) -> usize {
    const VOWELS: &[u8] = b"aeiouyAEIOUY\xE2\xEA\xF4\xF5\xFD\xE3\xC2\xCA\xD4\xD5\xDD\xC3";
    bytes
        .windows(2)
        .filter(|w| VOWELS.contains(&w[0]) && [0xCC, 0xEC, 0xD2, 0xDE, 0xF2].contains(&w[1]))
        .count()
}

/// TCVN3 keeps its commonest letters in 0xA1..=0xBF; VNI writes marks after vowels.
fn legacy_evidence(bytes: &[u8]) -> usize {
    let tcvn3 = bytes
        .iter()
        .filter(|&&b| (0xA1..=0xBF).contains(&b) && !(0xB0..=0xB4).contains(&b))
        .count();
    let vni = bytes
        .split(|&b| b == b'\n')
        .map(|line| {
            let text: String = line.iter().map(|&b| char::from(b)).collect();
            crate::legacy::detect(&text)
                .filter(|l| *l == crate::legacy::Legacy::Vni)
                .map_or(0, |_| 1)
        })
        .sum::<usize>();
    tcvn3 + vni
}

/// The separator used in the first lines, outside quotes.
fn delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(30) {
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => counts[0] += 1,
                ';' if !quoted => counts[1] += 1,
                '\t' if !quoted => counts[2] += 1,
                _ => {}
            }
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// True when text (with no telling extension) is a table: several lines split into at least
/// three fields by the same separator.
pub(super) fn looks_delimited(text: &str) -> bool {
    let d = char::from(delimiter(text));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(10)
        .collect();
    let tabular = lines.iter().filter(|l| l.matches(d).count() >= 2).count();
    tabular >= 2 && tabular * 2 >= lines.len()
}

/// A CSV file's text, decoded as [`decode_text`] does, with its separator: the one an Excel
/// `sep=;` first line names, else the one detected.
#[derive(Debug)]
pub struct Table {
    text: String,
    /// Where the table starts in `text` (after a `sep=` line).
    start: usize,
    delimiter: u8,
}

impl Table {
    /// `None` when the bytes are not text.
    pub fn decode(bytes: &[u8]) -> Option<Table> {
        let text = decode_text(bytes)?;
        let (start, forced) = match text.split_once('\n') {
            Some((first, _)) if first.trim().to_ascii_lowercase().starts_with("sep=") => {
                (first.len() + 1, first.trim().as_bytes().get(4).copied())
            }
            _ => (0, None),
        };
        let delimiter = forced.unwrap_or_else(|| delimiter(&text[start..]));
        Some(Table {
            text,
            start,
            delimiter,
        })
    }

    /// The table's text (without a `sep=` line).
    pub fn text(&self) -> &str {
        &self.text[self.start..]
    }

    /// The lines before [`Table::text`] (1 after a `sep=` line): added to a record's line to
    /// name the file's line.
    pub fn lines_before(&self) -> u64 {
        u64::from(self.start > 0)
    }

    /// A reader of its records, header included, of any length.
    pub fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(self.text().as_bytes())
    }
}

/// Reads a CSV attachment as one sheet named after the file, spending `budget` on its cells
/// and text.
pub(super) fn read(filename: &str, bytes: &[u8], budget: &mut Budget) -> Result<Sheet, ReadError> {
    let table = Table::decode(bytes)
        .ok_or_else(|| ReadError::Corrupt("the CSV file is not text".into()))?;
    let text = table.text();
    let mut reader = table.reader();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReadError::Corrupt(e.to_string()))?;
        budget.take_cells(record.len().max(1) as u64)?;
        budget.take_text(record.as_slice().len() as u64)?;
        // The csv crate skips blank lines, but Excel shows each as a row, and problems name
        // rows as Excel does: a record's position is where the previous one ended, so the line
        // breaks it starts with are the blank lines before it.
        if let Some(at) = record.position().map(|p| p.byte() as usize) {
            let bytes = text.as_bytes();
            let mut at = at.min(bytes.len());
            // After "\r\n" the position is at its "\n".
            if at > 0 && bytes[at - 1] == b'\r' && bytes.get(at) == Some(&b'\n') {
                at += 1;
            }
            let blank = bytes[at..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .filter(|b| **b == b'\n')
                .count();
            budget.take_cells(blank as u64)?;
            rows.extend((0..blank).map(|_| Vec::new()));
        }
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
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_is_the_one_used_most_outside_quotes() {
        assert_eq!(delimiter("a;b;\"c,d,e\"\n1;2;3"), b';');
        assert_eq!(delimiter("a,b,c\n1,2,3"), b',');
        assert_eq!(delimiter("a\tb\tc"), b'\t');
    }

    #[test]
    fn windows_1258_text_is_decoded_with_its_combining_tones() {
        // "Nguyễn Văn" in Windows-1258: ê + combining tilde (0xDE), ă = 0xE3.
        let bytes = b"Nguy\xEA\xDEn V\xE3n";
        let text = decode_text(bytes).unwrap();
        assert_eq!(crate::text::clean(&text), "Nguyễn Văn");
    }

    #[test]
    fn a_blank_line_is_a_row_as_excel_shows_it() {
        let s = read(
            "ds.csv",
            b"STT;Ho ten;CCCD\n\n1;\"A\nB\";2\n\n\n3;C;4\n",
            &mut Budget::new(),
        )
        .unwrap();
        let firsts: Vec<String> = s
            .rows
            .iter()
            .map(|r| r.first().map(Cell::display).unwrap_or_default())
            .collect();
        assert_eq!(firsts, ["STT", "", "1", "", "", "3"]);
        let s = read(
            "ds.csv",
            b"STT;Ho ten;CCCD\r\n1;A;2\r\n\r\n3;C;4\r\n",
            &mut Budget::new(),
        )
        .unwrap();
        assert_eq!(s.rows.len(), 4, "{:?}", s.rows);
        assert!(s.rows[2].is_empty());
    }

    #[test]
    fn a_sep_line_names_the_separator() {
        let s = read(
            "ds.csv",
            b"sep=;\nSTT;Ho ten,dem;CCCD\n1;A,B;2\n",
            &mut Budget::new(),
        )
        .unwrap();
        assert_eq!(s.rows[0].len(), 3);
        assert_eq!(s.rows[1][1], Cell::Text("A,B".into()));
    }

    #[test]
    fn a_semicolon_csv_in_windows_1258_has_its_table_found() {
        // "STT;Họ và tên;Số CCCD;Nội dung đề nghị" and a person, as Excel on a Vietnamese
        // Windows writes them: tones as combining bytes after the letter.
        let bytes = b"DANH S\xC1CH \xD0\xCA\xEC NGHI\xF2\r\n\
            STT;Ho\xCC va\xCC t\xEAn;S\xF4\xEC CCCD;N\xF4\xF2i dung \xF0\xEA\xEC nghi\xF2\r\n\
            1;Nguy\xEA\xDEn V\xE3n An;036085001234;C\xE2\xECp m\xF4\xECi\r\n";
        let s = read("ds.csv", bytes, &mut Budget::new()).unwrap();
        let table = super::super::header::find(&s).expect("the header is recognised");
        assert_eq!(table.columns.len(), 4);
        let rows = super::super::header::rows(&s, &table);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            crate::text::clean(&rows[0].cells[1].cell.display()),
            "Nguyễn Văn An"
        );
    }
}
