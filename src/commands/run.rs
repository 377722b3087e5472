//! `run`: take mail until shutdown (or once), then print a summary.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::config::Config;
use crate::daemon::{self, Intake, RunOptions};
use crate::mailbox::imap::Imap;
use crate::mailbox::maildir::Maildir;
use crate::outbox::sender::{Delivery, RetryPolicy, Sender};
use crate::outbox::sent_copy::SentCopy;
use crate::outbox::smtp::SmtpTransport;
use crate::store::Store;

/// `run`: take mail until shutdown (or once), then print a summary.
pub async fn run(config_path: &std::path::Path, args: &RunArgs) -> Result<()> {
    let config = Config::load(config_path, &args.overrides()?)?;
    let options = RunOptions::from_config(&config, args.once);
    enum Source {
        Maildir(Maildir),
        Imap(Box<Imap>),
    }
    let (mut source, source_text) = match (&config.source.imap, &config.source.maildir) {
        (Some(imap), _) => {
            // A missing password is a configuration error, not something to retry.
            imap.password()?;
            let poll = std::time::Duration::from_secs(config.source.poll_seconds.max(1));
            let text = format!("{} ({}:{})", Imap::name_of(imap), imap.host, imap.port());
            (Source::Imap(Box::new(Imap::new(imap.clone(), poll))), text)
        }
        (None, Some(path)) => (
            Source::Maildir(Maildir::open(path)?),
            path.display().to_string(),
        ),
        (None, None) => {
            return Err(anyhow::anyhow!(
                "no mail source configured: set source.maildir or [source.imap], or pass \
                 --maildir or --imap"
            ));
        }
    };
    let report_dir = config.report_dir();
    let outbox_dir = config.outbox_dir();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), source = %source_text,
        data = %config.storage.data_dir.display(), once = args.once, "cts-intake starting");
    let sender = match &config.smtp {
        Some(smtp) => {
            let transport = SmtpTransport::new(smtp)?;
            let store = Store::open(&config.database_path())?;
            let sender = Sender::new(
                store,
                transport,
                &config.campaign.department_address,
                RetryPolicy::from_config(&config.replies),
            )
            .with_drafts(Arc::new(config.clone()));
            // With an IMAP mailbox, a copy of each reply sent goes to its Sent folder.
            Some(match &config.source.imap {
                Some(imap) => sender.with_after_send(Arc::new(SentCopy::new(
                    imap.clone(),
                    Store::open(&config.database_path())?,
                ))),
                None => sender,
            })
        }
        None => None,
    };
    // The desk beside the daemon when `[desk] listen` says so (not for one pass).
    // Bound now, served once the database is open (and migrated).
    let desk = match config.desk.listen {
        Some(listen) if !args.once => {
            Some((super::desk::bind(&config, listen).await?, config.clone()))
        }
        _ => None,
    };
    let poll = std::time::Duration::from_secs(config.source.poll_seconds.max(1));
    // The database is opened while the IMAP connection is made (TLS and login take longer).
    let opening = tokio::task::spawn_blocking(move || Intake::open(config));
    let connecting = async {
        if let Source::Imap(m) = &mut source {
            m.connect_ahead().await;
        }
    };
    let (opened, ()) = tokio::join!(opening, connecting);
    let intake = Arc::new(Mutex::new(opened.context("opening the database failed")??));
    tracing::debug!("store opened");
    let desk = desk.map(|(listener, config)| {
        tokio::spawn(async move {
            if let Err(e) = super::desk::serve(config, listener).await {
                tracing::error!(error = %format!("{e:#}"), "the desk stopped");
            }
        })
    });
    daemon::notify::ready();
    let wake = intake
        .lock()
        .map_err(|_| anyhow::anyhow!("the intake lock was poisoned"))?
        .outbox_wake
        .clone();

    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing the mail in hand");
        daemon::notify::stopping();
        let _ = tx.send(true);
    });
    let smtp_target = sender.as_ref().map(|s| s.transport().target().to_string());
    // The sender task runs beside the intake loop; with --once it runs one pass after it.
    let (sender, sender_task) = match sender {
        Some(s) if !args.once => (None, Some(tokio::spawn(s.run(wake, poll, rx.clone())))),
        other => (other, None),
    };
    let mut summary = match source {
        Source::Maildir(m) => daemon::run(intake.clone(), m, options, rx).await?,
        Source::Imap(m) => daemon::run(intake.clone(), *m, options, rx).await?,
    };
    if let Some(desk) = desk {
        desk.abort();
    }
    let mut delivery = Delivery::default();
    if let Some(task) = sender_task {
        delivery = task.await.context("the sender task failed")??;
    }
    if let Some(s) = sender {
        let start = std::time::Instant::now();
        delivery = s.deliver_due(None).await?;
        summary.replying += start.elapsed();
        // The report written by the pass predates the delivery: write it again.
        let start = std::time::Instant::now();
        daemon::blocking(&intake, |i| i.write_report()).await?;
        summary.reporting += start.elapsed();
    }
    let totals = daemon::blocking(&intake, |i| crate::store::query::totals(i.store.conn())).await?;
    // One screen: the first few, then where to find the rest.
    const SHOWN: usize = 10;
    let (unanswered, unanswered_count) = daemon::blocking(&intake, |i| {
        crate::store::query::unanswered_first(i.store.conn(), SHOWN)
    })
    .await?;

    println!("Mailbox: {source_text}");
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
    if summary.known > 0 {
        println!(
            "Mails listed again after a UIDVALIDITY change, recognised as taken before: {}",
            summary.known
        );
    }
    if summary.oversized > 0 {
        println!(
            "Mails over the size limit (held, header kept): {}",
            summary.oversized
        );
    }
    if summary.failed > 0 {
        println!(
            "Mails not taken because of an error (retried next run): {}",
            summary.failed
        );
    }
    match &smtp_target {
        None => println!(
            "Replies written: {} (into {})",
            summary.replies_written,
            outbox_dir.display()
        ),
        Some(target) => println!(
            "Replies sent: {} (through {target}); waiting for a retry: {}; refused: {}",
            delivery.sent, delivery.deferred, delivery.failed
        ),
    }
    println!(
        "All runs: {} mails stored, {} replies delivered, {} pending, {} failed, {} held",
        totals.mails,
        totals.replies_sent,
        totals.replies_pending,
        totals.replies_failed,
        totals.replies_held
    );
    for u in &unanswered {
        println!(
            "Unanswered: mail <{}> from {}: reply {} ({})",
            u.mail_message_id,
            u.mail_from,
            u.status.code(),
            u.last_error.as_deref().unwrap_or("")
        );
    }
    if unanswered_count > SHOWN {
        println!(
            "... and {} more unanswered mails (sheet \"Cần xử lý\" of the report, or `cts-intake status`)",
            unanswered_count - SHOWN
        );
    }
    println!("Report: {}", report_dir.join("doi-chieu.xlsx").display());
    let peak = |kib: Option<u64>| {
        kib.map(|k| format!(" (peak memory {:.1} MiB)", k as f64 / 1024.0))
            .unwrap_or_default()
    };
    // The stages after the intake: their peak, and the CPU time they took.
    let after = |kib: Option<u64>, cpu: std::time::Duration| match kib {
        Some(k) => format!(
            " (peak memory {:.1} MiB, cpu {:.3} s)",
            k as f64 / 1024.0,
            cpu.as_secs_f64()
        ),
        None => format!(" (cpu {:.3} s)", cpu.as_secs_f64()),
    };
    println!(
        "Time: taking mail {:.3} s{}, replies {:.3} s{}, report {:.3} s{}",
        summary.taking.as_secs_f64(),
        peak(summary.taking_peak_kib),
        summary.replying.as_secs_f64(),
        after(summary.replying_peak_kib, summary.replying_cpu),
        summary.reporting.as_secs_f64(),
        after(summary.reporting_peak_kib, summary.reporting_cpu)
    );
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
