//! The blank official request template (xlsx) the department sends to units: the list sheet with
//! the canonical columns (TEMPLATE.md "Canonical columns"), a drop-down of the seven request types,
//! and an instructions sheet in Vietnamese.
//!
//! Every department-specific text (issuer, title, mailbox, where the paper copy goes) comes from
//! [`TemplateText`], i.e. from the configuration.

use std::path::Path;

use anyhow::Context;
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, Format, FormatAlign, FormatBorder,
    FormatUnderline, Formula, Workbook, Worksheet,
};

use crate::schema::{Field, Need, RequestType};

/// Texts of the template that come from the configuration (never hard-coded department names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText {
    /// Lines of the title block's left part, e.g. ["UBND TỈNH NAM ĐỊNH", "SỞ GIÁO DỤC VÀ ĐÀO TẠO"].
    pub issuer_lines: Vec<String>,
    /// The list's title, e.g. "DANH SÁCH ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ DỊCH VỤ CHỨNG THƯ SỐ".
    pub title: String,
    /// The department's mailbox, e.g. "cttt@namdinh.edu.vn".
    pub department_address: String,
    /// Where and by when the signed paper copy goes, e.g. "Phòng 401, trước 23:59 ngày 17/12/2022".
    pub paper_copy: String,
}

impl TemplateText {
    /// The texts the configuration gives (the same for `cts-intake template` and the template
    /// attached to replies).
    pub fn from_config(config: &crate::config::Config) -> TemplateText {
        let c = &config.campaign;
        TemplateText {
            issuer_lines: c.issuer_lines.clone(),
            title: c.title.clone(),
            department_address: c.department_address.clone(),
            paper_copy: format!(
                "{}, trước {}",
                c.paper_room,
                c.deadline.format("%H:%M ngày %d/%m/%Y")
            ),
        }
    }
}

/// [`render`], remembered for the last texts: every "no list" reply attaches the same template.
pub fn render_cached(text: &TemplateText) -> anyhow::Result<Vec<u8>> {
    use std::sync::Mutex;
    static LAST: Mutex<Option<(TemplateText, Vec<u8>)>> = Mutex::new(None);
    if let Ok(last) = LAST.lock()
        && let Some((t, bytes)) = last.as_ref()
        && t == text
    {
        return Ok(bytes.clone());
    }
    let bytes = render(text)?;
    if let Ok(mut last) = LAST.lock() {
        *last = Some((text.clone(), bytes.clone()));
    }
    Ok(bytes)
}

pub use crate::schema::TEMPLATE_COLUMNS as COLUMNS;

/// The row (0-based) of the header in the list sheet, so tests and the reader agree.
///
/// Rows 0–2 hold the title block (issuer | national motto), row 4 the list's title, row 5 the
/// "Đơn vị: ......" line.
pub const HEADER_ROW: u32 = 7;

/// How many empty, bordered data rows follow the header: with the title and signature blocks they
/// print on one A4 landscape page (rows added below take the columns' number formats, without
/// borders).
pub const DATA_ROWS: u32 = 40;

/// The list sheet (first and active).
pub const LIST_SHEET: &str = "Danh sách";
/// The instructions sheet.
pub const GUIDE_SHEET: &str = "Hướng dẫn";
/// The hidden sheet holding the drop-down's choices, only written when the joined labels do not
/// fit Excel's 255-character inline list.
pub const CHOICES_SHEET: &str = "Danh mục";

/// Excel's limit for an inline data-validation list, commas included, in UTF-16 units.
const INLINE_LIST_LIMIT: usize = 255;

const FONT: &str = "Times New Roman";
const LAST_COL: u16 = COLUMNS.len() as u16 - 1;
/// The left part of the title block (issuer) and of the footer (preparer).
const LEFT_BLOCK: (u16, u16) = (0, 4);
/// The right part of the title block (motto) and of the footer (head of the unit).
const RIGHT_BLOCK: (u16, u16) = (9, LAST_COL);

/// Renders the template as xlsx bytes.
pub fn render(text: &TemplateText) -> anyhow::Result<Vec<u8>> {
    let mut workbook = build(text)?;
    workbook
        .save_to_buffer()
        .context("không tạo được tệp mẫu danh sách (xlsx)")
}

/// Writes the template to `path`.
pub fn write(text: &TemplateText, path: &Path) -> anyhow::Result<()> {
    let bytes = render(text)?;
    std::fs::write(path, bytes)
        .with_context(|| format!("không ghi được tệp mẫu {}", path.display()))
}

