//! [`RawRow`] → [`ValidRow`] and [`RowProblem`]s: TEMPLATE.md's normalisation and field rules,
//! and the per-type table of required fields. Pure: no I/O, every message in Vietnamese from
//! [`crate::wording`].

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::schema::{Field, Need, RequestType};
use crate::sheet::header::{RawCell, RawRow};
use crate::sheet::{Cell, number_text};
use crate::text::{clean, cleaned};
use crate::wording as w;

/// How bad a problem is: an error sends the list back, a warning is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    pub fn from_code(code: &str) -> Option<Severity> {
        [Severity::Error, Severity::Warning]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// A problem the school can act on: where it is, what is there, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    /// The attachment's file name.
    pub file: String,
    /// The sheet's name ("" for a problem of the whole file).
    pub sheet: String,
    /// The row as Excel shows it (0 for a problem of the whole file or sheet).
    pub row: u32,
    /// The column header as the school wrote it ("" when not about a column).
    pub column: String,
    /// The field key from TEMPLATE.md (`id_number`, `email`...), "" when not about a field.
    pub field: String,
    /// The value as written.
    pub value: String,
    pub severity: Severity,
    /// What is wrong and how to fix it, in Vietnamese.
    pub message: String,
}

/// Where a row came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RowSource {
    pub file: String,
    pub sheet: String,
    pub row: u32,
}

/// A row that passed every rule, normalised. Text fields are "" when not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidRow {
    pub request_type: RequestType,
    /// As written (NFC, whitespace cleaned), never re-cased.
    pub full_name: String,
    pub birth_date: Option<NaiveDate>,
    /// 12 digits (or 9 for an old CMND where allowed).
    pub id_number: String,
    pub id_issue_date: Option<NaiveDate>,
    pub id_issue_place: String,
    pub position: String,
    pub unit_name: String,
    /// Lower case.
    pub email: String,
    /// Ten digits starting with 0.
    pub phone: String,
    /// Upper-case hexadecimal.
    pub cert_serial: String,
    pub change_detail: String,
    pub reason: String,
    pub note: String,
    pub source: RowSource,
}

impl ValidRow {
    /// The person's identity (TEMPLATE.md "Identity"): ID number, else email, else folded name
    /// and birth date.
    pub fn person_key(&self) -> String {
        if !self.id_number.is_empty() {
            format!("id:{}", self.id_number)
        } else if !self.email.is_empty() {
            format!("email:{}", self.email)
        } else {
            format!(
                "name:{}|{}",
                crate::text::name_key(&self.full_name),
                self.birth_date.map(|d| d.to_string()).unwrap_or_default()
            )
        }
    }
}

/// What the rules need to know beyond the row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Context {
    /// The day ages are judged on.
    pub reference_date: NaiveDate,
    pub min_age: u32,
    pub max_age: u32,
    /// Official mail domains (subdomains allowed).
    pub official_domains: Vec<String>,
    /// The unit's registered name, used when a row leaves the unit empty.
    pub unit_name: String,
}

