//! Attachment bytes → [`Sheet`]s: the format is sniffed from the bytes (not the name), then read
//! with calamine (xlsx, xlsm, xlsb, xls, ods), the csv crate (csv in UTF-8, UTF-16 or
//! Windows-1258), a small table reader (HTML or XML "xls" exported by web systems), or unpacked
//! from a zip (one level, with limits). Legacy Vietnamese encodings are decoded here, before
//! anything reads the text. [`header`] then finds the table in a sheet.
//!
//! Whatever the bytes, reading never panics: what cannot be read is a [`ReadError`] that says
//! why in terms the school can act on. Nor does it abort (a failed allocation is an abort, which
//! no `catch_unwind` catches) or run away: one attachment (a zip's files together) may make
//! grids of at most [`MAX_CELLS`] cells holding [`MAX_TEXT_BYTES`] of text, checked before
//! anything is allocated from a size the file declares; cells far from the table that would
//! pass it are left out ([`Sheet::stray_cells`]), and a file that needs more is
//! [`ReadError::TooLarge`]. `tests/it/hostile.rs` reads crafted files under a memory limit.

pub mod header;
mod layout;

mod archive;
mod biff;
mod delimited;
mod markup;
mod ooxml;
mod unpacked;

pub use delimited::Table as DelimitedText;
pub use layout::{Layout, MAX_MERGES, cell_ref, layout, range_ref};

use std::io::Cursor;

use calamine::{Data, Range, Reader, SheetType, SheetVisible, Xlsb, open_workbook_from_rs};
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
#[derive(Debug, Clone, Default)]
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
    /// 0-based rows (as in the workbook, not in `rows`) hidden by the school: they are read, and
    /// the school is warned, since what it printed and signed does not show them.
    pub hidden_rows: Vec<u32>,
    /// The file inside a zip this sheet came from ("" when the attachment itself is the workbook).
    pub file: String,
    /// Cells left out because the grid holding them would pass the attachment's [`MAX_CELLS`]
    /// (a stray value far from the table; the school is warned).
    pub stray_cells: usize,
}

/// Most cells the grids of one attachment may hold, all its sheets (and every file of a zip)
/// together, empty cells inside a grid included: each sheet is built as a dense grid, so a
/// stray value a million rows down would otherwise ask for gigabytes (32 bytes a cell). A list
/// of 5,000 people is about 100,000 cells; 115 columns by 32,770 rows is 3.8 million. Where a
/// format declares a size (xls DIMENSIONS, xlsx `uniqueCount`, ods repeats, HTML spans) it is
/// checked before anything is allocated from it.
pub const MAX_CELLS: u64 = 4_000_000;
/// Most bytes of cell text one attachment may hold (a shared string repeated in every cell is
/// counted each time, as it is copied each time).
pub const MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes the parts of one zipped workbook (xlsx, xlsb, ods) may unpack to, as its zip
/// directory declares them (the unpacking stops where the declared size ends).
pub const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// What one attachment may still allocate: cells and text, spent as sheets are read.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    cells: u64,
    text: u64,
}

impl Budget {
    pub(crate) fn new() -> Budget {
        Budget {
            cells: MAX_CELLS,
            text: MAX_TEXT_BYTES,
        }
    }

    /// The cells still allowed.
    pub(crate) fn cells(&self) -> u64 {
        self.cells
    }

    /// Spends `n` cells, or says the attachment is too large.
    pub(crate) fn take_cells(&mut self, n: u64) -> Result<(), ReadError> {
        self.cells = self.cells.checked_sub(n).ok_or(ReadError::TooLarge)?;
        Ok(())
    }

    /// Spends `n` bytes of text, or says the attachment is too large.
    pub(crate) fn take_text(&mut self, n: u64) -> Result<(), ReadError> {
        self.text = self.text.checked_sub(n).ok_or(ReadError::TooLarge)?;
        Ok(())
    }
}