fn build(text: &TemplateText) -> anyhow::Result<Workbook> {
    let labels: Vec<&str> = RequestType::ALL.iter().map(|t| t.label()).collect();
    build_with(text, fits_inline(&labels))
}

/// Builds the workbook, the drop-down's choices inline or (`inline == false`) on the hidden
/// choices sheet.
fn build_with(text: &TemplateText, inline: bool) -> anyhow::Result<Workbook> {
    let styles = Styles::new();
    let mut workbook = Workbook::new();

    let labels: Vec<&str> = RequestType::ALL.iter().map(|t| t.label()).collect();
    let choices = if inline {
        Choices::Inline
    } else {
        Choices::Range(format!(
            "='{CHOICES_SHEET}'!$A$1:$A${}",
            RequestType::ALL.len()
        ))
    };

    let list = workbook.add_worksheet();
    list.set_name(LIST_SHEET)?;
    write_list_sheet(list, text, &styles, &labels, &choices)?;
    list.set_active(true);

    let guide = workbook.add_worksheet();
    guide.set_name(GUIDE_SHEET)?;
    write_guide_sheet(guide, text, &styles)?;

    if let Choices::Range(_) = choices {
        let sheet = workbook.add_worksheet();
        sheet.set_name(CHOICES_SHEET)?;
        for (row, label) in (0u32..).zip(&labels) {
            sheet.write_string(row, 0, *label)?;
        }
        sheet.set_column_width(0, 40)?;
        sheet.set_hidden(true);
    }

    Ok(workbook)
}

/// Where the drop-down takes its choices from.
enum Choices {
    /// An inline list `"a,b,c"` (fits Excel's 255-character limit).
    Inline,
    /// A reference to the choices sheet, e.g. `='Danh mục'!$A$1:$A$7`.
    Range(String),
}

/// Whether `labels`, joined with commas, fit Excel's inline list.
fn fits_inline(labels: &[&str]) -> bool {
    let units: usize = labels.iter().map(|l| l.encode_utf16().count()).sum();
    let commas = labels.len().saturating_sub(1);
    labels.iter().all(|l| !l.contains(',') && !l.contains('"'))
        && units + commas <= INLINE_LIST_LIMIT
}

/// The formats of both sheets, built once.
struct Styles {
    plain: Format,
    issuer: Format,
    issuer_bold: Format,
    motto_top: Format,
    motto: Format,
    italic_right: Format,
    title: Format,
    subtitle: Format,
    header: Format,
    cell: Format,
    cell_center: Format,
    cell_text: Format,
    cell_date: Format,
    sign_title: Format,
    sign_note: Format,
    /// The column defaults of text and date columns (for rows below the bordered ones).
    col_text: Format,
    col_date: Format,
    guide_title: Format,
    guide_section: Format,
    guide_head: Format,
    guide_cell: Format,
    guide_cell_bold: Format,
    guide_wrap: Format,
}

impl Styles {
    fn new() -> Styles {
        let base = Format::new()
            .set_font_name(FONT)
            .set_font_size(12)
            .set_align(FormatAlign::VerticalCenter);
        let centered = base.clone().set_align(FormatAlign::Center);
        let cell = base.clone().set_border(FormatBorder::Thin).set_text_wrap();
        let guide_cell = base
            .clone()
            .set_border(FormatBorder::Thin)
            .set_text_wrap()
            .set_align(FormatAlign::Top)
            .set_align(FormatAlign::Left);
        Styles {
            plain: base.clone(),
            issuer: centered.clone().set_text_wrap(),
            issuer_bold: base.clone().set_bold(),
            motto_top: centered.clone().set_bold(),
            motto: centered
                .clone()
                .set_bold()
                .set_font_size(13)
                .set_underline(FormatUnderline::Single),
            italic_right: centered.clone().set_italic(),
            title: centered
                .clone()
                .set_bold()
                .set_font_size(14)
                .set_text_wrap(),
            subtitle: centered.clone(),
            header: centered
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_border(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xDDEBF7)),
            cell_center: cell.clone().set_align(FormatAlign::Center),
            cell_text: cell.clone().set_num_format("@"),
            cell_date: cell
                .clone()
                .set_num_format("dd/mm/yyyy")
                .set_align(FormatAlign::Center),
            col_text: base.clone().set_num_format("@"),
            col_date: base
                .clone()
                .set_num_format("dd/mm/yyyy")
                .set_align(FormatAlign::Center),
            cell,
            sign_title: centered.clone().set_bold(),
            sign_note: centered.clone().set_italic(),
            guide_title: centered.clone().set_bold().set_font_size(14),
            guide_section: base.clone().set_bold().set_font_size(13),
            guide_head: centered
                .set_bold()
                .set_text_wrap()
                .set_border(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xDDEBF7)),
            guide_cell_bold: guide_cell.clone().set_bold(),
            guide_cell,
            guide_wrap: base
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_align(FormatAlign::Left),
        }
    }
}

