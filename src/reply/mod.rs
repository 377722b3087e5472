//! Outcome → [`Reply`] (who gets what text and files, threaded after the school's mail), rendered
//! to RFC 5322 bytes with lettre: plain text plus an HTML alternative ([`html`]), then the
//! attachments (the cover sheet "Phiếu đối chiếu" of an accepted list, [`cover`], a PDF drawn
//! by [`pdf`]; the school's file with its errors marked, [`annotate`]; the blank template). The Vietnamese bodies are in
//! [`body`]. Pure: no store, no network. The reply's envelope ([`envelope`]) is fixed when the
//! mail is taken; its text and files are composed at delivery by [`crate::outbox::drafts`],
//! and delivered by [`crate::outbox`].

pub mod annotate;
pub mod barcode;
pub mod body;
pub mod cover;
pub mod encoded;
pub mod html;
pub mod pdf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::OutgoingReply;
use crate::mail::ParsedMail;
use crate::pipeline::{Outcome, ReplyKind};
use crate::text::hex;

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
    /// Files sent with the reply.
    pub attachments: Vec<ReplyFile>,
}

/// A file attached to a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The most files of a school an error reply returns marked (a mail of 5,000 attachments with
/// errors gets a reply of ten).
pub const MAX_ANNOTATED_FILES: usize = 10;

/// The MIME type of the workbooks we attach.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

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
    answered.mail.from.as_ref()?;
    let mut attachments = Vec::new();
    let (tag, text) = match outcome.reply {
        ReplyKind::None => return None,
        ReplyKind::Ack => {
            // The cover sheet "Phiếu đối chiếu" for the school to print and staple to the paper
            // copy (every acknowledgement of an accepted list).
            let cover = cover::for_outcome(outcome, answered.received_at, config);
            let name = cover.as_ref().map(|c| c.filename.clone());
            if let Some(cover) = cover {
                attachments.push(ReplyFile {
                    name: cover.filename,
                    content_type: cover.content_type.into(),
                    bytes: cover.bytes,
                });
            }
            (
                "Đã tiếp nhận",
                body::ack(outcome, answered, config, name.as_deref()),
            )
        }
        ReplyKind::Errors => {
            let mut yellow = false;
            for a in &answered.mail.attachments {
                if attachments.len() == MAX_ANNOTATED_FILES {
                    break;
                }
                if let Some(marked) = annotate::annotate(a, &outcome.problems) {
                    yellow |= marked.yellow;
                    attachments.push(ReplyFile {
                        name: marked.name,
                        content_type: XLSX.into(),
                        bytes: marked.bytes,
                    });
                }
            }
            let names: Vec<String> = attachments.iter().map(|a| a.name.clone()).collect();
            (
                "Cần sửa",
                body::errors(outcome, answered, config, &names, yellow),
            )
        }
        ReplyKind::NoList => {
            match crate::template::render_cached(&crate::template::TemplateText::from_config(
                config,
            )) {
                Ok(bytes) => attachments.push(ReplyFile {
                    name: body::TEMPLATE_FILE_NAME.into(),
                    content_type: XLSX.into(),
                    bytes,
                }),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot render the template for the reply")
                }
            }
            let attached = !attachments.is_empty();
            (
                "Chưa có danh sách",
                body::no_list(outcome, answered, config, attached),
            )
        }
        ReplyKind::Held => ("Đang kiểm tra", body::held(outcome, answered, config)),
    };
    let Envelope { to, cc, message_id } = envelope(outcome, answered, config)?;
    let subject = if answered.mail.subject.is_empty() {
        format!("Re: [{tag}]")
    } else {
        // A subject of any length comes in; a few hundred characters go back.
        let s = &crate::text::cut(&answered.mail.subject, crate::text::SUBJECT_ECHO_CHARS);
        let base = if s.to_lowercase().starts_with("re:") {
            s.to_string()
        } else {
            format!("Re: {s}")
        };
        format!("{base} [{tag}]")
    };
    let references = thread(
        &answered.mail.references,
        answered.mail.message_id.as_deref(),
    );
    Some(Reply {
        kind: outcome.reply,
        to,
        cc,
        subject,
        text,
        message_id,
        in_reply_to: answered.mail.message_id.clone(),
        references,
        attachments,
    })
}