/// The last row and column (inclusive) of the box, from the smallest row and column of the
/// cells at `rows` and `cols` (one entry per cell, in any order), that holds at most `limit`
/// cells: the cells beyond it are stray values far from the table. Greedy: while the box is
/// too large, the cells on its last row or on its last column are left out, whichever leaves
/// the smaller box. (Each bound is taken over all the cells, so the box is never smaller than
/// the cells kept need.) `None` when not even one cell fits.
pub(crate) fn fitting_box(
    mut rows: Vec<u32>,
    mut cols: Vec<u32>,
    limit: u64,
) -> Option<(u32, u32)> {
    // Mostly the whole span fits: no need to sort.
    let span = |v: &[u32]| Some((*v.iter().min()?, *v.iter().max()?));
    if let (Some((r0, r1)), Some((c0, c1))) = (span(&rows), span(&cols))
        && u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1) <= limit
    {
        return Some((r1, c1));
    }
    rows.sort_unstable();
    cols.sort_unstable();
    let (Some(&r0), Some(&c0)) = (rows.first(), cols.first()) else {
        return Some((0, 0));
    };
    let area = |r: u32, c: u32| u64::from(r - r0 + 1) * u64::from(c - c0 + 1);
    let (mut ri, mut ci) = (rows.len(), cols.len());
    loop {
        let (rmax, cmax) = (rows[ri - 1], cols[ci - 1]);
        if area(rmax, cmax) <= limit {
            return Some((rmax, cmax));
        }
        let ri2 = rows[..ri].partition_point(|&r| r < rmax);
        let ci2 = cols[..ci].partition_point(|&c| c < cmax);
        let by_row = (ri2 > 0).then(|| area(rows[ri2 - 1], cmax));
        let by_col = (ci2 > 0).then(|| area(rmax, cols[ci2 - 1]));
        match (by_row, by_col) {
            (None, None) => return None,
            (Some(a), Some(b)) if a <= b => ri = ri2,
            (Some(_), None) => ri = ri2,
            _ => ci = ci2,
        }
    }
}

/// The file formats recognised by their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Office Open XML workbook (xlsx, xlsm: macros are never run).
    Xlsx,
    /// Excel binary workbook (xlsb).
    Xlsb,
    /// Excel 97-2003 (BIFF8).
    Xls,
    Ods,
    Csv,
    /// An HTML table or an XML Spreadsheet 2003, often named ".xls" by web systems.
    Markup,
    /// A zip holding lists.
    Zip,
}

/// What a file that is not a spreadsheet is, so the answer can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Pdf,
    Word,
    Image,
    /// Anything else (a presentation, an executable, unknown bytes).
    Other,
}

/// Why an archive was not unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveProblem {
    /// More entries, more bytes or a higher compression ratio than a list needs: a zip bomb, or
    /// not a list.
    TooLarge,
    /// A zip inside the zip.
    Nested,
    /// Entries protected by a password.
    Encrypted,
    /// No spreadsheet inside.
    NoList,
}

/// Why an attachment could not be read as a list, in words the school can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not a spreadsheet at all (image, PDF, Word...).
    #[error("not a spreadsheet ({0:?})")]
    NotSpreadsheet(Document),
    /// A workbook protected by a password.
    #[error("the workbook is password protected")]
    Encrypted,
    /// A spreadsheet that could not be opened.
    #[error("the file is damaged or unreadable: {0}")]
    Corrupt(String),
    /// A workbook with no visible cell.
    #[error("the workbook is empty")]
    Empty,
    /// More cells or text than one attachment may hold ([`MAX_CELLS`], [`MAX_TEXT_BYTES`],
    /// [`MAX_UNPACKED_BYTES`]): a crafted file, or a workbook holding far more than a list.
    #[error("the file holds more cells or text than a list may")]
    TooLarge,
    /// Outlook's TNEF wrapper (winmail.dat): the real attachments are inside it.
    #[error("a winmail.dat (TNEF) attachment")]
    Winmail,
    /// A zip that was not unpacked.
    #[error("archive refused: {0:?}")]
    Archive(ArchiveProblem),
    /// A file inside a zip could not be read.
    #[error("{entry} in the archive: {error}")]
    InArchive {
        entry: String,
        error: Box<ReadError>,
    },
}

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sheet(Format),
    Document(Document),
    Encrypted,
    Winmail,
}

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const TNEF_MAGIC: [u8; 4] = [0x78, 0x9F, 0x3E, 0x22];

