//! Benchmark (not a test): where the intake's time goes, in one process, without a mail server.
//! N realistic mails (the sample campaign's, cycled, each with its own Message-ID, as
//! `scripts/bench-imap` loads into Dovecot) are parsed and their lists read (one core), then
//! taken as the daemon takes them, in batches of 50 (read on every core, then recorded in one
//! transaction) into a fresh store on tmpfs; then every reply is composed from its draft and
//! written as an .eml file (the rate limit off), and the report is written.
//! Prints the seconds of each phase. `cargo bench --bench intake [-- N]` (default 2000).
use cts_intake::config::{Config, Overrides};
use cts_intake::daemon::{How, Intake, prepare_batch};
use cts_intake::mailbox::RawMail;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let samples = cts_intake::testkit::sample_mails();
    println!("samples: {}", samples.len());
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
        // the rate limit after their tenth reply).
        .replace("rate-limit-per-hour = 10", "rate-limit-per-hour = 0");
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
    let t = Instant::now();
    for m in &mails {
        std::hint::black_box(sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(m),
        ));
    }
    println!("sha        {:.3}", t.elapsed().as_secs_f64());

    let mut intake = Intake::open(config).unwrap();
    // As the daemon takes them: batches of 50, read on every core, then recorded in order.
    let (mut reading, mut recording) = (Duration::ZERO, Duration::ZERO);
    for (b, chunk) in mails.chunks(50).enumerate() {
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
        let t = Instant::now();
        let prepared = prepare_batch(&intake.config, &intake.registry, batch);
        reading += t.elapsed();
        let t = Instant::now();
        for r in intake.record_batch("bench", prepared) {
            r.unwrap();
        }
        recording += t.elapsed();
    }
    println!("read (all cores) {:.3}", reading.as_secs_f64());
    println!("record     {:.3}", recording.as_secs_f64());
    let t = Instant::now();
    let w = intake.deliver().unwrap();
    println!("replies    {:.3} ({w})", t.elapsed().as_secs_f64());
    let t = Instant::now();
    intake.write_report().unwrap();
    println!("report     {:.3}", t.elapsed().as_secs_f64());
}
