//! `paper receive` / `paper list` / `paper undo`: the paper copies staff receive at the desk.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PaperCommand;
use crate::config::Config;
use crate::report::paper::{self, Received, Verdict, receive};
use crate::report::{local_time, paper::normalise_code};
use crate::store::Store;
use crate::store::paper::{self as stored, VersionLine};
use crate::units::{Registry, Unit};
use crate::wording as w;

/// The unit with this code, compared without case.
fn find_unit<'a>(registry: &'a Registry, code: &str) -> Option<&'a Unit> {
    let code = code.trim();
    registry.by_code(code).or_else(|| {
        registry
            .units()
            .iter()
            .find(|u| u.code.eq_ignore_ascii_case(code))
    })
}

/// `paper ...`: exit status 0 on success and on a match, 1 on a mismatch or an unknown unit.
pub fn paper(config_path: &std::path::Path, command: &PaperCommand) -> Result<ExitCode> {
    let paths = match command {
        PaperCommand::Receive { paths, .. }
        | PaperCommand::List { paths }
        | PaperCommand::Undo { paths, .. } => paths,
    };
    let config = Config::load(config_path, &paths.overrides())?;
    let registry = Registry::load(&config.units.file)?;
    let store = Store::open(&config.database_path())?;
    let tz = config.campaign.deadline.timezone();
    let when = |t: &str| local_time(t, &tz);
    let label = |u: &Unit| format!("{} ({})", u.code, u.name);

    match command {
        PaperCommand::Receive {
            unit,
            code,
            rows,
            note,
            ..
        } => {
            let Some(u) = find_unit(&registry, unit) else {
                println!("{}", w::paper_unknown_unit(unit));
                return Ok(ExitCode::FAILURE);
            };
            let code = code.as_deref().map(normalise_code).unwrap_or_default();
            let Received {
                judgement, current, ..
            } = receive(&store, &u.code, &code, *rows, note.as_deref().unwrap_or(""))?;
            let current = current
                .as_ref()
                .map(|v| (v.code.as_str(), v.row_count, v.received_at.as_str()));
            println!(
                "{}",
                w::paper_answer(&label(u), &judgement.verdict, &code, current, &when)
            );
            rewrite_report(&store, &registry, &config);
            Ok(if judgement.verdict.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PaperCommand::List { .. } => {
            let receipts = stored::receipts(store.conn())?;
            let all = stored::versions(store.conn())?;
            let date = |t: &str| crate::report::local_date(t, &tz);
            for r in &receipts {
                let versions: Vec<&VersionLine> =
                    all.iter().filter(|v| v.unit_code == r.unit_code).collect();
                let now: Verdict = paper::judge(&r.code, r.row_count, &versions).verdict;
                let undone = r
                    .undone_at
                    .as_deref()
                    .map(|t| format!("đã huỷ lúc {}", when(t)))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    when(&r.received_at),
                    r.unit_code,
                    r.code,
                    r.row_count.map(|n| n.to_string()).unwrap_or_default(),
                    w::paper_verdict(&now, &date),
                    r.note,
                    undone
                );
            }
            let undone = receipts.iter().filter(|r| r.undone_at.is_some()).count();
            eprintln!("{} receipts ({undone} undone)", receipts.len());
            Ok(ExitCode::SUCCESS)
        }
        PaperCommand::Undo { unit, .. } => {
            let unit_code = match unit {
                Some(code) => match find_unit(&registry, code) {
                    Some(u) => Some(u.code.clone()),
                    None => {
                        println!("{}", w::paper_unknown_unit(code));
                        return Ok(ExitCode::FAILURE);
                    }
                },
                None => None,
            };
            match store.undo_receipt(unit_code.as_deref())? {
                Some(r) => {
                    let name = registry
                        .by_code(&r.unit_code)
                        .map_or(r.unit_code.clone(), label);
                    println!("{}", w::paper_undone(&name, &when(&r.received_at)));
                    rewrite_report(&store, &registry, &config);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!("{}", w::PAPER_NOTHING_TO_UNDO);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Rewrites the report folder after a receipt changed, so doi-chieu shows it at once; a failure
/// is reported and does not undo the receipt (the next `report` or daemon pass writes it).
fn rewrite_report(store: &Store, registry: &Registry, config: &Config) {
    let result = crate::report::rewrite(store, registry, config, &config.report_dir());
    if let Err(e) = result {
        tracing::error!(error = %format!("{e:#}"), "the receipt is recorded but the report could not be rewritten");
    }
}