/// Says what spreadsheet format the bytes are, whatever the file is called.
pub fn sniff(filename: &str, bytes: &[u8]) -> Option<Format> {
    match kind(filename, bytes) {
        Some(Kind::Sheet(f)) => Some(f),
        _ => None,
    }
}

fn utf16_name(name: &str) -> Vec<u8> {
    name.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn extension(filename: &str) -> String {
    filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn kind(filename: &str, bytes: &[u8]) -> Option<Kind> {
    kind_and_zip(filename, bytes).0
}

/// What the bytes are, and the zip opened to tell it when they are one, so that reading the
/// workbook need not parse its directory once more.
fn kind_and_zip<'a>(filename: &str, bytes: &'a [u8]) -> (Option<Kind>, Option<archive::Zip<'a>>) {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let (kind, zip) = archive::open(bytes);
        return (Some(kind), zip);
    }
    (kind_of_other(filename, bytes), None)
}

/// What bytes that are not a zip are.
fn kind_of_other(filename: &str, bytes: &[u8]) -> Option<Kind> {
    let ext = extension(filename);
    if bytes.starts_with(&OLE_MAGIC[..4]) {
        // A compound file: an xls, an encrypted xlsx, or a Word/PowerPoint 97 file. The directory
        // names its streams in UTF-16.
        return Some(if contains(bytes, &utf16_name("EncryptedPackage")) {
            Kind::Encrypted
        } else if contains(bytes, &utf16_name("Workbook")) || contains(bytes, &utf16_name("Book")) {
            Kind::Sheet(Format::Xls)
        } else if contains(bytes, &utf16_name("WordDocument")) {
            Kind::Document(Document::Word)
        } else if contains(bytes, &utf16_name("__substg1.0_")) {
            // An Outlook .msg: a mail saved as a file.
            Kind::Document(Document::Other)
        } else {
            Kind::Sheet(Format::Xls)
        });
    }
    if bytes.starts_with(&TNEF_MAGIC) || filename.eq_ignore_ascii_case("winmail.dat") {
        return Some(Kind::Winmail);
    }
    if bytes.starts_with(b"%PDF") {
        return Some(Kind::Document(Document::Pdf));
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some(Kind::Document(Document::Word));
    }
    if is_image(bytes) {
        return Some(Kind::Document(Document::Image));
    }
    if let Some(text) = delimited::decode_text(bytes) {
        if markup::is_markup(&text) {
            return Some(Kind::Sheet(Format::Markup));
        }
        if ext == "csv" || delimited::looks_delimited(&text) {
            return Some(Kind::Sheet(Format::Csv));
        }
    }
    match ext.as_str() {
        "pdf" => Some(Kind::Document(Document::Pdf)),
        "doc" | "docx" | "odt" | "rtf" => Some(Kind::Document(Document::Word)),
        "jpg" | "jpeg" | "png" | "heic" | "gif" | "bmp" | "tif" | "tiff" | "webp" => {
            Some(Kind::Document(Document::Image))
        }
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" | "zip" => Some(Kind::Sheet(Format::Xlsx)),
        // Meant as a list but not text (a NUL byte in it): the CSV reader says it is damaged,
        // which tells the school more than "not a spreadsheet".
        "csv" => Some(Kind::Sheet(Format::Csv)),
        _ => None,
    }
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(b"GIF8")
        || bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || (bytes.len() > 12 && &bytes[4..8] == b"ftyp" && contains(&bytes[8..12], b"hei"))
        || (bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP")
}

/// How the pipeline should treat an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A list (or meant as one): read it, and answer if it cannot be read.
    List,
    /// A PDF, Word file or photo: a list sent in the wrong form when nothing else was attached,
    /// otherwise a cover letter or a scan of the signed copy.
    Document,
    /// A logo, a signature, a text part: not about the list.
    Ignore,
}

/// Photos of a list are large; logos and signature images in a mail are small.
const PHOTO_MIN_BYTES: usize = 50 * 1024;

/// Says what an attachment is for.
pub fn role(filename: &str, content_type: &str, bytes: &[u8]) -> Role {
    examine(filename, bytes).role(content_type)
}

