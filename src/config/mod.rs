//! The TOML configuration: read once, validated, relative paths resolved against the config
//! file's folder, and the command line's overrides merged in one place ([`Overrides`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;

pub mod check;
pub mod secret;
pub mod url;

pub use secret::Secret;
pub use url::{ImapUrl, Security, SmtpUrl};

/// The whole configuration, as `config/default.toml` documents it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// What this campaign asks for and by when.
    pub campaign: Campaign,
    /// Where mail comes from.
    pub source: Source,
    /// Where state lives.
    pub storage: Storage,
    /// The units registry.
    pub units: UnitsConfig,
    /// How replies are written or sent.
    #[serde(default)]
    pub replies: Replies,
    /// Rules of validation that vary by campaign.
    #[serde(default)]
    pub rules: Rules,
    /// The staff report.
    #[serde(default)]
    pub report: ReportConfig,
    /// The SMTP server replies are sent through; without it replies are written as .eml files.
    #[serde(default)]
    pub smtp: Option<Smtp>,
    /// The worker processes that read attachments, and their limits.
    #[serde(default)]
    pub reader: Reader,
    /// The staff desk (`cts-intake desk`).
    #[serde(default)]
    pub desk: DeskConfig,
}

/// The worker processes that read attachments (every spreadsheet a school sends is untrusted
/// input): each runs this same program (`cts-intake read-worker`) under operating-system
/// limits, so a file that exhausts memory or time costs one mail a held outcome, never the
/// daemon.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Reader {
    /// The address space one reader may use (MiB): an allocation past it ends that reader.
    #[serde(default = "default_reader_memory_mb")]
    pub memory_mb: u64,
    /// Processor seconds one mail's attachments may take.
    #[serde(default = "default_reader_cpu_seconds")]
    pub cpu_seconds: u64,
    /// Seconds one mail's attachments may take in all (waiting included).
    #[serde(default = "default_reader_timeout_seconds")]
    pub timeout_seconds: u64,
    /// The program to run as a reader; by default this program itself. (Tests that drive the
    /// library from their own binary name the built `cts-intake` here.)
    #[serde(default)]
    pub program: Option<PathBuf>,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader {
            memory_mb: default_reader_memory_mb(),
            cpu_seconds: default_reader_cpu_seconds(),
            timeout_seconds: default_reader_timeout_seconds(),
            program: None,
        }
    }
}

fn default_reader_memory_mb() -> u64 {
    1024
}
fn default_reader_cpu_seconds() -> u64 {
    60
}
fn default_reader_timeout_seconds() -> u64 {
    120
}

/// The staff desk: how it is reached (see `crate::desk`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DeskConfig {
    /// Where `run` serves the desk beside the daemon (`cts-intake desk --listen` serves it
    /// alone); none: `run` serves no desk.
    pub listen: Option<std::net::SocketAddr>,
    /// The desk's address as browsers reach it behind a proxy (`https://desk.example.vn`): forms
    /// are accepted only from this origin; without it, from the host each request names.
    pub public_url: Option<String>,
    /// Send the session cookie with `Secure` (the desk is served over https by a proxy).
    pub secure_cookie: bool,
    /// Behind a proxy that sets them: take the client's address for the login rate limit from
    /// `X-Forwarded-For` (its last entry), and send cookies `Secure` when `X-Forwarded-Proto`
    /// says https.
    pub trust_proxy: bool,
    /// Hours a login lasts.
    pub session_hours: u32,
    /// Staff addresses that get the daily digest (what needs them, a link to the desk) and the
    /// mails about polling failing and working again. Empty: no mail to staff.
    pub digest_to: Vec<String>,
    /// The hour (0-23, in the deadline's time zone) from which the day's digest is written.
    pub digest_hour: u32,
    /// Polling that has not succeeded for this many minutes sends staff an alert (and a mail
    /// when it works again).
    pub alert_after_minutes: u64,
}

