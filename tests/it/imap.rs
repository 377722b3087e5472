//! The IMAP source against a real Dovecot on loopback: exactly once with one reply each, \Seen
//! ignored, IDLE and polling, SIGKILL and server restarts, UIDVALIDITY changes, bad mails, TLS
//! and login errors. Mail goes in with IMAP APPEND; the daemon is the built binary.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cts_intake::config::{ImapConfig, Security};
use futures::TryStreamExt;

use crate::mailstack::{Dovecot, wait_until};
use crate::support::{csv_rows, root};

const USER: &str = "cttt@namdinh.edu.vn";
const PASSWORD: &str = "s3cret pass";
const SCHOOL: &str = "c3nguyenkhuyen@namdinh.edu.vn";

fn start_dovecot() -> Dovecot {
    Dovecot::start(&[(USER, PASSWORD)])
}

/// A small mail from a registered school with no list: it gets a "no list" reply.
fn mail(i: usize) -> Vec<u8> {
    format!(
        "From: THPT Nguyen Khuyen <{SCHOOL}>\r\nTo: {USER}\r\nSubject: Danh sach {i}\r\n\
         Message-ID: <imap-test-{i}@namdinh.edu.vn>\r\nDate: Mon, 5 Dec 2022 08:00:00 +0700\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKinh gui So, mail {i}.\r\n"
    )
    .into_bytes()
}

/// The IMAP settings of a test: implicit TLS to the private Dovecot, trusting its certificate.
fn imap_config(d: &Dovecot) -> ImapConfig {
    let mut c = ImapConfig::from_url(&format!(
        "imaps://cttt%40namdinh.edu.vn@127.0.0.1:{}/INBOX",
        d.imaps_port
    ))
    .unwrap();
    c.ca_file = Some(d.ca_file());
    c.password_env = Some("CTS_TEST_IMAP_PASSWORD".into());
    c
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Puts mails into the INBOX with IMAP APPEND, as a delivery would.
fn append(d: &Dovecot, mails: &[Vec<u8>]) {
    let c = imap_config(d);
    // SAFETY: tests in this binary only ever set this variable to the same value.
    unsafe { std::env::set_var("CTS_TEST_IMAP_PASSWORD", PASSWORD) };
    runtime().block_on(async {
        let mut s = cts_intake::mailbox::imap::connect(&c).await.unwrap();
        for m in mails {
            s.append("INBOX", None, None, m).await.unwrap();
        }
        s.logout().await.unwrap();
    });
}

/// Runs an IMAP command sequence as a staff client would (`f` gets the selected INBOX).
fn staff<T>(d: &Dovecot, f: impl AsyncFnOnce(&mut cts_intake::mailbox::imap::Session) -> T) -> T {
    let c = imap_config(d);
    // SAFETY: see `append`.
    unsafe { std::env::set_var("CTS_TEST_IMAP_PASSWORD", PASSWORD) };
    runtime().block_on(async {
        let mut s = cts_intake::mailbox::imap::connect(&c).await.unwrap();
        s.select("INBOX").await.unwrap();
        let r = f(&mut s).await;
        s.logout().await.unwrap();
        r
    })
}

/// The flags of every mail in the INBOX, by UID.
fn flags(d: &Dovecot) -> Vec<(u32, Vec<String>)> {
    staff(d, async |s| {
        let mut v: Vec<(u32, Vec<String>)> = s
            .uid_fetch("1:*", "(UID FLAGS)")
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f.uid.unwrap(),
                    f.flags().map(|x| format!("{x:?}")).collect(),
                )
            })
            .collect();
        v.sort();
        v
    })
}

