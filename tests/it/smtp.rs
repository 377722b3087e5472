//! Replies over SMTP against a real Postfix delivering into a real Dovecot (issue 5): what each
//! school finds in its mailbox, an outage and a restart, a permanent refusal, mail loops with
//! out-of-office responders and bounces, and 500 replies.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use cts_intake::config::Smtp;
use cts_intake::outbox::sender::{RetryPolicy, Sender};
use cts_intake::outbox::smtp::SmtpTransport;
use cts_intake::store::query::{self, OutboxLine};
use cts_intake::store::{OutboxStatus, Store};
use cts_testkit::{self as testkit, MailSpec};
use mail_parser::{MessageParser, MimeHeaders};

use crate::mailstack::{MailStack, smtp_send, wait_until};
use crate::outbox_fill;
use crate::support::{copy_dir, golden, reply_summary, root};

pub(crate) const DEPT: &str = "cttt@namdinh.edu.vn";
pub(crate) const PASSWORD: &str = "mật-khẩu secret";
/// An unregistered address on an official domain, writing for THPT Giao Thủy.
const UNVERIFIED: &str = "giaovu.gt@namdinh.edu.vn";
const GIAO_THUY: &str = "c3giaothuy@namdinh.edu.vn";

/// Every registered address of the sample registry, the department and the unverified sender.
pub(crate) fn all_users() -> Vec<String> {
    let registry = cts_intake::units::Registry::load(&root().join("config/units.csv")).unwrap();
    let mut users: Vec<String> = registry
        .units()
        .iter()
        .flat_map(|u| u.emails.clone())
        .collect();
    users.push(DEPT.into());
    users.push(UNVERIFIED.into());
    users
}

pub(crate) fn start_stack(users: &[String]) -> MailStack {
    let with_pw: Vec<(&str, &str)> = users.iter().map(|u| (u.as_str(), PASSWORD)).collect();
    MailStack::start(&with_pw)
}

/// A copy of the default config with some `[replies]` keys changed and the poll interval set.
pub(crate) fn config(dir: &Path, replies: &str, poll_seconds: u64) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("config/default.toml"))
        .unwrap()
        .replace(
            "file = \"units.csv\"",
            &format!("file = \"{}\"", root().join("config/units.csv").display()),
        )
        .replace(
            "poll-seconds = 30",
            &format!("poll-seconds = {poll_seconds}"),
        );
    for setting in replies.lines() {
        let key = format!("{} =", setting.split(" =").next().unwrap());
        let line = text
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("no {key} in the default config"))
            .to_string();
        text = text.replace(&line, setting);
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `cts-intake run` on a Maildir, replies through `url` with the department's password.
pub(crate) fn cts_run(config: &Path, maildir: &Path, data: &Path, url: &str, ca: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cts-intake"));
    c.arg("--config")
        .arg(config)
        .arg("run")
        .arg("--maildir")
        .arg(maildir)
        .arg("--data-dir")
        .arg(data)
        .arg("--smtp")
        .arg(url)
        .arg("--smtp-ca-file")
        .arg(ca)
        .env("CTS_INTAKE_SMTP_PASSWORD", PASSWORD)
        .env("CTS_INTAKE_LOG", "warn");
    c
}

fn once(mut c: Command) -> Output {
    crate::support::succeeds(c.arg("--once"))
}

pub(crate) fn submission_url(stack: &MailStack) -> String {
    format!(
        "smtp://cttt%40namdinh.edu.vn@localhost:{}",
        stack.postfix.submission_port
    )
}

fn smtps_url(stack: &MailStack) -> String {
    format!(
        "smtps://cttt%40namdinh.edu.vn@127.0.0.1:{}",
        stack.postfix.smtps_port
    )
}

pub(crate) fn outbox(data: &Path) -> Vec<OutboxLine> {
    if !data.join("intake.sqlite3").exists() {
        return Vec::new();
    }
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    query::outbox(store.conn()).unwrap()
}

fn mail_outcomes(data: &Path) -> Vec<(String, String)> {
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    query::mails(store.conn())
        .unwrap()
        .into_iter()
        .map(|m| (m.from, m.outcome.code().to_string()))
        .collect()
}

/// Every mail in every user's INBOX, by user.
fn inboxes(stack: &MailStack, users: &[String]) -> HashMap<String, Vec<Vec<u8>>> {
    users
        .iter()
        .map(|u| (u.clone(), stack.dovecot.messages(u, "INBOX")))
        .collect()
}

fn total(stack: &MailStack, users: &[String]) -> usize {
    inboxes(stack, users).values().map(Vec::len).sum()
}

fn header(bytes: &[u8], name: &str) -> String {
    MessageParser::default()
        .parse(bytes)
        .unwrap()
        .header_raw(name)
        .unwrap_or("")
        .trim()
        .to_string()
}

