//! Passwords: never in the config file or a URL, read from a file or an environment variable by
//! one set of rules, and held in a [`Secret`] that no log or `Debug` output shows.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};

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

/// The password in a file: its first line, without a trailing carriage return (a file written
/// on Windows). `what` names the setting in messages (`smtp.password-file`).
pub fn from_file(path: &Path, what: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        bail!("{what} {} is empty", path.display());
    }
    Ok(Secret::new(line))
}

/// The password in an environment variable; `None` when it is unset or empty.
pub fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_printed() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
