//! The command line (clap). Each command's doc comment is its `--help`; the work is in
//! [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

/// Takes the request lists schools email to the department's mailbox: validates, deduplicates,
/// stores, replies to each school and writes the reconciliation report for staff.
#[derive(Debug, Parser)]
#[command(name = "cts-intake", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "config/default.toml",
        env = "CTS_INTAKE_CONFIG"
    )]
    pub config: PathBuf,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the mailbox and take each new mail once; with --once, take what is there and exit.
    Run(RunArgs),
    /// Write the staff workbook doi-chieu.xlsx and the CSVs into a folder.
    Report(ReportArgs),
    /// The units registry.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// Write the blank official request template (xlsx) for schools.
    Template(TemplateArgs),
    /// Paper copies brought to the department: record one, list them, undo the last.
    #[command(subcommand)]
    Paper(PaperCommand),
    /// Remind units that have no accepted list or no matching paper copy (never twice a day).
    Remind(RemindArgs),
    /// Print the daemon's health: last successful poll, mails taken, outcomes, held mails,
    /// replies waiting; exits 1 with a warning when no poll succeeded for too long.
    Status(StatusArgs),
    /// Process a stored mail again (after a fix); its old outcome stays in the history.
    Replay(ReplayArgs),
    /// A reader process, started by the daemon itself: reads attachments from standard input
    /// and answers on standard output (see `worker::protocol`). Not for people.
    #[command(name = "read-worker", hide = true)]
    ReadWorker(ReadWorkerArgs),
    /// Serve the staff desk (a Vietnamese web page) on the same database as the daemon.
    Desk(DeskArgs),
    /// Staff accounts of the desk.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Check the configuration and print every problem found at once (exit 1), or "config OK".
    CheckConfig(CheckConfigArgs),
    /// Remove the personal data of mails received before a date (raw mails, rows, reply bytes),
    /// keeping their counts; then compact the database so the bytes are gone from the file.
    Purge(PurgeArgs),
    /// Copy the database consistently while the daemon runs (SQLite's online backup), mode 0600.
    Backup(BackupArgs),
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Mails received before this day (YYYY-MM-DD, midnight in the campaign's time zone) are
    /// purged.
    #[arg(long, value_name = "DATE")]
    pub before: chrono::NaiveDate,
    /// Purge even when it takes a unit's current list or replies not yet delivered, or DATE is
    /// after the configured campaign's deadline; without it such a purge only says what it would
    /// remove (exit 1).
    #[arg(long)]
    pub yes: bool,
    /// Print what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The copy to write (must not exist).
    pub file: PathBuf,
    #[command(flatten)]
    pub paths: PathArgs,
}

/// How a reader process runs.
#[derive(Debug, Args)]
pub struct ReadWorkerArgs {
    /// Processor seconds each request may take.
    #[arg(long, default_value_t = 60)]
    pub cpu_seconds: u64,
}

#[derive(Debug, Args)]
pub struct DeskArgs {
    /// The address to listen on (put it behind a TLS proxy to serve it beyond this machine).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add an account; its password is read from standard input (one line).
    Add {
        /// The login name (no spaces; compared without case).
        name: String,
        #[command(flatten)]
        paths: PathArgs,
    },
    /// Print the accounts.
    List {
        #[command(flatten)]
        paths: PathArgs,
    },
    /// Remove an account (kept in the audit log; its sessions end).
    Remove {
        name: String,
        #[command(flatten)]
        paths: PathArgs,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The Message-ID of the mail (with or without angle brackets).
    pub message_id: String,
    #[command(flatten)]
    pub paths: PathArgs,
}

/// Overrides of the configuration's paths, for one-off runs on another mailbox copy.
#[derive(Debug, Args, Clone, Default)]
pub struct PathArgs {
    /// Read this Maildir instead of the configured source.
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    /// Use this units registry (CSV) instead of the configured one.
    #[arg(long)]
    pub units: Option<PathBuf>,
    /// Keep the database, raw mails, outbox and report in this folder.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl PathArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            maildir: self.maildir.clone(),
            units: self.units.clone(),
            data_dir: self.data_dir.clone(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Take the mail that is there now, deliver replies, write the report, and exit.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub paths: PathArgs,
    /// Read this IMAP mailbox instead of the configured source: imaps://USER@HOST:PORT/MAILBOX
    /// (implicit TLS), imap://... (STARTTLS required) or imap+plain://... (no TLS, loopback
    /// only). The user is percent-encoded (cttt%40namdinh.edu.vn); the password is read from
    /// CTS_INTAKE_IMAP_PASSWORD.
    #[arg(long, value_name = "URL", conflicts_with = "maildir")]
    pub imap: Option<String>,
    /// Trust the CA certificates in this PEM file for the IMAP server (a private CA).
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Send replies through this SMTP server instead of the configured one:
    /// smtps://USER@HOST:PORT (implicit TLS), smtp://USER@HOST:PORT (STARTTLS required) or
    /// smtp+plain://HOST:PORT (no TLS, loopback only). USER is percent-encoded
    /// (cttt%40namdinh.edu.vn); the password comes from CTS_INTAKE_SMTP_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,
    /// Trust the CA certificates in this PEM file for the SMTP server (a private CA).
    #[arg(long, value_name = "FILE")]
    pub smtp_ca_file: Option<PathBuf>,
}

impl RunArgs {
    /// The configuration overrides of `run`, the IMAP URL read.
    pub fn overrides(&self) -> anyhow::Result<Overrides> {
        let mut o = self.paths.overrides();
        o.imap = self
            .imap
            .as_deref()
            .map(crate::config::ImapConfig::from_url)
            .transpose()?;
        o.ca_file = self.ca_file.clone();
        o.smtp = self.smtp.clone();
        o.smtp_ca_file = self.smtp_ca_file.clone();
        Ok(o)
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Subcommand)]
pub enum UnitsCommand {
    /// Check a registry CSV (code,name,kind,emails) and install it as the configured registry.
    Import {
        /// The CSV to import: UTF-8 (with or without BOM) or Windows-1258, `,` or `;` between
        /// fields, headers code,name,kind,emails or Mã đơn vị,Tên đơn vị,Loại,Email.
        file: PathBuf,
        /// Install it even when it removes more than half of the units registered now.
        #[arg(long)]
        force: bool,
    },
    /// Print the registry.
    List,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// Where to write the template (.xlsx).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PaperCommand {
    /// Record a unit's paper copy and check it against the list sent by mail; one line answers
    /// (exit status 0 on a match, 1 on a mismatch or an unknown unit).
    Receive {
        /// The unit's code, as in the registry (`units list`).
        unit: String,
        /// The reconciliation code written on the paper.
        #[arg(long)]
        code: Option<String>,
        /// The number of rows on the paper.
        #[arg(long)]
        rows: Option<usize>,
        /// A note kept with the receipt (shown in the report).
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        paths: PathArgs,
    },
    /// Print every receipt, undone ones included.
    List {
        #[command(flatten)]
        paths: PathArgs,
    },
    /// Undo the latest receipt (of UNIT when given); it is kept, marked undone.
    Undo {
        /// Only this unit's latest receipt.
        unit: Option<String>,
        #[command(flatten)]
        paths: PathArgs,
    },
}

#[derive(Debug, Args)]
pub struct RemindArgs {
    /// Start reminding this many days before the deadline.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// The day to remind for (YYYY-MM-DD; default: today in the campaign's time zone).
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    /// Print who would be reminded; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub paths: PathArgs,
}
