//! `doi-chieu.html`: the workbook's content as one self-contained page (inline CSS, no script,
//! no link to anything) that prints cleanly: A4 landscape, each sheet on new pages, table headers
//! repeated on every page. Every text is escaped, so a school's `=HYPERLINK(...)` is just text.

use std::fmt::Write;

use super::layout::{self, Cell, Table};
use super::{Reconciliation, UnitStatus, local_time};
use crate::safe::html;
use crate::schema::RequestType;

const STYLE: &str = r#"
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "Times New Roman", "Liberation Serif", serif; font-size: 10pt; margin: 0 8mm; }
h1 { font-size: 14pt; text-align: center; margin: 4mm 0 1mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; }
p.meta { text-align: center; margin: 0 0 4mm; }
section + section { break-before: page; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #444; padding: 1px 3px; vertical-align: top; }
th { background: #ddebf7; font-weight: bold; text-align: center; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.n { text-align: right; }
table.overview { width: auto; margin-bottom: 4mm; }
p.empty { font-style: italic; }
@media print { body { margin: 0; } }
"#;

fn cell(out: &mut String, c: &Cell) {
    match c {
        Cell::Empty => out.push_str("<td></td>"),
        Cell::Number(n) => {
            let _ = write!(out, "<td class=\"n\">{n}</td>");
        }
        Cell::Text(s) => {
            let _ = write!(out, "<td>{}</td>", html(s));
        }
    }
}

fn table(out: &mut String, t: &Table) {
    let _ = write!(
        out,
        "<section data-sheet=\"{}\">\n<h2>{} — {}</h2>\n",
        html(&t.name),
        html(&t.name),
        html(&t.title)
    );
    if t.rows.is_empty() {
        out.push_str("<p class=\"empty\">(Không có dòng nào.)</p>\n</section>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            cell(out, c);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The overview above the sheets: units by status, papers received, rows per request type.
fn overview(out: &mut String, rec: &Reconciliation) {
    let count = |s: UnitStatus| rec.units.iter().filter(|u| u.status == s).count();
    let papers = rec.units.iter().filter(|u| u.paper.is_some()).count();
    let matching = rec
        .units
        .iter()
        .filter(|u| u.paper.as_ref().is_some_and(|p| p.verdict.is_ok()))
        .count();
    out.push_str("<table class=\"overview\">\n<tbody>\n");
    let mut line = |label: &str, n: usize| {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td class=\"n\">{n}</td></tr>",
            html(label)
        );
    };
    line("Số đơn vị", rec.units.len());
    for s in UnitStatus::ALL {
        line(s.label(), count(s));
    }
    line("Đã nhận bản giấy", papers);
    line("Bản giấy khớp", matching);
    line("Tổng số đề nghị", rec.requests.len());
    for (i, t) in RequestType::ALL.iter().enumerate() {
        line(t.label(), rec.units.iter().map(|u| u.counts[i]).sum());
    }
    line("Việc cần xử lý", rec.issues.len());
    out.push_str("</tbody>\n</table>\n");
}

/// The page.
pub fn render(rec: &Reconciliation) -> String {
    let tables = layout::tables(rec);
    let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
    let mut out = String::with_capacity(4096 + rows * 400);
    let title = if rec.settings.title.is_empty() {
        "Bảng đối chiếu danh sách đề nghị".to_string()
    } else {
        rec.settings.title.clone()
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        html(&format!("Đối chiếu — {title}"))
    );
    let _ = writeln!(out, "<section data-sheet=\"tong-quan\">");
    if !rec.settings.department.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"meta\">{}</p>",
            html(&rec.settings.department)
        );
    }
    let _ = writeln!(out, "<h1>BẢNG ĐỐI CHIẾU<br>{}</h1>", html(&title));
    let mut meta = format!(
        "Lập lúc {}",
        local_time(&rec.generated_at.to_rfc3339(), &rec.tz)
    );
    if let Some(d) = rec.settings.deadline {
        let _ = write!(meta, " — Hạn gửi: {}", d.format("%H:%M ngày %d/%m/%Y"));
    }
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", html(&meta));
    overview(&mut out, rec);
    out.push_str("</section>\n");
    for t in &tables {
        table(&mut out, t);
    }
    out.push_str("</body>\n</html>\n");
    out
}
