//! Hostile attachments: files a few kilobytes long that ask a reader for gigabytes or for
//! minutes (a grid declared four billion rows tall, a value at the sheet's last cell, shared
//! strings by the hundred million, repeats and spans multiplied, markup that made the scan
//! quadratic), each built here by a small generator, alone and inside a zip.
//!
//! A failed allocation aborts a Rust process (no `catch_unwind` catches it), so each file is
//! read in a child process under a limit: the test binary runs itself
//! (`std::env::current_exe`) under util-linux `prlimit --as=2147483648 --cpu=300`, with only
//! the test [`a_good_list_is_read_in_a_child_under_the_memory_limit`] selected and the file
//! named in `CTS_HOSTILE_INPUT`; that test, in the child, reads the file with
//! `cts_intake::sheet::read` and prints what it read as one JSON line. A reader that would
//! abort, or run away with the processor, kills the child and fails the test with its status,
//! instead of taking the machine's memory: address space and processor seconds are the limits,
//! never wall time. (A forked child with `setrlimit` would do too, but forking a threaded test
//! harness is fragile; running the binary again is plain.)

use std::io::{Cursor, Write};
use std::process::Command;

use serde_json::{Value, json};

const CHILD_TEST: &str = "hostile::a_good_list_is_read_in_a_child_under_the_memory_limit";
const INPUT_VAR: &str = "CTS_HOSTILE_INPUT";
const NAME_VAR: &str = "CTS_HOSTILE_NAME";
const MARKER: &str = "HOSTILE-RESULT ";

/// What `sheet::read` gave, as JSON: `{"err": "..."}` or `{"ok": [sheet...]}`, each sheet with
/// its name, first row and column, height, width, stray cells and its first non-empty cells.
fn summary(result: Result<Vec<cts_intake::sheet::Sheet>, cts_intake::sheet::ReadError>) -> Value {
    let sheets = match result {
        Err(e) => return json!({ "err": format!("{e:?}") }),
        Ok(sheets) => sheets,
    };
    let sheet = |s: &cts_intake::sheet::Sheet| {
        let cells: Vec<Value> = s
            .rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.iter()
                    .enumerate()
                    .filter(|(_, c)| !c.is_empty())
                    .map(move |(j, c)| {
                        json!([
                            s.first_row as usize + i,
                            s.first_col as usize + j,
                            c.display()
                        ])
                    })
            })
            .take(20)
            .collect();
        json!({
            "name": s.name,
            "file": s.file,
            "first_row": s.first_row,
            "first_col": s.first_col,
            "height": s.rows.len(),
            "width": s.rows.iter().map(Vec::len).max().unwrap_or(0),
            "stray": s.stray_cells,
            "cells": cells,
        })
    };
    json!({ "ok": sheets.iter().map(sheet).collect::<Vec<_>>() })
}

/// Reads `bytes` named `name` in a child process under the memory and processor limits, and
/// gives its [`summary`]. Fails the test if the child did not end normally. Then mails it
/// beside a good list through the built binary on a Maildir under the same memory limit
/// ([`crate::isolation::taken_beside_a_good_list`]): the run ends well, the good list is
/// accepted, the file's mail is recorded with an outcome and a reason.
fn read_limited(name: &str, bytes: &[u8]) -> Value {
    let got = read_in_child(name, bytes);
    crate::isolation::taken_beside_a_good_list(name, bytes);
    got
}

