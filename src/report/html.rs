//! `doi-chieu.html`: the workbook's content as one self-contained page (inline CSS, no script,
//! no link to anything) that prints cleanly: A4 landscape, each sheet on new pages, table headers
//! repeated on every page. Every text is escaped, so a school's `=HYPERLINK(...)` is just text.

use std::fmt::Write as _;
use std::io::Write;

use super::layout::{self, Cell, Table};
use super::{Reconciliation, local_time};
use crate::safe::html;

const STYLE: &str = r#"
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "Times New Roman", "Liberation Serif", serif; font-size: 10pt; margin: 0 8mm; }
h1 { font-size: 14pt; text-align: center; margin: 4mm 0 1mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; }
p.meta { text-align: center; margin: 0 0 4mm; }
section + section { break-before: page; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #444; padding: 1px 3px; vertical-align: top; }
th { background: #ddebf7; font-weight: bold; text-align: center; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.n { text-align: right; }
table.overview { width: auto; margin-bottom: 4mm; }
p.empty { font-style: italic; }
@media print {
  @page { margin: 8mm; }
  body { margin: 0; font-size: 9pt; }
  table { table-layout: fixed; }
  th, td { padding: 0 1px; line-height: 1.05; overflow-wrap: anywhere; }
  td.nw { white-space: nowrap; overflow-wrap: normal; }
  .np { display: none; }
}
"#;

/// The columns of "Chi tiết" that say where a row came from: on screen, not on paper (the
/// workbook prints them), so a printed page holds 20 rows and more; so are columns empty on
/// every row.
const SOURCE_COLUMNS: [&str; 4] = ["Ngày gửi thư", "Tệp nguồn", "Trang", "Dòng"];

/// Cells this short never wrap in print (codes, dates, numbers): the long texts get the width.
const NO_WRAP_CHARS: usize = 12;

/// The widest a wrapped column gets, in units (about 30 characters; a longer text takes
/// more lines).
const MAX_WRAP: usize = 1400;

/// A cell's padding and border, in units.
const CELL_PADDING: usize = 60;

/// The printed width of `text` in units (the sum of [`char_units`]; the page measures its cells
/// in [`Measure::add`]).
#[cfg(test)]
fn units(text: &str) -> usize {
    text.chars().map(char_units).sum()
}

/// One character's printed width in hundredths of an em (the page's units), as Times sets it,
/// near enough for shares of the page: capitals and digits are wider than small letters, a
/// space narrower. ASCII and Vietnamese letters are told by their code (the Unicode tables are
/// slow, and a report measures every cell of every table).
fn char_units(c: char) -> usize {
    let (upper, letter) = match c as u32 {
        0x20 => return 25,
        0x40 | 0x4D | 0x57 | 0x6D | 0x77 => return 90, // @ M W m w
        0x30..=0x39 => return 50,
        0x41..=0x5A => (true, true),
        0x61..=0x7A => (false, true),
        0..=0x7F => (false, false),
        // Latin-1 letters: capitals before ß, small letters after; × and ÷ are not letters.
        0xD7 | 0xF7 => (false, false),
        0xC0..=0xDE => (true, true),
        0xDF..=0xFF => (false, true),
        // Vietnamese's own letters (Latin Extended Additional): capital, small, in turn.
        n @ 0x1EA0..=0x1EF9 => (n % 2 == 0, true),
        // Ă ă Đ đ Ĩ ĩ Ũ ũ Ơ ơ Ư ư and other Latin Extended-A/B letters.
        _ => (c.is_uppercase(), c.is_alphabetic()),
    };
    match (upper, letter) {
        (true, _) => 68,
        (false, true) => 46,
        (false, false) => 33,
    }
}

/// Each word of `text` (split at whitespace): its width in units and its characters.
fn words(text: &str) -> Vec<(usize, usize)> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .fold((0, 0), |(u, n), c| (u + char_units(c), n + 1))
        })
        .collect()
}

