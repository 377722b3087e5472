//! Tables written as markup and often named ".xls": an HTML table (the "Excel export" of web
//! systems) or an XML Spreadsheet 2003. A small tag scanner, forgiving of bad markup: every
//! `<tr>`/`<Row>` is a row, every `<td>`/`<th>`/`<Cell>` a cell, spans are honoured.

use super::{Budget, Cell, Layout, ReadError, Sheet, delimited};

/// True when the text is an HTML table or an XML spreadsheet.
pub(super) fn is_markup(text: &str) -> bool {
    let start = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    if !start.starts_with('<') {
        return false;
    }
    let head: String = start.chars().take(4096).collect::<String>().to_lowercase();
    head.contains("<table")
        || head.contains("<html")
        || head.contains("urn:schemas-microsoft-com:office:spreadsheet")
}

/// One tag: its lower-case name, whether it closes, its attributes.
struct Tag<'a> {
    name: String,
    closing: bool,
    attrs: &'a str,
}

impl Tag<'_> {
    /// The value of an attribute (`ss:Index`, `colspan`...), matched without case.
    fn attr(&self, key: &str) -> Option<String> {
        let lower = self.attrs.to_ascii_lowercase();
        let mut from = 0;
        while let Some(pos) = lower[from..].find(key) {
            let at = from + pos;
            from = at + key.len();
            let before_ok = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
            let rest = lower[from..].trim_start();
            if !before_ok || !rest.starts_with('=') {
                continue;
            }
            let value_start = self.attrs.len() - rest.len() + 1;
            let value = self.attrs[value_start..].trim_start();
            return Some(match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            });
        }
        None
    }

    fn number(&self, key: &str) -> Option<usize> {
        self.attr(key)?.trim().parse().ok()
    }
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{A0}'),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            }?;
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The columns of a row that are read (as many as Excel has).
const MAX_ROW_CELLS: usize = 16_384;

/// A table being built, with the row spans still open per column, within the cells the
/// attachment still allows: every cell a span fills costs one, and so does every row (a
/// `rowspan` times a `colspan` is how 126 KB of HTML asked for 5.8 GB).
#[derive(Default)]
struct Builder {
    rows: Vec<Vec<Cell>>,
    row: Option<Vec<Cell>>,
    cell: Option<(String, usize, usize, bool)>,
    carry: Vec<usize>,
    /// How many entries of `carry` are not 0.
    open: usize,
    hidden_rows: Vec<u32>,
    /// Cells still allowed, and whether more were asked for.
    left: u64,
    over: bool,
    /// Bytes of text read.
    text: u64,
    /// The spans and column widths met (for a copy of the table written anew).
    layout: Layout,
    /// The column the next `<col>`/`<Column>` describes.
    next_col: u32,
}

impl Builder {
    fn new(left: u64) -> Builder {
        Builder {
            left,
            ..Default::default()
        }
    }

    /// Spends one cell; false (and `over`) when none is left.
    fn spend(&mut self) -> bool {
        if self.left == 0 {
            self.over = true;
            return false;
        }
        self.left -= 1;
        true
    }

    fn push(&mut self, cell: Cell) {
        if self.row.as_ref().is_some_and(|r| r.len() >= MAX_ROW_CELLS) || !self.spend() {
            return;
        }
        if let Some(row) = self.row.as_mut() {
            row.push(cell);
        }
    }

    /// Lowers the span carried at column `j`, if any.
    fn step_carry(&mut self, j: usize) -> bool {
        match self.carry.get_mut(j) {
            Some(left) if *left > 0 => {
                *left -= 1;
                if *left == 0 {
                    self.open -= 1;
                }
                true
            }
            _ => false,
        }
    }

    fn fill_spans(&mut self) {
        while !self.over
            && let Some(len) = self.row.as_ref().map(Vec::len)
            && len < MAX_ROW_CELLS
            && self.step_carry(len)
        {
            self.push(Cell::Empty);
        }
    }

    fn start_row(&mut self, hidden: bool, index: Option<usize>) {
        self.end_row();
        if let Some(i) = index {
            while self.rows.len() + 1 < i && self.rows.len() < 100_000 && self.spend() {
                self.rows.push(Vec::new());
            }
        }
        if hidden {
            self.hidden_rows.push(self.rows.len() as u32);
        }
        self.row = Some(Vec::new());
    }

