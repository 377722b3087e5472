//! The SMTP server replies go through: its URL ([`Target`]), its password ([`Secret`]), and the
//! lettre transport built from them ([`SmtpTransport`]): implicit TLS, STARTTLS required, or plain
//! to loopback only; rustls with the ring provider; AUTH when a user is given; a timeout on every
//! step.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

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

/// lettre's async SMTP transport (pooled connections), with the error classification the sender
/// needs.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    target: Target,
}

impl SmtpTransport {
    /// Builds the transport for `smtp` (reads the password and the CA file now, so a mistake
    /// stops `run` at the start instead of failing every reply).
    pub fn new(smtp: &Smtp) -> Result<SmtpTransport> {
        let target = Target::parse(&smtp.url).context("smtp.url")?;
        let password = password(smtp)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
            .port(target.port)
            .timeout(Some(Duration::from_secs(smtp.timeout_seconds.max(1))))
            .pool_config(
                PoolConfig::new()
                    .max_size(4)
                    .idle_timeout(Duration::from_secs(60)),
            );
        if target.security != Security::Plain {
            let mut tls = TlsParameters::builder(target.host.clone());
            if let Some(ca) = &smtp.ca_file {
                let pem = std::fs::read(ca)
                    .with_context(|| format!("cannot read smtp.ca-file {}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .with_context(|| format!("{} holds no PEM certificate", ca.display()))?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls.build_rustls().context("cannot set up TLS for SMTP")?;
            builder = builder.tls(match target.security {
                Security::ImplicitTls => Tls::Wrapper(tls),
                _ => Tls::Required(tls),
            });
        }
        if let Some(user) = &target.user {
            let password = password.with_context(|| {
                format!(
                    "the SMTP user {user} needs a password: set {} or smtp.password-file",
                    smtp.password_env
                )
            })?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(SmtpTransport {
            inner: builder.build(),
            target,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
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
        match self.inner.send_raw(&envelope, bytes).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Err(e) => Err(classify(&e)),
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