fn read_in_child(name: &str, bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("prlimit")
        .arg("--as=2147483648")
        .arg("--cpu=300")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(INPUT_VAR, &path)
        .env(NAME_VAR, name)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("prlimit (util-linux) runs the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reading {name} under a 2 GiB limit failed ({}):\n{}\n{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find(MARKER).map(|at| &l[at + MARKER.len()..]))
        .unwrap_or_else(|| panic!("no result from the child:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// In the child: reads the file named in `CTS_HOSTILE_INPUT` and prints its summary. In the
/// test run itself: reads a small good list that way, which must come back whole.
#[test]
fn a_good_list_is_read_in_a_child_under_the_memory_limit() {
    if let Ok(path) = std::env::var(INPUT_VAR) {
        let name = std::env::var(NAME_VAR).unwrap_or_default();
        let bytes = std::fs::read(path).unwrap();
        let result = cts_intake::sheet::read(&name, &bytes);
        println!("{MARKER}{}", summary(result));
        return;
    }
    let got = read_limited("ds.csv", "STT;Họ và tên\n1;Nguyễn Văn An\n".as_bytes());
    assert_eq!(got["ok"][0]["cells"][3], json!([1, 1, "Nguyễn Văn An"]));
}

fn too_large(got: &Value) -> bool {
    got["err"] == json!("TooLarge")
}

/// `got` is the refusal of a file inside a zip as too large.
fn too_large_in_zip(got: &Value, entry: &str) -> bool {
    got["err"]
        .as_str()
        .is_some_and(|e| e.contains(&format!("entry: \"{entry}\"")) && e.contains("TooLarge"))
}

/// A zip of files, each stored as is (no compression, so no ratio makes it a bomb).
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A zip of files deflated by the zip crate (a workbook as Excel writes one).
fn deflated_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

// ---- A raw deflate stream of a repeated text, and a zip holding it ----

/// Bits written least significant first, as deflate packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, written most significant bit first.
    fn code(&mut self, code: u32, bits: u32) {
        let reversed = code.reverse_bits() >> (32 - bits);
        self.put(reversed, bits);
    }

    fn literal(&mut self, b: u8) {
        match b {
            0..=143 => self.code(0x30 + u32::from(b), 8),
            _ => self.code(0x190 + u32::from(b) - 144, 9),
        }
    }

    /// A copy of `len` (3..=258) bytes from `dist` (1..=32768) back, in the fixed codes.
    fn copy(&mut self, len: u32, dist: u32) {
        const LEN_BASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        const LEN_EXTRA: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DIST_BASE: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        const DIST_EXTRA: [u32; 30] = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
            12, 13, 13,
        ];
        let i = LEN_BASE.iter().rposition(|&b| b <= len).unwrap();
        let symbol = 257 + i as u32;
        if symbol <= 279 {
            self.code(symbol - 256, 7);
        } else {
            self.code(0xC0 + symbol - 280, 8);
        }
        self.put(len - LEN_BASE[i], LEN_EXTRA[i]);
        let d = DIST_BASE.iter().rposition(|&b| b <= dist).unwrap();
        self.code(d as u32, 5);
        self.put(dist - DIST_BASE[d], DIST_EXTRA[d]);
    }
}

/// A deflate stream (one fixed-code block) of `head`, then `unit` `units` times, then `tail`,
/// made of copies of the unit: a few bytes a 258 unpacked, whatever the total.
pub(crate) fn deflate_repeated(head: &[u8], unit: &[u8], units: u64, tail: &[u8]) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(1, 1); // the last block
    b.put(1, 2); // fixed codes
    head.iter().chain(unit).for_each(|&c| b.literal(c));
    let dist = unit.len() as u32;
    let mut left = (units - 1) * unit.len() as u64;
    let mut at = 0usize;
    while left >= 3 {
        let n = left.min(258) as u32;
        b.copy(n, dist);
        left -= u64::from(n);
        at = (at + n as usize) % unit.len();
    }
    for _ in 0..left {
        b.literal(unit[at]);
        at = (at + 1) % unit.len();
    }
    tail.iter().for_each(|&c| b.literal(c));
    b.code(0, 7); // end of block
    b.put(0, 7);
    b.out
}

/// A zip whose one big entry is an already deflated stream (`size` bytes unpacked, its CRC not
/// computed: every use here is refused or stopped before the entry's end, where it would be
/// checked), beside small entries deflated by the zip crate.
pub(crate) fn zip_with_raw(
    small: &[(&str, &[u8])],
    big_name: &str,
    deflated: &[u8],
    size: u64,
) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in small {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    let base = zip.finish().unwrap().into_inner();
    // Append the raw entry by hand: its local header and data after the others', then the
    // central directory again with it.
    let archive = zip::ZipArchive::new(Cursor::new(&base[..])).unwrap();
    let cd_start = archive.central_directory_start() as usize;
    let mut out = base[..cd_start].to_vec();
    let local_at = out.len() as u32;
    let name = big_name.as_bytes();
    let size32 = size.min(u64::from(u32::MAX)) as u32;
    let header = |sig: u32, central: bool| {
        let mut h = Vec::new();
        h.extend(sig.to_le_bytes());
        if central {
            h.extend(20u16.to_le_bytes()); // made by
        }
        h.extend(20u16.to_le_bytes()); // version needed
        h.extend(0u16.to_le_bytes()); // flags
        h.extend(8u16.to_le_bytes()); // deflate
        h.extend(0u32.to_le_bytes()); // time, date
        h.extend(0u32.to_le_bytes()); // crc
        h.extend((deflated.len() as u32).to_le_bytes());
        h.extend(size32.to_le_bytes());
        h.extend((name.len() as u16).to_le_bytes());
        h.extend(0u16.to_le_bytes()); // extra
        if central {
            h.extend(0u16.to_le_bytes()); // comment
            h.extend(0u16.to_le_bytes()); // disk
            h.extend(0u16.to_le_bytes()); // internal attributes
            h.extend(0u32.to_le_bytes()); // external attributes
            h.extend(local_at.to_le_bytes());
        }
        h.extend(name);
        h
    };
    out.extend(header(0x0403_4B50, false));
    out.extend(deflated);
    let new_cd = out.len() as u32;
    let eocd_at = base.len() - 22;
    out.extend(&base[cd_start..eocd_at]);
    out.extend(header(0x0201_4B50, true));
    let cd_len = out.len() as u32 - new_cd;
    let entries = archive.len() as u16 + 1;
    out.extend(0x0605_4B50u32.to_le_bytes());
    out.extend(0u32.to_le_bytes()); // disks
    out.extend(entries.to_le_bytes());
    out.extend(entries.to_le_bytes());
    out.extend(cd_len.to_le_bytes());
    out.extend(new_cd.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

// ---- xls: BIFF8 records in a compound file ----

fn record(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut r = kind.to_le_bytes().to_vec();
    r.extend((data.len() as u16).to_le_bytes());
    r.extend(data);
    r
}

fn bof(dt: u16) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [0x0600u16, dt, 0x0DBB, 0x07CC] {
        d.extend(v.to_le_bytes());
    }
    d.extend(0u32.to_le_bytes());
    d.extend(0x06u32.to_le_bytes());
    record(0x0809, &d)
}

fn dimensions(first_row: u32, rows_end: u32, first_col: u16, cols_end: u16) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(first_row.to_le_bytes());
    d.extend(rows_end.to_le_bytes());
    d.extend(first_col.to_le_bytes());
    d.extend(cols_end.to_le_bytes());
    d.extend(0u16.to_le_bytes());
    record(0x0200, &d)
}

/// A LABEL record: text in UTF-16.
fn label(row: u16, col: u16, text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut d = Vec::new();
    for v in [row, col, 0, units.len() as u16] {
        d.extend(v.to_le_bytes());
    }
    d.push(1);
    units.iter().for_each(|u| d.extend(u.to_le_bytes()));
    record(0x0204, &d)
}

fn number(row: u16, col: u16, value: f64) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [row, col, 0] {
        d.extend(v.to_le_bytes());
    }
    d.extend(value.to_le_bytes());
    record(0x0203, &d)
}

