//! A copy of each reply in the department's IMAP Sent folder (issue 5), against a real Postfix
//! delivering into a real Dovecot: once per reply, the bytes sent, marked read; with the IMAP
//! server down after the sends, the copies are made on a later pass and none twice.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cts_intake::config::{ImapConfig, Smtp};
use cts_intake::outbox::sender::{RetryPolicy, Sender};
use cts_intake::outbox::sent_copy::SentCopy;
use cts_intake::outbox::smtp::SmtpTransport;
use cts_intake::store::Store;
use cts_testkit as testkit;

use crate::mailstack::{Dovecot, MailStack, wait_until};
use crate::outbox_fill;
use crate::smtp::{DEPT, PASSWORD, all_users, message_id, outbox, start_stack};
use crate::support::root;

/// The department's IMAP mailbox on the test Dovecot (implicit TLS), the password from a file.
fn imap_config(d: &Dovecot, dir: &Path) -> ImapConfig {
    let mut c = ImapConfig::from_url(&format!(
        "imaps://cttt%40namdinh.edu.vn@127.0.0.1:{}/INBOX",
        d.imaps_port
    ))
    .unwrap();
    let pw = dir.join("imap-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    c.password_env = None;
    c.password_file = Some(pw);
    c.ca_file = Some(d.ca_file());
    c.timeout_seconds = 10;
    c
}

/// The department's Sent folder as Dovecot stored it.
fn sent(d: &Dovecot) -> Vec<Vec<u8>> {
    d.messages(DEPT, "Sent")
}

/// The Sent folder named in the configuration, in Vietnamese.
const VIETNAMESE_SENT: &str = "Thư đã gửi";

/// The mails in [`VIETNAMESE_SENT`]; Dovecot keeps a folder in a Maildir directory named in
/// modified UTF-7.
fn sent_vietnamese(d: &Dovecot) -> Vec<Vec<u8>> {
    d.messages(
        DEPT,
        &cts_intake::mailbox::imap::folder_name(VIETNAMESE_SENT),
    )
}

fn sorted_ids(mails: &[Vec<u8>]) -> Vec<String> {
    let mut ids: Vec<String> = mails.iter().map(|m| message_id(m)).collect();
    ids.sort();
    ids
}

fn lf(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .into_bytes()
}

/// How many sent replies still owe their copy.
fn owed(data: &Path) -> i64 {
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    store
        .conn()
        .query_row(
            "SELECT count(*) FROM outbox WHERE copy_owed = 1 AND copied_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// The stored bytes of every reply, by Message-ID.
fn stored_bytes(data: &Path) -> Vec<(String, Vec<u8>)> {
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    let mut stmt = store
        .conn()
        .prepare("SELECT message_id, bytes FROM outbox ORDER BY message_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A config reading the department's IMAP INBOX (the sample registry, data in `dir/data`).
fn config(d: &Dovecot, dir: &Path) -> PathBuf {
    let imap = imap_config(d, dir);
    let text = std::fs::read_to_string(root().join("config/default.toml"))
        .unwrap()
        .replace("maildir = \"../samples/maildir\"\n", "")
        .replace(
            "data-dir = \"../var\"",
            &format!("data-dir = {:?}", dir.join("data")),
        )
        .replace(
            "file = \"units.csv\"",
            &format!("file = {:?}", root().join("config/units.csv")),
        );
    let text = format!(
        "{text}\n[source.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\n\
         user = {:?}\npassword-file = {:?}\nca-file = {:?}\ntimeout-seconds = 10\n",
        d.imaps_port,
        imap.user,
        imap.password_file.unwrap(),
        d.ca_file()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run_once(stack: &MailStack, config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(config)
        .args(["run", "--once", "--smtp"])
        .arg(format!(
            "smtp://cttt%40namdinh.edu.vn@localhost:{}",
            stack.postfix.submission_port
        ))
        .arg("--smtp-ca-file")
        .arg(stack.postfix.ca_file())
        .env("CTS_INTAKE_SMTP_PASSWORD", PASSWORD)
        .env("CTS_INTAKE_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "run --once failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn each_reply_sent_over_smtp_is_in_the_sent_folder_once_marked_read_as_the_school_got_it() {
    let users = all_users();
    let stack = start_stack(&users);
    for m in testkit::sample_mails() {
        stack.dovecot.save(DEPT, "INBOX", &m.bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&stack.dovecot, dir.path());
    let data = dir.path().join("data");

    let stdout = run_once(&stack, &cfg);
    assert!(stdout.contains("Replies sent: 6"), "{stdout}");
    let stored = stored_bytes(&data);
    assert_eq!(stored.len(), 6);
    let copies = sent(&stack.dovecot);
    let stored_ids: Vec<String> = stored.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(sorted_ids(&copies), stored_ids, "one copy of each reply");
    for (id, bytes) in &stored {
        let copy = copies.iter().find(|m| &message_id(m) == id).unwrap();
        assert_eq!(lf(copy), lf(bytes), "the copy is the bytes sent");
    }
    assert_eq!(owed(&data), 0);
    // Marked read (\Seen): the Maildir file names end in ":2,S" (with any other flags).
    let cur = stack.dovecot.maildir(DEPT).join(".Sent/cur");
    let names: Vec<String> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('S'))),
        "{names:?}"
    );

    // The school got the same mail: same Message-ID in its INBOX.
    for line in outbox(&data) {
        let to = &line.recipients[0];
        let arrived = wait_until(Duration::from_secs(20), || {
            stack
                .dovecot
                .messages(to, "INBOX")
                .iter()
                .any(|m| message_id(m) == line.message_id)
        });
        assert!(
            arrived,
            "{} not delivered to {to}:\n{}",
            line.message_id,
            stack.postfix.log()
        );
    }

    // Another run takes nothing new and copies nothing again.
    let stdout = run_once(&stack, &cfg);
    assert!(stdout.contains("Replies sent: 0"), "{stdout}");
    assert_eq!(sorted_ids(&sent(&stack.dovecot)), stored_ids);
}

#[test]
fn with_the_imap_server_down_after_the_sends_the_copies_come_on_a_later_pass_and_none_twice() {
    let schools = [
        "c3lehongphong@namdinh.edu.vn",
        "c3nguyenkhuyen@namdinh.edu.vn",
    ];
    let mut stack = MailStack::start(&[
        (DEPT, PASSWORD),
        (schools[0], PASSWORD),
        (schools[1], PASSWORD),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    outbox_fill::fill(&data, &outbox_fill::replies(4, &schools));
    let db = data.join("intake.sqlite3");
    let smtp = Smtp {
        // No login: Postfix relays from loopback, and its SASL lives in the Dovecot to be killed.
        url: format!("smtp+plain://127.0.0.1:{}", stack.postfix.smtp_port),
        password_env: "CTS_TEST_UNSET_VARIABLE".into(),
        password_file: None,
        ca_file: None,
        timeout_seconds: 10,
        unreachable_warn_minutes: 60,
    };
    let config = outbox_fill::default_config();
    // The folder as the configuration names it: as people read it.
    let mut imap = imap_config(&stack.dovecot, dir.path());
    imap.sent_folder = Some(VIETNAMESE_SENT.into());
    let copy = SentCopy::new(imap, Store::open(&db).unwrap()).with_retry_after(Duration::ZERO);
    let sender = Sender::new(
        Store::open(&db).unwrap(),
        SmtpTransport::new(&smtp).unwrap(),
        DEPT,
        RetryPolicy::from_config(&config.replies),
    )
    .with_after_send(Arc::new(copy));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The IMAP server is down: the replies are sent, their copies stay owed.
    stack.dovecot.kill();
    let done = runtime.block_on(sender.deliver_due(None)).unwrap();
    assert_eq!((done.sent, done.deferred, done.failed), (4, 0, 0));
    assert_eq!(owed(&data), 4);
    assert!(sent_vietnamese(&stack.dovecot).is_empty());
    // A pass while it is still down changes nothing.
    runtime.block_on(sender.deliver_due(None)).unwrap();
    assert_eq!(owed(&data), 4);

    // It is back: the next pass appends every missing copy, once.
    stack.dovecot.restart();
    let done = runtime.block_on(sender.deliver_due(None)).unwrap();
    assert_eq!(done.sent, 0, "nothing is sent again");
    assert_eq!(owed(&data), 0);
    let stored_ids: Vec<String> = stored_bytes(&data).into_iter().map(|(id, _)| id).collect();
    assert_eq!(sorted_ids(&sent_vietnamese(&stack.dovecot)), stored_ids);
    // The folder the server made has the name the configuration gave (doveadm decodes it).
    let folders = stack.dovecot.doveadm(&["mailbox", "list", "-u", DEPT]);
    let folders = String::from_utf8_lossy(&folders.stdout);
    assert!(folders.lines().any(|l| l == VIETNAMESE_SENT), "{folders}");

    // A crash after an APPEND and before its record: the copy is owed again, but found in the
    // folder by its Message-ID and not appended a second time.
    {
        let store = Store::open(&db).unwrap();
        store
            .conn()
            .execute("UPDATE outbox SET copied_at = NULL WHERE id <= 2", [])
            .unwrap();
    }
    assert_eq!(owed(&data), 2);
    runtime.block_on(sender.deliver_due(None)).unwrap();
    assert_eq!(owed(&data), 0);
    assert_eq!(
        sorted_ids(&sent_vietnamese(&stack.dovecot)),
        stored_ids,
        "no copy twice"
    );

    // And the schools got the same mails once Postfix could deliver again. Postfix retries
    // on its own, but one mail met locked at a retry waits a minute: ask it now and then.
    let mut flushed = Instant::now();
    stack.postfix.flush();
    let arrived = wait_until(Duration::from_secs(30), || {
        if flushed.elapsed() > Duration::from_secs(2) {
            stack.postfix.flush();
            flushed = Instant::now();
        }
        schools
            .iter()
            .map(|s| stack.dovecot.messages(s, "INBOX").len())
            .sum::<usize>()
            >= 4
    });
    assert!(arrived, "not delivered:\n{}", stack.postfix.log());
    let delivered: Vec<Vec<u8>> = schools
        .iter()
        .flat_map(|s| stack.dovecot.messages(s, "INBOX"))
        .collect();
    assert_eq!(sorted_ids(&delivered), stored_ids);
}
