//! A Maildir read-only: `new/` and `cur/` are listed (never `tmp/`), nothing is moved or renamed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use super::{Cursor, Listing, MailRef, Mailbox, RawMail};

/// A Maildir folder.
#[derive(Debug, Clone)]
pub struct Maildir {
    /// The folder holding `new/` and `cur/`.
    root: PathBuf,
    /// Where the last listing saw each mail not in `new/` under its unique name alone, so a
    /// fetch does not list the folder again (a mail a client moved since, from new/ to cur/ or
    /// to new flags, is looked for afresh). A mail just delivered, in `new/KEY`, is looked for
    /// there first: the map holds only the mails a client has seen.
    paths: Arc<Mutex<HashMap<String, Seen>>>,
}

/// Where a listed mail is: its folder and what its file name has after its unique name (the
/// flags, none in new/), not its whole path (a country's 200,000 paths were 30 MiB).
#[derive(Debug, Clone)]
struct Seen {
    cur: bool,
    info: Box<str>,
}

/// The mailbox name of every Maildir. Maildir unique names (time, process, host) do not collide
/// between folders, so a mail keeps its key when the folder is moved or copied, and a one-off run
/// on a copy (`--maildir`) recognises what was already taken.
pub const MAILDIR_NAME: &str = "maildir";

impl Maildir {
    /// Opens a Maildir; it must hold `new/` or `cur/`.
    pub fn open(root: &Path) -> Result<Maildir> {
        if !root.join("new").is_dir() && !root.join("cur").is_dir() {
            bail!(
                "{} is not a Maildir (it has neither new/ nor cur/)",
                root.display()
            );
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            paths: Arc::default(),
        })
    }

    fn path_of(&self, key: &str) -> Option<PathBuf> {
        let listed = self.paths.lock().ok().and_then(|p| {
            p.get(key).map(|seen| {
                let sub = if seen.cur { "cur" } else { "new" };
                self.root.join(sub).join(format!("{key}{}", seen.info))
            })
        });
        if let Some(path) = listed.filter(|p| p.is_file()) {
            return Some(path);
        }
        let delivered = self.root.join("new").join(key);
        if delivered.is_file() {
            return Some(delivered);
        }
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                if unique_name(&name.to_string_lossy()) == key {
                    return Some(e.path());
                }
            }
        }
        None
    }

    fn list_sync(&self) -> Result<Vec<MailRef>> {
        let mut mails = Vec::new();
        let mut paths = HashMap::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
            };
            for e in entries {
                let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
                let file_name = e.file_name().to_string_lossy().into_owned();
                if file_name.starts_with('.') || !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let metadata = e.metadata().ok();
                let received_at = delivery_time(&file_name)
                    .or_else(|| {
                        metadata
                            .as_ref()?
                            .modified()
                            .ok()
                            .map(DateTime::<Utc>::from)
                    })
                    .unwrap_or_default();
                let key = unique_name(&file_name);
                if sub == "cur" || key.len() < file_name.len() {
                    paths.insert(
                        key.to_string(),
                        Seen {
                            cur: sub == "cur",
                            info: file_name[key.len()..].into(),
                        },
                    );
                }
                mails.push(MailRef {
                    source_key: key.to_string(),
                    received_at: Some(received_at),
                    size: metadata.map_or(0, |m| m.len()),
                    cursor: None,
                });
            }
        }
        mails.sort_by(|a, b| (a.received_at, &a.source_key).cmp(&(b.received_at, &b.source_key)));
        mails.dedup_by(|a, b| a.source_key == b.source_key);
        if let Ok(mut p) = self.paths.lock() {
            *p = paths;
        }
        Ok(mails)
    }
}

impl Mailbox for Maildir {
    fn name(&self) -> &str {
        MAILDIR_NAME
    }

    async fn list(&mut self, _since: Option<Cursor>) -> Result<Listing> {
        let this = self.clone();
        let mails = tokio::task::spawn_blocking(move || this.list_sync()).await??;
        Ok(Listing { mails, reset: None })
    }

    async fn fetch(&mut self, mails: &[MailRef]) -> Result<Vec<RawMail>> {
        let this = self.clone();
        let mails = mails.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(mails.len());
            for mail in mails {
                let Some(path) = this.path_of(&mail.source_key) else {
                    tracing::warn!(mail = %mail.source_key, "mail vanished from the Maildir");
                    continue;
                };
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                out.push(RawMail {
                    source_key: mail.source_key,
                    received_at: mail.received_at.unwrap_or_else(Utc::now),
                    bytes,
                });
            }
            Ok(out)
        })
        .await?
    }

    async fn fetch_header(&mut self, mail: &MailRef) -> Result<RawMail> {
        let this = self.clone();
        let mail = mail.clone();
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let path = this
                .path_of(&mail.source_key)
                .with_context(|| format!("mail {} vanished from the Maildir", mail.source_key))?;
            let f = std::fs::File::open(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut bytes = Vec::new();
            for line in std::io::BufReader::new(f).split(b'\n') {
                let mut line = line?;
                let end = line.is_empty() || line == b"\r";
                line.push(b'\n');
                bytes.extend_from_slice(&line);
                if end || bytes.len() > 1024 * 1024 {
                    break;
                }
            }
            Ok(RawMail {
                source_key: mail.source_key,
                received_at: mail.received_at.unwrap_or_else(Utc::now),
                bytes,
            })
        })
        .await?
    }
}

/// The unique part of a Maildir file name: everything before the `:2,FLAGS` info (a mail keeps
/// it when a client moves it from new/ to cur/ or changes its flags).
pub fn unique_name(file_name: &str) -> &str {
    file_name
        .split_once(':')
        .or_else(|| file_name.split_once('!'))
        .map_or(file_name, |(u, _)| u)
}

/// The delivery time a Maildir file name begins with (`1670000000.M1P2.host`), with the
/// microseconds of `M` or `.M..` forms ignored.
pub fn delivery_time(file_name: &str) -> Option<DateTime<Utc>> {
    let secs: i64 = file_name.split('.').next()?.parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_name_drops_the_flags() {
        assert_eq!(
            unique_name("1670000000.M1P2.host:2,S"),
            "1670000000.M1P2.host"
        );
        assert_eq!(unique_name("1670000000.M1P2.host"), "1670000000.M1P2.host");
    }

    #[tokio::test]
    async fn new_and_cur_are_listed_in_delivery_order_and_tmp_never() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("new/1670000300.M1P1.h"), b"c").unwrap();
        std::fs::write(dir.path().join("cur/1670000100.M1P1.h:2,S"), b"a").unwrap();
        std::fs::write(dir.path().join("new/1670000200.M1P1.h"), b"b").unwrap();
        std::fs::write(dir.path().join("tmp/1670000000.M1P1.h"), b"t").unwrap();
        let mut m = Maildir::open(dir.path()).unwrap();
        let list = m.list(None).await.unwrap().mails;
        let keys: Vec<_> = list.iter().map(|r| r.source_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "1670000100.M1P1.h",
                "1670000200.M1P1.h",
                "1670000300.M1P1.h"
            ]
        );
        assert_eq!(list[0].received_at.unwrap().timestamp(), 1670000100);
        let raw = m.fetch(&list[..1]).await.unwrap();
        assert_eq!(raw[0].bytes, b"a");
    }

    #[test]
    fn a_folder_without_new_or_cur_is_not_a_maildir() {
        let dir = tempfile::tempdir().unwrap();
        let err = Maildir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a Maildir"), "{err}");
    }
}
