//! The desk's routes: one thin handler per page or action, an askama template each.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, body::Body};
use chrono::Duration;
use serde::Deserialize;

use super::code::{Reading, read_code};
use super::{
    AppState, Client, Desk, LOGIN_WINDOW_MINUTES, MAX_LOGIN_FAILURES, SecureCookies, Staff, auth,
    text,
};
use crate::domain::paper::{Checked, check};
use crate::report::paper::{Verdict, judge, printed_code};
use crate::report::{UnitStatus, local_time};
use crate::store::paper::{self as stored, VersionLine};
use crate::store::{Store, desk_query as q};
use crate::units::Unit;
use crate::wording as w;

/// Every route; [`super::guard`] stands before them.
pub fn routes() -> Router<AppState> {
    super::actions::routes()
        .route("/", get(overview))
        .route("/cho-xu-ly", get(pending))
        .route("/thu/{id}", get(mail_page))
        .route("/thu/{id}/eml", get(mail_raw))
        .route("/thu/{id}/tep/{n}", get(mail_attachment))
        .route("/thu/{id}/bo-qua", post(mail_ignore))
        .route("/tra-loi/{id}/gui", post(reply_release))
        .route("/don-vi", get(units))
        .route("/don-vi/{code}", get(unit_page))
        .route("/ban-giay", get(paper_page).post(paper_receive))
        .route("/ban-giay/huy", post(paper_undo))
        .route("/tim-kiem", get(search))
        .route("/tai-ve", get(downloads))
        .route("/tai-ve/{name}", get(download))
        .route("/nhat-ky", get(audit))
        .route("/dang-nhap", get(login_page).post(login))
        .route("/dang-xuat", post(logout))
        .route("/healthz", get(healthz))
        .route("/desk.css", get(stylesheet))
        .fallback(not_found)
}

/// A handler's failure: logged, and a plain page for staff.
pub struct Failure(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        internal(self.0)
    }
}

pub(super) type Page = Result<Response, Failure>;

/// The page shown with an error status.
#[derive(Template)]
#[template(path = "desk/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
    /// Where to go on (a page of the desk).
    next: &'a str,
}

fn message(status: StatusCode, title: &str, msg: &str) -> Response {
    message_with_link(status, title, msg, "/")
}

/// A message page whose link goes on to `next`.
pub(super) fn message_with_link(
    status: StatusCode,
    title: &str,
    msg: &str,
    next: &str,
) -> Response {
    let body = MessagePage {
        title,
        message: msg,
        next,
    }
    .render()
    .unwrap_or_else(|_| msg.to_string());
    (status, Html(body)).into_response()
}

pub fn forbidden(msg: &str) -> Response {
    message(StatusCode::FORBIDDEN, "Không được phép", msg)
}

pub fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "desk request failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, "Có lỗi", text::INTERNAL)
}

pub(super) async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Không tìm thấy", text::NOT_FOUND)
}

fn render(t: impl Template) -> Page {
    Ok(Html(t.render()?).into_response())
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The part of every page above its content: who is logged in, the menu.
pub struct Nav {
    pub username: String,
    pub csrf: String,
    pub active: &'static str,
}

impl Nav {
    fn new(staff: &Staff, active: &'static str) -> Nav {
        Nav {
            username: staff.username.clone(),
            csrf: staff.csrf.clone(),
            active,
        }
    }

    /// The menu: (path, label, current).
    pub fn items(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("/", "Tổng quan"),
            ("/cho-xu-ly", "Chờ xử lý"),
            ("/don-vi", "Đơn vị"),
            ("/ban-giay", "Bản giấy"),
            ("/tim-kiem", "Tìm kiếm"),
            ("/tai-ve", "Tải về"),
            ("/nhat-ky", "Nhật ký"),
        ]
        .into_iter()
        .map(|(p, l)| (p, l, p == self.active))
        .collect()
    }
}

impl Desk {
    fn when(&self, t: &str) -> String {
        local_time(t, &self.config.campaign.deadline.timezone())
    }

    fn unit_name(&self, code: &str) -> String {
        self.registry()
            .by_code(code)
            .map_or_else(|| code.to_string(), |u| u.name.clone())
    }

    pub(super) fn find_unit(&self, code: &str) -> Option<Unit> {
        let code = code.trim();
        let registry = self.registry();
        registry
            .by_code(code)
            .or_else(|| {
                registry
                    .units()
                    .iter()
                    .find(|u| u.code.eq_ignore_ascii_case(code))
            })
            .cloned()
    }
}

// ---- views: what the templates show, formatted already ----

pub struct MailView {
    pub id: i64,
    pub received: String,
    pub from: String,
    pub subject: String,
    pub unit: String,
    pub outcome: &'static str,
    pub reason: String,
}

fn mail_view(d: &Desk, m: &q::MailDetail) -> MailView {
    let from = if m.from_name.is_empty() {
        m.from.clone()
    } else {
        format!("{} <{}>", m.from_name, m.from)
    };
    MailView {
        id: m.id,
        received: d.when(&m.received_at),
        from,
        subject: m.subject.clone(),
        unit: m
            .unit_code
            .as_deref()
            .map(|c| d.unit_name(c))
            .unwrap_or_default(),
        outcome: text::outcome(&m.outcome),
        reason: if m.outcome == "held" {
            text::held_reason(&m.note)
        } else {
            String::new()
        },
    }
}

pub struct ReplyView {
    pub id: i64,
    pub mail_id: i64,
    pub kind: &'static str,
    pub status: &'static str,
    pub recipients: String,
    pub error: String,
    pub created: String,
    pub sent: String,
    pub subject: String,
    /// Held or failed: staff may send it.
    pub releasable: bool,
    pub failed: bool,
}

