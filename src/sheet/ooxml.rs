//! What calamine does not say about a workbook, read from its XML parts: which rows are hidden
//! (xlsx, ods), and which cells use a legacy Vietnamese font (xlsx), so their text is decoded by
//! the font rather than guessed from the characters. Best effort: a part that cannot be read
//! leaves the sheet as calamine gave it.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use calamine::{Data, Range, Style, Xlsx, XlsxCellReader, XlsxError, open_workbook_from_rs};
use quick_xml::Reader as XmlReader;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use super::archive::{self, Zip};
use super::unpacked;
use super::{Budget, Cell, Cells, MAX_CELLS, ReadError, Sheet, classify, sheet_names, sheet_of};
use crate::legacy;

/// Most bytes of one XML part read for this (a worksheet of a 5,000-row list is about 2 MB).
const MAX_PART_BYTES: u64 = 256 * 1024 * 1024;

/// Reads an xlsx/xlsm workbook: cells with calamine, then hidden rows (when `hidden_rows`) and
/// legacy fonts. `zip` is the workbook's zip when it was opened already.
///
/// calamine reads a copy of the workbook with some parts unpacked once ([`unpacked`]) when one
/// can be made; the workbook as it came when calamine fails on some sheet of the copy, which it
/// might not have on the original: the copy never loses a sheet.
pub(super) fn read(
    bytes: &[u8],
    zip: Option<Zip>,
    hidden_rows: bool,
    budget: &mut Budget,
) -> Result<Vec<Sheet>, ReadError> {
    let mut zip = zip.or_else(|| ZipArchive::new(Cursor::new(bytes)).ok());
    archive::check_unpacked(zip.as_mut())?;
    let copy = match zip.as_mut() {
        Some(z) => unpacked::copy(z, bytes)?,
        None => None,
    };
    match &copy {
        Some(copy) => {
            let before = budget.clone();
            match read_workbook(
                &copy.bytes,
                zip.as_mut(),
                hidden_rows,
                |_| copy.may_hide_rows,
                budget,
            ) {
                Ok((sheets, false)) => return Ok(sheets),
                // The same cells are in the original.
                Err(ReadError::TooLarge) => return Err(ReadError::TooLarge),
                Ok((_, true)) | Err(_) => *budget = before,
            }
        }
        None => {
            if let Some(z) = zip.as_mut() {
                check_shared_strings(z)?;
            }
        }
    }
    read_workbook(bytes, zip.as_mut(), hidden_rows, may_hide_rows, budget).map(|(sheets, _)| sheets)
}

/// [`read`] of the workbook `source` (the one `zip` opened, or a copy of it); and whether some
/// sheet of it was left out because calamine failed on it. `may_hide` says whether a row of the
/// workbook can be hidden at all.
pub(super) fn read_workbook(
    source: &[u8],
    mut zip: Option<&mut Zip>,
    hidden_rows: bool,
    may_hide: impl FnOnce(&mut Zip) -> bool,
    budget: &mut Budget,
) -> Result<(Vec<Sheet>, bool), ReadError> {
    let patched: Vec<u8>;
    let mut wb: Xlsx<_> = match open_workbook_from_rs(Cursor::new(source)) {
        Ok(wb) => wb,
        // An Excel 4.0 macro sheet (xlsm): calamine knows no such sheet type and fails to open
        // the workbook at all (a calamine limitation worth reporting upstream). The workbook
        // is opened again with its macro sheets called dialog sheets, which are not read.
        Err(XlsxError::Unrecognized {
            typ: "sheet:type", ..
        }) if let Some(copy) = zip.as_deref_mut().and_then(without_macro_sheets) => {
            patched = copy;
            open_workbook_from_rs(Cursor::new(&patched[..])).map_err(classify)?
        }
        Err(e) => return Err(classify(e)),
    };
    let (mut sheets, legacy_fonts, failed) = read_sheets(&mut wb, budget)?;
    if !hidden_rows && !legacy_fonts {
        return Ok((sheets, failed));
    }
    let Some(zip) = zip else {
        return Ok((sheets, failed));
    };
    if hidden_rows && may_hide(zip) {
        let parts = sheet_parts(zip);
        for s in &mut sheets {
            if let Some(path) = parts.get(&s.name)
                && let Some(xml) = part(zip, path)
            {
                s.hidden_rows = hidden_xlsx_rows(&xml);
            }
        }
    }
    // Only a cell style with a legacy font can have a cell decoded: without one, the styles part
    // need not be read at all.
    if legacy_fonts && part(zip, "xl/styles.xml").is_some_and(|x| names_legacy_font(&x)) {
        for s in &mut sheets {
            if let Ok(styles) = wb.worksheet_style(&s.name) {
                decode_by_font(s, |pos| styles.get(pos).and_then(legacy_font));
            }
        }
    }
    Ok((sheets, failed))
}

