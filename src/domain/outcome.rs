//! What happened to a mail, which reply it gets, and how far its sender is trusted: decided by
//! the pipeline, stored, composed into replies, counted by the daemon and the report.

use serde::{Deserialize, Serialize};

/// What happened to a mail, as `mails.csv` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// A list was read without error and became the unit's current version.
    Accepted,
    /// A list had errors and was returned for correction.
    Rejected,
    /// No list was attached.
    NoList,
    /// Kept for staff: unknown sender, unit not inferred, a destructive request from an
    /// unverified sender, or a mail that could not be parsed.
    Held,
    /// Written by a machine (auto-reply, bounce, list): stored, never answered.
    Ignored,
    /// A re-delivered copy of a mail already taken.
    Duplicate,
}

impl OutcomeKind {
    pub fn code(self) -> &'static str {
        match self {
            OutcomeKind::Accepted => "accepted",
            OutcomeKind::Rejected => "rejected",
            OutcomeKind::NoList => "no_list",
            OutcomeKind::Held => "held",
            OutcomeKind::Ignored => "ignored",
            OutcomeKind::Duplicate => "duplicate",
        }
    }

    pub fn from_code(code: &str) -> Option<OutcomeKind> {
        [
            OutcomeKind::Accepted,
            OutcomeKind::Rejected,
            OutcomeKind::NoList,
            OutcomeKind::Held,
            OutcomeKind::Ignored,
            OutcomeKind::Duplicate,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// How a held mail's note starts when rows of it wait for staff (the pipeline's row-level trust
/// policy); the desk and the report read the rest (`row N: reason`, separated by `; `).
pub const ROWS_HELD: &str = "rows held for staff";
/// How a held mail's note starts when its From is not exactly one plain address.
pub const FROM_NOT_ONE_ADDRESS: &str = "the From header is not exactly one plain address";
/// How a held mail's note starts when it answers one of our replies with nothing to read.
pub const ANSWERS_OURS: &str = "answers our reply";

/// Which reply a mail gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    Ack,
    Errors,
    NoList,
    Held,
    None,
}

impl ReplyKind {
    pub fn code(self) -> &'static str {
        match self {
            ReplyKind::Ack => "ack",
            ReplyKind::Errors => "errors",
            ReplyKind::NoList => "no_list",
            ReplyKind::Held => "held",
            ReplyKind::None => "none",
        }
    }

    pub fn from_code(code: &str) -> Option<ReplyKind> {
        [
            ReplyKind::Ack,
            ReplyKind::Errors,
            ReplyKind::NoList,
            ReplyKind::Held,
            ReplyKind::None,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// How far the sender is trusted (DESIGN.md "Sender trust").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// A registered address of the unit.
    Registered,
    /// An official domain, unit inferred from the subject or the list.
    Unverified,
    /// Anyone else.
    Unknown,
}

impl Trust {
    /// As the database and `mails.csv` write it.
    pub fn code(self) -> &'static str {
        match self {
            Trust::Registered => "registered",
            Trust::Unverified => "unverified",
            Trust::Unknown => "unknown",
        }
    }

    pub fn from_code(code: &str) -> Option<Trust> {
        [Trust::Registered, Trust::Unverified, Trust::Unknown]
            .into_iter()
            .find(|t| t.code() == code)
    }
}

/// Why a mail's attachments were not read to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unread {
    /// The reader ran out of memory or crashed (it died of a signal or exited on its own).
    Crashed,
    /// The reader used up its processor time for the mail.
    CpuTime,
    /// The mail took longer than the wall-clock timeout.
    TimedOut,
    /// The reader answered something that is not an answer (too long, or garbled).
    Garbled,
    /// The mail's reading did not finish twice (the daemon itself stopped while reading it):
    /// it is not tried again automatically.
    Poison,
}

impl Unread {
    /// As logs and the outcome's note say it.
    pub fn code(self) -> &'static str {
        match self {
            Unread::Crashed => "crashed",
            Unread::CpuTime => "cpu_time",
            Unread::TimedOut => "timed_out",
            Unread::Garbled => "garbled",
            Unread::Poison => "poison",
        }
    }
}
