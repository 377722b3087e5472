//! The daemon as systemd runs it (`Type=notify`): READY=1 once it is up, WATCHDOG=1 fed by the
//! poll loop, STOPPING=1 at SIGTERM. The test plays the service manager: it binds the datagram
//! socket `NOTIFY_SOCKET` names and reads what the built binary sends there.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::root;

/// Reads datagrams until `want` says enough; every message seen is returned. The wait for each
/// one is bounded so a daemon that never notifies fails the test instead of hanging it.
fn read_until(socket: &UnixDatagram, seen: &mut Vec<String>, want: impl Fn(&[String]) -> bool) {
    let mut buf = [0u8; 4096];
    while !want(seen) {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no notification came ({e}); so far: {seen:?}"));
        seen.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string),
        );
    }
}

fn count(seen: &[String], what: &str) -> usize {
    seen.iter().filter(|l| *l == what).count()
}

#[test]
fn the_daemon_tells_systemd_it_is_ready_feeds_the_watchdog_each_pass_and_says_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    // A pass a second: the watchdog is fed at each. And the desk served beside the daemon.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.toml");
    let text = std::fs::read_to_string(root().join("config/default.toml"))
        .unwrap()
        .replace("\npoll-seconds = 30\n", "\npoll-seconds = 1\n")
        + &format!("\n[desk]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();

    let child = Command::new(env!("CARGO_BIN_EXE_cts-intake"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .arg("--maildir")
        .arg(&maildir)
        .arg("--units")
        .arg(root().join("config/units.csv"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "30000000")
        .env("CTS_INTAKE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut seen = Vec::new();
    read_until(&socket, &mut seen, |s| {
        count(s, "READY=1") >= 1 && count(s, "WATCHDOG=1") >= 2
    });
    assert_eq!(count(&seen, "READY=1"), 1, "{seen:?}");
    assert_eq!(
        seen[0], "READY=1",
        "ready comes before the first pass: {seen:?}"
    );

    // `[desk] listen` makes `run` serve the desk: its login page and its health check answer.
    for (path, want) in [("/dang-nhap", "name=\"username\""), ("/healthz", "")] {
        let answer = get(port, path);
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert!(answer.contains(want), "{path}: {answer}");
    }

    // SAFETY: kill(2) on a child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    read_until(&socket, &mut seen, |s| count(s, "STOPPING=1") >= 1);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the daemon failed: {stderr}");
    // The watchdog interval is long enough for the wait between passes: no warning.
    assert!(!stderr.contains("watchdog"), "{stderr}");
}

/// A plain HTTP/1.1 GET to the desk on loopback: the whole answer as text.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the desk does not listen on {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
