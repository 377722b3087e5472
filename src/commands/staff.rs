//! `staff add` / `staff list` / `staff remove`: the desk's accounts.

use std::io::BufRead;

use anyhow::{Context, Result, bail};

use crate::cli::StaffCommand;
use crate::config::Config;
use crate::desk::auth;
use crate::store::Store;

/// Who the audit log names for what the command line did.
const CLI_USER: &str = "(dòng lệnh)";

/// `staff ...`.
pub fn staff(config_path: &std::path::Path, command: &StaffCommand) -> Result<()> {
    let paths = match command {
        StaffCommand::Add { paths, .. }
        | StaffCommand::List { paths }
        | StaffCommand::Remove { paths, .. } => paths,
    };
    let config = Config::load(config_path, &paths.overrides())?;
    let store = Store::open(&config.database_path())?;
    match command {
        StaffCommand::Add { name, .. } => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!(
                    "password for {} (one line; it is shown as typed):",
                    name.trim()
                );
            }
            let password = read_password(std::io::stdin().lock())?;
            let hash = auth::hash_password(&password)?;
            store.add_staff(name, &hash)?;
            store.audit(CLI_USER, "staff_add", &name.trim().to_lowercase(), "")?;
            eprintln!("account {} added", name.trim().to_lowercase());
        }
        StaffCommand::List { .. } => {
            for s in store.staff()? {
                let state = match &s.removed_at {
                    Some(t) => format!("removed {t}"),
                    None => "active".to_string(),
                };
                println!("{}\t{}\t{state}", s.username, s.created_at);
            }
        }
        StaffCommand::Remove { name, .. } => {
            if !store.remove_staff(name)? {
                bail!("there is no active account named {}", name.trim());
            }
            store.audit(CLI_USER, "staff_remove", &name.trim().to_lowercase(), "")?;
            eprintln!("account {} removed", name.trim().to_lowercase());
        }
    }
    Ok(())
}

/// The first line of `input`, without its line ending: the password. Refused when empty or
/// longer than [`auth::MAX_PASSWORD_BYTES`].
fn read_password(input: impl BufRead) -> Result<String> {
    let mut line = String::new();
    input
        .take(auth::MAX_PASSWORD_BYTES as u64 + 2)
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.len() > auth::MAX_PASSWORD_BYTES {
        bail!(
            "the password is longer than {} bytes",
            auth::MAX_PASSWORD_BYTES
        );
    }
    if password.chars().count() < 8 {
        bail!("the password (read from standard input, one line) must have at least 8 characters");
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        assert_eq!(
            read_password(&b"mat khau 1\r\nrest"[..]).unwrap(),
            "mat khau 1"
        );
        assert_eq!(read_password(&b"12345678"[..]).unwrap(), "12345678");
        assert!(read_password(&b"short\n"[..]).is_err());
        assert!(read_password(&b""[..]).is_err());
        assert!(read_password("a".repeat(5000).as_bytes()).is_err());
    }
}
