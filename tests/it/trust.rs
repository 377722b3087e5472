//! Trust and abuse (issue 16), each case through the built binary on a Maildir: who may act for
//! a unit, a From that is not one address, and the reply budgets that stop backscatter and loops.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, FixedOffset};
use cts_intake::store::query::{self, MailLine, OutboxLine};
use cts_intake::store::{OutboxStatus, Store};
use cts_testkit::{self as testkit, CellValue, MailSpec, MaildirMail};

use crate::pipeline::{list, person};
use crate::support::{csv_rows, read};

const DEPT: &str = "cttt@namdinh.edu.vn";
const GIAO_THUY: &str = "c3giaothuy@namdinh.edu.vn";
const LHP: &str = "c3lehongphong@namdinh.edu.vn";
const NK: &str = "c3nguyenkhuyen@namdinh.edu.vn";
const TQB: &str = "c3tranquocbao@namdinh.edu.vn";

/// One mail of a test campaign: who, what subject, which rows (none: no attachment), extra
/// headers, delivered `seconds` after the campaign's first instant.
struct Mail {
    from: String,
    subject: String,
    id: String,
    rows: Vec<Vec<CellValue>>,
    headers: Vec<(String, String)>,
    seconds: i64,
}

fn mail(from: &str, subject: &str, id: &str, rows: Vec<Vec<CellValue>>, minutes: i64) -> Mail {
    Mail {
        from: from.into(),
        subject: subject.into(),
        id: id.into(),
        rows,
        headers: Vec::new(),
        seconds: minutes * 60,
    }
}

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2022-12-05T08:00:00+07:00").unwrap()
}

/// Writes the mails into a Maildir (delivery times in the file names, a minute grid).
fn maildir(dir: &Path, mails: &[Mail]) -> PathBuf {
    let path = dir.join("maildir");
    let written: Vec<MaildirMail> = mails
        .iter()
        .map(|m| {
            let date = start() + Duration::seconds(m.seconds);
            let attachments = if m.rows.is_empty() {
                Vec::new()
            } else {
                vec![testkit::Attachment::xlsx(
                    "Danh sách đề nghị.xlsx",
                    list(m.rows.clone()),
                )]
            };
            MaildirMail {
                delivered: date.timestamp(),
                seen: false,
                bytes: testkit::eml(&MailSpec {
                    from: m.from.clone(),
                    from_name: String::new(),
                    to: DEPT.into(),
                    subject: m.subject.clone(),
                    date,
                    message_id: m.id.clone(),
                    body: "Kính gửi Sở,\nđơn vị gửi thư.".into(),
                    attachments,
                    headers: m.headers.clone(),
                }),
            }
        })
        .collect();
    testkit::write_maildir(&path, &written).unwrap();
    path
}

/// `cts-intake run --once` with the default config, some `[replies]` keys changed.
fn run(dir: &Path, maildir: &Path, replies: &str) -> PathBuf {
    let config = crate::smtp::config(dir, replies, 30);
    let data = dir.join("data");
    crate::support::succeeds(
        std::process::Command::new(env!("CARGO_BIN_EXE_cts-intake"))
            .arg("--config")
            .arg(&config)
            .args(["run", "--once", "--maildir"])
            .arg(maildir)
            .arg("--data-dir")
            .arg(&data)
            .env("CTS_INTAKE_LOG", "warn"),
    );
    data
}

fn store(data: &Path) -> Store {
    Store::open(&data.join("intake.sqlite3")).unwrap()
}

fn mails(data: &Path) -> Vec<MailLine> {
    query::mails(store(data).conn()).unwrap()
}

fn the_mail(data: &Path, id: &str) -> MailLine {
    mails(data)
        .into_iter()
        .find(|m| m.message_id == id)
        .unwrap_or_else(|| panic!("no mail {id}"))
}

fn outbox(data: &Path) -> Vec<OutboxLine> {
    query::outbox(store(data).conn()).unwrap()
}

