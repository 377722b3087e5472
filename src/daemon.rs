//! The loop: list the mailbox, take each new mail once (keep its bytes, parse, process, store the
//! result and its reply in one transaction), deliver the outbox, refresh the report, then wait
//! for new mail or shutdown. One bad mail is logged and counted; the loop goes on.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::watch;

use crate::config::Config;
use crate::mailbox::imap::LoginRefused;
use crate::mailbox::{Cursor, MailRef, Mailbox, RawMail};
use crate::pipeline::{self, Outcome, OutcomeKind, ReplyKind};
use crate::reply;
use crate::store::{MailRecord, Store};
use crate::units::Registry;

/// The synchronous core: configuration, registry and store. Shared with blocking tasks.
pub struct Intake {
    /// Shared with the threads that read mails while a batch is recorded.
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
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
        let mut store = Store::open(&config.database_path())?;
        store.checkpoint_in_background(&config.database_path())?;
        Ok(Intake {
            config: Arc::new(config),
            registry: Arc::new(registry),
            store,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
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
    /// with its reply's draft in the outbox ([`reply::drafts`]). One result per mail, as
    /// [`Intake::take_as`] gives it; when the batch cannot be committed, every mail of it fails
    /// (none is recorded, so all are taken again).
    pub fn take_batch(
        &mut self,
        mailbox: &str,
        mails: Vec<(RawMail, How)>,
    ) -> Vec<Result<Option<Taken>>> {
        let reads = Reads::start(&self.config, &self.registry, mails);
        self.record_batch(mailbox, reads.into_results())
    }

    /// The second half of [`Intake::take_batch`]: records mails being read ([`Reads`]), in
    /// order. Each is taken from `prepared` only when the mails before it are recorded: a mail
    /// still being read on another core is waited for there.
    pub fn record_batch(
        &mut self,
        mailbox: &str,
        prepared: impl ExactSizeIterator<Item = Result<Prepared>>,
    ) -> Vec<Result<Option<Taken>>> {
        let n = prepared.len();
        let (config, registry) = (&*self.config, &*self.registry);
        let results = self.store.batch(|store| {
            let mut recorder = Recorder {
                config,
                registry,
                store,
            };
            Ok(prepared
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

/// The intake's parts that record a mail: borrowed apart, so a batch can hold the store in its
/// transaction while reading the configuration and the registry.
struct Recorder<'a> {
    config: &'a Config,
    registry: &'a Registry,
    store: &'a mut Store,
}

impl Recorder<'_> {
    /// Records a mail read by [`prepare`]: raw bytes kept, copies recognised, the outcome decided
    /// against the unit's current version and stored with its reply's draft.
    fn take(&mut self, mailbox: &str, prepared: Prepared) -> Result<Option<Taken>> {
        let Prepared {
            raw,
            how,
            sha,
            parsed,
            reading,
        } = prepared;
        self.store
            .keep_raw_hashed(&sha, &raw.bytes)
            .context("cannot keep the raw mail")?;
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
            return Ok(Some(summary(&outcome)));
        }
        let store = &self.store;
        // The unit's current rows with their ids, read once for the decision and the record.
        let current = std::cell::OnceCell::new();
        let previous = |unit: &str| -> Option<Vec<crate::validate::ValidRow>> {
            match store.current_rows(unit) {
                Ok(rows) => {
                    let values = rows
                        .as_ref()
                        .map(|r| r.iter().map(|(_, row)| row.clone()).collect());
                    let _ = current.set(rows.unwrap_or_default());
                    values
                }
                Err(e) => {
                    tracing::error!(unit, error = %format!("{e:#}"), "cannot read the unit's current list");
                    None
                }
            }
        };
        let mut outcome =
            pipeline::decide(&parsed, reading, raw.received_at, self.config, &previous);
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
        let draft = reply::drafts::Draft {
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
            r.held = reply::rate_limit(self.store, r, raw.received_at, self.config)?;
        }
        let mut outcome = draft.outcome;
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
        Ok(Some(summary(&outcome)))
    }

    fn store_unit_of(&self, mail_id: i64) -> Result<Option<crate::units::Unit>> {
        let code: Option<String> = self.store.conn().query_row(
            "SELECT unit_code FROM mails WHERE id = ?1",
            [mail_id],
            |r| r.get(0),
        )?;
        Ok(code.and_then(|c| self.registry.by_code(&c).cloned()))
    }
}

impl Intake {
    /// Delivers pending replies to the outbox folder; with an SMTP server configured the
    /// sender task ([`reply::sender`]) delivers them instead, and this does nothing.
    pub fn deliver(&mut self) -> Result<usize> {
        if self.config.smtp.is_some() {
            return Ok(0);
        }
        reply::drafts::compose_pending(&mut self.store, &self.config)?;
        reply::outbox::deliver_to_dir(&self.store, &self.config.outbox_dir())
    }

    /// Rewrites the report folder.
    pub fn write_report(&self) -> Result<()> {
        let rec = crate::report::build(&self.store, &self.registry, &self.config)?;
        crate::report::write(&rec, &self.config.report_dir())
    }
}

/// A mail read and not yet recorded: what [`prepare`] gives [`Intake::take_batch`].
pub struct Prepared {
    raw: RawMail,
    how: How,
    /// SHA-256 of the raw bytes, lower-case hex.
    sha: String,
    parsed: crate::mail::ParsedMail,
    reading: pipeline::Reading,
}

/// The reading threads: one per core, at a lower priority than the rest of the process
/// (nice 10 on Linux). Reading is the parallel part of taking mail, recording the serial part:
/// at equal priority the readers would take two thirds of the cores from the one thread that
/// records, and the pipeline would wait on the recorder.
fn readers() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("read-{i}"))
            .start_handler(|_| lower_thread_priority())
            .build()
            .expect("the reading threads start")
    })
}

