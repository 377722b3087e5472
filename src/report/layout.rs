//! The report as tables: one [`Table`] per sheet of `doi-chieu.xlsx`, in order, with Vietnamese
//! headers and the cells as staff read them. The workbook and the HTML file both render these
//! tables, so they always show the same content.

use chrono::NaiveDate;

use super::{Reconciliation, RequestLine, UnitStatus, Window, local_time};
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

    /// [`Cell::display`], borrowed where it can be.
    pub fn shown(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(t) => t.as_str().into(),
            other => other.display().into(),
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

/// One sheet (or HTML section). Its rows are made as they are read ([`Table::each_row`]),
/// read again for each pass a renderer makes (measuring, then writing): a table of the
/// country's 200,000 rows is never held.
pub struct Table<'r> {
    /// The sheet's name.
    pub name: String,
    /// The printed title.
    pub title: String,
    pub headers: Vec<String>,
    rows: Rows<'r>,
}

enum Rows<'r> {
    Cells(Vec<Vec<Cell>>),
    Detail(&'r Reconciliation<'r>),
    ByType(&'r Reconciliation<'r>, RequestType),
    Issues(&'r Reconciliation<'r>),
}

impl Table<'_> {
    /// A table of rows already made.
    pub fn of_rows(
        name: &str,
        title: &str,
        headers: Vec<String>,
        rows: Vec<Vec<Cell>>,
    ) -> Table<'static> {
        Table {
            name: name.to_string(),
            title: title.to_string(),
            headers,
            rows: Rows::Cells(rows),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Cells(rows) => rows.len(),
            Rows::Detail(rec) => rec.request_count(),
            Rows::ByType(rec, t) => {
                let i = RequestType::ALL.iter().position(|x| x == t).unwrap_or(0);
                rec.units.iter().map(|u| u.counts[i]).sum()
            }
            Rows::Issues(rec) => rec.issue_count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` rows, made: a renderer measures them, then writes them, then makes the rest
    /// ([`Table::each_row_after`]).
    pub fn first_rows(&self, n: usize) -> anyhow::Result<Vec<Vec<Cell>>> {
        if let Rows::Cells(rows) = &self.rows {
            return Ok(rows.iter().take(n).cloned().collect());
        }
        let mut head = Vec::new();
        self.each_row(Window::first(n), &mut |r| {
            head.push(r.to_vec());
            Ok(())
        })?;
        Ok(head)
    }

    /// The rows in `window`, those among the first `head.len()` from `head` (the table's
    /// [`Table::first_rows`]), the others made.
    pub fn each_row_after(
        &self,
        head: &[Vec<Cell>],
        window: Window,
        f: &mut dyn FnMut(&[Cell]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let end = window.skip.saturating_add(window.take);
        let held = head.len().min(end);
        for r in head.iter().take(held).skip(window.skip) {
            f(r)?;
        }
        let skip = window.skip.max(held);
        if end > skip && held == head.len() {
            self.each_row(
                Window {
                    skip,
                    take: end - skip,
                },
                f,
            )?;
        }
        Ok(())
    }

    /// The rows in `window`, made one at a time.
    pub fn each_row(
        &self,
        window: Window,
        f: &mut dyn FnMut(&[Cell]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match &self.rows {
            Rows::Cells(rows) => rows
                .iter()
                .skip(window.skip)
                .take(window.take)
                .try_for_each(|r| f(r)),
            Rows::Detail(rec) => {
                let mut times = LocalTimes::new(rec.tz);
                rec.each_request(&[], window, &mut |i, l| f(&detail_row(&mut times, i, l)))
            }
            Rows::ByType(rec, t) => {
                let columns = rec.settings.columns.of(*t);
                let mut times = LocalTimes::new(rec.tz);
                rec.each_request(&[*t], window, &mut |i, l| {
                    f(&type_row(&mut times, columns, i, l))
                })
            }
            Rows::Issues(rec) => {
                let names = rec.unit_names();
                rec.each_issue(window, &mut |i| f(&issue_row(rec, &names, i)))
            }
        }
    }
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
    let held_mails = rec.held_mail_count();
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
    lines.push(("Tổng số đề nghị".to_string(), rec.request_count()));
    for (i, t) in RequestType::ALL.iter().enumerate() {
        lines.push((
            t.label().to_string(),
            rec.units.iter().map(|u| u.counts[i]).sum(),
        ));
    }
    lines.push(("Việc cần xử lý".to_string(), rec.issue_count()));
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
pub fn tables<'r>(rec: &'r Reconciliation<'r>) -> Vec<Table<'r>> {
    sheets(rec).collect()
}

/// [`tables`], each made only when the one before is done with.
pub fn sheets<'r>(rec: &'r Reconciliation<'r>) -> impl Iterator<Item = Table<'r>> + 'r {
    std::iter::once_with(move || summary(rec))
        .chain(std::iter::once_with(move || not_submitted(rec)))
        .chain(std::iter::once_with(move || detail(rec)))
        .chain(RequestType::ALL.iter().map(move |t| by_type(rec, *t)))
        .chain(std::iter::once_with(move || issues(rec)))
}

fn table<'r>(name: &str, headers: Vec<String>, rows: Rows<'r>) -> Table<'r> {
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

fn summary<'r>(rec: &'r Reconciliation<'r>) -> Table<'r> {
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
    table(w::SHEET_SUMMARY, headers, Rows::Cells(rows))
}

fn not_submitted<'r>(rec: &'r Reconciliation<'r>) -> Table<'r> {
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
        Rows::Cells(rows),
    )
}

fn detail<'r>(rec: &'r Reconciliation<'r>) -> Table<'r> {
    table(w::SHEET_DETAIL, strings(&DETAIL_HEADERS), Rows::Detail(rec))
}

/// [`local_time`] of the rows' mails: the rows of one mail come one after the other, and the
/// time is written once for them.
struct LocalTimes {
    tz: chrono::FixedOffset,
    last: Option<(String, String)>,
}

impl LocalTimes {
    fn new(tz: chrono::FixedOffset) -> LocalTimes {
        LocalTimes { tz, last: None }
    }

    fn of(&mut self, rfc3339: &str) -> Cell {
        match &self.last {
            Some((at, shown)) if at == rfc3339 => shown.clone().into(),
            _ => {
                let shown = local_time(rfc3339, &self.tz);
                self.last = Some((rfc3339.to_string(), shown.clone()));
                shown.into()
            }
        }
    }
}

/// Row `i` (from 0) of "Chi tiết".
fn detail_row(times: &mut LocalTimes, i: usize, l: &RequestLine) -> Vec<Cell> {
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
        times.of(&l.received_at),
        v.source.file.as_str().into(),
        v.source.sheet.as_str().into(),
        (v.source.row as usize).into(),
    ]
}

fn by_type<'r>(rec: &'r Reconciliation<'r>, t: RequestType) -> Table<'r> {
    let columns = rec.settings.columns.of(t);
    let headers = columns.iter().map(|c| c.header().to_string()).collect();
    table(w::type_sheet_name(t), headers, Rows::ByType(rec, t))
}

/// Row `i` (from 0) of a request type's sheet.
fn type_row(times: &mut LocalTimes, columns: &[Column], i: usize, l: &RequestLine) -> Vec<Cell> {
    columns
        .iter()
        .map(|c| match c {
            Column::Seq => (i + 1).into(),
            Column::UnitCode => l.unit_code.as_str().into(),
            Column::Field(f) => field_text(&l.row, *f).into(),
            Column::ReceivedAt => times.of(&l.received_at),
        })
        .collect()
}

fn issues<'r>(rec: &'r Reconciliation<'r>) -> Table<'r> {
    table(w::SHEET_ISSUES, strings(&ISSUE_HEADERS), Rows::Issues(rec))
}

fn issue_row(
    rec: &Reconciliation,
    names: &std::collections::HashMap<&str, &str>,
    i: &super::Issue,
) -> Vec<Cell> {
    vec![
        i.kind.label().into(),
        i.units.join(", ").into(),
        i.units
            .iter()
            .map(|c| names.get(c.as_str()).copied().unwrap_or(c.as_str()))
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
}