/// The replies written out (the .eml files: with no SMTP server, what was "sent").
fn sent(data: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("outbox"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The replies written out, as the school reads them.
fn sent_summaries(data: &Path) -> Vec<String> {
    sent(data)
        .iter()
        .map(|b| crate::support::reply_summary(b))
        .collect()
}

/// The `mails.csv` line of a mail, by column name.
fn mails_csv(data: &Path, id: &str) -> std::collections::HashMap<String, String> {
    let rows = csv_rows(&data.join("report/mails.csv"));
    let line = rows
        .iter()
        .find(|r| r[0] == id)
        .unwrap_or_else(|| panic!("{id} not in mails.csv"));
    rows[0].iter().cloned().zip(line.iter().cloned()).collect()
}

fn held_replies(data: &Path) -> Vec<OutboxLine> {
    outbox(data)
        .into_iter()
        .filter(|l| l.status == OutboxStatus::Held)
        .collect()
}

/// A row whose email column is `email`.
fn with_email(mut row: Vec<CellValue>, email: &str) -> Vec<CellValue> {
    row[8] = email.into();
    row
}

/// A row whose unit column ("Đơn vị công tác") is `unit`.
fn with_unit(mut row: Vec<CellValue>, unit: &str) -> Vec<CellValue> {
    row[7] = unit.into();
    row
}

const A: (&str, &str, (i32, u32, u32)) = ("Phạm Văn Hải", "036080001111", (1980, 2, 3));
const B: (&str, &str, (i32, u32, u32)) = ("Lê Thị Hoa", "036175002222", (1975, 6, 7));
const C: (&str, &str, (i32, u32, u32)) = ("Đỗ Văn Nam", "036088003333", (1988, 9, 10));

#[test]
fn an_unregistered_official_address_asking_key_recovery_to_its_own_email_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let subject = "Danh sách đề nghị - Trường THPT Giao Thủy";
    let maildir = maildir(
        dir.path(),
        &[
            // The unit's own list, from its registered address: person A, A's email on file.
            mail(
                GIAO_THUY,
                subject,
                "gt-1@namdinh.edu.vn",
                vec![person(A.0, A.1, A.2, "Cấp mới CTS")],
                0,
            ),
            // An unregistered official address asks B's key recovery, to an email of its own.
            mail(
                "giaovu.gt@namdinh.edu.vn",
                subject,
                "kr@namdinh.edu.vn",
                vec![with_email(
                    person(B.0, B.1, B.2, "Khôi phục thiết bị lưu khoá bí mật"),
                    "nguoila@namdinh.edu.vn",
                )],
                10,
            ),
            // Another asks a new certificate for A, to another email than the one on file.
            mail(
                "tkhd.gt@namdinh.edu.vn",
                subject,
                "email@namdinh.edu.vn",
                vec![with_email(
                    person(A.0, A.1, A.2, "Cấp mới CTS"),
                    "khac@namdinh.edu.vn",
                )],
                20,
            ),
            // A new certificate for a new person: accepted, flagged, the unit in Cc.
            mail(
                "vanphong.gt@namdinh.edu.vn",
                &format!("Bổ sung - {subject}"),
                "new@namdinh.edu.vn",
                vec![person(C.0, C.1, C.2, "Cấp mới CTS")],
                30,
            ),
        ],
    );
    let data = run(dir.path(), &maildir, "");

    let kr = the_mail(&data, "kr@namdinh.edu.vn");
    assert_eq!(kr.outcome.code(), "held");
    assert_eq!(kr.unit_code.as_deref(), Some("THPT-GT"));
    assert!(kr.note.contains("unverified key_recovery"), "{}", kr.note);
    let email = the_mail(&data, "email@namdinh.edu.vn");
    assert_eq!(email.outcome.code(), "held");
    assert!(
        email.note.contains("unverified email change"),
        "{}",
        email.note
    );
    assert_eq!(mails_csv(&data, "kr@namdinh.edu.vn")["outcome"], "held");
    assert_eq!(mails_csv(&data, "email@namdinh.edu.vn")["outcome"], "held");
    let new = the_mail(&data, "new@namdinh.edu.vn");
    assert_eq!(new.outcome.code(), "accepted");
    assert_eq!(new.trust.code(), "unverified");

    // Neither held request reached the consolidated list; nor did the other email.
    let requests = read(&data.join("report/requests.csv"));
    assert!(!requests.contains(B.1), "{requests}");
    assert!(!requests.contains("nguoila@"), "{requests}");
    assert!(!requests.contains("khac@"), "{requests}");
    assert!(requests.contains(C.1), "{requests}");

    // Each unverified sender is told, with the unit's registered address in Cc.
    let replies = sent_summaries(&data);
    assert_eq!(replies.len(), 4, "{replies:#?}");
    for sender in [
        "giaovu.gt@namdinh.edu.vn",
        "tkhd.gt@namdinh.edu.vn",
        "vanphong.gt@namdinh.edu.vn",
    ] {
        let r = replies
            .iter()
            .find(|r| r.contains(&format!("To: {sender}\n")))
            .unwrap_or_else(|| panic!("no reply to {sender}"));
        assert!(r.contains(&format!("Cc: {GIAO_THUY}\n")), "{r}");
    }
    // Staff read why, in Vietnamese.
    let doi_chieu = read(&data.join("report/doi-chieu.html"));
    assert!(
        doi_chieu.contains("Khôi phục thiết bị lưu khoá bí mật từ địa chỉ chưa đăng ký"),
        "the report names the held request"
    );
    assert!(doi_chieu.contains("email khác với email trong danh sách đã tiếp nhận"));
}

#[test]
fn a_registered_school_revoking_another_units_principal_is_held_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut principal = person(A.0, A.1, A.2, "Cấp mới CTS");
    principal[6] = "Hiệu trưởng".into();
    let maildir = maildir(
        dir.path(),
        &[
            mail(
                NK,
                "Danh sách đề nghị - THPT Nguyễn Khuyến",
                "nk-1@namdinh.edu.vn",
                vec![principal],
                0,
            ),
            // Lê Hồng Phong revokes Nguyễn Khuyến's principal (found by the ID number).
            mail(
                LHP,
                "Danh sách đề nghị - THPT chuyên Lê Hồng Phong",
                "lhp-revoke@namdinh.edu.vn",
                vec![
                    person(A.0, A.1, A.2, "Thu hồi chứng thư số"),
                    person(B.0, B.1, B.2, "Cấp mới CTS"),
                ],
                10,
            ),
            // And lists a person whose unit column names Nguyễn Khuyến: accepted, flagged.
            mail(
                LHP,
                "Danh sách đề nghị - THPT chuyên Lê Hồng Phong",
                "lhp-named@namdinh.edu.vn",
                vec![
                    person(B.0, B.1, B.2, "Cấp mới CTS"),
                    with_unit(
                        person(C.0, C.1, C.2, "Cấp mới CTS"),
                        "Trường THPT Nguyễn Khuyến",
                    ),
                ],
                20,
            ),
        ],
    );
    let data = run(dir.path(), &maildir, "");

    let revoke = the_mail(&data, "lhp-revoke@namdinh.edu.vn");
    assert_eq!(revoke.trust.code(), "registered");
    assert_eq!(revoke.outcome.code(), "held", "{}", revoke.note);
    assert!(
        revoke.note.contains("revoke of a person of unit THPT-NK"),
        "{}",
        revoke.note
    );
    assert!(revoke.warnings >= 1, "the row is flagged");
    let named = the_mail(&data, "lhp-named@namdinh.edu.vn");
    assert_eq!(named.outcome.code(), "accepted");
    assert_eq!(named.warnings, 1, "{}", named.note);

    // The principal is still Nguyễn Khuyến's, and no revocation is in any list.
    let requests = csv_rows(&data.join("report/requests.csv"));
    let of = |id: &str| -> Vec<(String, String)> {
        requests
            .iter()
            .filter(|r| r[4] == id)
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect()
    };
    assert_eq!(of(A.1), [("THPT-NK".to_string(), "new_cert".to_string())]);

    // The flag is a visible warning in problems.csv and in both replies to the school.
    let problems = read(&data.join("report/problems.csv"));
    assert!(
        problems.contains("một đơn vị khác đã đăng ký"),
        "{problems}"
    );
    assert!(
        problems.contains("đã có trong danh sách của một đơn vị khác"),
        "{problems}"
    );
    let replies = sent_summaries(&data);
    let ack = replies
        .iter()
        .find(|r| r.contains("In-Reply-To: <lhp-named@namdinh.edu.vn>"))
        .expect("the flagged list is acknowledged");
    assert!(ack.contains("Trường THPT Nguyễn Khuyến"), "{ack}");
    assert!(ack.contains("cần cán bộ Sở xác minh"), "{ack}");
    let doi_chieu = read(&data.join("report/doi-chieu.html"));
    assert!(doi_chieu.contains("thu hồi chứng thư số của người thuộc đơn vị THPT-NK"));
    assert!(
        doi_chieu.contains("Người ghi thuộc đơn vị khác")
            && doi_chieu.contains("đơn vị công tác ghi là Trường THPT Nguyễn Khuyến"),
        "the report's list of what needs staff names the flagged person"
    );
}

