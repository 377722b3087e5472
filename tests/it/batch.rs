//! Mails taken in batches (read in parallel, recorded in one transaction) and replies composed
//! from their drafts at delivery, against real SQLite files.

use std::path::Path;

use chrono::{TimeZone, Utc};
use cts_intake::config::{Config, Overrides};
use cts_intake::daemon::{How, Intake};
use cts_intake::mailbox::RawMail;
use cts_intake::pipeline::OutcomeKind;

use crate::support::root;

fn intake(data: &Path) -> Intake {
    let overrides = Overrides {
        data_dir: Some(data.to_path_buf()),
        ..Overrides::default()
    };
    let mut config = Config::load(&root().join("config/default.toml"), &overrides).unwrap();
    // The attachments are read by the built program's reader processes, as in the daemon.
    config.reader.program = Some(env!("CARGO_BIN_EXE_cts-intake").into());
    Intake::open(config).unwrap()
}

/// An intake on `data` that has taken `n` mails ([`mails`]) in one batch, each recorded.
fn taken(data: &Path, n: usize) -> Intake {
    let mut intake = intake(data);
    let results = intake.take_batch(
        "maildir",
        mails(n).into_iter().map(|m| (m, How::Normal)).collect(),
    );
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    intake
}

/// `n` mails cycling through the sample campaign (each its own Message-ID from the second round
/// on, so units send new versions), delivered a minute apart.
fn mails(n: usize) -> Vec<RawMail> {
    let samples = cts_testkit::sample_mails();
    let start = Utc.with_ymd_and_hms(2022, 12, 10, 8, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let text = String::from_utf8_lossy(&samples[i % samples.len()].bytes).into_owned();
            let text = if i < samples.len() {
                text
            } else {
                text.replacen("Message-ID: <", &format!("Message-ID: <r{i}."), 1)
            };
            RawMail {
                source_key: format!("m{i:04}"),
                received_at: start + chrono::Duration::minutes(i as i64),
                bytes: text.into_bytes(),
            }
        })
        .collect()
}

/// What the store says of every mail, version and reply, in order.
fn state(intake: &Intake) -> Vec<String> {
    let conn = intake.store.conn();
    let mut out = Vec::new();
    let queries = [
        "SELECT source_key || ' ' || outcome || ' ' || reply_kind || ' ' || \
         coalesce(unit_code, '-') || ' ' || coalesce(duplicate_of, 0) || ' ' || note \
         FROM mails ORDER BY id",
        "SELECT unit_code || ' ' || mail_id || ' ' || code || ' ' || row_count \
         FROM versions ORDER BY id",
        "SELECT mail_id || ' ' || message_id || ' ' || kind || ' ' || status || ' ' || \
         recipients FROM outbox ORDER BY id",
        "SELECT version_id || ' ' || row_id FROM version_rows ORDER BY 1",
    ];
    for q in queries {
        let mut stmt = conn.prepare(q).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        out.extend(rows);
    }
    out
}

#[test]
fn a_batch_records_exactly_what_taking_the_mails_one_by_one_records() {
    let mails = mails(40);
    let one = tempfile::tempdir().unwrap();
    let mut single = intake(one.path());
    for m in &mails {
        single.take("maildir", m).unwrap();
    }
    let many = tempfile::tempdir().unwrap();
    let mut batched = intake(many.path());
    let results = batched.take_batch(
        "maildir",
        mails.iter().map(|m| (m.clone(), How::Normal)).collect(),
    );
    assert_eq!(results.len(), 40);
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    let (a, b) = (state(&single), state(&batched));
    // Several versions per unit, duplicates, and replies: the comparison compares something.
    assert!(
        a.iter().filter(|l| l.contains(" accepted ")).count() > 10,
        "{a:#?}"
    );
    assert!(a.iter().any(|l| l.contains(" duplicate ")), "{a:#?}");
    assert_eq!(a, b);
}

