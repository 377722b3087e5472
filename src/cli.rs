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
    /// The configuration overrides `run` takes.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            smtp: self.smtp.clone(),
            smtp_ca_file: self.smtp_ca_file.clone(),
            ..self.paths.overrides()
        }
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
        /// The CSV to import.
        file: PathBuf,
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
