//! Raw bytes first, and the attempts at reading a mail: before a batch is read, its mails' raw
//! bytes and one more attempt each are committed in their own transaction (between the records
//! of the batches before it, on the same connection); a mail's attempts are cleared when its
//! result is recorded. What is left marks a mail whose reading did not finish.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::Utc;
use rusqlite::params;

use super::Store;

/// A fetched mail about to be read.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub source_key: &'a str,
    /// SHA-256 of `bytes`, lower-case hex.
    pub sha256: &'a str,
    pub bytes: &'a [u8],
}

impl Store {
    /// Keeps the raw bytes of `mails` and counts one more reading attempt for each, in one
    /// transaction; returns each mail's attempts, this one included.
    pub fn keep_arrivals(&mut self, mailbox: &str, mails: &[Arrival<'_>]) -> Result<Vec<u32>> {
        self.batch(|s| {
            let now = Utc::now().to_rfc3339();
            let mut tries = Vec::with_capacity(mails.len());
            for m in mails {
                s.keep_raw_hashed(m.sha256, m.bytes)?;
                let n: u32 = s
                    .conn
                    .prepare_cached(
                        "INSERT INTO reading_attempts (mailbox, source_key, sha256, tries, \
                         last_try_at) VALUES (?1, ?2, ?3, 1, ?4) \
                         ON CONFLICT (mailbox, source_key) DO UPDATE SET tries = tries + 1, \
                         sha256 = excluded.sha256, last_try_at = excluded.last_try_at \
                         RETURNING tries",
                    )?
                    .query_row(params![mailbox, m.source_key, m.sha256, now], |r| r.get(0))
                    .context("cannot count a reading attempt")?;
                tries.push(n);
            }
            Ok(tries)
        })
    }

    /// The mails of `mailbox` whose reading began and never finished, by key, with their
    /// attempts so far.
    pub fn unfinished_readings(&self, mailbox: &str) -> Result<HashMap<String, u32>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT source_key, tries FROM reading_attempts WHERE mailbox = ?1")?;
        let rows = stmt
            .query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The mail's reading finished (its result is recorded in this transaction).
    pub fn finish_reading(&self, mailbox: &str, source_key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM reading_attempts WHERE mailbox = ?1 AND source_key = ?2")?
            .execute(params![mailbox, source_key])?;
        Ok(())
    }
}
