//! `backup FILE`: a consistent copy of the database while the daemon runs (see `store::backup`).

use anyhow::{Result, bail};

use crate::cli::BackupArgs;
use crate::config::Config;
use crate::store::Store;

/// `backup`: copy the database into FILE and say what the copy holds.
pub fn backup(config_path: &std::path::Path, args: &BackupArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let db = config.database_path();
    if !db.exists() {
        bail!("no database at {}: nothing to back up", db.display());
    }
    let store = Store::open(&db)?;
    let copy = store.backup_to(&args.file)?;
    println!(
        "Backup: {} ({} bytes, mode 0600): {} mails, {} rows, {} replies; integrity check ok",
        args.file.display(),
        copy.bytes,
        copy.mails,
        copy.rows,
        copy.replies
    );
    Ok(())
}
