//! cts-intake takes over a clerk's job at a provincial Department of Education: schools email
//! their lists of staff who need an official mailbox or a digital-certificate service to one
//! mailbox; cts-intake takes each mail once, keeps its raw bytes, reads the attached lists,
//! validates and deduplicates them per unit, stores everything, answers the school (an
//! acknowledgement with a reconciliation code, or the row-by-row list of what to fix), and writes
//! the reconciliation report staff hold against the signed paper copies.
//!
//! # The pipeline
//!
//! Plain types flow one way; the middle is pure (no I/O), the edges do I/O. A reply is made in
//! two phases: its envelope and draft are decided when the mail is taken, in the mail's own
//! transaction; its bytes are composed from the draft when it is first delivered.
//!
//! ```text
//! Mailbox ──► RawMail ──► mail::parse ──► ParsedMail
//!         ──► sheet::read ──► Sheet ──► sheet::header ──► RawRow
//!         ──► validate ──► ValidRow | RowProblem
//!         ──► dedupe (against the unit's stored version) ──► pipeline::Outcome
//!         ──► store (one SQLite transaction: mail, rows, problems, version,
//!                    and the reply's phase 1: envelope + draft in the outbox table)
//!                          │
//!   outbox::drafts ◄───────┘  phase 2, at delivery: draft + stored raw mail ──► reply::compose
//!         ──► reply bytes stored once ──► outbox::eml (.eml files) | outbox::sender ──► SMTP
//!                                                           └──► outbox::sent_copy (IMAP Sent)
//! store ──► report::build ──► Reconciliation ──► doi-chieu.xlsx + doi-chieu.html + CSVs
//! ```
//!
//! Exactly once: a mail is keyed by (mailbox, key in the mailbox) and recognised again by
//! Message-ID + content hash; its reply's phase 1 is written in the same transaction as its
//! result, and phase 2 composes it once and stores its bytes, so every attempt and the Sent copy
//! are the same bytes. The daemon's database is the queue, never a flag in the mailbox.
//!
//! # The layers
//!
//! Imports point down; `tests/it/layers.rs` checks it (and that they form no circle), and a new
//! module gets its layer there. Bottom first:
//!
//! 1. **Vocabulary**: [`text`] (folding, cleaning, hex), [`legacy`] (TCVN3/VNI), [`safe`] (text
//!    safe in a spreadsheet or HTML), [`schema`] (request types and fields, TEMPLATE.md's
//!    columns), [`domain`] (plain types three or more stages share: outcomes, reply kinds, trust,
//!    a reply on its way to the outbox, paper verdicts, per-type columns).
//! 2. **Configuration**: [`config`], a leaf: the TOML file, its server URLs (IMAP and SMTP side
//!    by side) and secrets, validated once.
//! 3. **The pure middle**: [`mail`] (bytes → `ParsedMail`), [`sheet`] (attachment → sheets →
//!    rows), [`wording`] (every Vietnamese text a school or clerk reads), [`validate`],
//!    [`units`] (the registry), [`dedupe`], [`pipeline`] (a parsed mail → `Outcome`).
//! 4. **Composing and the edges**: [`template`] (the blank list), [`reply`] (an outcome → a
//!    reply's text and files, pure), [`mailbox`] (Maildir, IMAP), [`store`] (all SQL, and the
//!    one helper for blocking work), [`outbox`] (phase 2 and delivery: drafts, .eml, SMTP, the
//!    Sent copy, the rate limit), [`report`] (store → workbook, HTML, CSVs), [`remind`],
//!    [`worker`] (the reader processes every attachment is read in, under OS limits).
//! 5. **The daemon**: [`daemon`], split along its jobs: the loop, a pass, reading, recording,
//!    the run's summary.
//! 6. **The commands**: [`commands`] (one file per command) and [`cli`] (clap); `main.rs` only
//!    wires them.
//!
//! Test builders (lists as xlsx, mails as RFC 5322, Maildirs, the sample campaign) are not part
//! of the library: they are the dev-only crate `cts-testkit` in `testkit/`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dedupe;
pub mod desk;
pub mod domain;
pub mod legacy;
pub mod mail;
pub mod mailbox;
pub mod outbox;
pub mod pipeline;
pub mod remind;
pub mod reply;
pub mod report;
pub mod safe;
pub mod schema;
pub mod sheet;
pub mod store;
pub mod template;
pub mod text;
pub mod units;
pub mod validate;
pub mod wording;
pub mod worker;