fn reply_view(d: &Desk, r: &q::ReplyLine) -> ReplyView {
    ReplyView {
        id: r.id,
        mail_id: r.mail_id.unwrap_or(0),
        kind: text::reply_kind(&r.kind),
        status: text::reply_status(&r.status),
        recipients: r.recipients.join(", "),
        error: text::held_reply_reason(r.last_error.as_deref().unwrap_or_default()),
        created: d.when(&r.created_at),
        sent: r.sent_at.as_deref().map(|t| d.when(t)).unwrap_or_default(),
        subject: r.mail_subject.clone(),
        releasable: matches!(r.status.as_str(), "held" | "failed"),
        failed: r.status == "failed",
    }
}

pub struct UnitView {
    pub code: String,
    pub name: String,
    pub status: &'static str,
    pub rows: usize,
    pub reconciliation: String,
    pub paper: String,
    pub paper_ok: bool,
    pub last: String,
}

fn unit_view(d: &Desk, u: &crate::report::UnitLine) -> UnitView {
    let date = |t: &str| crate::report::local_date(t, &d.config.campaign.deadline.timezone());
    UnitView {
        code: u.code.clone(),
        name: u.name.clone(),
        status: u.status.label(),
        rows: u.rows,
        reconciliation: u.reconciliation_code.clone(),
        paper: u
            .paper
            .as_ref()
            .map(|p| w::paper_verdict(&p.verdict, &date))
            .unwrap_or_else(|| "Chưa nhận".into()),
        paper_ok: u.paper.as_ref().is_some_and(|p| p.verdict.is_ok()),
        last: u
            .last_received_at
            .as_deref()
            .map(|t| d.when(t))
            .unwrap_or_default(),
    }
}

// ---- Tổng quan ----

