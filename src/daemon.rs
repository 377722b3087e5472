//! The loop: list the mailbox, take each new mail once (keep its bytes, parse, process, store the
//! result and its reply in one transaction), deliver the outbox, refresh the report, then wait
//! for new mail or shutdown. One bad mail is logged and counted; the loop goes on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;

use crate::config::Config;
use crate::mailbox::{Mailbox, RawMail};
use crate::pipeline::{self, Outcome, OutcomeKind, ReplyKind};
use crate::reply;
use crate::store::{MailRecord, Store};
use crate::units::Registry;

/// The synchronous core: configuration, registry and store. Shared with blocking tasks.
pub struct Intake {
    pub config: Config,
    pub registry: Registry,
    pub store: Store,
    /// Woken when a reply is recorded, so the SMTP sender task delivers it at once.
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

/// What taking one mail did, for the logs and the run summary.
#[derive(Debug, Clone)]
pub struct Taken {
    pub outcome: OutcomeKind,
    pub reply: ReplyKind,
    pub unit: Option<String>,
    pub note: String,
}

impl Intake {
    /// Opens the store and the registry named by the configuration.
    pub fn open(config: Config) -> Result<Intake> {
        let registry = Registry::load(&config.units.file)?;
        let store = Store::open(&config.database_path(), &config.raw_dir())?;
        Ok(Intake {
            config,
            registry,
            store,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Takes one mail: raw bytes kept first, then parsed, processed and recorded with its reply.
    pub fn take(&mut self, mailbox: &str, raw: &RawMail) -> Result<Taken> {
        let sha = self
            .store
            .keep_raw(&raw.bytes)
            .context("cannot keep the raw mail")?;
        let parsed = crate::mail::parse(&raw.bytes, &self.config.campaign.department_address);
        let record = MailRecord {
            mailbox,
            source_key: &raw.source_key,
            sha256: &sha,
            size: raw.bytes.len(),
            received_at: raw.received_at,
            parsed: &parsed,
        };
        if let Some(first) = self
            .store
            .find_copy(parsed.message_id.as_deref().unwrap_or(""), &sha)?
        {
            let mut outcome = duplicate_outcome();
            outcome.unit = self.store_unit_of(first)?;
            self.store.record(&record, &outcome, Some(first), None)?;
            return Ok(summary(&outcome));
        }
        let store = &self.store;
        let previous = |unit: &str| -> Option<Vec<crate::validate::ValidRow>> {
            match store.current_rows(unit) {
                Ok(rows) => rows.map(|r| r.into_iter().map(|(_, row)| row).collect()),
                Err(e) => {
                    tracing::error!(unit, error = %format!("{e:#}"), "cannot read the unit's current list");
                    None
                }
            }
        };
        let outcome = pipeline::process(
            &parsed,
            raw.received_at,
            &self.config,
            &self.registry,
            &previous,
        );
        let answered = reply::Answered {
            mail: &parsed,
            received_at: raw.received_at,
            mailbox,
            source_key: &raw.source_key,
        };
        let rendered = match reply::compose(&outcome, answered, &self.config) {
            Some(r) => match reply::render(&r, &self.config) {
                Ok(mut r) => {
                    r.held = reply::rate_limit(&self.store, &r, raw.received_at, &self.config)?;
                    Some(r)
                }
                Err(e) => {
                    // An address lettre cannot write (a broken From) must not lose the mail.
                    tracing::warn!(error = %format!("{e:#}"), "cannot render the reply; the mail is stored without one");
                    None
                }
            },
            None => None,
        };
        self.store
            .record(&record, &outcome, None, rendered.as_ref())?;
        if rendered.is_some() {
            self.outbox_wake.notify_one();
        }
        Ok(summary(&outcome))
    }

    fn store_unit_of(&self, mail_id: i64) -> Result<Option<crate::units::Unit>> {
        let code: Option<String> = self.store.conn().query_row(
            "SELECT unit_code FROM mails WHERE id = ?1",
            [mail_id],
            |r| r.get(0),
        )?;
        Ok(code.and_then(|c| self.registry.by_code(&c).cloned()))
    }

    /// Delivers pending replies to the outbox folder; with an SMTP server configured the
    /// sender task ([`reply::sender`]) delivers them instead, and this does nothing.
    pub fn deliver(&mut self) -> Result<usize> {
        if self.config.smtp.is_some() {
            return Ok(0);
        }
        reply::outbox::deliver_to_dir(&self.store, &self.config.outbox_dir())
    }

    /// Rewrites the report folder.
    pub fn write_report(&self) -> Result<()> {
        let rec = crate::report::reconcile(
            &self.store,
            &self.registry,
            self.config.campaign.deadline.timezone(),
        )?;
        crate::report::write(&rec, &self.config.report_dir())
    }
}

fn duplicate_outcome() -> Outcome {
    Outcome::new(
        OutcomeKind::Duplicate,
        "a copy of a mail already taken (same Message-ID and content)",
    )
}

fn summary(o: &Outcome) -> Taken {
    Taken {
        outcome: o.kind,
        reply: o.reply,
        unit: o.unit.as_ref().map(|u| u.code.clone()),
        note: o.note.clone(),
    }
}

/// Counts of one `run`, for the closing summary.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub taken: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub no_list: usize,
    pub held: usize,
    pub ignored: usize,
    pub duplicate: usize,
    /// Mails that could not be taken this time (read error); they are retried next pass.
    pub failed: usize,
    pub replies_written: usize,
}

impl RunSummary {
    fn count(&mut self, t: &Taken) {
        self.taken += 1;
        match t.outcome {
            OutcomeKind::Accepted => self.accepted += 1,
            OutcomeKind::Rejected => self.rejected += 1,
            OutcomeKind::NoList => self.no_list += 1,
            OutcomeKind::Held => self.held += 1,
            OutcomeKind::Ignored => self.ignored += 1,
            OutcomeKind::Duplicate => self.duplicate += 1,
        }
    }
}

/// Runs `f` on the intake on a blocking thread (rusqlite, calamine and xlsx writing block).
pub async fn blocking<T, F>(intake: &Arc<Mutex<Intake>>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Intake) -> Result<T> + Send + 'static,
{
    let intake = intake.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = intake
            .lock()
            .map_err(|_| anyhow::anyhow!("the intake lock was poisoned by a panic"))?;
        f(&mut guard)
    })
    .await
    .context("a blocking task failed")?
}

/// Takes every new mail of `mailbox` once, delivers the outbox and refreshes the report; with
/// `once` false, repeats every poll interval until `shutdown` turns true.
pub async fn run<M: Mailbox>(
    intake: Arc<Mutex<Intake>>,
    mut mailbox: M,
    once: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    let poll = blocking(&intake, |i| {
        Ok(Duration::from_secs(i.config.source.poll_seconds.max(1)))
    })
    .await?;
    loop {
        if let Err(e) = pass(&intake, &mut mailbox, &mut summary, &shutdown).await {
            if once {
                return Err(e);
            }
            tracing::error!(error = %format!("{e:#}"), "pass failed; retrying at the next poll");
        }
        if once || *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => break,
        }
    }
    Ok(summary)
}

