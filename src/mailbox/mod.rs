//! Where mail comes from: the [`Mailbox`] interface and the mail it yields, [`RawMail`].
//!
//! The daemon's own database is the queue: a mailbox only lists what it holds and hands out bytes;
//! which mails were already taken is decided by the store, never by flags in the mailbox.

pub mod maildir;

use chrono::{DateTime, Utc};

/// One mail as the mailbox holds it, before any parsing.
#[derive(Debug, Clone)]
pub struct RawMail {
    /// The mailbox's name for this mail, stable across runs (Maildir: the file's unique name;
    /// IMAP: UIDVALIDITY and UID). With the mailbox's name it keys exactly-once processing.
    pub source_key: String,
    /// When the mail reached the mailbox (Maildir delivery time, IMAP INTERNALDATE): lateness is
    /// judged by this, not by the sender's Date header.
    pub received_at: DateTime<Utc>,
    /// The mail exactly as delivered.
    pub bytes: Vec<u8>,
}

/// A mail the mailbox holds, listed without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRef {
    /// See [`RawMail::source_key`].
    pub source_key: String,
    /// See [`RawMail::received_at`].
    pub received_at: DateTime<Utc>,
}

/// A source of mail.
pub trait Mailbox: Send {
    /// A stable name for the mailbox ("maildir:/srv/mail/cttt"), part of every mail's key.
    fn name(&self) -> &str;

    /// Every mail the mailbox holds, in the order it reached the mailbox.
    fn list(&mut self) -> impl Future<Output = anyhow::Result<Vec<MailRef>>> + Send;

    /// The bytes of one listed mail.
    fn fetch(&mut self, mail: &MailRef) -> impl Future<Output = anyhow::Result<RawMail>> + Send;
}
