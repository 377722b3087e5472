//! The daemon: takes each new mail of the mailbox once and records it, then answers and
//! reports, then waits for new mail or shutdown. One bad mail is logged and counted; the loop
//! goes on. Its jobs, one module each:
//!
//! - [`run`](mod@run): the loop (a pass, then a wait for new mail, a full poll or shutdown; a failed
//!   pass waits longer each time and goes on) and its options;
//! - `pass`: one pass, a pipeline of two sides joined by channels of named messages: the
//!   server side lists and fetches batches and does their post-action, the recording side
//!   records each batch in one transaction;
//! - [`read`]: the part of taking a mail that needs no store (hash, parse, read the lists), on
//!   the reading threads, one per core;
//! - `record`: the part that does (copies recognised, the outcome decided against the unit's
//!   current version, stored with its reply's draft);
//! - [`summary`]: what taking a mail did, and the counts of a run;
//! - [`notify`]: systemd's notifications (ready, the watchdog fed by the loop, stopping).
//!
//! [`Intake`] holds the synchronous core all of them share: configuration, registry, store.

pub mod health;
pub mod notify;
mod pass;
pub mod read;
mod record;
pub mod run;
pub mod summary;
pub mod whole;

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::mailbox::RawMail;
use crate::outbox;
use crate::store::Store;
use crate::units::Registry;

pub use read::{Prepared, Reads, prepare};
pub use run::{RunOptions, backoff, run};
pub use summary::{RunSummary, Taken, peak_memory_kib};

/// The synchronous core: configuration, registry and store. Shared with blocking tasks.
pub struct Intake {
    /// Shared with the threads that read mails while a batch is recorded.
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub store: Store,
    /// Woken when a reply is recorded, so the SMTP sender task delivers it at once.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The reader processes attachments are read in.
    pub readers: Arc<crate::worker::Pool>,
    /// The registry file's modification time when it was loaded
    /// ([`Intake::reload_registry_if_changed`]).
    registry_mtime: Option<std::time::SystemTime>,
}

impl Intake {
    /// Opens the store and the registry named by the configuration.
    pub fn open(config: Config) -> Result<Intake> {
        let registry_mtime = registry_mtime(&config.units.file);
        let registry = Registry::load(&config.units.file)?;
        let readers = Arc::new(crate::worker::Pool::from_config(&config)?);
        let mut store = Store::open(&config.database_path())?;
        store.checkpoint_in_background(&config.database_path())?;
        Ok(Intake {
            config: Arc::new(config),
            registry: Arc::new(registry),
            store,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            readers,
            registry_mtime,
        })
    }

    /// Takes one mail: raw bytes kept first, then parsed, processed and recorded with its reply.
    pub fn take(&mut self, mailbox: &str, raw: &RawMail) -> Result<Taken> {
        Ok(self
            .take_as(mailbox, raw, &How::Normal)?
            .expect("a normal take always records"))
    }

    /// Takes one mail the way `how` says. `None`: the mail was recognised as one taken before
    /// and nothing was recorded (only with [`How::UnlessKnown`]).
    pub fn take_as(&mut self, mailbox: &str, raw: &RawMail, how: &How) -> Result<Option<Taken>> {
        self.take_batch(mailbox, vec![(raw.clone(), how.clone())])
            .pop()
            .expect("one result per mail")
    }

    /// Takes the mails of a batch, in order, in one transaction ([`Store::batch`]): read in
    /// parallel ([`prepare`], one thread per core), then recorded one after the other (each
    /// outcome is decided against the unit's version as the mails before it left it), each
    /// with its reply's draft in the outbox ([`crate::outbox::drafts`]). One result per mail, as
    /// [`Intake::take_as`] gives it; when the batch cannot be committed, every mail of it fails
    /// (none is recorded, so all are taken again).
    pub fn take_batch(
        &mut self,
        mailbox: &str,
        mails: Vec<(RawMail, How)>,
    ) -> Vec<Result<Option<Taken>>> {
        let reads = Reads::start(&self.config, &self.registry, &self.readers, mails);
        self.record_batch(mailbox, reads.into_results())
    }