impl Context {
    fn is_official(&self, domain: &str) -> bool {
        self.official_domains.iter().any(|d| {
            domain == d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

/// Validates one row. Returns the row when it has no error, and every problem found.
pub fn validate(row: &RawRow, file: &str, ctx: &Context) -> (Option<ValidRow>, Vec<RowProblem>) {
    let mut v = Checker {
        row,
        file,
        problems: Vec::new(),
    };

    // "Ghi chú" holding the type (TEMPLATE.md case 1), read when no other column gives one; a
    // note that is not a type stays a note.
    let note_type = match (row.get(Field::RequestType), row.sheet_type) {
        (None, None) if row.grid_headers.is_empty() => row
            .get(Field::Note)
            .and_then(|c| RequestType::parse(&cell_text(&c.cell))),
        _ => None,
    };
    let request_type = match row.get(Field::RequestType) {
        Some(c) => {
            let t = RequestType::parse(&cell_text(&c.cell));
            if t.is_none() {
                v.error(Field::RequestType, c, w::REQUEST_TYPE_UNKNOWN.into());
            }
            t
        }
        None => {
            if row.sheet_type.is_none() && !row.grid_headers.is_empty() {
                let message = w::grid_unmarked(&row.grid_headers);
                v.push(
                    Field::RequestType,
                    row.grid_headers.join(", "),
                    String::new(),
                    Severity::Error,
                    message,
                );
            } else if row.sheet_type.is_none() && note_type.is_none() {
                v.missing(Field::RequestType, w::REQUEST_TYPE_MISSING);
            }
            row.sheet_type.or(note_type)
        }
    };

    // Split "number;date;place" into its parts first: they are checked as their own fields.
    let combined: Vec<String> = row
        .get(Field::IdCombined)
        .map(|c| split_combined(&c.cell))
        .unwrap_or_default();
    let part = |i: usize| combined.get(i).cloned().filter(|s| !s.is_empty());

    let full_name = v.full_name();
    let birth_date = v.date(Field::BirthDate, None);
    let id_number = v.id_number(request_type, part(0));
    let id_issue_date = v.date(Field::IdIssueDate, part(1));
    let id_issue_place = part(2).unwrap_or_else(|| v.text(Field::IdIssuePlace));
    if !id_issue_place.is_empty() && crate::schema::ca_issue_place(&id_issue_place).is_none() {
        // The CA's import file takes one of two offices only (report::upstream).
        let field = if part(2).is_some() {
            Field::IdCombined
        } else {
            Field::IdIssuePlace
        };
        let header = v.row.header(field);
        v.push(
            field,
            header,
            id_issue_place.clone(),
            Severity::Warning,
            w::ID_PLACE_UNKNOWN.into(),
        );
    }
    let email = v.email(request_type, ctx);
    let phone = v.phone();
    let cert_serial = v.cert_serial();

    if let Some(b) = birth_date {
        v.check_age(b, ctx);
        if let Some(id) = id_number.as_deref() {
            v.check_id_matches_birth(id, b);
        }
    }

    let mut valid = ValidRow {
        request_type: request_type.unwrap_or(RequestType::NewCert),
        full_name: full_name.unwrap_or_default(),
        birth_date,
        id_number: id_number.unwrap_or_default(),
        id_issue_date,
        id_issue_place,
        position: v.text(Field::Position),
        // "Tổ chức cấp 1..4": the most specific level filled is the unit.
        unit_name: row
            .get_last(Field::UnitName)
            .map(|c| cell_text(&c.cell))
            .unwrap_or_default(),
        email: email.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        cert_serial: cert_serial.unwrap_or_default(),
        change_detail: v.text(Field::ChangeDetail),
        reason: v.text(Field::Reason),
        note: if note_type.is_some() {
            String::new()
        } else {
            v.text(Field::Note)
        },
        source: RowSource {
            file: file.to_string(),
            sheet: row.sheet.clone(),
            row: row.row,
        },
    };
    if valid.unit_name.is_empty() {
        valid.unit_name = ctx.unit_name.clone();
    }

    if let Some(t) = request_type {
        v.check_required(t, &valid);
    }

    let has_error = v.problems.iter().any(|p| p.severity == Severity::Error);
    let problems = v.problems;
    if has_error || request_type.is_none() {
        (None, problems)
    } else {
        (Some(valid), problems)
    }
}

/// The parts of a combined "number;date;place" cell: split on `;` or line breaks, else on `,`,
/// else on " - "; what follows the date is the place, whatever it holds.
fn split_combined(cell: &Cell) -> Vec<String> {
    let text = match cell {
        Cell::Text(t) => t.clone(),
        other => other.display(),
    };
    let split = |seps: &[&str]| -> Vec<String> {
        let mut parts = vec![text.clone()];
        for sep in seps {
            parts = parts
                .iter()
                .flat_map(|p| p.split(sep))
                .map(str::to_string)
                .collect();
        }
        let mut parts: Vec<String> = parts.iter().map(|p| clean(p)).collect();
        if parts.len() > 3 {
            let place = clean(&parts[2..].join(", "));
            parts.truncate(2);
            parts.push(place);
        }
        parts
    };
    for seps in [&[";", "\n"][..], &[","], &[" - "]] {
        let parts = split(seps);
        if parts.len() > 1 {
            return parts;
        }
    }
    // Separated by spaces only (line breaks a reader turned into spaces): the date in the middle
    // tells the parts apart.
    let text = clean(&text);
    let words: Vec<&str> = text.split(' ').collect();
    if let Some(d) = words
        .iter()
        .position(|w| parse_date(&Cell::Text(w.to_string())).is_ok() && w.contains(['/', '.', '-']))
        .filter(|&d| d > 0)
    {
        return vec![
            words[..d].join(" "),
            words[d].to_string(),
            words[d + 1..].join(" "),
        ];
    }
    split(&[])
}

/// Fewest rows sharing one problem in one column before it is said once for the column.
pub const COLLAPSE_MIN_ROWS: usize = 3;

/// The problems of one sheet, a column wrong in most rows said once: when the same message hits
/// the same column in at least [`COLLAPSE_MIN_ROWS`] rows and in more than half of the sheet's
/// `rows`, one problem (row 0, the first value as example) replaces them. Order is kept.
pub fn collapse_columns(problems: Vec<RowProblem>, rows: usize) -> Vec<RowProblem> {
    use std::collections::HashMap;
    let key = |p: &RowProblem| (p.column.clone(), p.message.clone(), p.severity);
    let mut groups: HashMap<(String, String, Severity), Vec<u32>> = HashMap::new();
    for p in problems
        .iter()
        .filter(|p| p.row > 0 && !p.column.is_empty())
    {
        let rows_of = groups.entry(key(p)).or_default();
        if rows_of.last() != Some(&p.row) {
            rows_of.push(p.row);
        }
    }
    let collapsed = |k: &(String, String, Severity)| {
        groups
            .get(k)
            .is_some_and(|r| r.len() >= COLLAPSE_MIN_ROWS && r.len() * 2 > rows)
    };
    let mut out = Vec::with_capacity(problems.len());
    let mut said: Vec<(String, String, Severity)> = Vec::new();
    for p in problems {
        let k = key(&p);
        if p.row == 0 || p.column.is_empty() || !collapsed(&k) {
            out.push(p);
            continue;
        }
        if said.contains(&k) {
            continue;
        }
        let rows_of = &groups[&k];
        out.push(RowProblem {
            row: 0,
            message: w::whole_column(rows_of.len(), rows_of, &p.message),
            ..p
        });
        said.push(k);
    }
    out
}

/// A cell's text as the school sees it, cleaned.
fn cell_text(cell: &Cell) -> String {
    match cell {
        // The text itself, not a copy of it to clean.
        Cell::Text(t) => cleaned(t).into_owned(),
        other => clean(&other.display()),
    }
}

struct Checker<'a> {
    row: &'a RawRow,
    file: &'a str,
    problems: Vec<RowProblem>,
}

impl Checker<'_> {
    fn push(
        &mut self,
        field: Field,
        column: String,
        value: String,
        severity: Severity,
        message: String,
    ) {
        self.problems.push(RowProblem {
            file: self.file.to_string(),
            sheet: self.row.sheet.clone(),
            row: self.row.row,
            column,
            field: field.key().to_string(),
            value,
            severity,
            message,
        });
    }

    fn error(&mut self, field: Field, cell: &RawCell, message: String) {
        self.push(
            field,
            cell.header.to_string(),
            cell_text(&cell.cell),
            Severity::Error,
            message,
        );
    }

    fn warning(&mut self, field: Field, cell: &RawCell, message: String) {
        self.push(
            field,
            cell.header.to_string(),
            cell_text(&cell.cell),
            Severity::Warning,
            message,
        );
    }

    fn missing(&mut self, field: Field, message: &str) {
        let header = self.row.header(field);
        self.push(
            field,
            header,
            String::new(),
            Severity::Error,
            message.to_string(),
        );
    }

    fn text(&self, field: Field) -> String {
        self.row
            .get(field)
            .map(|c| cell_text(&c.cell))
            .unwrap_or_default()
    }

    fn full_name(&mut self) -> Option<String> {
        let joined_cell;
        let (name, cell) = match self.row.get(Field::FullName) {
            Some(c) => (cell_text(&c.cell), c),
            None => {
                let family = self.text(Field::FamilyMiddleName);
                let given = self.text(Field::GivenName);
                let joined = clean(&format!("{family} {given}"));
                if joined.is_empty() {
                    return None;
                }
                let cell = self
                    .row
                    .get(Field::GivenName)
                    .or_else(|| self.row.get(Field::FamilyMiddleName))?;
                joined_cell = RawCell {
                    cell: Cell::Text(joined.clone()),
                    ..cell.clone()
                };
                (joined, &joined_cell)
            }
        };
        if crate::text::is_plausible_name(&name) {
            Some(name)
        } else {
            self.error(Field::FullName, cell, w::NAME_INVALID.into());
            None
        }
    }

    /// A date from a date cell, an Excel serial or `d/m/yyyy` text; `given` overrides the column.
    fn date(&mut self, field: Field, given: Option<String>) -> Option<NaiveDate> {
        let given_cell;
        let cell = match given {
            Some(text) => {
                given_cell = self.given(field, text);
                &given_cell
            }
            None => self.row.get(field)?,
        };
        match parse_date(&cell.cell) {
            Ok(d) => Some(d),
            Err(DateError::TwoDigitYear) => {
                self.error(field, cell, w::DATE_TWO_DIGIT_YEAR.into());
                None
            }
            Err(DateError::Invalid) => {
                self.error(field, cell, w::date_invalid(field));
                None
            }
        }
    }

    /// A part of the combined "number;date;place" cell, as a cell of its own field.
    fn given(&self, field: Field, text: String) -> RawCell {
        RawCell {
            field,
            header: self.row.header(Field::IdCombined).into(),
            cell: Cell::Text(text),
        }
    }

    fn id_number(&mut self, t: Option<RequestType>, given: Option<String>) -> Option<String> {
        let given_cell;
        let cell = match given {
            Some(text) => {
                given_cell = self.given(Field::IdNumber, text);
                &given_cell
            }
            None => self.row.get(Field::IdNumber)?,
        };
        let digits = match &cell.cell {
            Cell::Number(n) => {
                let mut s = number_text(*n);
                if (10..12).contains(&s.len()) {
                    // Excel dropped the leading zeros of a 12-digit ID (one, or two for the
                    // provinces 001 to 009).
                    s.insert_str(0, &"00"[..12 - s.len()]);
                }
                s
            }
            other => {
                let text = cell_text(other);
                if text.contains(['E', 'e']) && text.contains('+') {
                    self.error(Field::IdNumber, cell, w::ID_SCIENTIFIC.into());
                    return None;
                }
                let mut digits: String = text
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '.' | '\'' | '-'))
                    .collect();
                if (10..12).contains(&digits.len())
                    && !digits.starts_with('0')
                    && digits.chars().all(|c| c.is_ascii_digit())
                {
                    // A CSV or web export of a column Excel had already turned into numbers.
                    digits.insert_str(0, &"00"[..12 - digits.len()]);
                }
                digits
            }
        };
        let is_cccd = digits.len() == 12
            && digits.chars().all(|c| c.is_ascii_digit())
            && digits.starts_with('0')
            && matches!(digits.as_bytes()[3], b'0'..=b'3');
        if is_cccd {
            return Some(digits);
        }
        let old_cmnd = digits.len() == 9 && digits.chars().all(|c| c.is_ascii_digit());
        if old_cmnd {
            if matches!(t, Some(RequestType::NewCert | RequestType::Reissue)) {
                self.error(Field::IdNumber, cell, w::ID_OLD_CMND_REFUSED.into());
                return None;
            }
            self.warning(Field::IdNumber, cell, w::ID_OLD_CMND_WARNING.into());
            return Some(digits);
        }
        self.error(Field::IdNumber, cell, w::ID_INVALID.into());
        None
    }

