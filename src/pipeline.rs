//! The pure middle: a parsed mail, the registry and the unit's stored version → [`Outcome`].
//! No I/O here; the daemon stores the outcome and the reply in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::dedupe::{self, Changes};
use crate::mail::ParsedMail;
use crate::schema::RequestType;
use crate::sheet::{self, ReadError, Role, header};
use crate::text::fold;
use crate::units::{Registry, Unit};
use crate::validate::{self, RowProblem, Severity, ValidRow};
use crate::wording as w;

pub use crate::domain::outcome::{
    ANSWERS_OURS, FROM_NOT_ONE_ADDRESS, OutcomeKind, ROWS_HELD, ReplyKind, Trust, Unread,
};

/// One attachment as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    pub filename: String,
    /// Sheets holding a recognised table.
    pub sheets: Vec<String>,
    /// Rows read (valid or not).
    pub rows: usize,
}

/// The unit's full list after an accepted submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVersion {
    /// Left out of a reply's draft, which names the stored version instead (`outbox::drafts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<ValidRow>,
    pub code: String,
    pub changes: Changes,
    /// True when the unit had an accepted version before.
    pub had_previous: bool,
    /// When the list was written, as staff see it in their mail client ([`written_at`]): the
    /// versions of a unit follow this order. Kept by the store, not in a reply's draft.
    #[serde(skip)]
    pub written_at: DateTime<Utc>,
    /// Set when the unit's current version was written after this list (mail servers delay
    /// mail): this list is kept as an older version and the current one stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer: Option<NewerVersion>,
}

/// The unit's current version that stays current when an older list arrives after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewerVersion {
    pub code: String,
    pub written_at: DateTime<Utc>,
}

/// A unit's current accepted version, as the decision needs it.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    pub rows: Vec<ValidRow>,
    pub code: String,
    pub written_at: DateTime<Utc>,
}

/// How far a mail's Date may run ahead of its arrival (the sender's clock) and still be read as
/// the time it was written; it is then taken as the arrival.
pub const DATE_SKEW_MINUTES: i64 = 15;

/// How long before the unit's current version a Date may lie and still be believed: longer
/// than any mail server keeps retrying (RFC 5321 §4.5.4.1 suggests 4-5 days). A Date older than
/// that is a wrong clock, and the arrival counts.
pub const DATE_BEFORE_PREVIOUS_DAYS: i64 = 5;

/// When a list was written, as DESIGN.md orders versions: the mail's Date header when it is
/// plausible (not after the arrival beyond a clock's skew, not long before the unit's current
/// version), else the arrival. Never after the arrival.
pub fn written_at(
    date: Option<DateTime<chrono::FixedOffset>>,
    received_at: DateTime<Utc>,
    previous: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let Some(date) = date.map(|d| d.with_timezone(&Utc)) else {
        return received_at;
    };
    if date > received_at + chrono::Duration::minutes(DATE_SKEW_MINUTES) {
        return received_at;
    }
    if let Some(p) = previous
        && date < p - chrono::Duration::days(DATE_BEFORE_PREVIOUS_DAYS)
    {
        return received_at;
    }
    date.min(received_at)
}

/// Everything the store keeps and the reply says about one mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// The unit, when known or inferred.
    pub unit: Option<Unit>,
    pub trust: Trust,
    /// Reached the mailbox after the deadline.
    pub late: bool,
    /// The list adds to the previous version ("bổ sung") instead of replacing it.
    pub supplement: bool,
    pub files: Vec<FileResult>,
    /// The valid rows of this mail's lists.
    pub rows: Vec<ValidRow>,
    /// Errors and warnings, in file, sheet and row order.
    pub problems: Vec<RowProblem>,
    /// Set for an accepted list.
    pub version: Option<NewVersion>,
    pub reply: ReplyKind,
    /// Why the mail was held, ignored or not read, in English for the logs and staff notes.
    pub note: String,
    /// Set when the attachments could not be read to the end (the mail is held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<Unread>,
}

