//! Store → [`Reconciliation`] (plain data) → the renderers: the staff workbook `doi-chieu.xlsx`,
//! the same content as one printable `doi-chieu.html`, and the CSV contract (`units.csv`,
//! `requests.csv`, `mails.csv`, `problems.csv`). The renderers are pure over the reconciliation.

pub mod csv_out;
pub mod html;
pub mod layout;
pub mod paper;
pub mod upstream;
pub mod xlsx;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, FixedOffset, Utc};

use crate::config::Config;
use crate::store::Store;
use crate::store::paper::{self as stored, VersionLine};
use crate::store::query::{self, MailLine, ProblemLine};
use crate::units::Registry;
use crate::validate::ValidRow;
use crate::wording as w;

use crate::domain::columns::TypeColumns;
use crate::domain::{OutcomeKind, Trust};
use crate::validate::Severity;
use paper::Verdict;

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
    /// Staff marked the unit as having nobody to request ("không có nhu cầu"): it has no list
    /// and is not reminded.
    NoNeed,
}

impl UnitStatus {
    pub fn code(self) -> &'static str {
        match self {
            UnitStatus::NotSubmitted => "not_submitted",
            UnitStatus::Accepted => "accepted",
            UnitStatus::Rejected => "rejected",
            UnitStatus::Held => "held",
            UnitStatus::NoNeed => "no_need",
        }
    }

    /// As staff read it.
    pub fn label(self) -> &'static str {
        match self {
            UnitStatus::NotSubmitted => "Chưa gửi",
            UnitStatus::Accepted => "Đã tiếp nhận",
            UnitStatus::Rejected => "Cần sửa",
            UnitStatus::Held => "Chờ xử lý",
            UnitStatus::NoNeed => "Không có nhu cầu",
        }
    }

    /// Every status, in the order the report and the desk count them.
    pub const ALL: [UnitStatus; 5] = [
        UnitStatus::Accepted,
        UnitStatus::Rejected,
        UnitStatus::Held,
        UnitStatus::NotSubmitted,
        UnitStatus::NoNeed,
    ];
}

/// The paper copy a unit brought, as last recorded (undone receipts do not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paper {
    /// When staff recorded it (RFC 3339).
    pub received_at: String,
    /// The code written on it, normalised; empty when none was given.
    pub code: String,
    pub rows: Option<usize>,
    pub note: String,
    /// Judged against the unit's versions as they are now.
    pub verdict: Verdict,
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
    /// Accepted versions of the unit's list (a supplement makes a version too).
    pub versions: usize,
    /// When the unit's last mail reached the mailbox (RFC 3339).
    pub last_received_at: Option<String>,
    pub rows: usize,
    /// Current rows per request type, in `RequestType::ALL` order.
    pub counts: [usize; 7],
    /// The current version's code as printed, with its check character (empty with none).
    pub reconciliation_code: String,
    pub late: bool,
    pub unverified: bool,
    /// When the paper copy was recorded (RFC 3339).
    pub paper_received_at: Option<String>,
    pub paper: Option<Paper>,
    /// The last day (YYYY-MM-DD) the unit was reminded.
    pub reminded_on: Option<String>,
    /// What staff should know about the unit, in Vietnamese (the paper's note, conflicts...).
    pub notes: Vec<String>,
}

/// One current row of a unit's accepted list.
#[derive(Debug, Clone)]
pub struct RequestLine {
    pub unit_code: String,
    pub row: ValidRow,
    pub source_message_id: String,
    /// When the source mail reached the mailbox (RFC 3339).
    pub received_at: String,
}

/// What kind of thing waits for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IssueKind {
    /// A mail held (unknown sender, unit not inferred, revocation from an unverified sender,
    /// unreadable mail).
    HeldMail,
    /// The unit's latest list was returned for correction (or came without a list).
    AwaitingCorrection,
    /// The same person in the current lists of two units or more.
    SamePerson,
    /// A person in a unit's current list whose unit column names another registered unit.
    OtherUnit,
    /// A reply or reminder the outbox gave up delivering.
    FailedReply,
}

