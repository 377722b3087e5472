//! cts-intake (placeholder header, rewritten below when the pipeline lands).

pub mod config;
pub mod mail;
pub mod mailbox;
pub mod schema;
pub mod sheet;
pub mod template;
pub mod testkit;
pub mod text;
pub mod units;
pub mod validate;
pub mod wording;