impl Outcome {
    /// An outcome with nothing read, for mails that are not processed further.
    pub fn new(kind: OutcomeKind, note: impl Into<String>) -> Outcome {
        Outcome {
            kind,
            unit: None,
            trust: Trust::Unknown,
            late: false,
            supplement: false,
            files: Vec::new(),
            rows: Vec::new(),
            problems: Vec::new(),
            version: None,
            reply: ReplyKind::None,
            note: note.into(),
            unread: None,
        }
    }

    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    /// Counts of valid rows per request type, in `RequestType::ALL` order.
    pub fn counts(rows: &[ValidRow]) -> [usize; 7] {
        let mut counts = [0; 7];
        for r in rows {
            let i = RequestType::ALL
                .iter()
                .position(|t| *t == r.request_type)
                .expect("every type is listed");
            counts[i] += 1;
        }
        counts
    }
}

/// What can be known of a mail without the store: who sent it, for which unit, and what its
/// lists say. Independent of every other mail, so the mails of a batch are read in parallel.
#[derive(Debug, Clone)]
pub struct Reading {
    pub unit: Option<Unit>,
    pub trust: Trust,
    pub lists: ReadLists,
}

/// Reads one parsed mail: sender trust, the unit, the attached lists. A mail that could not be
/// parsed or that a machine wrote is not read further. Pure.
pub fn read(mail: &ParsedMail, config: &Config, registry: &Registry) -> Reading {
    read_with(mail, config, registry, read_lists)
}

/// [`read`], with the lists read by `lists` (the daemon reads them in a worker process).
pub fn read_with(
    mail: &ParsedMail,
    config: &Config,
    registry: &Registry,
    lists: impl FnOnce(&ParsedMail, &validate::Context) -> ReadLists,
) -> Reading {
    match begin_reading(mail, config, registry) {
        Begun::Done(reading) => reading,
        Begun::Lists(pending) => {
            let read = lists(mail, &pending.context);
            pending.finish(mail, registry, read)
        }
    }
}

/// A mail's reading once its sender is known: finished already (a malformed or automatic mail
/// has no lists to read), or waiting for its lists.
pub enum Begun {
    Done(Reading),
    Lists(PendingReading),
}

/// A mail's reading waiting for its lists: who sent it, and the context they are read in.
pub struct PendingReading {
    unit: Option<Unit>,
    trust: Trust,
    /// What the lists are validated against.
    pub context: validate::Context,
}

/// The first half of [`read_with`]: who sent the mail, and whether it has lists to read.
pub fn begin_reading(mail: &ParsedMail, config: &Config, registry: &Registry) -> Begun {
    let from = mail.from.clone().unwrap_or_default();
    let domain = from.rsplit('@').next().unwrap_or("").to_string();
    let (unit, trust) = match registry.by_email(&from) {
        // A From that is not one plain address is nobody's, whatever address it holds.
        _ if mail.sender_problem.is_some() => (None, Trust::Unknown),
        Some(u) => (Some(u.clone()), Trust::Registered),
        None if config.campaign.is_official_domain(&domain) => {
            (registry.infer(&mail.subject).cloned(), Trust::Unverified)
        }
        None => (None, Trust::Unknown),
    };
    if mail.malformed.is_some() || mail.automatic.is_some() {
        return Begun::Done(Reading {
            unit,
            trust,
            lists: ReadLists::default(),
        });
    }
    let unit_name = unit.as_ref().map(|u| u.name.clone()).unwrap_or_default();
    let context = validate::Context {
        reference_date: config.campaign.reference_date(),
        min_age: config.rules.min_age,
        max_age: config.rules.max_age,
        official_domains: config.campaign.official_domains.clone(),
        unit_name,
    };
    Begun::Lists(PendingReading {
        unit,
        trust,
        context,
    })
}

