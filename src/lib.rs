//! cts-intake takes over a clerk's job at a provincial Department of Education: schools email
//! their lists of staff who need an official mailbox or a digital-certificate service to one
//! mailbox; cts-intake takes each mail once, keeps its raw bytes, reads the attached lists,
//! validates and deduplicates them per unit, stores everything, answers the school (an
//! acknowledgement with a reconciliation code, or the row-by-row list of what to fix), and writes
//! the reconciliation report staff hold against the signed paper copies.
//!
//! Plain types flow one way; the middle is pure (no I/O), the edges do I/O:
//!
//! ```text
//! Mailbox ──► RawMail ──► mail::parse ──► ParsedMail
//!         ──► sheet::read ──► Sheet ──► sheet::header ──► RawRow
//!         ──► validate ──► ValidRow | RowProblem
//!         ──► dedupe (against the unit's stored version) ──► pipeline::Outcome
//!         ──► store (one SQLite transaction: mail, rows, problems, version, reply in the outbox)
//!         ──► reply::outbox ──► .eml files (or SMTP)
//! store ──► report::reconcile ──► Reconciliation ──► doi-chieu.xlsx + doi-chieu.html + CSVs
//! ```
//!
//! Exactly once: a mail is keyed by (mailbox, key in the mailbox) and recognised again by
//! Message-ID + content hash; its reply is written in the same transaction as its result, and
//! delivered from there. The daemon's database is the queue, never a flag in the mailbox.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dedupe;
pub mod desk;
pub mod legacy;
pub mod mail;
pub mod mailbox;
pub mod pipeline;
pub mod remind;
pub mod reply;
pub mod report;
pub mod schema;
pub mod sheet;
pub mod store;
pub mod template;
pub mod testkit;
pub mod text;
pub mod units;
pub mod validate;
pub mod wording;
