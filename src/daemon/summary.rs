//! What taking one mail did, for the logs, and the counts of a whole `run`, for its closing
//! summary.

use std::time::Duration;

use crate::pipeline::{Outcome, OutcomeKind, ReplyKind};

/// What taking one mail did, for the logs and the run summary.
#[derive(Debug, Clone)]
pub struct Taken {
    pub outcome: OutcomeKind,
    pub reply: ReplyKind,
    pub unit: Option<String>,
    pub note: String,
    /// The mail's Message-ID (without angle brackets; empty when it has none), for the logs.
    pub message_id: String,
}

impl Taken {
    /// What an outcome recorded says of the mail.
    pub(super) fn of(o: &Outcome, message_id: &str) -> Taken {
        Taken {
            outcome: o.kind,
            reply: o.reply,
            unit: o.unit.as_ref().map(|u| u.code.clone()),
            note: o.note.clone(),
            message_id: crate::text::cut(message_id, 200).into_owned(),
        }
    }
}

/// Counts of one `run`, for the closing summary.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub taken: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub no_list: usize,
    pub held: usize,
    pub ignored: usize,
    pub duplicate: usize,
    /// Mails listed again after a UIDVALIDITY change and recognised as taken before.
    pub known: usize,
    /// Mails over the size limit (held, header kept).
    pub oversized: usize,
    /// Mails that could not be taken this time (read error); they are retried next pass.
    pub failed: usize,
    pub replies_written: usize,
    /// Time spent taking mail: listing, fetching, reading, recording (fetch to stored result).
    pub taking: Duration,
    /// Time spent composing and writing replies into the outbox folder (without an SMTP
    /// server; with one, the sender task composes and sends them beside the intake).
    pub replying: Duration,
    /// Time spent writing the report.
    pub reporting: Duration,
    /// The process's peak resident memory when it last finished taking mail, before the
    /// replies and the report (KiB; Linux only).
    pub taking_peak_kib: Option<u64>,
    /// The peak resident memory while the replies were composed and written, and while the
    /// report was written (each measured from the end of the stage before: see
    /// [`reset_peak_memory`]; KiB; Linux only).
    pub replying_peak_kib: Option<u64>,
    pub reporting_peak_kib: Option<u64>,
    /// The CPU time the process itself (every thread, reader processes aside) spent composing
    /// and writing replies, and writing the report ([`cpu_time`]): on a loaded machine the
    /// wall times above wait for the CPU, these do not.
    pub replying_cpu: Duration,
    pub reporting_cpu: Duration,
}

impl RunSummary {
    pub(super) fn count(&mut self, t: &Taken) {
        self.taken += 1;
        match t.outcome {
            OutcomeKind::Accepted => self.accepted += 1,
            OutcomeKind::Rejected => self.rejected += 1,
            OutcomeKind::NoList => self.no_list += 1,
            OutcomeKind::Held => self.held += 1,
            OutcomeKind::Ignored => self.ignored += 1,
            OutcomeKind::Duplicate => self.duplicate += 1,
        }
    }
}

/// The CPU time (user and system) the process's threads have used so far (not its child
/// processes'); zero where it cannot be read.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given, which is zeroed and ours.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The process's peak resident memory so far (VmHWM, KiB), where /proc tells it.
pub fn peak_memory_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Starts the peak resident memory over from what is resident now (`/proc/self/clear_refs`,
/// "5"), so the next [`peak_memory_kib`] is the peak of one stage. False where it cannot.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