    fn start_cell(&mut self, colspan: usize, rowspan: usize, index: Option<usize>, number: bool) {
        self.end_cell();
        if self.row.is_none() {
            self.start_row(false, None);
        }
        self.fill_spans();
        if let Some(i) = index {
            while !self.over
                && self
                    .row
                    .as_ref()
                    .is_some_and(|r| r.len() + 1 < i.min(MAX_ROW_CELLS))
            {
                self.push(Cell::Empty);
            }
        }
        self.cell = Some((
            String::new(),
            colspan.clamp(1, 256),
            rowspan.clamp(1, 10_000),
            number,
        ));
    }

    fn end_cell(&mut self) {
        let Some((text, colspan, rowspan, number)) = self.cell.take() else {
            return;
        };
        let Some(col) = self.row.as_ref().map(Vec::len) else {
            return;
        };
        if col >= MAX_ROW_CELLS {
            return;
        }
        let text = decode_entities(text.trim());
        let value = text.trim();
        self.text += value.len() as u64;
        self.push(if value.is_empty() {
            Cell::Empty
        } else if number && let Ok(n) = value.parse::<f64>() {
            Cell::Number(n)
        } else {
            Cell::Text(value.to_string())
        });
        let colspan = colspan.min(MAX_ROW_CELLS - col);
        if colspan > 1 || rowspan > 1 {
            let (r, c) = (self.rows.len() as u32, col as u32);
            self.layout.push_merge(
                r,
                c,
                r.saturating_add(rowspan as u32 - 1),
                c + colspan as u32 - 1,
            );
        }
        for _ in 1..colspan {
            self.push(Cell::Empty);
        }
        if self.carry.len() < col + colspan {
            self.carry.resize(col + colspan, 0);
        }
        for c in &mut self.carry[col..col + colspan] {
            match (*c > 0, rowspan > 1) {
                (false, true) => self.open += 1,
                (true, false) => self.open -= 1,
                _ => {}
            }
            *c = rowspan - 1;
        }
    }

    fn end_row(&mut self) {
        self.end_cell();
        if self.row.is_some() {
            self.fill_spans();
            // Columns spanned from above to the right of the last cell (none when no span is
            // open: the row's end is then reached without looking at every column).
            let from = self.row.as_ref().map_or(0, Vec::len);
            let mut j = from;
            while self.open > 0 && j < self.carry.len() && !self.over {
                if self.step_carry(j) {
                    while !self.over && self.row.as_ref().is_some_and(|r| r.len() <= j) {
                        self.push(Cell::Empty);
                    }
                }
                j += 1;
            }
            if self.spend() {
                self.rows.extend(self.row.take());
            }
            self.row = None;
        }
    }
}