/// The width (Excel character units) of a column of the list sheet.
fn column_width(field: Field) -> f64 {
    match field {
        Field::Seq => 5.0,
        Field::FullName => 24.0,
        Field::BirthDate | Field::IdIssueDate => 12.5,
        Field::IdNumber => 15.0,
        Field::IdIssuePlace => 18.0,
        Field::Position => 16.0,
        Field::UnitName => 26.0,
        Field::Email => 28.0,
        Field::Phone => 14.0,
        Field::RequestType => 32.0,
        Field::CertSerial => 24.0,
        Field::ChangeDetail => 24.0,
        Field::Reason => 20.0,
        _ => 14.0,
    }
}

/// The kind of data a column holds, which decides its cell format.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Digits or addresses Excel must keep as typed (leading zeros, no scientific notation).
    Text,
    Date,
    Seq,
    Free,
}

fn kind(field: Field) -> Kind {
    match field {
        Field::IdNumber | Field::Phone | Field::CertSerial | Field::Email => Kind::Text,
        Field::BirthDate | Field::IdIssueDate => Kind::Date,
        Field::Seq => Kind::Seq,
        _ => Kind::Free,
    }
}

/// The input message Excel shows when a cell of the column is selected (title ≤ 32, text ≤ 255
/// UTF-16 units), if any.
fn input_hint(field: Field) -> Option<(&'static str, &'static str)> {
    match field {
        Field::BirthDate | Field::IdIssueDate => Some((
            "Ngày/tháng/năm",
            "Nhập theo dạng dd/mm/yyyy, năm đủ 4 chữ số, ví dụ 05/09/1985.",
        )),
        Field::IdNumber => Some((
            "Số CCCD",
            "Nhập đủ 12 chữ số, giữ nguyên số 0 ở đầu; không có dấu cách, dấu chấm.",
        )),
        Field::Email => Some((
            "Email công vụ",
            "Email công vụ của ngành, mỗi ô một địa chỉ. Bỏ trống nếu đề nghị cấp mới hòm thư công vụ.",
        )),
        Field::Phone => Some(("Số điện thoại di động", "10 chữ số, bắt đầu bằng số 0.")),
        Field::CertSerial => Some((
            "Số hiệu chứng thư số",
            "Số hiệu (serial) gồm chữ số 0–9 và chữ cái A–F, nhập dạng văn bản.",
        )),
        _ => None,
    }
}

