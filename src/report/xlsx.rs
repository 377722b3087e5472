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

use super::layout::{self, Cell, Table};
use super::{Reconciliation, Window};
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

/// The rows a column's width is measured on: a table of a province's rows is measured whole,
/// the country's on its first 20,000 (a longer cell further down wraps, its row as tall as it
/// needs): measuring is a pass over the rows before the pass that writes them.
pub const WIDTH_SAMPLE: usize = 20_000;

/// The width a column needs: its longest cell among the first [`WIDTH_SAMPLE`] rows (`head`),
/// and its header wrapped on two or three lines.
fn widths(headers: &[String], head: &[Vec<Cell>]) -> Vec<f64> {
    let mut cells = vec![0usize; headers.len()];
    for r in head {
        for (c, cell) in r.iter().enumerate().take(cells.len()) {
            let n = match cell {
                Cell::Text(s) => s.chars().count(),
                Cell::Number(n) => format!("{n}").len(),
                Cell::Empty => 0,
            };
            cells[c] = cells[c].max(n);
        }
    }
    headers
        .iter()
        .zip(cells)
        .map(|(h, cells)| {
            let longest_word = h.split_whitespace().map(|w| w.chars().count()).max();
            let header = longest_word.unwrap_or(0).max(h.chars().count().div_ceil(2));
            (header.max(cells) + 2).clamp(MIN_WIDTH, MAX_WIDTH) as f64
        })
        .collect()
}

/// `&` is a control character in Excel's page header and footer.
fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

/// The most rows a sheet holds (Excel's limit), the header row included.
pub const MAX_ROWS: u32 = 1_048_576;

/// The name of part `k` (from 0) of a table split over several sheets: "Chi tiết", then
/// "Chi tiết (2)", "Chi tiết (3)"... (within Excel's 31 characters for a sheet's name).
fn part_name(name: &str, k: usize) -> String {
    if k == 0 {
        return name.to_string();
    }
    let suffix = format!(" ({})", k + 1);
    let keep = 31usize.saturating_sub(suffix.chars().count());
    format!("{}{suffix}", name.chars().take(keep).collect::<String>())
}

/// Writes a table into as many sheets as its rows need, at most `max_rows` rows (its header
/// included) in each: every part has the header row, the widths, the print setup, and its
/// rows in order. Each sheet is written in rust_xlsxwriter's constant-memory mode (rows
/// written in order go to a temporary file in `tempdir`, not into memory).
fn write_parts(
    wb: &mut Workbook,
    t: &Table,
    f: &Formats,
    department: &str,
    max_rows: u32,
) -> Result<()> {
    let per_sheet = (max_rows.max(2) - 1) as usize;
    // The first rows are made once, measured, and written from memory; the rest are made as
    // they are written.
    let head = t.first_rows(WIDTH_SAMPLE)?;
    let mut widths = widths(&t.headers, &head);
    let fitted = fit(&mut widths);
    let len = t.len();
    let mut start = 0;
    let mut k = 0;
    loop {
        let end = (start + per_sheet).min(len);
        let ws = wb.add_worksheet_with_constant_memory()?;
        let name = part_name(&t.name, k);
        let window = Window {
            skip: start,
            take: end - start,
        };
        write_table(ws, t, &head, &name, window, &widths, fitted, f, department)
            .with_context(|| format!("cannot write sheet {name}"))?;
        if end >= len {
            return Ok(());
        }
        start = end;
        k += 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn write_table(
    ws: &mut Worksheet,
    t: &Table,
    head: &[Vec<Cell>],
    name: &str,
    rows: Window,
    widths: &[f64],
    Fit { scale, across }: Fit,
    f: &Formats,
    department: &str,
) -> Result<()> {
    ws.set_name(name)?;
    for (c, width) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *width)?;
    }
    let count = rows.take;
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
    let last_col = t.headers.len().max(1) as u16 - 1;
    // Set before the rows are written: a constant-memory sheet writes a row out as soon as
    // the next one begins, and the header row's filter buttons are part of it.
    ws.autofilter(0, 0, count as u32, last_col)?;
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &f.header)?;
    }
    let mut r = 0;
    t.each_row_after(head, rows, &mut |row| {
        r += 1;
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
        Ok(())
    })?;
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

