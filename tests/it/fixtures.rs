//! The golden corpus in `tests/fixtures/`: each file is a list as a school sends it (or a whole
//! mail, `.eml`), and `NAME.expected.json` beside it is what must be read from it: the files and
//! sheets found, every row read, every problem the school is told. A mismatch writes
//! `NAME.actual.json` beside the fixture; `CTS_BLESS=1` rewrites the expected files.
//! The fixtures are made by `tests/fixtures/make_fixtures.py` (not needed to run the tests).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use cts_intake::mail::{self, Attachment, ParsedMail};
use cts_intake::pipeline::{ReadLists, read_lists};
use cts_intake::validate::Context;
use serde_json::{Value, json};

use crate::support::root;

fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

fn context() -> Context {
    Context {
        reference_date: NaiveDate::from_ymd_opt(2022, 12, 17).unwrap(),
        min_age: 18,
        max_age: 70,
        official_domains: vec!["namdinh.edu.vn".into(), "namdinh.gov.vn".into()],
        unit_name: "(đơn vị gửi thư)".into(),
    }
}

/// The fixture files: everything but the expected/actual outputs and the tooling.
fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !(name.ends_with(".json") || name.ends_with(".py") || name.ends_with(".tsv"))
        })
        .collect();
    files.sort();
    files
}

fn expected_path(fixture: &Path) -> PathBuf {
    let name = fixture.file_name().unwrap().to_string_lossy();
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) => stem.to_string(),
        None => name.to_string(),
    };
    fixture.with_file_name(format!("{stem}.expected.json"))
}

/// What is read from one fixture, as JSON.
fn reading(fixture: &Path) -> Value {
    let bytes = std::fs::read(fixture).unwrap();
    let name = fixture.file_name().unwrap().to_string_lossy().to_string();
    let parsed = if name.ends_with(".eml") {
        mail::parse(&bytes, "cttt@namdinh.edu.vn")
    } else {
        ParsedMail {
            attachments: vec![Attachment {
                filename: name.clone(),
                content_type: "application/octet-stream".into(),
                bytes,
            }],
            ..Default::default()
        }
    };
    let read = read_lists(&parsed, &context());
    to_json(&parsed, &read)
}

fn to_json(parsed: &ParsedMail, read: &ReadLists) -> Value {
    let date = |d: Option<NaiveDate>| d.map(|d| d.format("%d/%m/%Y").to_string());
    json!({
        "attachments": parsed
            .attachments
            .iter()
            .map(|a| json!({"filename": a.filename, "content_type": a.content_type}))
            .collect::<Vec<_>>(),
        "any_list": read.any_candidate,
        "files": read
            .files
            .iter()
            .map(|f| json!({"filename": f.filename, "sheets": f.sheets, "rows": f.rows}))
            .collect::<Vec<_>>(),
        "rows": read
            .rows
            .iter()
            .map(|r| json!({
                "at": format!("{} / {} / {}", r.source.file, r.source.sheet, r.source.row),
                "type": r.request_type.code(),
                "full_name": r.full_name,
                "birth_date": date(r.birth_date),
                "id_number": r.id_number,
                "id_issue": [date(r.id_issue_date), r.id_issue_place.clone()],
                "position": r.position,
                "unit_name": r.unit_name,
                "email": r.email,
                "phone": r.phone,
                "cert_serial": r.cert_serial,
                "reason": r.reason,
            }))
            .collect::<Vec<_>>(),
        "problems": read
            .problems
            .iter()
            .map(|p| json!({
                "at": format!("{} / {} / {} / {}", p.file, p.sheet, p.row, p.column),
                "field": p.field,
                "value": p.value,
                "severity": p.severity.code(),
                "message": p.message,
            }))
            .collect::<Vec<_>>(),
    })
}

#[test]
fn the_corpus_has_at_least_forty_fixtures() {
    assert!(corpus().len() >= 40, "{} fixtures", corpus().len());
}

#[test]
fn every_fixture_has_its_own_expected_file() {
    let mut expected: Vec<PathBuf> = corpus().iter().map(|f| expected_path(f)).collect();
    let n = expected.len();
    expected.sort();
    expected.dedup();
    assert_eq!(
        expected.len(),
        n,
        "two fixtures share a name before the extension"
    );
}

#[test]
fn every_fixture_reads_as_its_expected_json() {
    let bless = std::env::var_os("CTS_BLESS").is_some();
    let mut mismatches = Vec::new();
    for fixture in corpus() {
        let actual = serde_json::to_string_pretty(&reading(&fixture)).unwrap() + "\n";
        let expected = expected_path(&fixture);
        let actual_path = expected.with_file_name(
            expected
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".expected.json", ".actual.json"),
        );
        if bless {
            std::fs::write(&expected, &actual).unwrap();
            let _ = std::fs::remove_file(&actual_path);
            continue;
        }
        match std::fs::read_to_string(&expected) {
            Ok(want) if want == actual => {
                let _ = std::fs::remove_file(&actual_path);
            }
            _ => {
                std::fs::write(&actual_path, &actual).unwrap();
                mismatches.push(actual_path.display().to_string());
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "readings differ from the golden files; see {mismatches:#?} (CTS_BLESS=1 accepts them)"
    );
}