    /// The second half of [`Intake::take_batch`]: records a batch's mails, in order, in one
    /// transaction. Mails still being read ([`Reads`]) are all waited for before it begins.
    pub fn record_batch(
        &mut self,
        mailbox: &str,
        prepared: impl ExactSizeIterator<Item = Result<Prepared>>,
    ) -> Vec<Result<Option<Taken>>> {
        let n = prepared.len();
        // Every mail of the batch is read before its transaction begins (the daemon's pass
        // waits for them before it locks the intake): the transaction holds the database's
        // write lock only while recording.
        let prepared: Vec<Result<Prepared>> = prepared.collect();
        let (config, registry) = (&*self.config, &*self.registry);
        let results = self.store.batch(|store| {
            let mut recorder = record::Recorder {
                config,
                registry,
                store,
            };
            Ok(prepared
                .into_iter()
                .map(|p| p.and_then(|p| recorder.take(mailbox, p)))
                .collect::<Vec<_>>())
        });
        match results {
            Ok(r) => {
                if r.iter().any(|t| matches!(t, Ok(Some(_)))) {
                    self.outbox_wake.notify_one();
                }
                r
            }
            Err(e) => {
                let text = format!("{e:#}");
                (0..n).map(|_| Err(anyhow::anyhow!("{text}"))).collect()
            }
        }
    }
}

impl Intake {
    /// Delivers pending replies to the outbox folder; with an SMTP server configured the
    /// sender task ([`crate::outbox::sender`]) delivers them instead, and this does nothing.
    pub fn deliver(&mut self) -> Result<usize> {
        if self.config.smtp.is_some() {
            return Ok(0);
        }
        let dir = self.config.outbox_dir();
        outbox::eml::compose_and_deliver(&mut self.store, &self.config, &dir)
    }

    /// Rewrites the report folder.
    pub fn write_report(&self) -> Result<()> {
        crate::report::rewrite(
            &self.store,
            &self.registry,
            &self.config,
            &self.config.report_dir(),
        )
    }
}

/// What processing a stored mail again did ([`Intake::replay`]).
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The outcome the mail had before.
    pub was: crate::pipeline::OutcomeKind,
    pub now: Taken,
}

impl Intake {
    /// Processes the stored mail with this Message-ID (with or without angle brackets) again:
    /// the new result gets its own row, the old one stays, marked superseded. Its reply (if any)
    /// is queued like any other. A mail of which only the header was kept cannot be.
    pub fn replay(&mut self, message_id: &str) -> Result<Replayed> {
        let message_id = message_id.trim().trim_matches(['<', '>']);
        let Some(stored) = self.store.stored_mail(message_id)? else {
            anyhow::bail!("no stored mail has the Message-ID <{message_id}>");
        };
        self.replay_stored(stored, &format!("<{message_id}>"))
    }

    /// [`Intake::replay`] of the current mail row `id` (the desk's "xử lý lại").
    pub fn replay_mail(&mut self, id: i64) -> Result<Replayed> {
        let Some(stored) = self.store.stored_mail_by_id(id)? else {
            anyhow::bail!("mail {id} is not stored, or was processed again since");
        };
        self.replay_stored(stored, &format!("mail {id}"))
    }

    /// Staff release the held mail row `id` to the unit `unit_code`: it is processed again as if
    /// its sender were registered for that unit (trusted, answered as the unit's own mail). The
    /// registry itself is not changed (that is [`Registry::with_address`], written back by the
    /// desk when staff ask to trust the address for good).
    pub fn release_mail(&mut self, id: i64, unit_code: &str) -> Result<Replayed> {
        let Some(stored) = self.store.stored_mail_by_id(id)? else {
            anyhow::bail!("mail {id} is not stored, or was processed again since");
        };
        let sender = self
            .store
            .sender_of(id)?
            .filter(|s| !s.is_empty())
            .with_context(|| format!("mail {id} has no single sender address to trust"))?;
        let trusted = Arc::new(self.registry.with_address(unit_code, &sender)?);
        let registry = std::mem::replace(&mut self.registry, trusted);
        let replayed = self.replay_stored(stored, &format!("mail {id}"));
        self.registry = registry;
        replayed
    }