/// An attachment sniffed once, for [`Sniffed::role`] and then [`Sniffed::read`]: what its bytes
/// are, and the zip opened to tell it when they are one (an xlsx's directory is then parsed once,
/// not once to tell its role and again to read it).
pub struct Sniffed<'a> {
    filename: &'a str,
    bytes: &'a [u8],
    kind: Option<Kind>,
    zip: Option<archive::Zip<'a>>,
}

/// Sniffs an attachment once (see [`Sniffed`]).
pub fn examine<'a>(filename: &'a str, bytes: &'a [u8]) -> Sniffed<'a> {
    let (kind, zip) = kind_and_zip(filename, bytes);
    Sniffed {
        filename,
        bytes,
        kind,
        zip,
    }
}

impl Sniffed<'_> {
    /// What the attachment is for ([`role`]).
    pub fn role(&self, content_type: &str) -> Role {
        let ext = extension(self.filename);
        match self.kind {
            Some(Kind::Sheet(_) | Kind::Encrypted | Kind::Winmail) => Role::List,
            Some(Kind::Document(Document::Image)) if self.bytes.len() < PHOTO_MIN_BYTES => {
                Role::Ignore
            }
            Some(Kind::Document(_)) => Role::Document,
            None if ["xlsx", "xlsm", "xls", "xlsb", "ods", "csv"].contains(&ext.as_str())
                || content_type.contains("spreadsheet")
                || content_type.contains("excel") =>
            {
                Role::List
            }
            None => Role::Ignore,
        }
    }

    /// True when the attachment is HTML a mail client may have made of the mail's body
    /// rather than a list the school attached: an HTML file with no name or named `.htm` or
    /// `.html` (Outlook, Exchange and Apple Mail add the rest of a body after an attachment
    /// as "ATT00001.htm"). Such a part is a list only if a table of recognised headers is
    /// found in it; otherwise it is passed over, not answered. (A web system's export named
    /// ".xls" is not such a part.)
    pub fn is_html_body(&self) -> bool {
        self.kind == Some(Kind::Sheet(Format::Markup))
            && (self.filename.is_empty()
                || ["htm", "html"].contains(&extension(self.filename).as_str()))
            && !contains(
                &self.bytes[..self.bytes.len().min(64 * 1024)],
                b"urn:schemas-microsoft-com:office:spreadsheet",
            )
    }

    /// Reads every sheet of the attachment ([`read`]).
    pub fn read(self) -> Result<Vec<Sheet>, ReadError> {
        let want = Want {
            archives: true,
            hidden_rows: true,
        };
        read_guarded(|| {
            let budget = &mut Budget::new();
            read_sniffed(self.filename, self.bytes, self.kind, self.zip, want, budget)
        })
    }
}

/// Reads every sheet of an attachment (every sheet of every list in a zip).
pub fn read(filename: &str, bytes: &[u8]) -> Result<Vec<Sheet>, ReadError> {
    read_with(filename, bytes, true)
}

/// [`read`], without the work of finding the rows the school hid: `hidden_rows` may be left
/// empty. For a caller that shows every row anyway, such as the annotated copy of the file.
pub fn read_cells(filename: &str, bytes: &[u8]) -> Result<Vec<Sheet>, ReadError> {
    read_with(filename, bytes, false)
}

/// What reading looks for beyond the cells.
#[derive(Debug, Clone, Copy)]
struct Want {
    /// A zip of lists is unpacked (it is not inside a zip itself).
    archives: bool,
    /// The rows the school hid are marked.
    hidden_rows: bool,
}

fn read_with(filename: &str, bytes: &[u8], hidden_rows: bool) -> Result<Vec<Sheet>, ReadError> {
    let want = Want {
        archives: true,
        hidden_rows,
    };
    read_guarded(|| read_kind(filename, bytes, want, &mut Budget::new()))
}

/// Runs a reader and finishes its sheets: the sheets whose text is in a legacy encoding
/// decoded, an attachment with no value at all an error.
fn read_guarded(
    read: impl FnOnce() -> Result<Vec<Sheet>, ReadError>,
) -> Result<Vec<Sheet>, ReadError> {
    // The readers are third-party code on untrusted bytes: a panic in one is a damaged file,
    // never a crashed daemon. (What a reader left half done is dropped with it.)
    let mut sheets = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(ReadError::Corrupt("the reader panicked".into())))?;
    if sheets
        .iter()
        .all(|s| s.rows.iter().all(|r| r.iter().all(Cell::is_empty)))
    {
        return Err(ReadError::Empty);
    }
    for s in &mut sheets {
        decode_legacy(s);
    }
    Ok(sheets)
}

