//! Finding the table in a sheet: the header row is the row among the first 25 with the most
//! recognised headers (TEMPLATE.md's variants), whatever stands above it; rows are read from under
//! it until the footer ("Người lập biểu", "Thủ trưởng đơn vị"...).

use std::borrow::Cow;
use std::sync::Arc;

use crate::schema::{Field, RequestType};
use crate::text::fold;

use super::{Cell, Sheet};

/// How many rows from the top the header may be found in.
pub const HEADER_SEARCH_ROWS: usize = 25;

/// Fewest recognised headers that make a row a header row.
const MIN_RECOGNISED: usize = 3;

/// A recognised column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The field the header maps to.
    pub field: Field,
    /// The header as the school wrote it (cleaned), for messages.
    pub header: String,
    /// Index into the sheet's row vectors.
    pub index: usize,
}

/// The table found in a sheet.
#[derive(Debug, Clone)]
pub struct Table {
    /// Index into `Sheet::rows` of the (last) header row.
    pub header_row: usize,
    /// Recognised columns, left to right.
    pub columns: Vec<Column>,
    /// The request type a sheet's name gives, when the table has no type column.
    pub sheet_type: Option<RequestType>,
    /// An x-grid: one column per request type, the chosen ones marked (`x`, `X`, `✓`, `1`).
    pub grid: Vec<GridColumn>,
}

/// One column of an x-grid of request types.
#[derive(Debug, Clone, PartialEq)]
pub struct GridColumn {
    pub request_type: RequestType,
    /// The header as the school wrote it.
    pub header: String,
    /// Index into the sheet's row vectors.
    pub index: usize,
}

/// One row of a list as written, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// The sheet's name.
    pub sheet: String,
    /// The row number as Excel shows it (1-based).
    pub row: u32,
    /// Recognised cells, in column order.
    pub cells: Vec<RawCell>,
    /// The request type the sheet's name gives, or the one marked in an x-grid, if any.
    pub sheet_type: Option<RequestType>,
    /// The headers of the x-grid the type is marked in (empty when the table has none).
    pub grid_headers: Arc<[String]>,
    /// The school hid this row in Excel.
    pub hidden: bool,
}

/// One recognised cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCell {
    pub field: Field,
    /// The header as the school wrote it (shared by every row of the column).
    pub header: Arc<str>,
    pub cell: Cell,
}

impl RawRow {
    /// The last non-empty cell for `field`: the most specific of "Tổ chức cấp 1..4".
    pub fn get_last(&self, field: Field) -> Option<&RawCell> {
        self.cells
            .iter()
            .rev()
            .find(|c| c.field == field && !c.cell.is_empty())
    }

    /// The first non-empty cell for `field`.
    pub fn get(&self, field: Field) -> Option<&RawCell> {
        self.cells
            .iter()
            .find(|c| c.field == field && !c.cell.is_empty())
    }

    /// The header written for `field`, or its canonical header when the column is missing.
    pub fn header(&self, field: Field) -> String {
        self.cells
            .iter()
            .find(|c| c.field == field)
            .map(|c| c.header.to_string())
            .unwrap_or_else(|| field.header().to_string())
    }
}

/// What the header search reads of one cell, worked out once: every candidate row looks at its
/// own cells and at the row below, the grid and two-row checks look again, and cleaning and
/// matching a header is most of what the search costs.
#[derive(Debug, Default)]
struct Probe<'a> {
    /// The cell's text, cleaned; "" for anything but text.
    text: Cow<'a, str>,
    /// The field that text names as a header.
    field: Option<Field>,
}

/// The probes of the rows the header search may look at.
struct Probes<'a> {
    rows: Vec<Vec<Probe<'a>>>,
}

/// The probe of a cell past the end of a row or of the rows probed: no text, no field.
const NO_PROBE: Probe<'static> = Probe {
    text: Cow::Borrowed(""),
    field: None,
};

