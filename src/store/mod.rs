//! The state: a SQLite database (WAL, STRICT tables, migrations by `user_version`) and the
//! content-addressed raw mail store beside it. One mail's result, rows, problems, version and
//! reply are written in one transaction ([`Store::record`]).

mod attempts;
pub mod backup;
pub mod blocking;
pub mod desk_query;
mod outbox;
pub mod paper;
pub mod purge;
pub mod query;
pub mod smtp_health;
pub mod staff;

pub use crate::domain::OutgoingReply;
pub use crate::text::hex;
pub use attempts::Arrival;
pub use outbox::{OutboxStatus, PendingDraft};

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::mail::ParsedMail;
use crate::pipeline::{Outcome, OutcomeKind};
use crate::schema::RequestType;
use crate::validate::{RowSource, ValidRow};

/// Schema migrations, in order: `user_version` N means the first N have run.
/// Files are numbered; each issue that needs a table adds the next file here.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_imap.sql"),
    include_str!("migrations/003_paper.sql"),
    include_str!("migrations/004_outbox.sql"),
    include_str!("migrations/005_sent_copy.sql"),
    include_str!("migrations/006_reply_drafts.sql"),
    include_str!("migrations/007_draft_version.sql"),
    include_str!("migrations/008_desk.sql"),
    include_str!("migrations/009_reading_attempts.sql"),
    include_str!("migrations/010_version_written.sql"),
    include_str!("migrations/011_desk_actions.sql"),
    include_str!("migrations/012_purge.sql"),
];

/// The database and the raw mail store.
pub struct Store {
    conn: Connection,
    /// The thread that checkpoints the WAL for this connection, if it has one.
    checkpointer: Option<Checkpointer>,
    /// Each unit's current version as this connection last read or wrote it: (version id, its
    /// rows with their ids). Checked against the database's current version id before use (a
    /// replay, or another process, may have changed it); forgotten when a transaction is rolled
    /// back, since the ids it used may be given again.
    current: std::cell::RefCell<HashMap<String, (i64, VersionRows)>>,
}

/// A version's rows, each with its row id.
type VersionRows = Vec<(i64, ValidRow)>;

/// The most units whose current version [`Store`] keeps in memory: a province's units' mails
/// mostly come a unit at a time; the country's 6,300 units' 200,000 rows, all kept, were
/// 130 MiB. A unit not kept is read again from the database.
const CACHED_UNITS: usize = 256;

/// Keeps a unit's current version, forgetting another unit's when [`CACHED_UNITS`] are kept.
fn remember(
    cache: &mut HashMap<String, (i64, VersionRows)>,
    unit: String,
    version: (i64, VersionRows),
) {
    if cache.len() >= CACHED_UNITS
        && !cache.contains_key(&unit)
        && let Some(other) = cache.keys().next().cloned()
    {
        cache.remove(&other);
    }
    cache.insert(unit, version);
}

/// Copies the WAL into the database on a thread of its own, so the connection that writes the
/// mails never waits for it (see [`Store::checkpoint_in_background`]).
struct Checkpointer {
    /// `false`: checkpoint now; `true`: checkpoint and stop.
    wake: std::sync::mpsc::SyncSender<bool>,
    thread: std::thread::JoinHandle<()>,
    /// When the last batch was committed ([`Store::batch`]), in milliseconds after `since`.
    last_batch: Arc<AtomicU64>,
    since: std::time::Instant,
}

/// While batches of mail are being committed, the WAL is copied into the database only once it
/// holds this many pages (64 MiB): a burst of mail is not slowed by copying what it writes, and
/// the WAL stays bounded however long the burst.
const BURST_WAL_PAGES: std::ffi::c_int = 16_384;

/// The writer counts as busy with a burst of mail for this long after its last batch.
const QUIET: std::time::Duration = std::time::Duration::from_millis(200);

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(c) = self.checkpointer.take() {
            let _ = c.wake.send(true);
            let _ = c.thread.join();
        }
    }
}

/// What the daemon knows of a mail besides its outcome.
#[derive(Debug, Clone)]
pub struct MailRecord<'a> {
    pub mailbox: &'a str,
    pub source_key: &'a str,
    pub sha256: &'a str,
    pub size: usize,
    pub received_at: DateTime<Utc>,
    pub parsed: &'a ParsedMail,
    /// `replay`: the id of the mail row this one replaces (marked superseded in the same
    /// transaction).
    pub supersedes: Option<i64>,
}