/// Lowers the calling thread's priority (nice 10; on Linux a thread's nice value is its own):
/// for the reading threads, whose work can wait while the thread that records mail cannot.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority have no preconditions; a failure leaves the priority as it
    // was, which is only slower.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// The mails of a batch being read on the reading threads (rayon's, one per core), each as soon
/// as it is fetched, oldest first: [`Intake::record_batch`] takes them in order as they are
/// ready, so recording and reading overlap with no wait for a whole batch to be read.
pub struct Reads {
    pending: Vec<std::sync::mpsc::Receiver<std::thread::Result<Prepared>>>,
}

impl Reads {
    /// Starts reading `mails`.
    pub fn start(
        config: &Arc<Config>,
        registry: &Arc<Registry>,
        mails: impl IntoIterator<Item = (RawMail, How)>,
    ) -> Reads {
        let pending = mails
            .into_iter()
            .map(|(raw, how)| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let (config, registry) = (config.clone(), registry.clone());
                readers().spawn_fifo(move || {
                    // A panic is the mail's own failure, not the reading thread's (rayon would
                    // abort the process).
                    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        prepare(&config, &registry, raw, how)
                    }));
                    // The receiver is gone when the pass ended early (shutdown, an error).
                    let _ = tx.send(read);
                });
                rx
            })
            .collect();
        Reads { pending }
    }

    /// The mails read, in order, each waited for when asked.
    pub fn into_results(self) -> impl ExactSizeIterator<Item = Result<Prepared>> {
        self.pending.into_iter().map(|rx| match rx.recv() {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(anyhow::anyhow!(
                "reading the mail failed: the reader panicked"
            )),
            Err(_) => Err(anyhow::anyhow!("reading the mail was abandoned")),
        })
    }
}

