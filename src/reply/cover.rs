//! The cover sheet "Phiếu đối chiếu": one A4 portrait PDF page the school prints (webmail opens
//! a PDF in its viewer: one click to print) and staples to its signed paper copy: the unit, when
//! the list was received, the counts per request type, the reconciliation code in large type and
//! as a Code 128 barcode, what to do with the paper, the signature. Staff match the paper to the
//! exact email version by the code (typed, or read by a scanner off the barcode).
//!
//! [`render`] is pure (data in, bytes out); [`for_outcome`] builds it from an accepted outcome,
//! for the acknowledgement to attach. The page is drawn by [`super::pdf`]; every text is 10 pt
//! or more.

use chrono::{DateTime, Utc};

use super::pdf::{A4, Align, Page, Style};
use crate::config::Config;
use crate::pipeline::Outcome;
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
    /// The version's rows (the sheet prints their counts per request type).
    pub rows: &'a [ValidRow],
    /// Where the paper copy goes.
    pub paper_room: &'a str,
    /// The deadline, as printed; empty when the list came after it (the sheet then asks for the
    /// paper copy as soon as possible).
    pub deadline: &'a str,
}

/// A rendered cover sheet, ready to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverAttachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The cover sheet's MIME type.
pub const PDF: &str = "application/pdf";

/// Page margins (left and right, top), in points: 20 mm and 15 mm.
const MARGIN: f32 = 56.7;
const TOP: f32 = 42.5;
/// The barcode's narrowest bar (0.42 mm: a 200 dpi rendering gives it over 3 pixels) and height.
const XDIM: f32 = 1.2;
const BAR_HEIGHT: f32 = 48.0;

/// The cover sheet as PDF bytes.
pub fn render(c: &CoverSheet) -> anyhow::Result<Vec<u8>> {
    let mut p = Page::new();
    let (width, height) = A4;
    let text_width = width - 2.0 * MARGIN;
    let mut y = height - TOP - 11.0;

    // The header: the department on the left, the nation and its motto on the right, each
    // centred in its column and underlined.
    let left = (MARGIN, 200.0);
    let right = (MARGIN + 210.0, text_width - 210.0);
    let dept = c.department.to_uppercase();
    let below_left = p.paragraph(Style::Bold, 10.5, left, y, 13.0, Align::Center, &dept);
    let mut below_right = p.paragraph(
        Style::Bold,
        10.5,
        right,
        y,
        13.0,
        Align::Center,
        w::COVER_NATION,
    );
    below_right = p.paragraph(
        Style::Bold,
        10.5,
        right,
        below_right,
        13.0,
        Align::Center,
        w::COVER_MOTTO,
    );
    let rule = |p: &mut Page, (x, w): (f32, f32), y: f32, half: f32| {
        let mid = x + w / 2.0;
        p.line((mid - half, y + 9.0), (mid + half, y + 9.0), 0.6);
    };
    rule(&mut p, left, below_left - 3.0, 30.0);
    let motto = p.width(Style::Bold, 10.5, w::COVER_MOTTO) / 2.0;
    rule(&mut p, right, below_right - 3.0, motto);
    y = below_left.min(below_right) - 30.0;

    // The title and the campaign.
    p.text(
        Style::Bold,
        20.0,
        width / 2.0,
        y,
        Align::Center,
        &w::COVER_TITLE.to_uppercase(),
    );
    y -= 22.0;
    y = p.paragraph(
        Style::Regular,
        11.0,
        (MARGIN, text_width),
        y,
        14.0,
        Align::Center,
        c.title,
    );
    y -= 14.0;

    // The unit, when the list came, what it asks for.
    let field = |p: &mut Page, y: f32, label: &str, value: &str| -> f32 {
        p.text(Style::Bold, 12.0, MARGIN, y, Align::Left, label);
        let at = MARGIN + p.width(Style::Bold, 12.0, label) + 5.0;
        p.paragraph(
            Style::Regular,
            12.0,
            (at, MARGIN + text_width - at),
            y,
            16.0,
            Align::Left,
            value,
        )
    };
    y = field(&mut p, y, w::COVER_UNIT, c.unit_name);
    y = field(&mut p, y, w::COVER_UNIT_CODE, c.unit_code);
    y = field(&mut p, y, w::COVER_RECEIVED, c.received);
    y = field(
        &mut p,
        y,
        &format!("{}:", w::COVER_TOTAL),
        &c.rows.len().to_string(),
    );
    let counts = Outcome::counts(c.rows);
    for (t, n) in RequestType::ALL.iter().zip(counts) {
        if n > 0 {
            p.text(
                Style::Regular,
                11.0,
                MARGIN + 20.0,
                y,
                Align::Left,
                &format!("– {}: {n}", t.label()),
            );
            y -= 15.0;
        }
    }
    y -= 10.0;

    // The code: in large type in a frame, and as a barcode below.
    y = p.paragraph(
        Style::Regular,
        12.0,
        (MARGIN, text_width),
        y,
        16.0,
        Align::Center,
        w::COVER_CODE,
    );
    let printed = crate::domain::paper::printed_code(c.code);
    let code_width = p.width(Style::Bold, 30.0, &printed);
    y -= 30.0;
    p.frame(
        width / 2.0 - code_width / 2.0 - 14.0,
        y - 11.0,
        code_width + 28.0,
        46.0,
        1.5,
    );
    p.text(Style::Bold, 30.0, width / 2.0, y, Align::Center, &printed);
    y -= 24.0 + BAR_HEIGHT;
    let bars = super::barcode::width(&printed, XDIM);
    super::barcode::draw(
        &mut p,
        &printed,
        (width / 2.0 - bars / 2.0, y),
        XDIM,
        BAR_HEIGHT,
    );
    y -= 30.0;

    // What to do with it.
    let todo = w::cover_instructions(c.paper_room, c.deadline);
    y = p.paragraph(
        Style::Regular,
        12.0,
        (MARGIN, text_width),
        y,
        16.0,
        Align::Left,
        &todo,
    );
    y -= 20.0;

    // The signature, on the right.
    let sign = (MARGIN + text_width - 260.0, 260.0);
    let mid = sign.0 + sign.1 / 2.0;
    p.text(
        Style::Regular,
        11.0,
        mid,
        y,
        Align::Center,
        w::COVER_DATE_LINE,
    );
    y -= 18.0;
    p.text(Style::Bold, 12.0, mid, y, Align::Center, w::COVER_SIGNER);
    y -= 15.0;
    p.text(
        Style::Regular,
        11.0,
        mid,
        y,
        Align::Center,
        w::COVER_SIGNER_HINT,
    );

    // The department's part, at the foot of the page.
    let foot = MARGIN + 20.0;
    p.frame(MARGIN, foot - 12.0, text_width, 62.0, 0.8);
    p.text(
        Style::Bold,
        11.0,
        MARGIN + 8.0,
        foot + 32.0,
        Align::Left,
        w::COVER_DESK,
    );
    for (i, l) in w::COVER_DESK_LINES.iter().enumerate() {
        p.text(
            Style::Regular,
            11.0,
            MARGIN + 8.0,
            foot + 14.0 - 16.0 * i as f32,
            Align::Left,
            l,
        );
    }
    p.finish(&format!("{} {} {}", w::COVER_TITLE, c.unit_code, printed))
}

