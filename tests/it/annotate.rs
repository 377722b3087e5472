//! The school's own file sent back marked, through the real path (`pipeline::process` then
//! `reply::compose`): an xlsx built here with a merged title, a bold bordered header, its own
//! column widths and a second sheet comes back as the same workbook (its other parts byte for
//! byte, its merges, widths and styles kept) with the "Lỗi" column after the table, frozen, and
//! the wrong cells filled; the same list saved by LibreOffice as xls and ods comes back as a new
//! xlsx keeping their widths and merges. Every result is opened with calamine and converted by
//! LibreOffice.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Command;

use calamine::{Data, Reader, open_workbook_auto_from_rs};
use chrono::{TimeZone, Utc};
use cts_intake::config::{Config, Overrides};
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::{ReplyKind, process};
use cts_intake::reply::{Answered, compose};
use cts_intake::units::Registry;
use cts_testkit::{CellValue, canonical_headers};
use quick_xml::events::Event;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook};

use crate::pipeline::person;
use crate::print::tool;
use crate::support::{root, succeeds};

/// The widths the school gave its 15 columns.
const WIDTHS: [f64; 15] = [
    5.0, 26.0, 12.0, 15.0, 11.0, 22.0, 14.0, 20.0, 28.0, 13.0, 16.0, 18.0, 10.0, 12.0, 9.0,
];
/// The 0-based rows of the wrong cells: a 10-digit ID, a Gmail address, a missing birth date.
const BAD_ID_ROW: u32 = 5;
const BAD_EMAIL_ROW: u32 = 6;
const NO_BIRTH_ROW: u32 = 7;
const HEADER_ROW: u32 = 3;

/// The school's list: two merged title rows, a blank row, a bold bordered header (row 4),
/// four bordered rows (Excel rows 5-8, three of them wrong), a footer and a signature right of
/// the table, and a second sheet.
fn school_xlsx() -> Vec<u8> {
    let mut wb = Workbook::new();
    let title = Format::new().set_bold().set_font_size(14);
    let header = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_background_color(Color::RGB(0xDDEBF7));
    let cell = Format::new().set_border(FormatBorder::Thin);
    let date = cell.clone().set_num_format("dd/mm/yyyy");
    let ws = wb.add_worksheet();
    ws.set_name("DS đề nghị").unwrap();
    ws.merge_range(0, 0, 0, 14, "SỞ GIÁO DỤC VÀ ĐÀO TẠO NAM ĐỊNH", &title)
        .unwrap();
    ws.merge_range(1, 0, 1, 14, "DANH SÁCH ĐỀ NGHỊ CẤP CHỨNG THƯ SỐ", &title)
        .unwrap();
    for (c, h) in canonical_headers().iter().enumerate() {
        ws.write_string_with_format(HEADER_ROW, c as u16, h, &header)
            .unwrap();
    }
    let mut rows = [
        person("Nguyễn Văn An", "036085001234", (1985, 3, 5), "Cấp mới CTS"),
        person("Trần Thị Bình", "0360820012", (1990, 7, 1), "Cấp mới CTS"),
        person(
            "Phạm Văn Cường",
            "036063001111",
            (1963, 1, 9),
            "Cấp mới CTS",
        ),
        person("Lê Thị Dung", "036092002222", (1992, 2, 2), "Cấp mới CTS"),
    ];
    rows[2][8] = "cuongpv1963@gmail.com".into();
    rows[3][2] = CellValue::Empty;
    for (i, row) in rows.iter().enumerate() {
        let r = HEADER_ROW + 1 + i as u32;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            match v {
                // The missing birth date is no cell at all (not even a bordered blank).
                CellValue::Empty if r == NO_BIRTH_ROW && c == 2 => {}
                CellValue::Empty => {
                    ws.write_blank(r, c, &cell).unwrap();
                }
                CellValue::Text(t) => {
                    ws.write_string_with_format(r, c, t, &cell).unwrap();
                }
                CellValue::Number(n) => {
                    ws.write_number_with_format(r, c, *n, &cell).unwrap();
                }
                CellValue::Date(d) => {
                    use chrono::Datelike;
                    let dt =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .unwrap();
                    ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
                }
            }
        }
    }
    ws.write_string(10, 1, "Người lập biểu").unwrap();
    // A signature right of the table: "Lỗi" still goes right after the table.
    ws.write_string(11, 17, "HIỆU TRƯỞNG").unwrap();
    for (c, w) in WIDTHS.iter().enumerate() {
        ws.set_column_width(c as u16, *w).unwrap();
    }
    ws.set_landscape();
    let guide = wb.add_worksheet();
    guide.set_name("Hướng dẫn").unwrap();
    guide.write_string(0, 0, "Ghi mỗi người một dòng").unwrap();
    guide.set_column_width(0, 40).unwrap();
    wb.save_to_buffer().unwrap()
}

