//! The reader processes, through the built binary on a Maildir, under an address-space limit
//! for the whole run (`prlimit --as`, as a service's MemoryMax would be): a mail whose reader
//! runs out of memory or time is held with its reason and answered, the list after it from
//! another unit is accepted, the run exits 0 and the report is written.

use std::path::Path;
use std::process::Command;

use chrono::{FixedOffset, TimeZone};
use cts_testkit::{Attachment, CellValue, ListSheet, MailSpec, MaildirMail, canonical_headers};

use crate::hostile::{SHEET_HEAD, SHEET_TAIL, deflate_repeated, xlsx_parts, zip_with_raw};
use crate::support::{csv_rows, root};

/// An xlsx of `cells` numeric cells (1,000 a row), within the reading budget but far larger
/// than a small reader's memory: a few kilobytes on the wire.
fn big_xlsx(cells: u64) -> Vec<u8> {
    let row = format!("<row>{}</row>", "<c><v>1</v></c>".repeat(1000));
    let rows = cells / 1000;
    let deflated = deflate_repeated(
        SHEET_HEAD.as_bytes(),
        row.as_bytes(),
        rows,
        SHEET_TAIL.as_bytes(),
    );
    let size = (SHEET_HEAD.len() + SHEET_TAIL.len()) as u64 + rows * row.len() as u64;
    zip_with_raw(&xlsx_parts(), "xl/worksheets/sheet1.xml", &deflated, size)
}

fn mail(from: &str, id: &str, subject: &str, attachment: Attachment) -> Vec<u8> {
    cts_testkit::eml(&MailSpec {
        from: from.into(),
        from_name: String::new(),
        to: "cttt@namdinh.edu.vn".into(),
        subject: subject.into(),
        date: FixedOffset::east_opt(7 * 3600)
            .unwrap()
            .with_ymd_and_hms(2022, 12, 5, 8, 0, 0)
            .unwrap(),
        message_id: id.into(),
        body: "Kính gửi Sở, đơn vị gửi danh sách.".into(),
        attachments: vec![attachment],
        headers: Vec::new(),
    })
}

/// A good list of one person, as a school sends it.
fn good_list() -> Vec<u8> {
    let headers = canonical_headers();
    let mut row: Vec<CellValue> = headers.iter().map(|_| CellValue::Empty).collect();
    let put = |row: &mut Vec<CellValue>, header: &str, v: CellValue| {
        let i = headers.iter().position(|h| h == header).unwrap();
        row[i] = v;
    };
    put(&mut row, "STT", CellValue::Number(1.0));
    put(
        &mut row,
        "Họ và tên",
        CellValue::Text("Nguyễn Văn An".into()),
    );
    put(&mut row, "Ngày sinh", CellValue::Text("12/03/1985".into()));
    put(&mut row, "Số CCCD", CellValue::Text("036085001234".into()));
    put(&mut row, "Chức vụ", CellValue::Text("Hiệu trưởng".into()));
    put(
        &mut row,
        "Đơn vị công tác",
        CellValue::Text("Trường THPT Nguyễn Khuyến".into()),
    );
    put(
        &mut row,
        "Email công vụ",
        CellValue::Text("an.nv@namdinh.edu.vn".into()),
    );
    put(
        &mut row,
        "Số điện thoại di động",
        CellValue::Text("0912345678".into()),
    );
    put(
        &mut row,
        "Nội dung đề nghị",
        CellValue::Text("Cấp mới chứng thư số".into()),
    );
    cts_testkit::xlsx(&[ListSheet {
        name: "Danh sách".into(),
        title_rows: Vec::new(),
        headers,
        rows: vec![row],
        footer_rows: Vec::new(),
    }])
}

