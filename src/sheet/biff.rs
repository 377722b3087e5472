//! What calamine does not say about an xls (BIFF8) workbook, read from its records: which rows
//! are hidden, and which text cells use a legacy Vietnamese font (`.VnTime`, `VNI-Times`...).
//! The `cfb` crate opens the compound file (checking its sector chains) and gives the Workbook
//! stream; any inconsistency gives up quietly (the sheet stays as calamine read it, and legacy
//! text is still found by its characters).

use std::collections::HashMap;

use calamine::Xls;

use super::{Budget, Cell, ReadError, Sheet, read_calamine};
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

/// Each sheet's column widths (COLINFO) and merged cells (MERGEDCELLS), by the sheet's name.
pub(super) fn layout(file: &[u8]) -> HashMap<String, super::Layout> {
    let mut out = HashMap::new();
    let Some(stream) = workbook_stream(file) else {
        return out;
    };
    let mut sheets: Vec<(String, usize)> = Vec::new();
    for (kind, data) in records(&stream, 0) {
        match kind {
            0x0085 => {
                if let (Some(pos), Some(name)) = (u32_at(data, 0), short_string(data, 6)) {
                    sheets.push((name, pos as usize));
                }
            }
            0x002F => return out,
            0x000A => break,
            _ => {}
        }
    }
    for (name, pos) in sheets {
        let mut l = super::Layout::default();
        for (kind, data) in records(&stream, pos).skip(1) {
            match kind {
                0x007D => {
                    if let (Some(first), Some(last), Some(width)) =
                        (u16_at(data, 0), u16_at(data, 2), u16_at(data, 4))
                    {
                        let hidden = u16_at(data, 8).is_some_and(|o| o & 1 != 0);
                        let chars = if hidden {
                            0.0
                        } else {
                            f64::from(width) / 256.0
                        };
                        l.push_width(u32::from(first), u32::from(last), chars);
                    }
                }
                0x00E5 => {
                    let n = u16_at(data, 0).unwrap_or(0) as usize;
                    for i in 0..n {
                        let at = 2 + 8 * i;
                        if let (Some(r1), Some(r2), Some(c1), Some(c2)) = (
                            u16_at(data, at),
                            u16_at(data, at + 2),
                            u16_at(data, at + 4),
                            u16_at(data, at + 6),
                        ) {
                            l.push_merge(r1.into(), c1.into(), r2.into(), c2.into());
                        }
                    }
                }
                0x000A => break,
                _ => {}
            }
        }
        out.insert(name, l);
    }
    out
}

/// Reads an xls workbook with calamine, within the attachment's budget.
///
/// calamine reads every sheet when it opens the file, each as a dense grid spanning its
/// cells, after reserving room for the cells its DIMENSIONS record declares: a record claiming
/// four billion rows, or one value at IV65536, would abort the process. So each sheet's
/// records are walked first, from its BOUNDSHEET offset as calamine walks them (embedded
/// charts skipped), and the cells that would pass the budget (stray values far from the table)
/// are blanked in a copy of the Workbook stream calamine then reads, with DIMENSIONS made to
/// fit. A password (FILEPASS: RC4 or XOR) is said before anything else, since the records of
/// an encrypted workbook are noise.
pub(super) fn read(file: &[u8], budget: &mut Budget) -> Result<Vec<Sheet>, ReadError> {
    if !is_sound(file) {
        return Err(ReadError::Corrupt("unsound compound file".into()));
    }
    let Some(mut stream) = workbook_stream(file) else {
        return Err(ReadError::Corrupt("no Workbook stream".into()));
    };
    let globals = globals(&stream);
    if globals.encrypted {
        return Err(ReadError::Encrypted);
    }
    budget.take_text(globals.sst.iter().map(|&n| u64::from(n)).sum())?;
    let mut patches = Vec::new();
    let mut stray: HashMap<usize, usize> = HashMap::new();
    for (i, &pos) in globals.sheets.iter().enumerate() {
        let cells = sheet_cells(&stream, pos);
        let (stray_here, patch) = fit_sheet(&cells, &globals.sst, budget)?;
        if stray_here > 0 {
            stray.insert(i, stray_here);
        }
        patches.extend(patch);
    }
    let sheets = if patches.is_empty() {
        read_calamine::<Xls<_>>(file)
    } else {
        for p in &patches {
            p.apply(&mut stream);
        }
        let copy = compound_with(&stream)
            .map_err(|e| ReadError::Corrupt(format!("rewriting the workbook: {e}")))?;
        read_calamine::<Xls<_>>(&copy)
    };
    let mut sheets = sheets?;
    // calamine gives the sheets in BOUNDSHEET order.
    if sheets.len() == globals.sheets.len() {
        for (i, s) in sheets.iter_mut().enumerate() {
            s.stray_cells = stray.get(&i).copied().unwrap_or(0);
        }
    }
    apply(&stream, &mut sheets);
    Ok(sheets)
}

