//! The school's own file sent back with its errors marked: a "Lỗi" column right after the table
//! saying what is wrong on each row, the header kept in sight (frozen), and the wrong cells
//! filled (red for errors, yellow for warnings). Row and column numbers stay those of the
//! school's file, so the Excel row numbers the reply quotes match.
//!
//! - An xlsx is edited in place ([`edit`]): the school's own workbook, every part copied as is
//!   except the worksheets with problems and `xl/styles.xml` (new fills, fonts and cell formats
//!   that copy the cell's own with only the fill changed), so its merges, widths, borders,
//!   other sheets, names and print setup are kept.
//! - Any other format (xls, ods, csv, html), and an xlsx the editor cannot handle (a macro
//!   workbook, XML it does not understand, an edited file larger than [`MAX_EDITED_BYTES`]), is
//!   written anew ([`flat`]) from the cells the reader read, keeping the column widths and
//!   merged cells the original declares ([`crate::sheet::layout`]), else widths fitted to the
//!   content.

mod edit;
mod flat;
mod styles;

use std::collections::BTreeMap;

use crate::mail::Attachment;
use crate::sheet::{self, Format, Sheet, header};
use crate::validate::{RowProblem, Severity};

use super::body;

/// The fill of a cell with an error (Excel's "Bad" style).
pub const ERROR_FILL: u32 = 0xFFC7CE;
/// The fill of a cell with a warning (Excel's "Neutral" style).
pub const WARNING_FILL: u32 = 0xFFEB9C;
/// The font colour of the "Lỗi" texts (Excel's "Bad" text).
const NOTE_COLOR: u32 = 0x9C0006;
/// The width of the "Lỗi" column, in characters.
const NOTE_WIDTH: f64 = 60.0;
/// The largest edited workbook sent back: past it (a huge sheet made larger still by its
/// marks), the flat copy is sent instead.
pub const MAX_EDITED_BYTES: usize = 24 * 1024 * 1024;

/// A school's file with its errors marked, ready to attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotated {
    /// "DS - đánh dấu lỗi.xlsx".
    pub name: String,
    pub bytes: Vec<u8>,
    /// A cell is filled yellow (a warning, not an error): the reply explains yellow only then.
    pub yellow: bool,
}

/// What to mark in one sheet, in the sheet's own coordinates (0-based, as in the workbook).
#[derive(Debug, Clone, Default)]
struct Marks {
    /// The (last) header row of the table.
    header_row: u32,
    /// The column of "Lỗi": right after the table's last column.
    note_col: u32,
    /// The wrong cells, (row, column) → the worst severity.
    cells: BTreeMap<(u32, u32), Severity>,
    /// The lines of each row's "Lỗi" cell.
    notes: BTreeMap<u32, Vec<String>>,
}

impl Marks {
    /// Moves the "Lỗi" column right of any merged range it would fall in, in a row it writes
    /// in (a merged range shows one value: the note would be hidden under it).
    fn clear_of(&mut self, merges: &[(u32, u32, u32, u32)]) {
        let written = |r1: u32, r2: u32| {
            (r1..=r2).contains(&self.header_row) || self.notes.range(r1..=r2).next().is_some()
        };
        while let Some(&(_, _, _, c2)) = merges
            .iter()
            .find(|(r1, c1, r2, c2)| (*c1..=*c2).contains(&self.note_col) && written(*r1, *r2))
        {
            self.note_col = c2 + 1;
        }
    }