    fn check_id_matches_birth(&mut self, id: &str, birth: NaiveDate) {
        if id.len() != 12 {
            return;
        }
        let b = id.as_bytes();
        let century = match b[3] {
            b'0' | b'1' => 1900,
            _ => 2000,
        };
        let yy: i32 = id[4..6].parse().unwrap_or(-1);
        if century + yy != birth.year()
            && let Some(cell) = self.row.get(Field::IdNumber)
        {
            self.warning(Field::IdNumber, cell, w::ID_BIRTH_MISMATCH.into());
        }
    }

    fn check_age(&mut self, birth: NaiveDate, ctx: &Context) {
        let age = ctx.reference_date.years_since(birth).unwrap_or(0);
        if (age < ctx.min_age || age > ctx.max_age)
            && let Some(cell) = self.row.get(Field::BirthDate)
        {
            self.error(
                Field::BirthDate,
                cell,
                w::age_out_of_range(ctx.min_age, ctx.max_age),
            );
        }
    }

    fn email(&mut self, t: Option<RequestType>, ctx: &Context) -> Option<String> {
        let cell = self.row.get(Field::Email)?;
        let value = cell_text(&cell.cell).to_lowercase();
        if t.map(|t| t.requirement(Field::Email)) == Some(Need::Ignored) {
            return Some(value);
        }
        let value = value.trim_start_matches("mailto:").to_string();
        if value.contains([' ', ',', ';', '\n']) {
            self.error(Field::Email, cell, w::EMAIL_ONE_ONLY.into());
            return None;
        }
        if !looks_like_address(&value) {
            self.error(Field::Email, cell, w::email_invalid(&ctx.official_domains));
            return None;
        }
        let domain = value.rsplit('@').next().unwrap_or("");
        if !ctx.is_official(domain) {
            self.error(Field::Email, cell, w::email_invalid(&ctx.official_domains));
            return None;
        }
        Some(value)
    }

