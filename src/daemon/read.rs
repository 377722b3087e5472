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
        let pending = mails
            .into_iter()
            .map(|(raw, how)| {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let (config, registry, pool) = (config.clone(), registry.clone(), readers.clone());
                reading_threads().spawn_fifo(move || {
                    // A panic is the mail's own failure, not the reading thread's (rayon would
                    // abort the process).
                    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        prepare(&config, &registry, &pool, raw, how)
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
    use sha2::Digest;
    let sha = crate::store::hex(&sha2::Sha256::digest(&raw.bytes));
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