impl<'a> Probes<'a> {
    /// Probes the first `n` rows of the sheet.
    fn new(sheet: &'a Sheet, n: usize) -> Probes<'a> {
        let rows = sheet.rows[..n.min(sheet.rows.len())]
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Cell::Text(t) => {
                            let text = crate::text::cleaned(t);
                            let field = Field::from_header(&text);
                            Probe { text, field }
                        }
                        _ => Probe::default(),
                    })
                    .collect()
            })
            .collect();
        Probes { rows }
    }

    /// The number of cells in row `r` (0 past the rows probed).
    fn width(&self, r: usize) -> usize {
        self.rows.get(r).map_or(0, Vec::len)
    }

    fn at(&self, r: usize, i: usize) -> &Probe<'a> {
        self.rows
            .get(r)
            .and_then(|row| row.get(i))
            .unwrap_or(&NO_PROBE)
    }
}

/// Finds the table of a sheet, if any.
pub fn find(sheet: &Sheet) -> Option<Table> {
    let mut best: Option<Table> = None;
    // Rows are counted from the top of the sheet, not from the first row in use.
    let limit = sheet
        .rows
        .len()
        .min(HEADER_SEARCH_ROWS.saturating_sub(sheet.first_row as usize));
    // Each candidate row also reads the row below it.
    let probes = Probes::new(sheet, limit + 1);
    for r in 0..limit {
        // A blank or title row right above the header borrows every header from below: the
        // header row is the one that has headers of its own (and without one, no row is).
        if probes.rows[r].iter().all(|p| p.field.is_none()) {
            continue;
        }
        let columns = columns_at(&probes, r);
        let fields: Vec<Field> = columns.iter().map(|c| c.field).collect();
        let has_name = fields.contains(&Field::FullName)
            || (fields.contains(&Field::FamilyMiddleName) && fields.contains(&Field::GivenName));
        if columns.len() < MIN_RECOGNISED || !has_name {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|b| columns.len() > b.columns.len())
        {
            let (grid, grid_below) = grid_at(&probes, r);
            let mut columns = columns;
            if !grid.is_empty() {
                // The merged group header over the grid is not a type column of its own.
                columns.retain(|c| {
                    c.field != Field::RequestType || !grid.iter().any(|g| g.index == c.index)
                });
            }
            let header_row = if uses_next_row(&probes, r, &columns) || grid_below {
                r + 1
            } else {
                r
            };
            best = Some(Table {
                header_row,
                columns,
                sheet_type: None,
                grid,
            });
        }
    }
    let mut table = best?;
    if !table.columns.iter().any(|c| c.field == Field::RequestType) {
        table.sheet_type = RequestType::parse(&sheet.name);
    }
    Some(table)
}

/// The x-grid of request types at row `r`: type names as headers in row `r`, or in row `r + 1`
/// under an empty or "Nội dung đề nghị" group header. At least two such columns make a grid;
/// the flag says the grid's headers are in the next row.
fn grid_at(probes: &Probes, r: usize) -> (Vec<GridColumn>, bool) {
    let width = probes.width(r).max(probes.width(r + 1));
    let mut top = Vec::new();
    let mut below = Vec::new();
    for i in 0..width {
        let t = probes.at(r, i);
        if t.field.is_none()
            && !t.text.is_empty()
            && let Some(rt) = RequestType::parse(&t.text)
        {
            top.push(GridColumn {
                request_type: rt,
                header: t.text.to_string(),
                index: i,
            });
        }
        if t.text.is_empty() || t.field == Some(Field::RequestType) {
            let b = probes.at(r + 1, i);
            if b.field.is_none()
                && !b.text.is_empty()
                && let Some(rt) = RequestType::parse(&b.text)
            {
                below.push(GridColumn {
                    request_type: rt,
                    header: b.text.to_string(),
                    index: i,
                });
            }
        }
    }
    if top.len() >= 2 {
        (top, false)
    } else if below.len() >= 2 {
        (below, true)
    } else {
        (Vec::new(), false)
    }
}

