//! A mail that was over the size limit, fetched whole when staff ask for it (the desk's "xử lý
//! lại" or "giao cho đơn vị", the `replay` command): only its header was kept when it came, so
//! it is fetched again from the mailbox it came from, checked to be the same mail, and its whole
//! bytes are kept in the store beside the header; it is then processed again as any held mail.

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::mailbox::imap::Imap;
use crate::mailbox::maildir::Maildir;
use crate::mailbox::{Cursor, MailRef, Mailbox};
use crate::store::{Store, StoredMail};

/// How many times the automatic size limit a mail fetched at staff's request may be: it is held
/// in memory once, then read by the reader processes under their own limits.
pub const STAFF_SIZE_FACTOR: u64 = 4;

/// The header kept of stored mail row `id`, when only its header was (it was over the size
/// limit) and the row is current; `None` otherwise (a whole mail, or a mail processed again
/// since, left to the caller's own checks).
pub fn header_only(store: &Store, id: i64) -> Result<Option<(StoredMail, Vec<u8>)>> {
    let Some(stored) = store.stored_mail_by_id(id)? else {
        return Ok(None);
    };
    let header = store.raw_bytes(&stored.sha256)?.unwrap_or_default();
    Ok(((header.len() as u64) < stored.size).then_some((stored, header)))
}

/// Fetches the whole of `stored`, whose `header` alone was kept, from the configured mailbox;
/// the caller keeps it ([`Store::keep_whole`]), then [`super::Intake::replay_mail`] or
/// [`super::Intake::release_mail`] process it. Refused when the configured mailbox is not the
/// one it came from, the mail is gone, is larger than [`STAFF_SIZE_FACTOR`] times the limit, or
/// is not the same mail (its header is not the one kept).
pub async fn fetch(config: &Config, stored: &StoredMail, header: &[u8]) -> Result<Vec<u8>> {
    let cap = config
        .source
        .max_message_bytes()
        .saturating_mul(STAFF_SIZE_FACTOR);
    if stored.size > cap {
        bail!(
            "the mail is {} bytes, over {} MiB, the most fetched at staff's request",
            stored.size,
            cap / (1024 * 1024)
        );
    }
    let raw = match (&config.source.imap, &config.source.maildir) {
        (Some(imap), _) => {
            let name = Imap::name_of(imap);
            if name != stored.mailbox {
                bail!(
                    "the mail came from {}, and the configured mailbox is {name}",
                    stored.mailbox
                );
            }
            let (validity, uid) = stored
                .source_key
                .split_once(':')
                .and_then(|(v, u)| Some((v.parse().ok()?, u.parse().ok()?)))
                .with_context(|| format!("{:?} is not an IMAP mail's key", stored.source_key))?;
            let mail = MailRef {
                source_key: stored.source_key.clone(),
                received_at: Some(stored.received_at),
                size: stored.size,
                cursor: Some(Cursor {
                    uid_validity: validity,
                    uid,
                }),
            };
            let poll = std::time::Duration::from_secs(config.source.poll_seconds.max(1));
            let mut mailbox = Imap::new(imap.clone(), poll);
            // Listed from the mail on: a new UIDVALIDITY shows as a reset.
            let since = Cursor {
                uid_validity: validity,
                uid: uid.saturating_sub(1),
            };
            let current = mailbox.list(Some(since)).await.map(|l| l.reset);
            let fetched = match current {
                // Another UIDVALIDITY: the UID names another mail now.
                Ok(Some(reset)) if reset.uid_validity != validity => {
                    mailbox.close().await;
                    bail!("the IMAP folder was renumbered since the mail came (UIDVALIDITY)");
                }
                _ => mailbox.fetch(std::slice::from_ref(&mail)).await,
            };
            mailbox.close().await;
            fetched?
        }
        (None, Some(path)) => {
            if stored.mailbox != "maildir" {
                bail!(
                    "the mail came from {}, and the configured mailbox is a Maildir",
                    stored.mailbox
                );
            }
            let mail = MailRef {
                source_key: stored.source_key.clone(),
                received_at: Some(stored.received_at),
                size: stored.size,
                cursor: None,
            };
            Maildir::open(path)?
                .fetch(std::slice::from_ref(&mail))
                .await?
        }
        (None, None) => bail!("no mail source is configured to fetch the mail from"),
    };
    let raw = raw
        .into_iter()
        .next()
        .context("the mail is no longer in the mailbox")?;
    if raw.bytes.len() as u64 > cap {
        bail!("the mail fetched is over {} MiB", cap / (1024 * 1024));
    }
    // The header kept when it came is the start of the whole mail (the Maildir header reader
    // may have ended its last line itself).
    let head = header.strip_suffix(b"\n").unwrap_or(header);
    let head = head.strip_suffix(b"\r").unwrap_or(head);
    if !raw.bytes.starts_with(head) {
        bail!("the mail in the mailbox is not the one whose header was kept");
    }
    tracing::info!(
        mail = stored.id,
        bytes = raw.bytes.len(),
        "an oversized mail was fetched whole at staff's request"
    );
    Ok(raw.bytes)
}