    fn phone(&mut self) -> Option<String> {
        let cell = self.row.get(Field::Phone)?;
        match normalise_phone(&cell.cell) {
            Some(p) => Some(p),
            None => {
                self.error(Field::Phone, cell, w::PHONE_INVALID.into());
                None
            }
        }
    }

    fn cert_serial(&mut self) -> Option<String> {
        let cell = self.row.get(Field::CertSerial)?;
        if matches!(cell.cell, Cell::Number(_)) {
            self.error(Field::CertSerial, cell, w::SERIAL_AS_NUMBER.into());
            return None;
        }
        let mut s: String = cell_text(&cell.cell)
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-' | '\u{200E}'))
            .collect::<String>()
            .to_uppercase();
        if let Some(rest) = s.strip_prefix("0X") {
            s = rest.to_string();
        }
        if (8..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Some(s)
        } else {
            self.error(Field::CertSerial, cell, w::SERIAL_INVALID.into());
            None
        }
    }

    fn check_required(&mut self, t: RequestType, v: &ValidRow) {
        let checks: [(Field, bool); 9] = [
            (Field::FullName, !v.full_name.is_empty()),
            (Field::BirthDate, v.birth_date.is_some()),
            (Field::IdNumber, !v.id_number.is_empty()),
            (Field::Email, !v.email.is_empty()),
            (Field::Position, !v.position.is_empty()),
            (Field::Phone, !v.phone.is_empty()),
            (Field::CertSerial, !v.cert_serial.is_empty()),
            (Field::ChangeDetail, !v.change_detail.is_empty()),
            (Field::Reason, !v.reason.is_empty()),
        ];
        for (field, filled) in checks {
            // A field given but invalid already has its own error.
            let given = self.row.get(field).is_some()
                || (field == Field::FullName && self.row.get(Field::GivenName).is_some())
                || (matches!(field, Field::IdNumber) && self.row.get(Field::IdCombined).is_some());
            if t.requirement(field) == Need::Required && !filled && !given {
                let header = self.row.header(field);
                self.push(
                    field,
                    header.clone(),
                    String::new(),
                    Severity::Error,
                    w::required_missing(&header, t),
                );
            }
        }
    }
}