/// A grid cell that chooses its column: `x`, `X`, `✓`, `1`... anything but blank, `0` or "không".
fn is_mark(cell: &Cell) -> bool {
    if cell.is_empty() {
        return false;
    }
    let f = fold(&cell.display());
    !matches!(f.as_str(), "0" | "-" | "khong" | "k")
}

/// The recognised columns of row `r`, completed by row `r + 1` where a merged group header
/// stands over sub-headers.
fn columns_at(probes: &Probes, r: usize) -> Vec<Column> {
    let width = probes.width(r).max(probes.width(r + 1));
    let mut columns: Vec<Column> = Vec::new();
    for i in 0..width {
        let top = probes.at(r, i);
        let below = probes.at(r + 1, i);
        // "Ngày sinh" merged over "Nam" and "Nữ": the date is in whichever is filled.
        let birth_group = top.field == Some(Field::BirthDate)
            || (top.text.is_empty()
                && columns
                    .last()
                    .is_some_and(|c| c.field == Field::BirthDate && c.index + 1 == i));
        if birth_group && matches!(fold(&below.text).as_str(), "nam" | "nu") {
            let group = columns
                .last()
                .filter(|c| c.field == Field::BirthDate && top.text.is_empty())
                .map_or(top.text.to_string(), |c| {
                    c.header.split(" (").next().unwrap_or("").to_string()
                });
            columns.push(Column {
                field: Field::BirthDate,
                header: format!("{group} ({})", below.text),
                index: i,
            });
            continue;
        }
        let field = top
            .field
            .map(|f| (f, &top.text))
            .or_else(|| below.field.map(|f| (f, &below.text)));
        if let Some((field, header)) = field {
            columns.push(Column {
                field,
                header: header.to_string(),
                index: i,
            });
        }
    }
    columns
}

/// True when some columns took their header from the row below (a two-row header).
fn uses_next_row(probes: &Probes, r: usize, columns: &[Column]) -> bool {
    columns
        .iter()
        .any(|c| probes.at(r, c.index).text != c.header)
}

/// The rows of a table, blank rows, a numbering row and the footer skipped.
pub fn rows(sheet: &Sheet, table: &Table) -> Vec<RawRow> {
    let key_fields = [
        Field::FullName,
        Field::FamilyMiddleName,
        Field::GivenName,
        Field::IdNumber,
        Field::IdCombined,
        Field::Email,
    ];
    let hidden: std::collections::HashSet<u32> = sheet.hidden_rows.iter().copied().collect();
    let headers: Vec<Arc<str>> = table
        .columns
        .iter()
        .map(|c| Arc::from(c.header.as_str()))
        .collect();
    let grid_headers: Arc<[String]> = table.grid.iter().map(|g| g.header.clone()).collect();
    let mut out = Vec::new();
    for (i, row) in sheet.rows.iter().enumerate().skip(table.header_row + 1) {
        let cells: Vec<RawCell> = table
            .columns
            .iter()
            .zip(&headers)
            .map(|(c, header)| RawCell {
                field: c.field,
                header: header.clone(),
                cell: row.get(c.index).cloned().unwrap_or(Cell::Empty),
            })
            .collect();
        if is_footer(row) {
            break;
        }
        if is_numbering_row(row) {
            continue;
        }
        let has_key = cells
            .iter()
            .any(|c| key_fields.contains(&c.field) && !c.cell.is_empty());
        if !has_key {
            continue;
        }
        let excel_row = sheet.first_row + i as u32;
        let raw = RawRow {
            sheet: sheet.name.clone(),
            row: excel_row + 1,
            cells,
            sheet_type: table.sheet_type,
            grid_headers: grid_headers.clone(),
            hidden: hidden.contains(&excel_row),
        };
        let marked: Vec<RequestType> = table
            .grid
            .iter()
            .filter(|g| row.get(g.index).is_some_and(is_mark))
            .map(|g| g.request_type)
            .collect();
        if marked.is_empty() {
            out.push(raw);
        } else {
            // A row marked in two columns asks for both.
            for t in marked {
                out.push(RawRow {
                    sheet_type: Some(t),
                    ..raw.clone()
                });
            }
        }
    }
    out
}