pub(crate) fn message_id(bytes: &[u8]) -> String {
    header(bytes, "Message-ID")
        .trim_matches(['<', '>'])
        .to_string()
}

fn attachment(bytes: &[u8], name_ends_with: &str) -> Option<(String, Vec<u8>)> {
    let m = MessageParser::default().parse(bytes).unwrap();
    m.attachments().find_map(|a| {
        let name = a.attachment_name()?.to_string();
        name.ends_with(name_ends_with)
            .then(|| (name, a.contents().to_vec()))
    })
}

/// The sample Maildir plus one list from an unregistered official address for THPT Giao Thủy
/// (whose reply goes to the sender with the unit's registered address in Cc). The list holds
/// revocations, so it is held for staff and the reply says so.
fn sample_with_unverified(dir: &Path) -> PathBuf {
    let maildir = dir.join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let first = cts_intake::mail::parse(&testkit::sample_mails()[0].bytes, DEPT);
    let list = &first.attachments[0];
    let spec = MailSpec {
        from: UNVERIFIED.into(),
        from_name: "Giáo vụ THPT Giao Thủy".into(),
        to: DEPT.into(),
        subject: "Danh sách đề nghị cấp chứng thư số - Trường THPT Giao Thủy".into(),
        date: chrono::DateTime::parse_from_rfc3339("2022-12-13T08:00:00+07:00").unwrap(),
        message_id: "unverified-gt@namdinh.edu.vn".into(),
        body: "Kính gửi Sở, trường gửi danh sách.".into(),
        attachments: vec![testkit::Attachment::xlsx(
            &list.filename,
            list.bytes.clone(),
        )],
        headers: Vec::new(),
    };
    std::fs::write(
        maildir.join("new/1670893300.M99P1.unverified"),
        testkit::eml(&spec),
    )
    .unwrap();
    maildir
}