fn write_list_sheet(
    sheet: &mut Worksheet,
    text: &TemplateText,
    s: &Styles,
    labels: &[&str],
    choices: &Choices,
) -> anyhow::Result<()> {
    for (col, field) in (0u16..).zip(COLUMNS) {
        sheet.set_column_width(col, column_width(field))?;
    }

    // Title block: issuer on the left (rows 0–2), motto on the right.
    let (l0, l1) = LEFT_BLOCK;
    let (r0, r1) = RIGHT_BLOCK;
    sheet.merge_range(0, l0, 2, l1, "", &s.issuer)?;
    let lines: Vec<&str> = text
        .issuer_lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    match lines.split_last() {
        None => {}
        Some((last, [])) => {
            sheet.write_string_with_format(0, l0, *last, &s.issuer.clone().set_bold())?;
        }
        Some((last, upper)) => {
            let upper = format!("{}\n", upper.join("\n"));
            sheet.write_rich_string_with_format(
                0,
                l0,
                &[(&s.plain, upper.as_str()), (&s.issuer_bold, *last)],
                &s.issuer,
            )?;
        }
    }
    let block_height = (lines.len().max(3) as f64 * 16.0) / 3.0;
    for row in 0..3 {
        sheet.set_row_height(row, block_height.max(16.0))?;
    }
    sheet.merge_range(
        0,
        r0,
        0,
        r1,
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        &s.motto_top,
    )?;
    sheet.merge_range(1, r0, 1, r1, "Độc lập - Tự do - Hạnh phúc", &s.motto)?;

    // The list's title and the unit line.
    sheet.merge_range(4, 0, 4, LAST_COL, text.title.trim(), &s.title)?;
    sheet.set_row_height(4, 21)?;
    sheet.merge_range(
        5,
        0,
        5,
        LAST_COL,
        "Đơn vị: ..............................................................................",
        &s.subtitle,
    )?;

    // The header row.
    for (col, field) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(HEADER_ROW, col, field.header(), &s.header)?;
    }
    sheet.set_row_height(HEADER_ROW, 48)?;

    // Empty formatted data rows; the same formats as column defaults for rows added later.
    let first = HEADER_ROW + 1;
    let last = HEADER_ROW + DATA_ROWS;
    for (col, field) in (0u16..).zip(COLUMNS) {
        let format = match kind(field) {
            Kind::Text => &s.cell_text,
            Kind::Date => &s.cell_date,
            Kind::Seq => &s.cell_center,
            Kind::Free => &s.cell,
        };
        // A column's default format reaches every row without a cell of its own, the title and
        // signature blocks too: the number format only, no border.
        match kind(field) {
            Kind::Text => {
                sheet.set_column_format(col, &s.col_text)?;
            }
            Kind::Date => {
                sheet.set_column_format(col, &s.col_date)?;
            }
            Kind::Seq | Kind::Free => {}
        }
        for row in first..=last {
            sheet.write_blank(row, col, format)?;
        }
        if let Some((title, message)) = input_hint(field) {
            let hint = DataValidation::new()
                .allow_any_value()
                .set_input_title(title)?
                .set_input_message(message)?;
            sheet.add_data_validation(first, col, last, col, &hint)?;
        }
    }

    // The drop-down of the seven request types.
    let type_col = column_of(Field::RequestType);
    let dropdown = match choices {
        Choices::Inline => DataValidation::new().allow_list_strings(labels)?,
        Choices::Range(range) => DataValidation::new().allow_list_formula(Formula::new(range)),
    };
    let dropdown = dropdown
        .set_input_title("Nội dung đề nghị")?
        .set_input_message("Chọn một trong bảy nội dung trong danh sách thả xuống.")?
        .set_error_title("Nội dung đề nghị không rõ")?
        .set_error_message(
            "Nên chọn một nội dung trong danh sách thả xuống (xem trang “Hướng dẫn”).",
        )?
        .set_error_style(DataValidationErrorStyle::Warning);
    sheet.add_data_validation(first, type_col, last, type_col, &dropdown)?;

    // Footer: date line, preparer and head of the unit.
    let date_row = last + 2;
    sheet.merge_range(
        date_row,
        r0,
        date_row,
        r1,
        "................, ngày ...... tháng ...... năm ..........",
        &s.italic_right,
    )?;
    let sign_row = date_row + 1;
    sheet.merge_range(sign_row, l0, sign_row, l1, "Người lập biểu", &s.sign_title)?;
    sheet.merge_range(
        sign_row,
        r0,
        sign_row,
        r1,
        "THỦ TRƯỞNG ĐƠN VỊ",
        &s.sign_title,
    )?;
    sheet.merge_range(
        sign_row + 1,
        l0,
        sign_row + 1,
        l1,
        "(Ký, ghi rõ họ tên)",
        &s.sign_note,
    )?;
    sheet.merge_range(
        sign_row + 1,
        r0,
        sign_row + 1,
        r1,
        "(Ký, đóng dấu)",
        &s.sign_note,
    )?;
    // Room for the signatures.
    let print_last = sign_row + 6;

    // Screen and print setup.
    sheet.set_freeze_panes(HEADER_ROW + 1, 2)?;
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_print_center_horizontally(true);
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    sheet.set_print_area(0, 0, print_last, LAST_COL)?;
    sheet.set_footer("&CTrang &P/&N");
    Ok(())
}

fn column_of(field: Field) -> u16 {
    (0u16..)
        .zip(COLUMNS)
        .find(|(_, f)| *f == field)
        .map(|(c, _)| c)
        .unwrap_or(0)
}

/// When a unit chooses a request type (TEMPLATE.md "when"), in Vietnamese.
fn when(t: RequestType) -> String {
    match t {
        RequestType::NewMailbox => {
            "Cán bộ, giáo viên, nhân viên chưa có hòm thư công vụ.".to_string()
        }
        RequestType::NewCert => "Cán bộ quản lý chưa từng được cấp chứng thư số.".to_string(),
        RequestType::Reissue => {
            "Chứng thư số (thiết bị lưu khoá bí mật, USB token) bị mất hoặc bị hỏng.".to_string()
        }
        RequestType::KeyRecovery => {
            "Quên mã PIN (mật khẩu) của thiết bị lưu khoá bí mật, hoặc thiết bị bị lỗi, bị khoá."
                .to_string()
        }
        RequestType::Revoke => format!(
            "Người được cấp nghỉ hưu, nghỉ việc, chuyển công tác sang khối Đảng, thay đổi chức \
             vụ, hoặc khoá bí mật bị lộ. Không chọn cùng lúc với “{}”, “{}” hoặc “{}” cho cùng \
             một người.",
            RequestType::Renew.label(),
            RequestType::Change.label(),
            RequestType::KeyRecovery.label()
        ),
        RequestType::Renew => "Chứng thư số sắp hết hạn sử dụng.".to_string(),
        RequestType::Change => format!(
            "Chuyển đơn vị công tác hoặc thay đổi địa chỉ email công vụ. Người thay đổi chức vụ \
             thì chọn “{}”.",
            RequestType::Revoke.label()
        ),
    }
}

