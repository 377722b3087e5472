//! One file per command: load what it needs, do it, print data to stdout.

mod backup;
mod check_config;
mod desk;
mod paper;
mod purge;
mod remind;
mod replay;
mod report;
mod run;
mod staff;
mod status;
mod template;
mod units;

pub use backup::backup;
pub use check_config::check_config;
pub use desk::desk;
pub use paper::paper;
pub use purge::purge;
pub use remind::remind;
pub use replay::replay;
pub use report::report;
pub use run::run;
pub use staff::staff;
pub use status::status;
pub use template::template;
pub use units::units;