/// Who a reply goes to and its Message-ID: what is fixed when the mail is taken (the body and
/// files may be composed later, see [`crate::outbox::drafts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The sender of the mail answered.
    pub to: String,
    /// The unit's registered address when the sender was not it.
    pub cc: Vec<String>,
    /// Without angle brackets; stable for a given mail, so a resend is recognisable.
    pub message_id: String,
}

impl Envelope {
    /// Every envelope recipient, `to` first.
    pub fn recipients(&self) -> Vec<String> {
        std::iter::once(self.to.clone())
            .chain(self.cc.iter().cloned())
            .collect()
    }
}

/// The envelope of the reply an outcome calls for; `None` when no reply is due (or the mail
/// has no sender to answer).
pub fn envelope(outcome: &Outcome, answered: Answered, config: &Config) -> Option<Envelope> {
    if outcome.reply == ReplyKind::None {
        return None;
    }
    let to = answered.mail.from.clone()?;
    let cc = match &outcome.unit {
        Some(u) if !u.emails.contains(&to) => u.emails.first().cloned().into_iter().collect(),
        _ => Vec::new(),
    };
    let seed = format!("{}\n{}", answered.mailbox, answered.source_key);
    let digest = hex(&Sha256::digest(seed.as_bytes()));
    let domain = config.campaign.department_domain();
    Some(Envelope {
        to,
        cc,
        message_id: format!("cts-intake.{}@{domain}", &digest[..24]),
    })
}

/// The headers every mail we write carries: From the department, the subject, a stable
/// Message-ID, the date, `Auto-Submitted` (RFC 3834: `auto-replied` for a reply,
/// `auto-generated` for a reminder) and `X-Auto-Response-Suppress: All` (no out-of-office back).
pub fn message_builder(
    config: &Config,
    subject: &str,
    message_id: &str,
    auto_submitted: &str,
) -> Result<lettre::message::MessageBuilder> {
    let address: lettre::Address = config
        .campaign
        .department_address
        .parse()
        .context("campaign.department-address is not a valid address")?;
    let name = &config.campaign.department_name;
    let from = Mailbox::new(Some(name.clone()), address.clone());
    // From and Subject encoded by [`encoded`], whose encoded-words never end inside a word
    // (lettre's cut "Nam Định" into "Nam Đị" + "nh"); the raw values are what lettre parses.
    let from_header = HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("From"),
        from.to_string(),
        encoded::mailbox("From", name, address.as_ref()),
    );
    let subject_header = HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("Subject"),
        subject.to_string(),
        encoded::unstructured("Subject", subject),
    );
    Ok(Message::builder()
        .from(from)
        .raw_header(from_header)
        .subject(subject.to_string())
        .raw_header(subject_header)
        .message_id(Some(format!("<{message_id}>")))
        .date_now()
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            auto_submitted.to_string(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        )))
}

/// Renders a reply to RFC 5322 bytes, marked as an automatic reply (RFC 3834).
pub fn render(reply: &Reply, config: &Config) -> Result<OutgoingReply> {
    let mut builder = message_builder(config, &reply.subject, &reply.message_id, "auto-replied")?;
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
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(encoded::text_body(&reply.text)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(encoded::text_body(&html::from_text(&reply.text))),
        );
    let message = if reply.attachments.is_empty() {
        builder.multipart(alternative)
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &reply.attachments {
            let content_type = ContentType::parse(&a.content_type)
                .with_context(|| format!("bad content type {}", a.content_type))?;
            mixed = mixed.singlepart(
                Attachment::new(a.name.clone()).body(encoded::base64_body(&a.bytes), content_type),
            );
        }
        builder.multipart(mixed)
    }
    .context("cannot build the reply")?;
    let recipients = std::iter::once(reply.to.clone())
        .chain(reply.cc.iter().cloned())
        .collect();
    Ok(OutgoingReply {
        message_id: reply.message_id.clone(),
        kind: reply.kind.code().to_string(),
        recipients,
        bytes: message.formatted(),
        held: None,
        draft: None,
    })
}

