//! The school's file written anew (a format other than xlsx, or an xlsx the editor cannot
//! handle): every sheet with the cells the reader read, at their own rows and columns, the
//! column widths and merged cells the original declares ([`Layout`]; widths fitted to the
//! content where it says none), the header rows bold and frozen, and the marks.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};

use super::{ERROR_FILL, Marks, NOTE_COLOR, NOTE_WIDTH, WARNING_FILL, body, note_text};
use crate::sheet::{Cell, Layout, Sheet};
use crate::text::{EXCEL_CELL_CHARS, cut};
use crate::validate::Severity;

/// The narrowest and widest fitted column, in characters.
const FITTED: (f64, f64) = (6.0, 50.0);
/// Columns past this one keep the default width.
const MAX_SIZED_COLS: u32 = 200;

/// The workbook's bytes.
pub(super) fn write(
    sheets: &[Sheet],
    marks: &[Option<Marks>],
    layouts: &HashMap<String, Layout>,
) -> Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    let plain = Format::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let fill = |color: u32| {
        Format::new()
            .set_background_color(Color::RGB(color))
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(NOTE_COLOR))
    };
    let error = fill(ERROR_FILL);
    let warning = fill(WARNING_FILL);
    let error_date = error.clone().set_num_format("dd/mm/yyyy");
    let warning_date = warning.clone().set_num_format("dd/mm/yyyy");
    let bold = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin);
    let header_format = bold
        .clone()
        .set_font_color(Color::RGB(NOTE_COLOR))
        .set_background_color(Color::RGB(ERROR_FILL));
    let note = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_font_color(Color::RGB(NOTE_COLOR));
    let empty = Layout::default();

    let mut names = HashSet::new();
    for (s, m) in sheets.iter().zip(marks).filter(|(s, _)| !s.hidden) {
        let ws = workbook.add_worksheet();
        ws.set_name(sheet_name(&s.name, &mut names))?;
        let layout = layouts.get(&s.name).unwrap_or(&empty);
        let merged = Merged::of(&layout.merges);
        let mut m = m.clone();
        if let Some(m) = &mut m {
            m.clear_of(&merged.ranges);
        }
        let header_rows = m
            .as_ref()
            .map(|m| header_rows(m.header_row, &merged.ranges));
        for (i, cells) in s.rows.iter().enumerate() {
            let row = s.first_row + i as u32;
            let in_header = header_rows.as_ref().is_some_and(|h| h.contains(&row));
            for (j, cell) in cells.iter().enumerate() {
                let col = s.first_col + j as u32;
                if merged.inner.contains(&(row, col)) {
                    continue;
                }
                let mark = m.as_ref().and_then(|m| m.cells.get(&(row, col)));
                let (f, fd) = match mark {
                    Some(Severity::Error) => (&error, &error_date),
                    Some(Severity::Warning) => (&warning, &warning_date),
                    None if in_header => (&bold, &bold),
                    None => (&plain, &date),
                };
                write_cell(ws, row, col, cell, f, fd, mark.is_some())?;
            }
        }
        for &(r1, c1, r2, c2) in &merged.ranges {
            let text = cell_at(s, r1, c1).map(Cell::display).unwrap_or_default();
            let f = if header_rows.as_ref().is_some_and(|h| h.contains(&r1)) {
                &bold
            } else {
                &plain
            };
            if let Err(e) = ws.merge_range(
                r1,
                c1 as u16,
                r2,
                c2 as u16,
                &cut(&text, EXCEL_CELL_CHARS),
                f,
            ) {
                tracing::debug!(error = %e, "a merged range of the original is left unmerged");
            } else if let Some(c) =
                cell_at(s, r1, c1).filter(|c| !matches!(c, Cell::Text(_) | Cell::Empty))
            {
                write_cell(ws, r1, c1, c, f, &date, false)?;
            }
        }
        if let Some(m) = &m {
            // Marked cells beyond a short row (an empty required cell at the row's end).
            for ((row, col), sev) in &m.cells {
                if cell_at(s, *row, *col).is_none() {
                    let f = if *sev == Severity::Error {
                        &error
                    } else {
                        &warning
                    };
                    ws.write_blank(*row, *col as u16, f)?;
                }
            }
            let note_col = m.note_col as u16;
            ws.write_string_with_format(
                m.header_row,
                note_col,
                body::ERROR_COLUMN,
                &header_format,
            )?;
            ws.set_column_width(note_col, NOTE_WIDTH)?;
            // The header stays in sight while the school scrolls its rows.
            ws.set_freeze_panes(m.header_row + 1, 0)?;
            for (row, lines) in &m.notes {
                ws.write_string_with_format(*row, note_col, note_text(lines), &note)?;
                let height = super::note_lines(lines);
                if height > 1 {
                    ws.set_row_height(*row, height as f64 * 15.0)?;
                }
            }
        }
        let note_col = m.as_ref().map(|m| m.note_col);
        let first_data = m.as_ref().map_or(0, |m| m.header_row);
        let width = s.rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
        for c in 0..(s.first_col + width).min(MAX_SIZED_COLS) {
            if Some(c) == note_col {
                continue;
            }
            let w = layout
                .width(c)
                .unwrap_or_else(|| fitted(s, c, first_data, &merged.wide));
            ws.set_column_width(c as u16, w)?;
        }
    }
    if sheets.iter().all(|s| s.hidden) {
        workbook.add_worksheet();
    }
    Ok(workbook.save_to_buffer()?)
}

