//! The report as tables: one [`Table`] per sheet of `doi-chieu.xlsx`, in order, with Vietnamese
//! headers and the cells as staff read them. The workbook and the HTML file both render these
//! tables, so they always show the same content.

use chrono::NaiveDate;

use super::{Reconciliation, UnitStatus, local_time};
use crate::domain::columns::Column;
use crate::schema::{Field, RequestType};
use crate::validate::ValidRow;
use crate::wording as w;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    /// Text, shown as written (IDs, phones and codes included: never a number).
    Text(String),
    Number(f64),
}

impl Cell {
    /// The text a reader sees.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => format!("{n}"),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.to_string())
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Cell {
        Cell::Number(n as f64)
    }
}

/// One sheet (or HTML section).
#[derive(Debug, Clone)]
pub struct Table {
    /// The sheet's name.
    pub name: String,
    /// The printed title.
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The summary's headers before the counts per type.
const SUMMARY_HEAD: [&str; 8] = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Loại hình",
    "Trạng thái",
    "Lần gửi cuối",
    "Số lần gửi",
    "Số phiên bản",
    "Số đề nghị",
];

/// The summary's headers after the counts per type.
const SUMMARY_TAIL: [&str; 6] = [
    "Mã đối chiếu",
    "Nộp muộn",
    "Người gửi chưa xác minh",
    "Bản giấy nhận ngày",
    "Đối chiếu bản giấy",
    "Ghi chú",
];

/// Index of the first count column of "Tổng hợp".
pub const SUMMARY_FIRST_COUNT: usize = SUMMARY_HEAD.len();

const NOT_SUBMITTED_HEADERS: [&str; 8] = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Loại hình",
    "Trạng thái",
    "Địa chỉ thư đã đăng ký",
    "Số lần gửi",
    "Lần gửi cuối",
    "Nhắc gần nhất",
];

const DETAIL_HEADERS: [&str; 20] = [
    "Mã đơn vị",
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Số CCCD",
    "Ngày cấp",
    "Nơi cấp",
    "Chức vụ",
    "Đơn vị công tác",
    "Email công vụ",
    "Số điện thoại di động",
    "Nội dung đề nghị",
    "Số hiệu chứng thư số",
    "Nội dung thay đổi",
    "Lý do",
    "Ghi chú",
    "Ngày gửi thư",
    "Tệp nguồn",
    "Trang",
    "Dòng",
];

const ISSUE_HEADERS: [&str; 6] = [
    "Việc cần xử lý",
    "Mã đơn vị",
    "Tên đơn vị",
    "Thời gian",
    "Thư / người",
    "Chi tiết",
];

use crate::text::date_dmy as date;

/// The campaign in counts, as the HTML page and the workbook's first sheet show it: units by
/// status, the mails waiting for staff ("Chờ xử lý", held mails whether or not their unit is
/// known), papers, requests per type, and the things to do.
pub fn overview(rec: &Reconciliation) -> Vec<(String, usize)> {
    let count = |s: UnitStatus| rec.units.iter().filter(|u| u.status == s).count();
    let held_mails = rec
        .mails
        .iter()
        .filter(|m| m.outcome == crate::domain::OutcomeKind::Held)
        .count();
    let papers = rec.units.iter().filter(|u| u.paper.is_some()).count();
    let matching = rec
        .units
        .iter()
        .filter(|u| u.paper.as_ref().is_some_and(|p| p.verdict.is_ok()))
        .count();
    let mut lines = vec![("Số đơn vị".to_string(), rec.units.len())];
    for s in [
        UnitStatus::Accepted,
        UnitStatus::Rejected,
        UnitStatus::NotSubmitted,
        UnitStatus::NoNeed,
    ] {
        lines.push((s.label().to_string(), count(s)));
    }
    lines.push((
        "Đơn vị chỉ có thư chờ xử lý".to_string(),
        count(UnitStatus::Held),
    ));
    lines.push((UnitStatus::Held.label().to_string(), held_mails));
    lines.push(("Đã nhận bản giấy".to_string(), papers));
    lines.push(("Bản giấy khớp".to_string(), matching));
    lines.push(("Tổng số đề nghị".to_string(), rec.requests.len()));
    for (i, t) in RequestType::ALL.iter().enumerate() {
        lines.push((
            t.label().to_string(),
            rec.units.iter().map(|u| u.counts[i]).sum(),
        ));
    }
    lines.push(("Việc cần xử lý".to_string(), rec.issues.len()));
    lines
}

/// A row's field as the consolidated list shows it.
pub fn field_text(r: &ValidRow, f: Field) -> String {
    match f {
        Field::FullName => r.full_name.clone(),
        Field::BirthDate => date(r.birth_date),
        Field::IdNumber => r.id_number.clone(),
        Field::IdIssueDate => date(r.id_issue_date),
        Field::IdIssuePlace => r.id_issue_place.clone(),
        Field::Position => r.position.clone(),
        Field::UnitName => r.unit_name.clone(),
        Field::Email => r.email.clone(),
        Field::Phone => r.phone.clone(),
        Field::RequestType => r.request_type.label().to_string(),
        Field::CertSerial => r.cert_serial.clone(),
        Field::ChangeDetail => r.change_detail.clone(),
        Field::Reason => r.reason.clone(),
        Field::Note => r.note.clone(),
        _ => String::new(),
    }
}

/// Every sheet, in order: "Tổng hợp", "Chưa gửi", "Chi tiết", one per request type, "Cần xử lý".
pub fn tables(rec: &Reconciliation) -> Vec<Table> {
    sheets(rec).collect()
}