/// The annotated file the error reply to `bytes` (sent as `name`) attaches.
fn returned(name: &str, bytes: Vec<u8>) -> (String, Vec<u8>) {
    let config = Config::load(&root().join("config/default.toml"), &Overrides::default()).unwrap();
    let registry = Registry::load(&root().join("config/units.csv")).unwrap();
    let mail = ParsedMail {
        message_id: Some("own-file@test".into()),
        from: Some("c3nguyenkhuyen@namdinh.edu.vn".into()),
        subject: "Danh sách CTS".into(),
        attachments: vec![Attachment {
            filename: name.into(),
            content_type: "application/octet-stream".into(),
            bytes,
        }],
        ..Default::default()
    };
    let at = Utc.with_ymd_and_hms(2022, 12, 5, 3, 0, 0).unwrap();
    let outcome = process(&mail, at, &config, &registry, &|_| None);
    assert_eq!(outcome.reply, ReplyKind::Errors, "{:#?}", outcome.problems);
    let answered = Answered {
        mail: &mail,
        received_at: at,
        mailbox: "INBOX",
        source_key: "1",
    };
    let reply = compose(&outcome, answered, &config).expect("a reply");
    let file = reply
        .attachments
        .into_iter()
        .find(|a| a.name.ends_with(".xlsx"))
        .expect("the annotated file");
    (file.name, file.bytes)
}

/// Every part of a zip, unpacked.
fn parts(zip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(f.name().unwrap().to_string(), data);
    }
    out
}

