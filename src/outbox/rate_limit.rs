//! The reply budgets: a reply over one of them is held in the outbox for staff instead of sent
//! (never dropped; staff release it from the desk). Per recipient, overall, per unregistered
//! sender's domain, the same automatic answer to one address once in a few days (RFC 3834 §2),
//! and no automatic answer of the kinds that invite another mail to a mail answering ours.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{ReplyKind, Trust};
use crate::store::{OutgoingReply, Store};

/// What a reply's budgets are judged on, besides the reply itself.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// When the answered mail reached the mailbox: every budget counts mails received before.
    pub received_at: DateTime<Utc>,
    /// How far the answered mail's sender is trusted (the per-domain budget is for the others).
    pub trust: Trust,
    /// The answered mail's sender.
    pub sender: &'a str,
    /// The Message-ID of our reply the answered mail answers, when it answers one.
    pub answers_ours: Option<&'a str>,
}

/// The per-recipient rate limit alone: why `reply` must be held instead of sent, when one of
/// its recipients already had `replies.rate-limit-per-hour` replies for mails received in the
/// hour before `received_at`. A loop with a responder that marks nothing ends here.
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

/// Every reply budget: why `reply` must be held instead of sent, if it must. In order: an
/// answer to our own reply (no no-list or held reply to it: a loop; an errors reply goes out,
/// since a school correcting its list answers our errors reply, and the per-recipient limit
/// bounds a responder that sends our attachments back), the same answer to
/// the same address within `replies.same-answer-days`, the per-recipient limit, the budget of
/// the unregistered sender's domain, the overall budget.
pub fn budgets(
    store: &Store,
    reply: &OutgoingReply,
    answering: Answering,
    config: &Config,
) -> Result<Option<String>> {
    let c = &config.replies;
    let kind = ReplyKind::from_code(&reply.kind);
    let invites_mail = matches!(kind, Some(ReplyKind::NoList | ReplyKind::Held));
    if invites_mail && let Some(ours) = answering.answers_ours {
        return Ok(Some(format!(
            "loop: the mail answers our reply {ours}; an automatic {} reply to it is held",
            reply.kind
        )));
    }
    let repeats = matches!(kind, Some(ReplyKind::NoList | ReplyKind::Held));
    if repeats
        && c.same_answer_days > 0
        && let Some(to) = reply.recipients.first()
        && store.answered_alike_within(
            to,
            &reply.kind,
            answering.received_at,
            c.same_answer_days,
        )?
    {
        return Ok(Some(format!(
            "repeat: a {} reply went to {to} for a mail received within {} days \
             (replies.same-answer-days = {})",
            reply.kind, c.same_answer_days, c.same_answer_days
        )));
    }
    if let Some(why) = rate_limit(store, reply, answering.received_at, config)? {
        return Ok(Some(why));
    }
    let limit = c.rate_limit_per_domain_per_hour;
    if answering.trust != Trust::Registered && limit > 0 {
        let host = answering
            .sender
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("");
        // An official domain is one budget with all its subdomains: a forger invents those.
        let (domain, subdomains) = match config.campaign.official_domain_of(host) {
            Some(d) => (d.to_string(), true),
            None => (host.to_ascii_lowercase(), false),
        };
        let n = store.unregistered_replies_within_hour(
            &domain,
            subdomains,
            answering.received_at,
            limit,
        )?;
        if n >= limit {
            return Ok(Some(format!(
                "domain budget: {n} replies to unregistered senders of {domain} for mails \
                 received within an hour (replies.rate-limit-per-domain-per-hour = {limit})"
            )));
        }
    }
    let limit = c.rate_limit_overall_per_hour;
    if limit > 0 {
        let n = store.replies_within_hour(answering.received_at, limit)?;
        if n >= limit {
            return Ok(Some(format!(
                "overall budget: {n} replies for mails received within an hour \
                 (replies.rate-limit-overall-per-hour = {limit})"
            )));
        }
    }
    Ok(None)
}