#[derive(Template)]
#[template(path = "desk/overview.html")]
struct Overview {
    nav: Nav,
    held: Vec<MailView>,
    stuck: Vec<ReplyView>,
    awaiting: Vec<UnitView>,
    not_submitted: Vec<UnitView>,
    counts: Vec<(&'static str, usize)>,
    last_poll: String,
    poll_fresh: bool,
    last_reply: String,
}

async fn overview(State(desk): State<AppState>, Extension(staff): Extension<Staff>) -> Page {
    let page = desk
        .db(move |d, s| {
            let rec = crate::report::build(s, &d.registry(), &d.config)?;
            let held = q::held_mails(s.conn())?;
            let stuck = q::stuck_replies(s.conn())?;
            let fresh = crate::daemon::health::freshness(&d.config, s)?;
            let last_reply = q::last_reply_sent(s.conn())?;
            let by = |st: UnitStatus| -> Vec<UnitView> {
                rec.units
                    .iter()
                    .filter(|u| u.status == st)
                    .map(|u| unit_view(d, u))
                    .collect()
            };
            let counts = UnitStatus::ALL
                .into_iter()
                .map(|st| {
                    (
                        st.label(),
                        rec.units.iter().filter(|u| u.status == st).count(),
                    )
                })
                .collect();
            Ok(Overview {
                nav: Nav::new(&staff, "/"),
                held: held.iter().map(|m| mail_view(d, m)).collect(),
                stuck: stuck.iter().map(|r| reply_view(d, r)).collect(),
                awaiting: by(UnitStatus::Rejected),
                not_submitted: by(UnitStatus::NotSubmitted),
                counts,
                last_poll: fresh
                    .poll
                    .and_then(|p| p.last_success_at)
                    .map(|t| d.when(&t.to_rfc3339()))
                    .unwrap_or_else(|| "chưa lần nào".into()),
                poll_fresh: fresh.fresh,
                last_reply: last_reply
                    .map(|t| d.when(&t))
                    .unwrap_or_else(|| "chưa có".into()),
            })
        })
        .await?;
    render(page)
}

// ---- Chờ xử lý ----

#[derive(Template)]
#[template(path = "desk/pending.html")]
struct Pending {
    nav: Nav,
    held: Vec<MailView>,
    stuck: Vec<ReplyView>,
}

async fn pending(State(desk): State<AppState>, Extension(staff): Extension<Staff>) -> Page {
    let page = desk
        .db(move |d, s| {
            Ok(Pending {
                nav: Nav::new(&staff, "/cho-xu-ly"),
                held: q::held_mails(s.conn())?
                    .iter()
                    .map(|m| mail_view(d, m))
                    .collect(),
                stuck: q::stuck_replies(s.conn())?
                    .iter()
                    .map(|r| reply_view(d, r))
                    .collect(),
            })
        })
        .await?;
    render(page)
}

/// Most characters of a mail's text shown on its page.
const MAX_BODY_CHARS: usize = 100_000;

#[derive(Template)]
#[template(path = "desk/mail.html")]
struct MailPage {
    nav: Nav,
    mail: MailView,
    message_id: String,
    held: bool,
    size: i64,
    headers: Vec<(String, String)>,
    body: String,
    body_cut: bool,
    attachments: Vec<(usize, String, String, usize)>,
    /// The replies to the mail.
    stuck: Vec<ReplyView>,
    raw_kept: bool,
    /// The whole mail was kept (not only its header: staff processing it fetch it whole first).
    whole: bool,
    /// The units to release the mail to: (code, name).
    units: Vec<(String, String)>,
    /// The unit the mail is for, as inferred (chosen beforehand in the release form).
    unit_code: String,
    /// What staff did with the mail: (when, who, what, note).
    actions: Vec<(String, String, &'static str, String)>,
}

/// The headers staff look at, as the mail wrote them.
const SHOWN_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Date",
    "Subject",
    "Message-ID",
];

async fn mail_page(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Page {
    let page = desk
        .db(move |d, s| {
            let Some(m) = q::mail(s.conn(), id)? else {
                return Ok(None);
            };
            let raw = s.raw_bytes(&m.sha256)?;
            let (mut headers, mut body, mut attachments) = (Vec::new(), String::new(), Vec::new());
            let mut body_cut = false;
            if let Some(raw) = &raw {
                if let Some(msg) = mail_parser::MessageParser::default().parse(raw.as_slice()) {
                    for h in SHOWN_HEADERS {
                        if let Some(v) = header_text(&msg, h) {
                            headers.push((h.to_string(), v));
                        }
                    }
                    let text = msg.body_text(0).unwrap_or_default();
                    body_cut = text.chars().count() > MAX_BODY_CHARS;
                    body = text.chars().take(MAX_BODY_CHARS).collect();
                }
                let parsed = crate::mail::parse(raw, &d.config.campaign.department_address);
                attachments = parsed
                    .attachments
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (i, a.filename.clone(), a.content_type.clone(), a.bytes.len()))
                    .collect();
            }
            Ok(Some(MailPage {
                nav: Nav::new(&staff, "/cho-xu-ly"),
                mail: mail_view(d, &m),
                message_id: m.message_id.clone(),
                held: m.outcome == "held" && s.successor_of(m.id)?.is_none(),
                size: m.size,
                headers,
                body,
                body_cut,
                attachments,
                stuck: q::mail_replies(s.conn(), id)?
                    .iter()
                    .map(|r| reply_view(d, r))
                    .collect(),
                whole: raw.as_ref().is_some_and(|r| r.len() as i64 >= m.size),
                raw_kept: raw.is_some(),
                units: unit_choices(d),
                unit_code: m.unit_code.clone().unwrap_or_default(),
                actions: if m.message_id.is_empty() {
                    Vec::new()
                } else {
                    s.audit_of(&m.message_id)?
                        .into_iter()
                        .map(|a| (d.when(&a.at), a.username, text::action(&a.action), a.note))
                        .collect()
                },
            }))
        })
        .await?;
    match page {
        Some(p) => render(p),
        None => Ok(not_found().await),
    }
}

/// A header as staff read it: addresses as "Name <address>", encoded words decoded, one line.
fn header_text(msg: &mail_parser::Message, name: &str) -> Option<String> {
    use mail_parser::HeaderValue;
    let value = msg.header(name)?;
    let text = match value {
        HeaderValue::Address(a) => a
            .iter()
            .map(|addr| match (addr.name(), addr.address()) {
                (Some(n), Some(a)) => format!("{n} <{a}>"),
                (None, Some(a)) => a.to_string(),
                (Some(n), None) => n.to_string(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        HeaderValue::DateTime(d) => d.to_rfc3339(),
        _ => msg.header_raw(name)?.trim().to_string(),
    };
    Some(
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(2000)
            .collect(),
    )
}

/// A download: always an attachment, never shown in the browser (the bytes are a stranger's).
fn attachment(bytes: Vec<u8>, filename: &str, content_type: &str) -> Response {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn mail_raw(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Page {
    let raw = desk
        .db(move |_, s| {
            let Some(m) = q::mail(s.conn(), id)? else {
                return Ok(None);
            };
            let raw = s.raw_bytes(&m.sha256)?;
            if raw.is_some() {
                s.audit(&staff.username, "download_raw", &m.message_id, "")?;
            }
            Ok(raw)
        })
        .await?;
    Ok(match raw {
        Some(bytes) => attachment(bytes, &format!("thu-{id}.eml"), "message/rfc822"),
        None => not_found().await,
    })
}

async fn mail_attachment(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, n)): Path<(i64, usize)>,
) -> Page {
    let file = desk
        .db(move |d, s| {
            let Some(m) = q::mail(s.conn(), id)? else {
                return Ok(None);
            };
            let Some(raw) = s.raw_bytes(&m.sha256)? else {
                return Ok(None);
            };
            let parsed = crate::mail::parse(&raw, &d.config.campaign.department_address);
            let Some(a) = parsed.attachments.into_iter().nth(n) else {
                return Ok(None);
            };
            s.audit(
                &staff.username,
                "download_attachment",
                &m.message_id,
                &a.filename,
            )?;
            Ok(Some(a))
        })
        .await?;
    Ok(match file {
        Some(a) => {
            let name = if a.filename.is_empty() {
                format!("tep-{n}")
            } else {
                a.filename
            };
            attachment(a.bytes, &name, "application/octet-stream")
        }
        None => not_found().await,
    })
}

/// A note a clerk typed, as the audit log keeps it: trimmed, at most 2,000 characters.
pub(super) fn staff_note(text: &str) -> String {
    text.trim().chars().take(2000).collect()
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    #[serde(default)]
    pub(super) note: String,
}

async fn mail_ignore(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let Some(m) = q::mail(s.conn(), id)? else {
                return Ok(None);
            };
            if !s.ignore_held_mail(id)? {
                return Ok(None);
            }
            let note = staff_note(&form.note);
            s.audit(&staff.username, "ignore_mail", &m.message_id, &note)?;
            Ok(Some(super::actions::rewrite_report(d, s)))
        })
        .await?;
    Ok(if let Some(report) = done {
        super::actions::Done::To {
            path: format!("/thu/{id}"),
            report,
        }
        .respond()
        .await
    } else {
        message(
            StatusCode::CONFLICT,
            "Không thực hiện được",
            "Thư này không còn ở trạng thái chờ xử lý.",
        )
    })
}

async fn reply_release(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let Some(r) = q::reply(s.conn(), id)? else {
                return Ok(None);
            };
            if !s.release_reply(id)? {
                return Ok(None);
            }
            let note = staff_note(&form.note);
            let what = format!(
                "{} gửi {}",
                text::reply_kind(&r.kind),
                r.recipients.join(", ")
            );
            let note = if note.is_empty() {
                what
            } else {
                format!("{what}; {note}")
            };
            let target = if r.mail_message_id.is_empty() {
                format!("thư trả lời {}", r.id)
            } else {
                r.mail_message_id.clone()
            };
            s.audit(&staff.username, "release_reply", &target, &note)?;
            let to = match r.mail_id {
                Some(mail) => format!("/thu/{mail}"),
                None => "/cho-xu-ly".to_string(),
            };
            Ok(Some((to, super::actions::rewrite_report(d, s))))
        })
        .await?;
    Ok(match done {
        Some((path, report)) => super::actions::Done::To { path, report }.respond().await,
        None => message(
            StatusCode::CONFLICT,
            "Không thực hiện được",
            "Thư trả lời này không còn bị tạm giữ hay lỗi.",
        ),
    })
}

