//! The staff desk: a Vietnamese web page on the daemon's database (`cts-intake desk`).
//!
//! Server-rendered (askama templates under `templates/desk/`), plain forms and links, no
//! JavaScript. Handlers are thin: they read through `store` queries and write through the same
//! functions the commands use (`report::paper::receive`, `Store::release_reply`), and every
//! action goes to the audit log.
//!
//! One gate (`guard`) stands before every page but `/healthz` and the login page: a request
//! without a live session is sent to the login page; a state-changing request (POST) from another
//! origin, or without the session's `csrf` form field, is refused with 403.

mod actions;
pub mod auth;
pub mod code;
mod pages;
mod text;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Result;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::config::{Config, DeskConfig};
use crate::daemon::Intake;
use crate::store::Store;
use crate::units::Registry;

/// Most bytes of a form accepted (the forms are short: a note is the longest field).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Failed logins that make a username, or a client, wait.
pub const MAX_LOGIN_FAILURES: usize = 5;
/// Over how long failed logins are counted.
pub const LOGIN_WINDOW_MINUTES: i64 = 15;

/// What every handler shares.
pub struct Desk {
    store: Mutex<Store>,
    /// The registry as last loaded: replaced when staff edit it here, or when its file changed
    /// (`units import`), checked before each page.
    registry: RwLock<Registry>,
    /// When the registry file was last changed, as loaded.
    registry_mtime: Mutex<Option<std::time::SystemTime>>,
    /// The intake the actions on mail go through (release, reprocess), as `replay` does:
    /// opened at the first such action.
    intake: Mutex<Option<Intake>>,
    config: Config,
    /// Origin forms must come from, when configured.
    public_origin: Option<String>,
}

/// The shared state.
pub type AppState = Arc<Desk>;

impl Desk {
    /// The desk on an open store.
    pub fn new(config: Config, registry: Registry, store: Store) -> Result<AppState> {
        let public_origin = match &config.desk.public_url {
            Some(u) => Some(auth::origin_of(u).ok_or_else(|| {
                anyhow::anyhow!("desk.public-url {u:?} is not an http(s) address")
            })?),
            None => None,
        };
        let registry_mtime = file_mtime(&config.units.file);
        Ok(Arc::new(Desk {
            store: Mutex::new(store),
            registry: RwLock::new(registry),
            registry_mtime: Mutex::new(registry_mtime),
            intake: Mutex::new(None),
            config,
            public_origin,
        }))
    }

    /// The registry in use.
    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `registry` in use (after staff changed it, and it was saved).
    fn use_registry(&self, registry: Registry) {
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = registry;
        *self
            .registry_mtime
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = file_mtime(&self.config.units.file);
    }

    /// Loads the registry file again when it changed since it was loaded; a file that no longer
    /// loads is logged and the registry in use kept.
    fn refresh_registry(&self) {
        let now = file_mtime(&self.config.units.file);
        let mut seen = self
            .registry_mtime
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *seen == now {
            return;
        }
        *seen = now;
        match Registry::load(&self.config.units.file) {
            Ok(r) => *self.registry.write().unwrap_or_else(|e| e.into_inner()) = r,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the changed units registry cannot be loaded; the one loaded before stays in use")
            }
        }
    }

    fn desk_config(&self) -> &DeskConfig {
        &self.config.desk
    }

    fn report_dir(&self) -> PathBuf {
        self.config.report_dir()
    }

    /// Runs `f` on the store, off the async threads.
    async fn db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Desk, &Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let desk = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = desk
                .store
                .lock()
                .map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
            f(&desk, &store)
        })
        .await
        .map_err(|e| anyhow::anyhow!("a desk task failed: {e}"))?
    }
}

impl Desk {
    /// Runs `f` on the intake (opened at the first call), off the async threads: the actions
    /// that process a mail again go through it, as the `replay` command does.
    async fn with_intake<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Desk, &mut Intake) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let desk = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = desk
                .intake
                .lock()
                .map_err(|_| anyhow::anyhow!("the intake's lock is poisoned"))?;
            if slot.is_none() {
                *slot = Some(Intake::open(desk.config.clone())?);
            }
            let intake = slot.as_mut().expect("opened above");
            intake.reload_registry_if_changed();
            f(&desk, intake)
        })
        .await
        .map_err(|e| anyhow::anyhow!("a desk task failed: {e}"))?
    }
}

