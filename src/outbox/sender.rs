//! The sender task: delivers the outbox's pending replies through a [`Transport`] (SMTP in
//! production), the stored bytes unchanged, so a reply keeps its Message-ID across attempts.
//!
//! - accepted by the server: `sent`, with the server's answer (its queue id) kept;
//! - refused for now (4xx), or the server unreachable: stays `pending`, `attempts` and
//!   `next_attempt_at` persisted (exponential backoff), so a restart of cts-intake carries on;
//! - refused for good (5xx): `failed`, the error kept, the mail listed as unanswered;
//! - still undelivered after the give-up time: `failed`.
//!
//! A crash in the instant between the server's OK and our commit sends the reply again on
//! restart, with the same bytes and Message-ID, so it is recognisable as the same mail.
//!
//! After a reply is recorded as sent, each [`AfterSend`] hook runs (the IMAP APPEND of a copy to
//! the mailbox's Sent folder, [`super::sent_copy`]); a failing hook is logged and never resends.
//! A hook that [owes a copy](AfterSend::owes_copy) has the debt recorded with the reply's `sent`
//! state, and catches up on what is still owed at the start of every pass
//! ([`AfterSend::before_pass`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::config::Replies;
use crate::store::{OutboxItem, Store};

/// Why a message was not handed over, which decides what is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Trying again cannot help (a 5xx answer about this reply): marked failed.
    Permanent,
    /// Refused for now (a 4xx answer, a broken connection): tried again later.
    Transient,
    /// No session with the server could be opened (down, unreachable, TLS or login refused):
    /// the other replies due now are deferred without trying, so a dead server costs one
    /// timeout per pass, not one per reply.
    Unreachable,
}

/// Why a transport could not hand a reply over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub failure: Failure,
    pub message: String,
}

impl SendError {
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            failure: Failure::Permanent,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            failure: Failure::Transient,
            message: message.into(),
        }
    }

    pub fn unreachable(message: impl Into<String>) -> SendError {
        SendError {
            failure: Failure::Unreachable,
            message: message.into(),
        }
    }
}

