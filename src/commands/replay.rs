//! `replay MESSAGE_ID`: process a stored mail again (after a fix to the reader, the registry or
//! the rules). The new result gets its own row; the old row stays, marked superseded, so the
//! history keeps every outcome while the reports show the current one once.

use anyhow::{Context, Result};

use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::daemon::Intake;

/// `replay`: process the stored raw mail again and print what changed.
pub fn replay(config_path: &std::path::Path, args: &ReplayArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let mut intake = Intake::open(config)?;
    let message_id = args.message_id.trim().trim_matches(['<', '>']).to_string();
    // A mail over the size limit, whose header alone was kept, is fetched whole first.
    if let Some(stored) = intake.store.stored_mail(&message_id)?
        && let Some((stored, header)) = crate::daemon::whole::header_only(&intake.store, stored.id)?
    {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(crate::daemon::whole::fetch(
                &intake.config,
                &stored,
                &header,
            ))
            .context("only the header of the mail was kept, and it cannot be fetched whole")?;
        intake.store.keep_whole(stored.id, &bytes)?;
        println!(
            "Fetched <{message_id}> whole from the mailbox ({} bytes)",
            bytes.len()
        );
    }
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
