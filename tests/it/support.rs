//! Shared test helpers: running the built binary, golden files, reading replies back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mail_parser::{MessageParser, MimeHeaders};

/// The project's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built binary with the embedded default config and the given overrides.
pub fn cts(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cts-intake"));
    c.arg("--config")
        .arg(root().join("config/default.toml"))
        .args(args)
        .env("CTS_INTAKE_LOG", "warn");
    c
}

/// Runs `cts-intake run --once` on a Maildir into a data folder, and checks it exited 0.
pub fn run_once(maildir: &Path, data: &Path) -> Output {
    succeeds(
        cts(&["run", "--once"])
            .arg("--maildir")
            .arg(maildir)
            .arg("--data-dir")
            .arg(data),
    )
}

/// Runs a command (`cts-intake run --once`, a converter) and checks it exited 0.
pub fn succeeds(command: &mut Command) -> Output {
    let out = command.output().expect("the program runs");
    assert!(
        out.status.success(),
        "{:?} failed:\nstdout: {}\nstderr: {}",
        command.get_program(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Compares `actual` with the golden file `expected`. On a mismatch the actual text is written
/// beside it as `NAME.actual` (to diff, or to accept by renaming) and the test fails. With
/// `CTS_BLESS=1` the golden file is (re)written instead.
pub fn golden(expected: &Path, actual: &str) {
    let actual_path = PathBuf::from(format!("{}.actual", expected.display()));
    if std::env::var_os("CTS_BLESS").is_some() {
        std::fs::create_dir_all(expected.parent().unwrap()).unwrap();
        std::fs::write(expected, actual).unwrap();
        let _ = std::fs::remove_file(&actual_path);
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|_| {
        std::fs::write(&actual_path, actual).unwrap();
        panic!(
            "golden file {} is missing; the actual output is in {}",
            expected.display(),
            actual_path.display()
        )
    });
    if want != actual {
        std::fs::write(&actual_path, actual).unwrap();
        let first = want
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the golden file at line {}:\n  want: {:?}\n  got:  {:?}\nactual output written to {}",
            expected.display(),
            first + 1,
            want.lines().nth(first),
            actual.lines().nth(first),
            actual_path.display()
        );
    }
    let _ = std::fs::remove_file(&actual_path);
}

/// A reply read back as the school's mail client shows it: the headers that matter and the
/// decoded text (Date and Message-ID aside, which vary by nature).
pub fn reply_summary(bytes: &[u8]) -> String {
    let m = MessageParser::default()
        .parse(bytes)
        .expect("a reply parses");
    let addrs = |a: Option<&mail_parser::Address>| {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
    };
    let mut s = String::new();
    s.push_str(&format!("From: {}\n", addrs(m.from())));
    s.push_str(&format!("To: {}\n", addrs(m.to())));
    s.push_str(&format!("Cc: {}\n", addrs(m.cc())));
    s.push_str(&format!("Subject: {}\n", m.subject().unwrap_or("")));
    s.push_str(&format!(
        "In-Reply-To: {}\n",
        m.header_raw("In-Reply-To").unwrap_or("").trim()
    ));
    s.push_str(&format!(
        "References: {}\n",
        m.header_raw("References").unwrap_or("").trim()
    ));
    s.push_str(&format!(
        "Auto-Submitted: {}\n",
        m.header_raw("Auto-Submitted").unwrap_or("").trim()
    ));
    for a in m.attachments() {
        s.push_str(&format!(
            "Attachment: {}\n",
            a.attachment_name().unwrap_or("(no name)")
        ));
    }
    s.push('\n');
    s.push_str(&m.body_text(0).unwrap_or_default().replace("\r\n", "\n"));
    s
}

/// Reads a CSV file as text.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The rows of a CSV file as vectors of fields (header first).
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The sample campaign's first mail (a registered school's list, accepted), made 1.3 MB by an
/// epilogue after its last MIME boundary (no part of the mail, counted in its size): over a
/// `max-message-mb = 1` limit.
pub fn oversized_sample() -> Vec<u8> {
    let mut raw = std::fs::read(root().join("samples/maildir/new/1669858203.M1P1.sample")).unwrap();
    for _ in 0..18_000 {
        raw.extend_from_slice(&[b'x'; 74]);
        raw.extend_from_slice(b"\r\n");
    }
    raw
}

/// The validation context the tests read lists in: the sample campaign's reference day and age
/// rules, the province's domain, and `unit_name` as the sending unit's name.
pub fn context(unit_name: &str) -> cts_intake::validate::Context {
    cts_intake::validate::Context {
        reference_date: chrono::NaiveDate::from_ymd_opt(2022, 12, 17).unwrap(),
        min_age: 18,
        max_age: 70,
        official_domains: vec!["namdinh.edu.vn".into()],
        unit_name: unit_name.into(),
    }
}
