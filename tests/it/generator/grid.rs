//! A generated workbook before it is written in some format: sheets of cells, merged ranges,
//! hidden rows, and a legacy font on some cells.

use chrono::NaiveDate;

/// A cell as a spreadsheet program would store it.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    E,
    T(String),
    N(f64),
    D(NaiveDate),
    /// Text typed in a TCVN3 font (`.VnTime`): the Western characters stored, the font named.
    Tcvn3(String),
}

impl V {
    pub fn t(s: impl Into<String>) -> V {
        let s = s.into();
        if s.is_empty() { V::E } else { V::T(s) }
    }

    /// The text a CSV or HTML export shows.
    pub fn shown(&self) -> String {
        match self {
            V::E => String::new(),
            V::T(s) | V::Tcvn3(s) => s.clone(),
            V::N(n) => {
                if n.fract() == 0.0 {
                    format!("{}", *n as i64)
                } else {
                    format!("{n}")
                }
            }
            V::D(d) => d.format("%d/%m/%Y").to_string(),
        }
    }
}

/// One sheet: `cells[r][c]`, 0-based.
#[derive(Debug, Clone, Default)]
pub struct GenSheet {
    pub name: String,
    pub cells: Vec<Vec<V>>,
    /// (first row, first column, last row, last column), inclusive.
    pub merges: Vec<(u32, u16, u32, u16)>,
    pub hidden: Vec<u32>,
}

impl GenSheet {
    pub fn new(name: &str) -> GenSheet {
        GenSheet {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Appends a row; returns its 0-based index.
    pub fn push(&mut self, row: Vec<V>) -> u32 {
        self.cells.push(row);
        (self.cells.len() - 1) as u32
    }

    /// The next row's 0-based index.
    pub fn next_row(&self) -> u32 {
        self.cells.len() as u32
    }

    /// A row with one text at column `col` merged over `span` columns.
    pub fn banner(&mut self, col: usize, span: usize, text: V) -> u32 {
        let mut row = vec![V::E; col + span.max(1)];
        row[col] = text;
        let r = self.push(row);
        if span > 1 {
            self.merges
                .push((r, col as u16, r, (col + span - 1) as u16));
        }
        r
    }

    pub fn width(&self) -> usize {
        self.cells.iter().map(Vec::len).max().unwrap_or(0)
    }
}