/// A plausible `local@domain.tld` address.
pub fn looks_like_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-@".contains(c))
}

/// Why a date could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    TwoDigitYear,
    Invalid,
}

/// Reads a date: an Excel date cell, an Excel serial (days since 1899-12-30), or `d/m/yyyy`
/// text with `/`, `.` or `-` (day first, as Vietnam writes it).
pub fn parse_date(cell: &Cell) -> Result<NaiveDate, DateError> {
    match cell {
        Cell::Date(d) => Ok(*d),
        Cell::Number(n) if n.fract() == 0.0 && (1.0..=2_958_465.0).contains(n) => {
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid base date");
            base.checked_add_days(chrono::Days::new(*n as u64))
                .ok_or(DateError::Invalid)
        }
        Cell::Text(t) => {
            let t = cleaned(t);
            let parts: Vec<&str> = t.split(['/', '.', '-']).map(str::trim).collect();
            if parts.len() != 3
                || parts
                    .iter()
                    .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(DateError::Invalid);
            }
            if parts[0].len() == 4 {
                // ISO order (yyyy-mm-dd), as some systems export.
                let (y, m, d) = (parts[0].parse(), parts[1].parse(), parts[2].parse());
                return match (y, m, d) {
                    (Ok(y), Ok(m), Ok(d)) => {
                        NaiveDate::from_ymd_opt(y, m, d).ok_or(DateError::Invalid)
                    }
                    _ => Err(DateError::Invalid),
                };
            }
            if parts[2].len() == 2 {
                return Err(DateError::TwoDigitYear);
            }
            if parts[2].len() != 4 {
                return Err(DateError::Invalid);
            }
            let (d, m, y) = (parts[0].parse(), parts[1].parse(), parts[2].parse());
            match (d, m, y) {
                (Ok(d), Ok(m), Ok(y)) => NaiveDate::from_ymd_opt(y, m, d).ok_or(DateError::Invalid),
                _ => Err(DateError::Invalid),
            }
        }
        _ => Err(DateError::Invalid),
    }
}

