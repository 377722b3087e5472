//! How fast lists are read: a 5,000-row xlsx, the same list as xls (BIFF8), and a mixed set of
//! 100 files (the fixture corpus, cycled). Each is read the whole way an attachment is
//! (`pipeline::read_lists`: sniff, read, decode, find the table, validate every row). Prints rows
//! per second (best of several runs) and the peak resident memory of each phase; then the
//! workbook reading alone, and calamine alone under it.
//!
//! `cargo bench --bench read`. Not a test: nothing here asserts a time.

use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::read_lists;
use cts_intake::validate::Context;
use cts_testkit::{CellValue, ListSheet, canonical_headers, xlsx};

fn context() -> Context {
    Context {
        reference_date: NaiveDate::from_ymd_opt(2022, 12, 17).unwrap(),
        min_age: 18,
        max_age: 70,
        official_domains: vec!["namdinh.edu.vn".into(), "namdinh.gov.vn".into()],
        unit_name: "Trường THPT Nguyễn Khuyến".into(),
    }
}

fn list_5000_xlsx() -> Vec<u8> {
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
    let middle = ["Văn", "Thị", "Hữu", "Minh", "Thu", "Đức"];
    let given = [
        "An", "Bình", "Cường", "Dung", "Em", "Giang", "Hà", "Khánh", "Linh", "Nam",
    ];
    let rows = (0..5000usize)
        .map(|i| {
            let year = 1965 + (i % 35) as i32;
            let mut r = vec![CellValue::Empty; 15];
            r[0] = CellValue::Number((i + 1) as f64);
            r[1] = format!(
                "{} {} {}",
                family[i % 8],
                middle[i / 8 % 6],
                given[i / 48 % 10]
            )
            .into();
            r[2] = CellValue::Date(
                NaiveDate::from_ymd_opt(year, 1 + (i % 12) as u32, 1 + (i % 28) as u32).unwrap(),
            );
            r[3] = format!("0360{:02}{:06}", year % 100, i).into();
            r[6] = "Giáo viên".into();
            r[7] = "Trường THPT Nguyễn Khuyến".into();
            r[8] = format!("gv{i:05}@namdinh.edu.vn").into();
            r[9] = format!("09{i:08}").into();
            r[10] = "Cấp mới chứng thư số".into();
            r
        })
        .collect();
    xlsx(&[ListSheet {
        name: "Danh sách".into(),
        title_rows: vec!["DANH SÁCH ĐỀ NGHỊ CẤP CHỨNG THƯ SỐ".into(), String::new()],
        headers: canonical_headers(),
        rows,
        footer_rows: vec!["Người lập biểu".into()],
    }])
}

fn list_5000_xls() -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let zipped = std::fs::read(root.join("benches/data/list-5000.xls.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(zipped)).unwrap();
    let mut out = Vec::new();
    zip.by_index(0).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn mixed_100() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !(n.ends_with(".json")
                || n.ends_with(".py")
                || n.ends_with(".tsv")
                || n.ends_with(".eml"))
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files.iter().cycle().take(100).cloned().collect()
}

fn mail(files: &[(String, Vec<u8>)]) -> ParsedMail {
    ParsedMail {
        attachments: files
            .iter()
            .map(|(name, bytes)| Attachment {
                filename: name.clone(),
                content_type: "application/octet-stream".into(),
                bytes: bytes.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`): unlike wall time, not
/// inflated when other work shares the machine's cores.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Linux: forget the peak so far, so the next reading is this phase's own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory (VmHWM) in MiB, on Linux.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn phase(label: &str, files: Vec<(String, Vec<u8>)>, runs: usize) {
    let ctx = context();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    // One file per mail, as attachments arrive.
    let mails: Vec<ParsedMail> = files.chunks(1).map(mail).collect();
    reset_peak();
    let mut best = Duration::MAX;
    let mut best_cpu = u64::MAX;
    let mut rows = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let cpu = cpu_ns();
        let mut n = 0;
        for m in &mails {
            let read = read_lists(m, &ctx);
            n += read.files.iter().map(|f| f.rows).sum::<usize>();
        }
        best_cpu = best_cpu.min(cpu_ns().saturating_sub(cpu));
        best = best.min(start.elapsed());
        rows = n;
    }
    let secs = best.as_secs_f64();
    let cpu_secs = best_cpu as f64 / 1e9;
    println!(
        "{label:<26} {files:>4} files {kib:>5.0} KiB {rows:>5} rows | wall {ms:>6.1} ms {rate:>7.0} rows/s | cpu {cms:>6.1} ms {crate_:>7.0} rows/s | peak {peak:>5.1} MiB",
        files = mails.len(),
        kib = bytes as f64 / 1024.0,
        ms = secs * 1000.0,
        rate = rows as f64 / secs,
        cms = cpu_secs * 1000.0,
        crate_ = rows as f64 / cpu_secs,
        peak = peak_mib(),
    );
}

/// The workbook reading alone (`sheet::read`), to see where the time goes.
fn read_only(label: &str, name: &str, bytes: &[u8], runs: usize) {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let sheets = cts_intake::sheet::read(name, bytes).unwrap();
        std::hint::black_box(sheets);
        best = best.min(start.elapsed());
    }
    println!(
        "{label:<28} sheet::read only {ms:>8.1} ms",
        ms = best.as_secs_f64() * 1000.0
    );
}

/// calamine alone opening the workbook and reading every sheet's cells: the floor under
/// `sheet::read` (which adds hidden rows, legacy encodings and the checks on the bytes).
fn calamine_only(label: &str, bytes: &[u8], runs: usize) {
    use calamine::Reader;
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).unwrap();
        for name in wb.sheet_names() {
            std::hint::black_box(wb.worksheet_range(&name).unwrap());
        }
        best = best.min(start.elapsed());
    }
    println!(
        "{label:<28} calamine only    {ms:>8.1} ms",
        ms = best.as_secs_f64() * 1000.0
    );
}

fn main() {
    println!(
        "cts-intake read benchmark (best of 5 runs; cpu = time on a CPU; peak = VmHWM during the phase)"
    );
    let xlsx = list_5000_xlsx();
    let xls = list_5000_xls();
    phase(
        "xlsx, 5,000 rows",
        vec![("ds.xlsx".into(), xlsx.clone())],
        5,
    );
    phase(
        "xls (BIFF8), 5,000 rows",
        vec![("ds.xls".into(), xls.clone())],
        5,
    );
    phase("mixed set, 100 files", mixed_100(), 5);
    read_only("xlsx, 5,000 rows", "ds.xlsx", &xlsx, 5);
    read_only("xls (BIFF8), 5,000 rows", "ds.xls", &xls, 5);
    calamine_only("xlsx, 5,000 rows", &xlsx, 5);
    calamine_only("xls (BIFF8), 5,000 rows", &xls, 5);
}
