//! Outcome → [`Reply`] (who gets what text, threaded after the school's mail), rendered to RFC
//! 5322 bytes with lettre. The Vietnamese bodies are in [`body`]; delivery is in [`outbox`].

pub mod body;
pub mod outbox;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::mail::ParsedMail;
use crate::pipeline::{Outcome, ReplyKind};
use crate::store::{OutgoingReply, hex};

/// A reply before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub kind: ReplyKind,
    /// The sender of the mail answered.
    pub to: String,
    /// The unit's registered address when the sender was not it.
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    /// Without angle brackets; stable for a given mail, so a resend is recognisable.
    pub message_id: String,
    /// The answered mail's Message-ID (without angle brackets).
    pub in_reply_to: Option<String>,
    /// The thread: the answered mail's References then its Message-ID.
    pub references: Vec<String>,
}

/// What the reply needs to know of the mail besides its outcome.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    pub mail: &'a ParsedMail,
    pub received_at: DateTime<Utc>,
    /// Mailbox name and key of the mail: the seed of the reply's Message-ID.
    pub mailbox: &'a str,
    pub source_key: &'a str,
}

/// Composes the reply an outcome calls for, if any.
pub fn compose(outcome: &Outcome, answered: Answered, config: &Config) -> Option<Reply> {
    let to = answered.mail.from.clone()?;
    let (tag, text) = match outcome.reply {
        ReplyKind::None => return None,
        ReplyKind::Ack => ("Đã tiếp nhận", body::ack(outcome, answered, config)),
        ReplyKind::Errors => ("Cần sửa", body::errors(outcome, answered, config)),
        ReplyKind::NoList => (
            "Chưa có danh sách",
            body::no_list(outcome, answered, config),
        ),
        ReplyKind::Held => ("Đang kiểm tra", body::held(outcome, answered, config)),
    };
    let cc = match &outcome.unit {
        Some(u) if !u.emails.contains(&to) => u.emails.first().cloned().into_iter().collect(),
        _ => Vec::new(),
    };
    let subject = if answered.mail.subject.is_empty() {
        format!("Re: [{tag}]")
    } else {
        let s = &answered.mail.subject;
        let base = if s.to_lowercase().starts_with("re:") {
            s.clone()
        } else {
            format!("Re: {s}")
        };
        format!("{base} [{tag}]")
    };
    let mut references = answered.mail.references.clone();
    references.extend(answered.mail.message_id.clone());
    let seed = format!("{}\n{}", answered.mailbox, answered.source_key);
    let digest = hex(&Sha256::digest(seed.as_bytes()));
    let domain = config
        .campaign
        .department_address
        .rsplit('@')
        .next()
        .unwrap_or("cts-intake.invalid");
    Some(Reply {
        kind: outcome.reply,
        to,
        cc,
        subject,
        text,
        message_id: format!("cts-intake.{}@{domain}", &digest[..24]),
        in_reply_to: answered.mail.message_id.clone(),
        references,
    })
}

/// Renders a reply to RFC 5322 bytes, marked as an automatic reply (RFC 3834).
pub fn render(reply: &Reply, config: &Config) -> Result<OutgoingReply> {
    let from = Mailbox::new(
        Some(config.campaign.department_name.clone()),
        config
            .campaign
            .department_address
            .parse()
            .context("campaign.department-address is not a valid address")?,
    );
    let mut builder = Message::builder()
        .from(from)
        .subject(reply.subject.clone())
        .message_id(Some(format!("<{}>", reply.message_id)))
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ));
    let to: Mailboxes = reply
        .to
        .parse()
        .with_context(|| format!("cannot reply to '{}'", reply.to))?;
    for m in to {
        builder = builder.to(m);
    }
    for cc in &reply.cc {
        builder = builder.cc(cc.parse().with_context(|| format!("bad Cc '{cc}'"))?);
    }
    if let Some(id) = &reply.in_reply_to {
        builder = builder.in_reply_to(format!("<{id}>"));
    }
    if !reply.references.is_empty() {
        let refs = reply
            .references
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        builder = builder.references(refs);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(reply.text.clone())
        .context("cannot build the reply")?;
    let recipients = std::iter::once(reply.to.clone())
        .chain(reply.cc.iter().cloned())
        .collect();
    Ok(OutgoingReply {
        message_id: reply.message_id.clone(),
        kind: reply.kind.code().to_string(),
        recipients,
        bytes: message.formatted(),
    })
}
