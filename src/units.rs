//! The units registry: which school, centre or office a sender's address belongs to.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::text::{clean, fold};

/// A registered unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Short stable code (`THPT-LHP`), used in every report.
    pub code: String,
    /// The unit's full name as the department writes it.
    pub name: String,
    /// THPT, TT GDTX, Phòng GD&ĐT, office of the Sở...
    pub kind: String,
    /// Registered addresses, lower case: mail from them is trusted as the unit's.
    pub emails: Vec<String>,
}

/// The registry, indexed by code and by address.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    units: Vec<Unit>,
    by_code: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    /// Each unit's code and name folded, in `units` order: a text is matched against every unit
    /// for each mail and row, so they are folded once, when the registry is built.
    folded: Vec<FoldedUnit>,
}

/// A unit's code and name as [`Registry::candidates`] matches them.
#[derive(Debug, Clone)]
struct FoldedUnit {
    code: String,
    name: String,
    /// Where the name without its kind ("trường THPT ...") starts, when what is left has two
    /// words or more (a single word alone names too much).
    short_at: Option<usize>,
}

impl FoldedUnit {
    fn of(u: &Unit) -> FoldedUnit {
        let name = fold(&u.name);
        let short = strip_kind_prefix(&name);
        let short_at = (short.split(' ').count() >= 2).then(|| name.len() - short.len());
        FoldedUnit {
            code: fold(&u.code),
            name,
            short_at,
        }
    }
}

/// The largest registry file `units import` reads (a province has a few hundred units).
pub const MAX_REGISTRY_BYTES: u64 = 8 << 20;
/// The most units a registry file may hold.
pub const MAX_UNITS: usize = 100_000;

/// A problem of a registry file, at its line (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// How strictly a registry file is checked: [`Check::Import`] for a file being installed
/// (every unit a code of letters, digits and `-_.`, a name and an address; codes unique
/// regardless of case), [`Check::Load`] for the installed file the daemon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Load,
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Code,
    Name,
    Kind,
    Emails,
}

impl Column {
    /// The column a header names, in English or Vietnamese, in any case, with or without
    /// diacritics ("Mã đơn vị", "ma don vi", "code").
    fn from_header(header: &str) -> Option<Column> {
        let key: String = fold(header)
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(match key.as_str() {
            "code" | "unit code" | "ma" | "ma don vi" | "ma dv" => Column::Code,
            "name" | "unit name" | "ten" | "ten don vi" | "ten dv" => Column::Name,
            "kind" | "type" | "loai" | "loai don vi" | "loai hinh" => Column::Kind,
            "emails"
            | "email"
            | "e mail"
            | "emails addresses"
            | "addresses"
            | "dia chi email"
            | "dia chi thu"
            | "dia chi thu dien tu"
            | "thu dien tu" => Column::Emails,
            _ => return None,
        })
    }

    fn header(self) -> &'static str {
        match self {
            Column::Code => "code (Mã đơn vị)",
            Column::Name => "name (Tên đơn vị)",
            Column::Kind => "kind (Loại)",
            Column::Emails => "emails (Email)",
        }
    }
}

/// True when a code is one a clerk can type and a report column holds.
fn is_plain_code(code: &str) -> bool {
    code.chars().count() <= 40
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The line a CSV record starts on. The csv crate's own line is where the previous record
/// ended, before any blank lines, so the line is counted from the record's byte position, on
/// from the previous record's (once over the text in all).
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: u64,
}

impl LineCounter {
    fn at(&mut self, text: &str, position: Option<&csv::Position>) -> u64 {
        let bytes = text.as_bytes();
        let mut at = position.map_or(0, |p| p.byte() as usize).min(bytes.len());
        // Skip the line breaks of blank lines (and the one just ended) up to the record.
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        let from = self.byte.min(at);
        self.line += bytes[from..at].iter().filter(|b| **b == b'\n').count() as u64;
        self.byte = at;
        self.line + 1
    }
}