fn read_kind(
    filename: &str,
    bytes: &[u8],
    want: Want,
    budget: &mut Budget,
) -> Result<Vec<Sheet>, ReadError> {
    let (kind, zip) = kind_and_zip(filename, bytes);
    read_sniffed(filename, bytes, kind, zip, want, budget)
}

/// Reads bytes whose kind is known (and whose zip is open, when they are one), spending
/// `budget` on the cells and text read.
fn read_sniffed<'a>(
    filename: &str,
    bytes: &'a [u8],
    kind: Option<Kind>,
    mut zip: Option<archive::Zip<'a>>,
    want: Want,
    budget: &mut Budget,
) -> Result<Vec<Sheet>, ReadError> {
    match kind {
        Some(Kind::Sheet(Format::Xlsx)) => ooxml::read(bytes, zip, want.hidden_rows, budget),
        Some(Kind::Sheet(Format::Xlsb)) => {
            archive::check_unpacked(zip.as_mut())?;
            // calamine keeps every shared string, each at least 24 bytes however short: its
            // part is bounded like the text (7 bytes a string is 38 million in 256 MiB).
            // Every part of that name, in whatever folder or spelling ([`archive::entries_named`]).
            if let Some(z) = zip.as_mut() {
                for name in archive::entries_named(z, "sharedStrings.bin") {
                    if z.by_name(&name).is_ok_and(|f| f.size() > MAX_TEXT_BYTES) {
                        return Err(ReadError::TooLarge);
                    }
                }
            }
            read_xlsb(bytes, budget)
        }
        Some(Kind::Sheet(Format::Xls)) => biff::read(bytes, budget),
        Some(Kind::Sheet(Format::Ods)) => {
            let mut zip = zip.or_else(|| zip::ZipArchive::new(Cursor::new(bytes)).ok());
            archive::check_unpacked(zip.as_mut())?;
            if let Some(z) = zip.as_mut() {
                ooxml::check_ods(z, budget)?;
            }
            let mut sheets = read_calamine::<calamine::Ods<_>>(bytes)?;
            if want.hidden_rows {
                ooxml::mark_ods_hidden_rows(bytes, zip, &mut sheets);
            }
            Ok(sheets)
        }
        Some(Kind::Sheet(Format::Csv)) => Ok(vec![delimited::read(filename, bytes, budget)?]),
        Some(Kind::Sheet(Format::Markup)) => markup::read(filename, bytes, budget),
        Some(Kind::Sheet(Format::Zip)) if want.archives => archive::read(bytes, want, budget),
        Some(Kind::Sheet(Format::Zip)) => Err(ReadError::Archive(ArchiveProblem::Nested)),
        Some(Kind::Encrypted) => Err(ReadError::Encrypted),
        Some(Kind::Winmail) => Err(ReadError::Winmail),
        Some(Kind::Document(d)) => Err(ReadError::NotSpreadsheet(d)),
        None => Err(ReadError::NotSpreadsheet(Document::Other)),
    }
}

