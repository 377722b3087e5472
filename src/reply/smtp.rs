//! The SMTP server replies go through: its URL ([`Target`]), its password ([`Secret`]), and the
//! transport built from them ([`SmtpTransport`]): implicit TLS, STARTTLS required, or plain to
//! loopback only; rustls with the ring provider; AUTH when a user is given; timeouts.

use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use crate::config::Smtp;

use super::sender::{SendError, Transport};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`, port 465).
    ImplicitTls,
    /// STARTTLS, refused if the server does not offer it (`smtp://`, port 587).
    StartTls,
    /// No TLS (`smtp+plain://`): only to a loopback address.
    Plain,
}

/// A parsed `--smtp` / `smtp.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub security: Security,
    pub host: String,
    pub port: u16,
    /// The login, percent-decoded; `None` for no authentication.
    pub user: Option<String>,
}

impl Target {
    /// Parses `smtps://USER@HOST:PORT`, `smtp://USER@HOST:PORT` or `smtp+plain://HOST:PORT`.
    pub fn parse(url: &str) -> Result<Target> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("'{url}' is not an SMTP URL (smtps://USER@HOST:PORT)"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtps" => (Security::ImplicitTls, 465),
            "smtp" => (Security::StartTls, 587),
            "smtp+plain" => (Security::Plain, 25),
            other => bail!(
                "unknown SMTP URL scheme '{other}': use smtps:// (implicit TLS), smtp:// \
                 (STARTTLS) or smtp+plain:// (loopback only)"
            ),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '?', '#']) {
            bail!("an SMTP URL has no path or query: '{url}'");
        }
        if rest.contains(':') && rest.rsplit_once('@').is_some_and(|(u, _)| u.contains(':')) {
            bail!(
                "put no password in the SMTP URL: it comes from {}",
                crate::config::SMTP_PASSWORD_ENV
            );
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(percent_decode(u)?), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)?;
        let port = port.unwrap_or(default_port);
        if host.is_empty() {
            bail!("the SMTP URL '{url}' names no host");
        }
        if security == Security::Plain && !is_loopback(&host) {
            bail!(
                "smtp+plain:// sends passwords and replies unencrypted, so it is only allowed to \
                 a loopback address (127.0.0.1, ::1, localhost), not '{host}'"
            );
        }
        Ok(Target {
            security,
            host,
            port,
            user: user.filter(|u| !u.is_empty()),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::ImplicitTls => "smtps",
            Security::StartTls => "smtp",
            Security::Plain => "smtp+plain",
        };
        match &self.user {
            Some(u) => write!(f, "{scheme}://{u}@{}:{}", self.host, self.port),
            None => write!(f, "{scheme}://{}:{}", self.host, self.port),
        }
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>)> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (h, after) = inner
            .split_once(']')
            .context("an IPv6 address in an SMTP URL needs its closing ']'")?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .with_context(|| format!("'{p}' is not a port number"))?,
        ),
        None => None,
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Decodes `%XX` escapes (a user like `cttt%40namdinh.edu.vn`).
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .with_context(|| format!("bad percent escape in '{s}'"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).with_context(|| format!("'{s}' is not UTF-8 once decoded"))
}

/// A password: never printed, never logged.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The password for `smtp`: the first line of `password-file`, or the `password-env` variable.
pub fn password(smtp: &Smtp) -> Result<Option<Secret>> {
    if let Some(path) = &smtp.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read smtp.password-file {}", path.display()))?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if line.is_empty() {
            bail!("smtp.password-file {} is empty", path.display());
        }
        return Ok(Some(Secret::new(line)));
    }
    Ok(std::env::var(&smtp.password_env)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new))
}

/// One SMTP connection, kept open between replies and opened again when it breaks or went quiet.
///
/// lettre's own pooled transport writes a message's body and its final `.` in two writes on a
/// socket without TCP_NODELAY, so Nagle's algorithm holds the final `.` until the server's
/// delayed ACK (about 40 ms on Linux): every reply would cost 40 ms more than the server needs.
/// So the TCP socket is ours (TCP_NODELAY set), implicit TLS is done on it with tokio-rustls, and
/// lettre's [`AsyncSmtpConnection`] speaks SMTP on it (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA).
pub struct SmtpTransport {
    target: Target,
    credentials: Option<Credentials>,
    /// STARTTLS parameters (lettre's rustls setup with the same roots).
    starttls: Option<TlsParameters>,
    /// Implicit TLS.
    tls: Option<TlsConnector>,
    hello: ClientId,
    timeout: Duration,
    connection: Mutex<Option<Open>>,
}