/// The workbook, its sheets split at `max_rows`, their rows kept in temporary files in
/// `tempdir` until it is saved.
fn workbook(rec: &Reconciliation, tempdir: &Path, max_rows: u32) -> Result<Workbook> {
    let mut wb = Workbook::new();
    wb.set_tempdir(tempdir)
        .with_context(|| format!("cannot use {} for temporary files", tempdir.display()))?;
    // Deflating the sheets' XML was most of the time writing a large workbook; level 1 makes
    // the file somewhat larger and is several times faster.
    wb.set_zip_compression_level(1);
    let formats = Formats::new();
    write_overview(wb.add_worksheet(), rec, &formats).context("cannot write the overview")?;
    // One table at a time, dropped once written.
    for t in layout::sheets(rec) {
        write_parts(&mut wb, &t, &formats, &rec.settings.department, max_rows)?;
    }
    Ok(wb)
}

/// The workbook's bytes.
pub fn render(rec: &Reconciliation) -> Result<Vec<u8>> {
    let tmp = std::env::temp_dir();
    Ok(workbook(rec, &tmp, MAX_ROWS)?.save_to_buffer()?)
}

/// Writes the workbook: saved beside `path` under a temporary name (its sheets' rows kept in
/// temporary files in the same folder meanwhile), then renamed over it, so a reader never
/// opens half a workbook.
pub fn write(rec: &Reconciliation, path: &Path) -> Result<()> {
    write_limited(rec, path, MAX_ROWS)
}

fn write_limited(rec: &Reconciliation, path: &Path, max_rows: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp",
        name.as_deref().unwrap_or("doi-chieu.xlsx")
    ));
    let saved = workbook(rec, dir, max_rows)
        .and_then(|mut wb| Ok(wb.save(&tmp)?))
        .and_then(|()| Ok(std::fs::rename(&tmp, path)?));
    if saved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    saved.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    fn table(rows: usize) -> Table<'static> {
        Table::of_rows(
            "Chi tiết",
            "Danh sách chi tiết",
            vec!["Mã đơn vị".into(), "STT".into()],
            (0..rows)
                .map(|i| {
                    vec![
                        Cell::Text(format!("DV{i:02}")),
                        Cell::Number(i as f64 + 1.0),
                    ]
                })
                .collect(),
        )
    }

    /// The sheets of a workbook, each as its rows of text.
    fn read(bytes: Vec<u8>) -> Vec<(String, Vec<Vec<String>>)> {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let names = book.sheet_names().to_vec();
        names
            .into_iter()
            .map(|n| {
                let range = book.worksheet_range(&n).unwrap();
                let rows = range
                    .rows()
                    .map(|r| {
                        r.iter()
                            .map(|c| match c {
                                Data::Float(f) => format!("{f}"),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .collect();
                (n, rows)
            })
            .collect()
    }

    fn written(t: &Table, max_rows: u32) -> Vec<(String, Vec<Vec<String>>)> {
        let mut wb = Workbook::new();
        wb.set_tempdir(std::env::temp_dir()).unwrap();
        write_parts(&mut wb, t, &Formats::new(), "Sở GD&ĐT", max_rows).unwrap();
        read(wb.save_to_buffer().unwrap())
    }

    #[test]
    fn a_table_over_the_row_limit_goes_on_in_a_second_sheet_with_its_header() {
        // At most 4 rows a sheet, the header included: 7 rows make 3 + 3 + 1.
        let sheets = written(&table(7), 4);
        let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Chi tiết", "Chi tiết (2)", "Chi tiết (3)"]);
        let header = vec!["Mã đơn vị".to_string(), "STT".to_string()];
        let mut seen = Vec::new();
        for (name, rows) in &sheets {
            assert_eq!(rows[0], header, "{name} has the header row");
            assert!(rows.len() <= 4, "{name} holds {} rows", rows.len());
            seen.extend(rows[1..].iter().cloned());
        }
        let expected: Vec<Vec<String>> = (0..7)
            .map(|i| vec![format!("DV{i:02}"), format!("{}", i + 1)])
            .collect();
        assert_eq!(seen, expected, "every row once, in order");
    }

    #[test]
    fn a_table_within_the_limit_is_one_sheet_and_an_empty_one_keeps_its_header() {
        let sheets = written(&table(3), 4);
        assert_eq!(sheets.len(), 1);
        assert_eq!(sheets[0].0, "Chi tiết");
        assert_eq!(sheets[0].1.len(), 4);
        let empty = written(&table(0), 4);
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].1.len(), 1, "the header row alone");
    }

    #[test]
    fn a_part_name_stays_within_excels_31_characters() {
        let long = "Cấp mới chứng thư số cho cá nhân xx";
        let name = part_name(long, 1);
        assert_eq!(name.chars().count(), 31);
        assert!(name.ends_with(" (2)"), "{name}");
        assert_eq!(part_name("Chi tiết", 0), "Chi tiết");
        assert_eq!(part_name("Chi tiết", 11), "Chi tiết (12)");
    }
}
