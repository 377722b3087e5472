//! The cover sheet "Phiếu đối chiếu": one printable page (self-contained HTML, A4 portrait) the
//! school prints and staples to its signed paper copy: the unit, when the list was received, the
//! reconciliation code in large type, the counts per request type and the names. Staff match the
//! paper to the exact email version by the code.
//!
//! [`render`] is pure (data in, bytes out); [`for_outcome`] builds it from an accepted outcome,
//! for the acknowledgement to attach.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::pipeline::Outcome;
use crate::safe::html;
use crate::schema::RequestType;
use crate::validate::ValidRow;
use crate::wording as w;

/// What the cover sheet shows.
#[derive(Debug, Clone)]
pub struct CoverSheet<'a> {
    /// The department, top left ("Sở Giáo dục và Đào tạo Nam Định").
    pub department: &'a str,
    /// The campaign's title.
    pub title: &'a str,
    pub unit_code: &'a str,
    pub unit_name: &'a str,
    /// When the list reached the mailbox, as printed ("14:05 ngày 03/12/2022").
    pub received: &'a str,
    pub code: &'a str,
    /// The version's rows, in the order of the list.
    pub rows: &'a [ValidRow],
    /// Where the paper copy goes.
    pub paper_room: &'a str,
    /// The deadline, as printed.
    pub deadline: &'a str,
}

/// A rendered cover sheet, ready to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverAttachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

const STYLE: &str = r#"
@page { size: A4 portrait; margin: 12mm; }
body { font-family: "Times New Roman", "Liberation Serif", serif; margin: 0; }
.head { display: flex; justify-content: space-between; font-size: 11pt; }
h1 { text-align: center; font-size: 18pt; margin: 4mm 0 1mm; }
p.sub { text-align: center; margin: 0 0 3mm; }
.code { text-align: center; font: bold 30pt "Courier New", monospace; letter-spacing: 4pt;
        border: 2px solid #000; padding: 2mm; margin: 3mm auto; width: 75mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
th, td { border: 1px solid #000; padding: 1px 4px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; }
.sign { display: flex; justify-content: flex-end; margin-top: 6mm; text-align: center; }
.sign div { width: 80mm; }
"#;

/// The cover sheet as HTML bytes (UTF-8).
pub fn render(c: &CoverSheet) -> Vec<u8> {
    // Scale the type so a long list still fits on one page.
    let size = match c.rows.len() {
        0..=25 => 11,
        26..=40 => 9,
        41..=60 => 8,
        _ => 7,
    };
    let mut s = String::with_capacity(4096 + c.rows.len() * 200);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{} — {}</title>\n<style>{STYLE} table {{ font-size: {size}pt; }}</style>\n\
         </head>\n<body>\n",
        html(w::COVER_TITLE),
        html(c.unit_name)
    );
    let _ = writeln!(
        s,
        "<div class=\"head\"><div>{}</div><div>{}</div></div>",
        html(c.department),
        html(&w::cover_received(c.received))
    );
    let _ = writeln!(s, "<h1>{}</h1>", html(&w::COVER_TITLE.to_uppercase()));
    let _ = writeln!(s, "<p class=\"sub\">{}</p>", html(c.title));
    let _ = writeln!(
        s,
        "<p><b>{}</b> {} ({})</p>",
        html(w::COVER_UNIT),
        html(c.unit_name),
        html(c.unit_code)
    );
    let _ = writeln!(
        s,
        "<p>{}</p>\n<div class=\"code\">{}</div>",
        html(w::COVER_CODE),
        html(c.code)
    );

    let counts = Outcome::counts(c.rows);
    s.push_str("<table>\n<tbody>\n");
    for (t, n) in RequestType::ALL.iter().zip(counts) {
        if n > 0 {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
                html(t.label())
            );
        }
    }
    let _ = writeln!(
        s,
        "<tr><th>{}</th><th class=\"n\">{}</th></tr>\n</tbody>\n</table>",
        html(w::COVER_TOTAL),
        c.rows.len()
    );

    s.push_str("<table>\n<thead><tr>");
    for h in w::COVER_NAME_HEADERS {
        let _ = write!(s, "<th>{}</th>", html(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in c.rows.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            html(&r.full_name),
            html(&r.id_number),
            html(r.request_type.label())
        );
    }
    s.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        s,
        "<p>{}</p>",
        html(&w::cover_instructions(c.paper_room, c.deadline))
    );
    let _ = writeln!(
        s,
        "<div class=\"sign\"><div><b>{}</b><br><i>{}</i></div></div>",
        html(w::COVER_SIGNER),
        html(w::COVER_SIGNER_HINT)
    );
    s.push_str("</body>\n</html>\n");
    s.into_bytes()
}

/// The file name of a unit's cover sheet: `phieu-doi-chieu-UNIT-CODE.html`, ASCII only.
pub fn file_name(unit_code: &str, code: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    format!("phieu-doi-chieu-{}-{}.html", safe(unit_code), safe(code))
}

