//! The school's xlsx edited in its parts: zip in, zip out. Every part is copied as it is (its
//! compressed bytes, not even recompressed) except `xl/styles.xml` ([`Styles`]) and the
//! worksheets with marks, which are streamed event by event, each event copied as written
//! unless it is one the marks change:
//!
//! - `<dimension>` widened to the "Lỗi" column;
//! - the first rows frozen down to the header (`<pane state="frozen">`, unless a pane is there);
//! - a `<col>` for "Lỗi", 60 wide (a range of columns already declared is split around it);
//! - in `<sheetData>`, the wrong cells' style replaced by a copy with the mark's fill, a cell
//!   made where a wrong cell is missing, and each marked row's "Lỗi" cell (an inline string,
//!   so the shared strings stay as they are) with the row made tall enough for its lines.
//!
//! What is new goes where the schema puts it (sheetPr, dimension, sheetViews, sheetFormatPr,
//! cols, sheetData...), with the namespace prefix the worksheet uses. Anything unexpected (a
//! macro workbook, an encrypted part, XML that does not parse, a sheet whose part is not found)
//! is an error, and the caller sends the flat copy instead.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read, Write};

use anyhow::{Context, Result, bail};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::styles::{Change, Styles, attributes, set, tag};
use super::{ERROR_FILL, Marks, NOTE_WIDTH, WARNING_FILL, note_lines, note_text};
use crate::sheet::{Sheet, cell_ref, range_ref};
use crate::validate::Severity;

/// The height of one line of text in a row, in points (an 11 pt font).
const LINE_HEIGHT: f64 = 15.0;
/// The largest part edited (a worksheet of a million cells or so): the text of a part and its
/// edited copy are in memory together, in the process that composes the reply. A larger one
/// (which the reader's own limits allow) gets the flat copy.
const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// The deepest header row that is frozen: a table starting lower keeps the school's view.
const MAX_FROZEN_ROWS: u32 = 50;

type Zip<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// The edited workbook: `bytes` with each marked sheet's marks.
pub(super) fn edit(bytes: &[u8], sheets: &[Sheet], marks: &[Option<Marks>]) -> Result<Vec<u8>> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).context("not a zip")?;
    for i in 0..zip.len() {
        if zip.by_index_raw(i)?.encrypted() {
            bail!("an encrypted part");
        }
    }
    let types = part(&mut zip, "[Content_Types].xml")?;
    if types.contains("macroEnabled") || zip.by_name("xl/vbaProject.bin").is_ok() {
        bail!("a macro workbook is not sent back with its macros");
    }
    let (workbook, rels) = workbook_parts(&mut zip)?;
    let mut styles = Styles::parse(part(&mut zip, &rels.styles)?)?;
    let mut replaced: HashMap<String, Vec<u8>> = HashMap::new();
    for (s, m) in sheets.iter().zip(marks) {
        let Some(m) = m else { continue };
        if m.notes.is_empty() && m.cells.is_empty() {
            continue;
        }
        let path = workbook
            .get(&s.name)
            .with_context(|| format!("no part for sheet {:?}", s.name))?;
        let xml = part(&mut zip, path)?;
        let edited = sheet(&xml, m, &mut styles).with_context(|| format!("editing {path}"))?;
        replaced.insert(path.clone(), edited.into_bytes());
    }
    if replaced.is_empty() {
        bail!("no sheet to mark");
    }
    if styles.changed() {
        replaced.insert(rels.styles.clone(), styles.finish().into_bytes());
    }
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + 64 * 1024)));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i)?;
        let name = f.name()?.into_owned();
        match replaced.get(&name) {
            Some(data) => {
                drop(f);
                out.start_file(name, options)?;
                out.write_all(data)?;
            }
            None => out.raw_copy_file(f)?,
        }
    }
    Ok(out.finish()?.into_inner())
}