impl PendingReading {
    /// The second half of [`read_with`]: the mail's reading with its lists.
    pub fn finish(self, mail: &ParsedMail, registry: &Registry, lists: ReadLists) -> Reading {
        let PendingReading {
            mut unit,
            trust,
            context,
        } = self;
        if trust == Trust::Unverified {
            // The subject and the list's own unit column together name the unit, the most
            // specific of nested names winning ("THPT Xuân Trường C" over "THPT Xuân Trường").
            let mut names: Vec<&str> = lists
                .rows
                .iter()
                .map(|r| r.unit_name.as_str())
                .filter(|n| *n != context.unit_name)
                .collect();
            names.sort_unstable();
            names.dedup();
            unit = registry.infer_from(&mail.subject, &names).cloned().or(unit);
        }
        Reading { unit, trust, lists }
    }
}

/// Processes one parsed mail. `previous` gives a unit's current accepted version (no other
/// unit's list is looked at: see [`decide`] for that).
pub fn process(
    mail: &ParsedMail,
    received_at: DateTime<Utc>,
    config: &Config,
    registry: &Registry,
    previous: &dyn Fn(&str) -> Option<Previous>,
) -> Outcome {
    let on_file = OnFile {
        registry,
        previous,
        holders: &|_, _| Vec::new(),
    };
    decide(
        mail,
        read(mail, config, registry),
        received_at,
        config,
        &on_file,
    )
}

/// What the store knows that a decision needs: the registry, a unit's current accepted rows,
/// and which units' current lists hold a person.
pub struct OnFile<'a> {
    pub registry: &'a Registry,
    /// A unit's current accepted version, `None` when it has no accepted list.
    pub previous: &'a dyn Fn(&str) -> Option<Previous>,
    /// The codes of the units other than the second argument's whose current accepted list
    /// holds this ID number (CCCD).
    pub holders: &'a dyn Fn(&str, &str) -> Vec<String>,
}

