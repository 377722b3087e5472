//! The lists in the certificate authority's own import formats (Ban Cơ yếu Chính phủ's VGCA),
//! written beside `doi-chieu.xlsx` so clerks forward them instead of retyping:
//!
//! - [`VGCA_FILE`]: the 19-column bulk template ("Template_import VGCA") for new certificates
//!   and re-issues; every cell text, dates dd/MM/yyyy, the issuing office as one of the CA's two
//!   codes, "Tổ chức cấp 1..3" from `[report.ca]` and the unit, device type TOKEN;
//! - [`SUMMARY_FILE`]: the 11-column summary of the same requests, UTF-8 CSV with a BOM (Excel
//!   opens it with its diacritics);
//! - [`MAILBOX_FILE`]: the 8-column list of official mailboxes to create.
//!
//! The other request types keep the per-type sheets of `doi-chieu.xlsx` until their official
//! forms are known.

use std::path::Path;

use anyhow::{Context, Result};
use rust_xlsxwriter::{Format, FormatBorder, Workbook};

use super::{Reconciliation, RequestLine, Window};
use crate::schema::{RequestType, ca_issue_place};
use crate::text::{EXCEL_CELL_CHARS, cut, date_dmy};

pub const VGCA_FILE: &str = "ca-cap-moi-cap-lai-cts.xlsx";
pub const SUMMARY_FILE: &str = "ca-tong-hop-cts.csv";
pub const MAILBOX_FILE: &str = "ca-hom-thu-cong-vu.xlsx";

/// The sheet name of the CA's bulk template.
pub const VGCA_SHEET: &str = "Template_import VGCA";

/// The CA's bulk template's headers, exactly as its file writes them ("CCCC" is its spelling).
pub const VGCA_HEADER: [&str; 19] = [
    "STT",
    "Họ tên (bắt buộc)",
    "Ngày sinh (bắt buộc, để dạng dd/MM/YYYY)",
    "CCCC (Căn cước công dân, bắt buộc)",
    "Nơi cấp (Nơi cấp CCCD; để một trong 2 nơi: CCSQLHCVTTXH hoặc CCSĐKQLCTVDLQGVDC)",
    "Ngày cấp (bắt buộc, để dạng dd/MM/YYYY)",
    "Địa chỉ thư điện tử công vụ (bắt buộc)",
    "Tổ chức cấp 1 (bắt buộc)",
    "Tổ chức cấp 2",
    "Tổ chức cấp 3",
    "Tổ chức cấp 4",
    "Tỉnh thành phố (Bắt buộc)",
    "Tỉnh/Thành phố",
    "Chức vụ (Bắt buộc)",
    "Điện thoại",
    "Serial CTS cũ",
    "Nhà mạng (bắt buộc nếu đăng ký SIM)",
    "Là chuyển số (đánh dấu X nếu muốn chuyển số đang dùng sang SIM ký số)",
    "Loại thiết bị(TOKEN, SIM, SOFT, RSSP, HSM)",
];

/// The 11-column summary list's headers.
pub const SUMMARY_HEADER: [&str; 11] = [
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Số CMND/ CCCD/Hộ chiếu;Ngày cấp; nơi cấp",
    "Địa chỉ thư điện tử công vụ",
    "Tên cơ quan-tổ chức công tác",
    "Tỉnh/Thành phố",
    "Chức vụ",
    "Số điện thoại di động",
    "Số hiệu chứng thư cũ (nếu có)",
    "SIM PKI",
];

/// The official-mailbox list's headers.
pub const MAILBOX_HEADER: [&str; 8] = [
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Di động",
    "Số CCCD",
    "Đơn vị công tác",
    "Chức vụ",
    "Ghi chú",
];

/// The device a certificate goes on when the list does not say.
pub const DEFAULT_DEVICE: &str = "TOKEN";

/// The current rows of these types, in unit order, each with its number among them (from 0).
fn each_of_types(
    rec: &Reconciliation,
    types: &[RequestType],
    f: &mut dyn FnMut(usize, &RequestLine) -> Result<()>,
) -> Result<()> {
    rec.each_request(types, Window::ALL, &mut |i, l| f(i, l))
}

const CERT_TYPES: [RequestType; 2] = [RequestType::NewCert, RequestType::Reissue];

/// The rows of one of the CA's lists, made one at a time, as often as asked.
pub trait CaRows<const N: usize> {
    fn each(&self, f: &mut dyn FnMut([String; N]) -> Result<()>) -> Result<()>;
}

/// The rows of the CA's bulk template (new certificates and re-issues), as text.
pub struct Vgca<'r>(pub &'r Reconciliation<'r>);

impl CaRows<19> for Vgca<'_> {
    fn each(&self, f: &mut dyn FnMut([String; 19]) -> Result<()>) -> Result<()> {
        let rec = self.0;
        let ca = &rec.settings.ca;
        let names = rec.unit_names();
        each_of_types(rec, &CERT_TYPES, &mut |i, l| {
            let r = &l.row;
            let place = ca_issue_place(&r.id_issue_place).map_or_else(
                // Not one of the two: kept as written (the school was warned) for the clerk.
                || r.id_issue_place.clone(),
                str::to_string,
            );
            f([
                (i + 1).to_string(),
                r.full_name.clone(),
                date_dmy(r.birth_date),
                r.id_number.clone(),
                place,
                date_dmy(r.id_issue_date),
                r.email.clone(),
                ca.organisation_1.clone(),
                ca.organisation_2.clone(),
                unit_name(&names, &l.unit_code),
                String::new(),
                ca.province.clone(),
                ca.province.clone(),
                r.position.clone(),
                r.phone.clone(),
                r.cert_serial.clone(),
                String::new(),
                String::new(),
                DEFAULT_DEVICE.to_string(),
            ])
        })
    }
}