/// The headers of the list's columns (STT and Ghi chú aside) whose requirement for `t` is `need`.
fn fields_with(t: RequestType, need: Need) -> String {
    let names: Vec<&str> = COLUMNS
        .into_iter()
        .filter(|f| !matches!(f, Field::Seq | Field::Note | Field::RequestType))
        .filter(|f| t.requirement(*f) == need)
        .map(Field::header)
        .collect();
    if names.is_empty() {
        "—".to_string()
    } else {
        names.join(", ")
    }
}

/// How to fill a column of the list, in Vietnamese.
fn how_to_fill(field: Field) -> String {
    match field {
        Field::Seq => "Số thứ tự: 1, 2, 3, …".to_string(),
        Field::FullName => "Họ và tên đầy đủ, viết tiếng Việt có dấu, đúng như trên thẻ căn cước \
                            (ví dụ: Nguyễn Thị Hoà). Không ghi danh xưng (thầy, cô, ông, bà…)."
            .to_string(),
        Field::BirthDate => "Ngày sinh theo dạng dd/mm/yyyy (ngày/tháng/năm), năm ghi đủ 4 chữ \
                             số (ví dụ: 05/09/1985)."
            .to_string(),
        Field::IdNumber => "Số căn cước công dân (CCCD) gồm đủ 12 chữ số, giữ nguyên các số 0 ở \
                            đầu; không có dấu cách, dấu chấm. Cột đã được định dạng văn bản để \
                            Excel không làm mất số 0."
            .to_string(),
        Field::IdIssueDate => "Ngày cấp thẻ CCCD, dạng dd/mm/yyyy.".to_string(),
        Field::IdIssuePlace => "Nơi cấp thẻ CCCD, ghi như trên thẻ (ví dụ: Cục Cảnh sát quản lý \
                                hành chính về trật tự xã hội)."
            .to_string(),
        Field::Position => "Chức vụ hiện tại (ví dụ: Hiệu trưởng, Phó Hiệu trưởng, Giám đốc, \
                            Trưởng phòng, Kế toán, Giáo viên)."
            .to_string(),
        Field::UnitName => "Tên đầy đủ của đơn vị đang công tác.".to_string(),
        Field::Email => format!(
            "Địa chỉ email công vụ của ngành đang sử dụng (không dùng Gmail, Yahoo…), mỗi ô một \
             địa chỉ. Bỏ trống khi đề nghị “{}”.",
            RequestType::NewMailbox.label()
        ),
        Field::Phone => "Số điện thoại di động gồm 10 chữ số, bắt đầu bằng số 0.".to_string(),
        Field::RequestType => "Chọn một trong bảy nội dung ở danh sách thả xuống (xem mục 1). \
                               Mỗi dòng ghi một nội dung; người có hai đề nghị thì ghi hai dòng."
            .to_string(),
        Field::CertSerial => "Số hiệu (serial) của chứng thư số đang dùng, gồm các chữ số 0–9 và \
                              chữ cái A–F (xem trong phần mềm quản lý thiết bị ký số). Cột đã \
                              được định dạng văn bản; không để Excel đổi thành số."
            .to_string(),
        Field::ChangeDetail => "Ghi rõ thông tin cũ và thông tin mới (ví dụ: chuyển từ đơn vị A \
                                sang đơn vị B; đổi email công vụ từ địa chỉ cũ sang địa chỉ mới)."
            .to_string(),
        Field::Reason => "Nêu rõ lý do (ví dụ: mất thiết bị, quên mã PIN, nghỉ hưu, chuyển \
                          công tác)."
            .to_string(),
        Field::Note => "Thông tin khác cần lưu ý (nếu có).".to_string(),
        _ => String::new(),
    }
}

/// Widths of the instructions sheet's columns.
const GUIDE_WIDTHS: [f64; 5] = [34.0, 48.0, 40.0, 40.0, 26.0];

