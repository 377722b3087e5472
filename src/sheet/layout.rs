//! What a sheet's file says of its look beyond its cells, for a copy of it written anew (the
//! annotated file sent back to a school): its column widths and merged cells. Read from an
//! xls's COLINFO and MERGEDCELLS records, an ods's column styles and spans, an xlsx's `<col>`s
//! and `<mergeCell>`s, an HTML table's spans and `<col width>`s (an XML Spreadsheet's merges
//! and `<Column ss:Width>`s); a csv says nothing ([`Layout`] is empty). Whatever the bytes,
//! this never fails: what cannot be read is left out.

use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader as XmlReader;
use quick_xml::events::{BytesStart, Event};

use super::{Format, biff, sniff};

/// The most merged ranges kept for one sheet.
pub const MAX_MERGES: usize = 10_000;
/// The most column-width ranges kept for one sheet.
const MAX_WIDTHS: usize = 16_384;
/// The largest column, 0-based (Excel's XFD).
const LAST_COL: u32 = 16_383;
/// The most bytes of an ods's content.xml walked for its layout.
const MAX_CONTENT_BYTES: u64 = 256 * 1024 * 1024;

/// A sheet's column widths and merged cells, in the sheet's coordinates (0-based).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// (first column, last column, width in characters of the default font).
    pub widths: Vec<(u32, u32, f64)>,
    /// Merged ranges: (first row, first column, last row, last column).
    pub merges: Vec<(u32, u32, u32, u32)>,
}

impl Layout {
    /// The width the file gives column `col`, if any.
    pub fn width(&self, col: u32) -> Option<f64> {
        self.widths
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&col))
            .map(|(_, _, w)| *w)
    }

    pub(super) fn push_width(&mut self, first: u32, last: u32, width: f64) {
        if self.widths.len() < MAX_WIDTHS && first <= last && width.is_finite() && width >= 0.0 {
            self.widths
                .push((first, last.min(LAST_COL), width.min(255.0)));
        }
    }

    pub(super) fn push_merge(&mut self, r1: u32, c1: u32, r2: u32, c2: u32) {
        if self.merges.len() < MAX_MERGES && r1 <= r2 && c1 <= c2 && (r1, c1) != (r2, c2) {
            self.merges.push((r1, c1, r2, c2.min(LAST_COL)));
        }
    }
}

/// Each sheet's layout by the sheet's name (no entry for a sheet the file says nothing of).
pub fn layout(filename: &str, bytes: &[u8]) -> HashMap<String, Layout> {
    match sniff(filename, bytes) {
        Some(Format::Xls) => biff::layout(bytes),
        Some(Format::Ods) => ods(bytes),
        Some(Format::Xlsx) => xlsx(bytes),
        Some(Format::Markup) => super::markup::layout(filename, bytes),
        _ => HashMap::new(),
    }
}

fn attr(e: &BytesStart, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let key: &str = a.key.as_ref();
        let name = key.rsplit(':').next().unwrap_or(key);
        (name == local).then(|| a.value.to_string())
    })
}

fn local(e: &BytesStart) -> String {
    AsRef::<str>::as_ref(&e.local_name()).to_string()
}

/// An ODF length ("2.258cm", "0.889in", "64pt") as characters of an Excel default font (7
/// pixels at 96 dpi, plus 5 pixels of padding).
fn ods_chars(length: &str) -> Option<f64> {
    let s = length.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.trim().parse().ok()?;
    let inches = match unit {
        "cm" => n / 2.54,
        "mm" => n / 25.4,
        "in" => n,
        "pt" => n / 72.0,
        "pc" => n / 6.0,
        "px" => n / 96.0,
        _ => return None,
    };
    Some(((inches * 96.0 - 5.0) / 7.0).max(0.0))
}

/// An xlsx's layouts, from each worksheet's `<col>`s and `<mergeCell>`s.
fn xlsx(bytes: &[u8]) -> HashMap<String, Layout> {
    let mut out = HashMap::new();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    for (name, path) in super::ooxml::sheet_parts(&mut zip) {
        let Some(xml) = super::ooxml::part(&mut zip, &path) else {
            continue;
        };
        let mut l = Layout::default();
        let mut reader = XmlReader::from_reader(xml.as_slice());
        let mut buf = Vec::new();
        let n = |e: &BytesStart, k: &str| attr(e, k).and_then(|v| v.trim().parse::<f64>().ok());
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e)) => match local(&e).as_str() {
                    "col" => {
                        if let (Some(min), Some(max)) = (n(&e, "min"), n(&e, "max"))
                            && min >= 1.0
                        {
                            // The width counts the cell's padding (5 pixels of 7).
                            let hidden =
                                attr(&e, "hidden").is_some_and(|h| h == "1" || h == "true");
                            let w = if hidden {
                                0.0
                            } else {
                                n(&e, "width").map_or(8.43, |w| (w - 5.0 / 7.0).max(0.0))
                            };
                            l.push_width(min as u32 - 1, (max as u32).saturating_sub(1), w);
                        }
                    }
                    "mergeCell" => {
                        if let Some((r1, c1, r2, c2)) =
                            attr(&e, "ref").as_deref().and_then(range_ref)
                        {
                            l.push_merge(r1, c1, r2, c2);
                        }
                    }
                    _ => {}
                },
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
            buf.clear();
        }
        out.insert(name, l);
    }
    out
}

