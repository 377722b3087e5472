//! An IMAP mailbox (async-imap on tokio, TLS by rustls): the only IMAP code.
//!
//! The queue is cts-intake's own state, never `\Seen`: mails are listed by UID after the position
//! the daemon recorded, fetched with `BODY.PEEK[]` (staff still see them unread), and flagged or
//! moved only after their result is committed. [`connect`] opens an authenticated session from
//! an [`ImapConfig`] for any other use (appending replies to the Sent folder).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;

use super::{Cursor, Listing, MailRef, Mailbox, RawMail, Reset};
use crate::config::{ImapConfig, PostAction, Security};

/// The connection under an IMAP session: plain TCP (before STARTTLS, or to loopback) or TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An authenticated IMAP session.
pub type Session = async_imap::Session<Stream>;

/// The server refused the user name or password. The daemon reports it once and retries slowly.
#[derive(Debug, thiserror::Error)]
#[error(
    "the IMAP server {server} refused the login of {user} ({said}): check the password \
     (source.imap.password-env / password-file, or CTS_INTAKE_IMAP_PASSWORD)"
)]
pub struct LoginRefused {
    pub server: String,
    pub user: String,
    pub said: String,
}

/// Opens an authenticated session to the server `config` names: TCP, then implicit TLS,
/// STARTTLS or (to loopback only) nothing, then LOGIN. No mailbox is selected. Certificate
/// problems and a refused login ([`LoginRefused`]) are clear errors.
pub async fn connect(config: &ImapConfig) -> Result<Session> {
    let password = config.password()?;
    let password = password.expose();
    let server = format!("{}:{}", config.host, config.port());
    let limit = Duration::from_secs(config.timeout_seconds.max(1));
    let tcp = timeout(
        limit,
        TcpStream::connect((config.host.as_str(), config.port())),
    )
    .await
    .map_err(|_| anyhow!("connecting to the IMAP server {server} timed out"))?
    .with_context(|| format!("cannot connect to the IMAP server {server}"))?;
    let stream = match config.security {
        Security::Tls => Stream::Tls(Box::new(tls_handshake(tcp, config).await?)),
        Security::Plain => {
            let peer = tcp.peer_addr()?;
            if !peer.ip().is_loopback() && !config.allow_plain_remote {
                bail!(
                    "refusing an unencrypted IMAP connection to {peer}: plain is for a loopback \
                     address only (use imaps:// or imap:// with STARTTLS)"
                );
            }
            Stream::Plain(tcp)
        }
        Security::Starttls => {
            let mut client = async_imap::Client::new(Stream::Plain(tcp));
            timeout(limit, greeting(&mut client, &server))
                .await
                .map_err(|_| anyhow!("the IMAP server {server} sent no greeting"))??;
            timeout(limit, client.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| anyhow!("the IMAP server {server} did not answer STARTTLS"))?
                .map_err(|e| {
                    anyhow!(
                        "the IMAP server {server} refused STARTTLS ({e}); cts-intake never sends \
                         the password unencrypted (use imaps:// if the server has implicit TLS)"
                    )
                })?;
            let Stream::Plain(tcp) = client.into_inner() else {
                unreachable!("the stream before STARTTLS is plain")
            };
            Stream::Tls(Box::new(tls_handshake(tcp, config).await?))
        }
    };
    let mut client = async_imap::Client::new(stream);
    if config.security != Security::Starttls {
        timeout(limit, greeting(&mut client, &server))
            .await
            .map_err(|_| anyhow!("the IMAP server {server} sent no greeting"))??;
    }
    match timeout(limit, client.login(&config.user, password)).await {
        Err(_) => bail!("the IMAP server {server} did not answer the login"),
        Ok(Ok(session)) => Ok(session),
        Ok(Err((async_imap::error::Error::No(said), _))) => Err(LoginRefused {
            server,
            user: config.user.clone(),
            said,
        }
        .into()),
        Ok(Err((e, _))) => Err(anyhow!(e).context(format!("login to the IMAP server {server}"))),
    }
}

/// Reads the server greeting (async-imap does not): `* OK` or `* PREAUTH`, not `* BYE`.
async fn greeting(client: &mut async_imap::Client<Stream>, server: &str) -> Result<()> {
    let response = client
        .read_response()
        .await
        .with_context(|| format!("no greeting from the IMAP server {server}"))?
        .with_context(|| format!("the IMAP server {server} closed the connection at once"))?;
    match response.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => Ok(()),
        other => bail!("the IMAP server {server} greeted with {other:?}"),
    }
}