/// [`two_line_width_of`] a text's [`words`].
#[cfg(test)]
fn two_line_width(text: &str) -> usize {
    two_line_width_of(&words(text))
}

/// The narrowest line (in units) on which a text of these [`words`], broken at one of its
/// spaces, takes two lines at most.
fn two_line_width_of(words: &[(usize, usize)]) -> usize {
    let space = char_units(' ');
    // One long word (an address, a serial) breaks anywhere in print: in two halves.
    if let [(units, chars)] = words
        && *chars > NO_WRAP_CHARS
    {
        return units.div_ceil(2) + char_units('m');
    }
    let total = words.iter().map(|(u, _)| u).sum::<usize>() + words.len().saturating_sub(1) * space;
    let mut first = 0;
    let mut best = total;
    for (i, (u, _)) in words.iter().enumerate().take(words.len().saturating_sub(1)) {
        first += u + if i > 0 { space } else { 0 };
        // The first line ends after word i; the second holds the rest and its spaces.
        best = best.min(first.max(total - first - space));
    }
    best
}

fn cell(out: &mut dyn Write, c: &Cell, class: &str) -> std::io::Result<()> {
    match c {
        Cell::Empty if class.is_empty() => out.write_all(b"<td></td>"),
        Cell::Empty => write!(out, "<td class=\"{class}\"></td>"),
        Cell::Number(n) => write!(out, "<td class=\"n {class}\">{n}</td>"),
        Cell::Text(s) if class.is_empty() => write!(out, "<td>{}</td>", html(s)),
        Cell::Text(s) => write!(out, "<td class=\"{class}\">{}</td>", html(s)),
    }
}

/// What [`classes`] needs of a column, measured in one pass over its cells.
#[derive(Clone, Default)]
struct Measure {
    /// The longest cell, in characters.
    longest: usize,
    /// The widest word of 12 characters or fewer, of the header or a cell, in units.
    word: usize,
    /// The widest cell, in units.
    widest: usize,
    /// The widest of the cells' [`two_line_width_of`].
    two: usize,
}

impl Measure {
    fn add(&mut self, text: &str) {
        let (widest, longest) = text
            .chars()
            .fold((0, 0), |(u, n), c| (u + char_units(c), n + 1));
        self.longest = self.longest.max(longest);
        self.widest = self.widest.max(widest);
        let words = words(text);
        self.add_words(&words);
        self.two = self.two.max(two_line_width_of(&words));
    }

    fn add_words(&mut self, words: &[(usize, usize)]) {
        let word = words
            .iter()
            .filter(|(_, chars)| *chars <= NO_WRAP_CHARS)
            .map(|(u, _)| *u)
            .max()
            .unwrap_or(0);
        self.word = self.word.max(word);
    }
}

/// Each column's print class (`np`: not printed, `nw`: never wrapped, or none) and its share
/// of the printed width: a short column its whole text, a long one the width that wraps each of
/// its cells on two lines, so a row takes two lines and a page holds 20 rows and more. Measured
/// on the rows shown.
fn classes(t: &Table, shown: &[Vec<Cell>]) -> Vec<(&'static str, usize)> {
    let mut measures: Vec<Measure> = t
        .headers
        .iter()
        .map(|h| {
            let mut m = Measure::default();
            m.add_words(&words(h));
            m
        })
        .collect();
    for r in shown {
        for (m, c) in measures.iter_mut().zip(r) {
            m.add(&c.shown());
        }
    }
    t.headers
        .iter()
        .zip(measures)
        .map(|(h, m)| {
            let source =
                t.name == crate::wording::SHEET_DETAIL && SOURCE_COLUMNS.contains(&h.as_str());
            if source || m.longest == 0 {
                ("np", 0)
            } else if m.longest <= NO_WRAP_CHARS {
                ("nw", m.widest.max(m.word) * 21 / 20 + CELL_PADDING)
            } else {
                // A long text on two lines at most: the narrowest width (up to about 30
                // characters) at which every cell of the column breaks into two lines at a space.
                let two = m.two.min(MAX_WRAP);
                ("", two.max(m.word) * 11 / 10 + CELL_PADDING)
            }
        })
        .collect()
}