/// One sheet of an xls: its name, the bytes before its BOF (not part of any record chain
/// read from the stream's start), and its records between BOF and EOF.
struct XlsSheet {
    name: &'static str,
    padding: Vec<u8>,
    records: Vec<Vec<u8>>,
}

/// An xls (BIFF8 Workbook stream in a compound file) of `sheets`, with `globals` records
/// (FILEPASS...) after the globals' BOF.
fn xls(globals: &[Vec<u8>], sheets: &[XlsSheet]) -> Vec<u8> {
    let boundsheet = |pos: u32, name: &str| {
        let units: Vec<u16> = name.encode_utf16().collect();
        let mut d = pos.to_le_bytes().to_vec();
        d.extend([0, 0, units.len() as u8, 1]);
        units.iter().for_each(|u| d.extend(u.to_le_bytes()));
        record(0x0085, &d)
    };
    let globals_len: usize = bof(0x0005).len()
        + globals.iter().map(Vec::len).sum::<usize>()
        + sheets
            .iter()
            .map(|s| boundsheet(0, s.name).len())
            .sum::<usize>()
        + record(0x000A, &[]).len();
    let mut bodies = Vec::new();
    let mut offsets = Vec::new();
    let mut at = globals_len;
    for s in sheets {
        let mut body = s.padding.clone();
        offsets.push((at + body.len()) as u32);
        body.extend(bof(0x0010));
        s.records.iter().for_each(|r| body.extend(r));
        body.extend(record(0x000A, &[]));
        at += body.len();
        bodies.push(body);
    }
    let mut stream = bof(0x0005);
    globals.iter().for_each(|r| stream.extend(r));
    for (s, pos) in sheets.iter().zip(&offsets) {
        stream.extend(boundsheet(*pos, s.name));
    }
    stream.extend(record(0x000A, &[]));
    assert_eq!(stream.len(), globals_len);
    bodies.iter().for_each(|b| stream.extend(b));
    let mut c =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new())).unwrap();
    c.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    c.flush().unwrap();
    c.into_inner().into_inner()
}

/// A small table: a header row and `people` rows of a name and an ID.
fn xls_table(people: u16) -> Vec<Vec<u8>> {
    let mut r = vec![label(0, 0, "Họ và tên"), label(0, 1, "Số CCCD")];
    for i in 1..=people {
        r.push(label(i, 0, &format!("Nguyễn Văn {i}")));
        r.push(number(i, 1, 36_085_000_000.0 + f64::from(i)));
    }
    r
}

#[test]
fn an_xls_declaring_four_billion_rows_is_read_as_the_cells_it_has() {
    let mut records = vec![dimensions(0, u32::MAX, 0, 2)];
    records.extend(xls_table(3));
    let file = xls(
        &[],
        &[XlsSheet {
            name: "DS",
            padding: Vec::new(),
            records,
        }],
    );
    for got in [
        read_limited("ds.xls", &file),
        read_limited("ds.zip", &zip_of(&[("ds.xls", &file)])),
    ] {
        let sheet = &got["ok"][0];
        assert_eq!(sheet["height"], json!(4), "{got}");
        assert_eq!(sheet["cells"][2], json!([1, 0, "Nguyễn Văn 1"]), "{got}");
        assert_eq!(sheet["cells"][3], json!([1, 1, "36085000001"]), "{got}");
    }
}

#[test]
fn an_xls_whose_dimensions_end_before_they_start_is_read() {
    // Last row 50 before first row 100: in calamine's u32 arithmetic, four billion rows.
    let mut records = vec![dimensions(100, 50, 0, 2)];
    records.extend(xls_table(2));
    let file = xls(
        &[],
        &[XlsSheet {
            name: "DS",
            padding: Vec::new(),
            records,
        }],
    );
    let got = read_limited("ds.xls", &file);
    assert_eq!(got["ok"][0]["height"], json!(3), "{got}");
    assert_eq!(
        got["ok"][0]["cells"][4],
        json!([2, 0, "Nguyễn Văn 2"]),
        "{got}"
    );
}

#[test]
fn an_xls_far_cell_hidden_from_a_scan_from_the_stream_start_is_found_from_the_sheet_offset() {
    // Between the globals and the sheet, bytes that read as one record swallowing the whole
    // sheet when the records are walked from offset 0; calamine goes to the BOUNDSHEET offset
    // and finds a value at IV65536 (a grid of 16.7 million cells).
    let mut records = xls_table(3);
    records.push(label(65_535, 255, "x"));
    let body_len: usize =
        bof(0x0010).len() + records.iter().map(Vec::len).sum::<usize>() + record(0x000A, &[]).len();
    let mut padding = 0x1234u16.to_le_bytes().to_vec();
    padding.extend(((body_len) as u16).to_le_bytes());
    let file = xls(
        &[],
        &[XlsSheet {
            name: "DS",
            padding,
            records,
        }],
    );
    for got in [
        read_limited("ds.xls", &file),
        read_limited("ds.zip", &zip_of(&[("ds.xls", &file)])),
    ] {
        let sheet = &got["ok"][0];
        assert_eq!(sheet["stray"], json!(1), "{got}");
        assert_eq!(sheet["height"], json!(4), "{got}");
        assert_eq!(sheet["width"], json!(2), "{got}");
    }
}

#[test]
fn a_value_in_an_embedded_chart_of_an_xls_sheet_is_not_a_cell_of_the_sheet() {
    // calamine skips the substreams of embedded charts; so does the walk that sizes the grid.
    let mut records = xls_table(2);
    records.push(bof(0x0020));
    records.push(label(65_535, 255, "in the chart"));
    records.push(record(0x000A, &[]));
    let file = xls(
        &[],
        &[XlsSheet {
            name: "DS",
            padding: Vec::new(),
            records,
        }],
    );
    let got = read_limited("ds.xls", &file);
    assert_eq!(got["ok"][0]["stray"], json!(0), "{got}");
    assert_eq!(got["ok"][0]["height"], json!(3), "{got}");
}

