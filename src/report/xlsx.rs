//! The staff workbook `doi-chieu.xlsx`: "Tổng hợp" (one line per registered unit) and
//! "Chi tiết" (every current row). Headers in Vietnamese; IDs, phones and serials as text.

use std::path::Path;

use anyhow::{Context, Result};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet};

use super::Reconciliation;
use crate::schema::RequestType;

/// Summary columns, as staff read them.
const SUMMARY_HEADERS: [&str; 9] = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Loại hình",
    "Trạng thái",
    "Số lần gửi",
    "Lần gửi cuối",
    "Số đề nghị",
    "Mã đối chiếu",
    "Nộp muộn",
];

const DETAIL_HEADERS: [&str; 19] = [
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
    "Tệp nguồn",
    "Trang",
    "Dòng",
];

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin)
        .set_background_color("#DDEBF7")
}

fn write_headers(ws: &mut Worksheet, headers: &[&str], widths: &[f64]) -> Result<()> {
    let h = header_format();
    for (i, (text, width)) in headers.iter().zip(widths).enumerate() {
        ws.write_string_with_format(0, i as u16, *text, &h)?;
        ws.set_column_width(i as u16, *width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    Ok(())
}

fn local(rfc3339: &str, tz: &chrono::FixedOffset) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(tz).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// Writes the workbook.
pub fn write(rec: &Reconciliation, path: &Path) -> Result<()> {
    let mut wb = Workbook::new();
    let text = Format::new().set_num_format("@");

    let ws = wb.add_worksheet().set_name("Tổng hợp")?;
    let mut headers: Vec<&str> = SUMMARY_HEADERS.to_vec();
    let labels: Vec<&str> = RequestType::ALL.iter().map(|t| t.label()).collect();
    headers.extend(labels.iter());
    let mut widths = vec![12.0, 36.0, 14.0, 14.0, 10.0, 17.0, 10.0, 13.0, 10.0];
    widths.extend([14.0; 7]);
    write_headers(ws, &headers, &widths)?;
    for (i, u) in rec.units.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, &u.code)?;
        ws.write_string(r, 1, &u.name)?;
        ws.write_string(r, 2, &u.kind)?;
        ws.write_string(r, 3, u.status.label())?;
        ws.write_number(r, 4, u.submissions as f64)?;
        ws.write_string(
            r,
            5,
            u.last_received_at
                .as_deref()
                .map(|t| local(t, &rec.tz))
                .unwrap_or_default(),
        )?;
        ws.write_number(r, 6, u.rows as f64)?;
        ws.write_string_with_format(r, 7, &u.reconciliation_code, &text)?;
        ws.write_string(r, 8, if u.late { "Muộn" } else { "" })?;
        for (j, c) in u.counts.iter().enumerate() {
            ws.write_number(r, 9 + j as u16, *c as f64)?;
        }
    }
    if !rec.units.is_empty() {
        ws.autofilter(0, 0, rec.units.len() as u32, headers.len() as u16 - 1)?;
    }

    let ws = wb.add_worksheet().set_name("Chi tiết")?;
    let widths = [
        12.0, 6.0, 26.0, 12.0, 15.0, 12.0, 18.0, 16.0, 30.0, 28.0, 14.0, 28.0, 22.0, 20.0, 20.0,
        16.0, 24.0, 12.0, 7.0,
    ];
    write_headers(ws, &DETAIL_HEADERS, &widths)?;
    let date = |d: Option<chrono::NaiveDate>| {
        d.map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_default()
    };
    for (i, l) in rec.requests.iter().enumerate() {
        let r = i as u32 + 1;
        let v = &l.row;
        let cells: [&str; 19] = [
            &l.unit_code,
            &(i + 1).to_string(),
            &v.full_name,
            &date(v.birth_date),
            &v.id_number,
            &date(v.id_issue_date),
            &v.id_issue_place,
            &v.position,
            &v.unit_name,
            &v.email,
            &v.phone,
            v.request_type.label(),
            &v.cert_serial,
            &v.change_detail,
            &v.reason,
            &v.note,
            &v.source.file,
            &v.source.sheet,
            &v.source.row.to_string(),
        ];
        for (c, value) in cells.iter().enumerate() {
            // Strings are written as strings (never formulas), formatted as text so Excel keeps
            // leading zeros when someone edits them.
            ws.write_string_with_format(r, c as u16, *value, &text)?;
        }
    }
    if !rec.requests.is_empty() {
        ws.autofilter(
            0,
            0,
            rec.requests.len() as u32,
            DETAIL_HEADERS.len() as u16 - 1,
        )?;
    }

    wb.save(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
