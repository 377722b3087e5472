//! Delivering the outbox. Without an SMTP server, each reply is written as an .eml file named
//! after its Message-ID, so delivering the same reply twice (a crash between the write and the
//! database update) rewrites the same file instead of adding a second one.
//!
//! Replies are delivered a page at a time (a page of drafts as they are composed, then at most
//! [`PAGE`] composed before, by id): the page's files are written under temporary names, made
//! durable together (one `syncfs` on Linux, instead of one `fsync` per file), renamed into
//! place, the folder synced once, and only then the page is marked sent, in one transaction
//! (a reply composed and written in the same page is stored composed and sent in one update).
//! A reply marked sent is on disk under its final name; memory holds one page whatever the
//! backlog.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::drafts::Composed;
use crate::config::Config;
use crate::store::Store;

/// How many composed replies are read, written and marked together.
pub const PAGE: usize = 128;

/// Composes the pending drafts and writes each page of them into `dir` as it is composed,
/// then delivers the replies composed before (a reminder, a write that failed last time);
/// returns how many were delivered.
pub fn compose_and_deliver(store: &mut Store, config: &Config, dir: &Path) -> Result<usize> {
    create(dir)?;
    let mut delivered = 0;
    let mut write = |page: &[Composed]| {
        let written = write_page(
            dir,
            page.iter()
                .map(|c| (c.message_id.as_str(), c.bytes.as_slice())),
        );
        delivered += written.iter().filter(|r| r.is_ok()).count();
        written
    };
    super::drafts::compose_pending_and(store, config, Some(&mut write))?;
    Ok(delivered + deliver_to_dir(store, dir)?)
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create outbox folder {}", dir.display()))
}

/// Delivers every pending reply already composed into `dir`; returns how many were delivered.
pub fn deliver_to_dir(store: &mut Store, dir: &Path) -> Result<usize> {
    create(dir)?;
    let mut delivered = 0;
    let mut after = 0;
    loop {
        let page = store.pending_replies_after(after, PAGE)?;
        let Some(last) = page.last() else {
            return Ok(delivered);
        };
        after = last.id;
        let written = write_page(
            dir,
            page.iter()
                .map(|i| (i.message_id.as_str(), i.bytes.as_slice())),
        );
        store.batch(|s| {
            for (item, result) in page.iter().zip(&written) {
                match result {
                    Ok(()) => {
                        s.mark_sent(item.id)?;
                        delivered += 1;
                    }
                    Err(e) => {
                        tracing::warn!(reply = %item.message_id, error = %format!("{e:#}"), "cannot write reply");
                        s.mark_attempt_failed(item.id, &format!("{e:#}"))?;
                    }
                }
            }
            Ok(())
        })?;
    }
}

/// Writes the page's files: each under a temporary name, then all made durable, renamed into
/// place and the folder synced. What failed for one reply is its own result; a failed sync or
/// folder sync fails every reply of the page still standing (none of them is marked sent).
fn write_page<'a>(
    dir: &Path,
    page: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<Result<()>> {
    let mut results: Vec<Result<()>> = Vec::with_capacity(page.len());
    // (index in `results`, the file, its temporary name, its name)
    let mut files: Vec<(usize, File, PathBuf, PathBuf)> = Vec::with_capacity(page.len());
    for (i, (message_id, bytes)) in page.enumerate() {
        let name = file_name(message_id);
        let tmp = dir.join(format!(".{name}.tmp"));
        let written = File::create(&tmp).and_then(|mut f| f.write_all(bytes).map(|()| f));
        match written {
            Ok(f) => {
                files.push((i, f, tmp, dir.join(name)));
                results.push(Ok(()));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                results.push(Err(
                    anyhow::Error::new(e).context("cannot write the reply file")
                ));
            }
        }
    }
    if files.is_empty() {
        return results;
    }
    let fail_all = |results: &mut [Result<()>], what: &str, e: &std::io::Error| {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(anyhow::anyhow!("{what}: {e}"));
        }
    };
    if let Err(e) = sync_files(&files) {
        fail_all(&mut results, "cannot sync the reply files", &e);
        for (_, _, tmp, _) in &files {
            let _ = std::fs::remove_file(tmp);
        }
        return results;
    }
    for (i, _, tmp, path) in &files {
        if let Err(e) = std::fs::rename(tmp, path) {
            let _ = std::fs::remove_file(tmp);
            results[*i] = Err(anyhow::Error::new(e).context("cannot rename the reply file"));
        }
    }
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        fail_all(&mut results, "cannot sync the outbox folder", &e);
    }
    results
}

/// Makes the files' contents durable: on Linux one `syncfs` of their file system (every file
/// of the page at once); elsewhere one `fsync` per file.
fn sync_files(files: &[(usize, File, PathBuf, PathBuf)]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Some((_, f, _, _)) = files.first() {
            // SAFETY: the descriptor is open (owned by `f`) for the whole call.
            if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        files.iter().try_for_each(|(_, f, _, _)| f.sync_all())
    }
}

/// The file a reply is written to.
pub fn file_name(message_id: &str) -> String {
    let safe: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.eml")
}