#[test]
fn a_long_or_wide_xls_list_is_read_not_refused() {
    // 32,770 rows, and 115 columns: more than the old limits (20,000 rows, 64 columns).
    let mut long = vec![label(0, 0, "Họ và tên")];
    long.extend((1..32_770u16).map(|i| number(i, 0, f64::from(i))));
    let mut wide: Vec<Vec<u8>> = (0..115u16)
        .map(|c| label(0, c, &format!("Cột {c}")))
        .collect();
    wide.push(label(1, 114, "cuối"));
    let file = xls(
        &[],
        &[
            XlsSheet {
                name: "Dài",
                padding: Vec::new(),
                records: long,
            },
            XlsSheet {
                name: "Rộng",
                padding: Vec::new(),
                records: wide,
            },
        ],
    );
    let got = read_limited("ds.xls", &file);
    assert_eq!(got["ok"][0]["height"], json!(32_770), "{got}");
    assert_eq!(got["ok"][0]["stray"], json!(0), "{got}");
    assert_eq!(got["ok"][1]["width"], json!(115), "{got}");
    assert_eq!(got["ok"][1]["stray"], json!(0), "{got}");
}

#[test]
fn a_password_protected_xls_is_encrypted_whatever_its_records_say() {
    // FILEPASS with XOR obfuscation (type 0) and with RC4 (type 1): the records after it are
    // noise, here a value at IV65536 that would be a far cell.
    for kind in [0u16, 1] {
        let mut filepass = kind.to_le_bytes().to_vec();
        filepass.extend([0x12, 0x34, 0x56, 0x78]);
        let mut records = xls_table(1);
        records.push(label(65_535, 255, "noise"));
        let file = xls(
            &[record(0x002F, &filepass)],
            &[XlsSheet {
                name: "DS",
                padding: Vec::new(),
                records,
            }],
        );
        let got = read_limited("ds.xls", &file);
        assert_eq!(got["err"], json!("Encrypted"), "type {kind}: {got}");
        let got = read_limited("ds.zip", &zip_of(&[("ds.xls", &file)]));
        assert!(
            got["err"].as_str().is_some_and(|e| e.contains("Encrypted")),
            "{got}"
        );
    }
}

// ---- xlsb: binary records in a zip ----

/// An xlsb record: its type and size as 7-bit varints, then its data.
fn brt(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    if kind < 0x80 {
        r.push(kind as u8);
    } else {
        r.push((kind & 0x7F) as u8 | 0x80);
        r.push((kind >> 7) as u8);
    }
    let mut len = data.len();
    loop {
        let b = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            r.push(b);
            break;
        }
        r.push(b | 0x80);
    }
    r.extend(data);
    r
}

fn wide(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut d = (units.len() as u32).to_le_bytes().to_vec();
    units.iter().for_each(|u| d.extend(u.to_le_bytes()));
    d
}

/// An xlsb worksheet part: BrtWsDim declaring `dim`, then text cells.
fn xlsb_sheet(dim: [u32; 4], cells: &[(u32, u32, &str)]) -> Vec<u8> {
    let mut s = brt(0x0081, &[]);
    s.extend(brt(
        0x0094,
        &dim.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    ));
    s.extend(brt(0x0091, &[]));
    for &(row, col, text) in cells {
        let mut hdr = row.to_le_bytes().to_vec();
        hdr.extend([0u8; 13]);
        s.extend(brt(0x0000, &hdr));
        let mut d = col.to_le_bytes().to_vec();
        d.extend(0u32.to_le_bytes());
        d.extend(wide(text));
        s.extend(brt(0x0006, &d));
    }
    s.extend(brt(0x0092, &[]));
    s.extend(brt(0x0082, &[]));
    s
}