/// The 0-based (row, column) of an A1 reference ("B6", "$AA$10").
pub fn cell_ref(r: &str) -> Option<(u32, u32)> {
    let r = r.trim().replace('$', "");
    let at = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(at);
    if letters.is_empty() || letters.len() > 3 || !letters.chars().all(|c| c.is_ascii_alphabetic())
    {
        return None;
    }
    let col = letters.chars().fold(0u32, |n, c| {
        n * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1)
    });
    Some((digits.parse::<u32>().ok()?.checked_sub(1)?, col - 1))
}

/// A range "A1:O1" (or one cell) as 0-based (first row, first column, last row, last column).
pub fn range_ref(r: &str) -> Option<(u32, u32, u32, u32)> {
    let (a, b) = r.split_once(':').unwrap_or((r, r));
    let ((r1, c1), (r2, c2)) = (cell_ref(a)?, cell_ref(b)?);
    Some((r1.min(r2), c1.min(c2), r1.max(r2), c1.max(c2)))
}

/// An ods's layouts, walked through its content.xml.
fn ods(bytes: &[u8]) -> HashMap<String, Layout> {
    let mut out = HashMap::new();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    let Ok(f) = zip.by_name("content.xml") else {
        return out;
    };
    let mut reader = XmlReader::from_reader(BufReader::new(f.take(MAX_CONTENT_BYTES)));
    let mut buf = Vec::new();
    let count = |e: &BytesStart, key: &str| -> u32 {
        attr(e, key)
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .clamp(1, 1 << 20)
    };
    let mut styles: HashMap<String, f64> = HashMap::new();
    let mut style: Option<String> = None;
    let mut table: Option<(String, Layout)> = None;
    let (mut col, mut row, mut cols, mut row_repeat) = (0u32, 0u32, 0u32, 1u32);
    loop {
        let (e, empty) = match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => (e.into_owned(), false),
            Ok(Event::Empty(e)) => (e.into_owned(), true),
            Ok(Event::End(e)) => {
                match AsRef::<str>::as_ref(&e.local_name()) {
                    "table" => {
                        if let Some((name, l)) = table.take() {
                            out.insert(name, l);
                        }
                    }
                    "table-row" => row = row.saturating_add(row_repeat),
                    "style" => style = None,
                    _ => {}
                }
                buf.clear();
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        buf.clear();
        match local(&e).as_str() {
            "style" if attr(&e, "family").as_deref() == Some("table-column") && !empty => {
                style = attr(&e, "name");
            }
            "table-column-properties" => {
                if let (Some(s), Some(w)) = (&style, attr(&e, "column-width"))
                    && let Some(w) = ods_chars(&w)
                {
                    styles.insert(s.clone(), w);
                }
            }
            "table" => {
                table = Some((attr(&e, "name").unwrap_or_default(), Layout::default()));
                (row, cols) = (0, 0);
                if empty {
                    table = None;
                }
            }
            "table-column" => {
                let n = count(&e, "number-columns-repeated");
                if let Some((_, l)) = &mut table
                    && let Some(w) = attr(&e, "style-name").and_then(|s| styles.get(&s))
                    && cols <= LAST_COL
                {
                    l.push_width(cols, cols.saturating_add(n - 1), *w);
                }
                cols = cols.saturating_add(n);
            }
            "table-row" => {
                col = 0;
                let n = count(&e, "number-rows-repeated");
                if empty {
                    row = row.saturating_add(n);
                } else {
                    row_repeat = n;
                }
            }
            "table-cell" | "covered-table-cell" => {
                let n = count(&e, "number-columns-repeated");
                if let Some((_, l)) = &mut table {
                    let (cs, rs) = (
                        count(&e, "number-columns-spanned"),
                        count(&e, "number-rows-spanned"),
                    );
                    if local(&e) == "table-cell" && (cs > 1 || rs > 1) {
                        l.push_merge(
                            row,
                            col,
                            row.saturating_add(rs - 1),
                            col.saturating_add(cs - 1),
                        );
                    }
                }
                col = col.saturating_add(n);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odf_lengths_are_characters() {
        let w = ods_chars("2.258cm").unwrap();
        assert!((11.0..12.0).contains(&w), "{w}");
        assert_eq!(ods_chars("1in").map(|w| w.round()), Some(13.0));
        assert_eq!(ods_chars("wide"), None);
    }
}
