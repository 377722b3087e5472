//! The staff desk's queries: a mail and its replies, a unit's mails, the people of every list,
//! and the changes the desk makes itself (a held mail ignored or rejected, a unit marked as
//! having nobody to request).

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;

/// A mail as the desk shows it.
#[derive(Debug, Clone)]
pub struct MailDetail {
    pub id: i64,
    pub message_id: String,
    pub received_at: String,
    pub from: String,
    pub from_name: String,
    pub subject: String,
    pub unit_code: Option<String>,
    pub trust: String,
    pub outcome: String,
    pub reply_kind: String,
    pub late: bool,
    pub note: String,
    /// The raw bytes' hash, in `raw_mails`.
    pub sha256: String,
    pub size: i64,
}

const MAIL_COLUMNS: &str = "m.id, m.message_id, m.received_at, m.from_addr, m.from_name, \
    m.subject, m.unit_code, m.trust, m.outcome, m.reply_kind, m.late, m.note, m.sha256, m.size";

fn mail_from(r: &rusqlite::Row) -> rusqlite::Result<MailDetail> {
    Ok(MailDetail {
        id: r.get(0)?,
        message_id: r.get(1)?,
        received_at: r.get(2)?,
        from: r.get(3)?,
        from_name: r.get(4)?,
        subject: r.get(5)?,
        unit_code: r.get(6)?,
        trust: r.get(7)?,
        outcome: r.get(8)?,
        reply_kind: r.get(9)?,
        late: r.get(10)?,
        note: r.get(11)?,
        sha256: r.get(12)?,
        size: r.get(13)?,
    })
}

/// One mail by its id (replayed ones too: a link to it may be old).
pub fn mail(conn: &Connection, id: i64) -> Result<Option<MailDetail>> {
    Ok(conn
        .query_row(
            &format!("SELECT {MAIL_COLUMNS} FROM mails m WHERE m.id = ?1"),
            [id],
            mail_from,
        )
        .optional()?)
}

/// The mails held for staff, oldest first.
pub fn held_mails(conn: &Connection) -> Result<Vec<MailDetail>> {
    mails_where(conn, "m.outcome = 'held'", params![])
}

/// A unit's mails, in the order taken.
pub fn unit_mails(conn: &Connection, unit_code: &str) -> Result<Vec<MailDetail>> {
    mails_where(conn, "m.unit_code = ?1", params![unit_code])
}

fn mails_where(
    conn: &Connection,
    condition: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Vec<MailDetail>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {MAIL_COLUMNS} FROM mails m WHERE {condition} AND m.superseded_by IS NULL \
         ORDER BY m.id"
    ))?;
    let lines = stmt
        .query_map(values, mail_from)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// A reply in the outbox, as the desk lists it.
#[derive(Debug, Clone)]
pub struct ReplyLine {
    pub id: i64,
    pub mail_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub recipients: Vec<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// The answered mail's Message-ID, sender and subject ('' for a reminder).
    pub mail_message_id: String,
    pub mail_from: String,
    pub mail_subject: String,
    pub unit_code: Option<String>,
}

fn replies_where(
    conn: &Connection,
    condition: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ReplyLine>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT o.id, o.mail_id, o.kind, o.status, o.recipients, o.attempts, o.last_error, \
         o.created_at, o.sent_at, coalesce(m.from_addr, ''), coalesce(m.subject, ''), \
         m.unit_code, coalesce(m.message_id, '') FROM outbox o LEFT JOIN mails m ON m.id = o.mail_id WHERE {condition} \
         ORDER BY o.id"
    ))?;
    let lines = stmt
        .query_map(values, |r| {
            let recipients: String = r.get(4)?;
            Ok(ReplyLine {
                id: r.get(0)?,
                mail_id: r.get(1)?,
                kind: r.get(2)?,
                status: r.get(3)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                created_at: r.get(7)?,
                sent_at: r.get(8)?,
                mail_from: r.get(9)?,
                mail_subject: r.get(10)?,
                unit_code: r.get(11)?,
                mail_message_id: r.get(12)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// The replies to one mail.
pub fn mail_replies(conn: &Connection, mail_id: i64) -> Result<Vec<ReplyLine>> {
    replies_where(conn, "o.mail_id = ?1", params![mail_id])
}

/// The replies to a unit's mails.
pub fn unit_replies(conn: &Connection, unit_code: &str) -> Result<Vec<ReplyLine>> {
    replies_where(conn, "m.unit_code = ?1", params![unit_code])
}

/// Replies held (rate limit) or failed: staff release or retry them.
pub fn stuck_replies(conn: &Connection) -> Result<Vec<ReplyLine>> {
    replies_where(conn, "o.status IN ('held', 'failed')", params![])
}

/// One reply by its id.
pub fn reply(conn: &Connection, id: i64) -> Result<Option<ReplyLine>> {
    Ok(replies_where(conn, "o.id = ?1", params![id])?
        .into_iter()
        .next())
}

/// When the last reply was delivered.
pub fn last_reply_sent(conn: &Connection) -> Result<Option<String>> {
    Ok(conn.query_row(
        "SELECT max(sent_at) FROM outbox WHERE status = 'sent'",
        [],
        |r| r.get(0),
    )?)
}

/// A person in some list, for the search.
#[derive(Debug, Clone)]
pub struct PersonLine {
    pub row_id: i64,
    pub unit_code: Option<String>,
    pub request_type: String,
    pub full_name: String,
    pub id_number: String,
    pub birth_date: Option<String>,
    pub mail_id: i64,
    pub received_at: String,
    pub source_file: String,
    pub source_row: i64,
    /// The row is in its unit's current version.
    pub current: bool,
}

/// Every stored row's id, name and ID number (what the search compares), in the order stored.
pub fn person_keys(conn: &Connection) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT r.id, r.full_name, r.id_number FROM rows r JOIN mails m ON m.id = r.mail_id \
         WHERE m.superseded_by IS NULL ORDER BY r.id",
    )?;
    let keys = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(keys)
}

/// The rows with these ids, with their mail and whether they are current.
pub fn persons(conn: &Connection, ids: &[i64]) -> Result<Vec<PersonLine>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.unit_code, r.request_type, r.full_name, r.id_number, r.birth_date, \
         r.mail_id, m.received_at, r.source_file, r.source_row, \
         EXISTS (SELECT 1 FROM version_rows vr WHERE vr.row_id = r.id AND vr.version_id = \
           (SELECT v.id FROM versions v JOIN mails m2 ON m2.id = v.mail_id \
            WHERE v.unit_code = r.unit_code AND m2.superseded_by IS NULL \
            ORDER BY v.written_at DESC, v.id DESC LIMIT 1)) \
         FROM rows r JOIN mails m ON m.id = r.mail_id WHERE r.id = ?1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = stmt
            .query_row([id], |r| {
                Ok(PersonLine {
                    row_id: r.get(0)?,
                    unit_code: r.get(1)?,
                    request_type: r.get(2)?,
                    full_name: r.get(3)?,
                    id_number: r.get(4)?,
                    birth_date: r.get(5)?,
                    mail_id: r.get(6)?,
                    received_at: r.get(7)?,
                    source_file: r.get(8)?,
                    source_row: r.get(9)?,
                    current: r.get(10)?,
                })
            })
            .optional()?
        {
            out.push(p);
        }
    }
    Ok(out)
}