    fn yellow(&self) -> bool {
        self.cells.values().any(|s| *s == Severity::Warning)
    }
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
    let marks: Vec<Option<Marks>> = sheets.iter().map(|s| marks(s, &mine)).collect();
    let yellow = marks.iter().flatten().any(Marks::yellow);
    let name = body::annotated_file_name(&attachment.filename);
    let file = &attachment.filename;
    if sheet::sniff(file, &attachment.bytes) == Some(Format::Xlsx) {
        match edit::edit(&attachment.bytes, &sheets, &marks) {
            Ok(bytes) if bytes.len() <= MAX_EDITED_BYTES => {
                return Some(Annotated {
                    name,
                    bytes,
                    yellow,
                });
            }
            Ok(bytes) => tracing::info!(file = %file, bytes = bytes.len(),
                "the edited workbook is too large; the flat copy is sent instead"),
            Err(e) => tracing::info!(file = %file, error = %format!("{e:#}"),
                "cannot edit the school's workbook; the flat copy is sent instead"),
        }
    }
    let layouts = sheet::layout(file, &attachment.bytes);
    match flat::write(&sheets, &marks, &layouts) {
        Ok(bytes) => Some(Annotated {
            name,
            bytes,
            yellow,
        }),
        Err(e) => {
            tracing::warn!(file = %file, error = %format!("{e:#}"),
                "cannot write the annotated copy; the reply lists the errors without it");
            None
        }
    }
}

/// What to mark in `s`: `None` when no table is found in it.
fn marks(s: &Sheet, problems: &[&RowProblem]) -> Option<Marks> {
    let table = header::find(s)?;
    let header_row = s.first_row + table.header_row as u32;
    let mut m = Marks {
        header_row,
        ..Marks::default()
    };
    for p in problems.iter().filter(|p| p.sheet == s.name) {
        let row = p.row - 1;
        let col = table
            .columns
            .iter()
            .find(|c| !p.column.is_empty() && c.header == p.column)
            .map(|c| s.first_col + c.index as u32);
        if let Some(col) = col {
            let mark = m.cells.entry((row, col)).or_insert(p.severity);
            if p.severity == Severity::Error {
                *mark = Severity::Error;
            }
        }
        let prefix = if p.severity == Severity::Warning {
            body::WARNING_PREFIX
        } else {
            ""
        };
        m.notes
            .entry(row)
            .or_default()
            .push(note_line(prefix, &p.column, &p.message));
    }
    // The table's last column: the last value of its header and of the rows with notes, the
    // rows "Lỗi" is written in (a title above or a signature under the table may be wider).
    let last = std::iter::once(header_row)
        .chain(m.notes.keys().copied())
        .filter_map(|r| {
            let cells = s.rows.get(r.checked_sub(s.first_row)? as usize)?;
            cells.iter().rposition(|c| !c.is_empty())
        })
        .max()
        .unwrap_or(0) as u32;
    m.note_col = s.first_col + last + 1;
    Some(m)
}

/// A line of the "Lỗi" column: the column, then the message, naming the column once (a message
/// that names the column, "Số CCCD phải…", "Thiếu Ngày sinh…", is not prefixed with it).
fn note_line(prefix: &str, column: &str, message: &str) -> String {
    let named = {
        let (c, m) = (crate::text::fold(column), crate::text::fold(message));
        !c.is_empty() && m.contains(&c)
    };
    if column.is_empty() || named {
        format!("{prefix}{message}")
    } else {
        format!("{prefix}{column}: {message}")
    }
}

/// The text of a row's "Lỗi" cell.
fn note_text(lines: &[String]) -> String {
    crate::text::cut(&lines.join("\n"), crate::text::EXCEL_CELL_CHARS).into_owned()
}

/// About how many lines a "Lỗi" cell takes in its column, wrapped.
fn note_lines(lines: &[String]) -> usize {
    let per_line = NOTE_WIDTH as usize;
    lines
        .iter()
        .map(|l| l.chars().count().div_ceil(per_line).max(1))
        .sum::<usize>()
        .min(40)
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
        assert_eq!(
            note_line("", "Ngày sinh", "Thiếu Ngày sinh: bắt buộc"),
            "Thiếu Ngày sinh: bắt buộc"
        );
        assert_eq!(note_line("", "", "Trùng người"), "Trùng người");
    }

    #[test]
    fn a_long_note_takes_more_lines() {
        assert_eq!(note_lines(&["ngắn".into()]), 1);
        assert_eq!(note_lines(&["x".repeat(61), "y".into()]), 3);
    }
}
