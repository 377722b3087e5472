//! `desk`: serve the staff desk on the daemon's database.

use anyhow::{Context, Result};

use crate::cli::DeskArgs;
use crate::config::Config;
use crate::desk;
use crate::store::Store;
use crate::units::Registry;

/// `desk`: listen on `--listen` until Ctrl-C / SIGTERM.
pub async fn desk(config_path: &std::path::Path, args: &DeskArgs) -> Result<()> {
    let config = Config::load(config_path, &args.paths.overrides())?;
    let registry = Registry::load(&config.units.file)?;
    let store = Store::open(&config.database_path())?;
    if !args.listen.ip().is_loopback() && !config.desk.secure_cookie && !config.desk.trust_proxy {
        tracing::warn!(
            address = %args.listen,
            "the desk listens beyond this machine without TLS: passwords and personal data \
             cross the network in clear; serve it on 127.0.0.1 behind a TLS proxy instead"
        );
    }
    let state = desk::Desk::new(config, registry, store)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "desk listening");
    desk::serve(listener, state).await
}