#[test]
fn a_from_with_an_obsolete_route_is_an_unknown_sender_not_the_units_list() {
    let dir = tempfile::tempdir().unwrap();
    let subject = "Danh sách đề nghị - THPT chuyên Lê Hồng Phong";
    let maildir = maildir(
        dir.path(),
        &[
            mail(
                LHP,
                subject,
                "lhp-1@namdinh.edu.vn",
                vec![person(A.0, A.1, A.2, "Cấp mới CTS")],
                0,
            ),
            mail(
                "<@evil.example:c3lehongphong@namdinh.edu.vn>",
                subject,
                "route@evil.example",
                vec![person(B.0, B.1, B.2, "Thu hồi chứng thư số")],
                10,
            ),
            mail(
                "c3lehongphong@namdinh.edu.vn, ke@evil.example",
                subject,
                "two@evil.example",
                vec![person(C.0, C.1, C.2, "Cấp mới CTS")],
                20,
            ),
        ],
    );
    let data = run(dir.path(), &maildir, "reply-to-unknown-senders = true");

    for id in ["route@evil.example", "two@evil.example"] {
        let m = the_mail(&data, id);
        assert_eq!(m.trust.code(), "unknown", "{id}");
        assert_eq!(m.unit_code, None, "{id}");
        assert_eq!(m.outcome.code(), "held", "{id}");
        assert_eq!(m.reply_kind.code(), "none", "{id}");
        assert!(
            m.note.contains("not exactly one plain address"),
            "{}",
            m.note
        );
        assert_ne!(
            m.from, LHP,
            "the From is not taken for the registered address"
        );
        let line = mails_csv(&data, id);
        assert_eq!(line["outcome"], "held");
        assert_eq!(line["reply"], "none");
        assert_eq!(line["unit_code"], "");
    }
    // The unit's list is still its own; only its own mail was answered.
    let requests = read(&data.join("report/requests.csv"));
    assert!(requests.contains(A.1));
    assert!(
        !requests.contains(B.1) && !requests.contains(C.1),
        "{requests}"
    );
    assert_eq!(sent(&data).len(), 1);
    assert_eq!(outbox(&data).len(), 1, "no reply was even held");
    let doi_chieu = read(&data.join("report/doi-chieu.html"));
    assert!(doi_chieu.contains("Dòng người gửi (From) không phải đúng một địa chỉ thư"));
}