impl IssueKind {
    pub fn label(self) -> &'static str {
        match self {
            IssueKind::HeldMail => w::ISSUE_HELD_MAIL,
            IssueKind::AwaitingCorrection => w::ISSUE_AWAITING_CORRECTION,
            IssueKind::SamePerson => w::ISSUE_SAME_PERSON,
            IssueKind::OtherUnit => w::ISSUE_OTHER_UNIT,
            IssueKind::FailedReply => w::ISSUE_FAILED_REPLY,
        }
    }
}

/// One line of "Cần xử lý".
#[derive(Debug, Clone)]
pub struct Issue {
    pub kind: IssueKind,
    /// The unit or units concerned ("" when unknown).
    pub units: Vec<String>,
    /// When it happened (RFC 3339), when it has a time.
    pub at: Option<String>,
    /// The mail (sender — subject) or the person concerned.
    pub subject: String,
    /// What is the matter, in Vietnamese.
    pub detail: String,
}

/// What the report says about the campaign itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The campaign's time zone, for times staff read.
    pub tz: FixedOffset,
    /// Columns of each request type's consolidated list.
    pub columns: TypeColumns,
    /// The department's name, above the HTML report.
    pub department: String,
    /// The campaign's title.
    pub title: String,
    pub deadline: Option<DateTime<FixedOffset>>,
    /// The fixed columns of the CA's import files ([`upstream`]), the department filled in.
    pub ca: crate::config::CaConfig,
}

impl Settings {
    /// Defaults (no campaign title, default columns) in a time zone.
    pub fn new(tz: FixedOffset) -> Settings {
        Settings {
            tz,
            columns: TypeColumns::default(),
            department: String::new(),
            title: String::new(),
            deadline: None,
            ca: Default::default(),
        }
    }

    /// From the configuration.
    pub fn from_config(config: &Config) -> Result<Settings> {
        let c = &config.campaign;
        Ok(Settings {
            tz: c.deadline.timezone(),
            columns: TypeColumns::from_config(&config.report.columns)?,
            department: c.department_name.clone(),
            title: c.title.clone(),
            deadline: Some(c.deadline),
            ca: {
                let mut ca = config.report.ca.clone();
                if ca.organisation_2.is_empty() {
                    ca.organisation_2 = c.department_name.clone();
                }
                ca
            },
        })
    }
}

/// Everything the staff report shows.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub units: Vec<UnitLine>,
    pub requests: Vec<RequestLine>,
    pub mails: Vec<MailLine>,
    pub problems: Vec<ProblemLine>,
    /// "Cần xử lý", in kind order then time.
    pub issues: Vec<Issue>,
    /// The campaign's time zone, for times staff read.
    pub tz: FixedOffset,
    pub settings: Settings,
    pub generated_at: DateTime<Utc>,
}

impl Reconciliation {
    /// The name of a registered unit, or its code when unknown.
    pub fn unit_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.units
            .iter()
            .find(|u| u.code == code)
            .map_or(code, |u| u.name.as_str())
    }
}

/// "dd/mm/yyyy HH:MM" in the campaign's time zone; "" when `rfc3339` does not parse.
pub fn local_time(rfc3339: &str, tz: &FixedOffset) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(tz).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// "dd/mm/yyyy" in the campaign's time zone; "" when `rfc3339` does not parse.
pub fn local_date(rfc3339: &str, tz: &FixedOffset) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(tz).format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

/// Builds the reconciliation with default settings in a time zone.
pub fn reconcile(store: &Store, registry: &Registry, tz: FixedOffset) -> Result<Reconciliation> {
    reconcile_with(store, registry, Settings::new(tz))
}

/// Builds the reconciliation as the configuration asks (columns, campaign title).
pub fn build(store: &Store, registry: &Registry, config: &Config) -> Result<Reconciliation> {
    reconcile_with(store, registry, Settings::from_config(config)?)
}

