//! Delivering replies, the second phase of a reply (the first, at intake, puts its envelope and
//! draft into the outbox table in the mail's own transaction): [`drafts`] composes each pending
//! draft into bytes with [`crate::reply`]; [`eml`] writes .eml files when no SMTP server is
//! configured; otherwise [`sender`] delivers through [`smtp`], and with an IMAP source
//! [`sent_copy`] appends a copy of each reply sent to the mailbox's Sent folder. [`rate_limit`](mod@rate_limit)
//! holds a reply over the per-recipient budget for staff.

pub mod drafts;
pub mod eml;
pub mod rate_limit;
pub mod sender;
pub mod sent_copy;
pub mod smtp;

pub use rate_limit::{Answering, budgets, rate_limit};
