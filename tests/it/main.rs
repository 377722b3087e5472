//! The integration tests: one binary, one module per area.

mod cli;
mod imap;
mod mailstack;
mod pipeline;
mod report;
mod support;