/// A part's text (UTF-8), or an error past [`MAX_PART_BYTES`].
fn part(zip: &mut Zip, path: &str) -> Result<String> {
    let f = zip
        .by_name(path)
        .with_context(|| format!("no part {path}"))?;
    let mut out = Vec::with_capacity(f.size().min(1 << 20) as usize);
    f.take(MAX_PART_BYTES + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_PART_BYTES {
        bail!("{path} is larger than {MAX_PART_BYTES} bytes");
    }
    String::from_utf8(out).with_context(|| format!("{path} is not UTF-8"))
}

/// Where the workbook's related parts are.
struct Related {
    styles: String,
}

/// The path of `target` as a relationship of the part at `base` names it.
fn resolve(base: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_string();
    }
    let mut dir: Vec<&str> = base.split('/').collect();
    dir.pop();
    for seg in target.split('/') {
        match seg {
            ".." => {
                dir.pop();
            }
            "." | "" => {}
            s => dir.push(s),
        }
    }
    dir.join("/")
}

/// Each element named `name` (any prefix), with its attributes (local names, unescaped).
fn elements(xml: &str, name: &str) -> Result<Vec<HashMap<String, String>>> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event().context("a workbook part")? {
            Event::Start(e) | Event::Empty(e) if local(&e) == name => {
                let mut attrs = HashMap::new();
                for a in e.attributes().flatten() {
                    let key: &str = a.key.as_ref();
                    let key = key.rsplit(':').next().unwrap_or(key).to_string();
                    let value = quick_xml::escape::unescape(&a.value)
                        .map(|v| v.into_owned())
                        .unwrap_or_else(|_| a.value.to_string());
                    attrs.entry(key).or_insert(value);
                }
                out.push(attrs);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The relationships of the part at `path`: Id → (type, resolved target).
fn relationships(zip: &mut Zip, path: &str) -> Result<HashMap<String, (String, String)>> {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let rels = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let xml = part(zip, &rels)?;
    let mut out = HashMap::new();
    for a in elements(&xml, "Relationship")? {
        if let (Some(id), Some(target)) = (a.get("Id"), a.get("Target")) {
            let kind = a.get("Type").cloned().unwrap_or_default();
            out.insert(id.clone(), (kind, resolve(path, target)));
        }
    }
    Ok(out)
}

/// Sheet name → worksheet part, and the workbook's other parts.
fn workbook_parts(zip: &mut Zip) -> Result<(HashMap<String, String>, Related)> {
    let root = relationships(zip, "")?;
    let workbook = root
        .values()
        .find(|(kind, _)| kind.ends_with("/officeDocument"))
        .map(|(_, t)| t.clone())
        .context("no workbook part")?;
    let rels = relationships(zip, &workbook)?;
    let xml = part(zip, &workbook)?;
    let mut sheets = HashMap::new();
    for a in elements(&xml, "sheet")? {
        if let (Some(name), Some(id)) = (a.get("name"), a.get("id"))
            && let Some((_, target)) = rels.get(id)
        {
            sheets.insert(name.clone(), target.clone());
        }
    }
    let styles = rels
        .values()
        .find(|(kind, _)| kind.ends_with("/styles"))
        .map(|(_, t)| t.clone())
        .context("no styles part")?;
    Ok((sheets, Related { styles }))
}

fn local(e: &BytesStart) -> String {
    AsRef::<str>::as_ref(&e.local_name()).to_string()
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let k: &str = a.key.as_ref();
        (k == key).then(|| a.value.to_string())
    })
}