/// What the globals substream says that matters before reading: a password, the sheets'
/// offsets, and the UTF-8 bytes each shared string may take.
#[derive(Debug, Default)]
struct Globals {
    encrypted: bool,
    sheets: Vec<usize>,
    sst: Vec<u32>,
}

fn globals(stream: &[u8]) -> Globals {
    let mut g = Globals::default();
    let mut iter = records_at(stream, 0).peekable();
    while let Some((_, kind, data)) = iter.next() {
        match kind {
            0x002F => g.encrypted = true,
            0x0085 => g.sheets.extend(u32_at(data, 0).map(|p| p as usize)),
            0x00FC => {
                let mut segments = vec![data];
                while let Some((_, 0x003C, more)) = iter.peek() {
                    segments.push(more);
                    iter.next();
                }
                g.sst = sst_lengths(&segments);
            }
            0x000A => break,
            _ => {}
        }
    }
    g
}

/// The UTF-8 bytes each string of an SST may take (at most 3 a UTF-16 character, 2 a Latin-1
/// one), read across its CONTINUE records as MS-XLS 2.4.265 lays them out.
fn sst_lengths(segments: &[&[u8]]) -> Vec<u32> {
    struct Bytes<'a> {
        segments: &'a [&'a [u8]],
        seg: usize,
        at: usize,
    }
    impl Bytes<'_> {
        fn left(&self) -> usize {
            self.segments
                .get(self.seg)
                .map_or(0, |s| s.len().saturating_sub(self.at))
        }
        fn next_segment(&mut self) -> bool {
            self.seg += 1;
            self.at = 0;
            self.seg < self.segments.len()
        }
        fn u8(&mut self) -> Option<u8> {
            while self.left() == 0 {
                if !self.next_segment() {
                    return None;
                }
            }
            let b = self.segments[self.seg][self.at];
            self.at += 1;
            Some(b)
        }
        fn u16(&mut self) -> Option<u16> {
            Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
        }
        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes([
                self.u8()?,
                self.u8()?,
                self.u8()?,
                self.u8()?,
            ]))
        }
        fn skip(&mut self, mut n: usize) -> Option<()> {
            while n > 0 {
                if self.left() == 0 && !self.next_segment() {
                    return None;
                }
                let k = n.min(self.left());
                self.at += k;
                n -= k;
            }
            Some(())
        }
    }
    let mut b = Bytes {
        segments,
        seg: 0,
        at: 0,
    };
    let mut out = Vec::new();
    if b.skip(8).is_none() {
        return out;
    }
    let mut one = || -> Option<u32> {
        let cch = usize::from(b.u16()?);
        let flags = b.u8()?;
        let runs = if flags & 0x08 != 0 { b.u16()? } else { 0 };
        let ext = if flags & 0x04 != 0 { b.u32()? } else { 0 };
        let mut high = flags & 0x01 != 0;
        let (mut left, mut bytes) = (cch, 0u32);
        while left > 0 {
            if b.left() == 0 {
                // The characters go on in the next CONTINUE, after a byte of flags.
                if !b.next_segment() {
                    return None;
                }
                high = b.u8()? & 0x01 != 0;
                continue;
            }
            let width = if high { 2 } else { 1 };
            let n = left.min(b.left() / width).max(1).min(left);
            b.skip(n * width)?;
            bytes += (n * if high { 3 } else { 2 }) as u32;
            left -= n;
        }
        b.skip(4 * usize::from(runs))?;
        b.skip(ext as usize)?;
        Some(bytes)
    };
    while let Some(n) = one() {
        out.push(n);
    }
    out
}