/// An estimated row height (points) for wrapped text in cells of the given widths: Excel does
/// not grow rows for wrapped text by itself in every viewer.
fn wrapped_height(cells: &[(&str, f64)]) -> f64 {
    let lines = cells
        .iter()
        .map(|(text, width)| {
            let per_line = (width - 2.0).max(4.0);
            text.split('\n')
                .map(|part| {
                    let n = part.chars().count() as f64;
                    (n / per_line).ceil().max(1.0)
                })
                .sum::<f64>()
        })
        .fold(1.0, f64::max);
    lines * 16.0 + 4.0
}

fn write_guide_sheet(sheet: &mut Worksheet, text: &TemplateText, s: &Styles) -> anyhow::Result<()> {
    for (col, width) in (0u16..).zip(GUIDE_WIDTHS) {
        sheet.set_column_width(col, width)?;
    }
    let wide = GUIDE_WIDTHS[1..].iter().sum::<f64>();
    let last_col = GUIDE_WIDTHS.len() as u16 - 1;

    sheet.merge_range(
        0,
        0,
        0,
        last_col,
        "HƯỚNG DẪN LẬP DANH SÁCH ĐỀ NGHỊ",
        &s.guide_title,
    )?;
    sheet.set_row_height(0, 21)?;
    let title = format!("(Kèm theo mẫu “{}”)", text.title.trim());
    sheet.merge_range(1, 0, 1, last_col, &title, &s.italic_right)?;
    sheet.set_row_height(1, wrapped_height(&[(&title, wide + GUIDE_WIDTHS[0])]))?;

    // 1. The request types.
    let mut row = 3;
    sheet.write_string_with_format(row, 0, "1. Chọn nội dung đề nghị", &s.guide_section)?;
    row += 1;
    let heads = [
        "Nội dung đề nghị",
        "Khi nào chọn",
        "Thông tin bắt buộc",
        "Thông tin không bắt buộc",
        "Không cần ghi",
    ];
    for (col, head) in (0u16..).zip(heads) {
        sheet.write_string_with_format(row, col, head, &s.guide_head)?;
    }
    sheet.set_row_height(row, 32)?;
    row += 1;
    for t in RequestType::ALL {
        let cells = [
            t.label().to_string(),
            when(t),
            fields_with(t, Need::Required),
            fields_with(t, Need::Optional),
            fields_with(t, Need::Ignored),
        ];
        for (col, cell) in (0u16..).zip(&cells) {
            let format = if col == 0 {
                &s.guide_cell_bold
            } else {
                &s.guide_cell
            };
            sheet.write_string_with_format(row, col, cell, format)?;
        }
        let sized: Vec<(&str, f64)> = cells.iter().map(String::as_str).zip(GUIDE_WIDTHS).collect();
        sheet.set_row_height(row, wrapped_height(&sized))?;
        row += 1;
    }

    // 2. How to fill each column.
    row += 1;
    sheet.write_string_with_format(row, 0, "2. Cách ghi thông tin", &s.guide_section)?;
    row += 1;
    sheet.write_string_with_format(row, 0, "Cột", &s.guide_head)?;
    sheet.merge_range(row, 1, row, last_col, "Cách ghi", &s.guide_head)?;
    row += 1;
    for field in COLUMNS {
        let how = how_to_fill(field);
        sheet.write_string_with_format(row, 0, field.header(), &s.guide_cell_bold)?;
        sheet.merge_range(row, 1, row, last_col, &how, &s.guide_cell)?;
        sheet.set_row_height(row, wrapped_height(&[(&how, wide)]))?;
        row += 1;
    }

    // General rules.
    row += 1;
    sheet.write_string_with_format(row, 0, "3. Lưu ý chung", &s.guide_section)?;
    row += 1;
    let rules = [
        "Không sửa, không xoá, không đổi thứ tự tên cột ở dòng tiêu đề; không gộp ô trong bảng. \
         Có thể chèn thêm dòng nếu cần."
            .to_string(),
        "Mỗi người ghi trên một dòng cho mỗi nội dung đề nghị; không ghi trùng một người với \
         cùng một nội dung."
            .to_string(),
        format!(
            "Không đề nghị cùng lúc “{}” với “{}”, “{}” hoặc “{}” cho cùng một người.",
            RequestType::Revoke.label(),
            RequestType::Renew.label(),
            RequestType::Change.label(),
            RequestType::KeyRecovery.label()
        ),
        format!(
            "Người thay đổi chức vụ: chọn “{}”. Chỉ chọn “{}” khi chuyển đơn vị công tác hoặc \
             đổi địa chỉ email công vụ.",
            RequestType::Revoke.label(),
            RequestType::Change.label()
        ),
        "Ngày tháng ghi theo dạng dd/mm/yyyy; số CCCD, số điện thoại, số hiệu chứng thư số ghi \
         dạng văn bản để giữ nguyên các chữ số."
            .to_string(),
    ];
    row = write_bullets(sheet, row, &rules, s, wide)?;

    // How to send.
    row += 1;
    sheet.write_string_with_format(row, 0, "4. Cách gửi danh sách", &s.guide_section)?;
    row += 1;
    let send = [
        format!(
            "Gửi tệp Excel này (giữ định dạng .xlsx, không chuyển sang PDF hay ảnh chụp) qua thư \
             điện tử đến địa chỉ: {}. Hệ thống tự động kiểm tra và gửi thư trả lời kết quả.",
            text.department_address.trim()
        ),
        "Nếu cần sửa, gửi lại toàn bộ danh sách đã sửa: danh sách gửi sau thay thế danh sách \
         gửi trước. Nếu chỉ gửi thêm người, ghi chữ “bổ sung” trong tiêu đề thư hoặc tên tệp."
            .to_string(),
        format!(
            "Bản giấy có chữ ký của thủ trưởng và đóng dấu của đơn vị gửi về: {}.",
            text.paper_copy.trim().trim_end_matches('.')
        ),
    ];
    write_bullets(sheet, row, &send, s, wide)?;

    sheet.set_portrait();
    sheet.set_paper_size(9); // A4
    sheet.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// Writes one rule per row (a dash in column A, the text across the others); returns the next
/// free row.
fn write_bullets(
    sheet: &mut Worksheet,
    mut row: u32,
    lines: &[String],
    s: &Styles,
    wide: f64,
) -> anyhow::Result<u32> {
    let last_col = GUIDE_WIDTHS.len() as u16 - 1;
    for line in lines {
        sheet.write_string_with_format(
            row,
            0,
            "–",
            &s.guide_wrap.clone().set_align(FormatAlign::Right),
        )?;
        sheet.merge_range(row, 1, row, last_col, line, &s.guide_wrap)?;
        sheet.set_row_height(row, wrapped_height(&[(line, wide)]))?;
        row += 1;
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
    use std::io::Cursor;

    fn sample() -> TemplateText {
        TemplateText {
            issuer_lines: vec![
                "UBND TỈNH NAM ĐỊNH".to_string(),
                "SỞ GIÁO DỤC VÀ ĐÀO TẠO".to_string(),
            ],
            title: "DANH SÁCH ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ DỊCH VỤ CHỨNG THƯ SỐ".to_string(),
            department_address: "cttt@namdinh.edu.vn".to_string(),
            paper_copy: "Phòng 401, trước 23:59 ngày 17/12/2022".to_string(),
        }
    }

    fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(bytes)).expect("xlsx reads back")
    }

    fn cell_text(range: &Range<Data>, row: u32, col: u32) -> String {
        match range.get_value((row, col)) {
            Some(Data::String(s)) => s.clone(),
            Some(Data::Empty) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    fn all_text(range: &Range<Data>) -> Vec<String> {
        range
            .cells()
            .filter_map(|(_, _, d)| match d {
                Data::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sheets_are_the_list_then_the_instructions() {
        let wb = open(render(&sample()).unwrap());
        assert_eq!(wb.sheet_names(), vec![LIST_SHEET, GUIDE_SHEET]);
    }

    #[test]
    fn header_row_holds_the_canonical_headers() {
        let mut wb = open(render(&sample()).unwrap());
        let range = wb.worksheet_range(LIST_SHEET).unwrap();
        let headers: Vec<String> = (0..COLUMNS.len() as u32)
            .map(|c| cell_text(&range, HEADER_ROW, c))
            .collect();
        let expected: Vec<&str> = COLUMNS.iter().map(|f| f.header()).collect();
        assert_eq!(headers, expected);
        for (header, field) in headers.iter().zip(COLUMNS) {
            assert_eq!(Field::from_header(header), Some(field), "{header}");
        }
        // Nothing to the right of the table on the header row.
        assert_eq!(cell_text(&range, HEADER_ROW, COLUMNS.len() as u32), "");
    }

    #[test]
    fn the_header_row_is_the_row_with_the_most_recognised_headers() {
        let mut wb = open(render(&sample()).unwrap());
        let range = wb.worksheet_range(LIST_SHEET).unwrap();
        let count = |row: u32| {
            (0..COLUMNS.len() as u32)
                .filter(|c| Field::from_header(&cell_text(&range, row, *c)).is_some())
                .count()
        };
        for row in 0..25 {
            if row != HEADER_ROW {
                assert!(count(row) <= 1, "row {row} looks like a header");
            }
        }
        assert_eq!(count(HEADER_ROW), COLUMNS.len());
    }

    #[test]
    fn title_block_footer_and_empty_data_rows() {
        let text = sample();
        let mut wb = open(render(&text).unwrap());
        let range = wb.worksheet_range(LIST_SHEET).unwrap();
        let texts = all_text(&range);
        for wanted in [
            text.title.as_str(),
            "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Người lập biểu",
            "THỦ TRƯỞNG ĐƠN VỊ",
            "(Ký, đóng dấu)",
        ] {
            assert!(texts.iter().any(|t| t == wanted), "missing {wanted}");
        }
        let issuer = cell_text(&range, 0, 0);
        for line in &text.issuer_lines {
            assert!(issuer.contains(line.as_str()), "issuer {issuer:?}");
        }
        assert!(texts.iter().any(|t| t.starts_with("Đơn vị: ...")));
        for row in HEADER_ROW + 1..=HEADER_ROW + DATA_ROWS {
            for col in 0..COLUMNS.len() as u32 {
                assert_eq!(cell_text(&range, row, col), "", "cell ({row}, {col})");
            }
        }
        let footer_row = (0..range.end().unwrap().0 + 1)
            .find(|r| cell_text(&range, *r, 0) == "Người lập biểu")
            .unwrap();
        assert!(footer_row > HEADER_ROW + DATA_ROWS);
    }

    #[test]
    fn instructions_mention_every_type_the_mailbox_and_the_paper_copy() {
        let text = sample();
        let mut wb = open(render(&text).unwrap());
        let range = wb.worksheet_range(GUIDE_SHEET).unwrap();
        let texts = all_text(&range);
        for t in RequestType::ALL {
            assert!(
                texts.iter().any(|c| c == t.label()),
                "missing {}",
                t.label()
            );
        }
        let joined = texts.join("\n");
        assert!(joined.contains(&text.department_address));
        assert!(joined.contains(&text.paper_copy));
        assert!(joined.contains("12 chữ số"));
        assert!(joined.contains("dd/mm/yyyy"));
        // A single canonical header per row at most, so a reader never takes this sheet for
        // the list.
        let (rows, cols) = range.get_size();
        for row in 0..rows as u32 {
            let n = (0..cols as u32)
                .filter(|c| Field::from_header(&cell_text(&range, row, *c)).is_some())
                .count();
            assert!(n <= 1, "row {row}");
        }
    }

    #[test]
    fn required_fields_are_listed_per_type() {
        assert_eq!(
            fields_with(RequestType::Change, Need::Required),
            "Họ và tên, Số CCCD, Đơn vị công tác, Email công vụ, Số hiệu chứng thư số, \
             Nội dung thay đổi"
        );
        assert!(fields_with(RequestType::NewMailbox, Need::Ignored).contains("Email công vụ"));
    }

    #[test]
    fn the_drop_down_list_fits_inline_or_goes_to_a_choices_sheet() {
        let labels: Vec<&str> = RequestType::ALL.iter().map(|t| t.label()).collect();
        // The seven labels fit today; if they ever grow past Excel's limit the workbook gets a
        // hidden "Danh mục" sheet instead, and still renders.
        assert!(fits_inline(&labels));
        assert!(!fits_inline(&[&"x".repeat(200), &"y".repeat(60)]));
        assert!(DataValidation::new().allow_list_strings(&labels).is_ok());
    }

    #[test]
    fn write_saves_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mau.xlsx");
        write(&sample(), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"PK"));
        assert_eq!(open(bytes).sheet_names().len(), 2);
    }

    #[test]
    fn the_choices_sheet_variant_renders_and_reads_back() {
        let bytes = build_with(&sample(), false)
            .unwrap()
            .save_to_buffer()
            .unwrap();
        let mut wb = open(bytes);
        assert_eq!(
            wb.sheet_names(),
            vec![LIST_SHEET, GUIDE_SHEET, CHOICES_SHEET]
        );
        let range = wb.worksheet_range(CHOICES_SHEET).unwrap();
        let labels: Vec<String> = (0..RequestType::ALL.len() as u32)
            .map(|r| cell_text(&range, r, 0))
            .collect();
        let expected: Vec<&str> = RequestType::ALL.iter().map(|t| t.label()).collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn other_issuer_blocks_render() {
        for lines in [vec![], vec!["SỞ GIÁO DỤC VÀ ĐÀO TẠO".to_string()]] {
            let text = TemplateText {
                issuer_lines: lines,
                ..sample()
            };
            assert!(render(&text).is_ok());
        }
    }
}
