//! The reader's side: greet, then answer each request with the lists read from its attachments
//! (a group's answers together), until the daemon closes the input.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use super::protocol;
use crate::mail::ParsedMail;

/// Runs a reader on standard input and output. `cpu` is the processor time each request may
/// take: the soft `RLIMIT_CPU` is moved to the time used so far plus `cpu` before each one, so
/// the kernel ends a reader that loops (SIGXCPU).
pub fn serve(cpu: Duration) -> Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    // Standard output unbuffered: an answer is one write of its whole frame (std's stdout is
    // line-buffered, which would cut it in pieces, each waking the daemon).
    // SAFETY: fd 1 stays open for the process's life; ManuallyDrop never closes it.
    let mut output = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(1)
    });
    let output = &mut *output;
    output.write_all(protocol::HELLO)?;
    output.flush()?;
    // The answers of the group being read, written together after its last request.
    let mut answers = Vec::new();
    while let Some(request) = protocol::decode_request(&mut input)? {
        limit_cpu(cpu);
        let mail = ParsedMail {
            attachments: request.attachments,
            ..Default::default()
        };
        let lists = crate::pipeline::read_lists(&mail, &request.context);
        protocol::add_answer(&mut answers, &lists)?;
        if !request.more {
            output.write_all(&answers)?;
            answers.clear();
            answers.shrink_to(1024 * 1024);
        }
    }
    Ok(())
}

/// Moves the soft processor-time limit to the time used so far plus `cpu`.
fn limit_cpu(cpu: Duration) {
    #[cfg(target_os = "linux")]
    // SAFETY: getrusage and setrlimit on local values.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return;
        }
        let used = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) as u64 + 1;
        let limit = libc::rlimit {
            rlim_cur: (used + cpu.as_secs().max(1)) as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        libc::setrlimit(libc::RLIMIT_CPU, &limit);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}