#[test]
fn replies_are_drafts_until_delivered_and_a_broken_draft_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut intake = taken(dir.path(), 9);
    let conn = intake.store.conn();
    let (drafts, empty): (i64, i64) = conn
        .query_row(
            "SELECT count(draft), sum(length(bytes) = 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(drafts >= 5, "every reply waits as a draft: {drafts}");
    assert_eq!(drafts, empty, "a draft has no bytes yet");
    // One draft damaged (as a failing disk or a bad edit would): it alone fails.
    let broken: i64 = conn
        .query_row(
            "SELECT min(id) FROM outbox WHERE draft IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE outbox SET draft = '{\"not\": \"a draft\"}' WHERE id = ?1",
        [broken],
    )
    .unwrap();

    let written = intake.deliver().unwrap();
    assert_eq!(written as i64, drafts - 1);
    let conn = intake.store.conn();
    let left: i64 = conn
        .query_row("SELECT count(draft) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "every draft composed or failed");
    let (status, error): (String, String) = conn
        .query_row(
            "SELECT status, last_error FROM outbox WHERE id = ?1",
            [broken],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("cannot compose the reply"), "{error}");
    // The composed replies are whole mails, written as .eml files.
    let files: Vec<_> = std::fs::read_dir(intake.config.outbox_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len() as i64, drafts - 1);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("In-Reply-To: <"), "{}", f.display());
        assert!(text.contains("Content-Type: multipart/"), "{}", f.display());
    }
}

