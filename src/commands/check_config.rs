//! `check-config`: every problem of a configuration at once, the file's own (unknown keys, values
//! of the wrong type or out of range, bad URLs: `config::check`) and those of what it names (the
//! data folder, the units registry, the Maildir, password and CA files, the reader program).
//! "config OK" and exit 0, or one line per problem and exit 1.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::CheckConfigArgs;
use crate::config::Config;
use crate::config::check::{check, is_under};

/// `check-config`: print the problems found, or "config OK".
pub fn check_config(config_path: &Path, args: &CheckConfigArgs) -> Result<()> {
    let checked = check(config_path, &args.paths.overrides());
    let mut problems = checked.problems;
    if let Some(config) = &checked.config {
        problems.extend(named_files(config_path, config));
    }
    if problems.is_empty() {
        println!("{}: config OK", config_path.display());
        return Ok(());
    }
    println!("{}: {} problem(s)", config_path.display(), problems.len());
    for p in &problems {
        println!("  - {p}");
    }
    bail!("the configuration has {} problem(s)", problems.len())
}

/// The problems of the files and folders the configuration names.
fn named_files(config_path: &Path, config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let data = &config.storage.data_dir;
    // Installed under /etc, a relative path resolves there ("../var" is /etc/var), which the
    // unit does not let the daemon write.
    if is_under(&absolute(config_path), Path::new("/etc")) && is_under(data, Path::new("/etc")) {
        problems.push(format!(
            "storage.data-dir resolves to {} under /etc, which the unit does not let the daemon \
             write: give an absolute path (/var/lib/cts-intake)",
            data.display()
        ));
    }
    problems.extend(data_dir(data));
    if let Err(e) = crate::units::Registry::load(&config.units.file) {
        problems.push(format!("units.file: {e:#}"));
    }
    match (&config.source.maildir, &config.source.imap) {
        (None, None) => problems.push(
            "source: no mail source: set source.maildir or [source.imap] (or pass --maildir)"
                .into(),
        ),
        (Some(m), _) => {
            if let Err(e) = crate::mailbox::maildir::Maildir::open(m) {
                problems.push(format!("source.maildir: {e:#}"));
            }
        }
        (None, Some(imap)) => {
            if let Err(e) = imap.password() {
                problems.push(format!("source.imap: {e:#}"));
            }
            problems.extend(readable("source.imap.ca-file", imap.ca_file.as_deref()));
        }
    }
    if let Some(smtp) = &config.smtp {
        if let Err(e) = smtp.password() {
            problems.push(format!("smtp: {e:#}"));
        }
        problems.extend(readable("smtp.ca-file", smtp.ca_file.as_deref()));
    }
    if let Some(program) = &config.reader.program {
        match std::fs::metadata(program) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
            _ => problems.push(format!(
                "reader.program: {} is not an executable file",
                program.display()
            )),
        }
    }
    if let Some(url) = &config.desk.public_url {
        match ::url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => problems.push(format!(
                "desk.public-url: {url:?} is not an http(s) address like https://desk.example.vn"
            )),
        }
    }
    if config.desk.session_hours == 0 {
        problems.push("desk.session-hours must be at least 1".into());
    }
    problems
}

/// The data folder: there (or creatable), a folder, writable, private.
fn data_dir(data: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(meta) = std::fs::metadata(data) else {
        // Created at first use: its nearest existing parent must let it be.
        let parent = data.ancestors().skip(1).find(|a| a.exists());
        if let Some(p) = parent
            && !writable(p)
        {
            problems.push(format!(
                "storage.data-dir: {} does not exist and cannot be created in {}",
                data.display(),
                p.display()
            ));
        }
        return problems;
    };
    if !meta.is_dir() {
        problems.push(format!(
            "storage.data-dir: {} is not a folder",
            data.display()
        ));
        return problems;
    }
    if !writable(data) {
        problems.push(format!(
            "storage.data-dir: {} is not writable by this user (run check-config as the daemon's \
             user: sudo -u cts-intake cts-intake --config FILE check-config)",
            data.display()
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        problems.push(format!(
            "storage.data-dir: {} is readable by other users (mode {:o}): chmod 700 it (it holds \
             personal data)",
            data.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    problems
}

/// A file the configuration names, when it names one: it must be readable.
fn readable(key: &str, path: Option<&Path>) -> Option<String> {
    let path = path?;
    std::fs::File::open(path)
        .err()
        .map(|e| format!("{key}: cannot read {}: {e}", path.display()))
}

/// True when this process may create files in `dir` (access(2), no file is made).
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path and nothing else.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

fn absolute(p: &Path) -> std::path::PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}
