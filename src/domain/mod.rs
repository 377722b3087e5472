//! Plain types used by three or more stages, below all of them: what happened to a mail and the
//! reply it gets ([`outcome`]), a reply on its way to the outbox ([`reply`]), a paper copy's
//! verdict ([`paper`]) and the columns of the consolidated lists ([`columns`]). No I/O, no
//! logic beyond naming and converting their values.

pub mod columns;
pub mod outcome;
pub mod paper;
pub mod reply;

pub use outcome::{OutcomeKind, ReplyKind, Trust, Unread};
pub use reply::OutgoingReply;