impl Default for DeskConfig {
    fn default() -> Self {
        DeskConfig {
            listen: None,
            public_url: None,
            secure_cookie: false,
            trust_proxy: false,
            session_hours: 12,
            digest_to: Vec::new(),
            digest_hour: 7,
            alert_after_minutes: 30,
        }
    }
}

/// The campaign: the department's letter in config form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Campaign {
    /// The department's mailbox; replies come from it and mail from it is never answered.
    pub department_address: String,
    /// The name shown as the sender of replies.
    pub department_name: String,
    /// Issuer lines of the template's title block.
    pub issuer_lines: Vec<String>,
    /// The list's title in the template.
    pub title: String,
    /// Lists reaching the mailbox after this instant are accepted and marked late.
    pub deadline: DateTime<FixedOffset>,
    /// Where the signed paper copy goes, as the replies say it.
    pub paper_room: String,
    /// Official mail domains; subdomains are accepted too.
    pub official_domains: Vec<String>,
    /// The day ages are computed on (defaults to the deadline's date).
    #[serde(default)]
    pub reference_date: Option<NaiveDate>,
}

impl Campaign {
    /// The date on which ages are judged.
    pub fn reference_date(&self) -> NaiveDate {
        self.reference_date
            .unwrap_or_else(|| self.deadline.date_naive())
    }

    /// The department address's domain: the right side of the Message-IDs we write.
    pub fn department_domain(&self) -> &str {
        self.department_address
            .rsplit('@')
            .next()
            .unwrap_or("cts-intake.invalid")
    }

    /// True when `domain` is an official domain or a subdomain of one.
    pub fn is_official_domain(&self, domain: &str) -> bool {
        self.official_domain_of(domain).is_some()
    }

    /// The official domain `domain` is, or is a subdomain of.
    pub fn official_domain_of(&self, domain: &str) -> Option<&str> {
        let domain = domain.to_ascii_lowercase();
        self.official_domains
            .iter()
            .find(|d| domain == **d || domain.ends_with(&format!(".{d}")))
            .map(String::as_str)
    }
}

/// Where mail is read from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Source {
    /// A Maildir folder (with new/ and cur/), read-only.
    pub maildir: Option<PathBuf>,
    /// Seconds between two scans of the Maildir when running as a daemon; for IMAP, between two
    /// polls when the server has no IDLE.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
    /// An IMAP mailbox (instead of `maildir`).
    #[serde(default)]
    pub imap: Option<ImapConfig>,
    /// Mails larger than this (MiB) are not read: their headers are kept, they are held for
    /// staff and the sender gets a short message about the size.
    #[serde(default = "default_max_message_mb")]
    pub max_message_mb: u64,
    /// `status` warns when no pass over the source succeeded for this long.
    #[serde(default = "default_stale_after_minutes")]
    pub stale_after_minutes: u64,
}

fn default_poll_seconds() -> u64 {
    30
}
fn default_max_message_mb() -> u64 {
    25
}
fn default_stale_after_minutes() -> u64 {
    15
}

impl Source {
    /// The size limit in bytes.
    pub fn max_message_bytes(&self) -> u64 {
        self.max_message_mb.saturating_mul(1024 * 1024)
    }
}

/// What is done to a mail in the mailbox once its result is committed. Never a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostAction {
    /// Add the keyword `keyword` (staff can filter on it; they still see the mail as unread).
    Keyword,
    /// Move to the folder `move-to` (created if missing).
    Move,
    /// Mark the mail \Seen.
    Seen,
}

