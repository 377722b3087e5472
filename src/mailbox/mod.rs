//! Where mail comes from: the [`Mailbox`] interface and the mail it yields, [`RawMail`].
//!
//! The daemon's own database is the queue: a mailbox only lists what it holds and hands out bytes;
//! which mails were already taken is decided by the store, never by flags in the mailbox. A
//! mailbox that numbers its mails (IMAP) gives each listed mail a [`Cursor`], which the daemon
//! records only after the mail's result is committed.

pub mod imap;
pub mod maildir;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// One mail as the mailbox holds it, before any parsing.
#[derive(Debug, Clone)]
pub struct RawMail {
    /// The mailbox's name for this mail, stable across runs (Maildir: the file's unique name;
    /// IMAP: UIDVALIDITY and UID). With the mailbox's name it keys exactly-once processing.
    pub source_key: String,
    /// When the mail reached the mailbox (Maildir delivery time, IMAP INTERNALDATE): lateness is
    /// judged by this, not by the sender's Date header.
    pub received_at: DateTime<Utc>,
    /// The mail exactly as delivered (only its header for a mail over the size limit).
    pub bytes: Vec<u8>,
}

/// A mail the mailbox holds, listed without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRef {
    /// See [`RawMail::source_key`].
    pub source_key: String,
    /// See [`RawMail::received_at`], where the listing knows it (Maildir); `None` where it comes
    /// with the bytes (IMAP: INTERNALDATE is fetched with the body, since asking for it in the
    /// listing made Dovecot look at every mail's file, which was most of the listing's time).
    pub received_at: Option<DateTime<Utc>>,
    /// The mail's size in bytes, so an oversized mail is never fetched whole.
    pub size: u64,
    /// The mailbox's position after this mail, to record once its result is committed (IMAP);
    /// `None` for a mailbox keyed only by [`MailRef::source_key`] (Maildir).
    pub cursor: Option<Cursor>,
}

/// A position in a numbered mailbox: the UID of a mail under the mailbox's UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uid_validity: u32,
    pub uid: u32,
}

/// What a mailbox holds beyond a position.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The mails, in the order they reached the mailbox.
    pub mails: Vec<MailRef>,
    /// Set when the position given to [`Mailbox::list`] no longer means anything (a new
    /// UIDVALIDITY, or a first visit): the whole mailbox is listed, and mails up to
    /// `highest_uid` may be mails taken before.
    pub reset: Option<Reset>,
}

/// A mailbox read from its start under a new UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    pub uid_validity: u32,
    /// The highest UID in the mailbox at the time.
    pub highest_uid: u32,
}

/// A source of mail.
pub trait Mailbox: Send {
    /// A stable name for the mailbox ("maildir", "imap:user@host/INBOX"), part of every mail's
    /// key.
    fn name(&self) -> &str;

    /// The mails after `since` (all of them for `None`, or for a mailbox without positions), in
    /// the order they reached the mailbox.
    fn list(
        &mut self,
        since: Option<Cursor>,
    ) -> impl Future<Output = anyhow::Result<Listing>> + Send;

    /// The bytes of listed mails, fetched together. A mail that vanished meanwhile is left out.
    fn fetch(
        &mut self,
        mails: &[MailRef],
    ) -> impl Future<Output = anyhow::Result<Vec<RawMail>>> + Send;

    /// Only the header of a listed mail (for a mail over the size limit).
    fn fetch_header(
        &mut self,
        mail: &MailRef,
    ) -> impl Future<Output = anyhow::Result<RawMail>> + Send;

    /// What the configuration asks to do to mails once their results are committed (flag,
    /// move), for a batch at once. Idempotent: done again after a crash, it changes nothing more.
    /// Never a deletion.
    fn mark_done(&mut self, _mails: &[MailRef]) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }

    /// Waits until the mailbox may hold new mail, `timeout` passes, or `shutdown` turns true.
    fn wait_for_new(
        &mut self,
        timeout: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            tokio::select! {
                _ = tokio::time::sleep(timeout) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            Ok(())
        }
    }

    /// Closes the connection, if any (IMAP LOGOUT).
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