impl Store {
    /// Staff decided a held mail needs no answer: it becomes `ignored` (its note kept). False
    /// when the mail is not (or no longer) held.
    pub fn ignore_held_mail(&self, id: i64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE mails SET outcome = 'ignored', reply_kind = 'none' \
             WHERE id = ?1 AND outcome = 'held' AND superseded_by IS NULL",
            [id],
        )?;
        Ok(n == 1)
    }

    /// The sender's address of the mail row `id`, as stored (lower case; empty when the From
    /// was not one plain address).
    pub fn sender_of(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT from_addr FROM mails WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Staff rejected a held mail: it becomes `rejected`, and `reply` (the clerk's reason, for
    /// the sender) goes into the outbox with it, in one transaction. False when the mail is not
    /// (or no longer) held; nothing is written then.
    pub fn reject_held_mail(&self, id: i64, reply: Option<&super::OutgoingReply>) -> Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let n = tx.execute(
            "UPDATE mails SET outcome = 'rejected', reply_kind = 'none' \
             WHERE id = ?1 AND outcome = 'held' AND superseded_by IS NULL",
            [id],
        )?;
        if n != 1 {
            return Ok(false);
        }
        if let Some(r) = reply {
            tx.execute(
                "INSERT INTO outbox (mail_id, message_id, kind, recipients, bytes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    r.message_id,
                    r.kind,
                    serde_json::to_string(&r.recipients)?,
                    r.bytes,
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
                ],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The mail row that superseded row `id` when it was processed again, if any.
    pub fn successor_of(&self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT superseded_by FROM mails WHERE id = ?1", [id], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten())
    }

    /// Whether staff marked the unit `code` as having nobody to request.
    pub fn is_no_need(&self, code: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM unit_no_need WHERE unit_code = ?1",
                [code],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Marks the unit `code` as having nobody to request (`on`), or takes the mark back. False
    /// when nothing changed.
    pub fn set_no_need(&self, code: &str, on: bool, username: &str, note: &str) -> Result<bool> {
        let n = if on {
            self.conn.execute(
                "INSERT OR IGNORE INTO unit_no_need (unit_code, since, username, note) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    code,
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    username,
                    note
                ],
            )?
        } else {
            self.conn
                .execute("DELETE FROM unit_no_need WHERE unit_code = ?1", [code])?
        };
        Ok(n == 1)
    }
}

impl Store {
    /// Whether a mail to staff of `kind` was written for `key` (a day, an outage).
    pub fn has_notice(&self, kind: &str, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM staff_notices WHERE kind = ?1 AND key = ?2",
                params![kind, key],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether the last polling alert written says "down" (no "up" written after it).
    pub fn poll_alert_open(&self) -> Result<bool> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT kind FROM staff_notices WHERE kind IN ('poll_down', 'poll_up') \
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(last.as_deref() == Some("poll_down"))
    }

    /// Writes a mail to staff into the outbox with its notice, in one transaction; false (and
    /// nothing written) when one of `kind` was written for `key` already.
    pub fn add_notice(&self, kind: &str, key: &str, mail: &super::OutgoingReply) -> Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        let n = tx.execute(
            "INSERT OR IGNORE INTO staff_notices (kind, key, created_at) VALUES (?1, ?2, ?3)",
            params![kind, key, now],
        )?;
        if n == 0 {
            return Ok(false);
        }
        let notice = tx.last_insert_rowid();
        let outbox_id = super::paper::insert_mail_of_no_mail(&tx, mail, &now)?;
        tx.execute(
            "UPDATE staff_notices SET outbox_id = ?1 WHERE id = ?2",
            params![outbox_id, notice],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

/// The units marked as having nobody to request, by code.
pub fn no_need_units(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare("SELECT unit_code FROM unit_no_need")?;
    let codes = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(codes)
}
