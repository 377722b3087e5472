//! Duplicates and versions: the same person twice in one list, contradictory requests, and what a
//! new list changes against the unit's previous accepted version. Pure.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::domain::paper::CODE_ALPHABET;
use crate::schema::RequestType;
use crate::validate::{RowProblem, Severity, ValidRow};
use crate::wording as w;

/// The identity of one request: a person and a request type.
fn request_key(r: &ValidRow) -> (String, RequestType) {
    (r.person_key(), r.request_type)
}

/// Problems inside one list: the same person with the same request twice, or with two requests
/// that contradict each other (revoke together with renew, change or key recovery). The later row
/// carries the error, pointing at the earlier one.
pub fn within_list(rows: &[ValidRow]) -> Vec<RowProblem> {
    let mut problems = Vec::new();
    let mut seen: HashMap<String, Vec<&ValidRow>> = HashMap::new();
    for r in rows {
        let earlier = seen.entry(r.person_key()).or_default();
        for e in earlier.iter() {
            // The field the problem is about: what makes the two rows one person, or the type.
            let (message, field) = if e.request_type == r.request_type {
                let key = if !r.id_number.is_empty() {
                    "id_number"
                } else if !r.email.is_empty() {
                    "email"
                } else {
                    "full_name"
                };
                (w::duplicate_person(e.source.row), key)
            } else if e.request_type.contradicts(r.request_type) {
                (
                    w::contradictory_requests(e.source.row, e.request_type, r.request_type),
                    "request_type",
                )
            } else {
                continue;
            };
            problems.push(RowProblem {
                file: r.source.file.clone(),
                sheet: r.source.sheet.clone(),
                row: r.source.row,
                column: String::new(),
                field: field.to_string(),
                value: r.full_name.clone(),
                severity: Severity::Error,
                message,
            });
            break;
        }
        earlier.push(r);
    }
    problems
}

/// What a version changes against the previous one, by (person, request type).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Changes {
    pub added: Vec<ValidRow>,
    pub removed: Vec<ValidRow>,
    /// (before, after) pairs whose content differs.
    pub changed: Vec<(ValidRow, ValidRow)>,
    /// Requests present and identical in both.
    pub unchanged: usize,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares two versions of a unit's list.
pub fn diff(previous: &[ValidRow], current: &[ValidRow]) -> Changes {
    let before: HashMap<_, &ValidRow> = previous.iter().map(|r| (request_key(r), r)).collect();
    let after: HashMap<_, &ValidRow> = current.iter().map(|r| (request_key(r), r)).collect();
    let mut changes = Changes::default();
    for r in current {
        match before.get(&request_key(r)) {
            None => changes.added.push(r.clone()),
            Some(old) if !same_content(old, r) => changes.changed.push(((*old).clone(), r.clone())),
            Some(_) => changes.unchanged += 1,
        }
    }
    for r in previous {
        if !after.contains_key(&request_key(r)) {
            changes.removed.push(r.clone());
        }
    }
    changes
}

/// A supplement ("bổ sung") adds its rows to the previous version; a row for a request already
/// there replaces it.
pub fn merge_supplement(previous: &[ValidRow], supplement: &[ValidRow]) -> Vec<ValidRow> {
    let replaced: HashMap<_, &ValidRow> = supplement.iter().map(|r| (request_key(r), r)).collect();
    let mut out: Vec<ValidRow> = previous
        .iter()
        .filter(|r| !replaced.contains_key(&request_key(r)))
        .cloned()
        .collect();
    out.extend(supplement.iter().cloned());
    out
}

/// The fields that differ between two versions of one request: (canonical header, before, after).
pub fn changed_fields(a: &ValidRow, b: &ValidRow) -> Vec<(&'static str, String, String)> {
    use crate::schema::Field;
    let date = crate::text::date_dmy;
    let pairs = [
        (Field::FullName, a.full_name.clone(), b.full_name.clone()),
        (Field::BirthDate, date(a.birth_date), date(b.birth_date)),
        (
            Field::IdIssueDate,
            date(a.id_issue_date),
            date(b.id_issue_date),
        ),
        (
            Field::IdIssuePlace,
            a.id_issue_place.clone(),
            b.id_issue_place.clone(),
        ),
        (Field::Position, a.position.clone(), b.position.clone()),
        (Field::UnitName, a.unit_name.clone(), b.unit_name.clone()),
        (Field::Email, a.email.clone(), b.email.clone()),
        (Field::Phone, a.phone.clone(), b.phone.clone()),
        (
            Field::CertSerial,
            a.cert_serial.clone(),
            b.cert_serial.clone(),
        ),
        (
            Field::ChangeDetail,
            a.change_detail.clone(),
            b.change_detail.clone(),
        ),
        (Field::Reason, a.reason.clone(), b.reason.clone()),
        (Field::Note, a.note.clone(), b.note.clone()),
    ];
    pairs
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(f, x, y)| (f.header(), x, y))
        .collect()
}

/// Equal in everything the department forwards (the source position does not count).
fn same_content(a: &ValidRow, b: &ValidRow) -> bool {
    let strip = |r: &ValidRow| ValidRow {
        source: Default::default(),
        ..r.clone()
    };
    strip(a) == strip(b)
}