/// Reads a registry file's units with their lines, and every problem found.
fn read_units(bytes: &[u8], check: Check) -> (Vec<(u64, Unit)>, Vec<LineProblem>) {
    let mut problems = Vec::new();
    let mut problem = |line: u64, message: String| problems.push(LineProblem { line, message });
    let mut units: Vec<(u64, Unit)> = Vec::new();
    let Some(table) = crate::sheet::DelimitedText::decode(bytes) else {
        problem(1, "the file is not text: save it from Excel as CSV".into());
        return (units, problems);
    };
    let before = table.lines_before();
    let mut columns: Vec<Option<Column>> = Vec::new();
    let mut header_line = None;
    let mut lines = LineCounter::default();
    for record in table.reader().records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line()) + before;
                problem(line, format!("unreadable CSV: {e}"));
                break;
            }
        };
        let line = lines.at(table.text(), record.position()) + before;
        if record.iter().all(|f| clean(f).is_empty()) {
            continue; // a blank row
        }
        let Some(_) = header_line else {
            header_line = Some(line);
            for field in &record {
                let field = clean(field);
                let column = Column::from_header(&field);
                // An empty header is a column Excel left (ignored, as unknown columns are in the
                // installed file).
                if field.is_empty() {
                } else if column.is_none() && check == Check::Import {
                    problem(
                        line,
                        format!(
                            "unknown column '{field}' (the columns are code, name, kind, emails \
                             or Mã đơn vị, Tên đơn vị, Loại, Email)"
                        ),
                    );
                } else if columns.contains(&column) {
                    problem(line, format!("column '{field}' appears twice"));
                }
                columns.push(column);
            }
            let needed: &[Column] = match check {
                Check::Load => &[Column::Code, Column::Name],
                Check::Import => &[Column::Code, Column::Name, Column::Emails],
            };
            for c in needed {
                if !columns.contains(&Some(*c)) {
                    problem(line, format!("no {} column", c.header()));
                }
            }
            continue;
        };
        if units.len() >= MAX_UNITS {
            problem(line, format!("more than {MAX_UNITS} units"));
            break;
        }
        let field = |c: Column| {
            columns
                .iter()
                .position(|x| *x == Some(c))
                .and_then(|i| record.get(i))
                .map(clean)
                .unwrap_or_default()
        };
        let code = field(Column::Code);
        let name = field(Column::Name);
        if code.is_empty() {
            problem(line, "no unit code".into());
        } else if check == Check::Import && !is_plain_code(&code) {
            problem(
                line,
                format!("unit code '{code}' must be at most 40 letters, digits, '-', '_' or '.'"),
            );
        }
        if check == Check::Import && name.is_empty() {
            problem(line, format!("unit {code} has no name"));
        }
        let emails: Vec<String> = field(Column::Emails)
            .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
            .map(str::to_ascii_lowercase)
            .filter(|e| !e.is_empty())
            .collect();
        for e in &emails {
            if !crate::validate::looks_like_address(e) {
                problem(line, format!("'{e}' is not a mail address"));
            }
        }
        if check == Check::Import && emails.is_empty() && columns.contains(&Some(Column::Emails)) {
            problem(line, format!("unit {code} has no mail address"));
        }
        units.push((
            line,
            Unit {
                code,
                name,
                kind: field(Column::Kind),
                emails,
            },
        ));
    }
    if header_line.is_none() && problems.is_empty() {
        problems.push(LineProblem {
            line: 1,
            message: "the file is empty".into(),
        });
    }
    (units, problems)
}