/// The most rows of one table the page shows: a browser neither opens nor prints a page of a
/// country's 200,000 rows usefully (and writing them was a third of such a report's time); the
/// workbook holds every row.
pub const MAX_PAGE_ROWS: usize = 20_000;

fn table(out: &mut dyn Write, t: &Table, max_rows: usize) -> anyhow::Result<()> {
    write!(
        out,
        "<section data-sheet=\"{}\">\n<h2>{} — {}</h2>\n",
        html(&t.name),
        html(&t.name),
        html(&t.title)
    )?;
    let len = t.len();
    if len == 0 {
        out.write_all("<p class=\"empty\">(Không có dòng nào.)</p>\n</section>\n".as_bytes())?;
        return Ok(());
    }
    // The rows shown (at most `max_rows`, made once), and their widths.
    let shown = t.first_rows(max_rows)?;
    let classes = classes(t, &shown);
    let total: usize = classes.iter().map(|(_, w)| w).sum::<usize>().max(1);
    // The widths on the header cells: with a fixed layout in print they make the columns, and
    // a column not printed takes its width away with it.
    out.write_all(b"<table>\n<thead><tr>")?;
    for (h, (class, w)) in t.headers.iter().zip(&classes) {
        if *class == "np" {
            write!(out, "<th class=\"np\">{}</th>", html(h))?;
        } else {
            let share = *w as f64 * 100.0 / total as f64;
            write!(out, "<th style=\"width:{share:.1}%\">{}</th>", html(h))?;
        }
    }
    out.write_all(b"</tr></thead>\n<tbody>\n")?;
    for r in &shown {
        out.write_all(b"<tr>")?;
        for (i, c) in r.iter().enumerate() {
            cell(out, c, classes.get(i).map_or("", |(class, _)| *class))?;
        }
        out.write_all(b"</tr>\n")?;
    }
    out.write_all(b"</tbody>\n</table>\n")?;
    if len > max_rows {
        writeln!(
            out,
            "<p class=\"more\">Trang này chỉ hiện {} dòng đầu trong {} dòng; xem đủ trong tệp \
             doi-chieu.xlsx, trang “{}”.</p>",
            thousands(max_rows),
            thousands(len),
            html(&t.name)
        )?;
    }
    out.write_all(b"</section>\n")?;
    Ok(())
}

/// 20000 as "20.000", as Vietnamese writes numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    out
}

/// The overview above the sheets ([`layout::overview`]).
fn overview(out: &mut dyn Write, rec: &Reconciliation) -> std::io::Result<()> {
    out.write_all(b"<table class=\"overview\">\n<tbody>\n")?;
    for (label, n) in layout::overview(rec) {
        writeln!(
            out,
            "<tr><th>{}</th><td class=\"n\">{n}</td></tr>",
            html(&label)
        )?;
    }
    out.write_all(b"</tbody>\n</table>\n")
}

/// The campaign's title, or a generic one.
pub fn title(rec: &Reconciliation) -> String {
    if rec.settings.title.is_empty() {
        "Bảng đối chiếu danh sách đề nghị".to_string()
    } else {
        rec.settings.title.clone()
    }
}

/// "Lập lúc 05/12/2022 08:00 — Hạn gửi: 23:59 ngày 17/12/2022".
pub fn made_at(rec: &Reconciliation) -> String {
    let mut meta = format!(
        "Lập lúc {}",
        local_time(&rec.generated_at.to_rfc3339(), &rec.tz)
    );
    if let Some(d) = rec.settings.deadline {
        let _ = write!(meta, " — Hạn gửi: {}", d.format("%H:%M ngày %d/%m/%Y"));
    }
    meta
}

