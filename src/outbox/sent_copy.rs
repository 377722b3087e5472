//! A copy of each reply in the IMAP mailbox's Sent folder, so staff see what was answered in
//! their own mail client: an [`AfterSend`] hook that APPENDs the exact bytes sent, flagged
//! `\Seen`, over one IMAP session kept across replies (made again after an error).
//!
//! Exactly once: the sender records `copy_owed` in the same update that records the reply as
//! sent, and this hook records `copied_at` after the server's OK to the APPEND. What is owed and
//! not copied (a crash between the send and the copy, the IMAP server down) is caught up at the
//! start of every delivery pass; before such a late APPEND the folder is searched for the reply's
//! Message-ID, so a copy made just before a crash (APPEND done, `copied_at` not yet written) is
//! recorded, not appended twice.
//!
//! The folder: `source.imap.sent-folder`, else the folder the server marks `\Sent` (RFC 6154),
//! else "Sent", created if missing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use async_imap::imap_proto::NameAttribute;
use futures::TryStreamExt;
use tokio::time::timeout;

use super::sender::AfterSend;
use crate::config::ImapConfig;
use crate::mailbox::imap::{Session, connect, drain, folder_display, folder_name, quoted};
use crate::store::{OutboxItem, Store};

/// The folder used when the configuration names none and the server marks none `\Sent`.
pub const DEFAULT_SENT_FOLDER: &str = "Sent";

/// How many owed copies one pass catches up on, at most.
const CATCH_UP_BATCH: usize = 200;

/// The open session and the folder resolved on it.
struct Connection {
    session: Session,
    folder: String,
}

struct State {
    conn: Option<Connection>,
    /// After a failed connection, no new one is tried before this instant (a server that is
    /// down costs one failed connection per `retry_after`, not one per reply).
    not_before: Option<Instant>,
}

/// Appends a copy of each sent reply to the IMAP Sent folder.
pub struct SentCopy {
    imap: ImapConfig,
    /// Its own connection to the database.
    store: Arc<Mutex<Store>>,
    state: tokio::sync::Mutex<State>,
    retry_after: Duration,
}

/// Whether a copy had to be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    Appended,
    /// The folder already held a mail with the reply's Message-ID.
    FoundThere,
}

impl SentCopy {
    /// A hook copying to the mailbox `imap` names; nothing is connected yet.
    pub fn new(imap: ImapConfig, store: Store) -> SentCopy {
        SentCopy {
            imap,
            store: Arc::new(Mutex::new(store)),
            state: tokio::sync::Mutex::new(State {
                conn: None,
                not_before: None,
            }),
            retry_after: Duration::from_secs(30),
        }
    }

    /// After a failed connection, wait this long before connecting again (default 30 s).
    pub fn with_retry_after(mut self, wait: Duration) -> SentCopy {
        self.retry_after = wait;
        self
    }

    fn limit(&self) -> Duration {
        Duration::from_secs(self.imap.timeout_seconds.max(1))
    }

    async fn db<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> Result<R> + Send + 'static,
    {
        crate::store::blocking::locked(&self.store, move |s| f(s)).await
    }

    /// Opens a session and finds (or creates) the Sent folder.
    async fn open(&self) -> Result<Connection> {
        let limit = self.limit();
        let mut session = connect(&self.imap).await?;
        let folder = match &self.imap.sent_folder {
            // As people read it: written in modified UTF-7 for the server.
            Some(f) => folder_name(f),
            None => {
                let names: Vec<_> = timeout(limit, async {
                    session.list(None, Some("*")).await?.try_collect().await
                })
                .await
                .context("LIST timed out")??;
                names
                    .iter()
                    .find(|n| n.attributes().contains(&NameAttribute::Sent))
                    // As the server wrote it.
                    .map(|n| n.name().to_string())
                    .unwrap_or_else(|| folder_name(DEFAULT_SENT_FOLDER))
            }
        };
        let exists: Vec<_> = timeout(limit, async {
            session
                .list(None, Some(&quoted(&folder)))
                .await?
                .try_collect()
                .await
        })
        .await
        .context("LIST timed out")??;
        if exists.is_empty() {
            timeout(limit, session.create(&folder))
                .await
                .context("CREATE timed out")?
                .with_context(|| {
                    format!("cannot create the IMAP folder {}", folder_display(&folder))
                })?;
            tracing::info!(folder = %folder_display(&folder), "created the IMAP folder for copies of the replies");
        }
        drain(&mut session);
        tracing::debug!(folder = %folder_display(&folder), "IMAP session for the Sent copies opened");
        Ok(Connection { session, folder })
    }