// ---- Đơn vị ----

#[derive(Template)]
#[template(path = "desk/units.html")]
struct Units {
    nav: Nav,
    units: Vec<UnitView>,
    status: String,
    paper: String,
    late: bool,
    unverified: bool,
    statuses: Vec<(&'static str, &'static str)>,
}

impl Units {
    fn is_status(&self, code: &str) -> bool {
        self.status == code
    }
}

#[derive(Deserialize)]
struct UnitFilter {
    #[serde(default)]
    trang_thai: String,
    #[serde(default)]
    ban_giay: String,
    /// "1": only units whose current list came after the deadline.
    #[serde(default)]
    muon: String,
    /// "1": only units whose current list came from an unregistered address.
    #[serde(default)]
    chua_dang_ky: String,
}

async fn units(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(filter): Query<UnitFilter>,
) -> Page {
    let page = desk
        .db(move |d, s| {
            let rec = crate::report::build(s, &d.registry(), &d.config)?;
            let units = rec
                .units
                .iter()
                .filter(|u| filter.trang_thai.is_empty() || u.status.code() == filter.trang_thai)
                .filter(|u| match filter.ban_giay.as_str() {
                    "chua" => u.paper.is_none(),
                    "khop" => u.paper.as_ref().is_some_and(|p| p.verdict.is_ok()),
                    "lech" => u.paper.as_ref().is_some_and(|p| !p.verdict.is_ok()),
                    _ => true,
                })
                .filter(|u| filter.muon.is_empty() || u.late)
                .filter(|u| filter.chua_dang_ky.is_empty() || u.unverified)
                .map(|u| unit_view(d, u))
                .collect();
            Ok(Units {
                nav: Nav::new(&staff, "/don-vi"),
                units,
                late: !filter.muon.is_empty(),
                unverified: !filter.chua_dang_ky.is_empty(),
                status: filter.trang_thai,
                paper: filter.ban_giay,
                statuses: UnitStatus::ALL
                    .into_iter()
                    .map(|st| (st.code(), st.label()))
                    .collect(),
            })
        })
        .await?;
    render(page)
}

pub struct RowView {
    pub n: usize,
    pub name: String,
    pub birth: String,
    pub id_number: String,
    pub request: &'static str,
    pub email: String,
}

pub struct ReceiptView {
    pub received: String,
    pub code: String,
    pub rows: String,
    pub verdict: String,
    pub note: String,
    pub undone: String,
}

#[derive(Template)]
#[template(path = "desk/unit.html")]
struct UnitPage {
    nav: Nav,
    code: String,
    name: String,
    kind: String,
    emails: String,
    /// The addresses as the edit form holds them.
    emails_edit: String,
    no_need: bool,
    /// Number, printed code, rows, when received, what changed against the version before,
    /// whether it is the current one.
    versions: Vec<(usize, String, usize, String, String, bool)>,
    rows: Vec<RowView>,
    mails: Vec<MailView>,
    replies: Vec<ReplyView>,
    receipts: Vec<ReceiptView>,
}

