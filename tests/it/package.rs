//! The Debian package: built with cargo-deb from the test build's binary (stripped, so packing
//! takes seconds; a release build inside the suite would cost minutes on two cores), then its
//! contents, its configuration's paths and its systemd unit are checked the way an operator's
//! machine would see them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cts_intake::config::{Config, Overrides};

use crate::support::root;

/// The exposure `systemd-analyze security` may give the unit, at most.
const MAX_EXPOSURE: f64 = 2.5;

fn tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")))
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| panic!("{name} is needed for the package tests: {install}"))
}

fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb into `dir` and returns its path. cargo-deb's assets name
/// `target/release/cts-intake`: a stripped copy of the test build's binary is put at that place
/// in a target folder of its own (`CARGO_TARGET_DIR`), and `--no-build` packs it as it is.
fn build_deb(dir: &Path) -> PathBuf {
    let cargo_deb = tool(
        "cargo-deb",
        "cargo install cargo-deb --locked (scripts/test installs it)",
    );
    let strip = tool("strip", "apt-get install binutils");
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    ok(
        "strip",
        Command::new(strip)
            .arg("-o")
            .arg(target.join("release/cts-intake"))
            .arg(env!("CARGO_BIN_EXE_cts-intake"))
            .output()
            .unwrap(),
    );
    let deb = dir.join("cts-intake.deb");
    ok(
        "cargo deb",
        Command::new(cargo_deb)
            .current_dir(root())
            .env("CARGO_TARGET_DIR", &target)
            .args([
                "--no-build",
                "--no-strip",
                "--no-dbgsym",
                "--fast",
                "-Z",
                "gz",
            ])
            .arg("--compress-system")
            .arg("--output")
            .arg(&deb)
            .output()
            .unwrap(),
    );
    deb
}

#[test]
fn the_debian_package_holds_the_binary_an_absolute_config_and_a_hardened_unit() {
    let dpkg_deb = tool("dpkg-deb", "apt-get install dpkg");
    let analyze = tool("systemd-analyze", "apt-get install systemd");
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());

    // The listing: owner, mode and path of every file.
    let listing = ok(
        "dpkg-deb -c",
        Command::new(&dpkg_deb)
            .arg("-c")
            .arg(&deb)
            .output()
            .unwrap(),
    );
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
            .to_string()
    };
    assert!(entry("./usr/bin/cts-intake").starts_with("-rwxr-xr-x 0/0 "));
    assert!(entry("./etc/cts-intake/config.toml").starts_with("-rw-r--r-- 0/0 "));
    entry("./etc/cts-intake/units.csv");
    entry("./lib/systemd/system/cts-intake.service");
    let control = ok(
        "dpkg-deb -I",
        Command::new(&dpkg_deb)
            .arg("-I")
            .arg(&deb)
            .output()
            .unwrap(),
    );
    for part in ["postinst", "conffiles", "Depends: adduser"] {
        assert!(
            control.contains(part),
            "no {part} in the control:\n{control}"
        );
    }
    let field = |name: &str| {
        ok(
            "dpkg-deb -f",
            Command::new(&dpkg_deb)
                .arg("-f")
                .arg(&deb)
                .arg(name)
                .output()
                .unwrap(),
        )
    };
    assert_eq!(field("Package").trim(), "cts-intake");
    let unpacked = dir.path().join("root");
    ok(
        "dpkg-deb -x",
        Command::new(&dpkg_deb)
            .arg("-x")
            .arg(&deb)
            .arg(&unpacked)
            .output()
            .unwrap(),
    );
    let control_dir = dir.path().join("control");
    ok(
        "dpkg-deb -e",
        Command::new(&dpkg_deb)
            .arg("-e")
            .arg(&deb)
            .arg(&control_dir)
            .output()
            .unwrap(),
    );
    let conffiles = std::fs::read_to_string(control_dir.join("conffiles")).unwrap();
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/cts-intake/config.toml")
    );
    let postinst = std::fs::read_to_string(control_dir.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");
    assert!(postinst.contains("install -d -m 0700 -o cts-intake"));

    // The packaged binary is the one built (it answers --version), without debug information.
    let binary = unpacked.join("usr/bin/cts-intake");
    let version = ok(
        "cts-intake --version",
        Command::new(&binary).arg("--version").output().unwrap(),
    );
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");

    // The configuration as installed: every path absolute, the data folder the one the unit
    // lets the daemon write, the registry beside the config.
    let config_path = unpacked.join("etc/cts-intake/config.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        !text.contains("../"),
        "a relative path in the packaged config"
    );
    let config = Config::load(&config_path, &Overrides::default()).unwrap();
    assert_eq!(config.storage.data_dir, Path::new("/var/lib/cts-intake"));
    assert_eq!(config.units.file, Path::new("/etc/cts-intake/units.csv"));
    let imap = config.source.imap.as_ref().expect("the package reads IMAP");
    assert_eq!(
        imap.password_file.as_deref(),
        Some(Path::new("/etc/cts-intake/imap-password"))
    );
    assert_eq!(
        config.reader.program.as_deref(),
        Some(Path::new("/usr/bin/cts-intake"))
    );

    // The unit: systemd parses every line of it (verify prints a line for any key it ignores,
    // and exits 0 all the same: its output must be empty). ExecStart names /usr/bin, which this
    // machine may not have: the copy checked names the unpacked binary instead.
    let unit =
        std::fs::read_to_string(unpacked.join("lib/systemd/system/cts-intake.service")).unwrap();
    assert_eq!(
        unit,
        std::fs::read_to_string(root().join("config/cts-intake.service")).unwrap(),
        "the packaged unit is config/cts-intake.service"
    );
    for line in [
        "Type=notify",
        "UMask=0077",
        "ProtectSystem=strict",
        "StateDirectory=cts-intake",
        "StartLimitBurst=",
        "MemoryMax=",
        "ExecStart=/usr/bin/cts-intake ",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(line)),
            "no {line} in the unit"
        );
    }
    let watchdog = unit
        .lines()
        .find_map(|l| l.strip_prefix("WatchdogSec="))
        .expect("a WatchdogSec");
    assert!(!watchdog.trim().is_empty());
    let checked = dir.path().join("verify/cts-intake.service");
    std::fs::create_dir_all(checked.parent().unwrap()).unwrap();
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/cts-intake", &binary.display().to_string()),
    )
    .unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&checked)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The exposure score, offline (systemd need not run here).
    let report = ok(
        "systemd-analyze security",
        Command::new(&analyze)
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&checked)
            .output()
            .unwrap(),
    );
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(
        score <= MAX_EXPOSURE,
        "systemd-analyze security rates the unit {score} (at most {MAX_EXPOSURE}):\n{report}"
    );
}