/// The TLS client: the configured CA file, or the system's CA certificates; ring only.
fn tls_config(config: &ImapConfig) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &config.ca_file {
        let certs = CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("cannot read the CA file {}", ca.display()))?;
        for cert in certs {
            let cert =
                cert.with_context(|| format!("bad certificate in the CA file {}", ca.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("bad certificate in the CA file {}", ca.display()))?;
        }
        if roots.is_empty() {
            bail!("the CA file {} holds no certificate", ca.display());
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            bail!(
                "no CA certificates found on this system (install the ca-certificates package), \
                 or name a CA file with --ca-file / source.imap.ca-file"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

async fn tls_handshake(
    tcp: TcpStream,
    config: &ImapConfig,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let server = format!("{}:{}", config.host, config.port());
    let name = ServerName::try_from(config.host.clone())
        .with_context(|| format!("{:?} is not a valid server name for TLS", config.host))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config(config)?);
    let limit = Duration::from_secs(config.timeout_seconds.max(1));
    match timeout(limit, connector.connect(name, tcp)).await {
        Err(_) => bail!("the TLS handshake with {server} timed out"),
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(explain_tls(e, config, &server)),
    }
}

/// A TLS failure in words an operator can act on.
fn explain_tls(e: io::Error, config: &ImapConfig, server: &str) -> anyhow::Error {
    use rustls::CertificateError as C;
    let cert = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|r| match r {
            rustls::Error::InvalidCertificate(c) => Some(c.clone()),
            _ => None,
        });
    let Some(cert) = cert else {
        return anyhow!(e).context(format!("TLS with the IMAP server {server} failed"));
    };
    let why = match &cert {
        C::UnknownIssuer => {
            "it is not signed by a certificate authority this machine trusts".to_string()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("it is not valid for the name {}", config.host)
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
        C::Revoked => "it was revoked".to_string(),
        other => format!("{other:?}"),
    };
    let hint = match &config.ca_file {
        Some(ca) => format!("(trusted CA file: {})", ca.display()),
        None => "(if the server uses a private CA, pass --ca-file PATH or set source.imap.ca-file)"
            .to_string(),
    };
    anyhow!(
        "the IMAP server {server} presented a certificate that is not accepted: {why} {hint}; \
         cts-intake does not connect without a valid certificate"
    )
}

/// What the server can do, as far as cts-intake cares.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

/// An IMAP folder as a [`Mailbox`]. Connects lazily, and drops the connection after any error so
/// the next call reconnects.
pub struct Imap {
    config: ImapConfig,
    /// The mailbox's stable name, part of every mail's key ("imap:user@host/INBOX").
    name: String,
    /// The seconds between polls when the server has no IDLE (or IDLE is turned off).
    poll: Duration,
    session: Option<Session>,
    caps: Caps,
    /// The post-action folder was checked (created if missing) on this connection.
    folder_ready: bool,
    /// A move without MOVE or UIDPLUS was reported once.
    warned_no_move: bool,
    /// The error of a connection made ahead ([`Imap::connect_ahead`]), for the first command.
    ahead: Option<anyhow::Error>,
    /// What the SELECT made on connecting said, while no other command has been sent since: a
    /// listing right after connecting need not SELECT again.
    selected: Option<async_imap::types::Mailbox>,
}

impl Imap {
    /// A mailbox for `config`; nothing is connected yet. `poll` is the poll interval without
    /// IDLE.
    pub fn new(config: ImapConfig, poll: Duration) -> Imap {
        Imap {
            name: Imap::name_of(&config),
            config,
            poll,
            session: None,
            caps: Caps::default(),
            folder_ready: false,
            warned_no_move: false,
            ahead: None,
            selected: None,
        }
    }

    /// The stable name of the mailbox `config` reads: user, host and folder (not the port or the
    /// security, which may change without the mails changing).
    pub fn name_of(config: &ImapConfig) -> String {
        format!(
            "imap:{}@{}/{}",
            config.user,
            config.host.to_ascii_lowercase(),
            config.mailbox
        )
    }

    fn limit(&self) -> Duration {
        Duration::from_secs(self.config.timeout_seconds.max(1))
    }

    /// Connects now (TLS, login, folder), while the caller does something else: the daemon
    /// opens its database meanwhile. An error is not reported here but given to the first
    /// command, as if that command had connected, so it is handled (and logged) once, the way
    /// every connection error is, and the server sees no second attempt.
    pub async fn connect_ahead(&mut self) {
        if let Err(e) = self.session().await {
            self.session = None;
            self.ahead = Some(e);
        }
    }

    /// The session, connected and with the folder selected.
    async fn session(&mut self) -> Result<&mut Session> {
        if let Some(e) = self.ahead.take() {
            return Err(e);
        }
        if self.session.is_none() {
            let limit = self.limit();
            let mut s = connect(&self.config).await?;
            let caps = timeout(limit, s.capabilities())
                .await
                .context("CAPABILITY timed out")??;
            self.caps = Caps {
                idle: caps.has_str("IDLE"),
                mv: caps.has_str("MOVE"),
                uidplus: caps.has_str("UIDPLUS"),
            };
            let mb = timeout(limit, s.select(folder_name(&self.config.mailbox)))
                .await
                .context("SELECT timed out")?
                .with_context(|| format!("cannot open the IMAP folder {}", self.config.mailbox))?;
            tracing::info!(mailbox = %self.name, idle = self.caps.idle, "IMAP connected");
            self.folder_ready = false;
            self.session = Some(s);
            self.selected = Some(mb);
        }
        Ok(self.session.as_mut().expect("connected above"))
    }

    /// The session, for a command other than a listing: what the SELECT on connecting said is
    /// stale once this command is sent.
    async fn session_for_command(&mut self) -> Result<&mut Session> {
        self.session().await?;
        self.selected = None;
        Ok(self.session.as_mut().expect("connected above"))
    }

    /// Drops the connection after an error: the next call reconnects.
    fn forget<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.session = None;
            self.selected = None;
        }
        r
    }

    async fn list_inner(&mut self, since: Option<Cursor>) -> Result<Listing> {
        let limit = self.limit();
        let folder = self.config.mailbox.clone();
        let wire = folder_name(&folder);
        self.session().await?;
        let fresh = self.selected.take();
        let s = self.session.as_mut().expect("connected above");
        // The current UIDVALIDITY and message count, pending expunges applied: from the SELECT
        // made on connecting when nothing came between, else from a SELECT again.
        let mb = match fresh {
            Some(mb) => mb,
            None => timeout(limit, s.select(&wire))
                .await
                .context("SELECT timed out")?
                .with_context(|| format!("cannot open the IMAP folder {folder}"))?,
        };
        drain(s);
        let validity = mb
            .uid_validity
            .context("the IMAP server gave no UIDVALIDITY")?;
        let (from, reset) = match since {
            Some(c) if c.uid_validity == validity => (c.uid.saturating_add(1), false),
            _ => (1, true),
        };
        let mut mails = Vec::new();
        if mb.exists > 0 {
            // Each response is turned into a MailRef as it arrives: a response holds on to the
            // read buffer it came in, so collecting them first kept memory for the whole
            // mailbox (about 10 KiB a mail).
            timeout(limit, async {
                let mut stream = s
                    .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
                    .await?;
                while let Some(f) = stream.try_next().await? {
                    // `n:*` names the highest UID even when it is below n (RFC 3501).
                    let Some(uid) = f.uid.filter(|u| *u >= from) else {
                        continue;
                    };
                    mails.push(MailRef {
                        source_key: format!("{validity}:{uid}"),
                        received_at: None,
                        size: f.size.map(u64::from).unwrap_or(0),
                        cursor: Some(Cursor {
                            uid_validity: validity,
                            uid,
                        }),
                    });
                }
                Ok::<_, async_imap::error::Error>(())
            })
            .await
            .context("UID FETCH timed out")??;
            drain(s);
        }
        mails.sort_by_key(|m| m.cursor.map(|c| c.uid));
        mails.dedup_by_key(|m| m.cursor.map(|c| c.uid));
        let reset = reset.then(|| Reset {
            uid_validity: validity,
            highest_uid: mails.last().and_then(|m| m.cursor).map_or(0, |c| c.uid),
        });
        Ok(Listing { mails, reset })
    }

    async fn fetch_inner(&mut self, mails: &[MailRef]) -> Result<Vec<RawMail>> {
        if mails.is_empty() {
            return Ok(Vec::new());
        }
        let bytes: u64 = mails.iter().map(|m| m.size).sum();
        // A minute per command, plus a second per 256 KiB: a slow link is not a dead one.
        let limit = self.limit() + Duration::from_secs(bytes / (256 * 1024));
        let set = uid_set(mails)?;
        let s = self.session_for_command().await?;
        let fetches: Vec<_> = timeout(limit, async {
            s.uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .context("UID FETCH of mail bodies timed out")??;
        drain(s);
        let mut by_uid: HashMap<u32, (Vec<u8>, Option<DateTime<Utc>>)> =
            HashMap::with_capacity(fetches.len());
        for f in &fetches {
            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                by_uid.insert(uid, (body.to_vec(), internal_date(f)));
            }
        }
        drop(fetches);
        Ok(mails
            .iter()
            .filter_map(|m| {
                let uid = m.cursor?.uid;
                match by_uid.remove(&uid) {
                    Some((bytes, received_at)) => Some(RawMail {
                        source_key: m.source_key.clone(),
                        received_at: received_at.or(m.received_at).unwrap_or_else(Utc::now),
                        bytes,
                    }),
                    None => {
                        tracing::warn!(mail = %m.source_key, "mail vanished from the IMAP folder before it was fetched");
                        None
                    }
                }
            })
            .collect())
    }

    async fn fetch_header_inner(&mut self, mail: &MailRef) -> Result<RawMail> {
        let limit = self.limit();
        let uid = mail.cursor.context("an IMAP mail without a UID")?.uid;
        let s = self.session_for_command().await?;
        let fetches: Vec<_> = timeout(limit, async {
            s.uid_fetch(uid.to_string(), "(UID INTERNALDATE BODY.PEEK[HEADER])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .context("UID FETCH of a header timed out")??;
        drain(s);
        let fetched = fetches.iter().find(|f| f.uid == Some(uid));
        let header = fetched
            .and_then(|f| f.header())
            .with_context(|| format!("mail {} vanished from the IMAP folder", mail.source_key))?;
        Ok(RawMail {
            source_key: mail.source_key.clone(),
            received_at: fetched
                .and_then(internal_date)
                .or(mail.received_at)
                .unwrap_or_else(Utc::now),
            bytes: header.to_vec(),
        })
    }

    async fn mark_done_inner(&mut self, mails: &[MailRef]) -> Result<()> {
        if mails.is_empty() {
            return Ok(());
        }
        let uid = uid_set(mails)?;
        let limit = self.limit();
        let action = self.config.post_action;
        let keyword = self.config.keyword.clone();
        let folder = self.config.move_to.clone();
        let wire = folder_name(&folder);
        let caps = self.caps;
        if action == PostAction::Move && !self.folder_ready {
            let s = self.session_for_command().await?;
            let exists = timeout(limit, async {
                s.list(None, Some(&quoted(&wire)))
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .context("LIST timed out")??;
            if exists.is_empty() {
                server_answer(
                    timeout(limit, s.create(&wire))
                        .await
                        .context("CREATE timed out")?,
                )
                .with_context(|| format!("cannot create the folder {folder}"))?;
                tracing::info!(folder = %folder, "created the IMAP folder for taken mail");
            }
            drain(s);
            self.folder_ready = true;
        }
        if action == PostAction::Move && !caps.mv && !caps.uidplus && !self.warned_no_move {
            tracing::warn!(
                "the IMAP server has neither MOVE nor UIDPLUS: taken mail is copied to {folder} \
                 and left in place with the keyword {keyword} (cts-intake never expunges other mail)"
            );
            self.warned_no_move = true;
        }
        let s = self.session_for_command().await?;
        let r: Result<()> = timeout(limit, async {
            match action {
                PostAction::Keyword => store(s, &uid, &format!("+FLAGS.SILENT ({keyword})")).await,
                PostAction::Seen => store(s, &uid, "+FLAGS.SILENT (\\Seen)").await,
                PostAction::Move if caps.mv => Ok(s.uid_mv(&uid, &wire).await?),
                PostAction::Move => {
                    s.uid_copy(&uid, &wire).await?;
                    if caps.uidplus {
                        store(s, &uid, "+FLAGS.SILENT (\\Deleted)").await?;
                        // UID EXPUNGE removes only this mail, never another one marked deleted.
                        s.uid_expunge(&uid).await?.try_collect::<Vec<_>>().await?;
                        Ok(())
                    } else {
                        store(s, &uid, &format!("+FLAGS.SILENT ({keyword})")).await
                    }
                }
            }
        })
        .await
        .context("the post-action timed out")?;
        drain(s);
        r
    }

    async fn wait_inner(
        &mut self,
        wait: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        self.session_for_command().await?;
        if !(self.config.idle && self.caps.idle) {
            tokio::select! {
                _ = tokio::time::sleep(wait.min(self.poll)) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            return Ok(());
        }
        let limit = self.limit();
        let session = self.session.take().expect("connected above");
        let mut idle = session.idle();
        timeout(limit, idle.init())
            .await
            .context("IDLE timed out")?
            .context("IDLE failed")?;
        // IDLE is re-issued before the 29 minutes servers allow, and at every full poll.
        let dur = wait.min(Duration::from_secs(25 * 60));
        let (result, stopped_by_us) = {
            let (fut, stop) = idle.wait_with_timeout(dur);
            tokio::pin!(fut);
            // The stop handle must stay alive: dropping it ends the wait.
            let mut stop = Some(stop);
            let result = loop {
                tokio::select! {
                    r = &mut fut => break r,
                    _ = shutdown.wait_for(|s| *s), if stop.is_some() => stop = None,
                }
            };
            (result, stop.is_none())
        };
        match result {
            Ok(IdleResponse::ManualInterrupt) if !stopped_by_us => {
                // The stream ended under us: the server went away.
                bail!("the IMAP connection was lost while waiting for new mail (IDLE)")
            }
            Ok(_) => {}
            Err(e) => return Err(anyhow!(e).context("IDLE failed")),
        }
        let mut session = timeout(limit, idle.done())
            .await
            .context("ending IDLE timed out")?
            .context("ending IDLE failed")?;
        drain(&mut session);
        self.session = Some(session);
        Ok(())
    }
}

/// When the server received a fetched mail (INTERNALDATE), where it said.
fn internal_date(f: &async_imap::types::Fetch) -> Option<DateTime<Utc>> {
    f.internal_date().map(|d| d.with_timezone(&Utc))
}

/// A folder's name as IMAP writes it (RFC 3501 section 5.1.3, "modified UTF-7"). The
/// configuration names folders as people read them ("Đã tiếp nhận"); on the wire, printable
/// ASCII stands for itself, `&` is `&-`, and every other run of characters is its UTF-16 in
/// base64 (`,` for `/`, no padding) between `&` and `-`. A name from the server (a LIST answer)
/// is in this form already and is used as it is.
pub fn folder_name(name: &str) -> String {
    use base64::Engine;
    fn flush(run: &mut Vec<u8>, out: &mut String) {
        if !run.is_empty() {
            out.push('&');
            MUTF7.encode_string(&*run, out);
            out.push('-');
            run.clear();
        }
    }
    let mut out = String::with_capacity(name.len());
    // The UTF-16 (big-endian bytes) of the characters not written as themselves.
    let mut run = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            match c {
                '&' => out.push_str("&-"),
                c => out.push(c),
            }
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A folder's name as people read it, from its name on the wire ([`folder_name`] undone), for
/// logs and messages. A name that is not valid modified UTF-7 is shown as it is.
pub fn folder_display(wire: &str) -> String {
    use base64::Engine;
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start + 1..].find('-') else {
            return wire.to_string();
        };
        let encoded = &rest[start + 1..start + 1 + len];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let Ok(bytes) = MUTF7.decode(encoded) else {
                return wire.to_string();
            };
            if bytes.len() % 2 != 0 {
                return wire.to_string();
            }
            let units = bytes.chunks(2).map(|b| u16::from_be_bytes([b[0], b[1]]));
            match char::decode_utf16(units).collect::<Result<String, _>>() {
                Ok(text) => out.push_str(&text),
                Err(_) => return wire.to_string(),
            }
        }
        rest = &rest[start + 2 + len..];
    }
    out.push_str(rest);
    out
}

/// Modified UTF-7's base64: `,` for `/`, no padding.
const MUTF7: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    base64::engine::general_purpose::NO_PAD,
);

/// `s` as an IMAP quoted string: for a LIST pattern, which async-imap sends as it is given.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Drops unsolicited responses (the channel holds 100 and then loses them silently; cts-intake
/// re-reads the folder instead of following them).
pub fn drain(s: &mut Session) {
    while s.unsolicited_responses.try_recv().is_ok() {}
}

async fn store(s: &mut Session, uid: &str, what: &str) -> Result<()> {
    s.uid_store(uid, what)
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// A server's NO or BAD as an error, everything else as itself.
fn server_answer(r: async_imap::error::Result<()>) -> Result<()> {
    Ok(r?)
}

/// The UIDs of `mails` as an IMAP set, runs as ranges: `1:3,5` for 1, 2, 3 and 5.
fn uid_set(mails: &[MailRef]) -> Result<String> {
    let mut uids = mails
        .iter()
        .map(|m| {
            m.cursor
                .map(|c| c.uid)
                .context("an IMAP mail without a UID")
        })
        .collect::<Result<Vec<u32>>>()?;
    uids.sort_unstable();
    uids.dedup();
    // Runs of consecutive UIDs as ranges ("1:1000,1003"): a post-action for a burst stays short.
    let mut set = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        while i + 1 < uids.len() && uids[i + 1] == uids[i] + 1 {
            i += 1;
        }
        if !set.is_empty() {
            set.push(',');
        }
        if uids[i] == start {
            set.push_str(&start.to_string());
        } else {
            set.push_str(&format!("{start}:{}", uids[i]));
        }
        i += 1;
    }
    Ok(set)
}

/// True when an error means the connection is unusable (not a server's refusal of one command).
fn is_connection_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<io::Error>()
            || c.is::<tokio::time::error::Elapsed>()
            || matches!(
                c.downcast_ref::<async_imap::error::Error>(),
                Some(async_imap::error::Error::Io(_) | async_imap::error::Error::ConnectionLost)
            )
    })
}

impl Mailbox for Imap {
    fn name(&self) -> &str {
        &self.name
    }

    async fn list(&mut self, since: Option<Cursor>) -> Result<Listing> {
        let r = self.list_inner(since).await;
        self.forget(r)
    }

    async fn fetch(&mut self, mails: &[MailRef]) -> Result<Vec<RawMail>> {
        let r = self.fetch_inner(mails).await;
        self.forget(r)
    }

    async fn fetch_header(&mut self, mail: &MailRef) -> Result<RawMail> {
        let r = self.fetch_header_inner(mail).await;
        self.forget(r)
    }

    async fn mark_done(&mut self, mails: &[MailRef]) -> Result<()> {
        match self.mark_done_inner(mails).await {
            Ok(()) => Ok(()),
            Err(e) if is_connection_error(&e) || self.session.is_none() => {
                self.session = None;
                Err(e)
            }
            Err(e) => {
                // A refusal (a keyword the folder does not allow, say) must not block the mails
                // after this one: the mail is taken, only the flag or move is missing.
                tracing::warn!(mails = mails.len(), error = %format!("{e:#}"),
                    "the post-action failed; the mails are taken all the same");
                Ok(())
            }
        }
    }

    async fn wait_for_new(
        &mut self,
        wait: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        let r = self.wait_inner(wait, shutdown).await;
        self.forget(r)
    }

    async fn close(&mut self) {
        if let Some(mut s) = self.session.take() {
            match timeout(Duration::from_secs(5), s.logout()).await {
                Ok(Ok(())) => tracing::info!(mailbox = %self.name, "IMAP logged out"),
                _ => tracing::debug!(mailbox = %self.name, "IMAP logout did not complete"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_written_in_modified_utf7() {
        for (name, wire) in [
            ("INBOX", "INBOX"),
            ("Da-tiep-nhan", "Da-tiep-nhan"),
            // RFC 3501 section 5.1.3's example.
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Q&A", "Q&-A"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            // Outside the BMP: a surrogate pair.
            ("😀", "&2D3eAA-"),
            ("Đã gửi", "&ARAA4w- g&Hu0-i"),
        ] {
            assert_eq!(folder_name(name), wire, "{name}");
            assert_eq!(folder_display(wire), name, "{wire}");
        }
        // Not modified UTF-7: shown as the server wrote it.
        for wire in ["a&b", "&ZeV-", "&2D0-", "&***-"] {
            assert_eq!(folder_display(wire), wire);
        }
    }

    #[test]
    fn a_uid_set_writes_runs_as_ranges() {
        let mails: Vec<MailRef> = [7, 1, 2, 3, 5, 9, 10, 2]
            .into_iter()
            .map(|uid| MailRef {
                source_key: uid.to_string(),
                size: 0,
                cursor: Some(Cursor {
                    uid_validity: 1,
                    uid,
                }),
                received_at: None,
            })
            .collect();
        assert_eq!(uid_set(&mails).unwrap(), "1:3,5,7,9:10");
        assert!(uid_set(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_quoted_string_escapes_quotes_and_backslashes() {
        assert_eq!(quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
