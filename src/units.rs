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
}

#[derive(Deserialize)]
struct UnitLine {
    code: String,
    name: String,
    kind: String,
    #[serde(default)]
    emails: String,
}

impl Registry {
    /// Loads and checks the registry CSV (`code,name,kind,emails`, emails separated by `;`).
    pub fn load(path: &Path) -> Result<Registry> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read units registry {}", path.display()))?;
        Registry::parse(&bytes)
            .with_context(|| format!("invalid units registry {}", path.display()))
    }

    /// Parses registry CSV bytes (UTF-8, BOM allowed); every problem names its line.
    pub fn parse(bytes: &[u8]) -> Result<Registry> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let mut units = Vec::new();
        for (i, line) in reader.deserialize::<UnitLine>().enumerate() {
            let line_no = i + 2;
            let line = line.with_context(|| format!("line {line_no}"))?;
            let code = clean(&line.code);
            if code.is_empty() {
                bail!("line {line_no}: empty unit code");
            }
            let emails: Vec<String> = line
                .emails
                .split([';', ','])
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect();
            for e in &emails {
                if !crate::validate::looks_like_address(e) {
                    bail!("line {line_no}: '{e}' is not a mail address");
                }
            }
            units.push(Unit {
                code,
                name: clean(&line.name),
                kind: clean(&line.kind),
                emails,
            });
        }
        Registry::from_units(units)
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
        Ok(Registry {
            units,
            by_code,
            by_email,
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
        for u in &self.units {
            let code = fold(&u.code);
            let name = fold(&u.name);
            let short = strip_kind_prefix(&name);
            let mut spans = word_spans(&folded, &code);
            spans.extend(word_spans(&folded, &name));
            if short.split(' ').count() >= 2 {
                spans.extend(word_spans(&folded, short));
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