/// The part of taking a mail that needs no store: hash, parse, read the lists. Pure, so the
/// mails of a batch are prepared on every core at once.
pub fn prepare(config: &Config, registry: &Registry, raw: RawMail, how: How) -> Prepared {
    use sha2::Digest;
    let sha = crate::store::hex(&sha2::Sha256::digest(&raw.bytes));
    let parsed = crate::mail::parse(&raw.bytes, &config.campaign.department_address);
    let reading = pipeline::read(&parsed, config, registry);
    Prepared {
        raw,
        how,
        sha,
        parsed,
        reading,
    }
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
    /// Mails listed again after a UIDVALIDITY change and recognised as taken before.
    pub known: usize,
    /// Mails over the size limit (held, header kept).
    pub oversized: usize,
    /// Mails that could not be taken this time (read error); they are retried next pass.
    pub failed: usize,
    pub replies_written: usize,
    /// Time spent taking mail: listing, fetching, reading, recording (fetch to stored result).
    pub taking: Duration,
    /// Time spent composing and writing replies into the outbox folder (without an SMTP
    /// server; with one, the sender task composes and sends them beside the intake).
    pub replying: Duration,
    /// Time spent writing the report.
    pub reporting: Duration,
    /// The process's peak resident memory when it last finished taking mail, before the
    /// replies and the report (KiB; Linux only).
    pub taking_peak_kib: Option<u64>,
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

/// How `run` watches the mailbox.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Take what is there, then return.
    pub once: bool,
    /// The longest wait between two passes (the mailbox may wake the daemon sooner).
    pub wait: Duration,
    /// After a refused login, the wait before trying again.
    pub auth_retry: Duration,
    /// The longest wait between two reconnection attempts.
    pub reconnect_max: Duration,
    /// Mails fetched together, at most.
    pub batch_size: usize,
}

impl RunOptions {
    /// The options the configuration gives.
    pub fn from_config(config: &Config, once: bool) -> RunOptions {
        match &config.source.imap {
            Some(imap) => RunOptions {
                once,
                wait: Duration::from_secs(imap.full_poll_seconds.max(1)),
                auth_retry: Duration::from_secs(imap.auth_retry_seconds.max(1)),
                reconnect_max: Duration::from_secs(imap.reconnect_max_seconds.max(1)),
                batch_size: imap.batch_size.max(1),
            },
            None => RunOptions {
                once,
                wait: Duration::from_secs(config.source.poll_seconds.max(1)),
                auth_retry: Duration::from_secs(300),
                reconnect_max: Duration::from_secs(300),
                batch_size: crate::config::DEFAULT_BATCH_SIZE,
            },
        }
    }
}

/// The wait before reconnection attempt `failures` (1, 2, ...): one second doubling up to `max`,
/// each with up to a quarter more or less at random, so many clients do not retry in step.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(max);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    base.mul_f64(jitter)
}

/// Runs `f` on the intake on a blocking thread (rusqlite, calamine and xlsx writing block).
pub async fn blocking<T, F>(intake: &Arc<Mutex<Intake>>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Intake) -> Result<T> + Send + 'static,
{
    locked(intake, f).await
}

/// The one way to blocking work: locks `shared` on a blocking thread and runs `f` on it. Used for
/// the intake and for the stores of the reply sender and the Sent-folder copy.
pub async fn locked<S, T, F>(shared: &Arc<Mutex<S>>, f: F) -> Result<T>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnOnce(&mut S) -> Result<T> + Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = shared
            .lock()
            .map_err(|_| anyhow::anyhow!("a lock was poisoned by a panic"))?;
        f(&mut guard)
    })
    .await
    .context("a blocking task failed")?
}

/// Takes every new mail of `mailbox` once, delivers the outbox and refreshes the report; with
/// `once` false, waits for new mail (or a full poll) and repeats until `shutdown` turns true.
/// After an error (a lost connection, a refused login) it waits, longer each time, and goes on.
/// At shutdown the mail in hand is finished and committed, then the mailbox is closed.
pub async fn run<M: Mailbox>(
    intake: Arc<Mutex<Intake>>,
    mut mailbox: M,
    options: RunOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    let name = mailbox.name().to_string();
    let mut failures = 0u32;
    let mut login_refused = false;
    loop {
        match pass(&intake, &mut mailbox, &mut summary, &shutdown, &options).await {
            Ok(()) => {
                if failures > 0 || login_refused {
                    tracing::info!(mailbox = %name, "mailbox reachable again");
                }
                failures = 0;
                login_refused = false;
            }
            Err(e) => {
                let text = format!("{e:#}");
                let n = name.clone();
                let t = text.clone();
                if let Err(e) = blocking(&intake, move |i| i.store.record_poll(&n, Some(&t))).await
                {
                    tracing::error!(error = %format!("{e:#}"), "cannot record the failed pass");
                }
                if options.once {
                    mailbox.close().await;
                    return Err(e);
                }
                failures += 1;
                let delay = if e.downcast_ref::<LoginRefused>().is_some() {
                    if !login_refused {
                        tracing::error!(mailbox = %name, error = %text,
                            "login refused; retrying every {} s without further reports until it works",
                            options.auth_retry.as_secs());
                    } else {
                        tracing::debug!(mailbox = %name, error = %text, "login refused again");
                    }
                    login_refused = true;
                    options.auth_retry
                } else {
                    let delay = backoff(failures, options.reconnect_max);
                    tracing::warn!(mailbox = %name, error = %text,
                        "pass failed; retrying in {:.1} s", delay.as_secs_f64());
                    delay
                };
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| *s) => {}
                }
                if *shutdown.borrow() {
                    break;
                }
                continue;
            }
        }
        if options.once || *shutdown.borrow() {
            break;
        }
        if let Err(e) = mailbox.wait_for_new(options.wait, &mut shutdown).await {
            // The next pass reconnects.
            tracing::warn!(mailbox = %name, error = %format!("{e:#}"), "waiting for new mail failed");
        }
        if *shutdown.borrow() {
            break;
        }
    }
    mailbox.close().await;
    Ok(summary)
}

