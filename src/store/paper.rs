//! Paper copies and reminders (migration 003): the receipts staff record, the reminders written
//! into the outbox, and the read-only queries the reconciliation needs beside them (every
//! version of every unit, failed replies).

use anyhow::Result;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use super::{OutgoingReply, Store};

/// Now, RFC 3339 to the second, as the other times in the CSVs.
fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// One accepted version of a unit's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLine {
    pub id: i64,
    pub unit_code: String,
    /// 1 for the unit's first accepted version, 2 for the next...
    pub number: usize,
    pub code: String,
    pub row_count: usize,
    /// When the mail that made it reached the mailbox (RFC 3339).
    pub received_at: String,
}

/// Every accepted version, by unit then in the order their lists were written (the last is
/// the current one).
pub fn versions(conn: &Connection) -> Result<Vec<VersionLine>> {
    let mut stmt = conn.prepare(
        "SELECT v.id, v.unit_code, v.code, v.row_count, m.received_at \
         FROM versions v JOIN mails m ON m.id = v.mail_id ORDER BY v.unit_code, v.written_at, v.id",
    )?;
    let mut lines: Vec<VersionLine> = stmt
        .query_map([], |r| {
            Ok(VersionLine {
                id: r.get(0)?,
                unit_code: r.get(1)?,
                number: 0,
                code: r.get(2)?,
                row_count: r.get::<_, i64>(3)? as usize,
                received_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut previous: Option<String> = None;
    let mut n = 0;
    for l in &mut lines {
        if previous.as_deref() != Some(l.unit_code.as_str()) {
            n = 0;
            previous = Some(l.unit_code.clone());
        }
        n += 1;
        l.number = n;
    }
    Ok(lines)
}

/// A paper copy as staff recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    pub id: i64,
    pub unit_code: String,
    /// When staff recorded it (RFC 3339).
    pub received_at: String,
    /// The code written on the paper, normalised; empty when none was given.
    pub code: String,
    pub row_count: Option<usize>,
    pub note: String,
    /// The verdict given at the time (`match`, `wrong_rows`, ...).
    pub verdict: String,
    pub version_id: Option<i64>,
    /// Set by `paper undo`; an undone receipt is kept but no longer counts.
    pub undone_at: Option<String>,
}

/// A receipt to record.
#[derive(Debug, Clone)]
pub struct NewReceipt<'a> {
    pub unit_code: &'a str,
    pub code: &'a str,
    pub row_count: Option<usize>,
    pub note: &'a str,
    pub verdict: &'a str,
    pub version_id: Option<i64>,
}

const RECEIPT_COLUMNS: &str =
    "id, unit_code, received_at, code, row_count, note, verdict, version_id, undone_at";

fn receipt_from(r: &rusqlite::Row) -> rusqlite::Result<ReceiptLine> {
    Ok(ReceiptLine {
        id: r.get(0)?,
        unit_code: r.get(1)?,
        received_at: r.get(2)?,
        code: r.get(3)?,
        row_count: r.get::<_, Option<i64>>(4)?.map(|n| n as usize),
        note: r.get(5)?,
        verdict: r.get(6)?,
        version_id: r.get(7)?,
        undone_at: r.get(8)?,
    })
}

/// Every receipt, undone ones included, in the order recorded.
pub fn receipts(conn: &Connection) -> Result<Vec<ReceiptLine>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RECEIPT_COLUMNS} FROM paper_receipts ORDER BY id"
    ))?;
    let lines = stmt
        .query_map([], receipt_from)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// A reply the outbox could not deliver and gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedReply {
    pub message_id: String,
    pub kind: String,
    pub recipients: Vec<String>,
    /// The unit of the mail answered (or reminded).
    pub unit_code: Option<String>,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
}