/// An IMAP mailbox. The password is never in the file: `password-env` names an environment
/// variable holding it, or `password-file` a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImapConfig {
    /// The server's host name (checked against its certificate) or address.
    pub host: String,
    /// The port; defaults to 993 for `tls`, 143 otherwise.
    #[serde(default)]
    pub port: Option<u16>,
    /// `tls` (default), `starttls` or `plain`.
    #[serde(default = "default_security")]
    pub security: Security,
    /// Allow `plain` to a host that is not a loopback address (the password crosses the network
    /// readable). Off by default.
    #[serde(default)]
    pub allow_plain_remote: bool,
    /// The login name (usually the mailbox's address).
    pub user: String,
    /// An environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The folder to read.
    #[serde(default = "default_imap_mailbox")]
    pub mailbox: String,
    /// A PEM file of CA certificates to trust instead of the system's (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// What is done to a mail after its result is committed.
    #[serde(default = "default_post_action")]
    pub post_action: PostAction,
    /// The keyword added by `post-action = "keyword"`.
    #[serde(default = "default_keyword")]
    pub keyword: String,
    /// The folder `post-action = "move"` moves to.
    #[serde(default = "default_move_to")]
    pub move_to: String,
    /// The folder a copy of each reply sent over SMTP is appended to; by default the folder the
    /// server marks `\Sent` (RFC 6154), else "Sent" (created if missing).
    #[serde(default)]
    pub sent_folder: Option<String>,
    /// Wait for new mail with IDLE when the server has it (otherwise poll every `poll-seconds`).
    #[serde(default = "default_true")]
    pub idle: bool,
    /// A full poll at least this often, IDLE or not (IDLE is re-issued at least this often, and
    /// never after more than 25 minutes).
    #[serde(default = "default_full_poll_seconds")]
    pub full_poll_seconds: u64,
    /// Mails fetched in one command, at most (and at most `max-message-mb` bytes).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Seconds an IMAP command may take before the connection is given up as dead.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// After a refused login, seconds before trying again (a wrong password is not hammered).
    #[serde(default = "default_auth_retry_seconds")]
    pub auth_retry_seconds: u64,
    /// The longest wait between two reconnection attempts (they start at one second and double).
    #[serde(default = "default_reconnect_max_seconds")]
    pub reconnect_max_seconds: u64,
}

fn default_security() -> Security {
    Security::Tls
}
fn default_imap_mailbox() -> String {
    "INBOX".into()
}
fn default_post_action() -> PostAction {
    PostAction::Keyword
}
fn default_keyword() -> String {
    "$CtsIntake".into()
}
fn default_move_to() -> String {
    "Da-tiep-nhan".into()
}
fn default_full_poll_seconds() -> u64 {
    300
}
/// Mails taken in one batch (one fetch, one transaction) by default. 100 rather than 50: fewer
/// commits write fewer pages again (each commit rewrites the index pages it touched), about a
/// tenth less processor time taking mail; a crash or a stop redoes or finishes at most one batch.
pub const DEFAULT_BATCH_SIZE: usize = 100;

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_timeout_seconds() -> u64 {
    60
}
fn default_auth_retry_seconds() -> u64 {
    300
}
fn default_reconnect_max_seconds() -> u64 {
    300
}

/// The environment variable `--imap` takes the password from.
pub const IMAP_PASSWORD_ENV: &str = "CTS_INTAKE_IMAP_PASSWORD";

impl ImapConfig {
    /// Reads an `--imap` URL: `imaps://USER@HOST[:PORT]/MAILBOX` (implicit TLS),
    /// `imap://...` (STARTTLS required) or `imap+plain://...` (no TLS; loopback only). The user
    /// is percent-encoded (`cttt%40namdinh.edu.vn`); the password comes from
    /// `CTS_INTAKE_IMAP_PASSWORD`.
    pub fn from_url(text: &str) -> Result<ImapConfig> {
        let ImapUrl {
            security,
            host,
            port,
            user,
            mailbox,
        } = ImapUrl::parse(text)?;
        Ok(ImapConfig {
            host,
            port,
            security,
            allow_plain_remote: false,
            user,
            password_env: Some(IMAP_PASSWORD_ENV.into()),
            password_file: None,
            mailbox: if mailbox.is_empty() {
                default_imap_mailbox()
            } else {
                mailbox
            },
            ca_file: None,
            post_action: default_post_action(),
            keyword: default_keyword(),
            move_to: default_move_to(),
            sent_folder: None,
            idle: true,
            full_poll_seconds: default_full_poll_seconds(),
            batch_size: default_batch_size(),
            timeout_seconds: default_timeout_seconds(),
            auth_retry_seconds: default_auth_retry_seconds(),
            reconnect_max_seconds: default_reconnect_max_seconds(),
        })
    }