/// A copy of a workbook whose relationships name its macro sheets (`xlMacrosheet`,
/// `xlIntlMacrosheet`) dialog sheets; `None` when it has none, or cannot be copied.
fn without_macro_sheets(zip: &mut Zip) -> Option<Vec<u8>> {
    let rels_name = archive::entry_name(zip, "xl/_rels/workbook.xml.rels")?;
    let rels = part(zip, &rels_name)?;
    let mut renamed = Vec::with_capacity(rels.len());
    let mut rest = &rels[..];
    let mut changed = false;
    while let Some(at) = memchr::memmem::find(rest, b"Macrosheet") {
        // `.../xlMacrosheet` or `.../xlIntlMacrosheet`, up to the slash before it.
        let start = memchr::memrchr(b'/', &rest[..at]).map_or(at, |s| s + 1);
        let name = &rest[start..at];
        renamed.extend_from_slice(&rest[..start]);
        if name == b"xl" || name == b"xlIntl" {
            renamed.extend_from_slice(b"dialogsheet");
            changed = true;
        } else {
            renamed.extend_from_slice(&rest[start..at + b"Macrosheet".len()]);
        }
        rest = &rest[at + b"Macrosheet".len()..];
    }
    renamed.extend_from_slice(rest);
    if !changed {
        return None;
    }
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).ok()?;
        if f.name().is_ok_and(|n| n == rels_name) {
            drop(f);
            out.start_file(rels_name.as_str(), zip::write::SimpleFileOptions::default())
                .ok()?;
            std::io::Write::write_all(&mut out, &renamed).ok()?;
        } else {
            out.raw_copy_file(f).ok()?;
        }
    }
    Some(out.finish().ok()?.into_inner())
}

/// The legacy encoding a cell style's font stands for.
fn legacy_font(style: &Style) -> Option<legacy::Legacy> {
    style
        .font
        .as_ref()
        .and_then(|f| f.name.as_deref())
        .and_then(legacy::from_font)
}

/// Every sheet's cells, as calamine's `worksheet_range` reads them, whether some cell style
/// of the workbook has a legacy font, and whether some worksheet was left out: the style palette comes with the cell reader, where asking
/// calamine for it otherwise would read a sheet once more.
///
/// A worksheet calamine fails on is skipped when another could be read (a calamine
/// limitation: its range readers fail on what they cannot read, worth reporting upstream);
/// an attachment over its budget is refused whole.
fn read_sheets(
    wb: &mut Xlsx<Cursor<&[u8]>>,
    budget: &mut Budget,
) -> Result<(Vec<Sheet>, bool, bool), ReadError> {
    let names = sheet_names(wb);
    let worksheets: Vec<bool> = calamine::Reader::sheets_metadata(wb)
        .iter()
        .map(|s| s.typ == calamine::SheetType::WorkSheet)
        .collect();
    let mut sheets = Vec::with_capacity(names.len());
    let mut legacy_fonts = false;
    let mut failed = None;
    for (i, (name, hidden)) in names.into_iter().enumerate() {
        let reader = match worksheets.get(i) {
            Some(false) => Err(XlsxError::NotAWorksheet(String::new())),
            _ => wb.worksheet_cells_reader(&name),
        };
        let (mut range, stray) = match reader {
            Ok(mut reader) => {
                legacy_fonts |= reader.styles().iter().any(|s| legacy_font(s).is_some());
                match range_of(&mut reader, budget) {
                    Ok(r) => r,
                    Err(ReadError::TooLarge) => return Err(ReadError::TooLarge),
                    Err(e) => {
                        failed = failed.or(Some(e));
                        continue;
                    }
                }
            }
            // A chart or dialog sheet: `worksheet_range` gives it an empty range too.
            Err(XlsxError::NotAWorksheet(_)) => (Range::default(), 0),
            Err(e) => {
                failed = failed.or(Some(classify(e)));
                continue;
            }
        };
        let mut sheet = sheet_of(name, hidden, &mut range);
        sheet.stray_cells = stray;
        sheets.push(sheet);
    }
    match failed {
        Some(e) if sheets.is_empty() => Err(e),
        _ => Ok((sheets, legacy_fonts, failed.is_some())),
    }
}