/// Decodes TCVN3 and VNI text left in a sheet (fonts, where the format keeps them, were used
/// while reading): each cell by its characters, else by its column's leaning, else, in a sheet
/// with no Unicode Vietnamese at all, by the sheet's leaning (a header "Soá CCCD" above digits).
fn decode_legacy(sheet: &mut Sheet) {
    use crate::legacy::{Votes, decode_cell};
    // Each cell's vote is counted once: a column's leaning is the sum of its cells', the
    // sheet's the sum of its columns'. ASCII text has no vote and is never decoded.
    let width = sheet.rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut columns = vec![Votes::default(); width];
    for row in &sheet.rows {
        for (c, votes) in row.iter().zip(columns.iter_mut()) {
            if let Cell::Text(t) = c
                && !t.is_ascii()
            {
                add_votes(votes, Votes::count(std::iter::once(t.as_str())));
            }
        }
    }
    let whole = columns.iter().fold(Votes::default(), |mut sum, v| {
        add_votes(&mut sum, *v);
        sum
    });
    if whole == Votes::default() {
        return;
    }
    // No cell that shows a legacy encoding: no leaning is legacy either, so no cell changes.
    if whole.tcvn3 > 0 || whole.vni > 0 {
        let sheet_fallback = if whole.unicode == 0 {
            whole.decision()
        } else {
            None
        };
        for (j, votes) in columns.iter().enumerate() {
            let fallback = votes.decision().or(sheet_fallback);
            for row in &mut sheet.rows {
                if let Some(Cell::Text(t)) = row.get_mut(j)
                    && !t.is_ascii()
                    && let Some(d) = decode_cell(t, fallback)
                {
                    *t = d;
                }
            }
        }
    }
    // A sheet's name in legacy characters, when they are unmistakable ("Danh sách" is not).
    if let Some(d) = decode_cell(&sheet.name, None) {
        sheet.name = d;
    }
}

/// Adds one count of votes to another.
fn add_votes(sum: &mut crate::legacy::Votes, v: crate::legacy::Votes) {
    sum.tcvn3 += v.tcvn3;
    sum.vni += v.vni;
    sum.unicode += v.unicode;
}

/// Reads an xlsb workbook's worksheets a cell at a time (calamine's `worksheet_range` builds
/// the grid from the cells' span: one cell at XFD1048576 would ask for 512 GiB).
///
/// A chart or dialog sheet is skipped, and a worksheet calamine fails on is skipped when
/// another could be read: calamine's range readers fail the whole call on a sheet that is not
/// a worksheet (a calamine limitation worth reporting upstream).
fn read_xlsb(bytes: &[u8], budget: &mut Budget) -> Result<Vec<Sheet>, ReadError> {
    let mut wb: Xlsb<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(classify)?;
    let meta: Vec<(String, bool, SheetType)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible, s.typ))
        .collect();
    let mut sheets = Vec::with_capacity(meta.len());
    let mut failed = None;
    for (name, hidden, typ) in meta {
        if typ != SheetType::WorkSheet {
            continue;
        }
        let read = (|| {
            let mut reader = wb.worksheet_cells_reader(&name).map_err(classify)?;
            let mut cells = Cells::new(reader.dimensions().len());
            while let Some(cell) = reader.next_cell().map_err(classify)? {
                cells.push(cell.get_position(), cell.get_value(), budget)?;
            }
            cells.finish(budget)
        })();
        match read {
            Ok((mut range, stray)) => {
                let mut sheet = sheet_of(name, hidden, &mut range);
                sheet.stray_cells = stray;
                sheets.push(sheet);
            }
            Err(ReadError::TooLarge) => return Err(ReadError::TooLarge),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        Some(e) if sheets.is_empty() => Err(e),
        _ => Ok(sheets),
    }
}

/// A worksheet's cells as a cell reader gives them, the empty ones left out, within the
/// attachment's budget: at most as many cells as it still allows, and their text.
pub(crate) struct Cells {
    cells: Vec<calamine::Cell<Data>>,
}

impl Cells {
    /// `declared` is the sheet's declared cell count: it only sizes the buffer, up to a bound.
    pub(crate) fn new(declared: u64) -> Cells {
        Cells {
            cells: Vec::with_capacity(declared.min(100_000) as usize),
        }
    }

    pub(crate) fn push(
        &mut self,
        pos: (u32, u32),
        value: &calamine::DataRef,
        budget: &mut Budget,
    ) -> Result<(), ReadError> {
        use calamine::DataRef;
        let text = match value {
            DataRef::Empty => return Ok(()),
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
            DataRef::SharedString(s) => s.len(),
            _ => 0,
        };
        if self.cells.len() as u64 >= budget.cells() {
            return Err(ReadError::TooLarge);
        }
        budget.take_text(text as u64)?;
        self.cells
            .push(calamine::Cell::new(pos, Data::from(value.clone())));
        Ok(())
    }

