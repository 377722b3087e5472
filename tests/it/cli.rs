//! The built binary on the embedded default: the sample Maildir end to end, a second run, bad
//! input, and the small commands.

use std::path::Path;

use crate::support::{copy_dir, csv_rows, cts, golden, read, reply_summary, root, run_once};

fn sample_copy(dir: &Path) -> std::path::PathBuf {
    let maildir = dir.join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    maildir
}

fn outbox_files(data: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("outbox"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
}

#[test]
fn sample_maildir_gives_the_expected_csvs_and_replies() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    let out = run_once(&maildir, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "Mails taken: 9 (accepted 3, rejected 2, no list 1, held 1, ignored 1, duplicate 1)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Replies written: 6"), "{stdout}");

    let expected = root().join("tests/expected/sample");
    for name in ["units.csv", "requests.csv", "mails.csv", "problems.csv"] {
        golden(&expected.join(name), &read(&data.join("report").join(name)));
    }
    let replies = outbox_files(&data);
    assert_eq!(replies.len(), 6);
    // Golden replies are named after the mail they answer, so the set is readable.
    let mut by_answer = Vec::new();
    for path in &replies {
        let summary = reply_summary(&std::fs::read(path).unwrap());
        let answered = summary
            .lines()
            .find_map(|l| l.strip_prefix("In-Reply-To: <"))
            .and_then(|l| l.split('@').next())
            .expect("every reply answers a mail")
            .to_string();
        by_answer.push(answered.clone());
        golden(
            &expected.join("outbox").join(format!("{answered}.txt")),
            &summary,
        );
    }
    by_answer.sort();
    assert_eq!(
        by_answer,
        [
            "sample-01",
            "sample-02",
            "sample-03",
            "sample-05",
            "sample-06",
            "sample-08"
        ],
        "no reply to the auto-reply, the duplicate or the unknown sender"
    );
    assert!(data.join("report/doi-chieu.xlsx").is_file());
}

#[test]
fn a_second_run_changes_nothing_and_sends_no_second_reply() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let replies = outbox_files(&data);
    let csvs: Vec<String> = ["units.csv", "requests.csv", "mails.csv", "problems.csv"]
        .iter()
        .map(|n| read(&data.join("report").join(n)))
        .collect();
    let maildir_before = listing(&maildir);

    let out = run_once(&maildir, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Mails taken: 0"), "{stdout}");
    assert!(stdout.contains("Replies written: 0"), "{stdout}");
    assert_eq!(outbox_files(&data), replies);
    for (n, before) in ["units.csv", "requests.csv", "mails.csv", "problems.csv"]
        .iter()
        .zip(csvs)
    {
        assert_eq!(read(&data.join("report").join(n)), before, "{n} changed");
    }
    assert_eq!(
        listing(&maildir),
        maildir_before,
        "the Maildir is read-only"
    );
}