/// Builds the reconciliation from the store and the registry.
pub fn reconcile_with(
    store: &Store,
    registry: &Registry,
    settings: Settings,
) -> Result<Reconciliation> {
    let conn = store.conn();
    let tz = settings.tz;
    let mails = query::mails(conn)?;
    let problems = query::problems(conn)?;
    let current_versions = query::current_versions(conn)?;
    let all_versions = stored::versions(conn)?;
    let receipts = stored::receipts(conn)?;
    let reminders = stored::reminders(conn)?;
    let failed = stored::failed_replies(conn)?;
    let no_need = crate::store::desk_query::no_need_units(conn)?;

    let mut by_unit: HashMap<&str, Vec<&MailLine>> = HashMap::new();
    for m in &mails {
        if matches!(m.outcome, OutcomeKind::Duplicate | OutcomeKind::Ignored) {
            continue;
        }
        if let Some(u) = &m.unit_code {
            by_unit.entry(u.as_str()).or_default().push(m);
        }
    }
    let current: HashMap<&str, &query::CurrentVersion> = current_versions
        .iter()
        .map(|v| (v.unit_code.as_str(), v))
        .collect();
    let mut versions_of: HashMap<&str, Vec<&VersionLine>> = HashMap::new();
    for v in &all_versions {
        versions_of.entry(v.unit_code.as_str()).or_default().push(v);
    }
    let mut last_receipt: HashMap<&str, &stored::ReceiptLine> = HashMap::new();
    for r in receipts.iter().filter(|r| r.undone_at.is_none()) {
        last_receipt.insert(r.unit_code.as_str(), r);
    }
    let mut last_reminder: HashMap<&str, &str> = HashMap::new();
    for r in &reminders {
        last_reminder.insert(r.unit_code.as_str(), r.day.as_str());
    }

    let mut units = Vec::new();
    let mut requests = Vec::new();
    let mut issues = Vec::new();
    for u in registry.units() {
        let unit_mails = by_unit.get(u.code.as_str()).cloned().unwrap_or_default();
        let version = current.get(u.code.as_str());
        let versions = versions_of
            .get(u.code.as_str())
            .cloned()
            .unwrap_or_default();
        let status = if version.is_some() {
            UnitStatus::Accepted
        } else if no_need.contains(&u.code) {
            UnitStatus::NoNeed
        } else if unit_mails.is_empty() {
            UnitStatus::NotSubmitted
        } else if unit_mails.iter().all(|m| m.outcome == OutcomeKind::Held) {
            UnitStatus::Held
        } else {
            UnitStatus::Rejected
        };
        let rows: &[ValidRow] = version.map_or(&[], |v| v.rows.as_slice());
        if let Some(v) = version {
            let sources = query::row_message_ids(conn, v.version_id)?;
            for (row, (mid, at)) in v.rows.iter().zip(sources) {
                requests.push(RequestLine {
                    unit_code: u.code.clone(),
                    row: row.clone(),
                    source_message_id: mid,
                    received_at: at,
                });
            }
        }
        let mut notes = Vec::new();
        let paper = last_receipt.get(u.code.as_str()).map(|r| {
            if !r.note.is_empty() {
                notes.push(w::note_paper(&r.note));
            }
            Paper {
                received_at: r.received_at.clone(),
                code: r.code.clone(),
                rows: r.row_count,
                note: r.note.clone(),
                verdict: paper::judge(&r.code, r.row_count, &versions).verdict,
            }
        });
        // The latest list-bearing mail decides whether a correction is awaited.
        let latest_list = unit_mails.iter().rev().find(|m| {
            matches!(
                m.outcome,
                OutcomeKind::Accepted | OutcomeKind::Rejected | OutcomeKind::NoList
            )
        });
        if let Some(m) = latest_list.filter(|m| m.outcome != OutcomeKind::Accepted) {
            let detail = if m.outcome == OutcomeKind::NoList {
                w::ISSUE_NO_LIST.to_string()
            } else {
                let mine: Vec<&ProblemLine> = problems
                    .iter()
                    .filter(|p| p.message_id == m.message_id && p.severity == Severity::Error)
                    .collect();
                w::issue_errors(
                    m.errors as usize,
                    &mine
                        .iter()
                        .take(3)
                        .map(|p| (p.row, p.value.as_str(), p.message.as_str()))
                        .collect::<Vec<_>>(),
                )
            };
            let detail = match version {
                Some(v) => {
                    notes.push(w::note_correction_awaited(&local_time(&m.received_at, &tz)));
                    format!("{detail} {}", w::issue_still_current(&v.code))
                }
                None => detail,
            };
            issues.push(Issue {
                kind: IssueKind::AwaitingCorrection,
                units: vec![u.code.clone()],
                at: Some(m.received_at.clone()),
                subject: mail_subject(m),
                detail,
            });
        }
        units.push(UnitLine {
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.clone(),
            emails: u.emails.clone(),
            status,
            submissions: unit_mails.len(),
            versions: versions.len(),
            last_received_at: unit_mails.iter().map(|m| m.received_at.clone()).max(),
            rows: rows.len(),
            counts: crate::pipeline::Outcome::counts(rows),
            reconciliation_code: version
                .map(|v| crate::domain::paper::printed_code(&v.code))
                .unwrap_or_default(),
            late: version.is_some_and(|v| v.late),
            unverified: version.is_some_and(|v| v.unverified),
            paper_received_at: paper.as_ref().map(|p| p.received_at.clone()),
            paper,
            reminded_on: last_reminder.get(u.code.as_str()).map(|d| d.to_string()),
            notes,
        });
    }

    for m in mails.iter().filter(|m| m.outcome == OutcomeKind::Held) {
        issues.push(Issue {
            kind: IssueKind::HeldMail,
            units: m.unit_code.clone().into_iter().collect(),
            at: Some(m.received_at.clone()),
            subject: mail_subject(m),
            detail: held_reason(m),
        });
    }

    // The same person in two units' current lists.
    let mut by_person: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, l) in requests.iter().enumerate() {
        by_person.entry(l.row.person_key()).or_default().push(i);
    }
    let mut same: Vec<(String, Vec<usize>)> = by_person
        .into_iter()
        .filter(|(_, idx)| {
            idx.iter()
                .map(|&i| requests[i].unit_code.as_str())
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        })
        .collect();
    same.sort();
    for (_, idx) in same {
        let first = &requests[idx[0]].row;
        let unit_codes: BTreeSet<&str> = idx
            .iter()
            .map(|&i| requests[i].unit_code.as_str())
            .collect();
        let detail = idx
            .iter()
            .map(|&i| {
                let l = &requests[i];
                w::issue_same_person_in(&l.unit_code, l.row.request_type.label(), l.row.source.row)
            })
            .collect::<Vec<_>>()
            .join("; ");
        for code in &unit_codes {
            let others: Vec<&str> = unit_codes.iter().filter(|c| *c != code).copied().collect();
            if let Some(u) = units.iter_mut().find(|u| u.code == *code) {
                u.notes
                    .push(w::note_same_person(&first.full_name, &others.join(", ")));
            }
        }
        issues.push(Issue {
            kind: IssueKind::SamePerson,
            units: unit_codes.iter().map(|c| c.to_string()).collect(),
            at: None,
            subject: w::person(&first.full_name, &first.id_number),
            detail,
        });
    }

    // A person a unit lists under another registered unit's name (flagged when taken). The
    // registry is asked once per unit and name written (a unit's rows mostly repeat its own
    // name: asking for every row walked the whole registry 200,000 times for the country), and
    // not at all for a unit's own name as registered: its own match spans the whole text, so
    // no other unit's is longer, and the answer is the unit itself or nobody.
    let own_names: HashMap<&str, String> = registry
        .units()
        .iter()
        .map(|u| (u.code.as_str(), crate::text::fold(&u.name)))
        .collect();
    let mut named_as: HashMap<(&str, &str), Option<&crate::units::Unit>> = HashMap::new();
    for l in &requests {
        let named = *named_as
            .entry((l.unit_code.as_str(), l.row.unit_name.as_str()))
            .or_insert_with(|| {
                let own = own_names.get(l.unit_code.as_str());
                if own.is_some_and(|n| *n == crate::text::fold(&l.row.unit_name)) {
                    None
                } else {
                    registry.infer(&l.row.unit_name)
                }
            });
        if let Some(named) = named
            && named.code != l.unit_code
        {
            issues.push(Issue {
                kind: IssueKind::OtherUnit,
                units: vec![l.unit_code.clone(), named.code.clone()],
                at: Some(l.received_at.clone()),
                subject: w::person(&l.row.full_name, &l.row.id_number),
                detail: w::issue_other_unit(
                    &l.unit_code,
                    &named.name,
                    l.row.request_type.label(),
                    l.row.source.row,
                ),
            });
        }
    }

    for f in &failed {
        issues.push(Issue {
            kind: IssueKind::FailedReply,
            units: f.unit_code.clone().into_iter().collect(),
            at: Some(f.created_at.clone()),
            subject: f.recipients.join(", "),
            detail: w::issue_failed_reply(&f.kind, f.attempts, &f.last_error),
        });
    }
    issues.sort_by(|a, b| (a.kind, &a.at).cmp(&(b.kind, &b.at)));

    Ok(Reconciliation {
        units,
        requests,
        mails,
        problems,
        issues,
        tz,
        settings,
        generated_at: Utc::now(),
    })
}