    /// Copies one reply to the Sent folder and records it. With `search_first`, a mail already
    /// there with the reply's Message-ID is recorded instead of appended again. A session kept
    /// from earlier that fails is made again once (searching first, since the failed APPEND may
    /// have reached the server).
    pub async fn copy(&self, item: &OutboxItem, search_first: bool) -> Result<Copied> {
        let mut state = self.state.lock().await;
        let mut search = search_first;
        let copied = loop {
            let reused = state.conn.is_some();
            if !reused {
                if let Some(t) = state.not_before
                    && Instant::now() < t
                {
                    return Err(anyhow!(
                        "not tried: the IMAP server could not be reached a moment ago"
                    ));
                }
                match self.open().await {
                    Ok(c) => {
                        state.conn = Some(c);
                        state.not_before = None;
                    }
                    Err(e) => {
                        state.not_before = Some(Instant::now() + self.retry_after);
                        return Err(e);
                    }
                }
            }
            let conn = state.conn.as_mut().expect("connected above");
            match self.append(conn, item, search).await {
                Ok(c) => break c,
                Err(e) => {
                    state.conn = None;
                    if !reused {
                        return Err(e);
                    }
                    tracing::debug!(error = %format!("{e:#}"),
                        "the kept IMAP session failed; connecting again");
                    search = true;
                }
            }
        };
        drop(state);
        let id = item.id;
        self.db(move |s| s.mark_copied(id)).await?;
        Ok(copied)
    }

    async fn append(
        &self,
        conn: &mut Connection,
        item: &OutboxItem,
        search: bool,
    ) -> Result<Copied> {
        let limit = self.limit();
        let folder = conn.folder.clone();
        let s = &mut conn.session;
        if search {
            timeout(limit, s.examine(&folder))
                .await
                .context("EXAMINE timed out")?
                .with_context(|| {
                    format!("cannot open the IMAP folder {}", folder_display(&folder))
                })?;
            let query = format!("HEADER Message-ID {}", quoted(&item.message_id));
            let found = timeout(limit, s.uid_search(&query))
                .await
                .context("UID SEARCH timed out")??;
            timeout(limit, s.close())
                .await
                .context("CLOSE timed out")??;
            drain(s);
            if !found.is_empty() {
                return Ok(Copied::FoundThere);
            }
        }
        // A second per 256 KiB on top of the command timeout: a slow link is not a dead one.
        let limit = limit + Duration::from_secs(item.bytes.len() as u64 / (256 * 1024));
        timeout(
            limit,
            s.append(&folder, Some("(\\Seen)"), None, &item.bytes),
        )
        .await
        .context("APPEND timed out")?
        .with_context(|| {
            format!(
                "APPEND to the IMAP folder {} failed",
                folder_display(&folder)
            )
        })?;
        drain(s);
        Ok(Copied::Appended)
    }

    /// Copies every reply whose copy is owed (searching the folder first); stops at the first
    /// failure. Returns how many were copied.
    pub async fn catch_up(&self) -> Result<usize> {
        let owed = self.db(|s| s.owed_copies(CATCH_UP_BATCH)).await?;
        let mut done = 0;
        for item in &owed {
            let copied = self.copy(item, true).await.with_context(|| {
                format!("copy of the reply {} to the Sent folder", item.message_id)
            })?;
            tracing::info!(reply = %item.message_id, found_there = (copied == Copied::FoundThere),
                "owed copy of a reply in the Sent folder made");
            done += 1;
        }
        Ok(done)
    }
}

impl AfterSend for SentCopy {
    fn after_send<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            // Just sent in this pass: no copy of it can exist yet.
            self.copy(item, false).await.with_context(|| {
                format!(
                    "copy to the Sent folder (kept owed; tried again next pass) of {}",
                    item.message_id
                )
            })?;
            Ok(())
        })
    }

    fn owes_copy(&self) -> bool {
        true
    }

    fn before_pass(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(async move {
            self.catch_up().await?;
            Ok(())
        })
    }
}
