//! The IMAP intake benchmark (not a test): loads N realistic mails (the sample campaign's mails,
//! each with its own Message-ID) into a private Dovecot and prints, in one run:
//!
//! - the bare fetch of all of them (`UID FETCH 1:* BODY.PEEK[]`, nothing done with the bytes): no
//!   client can take mail faster;
//! - calamine alone reading every attached workbook (every sheet, every cell): no reader can be
//!   faster;
//! - `cts-intake run --once` taking all of them from fetch to stored result, as its own process
//!   (started and ended: connection, listing, fetch, parse, read, validate, dedupe, every result
//!   and every reply's draft committed, logout): the run's wall time less the time it then spends
//!   on the replies (composed from their drafts, written as .eml files) and the report, which it
//!   prints on its `Time:` line and which are shown beside ("replies measured separately": see
//!   also `cargo bench --bench smtp`);
//! - the ratio of that to the sum of the two floors, mails per second, the peak memory while
//!   taking mail (printed by the run) and of the whole run (wait4), and the processor time the
//!   run used (all threads: on a busy machine the wall time says less);
//! - the processor time Dovecot itself used (all its processes) during the bare fetch and during
//!   the run: both sides share the machine's cores.
//!
//! Each figure is the median of `CTS_BENCH_RUNS` runs (default 5), each intake run on a fresh
//! data folder. The floors and cts-intake take turns, run by run, and the ratio is the median of
//! each run's ratio to the floors measured just before it (the machine is shared: its load moves
//! both sides of a run's ratio alike); the range of the runs' ratios is printed beside it.
//!
//! Usage: `scripts/bench-imap [N...]` (default 2000), which builds in release mode first;
//! A binary with a `bench-config.toml` beside it runs on that configuration instead of
//! `config/default.toml` (a build of an older commit, on that commit's default.toml).
//! `CTS_BENCH_DATA=/dev/shm` keeps cts-intake's data folder on tmpfs; `CTS_BENCH_BIN=a:b` runs
//! two (or more) cts-intake builds in turn against the same mails and floors and prints a line
//! for each (on a shared machine, the fair way to compare two changes); `CTS_BENCH_BATCH=N` sets
//! the batch size; `CTS_BENCH_WRAP="perf record -g"` runs each intake under a profiler;
//! `CTS_BENCH_LOG=cts_intake=debug` passes a log filter to it.

#[path = "../tests/it/mailstack.rs"]
mod mailstack;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use calamine::Reader;
use cts_intake::config::ImapConfig;
use futures::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};

const USER: &str = "cttt@namdinh.edu.vn";
const PASSWORD: &str = "bench";

fn main() {
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("N is a number"))
        .collect();
    let ns = if ns.is_empty() { vec![2000] } else { ns };
    // SAFETY: set once, before any thread reads the environment.
    unsafe { std::env::set_var("CTS_BENCH_IMAP_PASSWORD", PASSWORD) };
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>7} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "N",
        "fetch s",
        "calamine s",
        "floors s",
        "intake s",
        "ratio",
        "ratio range",
        "mails/s",
        "peak MiB",
        "cpu s",
        "fetch srv",
        "srv cpu s",
        "replies s",
        "report s",
        "run s",
        "run MiB"
    );
    for n in ns {
        bench(n);
    }
}

/// N mails cycling through the sample campaign, each with its own Message-ID.
fn realistic(n: usize) -> Vec<Vec<u8>> {
    let samples = cts_testkit::sample_mails();
    (0..n)
        .map(|i| {
            let bytes = &samples[i % samples.len()].bytes;
            let text = String::from_utf8_lossy(bytes);
            let text = text.replacen("Message-ID: <", &format!("Message-ID: <b{i}."), 1);
            text.into_bytes()
        })
        .collect()
}

fn imap_config(d: &mailstack::Dovecot) -> ImapConfig {
    let mut c = ImapConfig::from_url(&format!(
        "imaps://cttt%40namdinh.edu.vn@127.0.0.1:{}/INBOX",
        d.imaps_port
    ))
    .unwrap();
    c.ca_file = Some(d.ca_file());
    c.password_env = Some("CTS_BENCH_IMAP_PASSWORD".into());
    c
}

