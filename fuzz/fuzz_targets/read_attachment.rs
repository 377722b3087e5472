//! The attachment reader on arbitrary bytes: sniffing, every format reader, zip unpacking,
//! legacy decoding, table finding and validation must never panic, whatever a mail carries.
//! The first byte picks the file name the bytes arrive under (names steer sniffing).

#![no_main]

use chrono::NaiveDate;
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::read_lists;
use cts_intake::validate::Context;
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
    let _ = read_lists(&mail, &ctx);
    let _ = cts_intake::mail::parse(data, "cttt@namdinh.edu.vn");
});
