//! A workbook's zip made again for calamine, the parts it reads unpacked once, by us: a
//! workaround for the time calamine spends opening a small list (a reader of the sample
//! campaign spent a third of each xlsx in `Xlsx::new`, and unpacked some parts twice).
//!
//! - The worksheets, the shared strings, the relationships and the workbook part are unpacked
//!   here whole (libdeflate, checked against their sizes and CRC-32s), looked through where we
//!   must (the shared strings' count, the word `hidden`), and stored in the copy uncompressed:
//!   calamine reads them without unpacking them again, and we without a second pass.
//! - The styles part, when no font in it is a legacy Vietnamese one, is cut to what calamine
//!   reads values with (`numFmts` and `cellXfs`, which tell dates from numbers), and the theme
//!   is left out: calamine 0.38 builds every font, fill, border and theme colour of a workbook
//!   before it reads a cell, and we use none of them.
//! - Every other part (pictures, the document's properties) is copied as it is, compressed.
//!
//! Anything unusual (a part that does not unpack to its declared size and CRC, two parts whose
//! names calamine would confuse, an encrypted part, more than [`MAX_COPY_BYTES`]) gives no copy:
//! the workbook is then read as it came. And `ooxml::read` reads the workbook as it came too
//! when calamine fails on some sheet of the copy: the copy can make reading faster, never lose
//! a sheet.

use std::io::{Cursor, Write};

use quick_xml::Reader as XmlReader;
use quick_xml::events::Event;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::ReadError;
use super::archive::{self, Zip};
use super::ooxml;

/// Most bytes the parts unpacked into a copy may take (a worksheet of a 5,000-row list is about
/// 2 MB): a bigger workbook is read as it came, its parts unpacked as calamine reads them, a
/// piece at a time. A copy is held twice at most while it is made (its parts, then the zip).
pub(super) const MAX_COPY_BYTES: u64 = 16 * 1024 * 1024;

/// The copy, and what was seen on the way.
pub(super) struct Unpacked {
    /// The zip calamine is to open.
    pub bytes: Vec<u8>,
    /// Some part that can be a worksheet has the word `hidden` (see `ooxml::may_hide_rows`).
    pub may_hide_rows: bool,
}

/// What becomes of one part in the copy.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    /// Copied as it is (a picture, the document's properties: nothing calamine reads).
    Kept,
    /// Unpacked and stored: relationships, the workbook part.
    Xml,
    /// Unpacked, looked through for `hidden`, stored.
    Worksheet,
    /// Unpacked, its count checked, stored.
    SharedStrings,
    /// Unpacked; cut to `numFmts` and `cellXfs` unless it names a legacy font.
    Styles,
    /// Left out when every styles part was cut.
    Theme,
}

/// What becomes of the part named `lower` (normalised), in a package whose workbook parts are
/// in `folders` (`xl/`, or the folders other packages put them in): calamine reads the styles
/// and theme beside the workbook, and only those are cut or left out.
fn part_of(lower: &str, folders: &[&str]) -> Part {
    let file = lower.rsplit('/').next().unwrap_or(lower);
    let beside = |rest: &str| {
        folders
            .iter()
            .any(|f| lower.strip_prefix(f).is_some_and(|r| r == rest))
    };
    if file == "sharedstrings.xml" {
        Part::SharedStrings
    } else if beside("styles.xml") {
        Part::Styles
    } else if beside("theme/theme1.xml") {
        Part::Theme
    } else if lower.ends_with(".rels") || beside("workbook.xml") {
        Part::Xml
    } else if ooxml::never_a_worksheet(lower) {
        Part::Kept
    } else {
        Part::Worksheet
    }
}

/// One entry of the zip, as its central directory and local header describe it.
struct Entry {
    /// Its name as the zip writes it.
    name: String,
    /// [`archive::normalised`].
    lower: String,
    part: Part,
    method: CompressionMethod,
    /// Where its data starts in the zip's bytes, and how long it is there.
    start: usize,
    compressed: usize,
    size: u64,
    crc32: u32,
}

/// The copy of the workbook `zip` holds (opened on `source`); `Ok(None)` when it is to be read
/// as it came. Its shared strings are refused here, as `ooxml::check_shared_strings` refuses
/// them, when over the budget.
pub(super) fn copy(zip: &mut Zip, source: &[u8]) -> Result<Option<Unpacked>, ReadError> {
    copy_within(zip, source, MAX_COPY_BYTES)
}

