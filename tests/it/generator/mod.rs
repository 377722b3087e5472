//! A generator of realistic lists, written from TEMPLATE.md (not from the reader): each list is
//! composed from a seeded PRNG (preambles, header variants, sections, totals, footers, persons
//! over two rows, every way of writing the request type, cell styles) and written by one of
//! several writers (rust_xlsxwriter, a hand-made xlsx, CSV in four encodings and three
//! separators, HTML). The generator knows what it wrote; the test reads each list through
//! [`read_lists`] and asserts it gives exactly those rows, exactly the planted errors, and no
//! other error.
//!
//! CI runs [`DEFAULT_LISTS`] lists from a fixed seed. `CTS_GEN_LISTS=10000` runs more and
//! `CTS_GEN_SEED=n` starts elsewhere (list `i` uses seed `n + i`, so
//! `CTS_GEN_SEED=<seed> CTS_GEN_LISTS=1` reproduces one list). A failing list is described on
//! stderr and written to `$TMPDIR/cts-gen/`, to become a named fixture.

mod grid;
mod layout;
mod people;
mod write;

use chrono::NaiveDate;
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::read_lists;
use cts_intake::validate::{Context, Severity};
use fastrand::Rng;

use layout::{Caps, ExpRow};
use write::{Encoding, Writer};

/// Lists read when `CTS_GEN_LISTS` is not set.
const DEFAULT_LISTS: u64 = 200;
/// The first seed when `CTS_GEN_SEED` is not set.
const DEFAULT_SEED: u64 = 20_221_217;

fn context() -> Context {
    Context {
        reference_date: people::reference_date(),
        min_age: 18,
        max_age: 70,
        official_domains: vec!["namdinh.edu.vn".into(), "namdinh.gov.vn".into()],
        unit_name: "(đơn vị gửi thư)".into(),
    }
}

/// One generated list.
struct Case {
    seed: u64,
    writer: Writer,
    file_name: String,
    bytes: Vec<u8>,
    expected: layout::Expected,
    choices: layout::Choices,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng::with_seed(seed);
    let writer = match rng.usize(..12) {
        0..=3 => Writer::RustXlsxwriter,
        4 | 5 => Writer::HandXlsx {
            shared_strings: rng.bool(),
        },
        6..=8 => {
            let encoding = [
                Encoding::Utf8,
                Encoding::Utf8Bom,
                Encoding::Utf16Le,
                Encoding::Windows1258,
                Encoding::Windows1258Precomposed,
            ][rng.usize(..5)];
            let sep = match encoding {
                Encoding::Utf16Le => b'\t',
                _ => [b',', b';', b'\t'][rng.usize(..3)],
            };
            Writer::Csv { sep, encoding }
        }
        9 => Writer::Html,
        10 => Writer::Ods,
        _ => Writer::Xls,
    };
    let xlsx = matches!(
        writer,
        Writer::RustXlsxwriter | Writer::HandXlsx { .. } | Writer::Ods | Writer::Xls
    );
    let caps = Caps {
        sheets: xlsx,
        hidden: xlsx,
        fonts: writer == Writer::RustXlsxwriter,
        numbers: xlsx,
    };
    let (mut sheets, mut expected, choices) = layout::compose(&mut rng, caps);
    // The table need not start at A1: blank rows above, blank columns to the left.
    for s in &mut sheets {
        let (top, left) = (rng.usize(..3) as u32, rng.usize(..3) as u16);
        if (top, left) == (0, 0) || rng.bool() {
            continue;
        }
        for row in &mut s.cells {
            row.splice(0..0, std::iter::repeat_n(grid::V::E, left as usize));
        }
        s.cells
            .splice(0..0, std::iter::repeat_n(Vec::new(), top as usize));
        for m in &mut s.merges {
            *m = (m.0 + top, m.1 + left, m.2 + top, m.3 + left);
        }
        for h in &mut s.hidden {
            *h += top;
        }
        let name = s.name.clone();
        for r in expected.rows.iter_mut().filter(|r| r.sheet == name) {
            r.row += top;
        }
        for e in expected.errors.iter_mut().filter(|e| e.0 == name) {
            e.1 += top;
        }
    }
    let stem = format!("ds-{seed}");
    let file_name = format!("{stem}.{}", writer.extension());
    // The sheet of a text list is named after its file: the file's stem, inside a zip too.
    if !xlsx {
        // A text list is one sheet named after the file.
        for r in &mut expected.rows {
            r.sheet = stem.clone();
        }
        for e in &mut expected.errors {
            e.0 = stem.clone();
        }
    }
    let mut bytes = write::write(writer, &sheets);
    let mut file_name = file_name;
    if !xlsx && rng.usize(..5) == 0 {
        // A web system's export named ".xls" whatever it holds.
        file_name = format!("{stem}.xls");
    }
    if rng.usize(..12) == 0 {
        // Sent inside a zip.
        let mut out = Vec::new();
        {
            let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            z.start_file(file_name.as_str(), opts).unwrap();
            std::io::Write::write_all(&mut z, &bytes).unwrap();
            z.finish().unwrap();
        }
        bytes = out;
        file_name = format!("{stem}.zip");
    }
    Case {
        seed,
        writer,
        file_name,
        bytes,
        expected,
        choices,
    }
}

