//! What calamine does not say about an xls (BIFF8) workbook, read from its records: which rows
//! are hidden, and which text cells use a legacy Vietnamese font (`.VnTime`, `VNI-Times`...).
//! The `cfb` crate opens the compound file (checking its sector chains) and gives the Workbook
//! stream; any inconsistency gives up quietly (the sheet stays as calamine read it, and legacy
//! text is still found by its characters).

use std::collections::HashMap;

use super::{Cell, MAX_COLS, MAX_ROWS, Sheet};
use crate::legacy::{self, Legacy};

/// What one sheet's records say.
#[derive(Debug, Default)]
struct SheetExtras {
    hidden_rows: Vec<u32>,
    /// (row, column) of text cells in a legacy font.
    legacy: HashMap<(u32, u32), Legacy>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// True when a compound file's structure is sound: the `cfb` crate checks, on opening, that every
/// sector chain stays inside the file and that no sector is pointed to twice (so no chain loops).
/// calamine's own reader follows a looping chain until memory runs out, so an unsound file is
/// refused as damaged before calamine sees it.
pub(super) fn is_sound(file: &[u8]) -> bool {
    cfb::CompoundFile::open(std::io::Cursor::new(file)).is_ok()
}

/// The "Workbook" (or Excel 5 "Book") stream of a compound file.
pub(super) fn workbook_stream(file: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut compound = cfb::CompoundFile::open(std::io::Cursor::new(file)).ok()?;
    for name in ["/Workbook", "/Book"] {
        if let Ok(mut stream) = compound.open_stream(name) {
            let mut data = Vec::new();
            // A workbook larger than the attachment cannot be: bound the read all the same.
            stream
                .by_ref()
                .take(file.len() as u64)
                .read_to_end(&mut data)
                .ok()?;
            return Some(data);
        }
    }
    None
}

/// The records of a BIFF stream from `at`: (type, data), until EOF or the stream's end.
fn records(stream: &[u8], at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = at;
    std::iter::from_fn(move || {
        let kind = u16_at(stream, pos)?;
        let len = u16_at(stream, pos + 2)? as usize;
        let data = stream.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        Some((kind, data))
    })
}

/// A ShortXLUnicodeString: length byte, flags byte, then Latin-1 or UTF-16 characters.
fn short_string(b: &[u8], at: usize) -> Option<String> {
    let cch = *b.get(at)? as usize;
    let high = b.get(at + 1)? & 1 == 1;
    let chars = b.get(at + 2..)?;
    Some(if high {
        let units: Vec<u16> = (0..cch).filter_map(|i| u16_at(chars, 2 * i)).collect();
        String::from_utf16_lossy(&units)
    } else {
        chars.iter().take(cch).map(|&c| char::from(c)).collect()
    })
}

fn extras(stream: &[u8]) -> HashMap<String, SheetExtras> {
    let mut fonts: Vec<Option<Legacy>> = Vec::new();
    let mut xf_font: Vec<u16> = Vec::new();
    let mut sheets: Vec<(String, usize)> = Vec::new();
    for (kind, data) in records(stream, 0) {
        match kind {
            0x0031 => fonts.push(short_string(data, 14).and_then(|n| legacy::from_font(&n))),
            0x00E0 => xf_font.push(u16_at(data, 0).unwrap_or(0)),
            0x0085 => {
                if let (Some(pos), Some(name)) = (u32_at(data, 0), short_string(data, 6)) {
                    sheets.push((name, pos as usize));
                }
            }
            0x000A => break,
            _ => {}
        }
    }
    let font_of = |xf: u16| -> Option<Legacy> {
        let ifnt = *xf_font.get(xf as usize)? as usize;
        // Font index 4 does not exist in BIFF: indexes above it are one off.
        let i = if ifnt >= 4 { ifnt - 1 } else { ifnt };
        *fonts.get(i)?
    };
    let any_legacy_font = fonts.iter().any(Option::is_some);
    let mut out = HashMap::new();
    for (name, pos) in sheets {
        let mut x = SheetExtras::default();
        for (kind, data) in records(stream, pos).skip(1) {
            match kind {
                0x0208 => {
                    if let (Some(row), Some(flags)) = (u16_at(data, 0), u16_at(data, 12))
                        && flags & 0x20 != 0
                    {
                        x.hidden_rows.push(u32::from(row));
                    }
                }
                0x00FD | 0x0204 | 0x00D6 if any_legacy_font => {
                    if let (Some(row), Some(col), Some(xf)) =
                        (u16_at(data, 0), u16_at(data, 2), u16_at(data, 4))
                        && let Some(l) = font_of(xf)
                    {
                        x.legacy.insert((u32::from(row), u32::from(col)), l);
                    }
                }
                0x000A => break,
                _ => {}
            }
        }
        out.insert(name, x);
    }
    out
}

/// The first cell holding a value beyond [`MAX_ROWS`] rows or [`MAX_COLS`] columns (0-based row
/// and column), in any sheet of a Workbook stream. calamine builds each sheet as a dense grid, so
/// such a stray value (IV65536) would cost half a gigabyte; unlike for xlsx, calamine gives no
/// way to leave it out, so the file is refused before calamine reads it.
pub(super) fn far_cell(stream: &[u8]) -> Option<(u32, u32)> {
    records(stream, 0).find_map(|(kind, data)| {
        let row = u32::from(u16_at(data, 0)?);
        let col = match kind {
            // LABELSST, LABEL, RSTRING, NUMBER, RK, BOOLERR, FORMULA: one cell.
            0x00FD | 0x0204 | 0x00D6 | 0x0203 | 0x027E | 0x0205 | 0x0006 => {
                u32::from(u16_at(data, 2)?)
            }
            // MULRK: the last column of the run is at the end.
            0x00BD => u32::from(u16_at(data, data.len().checked_sub(2)?)?),
            _ => return None,
        };
        (row >= MAX_ROWS || col >= MAX_COLS).then_some((row, col))
    })
}

/// Marks hidden rows and decodes legacy-font text in sheets calamine read from the workbook
/// whose Workbook stream is `stream`.
pub(super) fn apply(stream: &[u8], sheets: &mut [Sheet]) {
    let mut extras = extras(stream);
    for s in sheets {
        let Some(x) = extras.remove(&s.name) else {
            continue;
        };
        s.hidden_rows = x.hidden_rows;
        if x.legacy.is_empty() {
            continue;
        }
        for (i, row) in s.rows.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                let pos = (s.first_row + i as u32, s.first_col + j as u32);
                if let Cell::Text(t) = cell
                    && let Some(l) = x.legacy.get(&pos)
                {
                    *t = legacy::decode(t, *l);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn an_xls_with_a_value_far_from_the_table_is_refused_before_calamine_builds_it() {
        let good = fixture("fmt-xls-biff8.xls");
        assert!(crate::sheet::read("ds.xls", &good).is_ok());
        // The first text cell (a LABELSST record: type, length 10, row, column...) moved to row
        // 60,001, as a stray value typed far below the table would be.
        let at = good
            .windows(4)
            .position(|w| w == [0xFD, 0x00, 0x0A, 0x00])
            .expect("a LABELSST record");
        let mut far = good.clone();
        far[at + 4..at + 6].copy_from_slice(&60_000u16.to_le_bytes());
        let col = u32::from(u16::from_le_bytes([far[at + 6], far[at + 7]]));
        match crate::sheet::read("ds.xls", &far) {
            Err(crate::sheet::ReadError::FarCell { row, col: c }) => {
                assert_eq!((row, c), (60_000, col));
            }
            other => panic!("expected FarCell, got {other:?}"),
        }
        let message = crate::wording::file_far_cell(60_000, 0, crate::sheet::MAX_ROWS, "BL");
        assert!(message.contains("ô A60001"), "{message}");
    }

    #[test]
    fn hidden_rows_of_an_xls_are_found_in_its_row_records() {
        let stream = workbook_stream(&fixture("layout-hidden-rows-xls.xls")).unwrap();
        assert_eq!(extras(&stream)["Danh sách"].hidden_rows, vec![8]);
    }

    #[test]
    fn text_cells_in_a_legacy_font_are_known_by_their_font() {
        let stream = workbook_stream(&fixture("text-vni-times-font.xls")).unwrap();
        let x = &extras(&stream)["DS"];
        assert_eq!(
            x.legacy.get(&(0, 3)),
            Some(&Legacy::Vni),
            "the header \"Soá CCCD\""
        );
        let stream = workbook_stream(&fixture("text-tcvn3-vntime-font-xls.xls")).unwrap();
        let x = &extras(&stream)["DS"];
        assert_eq!(
            x.legacy.get(&(0, 0)),
            Some(&Legacy::Tcvn3Upper),
            "the .VnTimeH title"
        );
        assert_eq!(x.legacy.get(&(1, 1)), Some(&Legacy::Tcvn3));
    }

    #[test]
    fn a_looping_sector_chain_is_unsound() {
        let good = fixture("layout-hidden-rows-xls.xls");
        assert!(is_sound(&good));
        // Point the directory's first sector at itself in the FAT.
        let mut bad = good.clone();
        let size = 512;
        let dir = u32_at(&bad, 0x30).unwrap() as usize;
        let fat0 = u32_at(&bad, 0x4C).unwrap() as usize;
        let at = (fat0 + 1) * size + 4 * dir;
        bad[at..at + 4].copy_from_slice(&(dir as u32).to_le_bytes());
        assert!(!is_sound(&bad));
        assert!(matches!(
            super::super::read("ds.xls", &bad),
            Err(super::super::ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_after_the_magic_gives_up_quietly() {
        let mut bytes = fixture("layout-hidden-rows-xls.xls");
        bytes.truncate(700);
        assert!(workbook_stream(&bytes).is_none());
        assert!(workbook_stream(b"\xD0\xCF\x11\xE0").is_none());
    }
}
