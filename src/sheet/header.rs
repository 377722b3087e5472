//! Finding the table in a sheet: the header row is the row (or pair of rows) among the first 300
//! with the most recognised headers (TEMPLATE.md's variants), whatever stands above it: a title
//! block, a whole letter. Under it, each row is a person, the second request of the person above
//! (merged cells), a title, section, total or numbering line, or the footer ("Người lập biểu",
//! "Thủ trưởng đơn vị"...); a second table with its own header row is read with its own columns.
//! A row in doubt is read as a person, so that validation tells the school what it lacks: a row
//! is never dropped silently.

use std::borrow::Cow;
use std::sync::Arc;

use crate::schema::{Field, RequestType};
use crate::text::fold;

use super::{Cell, Sheet};

/// How many rows from the top the header may be found in (a whole letter may stand above it).
pub const HEADER_SEARCH_ROWS: usize = 300;

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

impl Table {
    fn has(&self, field: Field) -> bool {
        self.columns.iter().any(|c| c.field == field)
    }
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
    /// The sheet row of `rows[0]`.
    offset: usize,
}

/// The probe of a cell past the end of a row or of the rows probed: no text, no field.
const NO_PROBE: Probe<'static> = Probe {
    text: Cow::Borrowed(""),
    field: None,
};

impl<'a> Probes<'a> {
    /// Probes rows `from..to` of the sheet; rows are still addressed by their index in the sheet.
    fn new(sheet: &'a Sheet, from: usize, to: usize) -> Probes<'a> {
        let to = to.min(sheet.rows.len());
        let rows = sheet.rows[from.min(to)..to]
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
        Probes { rows, offset: from }
    }

    fn row(&self, r: usize) -> Option<&Vec<Probe<'a>>> {
        r.checked_sub(self.offset).and_then(|r| self.rows.get(r))
    }

    /// The number of cells in row `r` (0 past the rows probed).
    fn width(&self, r: usize) -> usize {
        self.row(r).map_or(0, Vec::len)
    }

    fn at(&self, r: usize, i: usize) -> &Probe<'a> {
        self.row(r).and_then(|row| row.get(i)).unwrap_or(&NO_PROBE)
    }
}

/// Finds the table of a sheet, if any.
pub fn find(sheet: &Sheet) -> Option<Table> {
    // Rows are counted from the top of the sheet, not from the first row in use.
    let limit = sheet
        .rows
        .len()
        .min(HEADER_SEARCH_ROWS.saturating_sub(sheet.first_row as usize));
    find_in(sheet, 0, limit)
}