/// What was read, compared with what was written; `Err` describes every difference.
fn check(case: &Case) -> Result<usize, String> {
    let mail = ParsedMail {
        attachments: vec![Attachment {
            filename: case.file_name.clone(),
            content_type: "application/octet-stream".into(),
            bytes: case.bytes.clone(),
        }],
        ..Default::default()
    };
    let read = read_lists(&mail, &context());
    let mut got: Vec<ExpRow> = read
        .rows
        .iter()
        .map(|r| ExpRow {
            sheet: r.source.sheet.clone(),
            row: r.source.row,
            request_type: r.request_type.code(),
            full_name: r.full_name.clone(),
            birth_date: r.birth_date,
            id_number: r.id_number.clone(),
            email: r.email.clone(),
            phone: r.phone.clone(),
            cert_serial: r.cert_serial.clone(),
        })
        .collect();
    let mut want = case.expected.rows.clone();
    got.sort();
    want.sort();
    let mut errors: Vec<(String, u32, String)> = read
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.sheet.clone(), p.row, p.field.clone()))
        .collect();
    let mut planted = case.expected.errors.clone();
    errors.sort();
    planted.sort();
    if got == want && errors == planted {
        return Ok(got.len());
    }
    let mut d = String::new();
    for r in want.iter().filter(|r| !got.contains(r)) {
        d.push_str(&format!("  not read:   {r:?}\n"));
    }
    for r in got.iter().filter(|r| !want.contains(r)) {
        d.push_str(&format!("  unexpected: {r:?}\n"));
    }
    for e in planted.iter().filter(|e| !errors.contains(e)) {
        d.push_str(&format!("  planted error not reported: {e:?}\n"));
    }
    for p in read.problems.iter().filter(|p| {
        p.severity == Severity::Error
            && !planted.contains(&(p.sheet.clone(), p.row, p.field.clone()))
    }) {
        d.push_str(&format!(
            "  unexpected error: {} / {} / {} [{}] {:?}: {}\n",
            p.sheet, p.row, p.column, p.field, p.value, p.message
        ));
    }
    Err(d)
}

fn describe(case: &Case) -> String {
    format!(
        "seed {} ({}, {:?}): {:#?}",
        case.seed, case.file_name, case.writer, case.choices
    )
}

#[test]
fn generated_lists_read_exactly_as_written() {
    let lists = env_u64("CTS_GEN_LISTS", DEFAULT_LISTS);
    let first = env_u64("CTS_GEN_SEED", DEFAULT_SEED);
    let dir = std::env::temp_dir().join("cts-gen");
    let mut failures: Vec<String> = Vec::new();
    let mut rows = 0;
    for i in 0..lists {
        let case = generate(first.wrapping_add(i));
        match check(&case) {
            Ok(n) => rows += n,
            Err(diff) => {
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(&case.file_name);
                let _ = std::fs::write(&path, &case.bytes);
                let text = format!(
                    "list {i}, {}\n  written to {}\n{diff}",
                    describe(&case),
                    path.display()
                );
                eprintln!("{text}");
                failures.push(text);
            }
        }
    }
    eprintln!(
        "generator: {lists} lists from seed {first}, {rows} rows read, {} lists failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {lists} generated lists were misread (seed {first}); the first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn the_generator_is_deterministic_for_a_seed() {
    let a = generate(7);
    let b = generate(7);
    assert_eq!(a.bytes.len(), b.bytes.len());
    assert_eq!(a.expected.rows, b.expected.rows);
    assert!(!a.expected.rows.is_empty() || !a.expected.errors.is_empty());
}

#[test]
fn windows_1258_is_written_with_decomposed_tones() {
    // "Nguyễn": ê then the combining tilde byte (0xDE), as the code page writes it.
    assert_eq!(write::windows_1258("Nguyễn", false), b"Nguy\xEA\xDEn");
    // "Hà": the code page's own "à" when precomposed letters are kept.
    assert_eq!(write::windows_1258("Hà", true), b"H\xE0");
    assert_eq!(write::windows_1258("Hà", false), b"Ha\xCC");
    let _ = NaiveDate::from_ymd_opt(2022, 1, 1);
}

#[test]
fn a_total_typed_in_tcvn3_is_written_as_its_western_characters() {
    let stored = layout::tcvn3("Tổng số: 12 đồng chí").expect("every letter has a TCVN3 byte");
    assert_ne!(stored, "Tổng số: 12 đồng chí");
    assert_eq!(
        cts_intake::legacy::decode(&stored, cts_intake::legacy::Legacy::Tcvn3),
        "Tổng số: 12 đồng chí"
    );
}
