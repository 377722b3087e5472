//! Store → [`Reconciliation`] → the renderers: the staff workbook `doi-chieu.xlsx`, the same
//! content as one printable `doi-chieu.html`, and the CSV contract (`units.csv`, `requests.csv`,
//! `mails.csv`, `problems.csv`). The reconciliation holds what is small (units, counts,
//! settings); the renderers read the big collections (current rows, mails, problems, held mails)
//! through it from the store, in the order they write them.

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

/// Everything the staff report shows: what is small (the units, the settings, the counts) held,
/// the big collections (the current rows, the mails, their problems, the held mails among the
/// things to do) read from the store as each renderer writes them, in the order it writes them:
/// the report's memory does not grow with the campaign.
#[derive(Debug)]
pub struct Reconciliation<'a> {
    pub units: Vec<UnitLine>,
    /// The campaign's time zone, for times staff read.
    pub tz: FixedOffset,
    pub settings: Settings,
    pub generated_at: DateTime<Utc>,
    source: Source<'a>,
}

/// Where the big collections come from.
#[derive(Debug)]
enum Source<'a> {
    Store {
        conn: &'a rusqlite::Connection,
        /// The current version of each unit, in `units` order.
        versions: Vec<Option<i64>>,
        requests: usize,
        held_mails: usize,
        /// "Cần xử lý" but the held mails (read from the store, first), in kind order then
        /// time: a few for each unit, the persons listed twice and the replies given up.
        issues: Vec<Issue>,
    },
    Held(Held),
}

/// The big collections held in memory, to render a reconciliation made without a store.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The current rows, in unit order.
    pub requests: Vec<RequestLine>,
    pub mails: Vec<MailLine>,
    pub problems: Vec<ProblemLine>,
    /// "Cần xử lý", in kind order then time.
    pub issues: Vec<Issue>,
}

impl Reconciliation<'static> {
    /// A reconciliation of collections held in memory.
    pub fn held(
        units: Vec<UnitLine>,
        held: Held,
        settings: Settings,
        generated_at: DateTime<Utc>,
    ) -> Reconciliation<'static> {
        Reconciliation {
            units,
            tz: settings.tz,
            settings,
            generated_at,
            source: Source::Held(held),
        }
    }
}

/// How many items to skip, then how many at most to hand on.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub skip: usize,
    pub take: usize,
}

impl Window {
    pub const ALL: Window = Window {
        skip: 0,
        take: usize::MAX,
    };

    /// The first `n`.
    pub fn first(n: usize) -> Window {
        Window { skip: 0, take: n }
    }

    fn end(self) -> usize {
        self.skip.saturating_add(self.take)
    }
}

