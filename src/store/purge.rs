//! `cts-intake purge --before DATE`: the personal data of mails received before DATE leaves the
//! database, their counts stay (see migration 011). For each such mail: its raw bytes (unless a
//! later mail has the same bytes), its rows (unless a later list still holds them: a unit's
//! current list may carry rows over from an older mail), its problems (they quote cell values),
//! and the bytes and draft of its replies. The mail's row stays, marked `purged_at`, with its
//! sender, unit, outcome and reply kind; each version keeps its code and row count. Then
//! VACUUM rewrites the file so the freed pages are really gone.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::Store;

/// The mails a purge takes, by `julianday` so any RFC 3339 spelling compares as an instant.
const PURGED_MAILS: &str =
    "SELECT id FROM mails WHERE purged_at IS NULL AND julianday(received_at) < julianday(?1)";

/// What a purge would remove, and what asks for a confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgePlan {
    pub mails: i64,
    pub rows: i64,
    pub problems: i64,
    pub replies: i64,
    /// Replies of those mails not delivered yet (pending or held): a purge ends them as failed.
    pub undelivered: i64,
    /// Units whose current list (the one the report consolidates) is among those mails.
    pub current_lists: Vec<String>,
}

/// What a purge removed; `reply_ids` are the Message-IDs of the replies emptied, for their .eml
/// files.
#[derive(Debug, Clone, Default)]
pub struct Purged {
    pub plan: PurgePlan,
    pub reply_ids: Vec<String>,
}

/// Every statement names the purged mails as `PURGED`.
fn sql(s: &str) -> String {
    s.replace("PURGED", PURGED_MAILS)
}

/// The plan, on the store's connection or inside the purge's transaction.
fn plan_on(conn: &rusqlite::Connection, before: &str) -> Result<PurgePlan> {
    let count = |s: &str| -> Result<i64> { Ok(conn.query_row(&sql(s), [before], |r| r.get(0))?) };
    let mut stmt = conn.prepare(&sql(
        "SELECT v.unit_code FROM versions v JOIN mails m ON m.id = v.mail_id \
         WHERE v.id = (SELECT v2.id FROM versions v2 JOIN mails m2 ON m2.id = v2.mail_id \
           WHERE v2.unit_code = v.unit_code AND m2.superseded_by IS NULL \
           ORDER BY v2.written_at DESC, v2.id DESC LIMIT 1) \
         AND v.mail_id IN (PURGED) ORDER BY v.unit_code",
    ))?;
    let current_lists = stmt
        .query_map([before], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(PurgePlan {
        mails: count("SELECT count(*) FROM (PURGED)")?,
        rows: count(&format!(
            "SELECT count(*) FROM rows WHERE mail_id IN (PURGED) AND {UNHELD_ROW}"
        ))?,
        problems: count("SELECT count(*) FROM problems WHERE mail_id IN (PURGED)")?,
        replies: count("SELECT count(*) FROM outbox WHERE mail_id IN (PURGED)")?,
        undelivered: count(
            "SELECT count(*) FROM outbox WHERE mail_id IN (PURGED) \
             AND status IN ('pending', 'held')",
        )?,
        current_lists,
    })
}

impl Store {
    /// What `purge(before)` would do, changing nothing.
    pub fn purge_plan(&self, before: DateTime<Utc>) -> Result<PurgePlan> {
        plan_on(&self.conn, &before.to_rfc3339())
    }

    /// Removes the personal data of every mail received before `before`, in one transaction,
    /// then rewrites the database file (VACUUM) and truncates its WAL. Returns what it removed;
    /// `wal_truncated` false means another connection (the daemon) was reading, so the WAL is
    /// emptied at its next checkpoint instead.
    pub fn purge(&mut self, before: DateTime<Utc>) -> Result<(Purged, bool)> {
        let b = before.to_rfc3339();
        let now = Utc::now().to_rfc3339();
        // Freed pages are overwritten with zeros as they are freed, VACUUM or not.
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        let tx = self.conn.transaction()?;
        // Read inside the transaction: what this purge removes.
        let plan = plan_on(&tx, &b)?;
        let mut stmt = tx.prepare(&sql(
            "SELECT message_id FROM outbox WHERE mail_id IN (PURGED) ORDER BY id",
        ))?;
        let reply_ids: Vec<String> = stmt
            .query_map([&b], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        tx.execute(
            &sql("UPDATE outbox SET status = 'failed', \
                 last_error = 'purged before it was delivered' \
                 WHERE mail_id IN (PURGED) AND status IN ('pending', 'held')"),
            [&b],
        )?;
        tx.execute(
            &sql("UPDATE outbox SET bytes = X'', draft = NULL, copy_owed = 0 WHERE mail_id IN (PURGED)"),
            [&b],
        )?;
        tx.execute(&sql("DELETE FROM problems WHERE mail_id IN (PURGED)"), [&b])?;
        // The purged mails' versions let go of their rows; a later version keeps its own.
        tx.execute(
            &sql("DELETE FROM version_rows WHERE version_id IN \
                 (SELECT id FROM versions WHERE mail_id IN (PURGED))"),
            [&b],
        )?;
        tx.execute(
            &sql(&format!(
                "DELETE FROM rows WHERE mail_id IN (PURGED) AND {UNHELD_ROW}"
            )),
            [&b],
        )?;
        tx.execute(
            &sql(
                "DELETE FROM raw_mails WHERE sha256 IN (SELECT sha256 FROM mails WHERE id IN \
                 (PURGED)) AND sha256 NOT IN (SELECT sha256 FROM mails WHERE id NOT IN (PURGED))",
            ),
            [&b],
        )?;
        tx.execute(
            &sql("UPDATE mails SET purged_at = ?2 WHERE id IN (PURGED)"),
            params![&b, &now],
        )?;
        tx.execute(
            "INSERT INTO purges (at, before, mails, rows, problems, replies) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now, b, plan.mails, plan.rows, plan.problems, plan.replies],
        )?;
        tx.commit()?;
        self.conn.execute_batch("VACUUM")?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok((Purged { plan, reply_ids }, busy == 0))
    }

    /// Mails purged so far.
    pub fn purged_mails(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM mails WHERE purged_at IS NOT NULL",
            [],
            |r| r.get(0),
        )?)
    }
}

/// A row no version outside the purge holds (a later list may carry an older mail's row over).
const UNHELD_ROW: &str = "id NOT IN (SELECT row_id FROM version_rows WHERE version_id IN \
     (SELECT id FROM versions WHERE mail_id NOT IN (PURGED)))";