/// An xlsb workbook of parts named by `sheets` (name, target under `xl/`, part bytes).
fn xlsb(sheets: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut book = brt(0x0083, &[]);
    book.extend(brt(0x008F, &[]));
    let mut rels = String::from(r#"<?xml version="1.0"?><Relationships>"#);
    for (i, (name, target, _)) in sheets.iter().enumerate() {
        let id = format!("rId{}", i + 1);
        let mut d = 0u32.to_le_bytes().to_vec();
        d.extend((i as u32 + 1).to_le_bytes());
        d.extend(wide(&id));
        d.extend(wide(name));
        book.extend(brt(0x009C, &d));
        rels.push_str(&format!(r#"<Relationship Id="{id}" Target="{target}"/>"#));
    }
    rels.push_str("</Relationships>");
    book.extend(brt(0x0090, &[]));
    book.extend(brt(0x009D, &[0; 20]));
    book.extend(brt(0x0084, &[]));
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), b"<Types/>".to_vec()),
        ("xl/workbook.bin".into(), book),
        ("xl/_rels/workbook.bin.rels".into(), rels.into_bytes()),
    ];
    for (_, target, part) in sheets {
        files.push((format!("xl/{target}"), part.clone()));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    deflated_zip(&refs)
}

#[test]
fn an_xlsb_with_one_value_at_the_last_cell_is_read_without_its_grid() {
    let far = xlsb(&[(
        "DS",
        "worksheets/sheet1.bin",
        xlsb_sheet(
            [0, 1_048_575, 0, 16_383],
            &[
                (0, 0, "Họ và tên"),
                (1, 0, "Nguyễn Văn An"),
                (1_048_575, 16_383, "x"),
            ],
        ),
    )]);
    assert!(far.len() < 2048, "{} bytes", far.len());
    for got in [
        read_limited("ds.xlsb", &far),
        read_limited("ds.zip", &zip_of(&[("ds.xlsb", &far)])),
    ] {
        let sheet = &got["ok"][0];
        assert_eq!(sheet["stray"], json!(1), "{got}");
        assert_eq!(sheet["height"], json!(2), "{got}");
        assert_eq!(sheet["cells"][1], json!([1, 0, "Nguyễn Văn An"]), "{got}");
    }
    // Alone at the last cell, the value is the grid's only cell.
    let alone = xlsb(&[(
        "DS",
        "worksheets/sheet1.bin",
        xlsb_sheet(
            [1_048_575, 1_048_575, 16_383, 16_383],
            &[(1_048_575, 16_383, "x")],
        ),
    )]);
    let got = read_limited("ds.xlsb", &alone);
    assert_eq!(
        got["ok"][0]["cells"][0],
        json!([1_048_575, 16_383, "x"]),
        "{got}"
    );
}

#[test]
fn an_xlsb_with_a_chart_sheet_has_its_worksheet_read() {
    let file = xlsb(&[
        (
            "DS",
            "worksheets/sheet1.bin",
            xlsb_sheet(
                [0, 1, 0, 0],
                &[(0, 0, "Họ và tên"), (1, 0, "Nguyễn Văn An")],
            ),
        ),
        // A chart sheet's part has no sheet data: calamine's reader fails on it.
        ("Biểu đồ", "chartsheets/sheet1.bin", brt(0x0081, &[])),
    ]);
    let got = read_limited("ds.xlsb", &file);
    assert_eq!(got["ok"][0]["name"], json!("DS"), "{got}");
    assert_eq!(
        got["ok"][0]["cells"][1],
        json!([1, 0, "Nguyễn Văn An"]),
        "{got}"
    );
}

// ---- xlsx: XML parts in a zip ----

const ROOT_RELS: &str = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_XML: &str = r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="DS" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
pub(crate) const SHEET_HEAD: &str = r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
pub(crate) const SHEET_TAIL: &str = "</sheetData></worksheet>";

pub(crate) fn xlsx_parts() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("[Content_Types].xml", b"<Types/>".as_slice()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK_XML.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
    ]
}

