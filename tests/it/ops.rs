//! The operator's commands through the built binary: `check-config`, `purge`, `backup`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::Connection;

use crate::support::{cts, root, run_once};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_config_says_config_ok_or_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cts(&["check-config"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("config OK"), "{}", text(&out));

    // One file, many mistakes: each is listed, the run exits 1.
    let config = dir.path().join("bad.toml");
    let bad = std::fs::read_to_string(root().join("config/default.toml"))
        .unwrap()
        .replace(
            "\nmaildir = \"../samples/maildir\"\n",
            "\nmaildir = \"nowhere\"\n",
        )
        .replace("[storage]", "[storage]\ndata-folder = \"x\"")
        .replace("\nmin-age = 18\n", "\nmin-age = \"eighteen\"\n")
        .replace("memory-mb = 1024", "memory-mb = 8")
        .replace("file = \"units.csv\"", "file = \"missing-units.csv\"")
        .replace("# [smtp]", "[smtp]")
        .replace(
            "# url = \"smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn\"",
            "url = \"pop3://mail.namdinh.edu.vn\"\npassword-file = \"no-such-password\"",
        );
    std::fs::write(&config, bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for part in [
        "data-folder",
        "eighteen",
        "reader.memory-mb",
        "missing-units.csv",
        "smtp.url",
        "no-such-password",
        "nowhere",
    ] {
        assert!(all.contains(part), "{part} is not reported:\n{all}");
    }
    assert!(!all.contains("config OK"), "{all}");
}

/// Every ID number (CCCD) stored in the rows.
fn id_numbers(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT DISTINCT id_number FROM rows WHERE id_number <> ''")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn status_line(data: &Path, prefix: &str) -> String {
    let out = cts(&["status"])
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    text(&out)
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in status:\n{}", text(&out)))
        .to_string()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn purge_removes_the_personal_data_of_past_mails_from_the_file_and_keeps_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_once(&root().join("samples/maildir"), &data);
    let db = data.join("intake.sqlite3");
    let ids = id_numbers(&db);
    assert!(ids.len() >= 3, "the sample has rows: {ids:?}");
    let rows = count(&db, "SELECT count(*) FROM rows");
    let taken = status_line(&data, "Mails taken:");
    let outbox = data.join("outbox");
    assert!(std::fs::read_dir(&outbox).unwrap().count() > 0);

    // The whole campaign, current lists included: only with --yes.
    let purge = |extra: &[&str]| {
        let mut c = cts(&["purge", "--before", "2100-01-01"]);
        c.args(extra).arg("--data-dir").arg(&data);
        c.output().unwrap()
    };
    let out = purge(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    assert!(text(&out).contains("current list"), "{}", text(&out));
    assert_eq!(
        count(&db, "SELECT count(*) FROM rows"),
        rows,
        "refused, nothing removed"
    );
    let out = purge(&["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count(&db, "SELECT count(*) FROM rows"),
        rows,
        "a dry run removes nothing"
    );

    let out = purge(&["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Purged:"), "{}", text(&out));
    assert_eq!(count(&db, "SELECT count(*) FROM rows"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM raw_mails"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM problems"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE length(bytes) > 0 OR draft IS NOT NULL"
        ),
        0
    );
    // Not one ID number is left in the database's files, nor in the outbox or the report.
    let mut files = vec![db.clone()];
    for extra in ["intake.sqlite3-wal", "intake.sqlite3-journal"] {
        if data.join(extra).exists() {
            files.push(data.join(extra));
        }
    }
    for dir in [outbox.clone(), data.join("report")] {
        if dir.exists() {
            for e in std::fs::read_dir(&dir).unwrap() {
                files.push(e.unwrap().path());
            }
        }
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for id in &ids {
            assert!(!contains(&bytes, id), "{id} is still in {}", f.display());
        }
    }
    assert!(
        !std::fs::read_dir(&outbox).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "eml")),
        "the replies' .eml files are removed"
    );
    // The counts are the same.
    assert_eq!(status_line(&data, "Mails taken:"), taken);
    let purged = status_line(&data, "Purged mails");
    assert!(purged.ends_with(&format!(": {}", count(&db, "SELECT count(*) FROM mails"))));
    // Nothing is left to purge a second time.
    let out = purge(&["--yes"]);
    assert!(text(&out).contains("Nothing to purge"), "{}", text(&out));
}

#[test]
fn backup_copies_the_database_consistently_while_a_writer_commits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_once(&root().join("samples/maildir"), &data);
    let db = data.join("intake.sqlite3");
    let mails = count(&db, "SELECT count(*) FROM mails");
    let rows = count(&db, "SELECT count(*) FROM rows");

    // A writer commits transactions of ten audit lines each while the copy is made: the copy
    // holds whole transactions only.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut conn = Connection::open(&db).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            let mut commits = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || commits < 20 {
                let tx = conn.transaction().unwrap();
                for i in 0..10 {
                    tx.execute(
                        "INSERT INTO audit_log (at, username, action, target, note) \
                         VALUES ('2022-12-01T00:00:00+00:00', 'test', 'login', ?1, '')",
                        [i.to_string()],
                    )
                    .unwrap();
                }
                tx.commit().unwrap();
                commits += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            commits
        })
    };
    let mut copies = Vec::new();
    for n in 0..3 {
        let copy = dir.path().join(format!("copy-{n}.sqlite3"));
        let out = cts(&["backup"])
            .arg(&copy)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("integrity check ok"), "{}", text(&out));
        copies.push(copy);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() >= 20);

    for copy in &copies {
        let mode = std::fs::metadata(copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", copy.display());
        let conn = Connection::open(copy).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        assert_eq!(count(copy, "SELECT count(*) FROM mails"), mails);
        assert_eq!(count(copy, "SELECT count(*) FROM rows"), rows);
        assert_eq!(count(copy, "SELECT count(*) FROM audit_log") % 10, 0);
        assert!(!copy.with_extension("sqlite3-wal").exists());
    }
    // A backup never replaces a file.
    let out = cts(&["backup"])
        .arg(&copies[0])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("exists already"), "{}", text(&out));
}

