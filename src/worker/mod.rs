//! Reading untrusted attachments in worker processes. Every spreadsheet a school sends is read by
//! a reader process (this same program, `cts-intake read-worker`) under operating-system limits:
//! an address-space limit (`RLIMIT_AS`), a processor-time limit per mail (`RLIMIT_CPU`, moved
//! forward before each mail), a wall-clock timeout kept by the daemon, no core dumps, a lower
//! priority, and death with the daemon. A file that exhausts memory (an allocation failure
//! aborts a Rust process: nothing in-process can catch it), loops or crashes a reader costs that
//! one mail a stored "held" outcome ([`Unread`]); the reader is replaced and the daemon goes on.
//!
//! The protocol ([`protocol`]) is frames over the reader's standard input and output: a request
//! holds a mail's attachments and the validation context, the answer the lists as read
//! ([`crate::pipeline::ReadLists`]). [`Pool`] keeps idle readers between mails.

pub mod protocol;
mod serve;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::config::Config;
pub use crate::domain::Unread;
use crate::mail::Attachment;
use crate::pipeline::ReadLists;
use crate::validate::Context;

pub use serve::serve;

/// The hidden subcommand that runs a reader.
pub const SUBCOMMAND: &str = "read-worker";

/// The limits one reader runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space, bytes.
    pub memory_bytes: u64,
    /// Processor time for one mail.
    pub cpu: Duration,
    /// Time for one mail, waiting included.
    pub wall: Duration,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            memory_bytes: config.reader.memory_mb.saturating_mul(1024 * 1024),
            cpu: Duration::from_secs(config.reader.cpu_seconds),
            wall: Duration::from_secs(config.reader.timeout_seconds),
        }
    }
}

/// The readers: idle processes kept between mails, started as needed (or ahead of need,
/// [`Pool::reserve_ahead`]), one per calling thread at a time.
pub struct Pool {
    program: PathBuf,
    limits: Limits,
    idle: Mutex<Idle>,
    /// Signalled when a reader started ahead of need is idle, or failed to start.
    started: std::sync::Condvar,
}

/// The readers waiting for a mail, and how many more are being started for the idle list.
#[derive(Default)]
struct Idle {
    readers: Vec<Reader>,
    starting: usize,
}

impl Pool {
    /// A pool running `program` (by default this executable) under `limits`.
    pub fn new(program: Option<PathBuf>, limits: Limits) -> Result<Pool> {
        let program = match program {
            Some(p) => p,
            None => std::env::current_exe().context("cannot find this program to run readers")?,
        };
        Ok(Pool {
            program,
            limits,
            idle: Mutex::new(Idle::default()),
            started: std::sync::Condvar::new(),
        })
    }

    /// The pool the configuration names.
    pub fn from_config(config: &Config) -> Result<Pool> {
        Pool::new(config.reader.program.clone(), Limits::from_config(config))
    }

    /// Reads a mail's attachments in a reader. `Err`: no reader could be started (the mail is
    /// not taken this time); `Ok(Err(why))`: the reader did not finish this mail.
    pub fn read(
        &self,
        attachments: &[Attachment],
        context: &Context,
    ) -> Result<std::result::Result<ReadLists, Unread>> {
        let mut request = Vec::new();
        protocol::encode_request(&mut request, context, attachments, false)?;
        let (mut reader, reused) = self.take_reader()?;
        let mut answer = reader.exchange(&request, 1, self.limits);
        if reused && matches!(answer, Err(Unread::Crashed)) {
            // An idle reader may have died meanwhile (killed by the system, say): that is not
            // this mail's doing, so it gets one fresh reader before it is blamed.
            reader = Reader::start(&self.program, self.limits)?;
            answer = reader.exchange(&request, 1, self.limits);
        }
        match answer {
            Ok(mut answer) => {
                self.give_back(reader);
                Ok(Ok(answer.pop().expect("one answer for one request")))
            }
            Err(why) => {
                tracing::warn!(
                    reader = reader.child.id(),
                    why = why.code(),
                    "a reader did not finish a mail; it is replaced"
                );
                Ok(Err(why))
            }
        }
    }

