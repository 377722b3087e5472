//! The CSV contract: stable English snake_case headers, UTF-8, RFC 4180 quoting. Columns may be
//! added at the end by later versions, never renamed or reordered. A field that a spreadsheet
//! could take for a formula is written with a leading `'` ([`crate::safe`]).

use std::path::Path;

use anyhow::{Context, Result};

use super::{Reconciliation, Window};

pub const UNITS_HEADER: [&str; 20] = [
    "unit_code",
    "unit_name",
    "kind",
    "status",
    "submissions",
    "last_received_at",
    "rows",
    "new_mailbox",
    "new_cert",
    "reissue",
    "key_recovery",
    "revoke",
    "renew",
    "change",
    "reconciliation_code",
    "late",
    "unverified_sender",
    "paper_received_at",
    "versions",
    "paper_state",
];

pub const REQUESTS_HEADER: [&str; 20] = [
    "unit_code",
    "request_type",
    "full_name",
    "birth_date",
    "id_number",
    "id_issue_date",
    "id_issue_place",
    "position",
    "email",
    "phone",
    "cert_serial",
    "change_detail",
    "reason",
    "note",
    "source_message_id",
    "source_file",
    "source_sheet",
    "source_row",
    "unit_name",
    "source_received_at",
];

pub const MAILS_HEADER: [&str; 9] = [
    "message_id",
    "received_at",
    "from",
    "subject",
    "unit_code",
    "outcome",
    "problems",
    "reply",
    "reply_status",
];

pub const PROBLEMS_HEADER: [&str; 9] = [
    "message_id",
    "file",
    "sheet",
    "row",
    "column",
    "field",
    "value",
    "severity",
    "message",
];

use crate::text::date_dmy as date;

fn bool01(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// One CSV being written, a record at a time.
struct CsvFile(std::io::BufWriter<std::fs::File>);

impl CsvFile {
    fn create(path: &Path, header: &[&str]) -> Result<CsvFile> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        crate::safe::write_csv_record(&mut w, header)?;
        Ok(CsvFile(w))
    }

    fn record(&mut self, r: &[String]) -> Result<()> {
        crate::safe::write_csv_record(&mut self.0, r.iter().map(|f| crate::safe::csv_field(f)))?;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        use std::io::Write;
        self.0.flush()?;
        Ok(())
    }
}

/// Writes one CSV, each record as it is made (never the whole file's records at once).
fn write_file(path: &Path, header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<()> {
    let mut file = CsvFile::create(path, header)?;
    for r in rows {
        file.record(&r)?;
    }
    file.finish()
}

/// Writes the four CSVs into `dir`.
pub fn write_all(rec: &Reconciliation, dir: &Path) -> Result<()> {
    let units = rec.units.iter().map(|u| {
        let mut r = vec![
            u.code.clone(),
            u.name.clone(),
            u.kind.clone(),
            u.status.code().to_string(),
            u.submissions.to_string(),
            u.last_received_at.clone().unwrap_or_default(),
            u.rows.to_string(),
        ];
        r.extend(u.counts.iter().map(|c| c.to_string()));
        r.push(u.reconciliation_code.clone());
        r.push(bool01(u.late).into());
        r.push(bool01(u.unverified).into());
        r.push(u.paper_received_at.clone().unwrap_or_default());
        r.push(u.versions.to_string());
        r.push(
            u.paper
                .as_ref()
                .map(|p| p.verdict.code().to_string())
                .unwrap_or_default(),
        );
        r
    });
    write_file(&dir.join("units.csv"), &UNITS_HEADER, units)?;

    let mut file = CsvFile::create(&dir.join("requests.csv"), &REQUESTS_HEADER)?;
    rec.each_request(&[], Window::ALL, &mut |_, l| {
        let r = &l.row;
        file.record(&[
            l.unit_code.clone(),
            r.request_type.code().to_string(),
            r.full_name.clone(),
            date(r.birth_date),
            r.id_number.clone(),
            date(r.id_issue_date),
            r.id_issue_place.clone(),
            r.position.clone(),
            r.email.clone(),
            r.phone.clone(),
            r.cert_serial.clone(),
            r.change_detail.clone(),
            r.reason.clone(),
            r.note.clone(),
            l.source_message_id.clone(),
            r.source.file.clone(),
            r.source.sheet.clone(),
            r.source.row.to_string(),
            r.unit_name.clone(),
            l.received_at.clone(),
        ])
    })?;
    file.finish()?;

    let mut file = CsvFile::create(&dir.join("mails.csv"), &MAILS_HEADER)?;
    rec.each_mail(&mut |m| {
        file.record(&[
            m.message_id.clone(),
            m.received_at.clone(),
            m.from.clone(),
            m.subject.clone(),
            m.unit_code.clone().unwrap_or_default(),
            m.outcome.code().to_string(),
            (m.errors + m.warnings).to_string(),
            m.reply_kind.code().to_string(),
            m.reply_status.clone(),
        ])
    })?;
    file.finish()?;

    let mut file = CsvFile::create(&dir.join("problems.csv"), &PROBLEMS_HEADER)?;
    rec.each_problem(&mut |p| {
        file.record(&[
            p.message_id.clone(),
            p.file.clone(),
            p.sheet.clone(),
            p.row.to_string(),
            p.column.clone(),
            p.field.clone(),
            p.value.clone(),
            p.severity.code().to_string(),
            p.message.clone(),
        ])
    })?;
    file.finish()
}