/// The reply that carries a clerk's refusal of a held mail (the desk's "từ chối"), threaded to
/// it, to its sender (the unit's registered address in Cc when the sender is not it). `seed`
/// makes its Message-ID (one per decision). `None`: the mail has no sender to answer.
pub fn rejection(
    mail: &ParsedMail,
    unit: Option<&crate::units::Unit>,
    reason: &str,
    seed: &str,
    config: &Config,
) -> Result<Option<OutgoingReply>> {
    let Some(to) = mail.from.clone() else {
        return Ok(None);
    };
    let cc: Vec<String> = match unit {
        Some(u) if !u.emails.contains(&to) => u.emails.first().cloned().into_iter().collect(),
        _ => Vec::new(),
    };
    let c = &config.campaign;
    let text = crate::wording::staff_rejection_reply(
        unit.map(|u| u.name.as_str()),
        &crate::text::cut(&mail.subject, crate::text::SUBJECT_ECHO_CHARS),
        reason,
        &c.department_name,
        &c.paper_room,
    );
    let tag = crate::wording::REJECTED_TAG;
    let subject = if mail.subject.is_empty() {
        format!("Re: [{tag}]")
    } else {
        let s = crate::text::cut(&mail.subject, crate::text::SUBJECT_ECHO_CHARS);
        if s.to_lowercase().starts_with("re:") {
            format!("{s} [{tag}]")
        } else {
            format!("Re: {s} [{tag}]")
        }
    };
    let digest = hex(&Sha256::digest(format!("rejection\n{seed}").as_bytes()));
    let domain = c
        .department_address
        .rsplit('@')
        .next()
        .unwrap_or("cts-intake.invalid");
    let message_id = format!("cts-intake.reject.{}@{domain}", &digest[..24]);
    let mut builder = message_builder(config, &subject, &message_id, "auto-replied")?;
    builder = builder.to(to
        .parse()
        .with_context(|| format!("cannot reply to '{to}'"))?);
    for a in &cc {
        builder = builder.cc(a.parse().with_context(|| format!("bad Cc '{a}'"))?);
    }
    if let Some(id) = &mail.message_id {
        builder = builder.in_reply_to(format!("<{id}>"));
    }
    let references = thread(&mail.references, mail.message_id.as_deref());
    if !references.is_empty() {
        builder = builder.references(
            references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .context("cannot build the rejection reply")?;
    Ok(Some(OutgoingReply {
        message_id,
        kind: "rejection".to_string(),
        recipients: std::iter::once(to).chain(cc).collect(),
        bytes: message.formatted(),
        held: None,
        draft: None,
    }))
}

/// The most Message-IDs a reply's `References` carries: the thread's first and its latest ones.
const MAX_REFERENCES: usize = 12;

/// The `References` of a reply: the answered mail's, then its own Message-ID, trimmed to the
/// first and the last few when the thread is long (RFC 5322 §3.6.4 practice: the first names
/// the thread, the last the parents), so a mail with 20,000 references gets a reply with 12.
fn thread(references: &[String], message_id: Option<&str>) -> Vec<String> {
    let mut all: Vec<String> = references.to_vec();
    all.extend(message_id.map(str::to_string));
    if all.len() > MAX_REFERENCES {
        let last = all.split_off(all.len() - (MAX_REFERENCES - 1));
        all.truncate(1);
        all.extend(last);
    }
    all
}

#[cfg(test)]
mod thread_tests {
    use super::*;

    #[test]
    fn a_long_thread_keeps_its_first_and_its_last_references() {
        let refs: Vec<String> = (0..20_000).map(|i| format!("m{i}@x")).collect();
        let t = thread(&refs, Some("new@x"));
        assert_eq!(t.len(), MAX_REFERENCES);
        assert_eq!(t[0], "m0@x");
        assert_eq!(t[MAX_REFERENCES - 1], "new@x");
        assert_eq!(t[MAX_REFERENCES - 2], "m19999@x");
        let short = thread(&refs[..2], Some("new@x"));
        assert_eq!(short, ["m0@x", "m1@x", "new@x"]);
    }
}