/// A worksheet's cells as `worksheet_range` collects them: the empty ones left out, the range
/// spanning the others, within the attachment's budget; and how many cells were left out
/// beyond it (the range is a dense grid: one value at XFD1048576 would ask for 512 GiB).
fn range_of(
    reader: &mut XlsxCellReader<Cursor<&[u8]>>,
    budget: &mut Budget,
) -> Result<(Range<Data>, usize), ReadError> {
    let mut cells = Cells::new(reader.dimensions().len());
    while let Some(cell) = reader.next_cell().map_err(classify)? {
        cells.push(cell.get_position(), cell.get_value(), budget)?;
    }
    cells.finish(budget)
}

/// Refuses shared strings calamine would make room for, or read, beyond the budget: it
/// reserves the `uniqueCount` the part declares (100 million is 2.4 GB before one is read).
/// Their count is looked for in the part's first bytes, and counted in a part over 1 MiB.
///
/// Every part named `sharedStrings.xml` is checked, in whatever folder and however its name is
/// written (`xl\sharedStrings.xml`, upper case): calamine finds it beside the workbook part,
/// wherever the package puts that, and compares names as [`archive::normalised`] does.
fn check_shared_strings(zip: &mut Zip) -> Result<(), ReadError> {
    for name in archive::entries_named(zip, "sharedStrings.xml") {
        check_shared_strings_part(zip, &name)?;
    }
    Ok(())
}

fn check_shared_strings_part(zip: &mut Zip, name: &str) -> Result<(), ReadError> {
    let Ok(f) = zip.by_name(name) else {
        return Ok(());
    };
    let size = f.size();
    check_shared_strings_in(f, size)
}

/// [`check_shared_strings`] on one part: `f` reads it, `size` is its size as declared.
pub(super) fn check_shared_strings_in(f: impl Read, size: u64) -> Result<(), ReadError> {
    let large = size > 1024 * 1024;
    let mut f = f.take(MAX_PART_BYTES);
    // The head, for the `<sst>` element's counts: a small first piece, more only when its start
    // tag is not in it (unpacking more of a small part was a twelfth of reading a small
    // workbook). A start tag not in the first 64 KiB (padded before it) is refused: its count
    // would not be seen.
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut head = SstHead::Unseen;
    for limit in [HEAD_BYTES, 64 * 1024] {
        let more = (limit - buf.len()) as u64;
        if (&mut f).take(more).read_to_end(&mut buf).is_err() {
            return Ok(());
        }
        head = sst_head(&buf);
        if head != SstHead::Unseen || buf.len() < limit {
            break;
        }
    }
    let count = match head {
        SstHead::Count(count) => Some(count),
        SstHead::NoCount => None,
        // Its first element not within 64 KiB (padded before it): its count cannot be seen.
        SstHead::Unseen if buf.len() == 64 * 1024 => return Err(ReadError::TooLarge),
        // XML our parser refuses, which calamine's might read: any count in it counts.
        SstHead::Unseen => declared_count(&buf),
    };
    if count.is_some_and(|c| c > MAX_CELLS) {
        return Err(ReadError::TooLarge);
    }
    if !large {
        return Ok(());
    }
    let mut strings: u64 = 0;
    // `<si>`, `<x:si>`, `</si>` and `<si/>`: at least one `si>` or `si/>` a string, two when
    // it holds text. Each piece is searched with the end of the one before.
    let mut kept = buf.len();
    buf.resize(kept + 64 * 1024, 0);
    loop {
        let end = match f.read(&mut buf[kept..]) {
            Ok(0) | Err(_) if kept == 0 => break,
            Ok(0) | Err(_) => kept,
            Ok(n) => kept + n,
        };
        let last = end == kept;
        let piece = &buf[..end];
        let cut = if last { end } else { end.saturating_sub(3) };
        let pairs = memchr::memmem::find_iter(&piece[..cut], b"si>").count() as u64;
        let empties = memchr::memmem::find_iter(&piece[..cut], b"si/>").count() as u64;
        strings += empties + pairs.div_ceil(2);
        if strings > MAX_CELLS {
            return Err(ReadError::TooLarge);
        }
        if last {
            break;
        }
        kept = end - cut;
        buf.copy_within(cut..end, 0);
    }
    Ok(())
}

