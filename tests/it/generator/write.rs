//! Writes a generated workbook as the programs schools use write it: xlsx by rust_xlsxwriter
//! (as Excel does: shared strings, styles, merged ranges), a minimal xlsx by hand (as small
//! writers and web exports do: inline or shared strings, no styles), CSV with `,` `;` or tab in
//! UTF-8, UTF-8 with BOM, UTF-16LE or Windows-1258 (decomposed tones, as Excel on a Vietnamese
//! Windows writes), and an HTML table (row and column spans for merged cells).

use std::io::Write;

use chrono::Datelike;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::grid::{GenSheet, V};

/// A writer and its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    RustXlsxwriter,
    HandXlsx {
        shared_strings: bool,
    },
    Csv {
        sep: u8,
        encoding: Encoding,
    },
    Html,
    /// An OpenDocument spreadsheet: a zip of content.xml, as LibreOffice writes it.
    Ods,
    /// Excel 97-2003 (BIFF8 in a compound file), as old Excel and many web systems write it.
    Xls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Windows1258,
    /// Windows-1258 with the code page's own precomposed letters (à, á, â, ã...) where it has
    /// them, as some converters write it.
    Windows1258Precomposed,
}

impl Writer {
    pub fn extension(self) -> &'static str {
        match self {
            Writer::RustXlsxwriter | Writer::HandXlsx { .. } => "xlsx",
            Writer::Csv {
                encoding: Encoding::Utf16Le,
                ..
            } => "txt",
            Writer::Csv { .. } => "csv",
            Writer::Html => "xls",
            Writer::Ods => "ods",
            Writer::Xls => "xls",
        }
    }
}

pub fn write(w: Writer, sheets: &[GenSheet]) -> Vec<u8> {
    match w {
        Writer::RustXlsxwriter => rust_xlsxwriter(sheets),
        Writer::HandXlsx { shared_strings } => hand_xlsx(sheets, shared_strings),
        Writer::Csv { sep, encoding } => csv(&sheets[0], sep, encoding),
        Writer::Html => html(&sheets[0]),
        Writer::Ods => ods(sheets),
        Writer::Xls => xls(sheets),
    }
}

