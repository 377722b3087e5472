//! Store → [`Reconciliation`] → the staff workbook `doi-chieu.xlsx` and the CSV contract
//! (`units.csv`, `requests.csv`, `mails.csv`, `problems.csv`).

pub mod csv_out;
pub mod xlsx;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use chrono::FixedOffset;

use crate::store::Store;
use crate::store::query::{self, MailLine, ProblemLine};
use crate::units::Registry;
use crate::validate::ValidRow;

/// A unit's state in the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStatus {
    /// No mail at all came from the unit.
    NotSubmitted,
    /// The unit has a current accepted list.
    Accepted,
    /// Mail came, but no list was accepted.
    Rejected,
    /// The unit's only mails are held for staff.
    Held,
}

impl UnitStatus {
    pub fn code(self) -> &'static str {
        match self {
            UnitStatus::NotSubmitted => "not_submitted",
            UnitStatus::Accepted => "accepted",
            UnitStatus::Rejected => "rejected",
            UnitStatus::Held => "held",
        }
    }

    /// As staff read it.
    pub fn label(self) -> &'static str {
        match self {
            UnitStatus::NotSubmitted => "Chưa gửi",
            UnitStatus::Accepted => "Đã tiếp nhận",
            UnitStatus::Rejected => "Cần sửa",
            UnitStatus::Held => "Chờ xử lý",
        }
    }
}

/// One unit's line of the summary.
#[derive(Debug, Clone)]
pub struct UnitLine {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub emails: Vec<String>,
    pub status: UnitStatus,
    /// Mails from the unit, duplicates and automatic mails not counted.
    pub submissions: usize,
    /// When the unit's last mail reached the mailbox (RFC 3339).
    pub last_received_at: Option<String>,
    pub rows: usize,
    /// Current rows per request type, in `RequestType::ALL` order.
    pub counts: [usize; 7],
    pub reconciliation_code: String,
    pub late: bool,
    pub unverified: bool,
    pub paper_received_at: Option<String>,
}

/// One current row of a unit's accepted list.
#[derive(Debug, Clone)]
pub struct RequestLine {
    pub unit_code: String,
    pub row: ValidRow,
    pub source_message_id: String,
}

/// Everything the staff report shows.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub units: Vec<UnitLine>,
    pub requests: Vec<RequestLine>,
    pub mails: Vec<MailLine>,
    pub problems: Vec<ProblemLine>,
    /// The campaign's time zone, for times staff read.
    pub tz: FixedOffset,
}

/// Builds the reconciliation from the store and the registry.
pub fn reconcile(store: &Store, registry: &Registry, tz: FixedOffset) -> Result<Reconciliation> {
    let conn = store.conn();
    let mails = query::mails(conn)?;
    let problems = query::problems(conn)?;
    let versions = query::current_versions(conn)?;

    let mut by_unit: HashMap<&str, Vec<&MailLine>> = HashMap::new();
    for m in &mails {
        if matches!(m.outcome.as_str(), "duplicate" | "ignored") {
            continue;
        }
        if let Some(u) = &m.unit_code {
            by_unit.entry(u.as_str()).or_default().push(m);
        }
    }
    let current: HashMap<&str, &query::CurrentVersion> =
        versions.iter().map(|v| (v.unit_code.as_str(), v)).collect();

    let mut units = Vec::new();
    let mut requests = Vec::new();
    for u in registry.units() {
        let unit_mails = by_unit.get(u.code.as_str()).cloned().unwrap_or_default();
        let version = current.get(u.code.as_str());
        let status = if version.is_some() {
            UnitStatus::Accepted
        } else if unit_mails.is_empty() {
            UnitStatus::NotSubmitted
        } else if unit_mails.iter().all(|m| m.outcome == "held") {
            UnitStatus::Held
        } else {
            UnitStatus::Rejected
        };
        let rows: &[ValidRow] = version.map_or(&[], |v| v.rows.as_slice());
        if let Some(v) = version {
            let ids = query::row_message_ids(conn, v.version_id)?;
            for (row, mid) in v.rows.iter().zip(ids) {
                requests.push(RequestLine {
                    unit_code: u.code.clone(),
                    row: row.clone(),
                    source_message_id: mid,
                });
            }
        }
        units.push(UnitLine {
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.clone(),
            emails: u.emails.clone(),
            status,
            submissions: unit_mails.len(),
            last_received_at: unit_mails.iter().map(|m| m.received_at.clone()).max(),
            rows: rows.len(),
            counts: crate::pipeline::Outcome::counts(rows),
            reconciliation_code: version.map(|v| v.code.clone()).unwrap_or_default(),
            late: version.is_some_and(|v| v.late),
            unverified: version.is_some_and(|v| v.unverified),
            paper_received_at: None,
        });
    }
    Ok(Reconciliation {
        units,
        requests,
        mails,
        problems,
        tz,
    })
}

/// Writes `doi-chieu.xlsx` and the four CSVs into `dir`.
pub fn write(rec: &Reconciliation, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    csv_out::write_all(rec, dir)?;
    xlsx::write(rec, &dir.join("doi-chieu.xlsx"))?;
    Ok(())
}
