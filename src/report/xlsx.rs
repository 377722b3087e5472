//! The staff workbook `doi-chieu.xlsx`: first "Tổng quan" (when it was made, the overview
//! counts), then the sheets of [`super::layout`], each printable on A4 landscape at reading size
//! (11 pt type printed at no less than [`MIN_SCALE`] %, so never under 9 pt): column widths that
//! fit the content within what a page holds at that scale, long text wrapped, every row as tall
//! as its wrapped text, the header row repeated on every page, the sheet's title in the page
//! header and "Trang x/y" in the footer; a frozen header row and filters on screen.
//!
//! Every text cell is written as a string with the Text number format, so IDs, phones and codes
//! keep their leading zeros; text that looks like a formula also gets the quote prefix (see
//! [`crate::safe`]).

use std::path::Path;

use anyhow::{Context, Result};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet};

use super::Reconciliation;
use super::layout::{self, Cell, Table};
use crate::safe;
use crate::text::{EXCEL_CELL_CHARS, cut};

/// Widths, in characters, a column is kept within.
const MIN_WIDTH: usize = 6;
const MAX_WIDTH: usize = 45;

/// The smallest print scale (%): 11 pt type printed at 85 % is 9.35 pt.
pub const MIN_SCALE: u16 = 85;

/// What an A4 landscape page holds across, in pixels of Excel's column-width unit (96 dpi):
/// 297 mm less the 0.4-inch side margins is 10.89 inches; 90 % of it, for the rounding of
/// widths by the program that prints (LibreOffice prints Calibri as the metric-compatible
/// Carlito).
const PAGE_PX: f64 = 10.89 * 96.0 * 0.90;

/// Points per line of 11 pt text in a row (Excel's default row is 15 pt).
const LINE_PT: f64 = 15.0;

/// Characters of running text a column width unit holds: the unit is the width of a digit
/// (7 px in Calibri 11), Vietnamese text averages about 6 px a character. Counted a digit a
/// character, rows came out twice as tall as their text and a printed page held five.
const TEXT_CHARS_PER_WIDTH: f64 = 1.15;

/// The tallest row Excel takes, in lines.
const MAX_LINES: usize = 27;

/// The pixels a column `w` characters wide takes (Calibri 11: 7 px a character, 5 px padding).
fn px(w: f64) -> f64 {
    w * 7.0 + 5.0
}

/// The narrowest a column is squeezed to get the sheet across one page: narrower, a unit's name
/// wraps on six lines and a printed page holds five rows. A sheet that needs more prints over
/// two or more pages across instead, at [`SPLIT_WIDTH`].
const MIN_FIT_WIDTH: f64 = 13.0;

/// The widest a column is kept on a sheet printed over pages across.
const SPLIT_WIDTH: f64 = 26.0;

/// How a sheet prints.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fit {
    /// Print scale, %.
    scale: u16,
    /// Over several pages across (its key columns repeated on each).
    across: bool,
}