#[test]
fn a_batch_that_cannot_commit_records_none_of_its_mails() {
    let dir = tempfile::tempdir().unwrap();
    let mut intake = intake(dir.path());
    intake.take("maildir", &mails(1)[0]).unwrap();
    // Another connection holds the write lock past the busy timeout? Too slow for a test;
    // instead a trigger makes the third mail's insert fail the whole batch at commit time.
    let other = rusqlite::Connection::open(intake.config.database_path()).unwrap();
    other
        .execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE guard (id INTEGER PRIMARY KEY, mail_id INTEGER NOT NULL
                 REFERENCES mails(id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER third AFTER INSERT ON mails WHEN NEW.source_key = 'm0003'
             BEGIN INSERT INTO guard (mail_id) VALUES (-1); END;",
        )
        .unwrap();
    let batch: Vec<_> = mails(6)
        .into_iter()
        .skip(1)
        .map(|m| (m, How::Normal))
        .collect();
    let results = intake.take_batch("maildir", batch);
    assert_eq!(results.len(), 5);
    assert!(
        results.iter().all(|r| r.is_err()),
        "a batch that cannot commit fails every mail: {results:?}"
    );
    let n: i64 = intake
        .store
        .conn()
        .query_row("SELECT count(*) FROM mails", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "only the mail taken before");
    // The store is usable afterwards, and the same mails are taken the next time.
    other.execute_batch("DROP TRIGGER third").unwrap();
    let again: Vec<_> = mails(6)
        .into_iter()
        .skip(1)
        .map(|m| (m, How::Normal))
        .collect();
    assert!(
        intake
            .take_batch("maildir", again)
            .iter()
            .all(|r| matches!(r, Ok(Some(_))))
    );
}

#[test]
fn the_wal_is_checkpointed_beside_the_intake_while_it_runs() {
    // The intake's own commits never copy the WAL into the database file; a thread of its own
    // does. Without it, the data would stay in the WAL until the intake closes.
    let dir = tempfile::tempdir().unwrap();
    let intake = taken(dir.path(), 200);
    let db = intake.config.database_path();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let size = || std::fs::metadata(&db).unwrap().len();
    while size() < 1_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file still holds {} bytes: nothing was checkpointed",
            size()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(intake);
}

/// 2 MiB of bytes that do not compress, kept as eight raw mails in one batch.
fn burst(store: &mut cts_intake::store::Store, seed: u32) {
    store
        .batch(|s| {
            for i in 0..8u32 {
                let bytes: Vec<u8> = (0..256 * 1024u32)
                    .map(|j| (j.wrapping_add(seed * 8 + i).wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                s.keep_raw(&bytes)?;
            }
            Ok(())
        })
        .unwrap();
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn during_a_burst_the_wal_is_copied_only_past_its_limit_or_when_asked() {
    // The writer never counts as quiet here: only the WAL's size, or a request after the burst,
    // starts a checkpoint.
    let hour = std::time::Duration::from_secs(3600);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let dir = tempfile::tempdir().unwrap();

    let db = dir.path().join("a.sqlite3");
    let mut store = cts_intake::store::Store::open(&db).unwrap();
    store
        .checkpoint_in_background_with(&db, 1_000_000, hour)
        .unwrap();
    let before = size(&db);
    burst(&mut store, 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        size(&db) < before + 1_000_000,
        "the WAL was copied during the burst, under its limit"
    );
    store.checkpoint_soon();
    wait_for("the WAL was not copied when asked", || {
        size(&db) >= before + 2_000_000
    });
    drop(store);

    // A limit of 64 pages: the burst's own commit passes it.
    let db = dir.path().join("b.sqlite3");
    let mut store = cts_intake::store::Store::open(&db).unwrap();
    store.checkpoint_in_background_with(&db, 64, hour).unwrap();
    let before = size(&db);
    burst(&mut store, 2);
    wait_for("the WAL past its limit was not copied", || {
        size(&db) >= before + 2_000_000
    });
}

#[test]
fn the_rows_a_unit_is_decided_against_are_the_stored_ones_in_their_order() {
    // Each version the intake writes is kept in memory for the unit's next mail: it must be the
    // version as read back from the database, row for row, in the same order.
    let dir = tempfile::tempdir().unwrap();
    let intake = taken(dir.path(), 90);
    let units: Vec<String> = intake
        .store
        .conn()
        .prepare("SELECT DISTINCT unit_code FROM versions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        units.len() >= 2,
        "only {} units have a version",
        units.len()
    );
    let cold = cts_intake::store::Store::open(&intake.config.database_path()).unwrap();
    for unit in &units {
        let warm = intake.store.current_rows(unit).unwrap().unwrap();
        assert!(!warm.is_empty(), "{unit}");
        assert_eq!(warm, cold.current_rows(unit).unwrap().unwrap(), "{unit}");
    }
}

#[test]
fn the_run_summary_shows_the_first_unanswered_mails_and_counts_them_all() {
    // The default rate limit (10 replies an hour to one address) holds most replies of 200 mails
    // from the sample campaign's few senders, a minute apart.
    let dir = tempfile::tempdir().unwrap();
    let intake = taken(dir.path(), 200);
    let conn = intake.store.conn();
    let all = cts_intake::store::query::unanswered(conn).unwrap();
    assert!(all.len() > 10, "only {} unanswered", all.len());
    let (first, count) = cts_intake::store::query::unanswered_first(conn, 10).unwrap();
    assert_eq!(count, all.len());
    let ids = |lines: &[cts_intake::store::query::OutboxLine]| {
        lines.iter().map(|l| l.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&all[..10]));
}

/// A list mail from Nguyễn Khuyến's registered address (source key and Message-ID from `key`),
/// with one attachment `file` listing `people` (name, ID number, request type), sent on
/// 1 December 2022 at 8:00 (+07:00), before the deadline.
fn list_mail(key: &str, subject: &str, file: &str, people: &[(&str, &str, &str)]) -> RawMail {
    use chrono::{FixedOffset, NaiveDate};
    use cts_testkit::{Attachment, CellValue, ListSheet, MailSpec, canonical_headers};
    let rows = people
        .iter()
        .enumerate()
        .map(|(i, (name, id, request))| {
            let serial = if *request == "Gia hạn" {
                "540101AB12CD34EF"
            } else {
                ""
            };
            vec![
                CellValue::Number(i as f64 + 1.0),
                (*name).into(),
                CellValue::Date(NaiveDate::from_ymd_opt(1985, 3, 5).unwrap()),
                (*id).into(),
                "".into(),
                "".into(),
                "Giáo viên".into(),
                "".into(),
                format!("{id}@namdinh.edu.vn").as_str().into(),
                "0912345678".into(),
                (*request).into(),
                serial.into(),
                "".into(),
                "".into(),
                "".into(),
            ]
        })
        .collect();
    let workbook = cts_testkit::xlsx(&[ListSheet {
        name: "Danh sách".into(),
        title_rows: vec!["SỞ GIÁO DỤC VÀ ĐÀO TẠO".into()],
        headers: canonical_headers(),
        rows,
        footer_rows: Vec::new(),
    }]);
    let date = FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(2022, 12, 1, 8, 0, 0)
        .unwrap();
    let spec = MailSpec {
        from: "c3nguyenkhuyen@namdinh.edu.vn".into(),
        from_name: String::new(),
        to: "cttt@namdinh.edu.vn".into(),
        subject: subject.into(),
        date,
        message_id: format!("{key}@nguyenkhuyen.test"),
        body: "Kính gửi Sở.\n".into(),
        attachments: vec![Attachment::xlsx(file, workbook)],
        headers: Vec::new(),
    };
    RawMail {
        source_key: key.into(),
        received_at: date.with_timezone(&Utc),
        bytes: cts_testkit::eml(&spec),
    }
}

/// A unit's list, then a supplement to it, taken by an intake on `data`.
fn list_and_supplement(data: &Path) -> Intake {
    let mut intake = intake(data);
    let first = list_mail(
        "a",
        "Danh sách CTS",
        "ds.xlsx",
        &[("Nguyễn Văn An", "036085001234", "Cấp mới CTS")],
    );
    let supplement = list_mail(
        "b",
        "Danh sách bổ sung",
        "ds-bo-sung.xlsx",
        &[("Trần Thị Bình", "036190004321", "Gia hạn")],
    );
    for m in [first, supplement] {
        let taken = intake.take("maildir", &m).unwrap();
        assert_eq!(taken.outcome, OutcomeKind::Accepted, "{}", taken.note);
    }
    intake
}

/// The replies written into the outbox folder, as their readers see them, by file name.
fn replies_written(intake: &Intake) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(intake.config.outbox_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| crate::support::reply_summary(&std::fs::read(f).unwrap()))
        .collect()
}

#[test]
fn an_accepted_list_s_draft_names_its_version_and_its_reply_lists_every_row_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut intake = list_and_supplement(dir.path());
    let conn = intake.store.conn();
    let drafts: Vec<(String, Option<i64>, i64)> = conn
        .prepare(
            "SELECT o.draft, o.version_id, (SELECT count(*) FROM version_rows vr \
             WHERE vr.version_id = o.version_id) FROM outbox o ORDER BY o.id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(drafts.len(), 2, "one reply per mail");
    // The draft holds neither the version's rows nor the mail's own: its outbox row names the
    // version, which holds one row, then two (the supplement adds to the list).
    for ((draft, version, rows), expected) in drafts.iter().zip([1, 2]) {
        let json: serde_json::Value = serde_json::from_str(draft).unwrap();
        let outcome = &json["outcome"];
        assert_eq!(outcome["rows"], serde_json::json!([]), "{draft}");
        assert!(outcome["version"].is_object(), "{draft}");
        assert!(outcome["version"].get("rows").is_none(), "{draft}");
        assert!(version.is_some(), "{draft}");
        assert_eq!(*rows, expected);
    }

    intake.deliver().unwrap();
    let replies = replies_written(&intake);
    assert_eq!(replies.len(), 2);
    let supplement = replies
        .iter()
        .find(|r| r.contains("Trần Thị Bình"))
        .expect("the supplement's reply");
    // The supplement's reply lists the whole list: the row it carried over and its own.
    assert!(supplement.contains("Nguyễn Văn An"), "{supplement}");
}

#[test]
fn a_draft_written_with_its_version_s_rows_is_composed_as_before() {
    // Drafts stored before the outbox named versions (migration 7) hold the version's rows.
    let new = tempfile::tempdir().unwrap();
    let mut by_id = list_and_supplement(new.path());
    let old = tempfile::tempdir().unwrap();
    let mut inline = list_and_supplement(old.path());
    let conn = inline.store.conn();
    let drafts: Vec<(i64, String, i64)> = conn
        .prepare("SELECT id, draft, version_id FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (id, draft, version) in drafts {
        let rows: Vec<_> = cts_intake::store::query::version_rows(conn, version)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let mut json: serde_json::Value = serde_json::from_str(&draft).unwrap();
        json["outcome"]["version"]["rows"] = serde_json::to_value(&rows).unwrap();
        conn.execute(
            "UPDATE outbox SET draft = ?2, version_id = NULL WHERE id = ?1",
            rusqlite::params![id, json.to_string()],
        )
        .unwrap();
    }
    by_id.deliver().unwrap();
    inline.deliver().unwrap();
    let (a, b) = (replies_written(&by_id), replies_written(&inline));
    assert_eq!(a.len(), 2);
    assert!(
        b.iter()
            .any(|r| r.contains("Nguyễn Văn An") && r.contains("Trần Thị Bình")),
        "{b:#?}"
    );
    assert_eq!(a, b);
}

/// The drafts the outbox holds for the sample campaign, byte for byte: the JSON that mails taken
/// by one version of cts-intake leave for another to compose (a change to the draft's types
/// must keep it readable, so it shows here first).
#[test]
fn the_outbox_drafts_of_the_sample_campaign_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let n = cts_testkit::sample_mails().len();
    let intake = taken(dir.path(), n);
    let drafts: Vec<String> = intake
        .store
        .conn()
        .prepare("SELECT draft FROM outbox WHERE draft IS NOT NULL ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(drafts.len() >= 5, "{drafts:#?}");
    crate::support::golden(
        &root().join("tests/expected/drafts.jsonl"),
        &(drafts.join("\n") + "\n"),
    );
}