#[test]
fn an_xlsx_declaring_a_hundred_million_shared_strings_is_refused_before_calamine_makes_room() {
    let workbook_after = |before: &str, count: &str| {
        let sst = format!(
            r#"<?xml version="1.0"?>{before}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" uniqueCount="{count}"><si><t>Họ và tên</t></si></sst>"#
        );
        let sheet =
            format!(r#"{SHEET_HEAD}<row r="1"><c r="A1" t="s"><v>0</v></c></row>{SHEET_TAIL}"#);
        let mut parts = xlsx_parts();
        parts.push(("xl/sharedStrings.xml", sst.as_bytes()));
        parts.push(("xl/worksheets/sheet1.xml", sheet.as_bytes()));
        deflated_zip(&parts)
    };
    let workbook = |count: &str| workbook_after("", count);
    let got = read_limited("ds.xlsx", &workbook("1"));
    assert_eq!(
        got["ok"][0]["cells"][0],
        json!([0, 0, "Họ và tên"]),
        "{got}"
    );
    let got = read_limited("ds.xlsx", &workbook_after(&" ".repeat(3000), "1"));
    assert_eq!(
        got["ok"][0]["cells"][0],
        json!([0, 0, "Họ và tên"]),
        "{got}"
    );
    let file = workbook("100000000");
    let got = read_limited("ds.xlsx", &file);
    assert!(too_large(&got), "{got}");
    // The count hidden from a look at the first bytes: a comment naming another before the
    // element, the element after 3 KB or 70 KB of spaces.
    for before in [
        r#"<!-- <sst uniqueCount="1"> -->"#.to_string(),
        " ".repeat(3000),
        " ".repeat(70_000),
    ] {
        let got = read_limited("ds.xlsx", &workbook_after(&before, "100000000"));
        assert!(too_large(&got), "{} bytes before: {got}", before.len());
    }
    let got = read_limited("ds.zip", &zip_of(&[("ds.xlsx", &file)]));
    assert!(too_large_in_zip(&got, "ds.xlsx"), "{got}");
}

/// Part names as some Windows tools write them (`xl\sharedStrings.xml`), in another case, or
/// in another package layout (the workbook at the package's root, which calamine finds through
/// the package's relationships): calamine reads the shared strings all the same, so the check
/// made before it must find them too, and the file must be known for a workbook at all.
#[test]
fn shared_strings_named_otherwise_or_elsewhere_are_checked_where_calamine_finds_them() {
    let sst = |count: &str| {
        format!(
            r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" uniqueCount="{count}"><si><t>Họ và tên</t></si></sst>"#
        )
    };
    let sheet = format!(r#"{SHEET_HEAD}<row r="1"><c r="A1" t="s"><v>0</v></c></row>{SHEET_TAIL}"#);
    let zip_named = |parts: Vec<(String, Vec<u8>)>| {
        let refs: Vec<(&str, &[u8])> = parts
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        deflated_zip(&refs)
    };
    // The usual layout, each `xl/` part renamed.
    let renamed = |count: &str, rename: fn(&str) -> String| {
        let mut parts: Vec<(String, Vec<u8>)> = xlsx_parts()
            .into_iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect();
        parts.push(("xl/sharedStrings.xml".into(), sst(count).into_bytes()));
        parts.push((
            "xl/worksheets/sheet1.xml".into(),
            sheet.clone().into_bytes(),
        ));
        zip_named(
            parts
                .into_iter()
                .map(|(n, b)| (if n.starts_with("xl/") { rename(&n) } else { n }, b))
                .collect(),
        )
    };
    // The workbook, its sheet and its strings at the package's root; its content types name an
    // xlsb's for every `.bin` (as SheetJS writes them), which says nothing of this package.
    let at_root = |count: &str| {
        let types = r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/><Override PartName="/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
        let parts = vec![
            ("[Content_Types].xml".to_string(), types.as_bytes().to_vec()),
            (
                "_rels/.rels".into(),
                ROOT_RELS
                    .replace("xl/workbook.xml", "workbook.xml")
                    .into_bytes(),
            ),
            ("workbook.xml".into(), WORKBOOK_XML.as_bytes().to_vec()),
            (
                "_rels/workbook.xml.rels".into(),
                WORKBOOK_RELS
                    .replace("worksheets/sheet1.xml", "sheet1.xml")
                    .into_bytes(),
            ),
            ("sheet1.xml".into(), sheet.clone().into_bytes()),
            ("sharedStrings.xml".into(), sst(count).into_bytes()),
        ];
        zip_named(parts)
    };
    let backslashes: fn(&str) -> String = |n| n.replace('/', "\\");
    let upper: fn(&str) -> String = |n| n.to_uppercase();
    for (how, file, hostile) in [
        (
            "backslashes",
            renamed("1", backslashes),
            renamed("100000000", backslashes),
        ),
        (
            "upper case",
            renamed("1", upper),
            renamed("100000000", upper),
        ),
        ("at the root", at_root("1"), at_root("100000000")),
    ] {
        let got = read_limited("ds.xlsx", &file);
        assert_eq!(
            got["ok"][0]["cells"][0],
            json!([0, 0, "Họ và tên"]),
            "{how}: {got}"
        );
        let got = read_limited("ds.xlsx", &hostile);
        assert!(too_large(&got), "{how}: {got}");
    }
}

#[test]
fn an_xlsx_holding_millions_of_shared_strings_is_refused() {
    // Five million empty strings, no count declared: 25 MB of XML.
    let sst = deflate_repeated(
        br#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#,
        b"<si/>",
        5_000_000,
        b"</sst>",
    );
    let sheet = format!(r#"{SHEET_HEAD}<row r="1"><c r="A1" t="s"><v>0</v></c></row>{SHEET_TAIL}"#);
    let mut parts = xlsx_parts();
    parts.push(("xl/worksheets/sheet1.xml", sheet.as_bytes()));
    let size = 96 + 5 * 5_000_000 + 6;
    let file = zip_with_raw(&parts, "xl/sharedStrings.xml", &sst, size);
    let got = read_limited("ds.xlsx", &file);
    assert!(too_large(&got), "{got}");
    let got = read_limited("ds.zip", &zip_of(&[("ds.xlsx", &file)]));
    assert!(too_large_in_zip(&got, "ds.xlsx"), "{got}");
}

#[test]
fn an_xlsx_whose_sheet_unpacks_to_two_gigabytes_of_spaces_is_refused_unpacked() {
    let size: u64 = 2 << 30;
    let head = SHEET_HEAD.as_bytes();
    let tail = SHEET_TAIL.as_bytes();
    let spaces = size - head.len() as u64 - tail.len() as u64;
    let sheet = deflate_repeated(head, b" ", spaces, tail);
    let file = zip_with_raw(&xlsx_parts(), "xl/worksheets/sheet1.xml", &sheet, size);
    assert!(file.len() < 16 << 20, "{} bytes", file.len());
    let got = read_limited("ds.xlsx", &file);
    assert!(too_large(&got), "{got}");
    let got = read_limited("ds.zip", &zip_of(&[("ds.xlsx", &file)]));
    assert!(too_large_in_zip(&got, "ds.xlsx"), "{got}");
}

#[test]
fn a_large_picture_in_an_xlsx_does_not_count_against_the_unpacked_bound() {
    // A 300 MB picture (never unpacked: pictures are not read) beside a small sheet.
    let sheet = format!(
        r#"{SHEET_HEAD}<row r="1"><c r="A1" t="inlineStr"><is><t>Họ và tên</t></is></c></row>{SHEET_TAIL}"#
    );
    let mut parts = xlsx_parts();
    parts.push(("xl/worksheets/sheet1.xml", sheet.as_bytes()));
    let size = 300 << 20;
    let picture = deflate_repeated(b"\x89PNG", b"\0", size - 4, b"");
    let file = zip_with_raw(&parts, "xl/media/image1.png", &picture, size);
    let got = read_limited("ds.xlsx", &file);
    assert_eq!(
        got["ok"][0]["cells"][0],
        json!([0, 0, "Họ và tên"]),
        "{got}"
    );
}

#[test]
fn an_xlsx_cell_repeated_ten_million_times_is_refused() {
    // The same cell written again and again: 220 MB of XML, within the unpacked bound, but
    // more cells than the budget (each would be kept until the grid is built).
    let cell = br#"<c r="A1"><v>1</v></c>"#;
    let head = format!(r#"{SHEET_HEAD}<row r="1">"#);
    let tail = format!("</row>{SHEET_TAIL}");
    let units = 10_000_000u64;
    let sheet = deflate_repeated(head.as_bytes(), cell, units, tail.as_bytes());
    let size = head.len() as u64 + units * cell.len() as u64 + tail.len() as u64;
    let file = zip_with_raw(&xlsx_parts(), "xl/worksheets/sheet1.xml", &sheet, size);
    let zipped = zip_of(&[("ds.xlsx", &file)]);
    // Four million cells are read before the budget is spent: both children at once.
    let (alone, inside) = std::thread::scope(|s| {
        let alone = s.spawn(|| read_limited("ds.xlsx", &file));
        let inside = s.spawn(|| read_limited("ds.zip", &zipped));
        (alone.join().unwrap(), inside.join().unwrap())
    });
    assert!(too_large(&alone), "{alone}");
    assert!(too_large_in_zip(&inside, "ds.xlsx"), "{inside}");
}

#[test]
fn a_long_shared_string_in_every_cell_spends_the_text_budget() {
    // One 32 KB string, 100,000 cells showing it: 3.2 GB of text once each cell has its copy.
    let long = "Nguyễn Văn An ".repeat(2_000);
    let sst = format!(
        r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>{long}</t></si></sst>"#
    );
    let mut sheet = String::from(SHEET_HEAD);
    for r in 1..=100_000 {
        sheet.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>"#
        ));
    }
    sheet.push_str(SHEET_TAIL);
    let mut parts = xlsx_parts();
    parts.push(("xl/sharedStrings.xml", sst.as_bytes()));
    parts.push(("xl/worksheets/sheet1.xml", sheet.as_bytes()));
    let file = deflated_zip(&parts);
    let got = read_limited("ds.xlsx", &file);
    assert!(too_large(&got), "{got}");
}

// ---- ods ----

fn ods(content: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("content.xml", options).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.start_file("META-INF/manifest.xml", options).unwrap();
    zip.write_all(b"<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"/>").unwrap();
    zip.finish().unwrap().into_inner()
}

fn ods_content(rows: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="DS">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    )
}

fn ods_text_cell(text: &str, repeat: u32) -> String {
    format!(
        r#"<table:table-cell table:number-columns-repeated="{repeat}" office:value-type="string"><text:p>{text}</text:p></table:table-cell>"#
    )
}

#[test]
fn an_ods_with_repeats_multiplied_into_billions_of_cells_is_refused() {
    let rows = format!(
        r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="1000000">{}</table:table-row>"#,
        ods_text_cell("Họ và tên", 1),
        ods_text_cell("x", 16_384)
    );
    let file = ods(&ods_content(&rows));
    let got = read_limited("ds.ods", &file);
    assert!(too_large(&got), "{got}");
    // Cells of empty text are values too: 96 million of them, under calamine's own cap of 100
    // million, would take gigabytes.
    let empty_text = r#"<table:table-row table:number-rows-repeated="16000"><table:table-cell table:number-columns-repeated="6000" office:value-type="string"><text:p/></table:table-cell></table:table-row>"#;
    let got = read_limited("ds.ods", &ods(&ods_content(empty_text)));
    assert!(too_large(&got), "{got}");
    let got = read_limited("ds.zip", &zip_of(&[("ds.ods", &file)]));
    assert!(too_large_in_zip(&got, "ds.ods"), "{got}");
}

#[test]
fn an_ods_with_the_usual_trailing_repeats_is_read() {
    // Empty cells to the sheet's last column and empty rows to its last row, as LibreOffice
    // writes them: they cost nothing.
    let rows = format!(
        r#"<table:table-row>{}<table:table-cell table:number-columns-repeated="16383"/></table:table-row><table:table-row>{}<table:table-cell table:number-columns-repeated="16383"/></table:table-row><table:table-row table:number-rows-repeated="1048574"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#,
        ods_text_cell("Họ và tên", 1),
        ods_text_cell("Nguyễn Văn An", 1)
    );
    let got = read_limited("ds.ods", &ods(&ods_content(&rows)));
    assert_eq!(got["ok"][0]["height"], json!(2), "{got}");
    assert_eq!(
        got["ok"][0]["cells"][1],
        json!([1, 0, "Nguyễn Văn An"]),
        "{got}"
    );
}

// ---- HTML ----

#[test]
fn an_html_table_of_spans_is_refused_before_it_grows() {
    // Each row spans 256 columns for 10,000 rows, to the right of those above: 126 KB once
    // grew to 5.8 GB.
    let mut html = String::from("<html><body><table>");
    for _ in 0..5_000 {
        html.push_str("<tr><td colspan=256 rowspan=10000>x</td></tr>");
    }
    html.push_str("</table></body></html>");
    assert!(html.len() < 256 * 1024);
    let got = read_limited("ds.xls", html.as_bytes());
    assert!(too_large(&got), "{got}");
    let got = read_limited("ds.zip", &zip_of(&[("ds.xls", html.as_bytes())]));
    assert!(too_large_in_zip(&got, "ds.xls"), "{got}");
}

#[test]
fn html_full_of_script_tags_is_read_in_one_pass() {
    // 400,000 `<script>` elements (6.8 MB) before the table: each one used to lower-case the
    // rest of the file, 334 s in all; the processor limit of the child stops a quadratic scan.
    let mut html = String::from("<html><head>");
    for _ in 0..400_000 {
        html.push_str("<SCRIPT>1</SCRIPT>");
    }
    html.push_str("</head><body><table><tr><td>Họ và tên</td></tr><tr><td>Nguyễn Văn An</td></tr></table></body></html>");
    assert!(html.len() > 6_000_000);
    for got in [
        read_limited("ds.html", html.as_bytes()),
        read_limited("ds.zip", &zip_of(&[("ds.html", html.as_bytes())])),
    ] {
        assert_eq!(
            got["ok"][0]["cells"][1],
            json!([1, 0, "Nguyễn Văn An"]),
            "{got}"
        );
    }
}

// ---- zip: one budget for all its files ----

#[test]
fn the_files_of_a_zip_share_one_budget() {
    // Two CSV files of 3 million cells each: the first is read, the second passes the
    // attachment's budget.
    let csv = "1,2\n".repeat(1_500_000);
    let got = read_limited("ds.csv", csv.as_bytes());
    assert_eq!(got["ok"][0]["height"], json!(1_500_000), "{got}");
    let got = read_limited(
        "ds.zip",
        &zip_of(&[("a.csv", csv.as_bytes()), ("b.csv", csv.as_bytes())]),
    );
    assert!(too_large_in_zip(&got, "b.csv"), "{got}");
}

// ---- Sheets that are not worksheets ----

#[test]
fn an_xlsm_with_an_excel_4_macro_sheet_has_its_worksheet_read() {
    // calamine fails to open a workbook with a macro sheet at all: the macro sheet is left
    // out, the worksheet read.
    let workbook = r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="DS" sheetId="1" r:id="rId1"/><sheet name="Macro1" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
    let rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet" Target="macrosheets/sheet1.xml"/></Relationships>"#;
    let sheet = format!(
        r#"{SHEET_HEAD}<row r="1"><c r="A1" t="inlineStr"><is><t>Họ và tên</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Nguyễn Văn An</t></is></c></row>{SHEET_TAIL}"#
    );
    let macro_sheet = r#"<?xml version="1.0"?><xm:macrosheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><sheetData><row r="1"><c r="A1"><f>HALT()</f></c></row></sheetData></xm:macrosheet>"#;
    let file = deflated_zip(&[
        ("[Content_Types].xml", b"<Types/>".as_slice()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ("xl/macrosheets/sheet1.xml", macro_sheet.as_bytes()),
    ]);
    let sheets = cts_intake::sheet::read("ds.xlsm", &file).unwrap();
    let ds = sheets.iter().find(|s| s.name == "DS").unwrap();
    assert_eq!(
        ds.rows[1][0],
        cts_intake::sheet::Cell::Text("Nguyễn Văn An".into())
    );
    assert!(
        sheets
            .iter()
            .filter(|s| s.name != "DS")
            .all(|s| s.rows.is_empty())
    );
}

// ---- Mail parts: UTF-16 text whatever its label, and the body part Outlook attaches ----

/// A mail whose one attachment is `body` (base64), labelled `content_type`.
fn mail_with(content_type: &str, filename: &str, body: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    format!(
        "From: c3nguyenkhuyen@namdinh.edu.vn\r\nTo: cttt@namdinh.edu.vn\r\nSubject: DS\r\n\
         Message-ID: <u16@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKính gửi Sở.\r\n\
         --b\r\nContent-Type: {content_type}; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    text.encode_utf16()
        .for_each(|u| out.extend(u.to_le_bytes()));
    out
}

#[test]
fn a_utf16_csv_or_html_is_read_whatever_its_part_is_labelled() {
    let csv = utf16le("STT\tHọ và tên\r\n1\tNguyễn Văn An\r\n");
    let html = utf16le(
        "<html><body><table><tr><td>STT</td><td>Họ và tên</td></tr>\
         <tr><td>1</td><td>Nguyễn Văn An</td></tr></table></body></html>",
    );
    for (file, bytes) in [("ds.csv", &csv), ("ds.html", &html)] {
        for label in [
            "text/csv",
            "text/plain",
            "text/html",
            "text/plain; charset=utf-8",
            "application/octet-stream",
        ] {
            let parsed =
                cts_intake::mail::parse(&mail_with(label, file, bytes), "cttt@namdinh.edu.vn");
            let a = parsed
                .attachments
                .iter()
                .find(|a| a.filename == file)
                .unwrap_or_else(|| panic!("{file} as {label}: {:?}", parsed.attachments));
            assert_eq!(&a.bytes[..], &bytes[..], "{file} as {label}");
            let sheets = cts_intake::sheet::read(&a.filename, &a.bytes).unwrap();
            assert_eq!(
                sheets[0].rows[1][1],
                cts_intake::sheet::Cell::Text("Nguyễn Văn An".into()),
                "{file} as {label}"
            );
        }
    }
}

#[test]
fn an_att00001_htm_body_part_beside_a_list_is_not_a_list() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let ctx = crate::support::context("(đơn vị gửi thư)");
    // What Outlook attaches after an attachment: the rest of the body, a signature in a
    // layout table.
    let att = cts_intake::mail::Attachment {
        filename: "ATT00001.htm".into(),
        content_type: "text/html".into(),
        bytes: "<html><body><table><tr><td>Trân trọng,</td></tr><tr><td>Trường THPT \
                Nguyễn Khuyến</td></tr></table></body></html>"
            .as_bytes()
            .to_vec(),
    };
    let bytes = std::fs::read(fixtures.join("mail-csv-attachment.eml")).unwrap();
    let mut parsed = cts_intake::mail::parse(&bytes, "cttt@namdinh.edu.vn");
    let alone = cts_intake::pipeline::read_lists(&parsed, &ctx);
    assert!(!alone.rows.is_empty());
    parsed.attachments.push(att.clone());
    let with = cts_intake::pipeline::read_lists(&parsed, &ctx);
    assert_eq!(with.rows.len(), alone.rows.len());
    assert_eq!(
        format!("{:?}", with.problems),
        format!("{:?}", alone.problems)
    );
    // Alone in a mail, it is no list; beside a PDF, the PDF is still answered.
    let only = cts_intake::mail::ParsedMail {
        attachments: vec![att.clone()],
        ..Default::default()
    };
    let read = cts_intake::pipeline::read_lists(&only, &ctx);
    assert!(!read.any_candidate && read.problems.is_empty(), "{read:?}");
    let pdf = cts_intake::mail::Attachment {
        filename: "ds.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: b"%PDF-1.4".to_vec(),
    };
    let read = cts_intake::pipeline::read_lists(
        &cts_intake::mail::ParsedMail {
            attachments: vec![pdf, att],
            ..Default::default()
        },
        &ctx,
    );
    assert!(read.any_candidate && read.problems.len() == 1, "{read:?}");
}