/// "sender — subject".
fn mail_subject(m: &MailLine) -> String {
    if m.subject.is_empty() {
        m.from.clone()
    } else {
        format!("{} — {}", m.from, m.subject)
    }
}

/// Why a mail is held, for staff: its real reason, read from the stored note (English, for the
/// logs) that the step holding it wrote, before what its sender's trust would suggest.
fn held_reason(m: &MailLine) -> String {
    use crate::domain::Unread;
    let note = m.note.as_str();
    if let Some(reason) = w::held_trust_reason(note) {
        return reason;
    }
    if note.starts_with("unreadable mail") {
        return w::HELD_UNREADABLE.to_string();
    }
    if note.starts_with("too large to read") {
        return w::HELD_OVERSIZED.to_string();
    }
    if let Some(rest) = note.strip_prefix("the attachments could not be read to the end (reader ") {
        let why = [
            Unread::Crashed,
            Unread::CpuTime,
            Unread::TimedOut,
            Unread::Garbled,
            Unread::Poison,
        ]
        .into_iter()
        .find(|u| rest.starts_with(u.code()))
        .unwrap_or(Unread::Crashed);
        return format!("{}.", w::unread_reason(why));
    }
    if note.starts_with("revocation requested") {
        return w::HELD_UNVERIFIED_REVOKE.to_string();
    }
    if m.trust == Trust::Unknown {
        w::HELD_UNKNOWN_SENDER.to_string()
    } else if m.unit_code.is_none() {
        w::HELD_UNIT_UNKNOWN.to_string()
    } else {
        w::HELD_OTHER.to_string()
    }
}

