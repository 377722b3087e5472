//! Delivering the outbox. Without an SMTP server, each reply is written as an .eml file named
//! after its Message-ID, so delivering the same reply twice (a crash between the write and the
//! database update) rewrites the same file instead of adding a second one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::store::{OutboxItem, Store};

/// Delivers every pending reply into `dir`; returns how many were delivered.
pub fn deliver_to_dir(store: &Store, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create outbox folder {}", dir.display()))?;
    let pending = store.pending_replies()?;
    let mut delivered = 0;
    for item in pending {
        match write_eml(dir, &item) {
            Ok(()) => {
                store.mark_sent(item.id)?;
                delivered += 1;
            }
            Err(e) => {
                tracing::warn!(reply = %item.message_id, error = %format!("{e:#}"), "cannot write reply");
                store.mark_attempt_failed(item.id, &format!("{e:#}"))?;
            }
        }
    }
    Ok(delivered)
}

/// The file a reply is written to.
pub fn file_name(message_id: &str) -> String {
    let safe: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.eml")
}

fn write_eml(dir: &Path, item: &OutboxItem) -> Result<()> {
    let path = dir.join(file_name(&item.message_id));
    let tmp = dir.join(format!(".{}.tmp", file_name(&item.message_id)));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&item.bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}