#[test]
fn status_counts_held_replies_and_warns_when_the_smtp_server_stays_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_once(&root().join("samples/maildir"), &data);
    let db = data.join("intake.sqlite3");
    // As the sender leaves them: one reply held by the rate limit; one the server could not
    // take for two hours, retried since, with no delivery after it.
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE outbox SET sent_at = '2022-12-01T00:00:00+00:00' WHERE status = 'sent';
         UPDATE outbox SET status = 'held' WHERE id = (SELECT min(id) FROM outbox);",
    )
    .unwrap();
    conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 3, last_error = 'connection refused', \
         created_at = ?1, next_attempt_at = ?1 WHERE id = (SELECT max(id) FROM outbox)",
        [&two_hours_ago],
    )
    .unwrap();
    drop(conn);
    let status = |warn_minutes: u64| {
        let config = dir.path().join(format!("smtp-{warn_minutes}.toml"));
        let text = std::fs::read_to_string(root().join("config/default.toml"))
            .unwrap()
            .replace("# [smtp]", "[smtp]")
            .replace(
                "# url = \"smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn\"",
                &format!(
                    "url = \"smtp+plain://127.0.0.1:1\"\nunreachable-warn-minutes = {warn_minutes}"
                ),
            );
        std::fs::write(&config, text).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_cts-intake"))
            .arg("--config")
            .arg(&config)
            .arg("status")
            .arg("--data-dir")
            .arg(&data)
            .arg("--units")
            .arg(root().join("config/units.csv"))
            .output()
            .unwrap()
    };
    let out = status(60);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("1 held for staff"), "{all}");
    assert!(
        all.contains("WARNING: no reply could be delivered"),
        "{all}"
    );
    assert!(all.contains("SMTP server unreachable"), "{all}");
    // One time zone: the campaign's.
    let failing = all.lines().find(|l| l.starts_with("SMTP:")).unwrap();
    assert!(failing.contains("+07:00"), "{failing}");
    assert!(!all.contains("+00:00"), "{all}");
    // Longer allowed: reported, no warning.
    let out = status(600);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("SMTP: replies failing since"), "{all}");
    assert!(!all.contains("WARNING"), "{all}");
}

#[test]
fn a_partial_purge_keeps_every_later_list_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_once(&root().join("samples/maildir"), &data);
    let db = data.join("intake.sqlite3");
    let before = "2022-12-08";
    let cut = "julianday('2022-12-08T00:00:00+07:00')";
    let purged_mails = count(
        &db,
        &format!("SELECT count(*) FROM mails WHERE julianday(received_at) < {cut}"),
    );
    let kept_mails = count(
        &db,
        &format!("SELECT count(*) FROM mails WHERE julianday(received_at) >= {cut}"),
    );
    assert!(
        purged_mails > 0 && kept_mails > 0,
        "the sample spans the date"
    );
    // ID numbers only the purged mails hold (in no list of a later mail).
    let conn = Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT DISTINCT r.id_number FROM rows r JOIN mails m ON m.id = r.mail_id \
             WHERE julianday(m.received_at) < {cut} AND r.id_number <> '' \
             AND r.id_number NOT IN (SELECT r2.id_number FROM rows r2 \
               JOIN version_rows vr ON vr.row_id = r2.id JOIN versions v ON v.id = vr.version_id \
               JOIN mails m2 ON m2.id = v.mail_id WHERE julianday(m2.received_at) >= {cut}) \
             AND r.id_number NOT IN (SELECT r3.id_number FROM rows r3 JOIN mails m3 \
               ON m3.id = r3.mail_id WHERE julianday(m3.received_at) >= {cut}) \
             AND NOT EXISTS (SELECT 1 FROM outbox o JOIN mails m4 ON m4.id = o.mail_id \
               WHERE julianday(m4.received_at) >= {cut} \
               AND (instr(o.bytes, CAST(r.id_number AS BLOB)) > 0 \
                    OR instr(coalesce(o.draft, ''), r.id_number) > 0))"
        ))
        .unwrap();
    let gone: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(stmt);
    drop(conn);
    // (A later copy of a purged mail, and its reply, keep what they quote.)
    assert!(
        !gone.is_empty(),
        "some ID numbers are the purged mails' alone"
    );
    let out = cts(&["purge", "--before", before, "--yes"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM mails WHERE purged_at IS NOT NULL"
        ),
        purged_mails
    );
    // Every list of a mail kept has all its rows, whichever mail they were first sent in.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM versions v JOIN mails m ON m.id = v.mail_id \
                 WHERE julianday(m.received_at) >= {cut} AND v.row_count <> \
                 (SELECT count(*) FROM version_rows vr JOIN rows r ON r.id = vr.row_id \
                  WHERE vr.version_id = v.id)"
            )
        ),
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    let bytes = std::fs::read(&db).unwrap();
    for id in &gone {
        assert!(!contains(&bytes, id), "{id} is still in the database");
    }
    // The report is made from what is left.
    let out = cts(&["report", "--out"])
        .arg(dir.path().join("report"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