    /// The grid of the cells that fit the budget (spent on it, empty cells included), and how
    /// many cells lay beyond it.
    pub(crate) fn finish(self, budget: &mut Budget) -> Result<(Range<Data>, usize), ReadError> {
        let mut cells = self.cells;
        let rows = cells.iter().map(|c| c.get_position().0).collect();
        let cols = cells.iter().map(|c| c.get_position().1).collect();
        let (last_row, last_col) =
            fitting_box(rows, cols, budget.cells()).ok_or(ReadError::TooLarge)?;
        let before = cells.len();
        cells.retain(|c| {
            let (r, c) = c.get_position();
            r <= last_row && c <= last_col
        });
        let stray = before - cells.len();
        let range = Range::from_sparse(cells);
        let (h, w) = range.get_size();
        budget.take_cells(h as u64 * w as u64)?;
        Ok((range, stray))
    }
}

fn read_calamine<'a, R>(bytes: &'a [u8]) -> Result<Vec<Sheet>, ReadError>
where
    R: Reader<Cursor<&'a [u8]>>,
    R::Error: std::fmt::Display,
{
    let mut wb: R = open_workbook_from_rs(Cursor::new(bytes)).map_err(classify)?;
    sheets_of(&mut wb)
}

fn sheets_of<R, RS>(wb: &mut R) -> Result<Vec<Sheet>, ReadError>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let meta = sheet_names(wb);
    let mut sheets = Vec::with_capacity(meta.len());
    for (name, hidden) in meta {
        let mut range = wb.worksheet_range(&name).map_err(classify)?;
        sheets.push(sheet_of(name, hidden, &mut range));
    }
    Ok(sheets)
}

/// The names of a workbook's sheets, and whether each is hidden.
fn sheet_names<R, RS>(wb: &R) -> Vec<(String, bool)>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
{
    wb.sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect()
}

/// A sheet made of a range of calamine's cells.
fn sheet_of(name: String, hidden: bool, range: &mut Range<Data>) -> Sheet {
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    // Take the cells out of the range rather than copy their text.
    let rows = (0..range.height())
        .map(|i| range[i].iter_mut().map(take_cell).collect())
        .collect();
    Sheet {
        name,
        rows,
        first_row,
        first_col,
        hidden,
        ..Default::default()
    }
}

fn classify<E: std::fmt::Display>(e: E) -> ReadError {
    let text = e.to_string();
    if text.to_lowercase().contains("password") || text.contains("Encrypt") {
        ReadError::Encrypted
    } else {
        ReadError::Corrupt(text)
    }
}

