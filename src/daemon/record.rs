//! The part of taking a mail that needs the store, inside the batch's transaction: the raw
//! bytes kept, copies recognised, the outcome decided against the unit's current version and
//! stored with its reply's draft (the first phase of the reply; [`crate::outbox::drafts`]
//! composes it at delivery).

use anyhow::{Context, Result};

use super::How;
use super::read::Prepared;
use super::summary::Taken;
use crate::config::Config;
use crate::outbox;
use crate::pipeline::{self, Outcome, OutcomeKind, ReplyKind};
use crate::store::{MailRecord, Store};
use crate::units::Registry;

/// The intake's parts that record a mail: borrowed apart, so a batch can hold the store in its
/// transaction while reading the configuration and the registry.
pub(super) struct Recorder<'a> {
    pub(super) config: &'a Config,
    pub(super) registry: &'a Registry,
    pub(super) store: &'a mut Store,
}

impl Recorder<'_> {
    /// Records a mail read by [`prepare`]: raw bytes kept, copies recognised, the outcome decided
    /// against the unit's current version and stored with its reply's draft.
    pub(super) fn take(&mut self, mailbox: &str, prepared: Prepared) -> Result<Option<Taken>> {
        let Prepared {
            raw,
            how,
            sha,
            kept,
            parsed,
            reading,
        } = prepared;
        if !kept {
            self.store
                .keep_raw_hashed(&sha, &raw.bytes)
                .context("cannot keep the raw mail")?;
        }
        let how = &how;
        let raw = &raw;
        let message_id = parsed.message_id.as_deref().unwrap_or("");
        let (mailbox, source_key, supersedes, size) = match how {
            How::Replay { id, mailbox, key } => (
                format!("replay:{}", mailbox.trim_start_matches("replay:")),
                format!("{key}#{id}"),
                Some(*id),
                raw.bytes.len(),
            ),
            How::Oversized { size } => (
                mailbox.to_string(),
                raw.source_key.clone(),
                None,
                *size as usize,
            ),
            _ => (
                mailbox.to_string(),
                raw.source_key.clone(),
                None,
                raw.bytes.len(),
            ),
        };
        let record = MailRecord {
            mailbox: &mailbox,
            source_key: &source_key,
            sha256: &sha,
            size,
            received_at: raw.received_at,
            parsed: &parsed,
            supersedes,
        };
        if let How::UnlessKnown = how
            && let Some(first) = self.store.find_taken(message_id, &sha)?
        {
            tracing::info!(mail = %raw.source_key, known_as = first, "mail listed again (new UIDVALIDITY) recognised as taken before");
            self.store.finish_reading(&mailbox, &raw.source_key)?;
            return Ok(None);
        }
        // After `find_taken` by Message-ID, `find_copy` would ask the same again.
        let asked = matches!(how, How::UnlessKnown) && !message_id.is_empty();
        if !matches!(how, How::Replay { .. })
            && !asked
            && let Some(first) = self.store.find_copy(message_id, &sha)?
        {
            let mut outcome = duplicate_outcome();
            outcome.unit = self.store_unit_of(first)?;
            self.store.record(&record, &outcome, Some(first), None)?;
            self.store.finish_reading(&mailbox, &raw.source_key)?;
            return Ok(Some(Taken::of(&outcome, message_id)));
        }
        let store = &self.store;
        // The unit's current rows with their ids, read once for the decision and the record.
        let current = std::cell::OnceCell::new();
        let previous = |unit: &str| -> Option<pipeline::Previous> {
            match store.current(unit) {
                Ok(found) => {
                    let (version, rows) = found.unzip();
                    let previous = version.map(|v| pipeline::Previous {
                        rows: rows.iter().flatten().map(|(_, row)| row.clone()).collect(),
                        code: v.code,
                        written_at: v.written_at,
                    });
                    let _ = current.set(rows.unwrap_or_default());
                    previous
                }
                Err(e) => {
                    tracing::error!(unit, error = %format!("{e:#}"), "cannot read the unit's current list");
                    None
                }
            }
        };
        // Which registered units' current lists hold an ID number, asked of the store per row
        // (an indexed lookup: no index of every unit's rows to keep up to date).
        let registry = self.registry;
        let holders = |id_number: &str, except: &str| -> Vec<String> {
            match store.holders_of(id_number, except) {
                Ok(mut codes) => {
                    codes.retain(|c| registry.by_code(c).is_some());
                    codes
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot read which units list a person");
                    Vec::new()
                }
            }
        };
        let on_file = pipeline::OnFile {
            registry,
            previous: &previous,
            holders: &holders,
        };
        let mut outcome =
            pipeline::decide(&parsed, reading, raw.received_at, self.config, &on_file);
        if let How::Oversized { size } = how {
            // Only the header was read: the sender's trust decides whether to answer, the
            // content is left to staff.
            let answer = outcome.reply != ReplyKind::None;
            let mut held = Outcome::new(
                OutcomeKind::Held,
                format!(
                    "too large to read: {size} bytes, over the limit of {} MiB; only the header was kept",
                    self.config.source.max_message_mb
                ),
            );
            held.unit = outcome.unit.take();
            held.trust = outcome.trust;
            held.late = outcome.late;
            held.reply = if answer {
                ReplyKind::Held
            } else {
                ReplyKind::None
            };
            outcome = held;
        }
        // An accepted list's reply lists its version's rows. The draft holds neither them nor
        // the mail's own rows (the same ones): the store keeps the version's rows and gives the
        // draft's outbox row the version's id (a smaller outbox row, no rows written twice).
        // Both are put back for the record.
        let (own_rows, version_rows) = match &mut outcome.version {
            Some(v) => (
                std::mem::take(&mut outcome.rows),
                std::mem::take(&mut v.rows),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let draft = outbox::drafts::Draft {
            outcome,
            received_at: raw.received_at,
            mailbox: mailbox.clone(),
            source_key: source_key.clone(),
            oversized: match how {
                How::Oversized { size } => Some(*size),
                _ => None,
            },
        };
        let mut outgoing = draft.outgoing(&parsed, self.config)?;
        if let Some(r) = &mut outgoing {
            let answering = outbox::Answering {
                received_at: raw.received_at,
                trust: draft.outcome.trust,
                sender: parsed.from.as_deref().unwrap_or(""),
                answers_ours: pipeline::answers_ours(&parsed, self.config),
            };
            r.held = outbox::budgets(self.store, r, answering, self.config)?;
        }
        let mut outcome = draft.outcome;
        if outgoing.is_none() && outcome.reply != ReplyKind::None {
            // Due but impossible to address: every output says the mail went unanswered.
            outcome.note = if outcome.note.is_empty() {
                UNADDRESSABLE.to_string()
            } else {
                format!("{}; {UNADDRESSABLE}", outcome.note)
            };
            outcome.reply = ReplyKind::None;
        }
        if let Some(v) = &mut outcome.version {
            outcome.rows = own_rows;
            v.rows = version_rows;
        }
        self.store.record_with(
            &record,
            &outcome,
            None,
            outgoing.as_ref(),
            current.get().map(|c| c.as_slice()),
        )?;
        self.store.finish_reading(&mailbox, &raw.source_key)?;
        Ok(Some(Taken::of(&outcome, message_id)))
    }

    fn store_unit_of(&self, mail_id: i64) -> Result<Option<crate::units::Unit>> {
        let code = self.store.unit_code_of(mail_id)?;
        Ok(code.and_then(|c| self.registry.by_code(&c).cloned()))
    }
}

/// Said in a mail's note when its reply was due but could not be addressed.
const UNADDRESSABLE: &str = "the reply could not be addressed: not answered";

fn duplicate_outcome() -> Outcome {
    Outcome::new(
        OutcomeKind::Duplicate,
        "a copy of a mail already taken (same Message-ID and content)",
    )
}