    fn replay_stored(&mut self, stored: crate::store::StoredMail, name: &str) -> Result<Replayed> {
        let bytes = self
            .store
            .raw_bytes(&stored.sha256)?
            .with_context(|| format!("the raw bytes of {name} are missing from the store"))?;
        if (bytes.len() as u64) < stored.size {
            anyhow::bail!(
                "only the header of {name} was kept (the mail was over the size limit); it \
                 cannot be processed again: ask the sender for a smaller mail"
            );
        }
        let raw = RawMail {
            source_key: stored.source_key.clone(),
            received_at: stored.received_at,
            bytes,
        };
        let how = How::Replay {
            id: stored.id,
            mailbox: stored.mailbox.clone(),
            key: stored.source_key,
        };
        let now = self
            .take_as(&stored.mailbox, &raw, &how)?
            .context("a replay always records")?;
        Ok(Replayed {
            was: stored.outcome,
            now,
        })
    }

    /// Loads the registry again when its file changed since it was loaded (staff edited it in
    /// the desk, or `units import` replaced it): a running daemon uses a new unit at its next
    /// pass. A file that no longer loads is logged and the registry in use is kept.
    pub fn reload_registry_if_changed(&mut self) {
        let modified = registry_mtime(&self.config.units.file);
        if modified == self.registry_mtime {
            return;
        }
        match Registry::load(&self.config.units.file) {
            Ok(r) => {
                tracing::info!(units = r.units().len(), file = %self.config.units.file.display(), "units registry reloaded");
                self.registry = Arc::new(r);
                self.registry_mtime = modified;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the changed units registry cannot be loaded; the one loaded before stays in use");
                self.registry_mtime = modified;
            }
        }
    }
}

impl Intake {
    /// Writes the mails to staff that are due (the daily digest, an alert when polling has
    /// failed for a while, a mail when it works again: [`outbox::notice`]) into the outbox, and
    /// wakes the sender. Returns how many were written.
    pub fn notify_staff(&mut self) -> Result<usize> {
        if self.config.desk.digest_to.is_empty() {
            return Ok(0);
        }
        let fresh = health::freshness(&self.config, &self.store)?;
        let last = fresh.poll.and_then(|p| p.last_success_at);
        let due = outbox::notice::due(
            &self.store,
            &self.registry,
            &self.config,
            chrono::Utc::now(),
            last,
        )?;
        let mut written = 0;
        for n in due {
            if self.store.add_notice(n.kind, &n.key, &n.mail)? {
                tracing::info!(kind = n.kind, "mail to staff written");
                written += 1;
            }
        }
        if written > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(written)
    }
}

/// When the registry file was last changed, if it can be told.
fn registry_mtime(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// How a mail is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A new mail: a copy of one taken before is recorded as `duplicate`.
    Normal,
    /// A mail listed again after a UIDVALIDITY change: when it is one taken before (same
    /// Message-ID and content), nothing is recorded.
    UnlessKnown,
    /// A mail over the size limit, of which only the header was fetched: held for staff and
    /// answered with a message about the size.
    Oversized { size: u64 },
    /// `replay`: the stored mail row `id` (from `mailbox`, key `key`) processed again; the new
    /// row supersedes it.
    Replay {
        id: i64,
        mailbox: String,
        key: String,
    },
}

/// Runs `f` on the intake on a blocking thread (rusqlite, calamine and xlsx writing block).
pub async fn blocking<T, F>(intake: &Arc<Mutex<Intake>>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Intake) -> Result<T> + Send + 'static,
{
    crate::store::blocking::locked(intake, f).await
}