impl Reconciliation<'_> {
    /// The name of a registered unit, or its code when unknown.
    pub fn unit_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.units
            .iter()
            .find(|u| u.code == code)
            .map_or(code, |u| u.name.as_str())
    }

    /// [`Self::unit_name`] for many lookups: the names by code.
    pub fn unit_names(&self) -> HashMap<&str, &str> {
        self.units
            .iter()
            .map(|u| (u.code.as_str(), u.name.as_str()))
            .collect()
    }

    /// How many current rows the units' lists hold in all.
    pub fn request_count(&self) -> usize {
        match &self.source {
            Source::Store { requests, .. } => *requests,
            Source::Held(h) => h.requests.len(),
        }
    }

    /// How many mails are held for staff.
    pub fn held_mail_count(&self) -> usize {
        match &self.source {
            Source::Store { held_mails, .. } => *held_mails,
            Source::Held(h) => h
                .mails
                .iter()
                .filter(|m| m.outcome == OutcomeKind::Held)
                .count(),
        }
    }

    /// How many lines "Cần xử lý" has.
    pub fn issue_count(&self) -> usize {
        match &self.source {
            Source::Store {
                held_mails, issues, ..
            } => held_mails + issues.len(),
            Source::Held(h) => h.issues.len(),
        }
    }

    /// The current rows (of these request types, or all when `only` is empty) in unit order, each with its number
    /// among them (from 0), those in `window`.
    pub fn each_request(
        &self,
        only: &[crate::schema::RequestType],
        window: Window,
        f: &mut dyn FnMut(usize, &RequestLine) -> Result<()>,
    ) -> Result<()> {
        let end = window.end();
        let mut i = 0;
        match &self.source {
            Source::Held(h) => {
                for l in h
                    .requests
                    .iter()
                    .filter(|l| only.is_empty() || only.contains(&l.row.request_type))
                {
                    if i >= end {
                        break;
                    }
                    if i >= window.skip {
                        f(i, l)?;
                    }
                    i += 1;
                }
            }
            Source::Store { conn, versions, .. } => {
                for (u, version) in self.units.iter().zip(versions) {
                    let Some(version) = version else { continue };
                    if i >= end {
                        break;
                    }
                    // A unit whose rows all come before the window is not read.
                    let rows = if only.is_empty() {
                        u.rows
                    } else {
                        crate::schema::RequestType::ALL
                            .iter()
                            .zip(u.counts)
                            .filter(|(t, _)| only.contains(t))
                            .map(|(_, n)| n)
                            .sum()
                    };
                    if i + rows <= window.skip {
                        i += rows;
                        continue;
                    }
                    query::each_current_row(conn, *version, only, |r| {
                        if i >= window.skip {
                            let line = RequestLine {
                                unit_code: u.code.clone(),
                                row: r.row,
                                source_message_id: r.message_id,
                                received_at: r.received_at,
                            };
                            f(i, &line)?;
                        }
                        i += 1;
                        Ok(i < end)
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Every mail taken, in the order taken.
    pub fn each_mail(&self, f: &mut dyn FnMut(&MailLine) -> Result<()>) -> Result<()> {
        match &self.source {
            Source::Held(h) => h.mails.iter().try_for_each(f),
            Source::Store { conn, .. } => query::each_mail(conn, |m| f(&m)),
        }
    }

    /// Every problem found, in the order found.
    pub fn each_problem(&self, f: &mut dyn FnMut(&ProblemLine) -> Result<()>) -> Result<()> {
        match &self.source {
            Source::Held(h) => h.problems.iter().try_for_each(f),
            Source::Store { conn, .. } => query::each_problem(conn, |p| f(&p)),
        }
    }

    /// "Cần xử lý", in kind order then time, those in `window`.
    pub fn each_issue(
        &self,
        window: Window,
        f: &mut dyn FnMut(&Issue) -> Result<()>,
    ) -> Result<()> {
        let end = window.end();
        match &self.source {
            Source::Held(h) => h.issues.iter().take(end).skip(window.skip).try_for_each(f),
            Source::Store {
                conn,
                held_mails,
                issues,
                ..
            } => {
                // Held mails come first (their kind sorts first), by time.
                if window.skip < *held_mails {
                    let mut i = 0;
                    query::each_held_mail(conn, |m| {
                        if i >= window.skip && i < end {
                            f(&held_issue(&m))?;
                        }
                        i += 1;
                        Ok(())
                    })?;
                }
                let (skip, end) = (
                    window.skip.saturating_sub(*held_mails),
                    end.saturating_sub(*held_mails),
                );
                issues.iter().take(end).skip(skip).try_for_each(f)
            }
        }
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
pub fn reconcile<'a>(
    store: &'a Store,
    registry: &Registry,
    tz: FixedOffset,
) -> Result<Reconciliation<'a>> {
    reconcile_with(store, registry, Settings::new(tz))
}

/// Builds the reconciliation as the configuration asks (columns, campaign title).
pub fn build<'a>(
    store: &'a Store,
    registry: &Registry,
    config: &Config,
) -> Result<Reconciliation<'a>> {
    reconcile_with(store, registry, Settings::from_config(config)?)
}

/// A person's key as a number: the first pass over the rows keeps these, not the keys.
fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Builds the reconciliation from the store and the registry: the units' lines and the things
/// to do that are not held mails, in one pass over the current rows (a second over those of the
/// persons who may be in two units' lists); the rest is read again as it is written.
pub fn reconcile_with<'a>(
    store: &'a Store,
    registry: &Registry,
    settings: Settings,
) -> Result<Reconciliation<'a>> {
    let conn = store.conn();
    let tz = settings.tz;
    let unit_mails = query::unit_mails(conn)?;
    let held_mails = query::held_count(conn)?;
    let current_versions = query::current_versions(conn)?;
    let all_versions = stored::versions(conn)?;
    let receipts = stored::receipts(conn)?;
    let reminders = stored::reminders(conn)?;
    let failed = stored::failed_replies(conn)?;
    let no_need = crate::store::desk_query::no_need_units(conn)?;

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
    let none = query::UnitMails::default();

    let mut units = Vec::new();
    let mut unit_versions = Vec::new();
    let mut issues = Vec::new();
    // The first unit each person is listed in (by the hash of the person's key), or MANY.
    const MANY: u32 = u32::MAX;
    let mut first_unit: HashMap<u64, u32> = HashMap::new();
    let mut requests = 0;
    for (k, u) in registry.units().iter().enumerate() {
        let mails = unit_mails.get(&u.code).unwrap_or(&none);
        let version = current.get(u.code.as_str());
        let versions = versions_of
            .get(u.code.as_str())
            .cloned()
            .unwrap_or_default();
        let status = if version.is_some() {
            UnitStatus::Accepted
        } else if no_need.contains(&u.code) {
            UnitStatus::NoNeed
        } else if mails.submissions == 0 {
            UnitStatus::NotSubmitted
        } else if mails.all_held {
            UnitStatus::Held
        } else {
            UnitStatus::Rejected
        };
        let mut counts = [0; 7];
        let mut rows = 0;
        if let Some(v) = version {
            // A person a unit lists under another registered unit's name (flagged when
            // taken). The registry is asked once per name the unit writes (a unit's rows
            // mostly repeat its own name: asking for every row walked the whole registry
            // 200,000 times for the country), and not at all for the unit's own name as
            // registered: its own match spans the whole text, so no other unit's is longer,
            // and the answer is the unit itself or nobody.
            let own_name = crate::text::fold(&u.name);
            let mut named_as: HashMap<String, Option<&crate::units::Unit>> = HashMap::new();
            query::each_current_row(conn, v.version_id, &[], |r| {
                rows += 1;
                let t = crate::schema::RequestType::ALL
                    .iter()
                    .position(|t| *t == r.row.request_type)
                    .expect("every type is listed");
                counts[t] += 1;
                first_unit
                    .entry(key_hash(&r.row.person_key()))
                    .and_modify(|first| {
                        if *first != k as u32 {
                            *first = MANY;
                        }
                    })
                    .or_insert(k as u32);
                let named = match named_as.get(&r.row.unit_name) {
                    Some(named) => *named,
                    None => {
                        let named = if own_name == crate::text::fold(&r.row.unit_name) {
                            None
                        } else {
                            registry.infer(&r.row.unit_name)
                        };
                        named_as.insert(r.row.unit_name.clone(), named);
                        named
                    }
                };
                if let Some(named) = named
                    && named.code != u.code
                {
                    issues.push(Issue {
                        kind: IssueKind::OtherUnit,
                        units: vec![u.code.clone(), named.code.clone()],
                        at: Some(r.received_at.clone()),
                        subject: w::person(&r.row.full_name, &r.row.id_number),
                        detail: w::issue_other_unit(
                            &u.code,
                            &named.name,
                            r.row.request_type.label(),
                            r.row.source.row,
                        ),
                    });
                }
                Ok(true)
            })?;
        }
        requests += rows;
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
        let latest_list = if mails.submissions > 0 {
            query::latest_list_mail(conn, &u.code)?
        } else {
            None
        };
        if let Some(m) = latest_list.filter(|m| m.outcome != OutcomeKind::Accepted) {
            let detail = if m.outcome == OutcomeKind::NoList {
                w::ISSUE_NO_LIST.to_string()
            } else {
                let first = query::first_errors(conn, &m.message_id, 3)?;
                w::issue_errors(
                    m.errors as usize,
                    &first
                        .iter()
                        .map(|(row, value, message)| (*row, value.as_str(), message.as_str()))
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
                subject: mail_subject(&m),
                detail,
            });
        }
        unit_versions.push(version.map(|v| v.version_id));
        units.push(UnitLine {
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.clone(),
            emails: u.emails.clone(),
            status,
            submissions: mails.submissions,
            versions: versions.len(),
            last_received_at: mails.last_received_at.clone(),
            rows,
            counts,
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

    // The same person in two units' current lists: the rows of the persons the first pass
    // saw in two units or more (or whose key's hash another's shares), read again.
    first_unit.retain(|_, first| *first == MANY);
    if !first_unit.is_empty() {
        let mut by_person: std::collections::BTreeMap<String, Vec<(usize, ValidRow)>> =
            Default::default();
        for (k, version) in unit_versions.iter().enumerate() {
            let Some(version) = version else { continue };
            query::each_current_row(conn, *version, &[], |r| {
                let key = r.row.person_key();
                if first_unit.contains_key(&key_hash(&key)) {
                    by_person.entry(key).or_default().push((k, r.row));
                }
                Ok(true)
            })?;
        }
        for (_, rows) in by_person {
            let unit_codes: BTreeSet<&str> =
                rows.iter().map(|(k, _)| units[*k].code.as_str()).collect();
            if unit_codes.len() < 2 {
                continue;
            }
            let first = &rows[0].1;
            let detail = rows
                .iter()
                .map(|(k, r)| {
                    w::issue_same_person_in(&units[*k].code, r.request_type.label(), r.source.row)
                })
                .collect::<Vec<_>>()
                .join("; ");
            let unit_codes: Vec<String> = unit_codes.into_iter().map(str::to_string).collect();
            for code in &unit_codes {
                let others: Vec<&str> = unit_codes
                    .iter()
                    .filter(|c| *c != code)
                    .map(String::as_str)
                    .collect();
                if let Some(u) = units.iter_mut().find(|u| u.code == *code) {
                    u.notes
                        .push(w::note_same_person(&first.full_name, &others.join(", ")));
                }
            }
            issues.push(Issue {
                kind: IssueKind::SamePerson,
                units: unit_codes,
                at: None,
                subject: w::person(&first.full_name, &first.id_number),
                detail,
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
        tz,
        settings,
        generated_at: Utc::now(),
        source: Source::Store {
            conn,
            versions: unit_versions,
            requests,
            held_mails,
            issues,
        },
    })
}

/// A held mail's line of "Cần xử lý".
fn held_issue(m: &MailLine) -> Issue {
    Issue {
        kind: IssueKind::HeldMail,
        units: m.unit_code.clone().into_iter().collect(),
        at: Some(m.received_at.clone()),
        subject: mail_subject(m),
        detail: held_reason(m),
    }
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

/// The report folder's lock file: held by whoever builds and writes the folder.
const LOCK_FILE: &str = ".lock";
/// The folder a report is written into before its files are moved into place.
const STAGING_DIR: &str = ".writing";

/// Builds the reconciliation from `store` and writes it into `dir` ([`write_staged`]), holding the
/// folder's lock across both. The daemon, the desk and a command (`paper`, `report`, `purge`)
/// may write the same folder at once: each waits its turn and reads the store only then, so
/// the folder ends with the newest state, never an older build written last.
pub fn rewrite(store: &Store, registry: &Registry, config: &Config, dir: &Path) -> Result<()> {
    let _lock = lock(dir)?;
    let rec = build(store, registry, config)?;
    write_staged(&rec, dir)
}

/// Creates `dir` and takes its lock (waiting for another writer to finish); released when the
/// file is dropped.
fn lock(dir: &Path) -> Result<std::fs::File> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Writes `doi-chieu.xlsx`, `doi-chieu.html`, the four CSVs and the CA's import files
/// ([`upstream`]) into `dir`. Each file is written whole in a staging folder inside `dir` and
/// then moved into place: a clerk opening one while it is being written, or a download from
/// the desk, gets the previous file or the new one, never half of one. The caller holds the
/// lock ([`rewrite`]), so the staging folder is its own; one a crash left is removed first.
fn write_staged(rec: &Reconciliation, dir: &Path) -> Result<()> {
    use anyhow::Context;
    let staging = dir.join(STAGING_DIR);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let written = (|| -> Result<()> {
        csv_out::write_all(rec, &staging)?;
        upstream::write_all(rec, &staging)?;
        xlsx::write(rec, &staging.join("doi-chieu.xlsx"))?;
        html::write(rec, &staging.join("doi-chieu.html"))?;
        for e in std::fs::read_dir(&staging)? {
            let e = e?;
            if e.file_type()?.is_file() {
                let to = dir.join(e.file_name());
                std::fs::rename(e.path(), &to)
                    .with_context(|| format!("cannot move the new {} into place", to.display()))?;
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    written
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
