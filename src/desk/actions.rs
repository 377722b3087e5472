//! The desk's decisions on held mail and on units: release a mail to a unit (processed as the
//! unit's own, the normal reply sent; optionally its sender trusted for good), reject it with a
//! reason (the school gets the reason), process it again as it is, mark a unit as having nobody
//! to request, and the registry edited (a unit added, its name or addresses changed, written back
//! to the units file the daemon reloads). Mail is processed again through the same
//! [`crate::daemon::Intake`] functions the `replay` command uses. Every action is audited and
//! followed by a rewrite of the report folder (a failure there is logged and shown, and never
//! undoes the action).

use axum::Router;
use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;

use super::pages::{Page, message_with_link, not_found, see_other, staff_note};
use super::{AppState, Desk, Staff, text};
use crate::store::{Store, desk_query as q};
use crate::units::{Registry, Unit};

/// The action routes; [`super::guard`] stands before them (session, origin, `csrf`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/thu/{id}/giao", post(release))
        .route("/thu/{id}/tu-choi", post(reject))
        .route("/thu/{id}/xu-ly-lai", post(reprocess))
        .route("/don-vi/{code}/khong-nhu-cau", post(no_need))
        .route("/don-vi/{code}/sua", post(edit_unit))
        .route("/don-vi-moi", post(add_unit))
}

/// What an action came to.
pub enum Done {
    /// Done: go on to this page. `report` holds why the report could not be rewritten.
    To {
        path: String,
        report: Option<String>,
    },
    /// Not done, and why, for the clerk.
    Refused(String),
    NotFound,
}

impl Done {
    fn to(path: impl Into<String>, report: Option<String>) -> Done {
        Done::To {
            path: path.into(),
            report,
        }
    }

    fn refused(why: impl Into<String>) -> Done {
        Done::Refused(why.into())
    }

    /// The answer: a redirect when all went well; the reason on a page otherwise.
    pub async fn respond(self) -> Response {
        match self {
            Done::To { path, report: None } => see_other(&path),
            Done::To {
                path,
                report: Some(why),
            } => message_with_link(
                StatusCode::OK,
                "Đã thực hiện",
                &text::report_failed(&why),
                &path,
            ),
            Done::Refused(why) => {
                message_with_link(StatusCode::CONFLICT, "Không thực hiện được", &why, "/")
            }
            Done::NotFound => not_found().await,
        }
    }
}

/// Rewrites the report folder from `store`; `Some(why)` when it could not be (logged).
pub fn rewrite_report(d: &Desk, store: &Store) -> Option<String> {
    let result = crate::report::rewrite(store, &d.registry(), &d.config, &d.report_dir());
    match result {
        Ok(()) => None,
        Err(e) => {
            let why = format!("{e:#}");
            tracing::error!(error = %why, "cannot rewrite the report after a desk action");
            Some(why)
        }
    }
}

/// Composes the replies a mail processed again left as drafts, so the outbox holds them ready;
/// the daemon delivers them (its SMTP sender within a poll interval, or its next pass writes
/// them as .eml files): the desk never marks a reply sent, whatever its own configuration
/// says. A failure is logged; the drafts stay and are composed at delivery.
fn compose_replies(intake: &mut crate::daemon::Intake) {
    if let Err(e) = crate::outbox::drafts::compose_pending(&mut intake.store, &intake.config) {
        tracing::error!(error = %format!("{e:#}"), "cannot compose the replies after a desk action");
    }
}

/// The audit log's name for a mail: its Message-ID, or its row.
fn mail_target(m: &q::MailDetail) -> String {
    if m.message_id.is_empty() {
        format!("thư {}", m.id)
    } else {
        m.message_id.clone()
    }
}

/// An audit note: what was done, then the clerk's note.
fn with_note(what: String, note: &str) -> String {
    if note.is_empty() {
        what
    } else {
        format!("{what}; {note}")
    }
}

/// Why a held mail cannot be processed again, if it cannot.
fn cannot_process_again(s: &Store, m: &q::MailDetail) -> anyhow::Result<Option<&'static str>> {
    if m.outcome != "held" || s.successor_of(m.id)?.is_some() {
        return Ok(Some(text::NOT_HELD));
    }
    let kept = s.raw_bytes(&m.sha256)?.map_or(0, |b| b.len() as i64);
    Ok((kept < m.size).then_some(text::ONLY_HEADER_KEPT))
}

/// Fetches the whole of held mail `id` from the mailbox when only its header was kept (it was
/// over the size limit): staff asked to process it. `Some(refusal)` when that failed.
async fn fetch_whole(desk: &AppState, id: i64) -> Option<Done> {
    use crate::daemon::whole;
    let refused = |e: anyhow::Error| {
        let why = format!("{e:#}");
        tracing::warn!(mail = id, error = %why, "cannot fetch an oversized mail whole");
        Some(Done::refused(text::whole_not_fetched(&why)))
    };
    let (stored, header) = match desk.db(move |_, s| whole::header_only(s, id)).await {
        Ok(Some(kept)) => kept,
        Ok(None) => return None,
        Err(e) => return refused(e),
    };
    let bytes = match whole::fetch(&desk.config, &stored, &header).await {
        Ok(bytes) => bytes,
        Err(e) => return refused(e),
    };
    desk.db(move |_, s| s.keep_whole(id, &bytes))
        .await
        .err()
        .and_then(refused)
}