/// [`tables`], each made only when the one before is done with: a renderer that writes a
/// table and drops it holds one table's cells at a time, not the whole report's twice over.
pub fn sheets(rec: &Reconciliation) -> impl Iterator<Item = Table> + '_ {
    let first: [fn(&Reconciliation) -> Table; 3] = [summary, not_submitted, detail];
    first
        .into_iter()
        .map(move |f| f(rec))
        .chain(RequestType::ALL.iter().map(move |t| by_type(rec, *t)))
        .chain(std::iter::once_with(move || issues(rec)))
}

fn table(name: &str, headers: Vec<String>, rows: Vec<Vec<Cell>>) -> Table {
    Table {
        name: name.to_string(),
        title: w::sheet_title(name),
        headers,
        rows,
    }
}

fn strings(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

fn summary(rec: &Reconciliation) -> Table {
    let tz = &rec.tz;
    let mut headers = strings(&SUMMARY_HEAD);
    headers.extend(RequestType::ALL.iter().map(|t| t.label().to_string()));
    headers.extend(strings(&SUMMARY_TAIL));
    let rows = rec
        .units
        .iter()
        .map(|u| {
            let mut r: Vec<Cell> = vec![
                u.code.as_str().into(),
                u.name.as_str().into(),
                u.kind.as_str().into(),
                u.status.label().into(),
                u.last_received_at
                    .as_deref()
                    .map(|t| local_time(t, tz))
                    .unwrap_or_default()
                    .into(),
                u.submissions.into(),
                u.versions.into(),
                u.rows.into(),
            ];
            r.extend(u.counts.iter().map(|c| Cell::from(*c)));
            let when = |t: &str| super::local_date(t, tz);
            r.extend([
                u.reconciliation_code.as_str().into(),
                if u.late { w::YES_LATE } else { "" }.into(),
                if u.unverified { w::YES_UNVERIFIED } else { "" }.into(),
                u.paper
                    .as_ref()
                    .map(|p| local_time(&p.received_at, tz))
                    .unwrap_or_default()
                    .into(),
                u.paper
                    .as_ref()
                    .map(|p| w::paper_verdict(&p.verdict, &when))
                    .unwrap_or_default()
                    .into(),
                u.notes.join("; ").into(),
            ]);
            r
        })
        .collect();
    table(w::SHEET_SUMMARY, headers, rows)
}

fn not_submitted(rec: &Reconciliation) -> Table {
    let tz = &rec.tz;
    let rows = rec
        .units
        .iter()
        .filter(|u| u.status != UnitStatus::Accepted)
        .map(|u| {
            vec![
                u.code.as_str().into(),
                u.name.as_str().into(),
                u.kind.as_str().into(),
                u.status.label().into(),
                u.emails.join("; ").into(),
                u.submissions.into(),
                u.last_received_at
                    .as_deref()
                    .map(|t| local_time(t, tz))
                    .unwrap_or_default()
                    .into(),
                u.reminded_on
                    .as_deref()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default()
                    .into(),
            ]
        })
        .collect();
    table(
        w::SHEET_NOT_SUBMITTED,
        strings(&NOT_SUBMITTED_HEADERS),
        rows,
    )
}

fn detail(rec: &Reconciliation) -> Table {
    let rows = rec
        .requests
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let v = &l.row;
            vec![
                l.unit_code.as_str().into(),
                (i + 1).into(),
                v.full_name.as_str().into(),
                date(v.birth_date).into(),
                v.id_number.as_str().into(),
                date(v.id_issue_date).into(),
                v.id_issue_place.as_str().into(),
                v.position.as_str().into(),
                v.unit_name.as_str().into(),
                v.email.as_str().into(),
                v.phone.as_str().into(),
                v.request_type.label().into(),
                v.cert_serial.as_str().into(),
                v.change_detail.as_str().into(),
                v.reason.as_str().into(),
                v.note.as_str().into(),
                local_time(&l.received_at, &rec.tz).into(),
                v.source.file.as_str().into(),
                v.source.sheet.as_str().into(),
                (v.source.row as usize).into(),
            ]
        })
        .collect();
    table(w::SHEET_DETAIL, strings(&DETAIL_HEADERS), rows)
}

fn by_type(rec: &Reconciliation, t: RequestType) -> Table {
    let columns = rec.settings.columns.of(t);
    let headers = columns.iter().map(|c| c.header().to_string()).collect();
    let rows = rec
        .requests
        .iter()
        .filter(|l| l.row.request_type == t)
        .enumerate()
        .map(|(i, l)| {
            columns
                .iter()
                .map(|c| match c {
                    Column::Seq => (i + 1).into(),
                    Column::UnitCode => l.unit_code.as_str().into(),
                    Column::Field(f) => field_text(&l.row, *f).into(),
                    Column::ReceivedAt => local_time(&l.received_at, &rec.tz).into(),
                })
                .collect()
        })
        .collect();
    table(w::type_sheet_name(t), headers, rows)
}

fn issues(rec: &Reconciliation) -> Table {
    let rows = rec
        .issues
        .iter()
        .map(|i| {
            vec![
                i.kind.label().into(),
                i.units.join(", ").into(),
                i.units
                    .iter()
                    .map(|c| rec.unit_name(c))
                    .collect::<Vec<_>>()
                    .join("; ")
                    .into(),
                i.at.as_deref()
                    .map(|t| local_time(t, &rec.tz))
                    .unwrap_or_default()
                    .into(),
                i.subject.as_str().into(),
                i.detail.as_str().into(),
            ]
        })
        .collect();
    table(w::SHEET_ISSUES, strings(&ISSUE_HEADERS), rows)
}