/// Column widths that fit a page at [`MIN_SCALE`] (the widest columns are narrowed first, their
/// text wraps; none below [`MIN_FIT_WIDTH`] for that), and the print scale: 100 % when they fit
/// as they are, less down to [`MIN_SCALE`] otherwise. A fixed scale, not "fit to width": a
/// program printing with wider fonts than Calibri would shrink a fitted sheet under 9 pt. When
/// the columns would have to be narrower than that, the sheet prints at [`MIN_SCALE`] over pages
/// across, each column at most [`SPLIT_WIDTH`].
fn fit(widths: &mut [f64]) -> Fit {
    let total = |w: &[f64]| w.iter().map(|w| px(*w)).sum::<f64>();
    let scale = |w: &[f64]| ((PAGE_PX * 100.0 / total(w)).floor() as u16).clamp(MIN_SCALE, 100);
    let budget = PAGE_PX * 100.0 / f64::from(MIN_SCALE);
    let floor = MIN_WIDTH as f64;
    let capped = |cap: f64| -> Vec<f64> { widths.iter().map(|w| w.min(cap).max(floor)).collect() };
    let one_page = |scale| Fit {
        scale,
        across: false,
    };
    if total(widths) <= budget {
        return one_page(scale(widths));
    }
    if total(&capped(MIN_FIT_WIDTH)) > budget {
        let split = capped(SPLIT_WIDTH);
        widths.copy_from_slice(&split);
        return Fit {
            scale: MIN_SCALE,
            across: true,
        };
    }
    // The largest cap that fits, to a tenth of a character.
    let (mut lo, mut hi) = (MIN_FIT_WIDTH, MAX_WIDTH as f64);
    while hi - lo > 0.1 {
        let mid = (lo + hi) / 2.0;
        if total(&capped(mid)) <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let fitted = capped(lo);
    widths.copy_from_slice(&fitted);
    one_page(scale(widths))
}

/// The columns repeated on each page of a sheet printed over pages across: up to the first
/// that names a person or a unit ("Họ và tên", "Tên đơn vị"), among its first four.
fn key_columns(headers: &[String]) -> Option<u16> {
    headers
        .iter()
        .take(4)
        .position(|h| h.to_lowercase().contains("tên"))
        .map(|c| c as u16)
}

/// The lines `text` takes wrapped at `width` characters (words kept whole where they fit).
pub fn wrapped_lines(text: &str, width: f64) -> usize {
    let width = (width - 1.0).max(1.0) as usize;
    text.split('\n')
        .map(|para| {
            let mut lines = 1;
            let mut used = 0;
            for word in para.split_whitespace() {
                let n = word.chars().count();
                if used > 0 && used + 1 + n > width {
                    lines += 1;
                    used = 0;
                }
                if used > 0 {
                    used += 1;
                }
                used += n;
                while used > width {
                    lines += 1;
                    used -= width;
                }
            }
            lines
        })
        .sum()
}

/// The height of a row whose cells hold `texts` in columns of `widths`; `None` for one line.
fn row_height<'a>(texts: impl Iterator<Item = (&'a str, f64)>) -> Option<f64> {
    let lines = texts
        .map(|(t, w)| wrapped_lines(t, w * TEXT_CHARS_PER_WIDTH))
        .max()
        .unwrap_or(1)
        .min(MAX_LINES);
    (lines > 1).then_some(lines as f64 * LINE_PT + 2.0)
}

struct Formats {
    header: Format,
    text: Format,
    risky: Format,
    number: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::Top);
        Formats {
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_border(FormatBorder::Thin)
                .set_background_color("#DDEBF7"),
            text: cell.clone().set_num_format("@").set_text_wrap(),
            risky: cell
                .clone()
                .set_num_format("@")
                .set_text_wrap()
                .set_quote_prefix(),
            number: cell,
        }
    }
}

/// The width a column needs: its longest cell, and its header wrapped on two or three lines.
fn widths(t: &Table) -> Vec<f64> {
    t.headers
        .iter()
        .enumerate()
        .map(|(c, h)| {
            let longest_word = h.split_whitespace().map(|w| w.chars().count()).max();
            let header = longest_word.unwrap_or(0).max(h.chars().count().div_ceil(2));
            let cells = t
                .rows
                .iter()
                .map(|r| match r.get(c) {
                    Some(Cell::Text(s)) => s.chars().count(),
                    Some(Cell::Number(n)) => format!("{n}").len(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            (header.max(cells) + 2).clamp(MIN_WIDTH, MAX_WIDTH) as f64
        })
        .collect()
}

/// `&` is a control character in Excel's page header and footer.
fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

fn write_table(ws: &mut Worksheet, t: &Table, f: &Formats, department: &str) -> Result<()> {
    ws.set_name(&t.name)?;
    let mut widths = widths(t);
    let Fit { scale, across } = fit(&mut widths);
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &f.header)?;
    }
    for (c, width) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *width)?;
    }
    // Rows as tall as their wrapped text: the header never covers the first row, a long
    // "Cần xử lý" detail is never cut.
    if let Some(h) = row_height(
        t.headers
            .iter()
            .map(String::as_str)
            .zip(widths.iter().copied()),
    ) {
        ws.set_row_height(0, h)?;
    }
    for (i, row) in t.rows.iter().enumerate() {
        let r = i as u32 + 1;
        let texts = row
            .iter()
            .zip(widths.iter().copied())
            .filter_map(|(c, w)| match c {
                Cell::Text(s) => Some((s.as_str(), w)),
                _ => None,
            });
        if let Some(h) = row_height(texts) {
            ws.set_row_height(r, h)?;
        }
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => {
                    ws.write_blank(r, c, &f.text)?;
                }
                Cell::Number(n) => {
                    ws.write_number_with_format(r, c, *n, &f.number)?;
                }
                // A string cell, never a formula.
                Cell::Text(s) if safe::is_risky(s) => {
                    ws.write_string_with_format(r, c, cut(s, EXCEL_CELL_CHARS), &f.risky)?;
                }
                Cell::Text(s) => {
                    ws.write_string_with_format(r, c, cut(s, EXCEL_CELL_CHARS), &f.text)?;
                }
            }
        }
    }
    let last_col = t.headers.len().max(1) as u16 - 1;
    ws.autofilter(0, 0, t.rows.len() as u32, last_col)?;
    ws.set_freeze_panes(1, 0)?;
    page_setup(ws, &t.title, department, scale)?;
    ws.set_repeat_rows(0, 0)?;
    if across {
        // A person's row on one page, then the rest of it on the next ("over, then down").
        ws.set_page_order(false);
        if let Some(last) = key_columns(&t.headers) {
            ws.set_repeat_columns(0, last)?;
        }
    }
    Ok(())
}