/// `n` mails ten seconds apart, from `sender(i)`, nothing attached.
fn flood(dir: &Path, n: usize, sender: impl Fn(usize) -> String) -> PathBuf {
    let mails: Vec<Mail> = (0..n)
        .map(|i| Mail {
            from: sender(i),
            subject: "Danh sách đề nghị".into(),
            id: format!("flood-{i}@x.example"),
            rows: Vec::new(),
            headers: Vec::new(),
            seconds: i as i64 * 10,
        })
        .collect();
    maildir(dir, &mails)
}

fn reasons(held: &[OutboxLine], prefix: &str) -> usize {
    held.iter()
        .filter(|l| l.last_error.as_deref().unwrap_or("").starts_with(prefix))
        .count()
}

#[test]
fn three_hundred_forged_official_subdomain_senders_get_replies_up_to_the_budgets() {
    let dir = tempfile::tempdir().unwrap();
    // 150 invented subdomains of each official domain, within 50 minutes.
    let maildir = flood(dir.path(), 300, |i| {
        let domain = if i < 150 {
            "namdinh.edu.vn"
        } else {
            "namdinh.gov.vn"
        };
        format!("gv{i}@truong{i}.{domain}")
    });
    let data = run(
        dir.path(),
        &maildir,
        "rate-limit-overall-per-hour = 30\nrate-limit-per-domain-per-hour = 20",
    );
    let all = mails(&data);
    assert_eq!(all.len(), 300);
    assert!(all.iter().all(|m| m.outcome.code() == "held"));
    // edu.vn: its 20; gov.vn: the 10 left of the overall 30.
    assert_eq!(sent(&data).len(), 30);
    let held = held_replies(&data);
    assert_eq!(held.len(), 270, "held, not dropped");
    assert_eq!(reasons(&held, "domain budget:"), 130);
    assert_eq!(reasons(&held, "overall budget:"), 140);
}