/// [`copy`], with at most `max` bytes unpacked into it.
fn copy_within(zip: &mut Zip, source: &[u8], max: u64) -> Result<Option<Unpacked>, ReadError> {
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let Ok(f) = zip.by_index_raw(i) else {
            return Ok(None);
        };
        let (Ok(name), Some(start)) = (f.name(), f.data_start()) else {
            return Ok(None);
        };
        if f.encrypted() {
            return Ok(None);
        }
        let lower = archive::normalised(&name);
        entries.push(Entry {
            name: name.to_string(),
            part: Part::Kept,
            lower,
            method: f.compression(),
            start: usize::try_from(start).unwrap_or(usize::MAX),
            compressed: usize::try_from(f.compressed_size()).unwrap_or(usize::MAX),
            size: f.size(),
            crc32: f.crc32(),
        });
    }
    // Two parts calamine would take for one (it compares names normalised): which it finds is
    // its business, not the copy's.
    let mut sorted: Vec<&str> = entries.iter().map(|e| e.lower.as_str()).collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Ok(None);
    }
    let folders: Vec<String> = entries
        .iter()
        .filter_map(|e| e.lower.strip_suffix("workbook.xml"))
        .filter(|f| f.is_empty() || f.ends_with('/'))
        .map(str::to_string)
        .collect();
    let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
    let mut total = 0u64;
    for e in &mut entries {
        if !e.lower.ends_with('/') {
            e.part = part_of(&e.lower, &folders);
        }
        if !matches!(e.part, Part::Kept | Part::Theme) {
            total += e.size;
            if total > max {
                return Ok(None);
            }
        }
    }

    let mut unpacked: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
    let mut may_hide_rows = false;
    let mut legacy = false;
    for e in &entries {
        if matches!(e.part, Part::Kept | Part::Theme) {
            unpacked.push(None);
            continue;
        }
        let Some(data) = unpack(source, e) else {
            return Ok(None);
        };
        match e.part {
            Part::Worksheet => {
                may_hide_rows |= memchr::memmem::find(&data, ooxml::HIDDEN).is_some();
            }
            Part::SharedStrings => {
                // Outside `xl/`, it could be a worksheet too, as `may_hide_rows` has it.
                if !ooxml::never_a_worksheet(&e.lower) {
                    may_hide_rows |= memchr::memmem::find(&data, ooxml::HIDDEN).is_some();
                }
                ooxml::check_shared_strings_in(&data[..], e.size)?;
            }
            Part::Styles => legacy |= ooxml::names_legacy_font(&data),
            Part::Kept | Part::Theme | Part::Xml => {}
        }
        unpacked.push(Some(data));
    }
    // Styles are cut, and the theme left out, only when no styles part names a legacy font
    // (their cells' text is then decoded by the font, which calamine must read) and each one
    // could be cut (a part our XML parser refuses is left for calamine to judge).
    let mut cut_all = !legacy;
    if cut_all {
        for (e, data) in entries.iter().zip(unpacked.iter_mut()) {
            if e.part == Part::Styles
                && let Some(data) = data.as_mut()
            {
                match cut_styles(data) {
                    Some(cut) => *data = cut,
                    None => cut_all = false,
                }
            }
        }
    }

    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let capacity = source.len() + unpacked.iter().flatten().map(Vec::len).sum::<usize>();
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(capacity)));
    for (i, (e, data)) in entries.iter().zip(unpacked).enumerate() {
        if e.part == Part::Theme && cut_all {
            continue;
        }
        let written = match data {
            Some(data) => {
                out.start_file(e.name.as_str(), stored).is_ok() && out.write_all(&data).is_ok()
            }
            None => match zip.by_index_raw(i) {
                Ok(f) => out.raw_copy_file(f).is_ok(),
                Err(_) => false,
            },
        };
        if !written {
            return Ok(None);
        }
    }
    let Ok(bytes) = out.finish() else {
        return Ok(None);
    };
    Ok(Some(Unpacked {
        bytes: bytes.into_inner(),
        may_hide_rows,
    }))
}

/// The entry's data unpacked, whole, checked against its declared size and CRC-32; `None` when
/// it is not (calamine then says what is wrong with it, reading the original).
fn unpack(source: &[u8], e: &Entry) -> Option<Vec<u8>> {
    let raw = source.get(e.start..e.start.checked_add(e.compressed)?)?;
    let size = usize::try_from(e.size).ok()?;
    let data = match e.method {
        CompressionMethod::Stored if raw.len() == size => raw.to_vec(),
        CompressionMethod::Deflated => {
            let mut out = vec![0u8; size];
            let n = INFLATER
                .with_borrow_mut(|d| d.deflate_decompress(raw, &mut out))
                .ok()?;
            if n != size {
                return None;
            }
            out
        }
        _ => return None,
    };
    (libdeflater::crc32(&data) == e.crc32).then_some(data)
}