/// How much of a shared-strings part is unpacked to find its `<sst>` element's counts (the XML
/// declaration and the namespaces before them are a few hundred bytes).
const HEAD_BYTES: usize = 2048;

/// What the first element of a shared-strings part says of its count.
#[derive(Debug, PartialEq)]
enum SstHead {
    /// Not in the bytes seen (perhaps further on).
    Unseen,
    /// `<sst>` without a `uniqueCount`, or another first element (calamine then finds none).
    NoCount,
    /// The `uniqueCount` declared (`u64::MAX` for more digits than any budget).
    Count(u64),
}

/// The first element of the start of a shared-strings part, XML parsed (a comment or a
/// processing instruction before it is no element).
fn sst_head(head: &[u8]) -> SstHead {
    let mut xml = XmlReader::from_reader(head);
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                if !is(&e, "sst") {
                    return SstHead::NoCount;
                }
                return match attr(&e, "uniqueCount") {
                    Some(v) => {
                        let v = v.trim();
                        match v.parse::<u64>() {
                            Ok(n) => SstHead::Count(n),
                            Err(_) if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() => {
                                SstHead::Count(u64::MAX)
                            }
                            Err(_) => SstHead::NoCount,
                        }
                    }
                    None => SstHead::NoCount,
                };
            }
            Ok(Event::Eof) | Err(_) => return SstHead::Unseen,
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// The first `uniqueCount` number in bytes that did not parse as XML.
fn declared_count(head: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(head, b"uniqueCount")?;
    let rest = &head[at + b"uniqueCount".len()..];
    let start = rest.iter().position(u8::is_ascii_digit)?;
    let digits = &rest[start..];
    let end = digits
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    // Twenty digits or more are more than any budget.
    if end > 19 {
        return Some(u64::MAX);
    }
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

fn decode_by_font(sheet: &mut Sheet, font: impl Fn((u32, u32)) -> Option<legacy::Legacy>) {
    for (i, row) in sheet.rows.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            if let Cell::Text(t) = cell
                && !t.is_ascii()
                && let Some(l) = font((sheet.first_row + i as u32, sheet.first_col + j as u32))
            {
                *t = legacy::decode(t, l);
            }
        }
    }
}

