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
    let listener = bind(&config, args.listen).await?;
    serve(config, listener).await
}

/// Binds the desk's address (`run` binds it before it takes mail, so a taken port is an error
/// at start, not later).
pub async fn bind(
    config: &Config,
    listen: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener> {
    if !listen.ip().is_loopback() && !config.desk.secure_cookie && !config.desk.trust_proxy {
        tracing::warn!(
            address = %listen,
            "the desk listens beyond this machine without TLS: passwords and personal data \
             cross the network in clear; serve it on 127.0.0.1 behind a TLS proxy instead"
        );
    }
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

/// Serves the desk on its own connection to the database until Ctrl-C / SIGTERM.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> Result<()> {
    let registry = Registry::load(&config.units.file)?;
    let store = Store::open(&config.database_path())?;
    let state = desk::Desk::new(config, registry, store)?;
    tracing::info!(address = %listener.local_addr()?, "desk listening");
    desk::serve(listener, state).await
}