fn rust_xlsxwriter(sheets: &[GenSheet]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let legacy = Format::new().set_font_name(".VnTime");
    let plain = Format::new();
    for s in sheets {
        let ws = wb.add_worksheet();
        if !s.name.is_empty() {
            ws.set_name(&s.name).unwrap();
        }
        let write = |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, v: &V| match v {
            V::E => {}
            V::T(t) => {
                ws.write_string(r, c, t).unwrap();
            }
            V::N(n) => {
                ws.write_number(r, c, *n).unwrap();
            }
            V::D(d) => {
                let x = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                    .unwrap();
                ws.write_date_with_format(r, c, &x, &date).unwrap();
            }
            V::Tcvn3(t) => {
                ws.write_string_with_format(r, c, t, &legacy).unwrap();
            }
        };
        for &(r1, c1, r2, c2) in &s.merges {
            let anchor = s
                .cells
                .get(r1 as usize)
                .and_then(|row| row.get(c1 as usize))
                .cloned()
                .unwrap_or(V::E);
            let format = if matches!(anchor, V::Tcvn3(_)) {
                &legacy
            } else {
                &plain
            };
            ws.merge_range(r1, c1, r2, c2, "", format).unwrap();
        }
        for (r, row) in s.cells.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                write(ws, r as u32, c as u16, v);
            }
        }
        for &r in &s.hidden {
            ws.set_row_hidden(r).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn col_name(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}

/// A minimal workbook: content types, the workbook and its relations, one part per sheet, and
/// shared strings or inline strings. Dates are written as serial numbers without a style.
fn hand_xlsx(sheets: &[GenSheet], shared_strings: bool) -> Vec<u8> {
    let mut strings: Vec<String> = Vec::new();
    let mut parts: Vec<(String, String)> = Vec::new();
    for (k, s) in sheets.iter().enumerate() {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
             xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        );
        for (r, row) in s.cells.iter().enumerate() {
            if row.iter().all(|v| *v == V::E) && !s.hidden.contains(&(r as u32)) {
                continue;
            }
            let hidden = if s.hidden.contains(&(r as u32)) {
                " hidden=\"1\""
            } else {
                ""
            };
            x.push_str(&format!("<row r=\"{}\"{hidden}>", r + 1));
            for (c, v) in row.iter().enumerate() {
                let at = format!("{}{}", col_name(c), r + 1);
                match v {
                    V::E => {}
                    V::T(t) | V::Tcvn3(t) => {
                        if shared_strings {
                            let i = strings.iter().position(|s| s == t).unwrap_or_else(|| {
                                strings.push(t.clone());
                                strings.len() - 1
                            });
                            x.push_str(&format!("<c r=\"{at}\" t=\"s\"><v>{i}</v></c>"));
                        } else {
                            x.push_str(&format!(
                                "<c r=\"{at}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
                                escape(t)
                            ));
                        }
                    }
                    V::N(n) => x.push_str(&format!("<c r=\"{at}\"><v>{n}</v></c>")),
                    V::D(d) => {
                        let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
                        x.push_str(&format!(
                            "<c r=\"{at}\"><v>{}</v></c>",
                            (*d - base).num_days()
                        ));
                    }
                }
            }
            x.push_str("</row>");
        }
        x.push_str("</sheetData>");
        if !s.merges.is_empty() {
            x.push_str(&format!("<mergeCells count=\"{}\">", s.merges.len()));
            for &(r1, c1, r2, c2) in &s.merges {
                x.push_str(&format!(
                    "<mergeCell ref=\"{}{}:{}{}\"/>",
                    col_name(c1 as usize),
                    r1 + 1,
                    col_name(c2 as usize),
                    r2 + 1
                ));
            }
            x.push_str("</mergeCells>");
        }
        x.push_str("</worksheet>");
        parts.push((format!("xl/worksheets/sheet{}.xml", k + 1), x));
    }
    let mut types = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
    );
    let mut wb = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook \
         xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
    );
    let mut rels = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    for (k, s) in sheets.iter().enumerate() {
        let name = if s.name.is_empty() {
            format!("Sheet{}", k + 1)
        } else {
            s.name.clone()
        };
        types.push_str(&format!(
            "<Override PartName=\"/xl/worksheets/sheet{}.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>",
            k + 1
        ));
        wb.push_str(&format!(
            "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
            escape(&name),
            k + 1,
            k + 1
        ));
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" \
             Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" \
             Target=\"worksheets/sheet{}.xml\"/>",
            k + 1,
            k + 1
        ));
    }
    if shared_strings {
        types.push_str(
            "<Override PartName=\"/xl/sharedStrings.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>",
        );
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" \
             Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" \
             Target=\"sharedStrings.xml\"/>",
            sheets.len() + 1
        ));
        let mut sst = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst \
             xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"{0}\" uniqueCount=\"{0}\">",
            strings.len()
        );
        for t in &strings {
            sst.push_str(&format!(
                "<si><t xml:space=\"preserve\">{}</t></si>",
                escape(t)
            ));
        }
        sst.push_str("</sst>");
        parts.push(("xl/sharedStrings.xml".into(), sst));
    }
    types.push_str("</Types>");
    wb.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    let root_rels = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships \
         xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" \
         Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" \
         Target=\"xl/workbook.xml\"/></Relationships>";
    let mut out = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut add = |name: &str, body: &str| {
            z.start_file(name, opts).unwrap();
            z.write_all(body.as_bytes()).unwrap();
        };
        add("[Content_Types].xml", &types);
        add("_rels/.rels", root_rels);
        add("xl/workbook.xml", &wb);
        add("xl/_rels/workbook.xml.rels", &rels);
        for (name, body) in &parts {
            add(name, body);
        }
        z.finish().unwrap();
    }
    out
}

/// A field as a CSV writer quotes it.
fn csv_field(t: &str, sep: u8) -> String {
    if t.contains([char::from(sep), '"', '\n', '\r']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t.to_string()
    }
}

