//! Replies composed at delivery. When a mail is taken, its reply's envelope (Message-ID,
//! recipients, held or not) goes into the outbox with the mail's result, in the same
//! transaction, together with a draft: what the reply is composed from (the outcome, as JSON).
//! Before the reply is first delivered, [`compose_pending`] composes it from the draft and the
//! stored raw mail (the school's own files are marked for an error reply), writes its bytes and
//! clears the draft. The intake's transaction stays small (no workbook is written while mail is
//! taken), replies held for staff are composed only once released, and a reply composed once is
//! sent, retried and copied to the Sent folder as the same bytes.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, Mailboxes};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::mail::ParsedMail;
use crate::pipeline::{Outcome, ReplyKind};
use crate::store::{OutgoingReply, PendingDraft, Store};

use crate::reply::{self, Answered};

/// What a reply is composed from, besides the mail itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    /// The mail's outcome. For an accepted list, without `rows` (the reply lists the version's
    /// rows, which include them) and without the version's rows: the outbox row names the
    /// stored version (`version_id`), whose rows are read back to compose the reply. Drafts
    /// written before that hold the version's rows themselves.
    pub outcome: Outcome,
    pub received_at: DateTime<Utc>,
    /// The mail's mailbox name and key (the seed of the reply's Message-ID).
    pub mailbox: String,
    pub source_key: String,
    /// The size of a mail taken by its header only (answered with a message about the size).
    pub oversized: Option<u64>,
}

impl Draft {
    /// The reply to put into the outbox for this draft, not yet composed: `None` when no reply
    /// is due, or when its addresses cannot be written in a mail header (the mail is then
    /// stored without a reply, and staff see it unanswered).
    pub fn outgoing(&self, mail: &ParsedMail, config: &Config) -> Result<Option<OutgoingReply>> {
        let Some(envelope) = reply::envelope(&self.outcome, self.answered(mail), config) else {
            return Ok(None);
        };
        if let Err(e) = writable(&envelope) {
            tracing::warn!(error = %format!("{e:#}"), "cannot address the reply; the mail is stored without one");
            return Ok(None);
        }
        Ok(Some(OutgoingReply {
            recipients: envelope.recipients(),
            message_id: envelope.message_id,
            kind: self.outcome.reply.code().to_string(),
            bytes: Vec::new(),
            held: None,
            draft: Some(serde_json::to_string(self).context("cannot write the reply's draft")?),
        }))
    }

    fn answered<'a>(&'a self, mail: &'a ParsedMail) -> Answered<'a> {
        Answered {
            mail,
            received_at: self.received_at,
            mailbox: &self.mailbox,
            source_key: &self.source_key,
        }
    }

    /// The reply's RFC 5322 bytes, composed for `mail` (the answered mail, parsed again from its
    /// stored bytes).
    pub fn compose(&self, mail: &ParsedMail, config: &Config) -> Result<Vec<u8>> {
        let mut reply = reply::compose(&self.outcome, self.answered(mail), config)
            .context("the mail no longer calls for a reply")?;
        if self.outcome.unread.is_some() {
            reply.text = crate::wording::unreadable_reply(
                self.outcome.unit.as_ref().map(|u| u.name.as_str()),
                &config.campaign.department_name,
                &config.campaign.paper_room,
            );
        }
        if let Some(size) = self.oversized {
            reply.text = crate::wording::oversized_reply(
                self.outcome.unit.as_ref().map(|u| u.name.as_str()),
                size as f64 / (1024.0 * 1024.0),
                config.source.max_message_mb,
                &config.campaign.department_name,
                &config.campaign.paper_room,
            );
        }
        Ok(reply::render(&reply, config)?.bytes)
    }
}

/// The addresses as lettre will write them: a reply it cannot address is never queued.
fn writable(envelope: &reply::Envelope) -> Result<()> {
    envelope
        .to
        .parse::<Mailboxes>()
        .with_context(|| format!("cannot reply to '{}'", envelope.to))?;
    for cc in &envelope.cc {
        cc.parse::<Mailbox>()
            .with_context(|| format!("bad Cc '{cc}'"))?;
    }
    Ok(())
}

/// How many drafts are composed together (in parallel, then stored in one transaction).
const CHUNK: usize = 64;

/// A reply composed from its draft, not yet stored.
pub struct Composed {
    pub id: i64,
    pub message_id: String,
    pub bytes: Vec<u8>,
}

/// Composes every pending reply that is still a draft, on every core, and stores its bytes.
/// A draft that cannot be composed marks its reply failed, with the reason, for staff. Returns
/// how many were composed.
pub fn compose_pending(store: &mut Store, config: &Config) -> Result<usize> {
    compose_pending_and(store, config, None)
}

