//! `cts-intake backup FILE`: a consistent copy of the database while the daemon runs, through
//! SQLite's online backup API. The copy is one snapshot (every page read in one step, inside
//! one read transaction, which in WAL mode never blocks the writer), written to a private
//! temporary file beside FILE (mode 0600), checked, and renamed to FILE only when complete.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rusqlite::Connection;

use super::Store;

/// What the copy holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub mails: i64,
    pub rows: i64,
    pub replies: i64,
    /// The copy's size in bytes.
    pub bytes: u64,
}

/// Removes the partial copy unless the backup completed.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Store {
    /// Copies the database into `dest`, which must not exist (a backup never replaces a file).
    pub fn backup_to(&self, dest: &Path) -> Result<BackupSummary> {
        if dest.exists() {
            bail!("{} exists already: name a new file", dest.display());
        }
        let name = dest
            .file_name()
            .with_context(|| format!("{} names no file", dest.display()))?;
        let tmp = dest.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        // 0600 whatever the umask: the copy holds the same personal data as the database.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut partial = Partial(Some(tmp.clone()));
        let mut copy = Connection::open(&tmp)?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
            use rusqlite::backup::StepResult;
            // -1: every page in one step, so the copy is one snapshot of the database. A writer
            // holding a lock the step needs is waited for, a bounded number of times.
            let mut waits = 0;
            loop {
                match backup.step(-1).context("the online backup failed")? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    StepResult::Busy | StepResult::Locked if waits < 200 => {
                        waits += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    other => bail!("the database stayed locked: {other:?}"),
                }
            }
        }
        // One self-contained file: no WAL beside the copy.
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            bail!("the copy fails its integrity check: {check}");
        }
        let count = |table: &str| -> Result<i64> {
            Ok(copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        let (mails, rows, replies) = (count("mails")?, count("rows")?, count("outbox")?);
        drop(copy);
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dest)
            .with_context(|| format!("cannot rename the copy to {}", dest.display()))?;
        partial.0 = None;
        Ok(BackupSummary {
            mails,
            rows,
            replies,
            bytes: std::fs::metadata(dest)?.len(),
        })
    }
}