#[test]
fn a_hundred_forged_gmail_senders_are_capped_when_unknown_senders_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = flood(dir.path(), 100, |i| format!("nguoi{i}@gmail.com"));
    let data = run(dir.path(), &maildir, "reply-to-unknown-senders = true");
    // The default per-domain budget (20) applies to unknown senders' domains too.
    assert_eq!(sent(&data).len(), 20);
    let held = held_replies(&data);
    assert_eq!(held.len(), 80);
    assert_eq!(reasons(&held, "domain budget:"), 80);
}

#[test]
fn an_auto_responder_that_marks_nothing_gets_one_no_list_reply_in_n_days() {
    let dir = tempfile::tempdir().unwrap();
    // 48 unmarked mails in a day, every half hour, then one four days later.
    let mut all: Vec<Mail> = (0..48)
        .map(|i| {
            mail(
                TQB,
                "Trả lời tự động: Re: Danh sách",
                &format!("ooo-{i}@namdinh.edu.vn"),
                Vec::new(),
                i * 30,
            )
        })
        .collect();
    all.push(mail(
        TQB,
        "Hỏi về danh sách",
        "later@namdinh.edu.vn",
        Vec::new(),
        4 * 24 * 60,
    ));
    let maildir = maildir(dir.path(), &all);
    let data = run(dir.path(), &maildir, "");
    assert!(mails(&data).iter().all(|m| m.outcome.code() == "no_list"));
    let replies = sent_summaries(&data);
    assert_eq!(replies.len(), 2, "one in the day, one four days later");
    assert!(replies.iter().any(|r| r.contains("<ooo-0@namdinh.edu.vn>")));
    assert!(replies.iter().any(|r| r.contains("<later@namdinh.edu.vn>")));
    let held = held_replies(&data);
    assert_eq!(held.len(), 47);
    assert_eq!(reasons(&held, "repeat:"), 47);
    // mails.csv does not say a reply went where it was held.
    let first = mails_csv(&data, "ooo-0@namdinh.edu.vn");
    assert_eq!(
        (first["reply"].as_str(), first["reply_status"].as_str()),
        ("no_list", "sent")
    );
    let second = mails_csv(&data, "ooo-1@namdinh.edu.vn");
    assert_eq!(
        (second["reply"].as_str(), second["reply_status"].as_str()),
        ("no_list", "held")
    );
}

