//! Is the daemon alive and taking mail: the configured source's last poll and whether it is
//! fresh, as `status`, the desk's `/healthz` and the watchdog decide it alike.

use anyhow::Result;
use chrono::Utc;

use crate::config::Config;
use crate::mailbox::imap::Imap;
use crate::mailbox::maildir::MAILDIR_NAME;
use crate::store::Store;

/// The configured source's last poll, and whether it is fresh: `status` and the desk's
/// `/healthz` decide alike.
#[derive(Debug, Clone)]
pub struct Freshness {
    /// The source's name, as the `polls` table keys it.
    pub source: String,
    pub poll: Option<crate::store::PollState>,
    /// A pass over the source succeeded within `source.stale-after-minutes`.
    pub fresh: bool,
}

/// Whether the daemon polled the configured source lately.
pub fn freshness(config: &Config, store: &Store) -> Result<Freshness> {
    let source = match &config.source.imap {
        Some(imap) => Imap::name_of(imap),
        None => MAILDIR_NAME.to_string(),
    };
    let poll = store.polls()?.into_iter().find(|p| p.mailbox == source);
    let stale = chrono::Duration::minutes(config.source.stale_after_minutes as i64);
    let fresh = poll
        .as_ref()
        .and_then(|p| p.last_success_at)
        .is_some_and(|t| Utc::now() - t <= stale);
    Ok(Freshness {
        source,
        poll,
        fresh,
    })
}