async fn unit_page(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
) -> Page {
    let page = desk
        .db(move |d, s| {
            let Some(u) = d.find_unit(&code) else {
                return Ok(None);
            };
            let tz = d.config.campaign.deadline.timezone();
            let date = |t: &str| crate::report::local_date(t, &tz);
            let all = stored::versions(s.conn())?;
            let versions: Vec<&VersionLine> =
                all.iter().filter(|v| v.unit_code == u.code).collect();
            let last = versions.last().map(|v| v.id);
            let rows = s
                .current_rows(&u.code)?
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, (_, r))| RowView {
                    n: i + 1,
                    name: r.full_name.clone(),
                    birth: crate::text::date_dmy(r.birth_date),
                    id_number: r.id_number.clone(),
                    request: r.request_type.label(),
                    email: r.email.clone(),
                })
                .collect();
            let receipts = stored::receipts(s.conn())?
                .into_iter()
                .filter(|r| r.unit_code == u.code)
                .map(|r| ReceiptView {
                    received: d.when(&r.received_at),
                    rows: r.row_count.map(|n| n.to_string()).unwrap_or_default(),
                    verdict: w::paper_verdict(
                        &judge(&r.code, r.row_count, &versions).verdict,
                        &date,
                    ),
                    code: r.code,
                    note: r.note,
                    undone: r
                        .undone_at
                        .as_deref()
                        .map(|t| d.when(t))
                        .unwrap_or_default(),
                })
                .collect();
            Ok(Some(UnitPage {
                nav: Nav::new(&staff, "/don-vi"),
                code: u.code.clone(),
                name: u.name.clone(),
                kind: u.kind.clone(),
                emails: u.emails.join(", "),
                emails_edit: u.emails.join("; "),
                no_need: s.is_no_need(&u.code)?,
                versions: {
                    let mut before: Option<Vec<crate::validate::ValidRow>> = None;
                    let mut out = Vec::with_capacity(versions.len());
                    for v in &versions {
                        let rows: Vec<_> = crate::store::query::version_rows(s.conn(), v.id)?
                            .into_iter()
                            .map(|(_, r)| r)
                            .collect();
                        let changed = match &before {
                            None => "Danh sách đầu tiên".to_string(),
                            Some(prev) => {
                                let c = crate::dedupe::diff(prev, &rows);
                                format!(
                                    "Thêm {}, bỏ {}, sửa {}",
                                    c.added.len(),
                                    c.removed.len(),
                                    c.changed.len()
                                )
                            }
                        };
                        out.push((
                            v.number,
                            printed_code(&v.code),
                            v.row_count,
                            d.when(&v.received_at),
                            changed,
                            Some(v.id) == last,
                        ));
                        before = Some(rows);
                    }
                    out
                },
                rows,
                mails: q::unit_mails(s.conn(), &u.code)?
                    .iter()
                    .map(|m| mail_view(d, m))
                    .collect(),
                replies: q::unit_replies(s.conn(), &u.code)?
                    .iter()
                    .map(|r| reply_view(d, r))
                    .collect(),
                receipts,
            }))
        })
        .await?;
    match page {
        Some(p) => render(p),
        None => Ok(not_found().await),
    }
}

// ---- Bản giấy ----

/// The verdict of one receipt, in large type.
pub struct PaperResult {
    pub title: &'static str,
    pub tone: &'static str,
    pub unit_code: String,
    pub unit: String,
    pub detail: String,
    pub code: String,
    pub rows: String,
    pub list_rows: String,
    pub note: String,
    /// The code is another unit's: whose.
    pub owner: String,
    pub undone: bool,
}

#[derive(Template)]
#[template(path = "desk/paper.html")]
struct PaperPage {
    nav: Nav,
    result: Option<PaperResult>,
    /// A message instead of a verdict (unknown code, ambiguous reading, undone...).
    notice: String,
    units: Vec<(String, String)>,
    /// The unit chosen beforehand (a link from a unit's page).
    selected: String,
    recent: Vec<(String, String, String, String, String)>,
}

impl PaperPage {
    fn is_selected(&self, code: &str) -> bool {
        self.selected == code
    }
}

impl MailPage {
    fn is_unit(&self, code: &str) -> bool {
        self.unit_code == code
    }
}

/// The registry's units, for a choice: (code, name).
fn unit_choices(d: &Desk) -> Vec<(String, String)> {
    d.registry()
        .units()
        .iter()
        .map(|u| (u.code.clone(), u.name.clone()))
        .collect()
}

#[derive(Deserialize)]
struct PaperQuery {
    ket_qua: Option<i64>,
    #[serde(default)]
    khong_thay: String,
    #[serde(default)]
    go_sai: String,
    #[serde(default)]
    mo_ho: String,
    #[serde(default)]
    da_huy: String,
    #[serde(default)]
    loi: String,
    #[serde(default)]
    don_vi: String,
}