/// A cell record of a sheet: where it is in the stream, its type, and the cells it gives.
#[derive(Debug)]
struct CellRecord {
    at: usize,
    row: u32,
    first_col: u32,
    last_col: u32,
    /// For a LABELSST, the shared string's index.
    sst: Option<u32>,
    /// For a LABEL or RSTRING (or a FORMULA's STRING), its bytes of text.
    text: u32,
    /// For a FORMULA, the STRING record holding its text value, if any.
    string_at: Option<usize>,
}

/// A record of the sheet to change in the copy calamine reads.
#[derive(Debug)]
enum Patch {
    /// A cell record left out: made a BLANK (0x0201), which calamine does not read.
    Blank(usize),
    /// A DIMENSIONS record made to declare this box (first row, last row, first column, last
    /// column, inclusive).
    Dimensions(usize, (u32, u32, u32, u32)),
}

impl Patch {
    fn apply(&self, stream: &mut [u8]) {
        match *self {
            Patch::Blank(at) => {
                if let Some(t) = stream.get_mut(at..at + 2) {
                    t.copy_from_slice(&0x0201u16.to_le_bytes());
                }
            }
            Patch::Dimensions(at, (r0, r1, c0, c1)) => {
                let len = u16_at(stream, at + 2).unwrap_or(0);
                let mut data = Vec::new();
                if len == 10 {
                    for v in [r0, r1 + 1, c0, c1 + 1] {
                        data.extend((v.min(0xFFFF) as u16).to_le_bytes());
                    }
                } else {
                    data.extend(r0.to_le_bytes());
                    data.extend((r1 + 1).to_le_bytes());
                    data.extend((c0.min(0xFF) as u16).to_le_bytes());
                    data.extend(((c1 + 1).min(0x100) as u16).to_le_bytes());
                }
                if let Some(d) = stream.get_mut(at + 4..at + 4 + data.len()) {
                    d.copy_from_slice(&data);
                }
            }
        }
    }
}

/// The records of a BIFF stream from `at`: (offset, type, data), until the stream's end.
fn records_at(stream: &[u8], at: usize) -> impl Iterator<Item = (usize, u16, &[u8])> {
    let mut pos = at;
    std::iter::from_fn(move || {
        let here = pos;
        let kind = u16_at(stream, pos)?;
        let len = u16_at(stream, pos + 2)? as usize;
        let data = stream.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        Some((here, kind, data))
    })
}

