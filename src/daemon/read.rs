//! The part of taking a mail that needs no store: hash, parse, read the lists. Pure, so the
//! mails of a batch are read on every core at once (the reading threads), while the mails before
//! them are recorded.

use std::sync::Arc;

use anyhow::Result;

use super::How;
use crate::config::Config;
use crate::mailbox::RawMail;
use crate::pipeline::{self, ReadLists};
use crate::units::Registry;
use crate::worker::Pool;

/// A mail read and not yet recorded: what [`prepare`] gives [`super::Intake::take_batch`].
pub struct Prepared {
    pub(super) raw: RawMail,
    pub(super) how: How,
    /// SHA-256 of the raw bytes, lower-case hex.
    pub(super) sha: String,
    pub(super) parsed: crate::mail::ParsedMail,
    pub(super) reading: pipeline::Reading,
}

/// The reading threads: one per core, at a lower priority than the rest of the process
/// (nice 10 on Linux). Reading is the parallel part of taking mail, recording the serial part:
/// at equal priority the readers would take two thirds of the cores from the one thread that
/// records, and the pipeline would wait on the recorder.
fn reading_threads() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("read-{i}"))
            .start_handler(|_| lower_thread_priority())
            .build()
            .expect("the reading threads start")
    })
}

/// Lowers the calling thread's priority (nice 10; on Linux a thread's nice value is its own):
/// for the reading threads, whose work can wait while the thread that records mail cannot.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority have no preconditions; a failure leaves the priority as it
    // was, which is only slower.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// The mails of a batch being read on the reading threads (rayon's, one per core), each as soon
/// as it is fetched, oldest first: [`super::Intake::record_batch`] takes them in order as they are
/// ready, so recording and reading overlap with no wait for a whole batch to be read.
pub struct Reads {
    pending: Vec<std::sync::mpsc::Receiver<std::thread::Result<Result<Prepared>>>>,
}

impl Reads {
    /// Starts reading `mails`.
    pub fn start(
        config: &Arc<Config>,
        registry: &Arc<Registry>,
        readers: &Arc<Pool>,
        mails: impl IntoIterator<Item = (RawMail, How)>,
    ) -> Reads {
        let items = mails.into_iter().map(|(raw, how)| ToRead {
            raw,
            how,
            sha: None,
            poison: false,
        });
        Reads::start_items(config, registry, readers, items)
    }

    /// Starts reading mails whose raw bytes (and attempt) are already kept.
    pub(super) fn start_items(
        config: &Arc<Config>,
        registry: &Arc<Registry>,
        readers: &Arc<Pool>,
        items: impl IntoIterator<Item = ToRead>,
    ) -> Reads {
        let pending = items
            .into_iter()
            .map(|item| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let (config, registry, pool) = (config.clone(), registry.clone(), readers.clone());
                reading_threads().spawn_fifo(move || {
                    // A panic is the mail's own failure, not the reading thread's (rayon would
                    // abort the process).
                    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        prepare_item(&config, &registry, &pool, item)
                    }));
                    // The receiver is gone when the pass ended early (shutdown, an error).
                    let _ = tx.send(read);
                });
                rx
            })
            .collect();
        Reads { pending }
    }

    /// The mails read, in order, each waited for when asked.
    pub fn into_results(self) -> impl ExactSizeIterator<Item = Result<Prepared>> {
        self.pending.into_iter().map(|rx| match rx.recv() {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => Err(anyhow::anyhow!(
                "reading the mail failed: the reader panicked"
            )),
            Err(_) => Err(anyhow::anyhow!("reading the mail was abandoned")),
        })
    }
}

/// A mail to read, and what is known of it already.
pub(super) struct ToRead {
    pub(super) raw: RawMail,
    pub(super) how: How,
    /// SHA-256 of the raw bytes, when they were hashed to be kept before reading.
    pub(super) sha: Option<String>,
    /// Its reading did not finish twice: it is not read (nor parsed past its header) again.
    pub(super) poison: bool,
}

/// The part of taking a mail that needs no store: hash, parse, read the lists (in a reader
/// process, [`Pool`]), so the mails of a batch are prepared on every core at once. `Err`: no
/// reader could be started; the mail is taken again next pass.
pub fn prepare(
    config: &Config,
    registry: &Registry,
    readers: &Pool,
    raw: RawMail,
    how: How,
) -> Result<Prepared> {
    let item = ToRead {
        raw,
        how,
        sha: None,
        poison: false,
    };
    prepare_item(config, registry, readers, item)
}

fn prepare_item(
    config: &Config,
    registry: &Registry,
    readers: &Pool,
    item: ToRead,
) -> Result<Prepared> {
    use sha2::Digest;
    let ToRead {
        raw,
        how,
        sha,
        poison,
    } = item;
    let sha = sha.unwrap_or_else(|| crate::store::hex(&sha2::Sha256::digest(&raw.bytes)));
    if poison {
        // Whatever stopped the daemon twice is not done a third time: only the header is
        // parsed (for the sender, the subject, the thread), nothing is read.
        let parsed = crate::mail::parse(header_of(&raw.bytes), &config.campaign.department_address);
        let reading = pipeline::read_with(&parsed, config, registry, |_, _| {
            ReadLists::unread(crate::domain::Unread::Poison)
        });
        return Ok(Prepared {
            raw,
            how,
            sha,
            parsed,
            reading,
        });
    }
    crash_on_test_marker(&raw.bytes);
    let parsed = crate::mail::parse(&raw.bytes, &config.campaign.department_address);
    let mut failed = None;
    let reading = pipeline::read_with(&parsed, config, registry, |mail, context| {
        if mail.attachments.is_empty() {
            return ReadLists::default();
        }
        match readers.read(&mail.attachments, context) {
            Ok(Ok(lists)) => lists,
            Ok(Err(why)) => ReadLists::unread(why),
            Err(e) => {
                failed = Some(e);
                ReadLists::default()
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Prepared {
        raw,
        how,
        sha,
        parsed,
        reading,
    })
}

/// A mail's header: its bytes up to the first empty line.
fn header_of(bytes: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(bytes, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| memchr::memmem::find(bytes, b"\n\n").map(|i| i + 2))
        .unwrap_or(bytes.len());
    &bytes[..end]
}

/// The test suite's stand-in for a mail that stops the daemon itself while it is read (a fault
/// no reader process contains): with `CTS_INTAKE_TEST_CRASH_MARKER` set, a mail holding that
/// text aborts the process here. Unset (always, outside the tests) this does nothing.
fn crash_on_test_marker(bytes: &[u8]) {
    static MARKER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let marker = MARKER.get_or_init(|| {
        std::env::var("CTS_INTAKE_TEST_CRASH_MARKER")
            .ok()
            .filter(|m| m.len() >= 16)
    });
    if let Some(m) = marker
        && memchr::memmem::find(bytes, m.as_bytes()).is_some()
    {
        eprintln!("test crash marker found: aborting");
        std::process::abort();
    }
}