impl Registry {
    /// Loads and checks the registry CSV (`code,name,kind,emails`, emails separated by `;`).
    pub fn load(path: &Path) -> Result<Registry> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read units registry {}", path.display()))?;
        Registry::parse(&bytes)
            .with_context(|| format!("invalid units registry {}", path.display()))
    }

    /// Parses registry CSV bytes (UTF-8 with or without BOM, or Windows-1258; `,` or `;`;
    /// English or Vietnamese headers); every problem names its line.
    pub fn parse(bytes: &[u8]) -> Result<Registry> {
        let (units, problems) = read_units(bytes, Check::Load);
        if !problems.is_empty() {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!("{}", all.join("; "));
        }
        Registry::from_units(units.into_iter().map(|(_, u)| u).collect())
    }

    /// Parses a registry file being imported, as Excel writes it: every problem at once, each
    /// with its line (a code of letters, digits and `-_.`, unique regardless of case; a name; at
    /// least one valid address, registered to no other unit).
    pub fn parse_import(bytes: &[u8]) -> std::result::Result<Registry, Vec<LineProblem>> {
        let (units, mut problems) = read_units(bytes, Check::Import);
        let mut codes: HashMap<String, u64> = HashMap::new();
        let mut addresses: HashMap<&str, (u64, &str)> = HashMap::new();
        for (line, u) in &units {
            if u.code.is_empty() {
                continue;
            }
            if let Some(first) = codes.insert(u.code.to_lowercase(), *line) {
                codes.insert(u.code.to_lowercase(), first);
                problems.push(LineProblem {
                    line: *line,
                    message: format!(
                        "unit code '{}' is already on line {first} (codes are compared \
                         regardless of case)",
                        u.code
                    ),
                });
            }
            for e in &u.emails {
                match addresses.get(e.as_str()) {
                    Some((first, code)) if *code != u.code => problems.push(LineProblem {
                        line: *line,
                        message: format!(
                            "address {e} is already registered for {code} on line {first}"
                        ),
                    }),
                    Some(_) => problems.push(LineProblem {
                        line: *line,
                        message: format!("address {e} is listed twice"),
                    }),
                    None => {
                        addresses.insert(e, (*line, &u.code));
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        }
        Registry::from_units(units.into_iter().map(|(_, u)| u).collect()).map_err(|e| {
            vec![LineProblem {
                line: 0,
                message: e.to_string(),
            }]
        })
    }

    /// Builds the indexes; a code or an address registered twice is an error.
    pub fn from_units(units: Vec<Unit>) -> Result<Registry> {
        let mut by_code = HashMap::new();
        let mut by_email = HashMap::new();
        for (i, u) in units.iter().enumerate() {
            if by_code.insert(u.code.clone(), i).is_some() {
                bail!("unit code {} is registered twice", u.code);
            }
            for e in &u.emails {
                if let Some(j) = by_email.insert(e.clone(), i) {
                    bail!(
                        "address {e} is registered for both {} and {}",
                        units[j].code,
                        u.code
                    );
                }
            }
        }
        let folded = units.iter().map(FoldedUnit::of).collect();
        Ok(Registry {
            units,
            by_code,
            by_email,
            folded,
        })
    }

    /// Every unit, in registry order.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn by_code(&self, code: &str) -> Option<&Unit> {
        self.by_code.get(code).map(|&i| &self.units[i])
    }

    /// The unit that registered `address` (compared in lower case).
    pub fn by_email(&self, address: &str) -> Option<&Unit> {
        self.by_email
            .get(&address.trim().to_ascii_lowercase())
            .map(|&i| &self.units[i])
    }

    /// The unit a text names (a subject, a list's unit column): its code, or its folded name with
    /// or without the kind prefix ("Trường THPT", "Trung tâm"). Only an unambiguous match counts;
    /// where names nest ("THPT Xuân Trường" and "THPT Xuân Trường B"), the most specific wins.
    pub fn infer(&self, text: &str) -> Option<&Unit> {
        match self.candidates(text).as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The units a text names, at word boundaries, the most specific only: a unit whose matched
    /// name lies inside another unit's match ("Xuân Trường" inside "Xuân Trường B") is left out.
    pub fn candidates(&self, text: &str) -> Vec<&Unit> {
        let folded = fold(text);
        if folded.is_empty() {
            return Vec::new();
        }
        // Each hit: the unit and the spans of the text its code or name matched.
        let mut hits: Vec<(&Unit, Vec<(usize, usize)>)> = Vec::new();
        for (u, f) in self.units.iter().zip(&self.folded) {
            let mut spans = word_spans(&folded, &f.code);
            spans.extend(word_spans(&folded, &f.name));
            if let Some(at) = f.short_at {
                spans.extend(word_spans(&folded, &f.name[at..]));
            }
            if !spans.is_empty() {
                hits.push((u, spans));
            }
        }
        let inside = |a: (usize, usize), b: (usize, usize)| {
            b.0 <= a.0 && a.1 <= b.1 && (b.1 - b.0) > (a.1 - a.0)
        };
        let mut out: Vec<&Unit> = hits
            .iter()
            .filter(|(u, spans)| {
                // Kept when some match of it is not inside a longer match of another unit.
                spans.iter().any(|&s| {
                    !hits
                        .iter()
                        .any(|(v, other)| v.code != u.code && other.iter().any(|&o| inside(s, o)))
                })
            })
            .map(|(u, _)| *u)
            .collect();
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out.dedup_by(|a, b| a.code == b.code);
        out
    }

    /// The unit a mail from an unregistered official address is for: the one both its subject
    /// and its list's unit column name; else the subject's, unless the column names one unit
    /// more specific than it ("THPT Xuân Trường C" under a subject saying "THPT Xuân Trường");
    /// else the column's, when the subject names none and the column one.
    pub fn infer_from(&self, subject: &str, unit_column: &[&str]) -> Option<&Unit> {
        let from_subject = self.candidates(subject);
        let mut from_column: Vec<&Unit> = Vec::new();
        for name in unit_column {
            for u in self.candidates(name) {
                if !from_column.iter().any(|c| c.code == u.code) {
                    from_column.push(u);
                }
            }
        }
        let both: Vec<&Unit> = from_subject
            .iter()
            .copied()
            .filter(|u| from_column.iter().any(|c| c.code == u.code))
            .collect();
        if let [one] = both.as_slice() {
            return Some(one);
        }
        match (from_subject.as_slice(), from_column.as_slice()) {
            ([general], column) => {
                let narrower: Vec<&&Unit> = column.iter().filter(|c| narrows(c, general)).collect();
                match narrower.as_slice() {
                    [one] => Some(one),
                    _ => Some(general),
                }
            }
            ([], [one]) => Some(one),
            _ => None,
        }
    }

    /// Writes the registry as CSV in the canonical layout.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["code", "name", "kind", "emails"])?;
        for u in &self.units {
            w.write_record([&u.code, &u.name, &u.kind, &u.emails.join(";")])?;
        }
        Ok(w.into_inner()?)
    }

    /// Writes the registry to `path` the way `units import` does: a whole new file renamed over
    /// the old one, so a reader (the daemon reloading it) never sees half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, self.to_csv()?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    }

    /// The registry with `unit` added, or put in place of the unit of the same code; checked as
    /// a loaded file is (a code, addresses that look like addresses, none registered twice).
    pub fn with_unit(&self, unit: Unit) -> Result<Registry> {
        let unit = Unit {
            code: clean(&unit.code),
            name: clean(&unit.name),
            kind: clean(&unit.kind),
            emails: unit
                .emails
                .iter()
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        };
        if unit.code.is_empty() {
            bail!("empty unit code");
        }
        // A new code is one a clerk can type and a report column holds; codes already in the
        // file stay as they are.
        if self.by_code(&unit.code).is_none()
            && (unit.code.chars().count() > 40
                || !unit
                    .code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            bail!(
                "unit code '{}' must be at most 40 letters, digits, '-', '_' or '.'",
                unit.code
            );
        }
        if unit.name.is_empty() {
            bail!("unit {} has no name", unit.code);
        }
        // As `units import` checks a file: codes unique whatever their case, an address each.
        if let Some(other) = self
            .units
            .iter()
            .find(|u| u.code != unit.code && u.code.eq_ignore_ascii_case(&unit.code))
        {
            bail!(
                "unit code '{}' is already the code of {} (codes are the same whatever their case)",
                unit.code,
                other.code
            );
        }
        if unit.emails.is_empty() {
            bail!("unit {} has no mail address", unit.code);
        }
        for e in &unit.emails {
            if !crate::validate::looks_like_address(e) {
                bail!("'{e}' is not a mail address");
            }
        }
        let mut units = self.units.clone();
        match units.iter_mut().find(|u| u.code == unit.code) {
            Some(u) => *u = unit,
            None => units.push(unit),
        }
        Registry::from_units(units)
    }

    /// The registry with `address` registered for the unit `code` as well (nothing changes when
    /// it is already).
    pub fn with_address(&self, code: &str, address: &str) -> Result<Registry> {
        let Some(unit) = self.by_code(code) else {
            bail!("no unit has the code {code}");
        };
        let address = address.trim().to_ascii_lowercase();
        let mut unit = unit.clone();
        if !unit.emails.contains(&address) {
            unit.emails.push(address);
        }
        self.with_unit(unit)
    }
}

/// What installing a registry changes, by unit code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    /// Each changed unit with the fields that changed (`name`, `kind`, `emails`).
    pub changed: Vec<(String, Vec<&'static str>)>,
    pub removed: Vec<String>,
}

impl Changes {
    /// What `new` changes of `old`, in registry order (the removed in `old`'s order).
    pub fn between(old: &Registry, new: &Registry) -> Changes {
        let mut changes = Changes::default();
        for u in new.units() {
            let Some(o) = old.by_code(&u.code) else {
                changes.added.push(u.code.clone());
                continue;
            };
            let sorted = |e: &[String]| {
                let mut e = e.to_vec();
                e.sort();
                e
            };
            let fields: Vec<&'static str> = [
                ("name", o.name != u.name),
                ("kind", o.kind != u.kind),
                ("emails", sorted(&o.emails) != sorted(&u.emails)),
            ]
            .into_iter()
            .filter_map(|(f, differs)| differs.then_some(f))
            .collect();
            if !fields.is_empty() {
                changes.changed.push((u.code.clone(), fields));
            }
        }
        changes.removed = old
            .units()
            .iter()
            .filter(|u| new.by_code(&u.code).is_none())
            .map(|u| u.code.clone())
            .collect();
        changes
    }
}