/// The reconciliation code of a version: 8 characters derived from its normalised content
/// (rows in a canonical order, source positions excluded), so the same list gives the same code.
pub fn reconciliation_code(rows: &[ValidRow]) -> String {
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| {
            [
                r.request_type.code(),
                &r.full_name,
                &r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                &r.id_number,
                &r.id_issue_date.map(|d| d.to_string()).unwrap_or_default(),
                &r.id_issue_place,
                &r.position,
                &r.unit_name,
                &r.email,
                &r.phone,
                &r.cert_serial,
                &r.change_detail,
                &r.reason,
                &r.note,
            ]
            .join("\u{1F}")
        })
        .collect();
    lines.sort();
    let digest = Sha256::digest(lines.join("\u{1E}").as_bytes());
    let mut bits: u64 = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let mut code = String::with_capacity(8);
    for _ in 0..8 {
        code.push(CODE_ALPHABET[(bits >> 59) as usize] as char);
        bits <<= 5;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::RowSource;

    fn row(id: &str, t: RequestType, phone: &str, line: u32) -> ValidRow {
        ValidRow {
            request_type: t,
            full_name: "Nguyễn Văn An".into(),
            birth_date: None,
            id_number: id.into(),
            id_issue_date: None,
            id_issue_place: String::new(),
            position: String::new(),
            unit_name: "THPT".into(),
            email: String::new(),
            phone: phone.into(),
            cert_serial: String::new(),
            change_detail: String::new(),
            reason: String::new(),
            note: String::new(),
            source: RowSource {
                file: "a.xlsx".into(),
                sheet: "DS".into(),
                row: line,
            },
        }
    }

    #[test]
    fn the_same_person_twice_with_the_same_request_is_a_duplicate() {
        let rows = [
            row("036085001234", RequestType::NewCert, "", 5),
            row("036085001234", RequestType::NewCert, "", 9),
            row("036085001234", RequestType::NewMailbox, "", 10),
        ];
        let p = within_list(&rows);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].row, 9);
        assert!(p[0].message.contains("dòng 5"));
    }

    #[test]
    fn cross_row_problems_name_their_field() {
        let twice = [
            row("036085001234", RequestType::NewCert, "", 5),
            row("036085001234", RequestType::NewCert, "", 9),
        ];
        assert_eq!(within_list(&twice)[0].field, "id_number");
        let contradict = [
            row("036085001234", RequestType::Revoke, "", 5),
            row("036085001234", RequestType::Renew, "", 6),
        ];
        assert_eq!(within_list(&contradict)[0].field, "request_type");
    }

    #[test]
    fn revoke_and_renew_for_one_person_contradict() {
        let rows = [
            row("036085001234", RequestType::Revoke, "", 5),
            row("036085001234", RequestType::Renew, "", 6),
        ];
        let p = within_list(&rows);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("mâu thuẫn"));
    }

    #[test]
    fn diff_names_added_removed_and_changed_rows() {
        let old = [
            row("036085000001", RequestType::NewCert, "0912345678", 5),
            row("036085000002", RequestType::NewCert, "0912345678", 6),
        ];
        let new = [
            row("036085000001", RequestType::NewCert, "0912345678", 8),
            row("036085000002", RequestType::NewCert, "0987654321", 9),
            row("036085000003", RequestType::Renew, "", 10),
        ];
        let c = diff(&old, &new);
        assert_eq!(c.unchanged, 1, "a row that only moved is unchanged");
        assert_eq!(c.changed.len(), 1);
        let (before, after) = &c.changed[0];
        assert_eq!(
            changed_fields(before, after),
            [(
                "Số điện thoại di động",
                "0912345678".to_string(),
                "0987654321".to_string()
            )]
        );
        assert_eq!(c.added.len(), 1);
        assert!(c.removed.is_empty());
        let c = diff(&new, &old);
        assert_eq!(c.removed.len(), 1);
    }

    #[test]
    fn a_supplement_adds_and_replaces() {
        let old = [row("036085000001", RequestType::NewCert, "0912345678", 5)];
        let sup = [
            row("036085000001", RequestType::NewCert, "0987654321", 2),
            row("036085000002", RequestType::NewCert, "", 3),
        ];
        let merged = merge_supplement(&old, &sup);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].phone, "0987654321");
    }

    #[test]
    fn the_code_depends_on_content_not_order_or_position() {
        let a = [
            row("036085000001", RequestType::NewCert, "", 5),
            row("036085000002", RequestType::NewCert, "", 6),
        ];
        let b = [
            row("036085000002", RequestType::NewCert, "", 1),
            row("036085000001", RequestType::NewCert, "", 2),
        ];
        let code = reconciliation_code(&a);
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|c| CODE_ALPHABET.contains(&(c as u8))));
        assert_eq!(code, reconciliation_code(&b));
        let c = [row("036085000001", RequestType::NewCert, "0912345678", 5)];
        assert_ne!(code, reconciliation_code(&c));
    }
}