/// "AB" of 0-based column 27.
fn col_name(mut col: u32) -> String {
    let mut s = Vec::new();
    col += 1;
    while col > 0 {
        s.push(b'A' + ((col - 1) % 26) as u8);
        col = (col - 1) / 26;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// Text safe in XML 1.0 (characters XML cannot hold dropped), escaped.
fn xml_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

/// What is put in one cell of a marked row.
#[derive(Debug, Clone)]
enum Put {
    Fill(Severity),
    Note(String),
    Header,
}

/// A marked row: its cells by column, and how many lines its note takes.
#[derive(Debug, Default)]
struct RowPlan {
    cells: BTreeMap<u32, Put>,
    lines: usize,
}

/// One `<col>` of the sheet.
struct Col {
    min: u32,
    max: u32,
    attrs: Vec<(String, String)>,
    raw: String,
}

/// The worksheet part `xml` with the marks `m`.
fn sheet(xml: &str, m: &Marks, styles: &mut Styles) -> Result<String> {
    // A first pass for what the rewrite needs before it meets it: the merged ranges (after
    // sheetData) and the columns' styles.
    let mut merges = Vec::new();
    let mut col_styles: Vec<(u32, u32, u32)> = Vec::new();
    {
        let mut reader = Reader::from_str(xml);
        loop {
            match reader.read_event().context("the worksheet")? {
                Event::Start(e) | Event::Empty(e) => match local(&e).as_str() {
                    "mergeCell" => {
                        if let Some(r) = attr(&e, "ref").as_deref().and_then(range_ref)
                            && merges.len() < crate::sheet::MAX_MERGES
                        {
                            merges.push(r);
                        }
                    }
                    "col" => {
                        let n = |k: &str| attr(&e, k).and_then(|v| v.parse::<u32>().ok());
                        if let (Some(a), Some(b), Some(s)) = (n("min"), n("max"), n("style"))
                            && col_styles.len() < 16_384
                        {
                            col_styles.push((a, b, s));
                        }
                    }
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let mut m = m.clone();
    m.clear_of(&merges);
    let note_col = m.note_col;
    if note_col > 16_383 {
        bail!("no column left for the notes");
    }
    let mut plan: BTreeMap<u32, RowPlan> = BTreeMap::new();
    for ((r, c), sev) in &m.cells {
        plan.entry(*r)
            .or_default()
            .cells
            .insert(*c, Put::Fill(*sev));
    }
    for (r, lines) in &m.notes {
        let p = plan.entry(*r).or_default();
        p.cells.insert(note_col, Put::Note(note_text(lines)));
        p.lines = note_lines(lines);
    }
    plan.entry(m.header_row)
        .or_default()
        .cells
        .insert(note_col, Put::Header);
    let last_row = plan.keys().next_back().copied().unwrap_or(0);
    let freeze = m.header_row < MAX_FROZEN_ROWS;

    let mut e = Editor {
        out: String::with_capacity(xml.len() + 64 * 1024),
        prefix: String::new(),
        styles,
        note_col,
        col_styles,
        left_style: 0,
    };
    let frozen = m.header_row + 1;
    let pane = |p: &str| {
        format!(
            "<{p}pane ySplit=\"{frozen}\" topLeftCell=\"A{}\" activePane=\"bottomLeft\" \
             state=\"frozen\"/><{p}selection pane=\"bottomLeft\" activeCell=\"A{0}\" sqref=\"A{0}\"/>",
            frozen + 1
        )
    };

    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut skip: Option<usize> = None;
    let (mut seen_views, mut seen_cols) = (!freeze, false);
    let mut section = String::new();
    // In a sheetView, waiting for its first child (where the pane goes).
    let mut view_open = false;
    let mut cols: Option<(String, Vec<Col>)> = None;
    let mut row: Option<(u32, RowPlan)> = None;
    let (mut row_at, mut col_at): (Option<u32>, Option<u32>) = (None, None);
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().context("the worksheet")?;
        let raw = &xml[start..reader.buffer_position() as usize];
        if let Some(d) = skip {
            match event {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    depth -= 1;
                    if depth == d {
                        skip = None;
                    }
                }
                Event::Eof => bail!("the worksheet ends inside a cell"),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Eof => break,
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(s);
                match depth {
                    0 => {
                        let qname = s.name();
                        let full: &str = qname.as_ref();
                        e.prefix = full[..full.len() - name.len()].to_string();
                        e.out.push_str(raw);
                    }
                    1 => {
                        section = name.clone();
                        let order = match name.as_str() {
                            "sheetPr" => 0,
                            "dimension" => 1,
                            "sheetViews" => 2,
                            "sheetFormatPr" => 3,
                            "cols" => 4,
                            "sheetData" => 5,
                            _ => 6,
                        };
                        let p = e.prefix.clone();
                        if !seen_views && order > 2 {
                            e.out.push_str(&format!(
                                "<{p}sheetViews><{p}sheetView workbookViewId=\"0\">{}</{p}sheetView></{p}sheetViews>",
                                pane(&p)
                            ));
                            seen_views = true;
                        }
                        if !seen_cols && order > 4 {
                            e.out
                                .push_str(&format!("<{p}cols>{}</{p}cols>", e.note_col_tag(None)));
                            seen_cols = true;
                        }
                        match name.as_str() {
                            "dimension" => e.dimension(s, raw, empty, last_row)?,
                            "sheetViews" => {
                                seen_views = true;
                                if empty && freeze {
                                    e.out.push_str(&format!(
                                        "<{p}sheetViews><{p}sheetView workbookViewId=\"0\">{}</{p}sheetView></{p}sheetViews>",
                                        pane(&p)
                                    ));
                                } else {
                                    e.out.push_str(raw);
                                }
                            }
                            "cols" => {
                                seen_cols = true;
                                if empty {
                                    e.out.push_str(&format!(
                                        "<{p}cols>{}</{p}cols>",
                                        e.note_col_tag(None)
                                    ));
                                } else {
                                    cols = Some((raw.to_string(), Vec::new()));
                                }
                            }
                            "sheetData" if empty => {
                                e.out.push_str(&format!("<{p}sheetData>"));
                                while let Some((r, p)) = plan.pop_first() {
                                    e.new_row(r, p)?;
                                }
                                e.out.push_str(&format!("</{p}sheetData>"));
                            }
                            _ => e.out.push_str(raw),
                        }
                    }
                    2 if section == "sheetViews" && name == "sheetView" && freeze => {
                        if empty {
                            let head = raw.trim_end_matches('>').trim_end_matches('/');
                            let p = e.prefix.clone();
                            e.out
                                .push_str(&format!("{head}>{}</{p}sheetView>", pane(&p)));
                        } else {
                            e.out.push_str(raw);
                            view_open = true;
                        }
                    }
                    2 if section == "cols" && cols.is_some() => {
                        let n = |k: &str| attr(s, k).and_then(|v| v.parse::<u32>().ok());
                        if let (Some((_, list)), Some(min), Some(max)) =
                            (&mut cols, n("min"), n("max"))
                        {
                            let attrs = attributes(s)?;
                            // A col with content (there is none in the schema) is written back
                            // empty.
                            let raw = if empty {
                                raw.to_string()
                            } else {
                                skip = Some(depth);
                                tag(&e.prefix, "col", &attrs, true)
                            };
                            list.push(Col {
                                min,
                                max,
                                attrs,
                                raw,
                            });
                        }
                    }
                    2 if section == "sheetData" && name == "row" => {
                        let r = attr(s, "r")
                            .and_then(|v| v.trim().parse::<u32>().ok())
                            .and_then(|v| v.checked_sub(1))
                            .or_else(|| row_at.map(|r| r + 1))
                            .unwrap_or(0);
                        row_at = Some(r);
                        col_at = None;
                        e.left_style = 0;
                        while let Some((&k, _)) = plan.first_key_value() {
                            if k >= r {
                                break;
                            }
                            if let Some((k, p)) = plan.pop_first() {
                                e.new_row(k, p)?;
                            }
                        }
                        match plan.remove(&r) {
                            Some(p) => {
                                e.row_start(s, r, &p)?;
                                if empty {
                                    e.rest_of_row(r, p)?;
                                    e.out.push_str(&format!("</{}row>", e.prefix));
                                } else {
                                    row = Some((r, p));
                                }
                            }
                            None => e.out.push_str(raw),
                        }
                    }
                    3 if view_open => {
                        if name != "pane" {
                            let p = e.prefix.clone();
                            e.out.push_str(&pane(&p));
                        }
                        view_open = false;
                        e.out.push_str(raw);
                    }
                    3 if name == "c" && row.is_some() => {
                        let c = attr(s, "r")
                            .and_then(|v| cell_ref(&v))
                            .map(|(_, c)| c)
                            .or_else(|| col_at.map(|c| c + 1))
                            .unwrap_or(0);
                        col_at = Some(c);
                        if let Some((r, p)) = &mut row {
                            let r = *r;
                            e.cells_before(r, p, c)?;
                            let style = attr(s, "s")
                                .and_then(|v| v.parse::<u32>().ok())
                                .unwrap_or(0);
                            let put = p.cells.remove(&c);
                            match put {
                                Some(Put::Fill(sev)) => {
                                    let id = e.styles.derive(style, fill(sev))?;
                                    let mut attrs = attributes(s)?;
                                    set(&mut attrs, "r", format!("{}{}", col_name(c), r + 1));
                                    set(&mut attrs, "s", id.to_string());
                                    let p = e.prefix.clone();
                                    e.out.push_str(&tag(&p, "c", &attrs, empty));
                                }
                                Some(put) => {
                                    // The cell where "Lỗi" goes (empty, the table ending
                                    // before it) is replaced.
                                    e.put(r, c, put)?;
                                    if !empty {
                                        skip = Some(depth);
                                    }
                                }
                                None => {
                                    if attr(s, "r").is_none() {
                                        let mut attrs = attributes(s)?;
                                        set(&mut attrs, "r", format!("{}{}", col_name(c), r + 1));
                                        let p = e.prefix.clone();
                                        e.out.push_str(&tag(&p, "c", &attrs, empty));
                                    } else {
                                        e.out.push_str(raw);
                                    }
                                }
                            }
                            if c < e.note_col {
                                e.left_style = style;
                            }
                        }
                    }
                    _ => e.out.push_str(raw),
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(ref s) => {
                depth = depth.checked_sub(1).context("the worksheet ends twice")?;
                let name = local_end(s);
                match depth {
                    1 if name == "cols" => {
                        if let Some((open, list)) = cols.take() {
                            e.out.push_str(&open);
                            e.cols(list);
                        }
                        e.out.push_str(raw);
                    }
                    1 if name == "sheetData" => {
                        while let Some((r, p)) = plan.pop_first() {
                            e.new_row(r, p)?;
                        }
                        e.out.push_str(raw);
                    }
                    2 if view_open && name == "sheetView" => {
                        let p = e.prefix.clone();
                        e.out.push_str(&pane(&p));
                        view_open = false;
                        e.out.push_str(raw);
                    }
                    2 if name == "row" && row.is_some() => {
                        if let Some((r, p)) = row.take() {
                            e.rest_of_row(r, p)?;
                        }
                        e.out.push_str(raw);
                    }
                    _ => e.out.push_str(raw),
                }
            }
            _ => e.out.push_str(raw),
        }
    }
    Ok(e.out)
}

fn local_end(e: &quick_xml::events::BytesEnd) -> String {
    AsRef::<str>::as_ref(&e.local_name()).to_string()
}

fn fill(sev: Severity) -> Change {
    Change::Fill(if sev == Severity::Warning {
        WARNING_FILL
    } else {
        ERROR_FILL
    })
}

/// The rewrite's output and what it writes with.
struct Editor<'a> {
    out: String,
    prefix: String,
    styles: &'a mut Styles,
    note_col: u32,
    /// (min, max, style) of the `<col>`s, 1-based columns.
    col_styles: Vec<(u32, u32, u32)>,
    /// The style of the row's last cell before the "Lỗi" column, which the note's copies.
    left_style: u32,
}

impl Editor<'_> {
    fn col_style(&self, col: u32) -> u32 {
        self.col_styles
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&(col + 1)))
            .map_or(0, |(_, _, s)| *s)
    }

    /// The `<col>` of "Lỗi", with the attributes (a style) of a `<col>` it is cut from.
    fn note_col_tag(&self, from: Option<&[(String, String)]>) -> String {
        let n = (self.note_col + 1).to_string();
        let mut attrs: Vec<(String, String)> = from
            .unwrap_or_default()
            .iter()
            .filter(|(k, _)| k == "style")
            .cloned()
            .collect();
        attrs.insert(0, ("min".into(), n.clone()));
        attrs.insert(1, ("max".into(), n));
        attrs.push(("width".into(), format!("{NOTE_WIDTH}")));
        attrs.push(("customWidth".into(), "1".into()));
        tag(&self.prefix, "col", &attrs, true)
    }

    /// The `<col>`s of the sheet with the one of "Lỗi" among them.
    fn cols(&mut self, list: Vec<Col>) {
        let n = self.note_col + 1;
        let mut placed = false;
        for c in list {
            if !placed && c.min > n {
                self.out.push_str(&self.note_col_tag(None));
                placed = true;
            }
            if (c.min..=c.max).contains(&n) && !placed {
                let piece = |min: u32, max: u32| {
                    let mut a = c.attrs.clone();
                    set(&mut a, "min", min.to_string());
                    set(&mut a, "max", max.to_string());
                    tag(&self.prefix, "col", &a, true)
                };
                if c.min < n {
                    self.out.push_str(&piece(c.min, n - 1));
                }
                self.out.push_str(&self.note_col_tag(Some(&c.attrs)));
                if n < c.max {
                    self.out.push_str(&piece(n + 1, c.max));
                }
                placed = true;
            } else {
                self.out.push_str(&c.raw);
            }
        }
        if !placed {
            self.out.push_str(&self.note_col_tag(None));
        }
    }

    fn dimension(&mut self, s: &BytesStart, raw: &str, empty: bool, last_row: u32) -> Result<()> {
        let Some((r1, c1, r2, c2)) = attr(s, "ref").as_deref().and_then(range_ref) else {
            self.out.push_str(raw);
            return Ok(());
        };
        let mut attrs = attributes(s)?;
        let (r2, c2) = (r2.max(last_row), c2.max(self.note_col));
        set(
            &mut attrs,
            "ref",
            format!("{}{}:{}{}", col_name(c1), r1 + 1, col_name(c2), r2 + 1),
        );
        let p = self.prefix.clone();
        self.out.push_str(&tag(&p, "dimension", &attrs, empty));
        Ok(())
    }

    /// A marked row's start tag: its `spans` hint dropped (cells are added), made tall enough
    /// for its note.
    fn row_start(&mut self, s: &BytesStart, r: u32, p: &RowPlan) -> Result<()> {
        let mut attrs = attributes(s)?;
        attrs.retain(|(k, _)| k != "spans");
        set(&mut attrs, "r", (r + 1).to_string());
        self.height(&mut attrs, p);
        let pre = self.prefix.clone();
        self.out.push_str(&tag(&pre, "row", &attrs, false));
        Ok(())
    }

    fn height(&self, attrs: &mut Vec<(String, String)>, p: &RowPlan) {
        if p.lines > 1 {
            let want = p.lines as f64 * LINE_HEIGHT;
            let had = attrs
                .iter()
                .find(|(k, _)| k == "ht")
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            if want > had {
                set(attrs, "ht", format!("{want}"));
                set(attrs, "customHeight", "1".into());
            }
        }
    }

    /// A row the sheet does not have, made for its marks.
    fn new_row(&mut self, r: u32, p: RowPlan) -> Result<()> {
        let mut attrs = vec![("r".to_string(), (r + 1).to_string())];
        self.height(&mut attrs, &p);
        let pre = self.prefix.clone();
        self.out.push_str(&tag(&pre, "row", &attrs, false));
        self.left_style = 0;
        self.rest_of_row(r, p)?;
        self.out.push_str(&format!("</{pre}row>"));
        Ok(())
    }

    /// The planned cells of row `r` left of column `c` (that the row does not have).
    fn cells_before(&mut self, r: u32, p: &mut RowPlan, c: u32) -> Result<()> {
        let later = p.cells.split_off(&c);
        let before = std::mem::replace(&mut p.cells, later);
        for (col, put) in before {
            self.put(r, col, put)?;
        }
        Ok(())
    }

    /// Every planned cell of row `r` not written yet.
    fn rest_of_row(&mut self, r: u32, p: RowPlan) -> Result<()> {
        for (col, put) in p.cells {
            self.put(r, col, put)?;
        }
        Ok(())
    }

    /// A new cell at (r, c).
    fn put(&mut self, r: u32, c: u32, put: Put) -> Result<()> {
        let at = format!("{}{}", col_name(c), r + 1);
        let p = self.prefix.clone();
        let cell = match put {
            Put::Fill(sev) => {
                let id = self.styles.derive(self.col_style(c), fill(sev))?;
                format!("<{p}c r=\"{at}\" s=\"{id}\"/>")
            }
            Put::Header | Put::Note(_) => {
                let (change, text) = match put {
                    Put::Note(t) => (Change::Note, t),
                    _ => (Change::Header, super::body::ERROR_COLUMN.to_string()),
                };
                let id = self.styles.derive(self.left_style, change)?;
                format!(
                    "<{p}c r=\"{at}\" s=\"{id}\" t=\"inlineStr\"><{p}is><{p}t xml:space=\"preserve\">{}</{p}t></{p}is></{p}c>",
                    xml_text(&text)
                )
            }
        };
        self.out.push_str(&cell);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_read_and_write() {
        assert_eq!(cell_ref("B6"), Some((5, 1)));
        assert_eq!(cell_ref("$AA$10"), Some((9, 26)));
        assert_eq!(cell_ref("6"), None);
        assert_eq!(col_name(0), "A");
        assert_eq!(col_name(27), "AB");
        assert_eq!(range_ref("A1:O1"), Some((0, 0, 0, 14)));
        assert_eq!(
            resolve("xl/workbook.xml", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve("xl/workbook.xml", "/xl/styles.xml"),
            "xl/styles.xml"
        );
        assert_eq!(resolve("", "xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(
            resolve("xl/workbook.xml", "../customXml/item1.xml"),
            "customXml/item1.xml"
        );
    }

    const STYLES: &str = r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>"#;
    const NS: &str = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main""#;

    fn marks(note_col: u32, cells: &[((u32, u32), Severity)], notes: &[u32]) -> Marks {
        Marks {
            header_row: 0,
            note_col,
            cells: cells.iter().cloned().collect(),
            notes: notes
                .iter()
                .map(|r| (*r, vec![format!("lỗi {r}")]))
                .collect(),
        }
    }

    fn edited(xml: &str, m: &Marks) -> String {
        let mut styles = Styles::parse(STYLES.into()).unwrap();
        let out = sheet(xml, m, &mut styles).unwrap();
        // Well formed, whatever was added.
        let mut r = Reader::from_str(&out);
        r.config_mut().check_end_names = true;
        while !matches!(r.read_event().unwrap(), Event::Eof) {}
        out
    }

    /// The local names of the worksheet's children, in order.
    fn children(xml: &str) -> Vec<String> {
        let mut r = Reader::from_str(xml);
        let (mut depth, mut out) = (0, Vec::new());
        loop {
            match r.read_event().unwrap() {
                Event::Start(e) => {
                    if depth == 1 {
                        out.push(local(&e));
                    }
                    depth += 1;
                }
                Event::Empty(e) if depth == 1 => out.push(local(&e)),
                Event::End(_) => depth -= 1,
                Event::Eof => return out,
                _ => {}
            }
        }
    }

    #[test]
    fn a_bare_sheet_gets_its_views_cols_cells_and_rows_where_the_schema_puts_them() {
        let xml = format!(
            r#"<worksheet {NS}><sheetPr/><sheetData><row r="1"><c t="inlineStr"><is><t>A</t></is></c><c t="inlineStr"><is><t>B</t></is></c></row><row><c><v>1</v></c></row></sheetData><pageMargins left="0.7"/></worksheet>"#
        );
        let out = edited(&xml, &marks(2, &[((1, 1), Severity::Error)], &[1, 3]));
        assert_eq!(
            children(&out),
            ["sheetPr", "sheetViews", "cols", "sheetData", "pageMargins"]
        );
        assert!(
            out.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"<col min="3" max="3" width="60" customWidth="1"/>"#),
            "{out}"
        );
        // Row 2 (no r: after row 1) gets its references, the missing B2 (red), then its note.
        assert!(out.contains(r#"<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="2"/><c r="C2" s="3" t="inlineStr"><is><t xml:space="preserve">lỗi 1</t></is></c></row>"#), "{out}");
        assert!(
            out.contains(r#"<row r="4"><c r="C4" "#),
            "a row made for its note: {out}"
        );
        assert!(
            out.contains(r#"<c r="C1" s="1" t="inlineStr"><is><t xml:space="preserve">Lỗi</t>"#),
            "{out}"
        );
    }

    #[test]
    fn a_pane_a_wide_col_and_a_merge_are_respected() {
        let xml = format!(
            r#"<worksheet {NS}><dimension ref="A1:D3"/><sheetViews><sheetView workbookViewId="0"><pane xSplit="1" topLeftCell="B1" state="frozen"/></sheetView></sheetViews><cols><col min="1" max="16384" width="12" style="0" customWidth="1"/></cols><sheetData><row r="1" spans="1:4"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c></row><row r="2" spans="1:4"><c r="A2"><v>1</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="C2:D2"/></mergeCells></worksheet>"#
        );
        let out = edited(&xml, &marks(2, &[], &[1]));
        // The school's pane stays, the only one.
        assert_eq!(out.matches("<pane ").count(), 1, "{out}");
        assert!(out.contains(r#"<pane xSplit="1""#), "{out}");
        // C2:D2 is merged: the note goes to E, and the col range is split around it.
        assert!(out.contains(r#"<col min="1" max="4" width="12" style="0" customWidth="1"/><col min="5" max="5" style="0" width="60" customWidth="1"/><col min="6" max="16384" width="12" style="0" customWidth="1"/>"#), "{out}");
        assert!(out.contains(r#"<c r="E2" "#), "{out}");
        assert!(out.contains(r#"<dimension ref="A1:E3"/>"#), "{out}");
        assert!(out.contains(r#"<row r="2">"#), "spans dropped: {out}");
        assert!(out.contains(r#"<mergeCells count="1"><mergeCell ref="C2:D2"/></mergeCells>"#));
    }

    #[test]
    fn an_empty_sheet_view_gets_the_pane_and_a_cell_at_the_note_column_is_replaced() {
        let xml = format!(
            r#"<worksheet {NS}><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData><row r="1"><c r="A1"><v>1</v></c><c r="B1" s="0"/></row><row r="2"><c r="A2" s="0"><v>5</v></c><c r="B2" s="0"><v>7</v></c></row></sheetData></worksheet>"#
        );
        let out = edited(&xml, &marks(1, &[((1, 0), Severity::Warning)], &[]));
        assert!(
            out.contains(r#"<sheetView workbookViewId="0"><pane ySplit="1""#),
            "{out}"
        );
        assert!(out.contains(r#"</sheetView></sheetViews>"#), "{out}");
        assert!(out.contains(r#"<c r="B1" s="1" t="inlineStr"><is><t xml:space="preserve">Lỗi</t></is></c></row>"#), "{out}");
        // A2 keeps its value, with the yellow copy of its style.
        assert!(out.contains(r#"<c r="A2" s="2"><v>5</v></c>"#), "{out}");
        let styles = {
            let mut s = Styles::parse(STYLES.into()).unwrap();
            s.derive(0, fill(Severity::Warning)).unwrap();
            s.finish()
        };
        assert!(styles.contains("FFFFEB9C"));
    }

    #[test]
    fn broken_xml_is_an_error_not_a_panic() {
        let mut styles = Styles::parse(STYLES.into()).unwrap();
        for xml in [
            format!(
                "<worksheet {NS}><sheetData><row r=\"1\"><c r=\"A1\"></row></sheetData></worksheet>"
            ),
            format!("<worksheet {NS}><sheetData><row r=\"1\"><c r=\"A1\">"),
            "not xml at all <<<".to_string(),
        ] {
            let _ = sheet(
                &xml,
                &marks(1, &[((0, 0), Severity::Error)], &[0]),
                &mut styles,
            );
        }
        assert!(sheet("<a><b></a>", &marks(1, &[], &[0]), &mut styles).is_err());
    }
}