/// The table whose header row (the one with the most recognised headers) is among rows
/// `from..to`.
fn find_in(sheet: &Sheet, from: usize, to: usize) -> Option<Table> {
    // The best table so far and its number of recognised columns (grid columns included, so
    // that an equal later header does not win).
    let mut best: Option<(Table, usize)> = None;
    // Each candidate row also reads the row below it.
    let probes = Probes::new(sheet, from, to + 1);
    for r in from..to {
        // A blank or title row right above the header borrows every header from below: the
        // header row is the one that has headers of its own (and without one, no row is).
        if probes
            .row(r)
            .is_none_or(|row| row.iter().all(|p| p.field.is_none()))
        {
            continue;
        }
        let columns = columns_at(&probes, r);
        let fields: Vec<Field> = columns.iter().map(|c| c.field).collect();
        let has_name = fields.contains(&Field::FullName)
            || (fields.contains(&Field::FamilyMiddleName) && fields.contains(&Field::GivenName));
        if columns.len() < MIN_RECOGNISED || !has_name {
            continue;
        }
        let (grid, grid_below) = grid_at(&probes, r);
        let mut columns = columns;
        if !grid.is_empty() {
            // The merged group header over the grid is not a type column of its own.
            columns.retain(|c| {
                c.field != Field::RequestType || !grid.iter().any(|g| g.index == c.index)
            });
        }
        // Columns and grid columns: an empty group header over a grid counts as much as a
        // "Nội dung đề nghị" one.
        let score = columns.len() + grid.len();
        if best.as_ref().is_none_or(|(_, b)| score > *b) {
            let header_row = if uses_next_row(&probes, r, &columns) || grid_below {
                r + 1
            } else {
                r
            };
            best = Some((
                Table {
                    header_row,
                    columns,
                    sheet_type: None,
                    grid,
                },
                score,
            ));
        }
    }
    let (mut table, _) = best?;
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

/// A grid cell that chooses its column: `x`, `X`, `✓`, `1`, "có", "đồng ý"... a short mark, not
/// blank, `0` or "không" (a longer text there is some other line's, such as the footer's date).
fn is_mark(cell: &Cell) -> bool {
    if cell.is_empty() {
        return false;
    }
    let f = fold(&cell.display());
    f.chars().count() <= 6 && !matches!(f.as_str(), "0" | "-" | "k" | "khong")
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
        if birth_group
            && matches!(
                crate::schema::fold_header(&below.text).as_str(),
                "nam" | "nu"
            )
        {
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

/// What a line under the header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A person (or a row in doubt: validation says what it lacks).
    Person,
    /// The second request of the person above: the person's cells merged over both rows, only
    /// the type (and maybe the serial) filled in this one.
    MorePerson,
    /// A title, section, total or count line; a row filled only outside the recognised columns;
    /// a template row with only its number.
    Label,
    /// The signature block: what follows is not read, unless it identifies a person.
    Footer,
}

/// Fields whose value identifies a person, besides the name.
const IDENTIFYING: [Field; 6] = [
    Field::IdNumber,
    Field::IdCombined,
    Field::Email,
    Field::Phone,
    Field::BirthDate,
    Field::IdIssueDate,
];

/// Fields that say what is asked.
const REQUEST: [Field; 4] = [
    Field::RequestType,
    Field::CertSerial,
    Field::ChangeDetail,
    Field::Reason,
];

/// The columns a table is read with (the first table's, or a later table's on the same sheet).
struct Layout<'t> {
    table: Cow<'t, Table>,
    headers: Vec<Arc<str>>,
    grid_headers: Arc<[String]>,
}

impl<'t> Layout<'t> {
    fn new(table: Cow<'t, Table>) -> Layout<'t> {
        let headers = table
            .columns
            .iter()
            .map(|c| Arc::from(c.header.as_str()))
            .collect();
        let grid_headers = table.grid.iter().map(|g| g.header.clone()).collect();
        Layout {
            table,
            headers,
            grid_headers,
        }
    }

    fn cells(&self, row: &[Cell]) -> Vec<RawCell> {
        self.table
            .columns
            .iter()
            .zip(&self.headers)
            .map(|(c, header)| RawCell {
                field: c.field,
                header: header.clone(),
                cell: row.get(c.index).cloned().unwrap_or(Cell::Empty),
            })
            .collect()
    }
}

/// The rows of a table: a person per row, the second request of a person over two rows, a later
/// table's rows with its own columns; blank, numbering, code, title, section and total lines and
/// the footer left out. A row in doubt is kept (validation says what it lacks).
pub fn rows(sheet: &Sheet, table: &Table) -> Vec<RawRow> {
    let hidden: std::collections::HashSet<u32> = sheet.hidden_rows.iter().copied().collect();
    let mut layout = Layout::new(Cow::Borrowed(table));
    let mut legend: Option<Legend> = None;
    let mut out: Vec<RawRow> = Vec::new();
    // The person a row of only a type belongs to: the cells of the last person row.
    let mut previous: Option<Vec<RawCell>> = None;
    let mut after_footer = false;
    let mut i = table.header_row + 1;
    while i < sheet.rows.len() {
        let row = &sheet.rows[i];
        i += 1;
        if row.iter().all(Cell::is_empty) {
            continue;
        }
        // A header row holds no ID, address or date (and person rows, which do, are not looked
        // up as headers).
        let identifying = has_identifying_value(row);
        if !identifying
            && looks_like_header(row)
            && let Some(mut next) = find_in(sheet, i - 1, i)
        {
            // A second table on the sheet, with its own header row.
            i = next.header_row + 1;
            if !next.has(Field::RequestType) && next.grid.is_empty() {
                next.sheet_type = table.sheet_type;
            }
            layout = Layout::new(Cow::Owned(next));
            previous = None;
            after_footer = false;
            continue;
        }
        if is_numbering_row(row) || is_code_row(row) {
            continue;
        }
        let mut cells = layout.cells(row);
        let grid = &layout.table.grid;
        let line = classify(row, identifying, &cells, grid);
        if after_footer && !(line == Line::Person && identifying) {
            continue;
        }
        match line {
            Line::Label => continue,
            Line::Footer => {
                after_footer = true;
                previous = None;
                continue;
            }
            Line::MorePerson => {
                if let Some(prev) = &previous {
                    for (c, p) in cells.iter_mut().zip(prev) {
                        if c.cell.is_empty() && c.field != Field::RequestType {
                            c.cell = p.cell.clone();
                        }
                    }
                }
            }
            Line::Person => previous = Some(cells.clone()),
        }
        // A type written as a code (1..7) explained by a legend near the table.
        let type_column = layout.table.has(Field::RequestType);
        for c in cells.iter_mut() {
            let reads_type =
                c.field == Field::RequestType || (c.field == Field::Note && !type_column);
            if reads_type
                && let Some(code) = type_code(&c.cell)
                && let Some(t) = legend.get_or_insert_with(|| Legend::of(sheet)).get(code)
            {
                c.cell = Cell::Text(t.label().to_string());
            }
        }
        let excel_row = sheet.first_row + (i - 1) as u32;
        let raw = RawRow {
            sheet: sheet.name.clone(),
            row: excel_row + 1,
            cells,
            sheet_type: layout.table.sheet_type,
            grid_headers: layout.grid_headers.clone(),
            hidden: hidden.contains(&excel_row),
        };
        let marked: Vec<RequestType> = grid
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

/// What a line under the header is (see [`Line`]); `identifying`: the row holds a value only a
/// person's row holds ([`has_identifying_value`]).
fn classify(row: &[Cell], identifying: bool, cells: &[RawCell], grid: &[GridColumn]) -> Line {
    let filled = |f: Field| cells.iter().any(|c| c.field == f && !c.cell.is_empty());
    let marks: Vec<&Cell> = grid
        .iter()
        .filter_map(|g| row.get(g.index))
        .filter(|c| is_mark(c))
        .collect();
    let request = has_request(cells) || !marks.is_empty();
    // A type that reads as one (not only text in a type column: a footer's line may stand there).
    let typed = !marks.is_empty()
        || cells.iter().any(|c| {
            matches!(c.field, Field::RequestType | Field::Note)
                && (type_code(&c.cell).is_some() || RequestType::parse(&c.cell.display()).is_some())
        });
    let name = name_of(cells);
    // A row with an identifying value is never a footer or a label: its texts are not read.
    if !identifying && let Some(line) = footer_or_label(row, cells, &name, typed) {
        return line;
    }
    let seq = cells
        .iter()
        .find(|c| c.field == Field::Seq && !c.cell.is_empty());
    if !identifying && !request && seq.is_some_and(|c| is_heading_mark(&fold(&c.cell.display()))) {
        // "I" | "CÁN BỘ QUẢN LÝ": a section numbered in the STT column.
        return Line::Label;
    }
    let recognised = cells
        .iter()
        .any(|c| c.field != Field::Seq && !c.cell.is_empty());
    if !recognised && marks.is_empty() {
        // Text only outside the table's columns, or a template row with only its number.
        return Line::Label;
    }
    if name.is_empty() && marks.iter().any(|c| is_count(c)) {
        // Counts under an x-grid.
        return Line::Label;
    }
    let any_identifying = IDENTIFYING.iter().any(|f| filled(*f));
    if !any_identifying && !request && !name.is_empty() {
        let others = cells.iter().any(|c| {
            !c.cell.is_empty()
                && !matches!(
                    c.field,
                    Field::FullName | Field::FamilyMiddleName | Field::GivenName | Field::Seq
                )
        });
        if !others && is_section_name(&name) {
            return Line::Label;
        }
    }
    if name.is_empty() && !any_identifying && seq.is_none() && typed {
        return Line::MorePerson;
    }
    Line::Person
}

/// A row without an identifying value that is a footer ([`Line::Footer`]: not when it holds a
/// type) or a total, title, section or legend line ([`Line::Label`]), by its texts, folded.
fn footer_or_label(row: &[Cell], cells: &[RawCell], name: &str, typed: bool) -> Option<Line> {
    let texts: Vec<String> = row
        .iter()
        .filter(|c| matches!(c, Cell::Text(_)) && !c.is_empty())
        .map(|c| fold(&c.display()))
        .collect();
    if !typed && texts.iter().any(|t| is_footer_text(t)) {
        return Some(Line::Footer);
    }
    // Beside a person's name, what a note, a reason or a position says ("Danh sách bổ sung") does
    // not make the row a title.
    let free_text: Vec<String> = if crate::text::is_plausible_name(name) {
        cells
            .iter()
            .filter(|c| {
                matches!(
                    c.field,
                    Field::Note
                        | Field::Reason
                        | Field::ChangeDetail
                        | Field::Position
                        | Field::UnitName
                ) && !c.cell.is_empty()
            })
            .map(|c| fold(&c.cell.display()))
            .collect()
    } else {
        Vec::new()
    };
    texts
        .iter()
        .filter(|t| !free_text.contains(t))
        .any(|t| is_label_text(t) || !legend_entries(t).is_empty())
        .then_some(Line::Label)
}

/// The name a row gives: the name column, or the split name joined.
fn name_of(cells: &[RawCell]) -> String {
    let get = |f: Field| {
        cells
            .iter()
            .find(|c| c.field == f && !c.cell.is_empty())
            .map(|c| c.cell.display())
    };
    match get(Field::FullName) {
        Some(n) => crate::text::clean(&n),
        None => crate::text::clean(&format!(
            "{} {}",
            get(Field::FamilyMiddleName).unwrap_or_default(),
            get(Field::GivenName).unwrap_or_default()
        )),
    }
}

/// Some cell says what is asked: the type, a serial, a change or a reason, or a note that is a
/// type.
fn has_request(cells: &[RawCell]) -> bool {
    cells.iter().any(|c| {
        !c.cell.is_empty()
            && (REQUEST.contains(&c.field)
                || (c.field == Field::Note
                    && (type_code(&c.cell).is_some()
                        || RequestType::parse(&c.cell.display()).is_some())))
    })
}

/// A number under an x-grid that counts rather than marks: anything above 1.
fn is_count(cell: &Cell) -> bool {
    match cell {
        Cell::Number(n) => *n > 1.0,
        Cell::Text(t) => t.trim().parse::<u32>().is_ok_and(|n| n > 1),
        _ => false,
    }
}

/// Somewhere in the row, a value only a person's row holds: an ID-like number (9 digits or
/// more), an address, a date.
fn has_identifying_value(row: &[Cell]) -> bool {
    row.iter().any(|c| match c {
        Cell::Date(_) => true,
        Cell::Number(n) => *n >= 1e8,
        Cell::Text(t) => {
            if t.contains('@') {
                return true;
            }
            // One pass, ended at the third letter: past it the text is neither an ID-like
            // number nor a date (a name, most often).
            let (mut digits, mut letters) = (0, 0);
            for c in t.chars() {
                if c.is_ascii_digit() {
                    digits += 1;
                } else if c.is_alphabetic() {
                    letters += 1;
                    if letters > 2 {
                        return false;
                    }
                }
            }
            digits >= 9 || looks_like_date(t)
        }
        _ => false,
    })
}

/// Three parts of one to four digits between '/', '.' or '-'.
fn looks_like_date(t: &str) -> bool {
    let mut parts = 0;
    for p in t.trim().split(['/', '.', '-']) {
        parts += 1;
        if parts > 3 || p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    parts == 3
}

/// A row that could be a header row: three cells at least name a column.
fn looks_like_header(row: &[Cell]) -> bool {
    let mut n = 0;
    for c in row {
        if let Cell::Text(t) = c
            && t.len() < 80
            && Field::from_header(&crate::text::cleaned(t)).is_some()
        {
            n += 1;
            if n >= MIN_RECOGNISED {
                return true;
            }
        }
    }
    false
}

/// The words of a folded text ("đ/c" is one).
fn words(t: &str) -> impl Iterator<Item = &str> {
    t.split(|c: char| !c.is_alphanumeric() && c != '/')
        .filter(|w| !w.is_empty())
}

/// A total, count or title line: "Tổng số: 10 đồng chí", "Tổng cộng: 12 người", "Cộng",
/// "(Danh sách có 12 người)", "I. CÁN BỘ QUẢN LÝ", "A. Khối văn phòng" (folded).
fn is_label_text(t: &str) -> bool {
    let t = t.trim_start_matches(['(', '[', '-', '*', ' ']);
    let first = words(t).next().unwrap_or("");
    if matches!(first, "tong" | "cong" | "tc") || t.contains("danh sach") || t.contains("tong so") {
        return true;
    }
    // "12 người", "10 đồng chí", "12 đ/c", "12người".
    let ws: Vec<&str> = words(t).collect();
    let counted = ws.windows(2).any(|w| {
        w[0].chars().all(|c| c.is_ascii_digit())
            && matches!(
                w[1],
                "nguoi" | "dong" | "d/c" | "dc" | "can" | "ho" | "luot"
            )
    }) || ws.iter().any(|w| {
        let digits = w.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && matches!(&w[digits..], "nguoi" | "d/c" | "dc")
    });
    if counted {
        return true;
    }
    // A Roman numeral or a letter, then "." or ")": a section heading.
    let head: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
    let rest = &t[head.len()..];
    !head.is_empty()
        && is_heading_mark(&head)
        && (rest.starts_with(". ") || rest.starts_with(") ") || rest.starts_with(" - "))
}

/// A Roman numeral (I to XX) or one letter (folded): how sections are numbered.
fn is_heading_mark(t: &str) -> bool {
    let t = t.trim().trim_end_matches(['.', ')']);
    (t.len() == 1 && t.chars().all(|c| c.is_ascii_lowercase()))
        || (!t.is_empty() && t.len() <= 5 && t.chars().all(|c| matches!(c, 'i' | 'v' | 'x')))
}

/// A name-column value that names a group, not a person: written in capitals ("GIÁO VIÊN"), or
/// starting with a group's word ("Tổ Toán - Tin", "Khối văn phòng").
fn is_section_name(name: &str) -> bool {
    let letters: Vec<char> = name.chars().filter(|c| c.is_alphabetic()).collect();
    let capitals = letters.len() >= 4 && letters.iter().all(|c| !c.is_lowercase());
    let f = fold(name);
    let first = words(&f).next().unwrap_or("");
    capitals
        || matches!(
            first,
            "to" | "khoi" | "phong" | "ban" | "bo" | "nhom" | "khu" | "cac" | "diem"
        )
        || f.starts_with("can bo")
        || f.starts_with("giao vien")
        || f.starts_with("nhan vien")
}

/// A signature block or closing line after the table (folded): "Người lập biểu", "THỦ TRƯỞNG
/// ĐƠN VỊ (Ký, đóng dấu)", "KT. HIỆU TRƯỞNG", "Nam Định, ngày 10 tháng 12 năm 2022".
fn is_footer_text(t: &str) -> bool {
    const MARKS: [&str; 17] = [
        "nguoi lap",
        "thu truong",
        "hieu truong",
        "giam doc",
        "ky, dong dau",
        "ky ten",
        "ky, ghi ro",
        "ky va ghi ro",
        "ghi ro ho ten",
        "dong dau",
        "xac nhan cua",
        "truong phong",
        "ngay thang nam",
        "ban giam hieu",
        "chu tich",
        "nguoi duyet",
        "ke toan",
    ];
    let t = t.trim();
    let at_word = |m: &str| {
        t.match_indices(m).any(|(i, _)| {
            t[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    };
    if MARKS.iter().any(|m| at_word(m)) || t.starts_with("kt.") || t.starts_with("tm.") {
        return true;
    }
    // "ngày 10 tháng 12 năm 2022", "ngày ... tháng ... năm ..."
    let ws: Vec<&str> = t
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    if ws.windows(3).any(|w| w == ["ngay", "thang", "nam"]) {
        return true;
    }
    // "Ngày 15/12/2022", "Nam Định, ngày 15/12/2022": the date the list was signed.
    let tokens: Vec<&str> = t.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    tokens
        .windows(2)
        .any(|w| w[0] == "ngay" && looks_like_date(w[1]))
}

/// A line of field codes under the header ("full_name", "id_number"; "(1)", "(2)"; "A", "B"):
/// three cells at least, each a short token without spaces.
fn is_code_row(row: &[Cell]) -> bool {
    let mut n = 0;
    for c in row.iter().filter(|c| !c.is_empty()) {
        let t = match c {
            Cell::Text(t) => t.trim().to_string(),
            Cell::Number(x) if x.fract() == 0.0 && (0.0..100.0).contains(x) => {
                super::number_text(*x)
            }
            _ => return false,
        };
        let token = t.len() <= 32
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_()[]./=+".contains(c))
            && t.chars().filter(char::is_ascii_digit).count() < 5;
        if !token {
            return false;
        }
        n += 1;
    }
    n >= 3
}

/// A type written as a code: 1 to 7, as a number or as text ("2", "(2)", "2.").
fn type_code(cell: &Cell) -> Option<u8> {
    match cell {
        Cell::Number(n) if n.fract() == 0.0 && (1.0..=7.0).contains(n) => Some(*n as u8),
        Cell::Text(t) => {
            let t = t.trim().trim_matches(['(', ')', '.', ' ']);
            t.parse::<u8>().ok().filter(|n| (1..=7).contains(n))
        }
        _ => None,
    }
}

/// What the codes 1..7 of a type column mean, from a legend near the table ("1: Cấp mới hòm thư
/// công vụ; 2: Cấp mới chứng thư số ...", or one legend line per code).
struct Legend([Option<RequestType>; 8]);

impl Legend {
    /// The longest cell text looked at: a legend is a line or a paragraph.
    const MAX_CELL: usize = 2000;

    fn of(sheet: &Sheet) -> Legend {
        let mut map = [None; 8];
        for row in &sheet.rows {
            for c in row {
                if let Cell::Text(t) = c
                    && t.len() <= Self::MAX_CELL
                    && t.bytes().any(|b| (b'1'..=b'7').contains(&b))
                {
                    for (code, t) in legend_entries(t) {
                        map[code as usize].get_or_insert(t);
                    }
                }
            }
        }
        Legend(map)
    }

    fn get(&self, code: u8) -> Option<RequestType> {
        self.0.get(code as usize).copied().flatten()
    }
}

/// The "code: type" entries of one text: a digit 1..7 at a word's start, then `:` `.` `=` `)`
/// `-` or `–`, then a request type's spelling (up to the next entry).
fn legend_entries(text: &str) -> Vec<(u8, RequestType)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // Each entry: its code, where it starts, where its text starts (byte offsets).
    let mut starts: Vec<(u8, usize, usize)> = Vec::new();
    for (k, &(at, c)) in chars.iter().enumerate() {
        if !('1'..='7').contains(&c) || (k > 0 && chars[k - 1].1.is_alphanumeric()) {
            continue;
        }
        let mut j = k + 1;
        while j < chars.len() && chars[j].1 == ' ' {
            j += 1;
        }
        if j < chars.len() && matches!(chars[j].1, ':' | '.' | '=' | ')' | '-' | '–') {
            let body = chars.get(j + 1).map_or(text.len(), |&(b, _)| b);
            starts.push((c as u8 - b'0', at, body));
        }
    }
    let mut out = Vec::new();
    for (n, &(code, _, body)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(text.len(), |&(_, at, _)| at);
        if body > end {
            continue;
        }
        let piece = text[body..end].trim_end_matches([';', ',', ' ', '\n']);
        if let Some(t) = RequestType::parse(piece) {
            out.push((code, t));
        }
    }
    out
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
    fn an_identifying_value_is_an_id_like_number_an_address_or_a_date_and_not_a_name() {
        let text = |t: &str| has_identifying_value(&[Cell::Text(t.into())]);
        for t in [
            "036080001234",
            "CC 036080001234",
            "0912 345 678 9",
            "12/05/1980",
            "1-1-2000",
            "1980.05.12",
            "vana@namdinh.edu.vn",
            "Nguyễn Văn A, a@b",
        ] {
            assert!(text(t), "{t}");
        }
        for t in [
            "Nguyễn Văn A",
            "CCCD036080001234",
            "Tổng số: 123456789",
            "12/05",
            "1.2.3.4",
            "12//1980",
            "",
        ] {
            assert!(!text(t), "{t}");
        }
        assert!(has_identifying_value(&[
            Cell::Text("Nguyễn Văn A".into()),
            Cell::Number(36080001234.0)
        ]));
        assert!(!has_identifying_value(&[Cell::Number(12.0)]));
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

    /// The names of the rows read, with their types as a grid or sheet gives them.
    fn names(rows: &[RawRow]) -> Vec<(u32, String)> {
        rows.iter()
            .map(|r| {
                (
                    r.row,
                    r.get(Field::FullName)
                        .map(|c| c.cell.display())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    const HEAD: &[&str] = &["STT", "Họ và tên", "Số CCCD", "Nội dung đề nghị"];

    #[test]
    fn lines_under_the_table_read_as_a_person_are_totals_counts_and_signatures() {
        for total in [
            &["", "Tổng số: 10 đồng chí", "", ""][..],
            &["", "Tổng cộng: 12 người", "", ""],
            &["Cộng", "", "12 đ/c", ""],
            &["", "(Danh sách có 12 người)", "", ""],
            &["", "TỔNG CỘNG", "", ""],
        ] {
            let s = sheet(&[
                HEAD,
                &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
                total,
                &["", "", "", "Xuân Trường, ngày 15 tháng 12 năm 2022"],
                &["", "Người lập biểu", "", "THỦ TRƯỞNG ĐƠN VỊ"],
                &["", "(Ký, ghi rõ họ tên)", "", "(Ký, đóng dấu)"],
                &["", "Trần Thị Hoa", "", "Nguyễn Văn Bình"],
            ]);
            let rows = rows(&s, &find(&s).unwrap());
            assert_eq!(
                names(&rows),
                [(2, "Nguyễn Văn An".to_string())],
                "{total:?}"
            );
        }
    }

    #[test]
    fn signature_names_in_the_name_column_under_a_chief_s_title_are_not_persons() {
        let s = sheet(&[
            HEAD,
            &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
            &["", "Ngày 15/12/2022", "", ""],
            &["", "KT. HIỆU TRƯỞNG", "", ""],
            &["", "PHÓ HIỆU TRƯỞNG", "", ""],
            &["", "Lê Văn Cường", "", ""],
        ]);
        assert_eq!(rows(&s, &find(&s).unwrap()).len(), 1);
    }

    #[test]
    fn section_rows_inside_the_table_are_not_persons() {
        let s = sheet(&[
            HEAD,
            &["I. CÁN BỘ QUẢN LÝ", "", "", ""],
            &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
            &["II", "GIÁO VIÊN", "", ""],
            &["1", "Trần Thị Bình", "036190004321", "Gia hạn"],
            &["", "A. Khối văn phòng", "", ""],
            &["1", "Lê Văn Cường", "036078009876", "Thu hồi"],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(
            names(&rows).iter().map(|(r, _)| *r).collect::<Vec<_>>(),
            [3, 5, 7]
        );
    }

    #[test]
    fn a_second_table_on_the_same_sheet_is_read_with_its_own_header_row() {
        let s = sheet(&[
            HEAD,
            &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
            &[],
            &["DANH SÁCH ĐỀ NGHỊ THU HỒI", "", "", ""],
            &["STT", "Số CCCD", "Họ và tên", "Lý do"],
            &["1", "036190004321", "Trần Thị Bình", "Nghỉ hưu"],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(
            names(&rows),
            [
                (2, "Nguyễn Văn An".to_string()),
                (6, "Trần Thị Bình".to_string())
            ]
        );
        assert_eq!(
            rows[1].get(Field::IdNumber).unwrap().cell,
            t("036190004321")
        );
    }

    #[test]
    fn a_header_far_down_under_a_letter_is_found() {
        let mut grid: Vec<Vec<&str>> =
            vec![vec!["Kính gửi: Sở Giáo dục và Đào tạo"]; 31];
        grid.push(HEAD.to_vec());
        grid.push(vec!["1", "Nguyễn Văn An", "036085001234", "Cấp mới"]);
        let refs: Vec<&[&str]> = grid.iter().map(Vec::as_slice).collect();
        let s = sheet(&refs);
        let table = find(&s).expect("the header at row 32 is found");
        assert_eq!(table.header_row, 31);
        assert_eq!(
            names(&rows(&s, &table)),
            [(33, "Nguyễn Văn An".to_string())]
        );
    }

    #[test]
    fn a_hidden_row_of_field_codes_under_the_header_is_not_a_person() {
        for codes in [
            &["seq", "full_name", "id_number", "request_type"][..],
            &["(1)", "(2)", "(3)", "(4)"],
            &["A", "B", "C", "D"],
        ] {
            let mut s = sheet(&[
                HEAD,
                codes,
                &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
            ]);
            s.hidden_rows = vec![1];
            let rows = rows(&s, &find(&s).unwrap());
            assert_eq!(
                names(&rows),
                [(3, "Nguyễn Văn An".to_string())],
                "{codes:?}"
            );
        }
    }

    #[test]
    fn one_person_over_two_rows_makes_a_second_request_of_the_same_person() {
        let s = sheet(&[
            &[
                "STT",
                "Họ và tên",
                "Số CCCD",
                "Nội dung đề nghị",
                "Số serial",
            ],
            &[
                "1",
                "Nguyễn Văn An",
                "036085001234",
                "Khôi phục",
                "540101AB",
            ],
            &["", "", "", "Gia hạn", ""],
            &["2", "Trần Thị Bình", "036190004321", "Cấp mới", ""],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].row, 3);
        assert_eq!(
            rows[1].get(Field::FullName).unwrap().cell,
            t("Nguyễn Văn An")
        );
        assert_eq!(
            rows[1].get(Field::IdNumber).unwrap().cell,
            t("036085001234")
        );
        assert_eq!(rows[1].get(Field::CertSerial).unwrap().cell, t("540101AB"));
        assert_eq!(rows[1].get(Field::RequestType).unwrap().cell, t("Gia hạn"));
    }

    #[test]
    fn a_row_in_doubt_is_read_so_the_school_sees_what_it_lacks() {
        let s = sheet(&[
            HEAD,
            &["1", "Nguyễn Văn An", "036085001234", "Cấp mới"],
            // A number, an ID, but no name: not a title, not a second request.
            &["2", "", "036190004321", "Gia hạn"],
            // A name alone.
            &["3", "Lê Văn Cường", "", ""],
            // Only the number of a template row: left out.
            &["4", "", "", ""],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(
            rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            [2, 3, 4],
            "rows 3 and 4 are kept for validation to name what they lack"
        );
    }

    #[test]
    fn type_codes_are_read_through_a_legend_above_or_below_the_table() {
        for (legend_first, legend) in [
            (
                true,
                vec![
                    "Mã: 1: Cấp mới hòm thư công vụ; 2: Cấp mới chứng thư số; 5 - Thu hồi chứng thư số",
                ],
            ),
            (
                false,
                vec![
                    "1 - Cấp mới hòm thư công vụ",
                    "2 = Cấp mới chứng thư số",
                    "5. Thu hồi chứng thư số",
                ],
            ),
        ] {
            let mut grid: Vec<Vec<&str>> = Vec::new();
            let lines: Vec<Vec<&str>> = legend.iter().map(|l| vec!["", *l]).collect();
            if legend_first {
                grid.extend(lines.clone());
            }
            grid.push(HEAD.to_vec());
            grid.push(vec!["1", "Nguyễn Văn An", "036085001234", "2"]);
            grid.push(vec!["2", "Trần Thị Bình", "036190004321", "5"]);
            if !legend_first {
                grid.extend(lines);
            }
            let refs: Vec<&[&str]> = grid.iter().map(Vec::as_slice).collect();
            let s = sheet(&refs);
            let rows = rows(&s, &find(&s).unwrap());
            let types: Vec<Option<RequestType>> = rows
                .iter()
                .map(|r| RequestType::parse(&r.get(Field::RequestType).unwrap().cell.display()))
                .collect();
            assert_eq!(
                types,
                [Some(RequestType::NewCert), Some(RequestType::Revoke)],
                "legend first: {legend_first}"
            );
        }
    }

    #[test]
    fn of_two_equal_headers_over_x_grids_the_first_is_the_table() {
        // The first grid's group header is empty, the second's "Nội dung đề nghị".
        let first: &[&str] = &["STT", "Họ và tên", "Số CCCD", "", ""];
        let head: &[&str] = &["STT", "Họ và tên", "Số CCCD", "Nội dung đề nghị", ""];
        let sub: &[&str] = &["", "", "", "Cấp mới CTS", "Thu hồi"];
        let s = sheet(&[
            first,
            sub,
            &["1", "Nguyễn Văn An", "036085001234", "x", ""],
            &[],
            head,
            sub,
            &["1", "Trần Thị Bình", "036190004321", "", "x"],
        ]);
        let table = find(&s).unwrap();
        assert_eq!(table.header_row, 1);
        assert_eq!(rows(&s, &table).len(), 2, "both tables are read");
    }

    #[test]
    fn a_footer_line_in_a_grid_or_serial_column_is_not_a_request() {
        let s = sheet(&[
            &[
                "STT",
                "Họ và tên",
                "Số CCCD",
                "Cấp mới CTS",
                "Gia hạn",
                "Serial",
            ],
            &["1", "Nguyễn Văn An", "036085001234", "x", "", ""],
            &["", "", "", "", "Xuân Trường, ngày 15 tháng 12 năm 2022", ""],
            &["", "", "", "", "", "Ngày 15/12/2022"],
            &["", "Người lập biểu", "", "", "GIÁM ĐỐC", ""],
            &["", "Trần Thị Hoa", "", "", "Nguyễn Văn Bình", ""],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(names(&rows), [(2, "Nguyễn Văn An".to_string())]);
    }

    #[test]
    fn nam_and_nu_under_a_birth_date_are_read_in_capitals_or_decorated() {
        let s = sheet(&[
            &["STT", "Họ và tên", "Ngày sinh", "", "Số CCCD"],
            &["", "", "NAM", "Nữ (*)", ""],
            &["1", "Trần Thị Bình", "", "01/07/1990", "036190004321"],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(rows[0].get(Field::BirthDate).unwrap().cell, t("01/07/1990"));
    }

    #[test]
    fn a_person_without_an_id_whose_note_mentions_the_list_is_still_read() {
        let s = sheet(&[
            &["STT", "Họ và tên", "Số CCCD", "Nội dung đề nghị", "Ghi chú"],
            &["1", "Nguyễn Văn An", "036085001234", "Cấp mới", ""],
            &["2", "Trần Thị Bình", "", "", "Danh sách bổ sung"],
        ]);
        let rows = rows(&s, &find(&s).unwrap());
        assert_eq!(
            rows.len(),
            2,
            "the second row is kept for validation to name what it lacks"
        );
    }
}