/// The file name of a unit's cover sheet: `phieu-doi-chieu-UNIT-CODE.pdf`, ASCII only.
pub fn file_name(unit_code: &str, code: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    format!("phieu-doi-chieu-{}-{}.pdf", safe(unit_code), safe(code))
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
    let deadline = if outcome.late {
        String::new()
    } else {
        c.deadline.format("%H:%M ngày %d/%m/%Y").to_string()
    };
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
    // A page that cannot be drawn (it cannot happen with the fonts compiled in) leaves the
    // acknowledgement without its sheet: the body then asks for the code on the paper instead.
    let bytes = render(&sheet)
        .map_err(|e| tracing::warn!(error = %format!("{e:#}"), "cannot render the cover sheet"))
        .ok()?;
    Some(CoverAttachment {
        filename: file_name(&unit.code, &version.code),
        content_type: PDF,
        bytes,
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
    fn the_cover_sheet_is_a_one_page_pdf_named_after_the_unit_and_code() {
        let rows = [
            row("Nguyễn Văn An", RequestType::NewCert),
            row("Lê Văn Chung", RequestType::Renew),
        ];
        let pdf = render(&CoverSheet {
            department: "Sở Giáo dục và Đào tạo Nam Định",
            title: "DANH SÁCH ĐỀ NGHỊ",
            unit_code: "THPT-LHP",
            unit_name: "Trường THPT chuyên Lê Hồng Phong",
            received: "15:40 ngày 08/12/2022",
            code: "2KG6690H",
            rows: &rows,
            paper_room: "Phòng 401",
            deadline: "23:59 ngày 17/12/2022",
        })
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF"));
        assert_eq!(
            file_name("THPT-LHP", "2KG6690H"),
            "phieu-doi-chieu-THPT-LHP-2KG6690H.pdf"
        );
        assert_eq!(
            file_name("THPT/Ư", "2KG6690H"),
            "phieu-doi-chieu-THPT---2KG6690H.pdf"
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
        assert!(a.filename.ends_with(".pdf"), "{}", a.filename);
        assert_eq!(a.content_type, "application/pdf");
        assert!(a.bytes.starts_with(b"%PDF-"));
    }
}