struct Open {
    conn: AsyncSmtpConnection,
    last_used: Instant,
}

/// A connection idle longer than this is checked with NOOP before it is used again (servers
/// close idle connections after a few minutes).
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

impl SmtpTransport {
    /// Builds the transport for `smtp` (reads the password and the CA file now, so a mistake
    /// stops `run` at the start instead of failing every reply). Connects on the first send.
    pub fn new(smtp: &Smtp) -> Result<SmtpTransport> {
        let target = Target::parse(&smtp.url).context("smtp.url")?;
        let password = password(smtp)?;
        let ca_pem = match &smtp.ca_file {
            Some(ca) => Some(
                std::fs::read(ca)
                    .with_context(|| format!("cannot read smtp.ca-file {}", ca.display()))?,
            ),
            None => None,
        };
        let (starttls, tls) = match target.security {
            Security::Plain => (None, None),
            Security::StartTls => {
                let mut tls = TlsParameters::builder(target.host.clone());
                if let Some(pem) = &ca_pem {
                    let cert = Certificate::from_pem(pem)
                        .context("smtp.ca-file holds no PEM certificate")?;
                    tls = tls.add_root_certificate(cert);
                }
                (
                    Some(tls.build_rustls().context("cannot set up TLS for SMTP")?),
                    None,
                )
            }
            Security::ImplicitTls => (None, Some(rustls_connector(ca_pem.as_deref())?)),
        };
        let credentials = match &target.user {
            Some(user) => {
                let password = password.with_context(|| {
                    format!(
                        "the SMTP user {user} needs a password: set {} or smtp.password-file",
                        smtp.password_env
                    )
                })?;
                Some(Credentials::new(
                    user.clone(),
                    password.expose().to_string(),
                ))
            }
            None => None,
        };
        Ok(SmtpTransport {
            target,
            credentials,
            starttls,
            tls,
            hello: ClientId::default(),
            timeout: Duration::from_secs(smtp.timeout_seconds.max(1)),
            connection: Mutex::new(None),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| {
                SendError::unreachable(format!("cannot connect to {}:{}: {e}", t.host, t.port))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::unreachable(format!("cannot set TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(t.host.clone())
                    .map_err(|e| SendError::unreachable(format!("bad TLS name {}: {e}", t.host)))?;
                let tls = connector.connect(name, tcp).await.map_err(|e| {
                    SendError::unreachable(format!("TLS with {} failed: {e}", t.host))
                })?;
                Box::new(TlsStream(tls))
            }
            None => Box::new(tcp),
        };
        // Nothing that fails while connecting is about a reply: always try again later.
        let smtp = |e: lettre::transport::smtp::Error| {
            SendError::unreachable(format!("{}: {}", t, error_text(&e)))
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(smtp)?;
        if let Some(params) = &self.starttls {
            if !conn.can_starttls() {
                return Err(SendError::unreachable(format!(
                    "{} does not offer STARTTLS; refusing to send without TLS",
                    t.host
                )));
            }
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(smtp)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| {
                    // A refused login is ours to fix, never the reply's fault.
                    SendError::unreachable(format!(
                        "the SMTP server refused our login: {}",
                        error_text(&e)
                    ))
                })?;
        }
        Ok(conn)
    }
}

/// A rustls client for implicit TLS: the public roots plus the CA file's certificates.
fn rustls_connector(ca_pem: Option<&[u8]>) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        let mut any = false;
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.context("smtp.ca-file holds a broken PEM certificate")?)
                .context("smtp.ca-file holds a certificate rustls refuses")?;
            any = true;
        }
        if !any {
            bail!("smtp.ca-file holds no PEM certificate");
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("cannot set up TLS for SMTP")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// tokio-rustls' stream as the stream lettre speaks SMTP on.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Transport for SmtpTransport {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    async fn send(&self, from: &str, to: &[String], bytes: &[u8]) -> Result<String, SendError> {
        let from = from
            .parse()
            .map_err(|e| SendError::permanent(format!("bad sender address {from}: {e}")))?;
        let to = to
            .iter()
            .map(|t| {
                t.parse()
                    .map_err(|e| SendError::permanent(format!("bad recipient address {t}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(Some(from), to)
            .map_err(|e| SendError::permanent(format!("bad envelope: {e}")))?;

        let mut slot = self.connection.lock().await;
        let usable = match slot.as_mut() {
            None => false,
            Some(open) if open.conn.has_broken() => false,
            Some(open) if open.last_used.elapsed() > CHECK_AFTER_IDLE => {
                tokio::time::timeout(self.timeout, open.conn.test_connected())
                    .await
                    .unwrap_or(false)
            }
            Some(_) => true,
        };
        if !usable {
            *slot = None;
            let conn = tokio::time::timeout(self.timeout * 2, self.connect())
                .await
                .map_err(|_| {
                    SendError::unreachable(format!("{} did not answer in time", self.target))
                })??;
            *slot = Some(Open {
                conn,
                last_used: Instant::now(),
            });
        }
        let open = slot.as_mut().expect("a connection is open");
        // The data may take longer than one step: allow 64 KiB/s on top of the step timeout.
        let limit = self.timeout + Duration::from_secs(bytes.len() as u64 / 65_536);
        match tokio::time::timeout(limit, open.conn.send(&envelope, bytes)).await {
            Ok(Ok(response)) => {
                open.last_used = Instant::now();
                Ok(response.message().collect::<Vec<_>>().join(" "))
            }
            Ok(Err(e)) => {
                if open.conn.has_broken() {
                    *slot = None;
                }
                Err(classify(&e))
            }
            Err(_) => {
                *slot = None;
                Err(SendError::transient(format!(
                    "{} did not accept the reply within {} s",
                    self.target,
                    limit.as_secs()
                )))
            }
        }
    }
}

/// A 5xx answer is permanent, except the ones about our session rather than the reply (AUTH
/// refused, TLS required): those are the operator's to fix, and the reply waits for it.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = error_text(e);
    if e.is_permanent() {
        let code = e.status().map(|c| c.to_string()).unwrap_or_default();
        if ["530", "534", "535", "538"].contains(&code.as_str()) {
            return SendError::transient(format!("the SMTP server refused our login: {text}"));
        }
        return SendError::permanent(text);
    }
    SendError::transient(text)
}

fn error_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_url_forms_are_understood() {
        let t = Target::parse("smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn").unwrap();
        assert_eq!(t.security, Security::ImplicitTls);
        assert_eq!(t.port, 465);
        assert_eq!(t.user.as_deref(), Some("cttt@namdinh.edu.vn"));
        assert_eq!(t.host, "mail.namdinh.edu.vn");
        let t = Target::parse("smtp://u@Mail.Example.org:2525").unwrap();
        assert_eq!((t.security, t.port), (Security::StartTls, 2525));
        assert_eq!(t.host, "mail.example.org");
        let t = Target::parse("smtp+plain://127.0.0.1:2525").unwrap();
        assert_eq!((t.security, t.port, t.user), (Security::Plain, 2525, None));
        assert!(Target::parse("smtp+plain://[::1]").is_ok());
        assert!(Target::parse("smtp+plain://localhost").is_ok());
    }

    #[test]
    fn plain_smtp_is_refused_beyond_loopback_and_passwords_in_urls_are_refused() {
        let e = format!(
            "{:#}",
            Target::parse("smtp+plain://mail.example.org").unwrap_err()
        );
        assert!(e.contains("loopback"), "{e}");
        let e = format!(
            "{:#}",
            Target::parse("smtps://u:pw@mail.example.org").unwrap_err()
        );
        assert!(e.contains("no password"), "{e}");
        assert!(Target::parse("imap://x").is_err());
        assert!(Target::parse("smtps://x:notaport").is_err());
        assert!(Target::parse("smtps://u%zz@x").is_err());
    }

    #[test]
    fn a_secret_is_never_printed() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