/// Normalises a mobile number (TEMPLATE.md): separators stripped, +84/84 → 0, old 11-digit
/// prefixes mapped to today's, then checked against the mobile prefixes.
pub fn normalise_phone(cell: &Cell) -> Option<String> {
    let raw = match cell {
        Cell::Number(n) => {
            let s = number_text(*n);
            // Excel drops the leading zero of a number typed as 912345678.
            if s.len() == 9 || (s.len() == 10 && !s.starts_with('0') && !s.starts_with("84")) {
                format!("0{s}")
            } else {
                s
            }
        }
        other => cell_text(other),
    };
    let mut digits: String = raw
        .chars()
        .filter(|c| !" .-()\u{00A0}".contains(*c))
        .collect();
    if let Some(rest) = digits.strip_prefix("+84") {
        digits = format!("0{rest}");
    } else if digits.starts_with("84") && digits.len() >= 11 {
        digits = format!("0{}", &digits[2..]);
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.len() == 11 {
        digits = map_old_prefix(&digits)?;
    }
    let b = digits.as_bytes();
    let ok = b.len() == 10
        && b[0] == b'0'
        && match b[1] {
            b'3' => (b'2'..=b'9').contains(&b[2]),
            b'5' => matches!(b[2], b'2' | b'5' | b'6' | b'8' | b'9'),
            b'7' => matches!(b[2], b'0' | b'6'..=b'9'),
            b'8' => (b'1'..=b'9').contains(&b[2]),
            b'9' => true,
            _ => false,
        };
    ok.then_some(digits)
}

fn map_old_prefix(d: &str) -> Option<String> {
    let (prefix, rest) = d.split_at(4);
    let new = match prefix {
        "0162" => "032",
        "0163" => "033",
        "0164" => "034",
        "0165" => "035",
        "0166" => "036",
        "0167" => "037",
        "0168" => "038",
        "0169" => "039",
        "0120" => "070",
        "0121" => "079",
        "0122" => "077",
        "0126" => "076",
        "0128" => "078",
        "0123" => "083",
        "0124" => "084",
        "0125" => "085",
        "0127" => "081",
        "0129" => "082",
        "0186" => "056",
        "0188" => "058",
        "0199" => "059",
        _ => return None,
    };
    Some(format!("{new}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            reference_date: NaiveDate::from_ymd_opt(2022, 12, 17).unwrap(),
            min_age: 18,
            max_age: 70,
            official_domains: vec!["namdinh.edu.vn".into(), "namdinh.gov.vn".into()],
            unit_name: "Trường THPT Nguyễn Khuyến".into(),
        }
    }

    fn row(cells: &[(Field, Cell)]) -> RawRow {
        RawRow {
            sheet: "DS".into(),
            row: 7,
            cells: cells
                .iter()
                .map(|(f, c)| RawCell {
                    field: *f,
                    header: f.header().into(),
                    cell: c.clone(),
                })
                .collect(),
            sheet_type: None,
            grid_headers: Vec::new().into(),
            hidden: false,
        }
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn new_cert() -> Vec<(Field, Cell)> {
        vec![
            (Field::FullName, t("Nguyễn Văn An")),
            (Field::BirthDate, t("05/03/1985")),
            (Field::IdNumber, t("036085001234")),
            (Field::Position, t("Hiệu trưởng")),
            (Field::Email, t("AnNV@NamDinh.edu.vn")),
            (Field::Phone, t("0912 345 678")),
            (Field::RequestType, t("Cấp mới CTS")),
        ]
    }

    fn with(mut cells: Vec<(Field, Cell)>, field: Field, cell: Cell) -> RawRow {
        cells.retain(|(f, _)| *f != field);
        cells.push((field, cell));
        row(&cells)
    }

    fn errors(r: &RawRow) -> Vec<(String, String)> {
        let (_, p) = validate(r, "ds.xlsx", &ctx());
        p.into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| (p.field, p.message))
            .collect()
    }

    #[test]
    fn a_clean_row_is_valid_and_normalised() {
        let (v, p) = validate(&row(&new_cert()), "ds.xlsx", &ctx());
        assert!(p.is_empty(), "{p:?}");
        let v = v.unwrap();
        assert_eq!(v.request_type, RequestType::NewCert);
        assert_eq!(v.email, "annv@namdinh.edu.vn");
        assert_eq!(v.phone, "0912345678");
        assert_eq!(v.birth_date, NaiveDate::from_ymd_opt(1985, 3, 5));
        assert_eq!(v.unit_name, "Trường THPT Nguyễn Khuyến");
        assert_eq!(v.source.row, 7);
        assert_eq!(v.person_key(), "id:036085001234");
    }

    #[test]
    fn an_id_stored_as_a_number_gets_its_leading_zero_back() {
        let r = with(new_cert(), Field::IdNumber, Cell::Number(36085001234.0));
        let (v, p) = validate(&r, "ds.xlsx", &ctx());
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(v.unwrap().id_number, "036085001234");
    }

    #[test]
    fn an_id_of_a_province_below_010_stored_as_a_number_gets_both_zeros_back() {
        let r = with(new_cert(), Field::IdNumber, Cell::Number(1085001234.0));
        let (v, p) = validate(&r, "ds.xlsx", &ctx());
        assert!(p.iter().all(|p| p.severity == Severity::Warning), "{p:?}");
        assert_eq!(v.unwrap().id_number, "001085001234");
        let r = with(new_cert(), Field::IdNumber, t("1085001234"));
        assert_eq!(
            validate(&r, "ds.csv", &ctx()).0.unwrap().id_number,
            "001085001234"
        );
    }

    #[test]
    fn a_ten_digit_id_is_an_error_naming_the_column_and_value() {
        let r = with(new_cert(), Field::IdNumber, t("0360850012"));
        let (v, p) = validate(&r, "ds.xlsx", &ctx());
        assert!(v.is_none());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].column, "Số CCCD");
        assert_eq!(p[0].value, "0360850012");
        assert_eq!(p[0].row, 7);
        assert!(p[0].message.starts_with("Số CCCD phải gồm 12 chữ số"));
    }

    #[test]
    fn an_id_in_scientific_notation_is_refused_with_its_own_message() {
        let r = with(new_cert(), Field::IdNumber, t("3.6085E+10"));
        let e = errors(&r);
        assert_eq!(e.len(), 1);
        assert!(e[0].1.contains("E+"), "{e:?}");
    }

    #[test]
    fn an_old_cmnd_is_an_error_for_new_cert_and_a_warning_for_revoke() {
        let r = with(new_cert(), Field::IdNumber, t("162345678"));
        assert_eq!(errors(&r).len(), 1);
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::RequestType && *f != Field::IdNumber);
        cells.push((Field::RequestType, t("Thu hồi")));
        cells.push((Field::IdNumber, t("162345678")));
        cells.push((Field::CertSerial, t("54 01 01 AB CD EF 12 34")));
        cells.push((Field::Reason, t("Nghỉ hưu")));
        let (v, p) = validate(&row(&cells), "ds.xlsx", &ctx());
        assert!(v.is_some(), "{p:?}");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].severity, Severity::Warning);
        assert_eq!(v.unwrap().cert_serial, "540101ABCDEF1234");
    }

    #[test]
    fn id_not_matching_the_birth_year_is_a_warning() {
        let r = with(new_cert(), Field::IdNumber, t("036087001234"));
        let (v, p) = validate(&r, "ds.xlsx", &ctx());
        assert!(v.is_some());
        assert_eq!(p[0].severity, Severity::Warning);
        assert!(p[0].message.contains("năm sinh"));
    }

    #[test]
    fn dates_are_read_from_cells_serials_and_day_first_text() {
        let d = NaiveDate::from_ymd_opt(1985, 3, 5).unwrap();
        assert_eq!(parse_date(&Cell::Date(d)), Ok(d));
        assert_eq!(parse_date(&Cell::Number(31111.0)), Ok(d));
        assert_eq!(parse_date(&t("5/3/1985")), Ok(d));
        assert_eq!(parse_date(&t("05.03.1985")), Ok(d));
        assert_eq!(parse_date(&t("05-03-1985")), Ok(d));
        assert_eq!(parse_date(&t("05/03/85")), Err(DateError::TwoDigitYear));
        assert_eq!(parse_date(&t("31/02/1985")), Err(DateError::Invalid));
        assert_eq!(parse_date(&t("1985")), Err(DateError::Invalid));
    }

    #[test]
    fn age_outside_the_range_is_an_error() {
        let r = with(new_cert(), Field::BirthDate, t("01/01/2010"));
        let e = errors(&r);
        assert!(e.iter().any(|(f, _)| f == "birth_date"), "{e:?}");
    }

    #[test]
    fn a_personal_email_is_refused_and_two_addresses_too() {
        let e = errors(&with(new_cert(), Field::Email, t("an@gmail.com")));
        assert_eq!(e[0].0, "email");
        assert!(e[0].1.contains("@namdinh.edu.vn"));
        let e = errors(&with(
            new_cert(),
            Field::Email,
            t("a@namdinh.edu.vn; b@namdinh.edu.vn"),
        ));
        assert_eq!(e.len(), 1);
        assert!(errors(&with(new_cert(), Field::Email, t("an@thpt.namdinh.gov.vn"))).is_empty());
    }

    #[test]
    fn phones_are_normalised_and_old_prefixes_mapped() {
        let p = |c: Cell| normalise_phone(&c);
        assert_eq!(p(t("+84 912.345.678")), Some("0912345678".into()));
        assert_eq!(p(t("84912345678")), Some("0912345678".into()));
        assert_eq!(p(t("01662345678")), Some("0362345678".into()));
        assert_eq!(p(t("0199 234 5678")), Some("0592345678".into()));
        assert_eq!(p(Cell::Number(912345678.0)), Some("0912345678".into()));
        assert_eq!(p(t("0241234567")), None, "a landline is not a mobile");
        assert_eq!(p(t("12345")), None);
    }

    #[test]
    fn a_serial_typed_as_a_number_is_refused() {
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::RequestType);
        cells.push((Field::RequestType, t("Gia hạn")));
        cells.push((Field::CertSerial, Cell::Number(5401012345.0)));
        let e = errors(&row(&cells));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "cert_serial");
    }

    #[test]
    fn missing_required_fields_are_named_per_request_type() {
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::RequestType && *f != Field::Position);
        cells.push((Field::RequestType, t("Thu hồi")));
        let e = errors(&row(&cells));
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["cert_serial", "reason"],
            "position is optional for revoke"
        );
    }

    #[test]
    fn new_mailbox_needs_a_phone_but_no_email() {
        let cells = vec![
            (Field::FullName, t("Lê Thị Hoa")),
            (
                Field::BirthDate,
                Cell::Date(NaiveDate::from_ymd_opt(1990, 1, 2).unwrap()),
            ),
            (Field::IdNumber, t("036190001234")),
            (Field::RequestType, t("Cấp mới hòm thư công vụ")),
        ];
        let e = errors(&row(&cells));
        assert_eq!(
            e.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            ["phone"]
        );
    }

    #[test]
    fn split_name_columns_are_joined() {
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::FullName);
        cells.push((Field::FamilyMiddleName, t("Nguyễn Văn")));
        cells.push((Field::GivenName, t("An")));
        let (v, p) = validate(&row(&cells), "ds.xlsx", &ctx());
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(v.unwrap().full_name, "Nguyễn Văn An");
    }

    #[test]
    fn an_issuing_office_the_ca_does_not_take_is_a_warning() {
        for (place, warned) in [
            ("Công an tỉnh Nam Định", true),
            ("Cục CS ĐKQL cư trú và DLQG về dân cư", false),
        ] {
            let (v, p) = validate(
                &with(new_cert(), Field::IdIssuePlace, t(place)),
                "ds.xlsx",
                &ctx(),
            );
            assert!(v.is_some(), "a warning does not block the row");
            assert_eq!(p.len(), usize::from(warned), "{place}: {p:?}");
            if warned {
                assert_eq!(p[0].severity, Severity::Warning);
                assert_eq!(p[0].value, place);
                assert!(p[0].message.contains("Cục Cảnh sát quản lý hành chính"));
            }
        }
    }

    #[test]
    fn a_combined_id_cell_is_split_on_semicolons() {
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::IdNumber);
        cells.push((
            Field::IdCombined,
            t("036085001234; 10/05/2021; Cục CS QLHC về TTXH"),
        ));
        let (v, p) = validate(&row(&cells), "ds.xlsx", &ctx());
        assert!(p.is_empty(), "{p:?}");
        let v = v.unwrap();
        assert_eq!(v.id_number, "036085001234");
        assert_eq!(v.id_issue_date, NaiveDate::from_ymd_opt(2021, 5, 10));
        assert_eq!(v.id_issue_place, "Cục CS QLHC về TTXH");
    }

    #[test]
    fn a_combined_id_cell_is_split_however_its_parts_are_separated() {
        for text in [
            "036085001234;10/05/2021;Cục CS QLHC về TTXH",
            "036085001234, 10/05/2021, Cục CS QLHC về TTXH",
            "036085001234 - 10/05/2021 - Cục CS QLHC về TTXH",
            "036085001234\n10/05/2021\nCục CS QLHC về TTXH",
            "036 085 001 234 10/05/2021 Cục CS QLHC về TTXH",
        ] {
            let mut cells = new_cert();
            cells.retain(|(f, _)| *f != Field::IdNumber);
            cells.push((Field::IdCombined, t(text)));
            let (v, p) = validate(&row(&cells), "ds.xlsx", &ctx());
            assert!(p.is_empty(), "{text:?}: {p:?}");
            let v = v.unwrap();
            assert_eq!(v.id_number, "036085001234", "{text:?}");
            assert_eq!(
                v.id_issue_date,
                NaiveDate::from_ymd_opt(2021, 5, 10),
                "{text:?}"
            );
            assert_eq!(v.id_issue_place, "Cục CS QLHC về TTXH", "{text:?}");
        }
    }

    fn problem(row: u32, column: &str, message: &str) -> RowProblem {
        RowProblem {
            file: "ds.xlsx".into(),
            sheet: "DS".into(),
            row,
            column: column.into(),
            field: "email".into(),
            value: format!("v{row}"),
            severity: Severity::Error,
            message: message.into(),
        }
    }

    #[test]
    fn a_column_wrong_in_most_rows_is_said_once() {
        let problems = vec![
            problem(5, "Email", "sai"),
            problem(5, "SĐT", "sai số"),
            problem(6, "Email", "sai"),
            problem(7, "Email", "sai"),
        ];
        let out = collapse_columns(problems, 4);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].row, 0);
        assert_eq!(out[0].value, "v5", "the first value is the example");
        assert!(
            out[0].message.contains("3 dòng (5, 6, 7)"),
            "{}",
            out[0].message
        );
        assert_eq!((out[1].row, out[1].column.as_str()), (5, "SĐT"));
    }

    #[test]
    fn a_few_wrong_rows_are_said_row_by_row() {
        let problems = vec![
            problem(5, "Email", "sai"),
            problem(6, "Email", "sai"),
            problem(7, "Email", "sai"),
        ];
        assert_eq!(collapse_columns(problems.clone(), 10), problems);
        assert_eq!(collapse_columns(problems[..2].to_vec(), 2).len(), 2);
    }

    #[test]
    fn the_type_written_in_ghi_chu_is_read_and_free_text_stays_a_note() {
        let mut cells = new_cert();
        cells.retain(|(f, _)| *f != Field::RequestType);
        let note = |text: &str| {
            let mut c = cells.clone();
            c.push((Field::Note, t(text)));
            validate(&row(&c), "ds.xlsx", &ctx())
        };
        let (v, p) = note("Cấp mới CTS");
        assert!(p.is_empty(), "{p:?}");
        let v = v.unwrap();
        assert_eq!(v.request_type, RequestType::NewCert);
        assert_eq!(v.note, "");
        let (v, p) = note("Đã nộp bản giấy");
        assert!(v.is_none());
        assert_eq!(
            p[0].field, "request_type",
            "a note that is not a type gives no type"
        );
        // With a type column, Ghi chú is a note whatever it says.
        let mut c = new_cert();
        c.push((Field::Note, t("Gia hạn sau")));
        let v = validate(&row(&c), "ds.xlsx", &ctx()).0.unwrap();
        assert_eq!(
            (v.request_type, v.note.as_str()),
            (RequestType::NewCert, "Gia hạn sau")
        );
    }
}
