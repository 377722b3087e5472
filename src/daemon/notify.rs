//! The service manager's notifications (systemd `Type=notify`, see `sd_notify(3)`): `READY=1`
//! once the daemon is up, `WATCHDOG=1` after each pass of the loop (a successful pass or a failed
//! one the loop survives) and each batch of mail recorded, `STOPPING=1` at shutdown. Without `NOTIFY_SOCKET` (not started by
//! systemd) each is a no-op; a failure to notify is logged, never fatal.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(state: NotifyState<'_>, what: &str) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify the service manager ({what})");
    }
}

/// The daemon is up: the store is open and the loop starts.
pub fn ready() {
    send(NotifyState::Ready, "READY=1");
}

/// The loop is alive: a pass has ended (successfully or not), or a batch was recorded.
pub fn alive() {
    send(NotifyState::Watchdog, "WATCHDOG=1");
}

/// Shutdown has begun: the mail in hand is finished, then the process exits.
pub fn stopping() {
    send(NotifyState::Stopping, "STOPPING=1");
}

/// The watchdog interval systemd asks for (`WATCHDOG_USEC`), if any.
pub fn watchdog() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}