/// A signature block or closing line after the table.
fn is_footer(row: &[Cell]) -> bool {
    const MARKS: [&str; 9] = [
        "nguoi lap",
        "thu truong",
        "hieu truong",
        "giam doc",
        "ky, dong dau",
        "ky ten",
        "xac nhan cua",
        "truong phong",
        "ngay thang nam",
    ];
    let count = row.iter().filter(|c| !c.is_empty()).count();
    if count == 0 || count > 3 {
        return false;
    }
    row.iter().filter(|c| !c.is_empty()).any(|c| {
        let t = fold(&c.display());
        MARKS.iter().any(|m| {
            t.starts_with(m) || t.match_indices('(').any(|(i, _)| t[i + 1..].starts_with(m))
        })
    })
}

/// The "(1) (2) (3)" or "1 2 3" line some templates put under the header.
fn is_numbering_row(row: &[Cell]) -> bool {
    // Cheap first look: the first filled cell must be "1" or "(1)".
    match row.iter().find(|c| !c.is_empty()) {
        Some(Cell::Number(n)) if *n == 1.0 => {}
        Some(Cell::Text(t)) if matches!(t.trim(), "1" | "(1)") => {}
        _ => return false,
    }
    // Every filled cell must be the next number, and there must be three at least. Each cell is
    // looked at only while the numbers hold (this row is often the first row of the list).
    let mut n = 0;
    for c in row.iter().filter(|c| !c.is_empty()) {
        n += 1;
        let is_n = |t: &str| t.trim().trim_matches(['(', ')']).parse::<usize>().ok() == Some(n);
        let numbered = match c {
            Cell::Text(t) => is_n(t),
            // Shown as dd/mm/yyyy: never a number.
            Cell::Date(_) => false,
            other => is_n(&other.display()),
        };
        if !numbered {
            return false;
        }
    }
    n >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.into())
        }
    }

    fn sheet(rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: "DS".into(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| t(s)).collect())
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn header_is_found_below_a_title_block_and_rows_stop_at_the_footer() {
        let s = sheet(&[
            &["SỞ GIÁO DỤC VÀ ĐÀO TẠO", "", ""],
            &["DANH SÁCH ĐỀ NGHỊ", "", ""],
            &["STT", "Họ và tên", "Số CCCD", "Chức vụ", "Cột riêng"],
            &["(1)", "(2)", "(3)", "(4)"],
            &["1", "Nguyễn Văn An", "036085001234", "Giáo viên"],
            &["", "", "", ""],
            &["2", "Trần Thị Bình", "036190001234", "Giáo viên"],
            &["", "Người lập biểu", "", "THỦ TRƯỞNG ĐƠN VỊ"],
            &["", "Lê Văn Cường", "", ""],
        ]);
        let table = find(&s).unwrap();
        assert_eq!(table.header_row, 2);
        assert_eq!(table.columns.len(), 4, "the unknown column is ignored");
        let rows = rows(&s, &table);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, 5);
        assert_eq!(rows[1].row, 7);
        assert_eq!(
            rows[1].get(Field::FullName).unwrap().cell,
            t("Trần Thị Bình")
        );
    }

    #[test]
    fn a_two_row_header_takes_sub_headers_from_the_second_row() {
        let s = sheet(&[
            &["STT", "Họ và tên", "Thông tin CCCD", "", "Email công vụ"],
            &["", "", "Số CCCD", "Nơi cấp", ""],
            &[
                "1",
                "Nguyễn Văn An",
                "036085001234",
                "Cục CS",
                "an@namdinh.edu.vn",
            ],
        ]);
        let table = find(&s).unwrap();
        assert_eq!(table.header_row, 1);
        let rows = rows(&s, &table);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].header(Field::IdNumber), "Số CCCD");
        assert_eq!(rows[0].row, 3);
    }

    #[test]
    fn a_sheet_named_after_a_request_type_gives_its_rows_that_type() {
        let mut s = sheet(&[&["STT", "Họ và tên", "Số CCCD"], &["1", "Nguyễn An", "1"]]);
        s.name = "Thu hồi".into();
        assert_eq!(find(&s).unwrap().sheet_type, Some(RequestType::Revoke));
    }

    #[test]
    fn a_sheet_without_recognised_headers_has_no_table() {
        let s = sheet(&[&["Hướng dẫn điền mẫu"], &["1. Ghi đủ họ tên"]]);
        assert!(find(&s).is_none());
    }

    #[test]
    fn an_x_grid_under_a_group_header_gives_each_row_its_marked_types() {
        let s = sheet(&[
            &["STT", "Họ và tên", "Số CCCD", "Nội dung đề nghị", "", ""],
            &["", "", "", "Cấp mới CTS", "Gia hạn", "Thu hồi"],
            &["1", "Nguyễn Văn An", "036085001234", "x", "", ""],
            &["2", "Trần Thị Bình", "036190004321", "", "✓", "X"],
            &["3", "Lê Văn Cường", "036078009876", "", "", ""],
        ]);
        let table = find(&s).unwrap();
        assert_eq!(table.header_row, 1);
        assert_eq!(table.grid.len(), 3);
        assert!(table.columns.iter().all(|c| c.field != Field::RequestType));
        let rows = rows(&s, &table);
        let types: Vec<(u32, Option<RequestType>)> =
            rows.iter().map(|r| (r.row, r.sheet_type)).collect();
        assert_eq!(
            types,
            [
                (3, Some(RequestType::NewCert)),
                (4, Some(RequestType::Renew)),
                (4, Some(RequestType::Revoke)),
                (5, None),
            ]
        );
        assert_eq!(*rows[3].grid_headers, ["Cấp mới CTS", "Gia hạn", "Thu hồi"]);
    }

    #[test]
    fn a_birth_date_over_nam_and_nu_is_read_from_either_column() {
        let s = sheet(&[
            &["STT", "Họ và tên", "Ngày sinh", "", "Số CCCD"],
            &["", "", "Nam", "Nữ", ""],
            &["1", "Trần Thị Bình", "", "01/07/1990", "036190004321"],
        ]);
        let table = find(&s).unwrap();
        let rows = rows(&s, &table);
        assert_eq!(rows.len(), 1);
        let birth = rows[0].get(Field::BirthDate).unwrap();
        assert_eq!(birth.cell, t("01/07/1990"));
        assert_eq!(&*birth.header, "Ngày sinh (Nữ)");
    }

    #[test]
    fn a_blank_row_above_the_header_is_not_taken_for_it() {
        let s = sheet(&[
            &["", "", ""],
            &["STT", "Họ và tên", "Số CCCD", "Nội dung đề nghị", ""],
            &["", "", "", "Cấp mới CTS", "Thu hồi"],
            &["1", "Nguyễn Văn An", "036085001234", "x", ""],
        ]);
        let table = find(&s).unwrap();
        assert_eq!(
            table.grid.len(),
            2,
            "the grid of the real header row is found"
        );
        assert_eq!(table.header_row, 2);
    }

    #[test]
    fn rows_the_school_hid_are_read_and_marked() {
        let mut s = sheet(&[
            &["STT", "Họ và tên", "Số CCCD"],
            &["1", "Nguyễn Văn An", "036085001234"],
            &["2", "Trần Thị Bình", "036190004321"],
        ]);
        s.hidden_rows = vec![2];
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].hidden, rows[1].hidden), (false, true));
    }
}
