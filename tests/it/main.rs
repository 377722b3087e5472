//! The integration tests: one binary, one module per area.

mod cli;
mod mailstack;
mod outbox_fill;
mod pipeline;
mod smtp;
mod support;
