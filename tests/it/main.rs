//! The integration tests: one binary, one module per area.

mod annotate;
mod batch;
mod browser;
mod cli;
mod desk;
mod fixtures;
mod generator;
mod hostile;
mod imap;
mod isolation;
mod layers;
mod mailstack;
mod ops;
mod outbox_fill;
mod package;
mod pipeline;
mod print;
mod report;
mod sent_copy;
mod service;
mod smtp;
mod support;
mod trust;
mod units;
mod versions;