/// False when no part that can be a worksheet has a `hidden` attribute, so no row is hidden:
/// each is looked through as it is unpacked, a piece at a time. Hidden rows are rare, and
/// without this every workbook had its worksheet parts kept whole in memory and its sheets
/// matched to their parts (two more parts read and parsed) to find none. True when one has
/// it (perhaps a hidden column, or a hidden shape) or cannot be read: the rows are then
/// looked for sheet by sheet.
pub(super) fn may_hide_rows(zip: &mut Zip) -> bool {
    let mut names = Vec::new();
    for name in zip.file_names() {
        match name {
            Ok(n) if never_a_worksheet(&archive::normalised(&n)) => {}
            Ok(n) => names.push(n.into_owned()),
            Err(_) => return true,
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    names.iter().any(|name| {
        let Ok(f) = zip.by_name(name) else {
            return true;
        };
        let mut f = f.take(MAX_PART_BYTES);
        // Each piece is searched with the end of the one before, where the needle may start.
        let mut kept = 0;
        loop {
            let n = match f.read(&mut buf[kept..]) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(_) => return true,
            };
            let end = kept + n;
            if memchr::memmem::find(&buf[..end], HIDDEN).is_some() {
                return true;
            }
            kept = (HIDDEN.len() - 1).min(end);
            buf.copy_within(end - kept..end, 0);
        }
    })
}

/// The word that, in a worksheet part, may mark a row hidden: the attribute's name alone (XML
/// lets its value be in single quotes, or `=` have spaces around it).
pub(super) const HIDDEN: &[u8] = b"hidden";

/// True for a part (its [`archive::normalised`] name) that never holds a worksheet: whatever it
/// says about hiding is not about rows.
pub(super) fn never_a_worksheet(lower: &str) -> bool {
    !lower.ends_with(".xml")
        || lower.starts_with("docprops/")
        || lower.starts_with("customxml/")
        || [
            "xl/workbook.xml",
            "xl/styles.xml",
            "xl/sharedstrings.xml",
            "xl/calcchain.xml",
            "[content_types].xml",
        ]
        .contains(&lower)
        || ["xl/theme/", "xl/drawings/", "xl/charts/", "xl/chartsheets/"]
            .iter()
            .any(|d| lower.starts_with(d))
}

/// The part at `path` ([`archive::part_within`]), unpacked up to [`MAX_PART_BYTES`].
pub(super) fn part(zip: &mut Zip, path: &str) -> Option<Vec<u8>> {
    archive::part_within(zip, path, MAX_PART_BYTES)
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    let [value] = attrs(e, [key]);
    value
}

/// The values of several attributes, read in one pass over the element's attributes: for each
/// key, the first well-formed attribute so named, unescaped.
pub(super) fn attrs<const N: usize>(e: &BytesStart, keys: [&str; N]) -> [Option<String>; N] {
    let mut values = [const { None }; N];
    for a in e.attributes().flatten() {
        let key: &str = a.key.as_ref();
        if let Some(i) = keys.iter().position(|k| *k == key)
            && values[i].is_none()
        {
            values[i] = Some(match quick_xml::escape::unescape(&a.value) {
                Ok(v) => v.into_owned(),
                Err(_) => a.value.to_string(),
            });
            if values.iter().all(Option::is_some) {
                break;
            }
        }
    }
    values
}

/// True when the element is named `local_name` (whatever its namespace prefix).
fn is(e: &BytesStart, local_name: &str) -> bool {
    AsRef::<str>::as_ref(&e.local_name()) == local_name
}

/// Sheet name → its worksheet part ("xl/worksheets/sheet1.xml").
pub(super) fn sheet_parts(zip: &mut Zip) -> HashMap<String, String> {
    let mut targets = HashMap::new();
    if let Some(rels) = part(zip, "xl/_rels/workbook.xml.rels") {
        each_named(&rels, "Relationship", |e| {
            if let [Some(id), Some(target)] = attrs(e, ["Id", "Target"]) {
                let path = match target.strip_prefix('/') {
                    Some(abs) => abs.to_string(),
                    None => format!("xl/{target}"),
                };
                targets.insert(id, path);
            }
        });
    }
    let mut parts = HashMap::new();
    if let Some(wb) = part(zip, "xl/workbook.xml") {
        each_named(&wb, "sheet", |e| {
            if let [Some(name), Some(id)] = attrs(e, ["name", "r:id"])
                && let Some(path) = targets.get(&id)
            {
                parts.insert(name, path.clone());
            }
        });
    }
    parts
}

/// Where a start tag of an element named `local_name` may begin in `xml`, found by its text:
/// each `<name` or `<prefix:name` followed by a space, `/` or `>` (what follows is the caller's
/// to parse).
pub(super) fn tag_starts<'a>(
    xml: &'a [u8],
    local_name: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    memchr::memmem::find_iter(xml, local_name.as_bytes()).filter_map(move |at| {
        let after = xml.get(at + local_name.len()).copied();
        if !matches!(after, Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>')) {
            return None;
        }
        let head = &xml[..at];
        match head.last() {
            Some(b'<') => Some(at - 1),
            Some(b':') => memchr::memrchr(b'<', head).filter(|&lt| {
                head[lt + 1..head.len() - 1]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
            }),
            _ => None,
        }
    })
}

/// Calls `f` with each element named `local_name` (whatever its namespace prefix), found by its
/// text and parsed alone: the rest of the document is not read (a workbook part is mostly other
/// elements).
pub(super) fn each_named(xml: &[u8], local_name: &str, mut f: impl FnMut(&BytesStart)) {
    let mut buf = Vec::new();
    for start in tag_starts(xml, local_name) {
        let mut reader = XmlReader::from_reader(&xml[start..]);
        buf.clear();
        if let Ok(Event::Start(e) | Event::Empty(e)) = reader.read_event_into(&mut buf)
            && is(&e, local_name)
        {
            f(&e);
        }
    }
}

fn each_element(xml: &[u8], mut f: impl FnMut(&BytesStart)) {
    let mut reader = XmlReader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => f(&e),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
}

/// The 0-based rows marked `hidden` in a worksheet part.
fn hidden_xlsx_rows(xml: &[u8]) -> Vec<u32> {
    if memchr::memmem::find(xml, b"hidden").is_none() {
        return Vec::new();
    }
    let mut rows = Vec::new();
    each_element(xml, |e| {
        if is(e, "row")
            && attr(e, "hidden").is_some_and(|v| v == "1" || v == "true")
            && let Some(r) = attr(e, "r").and_then(|r| r.parse::<u32>().ok())
        {
            rows.push(r.saturating_sub(1));
        }
    });
    rows
}

