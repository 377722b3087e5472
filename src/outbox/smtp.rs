//! The SMTP server replies go through: the transport ([`SmtpTransport`]) built from its URL
//! ([`SmtpUrl`]) and its password (`config::Smtp::password`): implicit TLS, STARTTLS required, or plain to
//! loopback only; rustls with the ring provider; AUTH when a user is given; timeouts.

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

use crate::config::{Security, Smtp, SmtpUrl};

use super::sender::{SendError, Transport};

/// One SMTP connection, kept open between replies and opened again when it breaks or went quiet.
///
/// lettre's own pooled transport writes a message's body and its final `.` in two writes on a
/// socket without TCP_NODELAY, so Nagle's algorithm holds the final `.` until the server's
/// delayed ACK (about 40 ms on Linux): every reply would cost 40 ms more than the server needs.
/// So the TCP socket is ours (TCP_NODELAY set), implicit TLS is done on it with tokio-rustls, and
/// lettre's [`AsyncSmtpConnection`] speaks SMTP on it (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA).
pub struct SmtpTransport {
    target: SmtpUrl,
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
        let target = SmtpUrl::parse(&smtp.url).context("smtp.url")?;
        let password = smtp.password()?;
        let ca_pem = match &smtp.ca_file {
            Some(ca) => Some(
                std::fs::read(ca)
                    .with_context(|| format!("cannot read smtp.ca-file {}", ca.display()))?,
            ),
            None => None,
        };
        let (starttls, tls) = match target.security {
            Security::Plain => (None, None),
            Security::Starttls => {
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
            Security::Tls => (None, Some(rustls_connector(ca_pem.as_deref())?)),
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

    pub fn target(&self) -> &SmtpUrl {
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

/// The longest wait for the server's answer to a reply's data (RFC 5321 §4.5.3.2.6).
const FINAL_DOT_WAIT: Duration = Duration::from_secs(10 * 60);

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
        // After the data's final dot a server may take minutes to answer (RFC 5321 §4.5.3.2.6:
        // 10 minutes, since a shorter wait makes copies delivered twice); the data itself may
        // take longer than one step: 64 KiB/s on top.
        let limit =
            self.timeout.max(FINAL_DOT_WAIT) + Duration::from_secs(bytes.len() as u64 / 65_536);
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
                // Whether the server took it is unknown: it is sent again later as the same bytes
                // under the same Message-ID (a duplicate the school's client can recognise),
                // never marked failed for this.
                Err(SendError::transient(format!(
                    "{} did not answer the reply within {} s: outcome unknown, it is sent again \
                     later with the same Message-ID",
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
