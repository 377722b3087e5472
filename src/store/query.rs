//! Read-only queries for reports and the status summary.

use anyhow::Result;
use rusqlite::Connection;

use crate::domain::{OutcomeKind, ReplyKind, Trust};
use crate::validate::{Severity, ValidRow};

/// A state stored as its code, read back as its enum: an unknown code is an error, never a
/// string compared later.
fn coded<T>(r: &rusqlite::Row, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let code: String = r.get(i)?;
    parse(&code).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown code {code:?}").into(),
        )
    })
}

/// The `rows` columns [`super::row_from`] reads, in order.
pub const ROW_COLUMNS: &str = "r.request_type, r.full_name, r.birth_date, r.id_number, \
    r.id_issue_date, r.id_issue_place, r.position, r.unit_name, r.email, r.phone, r.cert_serial, \
    r.change_detail, r.reason, r.note, r.source_file, r.source_sheet, r.source_row";

/// The rows of one version, in the order the school wrote them.
pub fn version_rows(conn: &Connection, version_id: i64) -> Result<Vec<(i64, ValidRow)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT r.id, {ROW_COLUMNS} FROM version_rows vr JOIN rows r ON r.id = vr.row_id \
         WHERE vr.version_id = ?1 ORDER BY r.mail_id, r.source_file, r.source_sheet, r.source_row, r.id"
    ))?;
    let rows = stmt
        .query_map([version_id], |r| Ok((r.get(0)?, super::row_from(r, 1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One mail as the report lists it.
#[derive(Debug, Clone)]
pub struct MailLine {
    pub id: i64,
    pub message_id: String,
    pub received_at: String,
    pub from: String,
    pub subject: String,
    pub unit_code: Option<String>,
    pub trust: Trust,
    pub outcome: OutcomeKind,
    pub reply_kind: ReplyKind,
    pub late: bool,
    pub note: String,
    pub errors: i64,
    pub warnings: i64,
    /// The outbox state of the mail's latest reply (`sent`, `pending`, `held`, `failed`), or
    /// `none` when no reply was queued.
    pub reply_status: String,
}

/// The columns [`mail_line`] reads, from `mails m` joined with its latest reply `ob`.
const MAIL_SELECT: &str = "SELECT m.id, m.message_id, m.received_at, m.from_addr, m.subject, \
     m.unit_code, m.trust, m.outcome, m.reply_kind, m.late, m.note, \
     (SELECT count(*) FROM problems p WHERE p.mail_id = m.id AND p.severity = 'error'), \
     (SELECT count(*) FROM problems p WHERE p.mail_id = m.id AND p.severity = 'warning'), \
     coalesce(ob.status, 'none') \
     FROM mails m \
     LEFT JOIN (SELECT mail_id, status, max(id) FROM outbox WHERE mail_id IS NOT NULL \
                GROUP BY mail_id) ob ON ob.mail_id = m.id \
     WHERE m.superseded_by IS NULL";

fn mail_line(r: &rusqlite::Row) -> rusqlite::Result<MailLine> {
    Ok(MailLine {
        id: r.get(0)?,
        message_id: r.get(1)?,
        received_at: r.get(2)?,
        from: r.get(3)?,
        subject: r.get(4)?,
        unit_code: r.get(5)?,
        trust: coded(r, 6, Trust::from_code)?,
        outcome: coded(r, 7, OutcomeKind::from_code)?,
        reply_kind: coded(r, 8, ReplyKind::from_code)?,
        late: r.get(9)?,
        note: r.get(10)?,
        errors: r.get(11)?,
        warnings: r.get(12)?,
        reply_status: r.get(13)?,
    })
}

/// Runs `sql` and hands each row, read by `read`, to `f`, one at a time: the caller holds one
/// row, never the whole answer.
fn each<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: fn(&rusqlite::Row) -> rusqlite::Result<T>,
    mut f: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        f(read(r)?)?;
    }
    Ok(())
}

/// Every mail taken, in the order taken (a replayed mail once, with its current outcome).
pub fn mails(conn: &Connection) -> Result<Vec<MailLine>> {
    let mut lines = Vec::new();
    each_mail(conn, |m| {
        lines.push(m);
        Ok(())
    })?;
    Ok(lines)
}

/// [`mails`], one at a time.
pub fn each_mail(conn: &Connection, f: impl FnMut(MailLine) -> Result<()>) -> Result<()> {
    each(
        conn,
        &format!("{MAIL_SELECT} ORDER BY m.id"),
        [],
        mail_line,
        f,
    )
}

/// The held mails, one at a time, by the time they reached the mailbox (then as taken):
/// what says why each is held, without their problems counted or their reply looked up
/// (`errors` and `warnings` 0, `reply_status` "none").
pub fn each_held_mail(conn: &Connection, f: impl FnMut(MailLine) -> Result<()>) -> Result<()> {
    each(
        conn,
        "SELECT m.id, m.message_id, m.received_at, m.from_addr, m.subject, m.unit_code, \
         m.trust, m.outcome, m.reply_kind, m.late, m.note, 0, 0, 'none' FROM mails m \
         WHERE m.superseded_by IS NULL AND m.outcome = 'held' ORDER BY m.received_at, m.id",
        [],
        mail_line,
        f,
    )
}

/// How many mails are held for staff.
pub fn held_count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM mails WHERE superseded_by IS NULL AND outcome = 'held'",
        [],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// A unit's mails in counts: duplicates and automatic mails not counted.
#[derive(Debug, Clone, Default)]
pub struct UnitMails {
    pub submissions: usize,
    /// Every one of them is held.
    pub all_held: bool,
    /// When the last of them reached the mailbox (RFC 3339).
    pub last_received_at: Option<String>,
}

/// [`UnitMails`] of every unit that sent mail, by unit code.
pub fn unit_mails(conn: &Connection) -> Result<std::collections::HashMap<String, UnitMails>> {
    let mut stmt = conn.prepare(
        "SELECT unit_code, count(*), min(outcome = 'held'), max(received_at) FROM mails \
         WHERE superseded_by IS NULL AND unit_code IS NOT NULL \
         AND outcome NOT IN ('duplicate', 'ignored') GROUP BY unit_code",
    )?;
    let by_unit = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                UnitMails {
                    submissions: r.get::<_, i64>(1)? as usize,
                    all_held: r.get(2)?,
                    last_received_at: r.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(by_unit)
}

/// A unit's latest mail that brought a list or should have (accepted, rejected or without a
/// list), as taken last; its reply not looked up (`reply_status` "none": that would group the
/// whole outbox again for each unit).
pub fn latest_list_mail(conn: &Connection, unit_code: &str) -> Result<Option<MailLine>> {
    let mut found = None;
    each(
        conn,
        "SELECT m.id, m.message_id, m.received_at, m.from_addr, m.subject, m.unit_code, \
         m.trust, m.outcome, m.reply_kind, m.late, m.note, \
         (SELECT count(*) FROM problems p WHERE p.mail_id = m.id AND p.severity = 'error'), \
         (SELECT count(*) FROM problems p WHERE p.mail_id = m.id AND p.severity = 'warning'), \
         'none' FROM mails m WHERE m.superseded_by IS NULL AND m.unit_code = ?1 \
         AND m.outcome IN ('accepted', 'rejected', 'no_list') ORDER BY m.id DESC LIMIT 1",
        [unit_code],
        mail_line,
        |m| {
            found = Some(m);
            Ok(())
        },
    )?;
    Ok(found)
}

/// The first `n` errors found in the mails of this Message-ID: (row, value, message).
pub fn first_errors(
    conn: &Connection,
    message_id: &str,
    n: usize,
) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.row, p.value, p.message FROM problems p JOIN mails m ON m.id = p.mail_id \
         WHERE m.message_id = ?1 AND m.superseded_by IS NULL AND p.severity = 'error' \
         ORDER BY p.id LIMIT ?2",
    )?;
    let errors = stmt
        .query_map(rusqlite::params![message_id, n as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(errors)
}

/// One stored problem, with the Message-ID of its mail.
#[derive(Debug, Clone)]
pub struct ProblemLine {
    pub message_id: String,
    pub file: String,
    pub sheet: String,
    pub row: i64,
    pub column: String,
    pub field: String,
    pub value: String,
    pub severity: Severity,
    pub message: String,
}

fn problem_line(r: &rusqlite::Row) -> rusqlite::Result<ProblemLine> {
    Ok(ProblemLine {
        message_id: r.get(0)?,
        file: r.get(1)?,
        sheet: r.get(2)?,
        row: r.get(3)?,
        column: r.get(4)?,
        field: r.get(5)?,
        value: r.get(6)?,
        severity: coded(r, 7, Severity::from_code)?,
        message: r.get(8)?,
    })
}

/// Every problem of every mail, one at a time, in the order found.
pub fn each_problem(conn: &Connection, f: impl FnMut(ProblemLine) -> Result<()>) -> Result<()> {
    each(
        conn,
        "SELECT m.message_id, p.file, p.sheet, p.row, p.column_header, p.field, p.value, \
         p.severity, p.message FROM problems p JOIN mails m ON m.id = p.mail_id \
         WHERE m.superseded_by IS NULL ORDER BY p.id",
        [],
        problem_line,
        f,
    )
}

/// A unit's current accepted version (its rows are read with [`each_current_row`]).
#[derive(Debug, Clone)]
pub struct CurrentVersion {
    pub unit_code: String,
    pub version_id: i64,
    pub code: String,
    pub mail_message_id: String,
    pub received_at: String,
    pub late: bool,
    pub unverified: bool,
}

/// The current version of every unit that has one.
pub fn current_versions(conn: &Connection) -> Result<Vec<CurrentVersion>> {
    let mut stmt = conn.prepare(
        "SELECT v.unit_code, v.id, v.code, m.message_id, m.received_at, m.late, m.trust \
         FROM versions v JOIN mails m ON m.id = v.mail_id \
         WHERE v.id = (SELECT v2.id FROM versions v2 JOIN mails m2 ON m2.id = v2.mail_id \
         WHERE v2.unit_code = v.unit_code AND m2.superseded_by IS NULL \
         ORDER BY v2.written_at DESC, v2.id DESC LIMIT 1) \
         ORDER BY v.unit_code",
    )?;
    let heads = stmt
        .query_map([], |r| {
            let trust: String = r.get(6)?;
            Ok(CurrentVersion {
                unit_code: r.get(0)?,
                version_id: r.get(1)?,
                code: r.get(2)?,
                mail_message_id: r.get(3)?,
                received_at: r.get(4)?,
                late: r.get(5)?,
                unverified: Trust::from_code(&trust) == Some(Trust::Unverified),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(heads)
}

/// One row of a version with the mail it came from.
#[derive(Debug, Clone)]
pub struct SourcedRow {
    pub row: ValidRow,
    /// The Message-ID of the mail the row came from.
    pub message_id: String,
    /// When that mail reached the mailbox (RFC 3339).
    pub received_at: String,
}

fn sourced_row(r: &rusqlite::Row) -> rusqlite::Result<SourcedRow> {
    Ok(SourcedRow {
        row: super::row_from(r, 0)?,
        message_id: r.get(17)?,
        received_at: r.get(18)?,
    })
}

/// The rows of one version (of these request types, or all when `only` is empty), in
/// [`version_rows`] order, one at a time, until `f` answers false.
pub fn each_current_row(
    conn: &Connection,
    version_id: i64,
    only: &[crate::schema::RequestType],
    mut f: impl FnMut(SourcedRow) -> Result<bool>,
) -> Result<()> {
    let types = if only.is_empty() {
        String::new()
    } else {
        let marks = (0..only.len())
            .map(|i| format!("?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        format!("AND r.request_type IN ({marks})")
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS}, m.message_id, m.received_at FROM version_rows vr \
         JOIN rows r ON r.id = vr.row_id JOIN mails m ON m.id = r.mail_id \
         WHERE vr.version_id = ?1 {types} \
         ORDER BY r.mail_id, r.source_file, r.source_sheet, r.source_row, r.id"
    ))?;
    let mut params: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(version_id)];
    params.extend(
        only.iter()
            .map(|t| Box::new(t.code()) as Box<dyn rusqlite::ToSql>),
    );
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(r) = rows.next()? {
        if !f(sourced_row(r)?)? {
            break;
        }
    }
    Ok(())
}

/// Counts for the run summary and `status`.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub mails: i64,
    pub by_outcome: Vec<(String, i64)>,
    pub replies_pending: i64,
    pub replies_sent: i64,
    pub replies_failed: i64,
    /// Over the per-recipient rate limit, kept for staff.
    pub replies_held: i64,
}

pub fn totals(conn: &Connection) -> Result<Totals> {
    let mut t = Totals::default();
    let mut stmt = conn.prepare(
        "SELECT outcome, count(*) FROM mails WHERE superseded_by IS NULL \
             GROUP BY outcome ORDER BY outcome",
    )?;
    t.by_outcome = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // One pass over the mails: their number is the sum by outcome.
    t.mails = t.by_outcome.iter().map(|(_, n)| n).sum();
    let count = |status: &str| -> Result<i64> {
        Ok(conn.query_row(
            "SELECT count(*) FROM outbox WHERE status = ?1",
            [status],
            |r| r.get(0),
        )?)
    };
    t.replies_pending = count("pending")?;
    t.replies_sent = count("sent")?;
    t.replies_failed = count("failed")?;
    t.replies_held = count("held")?;
    Ok(t)
}

/// One reply in the outbox, with the mail it answers: where each reply stands, for `status` and
/// the report.
#[derive(Debug, Clone)]
pub struct OutboxLine {
    pub id: i64,
    /// The reply's Message-ID (without angle brackets).
    pub message_id: String,
    /// The answered mail's Message-ID, sender and subject.
    pub mail_message_id: String,
    pub mail_from: String,
    pub mail_subject: String,
    pub unit_code: Option<String>,
    /// ack | errors | no_list | held
    pub kind: String,
    pub recipients: Vec<String>,
    pub status: super::OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    /// The last error, or why the reply is held.
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// The server's answer to the accepted reply (its queue id).
    pub server_response: Option<String>,
}

/// The replies listed with their mails (a reminder, answering no mail, is not one of them).
const OUTBOX_LINE_FROM: &str = "FROM outbox o JOIN mails m ON m.id = o.mail_id";

const OUTBOX_LINE_SELECT: &str = "SELECT o.id, o.message_id, m.message_id, m.from_addr, m.subject, \
     m.unit_code, o.kind, o.recipients, o.status, o.attempts, o.next_attempt_at, o.last_error, \
     o.created_at, o.sent_at, o.server_response";

fn outbox_lines_where(
    conn: &Connection,
    condition: &str,
    limit: Option<usize>,
) -> Result<Vec<OutboxLine>> {
    let limit = limit.map(|n| format!("LIMIT {n}")).unwrap_or_default();
    let mut stmt = conn.prepare(&format!(
        "{OUTBOX_LINE_SELECT} {OUTBOX_LINE_FROM} {condition} ORDER BY o.id {limit}"
    ))?;
    let lines = stmt
        .query_map([], |r| {
            let recipients: String = r.get(7)?;
            Ok(OutboxLine {
                id: r.get(0)?,
                message_id: r.get(1)?,
                mail_message_id: r.get(2)?,
                mail_from: r.get(3)?,
                mail_subject: r.get(4)?,
                unit_code: r.get(5)?,
                kind: r.get(6)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                status: coded(r, 8, super::OutboxStatus::from_code)?,
                attempts: r.get(9)?,
                next_attempt_at: r.get(10)?,
                last_error: r.get(11)?,
                created_at: r.get(12)?,
                sent_at: r.get(13)?,
                server_response: r.get(14)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// Every reply, in the order written.
pub fn outbox(conn: &Connection) -> Result<Vec<OutboxLine>> {
    outbox_lines_where(conn, "", None)
}

/// The replies that did not reach the school: failed (refused or given up) or held (rate
/// limit). Their mails are unanswered until staff act.
pub fn unanswered(conn: &Connection) -> Result<Vec<OutboxLine>> {
    outbox_lines_where(conn, UNANSWERED, None)
}

const UNANSWERED: &str = "WHERE o.status IN ('failed', 'held')";

/// The first `n` of [`unanswered`], and how many there are in all.
pub fn unanswered_first(conn: &Connection, n: usize) -> Result<(Vec<OutboxLine>, usize)> {
    let all: i64 = conn.query_row(
        &format!("SELECT count(*) {OUTBOX_LINE_FROM} {UNANSWERED}"),
        [],
        |r| r.get(0),
    )?;
    Ok((outbox_lines_where(conn, UNANSWERED, Some(n))?, all as usize))
}