/// Where to go after a mail was processed again: the new row.
fn after_replay(s: &Store, id: i64) -> anyhow::Result<String> {
    Ok(format!("/thu/{}", s.successor_of(id)?.unwrap_or(id)))
}

#[derive(Deserialize)]
struct ReleaseForm {
    #[serde(default)]
    don_vi: String,
    /// "luôn tin địa chỉ này": the sender's address is added to the unit in the registry.
    #[serde(default)]
    luon_tin: String,
    #[serde(default)]
    note: String,
}

async fn release(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<ReleaseForm>,
) -> Page {
    if let Some(refused) = fetch_whole(&desk, id).await {
        return Ok(refused.respond().await);
    }
    let done = desk
        .with_intake(move |d, intake| {
            let Some(m) = q::mail(intake.store.conn(), id)? else {
                return Ok(Done::NotFound);
            };
            let Some(unit) = d.find_unit(&form.don_vi) else {
                return Ok(Done::refused(text::CHOOSE_UNIT));
            };
            if let Some(why) = cannot_process_again(&intake.store, &m)? {
                return Ok(Done::refused(why));
            }
            let sender = m.from.trim().to_ascii_lowercase();
            if sender.is_empty() {
                return Ok(Done::refused(text::NO_SENDER));
            }
            if let Some(other) = d
                .registry()
                .by_email(&sender)
                .filter(|o| o.code != unit.code)
            {
                return Ok(Done::refused(text::address_taken(&sender, &other.name)));
            }
            let trust = !form.luon_tin.is_empty();
            if trust {
                let registry = d.registry().with_address(&unit.code, &sender)?;
                registry.save(&d.config.units.file)?;
                intake.registry = std::sync::Arc::new(registry.clone());
                d.use_registry(registry);
            }
            let replayed = intake.release_mail(id, &unit.code)?;
            let what = format!(
                "giao cho {} ({}){}: {}",
                unit.name,
                unit.code,
                if trust {
                    format!(", luôn tin địa chỉ {sender}")
                } else {
                    String::new()
                },
                super::text::outcome(replayed.now.outcome.code())
            );
            let note = with_note(what, &staff_note(&form.note));
            intake
                .store
                .audit(&staff.username, "release_mail", &mail_target(&m), &note)?;
            compose_replies(intake);
            let report = rewrite_report(d, &intake.store);
            Ok(Done::to(after_replay(&intake.store, id)?, report))
        })
        .await?;
    Ok(done.respond().await)
}

async fn reprocess(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<super::pages::NoteForm>,
) -> Page {
    if let Some(refused) = fetch_whole(&desk, id).await {
        return Ok(refused.respond().await);
    }
    let done = desk
        .with_intake(move |d, intake| {
            let Some(m) = q::mail(intake.store.conn(), id)? else {
                return Ok(Done::NotFound);
            };
            if let Some(why) = cannot_process_again(&intake.store, &m)? {
                return Ok(Done::refused(why));
            }
            let replayed = intake.replay_mail(id)?;
            let what = format!(
                "xử lý lại: {}",
                super::text::outcome(replayed.now.outcome.code())
            );
            let note = with_note(what, &staff_note(&form.note));
            intake
                .store
                .audit(&staff.username, "reprocess_mail", &mail_target(&m), &note)?;
            compose_replies(intake);
            let report = rewrite_report(d, &intake.store);
            Ok(Done::to(after_replay(&intake.store, id)?, report))
        })
        .await?;
    Ok(done.respond().await)
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    ly_do: String,
}

async fn reject(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let Some(m) = q::mail(s.conn(), id)? else {
                return Ok(Done::NotFound);
            };
            if m.outcome != "held" {
                return Ok(Done::refused(text::NOT_HELD));
            }
            let reason = staff_note(&form.ly_do);
            if reason.is_empty() {
                return Ok(Done::refused(text::REASON_NEEDED));
            }
            // The reply is threaded to the mail; only its header is needed for that.
            let raw = s.raw_bytes(&m.sha256)?.unwrap_or_default();
            let parsed = crate::mail::parse(&raw, &d.config.campaign.department_address);
            let unit = m.unit_code.as_deref().and_then(|c| d.find_unit(c));
            let seed = format!(
                "{}\n{}\n{}",
                m.id,
                m.sha256,
                chrono::Utc::now().to_rfc3339()
            );
            let reply = crate::reply::rejection(&parsed, unit.as_ref(), &reason, &seed, &d.config)?;
            if !s.reject_held_mail(id, reply.as_ref())? {
                return Ok(Done::refused(text::NOT_HELD));
            }
            let what = match &reply {
                Some(r) => format!("từ chối, báo cho {}", r.recipients.join(", ")),
                None => "từ chối (thư không có người gửi để báo)".to_string(),
            };
            s.audit(
                &staff.username,
                "reject_mail",
                &mail_target(&m),
                &with_note(what, &reason),
            )?;
            Ok(Done::to(format!("/thu/{id}"), rewrite_report(d, s)))
        })
        .await?;
    Ok(done.respond().await)
}