/// One pass: list what is new, take each mail in order, deliver the replies.
async fn pass<M: Mailbox>(
    intake: &Arc<Mutex<Intake>>,
    mailbox: &mut M,
    summary: &mut RunSummary,
    shutdown: &watch::Receiver<bool>,
    options: &RunOptions,
) -> Result<()> {
    let started = Instant::now();
    let mut replying = Duration::ZERO;
    let name = mailbox.name().to_string();
    let n = name.clone();
    let (state, limit) = blocking(intake, move |i| {
        Ok((
            i.store.mailbox_state(&n)?,
            i.config.source.max_message_bytes(),
        ))
    })
    .await?;
    let since = state.map(|s| Cursor {
        uid_validity: s.uid_validity,
        uid: s.last_uid,
    });
    let listing = mailbox.list(since).await?;
    tracing::debug!(mails = listing.mails.len(), "mailbox listed");
    let mut rescan_until = state.map_or(0, |s| s.rescan_until);
    if let Some(reset) = listing.reset {
        if state.is_some() {
            tracing::warn!(mailbox = %name, uid_validity = reset.uid_validity,
                "UIDVALIDITY changed: reading the whole folder again; mails taken before are recognised by Message-ID and content");
        }
        let n = name.clone();
        blocking(intake, move |i| {
            i.store
                .reset_mailbox_state(&n, reset.uid_validity, reset.highest_uid)
        })
        .await?;
        rescan_until = reset.highest_uid;
    }
    let taken = if listing.mails.is_empty() {
        HashSet::new()
    } else {
        let n = name.clone();
        blocking(intake, move |i| i.store.taken_keys(&n)).await?
    };
    let mut took_any = false;
    let batches = batches(listing.mails, options.batch_size, limit);
    let wanted = Wanted {
        taken: &taken,
        limit,
        rescan_until,
    };
    // A pipeline of two sides that run at once, each at its own pace, joined by channels:
    //
    // - the server side fetches the batches in order, each as soon as fewer than `AHEAD`
    //   fetched batches wait to be recorded, and starts reading its mails on the reading threads
    //   at once; between fetches it does the post-action of each batch committed;
    // - the recording side records each batch in one transaction, every mail as soon as it is
    //   read and the mails before it are recorded, and moves the position past the batches
    //   whose post-action is done.
    //
    // At most `AHEAD` + 1 batches in hand: memory stays flat.
    const AHEAD: usize = 2;
    let (config, registry) =
        blocking(intake, |i| Ok((i.config.clone(), i.registry.clone()))).await?;
    let start_reading = |fetched: Vec<(usize, RawMail, How)>| {
        let (keys, items): (Vec<BatchKey>, Vec<(RawMail, How)>) = fetched
            .into_iter()
            .map(|(at, raw, how)| ((at, raw.source_key.clone()), (raw, how)))
            .unzip();
        (keys, Reads::start(&config, &registry, items))
    };
    // Batches fetched and being read: (index, keys, reads).
    let (read_tx, read_rx) = tokio::sync::mpsc::channel::<(usize, Vec<BatchKey>, Reads)>(AHEAD);
    // Batches committed: (index, how many of its first mails), for their post-action.
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
    // Post-actions done, in order: the position may pass these mails.
    let (marked_tx, marked_rx) = std::sync::mpsc::channel::<(usize, usize)>();
    let passed = |marked: &[(usize, usize)]| {
        marked
            .iter()
            .flat_map(|&(k, upto)| &batches[k][..upto])
            .filter_map(|m| m.cursor)
            .max_by_key(|c| c.uid)
    };
    let mut oversized = 0;
    let server = async {
        let mut done_rx = done_rx;
        // Dropped once every batch is fetched (or fetching stops): the recording side then ends
        // after the last one.
        let mut read_tx = (!batches.is_empty()).then_some(read_tx);
        let mut next = 0;
        loop {
            enum Step<P> {
                Done(Option<(usize, usize)>),
                Room(P),
            }
            let step = tokio::select! {
                biased;
                done = done_rx.recv() => Step::Done(done),
                room = async { read_tx.clone().expect("fetching").reserve_owned().await },
                    if read_tx.is_some() => Step::Room(room),
            };
            match step {
                // The recording side is finished.
                Step::Done(None) => break,
                Step::Done(Some((k, upto))) => {
                    mailbox.mark_done(&batches[k][..upto]).await?;
                    let _ = marked_tx.send((k, upto));
                }
                // The recording side stopped (an error, or shutdown).
                Step::Room(Err(_)) => read_tx = None,
                Step::Room(Ok(_)) if *shutdown.borrow() => read_tx = None,
                Step::Room(Ok(room)) => {
                    let start = Instant::now();
                    let fetched =
                        fetch_batch(mailbox, &batches[next], &wanted, &mut oversized).await?;
                    tracing::debug!(
                        fetch_ms = start.elapsed().as_millis() as u64,
                        "batch fetched"
                    );
                    let (keys, reads) = start_reading(fetched);
                    room.send((next, keys, reads));
                    next += 1;
                    if next == batches.len() {
                        read_tx = None;
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let recorder = async {
        let (done_tx, mut read_rx) = (done_tx, read_rx);
        while let Some((index, keys, reads)) = read_rx.recv().await {
            if *shutdown.borrow() {
                break;
            }
            let batch = &batches[index];
            let position = passed(&marked_rx.try_iter().collect::<Vec<_>>());
            let n = name.clone();
            let (results, recording) = blocking(intake, move |i| {
                if let Some(c) = position {
                    i.store.advance_mailbox_state(&n, c.uid_validity, c.uid)?;
                }
                let start = Instant::now();
                Ok((i.record_batch(&n, reads.into_results()), start.elapsed()))
            })
            .await?;
            // The mails of the batch whose results are committed (now, or before a crash): all
            // of them up to the first that failed.
            let mut failed_at = None;
            for ((at, key), result) in keys.iter().zip(results) {
                match result {
                    Ok(Some(t)) => {
                        tracing::info!(mail = %key, outcome = t.outcome.code(), reply = t.reply.code(),
                            unit = t.unit.as_deref().unwrap_or("-"), note = %t.note, "mail taken");
                        summary.count(&t);
                        took_any = true;
                    }
                    Ok(None) => summary.known += 1,
                    Err(e) => {
                        summary.failed += 1;
                        tracing::error!(mail = %key, error = %format!("{e:#}"), "cannot take mail");
                        if batch[*at].cursor.is_some() && failed_at.is_none() {
                            // The position must not pass a mail that is not taken: finish the
                            // ones before it, then give up this pass.
                            failed_at = Some((*at, e.context(format!("cannot take mail {key}"))));
                        }
                    }
                }
            }
            tracing::debug!(
                mails = keys.len(),
                record_ms = recording.as_millis() as u64,
                "batch recorded"
            );
            if let Some((at, e)) = failed_at {
                let _ = done_tx.send((index, at));
                return Err(e);
            }
            // Gone: the server side failed. This batch is committed; the next pass lists it
            // again, recognises it as taken and does its post-action.
            let _ = done_tx.send((index, batch.len()));
            if !options.once {
                // A long first pass answers as it goes; `--once` answers at the end.
                let start = Instant::now();
                summary.replies_written += blocking(intake, |i| i.deliver()).await?;
                replying += start.elapsed();
            }
        }
        Ok(())
    };
    let (server, recorded) = tokio::join!(server, recorder);
    summary.oversized += oversized;
    // The position passes every batch whose post-action is done.
    if let Some(c) = passed(&marked_rx.try_iter().collect::<Vec<_>>()) {
        let n = name.clone();
        blocking(intake, move |i| {
            i.store.advance_mailbox_state(&n, c.uid_validity, c.uid)
        })
        .await?;
    }
    // A mail that failed says more than the connection that failed after it.
    recorded?;
    server?;
    let n = name.clone();
    blocking(intake, move |i| {
        i.store.record_poll(&n, None)?;
        if took_any {
            // The burst is over: the WAL is copied into the database beside the replies.
            i.store.checkpoint_soon();
        }
        Ok(())
    })
    .await?;
    summary.taking += started.elapsed() - replying;
    summary.taking_peak_kib = peak_memory_kib();
    let start = Instant::now();
    summary.replies_written += blocking(intake, |i| {
        let written = i.deliver()?;
        if written > 0 {
            // The replies' bytes, stored as they were written, are copied beside the report.
            i.store.checkpoint_soon();
        }
        Ok(written)
    })
    .await?;
    summary.replying += replying + start.elapsed();
    if took_any || !intake_report_exists(intake).await? {
        let start = Instant::now();
        blocking(intake, |i| i.write_report()).await?;
        summary.reporting += start.elapsed();
    }
    Ok(())
}

/// The process's peak resident memory so far (VmHWM, KiB), where /proc tells it.
pub fn peak_memory_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Splits a listing into batches: mails in order, fetched together up to `size` mails and
/// `limit` bytes (a mail over `limit` is never fetched whole, so it counts for nothing).
fn batches(mails: Vec<MailRef>, size: usize, limit: u64) -> Vec<Vec<MailRef>> {
    let mut out: Vec<Vec<MailRef>> = Vec::new();
    let mut bytes = 0u64;
    for m in mails {
        let whole = m.size <= limit;
        let fits = out
            .last()
            .is_some_and(|b| b.len() < size && !(whole && !b.is_empty() && bytes + m.size > limit));
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        if whole {
            bytes += m.size;
        }
        out.last_mut().expect("pushed").push(m);
    }
    out
}

/// A fetched mail's place in its batch, and its key.
type BatchKey = (usize, String);

/// Which listed mails a pass takes, and how.
struct Wanted<'a> {
    /// Keys of the mails taken before (never taken again).
    taken: &'a HashSet<String>,
    /// The size limit: a larger mail is taken by its header only.
    limit: u64,
    /// After a UIDVALIDITY change: UIDs up to this one may be mails taken before.
    rescan_until: u32,
}

/// Fetches the mails of a batch that are to be taken, each with how to take it and its index in
/// the batch: the whole ones in one command, the header of each oversized one. A mail taken
/// before, or gone meanwhile, is left out.
async fn fetch_batch<M: Mailbox>(
    mailbox: &mut M,
    batch: &[MailRef],
    wanted: &Wanted<'_>,
    oversized: &mut usize,
) -> Result<Vec<(usize, RawMail, How)>> {
    let whole: Vec<MailRef> = batch
        .iter()
        .filter(|m| m.size <= wanted.limit && !wanted.taken.contains(&m.source_key))
        .cloned()
        .collect();
    let mut fetched: HashMap<String, RawMail> = mailbox
        .fetch(&whole)
        .await?
        .into_iter()
        .map(|r| (r.source_key.clone(), r))
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    for (at, m) in batch.iter().enumerate() {
        if wanted.taken.contains(&m.source_key) {
            continue;
        }
        if m.size > wanted.limit {
            *oversized += 1;
            let header = mailbox.fetch_header(m).await?;
            out.push((at, header, How::Oversized { size: m.size }));
        } else if let Some(raw) = fetched.remove(&m.source_key) {
            let how = if m.cursor.is_some_and(|c| c.uid <= wanted.rescan_until) {
                How::UnlessKnown
            } else {
                How::Normal
            };
            out.push((at, raw, how));
        }
    }
    Ok(out)
}

async fn intake_report_exists(intake: &Arc<Mutex<Intake>>) -> Result<bool> {
    blocking(intake, |i| {
        Ok(i.config.report_dir().join("doi-chieu.xlsx").exists())
    })
    .await
}