fn csv(s: &GenSheet, sep: u8, encoding: Encoding) -> Vec<u8> {
    let mut text = String::new();
    // Excel writes every row to the sheet's width (a blank row as separators only); other
    // writers end a row at its last cell, and write a blank row as an empty line.
    let width = if encoding == Encoding::Utf8 {
        0
    } else {
        s.width()
    };
    for row in &s.cells {
        let mut line: Vec<String> = row.iter().map(|v| csv_field(&v.shown(), sep)).collect();
        line.resize(line.len().max(width), String::new());
        text.push_str(&line.join(&char::from(sep).to_string()));
        text.push_str("\r\n");
    }
    match encoding {
        Encoding::Utf8 => text.into_bytes(),
        Encoding::Utf8Bom => {
            let mut b = b"\xEF\xBB\xBF".to_vec();
            b.extend(text.into_bytes());
            b
        }
        Encoding::Utf16Le => {
            let mut b = vec![0xFF, 0xFE];
            b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            b
        }
        Encoding::Windows1258 => windows_1258(&text, false),
        Encoding::Windows1258Precomposed => windows_1258(&text, true),
    }
}

/// Text in Windows-1258 as Excel writes it: base letters (with their circumflex, breve or horn
/// when the code page has them) followed by a combining tone byte.
pub fn windows_1258(text: &str, precomposed: bool) -> Vec<u8> {
    use unicode_normalization::UnicodeNormalization;
    // The code page's characters, from its decoder.
    let table: Vec<(char, u8)> = (0x80..=0xFFu8)
        .filter_map(|b| {
            let bytes = [b];
            let (t, _, bad) = encoding_rs::WINDOWS_1258.decode(&bytes);
            let c = t.chars().next()?;
            (!bad && t.chars().count() == 1).then_some((c, b))
        })
        .collect();
    let byte = |c: char| -> Option<u8> {
        if c.is_ascii() {
            Some(c as u8)
        } else {
            table.iter().find(|(u, _)| *u == c).map(|&(_, b)| b)
        }
    };
    let tones = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];
    let mut out = Vec::new();
    for c in text.nfc() {
        if matches!(c, '\u{200B}' | '\u{FEFF}') {
            // Invisible, and not in the code page: lost on the way.
            continue;
        }
        if precomposed && let Some(b) = byte(c) {
            out.push(b);
            continue;
        }
        let d: Vec<char> = c.nfd().collect();
        let tone = d.iter().copied().find(|m| tones.contains(m));
        let base: String = d
            .iter()
            .copied()
            .filter(|m| !tones.contains(m))
            .collect::<String>()
            .nfc()
            .collect();
        for bc in base.chars() {
            // What the code page cannot write, Windows writes as "?".
            out.push(byte(bc).unwrap_or(b'?'));
        }
        if let Some(t) = tone {
            out.push(byte(t).unwrap_or(b'?'));
        }
    }
    out
}