fn bench(n: usize) {
    let d = mailstack::Dovecot::start(&[(USER, PASSWORD)]);
    let mails = realistic(n);
    let config = imap_config(&d);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = cts_intake::mailbox::imap::connect(&config).await.unwrap();
        for m in &mails {
            s.append("INBOX", None, None, m).await.unwrap();
        }
        s.logout().await.unwrap();
    });

    // CTS_BENCH_RUNS (default 5): each measure is taken that many times and the median kept,
    // since this machine is shared and one run says little.
    let runs: usize = std::env::var("CTS_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    // The attached workbooks, for the calamine floor, wait in a file between runs: this process
    // holds none of them (nor any mail) when it starts cts-intake (see below).
    let mut workbook_file = tempfile::tempfile().unwrap();
    save_workbooks(&mut workbook_file, &workbooks(&mails));
    drop(mails);
    // cts-intake, its own process. Its peak memory comes from wait4, and Linux counts in it the
    // high-water mark of the memory image exec replaced: with the vfork that std uses by
    // default, that is this process's whole peak (it held every mail). So the child is made by
    // a real fork (a `pre_exec` hook makes std fork), after this process gave back the mails and
    // workbooks it held; its image is then this process's current size, which must be below the
    // peak.
    let bins = binaries();
    let mut fetches = Vec::new();
    let mut fetch_servers = Vec::new();
    let mut calamines = Vec::new();
    let mut intakes: Vec<Vec<Intake>> = bins.iter().map(|_| Vec::new()).collect();
    let mut own_kib = 0;
    for _ in 0..runs {
        // The floors and cts-intake take turns, run by run: a change in the machine's load (it
        // is shared) then moves both sides of each run's ratio alike.
        let before = server_cpu(&d);
        fetches.push(bare_fetch(&rt, &config, n));
        fetch_servers.push(server_cpu(&d) - before);
        let attachments = load_workbooks(&mut workbook_file);
        calamines.push(calamine_alone(&attachments));
        drop(attachments);
        // SAFETY: malloc_trim only returns free heap memory to the system.
        unsafe { libc::malloc_trim(0) };
        own_kib = own_kib.max(resident_kib());
        for (bin, runs) in bins.iter().zip(&mut intakes) {
            runs.push(intake_run(&d, n, bin));
        }
    }
    for i in intakes.iter().flatten() {
        assert!(
            own_kib < i.peak_kib,
            "the benchmark process ({own_kib} KiB) is larger than cts-intake's measured peak \
             ({} KiB), which then says nothing",
            i.peak_kib
        );
    }
    let floors: Vec<Duration> = fetches
        .iter()
        .zip(&calamines)
        .map(|(f, c)| *f + *c)
        .collect();
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[runs / 2]
    };
    let (fetch, calamine, floor) = (
        median(fetches.clone()),
        median(calamines.clone()),
        median(floors.clone()),
    );
    fetch_servers.sort_by(f64::total_cmp);
    let fetch_server = fetch_servers[runs / 2];
    for (bin, intakes) in bins.iter().zip(intakes) {
        // Each run's ratio is to the floors measured just before it.
        let mut ratios: Vec<f64> = intakes
            .iter()
            .zip(&floors)
            .map(|(i, f)| secs(i.intake) / secs(*f))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let mut intakes = intakes;
        intakes.sort_by_key(|i| i.intake);
        let i = &intakes[runs / 2];
        let label = if bins.len() > 1 {
            format!("  {}", bin.display())
        } else {
            String::new()
        };
        let ratio = Ratio {
            median: ratios[runs / 2],
            low: ratios[0],
            high: ratios[runs - 1],
        };
        let floors = Floors {
            fetch,
            fetch_server,
            calamine,
            sum: floor,
        };
        print_line(n, &floors, i, ratio, &label);
    }
}

/// The floors' medians.
struct Floors {
    fetch: Duration,
    /// The processor time the IMAP server (all its processes) used during the bare fetch (s).
    fetch_server: f64,
    calamine: Duration,
    /// The median of the runs' sums (not the sum of the two medians).
    sum: Duration,
}

/// The runs' ratios of cts-intake to the floors: their median and range.
struct Ratio {
    median: f64,
    low: f64,
    high: f64,
}

/// Writes the workbooks to `file`, each after its length.
fn save_workbooks(file: &mut std::fs::File, workbooks: &[Vec<u8>]) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(file);
    for b in workbooks {
        w.write_all(&(b.len() as u64).to_le_bytes()).unwrap();
        w.write_all(b).unwrap();
    }
    w.flush().unwrap();
}