/// The page.
pub fn render(rec: &Reconciliation) -> anyhow::Result<String> {
    let mut out = Vec::new();
    write_to(rec, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// Writes the page into `path`, a table at a time (the page is never held whole).
pub fn write(rec: &Reconciliation, path: &std::path::Path) -> anyhow::Result<()> {
    let written = std::fs::File::create(path)
        .map_err(anyhow::Error::from)
        .and_then(|f| {
            let mut out = std::io::BufWriter::new(f);
            write_to(rec, &mut out)?;
            out.flush()?;
            Ok(())
        });
    written.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The page, into `out`.
pub fn write_to(rec: &Reconciliation, out: &mut dyn Write) -> anyhow::Result<()> {
    let title = title(rec);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        html(&format!("Đối chiếu — {title}"))
    )?;
    writeln!(out, "<section data-sheet=\"tong-quan\">")?;
    if !rec.settings.department.is_empty() {
        writeln!(
            out,
            "<p class=\"meta\">{}</p>",
            html(&rec.settings.department)
        )?;
    }
    writeln!(out, "<h1>BẢNG ĐỐI CHIẾU<br>{}</h1>", html(&title))?;
    writeln!(out, "<p class=\"meta\">{}</p>", html(&made_at(rec)))?;
    overview(out, rec)?;
    out.write_all(b"</section>\n")?;
    for t in layout::sheets(rec) {
        table(out, &t, MAX_PAGE_ROWS)?;
    }
    out.write_all(b"</body>\n</html>\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Table, char_units, table, thousands, two_line_width, units};

    #[test]
    fn a_character_s_width_by_its_code_is_the_one_the_unicode_tables_give() {
        let by_tables = |c: char| match c {
            ' ' => 25,
            '@' | 'm' | 'w' | 'M' | 'W' => 90,
            c if c.is_uppercase() => 68,
            c if c.is_ascii_digit() => 50,
            c if c.is_alphabetic() => 46,
            _ => 33,
        };
        for c in (0..0x3000u32).filter_map(char::from_u32) {
            assert_eq!(char_units(c), by_tables(c), "{c:?} (U+{:04X})", c as u32);
        }
    }
    use crate::report::layout::Cell;

    #[test]
    fn a_table_over_the_page_s_rows_shows_its_first_rows_and_says_where_the_rest_are() {
        let t = Table::of_rows(
            "Chi tiết",
            "Chi tiết",
            vec!["Họ và tên".into()],
            (0..25_000)
                .map(|i| vec![Cell::Text(format!("Người {i}"))])
                .collect(),
        );
        let mut out = Vec::new();
        table(&mut out, &t, 20_000).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out.matches("<tr>").count(),
            20_001,
            "the header and 20,000 rows"
        );
        assert!(out.contains("Người 19999<") && !out.contains("Người 20000<"));
        assert!(
            out.contains("chỉ hiện 20.000 dòng đầu trong 25.000 dòng"),
            "{}",
            &out[out.len() - 300..]
        );
        let mut small = Vec::new();
        table(&mut small, &t, 30_000).unwrap();
        let small = String::from_utf8(small).unwrap();
        assert!(!small.contains("chỉ hiện"));
        assert_eq!(thousands(1_234_567), "1.234.567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn a_text_breaks_into_two_lines_at_its_middle_space() {
        // "Phạm Thị" | "Phương Thảo 3": the second line is the longer.
        assert_eq!(
            two_line_width("Phạm Thị Phương Thảo 3"),
            units("Phương Thảo 3")
        );
        assert_eq!(
            two_line_width("Cục Cảnh sát QLHC về TTXH"),
            units("QLHC về TTXH")
        );
        // A long word breaks anywhere: about half of it a line.
        let half = two_line_width("thaontp10@namdinh.edu.vn");
        assert!(half < units("thaontp10@namdinh.edu.vn") * 2 / 3, "{half}");
        assert_eq!(two_line_width(""), 0);
        assert!(units("TTXH") > units("ttxh"));
    }
}