/// Every file under a folder with its bytes' length, to see that nothing was moved or edited.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for sub in ["new", "cur", "tmp"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries {
                let e = e.unwrap();
                out.push((
                    format!("{sub}/{}", e.file_name().to_string_lossy()),
                    e.metadata().unwrap().len(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_copy_of_the_maildir_is_recognised_as_already_taken() {
    // The same mails under another folder (a restored backup, a one-off --maildir run) are not
    // taken again: Maildir keys do not depend on the folder.
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let other = dir.path().join("elsewhere");
    copy_dir(&maildir, &other);
    let out = run_once(&other, &data);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mails taken: 0"));
}

#[test]
fn bad_input_is_a_clear_outcome_and_the_run_goes_on() {
    use cts_testkit::{MaildirMail, write_maildir};
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let good = cts_testkit::sample_mails().remove(0).bytes;
    let mails = vec![
        // Binary garbage: no header at all.
        MaildirMail { delivered: 1_670_000_001, seen: false, bytes: vec![0, 159, 146, 150, 255, 0, 13, 10] },
        // A multipart mail whose boundary never comes: broken MIME.
        MaildirMail {
            delivered: 1_670_000_002,
            seen: false,
            bytes: b"From: c3nguyenkhuyen@namdinh.edu.vn\r\nTo: cttt@namdinh.edu.vn\r\nSubject: DS\r\nMessage-ID: <broken@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: application/vnd.ms-excel; name=\"ds.xls\"\r\nContent-Transfer-Encoding: base64\r\n\r\n0M8R4KGxGuEAAAAA!!!not base64\r\n".to_vec(),
        },
        // An empty file.
        MaildirMail { delivered: 1_670_000_003, seen: false, bytes: Vec::new() },
        // And a good mail after them.
        MaildirMail { delivered: 1_670_000_004, seen: false, bytes: good },
    ];
    write_maildir(&maildir, &mails).unwrap();
    let mails_written = mails;
    let data = dir.path().join("data");
    let out = run_once(&maildir, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Mails taken: 4"), "{stdout}");
    let mails = csv_rows(&data.join("report/mails.csv"));
    let outcomes: Vec<&str> = mails[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(outcomes, ["held", "rejected", "held", "accepted"]);
    // The broken attachment is answered with a reason the school can act on.
    let problems = read(&data.join("report/problems.csv"));
    assert!(problems.contains("broken@x,ds.xls"), "{problems}");
    // Every mail's raw bytes are kept, even the empty one, and byte for byte.
    let db = rusqlite::Connection::open(data.join("intake.sqlite3")).unwrap();
    let kept: Vec<Vec<u8>> = db
        .prepare(
            "SELECT r.bytes FROM mails m JOIN raw_mails r ON r.sha256 = m.sha256 ORDER BY m.id",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let sent: Vec<Vec<u8>> = mails_written.iter().map(|m| m.bytes.clone()).collect();
    assert_eq!(kept, sent);
}

#[test]
fn an_empty_maildir_is_a_quiet_run() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let data = dir.path().join("data");
    let out = run_once(&maildir, &data);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mails taken: 0"));
    let units = csv_rows(&data.join("report/units.csv"));
    assert_eq!(
        units.len(),
        9,
        "every registered unit is listed, none submitted"
    );
    assert!(units[1..].iter().all(|r| r[3] == "not_submitted"));
}

#[test]
fn a_missing_maildir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cts(&["run", "--once", "--data-dir"])
        .arg(dir.path())
        .arg("--maildir")
        .arg(dir.path().join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a Maildir"), "{err}");
}

#[test]
fn report_writes_the_workbook_and_csvs_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let out_dir = dir.path().join("out");
    let out = cts(&["report", "--out"])
        .arg(&out_dir)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read(&out_dir.join("units.csv")),
        read(&data.join("report/units.csv"))
    );

    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(out_dir.join("doi-chieu.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Tổng quan",
            "Tổng hợp",
            "Chưa gửi",
            "Chi tiết",
            "Cấp mới hòm thư",
            "Cấp mới CTS",
            "Cấp lại CTS",
            "Khôi phục khoá",
            "Thu hồi CTS",
            "Gia hạn CTS",
            "Thay đổi CTS",
            "Cần xử lý"
        ]
    );
    assert!(out_dir.join("doi-chieu.html").is_file());
    let summary = wb.worksheet_range("Tổng hợp").unwrap();
    assert_eq!(summary.get_value((0, 1)).unwrap().to_string(), "Tên đơn vị");
    assert_eq!(
        summary.height(),
        9,
        "a header and one line per registered unit"
    );
    assert_eq!(
        summary.get_value((1, 3)).unwrap().to_string(),
        "Đã tiếp nhận"
    );
    let detail = wb.worksheet_range("Chi tiết").unwrap();
    assert_eq!(detail.height(), 11, "a header and the 10 current rows");
    // IDs stay text with their leading zero.
    assert_eq!(
        detail.get_value((1, 4)).unwrap(),
        &calamine::Data::String("036194003517".into())
    );
}

/// The daemon, the desk and the commands write one report folder: a writer waits for the
/// folder's lock and reads the store only then (so a receipt recorded while it waited is in what
/// it leaves), and a file is moved into place whole (what a crash left half-written in the
/// staging folder never reaches the folder).
#[test]
fn writers_of_the_report_folder_take_turns_and_the_last_leaves_the_newest_state() {
    use cts_intake::config::{Config, Overrides};
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let report = data.join("report");
    let lhp = |report: &Path| {
        read(&report.join("units.csv"))
            .lines()
            .find(|l| l.starts_with("THPT-LHP,"))
            .unwrap()
            .to_string()
    };
    assert!(!lhp(&report).contains("match"), "{}", lhp(&report));
    // A crash's leftovers: a half-written file in the staging folder.
    std::fs::create_dir_all(report.join(".writing")).unwrap();
    std::fs::write(report.join(".writing/units.csv"), "Mã đơn vị,Tê").unwrap();
    std::fs::write(report.join(".writing/half.csv"), "x").unwrap();

    let overrides = Overrides {
        data_dir: Some(data.clone()),
        ..Overrides::default()
    };
    let config = Config::load(&root().join("config/default.toml"), &overrides).unwrap();
    let registry = cts_intake::units::Registry::load(&config.units.file).unwrap();
    // Another writer holds the lock.
    let lock = std::fs::File::options()
        .write(true)
        .open(report.join(".lock"))
        .expect("the report folder has its lock file");
    lock.lock().unwrap();
    let writer = {
        let (config, registry, report) = (config.clone(), registry.clone(), report.clone());
        std::thread::spawn(move || {
            let store = cts_intake::store::Store::open(&config.database_path()).unwrap();
            cts_intake::report::rewrite(&store, &registry, &config, &report)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !writer.is_finished(),
        "the writer did not wait for the lock"
    );
    // The paper copy is received while the writer waits.
    let store = cts_intake::store::Store::open(&config.database_path()).unwrap();
    cts_intake::report::paper::receive(&store, "THPT-LHP", "2KG6690H", None, "").unwrap();
    drop(lock);
    writer.join().unwrap().unwrap();
    assert!(lhp(&report).contains("match"), "{}", lhp(&report));
    assert!(!report.join("half.csv").exists());
    assert!(!report.join(".writing").exists());
    // The units file in place is the new whole one, not the leftover.
    assert!(read(&report.join("units.csv")).starts_with("unit_code,unit_name,"));
}

#[test]
fn the_template_is_written_and_read_back_by_our_own_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mau.xlsx");
    let out = cts(&["template", "--out"]).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    let sheets = cts_intake::sheet::read("mau.xlsx", &bytes).unwrap();
    let table = cts_intake::sheet::header::find(&sheets[0]).expect("the header is recognised");
    assert_eq!(table.columns.len(), cts_intake::template::COLUMNS.len());
    assert!(
        cts_intake::sheet::header::find(&sheets[1]).is_none(),
        "instructions are not a list"
    );
}

#[test]
fn the_data_folder_and_every_file_written_are_readable_by_the_service_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    crate::support::run_once(&root().join("samples/maildir"), &data);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data folder");
    let mut files = 0;
    let mut stack = vec![data.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                assert_eq!(mode(&p) & 0o077, 0, "{} is open to others", p.display());
                stack.push(p);
            } else {
                assert_eq!(mode(&p) & 0o077, 0, "{} is open to others", p.display());
                files += 1;
            }
        }
    }
    assert!(
        files >= 8,
        "the database, replies and report were checked ({files} files)"
    );
}

#[test]
fn status_on_a_folder_with_no_database_warns_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cts(&["status", "--data-dir"]).arg(&data).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("WARNING: no poll"));
    assert!(
        !data.join("intake.sqlite3").exists(),
        "status created a database"
    );
}

