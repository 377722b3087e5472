//! Benchmark (not a test): the staff report for 1,000 units and 20,000 current rows (a
//! province), then for 6,300 units and 201,600 rows (the whole country).
//!
//! `cargo bench --bench report` fills a fresh store in a temporary folder for each size (20,
//! then 32, accepted rows for each registered unit, through `Store::record` as the daemon
//! writes them), then times `report::build` (the queries) and each renderer, and prints the
//! time and peak memory of each stage (the peak started over between stages through
//! `/proc/self/clear_refs`). No timing is asserted.
//! `cargo bench --bench report -- 1000` runs the first size alone.

use std::time::Instant;

// As the binary (src/main.rs): the report's allocations are many small strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{NaiveDate, TimeZone, Utc};
use cts_intake::config::{Config, Overrides};
use cts_intake::dedupe;
use cts_intake::mail::ParsedMail;
use cts_intake::pipeline::{NewVersion, Outcome, OutcomeKind, ReplyKind, Trust};
use cts_intake::schema::RequestType;
use cts_intake::store::{MailRecord, Store};
use cts_intake::units::{Registry, Unit};
use cts_intake::validate::{RowSource, ValidRow};

/// (units, rows per unit)
const SIZES: [(usize, usize); 2] = [(1_000, 20), (6_300, 32)];

fn row(unit: usize, k: usize) -> ValidRow {
    let t = RequestType::ALL[k % 7];
    ValidRow {
        request_type: t,
        full_name: format!("Nguyễn Văn Người Số {k}"),
        birth_date: NaiveDate::from_ymd_opt(1980, 1 + (k % 12) as u32, 1 + (unit % 28) as u32),
        id_number: format!("036080{:06}", unit * 100 + k),
        id_issue_date: NaiveDate::from_ymd_opt(2021, 4, 12),
        id_issue_place: "Cục Cảnh sát QLHC về TTXH".into(),
        position: "Giáo viên".into(),
        unit_name: format!("Trường THPT Số {unit:04}"),
        email: format!("gv{unit}.{k}@namdinh.edu.vn"),
        phone: "0912345678".into(),
        cert_serial: if matches!(t, RequestType::NewMailbox | RequestType::NewCert) {
            String::new()
        } else {
            "540101AB12CD34EF".into()
        },
        change_detail: if t == RequestType::Change {
            "Chuyển đơn vị công tác".into()
        } else {
            String::new()
        },
        reason: "Đề nghị theo kế hoạch".into(),
        note: String::new(),
        source: RowSource {
            file: "danh-sach.xlsx".into(),
            sheet: "Danh sách".into(),
            row: (k + 5) as u32,
        },
    }
}

fn main() -> anyhow::Result<()> {
    let only: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    for (units, rows) in SIZES {
        if only.is_none_or(|n| n == units) {
            bench(units, rows)?;
        }
    }
    Ok(())
}

/// The process's peak resident memory so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Starts the peak over from what is resident now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn bench(n_units: usize, rows_per_unit: usize) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&root.join("config/default.toml"), &Overrides::default())?;
    let dir = tempfile::tempdir()?;
    let units: Vec<Unit> = (1..=n_units)
        .map(|i| Unit {
            code: format!("DV{i:04}"),
            name: format!("Trường THPT Số {i:04}"),
            kind: "THPT".into(),
            emails: vec![format!("c3dv{i:04}@namdinh.edu.vn")],
        })
        .collect();
    let registry = Registry::from_units(units.clone())?;

    let started = Instant::now();
    let mut store = Store::open(&dir.path().join("intake.sqlite3"))?;
    for (i, unit) in units.iter().enumerate() {
        let rows: Vec<ValidRow> = (0..rows_per_unit).map(|k| row(i + 1, k)).collect();
        let parsed = ParsedMail {
            message_id: Some(format!("bench-{i}@test")),
            from: unit.emails.first().cloned(),
            subject: format!("Danh sách {}", unit.code),
            ..Default::default()
        };
        let mut outcome = Outcome::new(OutcomeKind::Accepted, "");
        outcome.unit = Some(unit.clone());
        outcome.trust = Trust::Registered;
        outcome.reply = ReplyKind::None;
        outcome.version = Some(NewVersion {
            code: dedupe::reconciliation_code(&rows),
            changes: Default::default(),
            had_previous: false,
            rows: rows.clone(),
            written_at: Utc.with_ymd_and_hms(2022, 12, 5, 1, 0, 0).unwrap(),
            newer: None,
        });
        outcome.rows = rows;
        let key = format!("bench-{i}");
        store.record(
            &MailRecord {
                mailbox: "bench",
                source_key: &key,
                sha256: &format!("{i:064}"),
                size: 1000,
                received_at: Utc.with_ymd_and_hms(2022, 12, 5, 1, 0, 0).unwrap()
                    + chrono::Duration::seconds(i as i64),
                parsed: &parsed,
                supersedes: None,
            },
            &outcome,
            None,
            None,
        )?;
    }
    println!(
        "setup: {n_units} units, {} rows stored in {:.2?}",
        n_units * rows_per_unit,
        started.elapsed()
    );

    let out = dir.path().join("report");
    std::fs::create_dir_all(&out)?;
    let setup_peak = peak_mib();
    reset_peak();
    let total = Instant::now();
    let t = Instant::now();
    let rec = cts_intake::report::build(&store, &registry, &config)?;
    let build = (t.elapsed(), peak_mib());
    reset_peak();
    let t = Instant::now();
    cts_intake::report::xlsx::write(&rec, &out.join("doi-chieu.xlsx"))?;
    let xlsx = (t.elapsed(), peak_mib());
    reset_peak();
    let t = Instant::now();
    cts_intake::report::html::write(&rec, &out.join("doi-chieu.html"))?;
    let html = (t.elapsed(), peak_mib());
    reset_peak();
    let t = Instant::now();
    cts_intake::report::csv_out::write_all(&rec, &out)?;
    let csv = (t.elapsed(), peak_mib());
    let total = total.elapsed();
    reset_peak();
    let t = Instant::now();
    cts_intake::report::upstream::write_all(&rec, &out)?;
    let ca = (t.elapsed(), peak_mib());
    assert_eq!(rec.request_count(), n_units * rows_per_unit);
    println!("setup: peak memory {setup_peak:.0} MiB");
    for (stage, (took, peak)) in [
        ("report::build (queries)", build),
        ("doi-chieu.xlsx", xlsx),
        ("doi-chieu.html", html),
        ("CSVs", csv),
        ("the CA's files (not in the total)", ca),
    ] {
        println!("{stage:34} {took:>9.2?} (peak memory {peak:.0} MiB)");
    }
    println!(
        "total for {n_units} units and {} rows: {total:.2?}",
        rec.request_count(),
    );
    Ok(())
}
