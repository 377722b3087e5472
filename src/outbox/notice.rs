//! Mails to staff, written into the outbox like replies and delivered the same way: the daily
//! digest (what needs them, with a link to the desk) from `desk.digest-hour` on, once a day; an
//! alert as soon as polling has not succeeded for `desk.alert-after-minutes`, once per outage;
//! and a mail when it works again. All to `desk.digest-to`, in Vietnamese. The daemon asks for
//! them after each pass ([`due`]); the store records each once (`Store::add_notice`).

use anyhow::{Context, Result};
use chrono::{DateTime, Timelike, Utc};
use lettre::message::header::ContentType;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::report::UnitStatus;
use crate::store::{OutgoingReply, Store, desk_query as q, hex};
use crate::units::Registry;
use crate::wording as w;

/// A mail to staff, with what the store records it under.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `digest`, `poll_down` or `poll_up`.
    pub kind: &'static str,
    /// The day of a digest; the last good poll an alert is about.
    pub key: String,
    pub mail: OutgoingReply,
}

/// The mails to staff due at `now`, given when the mailbox was last polled successfully. Nothing
/// without `desk.digest-to`.
pub fn due(
    store: &Store,
    registry: &Registry,
    config: &Config,
    now: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
) -> Result<Vec<Notice>> {
    let d = &config.desk;
    if d.digest_to.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let tz = config.campaign.deadline.timezone();
    let local = now.with_timezone(&tz);
    let day = local.format("%Y-%m-%d").to_string();
    if local.hour() >= d.digest_hour && !store.has_notice("digest", &day)? {
        let (subject, text) = digest(
            store,
            registry,
            config,
            &local.format("%d/%m/%Y").to_string(),
        )?;
        out.push(notice(config, "digest", day, &subject, &text)?);
    }
    // Polling that never succeeded is not an outage yet (the daemon's first start): `status`
    // and /healthz tell that.
    if let Some(last) = last_success {
        let down = now - last > chrono::Duration::minutes(d.alert_after_minutes as i64);
        let open = store.poll_alert_open()?;
        let when = local_text(last, config);
        let key = last.to_rfc3339();
        if down && !open {
            let (subject, text) = (
                w::POLL_DOWN_SUBJECT.to_string(),
                w::poll_down_text(&when, d.alert_after_minutes, &desk_link(config)),
            );
            out.push(notice(config, "poll_down", key, &subject, &text)?);
        } else if !down && open {
            let (subject, text) = (
                w::POLL_UP_SUBJECT.to_string(),
                w::poll_up_text(&when, &desk_link(config)),
            );
            out.push(notice(config, "poll_up", key, &subject, &text)?);
        }
    }
    Ok(out)
}

fn local_text(t: DateTime<Utc>, config: &Config) -> String {
    t.with_timezone(&config.campaign.deadline.timezone())
        .format("%H:%M ngày %d/%m/%Y")
        .to_string()
}

/// Where staff open the desk: `desk.public-url`, or the default local address.
fn desk_link(config: &Config) -> String {
    config
        .desk
        .public_url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into())
}

/// The digest's subject and text: what needs staff today.
fn digest(
    store: &Store,
    registry: &Registry,
    config: &Config,
    day: &str,
) -> Result<(String, String)> {
    let rec = crate::report::build(store, registry, config)?;
    let held = q::held_mails(store.conn())?.len();
    let stuck = q::stuck_replies(store.conn())?.len();
    let names = |st: UnitStatus| -> Vec<String> {
        rec.units
            .iter()
            .filter(|u| u.status == st)
            .map(|u| u.name.clone())
            .collect()
    };
    let counts = w::DigestCounts {
        held,
        stuck,
        awaiting: names(UnitStatus::Rejected),
        not_submitted: names(UnitStatus::NotSubmitted),
        accepted: rec
            .units
            .iter()
            .filter(|u| u.status == UnitStatus::Accepted)
            .count(),
        units: rec.units.len(),
    };
    let deadline = config
        .campaign
        .deadline
        .format("%H:%M ngày %d/%m/%Y")
        .to_string();
    Ok((
        w::digest_subject(day, held + stuck),
        w::digest_text(&counts, &deadline, &desk_link(config)),
    ))
}

/// Renders a mail to staff (plain text, `Auto-Submitted: auto-generated`).
fn notice(
    config: &Config,
    kind: &'static str,
    key: String,
    subject: &str,
    text: &str,
) -> Result<Notice> {
    let c = &config.campaign;
    let digest = hex(&Sha256::digest(format!("notice\n{kind}\n{key}").as_bytes()));
    let domain = c
        .department_address
        .rsplit('@')
        .next()
        .unwrap_or("cts-intake.invalid");
    let message_id = format!("cts-intake.notice.{}@{domain}", &digest[..24]);
    let mut builder =
        crate::reply::message_builder(config, subject, &message_id, "auto-generated")?;
    for to in &config.desk.digest_to {
        builder = builder.to(to.parse().with_context(|| format!("bad address '{to}'"))?);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_string())
        .context("cannot build the mail to staff")?;
    Ok(Notice {
        kind,
        key,
        mail: OutgoingReply {
            message_id,
            kind: kind.to_string(),
            recipients: config.desk.digest_to.clone(),
            bytes: message.formatted(),
            held: None,
            draft: None,
        },
    })
}
