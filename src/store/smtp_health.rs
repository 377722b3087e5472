//! Whether the SMTP server is reachable, as the outbox shows it (for `status`): a reply the
//! server could not take for now stays `pending` with `attempts > 0` and its `last_error`
//! (`mark_retry`); a reply delivered has its `sent_at`.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// Since when replies have been failing with no delivery in between: the later of the oldest
/// reply still waiting for a retry and the last delivery. `None` when no reply waits for a retry.
pub fn failing_since(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let (oldest, last_sent): (Option<String>, Option<String>) = conn.query_row(
        "SELECT (SELECT min(created_at) FROM outbox WHERE status = 'pending' AND attempts > 0 \
                 AND last_error IS NOT NULL), \
                (SELECT max(sent_at) FROM outbox WHERE status = 'sent')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let parse = |t: Option<String>| {
        t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let Some(oldest) = parse(oldest) else {
        return Ok(None);
    };
    Ok(Some(match parse(last_sent) {
        Some(sent) if sent > oldest => sent,
        _ => oldest,
    }))
}