fn unit_name(names: &std::collections::HashMap<&str, &str>, code: &str) -> String {
    names.get(code).copied().unwrap_or(code).to_string()
}

/// The rows of the summary list.
pub struct Summary<'r>(pub &'r Reconciliation<'r>);

impl CaRows<11> for Summary<'_> {
    fn each(&self, f: &mut dyn FnMut([String; 11]) -> Result<()>) -> Result<()> {
        let rec = self.0;
        let names = rec.unit_names();
        each_of_types(rec, &CERT_TYPES, &mut |i, l| {
            let r = &l.row;
            let id = [
                r.id_number.clone(),
                date_dmy(r.id_issue_date),
                r.id_issue_place.clone(),
            ]
            .join(";");
            f([
                (i + 1).to_string(),
                r.full_name.clone(),
                date_dmy(r.birth_date),
                id,
                r.email.clone(),
                unit_name(&names, &l.unit_code),
                rec.settings.ca.province.clone(),
                r.position.clone(),
                r.phone.clone(),
                r.cert_serial.clone(),
                String::new(),
            ])
        })
    }
}

/// The rows of the official-mailbox list.
pub struct Mailboxes<'r>(pub &'r Reconciliation<'r>);

impl CaRows<8> for Mailboxes<'_> {
    fn each(&self, f: &mut dyn FnMut([String; 8]) -> Result<()>) -> Result<()> {
        let rec = self.0;
        let names = rec.unit_names();
        each_of_types(rec, &[RequestType::NewMailbox], &mut |i, l| {
            let r = &l.row;
            f([
                (i + 1).to_string(),
                r.full_name.clone(),
                date_dmy(r.birth_date),
                r.phone.clone(),
                r.id_number.clone(),
                unit_name(&names, &l.unit_code),
                r.position.clone(),
                r.note.clone(),
            ])
        })
    }
}

/// A workbook of one sheet, every cell a string in the Text format (IDs and phones keep their
/// zeros, dates stay dd/MM/yyyy), the header bold and wrapped; the columns as wide as their
/// widest cell, measured in a first pass over the rows, written in a second (the sheet in
/// constant-memory mode, its rows in a temporary file in `tempdir`).
pub fn text_workbook<const N: usize>(
    sheet: &str,
    header: &[&str; N],
    rows: &dyn CaRows<N>,
    tempdir: &Path,
) -> Result<Workbook> {
    let mut widest = [0usize; N];
    rows.each(&mut |r| {
        for (w, v) in widest.iter_mut().zip(&r) {
            *w = (*w).max(v.chars().count());
        }
        Ok(())
    })?;
    let mut wb = Workbook::new();
    wb.set_tempdir(tempdir)?;
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name(sheet)?;
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_num_format("@")
        .set_border(FormatBorder::Thin);
    let text = Format::new()
        .set_num_format("@")
        .set_border(FormatBorder::Thin);
    for (c, w) in widest.iter().enumerate() {
        ws.set_column_width(c as u16, (w + 2).clamp(8, 40) as f64)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &head)?;
    }
    let mut i = 0;
    rows.each(&mut |row| {
        i += 1;
        for (c, v) in row.iter().enumerate() {
            // Never a formula: the CA's tool reads values, and a string cell is one.
            ws.write_string_with_format(i, c as u16, cut(v, EXCEL_CELL_CHARS), &text)?;
        }
        Ok(())
    })?;
    Ok(wb)
}

/// The summary as UTF-8 CSV with a byte-order mark (so Excel reads its diacritics), RFC 4180
/// quoting (the combined ID cell holds semicolons: it is quoted).
pub fn summary_csv(rec: &Reconciliation, mut out: &mut dyn std::io::Write) -> Result<()> {
    use crate::safe::{csv_field, write_csv_record};
    out.write_all(b"\xEF\xBB\xBF")?;
    write_csv_record(&mut out, SUMMARY_HEADER)?;
    Summary(rec).each(&mut |r| {
        write_csv_record(&mut out, r.iter().map(|f| csv_field(f)))?;
        Ok(())
    })
}

/// Writes the three files into `dir`.
pub fn write_all(rec: &Reconciliation, dir: &Path) -> Result<()> {
    let path = dir.join(VGCA_FILE);
    text_workbook(VGCA_SHEET, &VGCA_HEADER, &Vgca(rec), dir)
        .and_then(|mut wb| Ok(wb.save(&path)?))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join(SUMMARY_FILE);
    std::fs::File::create(&path)
        .map_err(anyhow::Error::from)
        .and_then(|f| {
            let mut out = std::io::BufWriter::new(f);
            summary_csv(rec, &mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join(MAILBOX_FILE);
    text_workbook("Danh sách", &MAILBOX_HEADER, &Mailboxes(rec), dir)
        .and_then(|mut wb| Ok(wb.save(&path)?))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
