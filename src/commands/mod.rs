//! One file per command: load what it needs, do it, print data to stdout.

mod desk;
mod paper;
mod remind;
mod replay;
mod report;
mod run;
mod staff;
mod status;
mod template;
mod units;

pub use desk::desk;
pub use paper::{Received as PaperReceived, paper, receive as paper_receive};
pub use remind::remind;
pub use replay::replay;
pub use report::report;
pub use run::run;
pub use staff::staff;
pub use status::{Freshness, freshness, status};
pub use template::template;
pub use units::units;
