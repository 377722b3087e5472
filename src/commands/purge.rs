//! `purge --before DATE`: a past campaign's personal data leaves the database and the outbox
//! folder, its counts stay (see `store::purge`). A purge that would take what is still in use (a
//! unit's current list, a reply not delivered yet, mails of the campaign the configuration
//! describes) only says so, unless `--yes` is given.

use anyhow::{Result, bail};
use chrono::{TimeZone, Utc};

use crate::cli::PurgeArgs;
use crate::config::Config;
use crate::store::Store;

/// `purge`: print the plan, then (when allowed) remove and compact.
pub fn purge(config_path: &std::path::Path, args: &PurgeArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let db = config.database_path();
    if !db.exists() {
        bail!("no database at {}: nothing to purge", db.display());
    }
    let tz = config.campaign.deadline.timezone();
    let before = tz
        .from_local_datetime(&args.before.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has one midnight")
        .with_timezone(&Utc);
    let mut store = Store::open(&db)?;
    let plan = store.purge_plan(before)?;
    println!(
        "Mails received before {}: {} ({} rows, {} problems, {} replies)",
        before.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z"),
        plan.mails,
        plan.rows,
        plan.problems,
        plan.replies
    );
    if plan.mails == 0 {
        println!("Nothing to purge.");
        return Ok(());
    }
    let mut reasons = Vec::new();
    if before > config.campaign.deadline.with_timezone(&Utc) {
        reasons.push(format!(
            "the date is after the configured campaign's deadline ({}): its mails are current",
            config.campaign.deadline
        ));
    }
    if !plan.current_lists.is_empty() {
        reasons.push(format!(
            "the current list of {} unit(s) would lose its rows: {}",
            plan.current_lists.len(),
            plan.current_lists.join(", ")
        ));
    }
    if plan.undelivered > 0 {
        reasons.push(format!(
            "{} replies are not delivered yet; they would be marked failed",
            plan.undelivered
        ));
    }
    for r in &reasons {
        println!("Note: {r}");
    }
    if args.dry_run {
        println!("Dry run: nothing removed.");
        return Ok(());
    }
    if !reasons.is_empty() && !args.yes {
        bail!("not purged: pass --yes to purge all the same (see the notes above)");
    }
    let (purged, wal_truncated) = store.purge(before)?;
    let outbox = config.outbox_dir();
    let mut files = 0;
    for id in &purged.reply_ids {
        match std::fs::remove_file(outbox.join(crate::outbox::eml::file_name(id))) {
            Ok(()) => files += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("cannot remove a reply file in {}: {e}", outbox.display()),
        }
    }
    println!(
        "Purged: {} mails ({} rows, {} problems, {} replies emptied, {} .eml files removed); \
         their counts are kept. Database compacted.",
        purged.plan.mails, purged.plan.rows, purged.plan.problems, purged.plan.replies, files
    );
    if !wal_truncated {
        println!(
            "Note: another process (the daemon?) was reading the database: its write-ahead log is \
             emptied at the next checkpoint."
        );
    }
    // The report folder holds the rows as CSVs: write it again from what is left.
    if config.report_dir().exists() {
        let registry = crate::units::Registry::load(&config.units.file)?;
        crate::report::rewrite(&store, &registry, &config, &config.report_dir())?;
        println!("Report written again: {}", config.report_dir().display());
    }
    Ok(())
}