    /// The port in use.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Tls => 993,
            Security::Starttls | Security::Plain => 143,
        })
    }

    /// The password, from the environment variable or the file the config names.
    pub fn password(&self) -> Result<Secret> {
        if let Some(var) = &self.password_env {
            return secret::from_env(var).with_context(|| {
                format!("the IMAP password is read from the environment variable {var}, which is not set")
            });
        }
        if let Some(file) = &self.password_file {
            return secret::from_file(file, "the IMAP password file");
        }
        bail!("source.imap needs password-env or password-file")
    }

    /// True when the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        url::is_loopback(&self.host)
    }

    fn validate(&self) -> Result<()> {
        if self.security == Security::Plain && !self.is_loopback() && !self.allow_plain_remote {
            bail!(
                "source.imap: security \"plain\" sends the password unencrypted; it is allowed \
                 only to a loopback address, not to {} (use tls or starttls, or set \
                 allow-plain-remote = true if you really mean it)",
                self.host
            );
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            bail!("source.imap: set password-env or password-file, not both");
        }
        if self.batch_size == 0 {
            bail!("source.imap.batch-size must be at least 1");
        }
        Ok(())
    }
}

/// Where the database, raw mails, outbox and report live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Storage {
    /// The data folder: `intake.sqlite3` (raw mails included), `outbox/`, `report/`.
    pub data_dir: PathBuf,
}

/// The units registry file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UnitsConfig {
    /// CSV with header `code,name,kind,emails` (emails separated by `;`).
    pub file: PathBuf,
}

/// How replies go out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Replies {
    /// Folder for replies as .eml files when no SMTP server is configured (relative to the data
    /// folder when relative).
    #[serde(default = "default_outbox_dir")]
    pub outbox_dir: PathBuf,
    /// Answer senders outside the registry and the official domains (default: no).
    #[serde(default)]
    pub reply_to_unknown_senders: bool,
    /// At most this many replies to one address for mails received within an hour; further
    /// replies are kept in the outbox as `held` for staff, never dropped. 0 turns the limit off.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_hour: u32,
    /// At most this many replies in all for mails received within an hour (a flood of forged
    /// senders); further replies are held for staff. 0 turns the budget off.
    #[serde(default = "default_rate_limit_overall")]
    pub rate_limit_overall_per_hour: u32,
    /// At most this many replies to unregistered senders of one domain for mails received
    /// within an hour (an official domain counts with all its subdomains); further replies are
    /// held for staff. 0 turns the budget off.
    #[serde(default = "default_rate_limit_domain")]
    pub rate_limit_per_domain_per_hour: u32,
    /// The same automatic answer of the kinds that invite another mail ("no list attached",
    /// "held for staff") goes to one address at most once in this many days (RFC 3834 §2);
    /// further ones are held for staff. 0 turns it off.
    #[serde(default = "default_repeat_days")]
    pub same_answer_days: u32,
    /// Seconds before the first retry of a reply the SMTP server refused for now (4xx) or could
    /// not be reached for; each further retry waits twice as long, up to `retry-max-seconds`.
    #[serde(default = "default_retry_first")]
    pub retry_first_seconds: u64,
    /// The longest wait between two attempts.
    #[serde(default = "default_retry_max")]
    pub retry_max_seconds: u64,
    /// A reply still not delivered this many hours after it was written is marked failed.
    #[serde(default = "default_give_up_hours")]
    pub give_up_after_hours: u64,
}

