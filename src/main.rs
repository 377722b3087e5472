//! The binary: parse the command line, set up logging, dispatch, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use cts_intake::cli::{Cli, Command};
use cts_intake::commands;
use tracing_subscriber::EnvFilter;

// mimalloc rather than the system's malloc: the intake allocates and frees many small strings
// (cells, XML events, SQL values) on several threads at once; with glibc's malloc it used about
// a tenth more processor time (scripts/bench-imap, CTS_BENCH_BIN to compare builds).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Everything this program writes (the database, raw mails, replies, the report: personal
    // data of the schools' staff) is readable by its own user only.
    // SAFETY: umask(2) has no preconditions.
    unsafe {
        libc::umask(0o077);
    }
    no_huge_pages();
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("CTS_INTAKE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // async-imap traces every line it sends, the LOGIN command with its password among them:
    // its traces never reach the log, whatever level is asked for.
    let filter = filter.add_directive("async_imap=info".parse().expect("a valid directive"));
    // Colours only on a terminal: a log file or the journal gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = match &cli.command {
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(commands::run(&cli.config, args))),
        Command::Report(args) => commands::report(&cli.config, args),
        Command::Units(c) => commands::units(&cli.config, c),
        Command::Template(args) => commands::template(&cli.config, args),
        Command::Remind(args) => commands::remind(&cli.config, args),
        // Exit status 1 on a mismatch, without "error:": the answer line says it.
        Command::Paper(c) => match commands::paper(&cli.config, c) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Status(args) => commands::status(&cli.config, args),
        Command::Replay(args) => commands::replay(&cli.config, args),
        // A reader speaks only the protocol on standard output; logs go to standard error.
        Command::ReadWorker(args) => {
            cts_intake::worker::serve(std::time::Duration::from_secs(args.cpu_seconds))
        }
        Command::Desk(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(commands::desk(&cli.config, args))),
        Command::Staff(c) => commands::staff(&cli.config, c),
        Command::CheckConfig(args) => commands::check_config(&cli.config, args),
        Command::Purge(args) => commands::purge(&cli.config, args),
        Command::Backup(args) => commands::backup(&cli.config, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process and the readers it starts (the flag is
/// inherited and kept across exec). mimalloc asks for huge pages for its arenas, and the kernel
/// then backs the first touch of each with two megabytes: a reader or a reading thread using a
/// few kilobytes of a new region held the whole of it (taking 2,000 mails peaked at 44 MiB with
/// them, 34 MiB without; the processor time is the same).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments; a failure only leaves huge pages on.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