async fn pass<M: Mailbox>(
    intake: &Arc<Mutex<Intake>>,
    mailbox: &mut M,
    summary: &mut RunSummary,
    shutdown: &watch::Receiver<bool>,
) -> Result<()> {
    let name = mailbox.name().to_string();
    let listed = mailbox.list().await?;
    let n = name.clone();
    let taken = blocking(intake, move |i| i.store.taken_keys(&n)).await?;
    for r in listed
        .into_iter()
        .filter(|r| !taken.contains(&r.source_key))
    {
        if *shutdown.borrow() {
            break;
        }
        let raw = match mailbox.fetch(&r).await {
            Ok(raw) => raw,
            Err(e) => {
                summary.failed += 1;
                tracing::error!(mail = %r.source_key, error = %format!("{e:#}"), "cannot fetch mail");
                continue;
            }
        };
        let n = name.clone();
        let key = r.source_key.clone();
        match blocking(intake, move |i| i.take(&n, &raw)).await {
            Ok(t) => {
                tracing::info!(mail = %key, outcome = t.outcome.code(), reply = t.reply.code(),
                    unit = t.unit.as_deref().unwrap_or("-"), note = %t.note, "mail taken");
                summary.count(&t);
            }
            Err(e) => {
                summary.failed += 1;
                tracing::error!(mail = %key, error = %format!("{e:#}"), "cannot take mail");
            }
        }
    }
    summary.replies_written += blocking(intake, |i| i.deliver()).await?;
    blocking(intake, |i| i.write_report()).await?;
    Ok(())
}