async fn paper_page(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(query): Query<PaperQuery>,
) -> Page {
    let page = desk
        .db(move |d, s| {
            let all = stored::versions(s.conn())?;
            let receipts = stored::receipts(s.conn())?;
            let result = query
                .ket_qua
                .and_then(|id| receipts.iter().find(|r| r.id == id))
                .map(|r| paper_result(d, r, &all));
            let notice = if !query.go_sai.is_empty() {
                format!(
                    "Mã gõ sai: ký tự kiểm tra cuối của mã “{}” không đúng, nên mã đã bị gõ hoặc \
                     chép sai (không phải mã của đơn vị khác). Hãy quét hoặc gõ lại mã trên bản \
                     giấy.",
                    query.go_sai.chars().take(40).collect::<String>()
                )
            } else if !query.khong_thay.is_empty() {
                format!(
                    "Không tìm thấy mã “{}” trong danh sách nào. Kiểm tra lại mã trên bản giấy, \
                     hoặc chọn đơn vị rồi ghi nhận.",
                    query.khong_thay.chars().take(40).collect::<String>()
                )
            } else if !query.mo_ho.is_empty() {
                format!(
                    "Bộ gõ tiếng Việt đã đổi mã; có thể là một trong các mã: {}. Hãy tắt bộ gõ \
                     (chuyển sang E) rồi quét lại.",
                    query.mo_ho.chars().take(200).collect::<String>()
                )
            } else if !query.da_huy.is_empty() {
                format!(
                    "Đã huỷ ghi nhận bản giấy gần nhất của {}.",
                    d.unit_name(&query.da_huy)
                )
            } else if query.loi == "so-dong" {
                "Số dòng phải là một số (ví dụ 12); bản giấy chưa được ghi nhận.".to_string()
            } else if query.loi == "trong" {
                "Hãy quét hoặc nhập mã đối chiếu, hoặc chọn đơn vị.".to_string()
            } else if query.loi == "khong-huy" {
                w::PAPER_NOTHING_TO_UNDO.to_string()
            } else {
                String::new()
            };
            let recent = receipts
                .iter()
                .rev()
                .take(10)
                .map(|r| {
                    let versions: Vec<&VersionLine> =
                        all.iter().filter(|v| v.unit_code == r.unit_code).collect();
                    let verdict = judge(&r.code, r.row_count, &versions).verdict;
                    (
                        d.when(&r.received_at),
                        d.unit_name(&r.unit_code),
                        r.code.clone(),
                        text::verdict_title(&verdict).0.to_string(),
                        r.undone_at
                            .as_deref()
                            .map(|_| "đã huỷ".to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            Ok(PaperPage {
                nav: Nav::new(&staff, "/ban-giay"),
                result,
                notice,
                units: unit_choices(d),
                selected: d
                    .find_unit(&query.don_vi)
                    .map(|u| u.code.clone())
                    .unwrap_or_default(),
                recent,
            })
        })
        .await?;
    render(page)
}

fn paper_result(d: &Desk, r: &stored::ReceiptLine, all: &[VersionLine]) -> PaperResult {
    let versions: Vec<&VersionLine> = all.iter().filter(|v| v.unit_code == r.unit_code).collect();
    let verdict = judge(&r.code, r.row_count, &versions).verdict;
    let (title, tone) = text::verdict_title(&verdict);
    let current = versions.last();
    let when = |t: &str| d.when(t);
    let label = format!("{} ({})", r.unit_code, d.unit_name(&r.unit_code));
    let owner = match verdict {
        Verdict::Mismatch | Verdict::NoList if !r.code.is_empty() => all
            .iter()
            .rev()
            .find(|v| v.code == r.code && v.unit_code != r.unit_code)
            .map(|v| {
                format!(
                    "Mã {} là của {} ({}), danh sách lần {} gửi lúc {}.",
                    r.code,
                    d.unit_name(&v.unit_code),
                    v.unit_code,
                    v.number,
                    d.when(&v.received_at)
                )
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    PaperResult {
        title,
        tone,
        unit_code: r.unit_code.clone(),
        unit: d.unit_name(&r.unit_code),
        detail: w::paper_answer(
            &label,
            &verdict,
            &r.code,
            current.map(|v| (v.code.as_str(), v.row_count, v.received_at.as_str())),
            &when,
        ),
        code: r.code.clone(),
        rows: r.row_count.map(|n| n.to_string()).unwrap_or_default(),
        list_rows: current.map(|v| v.row_count.to_string()).unwrap_or_default(),
        note: r.note.clone(),
        owner,
        undone: r.undone_at.is_some(),
    }
}

#[derive(Deserialize)]
struct PaperForm {
    #[serde(default)]
    ma: String,
    #[serde(default)]
    don_vi: String,
    #[serde(default)]
    so_dong: String,
    #[serde(default)]
    ghi_chu: String,
}

async fn paper_receive(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<PaperForm>,
) -> Page {
    let to = desk
        .db(move |d, s| {
            let rows = match form.so_dong.trim() {
                "" => None,
                n => match n.parse::<usize>() {
                    Ok(n) => Some(n),
                    Err(_) => return Ok(("/ban-giay?loi=so-dong".to_string(), None)),
                },
            };
            let all = stored::versions(s.conn())?;
            let chosen = d.find_unit(&form.don_vi).map(|u| u.code.clone());
            // Known codes as stored and as printed (with the check character).
            let known = |unit: Option<&str>| -> Vec<String> {
                all.iter()
                    .filter(|v| unit.is_none_or(|u| v.unit_code == u))
                    .flat_map(|v| [v.code.clone(), printed_code(&v.code)])
                    .collect()
            };
            // A marked code is read against the chosen unit's codes first, then everyone's (it
            // may be another unit's paper).
            let own = chosen.as_ref().map(|c| {
                let codes = known(Some(c));
                read_code(&form.ma, codes.iter().map(String::as_str))
            });
            let reading = match own {
                Some(r @ Reading::Unmarked(_)) => r,
                _ => {
                    let codes = known(None);
                    read_code(&form.ma, codes.iter().map(String::as_str))
                }
            };
            if let Reading::Ambiguous(codes) = &reading {
                return Ok((
                    format!("/ban-giay?mo_ho={}", encode(&codes.join(", "))),
                    None,
                ));
            }
            let code = reading.code();
            let (bare, typo) = match check(&code) {
                Checked::Valid(c) | Checked::Unchecked(c) => (c, false),
                Checked::Typo(c) => (c, true),
            };
            let unit = if form.don_vi.trim().is_empty() {
                all.iter()
                    .rev()
                    .find(|v| !bare.is_empty() && v.code == bare)
                    .map(|v| v.unit_code.clone())
            } else {
                chosen
            };
            let Some(unit) = unit else {
                let to = if code.is_empty() {
                    "/ban-giay?loi=trong".to_string()
                } else if typo {
                    format!("/ban-giay?go_sai={}", encode(&code))
                } else {
                    format!("/ban-giay?khong_thay={}", encode(&code))
                };
                return Ok((to, None));
            };
            let note = staff_note(&form.ghi_chu);
            let received = crate::report::paper::receive(s, &unit, &code, rows, &note)?;
            let summary = format!(
                "mã {}, {} dòng: {}",
                if code.is_empty() {
                    "(không có)"
                } else {
                    &code
                },
                rows.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
                received.judgement.verdict.code()
            );
            let audit_note = if note.is_empty() {
                summary
            } else {
                format!("{summary}; {note}")
            };
            s.audit(&staff.username, "paper_receive", &unit, &audit_note)?;
            let report = super::actions::rewrite_report(d, s);
            Ok((format!("/ban-giay?ket_qua={}", received.receipt.id), report))
        })
        .await?;
    Ok(after_paper(to).await)
}

/// The paper desk's next page, or the report's failure first.
async fn after_paper((path, report): (String, Option<String>)) -> Response {
    super::actions::Done::To { path, report }.respond().await
}

pub(super) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize)]
struct UndoForm {
    #[serde(default)]
    don_vi: String,
}

async fn paper_undo(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<UndoForm>,
) -> Page {
    let to = desk
        .db(move |d, s| {
            let Some(unit) = d.find_unit(&form.don_vi).map(|u| u.code.clone()) else {
                return Ok(("/ban-giay?loi=khong-huy".to_string(), None));
            };
            Ok(match s.undo_receipt(Some(&unit))? {
                Some(r) => {
                    s.audit(
                        &staff.username,
                        "paper_undo",
                        &unit,
                        &format!("ghi nhận lúc {}", d.when(&r.received_at)),
                    )?;
                    (
                        format!("/ban-giay?da_huy={}", encode(&unit)),
                        super::actions::rewrite_report(d, s),
                    )
                }
                None => ("/ban-giay?loi=khong-huy".to_string(), None),
            })
        })
        .await?;
    Ok(after_paper(to).await)
}

// ---- Tìm kiếm ----

/// Most people listed for one search.
const MAX_RESULTS: usize = 200;

pub struct PersonView {
    pub unit_code: String,
    pub unit: String,
    pub name: String,
    pub id_number: String,
    pub birth: String,
    pub request: &'static str,
    pub mail_id: i64,
    pub received: String,
    pub source: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "desk/search.html")]
struct SearchPage {
    nav: Nav,
    q: String,
    results: Vec<PersonView>,
    more: bool,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(query): Query<SearchQuery>,
) -> Page {
    let page = desk
        .db(move |d, s| {
            let q_text: String = query.q.trim().chars().take(100).collect();
            let (results, more) = if q_text.is_empty() {
                (Vec::new(), false)
            } else {
                find_people(d, s, &q_text)?
            };
            Ok(SearchPage {
                nav: Nav::new(&staff, "/tim-kiem"),
                q: q_text,
                results,
                more,
            })
        })
        .await?;
    render(page)
}

/// People whose name contains the query (accents and case aside) or whose ID number contains
/// its digits.
fn find_people(d: &Desk, s: &Store, query: &str) -> anyhow::Result<(Vec<PersonView>, bool)> {
    let digits: String = query.chars().filter(|c| c.is_ascii_digit()).collect();
    let by_number = !digits.is_empty()
        && query
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '.');
    let folded = crate::text::fold(query);
    let folded: String = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut ids = Vec::new();
    let mut more = false;
    for (id, name, number) in q::person_keys(s.conn())? {
        let hit = if by_number {
            number.contains(&digits)
        } else {
            let n = crate::text::fold(&name);
            n.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&folded)
        };
        if hit {
            if ids.len() == MAX_RESULTS {
                more = true;
                break;
            }
            ids.push(id);
        }
    }
    let people = q::persons(s.conn(), &ids)?
        .into_iter()
        .map(|p| {
            let unit_code = p.unit_code.clone().unwrap_or_default();
            PersonView {
                unit: d.unit_name(&unit_code),
                unit_code,
                name: p.full_name,
                id_number: p.id_number,
                birth: p
                    .birth_date
                    .as_deref()
                    .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
                    .map(|b| crate::text::date_dmy(Some(b)))
                    .unwrap_or_default(),
                request: crate::schema::RequestType::from_code(&p.request_type)
                    .map_or("", |t| t.label()),
                mail_id: p.mail_id,
                received: d.when(&p.received_at),
                source: format!("{}, dòng {}", p.source_file, p.source_row),
                current: p.current,
            }
        })
        .collect();
    Ok((people, more))
}

// ---- Tải về ----

#[derive(Template)]
#[template(path = "desk/downloads.html")]
struct Downloads {
    nav: Nav,
    files: Vec<(String, String)>,
    folder: String,
}

/// The report folder's files: (name, size in KB), by name.
fn report_files(d: &Desk) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(d.report_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = e.metadata().ok()?.len();
            Some((name, size))
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    files.sort();
    files
}

async fn downloads(State(desk): State<AppState>, Extension(staff): Extension<Staff>) -> Page {
    let files = report_files(&desk)
        .into_iter()
        .map(|(n, size)| (n, format!("{} KB", size.div_ceil(1024))))
        .collect();
    render(Downloads {
        nav: Nav::new(&staff, "/tai-ve"),
        files,
        folder: desk.report_dir().display().to_string(),
    })
}

async fn download(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(name): Path<String>,
) -> Page {
    // Only a name the folder lists: nothing outside it can be named.
    if !report_files(&desk).iter().any(|(n, _)| *n == name) {
        return Ok(not_found().await);
    }
    let path = desk.report_dir().join(&name);
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path)).await??;
    let user = staff.username.clone();
    let logged = name.clone();
    desk.db(move |_, s| s.audit(&user, "download_report", &logged, ""))
        .await?;
    let kind = match name.rsplit('.').next() {
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    };
    Ok(attachment(bytes, &name, kind))
}

