//! The loop: a pass, then a wait for new mail (IDLE, or a poll), until shutdown. After a failed
//! pass (a lost connection, a refused login) it waits, longer each time, and goes on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use super::summary::RunSummary;
use super::{Intake, blocking, pass::pass};
use crate::config::Config;
use crate::mailbox::Mailbox;
use crate::mailbox::imap::LoginRefused;

/// How `run` watches the mailbox.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Take what is there, then return.
    pub once: bool,
    /// The longest wait between two passes (the mailbox may wake the daemon sooner).
    pub wait: Duration,
    /// After a refused login, the wait before trying again.
    pub auth_retry: Duration,
    /// The longest wait between two reconnection attempts.
    pub reconnect_max: Duration,
    /// Mails fetched together, at most.
    pub batch_size: usize,
}

impl RunOptions {
    /// The options the configuration gives.
    pub fn from_config(config: &Config, once: bool) -> RunOptions {
        match &config.source.imap {
            Some(imap) => RunOptions {
                once,
                wait: Duration::from_secs(imap.full_poll_seconds.max(1)),
                auth_retry: Duration::from_secs(imap.auth_retry_seconds.max(1)),
                reconnect_max: Duration::from_secs(imap.reconnect_max_seconds.max(1)),
                batch_size: imap.batch_size.max(1),
            },
            None => RunOptions {
                once,
                wait: Duration::from_secs(config.source.poll_seconds.max(1)),
                auth_retry: Duration::from_secs(300),
                reconnect_max: Duration::from_secs(300),
                batch_size: crate::config::DEFAULT_BATCH_SIZE,
            },
        }
    }
}

/// The wait before reconnection attempt `failures` (1, 2, ...): one second doubling up to `max`,
/// each with up to a quarter more or less at random, so many clients do not retry in step.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(max);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    base.mul_f64(jitter)
}

/// Takes every new mail of `mailbox` once, delivers the outbox and refreshes the report; with
/// `once` false, waits for new mail (or a full poll) and repeats until `shutdown` turns true.
/// After an error (a lost connection, a refused login) it waits, longer each time, and goes on.
/// At shutdown the mail in hand is finished and committed, then the mailbox is closed.
pub async fn run<M: Mailbox>(
    intake: Arc<Mutex<Intake>>,
    mut mailbox: M,
    options: RunOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    let name = mailbox.name().to_string();
    let mut failures = 0u32;
    let mut login_refused = false;
    if let Some(interval) = super::notify::watchdog()
        && options.wait.saturating_mul(2) > interval
    {
        tracing::warn!(
            "the watchdog interval ({} s) is less than twice the wait between passes ({} s): \
             systemd may restart the daemon while it waits for mail; raise WatchdogSec",
            interval.as_secs(),
            options.wait.as_secs()
        );
    }
    loop {
        // A unit added in the desk (or by `units import`) is known from the next pass on.
        if let Err(e) = blocking(&intake, |i| {
            i.reload_registry_if_changed();
            Ok(())
        })
        .await
        {
            tracing::error!(error = %format!("{e:#}"), "cannot check the units registry");
        }
        let passed = pass(&intake, &mut mailbox, &mut summary, &shutdown, &options).await;
        // The digest when it is due; an alert when polling has failed for a while (this pass
        // too), a mail when it works again.
        if let Err(e) = blocking(&intake, |i| i.notify_staff()).await {
            tracing::error!(error = %format!("{e:#}"), "cannot write the mails to staff");
        }
        // The watchdog is fed once per pass the loop comes out of, failed or not: a pass that
        // hangs starves it and systemd restarts the daemon.
        super::notify::alive();
        match passed {
            Ok(()) => {
                if failures > 0 || login_refused {
                    tracing::info!(mailbox = %name, "mailbox reachable again");
                }
                failures = 0;
                login_refused = false;
            }
            Err(e) => {
                let text = format!("{e:#}");
                let n = name.clone();
                let t = text.clone();
                if let Err(e) = blocking(&intake, move |i| i.store.record_poll(&n, Some(&t))).await
                {
                    tracing::error!(error = %format!("{e:#}"), "cannot record the failed pass");
                }
                if options.once {
                    mailbox.close().await;
                    return Err(e);
                }
                failures += 1;
                let delay = if e.downcast_ref::<LoginRefused>().is_some() {
                    if !login_refused {
                        tracing::error!(mailbox = %name, error = %text,
                            "login refused; retrying every {} s without further reports until it works",
                            options.auth_retry.as_secs());
                    } else {
                        tracing::debug!(mailbox = %name, error = %text, "login refused again");
                    }
                    login_refused = true;
                    options.auth_retry
                } else {
                    let delay = backoff(failures, options.reconnect_max);
                    tracing::warn!(mailbox = %name, error = %text,
                        "pass failed; retrying in {:.1} s", delay.as_secs_f64());
                    delay
                };
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| *s) => {}
                }
                if *shutdown.borrow() {
                    break;
                }
                continue;
            }
        }
        if options.once || *shutdown.borrow() {
            break;
        }
        if let Err(e) = mailbox.wait_for_new(options.wait, &mut shutdown).await {
            // The next pass reconnects.
            tracing::warn!(mailbox = %name, error = %format!("{e:#}"), "waiting for new mail failed");
        }
        if *shutdown.borrow() {
            break;
        }
    }
    mailbox.close().await;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_reconnections_doubles_up_to_its_maximum_with_a_quarter_of_jitter() {
        let max = Duration::from_secs(300);
        for (failures, base) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (9, 256.0),
            (10, 300.0),
            (40, 300.0),
        ] {
            for _ in 0..50 {
                let d = backoff(failures, max).as_secs_f64();
                assert!(
                    d >= base * 0.75 - 1e-9 && d <= base * 1.25 + 1e-9,
                    "failure {failures}: {d} s, base {base} s"
                );
            }
        }
    }
}