/// What becomes of a mail once read ([`read`]), given what is on file: accepted as the unit's
/// new version, returned for correction, held or ignored.
pub fn decide(
    mail: &ParsedMail,
    reading: Reading,
    received_at: DateTime<Utc>,
    config: &Config,
    on_file: &OnFile,
) -> Outcome {
    if let Some(reason) = &mail.malformed {
        return Outcome::new(OutcomeKind::Held, format!("unreadable mail: {reason}"));
    }
    if let Some(reason) = &mail.automatic {
        return Outcome::new(OutcomeKind::Ignored, format!("automatic mail: {reason}"));
    }
    let from = mail.from.clone().unwrap_or_default();
    let Reading {
        unit,
        trust,
        lists: read,
    } = reading;

    let unread = read.unread;
    let mut outcome = Outcome::new(OutcomeKind::Accepted, "");
    outcome.unread = unread;
    outcome.trust = trust;
    outcome.unit = unit.clone();
    outcome.late = received_at > config.campaign.deadline;
    outcome.supplement = is_supplement(mail);
    outcome.files = read.files;
    outcome.problems = read.problems;
    outcome.rows = read.rows;

    let reply_to_unknown = config.replies.reply_to_unknown_senders;
    if let Some(why) = &mail.sender_problem {
        // Nobody can be answered or trusted: whatever address the header holds may be forged.
        outcome.kind = OutcomeKind::Held;
        outcome.unit = None;
        outcome.note = format!("{FROM_NOT_ONE_ADDRESS} ({why}): unknown sender, not answered");
        return outcome;
    }
    let Some(unit) = unit else {
        outcome.kind = OutcomeKind::Held;
        outcome.note = match trust {
            Trust::Unknown => {
                format!("sender {from} is not registered and not on an official domain")
            }
            _ => {
                format!("sender {from} is not registered and no registered unit could be inferred")
            }
        };
        outcome.reply = if reply_to_unknown || trust == Trust::Unverified {
            ReplyKind::Held
        } else {
            ReplyKind::None
        };
        return outcome;
    };

    if let Some(why) = unread {
        outcome.kind = OutcomeKind::Held;
        outcome.note = format!(
            "the attachments could not be read to the end (reader {}): held for staff",
            why.code()
        );
        outcome.reply = ReplyKind::Held;
        return outcome;
    }

    if !read.any_candidate {
        if let Some(ours) = answers_ours(mail, config) {
            // An answer to one of our replies with nothing to read: a person (or a responder
            // that marks nothing) writing back. Staff read it; an automatic answer could loop.
            outcome.kind = OutcomeKind::Held;
            outcome.note = format!("{ANSWERS_OURS} {ours}, no list attached: not answered");
            return outcome;
        }
        outcome.kind = OutcomeKind::NoList;
        outcome.note = "no spreadsheet attached".into();
        outcome.reply = ReplyKind::NoList;
        return outcome;
    }

    let dupes = dedupe::within_list(&outcome.rows);
    let duplicate_rows: Vec<(String, u32)> =
        dupes.iter().map(|p| (p.sheet.clone(), p.row)).collect();
    outcome.problems.extend(dupes);
    outcome
        .problems
        .sort_by(|a, b| (&a.file, &a.sheet, a.row).cmp(&(&b.file, &b.sheet, b.row)));
    let has_errors = outcome.errors() > 0;
    if !read.any_list && outcome.rows.is_empty() {
        // Only a PDF, Word file or photo: no list was found (the contract's `no_list`); the
        // school still reads what to send instead, the problem's own message.
        outcome.kind = OutcomeKind::NoList;
        outcome.note = "no spreadsheet attached, only a document or picture".into();
        outcome.reply = if has_errors {
            ReplyKind::Errors
        } else {
            ReplyKind::NoList
        };
        return outcome;
    }
    if has_errors && (config.rules.reject_whole_list || outcome.rows.is_empty()) {
        outcome.kind = OutcomeKind::Rejected;
        outcome.note = format!("{} errors in the list", outcome.errors());
        outcome.reply = ReplyKind::Errors;
        return outcome;
    }
    outcome
        .rows
        .retain(|r| !duplicate_rows.contains(&(r.source.sheet.clone(), r.source.row)));

    let prev = (on_file.previous)(&unit.code);
    let checked = check_rows(
        &outcome.rows,
        &unit,
        trust,
        prev.as_ref().map_or(&[][..], |p| &p.rows),
        on_file,
    );
    outcome.problems.extend(checked.warnings);
    outcome
        .problems
        .sort_by(|a, b| (&a.file, &a.sheet, a.row).cmp(&(&b.file, &b.sheet, b.row)));
    if !checked.held.is_empty() {
        outcome.kind = OutcomeKind::Held;
        let mut rows = checked.held;
        if rows.len() > MAX_ROWS_NOTED {
            let more = rows.len() - MAX_ROWS_NOTED;
            rows.truncate(MAX_ROWS_NOTED);
            rows.push(format!("{more} more rows"));
        }
        outcome.note = format!(
            "{ROWS_HELD} from {} address {from} for unit {}: {}",
            trust.code(),
            unit.code,
            rows.join("; ")
        );
        outcome.reply = ReplyKind::Held;
        return outcome;
    }
    let written = written_at(mail.date, received_at, prev.as_ref().map(|p| p.written_at));
    let newer = prev
        .as_ref()
        .filter(|p| written < p.written_at)
        .map(|p| NewerVersion {
            code: p.code.clone(),
            written_at: p.written_at,
        });
    let prev_rows = prev.map(|p| p.rows);
    let rows = match &prev_rows {
        // Written before the current version: kept as it is, an older version.
        _ if newer.is_some() => outcome.rows.clone(),
        Some(prev) if outcome.supplement => dedupe::merge_supplement(prev, &outcome.rows),
        _ => outcome.rows.clone(),
    };
    outcome.version = Some(NewVersion {
        code: dedupe::reconciliation_code(&rows),
        changes: match &newer {
            None => dedupe::diff(prev_rows.as_deref().unwrap_or_default(), &rows),
            // Nothing of the current version changes.
            Some(_) => Changes::default(),
        },
        had_previous: prev_rows.is_some(),
        rows,
        written_at: written,
        newer,
    });
    outcome.reply = if has_errors {
        ReplyKind::Errors
    } else {
        ReplyKind::Ack
    };
    outcome
}

/// The most held rows a note names; the rest are counted.
const MAX_ROWS_NOTED: usize = 10;

