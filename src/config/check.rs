//! `check-config`'s reading of the file: every problem at once rather than the first. The TOML
//! is read again and again; after each refusal the line it names is set aside (commented out,
//! with the whole table when the line is a table's header) and the rest read on, so one run
//! lists every unknown key and every value of the wrong type. Then the values themselves are
//! checked ([`Config::problems`]). The files the values name are `check-config`'s own business
//! (`crate::commands`), since the registry and the mailbox are read by layers above this one.

use std::path::{Path, PathBuf};

use super::{Config, Overrides, normalise};

/// The most refusals one file may give before the reading stops.
const MAX_PROBLEMS: usize = 64;

/// The configuration as far as it could be read, and every problem found.
#[derive(Debug)]
pub struct Checked {
    /// `None` when the file could not be read into a configuration at all.
    pub config: Option<Config>,
    pub problems: Vec<String>,
}

/// Reads `path` the way [`Config::load`] does, collecting every problem.
pub fn check(path: &Path, overrides: &Overrides) -> Checked {
    let mut problems = Vec::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Checked {
                config: None,
                problems: vec![format!("cannot read config file {}: {e}", path.display())],
            };
        }
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut config = None;
    while problems.len() < MAX_PROBLEMS {
        let joined = lines.join("\n");
        match toml::from_str::<Config>(&joined) {
            Ok(c) => {
                config = Some(c);
                break;
            }
            Err(e) => {
                let message = e.message().trim().to_string();
                let Some(span) = e.span() else {
                    problems.push(message);
                    break;
                };
                let line = joined[..span.start.min(joined.len())].matches('\n').count();
                problems.push(format!("line {}: {message}", line + 1));
                // A missing key cannot be set aside; its table's other problems were found.
                if message.starts_with("missing field") || !set_aside(&mut lines, line) {
                    break;
                }
            }
        }
    }
    let Some(mut config) = config else {
        return Checked {
            config: None,
            problems,
        };
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    config.resolve(&base);
    config.apply(overrides);
    problems.extend(config.problems().into_iter().map(|e| format!("{e:#}")));
    Checked {
        config: Some(config),
        problems,
    }
}

/// Comments out line `n` (a table's header: the table's lines with it). False when there is
/// nothing left there to set aside.
fn set_aside(lines: &mut [String], n: usize) -> bool {
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let Some(first) = lines.get(n) else {
        return false;
    };
    if first.trim_start().starts_with('#') || first.trim().is_empty() {
        return false;
    }
    let end = if is_header(first) {
        lines[n + 1..]
            .iter()
            .position(|l| is_header(l))
            .map_or(lines.len(), |p| n + 1 + p)
    } else {
        n + 1
    };
    for l in &mut lines[n..end] {
        l.insert(0, '#');
    }
    true
}

/// True when `p` lies under `dir` once `.` and `..` are taken out.
pub fn is_under(p: &Path, dir: &Path) -> bool {
    normalise(p).starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_key_and_bad_value_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
        )
        .unwrap()
        .replace("[storage]", "[storage]\ndata-folder = \"x\"")
        .replace(
            "\npoll-seconds = 30\n",
            "\npoll-seconds = \"often\"\npoll-secs = 3\n",
        )
        .replace("\n[rules]\n", "\n[rulez]\nmin-age = 1\n\n[rules]\n")
        .replace("min-age = 18", "min-age = 80");
        std::fs::write(&p, text).unwrap();
        let checked = check(&p, &Overrides::default());
        let all = checked.problems.join("\n");
        for part in [
            "data-folder",
            "poll-seconds",
            "poll-secs",
            "rulez",
            "min-age",
        ] {
            assert!(all.contains(part), "{part} not reported:\n{all}");
        }
        assert!(all.contains("line "), "{all}");
        assert_eq!(checked.problems.len(), 5, "{all}");
        assert!(checked.config.is_some());
    }
}