#[test]
fn a_mail_answering_our_reply_gets_no_automatic_reply() {
    let dir = tempfile::tempdir().unwrap();
    let subject = "Danh sách đề nghị - THPT chuyên Lê Hồng Phong";
    let first = maildir(
        dir.path(),
        &[mail(LHP, subject, "ask@namdinh.edu.vn", Vec::new(), 0)],
    );
    let data = run(dir.path(), &first, "");
    let ours = outbox(&data)[0].message_id.clone();
    assert!(ours.starts_with("cts-intake."), "{ours}");

    let answering = |id: &str, rows: Vec<Vec<CellValue>>, minutes: i64| Mail {
        headers: vec![
            ("In-Reply-To".into(), format!("<{ours}>")),
            (
                "References".into(),
                format!("<ask@namdinh.edu.vn> <{ours}>"),
            ),
        ],
        ..mail(LHP, &format!("Re: {subject}"), id, rows, minutes)
    };
    let bad = {
        let mut r = person(B.0, B.1, B.2, "Cấp mới CTS");
        r[3] = "12345".into();
        r
    };
    let more = [
        mail(LHP, subject, "ask@namdinh.edu.vn", Vec::new(), 0),
        // Nothing usable in it: held for staff, unanswered.
        answering("thanks@namdinh.edu.vn", Vec::new(), 10),
        // A list with errors: a school correcting its list answers our errors reply, and is
        // answered as usual.
        answering("bad@namdinh.edu.vn", vec![bad], 20),
        // A good list answering our reply is acknowledged.
        answering(
            "good@namdinh.edu.vn",
            vec![person(A.0, A.1, A.2, "Cấp mới CTS")],
            30,
        ),
    ];
    let maildir = maildir(dir.path(), &more);
    let data = run(dir.path(), &maildir, "");

    let thanks = the_mail(&data, "thanks@namdinh.edu.vn");
    assert_eq!(thanks.outcome.code(), "held");
    assert_eq!(thanks.reply_kind.code(), "none");
    assert!(thanks.note.contains("answers our reply"), "{}", thanks.note);
    assert_eq!(
        the_mail(&data, "bad@namdinh.edu.vn").outcome.code(),
        "rejected"
    );
    assert_eq!(
        the_mail(&data, "good@namdinh.edu.vn").outcome.code(),
        "accepted"
    );
    let lines = outbox(&data);
    let of = |id: &str| {
        lines
            .iter()
            .filter(|l| l.mail_message_id == id)
            .collect::<Vec<_>>()
    };
    assert!(of("thanks@namdinh.edu.vn").is_empty(), "no reply at all");
    let bad = of("bad@namdinh.edu.vn");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].status, OutboxStatus::Sent);
    assert_eq!(of("good@namdinh.edu.vn")[0].status, OutboxStatus::Sent);
    assert_eq!(
        sent(&data).len(),
        3,
        "the first no-list reply, the errors reply and the ack"
    );
}

#[test]
fn a_reply_that_cannot_be_addressed_leaves_the_mail_unanswered_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = maildir(
        dir.path(),
        &[mail(
            "gv@truong..namdinh.edu.vn",
            "Danh sách đề nghị - Trường THPT Giao Thủy",
            "odd@namdinh.edu.vn",
            vec![person(C.0, C.1, C.2, "Cấp mới CTS")],
            0,
        )],
    );
    let data = run(dir.path(), &maildir, "");
    let m = the_mail(&data, "odd@namdinh.edu.vn");
    assert_eq!(m.reply_kind.code(), "none", "{}", m.note);
    assert!(m.note.contains("could not be addressed"), "{}", m.note);
    assert_eq!(mails_csv(&data, "odd@namdinh.edu.vn")["reply"], "none");
    assert!(outbox(&data).is_empty());
    assert!(sent(&data).is_empty());
}

#[test]
fn a_formula_after_a_separator_and_bidi_controls_never_reach_the_csvs_as_they_came() {
    // Excel on a Vietnamese Windows splits CSV fields at `;`: the part after it would be a
    // formula. A right-to-left override in a name would show it reversed.
    let dir = tempfile::tempdir().unwrap();
    let mut row = person("Phạm \u{202E}Văn Hải", A.1, A.2, "Cấp mới CTS");
    row[14] = "Xem ghi chú;=cmd|' /C calc'!A0".into();
    let maildir = maildir(
        dir.path(),
        &[mail(
            NK,
            "Danh sách đề nghị",
            "inject@namdinh.edu.vn",
            vec![row],
            0,
        )],
    );
    let data = run(dir.path(), &maildir, "");
    assert_eq!(
        the_mail(&data, "inject@namdinh.edu.vn").outcome.code(),
        "accepted"
    );
    let requests = read(&data.join("report/requests.csv"));
    assert!(
        requests.contains("\"'Xem ghi chú;=cmd|' /C calc'!A0\""),
        "quoted whole and prefixed: {requests}"
    );
    assert!(requests.contains("Phạm Văn Hải"), "{requests}");
    for name in ["requests.csv", "units.csv", "mails.csv", "problems.csv"] {
        let text = read(&data.join("report").join(name));
        assert!(
            !text.contains(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "a bidi control in {name}"
        );
    }
}