/// True when `specific`'s name holds `general`'s (without its kind prefix) and more:
/// "Trường THPT Xuân Trường B" narrows "Trường THPT Xuân Trường".
fn narrows(specific: &Unit, general: &Unit) -> bool {
    let outer = fold(&specific.name);
    let inner_name = fold(&general.name);
    let inner = strip_kind_prefix(&inner_name);
    outer.len() > inner_name.len() && !word_spans(&outer, inner).is_empty()
}

fn strip_kind_prefix(name: &str) -> &str {
    for p in [
        "truong thpt chuyen ",
        "truong thpt ",
        "truong ",
        "trung tam ",
        "phong gd&dt ",
    ] {
        if let Some(rest) = name.strip_prefix(p) {
            return rest;
        }
    }
    name
}

/// Where `needle` occurs in `hay` at word boundaries (byte spans).
fn word_spans(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    hay.match_indices(needle)
        .filter(|(i, _)| {
            let before = hay[..*i].chars().next_back();
            let after = hay[i + needle.len()..].chars().next();
            before.is_none_or(|c| !c.is_alphanumeric())
                && after.is_none_or(|c| !c.is_alphanumeric())
        })
        .map(|(i, _)| (i, i + needle.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "code,name,kind,emails\n\
        THPT-LHP,Trường THPT chuyên Lê Hồng Phong,THPT,C3LeHongPhong@namdinh.edu.vn; vanthu.lhp@namdinh.edu.vn\n\
        THPT-NK,Trường THPT Nguyễn Khuyến,THPT,c3nguyenkhuyen@namdinh.edu.vn\n";

    #[test]
    fn a_unit_edited_in_the_desk_is_checked_as_an_import_is() {
        let r = Registry::parse(CSV.as_bytes()).unwrap();
        let unit = |code: &str, emails: &[&str]| Unit {
            code: code.into(),
            name: "Trường THPT Xuân Trường".into(),
            kind: "THPT".into(),
            emails: emails.iter().map(|e| e.to_string()).collect(),
        };
        let err = r
            .with_unit(unit("thpt-lhp", &["c3xuantruong@namdinh.edu.vn"]))
            .unwrap_err();
        assert!(format!("{err}").contains("THPT-LHP"), "{err}");
        let err = r.with_unit(unit("THPT-XT", &[])).unwrap_err();
        assert!(format!("{err}").contains("no mail address"), "{err}");
        let ok = r
            .with_unit(unit("THPT-XT", &["c3xuantruong@namdinh.edu.vn"]))
            .unwrap();
        assert!(ok.by_code("THPT-XT").is_some());
        // Editing a unit under its own code is no clash.
        assert!(
            r.with_unit(unit("THPT-NK", &["c3nguyenkhuyen@namdinh.edu.vn"]))
                .is_ok()
        );
    }

    #[test]
    fn headers_are_known_in_english_and_vietnamese_in_any_case_and_accents() {
        for (header, column) in [
            ("code", Column::Code),
            ("Mã đơn vị", Column::Code),
            ("MÃ ĐƠN VỊ", Column::Code),
            ("ma don vi", Column::Code),
            ("Tên đơn vị", Column::Name),
            ("Loại", Column::Kind),
            ("Email", Column::Emails),
            ("E-mail", Column::Emails),
            ("emails", Column::Emails),
        ] {
            assert_eq!(Column::from_header(header), Some(column), "{header}");
        }
        assert_eq!(Column::from_header("Ghi chú"), None);
    }

    #[test]
    fn problems_name_the_file_lines_blank_and_quoted_multiline_ones_counted() {
        let csv = "sep=;\r\ncode;name;kind;emails\r\n\r\nA;\"Tên\r\nhai dòng\";THPT;a@x.vn\r\n\r\n\r\n;B;THPT;b@x.vn\r\n";
        let problems = Registry::parse_import(csv.as_bytes()).unwrap_err();
        assert_eq!(
            problems,
            [LineProblem {
                line: 8,
                message: "no unit code".into()
            }]
        );
    }

    #[test]
    fn the_installed_file_may_have_more_columns_an_import_may_not() {
        let csv = "code,name,kind,emails,note\nA,Trường A,THPT,a@x.vn,x\n";
        assert_eq!(Registry::parse(csv.as_bytes()).unwrap().units().len(), 1);
        let problems = Registry::parse_import(csv.as_bytes()).unwrap_err();
        assert!(
            problems[0].message.contains("unknown column 'note'"),
            "{problems:?}"
        );
    }

    #[test]
    fn registered_addresses_map_to_units_case_insensitively() {
        let r = Registry::parse(CSV.as_bytes()).unwrap();
        assert_eq!(
            r.by_email("c3lehongphong@NAMDINH.edu.vn").unwrap().code,
            "THPT-LHP"
        );
        assert_eq!(
            r.by_email("vanthu.lhp@namdinh.edu.vn").unwrap().code,
            "THPT-LHP"
        );
        assert!(r.by_email("other@namdinh.edu.vn").is_none());
    }

    #[test]
    fn unit_is_inferred_from_a_subject_only_when_unambiguous() {
        let r = Registry::parse(CSV.as_bytes()).unwrap();
        assert_eq!(
            r.infer("Danh sách CTS - THPT Nguyễn Khuyến").unwrap().code,
            "THPT-NK"
        );
        assert_eq!(
            r.infer("Gửi DS truong le hong phong").unwrap().code,
            "THPT-LHP"
        );
        assert!(r.infer("Danh sách đề nghị").is_none());
    }

    #[test]
    fn an_address_registered_twice_is_refused() {
        let csv = format!("{CSV}X,Y,Z,c3nguyenkhuyen@namdinh.edu.vn\n");
        let err = Registry::parse(csv.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("registered for both"), "{err}");
    }

    #[test]
    fn the_most_specific_of_nested_unit_names_wins() {
        let csv = "code,name,kind,emails\n\
            XT,Trường THPT Xuân Trường,THPT,\n\
            XTB,Trường THPT Xuân Trường B,THPT,\n\
            XTC,Trường THPT Xuân Trường C,THPT,\n";
        let r = Registry::parse(csv.as_bytes()).unwrap();
        assert_eq!(
            r.infer("DS đề nghị CTS THPT Xuân Trường B").unwrap().code,
            "XTB"
        );
        assert_eq!(r.infer("Trường THPT Xuân Trường C").unwrap().code, "XTC");
        assert_eq!(r.infer("Danh sách THPT Xuân Trường").unwrap().code, "XT");
        assert!(
            r.infer("THPT Xuân Trường B và THPT Xuân Trường C")
                .is_none(),
            "two units named"
        );
        assert!(
            r.infer("THPT Xuân Trườngg").is_none(),
            "a word boundary is needed"
        );
    }

    #[test]
    fn the_unit_both_the_subject_and_the_unit_column_name_wins() {
        let csv = "code,name,kind,emails\n\
            XT,Trường THPT Xuân Trường,THPT,\n\
            XTB,Trường THPT Xuân Trường B,THPT,\n\
            XTC,Trường THPT Xuân Trường C,THPT,\n";
        let r = Registry::parse(csv.as_bytes()).unwrap();
        let code =
            |subject: &str, column: &[&str]| r.infer_from(subject, column).map(|u| u.code.clone());
        assert_eq!(
            code("DS CTS trường Xuân Trường", &["THPT Xuân Trường C"]).as_deref(),
            Some("XTC")
        );
        assert_eq!(
            code("DS CTS THPT Xuân Trường B", &["THPT Xuân Trường B"]).as_deref(),
            Some("XTB")
        );
        assert_eq!(
            code("Danh sách đề nghị", &["Trường THPT Xuân Trường B"]).as_deref(),
            Some("XTB")
        );
        assert_eq!(code("DS THPT Xuân Trường", &[]).as_deref(), Some("XT"));
        assert_eq!(
            code("Danh sách", &["THPT Xuân Trường B", "THPT Xuân Trường C"]),
            None
        );
    }
}
