//! The school's own file sent back with its errors marked: every sheet as they wrote it (same
//! rows, same cells, so Excel row numbers in the reply match), a "Lỗi" column after the table
//! saying what is wrong on each row, and the wrong cells highlighted (red for errors, yellow for
//! warnings). Written with rust_xlsxwriter from the sheets [`crate::sheet::read_cells`] reads.

use crate::text::{EXCEL_CELL_CHARS, cut};
use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};

use crate::mail::Attachment;
use crate::sheet::{self, Cell, Sheet, header};
use crate::validate::{RowProblem, Severity};

use super::body;

/// The fill of a cell with an error (Excel's "Bad" style).
pub const ERROR_FILL: u32 = 0xFFC7CE;
/// The fill of a cell with a warning (Excel's "Neutral" style).
pub const WARNING_FILL: u32 = 0xFFEB9C;

/// A school's file with its errors marked, ready to attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotated {
    /// "DS - đánh dấu lỗi.xlsx".
    pub name: String,
    pub bytes: Vec<u8>,
    /// A cell is filled yellow (a warning, not an error): the reply explains yellow only then.
    pub yellow: bool,
}

/// The annotated copy of `attachment`, when some of `problems` point at its rows; `None` when
/// the file cannot be read back or no problem is about a row of it.
pub fn annotate(attachment: &Attachment, problems: &[RowProblem]) -> Option<Annotated> {
    let mine: Vec<&RowProblem> = problems
        .iter()
        .filter(|p| p.file == attachment.filename && p.row > 0)
        .collect();
    if mine.is_empty() {
        return None;
    }
    // Every row is written back, hidden or not: the rows the school hid need not be found.
    let sheets = sheet::read_cells(&attachment.filename, &attachment.bytes).ok()?;
    match write(&sheets, &mine) {
        Ok((bytes, yellow)) => Some(Annotated {
            name: body::annotated_file_name(&attachment.filename),
            bytes,
            yellow,
        }),
        Err(e) => {
            tracing::warn!(file = %attachment.filename, error = %format!("{e:#}"),
                "cannot write the annotated copy; the reply lists the errors without it");
            None
        }
    }
}

/// The workbook's bytes, and whether a cell of it is filled yellow.
fn write(sheets: &[Sheet], problems: &[&RowProblem]) -> Result<(Vec<u8>, bool)> {
    let mut workbook = Workbook::new();
    let mut yellow = false;
    let plain = Format::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let fill = |color: u32| {
        Format::new()
            .set_background_color(Color::RGB(color))
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(0x9C0006))
    };
    let error = fill(ERROR_FILL);
    let warning = fill(WARNING_FILL);
    let error_date = error.clone().set_num_format("dd/mm/yyyy");
    let warning_date = warning.clone().set_num_format("dd/mm/yyyy");
    let header_format = Format::new()
        .set_bold()
        .set_font_color(Color::RGB(0x9C0006))
        .set_background_color(Color::RGB(ERROR_FILL))
        .set_border(FormatBorder::Thin);
    let note = Format::new()
        .set_text_wrap()
        .set_font_color(Color::RGB(0x9C0006));

    let mut names = HashSet::new();
    for s in sheets.iter().filter(|s| !s.hidden) {
        let ws = workbook.add_worksheet();
        ws.set_name(sheet_name(&s.name, &mut names))?;
        let table = header::find(s);
        let width = s.rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
        // Where each problem cell is: (0-based row, 0-based column) → worst severity.
        let mut marks: BTreeMap<(u32, u32), Severity> = BTreeMap::new();
        let mut notes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for p in problems.iter().filter(|p| p.sheet == s.name) {
            let row = p.row - 1;
            let col = table.as_ref().and_then(|t| {
                t.columns
                    .iter()
                    .find(|c| !p.column.is_empty() && c.header == p.column)
                    .map(|c| s.first_col + c.index as u32)
            });
            if let Some(col) = col {
                let m = marks.entry((row, col)).or_insert(p.severity);
                if p.severity == Severity::Error {
                    *m = Severity::Error;
                }
            }
            let prefix = if p.severity == Severity::Warning {
                body::WARNING_PREFIX
            } else {
                ""
            };
            let line = note_line(prefix, &p.column, &p.message);
            notes.entry(row).or_default().push(line);
        }
        yellow |= marks.values().any(|m| *m == Severity::Warning);
        for (i, cells) in s.rows.iter().enumerate() {
            let row = s.first_row + i as u32;
            for (j, cell) in cells.iter().enumerate() {
                let col = s.first_col + j as u32;
                let mark = marks.get(&(row, col));
                let (f, fd) = match mark {
                    Some(Severity::Error) => (&error, &error_date),
                    Some(Severity::Warning) => (&warning, &warning_date),
                    None => (&plain, &date),
                };
                write_cell(ws, row, col, cell, f, fd, mark.is_some())?;
            }
        }
        // Marked cells beyond a short row (an empty required cell at the row's end).
        for ((row, col), sev) in &marks {
            let i = row.checked_sub(s.first_row).map(|i| i as usize);
            let j = col.checked_sub(s.first_col).map(|j| j as usize);
            let present =
                matches!((i, j), (Some(i), Some(j)) if s.rows.get(i).is_some_and(|r| j < r.len()));
            if !present {
                let f = if *sev == Severity::Error {
                    &error
                } else {
                    &warning
                };
                ws.write_blank(*row, *col as u16, f)?;
            }
        }
        if let Some(t) = &table {
            let note_col = (s.first_col + width) as u16;
            ws.write_string_with_format(
                s.first_row + t.header_row as u32,
                note_col,
                body::ERROR_COLUMN,
                &header_format,
            )?;
            ws.set_column_width(note_col, 60)?;
            // The header stays in sight while the school scrolls its rows.
            ws.set_freeze_panes(s.first_row + t.header_row as u32 + 1, 0)?;
            for (row, lines) in &notes {
                ws.write_string_with_format(
                    *row,
                    note_col,
                    cut(&lines.join("\n"), EXCEL_CELL_CHARS),
                    &note,
                )?;
            }
        }
        for c in 0..(s.first_col + width).min(200) {
            ws.set_column_width(c as u16, 16)?;
        }
    }
    if sheets.iter().all(|s| s.hidden) {
        workbook.add_worksheet();
    }
    Ok((workbook.save_to_buffer()?, yellow))
}

