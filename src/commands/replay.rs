//! `replay MESSAGE_ID`: process a stored mail again (after a fix to the reader, the registry or
//! the rules). The new result gets its own row; the old row stays, marked superseded, so the
//! history keeps every outcome while the reports show the current one once.

use anyhow::Result;

use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::daemon::Intake;

/// `replay`: process the stored raw mail again and print what changed.
pub fn replay(config_path: &std::path::Path, args: &ReplayArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let mut intake = Intake::open(config)?;
    let message_id = args.message_id.trim().trim_matches(['<', '>']).to_string();
    let replayed = intake.replay(&message_id)?;
    let taken = replayed.now;
    let delivered = intake.deliver()?;
    intake.write_report()?;
    println!(
        "Replayed <{message_id}>: was {}, now {} (reply: {}, {} written){}",
        replayed.was.code(),
        taken.outcome.code(),
        taken.reply.code(),
        delivered,
        if taken.note.is_empty() {
            String::new()
        } else {
            format!("; {}", taken.note)
        }
    );
    Ok(())
}