impl Default for Replies {
    fn default() -> Self {
        Replies {
            outbox_dir: default_outbox_dir(),
            reply_to_unknown_senders: false,
            rate_limit_per_hour: default_rate_limit(),
            rate_limit_overall_per_hour: default_rate_limit_overall(),
            rate_limit_per_domain_per_hour: default_rate_limit_domain(),
            same_answer_days: default_repeat_days(),
            retry_first_seconds: default_retry_first(),
            retry_max_seconds: default_retry_max(),
            give_up_after_hours: default_give_up_hours(),
        }
    }
}

fn default_rate_limit() -> u32 {
    10
}
fn default_rate_limit_overall() -> u32 {
    200
}
fn default_rate_limit_domain() -> u32 {
    20
}
fn default_repeat_days() -> u32 {
    3
}
fn default_retry_first() -> u64 {
    60
}
fn default_retry_max() -> u64 {
    3600
}
fn default_give_up_hours() -> u64 {
    72
}

/// The SMTP server replies go through (`[smtp]`). The password is never in this file: it comes
/// from the file `password-file` names, or else from the environment variable `password-env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Smtp {
    /// `smtps://USER@HOST:PORT` (implicit TLS, port 465 by default), `smtp://USER@HOST:PORT`
    /// (STARTTLS required, port 587 by default) or `smtp+plain://HOST:PORT` (no TLS, loopback
    /// only, port 25 by default). USER is percent-encoded (`cttt%40namdinh.edu.vn`); without a
    /// user no authentication is tried.
    pub url: String,
    /// The environment variable holding the password.
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// A file holding the password (first line); takes precedence over `password-env`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A PEM file of CA certificates to trust besides the public roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server on each step (connect, each command, the data).
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
    /// `status` warns (and exits 1) when the server has been unreachable this long: the oldest
    /// reply waiting for a retry was first refused for now (or not connected to) this many
    /// minutes ago.
    #[serde(default = "default_unreachable_warn")]
    pub unreachable_warn_minutes: u64,
}

/// The variable `--smtp` reads the password from, and the default of `password-env`.
pub const SMTP_PASSWORD_ENV: &str = "CTS_INTAKE_SMTP_PASSWORD";

impl Smtp {
    /// The password: the first line of `password-file`, or the `password-env` variable; `None`
    /// when neither holds one.
    pub fn password(&self) -> Result<Option<Secret>> {
        if let Some(path) = &self.password_file {
            return secret::from_file(path, "smtp.password-file").map(Some);
        }
        Ok(secret::from_env(&self.password_env))
    }
}

fn default_password_env() -> String {
    SMTP_PASSWORD_ENV.to_string()
}
fn default_smtp_timeout() -> u64 {
    30
}
fn default_unreachable_warn() -> u64 {
    60
}

fn default_outbox_dir() -> PathBuf {
    PathBuf::from("outbox")
}

/// Validation rules that vary by campaign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rules {
    /// Youngest age accepted on the reference date.
    #[serde(default = "default_min_age")]
    pub min_age: u32,
    /// Oldest age accepted on the reference date.
    #[serde(default = "default_max_age")]
    pub max_age: u32,
    /// Return a list with any row error as a whole (true), or accept its valid rows (false).
    #[serde(default = "default_true")]
    pub reject_whole_list: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_age: default_min_age(),
            max_age: default_max_age(),
            reject_whole_list: true,
        }
    }
}

fn default_min_age() -> u32 {
    18
}
fn default_max_age() -> u32 {
    70
}
fn default_true() -> bool {
    true
}

/// The staff report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReportConfig {
    /// Columns of the consolidated list of a request type, by type code
    /// (`new_cert = ["seq", "full_name", ...]`); a type not named keeps the default.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, Vec<String>>,
    /// What the certificate authority's import files say of the issuing organisations.
    #[serde(default)]
    pub ca: CaConfig,
}

