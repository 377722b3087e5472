//! The per-recipient rate limit: a reply over it is held in the outbox for staff instead of
//! sent.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::store::{OutgoingReply, Store};

/// The per-recipient rate limit: why `reply` must be held instead of sent, when one of its
/// recipients already had `replies.rate-limit-per-hour` replies for mails received in the hour
/// before `received_at`. A loop with a responder that marks nothing ends here.
pub fn rate_limit(
    store: &Store,
    reply: &OutgoingReply,
    received_at: DateTime<Utc>,
    config: &Config,
) -> Result<Option<String>> {
    let limit = config.replies.rate_limit_per_hour;
    if limit == 0 {
        return Ok(None);
    }
    for r in &reply.recipients {
        let n = store.replies_to_within_hour(r, received_at, limit)?;
        if n >= limit {
            return Ok(Some(format!(
                "rate limit: {n} replies to {r} for mails received within an hour \
                 (replies.rate-limit-per-hour = {limit})"
            )));
        }
    }
    Ok(None)
}
