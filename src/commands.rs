//! One function per command: load what it needs, do it, print data to stdout.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use tokio::sync::watch;

use crate::cli::{ReportArgs, RunArgs, TemplateArgs, UnitsCommand};
use crate::config::{Config, Overrides};
use crate::daemon::{self, Intake};
use crate::mailbox::maildir::Maildir;
use crate::store::Store;
use crate::units::Registry;

/// `run`: take mail until shutdown (or once), then print a summary.
pub async fn run(config_path: &std::path::Path, args: &RunArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let maildir_path = config
        .source
        .maildir
        .clone()
        .context("no mail source configured: set source.maildir or pass --maildir")?;
    let maildir = Maildir::open(&maildir_path)?;
    let report_dir = config.report_dir();
    let outbox_dir = config.outbox_dir();
    let intake = Arc::new(Mutex::new(Intake::open(config)?));

    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing the mail in hand");
        let _ = tx.send(true);
    });
    let summary = daemon::run(intake.clone(), maildir, args.once, rx).await?;
    let totals = daemon::blocking(&intake, |i| crate::store::query::totals(i.store.conn())).await?;

    println!("Mailbox: {}", maildir_path.display());
    println!(
        "Mails taken: {} (accepted {}, rejected {}, no list {}, held {}, ignored {}, duplicate {})",
        summary.taken,
        summary.accepted,
        summary.rejected,
        summary.no_list,
        summary.held,
        summary.ignored,
        summary.duplicate
    );
    if summary.failed > 0 {
        println!(
            "Mails not taken because of an error (retried next run): {}",
            summary.failed
        );
    }
    println!(
        "Replies written: {} (into {})",
        summary.replies_written,
        outbox_dir.display()
    );
    println!(
        "All runs: {} mails stored, {} replies delivered, {} pending",
        totals.mails, totals.replies_sent, totals.replies_pending
    );
    println!("Report: {}", report_dir.join("doi-chieu.xlsx").display());
    if summary.failed > 0 {
        bail!("{} mails could not be taken; see the log", summary.failed);
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `report`: write the workbook and CSVs.
pub fn report(config_path: &std::path::Path, args: &ReportArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let registry = Registry::load(&config.units.file)?;
    let store = Store::open(&config.database_path(), &config.raw_dir())?;
    let rec = crate::report::reconcile(&store, &registry, config.campaign.deadline.timezone())?;
    crate::report::write(&rec, &args.out)?;
    println!("Report written to {}", args.out.display());
    Ok(())
}

/// `units import` / `units list`.
pub fn units(config_path: &std::path::Path, command: &UnitsCommand) -> Result<()> {
    let config = Config::load(config_path, &Overrides::default())?;
    match command {
        UnitsCommand::List => {
            let registry = Registry::load(&config.units.file)?;
            for u in registry.units() {
                println!("{}\t{}\t{}\t{}", u.code, u.name, u.kind, u.emails.join(";"));
            }
            eprintln!(
                "{} units in {}",
                registry.units().len(),
                config.units.file.display()
            );
        }
        UnitsCommand::Import { file } => {
            let new = Registry::load(file)?;
            let old = Registry::load(&config.units.file).unwrap_or_default();
            let (mut added, mut changed, mut removed) = (0, 0, 0);
            for u in new.units() {
                match old.by_code(&u.code) {
                    None => added += 1,
                    Some(o) if o != u => changed += 1,
                    Some(_) => {}
                }
            }
            for u in old.units() {
                if new.by_code(&u.code).is_none() {
                    removed += 1;
                }
            }
            let target = &config.units.file;
            let tmp = target.with_extension("csv.tmp");
            std::fs::write(&tmp, new.to_csv()?)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
            println!(
                "Imported {} units into {}: {added} added, {changed} changed, {removed} removed",
                new.units().len(),
                target.display()
            );
        }
    }
    Ok(())
}

/// `template`: the blank request template.
pub fn template(config_path: &std::path::Path, args: &TemplateArgs) -> Result<()> {
    let config = Config::load(config_path, &Overrides::default())?;
    let c = &config.campaign;
    let text = crate::template::TemplateText {
        issuer_lines: c.issuer_lines.clone(),
        title: c.title.clone(),
        department_address: c.department_address.clone(),
        paper_copy: format!(
            "{}, trước {}",
            c.paper_room,
            c.deadline.format("%H:%M ngày %d/%m/%Y")
        ),
    };
    crate::template::write(&text, &args.out)?;
    println!("Template written to {}", args.out.display());
    Ok(())
}