/// The fixed columns of the certificate authority's import files (`report::upstream`): the
/// province and the organisations above each unit ("Tổ chức cấp 1..4": the province's People's
/// Committee, the department, then the unit itself).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaConfig {
    /// "Tỉnh thành phố": the province, e.g. "Nam Định".
    #[serde(default)]
    pub province: String,
    /// "Tổ chức cấp 1": the province's People's Committee, e.g. "Uỷ ban nhân dân tỉnh Nam Định".
    #[serde(default)]
    pub organisation_1: String,
    /// "Tổ chức cấp 2": the department; empty means `campaign.department-name`.
    #[serde(default)]
    pub organisation_2: String,
}

/// Command-line values that take precedence over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub maildir: Option<PathBuf>,
    pub units: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    /// `run --imap URL`: this IMAP mailbox instead of the configured source.
    pub imap: Option<ImapConfig>,
    /// `run --ca-file`: trust this CA for the IMAP server.
    pub ca_file: Option<PathBuf>,
    /// `--smtp URL`: send replies through this server (password from `CTS_INTAKE_SMTP_PASSWORD`).
    pub smtp: Option<String>,
    /// `--smtp-ca-file`: trust this CA file for the SMTP server.
    pub smtp_ca_file: Option<PathBuf>,
}