/// What delivers a page of replies as soon as they are composed, before their bytes are
/// stored: one result per reply, in order (see [`compose_pending_and`]).
pub type Deliver<'a> = &'a mut (dyn FnMut(&[Composed]) -> Vec<Result<()>> + Send);

/// [`compose_pending`], each page of composed replies first handed to `deliver` when there is
/// one: a reply it delivered is stored as sent in the same update that stores its bytes (one
/// write of the row, one transaction per page), one it could not deliver is stored composed
/// and pending, with the attempt's error. The drafts are read a page at a time, by id: memory
/// holds one page whatever the backlog.
pub fn compose_pending_and(
    store: &mut Store,
    config: &Config,
    mut deliver: Option<Deliver<'_>>,
) -> Result<usize> {
    let mut composed = 0;
    let mut after = 0;
    let mut page = match next_page(store, &mut after)? {
        Some(drafts) => compose_page(drafts, config),
        None => return Ok(0),
    };
    let mut drafts = next_page(store, &mut after)?;
    loop {
        // The next page is composed (on every core) while this one is delivered and stored and
        // the drafts of the one after it are read.
        let (next, stored) = rayon::join(
            || drafts.map(|d| compose_page(d, config)),
            || -> Result<_> {
                store_page(store, &page, deliver.as_mut())?;
                next_page(store, &mut after)
            },
        );
        drafts = stored?;
        composed += page.ok.len();
        match next {
            Some(n) => page = n,
            None => return Ok(composed),
        }
    }
}

/// The drafts after `after`, a page of them; moves `after` past them. `None` when none is left.
fn next_page(store: &Store, after: &mut i64) -> Result<Option<Vec<PendingDraft>>> {
    let drafts = store.pending_drafts(*after, CHUNK)?;
    Ok(drafts.last().map(|d| d.id).map(|last| {
        *after = last;
        drafts
    }))
}

/// A page of drafts composed: the replies, and the drafts that could not be, with the reason.
struct Page {
    ok: Vec<Composed>,
    failed: Vec<(i64, String)>,
}

fn compose_page(drafts: Vec<PendingDraft>, config: &Config) -> Page {
    use rayon::prelude::*;
    let results: Vec<(i64, String, Result<Vec<u8>>)> = drafts
        .into_par_iter()
        .map(|d| {
            let result = serde_json::from_str::<Draft>(&d.draft)
                .context("the reply's draft cannot be read")
                .and_then(|mut draft| {
                    if let (Some(v), Some(rows)) = (&mut draft.outcome.version, d.version_rows) {
                        v.rows = rows;
                    }
                    // Only an error reply returns the school's files: any other is composed
                    // from the mail's header (its attachments are not decoded again).
                    let raw = match draft.outcome.reply {
                        ReplyKind::Errors => &d.raw[..],
                        _ => crate::mail::header(&d.raw),
                    };
                    let mail = crate::mail::parse(raw, &config.campaign.department_address);
                    draft.compose(&mail, config)
                });
            (d.id, d.message_id, result)
        })
        .collect();
    let mut page = Page {
        ok: Vec::with_capacity(results.len()),
        failed: Vec::new(),
    };
    for (id, message_id, result) in results {
        match result {
            Ok(bytes) => page.ok.push(Composed {
                id,
                message_id,
                bytes,
            }),
            Err(e) => page
                .failed
                .push((id, format!("cannot compose the reply: {e:#}"))),
        }
    }
    page
}

/// Delivers a composed page (with `deliver`), then stores it in one transaction.
fn store_page(store: &mut Store, page: &Page, deliver: Option<&mut Deliver<'_>>) -> Result<()> {
    let delivered = deliver.map(|d| d(&page.ok));
    store.batch(|s| {
        for (i, c) in page.ok.iter().enumerate() {
            match delivered.as_ref().map(|d| &d[i]) {
                None => s.fill_draft(c.id, &c.bytes)?,
                Some(Ok(())) => s.fill_draft_sent(c.id, &c.bytes)?,
                Some(Err(e)) => {
                    tracing::warn!(reply = %c.message_id, error = %format!("{e:#}"), "cannot deliver reply");
                    s.fill_draft(c.id, &c.bytes)?;
                    s.mark_attempt_failed(c.id, &format!("{e:#}"))?;
                }
            }
        }
        for (id, text) in &page.failed {
            tracing::error!(reply = id, error = %text, "reply not composed");
            s.fail_draft(*id, text)?;
        }
        Ok(())
    })
}
