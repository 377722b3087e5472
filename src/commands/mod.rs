//! One file per command: load what it needs, do it, print data to stdout.

mod paper;
mod remind;
mod replay;
mod report;
mod run;
mod status;
mod template;
mod units;

pub use paper::paper;
pub use remind::remind;
pub use replay::replay;
pub use report::report;
pub use run::run;
pub use status::status;
pub use template::template;
pub use units::units;