fn take_cell(d: &mut Data) -> Cell {
    match d {
        Data::String(s) => Cell::Text(std::mem::take(s)),
        other => cell_of(other),
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
        Data::DateTimeIso(s) => s
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(Cell::Date)
            .unwrap_or_else(|| Cell::Text(s.clone())),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("{e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_sniffed_from_the_bytes_not_the_name() {
        assert_eq!(
            sniff("a.xlsx", &[0xD0, 0xCF, 0x11, 0xE0, 0]),
            Some(Format::Xls)
        );
        assert_eq!(sniff("a.csv", b"STT,Ho ten"), Some(Format::Csv));
        assert_eq!(
            sniff("a.xls", b"STT;Ho ten;CCCD\n1;A;2\n2;B;3\n"),
            Some(Format::Csv)
        );
        assert_eq!(
            sniff("a.xls", b"<html><body><table><tr><td>STT</td></tr></table>"),
            Some(Format::Markup)
        );
        assert_eq!(sniff("a.pdf", b"%PDF-1.4"), None);
        assert_eq!(
            sniff("notes.txt", b"Kinh gui So GD, xin gui danh sach."),
            None
        );
    }

    #[test]
    fn the_box_that_fits_leaves_out_the_cells_far_from_the_table() {
        // A table of 5,000 rows by 11 columns, a value at XFD1048576 and one at K1048576.
        let mut rows = Vec::new();
        let mut cols = Vec::new();
        for r in 0..5_000 {
            for c in 0..11 {
                rows.push(r);
                cols.push(c);
            }
        }
        rows.extend([1_048_575, 1_048_575]);
        cols.extend([16_383, 10]);
        assert_eq!(
            fitting_box(rows.clone(), cols.clone(), MAX_CELLS),
            Some((4_999, 10))
        );
        // All fits: the whole span.
        assert_eq!(
            fitting_box(rows.clone(), cols.clone(), u64::MAX),
            Some((1_048_575, 16_383))
        );
        // A column far to the right on the table's own rows is left out alone.
        let (mut r2, mut c2) = (rows[..55_000].to_vec(), cols[..55_000].to_vec());
        r2.push(3);
        c2.push(16_000);
        assert_eq!(fitting_box(r2, c2, MAX_CELLS), Some((4_999, 10)));
        // The box starts at the smallest row and column; no cell fits a budget of none.
        assert_eq!(fitting_box(vec![7, 9], vec![2, 2], 3), Some((9, 2)));
        assert_eq!(fitting_box(vec![7, 9], vec![2, 2], 2), Some((7, 2)));
        assert_eq!(fitting_box(vec![7], vec![2], 0), None);
        assert_eq!(fitting_box(Vec::new(), Vec::new(), 0), Some((0, 0)));
    }

    #[test]
    fn numbers_keep_their_integer_text() {
        assert_eq!(number_text(36123456789.0), "36123456789");
        assert_eq!(number_text(912345678.0), "912345678");
        assert_eq!(number_text(1.5), "1.5");
    }

    #[test]
    fn documents_and_garbage_get_their_own_answer() {
        assert_eq!(
            read("ds.pdf", b"%PDF-1.4 ...").err(),
            Some(ReadError::NotSpreadsheet(Document::Pdf))
        );
        assert_eq!(
            read("ds", b"{\\rtf1\\ansi hello}").err(),
            Some(ReadError::NotSpreadsheet(Document::Word))
        );
        assert_eq!(
            read("winmail.dat", b"\x78\x9f\x3e\x22\x01\x02").err(),
            Some(ReadError::Winmail)
        );
        assert!(matches!(
            read("ds.csv", b"STT,H\xe1\x00 v\xe0 t\xean\r\n1,An"),
            Err(ReadError::Corrupt(_))
        ));
        assert!(matches!(
            read("ds.xlsx", b"PK\x03\x04garbage"),
            Err(ReadError::Corrupt(_))
        ));
        assert!(matches!(
            read(
                "ds.xls",
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]
            ),
            Err(ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn a_small_image_is_a_logo_and_a_large_one_a_photo_of_the_list() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        assert_eq!(role("image001.jpg", "image/jpeg", &jpeg), Role::Ignore);
        jpeg.resize(PHOTO_MIN_BYTES + 1, 0);
        assert_eq!(role("IMG_2024.jpg", "image/jpeg", &jpeg), Role::Document);
        assert_eq!(
            role("ds.pdf", "application/pdf", b"%PDF-1.5"),
            Role::Document
        );
        assert_eq!(
            role("ds.xlsx", "application/octet-stream", b"PK\x03\x04"),
            Role::List
        );
    }

    /// Also: an attachment examined once ([`examine`]) has the role and reads the sheets that
    /// [`role`] and [`read`] give it alone.
    #[test]
    fn read_cells_reads_the_cells_read_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut hidden = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".json") || name.ends_with(".eml") || name.ends_with(".py") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let examined = examine(&name, &bytes);
            let mime = "application/octet-stream";
            assert_eq!(examined.role(mime), role(&name, mime, &bytes), "{name}");
            // Debug output: every cell, hidden row and stray count of every sheet, or the error.
            assert_eq!(
                format!("{:?}", examined.read()),
                format!("{:?}", read(&name, &bytes)),
                "{name}"
            );
            let view = |s: &Sheet| {
                (
                    s.name.clone(),
                    s.rows.clone(),
                    s.first_row,
                    s.first_col,
                    s.hidden,
                    s.file.clone(),
                )
            };
            match (read(&name, &bytes), read_cells(&name, &bytes)) {
                (Ok(all), Ok(cells)) => {
                    assert_eq!(
                        all.iter().map(view).collect::<Vec<_>>(),
                        cells.iter().map(view).collect::<Vec<_>>(),
                        "{name}"
                    );
                    hidden += all.iter().filter(|s| !s.hidden_rows.is_empty()).count();
                }
                (a, b) => assert_eq!(a.err(), b.err(), "{name}"),
            }
        }
        assert!(hidden >= 2, "the fixtures have hidden rows");
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