/// The request types that act on a certificate already issued or decide where credentials go:
/// from an unverified sender, a row of one of them waits for staff.
pub const ACTS_ON_ISSUED: [RequestType; 4] = [
    RequestType::Revoke,
    RequestType::KeyRecovery,
    RequestType::Reissue,
    RequestType::Change,
];

/// What [`check_rows`] found.
#[derive(Debug, Default)]
struct Checked {
    /// Why rows must wait for staff, one `row N: reason` each (English, for the note).
    held: Vec<String>,
    /// Warnings for staff and the school: a person who belongs to another registered unit.
    warnings: Vec<RowProblem>,
}

/// The row-level trust policy (DESIGN.md "Sender trust"). From an unverified sender, a row that
/// acts on an issued certificate ([`ACTS_ON_ISSUED`]) or whose email differs from the one the
/// unit's current list holds for the same person (same ID number) waits for staff. From any
/// sender, a row for a person of another registered unit (its unit column names that unit, or
/// that unit's current list holds the ID number) is flagged, and its revocation waits.
fn check_rows(
    rows: &[ValidRow],
    unit: &Unit,
    trust: Trust,
    previous: &[ValidRow],
    on_file: &OnFile,
) -> Checked {
    let mut out = Checked::default();
    // The unit a row's unit column names, by the text: a list's rows mostly repeat one.
    let mut named: std::collections::HashMap<&str, Option<&Unit>> = Default::default();
    for r in rows {
        let at = format!("row {}", r.source.row);
        if trust == Trust::Unverified {
            if ACTS_ON_ISSUED.contains(&r.request_type) {
                out.held
                    .push(format!("{at}: unverified {}", r.request_type.code()));
            } else if !r.id_number.is_empty()
                && !r.email.is_empty()
                && previous.iter().any(|p| {
                    p.id_number == r.id_number && !p.email.is_empty() && p.email != r.email
                })
            {
                out.held.push(format!("{at}: unverified email change"));
            }
        }
        let names = *named
            .entry(r.unit_name.as_str())
            .or_insert_with(|| on_file.registry.infer(&r.unit_name));
        let Some(other) = other_unit(r, names, unit, on_file) else {
            continue;
        };
        let (field, value, message) = match &other {
            Other::Named(u) => (
                crate::schema::Field::UnitName,
                r.unit_name.clone(),
                w::person_of_other_unit_named(&u.name),
            ),
            Other::Listed(_) => (
                crate::schema::Field::IdNumber,
                r.id_number.clone(),
                w::PERSON_OF_OTHER_UNIT_LISTED.to_string(),
            ),
        };
        out.warnings.push(RowProblem {
            file: r.source.file.clone(),
            sheet: r.source.sheet.clone(),
            row: r.source.row,
            column: field.header().to_string(),
            field: field.key().to_string(),
            value,
            severity: Severity::Warning,
            message,
        });
        if r.request_type == RequestType::Revoke {
            out.held
                .push(format!("{at}: revoke of a person of unit {}", other.code()));
        }
    }
    out
}

/// Another registered unit a row's person belongs to.
enum Other {
    /// The row's unit column names it.
    Named(Unit),
    /// Its current accepted list holds the row's ID number.
    Listed(String),
}

impl Other {
    fn code(&self) -> &str {
        match self {
            Other::Named(u) => &u.code,
            Other::Listed(code) => code,
        }
    }
}

/// `names`: the unit the row's unit column names, if it names one.
fn other_unit(
    row: &ValidRow,
    names: Option<&Unit>,
    unit: &Unit,
    on_file: &OnFile,
) -> Option<Other> {
    if let Some(named) = names
        && named.code != unit.code
    {
        return Some(Other::Named(named.clone()));
    }
    if row.id_number.is_empty() {
        return None;
    }
    (on_file.holders)(&row.id_number, &unit.code)
        .into_iter()
        .next()
        .map(Other::Listed)
}