/// The certificate authority's import files beside doi-chieu.xlsx, their headers cell by cell
/// as the CA's own files write them.
#[test]
fn the_report_folder_holds_the_lists_in_the_cas_import_formats() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_copy(dir.path());
    let data = dir.path().join("data");
    run_once(&maildir, &data);
    let report = data.join("report");

    let mut wb: Xlsx<_> = open_workbook(report.join("ca-cap-moi-cap-lai-cts.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), ["Template_import VGCA"]);
    let range = wb.worksheet_range("Template_import VGCA").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    let want = [
        "STT",
        "Họ tên (bắt buộc)",
        "Ngày sinh (bắt buộc, để dạng dd/MM/YYYY)",
        "CCCC (Căn cước công dân, bắt buộc)",
        "Nơi cấp (Nơi cấp CCCD; để một trong 2 nơi: CCSQLHCVTTXH hoặc CCSĐKQLCTVDLQGVDC)",
        "Ngày cấp (bắt buộc, để dạng dd/MM/YYYY)",
        "Địa chỉ thư điện tử công vụ (bắt buộc)",
        "Tổ chức cấp 1 (bắt buộc)",
        "Tổ chức cấp 2",
        "Tổ chức cấp 3",
        "Tổ chức cấp 4",
        "Tỉnh thành phố (Bắt buộc)",
        "Tỉnh/Thành phố",
        "Chức vụ (Bắt buộc)",
        "Điện thoại",
        "Serial CTS cũ",
        "Nhà mạng (bắt buộc nếu đăng ký SIM)",
        "Là chuyển số (đánh dấu X nếu muốn chuyển số đang dùng sang SIM ký số)",
    ];
    assert_eq!(rows[0].len(), 19);
    for (i, w) in want.iter().enumerate() {
        assert_eq!(rows[0][i], Data::String(w.to_string()), "header {}", i + 1);
    }
    assert!(
        rows[0][18].to_string().starts_with("Loại thiết bị("),
        "{}",
        rows[0][18]
    );
    let body = &rows[1..];
    // Sample: THPT-LHP's 2 new certificates and 1 re-issue, THPT-NK's list.
    assert!(body.len() >= 3, "{body:?}");
    let dmy = |s: &str| {
        s.len() == 10 && s.as_bytes()[2] == b'/' && s.as_bytes()[5] == b'/' && {
            let d: String = s.chars().filter(|c| *c != '/').collect();
            d.chars().all(|c| c.is_ascii_digit())
        }
    };
    for (i, r) in body.iter().enumerate() {
        assert!(
            r.iter().all(|c| matches!(c, Data::String(_) | Data::Empty)),
            "every cell is text: {r:?}"
        );
        let s = |c: usize| r[c].to_string();
        assert_eq!(s(0), (i + 1).to_string());
        assert!(dmy(&s(2)), "birth date {}", s(2));
        assert_eq!(s(3).len(), 12, "{}", s(3));
        if !s(4).is_empty() {
            assert!(
                ["CCSQLHCVTTXH", "CCSĐKQLCTVDLQGVDC"].contains(&s(4).as_str()),
                "{}",
                s(4)
            );
        }
        assert!(s(5).is_empty() || dmy(&s(5)), "issue date {}", s(5));
        assert_eq!(s(7), "Uỷ ban nhân dân tỉnh Nam Định");
        assert_eq!(s(8), "Sở Giáo dục và Đào tạo Nam Định");
        assert!(s(9).starts_with("Trường THPT"), "{}", s(9));
        assert_eq!((s(11), s(12)), ("Nam Định".into(), "Nam Định".into()));
        assert_eq!(s(18), "TOKEN");
    }
    let names: Vec<String> = body.iter().map(|r| r[1].to_string()).collect();
    assert!(names.contains(&"Nguyễn Văn Hùng".to_string()), "{names:?}");
    assert!(
        names.contains(&"Đỗ Quang Vinh".to_string()),
        "a re-issue too"
    );
    assert!(
        !names.contains(&"Trần Thị Thu Hà".to_string()),
        "a mailbox request is not a certificate"
    );
    let vinh = body
        .iter()
        .find(|r| r[1] == Data::String("Đỗ Quang Vinh".into()))
        .unwrap();
    assert!(
        !vinh[15].to_string().is_empty(),
        "the re-issue names its old serial"
    );

    let csv = std::fs::read(report.join("ca-tong-hop-cts.csv")).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&csv[3..]);
    let lines: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(
        lines[0].iter().collect::<Vec<_>>(),
        [
            "STT",
            "Họ và tên",
            "Ngày sinh",
            "Số CMND/ CCCD/Hộ chiếu;Ngày cấp; nơi cấp",
            "Địa chỉ thư điện tử công vụ",
            "Tên cơ quan-tổ chức công tác",
            "Tỉnh/Thành phố",
            "Chức vụ",
            "Số điện thoại di động",
            "Số hiệu chứng thư cũ (nếu có)",
            "SIM PKI",
        ]
    );
    assert_eq!(lines.len(), body.len() + 1, "the same requests");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.len() == 11 && l[3].split(';').count() == 3)
    );

    let mut wb: Xlsx<_> = open_workbook(report.join("ca-hom-thu-cong-vu.xlsx")).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "STT",
            "Họ và tên",
            "Ngày sinh",
            "Di động",
            "Số CCCD",
            "Đơn vị công tác",
            "Chức vụ",
            "Ghi chú"
        ]
    );
    assert!(rows.iter().any(|r| r[1] == "Trần Thị Thu Hà"), "{rows:?}");
}