fn file_mtime(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The logged-in person, put on each request by the gate (`guard`).
#[derive(Debug, Clone)]
pub struct Staff {
    pub username: String,
    pub csrf: String,
}

/// Every route of the desk.
pub fn router(state: AppState) -> Router {
    pages::routes()
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Serves the desk on `listener` until the process is stopped (Ctrl-C / SIGTERM).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Paths served without a session.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/dang-nhap" | "/desk.css")
}

/// The client's address, for the login rate limit: the proxy's `X-Forwarded-For` (its last
/// entry, the one the proxy added) when the desk trusts a proxy, else the peer's address.
fn client_of(desk: &Desk, req: &Request) -> String {
    if desk.desk_config().trust_proxy
        && let Some(f) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return f.chars().take(64).collect();
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address, as the gate found it.
#[derive(Debug, Clone)]
pub struct Client(pub String);

/// Whether cookies are sent with `Secure`: configured so, or a trusted proxy says the browser
/// reached it over https (`X-Forwarded-Proto`).
#[derive(Debug, Clone, Copy)]
pub struct SecureCookies(pub bool);

fn secure_cookies(desk: &Desk, req: &Request) -> bool {
    desk.desk_config().secure_cookie
        || (desk.desk_config().trust_proxy
            && req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `csrf` field of an urlencoded form.
fn csrf_field(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
}

/// What every answer carries: no script, no framing (clickjacking), no sniffing of downloads,
/// the Referer only to the desk itself, and nothing kept in caches (the pages hold personal
/// data).
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// The gate ([`gate`]), and the security headers on whatever it answers.
async fn guard(state: State<AppState>, req: Request, next: Next) -> Response {
    let mut response = gate(state, req, next).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, header::HeaderValue::from_static(value));
    }
    response
}

/// The gate before every route: origin, session, `csrf`.
async fn gate(State(desk): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD);
    let client = client_of(&desk, &req);
    let secure = secure_cookies(&desk, &req);
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(Client(client));
    parts.extensions.insert(SecureCookies(secure));

    let mut form_csrf = None;
    let body = if changes_state {
        let own = match &desk.public_origin {
            Some(o) => auth::OwnOrigin::Configured(o.clone()),
            None => auth::OwnOrigin::Host(
                header_str(&parts.headers, header::HOST)
                    .unwrap_or("")
                    .to_string(),
            ),
        };
        if !auth::same_origin(
            header_str(&parts.headers, header::ORIGIN),
            header_str(&parts.headers, header::REFERER),
            &own,
        ) {
            return pages::forbidden(text::FORBIDDEN_ORIGIN);
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, text::FORM_TOO_LARGE).into_response(),
        };
        form_csrf = csrf_field(&bytes);
        Body::from(bytes)
    } else {
        body
    };
    let cookies = header_str(&parts.headers, header::COOKIE)
        .unwrap_or("")
        .to_string();

    if is_public(&path) {
        if changes_state && path == "/dang-nhap" {
            let expected = auth::cookie(&cookies, auth::LOGIN_COOKIE).unwrap_or("");
            if !form_csrf
                .as_deref()
                .is_some_and(|f| auth::same_token(f, expected))
            {
                return pages::forbidden(text::FORBIDDEN_CSRF_LOGIN);
            }
        }
        return next.run(Request::from_parts(parts, body)).await;
    }

    desk.refresh_registry();
    let token = auth::cookie(&cookies, auth::SESSION_COOKIE).map(str::to_string);
    let session = match token {
        Some(t) if t.len() <= 128 => match desk.db(move |_, s| s.session(&t)).await {
            Ok(s) => s,
            Err(e) => return pages::internal(e),
        },
        _ => None,
    };
    let Some(session) = session else {
        let next_path = if changes_state { "/".to_string() } else { path };
        let target = format!(
            "/dang-nhap?next={}",
            url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
        );
        return Redirect::to(&target).into_response();
    };
    if changes_state
        && !form_csrf
            .as_deref()
            .is_some_and(|f| auth::same_token(f, &session.csrf))
    {
        return pages::forbidden(text::FORBIDDEN_CSRF);
    }
    parts.extensions.insert(Staff {
        username: session.username,
        csrf: session.csrf,
    });
    next.run(Request::from_parts(parts, body)).await
}