fn html(s: &GenSheet) -> Vec<u8> {
    let mut covered = std::collections::HashSet::new();
    let mut spans = std::collections::HashMap::new();
    for &(r1, c1, r2, c2) in &s.merges {
        spans.insert((r1, c1), ((r2 - r1 + 1), (c2 - c1 + 1)));
        for r in r1..=r2 {
            for c in c1..=c2 {
                if (r, c) != (r1, c1) {
                    covered.insert((r, c));
                }
            }
        }
    }
    let width = s.width();
    let mut h =
        String::from("<html><head><meta charset=\"utf-8\"></head><body><table border=\"1\">\n");
    for (r, row) in s.cells.iter().enumerate() {
        h.push_str("<tr>");
        for c in 0..width {
            let (r, c16) = (r as u32, c as u16);
            if covered.contains(&(r, c16)) {
                continue;
            }
            let v = row.get(c).cloned().unwrap_or(V::E);
            let span = match spans.get(&(r, c16)) {
                Some((rs, cs)) => format!(
                    "{}{}",
                    if *rs > 1 {
                        format!(" rowspan=\"{rs}\"")
                    } else {
                        String::new()
                    },
                    if *cs > 1 {
                        format!(" colspan=\"{cs}\"")
                    } else {
                        String::new()
                    }
                ),
                None => String::new(),
            };
            h.push_str(&format!(
                "<td{span}>{}</td>",
                escape(&v.shown()).replace('\n', "<br>")
            ));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></body></html>\n");
    h.into_bytes()
}

/// An OpenDocument spreadsheet: merged cells spanned and covered, hidden rows collapsed,
/// numbers as floats and dates as dates.
fn ods(sheets: &[GenSheet]) -> Vec<u8> {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
         <office:body><office:spreadsheet>",
    );
    for (k, s) in sheets.iter().enumerate() {
        let name = if s.name.is_empty() {
            format!("Sheet{}", k + 1)
        } else {
            s.name.clone()
        };
        x.push_str(&format!("<table:table table:name=\"{}\">", escape(&name)));
        let width = s.width().max(1);
        x.push_str(&format!(
            "<table:table-column table:number-columns-repeated=\"{width}\"/>"
        ));
        let mut covered = std::collections::HashSet::new();
        let mut spans = std::collections::HashMap::new();
        for &(r1, c1, r2, c2) in &s.merges {
            spans.insert((r1, c1), (r2 - r1 + 1, c2 - c1 + 1));
            for r in r1..=r2 {
                for c in c1..=c2 {
                    if (r, c) != (r1, c1) {
                        covered.insert((r, c));
                    }
                }
            }
        }
        for (r, row) in s.cells.iter().enumerate() {
            let r = r as u32;
            let hidden = if s.hidden.contains(&r) {
                " table:visibility=\"collapse\""
            } else {
                ""
            };
            x.push_str(&format!("<table:table-row{hidden}>"));
            for c in 0..width {
                let c16 = c as u16;
                if covered.contains(&(r, c16)) {
                    x.push_str("<table:covered-table-cell/>");
                    continue;
                }
                let span = match spans.get(&(r, c16)) {
                    Some((rs, cs)) => format!(
                        " table:number-rows-spanned=\"{rs}\" table:number-columns-spanned=\"{cs}\""
                    ),
                    None => String::new(),
                };
                match row.get(c).unwrap_or(&V::E) {
                    V::E => x.push_str(&format!("<table:table-cell{span}/>")),
                    V::T(t) | V::Tcvn3(t) => {
                        let paragraphs: String = t
                            .split('\n')
                            .map(|p| format!("<text:p>{}</text:p>", escape(p)))
                            .collect();
                        x.push_str(&format!(
                            "<table:table-cell office:value-type=\"string\"{span}>{paragraphs}</table:table-cell>"
                        ));
                    }
                    V::N(n) => x.push_str(&format!(
                        "<table:table-cell office:value-type=\"float\" office:value=\"{n}\"{span}><text:p>{n}</text:p></table:table-cell>"
                    )),
                    V::D(d) => x.push_str(&format!(
                        "<table:table-cell office:value-type=\"date\" office:date-value=\"{}\"{span}><text:p>{}</text:p></table:table-cell>",
                        d.format("%Y-%m-%d"),
                        d.format("%d/%m/%Y")
                    )),
                }
            }
            x.push_str("</table:table-row>");
        }
        x.push_str("</table:table>");
    }
    x.push_str("</office:spreadsheet></office:body></office:document-content>");
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<manifest:manifest \
         xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
         <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
         <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\
         </manifest:manifest>";
    let mut out = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("mimetype", stored).unwrap();
        z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        z.start_file("META-INF/manifest.xml", deflated).unwrap();
        z.write_all(manifest.as_bytes()).unwrap();
        z.start_file("content.xml", deflated).unwrap();
        z.write_all(x.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    out
}

/// One BIFF record: type, length, data.
fn record(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    assert!(data.len() <= 8224, "a BIFF record holds at most 8224 bytes");
    out.extend(typ.to_le_bytes());
    out.extend((data.len() as u16).to_le_bytes());
    out.extend(data);
}

/// A BIFF8 string: its length (in a byte or two), a flag byte (1: UTF-16LE), the characters.
fn biff_string(t: &str, short: bool) -> Vec<u8> {
    let units: Vec<u16> = t
        .encode_utf16()
        .take(if short { 31 } else { 4000 })
        .collect();
    let mut b = Vec::new();
    if short {
        b.push(units.len() as u8);
    } else {
        b.extend((units.len() as u16).to_le_bytes());
    }
    b.push(1);
    b.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    b
}

fn bof(dt: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0x0600u16.to_le_bytes());
    b.extend(dt.to_le_bytes());
    b.extend(0x0DBBu16.to_le_bytes());
    b.extend(0x07CCu16.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0x06u32.to_le_bytes());
    b
}

/// A minimal BIFF8 workbook: globals (BOF, code page, one BoundSheet8 a sheet, EOF), then per
/// sheet BOF, ROW records for hidden rows, LABEL and NUMBER cells, MERGEDCELLS and EOF, in a
/// compound file's "Workbook" stream. Dates are written as serial numbers.
fn xls(sheets: &[GenSheet]) -> Vec<u8> {
    let mut globals = Vec::new();
    record(&mut globals, 0x0809, &bof(0x0005));
    record(&mut globals, 0x0042, &1200u16.to_le_bytes());
    // Where each BoundSheet8's stream offset is, to fill in once the sheets are laid out.
    let mut offsets_at = Vec::new();
    for (k, s) in sheets.iter().enumerate() {
        let name = if s.name.is_empty() {
            format!("Sheet{}", k + 1)
        } else {
            s.name.clone()
        };
        let mut data = vec![0, 0, 0, 0, 0, 0];
        data.extend(biff_string(&name, true));
        offsets_at.push(globals.len() + 4);
        record(&mut globals, 0x0085, &data);
    }
    record(&mut globals, 0x000A, &[]);
    let mut stream = globals;
    for (k, s) in sheets.iter().enumerate() {
        let at = stream.len() as u32;
        stream[offsets_at[k]..offsets_at[k] + 4].copy_from_slice(&at.to_le_bytes());
        record(&mut stream, 0x0809, &bof(0x0010));
        for &r in &s.hidden {
            let mut d = Vec::new();
            d.extend((r as u16).to_le_bytes());
            d.extend(0u16.to_le_bytes());
            d.extend((s.width() as u16).to_le_bytes());
            d.extend(0x00FFu16.to_le_bytes());
            d.extend(0u16.to_le_bytes());
            d.extend(0u16.to_le_bytes());
            // fDyZero (hidden) and fUnsynced.
            d.extend(0x0000_0160u32.to_le_bytes());
            record(&mut stream, 0x0208, &d);
        }
        for (r, row) in s.cells.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let mut d = Vec::new();
                d.extend((r as u16).to_le_bytes());
                d.extend((c as u16).to_le_bytes());
                d.extend(0u16.to_le_bytes());
                match v {
                    V::E => continue,
                    V::T(t) | V::Tcvn3(t) => {
                        d.extend(biff_string(t, false));
                        record(&mut stream, 0x0204, &d);
                    }
                    V::N(n) => {
                        d.extend(n.to_le_bytes());
                        record(&mut stream, 0x0203, &d);
                    }
                    V::D(day) => {
                        let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
                        d.extend(((*day - base).num_days() as f64).to_le_bytes());
                        record(&mut stream, 0x0203, &d);
                    }
                }
            }
        }
        for chunk in s.merges.chunks(1000) {
            let mut d = Vec::new();
            d.extend((chunk.len() as u16).to_le_bytes());
            for &(r1, c1, r2, c2) in chunk {
                for x in [r1 as u16, r2 as u16, c1, c2] {
                    d.extend(x.to_le_bytes());
                }
            }
            record(&mut stream, 0x00E5, &d);
        }
        record(&mut stream, 0x000A, &[]);
    }
    let mut cf =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, std::io::Cursor::new(Vec::new()))
            .unwrap();
    cf.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}
