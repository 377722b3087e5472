//! A unit's versions follow the order their lists were written (DESIGN.md), through the built
//! binary: a list delayed by a mail server behind a newer one is kept as an older version, the
//! school is told, and the newer stays current; a Date from a wrong clock counts for nothing.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use cts_testkit::{
    Attachment, CellValue, ListSheet, MailSpec, MaildirMail, canonical_headers, eml, write_maildir,
    xlsx,
};

use crate::support::{csv_rows, reply_summary, run_once};

fn tz() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<FixedOffset> {
    tz().with_ymd_and_hms(2022, 12, day, hour, minute, 0)
        .unwrap()
}

/// A list of `n` new certificates (TEMPLATE.md's canonical columns).
fn list(n: usize) -> Vec<u8> {
    let rows = (0..n)
        .map(|k| {
            let id = format!("036085{:06}", 100 + k);
            vec![
                CellValue::Number(k as f64 + 1.0),
                format!("Nguyễn Văn {}", ["An", "Bình", "Chi", "Dũng"][k])
                    .as_str()
                    .into(),
                CellValue::Date(NaiveDate::from_ymd_opt(1985, 3, 1 + k as u32).unwrap()),
                id.as_str().into(),
                "".into(),
                "".into(),
                "Giáo viên".into(),
                "Trường THPT Nguyễn Khuyến".into(),
                format!("gv{id}@namdinh.edu.vn").as_str().into(),
                "0912345678".into(),
                "Cấp mới chứng thư số".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
            ]
        })
        .collect();
    xlsx(&[ListSheet {
        headers: canonical_headers(),
        rows,
        ..ListSheet::default()
    }])
}

/// A mail of the registered school written at `date` with a list of `n` rows, delivered at
/// `delivered`.
fn mail(
    n: usize,
    id: &str,
    date: DateTime<FixedOffset>,
    delivered: DateTime<FixedOffset>,
) -> MaildirMail {
    let spec = MailSpec {
        from: "c3nguyenkhuyen@namdinh.edu.vn".into(),
        from_name: String::new(),
        to: "cttt@namdinh.edu.vn".into(),
        subject: "Danh sách đề nghị cấp CTS".into(),
        date,
        message_id: format!("{id}@test"),
        body: "Kính gửi Sở, đơn vị gửi danh sách đề nghị.".into(),
        attachments: vec![Attachment::xlsx("danh-sach.xlsx", list(n))],
        headers: Vec::new(),
    };
    MaildirMail {
        delivered: delivered.timestamp(),
        seen: false,
        bytes: eml(&spec),
    }
}

/// The unit's line of units.csv, as header → field.
fn unit_line(data: &Path) -> std::collections::HashMap<String, String> {
    let rows = csv_rows(&data.join("report/units.csv"));
    let line = rows
        .iter()
        .find(|r| r[0] == "THPT-NK")
        .expect("the unit is listed")
        .clone();
    rows[0].iter().cloned().zip(line).collect()
}

/// The reply answering the mail `id`, as the school reads it.
fn reply_to(data: &Path, id: &str) -> String {
    let mut found = Vec::new();
    for e in std::fs::read_dir(data.join("outbox")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            let s = reply_summary(&std::fs::read(&path).unwrap());
            if s.contains(&format!("In-Reply-To: <{id}@test>")) {
                found.push(s);
            }
        }
    }
    assert_eq!(found.len(), 1, "one reply to {id}");
    found.remove(0)
}

/// The reconciliation code a reply gives for its list.
fn code_in(reply: &str) -> String {
    let tail = reply
        .split("MÃ ĐỐI CHIẾU: ")
        .nth(1)
        .or_else(|| {
            reply
                .split("Mã đối chiếu của danh sách trong thư này: ")
                .nth(1)
        })
        .unwrap_or_else(|| panic!("the reply names a code: {reply}"));
    tail.chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

#[test]
fn a_list_delivered_after_a_newer_one_is_kept_as_an_older_version() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    // Written at 08:00 but held by a mail server until 10:00; the corrected list written at
    // 09:00 arrived at 09:01.
    write_maildir(
        &maildir,
        &[
            mail(3, "newer", at(5, 9, 0), at(5, 9, 1)),
            mail(2, "older", at(5, 8, 0), at(5, 10, 0)),
        ],
    )
    .unwrap();
    let data = dir.path().join("data");
    run_once(&maildir, &data);

    let newer = reply_to(&data, "newer");
    let older = reply_to(&data, "older");
    let newer_code = code_in(&newer);
    let older_code = code_in(&older);
    assert_ne!(newer_code, older_code);
    // The school is told its late-arriving list did not replace the newer one, and which code
    // its paper copy must carry.
    assert!(older.contains("MỚI HƠN"), "{older}");
    assert!(older.contains("KHÔNG thay thế"), "{older}");
    assert!(older.contains(&format!("(mã {newer_code})")), "{older}");
    assert!(
        !older.contains("Attachment: phieu-doi-chieu"),
        "no cover sheet for a list that is not current: {older}"
    );
    // The report holds the newer list as current, and both versions.
    let unit = unit_line(&data);
    assert_eq!(unit["reconciliation_code"], newer_code);
    assert_eq!(unit["rows"], "3");
    assert_eq!(unit["versions"], "2");
    // Lateness stays judged by arrival, and both were in time.
    assert_eq!(unit["late"], "false");
}

#[test]
fn a_date_from_a_wrong_clock_does_not_reorder_versions() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    // The second list's Date is a year before the first: a wrong clock, so its arrival counts
    // and it is the unit's current list. A Date ahead of the arrival counts as the arrival.
    write_maildir(
        &maildir,
        &[
            mail(3, "first", at(5, 12, 0), at(5, 9, 0)),
            mail(
                2,
                "second",
                at(5, 9, 0) - chrono::Duration::days(365),
                at(5, 10, 0),
            ),
        ],
    )
    .unwrap();
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let second = reply_to(&data, "second");
    assert!(!second.contains("MỚI HƠN"), "{second}");
    assert!(second.contains("THAY THẾ"), "{second}");
    let unit = unit_line(&data);
    assert_eq!(unit["reconciliation_code"], code_in(&second));
    assert_eq!(unit["rows"], "2");
}