/// The cover sheet of an accepted outcome, to attach to its acknowledgement; None when the
/// outcome has no accepted version, no unit, or is kept behind a newer version.
pub fn for_outcome(
    outcome: &Outcome,
    received_at: DateTime<Utc>,
    config: &Config,
) -> Option<CoverAttachment> {
    // A list kept behind a newer one has no paper copy to bring.
    let version = outcome.version.as_ref().filter(|v| v.newer.is_none())?;
    let unit = outcome.unit.as_ref()?;
    let c = &config.campaign;
    let received = crate::reply::body::local_time(received_at, config);
    let deadline = c.deadline.format("%H:%M ngày %d/%m/%Y").to_string();
    let sheet = CoverSheet {
        department: &c.department_name,
        title: &c.title,
        unit_code: &unit.code,
        unit_name: &unit.name,
        received: &received,
        code: &version.code,
        rows: &version.rows,
        paper_room: &c.paper_room,
        deadline: &deadline,
    };
    Some(CoverAttachment {
        filename: file_name(&unit.code, &version.code),
        content_type: "text/html; charset=utf-8",
        bytes: render(&sheet),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::RowSource;

    fn row(name: &str, t: RequestType) -> ValidRow {
        ValidRow {
            request_type: t,
            full_name: name.into(),
            birth_date: None,
            id_number: "036085000001".into(),
            id_issue_date: None,
            id_issue_place: String::new(),
            position: String::new(),
            unit_name: String::new(),
            email: String::new(),
            phone: String::new(),
            cert_serial: String::new(),
            change_detail: String::new(),
            reason: String::new(),
            note: String::new(),
            source: RowSource::default(),
        }
    }

    #[test]
    fn the_cover_sheet_shows_unit_code_counts_and_names() {
        let rows = [
            row("Nguyễn Văn An", RequestType::NewCert),
            row("Trần Thị <Bình>", RequestType::NewCert),
            row("Lê Văn Chung", RequestType::Renew),
        ];
        let html = String::from_utf8(render(&CoverSheet {
            department: "Sở Giáo dục và Đào tạo Nam Định",
            title: "DANH SÁCH ĐỀ NGHỊ",
            unit_code: "THPT-LHP",
            unit_name: "Trường THPT chuyên Lê Hồng Phong",
            received: "15:40 ngày 08/12/2022",
            code: "2KG6690H",
            rows: &rows,
            paper_room: "Phòng 401",
            deadline: "23:59 ngày 17/12/2022",
        }))
        .unwrap();
        assert!(html.contains("PHIẾU ĐỐI CHIẾU"));
        assert!(html.contains("<div class=\"code\">2KG6690H</div>"));
        assert!(html.contains("Trường THPT chuyên Lê Hồng Phong (THPT-LHP)"));
        assert!(html.contains("<td>Cấp mới chứng thư số</td><td class=\"n\">2</td>"));
        assert!(html.contains("<td>Gia hạn chứng thư số</td><td class=\"n\">1</td>"));
        assert!(
            !html.contains("Thu hồi chứng thư số</td><td"),
            "no line for a type absent"
        );
        assert!(html.contains("Trần Thị &lt;Bình&gt;"), "names are escaped");
        assert!(html.contains("15:40 ngày 08/12/2022") && html.contains("Phòng 401"));
        assert_eq!(
            file_name("THPT-LHP", "2KG6690H"),
            "phieu-doi-chieu-THPT-LHP-2KG6690H.html"
        );
    }

    #[test]
    fn only_an_accepted_outcome_has_a_cover_sheet() {
        let config = crate::config::Config::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
            &Default::default(),
        )
        .unwrap();
        let mut outcome = Outcome::new(crate::pipeline::OutcomeKind::Rejected, "");
        let unit = crate::units::Unit {
            code: "THPT-NK".into(),
            name: "Trường THPT Nguyễn Khuyến".into(),
            kind: "THPT".into(),
            emails: vec![],
        };
        outcome.unit = Some(unit);
        assert!(for_outcome(&outcome, Utc::now(), &config).is_none());
        let rows = vec![row("Nguyễn Văn An", RequestType::NewCert)];
        outcome.kind = crate::pipeline::OutcomeKind::Accepted;
        outcome.version = Some(crate::pipeline::NewVersion {
            code: crate::dedupe::reconciliation_code(&rows),
            rows,
            changes: Default::default(),
            had_previous: false,
            written_at: Utc::now(),
            newer: None,
        });
        let a = for_outcome(&outcome, Utc::now(), &config).unwrap();
        assert!(a.filename.starts_with("phieu-doi-chieu-THPT-NK-"));
        assert_eq!(a.content_type, "text/html; charset=utf-8");
        let text = String::from_utf8(a.bytes).unwrap();
        assert!(text.contains("Nguyễn Văn An") && text.contains("Phòng 401"));
    }
}
