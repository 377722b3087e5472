//! The integration tests: one binary, one module per area.

mod cli;
mod fixtures;
mod pipeline;
mod support;