/// The Message-ID of one of our own replies (or reminders) this mail answers, if it answers one:
/// its In-Reply-To or References names an id we write (`cts-intake.…@` the department's domain).
pub fn answers_ours<'a>(mail: &'a ParsedMail, config: &Config) -> Option<&'a str> {
    let domain = config.campaign.department_domain();
    mail.in_reply_to
        .iter()
        .chain(&mail.references)
        .map(|id| id.trim().trim_matches(['<', '>']))
        .find(|id| {
            id.split_once('@').is_some_and(|(local, host)| {
                local.starts_with("cts-intake.") && host.eq_ignore_ascii_case(domain)
            })
        })
}

/// "bổ sung" in the subject or a file name marks a supplement.
fn is_supplement(mail: &ParsedMail) -> bool {
    let marks = |s: &str| fold(s).contains("bo sung");
    marks(&mail.subject) || mail.attachments.iter().any(|a| marks(&a.filename))
}

/// What the lists attached to one mail say, before dedupe and versions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadLists {
    /// Some attachment was meant as a list (read or not).
    pub any_candidate: bool,
    /// Some attachment is a spreadsheet (or an archive, an encrypted workbook, a winmail.dat
    /// that may hold one), not only a PDF, Word file or photo.
    pub any_list: bool,
    pub files: Vec<FileResult>,
    pub rows: Vec<ValidRow>,
    pub problems: Vec<RowProblem>,
    /// Set when the reading did not finish (the reader crashed, ran out of time, or the mail's
    /// reading never finished twice): the mail is held for staff and nothing else here counts.
    pub unread: Option<Unread>,
}

impl ReadLists {
    /// The reading of a mail that did not finish.
    pub fn unread(why: Unread) -> ReadLists {
        ReadLists {
            any_candidate: true,
            unread: Some(why),
            ..ReadLists::default()
        }
    }
}

/// The most attachments of one mail that are read as lists.
pub const MAX_FILES_READ: usize = 50;

/// Reads every list attached to a mail: each attachment is sniffed, read, its tables found, its
/// rows validated. A PDF, Word file or photo is answered only when no list came with it (else it
/// is a cover letter or a scan of the signed copy). Pure.
pub fn read_lists(mail: &ParsedMail, ctx: &validate::Context) -> ReadLists {
    let mut out = ReadLists::default();
    let sniffed: Vec<(sheet::Sniffed, Role)> = mail
        .attachments
        .iter()
        .map(|a| {
            let s = sheet::examine(&a.filename, &a.bytes);
            let role = s.role(&a.content_type);
            (s, role)
        })
        .collect();
    // An HTML part a mail client made of the body ("ATT00001.htm") is a list only when a table
    // is found in it.
    let has_list = sniffed
        .iter()
        .any(|(s, role)| *role == Role::List && !s.is_html_body());
    out.any_list = has_list;
    let mut files_read = 0;
    for (a, (sniffed, role)) in mail.attachments.iter().zip(sniffed) {
        match role {
            Role::Ignore => continue,
            Role::Document if has_list => continue,
            Role::Document | Role::List => {}
        }
        if files_read == MAX_FILES_READ {
            // What is not read must not pass for all there is: the school is told.
            out.any_candidate = true;
            out.problems
                .push(file_problem(&a.filename, w::too_many_files(MAX_FILES_READ)));
            break;
        }
        files_read += 1;
        let body_like = sniffed.is_html_body();
        if !body_like {
            out.any_candidate = true;
        }
        let mut file = FileResult {
            filename: a.filename.clone(),
            sheets: Vec::new(),
            rows: 0,
        };
        match sniffed.read() {
            Err(_) if body_like => continue,
            Err(e) => out.problems.push(read_error_problem(&a.filename, &e)),
            Ok(sheets)
                if body_like
                    && !sheets
                        .iter()
                        .any(|s| !s.hidden && header::find(s).is_some()) =>
            {
                continue;
            }
            Ok(sheets) => {
                out.any_candidate = true;
                for s in sheets.iter().filter(|s| !s.hidden) {
                    let Some(table) = header::find(s) else {
                        continue;
                    };
                    let label = if s.file.is_empty() {
                        a.filename.clone()
                    } else {
                        format!("{}/{}", a.filename, s.file)
                    };
                    file.sheets.push(s.name.clone());
                    let raws = header::rows(s, &table);
                    let mut problems = Vec::new();
                    let mut hidden: Vec<u32> = Vec::new();
                    for raw in &raws {
                        if raw.hidden && hidden.last() != Some(&raw.row) {
                            hidden.push(raw.row);
                        }
                        let (valid, p) = validate::validate(raw, &label, ctx);
                        problems.extend(p);
                        out.rows.extend(valid);
                    }
                    let distinct_rows = {
                        let mut r: Vec<u32> = raws.iter().map(|r| r.row).collect();
                        r.dedup();
                        r.len()
                    };
                    file.rows += distinct_rows;
                    let warn = |message: String| RowProblem {
                        sheet: s.name.clone(),
                        severity: Severity::Warning,
                        ..file_problem(&label, message)
                    };
                    if s.stray_cells > 0 {
                        problems.push(warn(w::stray_cells(s.stray_cells)));
                    }
                    if !hidden.is_empty() {
                        problems.push(warn(w::hidden_rows(&hidden)));
                    }
                    out.problems
                        .extend(validate::collapse_columns(problems, distinct_rows));
                }
                if file.sheets.is_empty() {
                    out.problems
                        .push(file_problem(&a.filename, w::file_no_table()));
                } else if file.rows == 0 {
                    out.problems
                        .push(file_problem(&a.filename, w::FILE_NO_ROWS.to_string()));
                }
            }
        }
        out.files.push(file);
    }
    out
}