// ---- Nhật ký ----

#[derive(Template)]
#[template(path = "desk/audit.html")]
struct AuditPage {
    nav: Nav,
    lines: Vec<(String, String, &'static str, String, String)>,
}

async fn audit(State(desk): State<AppState>, Extension(staff): Extension<Staff>) -> Page {
    let page = desk
        .db(move |d, s| {
            Ok(AuditPage {
                nav: Nav::new(&staff, "/nhat-ky"),
                lines: s
                    .audit_log(1000)?
                    .into_iter()
                    .map(|a| {
                        (
                            d.when(&a.at),
                            a.username,
                            text::action(&a.action),
                            a.target,
                            a.note,
                        )
                    })
                    .collect(),
            })
        })
        .await?;
    render(page)
}

// ---- Đăng nhập ----

#[derive(Template)]
#[template(path = "desk/login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    error: String,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of the desk itself: never another site.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// The login page; `token` is the login form's token already set in the browser, if any (other
/// tabs showing the form keep working).
fn login_response(
    secure: bool,
    status: StatusCode,
    next: &str,
    username: &str,
    error: &str,
    token: Option<&str>,
) -> Page {
    let csrf = match token {
        Some(t)
            if t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            t.to_string()
        }
        _ => auth::random_token()?,
    };
    let body = LoginPage {
        csrf: csrf.clone(),
        next: safe_next(next),
        username: username.to_string(),
        error: error.to_string(),
    }
    .render()?;
    let mut r = (status, Html(body)).into_response();
    let cookie = auth::set_cookie(auth::LOGIN_COOKIE, &csrf, None, secure);
    r.headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&cookie)?);
    Ok(r)
}

