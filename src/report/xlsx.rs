//! The staff workbook `doi-chieu.xlsx`: the sheets of [`super::layout`], each printable on A4
//! landscape (fit to the page width, the header row repeated on every page, the sheet's title in
//! the page header and "Trang x/y" in the footer), with a frozen header row, filters, and column
//! widths that fit the content.
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
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &f.header)?;
    }
    for (c, width) in widths(t).into_iter().enumerate() {
        ws.set_column_width(c as u16, width)?;
    }
    for (i, row) in t.rows.iter().enumerate() {
        let r = i as u32 + 1;
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
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    ws.set_header(format!("&C&\"-,Bold\"{}", header_text(&t.title)));
    let footer = if department.is_empty() {
        "&RTrang &P/&N".to_string()
    } else {
        format!("&L{}&RTrang &P/&N", header_text(department))
    };
    ws.set_footer(footer);
    Ok(())
}

/// The workbook's bytes.
pub fn render(rec: &Reconciliation) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let formats = Formats::new();
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