impl Config {
    /// Reads, resolves and validates the configuration at `path`, then applies `overrides`.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.resolve(&base);
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    fn resolve(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = normalise(&base.join(&*p));
            }
        };
        if let Some(m) = self.source.maildir.as_mut() {
            join(m);
        }
        if let Some(imap) = self.source.imap.as_mut() {
            if let Some(f) = imap.password_file.as_mut() {
                join(f);
            }
            if let Some(f) = imap.ca_file.as_mut() {
                join(f);
            }
        }
        join(&mut self.storage.data_dir);
        join(&mut self.units.file);
        if let Some(p) = self.reader.program.as_mut() {
            join(p);
        }
        if let Some(smtp) = self.smtp.as_mut() {
            if let Some(p) = smtp.password_file.as_mut() {
                join(p);
            }
            if let Some(p) = smtp.ca_file.as_mut() {
                join(p);
            }
        }
    }

    fn apply(&mut self, o: &Overrides) {
        if let Some(m) = &o.maildir {
            self.source.maildir = Some(m.clone());
            self.source.imap = None;
        }
        if let Some(imap) = &o.imap {
            // Settings of the configured mailbox that a URL cannot say (post-action, timings)
            // carry over when the configured source is IMAP too; the CA does not (the URL may
            // name another server): pass --ca-file with --imap.
            let mut new = imap.clone();
            if let Some(old) = &self.source.imap {
                new.post_action = old.post_action;
                new.keyword = old.keyword.clone();
                new.move_to = old.move_to.clone();
                new.sent_folder = old.sent_folder.clone();
                new.idle = old.idle;
                new.full_poll_seconds = old.full_poll_seconds;
                new.batch_size = old.batch_size;
                new.timeout_seconds = old.timeout_seconds;
                new.auth_retry_seconds = old.auth_retry_seconds;
                new.reconnect_max_seconds = old.reconnect_max_seconds;
            }
            self.source.imap = Some(new);
            self.source.maildir = None;
        }
        if let (Some(ca), Some(imap)) = (&o.ca_file, self.source.imap.as_mut()) {
            imap.ca_file = Some(ca.clone());
        }
        if let Some(u) = &o.units {
            self.units.file = u.clone();
        }
        if let Some(d) = &o.data_dir {
            self.storage.data_dir = d.clone();
        }
        if let Some(url) = &o.smtp {
            // Like --imap for the source: the command line's server replaces the file's, and
            // its password comes from CTS_INTAKE_SMTP_PASSWORD.
            self.smtp = Some(Smtp {
                url: url.clone(),
                password_env: default_password_env(),
                password_file: None,
                ca_file: None,
                timeout_seconds: self
                    .smtp
                    .as_ref()
                    .map_or_else(default_smtp_timeout, |s| s.timeout_seconds),
                unreachable_warn_minutes: self
                    .smtp
                    .as_ref()
                    .map_or_else(default_unreachable_warn, |s| s.unreachable_warn_minutes),
            });
        }
        if let (Some(ca), Some(smtp)) = (&o.smtp_ca_file, self.smtp.as_mut()) {
            smtp.ca_file = Some(ca.clone());
        }
    }

    fn validate(&mut self) -> Result<()> {
        match self.problems().into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every problem of the values read (not of the files they name: `check-config` looks at
    /// those), each on its own; the first is what [`Config::load`] refuses with.
    pub fn problems(&mut self) -> Vec<anyhow::Error> {
        let mut problems = Vec::new();
        let mut check = |r: Result<()>| {
            if let Err(e) = r {
                problems.push(e);
            }
        };
        if self.reader.memory_mb < 64 {
            check(Err(anyhow::anyhow!(
                "reader.memory-mb must be at least 64 (a reader needs room for a real list)"
            )));
        }
        if self.reader.cpu_seconds == 0 || self.reader.timeout_seconds == 0 {
            check(Err(anyhow::anyhow!(
                "reader.cpu-seconds and reader.timeout-seconds must be at least 1"
            )));
        }
        let c = &mut self.campaign;
        c.department_address = c.department_address.trim().to_ascii_lowercase();
        if !c.department_address.contains('@') {
            check(Err(anyhow::anyhow!(
                "campaign.department-address is not a mail address"
            )));
        }
        if self.desk.digest_hour > 23 {
            check(Err(anyhow::anyhow!(
                "desk.digest-hour must be an hour of the day, 0 to 23"
            )));
        }
        for a in &self.desk.digest_to {
            if a.split_once('@')
                .is_none_or(|(u, d)| u.is_empty() || !d.contains('.'))
                || a.contains(char::is_whitespace)
            {
                check(Err(anyhow::anyhow!(
                    "desk.digest-to: '{a}' is not a mail address"
                )));
            }
        }
        if c.official_domains.is_empty() {
            check(Err(anyhow::anyhow!(
                "campaign.official-domains must name at least one domain"
            )));
        }
        for d in c.official_domains.iter_mut() {
            *d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        }
        if self.rules.min_age >= self.rules.max_age {
            check(Err(anyhow::anyhow!(
                "rules.min-age must be below rules.max-age"
            )));
        }
        check(crate::domain::columns::TypeColumns::from_config(&self.report.columns).map(|_| ()));
        if let Some(imap) = &self.source.imap {
            if self.source.maildir.is_some() {
                check(Err(anyhow::anyhow!(
                    "source: set maildir or [source.imap], not both"
                )));
            }
            check(imap.validate());
        }
        if let Some(smtp) = &self.smtp {
            check(SmtpUrl::parse(&smtp.url).map(|_| ()).context("smtp.url"));
        }
        if self.replies.retry_first_seconds > self.replies.retry_max_seconds {
            check(Err(anyhow::anyhow!(
                "replies.retry-first-seconds must not exceed replies.retry-max-seconds"
            )));
        }
        problems
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("intake.sqlite3")
    }

    /// Where replies are written as .eml files.
    pub fn outbox_dir(&self) -> PathBuf {
        self.storage.data_dir.join(&self.replies.outbox_dir)
    }

    /// Where `run` writes the report after each pass.
    pub fn report_dir(&self) -> PathBuf {
        self.storage.data_dir.join("report")
    }
}

/// Removes `.` and `name/..` from a path without touching the file system, so messages show
/// `var/outbox`, not `config/../var/outbox`.
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_loads_and_resolves_paths_next_to_it() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let c = Config::load(&path, &Overrides::default()).unwrap();
        assert_eq!(c.campaign.department_address, "cttt@namdinh.edu.vn");
        assert!(c.campaign.is_official_domain("namdinh.gov.vn"));
        assert!(c.campaign.is_official_domain("thpt.namdinh.edu.vn"));
        assert!(!c.campaign.is_official_domain("xnamdinh.edu.vn"));
        assert!(c.units.file.ends_with("config/units.csv"));
        assert!(!c.storage.data_dir.to_string_lossy().contains(".."));
        assert!(c.units.file.is_absolute());
        let o = Overrides {
            data_dir: Some("/tmp/x".into()),
            ..Default::default()
        };
        let c = Config::load(&path, &o).unwrap();
        assert_eq!(c.storage.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn smtp_comes_from_the_file_or_the_command_line_which_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
        )
        .unwrap()
        .replace("# [smtp]", "[smtp]")
        .replace(
            "# url = \"smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn\"",
            "url = \"smtps://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn\"",
        )
        .replace(
            "# ca-file = \"/etc/cts-intake/ca.pem\"",
            "ca-file = \"ca.pem\"",
        );
        std::fs::write(&p, &text).unwrap();
        let c = Config::load(&p, &Overrides::default()).unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!(smtp.password_env, SMTP_PASSWORD_ENV);
        assert_eq!(smtp.ca_file, Some(dir.path().join("ca.pem")));
        assert_eq!(c.replies.rate_limit_per_hour, 10);
        assert_eq!(c.replies.rate_limit_overall_per_hour, 200);
        assert_eq!(c.replies.rate_limit_per_domain_per_hour, 20);
        assert_eq!(c.replies.same_answer_days, 3);
        let o = Overrides {
            smtp: Some("smtp+plain://127.0.0.1:2525".into()),
            smtp_ca_file: Some("/x/ca.pem".into()),
            ..Default::default()
        };
        let smtp = Config::load(&p, &o).unwrap().smtp.unwrap();
        assert_eq!(smtp.url, "smtp+plain://127.0.0.1:2525");
        assert_eq!(smtp.ca_file, Some(PathBuf::from("/x/ca.pem")));
        let o = Overrides {
            smtp: Some("smtp+plain://mail.example.org".into()),
            ..Default::default()
        };
        let err = format!("{:#}", Config::load(&p, &o).unwrap_err());
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
        )
        .unwrap()
        .replace("[storage]", "[storage]\ndata-folder = \"x\"");
        std::fs::write(&p, text).unwrap();
        let err = format!("{:#}", Config::load(&p, &Overrides::default()).unwrap_err());
        assert!(err.contains("data-folder"), "{err}");
    }

    #[test]
    fn imap_urls_say_the_security_the_user_and_the_mailbox() {
        let c =
            ImapConfig::from_url("imap://cttt%40namdinh.edu.vn@mail.namdinh.edu.vn/INBOX").unwrap();
        assert_eq!(c.security, Security::Starttls);
        assert_eq!(c.port(), 143);
        assert_eq!(c.user, "cttt@namdinh.edu.vn");
        assert_eq!(c.password_env.as_deref(), Some(IMAP_PASSWORD_ENV));
        let c = ImapConfig::from_url("imap+plain://u@127.0.0.1:1143").unwrap();
        assert_eq!(
            (c.security, c.port(), c.mailbox.as_str()),
            (Security::Plain, 1143, "INBOX")
        );
        assert!(c.validate().is_ok());
        let c = ImapConfig::from_url("imap+plain://u@mail.example.vn/INBOX").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("only to a loopback address"), "{err}");
        let err = ImapConfig::from_url("imaps://u:pw@h/INBOX")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not hold the password"), "{err}");
        let err = ImapConfig::from_url("pop3://u@h/").unwrap_err().to_string();
        assert!(err.contains("imaps://"), "{err}");
        // A Vietnamese folder, typed as it reads or percent-encoded.
        for url in [
            "imaps://u@h/Hộp thư CTS",
            "imaps://u@h/H%E1%BB%99p%20th%C6%B0%20CTS",
        ] {
            assert_eq!(ImapConfig::from_url(url).unwrap().mailbox, "Hộp thư CTS");
        }
    }
}