/// Reads back what [`save_workbooks`] wrote.
fn load_workbooks(file: &mut std::fs::File) -> Vec<Vec<u8>> {
    use std::io::{Read, Seek};
    file.rewind().unwrap();
    let mut all = Vec::new();
    file.read_to_end(&mut all).unwrap();
    let mut out = Vec::new();
    let mut rest = all.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<8>() {
        let len = u64::from_le_bytes(*len) as usize;
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

fn print_line(n: usize, floors: &Floors, i: &Intake, ratio: Ratio, label: &str) {
    println!(
        "{:>6} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>7.2} {:>11} {:>9.0} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.1}{label}",
        n,
        secs(floors.fetch),
        secs(floors.calamine),
        secs(floors.sum),
        secs(i.intake),
        ratio.median,
        format!("{:.2}-{:.2}", ratio.low, ratio.high),
        n as f64 / secs(i.intake),
        i.taking_peak_mib,
        i.cpu,
        floors.fetch_server,
        i.server_cpu,
        secs(i.replies),
        secs(i.report),
        secs(i.whole),
        i.peak_kib as f64 / 1024.0
    );
}

/// Floor 1: the bare fetch of every mail (`UID FETCH 1:* BODY.PEEK[]`, nothing done with them).
fn bare_fetch(rt: &tokio::runtime::Runtime, config: &ImapConfig, n: usize) -> Duration {
    let start = Instant::now();
    let fetched = rt.block_on(async {
        let mut s = cts_intake::mailbox::imap::connect(config).await.unwrap();
        s.select("INBOX").await.unwrap();
        let mut stream = s.uid_fetch("1:*", "(UID BODY.PEEK[])").await.unwrap();
        let mut count = 0usize;
        while let Some(f) = stream.try_next().await.unwrap() {
            if f.body().is_some() {
                count += 1;
            }
        }
        drop(stream);
        s.logout().await.unwrap();
        count
    });
    let fetch = start.elapsed();
    assert_eq!(fetched, n);
    fetch
}

/// The workbooks attached to the mails.
fn workbooks(mails: &[Vec<u8>]) -> Vec<Vec<u8>> {
    mails
        .iter()
        .filter_map(|m| MessageParser::default().parse(m))
        .flat_map(|m| {
            m.attachments()
                .filter(|a| {
                    a.attachment_name()
                        .is_some_and(|n| n.ends_with(".xlsx") || n.ends_with(".xls"))
                })
                .map(|a| a.contents().to_vec())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Floor 2: calamine alone on every attached workbook (every sheet, every cell).
fn calamine_alone(attachments: &[Vec<u8>]) -> Duration {
    let start = Instant::now();
    let mut cells = 0usize;
    for a in attachments {
        if let Ok(mut wb) = calamine::open_workbook_auto_from_rs(Cursor::new(a.as_slice())) {
            for name in wb.sheet_names() {
                if let Ok(range) = wb.worksheet_range(&name) {
                    cells += range.used_cells().count();
                }
            }
        }
    }
    std::hint::black_box(cells);
    start.elapsed()
}

/// One `cts-intake run --once` on a fresh data folder.
struct Intake {
    /// Fetch to stored result: the run less its replies and report.
    intake: Duration,
    whole: Duration,
    replies: Duration,
    report: Duration,
    /// Peak memory while taking mail (MiB, as the run prints it).
    taking_peak_mib: f64,
    /// Peak memory of the whole run (wait4, KiB).
    peak_kib: i64,
    /// Processor time, all threads (s).
    cpu: f64,
    /// Processor time the IMAP server used during the run (s).
    server_cpu: f64,
}

fn intake_run(d: &mailstack::Dovecot, n: usize, bin: &Path) -> Intake {
    // CTS_BENCH_DATA=/dev/shm puts the data folder on tmpfs, to separate the disk's fsync cost
    // (cts-intake syncs each reply file; the floors write nothing).
    let dir = match std::env::var_os("CTS_BENCH_DATA") {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let config_path = write_config(dir.path(), d, bin);
    let server_before = server_cpu(d);
    let start = Instant::now();
    let mut command = match std::env::var("CTS_BENCH_WRAP") {
        Ok(wrap) if !wrap.is_empty() => {
            let mut words = wrap.split_whitespace();
            let mut c = std::process::Command::new(words.next().unwrap());
            c.args(words).arg(bin);
            c
        }
        _ => std::process::Command::new(bin),
    };
    // SAFETY: the hook does nothing; it only makes std fork instead of vfork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || Ok(()));
    }
    // Reaped below by wait4, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = command
        .arg("--config")
        .arg(&config_path)
        .args(["run", "--once"])
        .env(
            "CTS_INTAKE_LOG",
            std::env::var("CTS_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); scripts/bench-imap builds it",
                bin.display()
            )
        });
    let (ok, peak_kib, cpu) = wait_with_peak_memory(child.id());
    let whole = start.elapsed();
    let server = server_cpu(d) - server_before;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(ok, "cts-intake run --once failed:\n{out}");
    // "Time: taking mail X s, replies Y s, report Z s": the replies (composed from their drafts
    // and written as .eml files) and the report come after the intake; they are not part of
    // "fetch to stored result" (the replies have their own benchmark, benches/smtp.rs).
    let (replies, report, taking_peak_mib) = times(&out);
    let taken: i64 = rusqlite::Connection::open(dir.path().join("data/intake.sqlite3"))
        .unwrap()
        .query_row("SELECT count(*) FROM mails", [], |r| r.get(0))
        .unwrap();
    assert_eq!(taken as usize, n, "every mail taken");
    Intake {
        intake: whole.saturating_sub(replies + report),
        whole,
        replies,
        report,
        taking_peak_mib,
        peak_kib,
        cpu,
        server_cpu: server,
    }
}

/// The processor time (user and system, seconds) used so far by the IMAP server: every process
/// of its process group, and the children its master has reaped (each session's `imap` process
/// ends with its session). Waits a moment first, so that a session just logged out is reaped:
/// outside the timed part of each run.
fn server_cpu(d: &mailstack::Dovecot) -> f64 {
    std::thread::sleep(Duration::from_millis(50));
    let master = d.pid().expect("Dovecot runs") as i64;
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0i64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After "pid (comm) ": state, ppid, pgrp, ... utime is field 14, stime 15, cutime 16,
        // cstime 17 (man 5 proc); the comm may hold spaces, so fields count from its ")".
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<i64> = rest.split(' ').map(|x| x.parse().unwrap_or(0)).collect();
        if f.len() < 15 || f[2] != master {
            continue;
        }
        ticks += f[11] + f[12];
        if entry.file_name().to_str() == Some(&master.to_string()) {
            ticks += f[13] + f[14];
        }
    }
    ticks as f64 / tick
}

/// This process's resident memory now (KiB), from /proc.
fn resident_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// The reply and report times, and the peak memory while taking mail, from the run's "Time:"
/// line.
fn times(out: &str) -> (Duration, Duration, f64) {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("Time: "))
        .unwrap_or_else(|| panic!("no Time: line in the run's output:\n{out}"));
    let number = |label: &str| -> Duration {
        let rest = &line[line.find(label).expect(label) + label.len()..];
        let n: f64 = rest
            .trim_start()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Duration::from_secs_f64(n)
    };
    let peak = number("peak memory").as_secs_f64();
    (number("replies"), number("report"), peak)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The binary beside this example (`target/profiling/cts-intake` from scripts/bench-imap).
/// The cts-intake binaries measured: the one beside this one, or those `CTS_BENCH_BIN` lists
/// (`old:new` compares two builds on the same machine at the same time: their runs alternate,
/// and a line is printed for each).
fn binaries() -> Vec<PathBuf> {
    match std::env::var("CTS_BENCH_BIN") {
        Ok(list) if !list.is_empty() => list.split(':').map(PathBuf::from).collect(),
        _ => vec![binary()],
    }
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("cts-intake")
}

/// The run's configuration: `config/default.toml`, or the `bench-config.toml` beside `bin` (a
/// build of another commit, which may not know today's keys, runs on its own default).
fn write_config(dir: &Path, d: &mailstack::Dovecot, bin: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = bin.with_file_name("bench-config.toml");
    let template = if own.exists() {
        own
    } else {
        root.join("config/default.toml")
    };
    let text = std::fs::read_to_string(template)
        .unwrap()
        .replace("maildir = \"../samples/maildir\"\n", "")
        .replace(
            "data-dir = \"../var\"",
            &format!("data-dir = {:?}", dir.join("data")),
        )
        .replace(
            "file = \"units.csv\"",
            &format!("file = {:?}", root.join("config/units.csv")),
        );
    let imap = format!(
        "\n[source.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nuser = {USER:?}\n\
         password-env = \"CTS_BENCH_IMAP_PASSWORD\"\nca-file = {:?}\n",
        d.imaps_port,
        d.ca_file()
    );
    // CTS_BENCH_BATCH=N: the IMAP batch size (else the configuration's default).
    let imap = match std::env::var("CTS_BENCH_BATCH") {
        Ok(n) => format!("{imap}batch-size = {n}\n"),
        Err(_) => imap,
    };
    let path = dir.join("config.toml");
    std::fs::write(&path, text + &imap).unwrap();
    path
}

/// Waits for a child and returns whether it exited 0, its peak resident memory (KiB) and the
/// processor time it used (user and system, all threads, seconds).
fn wait_with_peak_memory(pid: u32) -> (bool, i64, f64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as i32, "wait4 failed");
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
        tv(usage.ru_utime) + tv(usage.ru_stime),
    )
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}
