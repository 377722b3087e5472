//! The server URLs of `--imap`, `--smtp` and `smtp.url`, parsed side by side: one [`Security`]
//! for both servers, the same rules for a user (percent-encoded), a password (never in a URL)
//! and plain text (loopback only).

use std::fmt;
use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{IMAP_PASSWORD_ENV, SMTP_PASSWORD_ENV};

/// How the connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Implicit TLS, from the first byte (imaps, port 993; smtps, port 465).
    Tls,
    /// STARTTLS on the plain port (IMAP 143, SMTP submission 587); refused when the server does
    /// not offer it.
    Starttls,
    /// No encryption: only to a loopback address (for IMAP, unless `allow-plain-remote` says
    /// otherwise).
    Plain,
}

/// A parsed `--imap` URL: `imaps://USER@HOST[:PORT]/MAILBOX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub security: Security,
    pub host: String,
    pub port: Option<u16>,
    /// The login, percent-decoded.
    pub user: String,
    /// The folder, percent-decoded; empty for the default.
    pub mailbox: String,
}

impl ImapUrl {
    /// Reads `imaps://USER@HOST[:PORT]/MAILBOX` (implicit TLS), `imap://...` (STARTTLS required)
    /// or `imap+plain://...` (no TLS).
    pub fn parse(text: &str) -> Result<ImapUrl> {
        let url = url::Url::parse(text).with_context(|| format!("invalid IMAP URL {text:?}"))?;
        let security = match url.scheme() {
            "imaps" => Security::Tls,
            "imap" => Security::Starttls,
            "imap+plain" => Security::Plain,
            other => bail!(
                "IMAP URL scheme {other:?} is not one of imaps:// (TLS), imap:// (STARTTLS), \
                 imap+plain:// (no TLS, loopback only)"
            ),
        };
        if url.password().is_some() {
            bail!(
                "the IMAP URL must not hold the password: put it in the environment variable \
                 {IMAP_PASSWORD_ENV}"
            );
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
        };
        let user = decode(url.username()).context("the IMAP user is not valid UTF-8")?;
        if user.is_empty() {
            bail!("the IMAP URL names no user (imaps://USER@HOST/MAILBOX)");
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .context("the IMAP URL names no host")?
            .trim_matches(['[', ']'])
            .to_string();
        let mailbox = decode(url.path().trim_start_matches('/'))
            .context("the IMAP mailbox is not valid UTF-8")?;
        Ok(ImapUrl {
            security,
            host,
            port: url.port(),
            user,
            mailbox,
        })
    }
}

/// A parsed `--smtp` / `smtp.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub security: Security,
    pub host: String,
    pub port: u16,
    /// The login, percent-decoded; `None` for no authentication.
    pub user: Option<String>,
}

impl SmtpUrl {
    /// Parses `smtps://USER@HOST:PORT`, `smtp://USER@HOST:PORT` or `smtp+plain://HOST:PORT`.
    pub fn parse(url: &str) -> Result<SmtpUrl> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("'{url}' is not an SMTP URL (smtps://USER@HOST:PORT)"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtps" => (Security::Tls, 465),
            "smtp" => (Security::Starttls, 587),
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
            bail!("put no password in the SMTP URL: it comes from {SMTP_PASSWORD_ENV}");
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
        Ok(SmtpUrl {
            security,
            host,
            port,
            user: user.filter(|u| !u.is_empty()),
        })
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::Tls => "smtps",
            Security::Starttls => "smtp",
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

/// True for `localhost` and loopback addresses: the only hosts plain text may go to.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Decodes `%XX` escapes (a user like `cttt%40namdinh.edu.vn`); a `%` not followed by two hex
/// digits is an error.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_url_forms_are_understood() {
        let t = SmtpUrl::parse("smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn").unwrap();
        assert_eq!(t.security, Security::Tls);
        assert_eq!(t.port, 465);
        assert_eq!(t.user.as_deref(), Some("cttt@namdinh.edu.vn"));
        assert_eq!(t.host, "mail.namdinh.edu.vn");
        let t = SmtpUrl::parse("smtp://u@Mail.Example.org:2525").unwrap();
        assert_eq!((t.security, t.port), (Security::Starttls, 2525));
        assert_eq!(t.host, "mail.example.org");
        let t = SmtpUrl::parse("smtp+plain://127.0.0.1:2525").unwrap();
        assert_eq!((t.security, t.port, t.user), (Security::Plain, 2525, None));
        assert!(SmtpUrl::parse("smtp+plain://[::1]").is_ok());
        assert!(SmtpUrl::parse("smtp+plain://localhost").is_ok());
    }

    #[test]
    fn plain_smtp_is_refused_beyond_loopback_and_passwords_in_urls_are_refused() {
        let e = format!(
            "{:#}",
            SmtpUrl::parse("smtp+plain://mail.example.org").unwrap_err()
        );
        assert!(e.contains("loopback"), "{e}");
        let e = format!(
            "{:#}",
            SmtpUrl::parse("smtps://u:pw@mail.example.org").unwrap_err()
        );
        assert!(e.contains("no password"), "{e}");
        assert!(SmtpUrl::parse("imap://x").is_err());
        assert!(SmtpUrl::parse("smtps://x:notaport").is_err());
        assert!(SmtpUrl::parse("smtps://u%zz@x").is_err());
    }
}