/// The offset in `text` of the first `</name` (any case), looked for in one pass.
fn find_closing(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memmem::find_iter(bytes, b"</").find(|&at| {
        bytes
            .get(at + 2..at + 2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// Reads the tables (HTML) or worksheets (XML Spreadsheet) of a markup file, in one pass over
/// the text (whatever the markup, the time it takes grows with its size, not faster).
pub(super) fn read(
    filename: &str,
    bytes: &[u8],
    budget: &mut Budget,
) -> Result<Vec<Sheet>, ReadError> {
    Ok(read_with_layout(filename, bytes, budget)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

/// Each table's merged cells and column widths, by its sheet's name.
pub(super) fn layout(filename: &str, bytes: &[u8]) -> std::collections::HashMap<String, Layout> {
    read_with_layout(filename, bytes, &mut Budget::new())
        .map(|sheets| sheets.into_iter().map(|(s, l)| (s.name, l)).collect())
        .unwrap_or_default()
}

/// [`read`], with each sheet's [`Layout`].
fn read_with_layout(
    filename: &str,
    bytes: &[u8],
    budget: &mut Budget,
) -> Result<Vec<(Sheet, Layout)>, ReadError> {
    let text = delimited::decode_text(bytes)
        .ok_or_else(|| ReadError::Corrupt("the HTML file is not text".into()))?;
    let stem = filename
        .rsplit_once('.')
        .map_or(filename, |(s, _)| s)
        .to_string();
    let mut sheets: Vec<(Sheet, Layout)> = Vec::new();
    let mut b: Option<Builder> = None;
    let mut name = String::new();
    // The cells the tables still may have, and the text they had.
    let mut left = budget.cells();
    let mut text_bytes = 0u64;
    let finish = |b: &mut Option<Builder>,
                  name: &str,
                  sheets: &mut Vec<(Sheet, Layout)>,
                  left: &mut u64,
                  text_bytes: &mut u64| {
        if let Some(mut t) = b.take() {
            t.end_row();
            *left = if t.over { 0 } else { t.left };
            *text_bytes += t.text;
            if t.over {
                return Err(ReadError::TooLarge);
            }
            if t.rows.iter().any(|r| !r.is_empty()) {
                let name = if name.is_empty() {
                    if sheets.is_empty() {
                        stem.clone()
                    } else {
                        format!("{stem} ({})", sheets.len() + 1)
                    }
                } else {
                    name.to_string()
                };
                sheets.push((
                    Sheet {
                        name,
                        rows: t.rows,
                        hidden_rows: t.hidden_rows,
                        ..Default::default()
                    },
                    t.layout,
                ));
            }
        }
        Ok(())
    };
    let spreadsheet_xml = text.contains("urn:schemas-microsoft-com:office:spreadsheet");
    let mut rest = text.as_str();
    while let Some(lt) = rest.find('<') {
        let content = &rest[..lt];
        if let Some(Builder {
            cell: Some((buf, ..)),
            ..
        }) = b.as_mut()
        {
            buf.push_str(content);
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |e| &rest[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let inner = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = inner.starts_with('/');
        let body = inner.trim_start_matches('/');
        let name_end = body
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(body.len());
        let tag_name = body[..name_end].to_ascii_lowercase();
        let tag_name = tag_name.rsplit(':').next().unwrap_or("").to_string();
        let tag = Tag {
            name: tag_name,
            closing,
            attrs: &body[name_end..],
        };
        if b.as_ref().is_some_and(|t| t.over) {
            return Err(ReadError::TooLarge);
        }
        match (tag.name.as_str(), tag.closing) {
            ("script" | "style", false) => {
                rest = find_closing(rest, &tag.name).map_or("", |e| &rest[e..]);
            }
            ("table" | "worksheet", false) => {
                if tag.name == "worksheet" {
                    finish(&mut b, &name, &mut sheets, &mut left, &mut text_bytes)?;
                    name = tag.attr("ss:name").or(tag.attr("name")).unwrap_or_default();
                    name = decode_entities(&name);
                    b = Some(Builder::new(left));
                } else if b.is_none() {
                    b = Some(Builder::new(left));
                }
            }
            ("worksheet", true) => {
                finish(&mut b, &name, &mut sheets, &mut left, &mut text_bytes)?;
                name.clear();
            }
            ("table", true) if !spreadsheet_xml => {
                finish(&mut b, &name, &mut sheets, &mut left, &mut text_bytes)?;
            }
            ("col" | "column", false) => {
                if let Some(t) = b.as_mut() {
                    if let Some(i) = tag.number("ss:index") {
                        t.next_col = (i as u32).saturating_sub(1);
                    }
                    let span = match tag.number("ss:span") {
                        Some(n) => n.saturating_add(1),
                        None => tag.number("span").unwrap_or(1),
                    }
                    .clamp(1, MAX_ROW_CELLS) as u32;
                    // An XML Spreadsheet's widths are in points, an HTML one's in pixels.
                    let pixels = match tag.attr("ss:width") {
                        Some(w) => w.trim().parse::<f64>().ok().map(|pt| pt * 96.0 / 72.0),
                        None => tag
                            .attr("width")
                            .and_then(|w| w.trim().trim_end_matches("px").parse::<f64>().ok()),
                    };
                    if let Some(px) = pixels {
                        let chars = ((px - 5.0) / 7.0).max(0.0);
                        t.layout
                            .push_width(t.next_col, t.next_col.saturating_add(span - 1), chars);
                    }
                    t.next_col = t.next_col.saturating_add(span);
                }
            }
            ("tr" | "row", false) => {
                if let Some(t) = b.as_mut() {
                    let hidden = tag.attr("ss:hidden").is_some_and(|v| v.trim() == "1")
                        || tag
                            .attr("style")
                            .is_some_and(|s| s.to_ascii_lowercase().contains("display:none"));
                    t.start_row(hidden, tag.number("ss:index"));
                }
            }
            ("tr" | "row", true) => {
                if let Some(t) = b.as_mut() {
                    t.end_row();
                }
            }
            ("td" | "th" | "cell", false) => {
                if let Some(t) = b.as_mut() {
                    let colspan = tag
                        .number("colspan")
                        .or_else(|| tag.number("ss:mergeacross").map(|n| n + 1))
                        .unwrap_or(1);
                    let rowspan = tag
                        .number("rowspan")
                        .or_else(|| tag.number("ss:mergedown").map(|n| n + 1))
                        .unwrap_or(1);
                    t.start_cell(colspan, rowspan, tag.number("ss:index"), false);
                }
            }
            ("data", false) => {
                if let Some(Builder {
                    cell: Some((_, _, _, number)),
                    ..
                }) = b.as_mut()
                {
                    *number = tag
                        .attr("ss:type")
                        .is_some_and(|t| t.eq_ignore_ascii_case("number"));
                }
            }
            ("td" | "th" | "cell", true) => {
                if let Some(t) = b.as_mut() {
                    t.end_cell();
                }
            }
            ("br" | "p" | "div", _) => {
                if let Some(Builder {
                    cell: Some((buf, ..)),
                    ..
                }) = b.as_mut()
                {
                    buf.push(' ');
                }
            }
            _ => {}
        }
    }
    finish(&mut b, &name, &mut sheets, &mut left, &mut text_bytes)?;
    let cells = budget.cells() - left;
    budget.take_cells(cells)?;
    budget.take_text(text_bytes)?;
    if sheets.is_empty() {
        return Err(ReadError::Empty);
    }
    Ok(sheets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_table_with_spans_keeps_its_columns_aligned() {
        let html = "<html><body><table>\
            <tr><th rowspan=2>STT</th><th rowspan=\"2\">Họ và tên</th><th colspan=2>CCCD</th></tr>\
            <tr><th>Số CCCD</th><th>Nơi cấp</th></tr>\
            <tr><td>1</td><td>Nguyễn&nbsp;Văn &amp; An</td><td>036085001234</td><td>CA</td></tr>\
            </table></body></html>";
        let s = read("ds.xls", html.as_bytes(), &mut Budget::new()).unwrap();
        assert_eq!(s.len(), 1);
        let rows = &s[0].rows;
        assert_eq!(rows[1][2], Cell::Text("Số CCCD".into()));
        assert_eq!(rows[1][0], Cell::Empty);
        assert_eq!(rows[2][1], Cell::Text("Nguyễn\u{A0}Văn & An".into()));
    }

    #[test]
    fn an_html_tables_spans_and_column_widths_are_its_layout() {
        let html = "<html><body><table><colgroup><col width=\"40\"><col width=\"180px\" span=2></colgroup>\
            <tr><th rowspan=2>STT</th><th rowspan=\"2\">Họ và tên</th><th colspan=2>CCCD</th></tr>\
            <tr><th>Số CCCD</th><th>Nơi cấp</th></tr>\
            <tr><td>1</td><td>An</td><td>036085001234</td><td>CA</td></tr>\
            </table></body></html>";
        let l = &layout("ds.xls", html.as_bytes())["ds"];
        assert_eq!(l.merges, [(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 3)]);
        assert_eq!(l.widths, [(0, 0, 5.0), (1, 2, 25.0)]);
        let xml = r#"<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
<Worksheet ss:Name="DS"><Table><Column ss:Width="30"/><Column ss:Index="3" ss:Span="1" ss:Width="144"/><Row><Cell ss:MergeAcross="2"><Data ss:Type="String">DANH SÁCH</Data></Cell></Row></Table></Worksheet></Workbook>"#;
        let l = &layout("ds.xls", xml.as_bytes())["DS"];
        assert_eq!(l.merges, [(0, 0, 0, 2)]);
        assert_eq!(l.widths.len(), 2);
        assert_eq!((l.widths[1].0, l.widths[1].1), (2, 3));
        assert!((l.widths[1].2 - 26.7).abs() < 0.1, "{:?}", l.widths);
    }

    #[test]
    fn an_xml_spreadsheet_is_read_with_its_sheet_names_and_indexes() {
        let xml = r#"<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
<Worksheet ss:Name="Cấp mới"><Table><Row><Cell><Data ss:Type="String">STT</Data></Cell><Cell ss:Index="3"><Data ss:Type="String">Tên</Data></Cell></Row>
<Row ss:Hidden="1"><Cell><Data ss:Type="Number">1</Data></Cell></Row></Table></Worksheet></Workbook>"#;
        let s = read("ds.xls", xml.as_bytes(), &mut Budget::new()).unwrap();
        assert_eq!(s[0].name, "Cấp mới");
        assert_eq!(s[0].rows[0][2], Cell::Text("Tên".into()));
        assert_eq!(s[0].rows[1][0], Cell::Number(1.0));
        assert_eq!(s[0].hidden_rows, vec![1]);
    }
}
