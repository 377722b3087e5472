//! `status`: is the daemon alive and taking mail? For the operator and for monitoring (exit 1 with
//! a warning when no pass over the source succeeded for `source.stale-after-minutes`).

use anyhow::{Result, bail};
use chrono::Utc;

use crate::cli::StatusArgs;
use crate::config::Config;
use crate::daemon::health::{Freshness, freshness};
use crate::store::{Store, query};

/// `status`: print the health summary.
pub fn status(config_path: &std::path::Path, args: &StatusArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    // `status` only looks: it never creates a database where there is none.
    if !config.database_path().exists() {
        println!("Database: none at {}", config.database_path().display());
        println!(
            "WARNING: no poll has run: the daemon has not run with this configuration (or \
             --data-dir names another folder): is `cts-intake run` running?"
        );
        bail!("no database at {}", config.database_path().display());
    }
    let store = Store::open(&config.database_path())?;
    let Freshness {
        source,
        poll,
        fresh,
    } = freshness(&config, &store)?;
    let tz = config.campaign.deadline.timezone();
    // Every time in one zone: the campaign deadline's (Asia/Ho_Chi_Minh, +07:00, in practice).
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %:z");
    let now = Utc::now();

    println!("Source: {source}");
    let last_success = poll.as_ref().and_then(|p| p.last_success_at);
    match last_success {
        Some(t) => println!(
            "Last successful poll: {} ({} min ago)",
            local(t),
            (now - t).num_minutes()
        ),
        None => println!("Last successful poll: never"),
    }
    if let Some(p) = &poll
        && let (Some(at), Some(error)) = (p.last_error_at, &p.last_error)
        && last_success.is_none_or(|s| at > s)
    {
        println!("Last error: {} {error}", local(at));
    }
    if let Some(state) = store.mailbox_state(&source)? {
        println!(
            "IMAP position: UIDVALIDITY {}, every mail up to UID {} taken",
            state.uid_validity, state.last_uid
        );
    }

    let totals = query::totals(store.conn())?;
    let outcomes = totals
        .by_outcome
        .iter()
        .map(|(o, n)| format!("{o} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!("Mails taken: {} ({outcomes})", totals.mails);
    let held: Vec<_> = query::mails(store.conn())?
        .into_iter()
        .filter(|m| m.outcome == crate::domain::OutcomeKind::Held)
        .collect();
    println!("Held for staff: {}", held.len());
    for m in held.iter().rev().take(20) {
        let at = chrono::DateTime::parse_from_rfc3339(&m.received_at)
            .map(|t| local(t.with_timezone(&Utc)).to_string())
            .unwrap_or_else(|_| m.received_at.clone());
        println!(
            "  {}  {}  {:?}  <{}>  {}",
            at,
            m.from,
            crate::text::cut(&m.subject, crate::text::SUBJECT_ECHO_CHARS),
            m.message_id,
            m.note
        );
    }
    if held.len() > 20 {
        println!("  ... and {} older (see mails.csv)", held.len() - 20);
    }
    println!(
        "Replies: {} waiting, {} held for staff (rate limit), {} failed, {} delivered",
        totals.replies_pending, totals.replies_held, totals.replies_failed, totals.replies_sent
    );
    let purged = store.purged_mails()?;
    if purged > 0 {
        println!("Purged mails (counted above, personal data removed): {purged}");
    }
    let mut warnings = Vec::new();
    if let Some(smtp) = &config.smtp
        && let Some(since) = crate::store::smtp_health::failing_since(store.conn())?
    {
        let minutes = (now - since).num_minutes();
        println!(
            "SMTP: replies failing since {} ({minutes} min): the server is unreachable or \
             refuses them for now",
            local(since)
        );
        if minutes >= i64::try_from(smtp.unreachable_warn_minutes).unwrap_or(i64::MAX) {
            println!(
                "WARNING: no reply could be delivered through the SMTP server for {minutes} \
                 minutes (smtp.unreachable-warn-minutes = {}): is it reachable?",
                smtp.unreachable_warn_minutes
            );
            warnings.push(format!("SMTP server unreachable for {minutes} minutes"));
        }
    }

    if !fresh {
        println!(
            "WARNING: no poll of {source} succeeded in the last {} minutes: is `cts-intake run` \
             running, and can it reach the mailbox?",
            config.source.stale_after_minutes
        );
        warnings.push(format!(
            "no successful poll for more than {} minutes",
            config.source.stale_after_minutes
        ));
    }
    if !warnings.is_empty() {
        bail!("{}", warnings.join("; "));
    }
    Ok(())
}