/// Hands one message to a server.
pub trait Transport: Send + Sync + 'static {
    /// Where replies go, for logs and the run summary ("smtps://user@host:465").
    fn describe(&self) -> String;

    /// Sends `bytes` unchanged to `to`, with `from` as the envelope sender; returns the server's
    /// answer.
    fn send(
        &self,
        from: &str,
        to: &[String],
        bytes: &[u8],
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// Runs after a reply is recorded as sent (e.g. APPEND a copy to the IMAP Sent folder).
pub trait AfterSend: Send + Sync {
    fn after_send<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

    /// True when every sent reply owes this hook a copy until the hook records it made
    /// (`outbox.copy_owed`, `copied_at`): the sender records the debt in the same update that
    /// records the reply as sent, so a crash before the hook ran loses nothing.
    fn owes_copy(&self) -> bool {
        false
    }

    /// Runs at the start of every delivery pass: the place to catch up on what earlier passes
    /// left owed (a crash, a server down).
    fn before_pass(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// When to try a reply again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// A reply still undelivered this long after it was written is marked failed.
    pub give_up_after: Duration,
}

impl RetryPolicy {
    pub fn from_config(r: &Replies) -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_secs(r.retry_first_seconds),
            max: Duration::from_secs(r.retry_max_seconds),
            give_up_after: Duration::from_secs(r.give_up_after_hours.saturating_mul(3600)),
        }
    }

    /// The wait after the `failures`-th failed attempt (1 for the first).
    pub fn delay(&self, failures: i64) -> Duration {
        let doublings = (failures.max(1) - 1).min(30) as u32;
        self.first
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// Refused for now or unreachable: tried again later.
    pub deferred: usize,
    pub failed: usize,
}

impl std::ops::AddAssign for Delivery {
    fn add_assign(&mut self, o: Delivery) {
        self.sent += o.sent;
        self.deferred += o.deferred;
        self.failed += o.failed;
    }
}

/// A reply's state on its way into the store.
struct Recording {
    handle: tokio::task::JoinHandle<Result<()>>,
    item: OutboxItem,
    delivery: Delivery,
}

/// How many replies one query takes from the outbox.
const BATCH: usize = 100;

/// Delivers the outbox through a transport.
pub struct Sender<T: Transport> {
    /// Its own connection to the database (WAL lets it write beside the intake's).
    store: Arc<Mutex<Store>>,
    transport: T,
    /// The envelope sender: the department's address, so bounces come back to its mailbox (where
    /// they are recognised as bounces and never answered).
    from: String,
    policy: RetryPolicy,
    after_send: Vec<Arc<dyn AfterSend>>,
    /// Some hook keeps a copy of every sent reply (see [`AfterSend::owes_copy`]).
    copy_owed: bool,
    /// The configuration replies are composed with, when the outbox holds drafts
    /// ([`super::drafts`]); without it, drafts wait.
    drafts: Option<Arc<crate::config::Config>>,
}

impl<T: Transport> Sender<T> {
    pub fn new(store: Store, transport: T, from: &str, policy: RetryPolicy) -> Sender<T> {
        Sender {
            store: Arc::new(Mutex::new(store)),
            transport,
            from: from.to_string(),
            policy,
            after_send: Vec::new(),
            copy_owed: false,
            drafts: None,
        }
    }

    /// Composes the replies the intake left as drafts before delivering them.
    pub fn with_drafts(mut self, config: Arc<crate::config::Config>) -> Sender<T> {
        self.drafts = Some(config);
        self
    }

    /// Adds a hook run after each reply is recorded as sent.
    pub fn with_after_send(mut self, hook: Arc<dyn AfterSend>) -> Sender<T> {
        self.copy_owed |= hook.owes_copy();
        self.after_send.push(hook);
        self
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn db<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> Result<R> + Send + 'static,
    {
        crate::store::blocking::locked(&self.store, move |s| f(s)).await
    }

    /// One attempt at every reply due now, oldest first; stops early when `shutdown` turns true.
    pub async fn deliver_due(&self, shutdown: Option<&watch::Receiver<bool>>) -> Result<Delivery> {
        for hook in &self.after_send {
            if let Err(e) = hook.before_pass().await {
                tracing::warn!(error = %format!("{e:#}"),
                    "catching up on earlier after-send steps failed; tried again next pass");
            }
        }
        // The previous reply's state is stored while the next one is sent; whatever happens,
        // the last one is waited for before returning.
        let mut in_flight = None;
        let result = self.deliver_batches(shutdown, &mut in_flight).await;
        let last = match in_flight {
            Some(r) => self.finish(r).await,
            None => Ok(Delivery::default()),
        };
        let mut done = result?;
        done += last?;
        Ok(done)
    }

    async fn deliver_batches(
        &self,
        shutdown: Option<&watch::Receiver<bool>>,
        in_flight: &mut Option<Recording>,
    ) -> Result<Delivery> {
        let start = Utc::now();
        let mut done = Delivery::default();
        let mut after_id = 0;
        // Set once the server cannot be reached: the rest is deferred without trying.
        let mut unreachable: Option<String> = None;
        loop {
            if let Some(config) = &self.drafts {
                let config = config.clone();
                crate::store::blocking::locked(&self.store, move |s| {
                    super::drafts::compose_pending(s, &config)
                })
                .await?;
            }
            let batch = self
                .db(move |s| s.due_replies_after(after_id, start, BATCH))
                .await?;
            if batch.is_empty() {
                return Ok(done);
            }
            for item in batch {
                if shutdown.is_some_and(|s| *s.borrow()) {
                    return Ok(done);
                }
                after_id = item.id;
                let result = match &unreachable {
                    Some(message) => Err(SendError::unreachable(format!("not tried: {message}"))),
                    None => {
                        self.transport
                            .send(&self.from, &item.recipients, &item.bytes)
                            .await
                    }
                };
                if let Err(e) = &result
                    && e.failure == Failure::Unreachable
                    && unreachable.is_none()
                {
                    unreachable = Some(e.message.clone());
                }
                if let Some(previous) = in_flight.take() {
                    done += self.finish(previous).await?;
                }
                *in_flight = Some(self.start_record(item, result));
            }
        }
    }

    /// Decides what `result` means for `item`, logs it and starts writing it to the store; the
    /// write overlaps the next send and is awaited by [`Sender::finish`] before the next write.
    fn start_record(&self, item: OutboxItem, result: Result<String, SendError>) -> Recording {
        let id = item.id;
        type Write = Box<dyn FnOnce(&Store) -> Result<()> + Send>;
        let copy_owed = self.copy_owed;
        let (write, delivery): (Write, Delivery) = match result {
            Ok(response) => {
                tracing::info!(reply = %item.message_id, to = %item.recipients.join(","),
                    server = %response, "reply sent");
                (
                    Box::new(move |s| s.mark_delivered(id, &response, copy_owed)),
                    Delivery {
                        sent: 1,
                        ..Default::default()
                    },
                )
            }
            Err(e) if e.failure == Failure::Permanent => {
                tracing::error!(reply = %item.message_id, to = %item.recipients.join(","),
                    error = %e.message, "reply refused for good; marked failed");
                let message = e.message;
                (
                    Box::new(move |s| s.mark_failed(id, &message)),
                    Delivery {
                        failed: 1,
                        ..Default::default()
                    },
                )
            }
            Err(e) => {
                let failures = item.attempts + 1;
                let age = (Utc::now() - item.created_at).to_std().unwrap_or_default();
                if age >= self.policy.give_up_after {
                    tracing::error!(reply = %item.message_id, attempts = failures,
                        error = %e.message, "reply still undelivered; giving up");
                    let message = format!(
                        "gave up after {failures} attempts over {} hours: {}",
                        age.as_secs() / 3600,
                        e.message
                    );
                    (
                        Box::new(move |s| s.mark_failed(id, &message)),
                        Delivery {
                            failed: 1,
                            ..Default::default()
                        },
                    )
                } else {
                    let wait = self.policy.delay(failures);
                    let next: DateTime<Utc> = Utc::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    tracing::warn!(reply = %item.message_id, attempts = failures,
                        retry_in_s = wait.as_secs(), error = %e.message,
                        "reply not sent; will retry");
                    let message = e.message;
                    (
                        Box::new(move |s| s.mark_retry(id, &message, next)),
                        Delivery {
                            deferred: 1,
                            ..Default::default()
                        },
                    )
                }
            }
        };
        let store = self.store.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let guard = store
                .lock()
                .map_err(|_| anyhow::anyhow!("the sender's store lock was poisoned"))?;
            write(&guard)
        });
        Recording {
            handle,
            item,
            delivery,
        }
    }

    /// Waits for a reply's state to be stored, then runs the after-send hooks if it was sent.
    async fn finish(&self, r: Recording) -> Result<Delivery> {
        r.handle.await.context("a blocking task failed")??;
        if r.delivery.sent == 1 {
            for hook in &self.after_send {
                if let Err(e) = hook.after_send(&r.item).await {
                    tracing::warn!(reply = %r.item.message_id, error = %format!("{e:#}"),
                        "the after-send step failed; the reply itself was sent");
                }
            }
        }
        Ok(r.delivery)
    }

    /// Delivers until `shutdown` turns true: at once when woken (a reply was recorded), and when
    /// the earliest pending retry is due; checks the outbox at least every `poll` anyway (replies
    /// written by another process, released by staff).
    pub async fn run(
        self,
        wake: Arc<Notify>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Delivery> {
        let mut total = Delivery::default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let wait = match self.deliver_due(Some(&shutdown)).await {
                Ok(d) => {
                    total += d;
                    match self.db(|s| s.next_reply_due()).await {
                        Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or_default().min(poll),
                        Ok(None) => poll,
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "cannot read the outbox");
                            poll
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "delivery pass failed; retrying");
                    poll.min(Duration::from_secs(5))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers from a script, one answer per call, and counts calls.
    struct Scripted {
        answers: Mutex<Vec<Result<String, SendError>>>,
        calls: AtomicUsize,
    }

    impl Transport for Scripted {
        fn describe(&self) -> String {
            "scripted".into()
        }
        async fn send(&self, _: &str, _: &[String], _: &[u8]) -> Result<String, SendError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answers.lock().unwrap().remove(0)
        }
    }

    struct Counting(AtomicUsize);
    impl AfterSend for Counting {
        fn after_send<'a>(
            &'a self,
            _: &'a OutboxItem,
        ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    fn store_with_replies(dir: &std::path::Path, n: usize) -> Store {
        let mut store = Store::open(&dir.join("db.sqlite3")).unwrap();
        let parsed = crate::mail::ParsedMail::default();
        for i in 0..n {
            let key = format!("k{i}");
            let record = crate::store::MailRecord {
                mailbox: "test",
                source_key: &key,
                sha256: "00",
                size: 0,
                received_at: Utc::now(),
                parsed: &parsed,
                supersedes: None,
            };
            let outcome = crate::pipeline::Outcome::new(crate::pipeline::OutcomeKind::NoList, "");
            let reply = crate::store::OutgoingReply {
                message_id: format!("r{i}@x"),
                kind: "no_list".into(),
                recipients: vec!["a@x.vn".into()],
                bytes: b"Subject: x\r\n\r\nx\r\n".to_vec(),
                held: None,
                draft: None,
            };
            store.record(&record, &outcome, None, Some(&reply)).unwrap();
        }
        store
    }

    fn status(dir: &std::path::Path) -> Vec<(String, i64, Option<String>)> {
        let store = Store::open(&dir.join("db.sqlite3")).unwrap();
        let mut stmt = store
            .conn()
            .prepare("SELECT status, attempts, next_attempt_at FROM outbox ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(72 * 3600),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let p = policy();
        let secs: Vec<u64> = (1..=8).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(p.delay(1000).as_secs(), 3600);
    }

    #[tokio::test]
    async fn a_transient_failure_waits_and_a_permanent_one_fails_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_replies(dir.path(), 3);
        let transport = Scripted {
            answers: Mutex::new(vec![
                Ok("250 queued as A".into()),
                Err(SendError::transient("421 try later")),
                Err(SendError::permanent("550 no such user")),
            ]),
            calls: AtomicUsize::new(0),
        };
        let hook = Arc::new(Counting(AtomicUsize::new(0)));
        let sender =
            Sender::new(store, transport, "cttt@x.vn", policy()).with_after_send(hook.clone());
        let d = sender.deliver_due(None).await.unwrap();
        assert_eq!(
            d,
            Delivery {
                sent: 1,
                deferred: 1,
                failed: 1
            }
        );
        assert_eq!(
            hook.0.load(Ordering::SeqCst),
            1,
            "the hook runs once per sent reply"
        );
        let s = status(dir.path());
        assert_eq!((s[0].0.as_str(), s[0].1), ("sent", 1));
        assert_eq!((s[1].0.as_str(), s[1].1), ("pending", 1));
        assert!(s[1].2.is_some(), "the next attempt is persisted");
        assert_eq!((s[2].0.as_str(), s[2].1), ("failed", 1));
        // Nothing is due now: the deferred reply waits for its time, the others are done.
        let again = sender.deliver_due(None).await.unwrap();
        assert_eq!(again, Delivery::default());
        assert_eq!(sender.transport().calls.load(Ordering::SeqCst), 3);
    }

    /// A hook that owes a copy, fails every copy, and counts the passes it was told of.
    struct Owing {
        passes: AtomicUsize,
    }
    impl AfterSend for Owing {
        fn after_send<'a>(
            &'a self,
            _: &'a OutboxItem,
        ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
            Box::pin(async { Err(anyhow::anyhow!("the IMAP server is down")) })
        }
        fn owes_copy(&self) -> bool {
            true
        }
        fn before_pass(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
            self.passes.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_copy_owed_is_recorded_with_the_sent_state_and_survives_a_failing_hook() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_replies(dir.path(), 2);
        let transport = Scripted {
            answers: Mutex::new(vec![
                Ok("250 queued as A".into()),
                Err(SendError::transient("421 try later")),
            ]),
            calls: AtomicUsize::new(0),
        };
        let hook = Arc::new(Owing {
            passes: AtomicUsize::new(0),
        });
        let sender =
            Sender::new(store, transport, "cttt@x.vn", policy()).with_after_send(hook.clone());
        let d = sender.deliver_due(None).await.unwrap();
        assert_eq!(d.sent, 1, "a failing hook does not undo the send");
        sender.deliver_due(None).await.unwrap();
        assert_eq!(hook.passes.load(Ordering::SeqCst), 2, "told of every pass");
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let owed: Vec<String> = store
            .owed_copies(10)
            .unwrap()
            .into_iter()
            .map(|i| i.message_id)
            .collect();
        assert_eq!(owed, ["r0@x"], "only the sent reply owes a copy");
        store
            .mark_copied(store.owed_copies(10).unwrap()[0].id)
            .unwrap();
        assert!(store.owed_copies(10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_server_is_tried_once_per_pass_and_every_reply_waits() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_replies(dir.path(), 3);
        let transport = Scripted {
            answers: Mutex::new(vec![Err(SendError::unreachable("connection refused"))]),
            calls: AtomicUsize::new(0),
        };
        let sender = Sender::new(store, transport, "cttt@x.vn", policy());
        let d = sender.deliver_due(None).await.unwrap();
        assert_eq!(d.deferred, 3);
        assert_eq!(sender.transport().calls.load(Ordering::SeqCst), 1);
        assert!(
            status(dir.path())
                .iter()
                .all(|(s, attempts, next)| s == "pending" && *attempts == 1 && next.is_some())
        );
    }

    #[tokio::test]
    async fn a_reply_undelivered_past_the_give_up_time_is_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_replies(dir.path(), 1);
        let transport = Scripted {
            answers: Mutex::new(vec![Err(SendError::transient("connection refused"))]),
            calls: AtomicUsize::new(0),
        };
        let policy = RetryPolicy {
            give_up_after: Duration::ZERO,
            ..policy()
        };
        let sender = Sender::new(store, transport, "cttt@x.vn", policy);
        let d = sender.deliver_due(None).await.unwrap();
        assert_eq!(d.failed, 1);
        assert_eq!(status(dir.path())[0].0, "failed");
    }
}