/// Replies whose status is `failed`.
pub fn failed_replies(conn: &Connection) -> Result<Vec<FailedReply>> {
    let mut stmt = conn.prepare(
        "SELECT o.message_id, o.kind, o.recipients, coalesce(m.unit_code, rm.unit_code), \
         o.attempts, coalesce(o.last_error, ''), o.created_at \
         FROM outbox o LEFT JOIN mails m ON m.id = o.mail_id \
         LEFT JOIN reminders rm ON rm.outbox_id = o.id \
         WHERE o.status = 'failed' ORDER BY o.id",
    )?;
    let lines = stmt
        .query_map([], |r| {
            let recipients: String = r.get(2)?;
            Ok(FailedReply {
                message_id: r.get(0)?,
                kind: r.get(1)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                unit_code: r.get(3)?,
                attempts: r.get(4)?,
                last_error: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// A reminder written into the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderLine {
    pub unit_code: String,
    /// YYYY-MM-DD in the campaign's time zone.
    pub day: String,
    pub reason: String,
    pub created_at: String,
}

/// Every reminder, in the order written.
pub fn reminders(conn: &Connection) -> Result<Vec<ReminderLine>> {
    let mut stmt =
        conn.prepare("SELECT unit_code, day, reason, created_at FROM reminders ORDER BY id")?;
    let lines = stmt
        .query_map([], |r| {
            Ok(ReminderLine {
                unit_code: r.get(0)?,
                day: r.get(1)?,
                reason: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

impl Store {
    /// Records a paper copy; returns the stored receipt.
    pub fn add_receipt(&self, r: &NewReceipt) -> Result<ReceiptLine> {
        self.conn.execute(
            "INSERT INTO paper_receipts (unit_code, received_at, code, row_count, note, verdict, \
             version_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.unit_code,
                now(),
                r.code,
                r.row_count.map(|n| n as i64),
                r.note,
                r.verdict,
                r.version_id
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        Ok(self.conn.query_row(
            &format!("SELECT {RECEIPT_COLUMNS} FROM paper_receipts WHERE id = ?1"),
            [id],
            receipt_from,
        )?)
    }

    /// Undoes the latest receipt still counting (of `unit` when given); returns it, or None
    /// when there is nothing to undo. The receipt is kept, marked with the time it was undone.
    pub fn undo_receipt(&self, unit: Option<&str>) -> Result<Option<ReceiptLine>> {
        let last: Option<ReceiptLine> = self
            .conn
            .query_row(
                &format!(
                    "SELECT {RECEIPT_COLUMNS} FROM paper_receipts WHERE undone_at IS NULL \
                     AND (?1 IS NULL OR unit_code = ?1) ORDER BY id DESC LIMIT 1"
                ),
                [unit],
                receipt_from,
            )
            .optional()?;
        let Some(mut last) = last else {
            return Ok(None);
        };
        let now = now();
        self.conn.execute(
            "UPDATE paper_receipts SET undone_at = ?2 WHERE id = ?1",
            params![last.id, now],
        )?;
        last.undone_at = Some(now);
        Ok(Some(last))
    }

    /// True when the unit was already reminded on `day`.
    pub fn reminded_on(&self, unit_code: &str, day: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM reminders WHERE unit_code = ?1 AND day = ?2",
                params![unit_code, day],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Writes a reminder into the outbox (delivered like a reply) and records it, in one
    /// transaction. Returns false, writing nothing, when the unit was already reminded that day.
    pub fn add_reminder(
        &mut self,
        unit_code: &str,
        day: &str,
        reason: &str,
        mail: &OutgoingReply,
    ) -> Result<bool> {
        let now = now();
        let tx = self.conn.transaction()?;
        let already: Option<i64> = tx
            .query_row(
                "SELECT id FROM reminders WHERE unit_code = ?1 AND day = ?2",
                params![unit_code, day],
                |r| r.get(0),
            )
            .optional()?;
        if already.is_some() {
            return Ok(false);
        }
        let outbox_id = insert_mail_of_no_mail(&tx, mail, &now)?;
        tx.execute(
            "INSERT INTO reminders (unit_code, day, reason, outbox_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![unit_code, day, reason, outbox_id, now],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

/// Puts a mail that answers no mail (a reminder, a mail to staff) into the outbox, delivered
/// like a reply; gives its outbox id.
pub(crate) fn insert_mail_of_no_mail(
    tx: &Connection,
    mail: &OutgoingReply,
    now: &str,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO outbox (mail_id, message_id, kind, recipients, bytes, created_at) \
         VALUES (NULL, ?1, ?2, ?3, ?4, ?5)",
        params![
            mail.message_id,
            mail.kind,
            serde_json::to_string(&mail.recipients)?,
            mail.bytes,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        (dir, s)
    }

    fn reminder(id: &str) -> OutgoingReply {
        OutgoingReply {
            message_id: id.into(),
            kind: "reminder".into(),
            recipients: vec!["a@namdinh.edu.vn".into()],
            bytes: b"Subject: x\r\n\r\nx".to_vec(),
            held: None,
            draft: None,
        }
    }

    #[test]
    fn a_reminder_needs_no_mail_and_is_written_once_a_day() {
        let (_dir, mut s) = store();
        assert!(
            s.add_reminder("U1", "2022-12-15", "no_list", &reminder("r1"))
                .unwrap()
        );
        assert!(
            !s.add_reminder("U1", "2022-12-15", "no_list", &reminder("r2"))
                .unwrap(),
            "a second reminder the same day is refused"
        );
        assert!(
            s.add_reminder("U1", "2022-12-16", "no_list", &reminder("r3"))
                .unwrap()
        );
        assert!(s.reminded_on("U1", "2022-12-15").unwrap());
        assert!(!s.reminded_on("U2", "2022-12-15").unwrap());
        let pending = s.pending_replies().unwrap();
        assert_eq!(pending.len(), 2, "delivered from the outbox like replies");
    }

    #[test]
    fn the_schema_change_survives_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite3");
        drop(Store::open(&db).unwrap());
        let mut s = Store::open(&db).unwrap();
        assert!(
            s.add_reminder("U1", "d", "no_list", &reminder("r1"))
                .unwrap()
        );
        let check: String = s
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn undo_marks_the_latest_receipt_and_keeps_it() {
        let (_dir, s) = store();
        let r = |unit: &'static str| NewReceipt {
            unit_code: unit,
            code: "ABCDEFGH",
            row_count: Some(3),
            note: "",
            verdict: "unchecked",
            version_id: None,
        };
        s.add_receipt(&r("U1")).unwrap();
        s.add_receipt(&r("U2")).unwrap();
        let undone = s.undo_receipt(Some("U1")).unwrap().unwrap();
        assert_eq!(undone.unit_code, "U1");
        assert!(s.undo_receipt(Some("U1")).unwrap().is_none());
        let all = receipts(s.conn()).unwrap();
        assert_eq!(all.len(), 2, "an undone receipt is kept");
        assert!(all[0].undone_at.is_some() && all[1].undone_at.is_none());
        assert_eq!(s.undo_receipt(None).unwrap().unwrap().unit_code, "U2");
    }
}