fn text(parts: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(parts[name].clone()).unwrap()
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The attributes of every element named `name` (any prefix).
fn elements(xml: &str, name: &str) -> Vec<HashMap<String, String>> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) if local(e.name().as_ref()) == name => {
                out.push(
                    e.attributes()
                        .flatten()
                        .map(|a| {
                            let k: &str = a.key.as_ref();
                            (k.to_string(), a.value.to_string())
                        })
                        .collect(),
                );
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

/// The raw XML of each child of the element named `list` (fonts, fills, borders, cellXfs).
fn items(xml: &str, list: &str) -> Vec<String> {
    let mut r = quick_xml::Reader::from_str(xml);
    let (mut depth, mut inside, mut start) = (0usize, None, 0usize);
    let mut out = Vec::new();
    loop {
        let at = r.buffer_position() as usize;
        let event = r.read_event().unwrap();
        let end = r.buffer_position() as usize;
        match event {
            Event::Start(e) => {
                if inside.is_none() && local(e.name().as_ref()) == list {
                    inside = Some(depth);
                } else if inside.is_some_and(|d| d + 1 == depth) {
                    start = at;
                }
                depth += 1;
            }
            Event::Empty(_) if inside.is_some_and(|d| d + 1 == depth) => {
                out.push(xml[at..end].to_string());
            }
            Event::End(_) => {
                depth -= 1;
                if inside == Some(depth) {
                    inside = None;
                } else if inside.is_some_and(|d| d + 1 == depth) {
                    out.push(xml[start..end].to_string());
                }
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

/// What a cell's style is made of: its font, fill and border, as XML.
#[derive(Debug, PartialEq)]
struct Look {
    font: String,
    fill: String,
    border: String,
    num_fmt: String,
}

fn look(parts: &BTreeMap<String, Vec<u8>>, sheet: &str, cell: &str) -> Option<Look> {
    let xml = text(parts, sheet);
    let c = elements(&xml, "c")
        .into_iter()
        .find(|c| c.get("r").map(String::as_str) == Some(cell))?;
    let s: usize = c.get("s").map_or(0, |s| s.parse().unwrap());
    let styles = text(parts, "xl/styles.xml");
    let xf = &elements(&items(&styles, "cellXfs")[s], "xf")[0];
    let id = |k: &str| -> usize { xf.get(k).map_or(0, |v| v.parse().unwrap()) };
    Some(Look {
        font: items(&styles, "fonts")[id("fontId")].clone(),
        fill: items(&styles, "fills")[id("fillId")].clone(),
        border: items(&styles, "borders")[id("borderId")].clone(),
        num_fmt: xf.get("numFmtId").cloned().unwrap_or_default(),
    })
}

fn bold(font: &str) -> bool {
    font.contains("<b/>") || font.contains(":b/>")
}

fn col_letter(c: u32) -> char {
    (b'A' + c as u8) as char
}

/// The values of a workbook's first sheet named `sheet`, opened with calamine.
fn values(xlsx: &[u8], sheet: &str) -> (Vec<String>, calamine::Range<Data>) {
    let mut wb = open_workbook_auto_from_rs(Cursor::new(xlsx.to_vec())).unwrap();
    let names = wb.sheet_names().to_vec();
    let range = wb.worksheet_range(sheet).unwrap();
    (names, range)
}

fn value(range: &calamine::Range<Data>, r: u32, c: u32) -> String {
    match range.get_value((r, c)) {
        Some(Data::Empty) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// Converts `files` with LibreOffice to `format` in `out` (one run), failing with how to
/// install it when it is missing.
fn convert(files: &[&Path], format: &str, out: &Path) {
    let soffice = tool("soffice", "libreoffice-calc-nogui");
    succeeds(
        Command::new(&soffice)
            .arg(format!(
                "-env:UserInstallation=file://{}",
                out.join("lo-profile").display()
            ))
            .args(["--headless", "--convert-to", format, "--outdir"])
            .arg(out)
            .args(files),
    );
}

/// The checks every returned file passes, whatever the original's format: the rows where
/// they were, "Lỗi" right after the table (column P) with the row's errors, naming each column
/// once, the header frozen, the wrong cells red, calamine and LibreOffice open it.
fn check_marks(xlsx: &[u8], dir: &Path, stem: &str) -> BTreeMap<String, Vec<u8>> {
    let (names, range) = values(xlsx, "DS đề nghị");
    assert!(names.contains(&"Hướng dẫn".to_string()), "{names:?}");
    assert_eq!(value(&range, HEADER_ROW, 14), canonical_headers()[14]);
    assert_eq!(
        value(&range, HEADER_ROW, 15),
        "Lỗi",
        "Lỗi in P, after the 15 columns"
    );
    assert_eq!(value(&range, BAD_ID_ROW, 3), "0360820012");
    assert_eq!(value(&range, BAD_EMAIL_ROW, 8), "cuongpv1963@gmail.com");
    let id_note = value(&range, BAD_ID_ROW, 15);
    assert!(id_note.contains("Số CCCD"), "{id_note}");
    assert!(!id_note.contains("Số CCCD: Số CCCD"), "{id_note}");
    assert!(value(&range, BAD_EMAIL_ROW, 15).contains("Email"));
    assert!(value(&range, NO_BIRTH_ROW, 15).contains("Ngày sinh"));
    assert_eq!(
        value(&range, HEADER_ROW + 1, 15),
        "",
        "a clean row has no note"
    );
    assert_eq!(value(&range, 10, 1), "Người lập biểu");

    let parts = parts(xlsx);
    let sheet = text(&parts, "xl/worksheets/sheet1.xml");
    let pane = &elements(&sheet, "pane")[0];
    assert_eq!(pane["ySplit"], (HEADER_ROW + 1).to_string());
    assert_eq!(pane["state"], "frozen");
    let cols = elements(&sheet, "col");
    let note = cols
        .iter()
        .find(|c| c["min"] == "16" && c["max"] == "16")
        .expect("a <col> for Lỗi");
    assert!(note["width"].parse::<f64>().unwrap() >= 60.0, "{note:?}");
    let wrapped = |cell: &str| {
        let xml = text(&parts, "xl/worksheets/sheet1.xml");
        let s: usize = elements(&xml, "c")
            .into_iter()
            .find(|c| c["r"] == cell)
            .and_then(|c| c.get("s").map(|s| s.parse().unwrap()))
            .unwrap_or(0);
        let styles = text(&parts, "xl/styles.xml");
        let xf = &items(&styles, "cellXfs")[s];
        elements(xf, "alignment")
            .first()
            .is_some_and(|a| a.get("wrapText").map(String::as_str) == Some("1"))
    };
    assert!(wrapped(&format!("P{}", BAD_ID_ROW + 1)), "the notes wrap");
    let red = "FFFFC7CE";
    for (r, c) in [(BAD_ID_ROW, 3), (BAD_EMAIL_ROW, 8), (NO_BIRTH_ROW, 2)] {
        let cell = format!("{}{}", col_letter(c), r + 1);
        let l = look(&parts, "xl/worksheets/sheet1.xml", &cell).unwrap_or_else(|| panic!("{cell}"));
        assert!(l.fill.contains(red), "{cell}: {l:?}");
    }
    let clean = look(
        &parts,
        "xl/worksheets/sheet1.xml",
        &format!("D{}", HEADER_ROW + 2),
    )
    .unwrap();
    assert!(!clean.fill.contains(red), "{clean:?}");
    let header = look(
        &parts,
        "xl/worksheets/sheet1.xml",
        &format!("P{}", HEADER_ROW + 1),
    )
    .unwrap();
    assert!(bold(&header.font), "the Lỗi header is bold: {header:?}");

    // LibreOffice reads it: its CSV of the first sheet has the rows and the notes.
    let file = dir.join(format!("{stem}.xlsx"));
    std::fs::write(&file, xlsx).unwrap();
    let out = dir.join(format!("{stem}-csv"));
    // Comma-separated, quoted, UTF-8 (76).
    convert(&[&file], "csv:Text - txt - csv (StarCalc):44,34,76", &out);
    let csv = std::fs::read_to_string(out.join(format!("{stem}.csv"))).unwrap();
    assert!(csv.contains("Lỗi") && csv.contains("0360820012"), "{csv}");
    assert!(
        csv.contains(&id_note.lines().next().unwrap().to_string()),
        "{csv}"
    );
    parts
}

#[test]
fn a_schools_xlsx_comes_back_as_its_own_workbook_with_merges_widths_and_styles_kept() {
    let dir = tempfile::tempdir().unwrap();
    let original = school_xlsx();
    let (name, back) = returned("DS Nguyễn Khuyến.xlsx", original.clone());
    assert_eq!(name, "DS Nguyễn Khuyến - đánh dấu lỗi.xlsx");
    let before = parts(&original);
    let after = check_marks(&back, dir.path(), "own");
    let sheet = "xl/worksheets/sheet1.xml";

    // Every part but the marked sheet and the styles is the school's, byte for byte: the
    // second sheet, the workbook (names, print setup), the shared strings.
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, data) in &before {
        if name != sheet && name != "xl/styles.xml" {
            assert!(after[name] == *data, "{name} changed");
        }
    }
    let (old, new) = (text(&before, sheet), text(&after, sheet));
    assert_eq!(elements(&old, "mergeCell"), elements(&new, "mergeCell"));
    assert_eq!(elements(&old, "pageSetup"), elements(&new, "pageSetup"));
    // The school's widths, then the one of Lỗi.
    let cols = elements(&old, "col");
    assert_eq!(cols.len(), 15, "{cols:?}");
    let new_cols = elements(&new, "col");
    assert_eq!(new_cols.len(), 16);
    assert_eq!(new_cols[..15], cols[..], "the school's <col>s are kept");
    // The header keeps its bold, border and fill; a wrong cell keeps its font, border and
    // number format, only its fill changes.
    for c in 0..15 {
        let cell = format!("{}{}", col_letter(c), HEADER_ROW + 1);
        let (was, is) = (
            look(&before, sheet, &cell).unwrap(),
            look(&after, sheet, &cell).unwrap(),
        );
        assert_eq!(was, is, "{cell}");
        assert!(bold(&is.font) && is.border.contains("thin"), "{is:?}");
    }
    for (r, c) in [(BAD_ID_ROW, 3), (BAD_EMAIL_ROW, 8)] {
        let cell = format!("{}{}", col_letter(c), r + 1);
        let (was, is) = (
            look(&before, sheet, &cell).unwrap(),
            look(&after, sheet, &cell).unwrap(),
        );
        assert_eq!(
            (&was.font, &was.border, &was.num_fmt),
            (&is.font, &is.border, &is.num_fmt)
        );
        assert!(is.border.contains("thin"), "{is:?}");
        assert_ne!(was.fill, is.fill);
    }
    // The birth date the school left out is a new cell, red.
    assert!(look(&before, sheet, &format!("C{}", NO_BIRTH_ROW + 1)).is_none());
    let dims = elements(&new, "dimension");
    assert_eq!(dims[0]["ref"], "A1:R12");
    // A row whose note runs to two lines is made tall enough for them; a clean row is not.
    let row = |r: u32| {
        elements(&new, "row")
            .into_iter()
            .find(|e| e["r"] == (r + 1).to_string())
            .unwrap()
    };
    let tall = row(BAD_ID_ROW);
    assert!(tall["ht"].parse::<f64>().unwrap() >= 30.0, "{tall:?}");
    assert!(!row(HEADER_ROW + 1).contains_key("ht"));
}

/// The school's list as LibreOffice saves it in `format` (xls or ods).
fn saved_as(format: &str, dir: &Path) -> Vec<u8> {
    let src = dir.join("school.xlsx");
    std::fs::write(&src, school_xlsx()).unwrap();
    let out = dir.join(format!("as-{format}"));
    convert(&[&src], format, &out);
    std::fs::read(out.join(format!("school.{format}"))).unwrap()
}

/// A flat copy keeps the original's widths (within LibreOffice's rounding) and merges.
fn check_rebuilt(parts: &BTreeMap<String, Vec<u8>>) {
    let sheet = text(parts, "xl/worksheets/sheet1.xml");
    let merges: Vec<String> = elements(&sheet, "mergeCell")
        .into_iter()
        .map(|m| m["ref"].clone())
        .collect();
    assert!(merges.contains(&"A1:O1".to_string()), "{merges:?}");
    assert!(merges.contains(&"A2:O2".to_string()), "{merges:?}");
    let cols = elements(&sheet, "col");
    for (c, want) in WIDTHS.iter().enumerate() {
        let n = (c + 1).to_string();
        let col = cols
            .iter()
            .find(|e| {
                e["min"].parse::<usize>().unwrap() <= c + 1
                    && e["max"].parse::<usize>().unwrap() > c
            })
            .unwrap_or_else(|| panic!("no width for column {n}: {cols:?}"));
        let got: f64 = col["width"].parse().unwrap();
        // An xlsx's width counts the cell's padding (5 pixels of 7: 0.71 of a character).
        // LibreOffice rounds an ods's widths to its own units (within a few per cent) and
        // gives an xls's the padding twice.
        let target = want + 5.0 / 7.0;
        assert!(
            (got - target).abs() <= 0.08 * target + 0.75,
            "column {n}: {got} for {target}"
        );
    }
    let header = look(
        parts,
        "xl/worksheets/sheet1.xml",
        &format!("B{}", HEADER_ROW + 1),
    )
    .unwrap();
    assert!(bold(&header.font), "{header:?}");
}

#[test]
fn an_xls_or_ods_comes_back_as_an_xlsx_with_its_widths_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["xls", "ods"] {
        let file = saved_as(format, dir.path());
        let (name, back) = returned(&format!("DS.{format}"), file);
        assert_eq!(name, "DS - đánh dấu lỗi.xlsx");
        let parts = check_marks(&back, dir.path(), format);
        check_rebuilt(&parts);
    }
}

/// The workbook `zip` with each part `f` returns `Some` for replaced (`None` from `keep` drops
/// nothing: a part `drop` names is left out).
fn rezip(zip: &[u8], drop: &str, f: impl Fn(&str, &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts(zip) {
        if name == drop {
            continue;
        }
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&f(&name, &data).unwrap_or(data)).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// `xml` with its elements in the `x:` prefix (as some generators write it).
fn prefixed(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() * 2);
    let mut chars = xml.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '<' {
            match chars.peek() {
                Some('/') => {
                    chars.next();
                    out.push_str("/x:");
                }
                Some(n) if n.is_ascii_alphabetic() => out.push_str("x:"),
                _ => {}
            }
        }
    }
    out.replace(" xmlns=\"", " xmlns:x=\"")
}

#[test]
fn a_workbook_written_with_a_namespace_prefix_is_edited_in_that_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let original = rezip(&school_xlsx(), "", |name, data| {
        (name == "xl/worksheets/sheet1.xml" || name == "xl/styles.xml")
            .then(|| prefixed(std::str::from_utf8(data).unwrap()).into_bytes())
    });
    assert!(text(&parts(&original), "xl/styles.xml").contains("<x:cellXfs"));
    let (_, back) = returned("DS.xlsx", original.clone());
    let after = check_marks(&back, dir.path(), "prefixed");
    let sheet = text(&after, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("<x:c r=\"P4\""), "{sheet}");
    assert!(sheet.contains("<x:pane "), "{sheet}");
    assert!(!sheet.contains("<c "), "no element without the prefix");
    assert_eq!(
        elements(
            &text(&parts(&original), "xl/worksheets/sheet1.xml"),
            "mergeCell"
        ),
        elements(&sheet, "mergeCell")
    );
}

#[test]
fn a_workbook_the_editor_cannot_handle_comes_back_as_the_flat_copy() {
    let dir = tempfile::tempdir().unwrap();
    // No styles part: the editor has nowhere to put the fills; the reader does not need it.
    let original = rezip(&school_xlsx(), "xl/styles.xml", |_, _| None);
    let (_, back) = returned("DS.xlsx", original);
    let after = check_marks(&back, dir.path(), "flat");
    // Written anew (it has the styles part the original lacked), with the widths and merges.
    assert!(after.contains_key("xl/styles.xml"));
    check_rebuilt(&after);
}

/// Every list among the fixtures (each format, odd layouts, legacy fonts, hidden rows and
/// sheets, a macro workbook, an xlsx named .xls) comes back marked: an xlsx calamine opens, its
/// marked row's note where the row is, never a panic and never no file.
#[test]
fn every_fixture_list_comes_back_marked() {
    use cts_intake::sheet::{self, header};
    use cts_intake::validate::{RowProblem, Severity};
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for e in std::fs::read_dir(root().join("tests/fixtures")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".json") || name.ends_with(".eml") || name.ends_with(".py") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(sheets) = sheet::read(&name, &bytes) else {
            continue;
        };
        let mut problems = Vec::new();
        for s in &sheets {
            if s.hidden || !s.file.is_empty() {
                continue;
            }
            let Some(t) = header::find(s) else { continue };
            let (Some(column), Some(row)) = (
                t.columns.first(),
                header::rows(s, &t).first().map(|r| r.row),
            ) else {
                continue;
            };
            problems.push(RowProblem {
                file: name.clone(),
                sheet: s.name.clone(),
                row,
                column: column.header.clone(),
                field: String::new(),
                value: String::new(),
                severity: Severity::Error,
                message: "Sai KIEMTRA".into(),
            });
        }
        if problems.is_empty() {
            continue;
        }
        let attachment = Attachment {
            filename: name.clone(),
            content_type: "application/octet-stream".into(),
            bytes,
        };
        let marked = cts_intake::reply::annotate::annotate(&attachment, &problems)
            .unwrap_or_else(|| panic!("{name}: no file"));
        let p = &problems[0];
        let (_, range) = values(&marked.bytes, &p.sheet);
        let (r0, _) = range.start().unwrap();
        let found = range
            .rows()
            .enumerate()
            .find(|(_, cells)| cells.iter().any(|c| c.to_string().contains("KIEMTRA")))
            .map(|(i, _)| i as u32 + r0);
        assert_eq!(
            found,
            Some(p.row - 1),
            "{name}: the note on Excel row {}",
            p.row
        );
        let file = dir.path().join(format!("{}.xlsx", written.len()));
        std::fs::write(&file, &marked.bytes).unwrap();
        written.push((name, file));
    }
    assert!(written.len() >= 30, "{} fixtures", written.len());
    // LibreOffice opens every one (one run for all).
    let files: Vec<&Path> = written.iter().map(|(_, f)| f.as_path()).collect();
    let out = dir.path().join("csv");
    convert(&files, "csv:Text - txt - csv (StarCalc):44,34,76", &out);
    for (i, (name, _)) in written.iter().enumerate() {
        let csv = std::fs::read_to_string(out.join(format!("{i}.csv")))
            .unwrap_or_else(|e| panic!("{name}: LibreOffice made no CSV: {e}"));
        assert!(!csv.is_empty(), "{name}");
    }
}

#[test]
fn an_html_list_comes_back_as_an_xlsx_with_its_spans_and_widths() {
    let dir = tempfile::tempdir().unwrap();
    let cell = |v: &CellValue| match v {
        CellValue::Empty => String::new(),
        CellValue::Text(t) => t.clone(),
        CellValue::Number(n) => n.to_string(),
        CellValue::Date(d) => d.format("%d/%m/%Y").to_string(),
    };
    let mut html = String::from("<html><body><table><colgroup><col width=\"40\">");
    html.push_str("<col width=\"180\"><col width=\"89\" span=\"13\"></colgroup>");
    html.push_str("<tr><td colspan=\"15\"><b>DANH SÁCH ĐỀ NGHỊ</b></td></tr><tr>");
    for h in canonical_headers() {
        html.push_str(&format!("<th>{h}</th>"));
    }
    html.push_str("</tr>");
    for p in [
        person("Nguyễn Văn An", "036085001234", (1985, 3, 5), "Cấp mới CTS"),
        person("Trần Thị Bình", "0360820012", (1990, 7, 1), "Cấp mới CTS"),
    ] {
        html.push_str("<tr>");
        for v in &p {
            html.push_str(&format!("<td>{}</td>", cell(v)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></body></html>");
    let (name, back) = returned("DS.html", html.into_bytes());
    assert_eq!(name, "DS - đánh dấu lỗi.xlsx");
    let (_, range) = values(&back, "DS");
    assert_eq!(value(&range, 1, 15), "Lỗi");
    assert!(value(&range, 3, 15).contains("Số CCCD"));
    let parts = parts(&back);
    let sheet = text(&parts, "xl/worksheets/sheet1.xml");
    assert_eq!(elements(&sheet, "mergeCell")[0]["ref"], "A1:O1");
    let width = |c: usize| -> f64 {
        elements(&sheet, "col")
            .iter()
            .find(|e| {
                e["min"].parse::<usize>().unwrap() <= c && e["max"].parse::<usize>().unwrap() >= c
            })
            .map(|e| e["width"].parse().unwrap())
            .unwrap()
    };
    // 40, 180 and 89 pixels: 5, 25 and 12 characters (and the padding).
    assert!((width(1) - 5.71).abs() < 0.1, "{}", width(1));
    assert!((width(2) - 25.71).abs() < 0.1, "{}", width(2));
    assert!((width(15) - 12.71).abs() < 0.1, "{}", width(15));
    let file = dir.path().join("html.xlsx");
    std::fs::write(&file, &back).unwrap();
    convert(
        &[&file],
        "csv:Text - txt - csv (StarCalc):44,34,76",
        &dir.path().join("csv"),
    );
    assert!(
        std::fs::read_to_string(dir.path().join("csv/html.csv"))
            .unwrap()
            .contains("Lỗi")
    );
}
