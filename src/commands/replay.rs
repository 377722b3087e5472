//! `replay MESSAGE_ID`: process a stored mail again (after a fix to the reader, the registry or
//! the rules). The new result gets its own row; the old row stays, marked superseded, so the
//! history keeps every outcome while the reports show the current one once.

use anyhow::{Context, Result, bail};
use rusqlite::OptionalExtension;

use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::daemon::{How, Intake};
use crate::mailbox::RawMail;

/// `replay`: process the stored raw mail again and print what changed.
pub fn replay(config_path: &std::path::Path, args: &ReplayArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let mut intake = Intake::open(config)?;
    let message_id = args.message_id.trim().trim_matches(['<', '>']).to_string();
    type Row = (i64, String, String, String, String, i64, String);
    let row: Option<Row> = intake
        .store
        .conn()
        .query_row(
            "SELECT id, mailbox, source_key, sha256, received_at, size, outcome FROM mails \
             WHERE message_id = ?1 AND superseded_by IS NULL AND duplicate_of IS NULL \
             ORDER BY id DESC LIMIT 1",
            [&message_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((id, mailbox, key, sha, received_at, size, old_outcome)) = row else {
        bail!("no stored mail has the Message-ID <{message_id}>");
    };
    let bytes = intake
        .store
        .raw_bytes(&sha)?
        .with_context(|| format!("the raw bytes of <{message_id}> are missing from the store"))?;
    if (bytes.len() as i64) < size {
        bail!(
            "only the header of <{message_id}> was kept (the mail was over the size limit); it \
             cannot be processed again: ask the sender for a smaller mail"
        );
    }
    let raw = RawMail {
        source_key: key.clone(),
        received_at: chrono::DateTime::parse_from_rfc3339(&received_at)
            .context("bad received_at in the store")?
            .with_timezone(&chrono::Utc),
        bytes,
    };
    let how = How::Replay {
        id,
        mailbox: mailbox.clone(),
        key,
    };
    let taken = intake
        .take_as(&mailbox, &raw, &how)?
        .context("a replay always records")?;
    let delivered = intake.deliver()?;
    intake.write_report()?;
    println!(
        "Replayed <{message_id}>: was {old_outcome}, now {} (reply: {}, {} written){}",
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
