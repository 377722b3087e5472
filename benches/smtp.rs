//! SMTP delivery benchmark (not a test): replies per second through cts-intake's sender against
//! a private Postfix → Dovecot on loopback, and the ratio to a bare hand-off of the same messages
//! (lettre `send_raw` of the same bytes, one after another, nothing recorded) to the same server.
//!
//! `cargo bench --bench smtp` (needs root and Postfix/Dovecot, like the tests: ./scripts/test
//! installs them). `CTS_BENCH_REPLIES=N` sets the number of replies (default 500).

#[path = "../tests/it/mailstack.rs"]
mod mailstack;
#[path = "../tests/it/outbox_fill.rs"]
mod outbox_fill;

use std::time::{Duration, Instant};

use cts_intake::config::Smtp;
use cts_intake::outbox::sender::{RetryPolicy, Sender, Transport};
use cts_intake::outbox::smtp::SmtpTransport;
use cts_intake::store::Store;

use mailstack::{MailStack, wait_until};

const DEPT: &str = "cttt@namdinh.edu.vn";
const PASSWORD: &str = "secret";

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("the SMTP benchmark runs with `cargo bench --bench smtp`");
        return;
    }
    let n: usize = std::env::var("CTS_BENCH_REPLIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let schools: Vec<String> = (1..=5)
        .map(|i| format!("truong{i}@namdinh.edu.vn"))
        .collect();
    let mut users: Vec<(&str, &str)> = schools.iter().map(|s| (s.as_str(), PASSWORD)).collect();
    users.push((DEPT, PASSWORD));
    let recipients: Vec<&str> = schools.iter().map(String::as_str).collect();
    let replies = outbox_fill::replies(n, &recipients);
    let bytes: usize = replies.iter().map(|r| r.bytes.len()).sum();
    println!(
        "{n} replies of {} bytes on average, to {} mailboxes",
        bytes / n,
        schools.len()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rounds: usize = std::env::var("CTS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    type Url = fn(&MailStack) -> String;
    let modes: [(&str, Url); 2] = [
        ("smtps (implicit TLS + AUTH)", |s| {
            format!(
                "smtps://cttt%40namdinh.edu.vn@127.0.0.1:{}",
                s.postfix.smtps_port
            )
        }),
        ("smtp+plain (loopback)", |s| {
            format!("smtp+plain://127.0.0.1:{}", s.postfix.smtp_port)
        }),
    ];
    println!(
        "for reference, lettre's pooled AsyncSmtpTransport (smtp, loopback): {:.0} msg/s",
        lettre_pooled(&runtime, &users, &schools, &replies)
    );
    for (label, url) in modes {
        let mut floors = Vec::new();
        let mut ours = Vec::new();
        // Alternate the two, each on a fresh stack (empty queue and mailboxes), and take medians.
        for _ in 0..rounds {
            floors.push(bare(&runtime, &users, &schools, &replies, url));
            ours.push(sender(&runtime, &users, &schools, &replies, url));
        }
        let (floor, ours) = (median(floors), median(ours));
        let rate = |t: Duration| n as f64 / t.as_secs_f64();
        println!(
            "{label}: bare hand-off {:.0} msg/s ({:.2} s); cts-intake sender {:.0} replies/s \
             ({:.2} s); ratio {:.2}x (median of {rounds})",
            rate(floor),
            floor.as_secs_f64(),
            rate(ours),
            ours.as_secs_f64(),
            ours.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// For reference: lettre's own pooled transport (no TCP_NODELAY) on the first 100 replies.
fn lettre_pooled(
    runtime: &tokio::runtime::Runtime,
    users: &[(&str, &str)],
    schools: &[String],
    replies: &[cts_intake::store::OutgoingReply],
) -> f64 {
    use lettre::AsyncTransport;
    let replies = &replies[..replies.len().min(100)];
    let stack = MailStack::start(users);
    let _enter = runtime.enter();
    let transport =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(stack.postfix.smtp_port)
            .build();
    let start = Instant::now();
    runtime.block_on(async {
        for r in replies {
            let to = r.recipients.iter().map(|t| t.parse().unwrap()).collect();
            let envelope = lettre::address::Envelope::new(Some(DEPT.parse().unwrap()), to).unwrap();
            transport.send_raw(&envelope, &r.bytes).await.unwrap();
        }
    });
    let t = start.elapsed();
    wait_delivered(&stack, schools, replies.len());
    replies.len() as f64 / t.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The floor: the same bytes handed to the same server over the same connection code, one after
/// another, nothing read or recorded.
fn bare(
    runtime: &tokio::runtime::Runtime,
    users: &[(&str, &str)],
    schools: &[String],
    replies: &[cts_intake::store::OutgoingReply],
    url: fn(&MailStack) -> String,
) -> Duration {
    let stack = MailStack::start(users);
    let transport = SmtpTransport::new(&smtp_config(&stack, &url(&stack))).unwrap();
    let start = Instant::now();
    runtime.block_on(async {
        for r in replies {
            transport.send(DEPT, &r.recipients, &r.bytes).await.unwrap();
        }
    });
    let t = start.elapsed();
    wait_delivered(&stack, schools, replies.len());
    t
}

/// cts-intake: the sender delivering the outbox (read, send, record each reply's state).
fn sender(
    runtime: &tokio::runtime::Runtime,
    users: &[(&str, &str)],
    schools: &[String],
    replies: &[cts_intake::store::OutgoingReply],
    url: fn(&MailStack) -> String,
) -> Duration {
    let stack = MailStack::start(users);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    outbox_fill::fill(&data, replies);
    let store = Store::open(&data.join("intake.sqlite3")).unwrap();
    let config = outbox_fill::default_config();
    let sender = Sender::new(
        store,
        SmtpTransport::new(&smtp_config(&stack, &url(&stack))).unwrap(),
        DEPT,
        RetryPolicy::from_config(&config.replies),
    );
    let start = Instant::now();
    let done = runtime.block_on(sender.deliver_due(None)).unwrap();
    let t = start.elapsed();
    assert_eq!(done.sent, replies.len());
    wait_delivered(&stack, schools, replies.len());
    t
}

fn smtp_config(stack: &MailStack, url: &str) -> Smtp {
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var("CTS_BENCH_SMTP_PASSWORD", PASSWORD) };
    Smtp {
        url: url.to_string(),
        password_env: "CTS_BENCH_SMTP_PASSWORD".into(),
        password_file: None,
        ca_file: Some(stack.postfix.ca_file().to_path_buf()),
        timeout_seconds: 30,
        unreachable_warn_minutes: 60,
    }
}

fn wait_delivered(stack: &MailStack, schools: &[String], n: usize) {
    let ok = wait_until(Duration::from_secs(120), || {
        schools
            .iter()
            .map(|s| stack.dovecot.messages(s, "INBOX").len())
            .sum::<usize>()
            >= n
    });
    assert!(ok, "not all {n} messages were delivered");
}
