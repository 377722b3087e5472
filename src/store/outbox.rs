//! The outbox's delivery state: what is due, what was sent, what failed or is held. A reply is
//! written by [`Store::record`] with its result; from then on only these functions change it.

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};

use super::{OutboxItem, Store};

/// Where a reply stands (the `outbox.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its first attempt, or for `next_attempt_at` after a transient failure.
    Pending,
    /// Accepted by the SMTP server, or written to the outbox folder.
    Sent,
    /// Refused for good (a 5xx answer) or undelivered past the give-up time.
    Failed,
    /// Over the per-recipient rate limit: kept for staff, never sent automatically.
    Held,
}

impl OutboxStatus {
    pub fn code(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
            OutboxStatus::Held => "held",
        }
    }

    pub fn from_code(code: &str) -> Option<OutboxStatus> {
        [
            OutboxStatus::Pending,
            OutboxStatus::Sent,
            OutboxStatus::Failed,
            OutboxStatus::Held,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// The one format for times the sender compares as text (`next_attempt_at`).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A reply still to be composed, and the mail it answers.
#[derive(Debug, Clone)]
pub struct PendingDraft {
    pub id: i64,
    /// The reply's Message-ID (the name of its .eml file).
    pub message_id: String,
    /// JSON of `outbox::drafts::Draft`.
    pub draft: String,
    /// The answered mail's raw bytes.
    pub raw: Vec<u8>,
    /// The rows of the version the reply lists, for an accepted list whose draft names its
    /// version instead of holding them (see `outbox::drafts`), in the version's order.
    pub version_rows: Option<Vec<crate::validate::ValidRow>>,
}

impl Store {
    /// Pending replies after id `after_id` whose next attempt is due at `now`, oldest first, at
    /// most `limit`.
    pub fn due_replies_after(
        &self,
        after_id: i64,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.outbox_items(
            "status = 'pending' AND draft IS NULL AND id > ?1 \
             AND (next_attempt_at IS NULL OR next_attempt_at <= ?2) ORDER BY id LIMIT ?3",
            params![after_id, stamp(now), limit as i64],
        )
    }

    /// When the earliest pending reply is due (`None` when nothing is pending; a time in the
    /// past when something is due now).
    pub fn next_reply_due(&self) -> Result<Option<DateTime<Utc>>> {
        // '' (never tried) sorts before every time: due now.
        let min: Option<String> = self.conn.query_row(
            "SELECT min(coalesce(next_attempt_at, '')) FROM outbox WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(min.map(|m| {
            DateTime::parse_from_rfc3339(&m)
                .map(|t| t.to_utc())
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        }))
    }

    /// Marks a reply accepted by the server, keeping the server's answer (its queue id). With
    /// `copy_owed`, the same update records that a copy for the Sent folder is owed (see
    /// [`Store::owed_copies`]).
    pub fn mark_delivered(&self, id: i64, server_response: &str, copy_owed: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, \
             last_error = NULL, next_attempt_at = NULL, server_response = ?3, copy_owed = ?4 \
             WHERE id = ?1",
            params![id, Utc::now().to_rfc3339(), server_response, copy_owed],
        )?;
        Ok(())
    }

    /// Sent replies whose copy for the Sent folder is still owed (a crash between the send and
    /// the copy, or the IMAP server down), oldest first, at most `limit`.
    pub fn owed_copies(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        self.outbox_items(
            "status = 'sent' AND copy_owed = 1 AND copied_at IS NULL ORDER BY id LIMIT ?1",
            params![limit as i64],
        )
    }

    /// Records that the copy of a reply is in the Sent folder.
    pub fn mark_copied(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET copied_at = ?2 WHERE id = ?1 AND copied_at IS NULL",
            params![id, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// Records a transient failure; the reply stays pending until `next_attempt_at`.
    pub fn mark_retry(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
             WHERE id = ?1",
            params![id, error, stamp(next_attempt_at)],
        )?;
        Ok(())
    }

    /// Marks a reply failed for good (the server refused it, or we gave up).
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, \
             next_attempt_at = NULL WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    /// Puts a held or failed reply back in the queue (staff decided it should go out).
    /// Returns false when there is no such reply in one of those states.
    pub fn release_reply(&self, id: i64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = NULL \
             WHERE id = ?1 AND status IN ('held', 'failed')",
            [id],
        )?;
        Ok(n == 1)
    }

    /// How many replies (held ones aside) went to `address` for mails received in the hour
    /// before `received_at` (inclusive), counted up to `cap`: the per-recipient rate limit
    /// counts these. An index range, never a scan of the outbox.
    pub fn replies_to_within_hour(
        &self,
        address: &str,
        received_at: DateTime<Utc>,
        cap: u32,
    ) -> Result<u32> {
        let since = received_at - chrono::Duration::hours(1);
        let n: u32 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM reply_recipients \
                 WHERE address = ?1 AND received_at > ?2 AND received_at <= ?3 LIMIT ?4)",
            )?
            .query_row(
                params![
                    address.to_ascii_lowercase(),
                    since.to_rfc3339(),
                    received_at.to_rfc3339(),
                    cap
                ],
                |r| r.get(0),
            )?;
        Ok(n)
    }

    /// How many replies (held ones aside) were written for mails received in the hour before
    /// `received_at` (inclusive), counted up to `cap`: the overall reply budget counts these.
    pub fn replies_within_hour(&self, received_at: DateTime<Utc>, cap: u32) -> Result<u32> {
        let since = received_at - chrono::Duration::hours(1);
        let n: u32 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT DISTINCT outbox_id FROM reply_recipients \
                 WHERE received_at > ?1 AND received_at <= ?2 LIMIT ?3)",
            )?
            .query_row(
                params![since.to_rfc3339(), received_at.to_rfc3339(), cap],
                |r| r.get(0),
            )?;
        Ok(n)
    }

    /// How many replies (held ones aside) answered mails from unregistered senders of `domain`
    /// received in the hour before `received_at` (inclusive), counted up to `cap`; with
    /// `subdomains`, senders of its subdomains count too. The per-domain reply budget.
    pub fn unregistered_replies_within_hour(
        &self,
        domain: &str,
        subdomains: bool,
        received_at: DateTime<Utc>,
        cap: u32,
    ) -> Result<u32> {
        let since = received_at - chrono::Duration::hours(1);
        let escaped: String = domain
            .to_ascii_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let sub = if subdomains {
            format!("%.{escaped}")
        } else {
            String::new()
        };
        let n: u32 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT DISTINCT rr.outbox_id FROM reply_recipients rr \
                 JOIN outbox o ON o.id = rr.outbox_id JOIN mails m ON m.id = o.mail_id \
                 WHERE rr.received_at > ?1 AND rr.received_at <= ?2 AND m.trust != 'registered' \
                 AND (m.from_addr LIKE ?3 ESCAPE '\\' OR m.from_addr LIKE ?4 ESCAPE '\\') \
                 LIMIT ?5)",
            )?
            .query_row(
                params![
                    since.to_rfc3339(),
                    received_at.to_rfc3339(),
                    format!("%@{escaped}"),
                    sub,
                    cap
                ],
                |r| r.get(0),
            )?;
        Ok(n)
    }

    /// Whether a reply of `kind` (held ones aside) went to `address` for a mail received in the
    /// `days` before `received_at` (inclusive): the same automatic answer is not repeated.
    pub fn answered_alike_within(
        &self,
        address: &str,
        kind: &str,
        received_at: DateTime<Utc>,
        days: u32,
    ) -> Result<bool> {
        let since = received_at - chrono::Duration::days(days.into());
        let found = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM reply_recipients rr JOIN outbox o ON o.id = rr.outbox_id \
                 WHERE rr.address = ?1 AND rr.received_at > ?2 AND rr.received_at <= ?3 \
                 AND o.kind = ?4 LIMIT 1",
            )?
            .query_row(
                params![
                    address.to_ascii_lowercase(),
                    since.to_rfc3339(),
                    received_at.to_rfc3339(),
                    kind
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        Ok(found)
    }

    /// Pending replies still to be composed (see `outbox::drafts`) after id `after_id`, oldest
    /// first, at most `limit`, each with the raw bytes of the mail it answers. The caller pages
    /// on by the last id: each page starts where the last ended, never again at the first
    /// pending reply (with thousands composed and not yet delivered, starting over read each of
    /// them again, page after page).
    pub fn pending_drafts(&self, after_id: i64, limit: usize) -> Result<Vec<PendingDraft>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.id, o.draft, r.bytes, o.version_id, o.message_id FROM outbox o \
             JOIN mails m ON m.id = o.mail_id \
             JOIN raw_mails r ON r.sha256 = m.sha256 \
             WHERE o.status = 'pending' AND o.id > ?1 AND o.draft IS NOT NULL \
             ORDER BY o.id LIMIT ?2",
        )?;
        let drafts: Vec<(PendingDraft, Option<i64>)> = stmt
            .query_map(params![after_id, limit as i64], |r| {
                let draft = PendingDraft {
                    id: r.get(0)?,
                    message_id: r.get(4)?,
                    draft: r.get(1)?,
                    raw: r.get(2)?,
                    version_rows: None,
                };
                Ok((draft, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        drafts
            .into_iter()
            .map(|(mut d, version)| {
                if let Some(v) = version {
                    let rows = super::query::version_rows(&self.conn, v)?;
                    d.version_rows = Some(rows.into_iter().map(|(_, r)| r).collect());
                }
                Ok(d)
            })
            .collect()
    }

    /// Stores a reply's composed bytes; from now on it is delivered as they are.
    pub fn fill_draft(&self, id: i64, bytes: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE outbox SET bytes = ?2, draft = NULL WHERE id = ?1")?
            .execute(params![id, bytes])?;
        Ok(())
    }

    /// Stores a reply's composed bytes and marks it sent (written to the outbox folder) in the
    /// same update: the row is written once.
    pub fn fill_draft_sent(&self, id: i64, bytes: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET bytes = ?2, draft = NULL, status = 'sent', \
                 attempts = attempts + 1, sent_at = ?3, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, bytes, Utc::now().to_rfc3339()])?;
        Ok(())
    }

    /// A reply whose draft cannot be composed: failed, with the reason, for staff.
    pub fn fail_draft(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET status = 'failed', last_error = ?2, draft = NULL WHERE id = ?1",
            )?
            .execute(params![id, error])?;
        Ok(())
    }

    pub(super) fn outbox_items(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, message_id, recipients, bytes, attempts, created_at FROM outbox \
             WHERE {condition}"
        ))?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(id, message_id, recipients, bytes, attempts, created_at)| {
                    Ok(OutboxItem {
                        id,
                        message_id,
                        recipients: serde_json::from_str(&recipients)?,
                        bytes,
                        attempts,
                        created_at: DateTime::parse_from_rfc3339(&created_at)
                            .map(|t| t.to_utc())
                            .unwrap_or_else(|_| Utc::now()),
                    })
                },
            )
            .collect()
    }
}