/// The most cells the merged ranges of one sheet may cover: past it, the ranges left are not
/// merged (a crafted file's ranges would otherwise fill memory with their cells).
const MAX_MERGED_CELLS: u64 = 1_000_000;

/// The merged ranges written, and the cells they cover.
struct Merged {
    ranges: Vec<(u32, u32, u32, u32)>,
    /// Cells of a range but its first: the range shows the first one's value over them.
    inner: HashSet<(u32, u32)>,
    /// Cells of a range wider than one column (their text says nothing of a column's width).
    wide: HashSet<(u32, u32)>,
}

impl Merged {
    fn of(merges: &[(u32, u32, u32, u32)]) -> Merged {
        let mut m = Merged {
            ranges: Vec::new(),
            inner: HashSet::new(),
            wide: HashSet::new(),
        };
        let mut left = MAX_MERGED_CELLS;
        for &(r1, c1, r2, c2) in merges {
            let cells =
                (u64::from(r2.saturating_sub(r1)) + 1) * (u64::from(c2.saturating_sub(c1)) + 1);
            let Some(l) = left.checked_sub(cells) else {
                continue;
            };
            left = l;
            m.ranges.push((r1, c1, r2, c2));
            for r in r1..=r2 {
                for c in c1..=c2 {
                    if (r, c) != (r1, c1) {
                        m.inner.insert((r, c));
                    }
                    if c1 != c2 {
                        m.wide.insert((r, c));
                    }
                }
            }
        }
        m
    }
}

/// The header rows: the (last) header row and the rows above it a merged header cell spans.
fn header_rows(header_row: u32, merges: &[(u32, u32, u32, u32)]) -> std::ops::RangeInclusive<u32> {
    let top = merges
        .iter()
        .filter(|(r1, _, r2, _)| (*r1..=*r2).contains(&header_row))
        .map(|(r1, ..)| *r1)
        .min()
        .unwrap_or(header_row);
    top..=header_row
}

/// The cell at (row, col) of the sheet, if the grid holds it.
fn cell_at(s: &Sheet, row: u32, col: u32) -> Option<&Cell> {
    let i = row.checked_sub(s.first_row)? as usize;
    let j = col.checked_sub(s.first_col)? as usize;
    s.rows.get(i)?.get(j)
}

/// A width for column `col` fitted to its values from row `from` down (a title above the
/// table, or a value in a merged range, says nothing of the column), capped.
fn fitted(s: &Sheet, col: u32, from: u32, wide: &HashSet<(u32, u32)>) -> f64 {
    let mut widest = 0usize;
    for (i, cells) in s.rows.iter().enumerate() {
        let row = s.first_row + i as u32;
        if row < from {
            continue;
        }
        let in_merge = wide.contains(&(row, col));
        let Some(cell) = col
            .checked_sub(s.first_col)
            .and_then(|j| cells.get(j as usize))
        else {
            continue;
        };
        if in_merge {
            continue;
        }
        let text = cell.display();
        // A header wraps: its longest word counts, not its length.
        let n = if row == from {
            text.split_whitespace()
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0)
        } else {
            text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
        };
        widest = widest.max(n);
    }
    (widest as f64 + 2.0).clamp(FITTED.0, FITTED.1)
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
    fn sheet_names_are_made_valid_and_unique() {
        let mut used = HashSet::new();
        assert_eq!(sheet_name("DS đề nghị", &mut used), "DS đề nghị");
        assert_eq!(sheet_name("DS đề nghị", &mut used), "DS đề nghị (2)");
        assert_eq!(sheet_name("a/b:c", &mut used), "a_b_c");
        assert_eq!(sheet_name(&"x".repeat(40), &mut used).chars().count(), 31);
    }
}