/// A test's folder: the config (IMAP source, short intervals) and the data folder.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(d: &Dovecot, extra_imap: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
        let c = imap_config(d);
        let text = text
            .replace("maildir = \"../samples/maildir\"\n", "")
            .replace("poll-seconds = 30", "poll-seconds = 1")
            // Every test mail comes from one school: lift the per-recipient reply limit, the
            // overall budget and the same-answer rule here (tests/it/smtp.rs and
            // tests/it/trust.rs test them).
            .replace("rate-limit-per-hour = 10", "rate-limit-per-hour = 1000000")
            .replace(
                "rate-limit-overall-per-hour = 200",
                "rate-limit-overall-per-hour = 0",
            )
            .replace("same-answer-days = 3", "same-answer-days = 0")
            .replace(
                "data-dir = \"../var\"",
                &format!("data-dir = {:?}", dir.path().join("data")),
            )
            .replace(
                "file = \"units.csv\"",
                &format!("file = {:?}", root().join("config/units.csv")),
            );
        let imap = format!(
            "\n[source.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\n\
             user = {:?}\npassword-env = \"CTS_TEST_IMAP_PASSWORD\"\nca-file = {:?}\n\
             full-poll-seconds = 30\ntimeout-seconds = 10\nreconnect-max-seconds = 2\n\
             auth-retry-seconds = 1\n{extra_imap}\n",
            d.imaps_port,
            c.user,
            d.ca_file()
        );
        std::fs::write(dir.path().join("config.toml"), text + &imap).unwrap();
        Setup { dir }
    }

    /// `max-message-mb = 1`: a larger mail is held with its header only.
    fn limit_mail_size_to_1_mib(&self) {
        let text = std::fs::read_to_string(self.config())
            .unwrap()
            .replace("max-message-mb = 25", "max-message-mb = 1");
        assert!(text.contains("max-message-mb = 1"));
        std::fs::write(self.config(), text).unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cts-intake"));
        c.arg("--config")
            .arg(self.config())
            .args(args)
            .env("CTS_TEST_IMAP_PASSWORD", PASSWORD)
            .env("CTS_INTAKE_LOG", "info");
        c
    }

    /// `run --once`, checked to exit 0.
    fn run_once(&self) -> String {
        let out = self.command(&["run", "--once"]).output().unwrap();
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `run` as a daemon, its log in a file.
    fn spawn(&self) -> Daemon {
        let n = std::fs::read_dir(self.dir.path()).unwrap().count();
        let log = self.dir.path().join(format!("daemon-{n}.log"));
        let child = self
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_with_flags(
            self.data().join("intake.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c
    }

    fn count(&self, sql: &str) -> i64 {
        if !self.data().join("intake.sqlite3").exists() {
            return 0;
        }
        self.db()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_default()
    }

    fn mails(&self) -> i64 {
        self.count("SELECT count(*) FROM mails")
    }

    /// The replies written into the outbox folder.
    fn replies(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.data().join("outbox"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        v.sort();
        v
    }

    /// Checks every one of `n` test mails was taken exactly once and answered exactly once.
    fn assert_each_taken_once_with_one_reply(&self, n: usize) {
        assert_eq!(self.mails(), n as i64, "mail rows");
        assert_eq!(
            self.count("SELECT count(DISTINCT message_id) FROM mails"),
            n as i64
        );
        assert_eq!(
            self.count("SELECT count(*) FROM mails WHERE outcome = 'duplicate'"),
            0
        );
        assert_eq!(self.count("SELECT count(*) FROM outbox"), n as i64);
        assert_eq!(
            self.count("SELECT count(*) FROM outbox WHERE status <> 'sent'"),
            0
        );
        let replies = self.replies();
        assert_eq!(replies.len(), n, "reply files");
        let mut answered: Vec<String> = replies
            .iter()
            .map(|p| {
                let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("In-Reply-To: "))
                    .expect("a reply answers a mail")
                    .trim()
                    .to_string()
            })
            .collect();
        answered.sort();
        answered.dedup();
        assert_eq!(answered.len(), n, "each mail answered once");
    }
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "cts-intake failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `cts-intake run`.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a child we started.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// SIGKILL, as a crash or `kill -9` would.
    fn kill(mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().unwrap();
    }

    /// SIGTERM, then checks the daemon finished cleanly (exit 0) within a few seconds.
    fn stop(mut self) -> String {
        self.signal(libc::SIGTERM);
        let exited = wait_until(Duration::from_secs(15), || {
            self.child.try_wait().unwrap().is_some()
        });
        if !exited {
            self.signal(libc::SIGKILL);
        }
        let status = self.child.wait().unwrap();
        let log = self.log();
        assert!(
            exited && status.success(),
            "daemon did not stop cleanly ({status}):\n{log}"
        );
        log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn two_hundred_mails_are_each_taken_once_with_one_reply_even_when_staff_read_some_first() {
    let d = start_dovecot();
    let mails: Vec<Vec<u8>> = (0..200).map(mail).collect();
    append(&d, &mails);
    // A staff client reads the first 60 before cts-intake ever starts.
    staff(&d, async |s| {
        s.uid_store("1:60", "+FLAGS (\\Seen)")
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    });
    let setup = Setup::new(&d, "");
    let stdout = setup.run_once();
    assert!(stdout.contains("Mails taken: 200"), "{stdout}");
    setup.assert_each_taken_once_with_one_reply(200);

    // BODY.PEEK: what staff had not read is still unread; every mail carries the keyword.
    let flags = flags(&d);
    assert_eq!(flags.len(), 200);
    for (uid, f) in &flags {
        let seen = f.iter().any(|x| x.contains("Seen"));
        assert_eq!(seen, *uid <= 60, "UID {uid}: {f:?}");
        assert!(
            f.iter().any(|x| x.contains("$CtsIntake")),
            "UID {uid}: {f:?}"
        );
    }

    // A second run takes nothing and writes no reply.
    let stdout = setup.run_once();
    assert!(stdout.contains("Mails taken: 0"), "{stdout}");
    setup.assert_each_taken_once_with_one_reply(200);
    assert_eq!(
        setup.count("SELECT last_uid FROM mailbox_state"),
        200,
        "the position is the last UID"
    );
}

#[test]
fn a_mail_appended_while_the_daemon_idles_is_taken_within_seconds() {
    let d = start_dovecot();
    let setup = Setup::new(&d, "");
    let daemon = setup.spawn();
    assert!(
        wait_until(Duration::from_secs(10), || setup.count(
            "SELECT count(*) FROM polls WHERE last_success_at IS NOT NULL"
        ) == 1),
        "no first pass:\n{}",
        daemon.log()
    );
    append(&d, &[mail(1)]);
    // The full poll is 30 s away: only IDLE can bring it in this soon.
    assert!(
        wait_until(Duration::from_secs(8), || setup.mails() == 1),
        "the mail was not taken:\n{}",
        daemon.log()
    );
    assert!(wait_until(Duration::from_secs(5), || setup.replies().len() == 1));
    let log = daemon.stop();
    assert!(log.contains("IMAP logged out"), "{log}");
}

#[test]
fn without_idle_on_the_server_a_new_mail_is_taken_by_polling() {
    let d = Dovecot::start_with(
        &[(USER, PASSWORD)],
        "imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS MOVE",
    );
    let setup = Setup::new(&d, "");
    let daemon = setup.spawn();
    assert!(
        wait_until(Duration::from_secs(10), || setup.count(
            "SELECT count(*) FROM polls WHERE last_success_at IS NOT NULL"
        ) == 1),
        "no first pass:\n{}",
        daemon.log()
    );
    append(&d, &[mail(1), mail(2)]);
    assert!(
        wait_until(Duration::from_secs(8), || setup.mails() == 2),
        "the mails were not taken:\n{}",
        daemon.log()
    );
    let log = daemon.stop();
    assert!(log.contains("idle=false"), "{log}");
}

#[test]
fn sigkill_at_several_points_then_restart_takes_every_mail_once_and_loses_no_reply() {
    let d = start_dovecot();
    let mails: Vec<Vec<u8>> = (0..200).map(mail).collect();
    append(&d, &mails);
    // Small batches, so kills land between fetch, commit, post-action and position.
    let setup = Setup::new(&d, "batch-size = 7");
    // Killed right after starting, then three times mid-run.
    setup.spawn().kill();
    for at in [30, 90, 150] {
        let daemon = setup.spawn();
        let reached = wait_until(Duration::from_secs(60), || setup.mails() >= at);
        assert!(reached, "never reached {at} mails:\n{}", daemon.log());
        daemon.kill();
        assert!(setup.mails() < 200, "the kill at {at} came after the end");
    }
    let daemon = setup.spawn();
    assert!(
        wait_until(Duration::from_secs(60), || setup.mails() == 200
            && setup.replies().len() == 200),
        "not all taken:\n{}",
        daemon.log()
    );
    daemon.stop();
    setup.assert_each_taken_once_with_one_reply(200);
    // Every mail got its post-action too (done again after a crash, it changes nothing).
    assert!(
        flags(&d)
            .iter()
            .all(|(_, f)| f.iter().any(|x| x.contains("$CtsIntake")))
    );
}

#[test]
fn a_restarted_server_is_reconnected_and_mail_delivered_while_it_was_down_is_taken() {
    let mut d = start_dovecot();
    append(&d, &[mail(1)]);
    let setup = Setup::new(&d, "");
    let daemon = setup.spawn();
    assert!(
        wait_until(Duration::from_secs(10), || setup.mails() == 1),
        "{}",
        daemon.log()
    );
    d.kill();
    // Delivered while the server is down: straight into the Maildir, as an MDA would.
    let new = d.maildir(USER).join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join("1670000000.M1P1.test"), mail(2)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    d.restart();
    assert!(
        wait_until(Duration::from_secs(20), || setup.mails() == 2),
        "the mail delivered during the outage was not taken:\n{}\nDovecot:\n{}",
        daemon.log(),
        d.log()
    );
    let log = daemon.stop();
    assert!(
        log.contains("mailbox reachable again") || log.contains("waiting for new mail failed"),
        "{log}"
    );
    setup.assert_each_taken_once_with_one_reply(2);
}

#[test]
fn after_a_uidvalidity_change_only_the_new_mails_are_taken() {
    let mut d = start_dovecot();
    append(&d, &(0..5).map(mail).collect::<Vec<_>>());
    let setup = Setup::new(&d, "");
    setup.run_once();
    assert_eq!(setup.mails(), 5);
    let before = setup.count("SELECT uid_validity FROM mailbox_state");

    // The mailbox is recreated: indexes gone, same mails renumbered, a new UIDVALIDITY.
    d.kill();
    for e in std::fs::read_dir(d.maildir(USER)).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("dovecot") {
            if e.path().is_dir() {
                std::fs::remove_dir_all(e.path()).unwrap();
            } else {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
    d.restart();
    let validity = (before + 1000).to_string();
    d.doveadm(&[
        "mailbox",
        "update",
        "-u",
        USER,
        "--uid-validity",
        &validity,
        "INBOX",
    ]);
    append(&d, &(5..8).map(mail).collect::<Vec<_>>());

    let stdout = setup.run_once();
    assert!(stdout.contains("Mails taken: 3 "), "{stdout}");
    assert!(stdout.contains("recognised as taken before: 5"), "{stdout}");
    assert_eq!(
        setup.count("SELECT uid_validity FROM mailbox_state"),
        before + 1000
    );
    setup.assert_each_taken_once_with_one_reply(8);
}

#[test]
fn a_30_mb_mail_broken_mime_and_an_empty_body_do_not_stop_the_good_ones() {
    let d = start_dovecot();
    let big = {
        let mut m = format!(
            "From: {SCHOOL}\r\nTo: {USER}\r\nSubject: Danh sach kem anh scan\r\n\
             Message-ID: <big@namdinh.edu.vn>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nxem tep\r\n--b\r\n\
             Content-Type: application/octet-stream; name=\"scan.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        )
        .into_bytes();
        let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
        while m.len() < 30 * 1024 * 1024 {
            m.extend_from_slice(line);
        }
        m.extend_from_slice(b"--b--\r\n");
        m
    };
    let broken = format!(
        "From: {SCHOOL}\r\nTo: {USER}\r\nSubject: hong\r\nMessage-ID: <broken@namdinh.edu.vn>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n\r\n\
         --nope\r\nContent-Type: application/vnd.ms-excel; name=\"ds.xls\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n%%%not base64%%%\r\n"
    )
    .into_bytes();
    let empty = format!(
        "From: {SCHOOL}\r\nTo: {USER}\r\nSubject: trong\r\nMessage-ID: <empty@namdinh.edu.vn>\r\n\r\n"
    )
    .into_bytes();
    append(
        &d,
        &[mail(1), big, mail(2), broken, mail(3), empty, mail(4)],
    );
    let setup = Setup::new(&d, "");
    let stdout = setup.run_once();
    assert!(stdout.contains("Mails taken: 7"), "{stdout}");
    assert!(
        stdout.contains("over the size limit (held, header kept): 1"),
        "{stdout}"
    );
    let outcome = |id: &str| -> String {
        setup
            .db()
            .query_row(
                "SELECT outcome || ' ' || reply_kind FROM mails WHERE message_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    for i in 1..=4 {
        assert_eq!(
            outcome(&format!("imap-test-{i}@namdinh.edu.vn")),
            "no_list no_list"
        );
    }
    assert_eq!(outcome("big@namdinh.edu.vn"), "held held");
    // The big mail's header is kept, not its 30 MB; the record says how big it was.
    let (size, sha): (i64, String) = setup
        .db()
        .query_row(
            "SELECT size, sha256 FROM mails WHERE message_id = 'big@namdinh.edu.vn'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(size > 30 * 1024 * 1024, "{size}");
    let kept: i64 = setup
        .db()
        .query_row(
            "SELECT length(bytes) FROM raw_mails WHERE sha256 = ?1",
            [&sha],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kept < 4096, "{kept}");
    let size_reply = setup
        .replies()
        .into_iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .find(|t| t.contains("<big@namdinh.edu.vn>"))
        .expect("the big mail is answered");
    let text = crate::support::reply_summary(size_reply.as_bytes());
    assert!(text.contains("vượt quá giới hạn 25 MB"), "{text}");
    // Broken MIME and an empty body are stored and answered as any mail without a list.
    assert_eq!(outcome("broken@namdinh.edu.vn"), "no_list no_list");
    assert_eq!(outcome("empty@namdinh.edu.vn"), "no_list no_list");
}

#[test]
fn a_wrong_password_is_reported_once_and_retried_until_it_works() {
    let d = start_dovecot();
    append(&d, &[mail(1)]);
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("password");
    std::fs::write(&pw, "wrong\n").unwrap();
    let setup = Setup::new(&d, "");
    let text = std::fs::read_to_string(setup.config()).unwrap().replace(
        "password-env = \"CTS_TEST_IMAP_PASSWORD\"",
        &format!("password-file = {pw:?}"),
    );
    std::fs::write(setup.config(), text).unwrap();
    let daemon = setup.spawn();
    // Retried every second (auth-retry-seconds = 1): several attempts, one report.
    assert!(wait_until(Duration::from_secs(10), || daemon
        .log()
        .contains("login refused")));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(setup.mails(), 0);
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || setup.mails() == 1),
        "{}",
        daemon.log()
    );
    let log = daemon.stop();
    let reports = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("login refused"))
        .count();
    assert_eq!(reports, 1, "{log}");
    assert!(
        log.contains("refused the login of cttt@namdinh.edu.vn"),
        "{log}"
    );
    assert!(log.contains("mailbox reachable again"), "{log}");
}

#[test]
fn imap_urls_work_with_starttls_and_plain_to_loopback_and_a_private_ca() {
    let d = start_dovecot();
    append(&d, &[mail(1), mail(2)]);
    let setup = Setup::new(&d, "");
    let user = "cttt%40namdinh.edu.vn";
    // STARTTLS, with the CA given on the command line.
    let url = format!("imap://{user}@127.0.0.1:{}/INBOX", d.imap_port);
    let out = setup
        .command(&["run", "--once", "--imap", &url, "--ca-file"])
        .arg(d.ca_file())
        .env("CTS_INTAKE_IMAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mails taken: 2"));
    // Plain to loopback: allowed, and the same mailbox (nothing taken twice).
    let url = format!("imap+plain://{user}@127.0.0.1:{}/INBOX", d.imap_port);
    let out = setup
        .command(&["run", "--once", "--imap", &url])
        .env("CTS_INTAKE_IMAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mails taken: 0"));
    setup.assert_each_taken_once_with_one_reply(2);
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_not_a_silent_connection() {
    let d = start_dovecot();
    let setup = Setup::new(&d, "");
    let url = format!(
        "imaps://cttt%40namdinh.edu.vn@127.0.0.1:{}/INBOX",
        d.imaps_port
    );
    // No --ca-file: the test certificate is signed by nobody the system trusts.
    let out = setup
        .command(&["run", "--once", "--imap", &url])
        .env("CTS_INTAKE_IMAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate that is not accepted"), "{err}");
    assert!(err.contains("--ca-file"), "{err}");
    // Trusted, but the name does not match: also refused, saying so.
    let url = format!(
        "imaps://cttt%40namdinh.edu.vn@127.0.0.2:{}/INBOX",
        d.imaps_port
    );
    let out = setup
        .command(&["run", "--once", "--imap", &url, "--ca-file"])
        .arg(d.ca_file())
        .env("CTS_INTAKE_IMAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Dovecot listens on 127.0.0.1 only: either refused outright or refused for the name.
    assert!(
        err.contains("not valid for the name 127.0.0.2") || err.contains("cannot connect"),
        "{err}"
    );
}

#[test]
fn plain_imap_to_another_host_is_refused_before_connecting() {
    let setup_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(root().join("config/default.toml"))
        .args([
            "run",
            "--once",
            "--imap",
            "imap+plain://cttt%40namdinh.edu.vn@192.0.2.1/INBOX",
        ])
        .arg("--data-dir")
        .arg(setup_dir.path())
        .env("CTS_INTAKE_IMAP_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only to a loopback address"), "{err}");
    let c = ImapConfig::from_url("imaps://a%40b.vn@mail.b.vn/Hop%20thu").unwrap();
    assert_eq!(
        (c.user.as_str(), c.mailbox.as_str(), c.port()),
        ("a@b.vn", "Hop thu", 993)
    );
    assert_eq!(c.security, Security::Tls);
}

#[test]
fn status_reports_the_last_poll_and_held_mail_and_warns_when_polls_stop() {
    let d = start_dovecot();
    let oversized = {
        let mut m = mail(9);
        for _ in 0..30_000 {
            m.extend_from_slice(
                b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
            );
        }
        m
    };
    append(&d, &[mail(1), oversized]);
    let setup = Setup::new(&d, "");
    let text = std::fs::read_to_string(setup.config())
        .unwrap()
        .replace("max-message-mb = 25", "max-message-mb = 1")
        .replace("stale-after-minutes = 15", "stale-after-minutes = 1");
    std::fs::write(setup.config(), text).unwrap();
    // Before any poll: a warning and exit 1.
    let out = setup.command(&["status"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("WARNING: no poll"));
    setup.run_once();
    let out = setup.command(&["status"]).output().unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Last successful poll: 20"), "{stdout}");
    assert!(
        stdout.contains("Mails taken: 2 (held 1, no_list 1)"),
        "{stdout}"
    );
    assert!(stdout.contains("Held for staff: 1"), "{stdout}");
    assert!(stdout.contains("imap-test-9@namdinh.edu.vn"), "{stdout}");
    assert!(stdout.contains("Replies: 0 waiting"), "{stdout}");
    assert!(stdout.contains("every mail up to UID 2 taken"), "{stdout}");
}

#[test]
fn a_mail_s_arrival_is_the_server_s_internaldate_whole_or_held_for_its_size() {
    let d = start_dovecot();
    let oversized = {
        let mut m = mail(2);
        m.extend(std::iter::repeat_n(b'x', 1_200_000));
        m
    };
    // Put in with the dates the server received them (APPEND's date-time), days apart from
    // now: the lateness of a list is judged by these, not by the time cts-intake took them.
    let c = imap_config(&d);
    // SAFETY: tests in this binary only ever set this variable to the same value.
    unsafe { std::env::set_var("CTS_TEST_IMAP_PASSWORD", PASSWORD) };
    runtime().block_on(async {
        let mut s = cts_intake::mailbox::imap::connect(&c).await.unwrap();
        for (m, date) in [
            (mail(1), "\"01-Nov-2026 08:30:00 +0700\""),
            (oversized, "\"02-Nov-2026 17:05:09 +0700\""),
        ] {
            let append = s.append("INBOX", None, Some(date), &m);
            tokio::time::timeout(Duration::from_secs(30), append)
                .await
                .expect("APPEND with a date answered")
                .unwrap();
        }
        s.logout().await.unwrap();
    });
    let setup = Setup::new(&d, "");
    setup.limit_mail_size_to_1_mib();
    setup.run_once();
    let received: Vec<(String, String)> = setup
        .db()
        .prepare("SELECT received_at, outcome FROM mails ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        received,
        [
            (
                "2026-11-01T01:30:00+00:00".to_string(),
                "no_list".to_string()
            ),
            ("2026-11-02T10:05:09+00:00".to_string(), "held".to_string()),
        ]
    );
}

/// A registered school's list over the size limit is held with its header only; `replay`
/// fetches it whole from the real server (by its UID, checked to be the same mail) and it is
/// read and acknowledged.
#[test]
fn replaying_an_oversized_mail_fetches_it_whole_from_the_server() {
    let d = start_dovecot();
    let big = crate::support::oversized_sample();
    append(&d, &[mail(1), big.clone()]);
    let setup = Setup::new(&d, "");
    setup.limit_mail_size_to_1_mib();
    setup.run_once();
    let outcome = |setup: &Setup| -> String {
        setup
            .db()
            .query_row(
                "SELECT outcome FROM mails WHERE message_id = 'sample-01@namdinh.edu.vn' \
                 AND superseded_by IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(outcome(&setup), "held");
    let out = setup
        .command(&["replay", "sample-01@namdinh.edu.vn"])
        .output()
        .unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Fetched <sample-01@namdinh.edu.vn> whole"),
        "{stdout}"
    );
    assert!(
        stdout.contains("was held, now accepted (reply: ack"),
        "{stdout}"
    );
    assert_eq!(outcome(&setup), "accepted");
    let kept: i64 = setup
        .db()
        .query_row(
            "SELECT length(r.bytes) FROM mails m JOIN raw_mails r ON r.sha256 = m.sha256 \
             WHERE m.message_id = 'sample-01@namdinh.edu.vn' AND m.superseded_by IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // The server stores lines ending in CRLF as they were sent.
    assert_eq!(kept as usize, big.len());
}

/// The mails in a user's folder, by its name as people read it (doveadm decodes the names the
/// server stores in modified UTF-7).
fn count_in(d: &Dovecot, folder: &str) -> usize {
    let out = d.doveadm(&["search", "-u", USER, "mailbox", folder, "ALL"]);
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn folders(d: &Dovecot) -> Vec<String> {
    let out = d.doveadm(&["mailbox", "list", "-u", USER]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn post_action_move_puts_taken_mail_in_a_folder_it_creates() {
    // A Vietnamese name, with spaces and an "&": written in modified UTF-7 for the server.
    let folder = "Đã tiếp nhận & xử lý";
    let d = start_dovecot();
    append(&d, &[mail(1), mail(2)]);
    let setup = Setup::new(
        &d,
        &format!("post-action = \"move\"\nmove-to = \"{folder}\""),
    );
    setup.run_once();
    setup.assert_each_taken_once_with_one_reply(2);
    assert!(flags(&d).is_empty(), "the INBOX is empty after the move");
    assert!(
        folders(&d).contains(&folder.to_string()),
        "{:?}",
        folders(&d)
    );
    assert_eq!(count_in(&d, folder), 2);
    // A new mail after the move is still taken (UIDs are never reused), into the same folder.
    append(&d, &[mail(3)]);
    setup.run_once();
    setup.assert_each_taken_once_with_one_reply(3);
    assert_eq!(count_in(&d, folder), 3);
    let mut all = folders(&d);
    all.sort();
    assert_eq!(all, ["INBOX", "Sent", folder], "no folder made twice");
}

#[test]
fn a_mailbox_with_a_vietnamese_name_is_watched() {
    let folder = "Hộp thư CTS";
    let d = start_dovecot();
    d.doveadm(&["mailbox", "create", "-u", USER, folder]);
    for i in 1..=2 {
        d.save(USER, folder, &mail(i));
    }
    let setup = Setup::new(&d, &format!("mailbox = \"{folder}\""));
    setup.run_once();
    setup.assert_each_taken_once_with_one_reply(2);
    assert!(setup.run_once().contains("Mails taken: 0"));
}

#[test]
fn replay_processes_a_stored_mail_again_and_keeps_the_old_outcome_in_history() {
    let d = start_dovecot();
    append(&d, &[mail(1)]);
    let setup = Setup::new(&d, "");
    setup.run_once();
    let out = setup
        .command(&["replay", "<imap-test-1@namdinh.edu.vn>"])
        .output()
        .unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("was no_list, now no_list"), "{stdout}");
    // Two rows in the history, one current; the report lists the mail once.
    assert_eq!(setup.mails(), 2);
    assert_eq!(
        setup.count("SELECT count(*) FROM mails WHERE superseded_by IS NULL"),
        1
    );
    let csv = std::fs::read_to_string(setup.data().join("report/mails.csv")).unwrap();
    assert_eq!(
        csv.matches("imap-test-1@namdinh.edu.vn").count(),
        1,
        "{csv}"
    );
    // The next run does not take the mail again.
    assert!(setup.run_once().contains("Mails taken: 0"));
    assert_eq!(setup.mails(), 2);
}

/// The marker that makes the daemon itself abort while reading a mail (see
/// `daemon::read::crash_on_test_marker`): a fault no reader process contains.
const CRASH_MARKER: &str = "cts-test-crash-7f3a9c1e";

#[test]
fn a_mail_that_stops_the_daemon_twice_is_held_and_the_mails_around_it_are_taken() {
    let d = start_dovecot();
    let mut poison = mail(2);
    poison.extend_from_slice(format!("{CRASH_MARKER}\r\n").as_bytes());
    append(&d, &[mail(1), poison, mail(3)]);
    let setup = Setup::new(&d, "");
    // Restarted after each death, as systemd's Restart=on-failure does.
    let mut deaths = 0;
    let mut logs = String::new();
    let mut daemon = None;
    for _ in 0..5 {
        let mut child = setup
            .command(&["run"])
            .env("CTS_INTAKE_TEST_CRASH_MARKER", CRASH_MARKER)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let died = wait_until(Duration::from_secs(30), || {
            setup.mails() == 3 || child.try_wait().unwrap().is_some()
        });
        assert!(died, "neither done nor dead");
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the daemon exited on its own: {status}");
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            logs.push_str(&err);
            deaths += 1;
            continue;
        }
        daemon = Some(child);
        break;
    }
    let mut daemon = daemon.unwrap_or_else(|| panic!("never got past the poison mail:\n{logs}"));
    assert!(
        wait_until(Duration::from_secs(20), || setup
            .count("SELECT count(*) FROM mailbox_state WHERE last_uid >= 3")
            == 1),
        "the position never passed the three mails"
    );
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap();
    assert_eq!(deaths, 2, "the poison mail is read at most twice:\n{logs}");
    assert!(logs.contains("test crash marker found"), "{logs}");
    let outcome = |id: &str| -> String {
        setup
            .db()
            .query_row(
                "SELECT outcome || ' ' || note FROM mails WHERE message_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let held = outcome("imap-test-2@namdinh.edu.vn");
    assert!(
        held.starts_with("held ") && held.contains("poison"),
        "{held}"
    );
    for good in ["imap-test-1@namdinh.edu.vn", "imap-test-3@namdinh.edu.vn"] {
        let o = outcome(good);
        assert!(o.starts_with("no_list "), "{good}: {o}");
    }
    // Nothing is left counted against a mail, and the poison one has its post-action too.
    assert_eq!(setup.count("SELECT count(*) FROM reading_attempts"), 0);
    assert!(
        flags(&d)
            .iter()
            .all(|(_, f)| f.iter().any(|x| x.contains("$CtsIntake")))
    );
}

#[test]
fn a_trace_level_log_of_a_real_login_holds_no_password() {
    let d = start_dovecot();
    append(&d, &[mail(1)]);
    let setup = Setup::new(&d, "");
    let out = setup
        .command(&["run", "--once"])
        .env("CTS_INTAKE_LOG", "trace")
        .output()
        .unwrap();
    assert_ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    // The log is at trace level and the login happened (the mail was taken)...
    assert!(log.contains("TRACE"), "not a trace log:\n{log}");
    assert_eq!(setup.mails(), 1);
    // ...and the password is nowhere in it.
    assert!(!log.contains(PASSWORD), "the password is in the log");
}

#[test]
fn a_mail_delivered_twice_has_a_line_for_each_copy_the_second_a_duplicate() {
    let d = start_dovecot();
    // The same Message-ID and bytes under two UIDs, on the very first pass.
    append(&d, &[mail(1), mail(1), mail(2)]);
    let setup = Setup::new(&d, "");
    setup.run_once();
    let lines = csv_rows(&setup.data().join("report/mails.csv"));
    let outcome = lines[0].iter().position(|h| h == "outcome").unwrap();
    let copies: Vec<&str> = lines
        .iter()
        .filter(|l| l[0] == "imap-test-1@namdinh.edu.vn")
        .map(|l| l[outcome].as_str())
        .collect();
    assert_eq!(copies, ["no_list", "duplicate"], "{lines:?}");
    assert_eq!(setup.replies().len(), 2, "one reply per distinct mail");
}
