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
    /// The raw bytes were committed before the mail was read (the daemon's pass): recording
    /// need not look for them again.
    pub(super) kept: bool,
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

/// Starts a reader for each reading thread ahead of need ([`Pool::reserve_ahead`]), on the
/// reading threads themselves (a reader lives as long as the thread that started it, and these
/// live as long as the process).
pub(super) fn start_readers(readers: &Arc<Pool>) {
    let pool = reading_threads();
    for _ in 0..readers.reserve_ahead(pool.current_num_threads()) {
        let readers = readers.clone();
        pool.spawn_fifo(move || readers.start_ahead());
    }
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
/// as it is fetched, oldest first; [`Reads::into_results`] gives them in order, each waited for.
/// The daemon's pass waits for a whole batch before it locks the intake to record it, so the
/// batches after it are read (and their raw bytes committed) while it is recorded.
pub struct Reads {
    pending: Vec<std::sync::mpsc::Receiver<std::thread::Result<Result<Prepared>>>>,
}

/// How many consecutive mails of a batch of `mails` go to a reading thread together: enough
/// that a reader and the thread wake once for several mails (a wake-up on another core is
/// dear, in a virtual machine above all), few enough that every thread has several groups of
/// a batch and the first mails are recorded while the rest are read. A mail read alone (one
/// whose reading did not finish before) is a group of one.
fn group_size(mails: usize, threads: usize) -> usize {
    (mails / (4 * threads.max(1))).clamp(1, 8)
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

    /// Starts reading mails whose raw bytes (and attempt) are already kept. Consecutive mails
    /// go to the reading threads in small groups ([`group_size`]), each group's lists read in
    /// one exchange with a reader ([`Pool::read_group`]).
    pub(super) fn start_items(
        config: &Arc<Config>,
        registry: &Arc<Registry>,
        readers: &Arc<Pool>,
        items: impl IntoIterator<Item = ToRead>,
    ) -> Reads {
        let items: Vec<ToRead> = items.into_iter().collect();
        let size = group_size(items.len(), reading_threads().current_num_threads());
        let mut pending = Vec::with_capacity(items.len());
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let group: Vec<ToRead> = items.by_ref().take(size).collect();
            let mut senders = Vec::with_capacity(group.len());
            for _ in 0..group.len() {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                senders.push(tx);
                pending.push(rx);
            }
            let (config, registry, pool) = (config.clone(), registry.clone(), readers.clone());
            reading_threads().spawn_fifo(move || {
                let read = prepare_group(&config, &registry, &pool, group);
                for (tx, read) in senders.into_iter().zip(read) {
                    // The receiver is gone when the pass ended early (shutdown, an error).
                    let _ = tx.send(read);
                }
            });
        }
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
    /// SHA-256 of the raw bytes, when they were kept (committed) before reading.
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
    prepare_group(config, registry, readers, vec![item])
        .pop()
        .expect("one result for one mail")
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "reading the mail failed: the reader panicked"
            ))
        })
}

/// A mail parsed, its lists not yet read.
struct Started {
    raw: RawMail,
    how: How,
    sha: String,
    kept: bool,
    parsed: crate::mail::ParsedMail,
    begun: pipeline::Begun,
}

impl Started {
    /// What its lists are read against, when it has lists for a reader (attachments, and a
    /// reading not finished already).
    fn to_read(&self) -> Option<&crate::validate::Context> {
        match &self.begun {
            pipeline::Begun::Lists(pending) if !self.parsed.attachments.is_empty() => {
                Some(&pending.context)
            }
            _ => None,
        }
    }
}

/// Prepares a group of consecutive mails: each is parsed, the lists of all of them are read
/// in one exchange with a reader, then each reading is finished. A panic is its mail's own
/// failure, not the group's (nor the reading thread's: rayon would abort the process).
fn prepare_group(
    config: &Config,
    registry: &Registry,
    readers: &Pool,
    items: Vec<ToRead>,
) -> Vec<std::thread::Result<Result<Prepared>>> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let started: Vec<std::thread::Result<Started>> = items
        .into_iter()
        .map(|item| catch_unwind(AssertUnwindSafe(|| start(config, registry, item))))
        .collect();
    let jobs: Vec<(&[crate::mail::Attachment], &crate::validate::Context)> = started
        .iter()
        .flatten()
        .filter_map(|s| Some((&s.parsed.attachments[..], s.to_read()?)))
        .collect();
    let mut answers = if jobs.is_empty() {
        Ok(Vec::new())
    } else {
        readers.read_group(&jobs)
    }
    .map(Vec::into_iter);
    started
        .into_iter()
        .map(|s| {
            let s = s?;
            let lists = match (s.to_read(), &mut answers) {
                (None, _) => None,
                (Some(_), Ok(answers)) => Some(
                    answers
                        .next()
                        .expect("an answer for each mail")
                        .unwrap_or_else(ReadLists::unread),
                ),
                // No reader could be started: the mail is taken again next pass.
                (Some(_), Err(e)) => return Ok(Err(anyhow::anyhow!("{e:#}"))),
            };
            catch_unwind(AssertUnwindSafe(|| Ok(finish(registry, s, lists))))
        })
        .collect()
}

/// The first half of preparing a mail: hash, parse, who sent it.
fn start(config: &Config, registry: &Registry, item: ToRead) -> Started {
    use sha2::Digest;
    let ToRead {
        raw,
        how,
        sha,
        poison,
    } = item;
    let kept = sha.is_some();
    let sha = sha.unwrap_or_else(|| crate::store::hex(&sha2::Sha256::digest(&raw.bytes)));
    if poison {
        // Whatever stopped the daemon twice is not done a third time: only the header is
        // parsed (for the sender, the subject, the thread), nothing is read.
        let parsed = crate::mail::parse(
            crate::mail::header(&raw.bytes),
            &config.campaign.department_address,
        );
        let reading = pipeline::read_with(&parsed, config, registry, |_, _| {
            ReadLists::unread(crate::domain::Unread::Poison)
        });
        return Started {
            raw,
            how,
            sha,
            kept,
            parsed,
            begun: pipeline::Begun::Done(reading),
        };
    }
    crash_on_test_marker(&raw.bytes);
    let parsed = crate::mail::parse(&raw.bytes, &config.campaign.department_address);
    let begun = pipeline::begin_reading(&parsed, config, registry);
    Started {
        raw,
        how,
        sha,
        kept,
        parsed,
        begun,
    }
}

/// The second half: the reading finished with the mail's lists (`None`: it has none to read).
fn finish(registry: &Registry, s: Started, lists: Option<ReadLists>) -> Prepared {
    let reading = match s.begun {
        pipeline::Begun::Done(reading) => reading,
        pipeline::Begun::Lists(pending) => {
            pending.finish(&s.parsed, registry, lists.unwrap_or_default())
        }
    };
    Prepared {
        raw: s.raw,
        how: s.how,
        sha: s.sha,
        kept: s.kept,
        parsed: s.parsed,
        reading,
    }
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