/// Runs `run --once` on `mails` under `prlimit --as=2GiB`, with `reader` settings, and returns
/// the data folder's mails.csv rows and the run's output.
fn run(dir: &Path, mails: Vec<Vec<u8>>, reader: &str) -> (Vec<Vec<String>>, String) {
    let maildir = dir.join("maildir");
    let mails: Vec<MaildirMail> = mails
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| MaildirMail {
            delivered: 1_670_200_000 + i as i64 * 60,
            seen: false,
            bytes,
        })
        .collect();
    cts_testkit::write_maildir(&maildir, &mails).unwrap();
    // The [reader] settings of the default config, each of `reader`'s lines replacing its own.
    let mut config = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
    for line in reader.lines() {
        let key = line.split('=').next().unwrap().trim();
        let at = config
            .find(&format!("\n{key} = "))
            .unwrap_or_else(|| panic!("{key} is not in config/default.toml"));
        let end = config[at + 1..]
            .find('\n')
            .map_or(config.len(), |e| at + 1 + e);
        config.replace_range(at + 1..end, line);
    }
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).unwrap();
    assert!(
        Command::new("prlimit").arg("--version").output().is_ok(),
        "prlimit (util-linux) is needed: apt-get install util-linux"
    );
    let out = Command::new("prlimit")
        .arg("--as=2147483648")
        .arg(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(&config_path)
        .args(["run", "--once", "--maildir"])
        .arg(&maildir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--units")
        .arg(root().join("config/units.csv"))
        // The readers' own lines too (a group a reader did not finish is said at info).
        .env("CTS_INTAKE_LOG", "warn,cts_intake::worker=info")
        .output()
        .unwrap();
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the run failed: {text}");
    assert!(
        dir.join("data/report/doi-chieu.xlsx").exists(),
        "no report: {text}"
    );
    (csv_rows(&dir.join("data/report/mails.csv")), text)
}

fn outcome_of<'a>(rows: &'a [Vec<String>], id: &str) -> &'a str {
    let col = rows[0].iter().position(|h| h == "outcome").unwrap();
    let row = rows
        .iter()
        .find(|r| r[0] == id)
        .unwrap_or_else(|| panic!("{id} not in mails.csv: {rows:?}"));
    &row[col]
}

fn replies_to(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("data/outbox"))
        .unwrap()
        .map(|e| crate::support::reply_summary(&std::fs::read(e.unwrap().path()).unwrap()))
        .filter(|r| r.contains(needle))
        .collect()
}

/// A big list from one school (`id`, `cells` cells), then a good list from another, run under
/// `reader`: the hostile mail's outcome and note, checked that the good list was accepted.
fn hostile_then_good(dir: &Path, id: &str, cells: u64, reader: &str) -> (String, String) {
    let hostile = Attachment::xlsx("Danh sách.xlsx", big_xlsx(cells));
    attachment_then_good(dir, id, hostile, reader)
}

/// A hostile file of `tests/it/hostile.rs` (`name`, `bytes`) mailed by one school, then a good
/// list from another, through the built binary under `prlimit --as=2GiB` with the default
/// reader limits: the run exits 0 and writes the report, the good list is accepted, and the
/// hostile mail is recorded with an outcome and a reason (its note, or the problems the
/// school is told). Gives the outcome and the note.
pub(crate) fn taken_beside_a_good_list(name: &str, bytes: &[u8]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let hostile = Attachment {
        filename: name.into(),
        content_type: "application/octet-stream".into(),
        bytes: bytes.to_vec(),
    };
    let id = "hostile@namdinh.edu.vn";
    let (outcome, note) = attachment_then_good(dir.path(), id, hostile, "");
    let problems = csv_rows(&dir.path().join("data/report/problems.csv"));
    let told = problems.iter().skip(1).any(|r| r[0] == id);
    assert!(
        ["accepted", "rejected", "held", "no_list"].contains(&outcome.as_str()),
        "{name}: outcome {outcome}"
    );
    assert!(
        outcome == "accepted" || !note.is_empty() || told,
        "{name}: {outcome} without a reason"
    );
    (outcome, note)
}

/// `hostile` mailed by one school (`id`), then a good list from another, run under `reader`.
fn attachment_then_good(
    dir: &Path,
    id: &str,
    hostile: Attachment,
    reader: &str,
) -> (String, String) {
    let hostile = mail("c3lehongphong@namdinh.edu.vn", id, "Danh sách CTS", hostile);
    let good = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "good@namdinh.edu.vn",
        "Danh sách CTS",
        Attachment::xlsx("ds.xlsx", good_list()),
    );
    let (rows, log) = run(dir, vec![hostile, good], reader);
    assert_eq!(
        outcome_of(&rows, "good@namdinh.edu.vn"),
        "accepted",
        "{log}"
    );
    let db = rusqlite::Connection::open(dir.join("data/intake.sqlite3")).unwrap();
    let note: String = db
        .query_row("SELECT note FROM mails WHERE message_id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    (outcome_of(&rows, id).to_string(), note)
}

#[test]
fn a_reader_that_runs_out_of_memory_costs_its_mail_a_held_outcome_and_the_next_list_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, note) = hostile_then_good(
        dir.path(),
        "big@namdinh.edu.vn",
        3_500_000,
        "memory-mb = 64\n",
    );
    assert_eq!(outcome, "held");
    assert!(note.contains("reader crashed"), "{note}");
    let replies = replies_to(dir.path(), "c3lehongphong@namdinh.edu.vn");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("lưu lại thành một tệp Excel mới"),
        "{}",
        replies[0]
    );
}