thread_local! {
    /// libdeflate's whole-buffer inflate, made once a thread (it allocates its tables).
    static INFLATER: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// A styles part cut to its `numFmts` and `cellXfs` (what calamine tells dates by), in their
/// order, inside the part's own root element (its namespaces kept); `None` when the part is not
/// one this is sure of: its root not a `styleSheet`, a comment or CDATA section in it (where the
/// names could be written without being elements), or either element not whole.
///
/// The two are found by their text, not by parsing the part: this runs for every workbook, and
/// an XML parser's pass over the styles was most of the time saved.
fn cut_styles(xml: &[u8]) -> Option<Vec<u8>> {
    let mut reader = XmlReader::from_reader(xml);
    let (head_end, root) = loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if AsRef::<str>::as_ref(&e.local_name()) != "styleSheet" {
                    return None;
                }
                let name = AsRef::<str>::as_ref(&e.name()).to_string();
                break (reader.buffer_position() as usize, name);
            }
            Event::Decl(_) | Event::Text(_) | Event::PI(_) => {}
            _ => return None,
        }
    };
    let body = &xml[head_end..];
    if memchr::memmem::find(body, b"<!").is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(xml.len().min(head_end + 4096));
    out.extend_from_slice(&xml[..head_end]);
    let mut spans = Vec::with_capacity(2);
    for name in ["numFmts", "cellXfs"] {
        if let Some(span) = element(body, name)? {
            spans.push(span);
        }
    }
    spans.sort_unstable();
    for (a, b) in spans {
        out.extend_from_slice(&body[a..b]);
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(root.as_bytes());
    out.push(b'>');
    Some(out)
}