/// The cell records of the sheet whose BOF is at `pos`, and its DIMENSIONS records (offset,
/// declared cells), as calamine reads them: up to the sheet's EOF, the substreams of embedded
/// charts skipped.
fn sheet_cells(stream: &[u8], pos: usize) -> (Vec<CellRecord>, Vec<(usize, u64)>) {
    let mut cells = Vec::new();
    let mut dims = Vec::new();
    let (mut seen_bof, mut depth) = (false, 0usize);
    let mut formula: Option<usize> = None;
    for (at, kind, data) in records_at(stream, pos) {
        if depth > 0 {
            match kind {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        let one = |col_at: usize| -> Option<CellRecord> {
            let col = u32::from(u16_at(data, col_at)?);
            Some(CellRecord {
                at,
                row: u32::from(u16_at(data, 0)?),
                first_col: col,
                last_col: col,
                sst: None,
                text: 0,
                string_at: None,
            })
        };
        match kind {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x000A => break,
            0x0200 => {
                let declared = declared_cells(data);
                dims.push((at, declared));
            }
            // NUMBER, RK, BOOLERR: one cell.
            0x0203 | 0x027E | 0x0205 => cells.extend(one(2)),
            // FORMULA: one cell, whose text (if any) a STRING record after it gives.
            0x0006 => {
                if let Some(c) = one(2) {
                    formula = Some(cells.len());
                    cells.push(c);
                }
            }
            0x0207 => {
                if let Some(c) = formula.and_then(|i| cells.get_mut(i)) {
                    c.string_at = Some(at);
                    c.text = c.text.saturating_add(data.len() as u32 * 2);
                }
            }
            // LABEL, RSTRING: one cell and its text.
            0x0204 | 0x00D6 => cells.extend(one(2).map(|c| CellRecord {
                text: data.len() as u32 * 2,
                ..c
            })),
            0x00FD => cells.extend(one(2).map(|c| CellRecord {
                sst: u32_at(data, 6),
                ..c
            })),
            // MULRK: a run of cells, the last column at the end.
            0x00BD => {
                if let Some(mut c) = one(2)
                    && let Some(last) = data.len().checked_sub(2).and_then(|at| u16_at(data, at))
                {
                    c.last_col = u32::from(last).max(c.first_col);
                    cells.push(c);
                }
            }
            _ => {}
        }
    }
    (cells, dims)
}

/// The cells calamine reserves room for from a DIMENSIONS record, computed as it computes
/// them (in a release build, where u32 arithmetic wraps: a last row before the first is four
/// billion rows).
fn declared_cells(data: &[u8]) -> u64 {
    let (rf, rl, mut cf, cl) = match data.len() {
        10 => (
            u32::from(u16_at(data, 0).unwrap_or(0)),
            u32::from(u16_at(data, 2).unwrap_or(0)),
            u32::from(u16_at(data, 4).unwrap_or(0)),
            u32::from(u16_at(data, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(data, 0).unwrap_or(0),
            u32_at(data, 4).unwrap_or(0),
            u32::from(u16_at(data, 8).unwrap_or(0)),
            u32::from(u16_at(data, 10).unwrap_or(0)),
        ),
        _ => return 0,
    };
    if cf > 0xFF || cl < cf {
        cf = 0;
    }
    let (end_row, end_col) = if rl >= 1 && cl >= 1 {
        (rl - 1, cl - 1)
    } else {
        (rf, cf)
    };
    let rows = end_row.wrapping_sub(rf).wrapping_add(1);
    let cols = end_col.wrapping_sub(cf).wrapping_add(1);
    u64::from(rows) * u64::from(cols)
}

/// Fits one sheet's cells to the budget: how many cells are left out, and the records to
/// change so that calamine reads only the others and reserves no more. A MULRK (a run of
/// numbers in one row) that reaches beyond the box is left out whole, its cells counted as
/// left out: a record cannot be shortened in place.
fn fit_sheet(
    (cells, dims): &(Vec<CellRecord>, Vec<(usize, u64)>),
    sst: &[u32],
    budget: &mut Budget,
) -> Result<(usize, Vec<Patch>), ReadError> {
    let count: u64 = cells
        .iter()
        .map(|c| u64::from(c.last_col - c.first_col + 1))
        .sum();
    if count > budget.cells() {
        return Err(ReadError::TooLarge);
    }
    let mut rows = Vec::with_capacity(cells.len());
    let mut cols = Vec::with_capacity(cells.len());
    for c in cells {
        rows.push(c.row);
        cols.push(c.last_col);
        if c.first_col != c.last_col {
            rows.push(c.row);
            cols.push(c.first_col);
        }
    }
    let (last_row, last_col) =
        super::fitting_box(rows, cols, budget.cells()).ok_or(ReadError::TooLarge)?;
    let mut patches = Vec::new();
    let (mut kept, mut stray) = (0, 0);
    let (mut kr0, mut kr1, mut kc0, mut kc1) = (u32::MAX, 0, u32::MAX, 0);
    let mut text = 0u64;
    for c in cells {
        let n = (c.last_col - c.first_col + 1) as usize;
        if c.row > last_row || c.last_col > last_col {
            stray += n;
            // A FORMULA left out takes its STRING along: calamine would put that text in the
            // place of the formula before.
            patches.extend(std::iter::once(c.at).chain(c.string_at).map(Patch::Blank));
            continue;
        }
        kept += n;
        (kr0, kr1) = (kr0.min(c.row), kr1.max(c.row));
        (kc0, kc1) = (kc0.min(c.first_col), kc1.max(c.last_col));
        text += u64::from(c.text);
        if let Some(i) = c.sst {
            text += u64::from(sst.get(i as usize).copied().unwrap_or(0));
        }
    }
    let area = if kept == 0 {
        0
    } else {
        u64::from(kr1 - kr0 + 1) * u64::from(kc1 - kc0 + 1)
    };
    budget.take_cells(area)?;
    budget.take_text(text)?;
    for &(at, declared) in dims {
        if declared > area.max(1) && (declared > budget.cells() || !patches.is_empty()) {
            let b = if kept == 0 {
                (0, 0, 0, 0)
            } else {
                (kr0, kr1, kc0, kc1)
            };
            patches.push(Patch::Dimensions(at, b));
        }
    }
    Ok((stray, patches))
}

/// A compound file holding only `stream` as its Workbook stream.
fn compound_with(stream: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    // Version 3 (512-byte sectors), as Excel writes: calamine refuses a version 4 file whose
    // root holds no mini stream.
    let mut c =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, std::io::Cursor::new(Vec::new()))?;
    {
        let mut s = c.create_stream("/Workbook")?;
        s.write_all(stream)?;
    }
    c.flush()?;
    Ok(c.into_inner().into_inner())
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
    use crate::sheet::MAX_CELLS;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn an_xls_with_a_value_far_from_the_table_is_read_without_it() {
        let good = fixture("fmt-xls-biff8.xls");
        let read = crate::sheet::read("ds.xls", &good).unwrap();
        // The first text cell (a LABELSST record: type, length 10, row, column...) moved, as a
        // value typed far from the table would be.
        let at = good
            .windows(4)
            .position(|w| w == [0xFD, 0x00, 0x0A, 0x00])
            .expect("a LABELSST record");
        let moved = |row: u16, col: u16| {
            let mut far = good.clone();
            far[at + 4..at + 6].copy_from_slice(&row.to_le_bytes());
            far[at + 6..at + 8].copy_from_slice(&col.to_le_bytes());
            far
        };
        // 32,770 rows by 115 columns fit the budget: read, as a long list is.
        let sheets = crate::sheet::read("ds.xls", &moved(32_769, 114)).unwrap();
        assert_eq!(sheets[0].stray_cells, 0);
        assert_eq!(sheets[0].rows.len(), 32_770);
        assert_eq!(sheets[0].rows[0].len(), 115);
        // At IV65536 the grid would be 16.7 million cells: the cell is left out, and the rest
        // of the sheet is as it was, but for the cell moved away.
        let sheets = crate::sheet::read("ds.xls", &moved(65_535, 255)).unwrap();
        assert_eq!(sheets[0].stray_cells, 1);
        assert_eq!(sheets[0].rows.len(), read[0].rows.len());
        assert_eq!(sheets[0].rows[1..], read[0].rows[1..]);
        // With little budget left (a zip's earlier files spent it), a sheet that cannot fit is
        // refused.
        let mut budget = Budget::new();
        budget.take_cells(MAX_CELLS - 10).unwrap();
        assert_eq!(
            super::read(&good, &mut budget).err(),
            Some(ReadError::TooLarge)
        );
    }

    #[test]
    fn the_cells_a_dimensions_record_declares_are_counted_as_calamine_counts_them() {
        let dims = |rf: u32, rl: u32, cf: u16, cl: u16| {
            let mut d = rf.to_le_bytes().to_vec();
            d.extend(rl.to_le_bytes());
            d.extend(cf.to_le_bytes());
            d.extend(cl.to_le_bytes());
            d.extend([0, 0]);
            d
        };
        assert_eq!(declared_cells(&dims(0, 10, 0, 3)), 30);
        assert_eq!(
            declared_cells(&dims(0, u32::MAX, 0, 1)),
            u64::from(u32::MAX)
        );
        // The last row before the first: calamine's u32 arithmetic wraps to 4 billion rows.
        assert_eq!(
            declared_cells(&dims(100, 50, 0, 1)),
            u64::from(u32::MAX - 49)
        );
        // No row at all: one cell.
        assert_eq!(declared_cells(&dims(0, 0, 0, 0)), 1);
        assert_eq!(declared_cells(&[0; 3]), 0);
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
