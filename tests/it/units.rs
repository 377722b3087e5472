//! `units import` through the built binary: the files Excel writes, every problem at once, the
//! refusal to remove most units, and a running daemon taking the new registry up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::root;

/// A config folder with the sample registry (8 units), `poll-seconds = 1`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        let toml = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
        assert!(toml.contains("poll-seconds = 30"));
        std::fs::write(
            config.join("default.toml"),
            toml.replace("poll-seconds = 30", "poll-seconds = 1"),
        )
        .unwrap();
        std::fs::copy(root().join("config/units.csv"), config.join("units.csv")).unwrap();
        Setup { dir }
    }

    fn registry(&self) -> PathBuf {
        self.dir.path().join("config/units.csv")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cts-intake"));
        c.arg("--config")
            .arg(self.dir.path().join("config/default.toml"))
            .args(args)
            .env("CTS_INTAKE_LOG", "warn");
        c
    }

    /// `units import` of these bytes.
    fn import(&self, bytes: &[u8], extra: &[&str]) -> Output {
        let file = self.dir.path().join("import.csv");
        std::fs::write(&file, bytes).unwrap();
        self.command(&["units", "import"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap()
    }

    /// The registry as `units list` prints it.
    fn listed(&self) -> String {
        let out = self.command(&["units", "list"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn imported(out: &Output) -> String {
    assert!(
        out.status.success(),
        "import failed:\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The sample registry's lines (header left out), in the canonical layout.
fn sample_lines() -> Vec<String> {
    std::fs::read_to_string(root().join("config/units.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn a_windows_1258_semicolon_file_with_vietnamese_headers_imports() {
    let s = Setup::new();
    // The sample units as they are, plus one, saved by Excel on a Vietnamese Windows: headers
    // "Mã đơn vị;Tên đơn vị;Loại;Email", tones as combining bytes after the letter (Windows-1258).
    let mut bytes =
        b"M\x61\xDE \xF0\xF5n vi\xF2;T\xEAn \xF0\xF5n vi\xF2;Loa\xF2i;Email\r\n".to_vec();
    // The sample units get ASCII names (only the new unit's is typed in Windows-1258); a
    // unit's two addresses share a cell, quoted as Excel quotes a cell holding the separator.
    for line in sample_lines() {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        let (code, kind, emails) = (&rec[0], &rec[2], &rec[3]);
        bytes.extend_from_slice(format!("{code};Unit {code};{kind};\"{emails}\"\r\n").as_bytes());
    }
    // "Trường THPT Xuân Thuỷ": ư = 0xFD, ơ = 0xF5, grave = 0xCC, hook above = 0xD2.
    bytes.extend_from_slice(
        b"THPT-XT;Tr\xFD\xF5\xCCng THPT Xu\xE2n Thuy\xD2;THPT;c3xuanthuy@namdinh.edu.vn\r\n",
    );
    let said = imported(&s.import(&bytes, &[]));
    assert!(said.contains("added THPT-XT\n"), "{said}");
    // Every sample unit's name changed (and the kinds not in ASCII, garbled).
    let changed: Vec<&str> = said.lines().filter(|l| l.starts_with("changed ")).collect();
    assert_eq!(changed.len(), 8, "{said}");
    assert!(changed.iter().all(|l| l.contains("(name")), "{said}");
    assert!(said.contains("changed THPT-LHP (name)\n"), "{said}");
    assert!(!said.lines().any(|l| l.starts_with("removed ")), "{said}");
    assert!(said.contains("1 added, 8 changed, 0 removed"), "{said}");
    let listed = s.listed();
    assert!(
        listed.contains("\tc3lehongphong@namdinh.edu.vn;vanthu.lhp@namdinh.edu.vn\n"),
        "{listed}"
    );
    assert!(
        listed.contains("THPT-XT\tTrường THPT Xuân Thuỷ\tTHPT\tc3xuanthuy@namdinh.edu.vn\n"),
        "{listed}"
    );
    // Installed in the canonical layout, UTF-8.
    let installed = std::fs::read_to_string(s.registry()).unwrap();
    assert!(
        installed.starts_with("code,name,kind,emails\n"),
        "{installed}"
    );
}

#[test]
fn a_bom_utf8_comma_file_imports_and_names_what_it_adds_changes_and_removes() {
    let s = Setup::new();
    let mut lines = sample_lines();
    let removed = lines.pop().unwrap();
    let removed_code = removed.split(',').next().unwrap().to_string();
    // THPT-NK gets a second address; a unit is added; the last sample unit is left out.
    let nk = lines
        .iter_mut()
        .find(|l| l.starts_with("THPT-NK,"))
        .unwrap();
    nk.push_str(";vanthu.nk@namdinh.edu.vn");
    let file = format!(
        "\u{FEFF}code,name,kind,emails\r\n{}\r\nTHPT-XT,Trường THPT Xuân Thuỷ,THPT,c3xuanthuy@namdinh.edu.vn\r\n",
        lines.join("\r\n")
    );
    let said = imported(&s.import(file.as_bytes(), &[]));
    let expected = format!(
        "added THPT-XT\nchanged THPT-NK (emails)\nremoved {removed_code}\n\
         Imported 8 units into {}: 1 added, 1 changed, 1 removed\n",
        s.registry().display()
    );
    assert_eq!(said, expected);
    let listed = s.listed();
    assert_eq!(listed.lines().count(), 8, "{listed}");
    assert!(listed.contains("vanthu.nk@namdinh.edu.vn"), "{listed}");
    assert!(!listed.contains(&format!("{removed_code}\t")), "{listed}");
    // The same file again changes nothing.
    let said = imported(&s.import(file.as_bytes(), &[]));
    assert!(said.starts_with("Imported 8 units"), "{said}");
    assert!(said.contains("0 added, 0 changed, 0 removed"), "{said}");
}

#[test]
fn every_problem_is_listed_with_its_line_and_nothing_is_written() {
    let s = Setup::new();
    let before = std::fs::read(s.registry()).unwrap();
    let modified = std::fs::metadata(s.registry()).unwrap().modified().unwrap();
    let file = "code;name;kind;emails\n\
        THPT-A;Trường A;THPT;a@namdinh.edu.vn\n\
        THPT-B;Trường B;THPT;\n\
        \n\
        THPT-C;Trường C;THPT;not-an-address\n\
        ;Trường D;THPT;d@namdinh.edu.vn\n\
        THPT-E;Trường E;THPT;a@namdinh.edu.vn\n\
        thpt-a;Trường A lần hai;THPT;a2@namdinh.edu.vn\n\
        THPT F;;THPT;f@namdinh.edu.vn\n";
    let out = s.import(file.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for expected in [
        "line 3: unit THPT-B has no mail address",
        "line 5: 'not-an-address' is not a mail address",
        "line 6: no unit code",
        "line 7: address a@namdinh.edu.vn is already registered for THPT-A on line 2",
        "line 8: unit code 'thpt-a' is already on line 2",
        "line 9: unit code 'THPT F' must be at most 40 letters",
        "line 9: unit THPT F has no name",
        "7 problem(s) in",
        "nothing written",
    ] {
        assert!(err.contains(expected), "{expected:?} missing in:\n{err}");
    }
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(s.registry()).unwrap(), before);
    assert_eq!(
        std::fs::metadata(s.registry()).unwrap().modified().unwrap(),
        modified
    );
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path().join("config"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn unknown_columns_and_a_missing_address_column_are_problems() {
    let s = Setup::new();
    let out = s.import(
        "Mã ĐƠN VỊ,ten don vi,Ghi chú\nA,Trường A,x\n".as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 1: unknown column 'Ghi chú'"), "{err}");
    assert!(err.contains("line 1: no emails (Email) column"), "{err}");
    assert!(
        !err.contains("no code"),
        "the folded header is known: {err}"
    );
}

#[test]
fn codes_are_unique_regardless_of_case() {
    let s = Setup::new();
    let mut file = String::from("code,name,kind,emails\n");
    for line in sample_lines() {
        file.push_str(&line);
        file.push('\n');
    }
    file.push_str("thpt-lhp,Trường khác,THPT,khac@namdinh.edu.vn\n");
    let out = s.import(file.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 10: unit code 'thpt-lhp' is already on line 2 (codes are compared regardless of case)"),
        "{err}"
    );
}

#[test]
fn an_import_removing_most_units_is_refused_unless_forced() {
    let s = Setup::new();
    let before = std::fs::read(s.registry()).unwrap();
    let lines = sample_lines();
    assert_eq!(lines.len(), 8);
    // Half of them removed is still allowed; five of eight is refused.
    let keep = |n: usize| format!("code,name,kind,emails\n{}\n", lines[..n].join("\n"));
    let out = s.import(keep(3).as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("would remove 5 of the 8 units"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(text(&out.stdout).is_empty());
    assert_eq!(std::fs::read(s.registry()).unwrap(), before);

    let said = imported(&s.import(keep(3).as_bytes(), &["--force"]));
    assert_eq!(said.matches("removed ").count(), 5, "{said}");
    assert!(said.contains("0 added, 0 changed, 5 removed"), "{said}");
    assert_eq!(s.listed().lines().count(), 3);

    // From three, removing one is fine.
    let said = imported(&s.import(keep(2).as_bytes(), &[]));
    assert!(said.contains("1 removed"), "{said}");
}

/// The mail's unit and trust, once the daemon has taken it.
fn taken(db: &Path, message_id: &str) -> Option<(Option<String>, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        "SELECT unit_code, trust FROM mails WHERE message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// Waits (60 s at most: the machine is shared) for `ready`.
fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = ready() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// A child process ended when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_daemon_takes_mail_from_an_address_the_import_added() {
    let s = Setup::new();
    let maildir = s.dir.path().join("maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let data = s.dir.path().join("data");
    let daemon = s
        .command(&["run"])
        .arg("--maildir")
        .arg(&maildir)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _daemon = Killed(daemon);
    let db = data.join("intake.sqlite3");
    // Its first pass is done: the registry it started with is loaded.
    wait_for("the daemon's first pass", || {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.query_row(
            "SELECT count(*) FROM polls WHERE last_success_at IS NOT NULL",
            [],
            |r| r.get::<_, i64>(0),
        )
        .ok()
        .filter(|n| *n > 0)
    });
    let file = format!(
        "code,name,kind,emails\n{}\nTHPT-XT,Trường THPT Xuân Thuỷ,THPT,c3xuanthuy@namdinh.edu.vn\n",
        sample_lines().join("\n")
    );
    let said = imported(&s.import(file.as_bytes(), &[]));
    assert!(said.contains("added THPT-XT"), "{said}");
    // A sample mail, sent from the new address.
    let sample =
        std::fs::read_to_string(root().join("samples/maildir/new/1669858203.M1P1.sample")).unwrap();
    let mail = sample
        .replace("c3lehongphong@namdinh.edu.vn", "c3xuanthuy@namdinh.edu.vn")
        .replace(
            "<sample-01@namdinh.edu.vn>",
            "<units-import@namdinh.edu.vn>",
        );
    assert!(mail.contains("<c3xuanthuy@namdinh.edu.vn>"));
    std::fs::write(maildir.join("tmp/units-import.mail"), &mail).unwrap();
    std::fs::rename(
        maildir.join("tmp/units-import.mail"),
        maildir.join("new/units-import.mail"),
    )
    .unwrap();
    let got = wait_for("the mail to be taken", || {
        taken(&db, "units-import@namdinh.edu.vn")
    });
    assert_eq!(got, (Some("THPT-XT".to_string()), "registered".to_string()));
}