/// Where the first element named `local_name` (whatever its prefix) starts and ends in `body`:
/// `Some(None)` when there is none, `None` when one starts but does not end.
fn element(body: &[u8], local_name: &str) -> Option<Option<(usize, usize)>> {
    let Some(start) = ooxml::tag_starts(body, local_name).next() else {
        return Some(None);
    };
    // The start tag parsed alone: its attributes may hold a `>`.
    let mut reader = XmlReader::from_reader(&body[start..]);
    match reader.read_event().ok()? {
        Event::Empty(_) => Some(Some((start, start + reader.buffer_position() as usize))),
        Event::Start(e) => {
            let tag_end = start + reader.buffer_position() as usize;
            let mut close = b"</".to_vec();
            close.extend_from_slice(AsRef::<str>::as_ref(&e.name()).as_bytes());
            close.push(b'>');
            let end = memchr::memmem::find(&body[tag_end..], &close)?;
            Some(Some((start, tag_end + end + close.len())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use zip::ZipArchive;

    use super::*;
    use crate::sheet::{Budget, Sheet};

    /// The workbook read as it came, and read from its copy (`None` when no copy is made);
    /// both as calamine's errors and our sheets print, a panic (calamine's, which `sheet::read`
    /// catches) as `panic`.
    fn both_ways(bytes: &[u8]) -> (String, Option<String>) {
        let show = |r: std::thread::Result<Result<(Vec<Sheet>, bool), ReadError>>| match r {
            Ok(r) => format!("{r:?}"),
            Err(_) => "panic".to_string(),
        };
        let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
        let Some(c) = copy(&mut zip, bytes).unwrap() else {
            return (String::new(), None);
        };
        // `seen`: what the copy saw of hidden rows; `None` for the original, which looks.
        let mut read = |source: &[u8], seen: Option<bool>| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let may_hide = |z: &mut Zip| seen.unwrap_or_else(|| ooxml::may_hide_rows(z));
                ooxml::read_workbook(source, Some(&mut zip), true, may_hide, &mut Budget::new())
            }))
        };
        let original = show(read(bytes, None));
        let copied = show(read(&c.bytes, Some(c.may_hide_rows)));
        (original, Some(copied))
    }

    fn workbooks_in(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                workbooks_in(&p, out);
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("xlsx") || x.eq_ignore_ascii_case("xlsm"))
            {
                out.push(p);
            }
        }
    }

    /// Every xlsx of the fixtures (and of the folders `CTS_COPY_DIFF_DIRS` names, `:`-separated:
    /// other projects' test files) reads from its copy exactly as it reads as it came: the
    /// same cells, dates, hidden rows, decoded legacy text, sheets left out; or the copy fails
    /// where the original reads (then the original is what `read` gives).
    #[test]
    fn a_workbook_reads_the_same_from_its_copy() {
        let mut files = Vec::new();
        workbooks_in(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            &mut files,
        );
        let fixtures = files.len();
        if let Ok(dirs) = std::env::var("CTS_COPY_DIFF_DIRS") {
            for d in dirs.split(':') {
                workbooks_in(Path::new(d), &mut files);
            }
        }
        let (mut copied, mut fell_back, mut differ) = (0, 0, Vec::new());
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            if ZipArchive::new(Cursor::new(&bytes[..])).is_err() {
                continue;
            }
            let (original, from_copy) = both_ways(&bytes);
            let Some(from_copy) = from_copy else { continue };
            copied += 1;
            // The copy failing is no difference: `read` then reads the original.
            if !(from_copy.starts_with("Ok((") && from_copy.ends_with(", false))")) {
                fell_back += 1;
            } else if from_copy != original {
                differ.push(format!(
                    "{}:\n  original {original}\n  copy     {from_copy}",
                    f.display()
                ));
            }
        }
        assert!(
            differ.is_empty(),
            "{} of {} differ:\n{}",
            differ.len(),
            files.len(),
            differ.join("\n")
        );
        // Most fixtures are copied (a test that never made a copy would prove nothing).
        assert!(
            copied * 2 > fixtures,
            "only {copied} of {fixtures} fixtures were copied"
        );
        eprintln!(
            "{copied} of {} workbooks copied; {fell_back} of those read as they came",
            files.len()
        );
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    /// The zip again, each entry through `f` (its name and unpacked data; `None` drops it),
    /// then the entries `extra` adds.
    fn rezip(
        bytes: &[u8],
        f: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
        extra: &[(&str, &[u8])],
    ) -> Vec<u8> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = SimpleFileOptions::default();
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).unwrap();
            let name = e.name().unwrap().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            if let Some((name, data)) = f(&name, data) {
                out.start_file(name, deflated).unwrap();
                out.write_all(&data).unwrap();
            }
        }
        for (name, data) in extra {
            out.start_file(*name, deflated).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn copy_of(bytes: &[u8]) -> Option<Unpacked> {
        copy(&mut ZipArchive::new(Cursor::new(bytes)).unwrap(), bytes).unwrap()
    }

    fn read(bytes: &[u8]) -> String {
        format!("{:?}", ooxml::read(bytes, None, true, &mut Budget::new()))
    }

    fn as_it_came(bytes: &[u8]) -> String {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
        let read = ooxml::read_workbook(
            bytes,
            Some(&mut zip),
            true,
            ooxml::may_hide_rows,
            &mut Budget::new(),
        );
        format!("{:?}", read.map(|(sheets, _)| sheets))
    }

    #[test]
    fn the_copy_stores_what_it_unpacked_and_cuts_the_styles() {
        let bytes = fixture("fmt-xlsx-clean.xlsx");
        let c = copy_of(&bytes).expect("a copy");
        let mut zip = ZipArchive::new(Cursor::new(&c.bytes[..])).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert!(!names.iter().any(|n| n.contains("theme")), "{names:?}");
        let sheet = zip.by_name("xl/worksheets/sheet1.xml").unwrap();
        assert_eq!(sheet.compression(), CompressionMethod::Stored);
        drop(sheet);
        let mut styles = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/styles.xml").unwrap(), &mut styles)
            .unwrap();
        assert!(
            styles.contains("<cellXfs") && !styles.contains("<fonts"),
            "{styles}"
        );
        assert!(!c.may_hide_rows);
        assert!(
            copy_of(&fixture("layout-hidden-rows.xlsx"))
                .unwrap()
                .may_hide_rows
        );
    }

    #[test]
    fn a_legacy_font_keeps_the_styles_and_the_theme() {
        let bytes = fixture("text-tcvn3-vntime-font.xlsx");
        let c = copy_of(&bytes).expect("a copy");
        let mut zip = ZipArchive::new(Cursor::new(&c.bytes[..])).unwrap();
        let mut styles = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/styles.xml").unwrap(), &mut styles)
            .unwrap();
        assert!(styles.contains("<fonts"), "{styles}");
        assert_eq!(read(&bytes), as_it_came(&bytes));
    }

    #[test]
    fn a_damaged_part_gives_no_copy_and_reads_as_before() {
        let bytes = fixture("fmt-xlsx-clean.xlsx");
        let mut zip = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        let sheet = zip.by_name("xl/worksheets/sheet1.xml").unwrap();
        let at = sheet.data_start().unwrap() as usize + sheet.compressed_size() as usize / 2;
        drop(sheet);
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x55;
        assert!(copy_of(&damaged).is_none());
        assert_eq!(read(&damaged), as_it_came(&damaged));
    }

    #[test]
    fn parts_calamine_would_confuse_give_no_copy() {
        let bytes = fixture("fmt-xlsx-clean.xlsx");
        let twice = rezip(
            &bytes,
            |n, d| Some((n.to_string(), d)),
            &[("XL/Worksheets/Sheet1.xml", b"<worksheet/>")],
        );
        assert!(copy_of(&twice).is_none());
    }

    #[test]
    fn a_copy_past_its_bound_is_not_made() {
        let bytes = fixture("fmt-xlsx-clean.xlsx");
        let mut zip = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        assert!(copy_within(&mut zip, &bytes, 100).unwrap().is_none());
        assert!(
            copy_within(&mut zip, &bytes, MAX_COPY_BYTES)
                .unwrap()
                .is_some()
        );
    }

    /// A worksheet where the theme is expected is left out of the copy: calamine fails on that
    /// sheet there, and the workbook is read as it came, its rows all there.
    #[test]
    fn a_sheet_the_copy_lost_is_read_from_the_workbook_as_it_came() {
        let bytes = fixture("fmt-xlsx-clean.xlsx");
        let moved = rezip(
            &bytes,
            |n, d| match n {
                "xl/theme/theme1.xml" => None,
                "xl/worksheets/sheet1.xml" => Some(("xl/theme/theme1.xml".into(), d)),
                "xl/_rels/workbook.xml.rels" => Some((
                    n.into(),
                    String::from_utf8(d)
                        .unwrap()
                        .replace("worksheets/sheet1.xml", "theme/theme1.xml")
                        .into_bytes(),
                )),
                _ => Some((n.to_string(), d)),
            },
            &[],
        );
        let c = copy_of(&moved).expect("a copy");
        let mut zip = ZipArchive::new(Cursor::new(&moved[..])).unwrap();
        let from_copy = ooxml::read_workbook(
            &c.bytes,
            Some(&mut zip),
            true,
            |_| false,
            &mut Budget::new(),
        );
        assert!(
            !matches!(from_copy, Ok((_, false))),
            "the copy lost the sheet: {from_copy:?}"
        );
        let read = read(&moved);
        assert_eq!(read, as_it_came(&moved));
        assert_eq!(
            read,
            as_it_came(&bytes).replace("xl/worksheets/sheet1.xml", "xl/theme/theme1.xml")
        );
    }

    #[test]
    fn styles_are_cut_only_when_sure() {
        let cut = |x: &str| cut_styles(x.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            cut(r#"<?xml version="1.0"?><x:styleSheet xmlns:x="s"><x:numFmts count="1"><x:numFmt numFmtId="164" formatCode="d&gt;m"/></x:numFmts><x:fonts><x:font/></x:fonts><x:cellXfs count="1"><x:xf numFmtId="164"/></x:cellXfs><x:dxfs/></x:styleSheet>"#)
                .as_deref(),
            Some(r#"<?xml version="1.0"?><x:styleSheet xmlns:x="s"><x:numFmts count="1"><x:numFmt numFmtId="164" formatCode="d&gt;m"/></x:numFmts><x:cellXfs count="1"><x:xf numFmtId="164"/></x:cellXfs></x:styleSheet>"#)
        );
        // An attribute holding `>`; an empty numFmts; no cellXfs.
        assert_eq!(
            cut(r#"<styleSheet a=">"><numFmts t=">"/><fonts/></styleSheet>"#).as_deref(),
            Some(r#"<styleSheet a=">"><numFmts t=">"/></styleSheet>"#)
        );
        // cellStyleXfs is not cellXfs.
        assert_eq!(
            cut(r#"<styleSheet><cellStyleXfs><xf/></cellStyleXfs><cellXfs><xf numFmtId="14"/></cellXfs></styleSheet>"#).as_deref(),
            Some(r#"<styleSheet><cellXfs><xf numFmtId="14"/></cellXfs></styleSheet>"#)
        );
        // Not sure: a comment, another root, an element not closed, a DOCTYPE.
        assert_eq!(
            cut(r#"<styleSheet><!-- <cellXfs></cellXfs> --><cellXfs/></styleSheet>"#),
            None
        );
        assert_eq!(cut(r#"<worksheet><cellXfs/></worksheet>"#), None);
        assert_eq!(cut(r#"<styleSheet><cellXfs><xf/></styleSheet>"#), None);
        assert_eq!(
            cut(r#"<!DOCTYPE s><styleSheet><cellXfs/></styleSheet>"#),
            None
        );
    }
}