fn file_problem(file: &str, message: String) -> RowProblem {
    RowProblem {
        file: file.to_string(),
        sheet: String::new(),
        row: 0,
        column: String::new(),
        field: String::new(),
        value: String::new(),
        severity: Severity::Error,
        message,
    }
}

/// The answer to a file that could not be read, naming the file inside a zip when it is one.
fn read_error_problem(file: &str, e: &ReadError) -> RowProblem {
    let message = match e {
        ReadError::NotSpreadsheet(d) => w::file_document(*d).to_string(),
        ReadError::Encrypted => w::FILE_ENCRYPTED.to_string(),
        ReadError::Corrupt(_) => w::FILE_CORRUPT.to_string(),
        ReadError::Empty => w::FILE_EMPTY.to_string(),
        ReadError::TooLarge => w::FILE_TOO_LARGE.to_string(),
        ReadError::Winmail => w::FILE_WINMAIL.to_string(),
        ReadError::Archive(p) => w::file_archive(*p).to_string(),
        ReadError::InArchive { entry, error } => {
            return read_error_problem(&format!("{file}/{entry}"), error);
        }
    };
    file_problem(file, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, FixedOffset, TimeZone};

    fn arrival() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 12, 5, 3, 0, 0).unwrap()
    }

    fn date(t: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        Some(t.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap()))
    }

    #[test]
    fn a_plausible_date_is_when_the_list_was_written() {
        let written = arrival() - Duration::hours(3);
        assert_eq!(written_at(date(written), arrival(), None), written);
        let previous = Some(arrival() - Duration::hours(1));
        assert_eq!(written_at(date(written), arrival(), previous), written);
    }

    #[test]
    fn no_date_or_a_date_from_a_wrong_clock_is_the_arrival() {
        assert_eq!(written_at(None, arrival(), None), arrival());
        // Ahead of the arrival by more than a clock's skew.
        let ahead = arrival() + Duration::minutes(DATE_SKEW_MINUTES + 1);
        assert_eq!(written_at(date(ahead), arrival(), None), arrival());
        // Long before the unit's current version.
        let previous = arrival() - Duration::hours(1);
        let long_before = previous - Duration::days(DATE_BEFORE_PREVIOUS_DAYS) - Duration::hours(1);
        assert_eq!(
            written_at(date(long_before), arrival(), Some(previous)),
            arrival()
        );
    }

    #[test]
    fn a_date_a_little_ahead_is_never_after_the_arrival() {
        let ahead = arrival() + Duration::minutes(DATE_SKEW_MINUTES - 1);
        assert_eq!(written_at(date(ahead), arrival(), None), arrival());
    }
}