/// Where cts-intake stands in an IMAP mailbox (the `mailbox_state` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uid_validity: u32,
    /// Every mail up to this UID has its result committed.
    pub last_uid: u32,
    /// After a UIDVALIDITY change: UIDs up to this one were in the mailbox already, so copies of
    /// mails taken before are recognised and not recorded again.
    pub rescan_until: u32,
}

/// A source's last pass (the `polls` table).
#[derive(Debug, Clone, Default)]
pub struct PollState {
    pub mailbox: String,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A stored mail, as it is found again to be processed again.
#[derive(Debug, Clone)]
pub struct StoredMail {
    pub id: i64,
    pub mailbox: String,
    pub source_key: String,
    /// The key of its raw bytes in the raw-mail store.
    pub sha256: String,
    pub received_at: DateTime<Utc>,
    /// Its size in the mailbox (more than the bytes kept when only the header was).
    pub size: u64,
    pub outcome: OutcomeKind,
}

/// A reply waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: String,
    pub recipients: Vec<String>,
    pub bytes: Vec<u8>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the reply was written (with the result it answers).
    pub created_at: DateTime<Utc>,
}

/// Creates a folder (and its parents) that only this user may enter (0700): the data folder
/// holds personal data. An existing folder keeps its mode.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data folder {}", dir.display()))
}

impl Store {
    /// Opens (creating if needed) the database and migrates the schema.
    pub fn open(db_path: &Path) -> Result<Store> {
        if let Some(dir) = db_path.parent() {
            create_private_dir(dir)?;
        }
        let mut conn = Connection::open(db_path)
            .with_context(|| format!("cannot open database {}", db_path.display()))?;
        // Before anything that locks: a second process (status, backup, the desk) opening the
        // database while the daemon commits waits for its lock instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Temporary files in memory: above all the savepoint journal. Each mail of a batch is a
        // savepoint, which keeps a copy of every page it changes that the batch had changed
        // before; past 64 KiB SQLite wrote those copies to a temporary file on disk, a page per
        // system call (a quarter of the recording's time).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // One query plan per statement, whatever the values bound: without this, SQLite (built
        // with STAT4) prepares a cached statement again each time a value compared with an
        // indexed column changes, which was a tenth of the intake's work.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;
        Ok(Store {
            conn,
            checkpointer: None,
            current: Default::default(),
        })
    }

    /// Moves WAL checkpoints off this connection: its commits no longer copy the WAL into the
    /// database file (SQLite does that on the commit that passes 1,000 pages, with an fsync).
    /// A thread with its own connection does it instead, with a passive checkpoint, which never
    /// blocks the writer: every 200 ms while no batch of mail is being committed, at once when
    /// asked ([`Store::checkpoint_soon`], after a burst), and during a burst only when the WAL
    /// passes [`BURST_WAL_PAGES`]. For the intake, whose commits hold up the next batch.
    pub fn checkpoint_in_background(&mut self, db_path: &Path) -> Result<()> {
        self.checkpoint_in_background_with(db_path, BURST_WAL_PAGES, QUIET)
    }