    /// Reads several mails' attachments (each with its context) in one reader, as one group:
    /// the requests go in one write and the answers come back in one, so the reader and the
    /// calling thread each wake once for the group instead of once a mail. When the reader
    /// does not finish the group (a mail of it exhausted a limit, or the reader died), each
    /// mail is read again alone ([`Pool::read`]), so only the mail at fault is held and the
    /// others are answered as if nothing had happened. `Err`: no reader could be started.
    pub fn read_group(
        &self,
        jobs: &[(&[Attachment], &Context)],
    ) -> Result<Vec<std::result::Result<ReadLists, Unread>>> {
        if jobs.len() > 1 {
            let mut request = Vec::new();
            for (i, (attachments, context)) in jobs.iter().enumerate() {
                protocol::encode_request(&mut request, context, attachments, i + 1 < jobs.len())?;
            }
            let (mut reader, _) = self.take_reader()?;
            match reader.exchange(&request, jobs.len(), self.limits) {
                Ok(answers) => {
                    self.give_back(reader);
                    return Ok(answers.into_iter().map(Ok).collect());
                }
                Err(why) => tracing::info!(
                    reader = reader.child.id(),
                    why = why.code(),
                    mails = jobs.len(),
                    "a reader did not finish a group of mails; each is read again alone"
                ),
            }
        }
        jobs.iter().map(|(a, c)| self.read(a, c)).collect()
    }

    /// Reserves readers to start ahead of need, so the first mails of a pass do not wait for
    /// one to start (a process start is a few milliseconds): as many as keep `n` idle or being
    /// started. The caller then runs [`Pool::start_ahead`] that many times.
    pub fn reserve_ahead(&self, n: usize) -> usize {
        match self.idle.lock() {
            Ok(mut idle) => {
                let want = n.saturating_sub(idle.readers.len() + idle.starting);
                idle.starting += want;
                want
            }
            Err(_) => 0,
        }
    }

    /// Starts one reader reserved by [`Pool::reserve_ahead`] and keeps it idle. Run it on a
    /// thread that lives as long as the pool: a reader is killed when the thread that started
    /// it ends (`PR_SET_PDEATHSIG` follows the thread, not the process). A reader that cannot
    /// start is only logged: the mail that would have used it starts its own, and reports why.
    pub fn start_ahead(&self) {
        let reader = Reader::start(&self.program, self.limits);
        if let Err(e) = &reader {
            tracing::debug!(error = %format!("{e:#}"), "a reader started ahead did not start");
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.starting = idle.starting.saturating_sub(1);
            idle.readers.extend(reader.ok());
        }
        self.started.notify_all();
    }

    /// An idle reader (waiting for one being started ahead, [`Pool::reserve_ahead`]), or a new
    /// one; and whether it was idle.
    fn take_reader(&self) -> Result<(Reader, bool)> {
        if let Ok(mut idle) = self.idle.lock() {
            loop {
                if let Some(r) = idle.readers.pop() {
                    return Ok((r, true));
                }
                if idle.starting == 0 {
                    break;
                }
                // Not long: a reader slow to start is not waited for, another is started.
                match self.started.wait_timeout(idle, Duration::from_secs(1)) {
                    Ok((i, timeout)) if !timeout.timed_out() => idle = i,
                    _ => break,
                }
            }
        }
        Ok((Reader::start(&self.program, self.limits)?, false))
    }

    fn give_back(&self, reader: Reader) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.readers.push(reader);
        }
    }
}

