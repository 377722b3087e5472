//! Reminders: which units to remind (no accepted list, or no paper copy that matches the current
//! list), the polite Vietnamese mail, rendered to RFC 5322 bytes for the outbox. Pure but for
//! [`render`]'s Date header; the `remind` command stores and delivers.

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use lettre::message::header::ContentType;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::report::{Reconciliation, UnitStatus};
use crate::store::{OutgoingReply, hex};
use crate::wording as w;

/// Why a unit is reminded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No accepted list.
    NoList,
    /// An accepted list, but no paper copy that matches it.
    NoPaper,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoList => "no_list",
            Reason::NoPaper => "no_paper",
        }
    }
}

/// A unit to remind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub unit_code: String,
    pub unit_name: String,
    pub emails: Vec<String>,
    pub reason: Reason,
    /// The current version's code and rows (for a paper reminder).
    pub code: String,
    pub rows: usize,
    /// A paper copy that was brought but does not match, as staff read its state.
    pub paper_state: Option<String>,
}

/// The first day reminders go out: `days` before the deadline's date.
pub fn first_day(deadline: DateTime<FixedOffset>, days: u32) -> NaiveDate {
    deadline.date_naive() - chrono::Days::new(u64::from(days))
}

/// The units to remind, in registry order.
pub fn due(rec: &Reconciliation) -> Vec<Due> {
    let when = |t: &str| crate::report::local_date(t, &rec.tz);
    rec.units
        .iter()
        .filter_map(|u| {
            let reason = if u.status != UnitStatus::Accepted {
                Reason::NoList
            } else if u.paper.as_ref().is_some_and(|p| p.verdict.is_ok()) {
                return None;
            } else {
                Reason::NoPaper
            };
            Some(Due {
                unit_code: u.code.clone(),
                unit_name: u.name.clone(),
                emails: u.emails.clone(),
                reason,
                code: u.reconciliation_code.clone(),
                rows: u.rows,
                paper_state: u
                    .paper
                    .as_ref()
                    .filter(|_| reason == Reason::NoPaper)
                    .map(|p| w::paper_verdict(&p.verdict, &when)),
            })
        })
        .collect()
}

/// A reminder ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// Without angle brackets; one per unit and day.
    pub message_id: String,
}

/// Composes the reminder of `due` for `day`.
pub fn compose(due: &Due, day: NaiveDate, config: &Config) -> Reminder {
    let c = &config.campaign;
    let deadline = c.deadline.format("%H:%M ngày %d/%m/%Y").to_string();
    let text = w::reminder_body(&w::ReminderText {
        unit_name: &due.unit_name,
        no_list: due.reason == Reason::NoList,
        code: &due.code,
        rows: due.rows,
        paper_state: due.paper_state.clone(),
        deadline: &deadline,
        deadline_passed: day > c.deadline.date_naive(),
        department_name: &c.department_name,
        department_address: &c.department_address,
        paper_room: &c.paper_room,
    });
    let seed = format!("reminder\n{}\n{day}", due.unit_code);
    let digest = hex(&Sha256::digest(seed.as_bytes()));
    let domain = c.department_domain();
    Reminder {
        to: due.emails.clone(),
        subject: w::reminder_subject(due.reason == Reason::NoList, &due.unit_name),
        text,
        message_id: format!("cts-intake.remind.{}@{domain}", &digest[..24]),
    }
}

/// Renders a reminder to RFC 5322 bytes, marked `Auto-Submitted: auto-generated` (RFC 3834).
pub fn render(r: &Reminder, config: &Config) -> Result<OutgoingReply> {
    let mut builder =
        crate::reply::message_builder(config, &r.subject, &r.message_id, "auto-generated")?;
    for to in &r.to {
        builder = builder.to(to.parse().with_context(|| format!("bad address '{to}'"))?);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(r.text.clone())
        .context("cannot build the reminder")?;
    Ok(OutgoingReply {
        message_id: r.message_id.clone(),
        kind: "reminder".to_string(),
        recipients: r.to.clone(),
        bytes: message.formatted(),
        held: None,
        draft: None,
    })
}