#[derive(Deserialize)]
struct NoNeedForm {
    /// "1": mark the unit; anything else: take the mark back.
    #[serde(default)]
    bat: String,
    #[serde(default)]
    note: String,
}

async fn no_need(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<NoNeedForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let Some(unit) = d.find_unit(&code) else {
                return Ok(Done::NotFound);
            };
            let on = form.bat == "1";
            let note = staff_note(&form.note);
            if s.set_no_need(&unit.code, on, &staff.username, &note)? {
                let action = if on { "unit_no_need" } else { "unit_need" };
                s.audit(&staff.username, action, &unit.code, &note)?;
            }
            Ok(Done::to(
                format!("/don-vi/{}", super::pages::encode(&unit.code)),
                rewrite_report(d, s),
            ))
        })
        .await?;
    Ok(done.respond().await)
}

#[derive(Deserialize)]
struct UnitForm {
    #[serde(default)]
    ma: String,
    #[serde(default)]
    ten: String,
    #[serde(default)]
    loai: String,
    /// Addresses separated by `;`, `,`, spaces or lines.
    #[serde(default)]
    dia_chi: String,
}

/// Most characters of a unit's name or kind, and most addresses of one unit.
const MAX_NAME_CHARS: usize = 200;
const MAX_ADDRESSES: usize = 20;

/// The unit a form describes, checked as `units import` checks a file, with the reason in
/// Vietnamese when it cannot be registered.
fn unit_of_form(registry: &Registry, code: &str, form: &UnitForm) -> Result<Unit, String> {
    let code = crate::text::clean(code);
    let name = crate::text::clean(&form.ten);
    if name.is_empty() {
        return Err(text::UNIT_NAME_NEEDED.into());
    }
    if name.chars().count() > MAX_NAME_CHARS || form.loai.chars().count() > MAX_NAME_CHARS {
        return Err(text::UNIT_NAME_TOO_LONG.into());
    }
    let emails: Vec<String> = form
        .dia_chi
        .split(|c: char| matches!(c, ';' | ',') || c.is_whitespace())
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    if emails.len() > MAX_ADDRESSES {
        return Err(text::too_many_addresses(MAX_ADDRESSES));
    }
    for e in &emails {
        if !crate::validate::looks_like_address(e) {
            return Err(text::not_an_address(e));
        }
        if let Some(other) = registry.by_email(e).filter(|o| o.code != code) {
            return Err(text::address_taken(e, &other.name));
        }
    }
    let mut unique = emails.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != emails.len() {
        return Err(text::ADDRESS_TWICE.into());
    }
    Ok(Unit {
        code,
        name,
        kind: crate::text::clean(&form.loai),
        emails,
    })
}

/// Puts `unit` into the registry, saves the file and uses it at once (the daemon reloads the
/// file at its next pass).
fn register(d: &Desk, s: &Store, staff: &Staff, unit: Unit, action: &str) -> anyhow::Result<Done> {
    let (code, what) = (
        unit.code.clone(),
        format!("{}: {}; {}", unit.code, unit.name, unit.emails.join(", ")),
    );
    let registry = match d.registry().with_unit(unit) {
        Ok(r) => r,
        Err(e) => return Ok(Done::refused(text::unit_refused(&format!("{e:#}")))),
    };
    registry.save(&d.config.units.file)?;
    d.use_registry(registry);
    s.audit(&staff.username, action, &code, &what)?;
    Ok(Done::to(
        format!("/don-vi/{}", super::pages::encode(&code)),
        rewrite_report(d, s),
    ))
}

async fn edit_unit(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<UnitForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let Some(existing) = d.find_unit(&code) else {
                return Ok(Done::NotFound);
            };
            let unit = match unit_of_form(&d.registry(), &existing.code, &form) {
                Ok(u) => u,
                Err(why) => return Ok(Done::refused(why)),
            };
            register(d, s, &staff, unit, "unit_edit")
        })
        .await?;
    Ok(done.respond().await)
}

async fn add_unit(
    State(desk): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<UnitForm>,
) -> Page {
    let done = desk
        .db(move |d, s| {
            let code = crate::text::clean(&form.ma);
            if code.is_empty() {
                return Ok(Done::refused(text::UNIT_CODE_NEEDED));
            }
            if let Some(u) = d.find_unit(&code) {
                return Ok(Done::refused(text::code_taken(&u.code, &u.name)));
            }
            let unit = match unit_of_form(&d.registry(), &code, &form) {
                Ok(u) => u,
                Err(why) => return Ok(Done::refused(why)),
            };
            register(d, s, &staff, unit, "unit_add")
        })
        .await?;
    Ok(done.respond().await)
}