#[test]
fn accepted_rejected_and_no_list_mails_each_get_exactly_the_right_reply() {
    let users = all_users();
    let stack = start_stack(&users);
    let dir = tempfile::tempdir().unwrap();
    let maildir = sample_with_unverified(dir.path());
    let data = dir.path().join("data");
    let cfg = config(dir.path(), "", 30);
    let out = once(cts_run(
        &cfg,
        &maildir,
        &data,
        &submission_url(&stack),
        stack.postfix.ca_file(),
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Replies sent: 7 (through smtp://"),
        "{stdout}"
    );
    assert!(
        !data.join("outbox").exists(),
        "with SMTP no .eml file is written"
    );

    // Six answered sample mails plus the unverified one, delivered to two mailboxes.
    let expected_total = 6 + 2;
    assert!(
        wait_until(Duration::from_secs(10), || total(&stack, &users)
            >= expected_total),
        "not all replies arrived:\n{}",
        stack.postfix.log()
    );
    let boxes = inboxes(&stack, &users);
    assert_eq!(total(&stack, &users), expected_total);
    let stored: HashMap<String, OutboxLine> = outbox(&data)
        .into_iter()
        .map(|l| (l.mail_message_id.clone(), l))
        .collect();
    assert!(
        stored
            .values()
            .all(|l| l.status == OutboxStatus::Sent && l.attempts == 1)
    );

    // Each sample reply arrived in the sender's mailbox exactly as the golden file says (the
    // same text the .eml outbox gives), once.
    let expected = root().join("tests/expected/sample/outbox");
    for n in ["01", "02", "03", "05", "06", "08"] {
        let answered = format!("sample-{n}@namdinh.edu.vn");
        let line = &stored[&answered];
        let to = &line.recipients[0];
        let got: Vec<&Vec<u8>> = boxes[to]
            .iter()
            .filter(|m| header(m, "In-Reply-To") == format!("<{answered}>"))
            .collect();
        assert_eq!(got.len(), 1, "one reply to {answered} in {to}");
        let m = got[0];
        golden(&expected.join(format!("sample-{n}.txt")), &reply_summary(m));
        assert_eq!(
            message_id(m),
            line.message_id,
            "the stored reply is what was sent"
        );
        assert_eq!(header(m, "X-Auto-Response-Suppress"), "All");
        assert_eq!(header(m, "Auto-Submitted"), "auto-replied");
        let parsed = MessageParser::default().parse(m.as_slice()).unwrap();
        let html = parsed.body_html(0).expect("an HTML alternative");
        assert!(html.contains("Kính gửi"), "{html}");
        assert!(
            parsed.body_text(0).unwrap().contains("Kính gửi"),
            "and the plain text"
        );
    }

    // The acknowledgement carries the reconciliation code, and the cover sheet with that code
    // for the school to print and staple to the paper copy.
    let ack = boxes["c3lehongphong@namdinh.edu.vn"]
        .iter()
        .find(|m| header(m, "In-Reply-To") == "<sample-01@namdinh.edu.vn>")
        .unwrap();
    let parsed = MessageParser::default().parse(ack.as_slice()).unwrap();
    assert!(parsed.body_text(0).unwrap().contains("MÃ ĐỐI CHIẾU:"));
    assert!(
        parsed
            .body_html(0)
            .unwrap()
            .contains("<b>MÃ ĐỐI CHIẾU:</b>")
    );
    let code = version_code(&data, "sample-01@namdinh.edu.vn");
    assert!(parsed.body_text(0).unwrap().contains(&code), "{code}");
    assert_eq!(parsed.attachment_count(), 1, "the cover sheet only");
    let (name, cover) = attachment(ack, ".pdf").expect("the cover sheet");
    assert_eq!(name, format!("phieu-doi-chieu-THPT-LHP-{code}.pdf"));
    // Its text and barcode are read back in tests/it/print.rs.
    assert!(cover.starts_with(b"%PDF-"));
    // Every acknowledgement carries the cover sheet of its own version; no other reply has one.
    let mut acks = 0;
    for m in boxes.values().flatten() {
        let answered = header(m, "In-Reply-To");
        let summary = reply_summary(m);
        match attachment(m, ".pdf") {
            Some((name, cover)) => {
                assert!(summary.contains("[Đã tiếp nhận]"), "{summary}");
                let code = version_code(&data, answered.trim_matches(['<', '>']));
                assert!(name.ends_with(&format!("-{code}.pdf")), "{name}");
                assert!(cover.starts_with(b"%PDF-"));
                acks += 1;
            }
            None => assert!(!summary.contains("[Đã tiếp nhận]"), "{summary}"),
        }
    }
    assert_eq!(acks, 3, "samples 1, 5 and 6 are acknowledged");

    // The error reply sends the school's own file back, annotated.
    let errors = boxes["c3nguyenkhuyen@namdinh.edu.vn"]
        .iter()
        .find(|m| header(m, "In-Reply-To") == "<sample-02@namdinh.edu.vn>")
        .unwrap();
    let (name, xlsx) = attachment(errors, ".xlsx").expect("the annotated file");
    assert_eq!(name, "DS de nghi CTS - Nguyen Khuyen - đánh dấu lỗi.xlsx");
    check_annotated(&xlsx);

    // The no-list reply carries the blank template, which our own reader recognises.
    let no_list = &boxes["c3tranquocbao@namdinh.edu.vn"][0];
    let (name, template) = attachment(no_list, ".xlsx").expect("the template");
    assert_eq!(name, "Mẫu danh sách đề nghị.xlsx");
    let sheets = cts_intake::sheet::read(&name, &template).unwrap();
    assert!(cts_intake::sheet::header::find(&sheets[0]).is_some());

    // The unverified sender is answered with the unit's registered address in Cc; each of the
    // two mailboxes holds the one reply.
    for user in [UNVERIFIED, GIAO_THUY] {
        assert_eq!(boxes[user].len(), 1, "{user}");
        let m = &boxes[user][0];
        assert_eq!(header(m, "In-Reply-To"), "<unverified-gt@namdinh.edu.vn>");
        assert_eq!(header(m, "References"), "<unverified-gt@namdinh.edu.vn>");
        let s = reply_summary(m);
        assert!(s.contains(&format!("To: {UNVERIFIED}\n")), "{s}");
        assert!(s.contains(&format!("Cc: {GIAO_THUY}\n")), "{s}");
        assert!(
            // The list asks for revocations: from an unregistered address it is held for staff.
            s.contains("Subject: Re: Danh sách đề nghị cấp chứng thư số - Trường THPT Giao Thủy [Đang kiểm tra]"),
            "{s}"
        );
        assert!(s.contains("chưa đăng ký với Sở"), "{s}");
    }
    // Nobody else got anything: no reply to the auto-reply, the duplicate or the stranger.
    let unexpected: Vec<&String> = boxes
        .iter()
        .filter(|(u, m)| {
            !m.is_empty()
                && ![
                    "c3lehongphong@namdinh.edu.vn",
                    "vanthu.lhp@namdinh.edu.vn",
                    "c3nguyenkhuyen@namdinh.edu.vn",
                    "c3tranquocbao@namdinh.edu.vn",
                    "ttgdtx.tpnd@namdinh.edu.vn",
                    UNVERIFIED,
                    GIAO_THUY,
                ]
                .contains(&u.as_str())
        })
        .map(|(u, _)| u)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

/// The reconciliation code of the version a mail (by Message-ID) was accepted as.
fn version_code(data: &Path, mail_message_id: &str) -> String {
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    store
        .conn()
        .query_row(
            "SELECT v.code FROM versions v JOIN mails m ON m.id = v.mail_id \
             WHERE m.message_id = ?1",
            [mail_message_id],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no version for {mail_message_id}: {e}"))
}

/// The annotated copy of sample 2: the rows as sent, a "Lỗi" column naming each row's errors,
/// the wrong cells filled red.
fn check_annotated(xlsx: &[u8]) {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx.to_vec())).unwrap();
    let sheet_name = "DS đề nghị";
    let sheet_index = wb
        .sheet_names()
        .iter()
        .position(|n| n == sheet_name)
        .unwrap();
    let range = wb.worksheet_range(sheet_name).unwrap();
    let text = |r: u32, c: u32| -> String {
        match range.get_value((r, c)) {
            Some(Data::Empty) | None => String::new(),
            Some(v) => v.to_string(),
        }
    };
    let (header_row, error_col) = range
        .cells()
        .find(|(_, _, v)| matches!(v, Data::String(s) if s == "Lỗi"))
        .map(|(r, c, _)| {
            let (r0, c0) = range.start().unwrap();
            (r as u32 + r0, c as u32 + c0)
        })
        .expect("a Lỗi column");
    let col_of = |h: &str| {
        (0..error_col)
            .find(|c| text(header_row, *c) == h)
            .unwrap_or_else(|| panic!("no column {h}"))
    };
    let id_col = col_of("Số CCCD");
    let email_col = col_of("Email công vụ");
    // Excel rows 6 and 7 (0-based 5 and 6) hold the errors; the values are as the school wrote.
    assert_eq!(text(5, id_col), "0360820012");
    assert_eq!(text(6, email_col), "cuongpv1963@gmail.com");
    let row6 = text(5, error_col);
    assert!(
        row6.contains("Số CCCD") && row6.contains("Số điện thoại"),
        "{row6}"
    );
    assert!(text(6, error_col).contains("Email công vụ"));
    let clean_rows: Vec<u32> = ((header_row + 1)..5)
        .chain(7..range.end().unwrap().0 + 1)
        .collect();
    for r in clean_rows {
        if !text(r, 1).is_empty() && text(r, 0).parse::<f64>().is_ok() {
            assert_eq!(text(r, error_col), "", "row {} has no error", r + 1);
        }
    }
    // The fills: the ID cell of row 6 and the email cell of row 7 are red, their neighbours not.
    let fill = |r: u32, c: u32| cell_fill(xlsx, sheet_index, r, c);
    assert_eq!(fill(5, id_col).as_deref(), Some("FFFFC7CE"));
    assert_eq!(fill(6, email_col).as_deref(), Some("FFFFC7CE"));
    assert_eq!(fill(5, col_of("Chức vụ")), None);
    assert_eq!(fill(7, id_col), None);
}

fn zip_text(xlsx: &[u8], name: &str) -> String {
    let mut z = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut s = String::new();
    z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

fn col_letters(mut c: u32) -> String {
    let mut s = String::new();
    c += 1;
    while c > 0 {
        let r = (c - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        c = (c - 1) / 26;
    }
    s
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(tag[start..].split('"').next()?.to_string())
}

/// The solid fill colour (ARGB) of a cell, read from the sheet's XML and styles.xml.
fn cell_fill(xlsx: &[u8], sheet_index: usize, row: u32, col: u32) -> Option<String> {
    let sheet = zip_text(xlsx, &format!("xl/worksheets/sheet{}.xml", sheet_index + 1));
    let reference = format!("<c r=\"{}{}\"", col_letters(col), row + 1);
    let start = sheet.find(&reference)?;
    let tag = &sheet[start..start + sheet[start..].find('>')?];
    let style: usize = attr(tag, "s")?.parse().ok()?;
    let styles = zip_text(xlsx, "xl/styles.xml");
    let xfs = &styles[styles.find("<cellXfs")?..];
    let xf = xfs.split("<xf ").nth(style + 1)?;
    let fill_id: usize = attr(&format!(" {xf}"), "fillId")?.parse().ok()?;
    let fills = &styles[styles.find("<fills")?..styles.find("</fills>")?];
    let fill = fills.split("<fill>").nth(fill_id + 1)?;
    if !fill.contains("patternType=\"solid\"") {
        return None;
    }
    attr(&format!(" {}", &fill[fill.find("fgColor")?..]), "rgb")
}

/// Runs the daemon (not --once) with its log in `log`.
fn spawn_daemon(c: &mut Command, log: &Path) -> Child {
    c.stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .expect("the daemon starts")
}

#[test]
fn smtp_down_replies_queue_and_are_delivered_once_when_it_is_back_even_across_a_restart() {
    let users = all_users();
    let mut stack = start_stack(&users);
    stack.postfix.kill();
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    let cfg = config(
        dir.path(),
        "retry-first-seconds = 1\nretry-max-seconds = 1",
        1,
    );
    let url = smtps_url(&stack);
    let ca = stack.postfix.ca_file().to_path_buf();
    let daemon = || {
        let mut c = cts_run(&cfg, &maildir, &data, &url, &ca);
        c.env("CTS_INTAKE_LOG", "info");
        c
    };

    // The server is down: the replies wait in the outbox, their attempts counted.
    let mut first = spawn_daemon(&mut daemon(), &dir.path().join("first.log"));
    let queued = wait_until(Duration::from_secs(20), || {
        let o = outbox(&data);
        o.len() == 6
            && o.iter()
                .all(|l| l.status == OutboxStatus::Pending && l.attempts >= 1)
    });
    // A crash (SIGKILL) of cts-intake while replies wait.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        queued,
        "replies not queued: {:?}\n{}",
        outbox(&data),
        std::fs::read_to_string(dir.path().join("first.log")).unwrap()
    );
    let before = outbox(&data);
    assert!(
        before
            .iter()
            .all(|l| l.next_attempt_at.is_some() && l.last_error.is_some() && l.sent_at.is_none())
    );
    assert_eq!(total(&stack, &users), 0);

    // Restarted, it carries on from the stored attempts, still against a dead server.
    let mut second = spawn_daemon(&mut daemon(), &dir.path().join("second.log"));
    let retried = wait_until(Duration::from_secs(20), || {
        outbox(&data)
            .iter()
            .zip(&before)
            .all(|(now, then)| now.attempts > then.attempts)
    });
    assert!(retried, "no retry after the restart: {:?}", outbox(&data));
    assert_eq!(
        mail_outcomes(&data).len(),
        9,
        "the restart took no mail twice"
    );
    assert_eq!(outbox(&data).len(), 6, "and wrote no reply twice");

    // The server comes back: every reply is delivered.
    stack.postfix.restart();
    let sent = wait_until(Duration::from_secs(20), || {
        outbox(&data).iter().all(|l| l.status == OutboxStatus::Sent)
    });
    // SIGTERM: a graceful stop.
    // SAFETY: kill(2) on a child we started.
    unsafe {
        libc::kill(second.id() as i32, libc::SIGTERM);
    }
    let status = second.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(
        sent,
        "not sent after the server came back: {:?}\n{log}",
        outbox(&data)
    );
    assert!(
        status.success(),
        "the daemon stopped badly: {status}\n{log}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || total(&stack, &users) >= 6),
        "not delivered:\n{}",
        stack.postfix.log()
    );
    // Whatever was in flight has landed by now; every reply is there exactly once.
    std::thread::sleep(Duration::from_millis(500));
    let mut ids: Vec<String> = inboxes(&stack, &users)
        .values()
        .flatten()
        .map(|m| message_id(m))
        .collect();
    ids.sort();
    let mut stored: Vec<String> = outbox(&data).into_iter().map(|l| l.message_id).collect();
    stored.sort();
    assert_eq!(
        ids, stored,
        "each reply delivered once, with its stored Message-ID"
    );
}

#[test]
fn a_permanent_rejection_marks_the_reply_failed_and_the_mail_stays_unanswered() {
    // c3tranquocbao (sample 3, no list) has no mailbox on this server: Postfix answers 550.
    let users: Vec<String> = all_users()
        .into_iter()
        .filter(|u| u != "c3tranquocbao@namdinh.edu.vn")
        .collect();
    let stack = start_stack(&users);
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    let cfg = config(dir.path(), "", 30);
    // Plain SMTP to loopback, no login: Postfix trusts 127.0.0.1.
    let url = format!("smtp+plain://127.0.0.1:{}", stack.postfix.smtp_port);
    let out = once(cts_run(
        &cfg,
        &maildir,
        &data,
        &url,
        stack.postfix.ca_file(),
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Replies sent: 5"), "{stdout}");
    assert!(stdout.contains("refused: 1"), "{stdout}");
    assert!(
        stdout.contains(
            "Unanswered: mail <sample-03@namdinh.edu.vn> from c3tranquocbao@namdinh.edu.vn: reply failed"
        ),
        "{stdout}"
    );

    let failed: Vec<OutboxLine> = outbox(&data)
        .into_iter()
        .filter(|l| l.status != OutboxStatus::Sent)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].mail_message_id, "sample-03@namdinh.edu.vn");
    assert_eq!(failed[0].status, OutboxStatus::Failed);
    assert_eq!(failed[0].attempts, 1);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("550"),
        "{:?}",
        failed[0].last_error
    );
    assert!(failed[0].next_attempt_at.is_none(), "no retry is planned");
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    let unanswered = query::unanswered(store.conn()).unwrap();
    assert_eq!(unanswered.len(), 1);
    assert_eq!(unanswered[0].mail_from, "c3tranquocbao@namdinh.edu.vn");
    let totals = query::totals(store.conn()).unwrap();
    assert_eq!((totals.replies_sent, totals.replies_failed), (5, 1));

    // A second run does not try again, and still shows the mail as unanswered.
    let out = once(cts_run(
        &cfg,
        &maildir,
        &data,
        &url,
        stack.postfix.ca_file(),
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Replies sent: 0"), "{stdout}");
    assert!(
        stdout.contains("Unanswered: mail <sample-03@namdinh.edu.vn>"),
        "{stdout}"
    );
    assert_eq!(
        outbox(&data)
            .iter()
            .find(|l| l.status == OutboxStatus::Failed)
            .unwrap()
            .attempts,
        1
    );
}

/// A mail from a school, as its mail client would send it (no list attached).
fn school_mail(from: &str, subject: &str, id: &str, headers: Vec<(String, String)>) -> Vec<u8> {
    testkit::eml(&MailSpec {
        from: from.into(),
        from_name: String::new(),
        to: DEPT.into(),
        subject: subject.into(),
        date: chrono::Utc::now().fixed_offset(),
        message_id: id.into(),
        body: "Kính gửi Sở,\nTrường xin hỏi về danh sách.".into(),
        attachments: Vec::new(),
        headers,
    })
}

/// An out-of-office responder on `school`'s mailbox: answers every mail it has not answered yet
/// with a mail back to the department; `marks` says whether it follows RFC 3834
/// (Auto-Submitted). Returns how many it sent.
fn responder(
    stack: &MailStack,
    school: &str,
    answered: &mut HashSet<String>,
    marks: bool,
) -> usize {
    let mut sent = 0;
    for m in stack.dovecot.messages(school, "INBOX") {
        let id = message_id(&m);
        if !answered.insert(id.clone()) {
            continue;
        }
        let subject = MessageParser::default()
            .parse(m.as_slice())
            .unwrap()
            .subject()
            .unwrap_or("")
            .to_string();
        let headers = if marks {
            vec![("Auto-Submitted".to_string(), "auto-replied".to_string())]
        } else {
            Vec::new()
        };
        let reply = school_mail(
            school,
            &format!("Trả lời tự động: {subject}"),
            &format!("ooo-{}-{sent}@namdinh.edu.vn", answered.len()),
            headers,
        );
        smtp_send(stack.postfix.smtp_port, school, &[DEPT], &reply).unwrap();
        sent += 1;
    }
    sent
}

/// Runs cts-intake on the department's Dovecot mailbox and the responder in turns until neither
/// has anything left to answer (at most `rounds`); returns the responder's mails.
fn ping_pong(
    stack: &MailStack,
    dir: &Path,
    replies: &str,
    marks: bool,
    rounds: usize,
) -> (usize, Vec<String>) {
    let school = "c3lehongphong@namdinh.edu.vn";
    let data = dir.join("data");
    let cfg = config(dir, replies, 30);
    let dept_maildir = stack.dovecot.maildir(DEPT);
    smtp_send(
        stack.postfix.smtp_port,
        school,
        &[DEPT],
        &school_mail(
            school,
            "Hỏi về danh sách đề nghị",
            "question@namdinh.edu.vn",
            Vec::new(),
        ),
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(10), || stack
        .dovecot
        .messages(DEPT, "INBOX")
        .len()
        == 1));
    let mut answered = HashSet::new();
    let mut responses = 0;
    let mut summaries = Vec::new();
    for _ in 0..rounds {
        let out = once(cts_run(
            &cfg,
            &dept_maildir,
            &data,
            &smtps_url(stack),
            stack.postfix.ca_file(),
        ));
        summaries.push(String::from_utf8_lossy(&out.stdout).into_owned());
        let sent = outbox(&data)
            .iter()
            .filter(|l| l.status == OutboxStatus::Sent)
            .count();
        assert!(
            wait_until(Duration::from_secs(10), || stack
                .dovecot
                .messages(school, "INBOX")
                .len()
                == sent),
            "our replies did not arrive"
        );
        let new = responder(stack, school, &mut answered, marks);
        if new == 0 {
            break;
        }
        responses += new;
        assert!(wait_until(Duration::from_secs(10), || stack
            .dovecot
            .messages(DEPT, "INBOX")
            .len()
            == 1 + responses));
    }
    (responses, summaries)
}

#[test]
fn a_ping_pong_with_an_out_of_office_responder_stops_after_our_first_reply() {
    let stack = start_stack(&all_users());
    let dir = tempfile::tempdir().unwrap();
    let (responses, _) = ping_pong(&stack, dir.path(), "", true, 5);
    let school = "c3lehongphong@namdinh.edu.vn";
    assert_eq!(
        stack.dovecot.messages(school, "INBOX").len(),
        1,
        "our one reply"
    );
    assert_eq!(responses, 1, "the responder answered it once");
    let outcomes = mail_outcomes(&dir.path().join("data"));
    assert_eq!(
        outcomes.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>(),
        ["no_list", "ignored"],
        "the auto-reply is stored, not answered"
    );
}

#[test]
fn a_responder_that_marks_nothing_is_stopped_by_the_rate_limit_and_the_rest_is_held() {
    let stack = start_stack(&all_users());
    let dir = tempfile::tempdir().unwrap();
    let (responses, summaries) = ping_pong(
        &stack,
        dir.path(),
        // The same no-list answer would be held from the second on (same-answer-days): this
        // test is about the per-recipient limit.
        "rate-limit-per-hour = 3\nsame-answer-days = 0",
        false,
        8,
    );
    let school = "c3lehongphong@namdinh.edu.vn";
    assert_eq!(
        stack.dovecot.messages(school, "INBOX").len(),
        3,
        "replies stop at the limit"
    );
    assert_eq!(responses, 3);
    let lines = outbox(&dir.path().join("data"));
    let statuses: Vec<&str> = lines.iter().map(|l| l.status.code()).collect();
    assert_eq!(
        statuses,
        ["sent", "sent", "sent", "held"],
        "held, not dropped"
    );
    assert!(
        lines[3]
            .last_error
            .as_deref()
            .unwrap()
            .contains("rate limit")
    );
    let last = summaries.last().unwrap();
    assert!(last.contains("1 held"), "{last}");
    assert!(last.contains("reply held (rate limit"), "{last}");
}

#[test]
fn a_bounce_from_mailer_daemon_gets_no_reply() {
    let mut users = all_users();
    users.push("mailer-daemon@namdinh.edu.vn".into());
    let stack = start_stack(&users);
    let bounce = "From: Mail Delivery System <MAILER-DAEMON@namdinh.edu.vn>\r\n\
        To: cttt@namdinh.edu.vn\r\nSubject: Undelivered Mail Returned to Sender\r\n\
        Message-ID: <bounce-1@namdinh.edu.vn>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
        --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is the mail system.\r\n\
        --b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.namdinh.edu.vn\r\n\r\n\
        Final-Recipient: rfc822; x@namdinh.edu.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b1--\r\n";
    // The null envelope sender of a real bounce: Dovecot writes Return-Path: <>.
    smtp_send(stack.postfix.smtp_port, "", &[DEPT], bounce.as_bytes()).unwrap();
    assert!(wait_until(Duration::from_secs(10), || stack
        .dovecot
        .messages(DEPT, "INBOX")
        .len()
        == 1));
    assert_eq!(
        header(&stack.dovecot.messages(DEPT, "INBOX")[0], "Return-Path"),
        "<>"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path(), "", 30);
    let out = once(cts_run(
        &cfg,
        &stack.dovecot.maildir(DEPT),
        &data,
        &smtps_url(&stack),
        stack.postfix.ca_file(),
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ignored 1"), "{stdout}");
    assert!(outbox(&data).is_empty(), "no reply written");
    assert_eq!(total(&stack, &users) - 1, 0, "nothing sent anywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_replies_go_through_the_real_server_each_delivered_once() {
    let schools: Vec<String> = (1..=5)
        .map(|i| format!("truong{i}@namdinh.edu.vn"))
        .collect();
    let mut users = schools.clone();
    users.push(DEPT.into());
    let stack = start_stack(&users);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let recipients: Vec<&str> = schools.iter().map(String::as_str).collect();
    let replies = outbox_fill::replies(500, &recipients);
    outbox_fill::fill(&data, &replies);

    // The password from a file this time.
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let smtp = Smtp {
        url: smtps_url(&stack),
        password_env: "CTS_TEST_UNSET_VARIABLE".into(),
        password_file: Some(pw_file),
        ca_file: Some(stack.postfix.ca_file().to_path_buf()),
        timeout_seconds: 10,
        unreachable_warn_minutes: 60,
    };
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    let config = outbox_fill::default_config();
    let sender = Sender::new(
        store,
        SmtpTransport::new(&smtp).unwrap(),
        DEPT,
        RetryPolicy::from_config(&config.replies),
    );
    let done = sender.deliver_due(None).await.unwrap();
    assert_eq!((done.sent, done.deferred, done.failed), (500, 0, 0));
    assert_eq!(
        sender.deliver_due(None).await.unwrap().sent,
        0,
        "nothing is sent twice"
    );

    let arrived = wait_until(Duration::from_secs(60), || total(&stack, &schools) >= 500);
    assert!(arrived, "only {} of 500 arrived", total(&stack, &schools));
    std::thread::sleep(Duration::from_millis(300));
    let boxes = inboxes(&stack, &schools);
    let mut seen = HashSet::new();
    for (user, mails) in &boxes {
        assert_eq!(mails.len(), 100, "{user}");
        for m in mails {
            assert!(
                seen.insert(message_id(m)),
                "{} arrived twice",
                message_id(m)
            );
        }
    }
    let expected: HashSet<String> = replies.iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(seen, expected);
    assert!(outbox(&data).iter().all(|l| {
        l.status == OutboxStatus::Sent
            && l.attempts == 1
            && l.server_response
                .as_deref()
                .unwrap_or("")
                .contains("queued")
    }));
}

/// A mail in `user`'s INBOX whose subject contains `subject`: its decoded text.
fn staff_mail(stack: &MailStack, user: &str, subject: &str) -> Vec<String> {
    stack
        .dovecot
        .messages(user, "INBOX")
        .iter()
        .filter_map(|m| {
            let msg = MessageParser::default().parse(m.as_slice())?;
            msg.subject()
                .is_some_and(|s| s.contains(subject))
                .then(|| msg.body_text(0).unwrap_or_default().replace("\r\n", "\n"))
        })
        .collect()
}

#[test]
fn staff_get_a_daily_digest_and_a_mail_when_polling_fails_and_when_it_works_again() {
    const STAFF: &str = "vanthu.so@namdinh.edu.vn";
    let mut users = all_users();
    users.push(STAFF.into());
    let stack = start_stack(&users);
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    copy_dir(&root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    let cfg = config(dir.path(), "", 30);
    let text = std::fs::read_to_string(&cfg).unwrap();
    // A [desk] table before [report].
    let text = text.replacen(
        "\n[report]",
        &format!(
            "\n[desk]\ndigest-to = [\"{STAFF}\"]\ndigest-hour = 0\nalert-after-minutes = 30\n\
             public-url = \"https://tiepnhan.namdinh.edu.vn\"\n\n[report]"
        ),
        1,
    );
    assert!(text.contains("digest-to = ["), "{text}");
    std::fs::write(&cfg, text).unwrap();
    let run = |maildir: &Path| {
        cts_run(
            &cfg,
            maildir,
            &data,
            &submission_url(&stack),
            stack.postfix.ca_file(),
        )
    };
    once(run(&maildir));
    // The digest: what needs staff, with a link to the desk.
    assert!(
        wait_until(Duration::from_secs(10), || !staff_mail(
            &stack,
            STAFF,
            "Tổng hợp ngày"
        )
        .is_empty()),
        "no digest reached {STAFF}"
    );
    let digest = staff_mail(&stack, STAFF, "Tổng hợp ngày").remove(0);
    assert!(digest.contains("- 1 thư chờ xử lý"), "{digest}");
    assert!(
        digest.contains("- 2 đơn vị chờ gửi lại danh sách đã sửa"),
        "{digest}"
    );
    assert!(digest.contains("Trường THPT Trần Quốc Bảo"), "{digest}");
    assert!(
        digest.contains("https://tiepnhan.namdinh.edu.vn"),
        "{digest}"
    );
    // Once a day.
    once(run(&maildir));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(staff_mail(&stack, STAFF, "Tổng hợp ngày").len(), 1);

    // Polling has not succeeded for an hour (the daemon's passes failed meanwhile): after its
    // next pass, the daemon writes an alert, once per outage.
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    let hour_ago = (chrono::Utc::now() - chrono::Duration::minutes(61)).to_rfc3339();
    store
        .conn()
        .execute("UPDATE polls SET last_success_at = ?1", [&hour_ago])
        .unwrap();
    let config = cts_intake::config::Config::load(
        &cfg,
        &cts_intake::config::Overrides {
            maildir: Some(maildir.clone()),
            data_dir: Some(data.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut intake = cts_intake::daemon::Intake::open(config).unwrap();
    assert_eq!(intake.notify_staff().unwrap(), 1);
    assert_eq!(intake.notify_staff().unwrap(), 0, "one alert per outage");
    drop(intake);
    assert_eq!(
        store
            .conn()
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = 'poll_down' AND status = 'pending'",
                [],
                |r| r.get::<_, i64>(0)
            )
            .unwrap(),
        1
    );
    // It works again: the alert goes out, then the mail saying so.
    once(run(&maildir));
    assert!(
        wait_until(Duration::from_secs(10), || {
            !staff_mail(&stack, STAFF, "CẢNH BÁO").is_empty()
                && !staff_mail(&stack, STAFF, "Đã đọc lại được hộp thư").is_empty()
        }),
        "the alert and the recovery did not reach {STAFF}"
    );
    let alert = staff_mail(&stack, STAFF, "CẢNH BÁO").remove(0);
    assert!(
        alert.contains("không đọc được hộp thư của Sở từ"),
        "{alert}"
    );
    assert_eq!(staff_mail(&stack, STAFF, "CẢNH BÁO").len(), 1);
}