#[test]
fn a_reader_that_uses_up_its_processor_time_costs_its_mail_a_held_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, note) = hostile_then_good(
        dir.path(),
        "slow@namdinh.edu.vn",
        3_900_000,
        "cpu-seconds = 1\ntimeout-seconds = 3\n",
    );
    assert_eq!(outcome, "held");
    assert!(
        note.contains("reader cpu_time") || note.contains("reader timed_out"),
        "{note}"
    );
}

#[test]
fn a_subject_of_two_hundred_thousand_characters_leaves_every_output_whole_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let subject = format!("Danh sách CTS {}", "rất dài ".repeat(26_000));
    assert!(subject.chars().count() > 200_000);
    let list = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "long-subject@namdinh.edu.vn",
        &subject,
        Attachment::xlsx("ds.xlsx", good_list()),
    );
    // The report is written by the run and again by `report` afterwards.
    let (rows, log) = run(dir.path(), vec![list], "");
    assert_eq!(
        outcome_of(&rows, "long-subject@namdinh.edu.vn"),
        "accepted",
        "{log}"
    );
    let replies = replies_to(dir.path(), "c3nguyenkhuyen@namdinh.edu.vn");
    assert_eq!(replies.len(), 1);
    let reply_subject = replies[0]
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert!(
        reply_subject.chars().count() < 260 && reply_subject.contains('…'),
        "{} characters",
        reply_subject.chars().count()
    );
    let report = Command::new(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .args(["report", "--out"])
        .arg(dir.path().join("again"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--units")
        .arg(root().join("config/units.csv"))
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(dir.path().join("again/doi-chieu.xlsx").exists());
}

#[test]
fn the_readers_started_ahead_of_a_pass_read_its_mails() {
    // The readers are started while the first batch is fetched. One started on a thread that
    // ends dies with it (PR_SET_PDEATHSIG follows the thread): its first group would then fail
    // and be read again mail by mail. 40 mails make groups of five.
    let dir = tempfile::tempdir().unwrap();
    let mails: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            mail(
                "c3nguyenkhuyen@namdinh.edu.vn",
                &format!("good{i}@namdinh.edu.vn"),
                "Danh sách CTS",
                Attachment::xlsx("ds.xlsx", good_list()),
            )
        })
        .collect();
    let (rows, log) = run(dir.path(), mails, "");
    assert_eq!(rows.len(), 41, "a line a mail: {log}");
    for i in 0..40 {
        let outcome = outcome_of(&rows, &format!("good{i}@namdinh.edu.vn"));
        assert_eq!(outcome, "accepted", "mail {i}: {log}");
    }
    assert!(
        !log.contains("did not finish"),
        "every group was read by the reader it was given: {log}"
    );
}

/// A group of mails read in one exchange with a reader ([`cts_intake::worker::Pool::read_group`])
/// whose middle mail exhausts the reader's memory: the group is read again a mail at a time, so
/// the mails beside it are read as if nothing had happened and only the middle one is unread.
#[test]
fn a_mail_that_stops_its_reader_in_a_group_costs_only_itself() {
    use cts_intake::mail::Attachment as File;
    use cts_intake::worker::{Limits, Pool, Unread};
    let pool = Pool::new(
        Some(env!("CARGO_BIN_EXE_cts-intake").into()),
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            cpu: std::time::Duration::from_secs(20),
            wall: std::time::Duration::from_secs(60),
        },
    )
    .unwrap();
    let file = |bytes: Vec<u8>| {
        vec![File {
            filename: "Danh sách.xlsx".into(),
            content_type: "application/octet-stream".into(),
            bytes,
        }]
    };
    let (good, hostile) = (file(good_list()), file(big_xlsx(3_500_000)));
    let context = crate::support::context("Trường THPT Nguyễn Khuyến");
    let jobs = [
        (&good[..], &context),
        (&hostile[..], &context),
        (&good[..], &context),
    ];
    let answers = pool.read_group(&jobs).unwrap();
    assert_eq!(answers.len(), 3);
    for i in [0, 2] {
        let lists = answers[i]
            .as_ref()
            .unwrap_or_else(|why| panic!("mail {i}: {why:?}"));
        assert_eq!(lists.rows.len(), 1, "mail {i}: {lists:?}");
        assert_eq!(lists.rows[0].full_name, "Nguyễn Văn An");
    }
    assert!(
        matches!(answers[1], Err(Unread::Crashed)),
        "{:?}",
        answers[1].as_ref().err()
    );
    // A group of good mails alone comes back whole, in order.
    let answers = pool
        .read_group(&[(&good[..], &context), (&good[..], &context)])
        .unwrap();
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|l| l.rows.len() == 1))
    );
}
