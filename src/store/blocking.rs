//! The one way to blocking work from async code: rusqlite, calamine and xlsx writing block, so
//! they run on tokio's blocking threads behind a lock ([`locked`]).

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

/// Locks `shared` on a blocking thread and runs `f` on it. Used for the intake and for the stores
/// of the reply sender and the Sent-folder copy.
pub async fn locked<S, T, F>(shared: &Arc<Mutex<S>>, f: F) -> Result<T>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnOnce(&mut S) -> Result<T> + Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = shared
            .lock()
            .map_err(|_| anyhow::anyhow!("a lock was poisoned by a panic"))?;
        f(&mut guard)
    })
    .await
    .context("a blocking task failed")?
}