/// A4 landscape at `scale` %.
fn page_setup(ws: &mut Worksheet, title: &str, department: &str, scale: u16) -> Result<()> {
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    ws.set_print_scale(scale);
    ws.set_header(format!("&C&\"-,Bold\"{}", header_text(title)));
    let footer = if department.is_empty() {
        "&RTrang &P/&N".to_string()
    } else {
        format!("&L{}&RTrang &P/&N", header_text(department))
    };
    ws.set_footer(footer);
    Ok(())
}

/// "Tổng quan": the department, the title, when the workbook was made ("Lập lúc …") and the
/// deadline, then the overview counts ([`layout::overview`]), as the HTML page opens.
fn write_overview(ws: &mut Worksheet, rec: &Reconciliation, f: &Formats) -> Result<()> {
    ws.set_name(crate::wording::SHEET_OVERVIEW)?;
    let title = super::html::title(rec);
    let bold = Format::new().set_bold().set_font_size(12);
    let mut r = 0;
    if !rec.settings.department.is_empty() {
        ws.write_string(r, 0, &rec.settings.department)?;
        r += 1;
    }
    ws.write_string_with_format(r, 0, "BẢNG ĐỐI CHIẾU", &bold)?;
    ws.write_string_with_format(r + 1, 0, &title, &bold)?;
    ws.write_string(r + 2, 0, super::html::made_at(rec))?;
    r += 3;
    ws.write_string_with_format(r, 0, "Chỉ tiêu", &f.header)?;
    ws.write_string_with_format(r, 1, "Số lượng", &f.header)?;
    for (i, (label, n)) in layout::overview(rec).into_iter().enumerate() {
        let row = r + 1 + i as u32;
        ws.write_string_with_format(row, 0, &label, &f.text)?;
        ws.write_number_with_format(row, 1, n as f64, &f.number)?;
    }
    // The title and "Lập lúc" run over column B: both columns hold them.
    ws.set_column_width(0, 70)?;
    ws.set_column_width(1, 12)?;
    page_setup(
        ws,
        crate::wording::SHEET_OVERVIEW,
        &rec.settings.department,
        100,
    )
}

/// The workbook's bytes.
pub fn render(rec: &Reconciliation) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let formats = Formats::new();
    write_overview(wb.add_worksheet(), rec, &formats).context("cannot write the overview")?;
    for t in layout::tables(rec) {
        let ws = wb.add_worksheet();
        write_table(ws, &t, &formats, &rec.settings.department)
            .with_context(|| format!("cannot write sheet {}", t.name))?;
    }
    Ok(wb.save_to_buffer()?)
}

/// Writes the workbook.
pub fn write(rec: &Reconciliation, path: &Path) -> Result<()> {
    let bytes = render(rec)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