    /// [`Store::checkpoint_in_background`] with its two settings given: the WAL pages that
    /// start a checkpoint during a burst, and how long after a batch the writer counts as busy.
    pub fn checkpoint_in_background_with(
        &mut self,
        db_path: &Path,
        burst_pages: std::ffi::c_int,
        quiet: std::time::Duration,
    ) -> Result<()> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let conn = Connection::open(db_path)
            .with_context(|| format!("cannot open database {}", db_path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<bool>(1);
        let since = std::time::Instant::now();
        let last_batch = Arc::new(AtomicU64::new(0));
        let busy_until = last_batch.clone();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                loop {
                    let done = match woken.recv_timeout(quiet) {
                        Ok(stop) => stop,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            let now = since.elapsed().as_millis() as u64;
                            let last = busy_until.load(Ordering::Relaxed);
                            if last > 0 && now < last + quiet.as_millis() as u64 {
                                continue;
                            }
                            false
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => true,
                    };
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed; tried again later");
                    }
                    if done {
                        return;
                    }
                }
            })
            .context("cannot start the WAL checkpoint thread")?;
        let full = wake.clone();
        self.conn.wal_hook(Some(
            move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                if pages >= burst_pages {
                    // Full: one is due already.
                    let _ = full.try_send(false);
                }
                Ok(())
            },
        ))?;
        self.checkpointer = Some(Checkpointer {
            wake,
            thread,
            last_batch,
            since,
        });
        Ok(())
    }

    /// Asks the checkpoint thread ([`Store::checkpoint_in_background`]) to copy the WAL into the
    /// database now, without waiting for it: after a burst of mail, while the replies and the
    /// report are made, so that closing the store has nothing left to copy.
    pub fn checkpoint_soon(&self) {
        if let Some(c) = &self.checkpointer {
            // Full: one is due already.
            let _ = c.wake.try_send(false);
        }
    }

    /// Keeps a mail's raw bytes under their SHA-256, in their own transaction, before anything
    /// else is done with the mail, and returns the hash. In the database rather than in files:
    /// the bytes share the database's durability (a power cut loses the bytes and the result
    /// together, and the mail is taken again), and no file needs its own fsync.
    pub fn keep_raw(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex(&Sha256::digest(bytes));
        self.keep_raw_hashed(&sha, bytes)?;
        Ok(sha)
    }

    /// [`Store::keep_raw`] for bytes whose hash `sha` (lower-case hex SHA-256) is known already.
    /// Large bytes kept before (a mail replayed, a copy delivered twice) are looked up, not bound
    /// again: binding copies them, and building the row copies them once more, only for the
    /// insert to be ignored. Small ones (most mails) go straight to the insert, which finds a
    /// copy by the same index: one seek instead of two.
    pub fn keep_raw_hashed(&self, sha: &str, bytes: &[u8]) -> Result<()> {
        const LOOK_FIRST_BYTES: usize = 256 * 1024;
        if bytes.len() > LOOK_FIRST_BYTES {
            let kept = self
                .conn
                .prepare_cached("SELECT 1 FROM raw_mails WHERE sha256 = ?1")?
                .exists([sha])
                .context("cannot keep the raw mail")?;
            if kept {
                return Ok(());
            }
        }
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO raw_mails (sha256, size, bytes, stored_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                sha,
                bytes.len() as i64,
                bytes,
                Utc::now().to_rfc3339()
            ])
            .context("cannot keep the raw mail")?;
        Ok(())
    }

    /// Keeps the whole bytes of mail row `id`, whose header alone was kept when it came (over the
    /// size limit), and makes the row name them; in one transaction. Staff asked for it
    /// ([`crate::daemon::whole`]); the header's bytes stay under their own hash.
    pub fn keep_whole(&self, id: i64, bytes: &[u8]) -> Result<()> {
        let sha = hex(&Sha256::digest(bytes));
        let tx = self.conn.unchecked_transaction()?;
        self.keep_raw_hashed(&sha, bytes)?;
        let changed = tx
            .execute(
                "UPDATE mails SET sha256 = ?1 WHERE id = ?2 AND superseded_by IS NULL",
                params![sha, id],
            )
            .context("cannot record the whole mail")?;
        if changed != 1 {
            anyhow::bail!("mail {id} was processed again meanwhile");
        }
        tx.commit().context("cannot record the whole mail")?;
        Ok(())
    }

    /// Runs `f` in one transaction and commits it: the mails of a batch are recorded together
    /// (one commit, one WAL sync, instead of one per mail). Each [`Store::record`] inside is a
    /// savepoint, so an error undoes that mail alone; a failed commit undoes them all (they are
    /// then taken again, as after a crash).
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .context("cannot begin a transaction")?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        if !matches!(result, Ok(Ok(_))) {
            self.rollback();
        }
        match result {
            Ok(Err(e)) => Err(e),
            Ok(Ok(out)) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => {
                    if let Some(c) = &self.checkpointer {
                        // Never 0, which stands for "no batch yet".
                        let now = c.since.elapsed().as_millis() as u64 + 1;
                        c.last_batch.store(now, Ordering::Relaxed);
                    }
                    Ok(out)
                }
                Err(e) => {
                    self.rollback();
                    Err(anyhow::Error::new(e).context("cannot commit the batch"))
                }
            },
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Undoes the open transaction.
    fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
        self.current.get_mut().clear();
    }

    /// The unit a stored mail was taken for, if any.
    pub fn unit_code_of(&self, mail_id: i64) -> Result<Option<String>> {
        Ok(self.conn.query_row(
            "SELECT unit_code FROM mails WHERE id = ?1",
            [mail_id],
            |r| r.get(0),
        )?)
    }

    /// The latest current (neither superseded nor a duplicate) mail with this Message-ID
    /// (without angle brackets), as `replay` takes it again.
    pub fn stored_mail(&self, message_id: &str) -> Result<Option<StoredMail>> {
        self.stored_mail_where(
            "message_id = ?1",
            rusqlite::types::Value::Text(message_id.into()),
        )
    }

    /// The mail row `id`, when it is current (neither superseded nor a duplicate): what the desk
    /// processes again (a mail without a Message-ID too).
    pub fn stored_mail_by_id(&self, id: i64) -> Result<Option<StoredMail>> {
        self.stored_mail_where("id = ?1", rusqlite::types::Value::Integer(id))
    }

    fn stored_mail_where(
        &self,
        clause: &str,
        value: rusqlite::types::Value,
    ) -> Result<Option<StoredMail>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT id, mailbox, source_key, sha256, received_at, size, outcome FROM mails \
                     WHERE {clause} AND superseded_by IS NULL AND duplicate_of IS NULL \
                     ORDER BY id DESC LIMIT 1"
                ),
                [value],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, mailbox, source_key, sha256, received_at, size, outcome)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredMail {
            id,
            mailbox,
            source_key,
            sha256,
            received_at: DateTime::parse_from_rfc3339(&received_at)
                .context("bad received_at in the store")?
                .with_timezone(&Utc),
            size: u64::try_from(size).unwrap_or(0),
            outcome: OutcomeKind::from_code(&outcome)
                .with_context(|| format!("unknown outcome {outcome:?} in the store"))?,
        }))
    }

    /// The raw bytes kept under this hash.
    pub fn raw_bytes(&self, sha: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT bytes FROM raw_mails WHERE sha256 = ?1",
                [sha],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The keys of every mail already taken from `mailbox`.
    pub fn taken_keys(&self, mailbox: &str) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT source_key FROM mails WHERE mailbox = ?1")?;
        let keys = stmt
            .query_map([mailbox], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    /// The first mail taken with this Message-ID and the same content, if any.
    pub fn find_copy(&self, message_id: &str, sha256: &str) -> Result<Option<i64>> {
        if message_id.is_empty() {
            return Ok(None);
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM mails WHERE message_id = ?1 AND sha256 = ?2 \
                 AND duplicate_of IS NULL AND superseded_by IS NULL ORDER BY id LIMIT 1",
            )?
            .query_row(params![message_id, sha256], |r| r.get(0))
            .optional()?)
    }

    /// A mail already taken with these bytes: by Message-ID and content hash, or by the content
    /// hash alone when the mail has no Message-ID. Used after a UIDVALIDITY change, where the
    /// same bytes in the same mailbox are the same mail listed again.
    pub fn find_taken(&self, message_id: &str, sha256: &str) -> Result<Option<i64>> {
        if !message_id.is_empty() {
            return self.find_copy(message_id, sha256);
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM mails WHERE sha256 = ?1 AND superseded_by IS NULL \
                 ORDER BY id LIMIT 1",
            )?
            .query_row([sha256], |r| r.get(0))
            .optional()?)
    }

    /// Where cts-intake stands in an IMAP mailbox, if it was read before.
    pub fn mailbox_state(&self, mailbox: &str) -> Result<Option<MailboxState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uid_validity, last_uid, rescan_until FROM mailbox_state WHERE mailbox = ?1",
                [mailbox],
                |r| {
                    Ok(MailboxState {
                        uid_validity: r.get(0)?,
                        last_uid: r.get(1)?,
                        rescan_until: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Starts over in a mailbox whose UIDVALIDITY is new (or that was never read): nothing of it
    /// is taken yet under this UIDVALIDITY; UIDs up to `rescan_until` may be mails known before.
    pub fn reset_mailbox_state(
        &self,
        mailbox: &str,
        uid_validity: u32,
        rescan_until: u32,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, rescan_until, updated_at) \
             VALUES (?1, ?2, 0, ?3, ?4) ON CONFLICT (mailbox) DO UPDATE SET \
             uid_validity = excluded.uid_validity, last_uid = 0, \
             rescan_until = excluded.rescan_until, updated_at = excluded.updated_at",
            params![mailbox, uid_validity, rescan_until, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// Records that every mail up to `uid` is done. Called only after the mail's result is
    /// committed; never moves backwards, and never under another UIDVALIDITY.
    pub fn advance_mailbox_state(&self, mailbox: &str, uid_validity: u32, uid: u32) -> Result<()> {
        self.conn.execute(
            "UPDATE mailbox_state SET last_uid = max(last_uid, ?3), updated_at = ?4 \
             WHERE mailbox = ?1 AND uid_validity = ?2",
            params![mailbox, uid_validity, uid, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// Records a pass over a source: `error` None for a pass that listed and took everything.
    pub fn record_poll(&self, mailbox: &str, error: Option<&str>) -> Result<()> {
        let now = Utc::now().to_rfc3339();
        match error {
            None => self.conn.execute(
                "INSERT INTO polls (mailbox, last_success_at) VALUES (?1, ?2) \
                 ON CONFLICT (mailbox) DO UPDATE SET last_success_at = excluded.last_success_at",
                params![mailbox, now],
            )?,
            Some(e) => self.conn.execute(
                "INSERT INTO polls (mailbox, last_error_at, last_error) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (mailbox) DO UPDATE SET last_error_at = excluded.last_error_at, \
                 last_error = excluded.last_error",
                params![mailbox, now, e],
            )?,
        };
        Ok(())
    }

    /// Every source's last pass, most recent success first.
    pub fn polls(&self) -> Result<Vec<PollState>> {
        let time = |s: Option<String>| {
            s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let mut stmt = self.conn.prepare(
            "SELECT mailbox, last_success_at, last_error_at, last_error FROM polls \
             ORDER BY last_success_at DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PollState {
                    mailbox: r.get(0)?,
                    last_success_at: time(r.get(1)?),
                    last_error_at: time(r.get(2)?),
                    last_error: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The codes of the units other than `except` whose current accepted version holds a row of
    /// this ID number. The units that ever listed it are walked by seeks on
    /// `rows (id_number, unit_code)` (one per unit, however many of its rows hold the number),
    /// and only each one's current version is looked into: per row of a mail, the work stays the
    /// same as the campaign grows, and a person only the sending unit ever listed (most rows)
    /// costs two seeks and no walk. (`unit_code <> except` in the seeks would scan every row of
    /// the sending unit's: quadratic in a campaign of many versions.)
    pub fn holders_of(&self, id_number: &str, except: &str) -> Result<Vec<String>> {
        // Most rows: no other unit ever listed the number. Two range seeks on the index (before
        // and after `except`) say so without the walk's recursive query, whose queue SQLite
        // builds as a temporary table on every run.
        let elsewhere: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM rows WHERE id_number = ?1 AND unit_code < ?2) \
                 OR EXISTS (SELECT 1 FROM rows WHERE id_number = ?1 AND unit_code > ?2)",
            )?
            .query_row([id_number, except], |r| r.get(0))?;
        if !elsewhere {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "WITH RECURSIVE listed(code) AS ( \
               SELECT min(unit_code) FROM rows WHERE id_number = ?1 \
               UNION ALL \
               SELECT (SELECT min(unit_code) FROM rows WHERE id_number = ?1 AND unit_code > code) \
               FROM listed WHERE code IS NOT NULL) \
             SELECT code FROM listed WHERE code IS NOT NULL AND code <> ?2 AND EXISTS ( \
               SELECT 1 FROM version_rows vr JOIN rows r ON r.id = vr.row_id \
               WHERE r.id_number = ?1 AND vr.version_id = ( \
                 SELECT v.id FROM versions v JOIN mails m ON m.id = v.mail_id \
                 WHERE v.unit_code = listed.code AND m.superseded_by IS NULL \
                 ORDER BY v.written_at DESC, v.id DESC LIMIT 1)) \
             ORDER BY code",
        )?;
        let codes = stmt
            .query_map([id_number, except], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(codes)
    }

    /// The rows of a unit's current accepted version, with their row ids.
    pub fn current_rows(&self, unit_code: &str) -> Result<Option<Vec<(i64, ValidRow)>>> {
        Ok(self.current(unit_code)?.map(|(_, rows)| rows))
    }

    /// A unit's current accepted version and its rows with their row ids, the version looked
    /// up once.
    pub fn current(&self, unit_code: &str) -> Result<Option<(CurrentVersion, VersionRows)>> {
        let Some(version) = current_version_of(&self.conn, unit_code)? else {
            return Ok(None);
        };
        if let Some((id, rows)) = self.current.borrow().get(unit_code)
            && *id == version.id
        {
            return Ok(Some((version, rows.clone())));
        }
        let rows = query::version_rows(&self.conn, version.id)?;
        remember(
            &mut self.current.borrow_mut(),
            unit_code.to_string(),
            (version.id, rows.clone()),
        );
        Ok(Some((version, rows)))
    }

    /// Records one mail and everything that follows from it, in one transaction. Returns the
    /// mail's id.
    pub fn record(
        &mut self,
        mail: &MailRecord,
        outcome: &Outcome,
        duplicate_of: Option<i64>,
        reply: Option<&OutgoingReply>,
    ) -> Result<i64> {
        self.record_with(mail, outcome, duplicate_of, reply, None)
    }

    /// [`Store::record`], given the rows (with their ids) of the unit's current version when
    /// the caller read them already ([`Store::current_rows`], in the same transaction).
    pub fn record_with(
        &mut self,
        mail: &MailRecord,
        outcome: &Outcome,
        duplicate_of: Option<i64>,
        reply: Option<&OutgoingReply>,
        current: Option<&[(i64, ValidRow)]>,
    ) -> Result<i64> {
        // A savepoint: its own transaction, or a part of the batch's (see `Store::batch`) that
        // an error undoes alone.
        let now = Utc::now().to_rfc3339();
        let tx = self.conn.savepoint()?;
        let p = mail.parsed;
        tx.prepare_cached(
            "INSERT INTO mails (mailbox, source_key, sha256, size, message_id, received_at, \
             from_addr, from_name, subject, unit_code, trust, outcome, reply_kind, late, \
             supplement, note, files, duplicate_of, processed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19)",
        )?
        .execute(params![
            mail.mailbox,
            mail.source_key,
            mail.sha256,
            mail.size as i64,
            p.message_id.as_deref().unwrap_or(""),
            mail.received_at.to_rfc3339(),
            p.from.as_deref().unwrap_or(""),
            p.from_name.as_deref().unwrap_or(""),
            p.subject,
            outcome.unit.as_ref().map(|u| u.code.as_str()),
            outcome.trust.code(),
            outcome.kind.code(),
            outcome.reply.code(),
            outcome.late,
            outcome.supplement,
            outcome.note,
            serde_json::to_string(&outcome.files)?,
            duplicate_of,
            now,
        ])?;
        let mail_id = tx.last_insert_rowid();
        if let Some(old) = mail.supersedes {
            tx.execute(
                "UPDATE mails SET superseded_by = ?2 WHERE id = ?1",
                params![old, mail_id],
            )?;
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO problems (mail_id, file, sheet, row, column_header, field, value, \
                 severity, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for pr in &outcome.problems {
                stmt.execute(params![
                    mail_id,
                    pr.file,
                    pr.sheet,
                    pr.row,
                    pr.column,
                    pr.field,
                    pr.value,
                    pr.severity.code(),
                    pr.message
                ])?;
            }
        }
        let unit_code = outcome.unit.as_ref().map(|u| u.code.as_str());
        let mut new_version = None;
        let mut older_version = None;
        let mut new_ids: HashMap<(String, RequestType), i64> = HashMap::new();
        for r in &outcome.rows {
            let id = insert_row(&tx, mail_id, unit_code, r)?;
            new_ids.insert((r.person_key(), r.request_type), id);
        }
        if let (OutcomeKind::Accepted, Some(v), Some(unit)) =
            (outcome.kind, &outcome.version, &outcome.unit)
        {
            // Rows carried over from the previous version (a supplement) keep their ids.
            let read;
            let current: &[(i64, ValidRow)] = match current {
                Some(rows) => rows,
                None => {
                    read = match current_version(&tx, &unit.code)? {
                        Some(pv) => query::version_rows(&tx, pv)?,
                        None => Vec::new(),
                    };
                    &read
                }
            };
            let previous: HashMap<(String, RequestType), i64> = current
                .iter()
                .map(|(id, r)| ((r.person_key(), r.request_type), *id))
                .collect();
            // Where each carried-over row stood in the previous version.
            let place: HashMap<i64, usize> = current
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (*id, i))
                .collect();
            tx.prepare_cached(
                "INSERT INTO versions (unit_code, mail_id, code, row_count, created_at, written_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                unit.code,
                mail_id,
                v.code,
                v.rows.len() as i64,
                now,
                written_at_text(v.written_at)
            ])?;
            let version_id = tx.last_insert_rowid();
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO version_rows (version_id, row_id) VALUES (?1, ?2)",
            )?;
            let mut rows = Vec::with_capacity(v.rows.len());
            for r in &v.rows {
                let key = (r.person_key(), r.request_type);
                let id = new_ids.get(&key).or_else(|| previous.get(&key));
                if let Some(&id) = id
                    && stmt.execute(params![version_id, id])? == 1
                {
                    rows.push((id, r.clone()));
                }
            }
            // In the order `query::version_rows` reads them: rows of earlier mails first, as
            // they stood; then this mail's, by file, sheet, row and id.
            rows.sort_by(|(a, ra), (b, rb)| match (place.get(a), place.get(b)) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => (&ra.source.file, &ra.source.sheet, ra.source.row, a).cmp(&(
                    &rb.source.file,
                    &rb.source.sheet,
                    rb.source.row,
                    b,
                )),
            });
            // An older list kept behind a newer one does not become the unit's current rows.
            if v.newer.is_none() {
                new_version = Some((unit.code.clone(), (version_id, rows)));
            }
            older_version = v.newer.is_some().then_some(version_id);
        }
        if let Some(reply) = reply {
            // The draft of an accepted list's reply lists the version's rows by its id.
            let version_id = new_version
                .as_ref()
                .map(|(_, (id, _))| *id)
                .or(older_version);
            insert_reply(&tx, mail_id, reply, mail.received_at, version_id)?;
        }
        tx.commit()?;
        if let Some((unit, version)) = new_version {
            // The unit's next mail is decided against these rows, as `version_rows` reads them.
            remember(self.current.get_mut(), unit, version);
        }
        Ok(mail_id)
    }

    /// Replies not yet delivered, oldest first.
    pub fn pending_replies(&self) -> Result<Vec<OutboxItem>> {
        self.outbox_items("status = 'pending' AND draft IS NULL ORDER BY id", [])
    }

    /// Composed pending replies after id `after_id`, oldest first, at most `limit`: the outbox
    /// folder is written a page at a time.
    pub fn pending_replies_after(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxItem>> {
        self.outbox_items(
            "status = 'pending' AND draft IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
            params![after_id, limit as i64],
        )
    }

    /// Marks a reply delivered.
    pub fn mark_sent(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, \
                 last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, Utc::now().to_rfc3339()])?;
        Ok(())
    }

    /// Records a failed delivery attempt; the reply stays pending.
    pub fn mark_attempt_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    /// Read access for reports.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // Up to date: no write lock taken, so opening the database never waits for (or starves
    // behind) a writer's commits (`status`, `backup` while the daemon takes a burst of mail).
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current == MIGRATIONS.len() as i64 {
        return Ok(());
    }
    // IMMEDIATE: two processes opening a new database at once (the daemon and `report`, say)
    // must not both run the same migration; the second waits, then sees it done.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        anyhow::bail!(
            "the database has schema version {version}, newer than this cts-intake knows ({known}); \
             use a newer cts-intake"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .with_context(|| format!("schema migration {} failed", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

/// A unit's current version: the last written (DESIGN.md: the order staff see in their mail
/// client, `pipeline::written_at`), from a mail that was not replayed since; of two written in
/// the same second, the later taken.
const CURRENT_VERSION_SQL: &str = "SELECT v.id, v.code, v.written_at FROM versions v \
     JOIN mails m ON m.id = v.mail_id \
     WHERE v.unit_code = ?1 AND m.superseded_by IS NULL \
     ORDER BY v.written_at DESC, v.id DESC LIMIT 1";

/// A unit's current version: its id, reconciliation code and when its list was written.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentVersion {
    pub id: i64,
    pub code: String,
    pub written_at: DateTime<Utc>,
}

fn current_version_of(conn: &Connection, unit_code: &str) -> Result<Option<CurrentVersion>> {
    let row = conn
        .prepare_cached(CURRENT_VERSION_SQL)?
        .query_row([unit_code], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    row.map(|(id, code, at)| {
        Ok(CurrentVersion {
            id,
            code,
            written_at: DateTime::parse_from_rfc3339(&at)
                .with_context(|| format!("a version's written_at is not a time: {at}"))?
                .with_timezone(&Utc),
        })
    })
    .transpose()
}

fn current_version(conn: &Connection, unit_code: &str) -> Result<Option<i64>> {
    Ok(current_version_of(conn, unit_code)?.map(|v| v.id))
}

/// How `versions.written_at` is written: whole seconds in UTC, so that text order is time order.
pub(crate) fn written_at_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Puts a reply into the outbox; `version_id` is the version its draft lists, for an accepted
/// list (the draft then holds none of the version's rows: see `outbox::drafts`).
fn insert_reply(
    tx: &Connection,
    mail_id: i64,
    reply: &OutgoingReply,
    received_at: DateTime<Utc>,
    version_id: Option<i64>,
) -> Result<()> {
    let status = match reply.held {
        Some(_) => OutboxStatus::Held,
        None => OutboxStatus::Pending,
    };
    tx.prepare_cached(
        "INSERT INTO outbox (mail_id, message_id, kind, recipients, bytes, created_at, \
         status, last_error, draft, version_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        mail_id,
        reply.message_id,
        reply.kind,
        serde_json::to_string(&reply.recipients)?,
        reply.bytes,
        Utc::now().to_rfc3339(),
        status.code(),
        reply.held,
        reply.draft,
        reply.draft.as_ref().and(version_id),
    ])?;
    let outbox_id = tx.last_insert_rowid();
    // Only replies that count towards the rate limit (a held reply does not).
    let recipients: &[String] = if reply.held.is_some() {
        &[]
    } else {
        &reply.recipients
    };
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO reply_recipients (outbox_id, address, received_at) \
         VALUES (?1, ?2, ?3)",
    )?;
    for r in recipients {
        stmt.execute(params![
            outbox_id,
            r.to_ascii_lowercase(),
            received_at.to_rfc3339()
        ])?;
    }
    Ok(())
}

fn insert_row(tx: &Connection, mail_id: i64, unit: Option<&str>, r: &ValidRow) -> Result<i64> {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
    tx.prepare_cached(
        "INSERT INTO rows (mail_id, unit_code, person_key, request_type, full_name, birth_date, \
         id_number, id_issue_date, id_issue_place, position, unit_name, email, phone, \
         cert_serial, change_detail, reason, note, source_file, source_sheet, source_row) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20)",
    )?
    .execute(params![
        mail_id,
        unit,
        r.person_key(),
        r.request_type.code(),
        r.full_name,
        date(r.birth_date),
        r.id_number,
        date(r.id_issue_date),
        r.id_issue_place,
        r.position,
        r.unit_name,
        r.email,
        r.phone,
        r.cert_serial,
        r.change_detail,
        r.reason,
        r.note,
        r.source.file,
        r.source.sheet,
        r.source.row
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Reads a stored row back (columns in `query::ROW_COLUMNS` order, from index `at`).
pub(crate) fn row_from(r: &rusqlite::Row, at: usize) -> rusqlite::Result<ValidRow> {
    let date = |i: usize| -> rusqlite::Result<Option<NaiveDate>> {
        Ok(r.get::<_, Option<String>>(at + i)?
            .and_then(|s| s.parse::<NaiveDate>().ok()))
    };
    let code: String = r.get(at)?;
    Ok(ValidRow {
        request_type: RequestType::from_code(&code).unwrap_or(RequestType::NewCert),
        full_name: r.get(at + 1)?,
        birth_date: date(2)?,
        id_number: r.get(at + 3)?,
        id_issue_date: date(4)?,
        id_issue_place: r.get(at + 5)?,
        position: r.get(at + 6)?,
        unit_name: r.get(at + 7)?,
        email: r.get(at + 8)?,
        phone: r.get(at + 9)?,
        cert_serial: r.get(at + 10)?,
        change_detail: r.get(at + 11)?,
        reason: r.get(at + 12)?,
        note: r.get(at + 13)?,
        source: RowSource {
            file: r.get(at + 14)?,
            sheet: r.get(at + 15)?,
            row: r.get(at + 16)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_cached_units_versions_are_kept_and_the_one_just_written_always() {
        let mut cache = HashMap::new();
        for i in 0..CACHED_UNITS + 50 {
            remember(&mut cache, format!("DV{i:04}"), (i as i64, Vec::new()));
            assert!(cache.len() <= CACHED_UNITS);
            assert_eq!(cache[&format!("DV{i:04}")].0, i as i64);
        }
        assert_eq!(cache.len(), CACHED_UNITS);
        // A unit kept, written again: nobody else is forgotten for it.
        let kept: Vec<String> = cache.keys().cloned().collect();
        remember(&mut cache, kept[0].clone(), (-1, Vec::new()));
        assert_eq!(cache.len(), CACHED_UNITS);
        assert!(kept.iter().all(|k| cache.contains_key(k)));
        assert_eq!(cache[&kept[0]].0, -1);
    }

    #[test]
    fn hex_is_the_lower_case_digits_of_every_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        // What `sha256sum` prints for "abc".
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