/// One reader process.
struct Reader {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Reader {
    /// Starts a reader and waits for its greeting (so a program that is not a reader, or one
    /// that cannot start, is an error here rather than a held mail later).
    fn start(program: &std::path::Path, limits: Limits) -> Result<Reader> {
        let mut command = Command::new(program);
        command
            .arg(SUBCOMMAND)
            .arg("--cpu-seconds")
            .arg(limits.cpu.as_secs().max(1).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env_remove("CTS_INTAKE_IMAP_PASSWORD")
            .env_remove("CTS_INTAKE_SMTP_PASSWORD")
            // A panic a reader catches (calamine on a damaged file) must not resolve and print
            // a backtrace: that takes time and memory for each such file.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        let memory = limits.memory_bytes;
        // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, setpriority,
        // prctl) on values computed before the fork.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(move || limit_self(memory));
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start a reader ({})", program.display()))?;
        let stdin = child.stdin.take().context("the reader's input")?;
        let stdout = child.stdout.take().context("the reader's output")?;
        widen_pipe(&stdin);
        widen_pipe(&stdout);
        let mut reader = Reader {
            child,
            stdin,
            stdout,
        };
        let mut hello = vec![0u8; protocol::HELLO.len()];
        let deadline = Instant::now() + Duration::from_secs(10);
        if reader.read_exact_by(&mut hello, deadline).is_err() || hello != protocol::HELLO {
            let _ = reader.child.kill();
            let _ = reader.child.wait();
            bail!(
                "{} did not start as a reader (`{} {SUBCOMMAND}`)",
                program.display(),
                program.display()
            );
        }
        Ok(reader)
    }

    /// Sends `request` (a group of `count` requests) and reads their answers, all within the
    /// wall-clock limit; on any failure the reader is killed and reaped, and the failure
    /// classified.
    fn exchange(
        &mut self,
        request: &[u8],
        count: usize,
        limits: Limits,
    ) -> std::result::Result<Vec<ReadLists>, Unread> {
        let deadline = Instant::now() + limits.wall;
        if self
            .stdin
            .write_all(request)
            .and_then(|()| self.stdin.flush())
            .is_err()
        {
            return Err(self.end(ReadFailure::Io));
        }
        let mut answers = Vec::with_capacity(count);
        for _ in 0..count {
            let bytes = match self.read_answer(deadline) {
                Ok(bytes) => bytes,
                Err(f) => return Err(self.end(f)),
            };
            match protocol::decode_answer(&bytes) {
                Ok(lists) => answers.push(lists),
                Err(_) => return Err(self.end(ReadFailure::Garbled)),
            }
        }
        Ok(answers)
    }

    fn read_answer(&mut self, deadline: Instant) -> std::result::Result<Vec<u8>, ReadFailure> {
        let mut len = [0u8; 8];
        self.read_exact_by(&mut len, deadline)?;
        let len = u64::from_le_bytes(len);
        if len > protocol::MAX_ANSWER_BYTES {
            return Err(ReadFailure::Garbled);
        }
        let mut bytes = vec![0u8; len as usize];
        self.read_exact_by(&mut bytes, deadline)?;
        Ok(bytes)
    }

    /// Fills `buf` from the reader's output, giving up at `deadline`.
    fn read_exact_by(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
    ) -> std::result::Result<(), ReadFailure> {
        let fd = self.stdout.as_raw_fd();
        let mut filled = 0;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadFailure::Timeout);
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the call's duration.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ReadFailure::Io);
            }
            if ready == 0 {
                continue;
            }
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => return Err(ReadFailure::Io),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadFailure::Io),
            }
        }
        Ok(())
    }

    /// Kills and reaps the reader, and says why it did not finish.
    fn end(&mut self, failure: ReadFailure) -> Unread {
        use std::os::unix::process::ExitStatusExt;
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        match failure {
            ReadFailure::Timeout => Unread::TimedOut,
            ReadFailure::Garbled => Unread::Garbled,
            ReadFailure::Io => match status.and_then(|s| s.signal()) {
                Some(libc::SIGXCPU) => Unread::CpuTime,
                _ => Unread::Crashed,
            },
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Closing its input ends an idle reader; one still running is killed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gives a pipe to a reader a buffer of 1 MiB (Linux's default is 64 KiB; 1 MiB is the most an
/// unprivileged process may ask by default): a request of a few attachments then goes in one
/// write and is read in one, instead of each side waking for every 64 KiB. A refusal leaves
/// the pipe as it was.
fn widen_pipe(pipe: &impl AsRawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on a pipe descriptor this process owns.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pipe;
}

/// How an exchange with a reader failed, before the reader's end is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFailure {
    /// The pipe broke: the reader died (its status says how).
    Io,
    Timeout,
    Garbled,
}

/// In the reader process, before it runs: the address-space limit, no core dumps (a core would
/// hold a school's personal data), a lower priority than the daemon's recording thread, and a
/// SIGKILL when the daemon dies.
fn limit_self(memory_bytes: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on values; errors are returned, not ignored.
    unsafe {
        let limit = libc::rlimit {
            rlim_cur: memory_bytes as libc::rlim_t,
            rlim_max: memory_bytes as libc::rlim_t,
        };
        if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory_bytes;
    Ok(())
}