/// Writes `doi-chieu.xlsx`, `doi-chieu.html`, the four CSVs and the CA's import files
/// ([`upstream`]) into `dir`.
pub fn write(rec: &Reconciliation, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    csv_out::write_all(rec, dir)?;
    upstream::write_all(rec, dir)?;
    xlsx::write(rec, &dir.join("doi-chieu.xlsx"))?;
    let path = dir.join("doi-chieu.html");
    std::fs::write(&path, html::render(rec))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod held_tests {
    use super::*;
    use crate::domain::ReplyKind;

    fn held(note: &str, trust: Trust, unit: Option<&str>) -> MailLine {
        MailLine {
            id: 1,
            message_id: "m@x".into(),
            received_at: "2022-12-05T01:00:00+00:00".into(),
            from: "c3nguyenkhuyen@namdinh.edu.vn".into(),
            subject: String::new(),
            unit_code: unit.map(str::to_string),
            trust,
            outcome: OutcomeKind::Held,
            reply_kind: ReplyKind::Held,
            late: false,
            note: note.into(),
            errors: 0,
            warnings: 0,
            reply_status: "held".into(),
        }
    }

    #[test]
    fn each_held_mail_gets_its_real_reason() {
        let oversized = held(
            "too large to read: 30000000 bytes, over the limit of 25 MiB; only the header was kept",
            Trust::Registered,
            Some("THPT-NK"),
        );
        assert_eq!(held_reason(&oversized), w::HELD_OVERSIZED);
        let unread = held(
            "the attachments could not be read to the end (reader timed_out): held for staff",
            Trust::Registered,
            Some("THPT-NK"),
        );
        assert!(
            held_reason(&unread).contains("quá lâu"),
            "{}",
            held_reason(&unread)
        );
        let revoke = held(
            "revocation requested from unregistered address a@namdinh.edu.vn for unit THPT-NK",
            Trust::Unverified,
            Some("THPT-NK"),
        );
        assert_eq!(held_reason(&revoke), w::HELD_UNVERIFIED_REVOKE);
        let gmail = held("sender x is not registered", Trust::Unknown, None);
        assert_eq!(held_reason(&gmail), w::HELD_UNKNOWN_SENDER);
        let oversized_unknown = held("too large to read: 30000000 bytes", Trust::Unknown, None);
        assert_eq!(held_reason(&oversized_unknown), w::HELD_OVERSIZED);
    }
}