/// A line of the "Lỗi" column: the column, then the message, naming the column once (a message
/// that opens with the column's name, "Số CCCD phải…", is not prefixed "Số CCCD: ").
fn note_line(prefix: &str, column: &str, message: &str) -> String {
    let named = {
        let (c, m) = (crate::text::fold(column), crate::text::fold(message));
        !c.is_empty() && m.starts_with(&c)
    };
    if column.is_empty() || named {
        format!("{prefix}{message}")
    } else {
        format!("{prefix}{column}: {message}")
    }
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u32,
    cell: &Cell,
    f: &Format,
    date_format: &Format,
    marked: bool,
) -> Result<()> {
    let col = col as u16;
    match cell {
        Cell::Empty => {
            if marked {
                ws.write_blank(row, col, f)?;
            }
        }
        Cell::Text(t) => {
            ws.write_string_with_format(row, col, cut(t, EXCEL_CELL_CHARS), f)?;
        }
        Cell::Number(n) => {
            ws.write_number_with_format(row, col, *n, f)?;
        }
        Cell::Date(d) => {
            use chrono::Datelike;
            match ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8) {
                Ok(dt) => {
                    ws.write_datetime_with_format(row, col, &dt, date_format)?;
                }
                Err(_) => {
                    ws.write_string_with_format(row, col, d.format("%d/%m/%Y").to_string(), f)?;
                }
            }
        }
        Cell::Bool(b) => {
            ws.write_boolean_with_format(row, col, *b, f)?;
        }
        Cell::Error(e) => {
            ws.write_string_with_format(row, col, cut(e, EXCEL_CELL_CHARS), f)?;
        }
    }
    Ok(())
}

/// A valid, unique Excel sheet name (at most 31 characters, none of `[]:*?/\`).
fn sheet_name(name: &str, used: &mut HashSet<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'').trim();
    let base: String = if clean.is_empty() {
        "Sheet".into()
    } else {
        clean.chars().take(31).collect()
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while !used.insert(candidate.to_lowercase()) {
        let suffix = format!(" ({n})");
        candidate = base.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_its_column_once() {
        assert_eq!(
            note_line("", "Số CCCD", "Số CCCD phải gồm 12 chữ số"),
            "Số CCCD phải gồm 12 chữ số"
        );
        assert_eq!(
            note_line("", "SO CCCD", "Số CCCD phải gồm 12 chữ số"),
            "Số CCCD phải gồm 12 chữ số"
        );
        assert_eq!(
            note_line("(Lưu ý) ", "Email", "Mỗi ô chỉ ghi một địa chỉ"),
            "(Lưu ý) Email: Mỗi ô chỉ ghi một địa chỉ"
        );
        assert_eq!(note_line("", "", "Trùng người"), "Trùng người");
    }

    #[test]
    fn sheet_names_are_made_valid_and_unique() {
        let mut used = HashSet::new();
        assert_eq!(sheet_name("DS đề nghị", &mut used), "DS đề nghị");
        assert_eq!(sheet_name("DS đề nghị", &mut used), "DS đề nghị (2)");
        assert_eq!(sheet_name("a/b:c", &mut used), "a_b_c");
        assert_eq!(sheet_name(&"x".repeat(40), &mut used).chars().count(), 31);
    }
}