pub(super) fn names_legacy_font(styles: &[u8]) -> bool {
    // Any mention: a font's name may be in single quotes, or have spaces before it.
    let lower = styles.to_ascii_lowercase();
    memchr::memmem::find(&lower, b".vn").is_some() || memchr::memmem::find(&lower, b"vni").is_some()
}

/// Spends on `budget` the cells and text calamine will make of an ods file's tables, and
/// refuses the file when they pass it, before calamine reads it: calamine expands
/// `table:number-columns-repeated` and `table:number-rows-repeated` into cells (up to 100
/// million a sheet), so a few bytes can ask for gigabytes. As calamine does, empty cells at
/// the end of a row and empty rows around a table's cells cost nothing; every row in between,
/// repeats included, costs the table's widest row.
pub(super) fn check_ods(zip: &mut Zip, budget: &mut Budget) -> Result<(), ReadError> {
    // calamine's own caps on a sheet.
    const MAX_ROWS: u64 = 1_048_576;
    const MAX_COLS: u64 = 16_384;
    let Ok(f) = zip.by_name("content.xml") else {
        return Ok(());
    };
    let mut reader = XmlReader::from_reader(std::io::BufReader::new(f.take(MAX_PART_BYTES)));
    let mut buf = Vec::new();
    let repeat = |e: &BytesStart, key: &str| -> u64 {
        attr(e, key)
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    // The table in hand: its rows so far, the rows up to its last non-empty one, its widest
    // row, the text of its rows up to the last non-empty one.
    #[derive(Default)]
    struct Table {
        rows: u64,
        first: Option<u64>,
        last: u64,
        width: u64,
        text: u64,
        pending_text: u64,
    }
    impl Table {
        fn cost(&self) -> u64 {
            self.first
                .map_or(0, |f| (self.last - f + 1).saturating_mul(self.width))
        }
    }
    let mut table = Table::default();
    // The row in hand: its repeats, its columns so far, its width, its text.
    let (mut row_repeat, mut col, mut width, mut row_text) = (1u64, 0u64, 0u64, 0u64);
    // The cell in hand: its repeats, whether it has a value, its text.
    let (mut in_cell, mut cell_repeat, mut cell_value, mut cell_text) = (false, 1u64, false, 0u64);
    let spend = |t: &Table, budget: &mut Budget| -> Result<(), ReadError> {
        budget.take_cells(t.cost())?;
        budget.take_text(t.text)
    };
    let end_cell = |col: &mut u64,
                    width: &mut u64,
                    row_text: &mut u64,
                    repeat: u64,
                    value: bool,
                    text: u64| {
        let repeat = repeat.min(MAX_COLS.saturating_sub(*col));
        *col += repeat;
        if value {
            *width = *col;
            *row_text = row_text.saturating_add(text.saturating_mul(repeat));
        }
    };
    loop {
        let event = reader.read_event_into(&mut buf);
        match event {
            Ok(Event::Start(ref e) | Event::Empty(ref e)) => {
                let empty = matches!(event, Ok(Event::Empty(_)));
                match AsRef::<str>::as_ref(&e.name()) {
                    "table:table" => {
                        spend(&table, budget)?;
                        table = Table::default();
                    }
                    "table:table-row" => {
                        row_repeat = repeat(e, "table:number-rows-repeated")
                            .min(MAX_ROWS.saturating_sub(table.rows));
                        (col, width, row_text) = (0, 0, 0);
                        if empty {
                            table.rows += row_repeat;
                        }
                    }
                    "table:table-cell" | "table:covered-table-cell" => {
                        cell_repeat = repeat(e, "table:number-columns-repeated");
                        // A value of any type (an empty string is one to calamine), or a
                        // formula: the cell costs its repeats.
                        cell_value = e.attributes().flatten().any(|a| {
                            let key: &str = a.key.as_ref();
                            key.starts_with("office:") || key == "table:formula"
                        });
                        cell_text = attr(e, "office:string-value").map_or(0, |v| v.len() as u64);
                        if empty {
                            end_cell(
                                &mut col,
                                &mut width,
                                &mut row_text,
                                cell_repeat,
                                cell_value,
                                cell_text,
                            );
                        } else {
                            in_cell = true;
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::Text(t)) if in_cell => {
                let raw = t.into_inner();
                cell_text += raw.len() as u64;
                cell_value |= raw.bytes().any(|c| !c.is_ascii_whitespace());
            }
            Ok(Event::End(e)) => match AsRef::<str>::as_ref(&e.name()) {
                "table:table-cell" | "table:covered-table-cell" => {
                    in_cell = false;
                    end_cell(
                        &mut col,
                        &mut width,
                        &mut row_text,
                        cell_repeat,
                        cell_value,
                        cell_text,
                    );
                }
                "table:table-row" => {
                    let at = table.rows;
                    table.rows += row_repeat;
                    table.pending_text = table
                        .pending_text
                        .saturating_add(row_text.saturating_mul(row_repeat));
                    if width > 0 {
                        table.first.get_or_insert(at);
                        table.last = table.rows - 1;
                        table.width = table.width.max(width);
                        table.text = table.text.saturating_add(table.pending_text);
                        table.pending_text = 0;
                    }
                    if table.cost() > budget.cells() {
                        return Err(ReadError::TooLarge);
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    spend(&table, budget)
}

/// Marks the rows an ods file hides (`table:visibility="collapse"` or `"filter"`).
/// `zip` is the file's zip when it was opened already.
pub(super) fn mark_ods_hidden_rows(bytes: &[u8], zip: Option<Zip>, sheets: &mut [Sheet]) {
    let Some(mut zip) = zip.or_else(|| ZipArchive::new(Cursor::new(bytes)).ok()) else {
        return;
    };
    let Some(xml) = part(&mut zip, "content.xml") else {
        return;
    };
    if memchr::memmem::find(&xml, b"table:visibility").is_none() {
        return;
    }
    const MAX_HIDDEN_ROWS: u32 = 1_048_576;
    let mut marked: u32 = 0;
    let mut hidden: HashMap<String, Vec<u32>> = HashMap::new();
    let mut current: Option<String> = None;
    let mut row: u32 = 0;
    let mut reader = XmlReader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match AsRef::<str>::as_ref(&e.name()) {
                "table:table" => {
                    current = attr(&e, "table:name");
                    row = 0;
                }
                "table:table-row" => {
                    let repeat = attr(&e, "table:number-rows-repeated")
                        .and_then(|n| n.parse::<u32>().ok())
                        .unwrap_or(1);
                    let collapsed = attr(&e, "table:visibility")
                        .is_some_and(|v| v == "collapse" || v == "filter");
                    if collapsed
                        && repeat <= 10_000
                        && marked < MAX_HIDDEN_ROWS
                        && let Some(name) = &current
                    {
                        // At most as many rows as a sheet has, however many elements say so.
                        let end = row.saturating_add(repeat.min(MAX_HIDDEN_ROWS - marked));
                        marked += end - row;
                        hidden.entry(name.clone()).or_default().extend(row..end);
                    }
                    row = row.saturating_add(repeat);
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    for s in sheets {
        if let Some(rows) = hidden.remove(&s.name) {
            s.hidden_rows = rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_rows_are_found_in_a_worksheet_part() {
        let xml = br#"<worksheet><cols><col min="1" max="1" hidden="1"/></cols><sheetData>
<row r="1"><c r="A1"/></row><row r="4" hidden="1" spans="1:3"><c r="A4"/></row>
<row r="5" customHeight="1" hidden="true"/><row r='7' hidden = '1'/></sheetData></worksheet>"#;
        assert_eq!(hidden_xlsx_rows(xml), vec![3, 4, 6]);
        assert!(hidden_xlsx_rows(b"<worksheet><row r=\"1\"/></worksheet>").is_empty());
    }

    #[test]
    fn a_workbook_is_looked_at_sheet_by_sheet_only_when_some_part_can_hide_a_row() {
        let workbook = |hide: Option<&str>| {
            let mut wb = rust_xlsxwriter::Workbook::new();
            wb.add_worksheet().write(0, 0, "Họ và tên").unwrap();
            let ws = wb.add_worksheet();
            ws.write(0, 0, "Họ và tên").unwrap();
            ws.write(1, 0, "Nguyễn Văn An").unwrap();
            match hide {
                Some("row") => {
                    ws.set_row_hidden(1).unwrap();
                }
                Some(_) => {
                    ws.set_column_hidden(3).unwrap();
                }
                None => {}
            }
            wb.save_to_buffer().unwrap()
        };
        let may_hide =
            |bytes: &[u8]| may_hide_rows(&mut ZipArchive::new(Cursor::new(bytes)).unwrap());
        assert!(!may_hide(&workbook(None)));
        assert!(may_hide(&workbook(Some("row"))));
        // A hidden column says `hidden="1"` too: the rows are then looked for, and none found.
        let with_column = workbook(Some("column"));
        assert!(may_hide(&with_column));
        let sheets = crate::sheet::read("ds.xlsx", &with_column).unwrap();
        assert!(sheets.iter().all(|s| s.hidden_rows.is_empty()));

        // The attribute is found wherever the pieces it is unpacked in end: around 64 KiB. The
        // styles' own `hidden="1"` (cell protection) is not about rows.
        let zipped = |sheet: &[u8]| {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default();
            for (name, xml) in [
                ("xl/worksheets/sheet1.xml", sheet),
                ("xl/styles.xml", br#"<protection hidden="1"/>"#.as_slice()),
            ] {
                zip.start_file(name, options).unwrap();
                std::io::Write::write_all(&mut zip, xml).unwrap();
            }
            zip.finish().unwrap().into_inner()
        };
        for at in 65_520..65_540 {
            let row = |attribute: &str| {
                let mut xml = vec![b' '; at];
                xml.extend_from_slice(format!(r#"<row r="2" {attribute}="1"/>"#).as_bytes());
                xml
            };
            assert!(may_hide(&zipped(&row("hidden"))), "at {at}");
            assert!(!may_hide(&zipped(&row("ht"))), "at {at}");
        }
        assert!(may_hide(&zipped(b"<row r='2' hidden = '1'/>")));
    }

    #[test]
    fn a_stray_cell_at_the_far_corner_is_left_out_not_allocated() {
        // One value at XFD1048576 beside a small table: read whole, calamine's dense range
        // would ask for 512 GiB and abort the process. A value 30,000 rows down fits the
        // budget: it is read (a long list is a list).
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write(0, 0, "Họ và tên").unwrap();
        ws.write(1, 0, "Nguyễn Văn An").unwrap();
        ws.write(1_048_575, 16_383, "x").unwrap();
        ws.write(30_000, 1, "y").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let sheets = crate::sheet::read("ds.xlsx", &bytes).unwrap();
        assert_eq!(sheets[0].stray_cells, 1);
        assert_eq!(sheets[0].rows.len(), 30_001);
        assert_eq!(sheets[0].rows[1][0], Cell::Text("Nguyễn Văn An".into()));
        assert_eq!(sheets[0].rows[30_000][1], Cell::Text("y".into()));
    }

    #[test]
    fn the_cells_read_are_those_calamine_s_worksheet_range_gives() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.extension().is_some_and(|e| e == "xlsx" || e == "xlsm") {
                continue;
            }
            // A file calamine panics on (caught by `sheet::read`, not here).
            if path.to_string_lossy().contains("calamine-overflow-panic") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Ok(mut wb) = open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(&bytes[..])) else {
                continue;
            };
            let (ours, _, _) = read_sheets(&mut wb, &mut Budget::new()).unwrap();
            let theirs = super::super::sheets_of(&mut wb).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{path:?}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(
                    (&a.name, &a.rows, a.first_row, a.first_col, a.hidden),
                    (&b.name, &b.rows, b.first_row, b.first_col, b.hidden),
                    "{path:?}"
                );
            }
            read += 1;
        }
        assert!(read >= 20, "only {read} xlsx fixtures");
    }

    #[test]
    fn named_elements_are_found_alone_whatever_their_prefix() {
        let xml = br#"<x:workbook xmlns:x="s"><x:sheets><x:sheet name="DS &gt; 1" r:id="rId2"/>
<x:sheet
  name="B>2" r:id="rId3"></x:sheet></x:sheets><x:sheetView/><definedName>sheet 1!A1</definedName>
<!-- a:sheet b --><sheetPr/></x:workbook>"#;
        let mut found = Vec::new();
        each_named(xml, "sheet", |e| {
            found.push(attrs(e, ["name", "r:id"]));
        });
        assert_eq!(
            found,
            vec![
                [Some("DS > 1".to_string()), Some("rId2".to_string())],
                [Some("B>2".to_string()), Some("rId3".to_string())],
            ]
        );
    }

    #[test]
    fn legacy_fonts_are_noticed_in_the_styles() {
        assert!(names_legacy_font(b"<font><name val=\".VnTime\"/></font>"));
        assert!(names_legacy_font(b"<font><name val=\"VNI-Times\"/></font>"));
        assert!(!names_legacy_font(
            b"<font><name val=\"Times New Roman\"/></font>"
        ));
    }
}