async fn login_page(
    Extension(SecureCookies(secure)): Extension<SecureCookies>,
    Query(q): Query<NextQuery>,
    headers: axum::http::HeaderMap,
) -> Page {
    let token = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, auth::LOGIN_COOKIE));
    login_response(secure, StatusCode::OK, &q.next, "", "", token)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(desk): State<AppState>,
    Extension(Client(client)): Extension<Client>,
    Extension(SecureCookies(secure)): Extension<SecureCookies>,
    Form(form): Form<LoginForm>,
) -> Page {
    let username: String = form.username.trim().chars().take(64).collect();
    let window = Duration::minutes(LOGIN_WINDOW_MINUTES);
    let (user, c) = (username.clone(), client.clone());
    let (failures, account) = desk
        .db(move |_, s| {
            let failures = s.login_failures(&user, &c, window)?;
            let account = s.staff_password(&user)?;
            Ok((failures, account))
        })
        .await?;
    let (by_user, by_client, first) = failures;
    if by_user >= MAX_LOGIN_FAILURES || by_client >= MAX_LOGIN_FAILURES {
        let wait = first
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| (t.to_utc() + window - chrono::Utc::now()).num_minutes() + 1)
            .unwrap_or(LOGIN_WINDOW_MINUTES)
            .clamp(1, LOGIN_WINDOW_MINUTES);
        tracing::warn!(username = %username, client = %client, "desk login refused: too many failures");
        return login_response(
            secure,
            StatusCode::TOO_MANY_REQUESTS,
            &form.next,
            &username,
            &text::login_wait(wait),
            None,
        );
    }
    let password = form.password;
    let hash = account
        .as_ref()
        .map_or_else(|| auth::dummy_hash().to_string(), |(_, h)| h.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some((staff_id, _)) = account.filter(|_| ok) else {
        let (user, c) = (username.clone(), client.clone());
        desk.db(move |_, s| s.record_login_failure(&user, &c))
            .await?;
        tracing::warn!(username = %username, client = %client, "desk login failed");
        return login_response(
            secure,
            StatusCode::UNAUTHORIZED,
            &form.next,
            &username,
            text::LOGIN_WRONG,
            None,
        );
    };
    let token = auth::random_token()?;
    let csrf = auth::random_token()?;
    let hours = desk.desk_config().session_hours.clamp(1, 24 * 14);
    let lifetime = Duration::hours(i64::from(hours));
    let (t, user) = (token.clone(), username.clone());
    desk.db(move |_, s| {
        s.create_session(staff_id, &t, &csrf, lifetime)?;
        s.clear_login_failures(&user)?;
        s.audit(
            &crate::store::staff::normalise_username(&user),
            "login",
            "",
            "",
        )
    })
    .await?;
    let mut r = see_other(&safe_next(&form.next));
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::set_cookie(
            auth::SESSION_COOKIE,
            &token,
            Some(lifetime.num_seconds()),
            secure,
        ))?,
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::set_cookie(auth::LOGIN_COOKIE, "", Some(0), secure))?,
    );
    Ok(r)
}

async fn logout(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Extension(SecureCookies(secure)): Extension<SecureCookies>,
    headers: axum::http::HeaderMap,
) -> Page {
    let token = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
        .map(str::to_string);
    desk.db(move |_, s| {
        if let Some(t) = token {
            s.end_session(&t)?;
        }
        s.audit(&staff.username, "logout", "", "")
    })
    .await?;
    let mut r = see_other("/dang-nhap");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::set_cookie(auth::SESSION_COOKIE, "", Some(0), secure))?,
    );
    Ok(r)
}

// ---- /healthz, the style sheet ----

async fn healthz(State(desk): State<AppState>) -> Response {
    match desk
        .db(|d, s| crate::daemon::health::freshness(&d.config, s))
        .await
    {
        Ok(f) if f.fresh => (StatusCode::OK, "ok\n").into_response(),
        Ok(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("stale: no successful poll of {} lately\n", f.source),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "healthz failed");
            (StatusCode::SERVICE_UNAVAILABLE, "error\n").into_response()
        }
    }
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/desk/desk.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_login_only_a_path_of_the_desk_is_followed() {
        assert_eq!(safe_next("/don-vi/THPT-LHP"), "/don-vi/THPT-LHP");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
