//! Benchmark (not a test): where the intake's time goes, in one process, without a mail server.
//! N realistic mails (the sample campaign's, cycled, each with its own Message-ID, as
//! `scripts/bench-imap` loads into Dovecot) are parsed and their lists read (one core), then
//! taken as the daemon takes them, in batches (100 mails by default): each mail read on every core as its batch
//! comes, the batch recorded in one transaction as its mails are read, into a fresh store on
//! tmpfs; then every reply is composed from its draft and
//! written as an .eml file (the rate limit off), and the report is written.
//! Prints the seconds of each phase. `cargo bench --bench intake [-- N]` (default 2000).
use cts_intake::config::{Config, Overrides};
use cts_intake::daemon::{How, Intake, Reads};
use cts_intake::mailbox::RawMail;
use std::time::{Duration, Instant};

// As the binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let samples = cts_testkit::sample_mails();
    println!(
        "samples: {}, {} KiB each on average",
        samples.len(),
        samples.iter().map(|s| s.bytes.len()).sum::<usize>() / samples.len() / 1024
    );
    let mails: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let text = String::from_utf8_lossy(&samples[i % samples.len()].bytes);
            text.replacen("Message-ID: <", &format!("Message-ID: <b{i}."), 1)
                .into_bytes()
        })
        .collect();
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("config/default.toml"))
        .unwrap()
        .replace(
            "data-dir = \"../var\"",
            &format!("data-dir = {:?}", dir.path().join("data")),
        )
        .replace(
            "file = \"units.csv\"",
            &format!("file = {:?}", root.join("config/units.csv")),
        )
        // Every reply composed and written (the same few senders would otherwise be held by
        // the reply budgets: the per-recipient limit after their tenth reply, the overall one,
        // the same no-list answer once in a few days).
        .replace("rate-limit-per-hour = 10", "rate-limit-per-hour = 0")
        .replace(
            "rate-limit-overall-per-hour = 200",
            "rate-limit-overall-per-hour = 0",
        )
        .replace("same-answer-days = 3", "same-answer-days = 0");
    let cp = dir.path().join("c.toml");
    std::fs::write(&cp, text).unwrap();
    let config = Config::load(&cp, &Overrides::default()).unwrap();
    let addr = config.campaign.department_address.clone();

    let t = Instant::now();
    let parsed: Vec<_> = mails
        .iter()
        .map(|m| cts_intake::mail::parse(m, &addr))
        .collect();
    println!("parse      {:.3}", t.elapsed().as_secs_f64());
    let ctx = cts_intake::validate::Context {
        reference_date: config.campaign.reference_date(),
        min_age: config.rules.min_age,
        max_age: config.rules.max_age,
        official_domains: config.campaign.official_domains.clone(),
        unit_name: String::new(),
    };
    let t = Instant::now();
    for p in &parsed {
        std::hint::black_box(cts_intake::pipeline::read_lists(p, &ctx));
    }
    println!("read_lists {:.3}", t.elapsed().as_secs_f64());
    let answers: usize = parsed
        .iter()
        .map(|p| {
            serde_json::to_vec(&cts_intake::pipeline::read_lists(p, &ctx))
                .unwrap()
                .len()
        })
        .sum();
    println!(
        "answers    {} bytes a mail as JSON",
        answers / parsed.len().max(1)
    );
    let t = Instant::now();
    for m in &mails {
        std::hint::black_box(sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(m),
        ));
    }
    println!("sha        {:.3}", t.elapsed().as_secs_f64());

    let mut config = config;
    config.reader.program = Some(
        std::env::var_os("CTS_BENCH_READER")
            .map_or_else(|| env!("CARGO_BIN_EXE_cts-intake").into(), Into::into),
    );
    let mut intake = Intake::open(config).unwrap();
    // The same reading through one reader process, one mail at a time: beside read_lists, the
    // cost of the reader protocol (copies, pipes, the answer's encoding, waking each side).
    let (t, own, readers) = (Instant::now(), own_cpu(), children_cpu());
    for p in &parsed {
        std::hint::black_box(intake.readers.read(&p.attachments, &ctx).unwrap().unwrap());
    }
    println!(
        "reader     {:.3} (the lists read in a reader process, one at a time; cpu here {:.3}, in the reader {:.3})",
        t.elapsed().as_secs_f64(),
        own_cpu() - own,
        children_cpu() - readers
    );
    // As the daemon takes them: batches of the default size (CTS_BENCH_BATCH), each mail read on
    // the reading threads as soon as its batch is "fetched", one batch ahead of the one recorded.
    let size = std::env::var("CTS_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(cts_intake::config::DEFAULT_BATCH_SIZE);
    let t = Instant::now();
    let mut ahead = std::collections::VecDeque::new();
    let mut recording = Duration::ZERO;
    let mut chunks = mails.chunks(size).enumerate().peekable();
    while chunks.peek().is_some() || !ahead.is_empty() {
        while ahead.len() < 2
            && let Some((b, chunk)) = chunks.next()
        {
            let batch: Vec<(RawMail, How)> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let raw = RawMail {
                        source_key: format!("k{b}.{i}"),
                        received_at: chrono::Utc::now(),
                        bytes: m.clone(),
                    };
                    (raw, How::Normal)
                })
                .collect();
            ahead.push_back(Reads::start(
                &intake.config,
                &intake.registry,
                &intake.readers,
                batch,
            ));
        }
        let reads = ahead.pop_front().expect("a batch ahead");
        let start = Instant::now();
        for r in intake.record_batch("bench", reads.into_results()) {
            r.unwrap();
        }
        recording += start.elapsed();
    }
    println!(
        "take       {:.3} (read on every core beside the recording: {:.3}, waits included)",
        t.elapsed().as_secs_f64(),
        recording.as_secs_f64()
    );
    let db = dir.path().join("data/intake.sqlite3");
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    println!(
        "store      {:.1} MiB (+ WAL {:.1} MiB)",
        size(&db) as f64 / 1048576.0,
        size(&db.with_extension("sqlite3-wal")) as f64 / 1048576.0
    );
    let t = Instant::now();
    let w = intake.deliver().unwrap();
    println!("replies    {:.3} ({w})", t.elapsed().as_secs_f64());
    let t = Instant::now();
    intake.write_report().unwrap();
    println!("report     {:.3}", t.elapsed().as_secs_f64());
}

/// This process's processor time so far (s), all threads.
fn own_cpu() -> f64 {
    cts_intake::daemon::summary::cpu_time().as_secs_f64()
}

/// The processor time so far (s) of this process's living children (the reader processes).
fn children_cpu() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 12 {
                total += (f[11].parse::<f64>().unwrap_or(0.0)
                    + f[12].parse::<f64>().unwrap_or(0.0))
                    / tick;
            }
        }
    }
    total
}
