//! The attachment reader on arbitrary bytes: sniffing, every format reader, zip unpacking,
//! legacy decoding, table finding and validation must never panic, whatever a mail carries;
//! nor the school's file marked for an errors reply (which the daemon writes itself, outside
//! the reader processes), with the problems found and one more on its second row.
//! The first byte picks the file name the bytes arrive under (names steer sniffing).

#![no_main]

use chrono::NaiveDate;
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::read_lists;
use cts_intake::validate::{Context, RowProblem, Severity};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 9] = [
    "ds.xlsx",
    "ds.xls",
    "ds.csv",
    "ds",
    "winmail.dat",
    "ds.zip",
    "ds.ods",
    "ds.txt",
    "anh.jpg",
];

fuzz_target!(|data: &[u8]| {
    // A panic inside calamine is caught by the reader (`sheet::read` gives "damaged" for it):
    // an arithmetic overflow on a damaged cell reference is one, in builds with overflow
    // checks (release builds wrap). libFuzzer's own hook would abort on it even so: it is kept
    // for every other panic, ours above all, caught or not.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let libfuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().contains("/calamine-"))
            {
                return;
            }
            libfuzzer(info)
        }))
    });
    let (name, bytes) = match data.split_first() {
        Some((b, rest)) => (NAMES[usize::from(*b) % NAMES.len()], rest),
        None => ("ds", data),
    };
    let mail = ParsedMail {
        attachments: vec![Attachment {
            filename: name.to_string(),
            content_type: "application/octet-stream".to_string(),
            bytes: bytes.to_vec(),
        }],
        ..Default::default()
    };
    let ctx = Context {
        reference_date: NaiveDate::from_ymd_opt(2022, 12, 17).expect("a valid date"),
        min_age: 18,
        max_age: 70,
        official_domains: vec!["namdinh.edu.vn".to_string()],
        unit_name: String::new(),
    };
    let lists = read_lists(&mail, &ctx);
    let mut problems = lists.problems;
    problems.push(RowProblem {
        file: name.to_string(),
        sheet: lists
            .files
            .first()
            .and_then(|f| f.sheets.first().cloned())
            .unwrap_or_default(),
        row: 2,
        column: "Họ và tên".to_string(),
        field: "full_name".to_string(),
        value: String::new(),
        severity: Severity::Error,
        message: "Thiếu họ và tên.".to_string(),
    });
    let _ = cts_intake::reply::annotate::annotate(&mail.attachments[0], &problems);
    let _ = cts_intake::mail::parse(data, "cttt@namdinh.edu.vn");
});
