//! `xl/styles.xml` of the school's workbook, with the cell formats the marks need added: each
//! new cell format (`<xf>`) copies the one the cell has (its font, border, number format and
//! alignment) and changes only what the mark is (the fill; for the "Lỗi" cells the font and
//! the wrapping). Nothing already there is changed or renumbered: new fills, fonts and formats
//! go at the end of their lists, whose `count` is updated.

use std::collections::HashMap;
use std::ops::Range;

use anyhow::{Context, Result, bail};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::NOTE_COLOR;

/// The lists of styles.xml that get items: fonts, fills, cell formats.
const LISTS: [&str; 3] = ["fonts", "fills", "cellXfs"];

/// What a derived cell format changes in the one it copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Change {
    /// A wrong cell: the fill only (RGB).
    Fill(u32),
    /// A "Lỗi" cell: wrapped, at the top, in the note colour, as text.
    Note,
    /// The "Lỗi" header: bold and wrapped.
    Header,
}

/// A list of styles.xml (`<fonts>`, `<fills>`, `<cellXfs>`): where its start tag is, where its
/// end tag starts, and its items.
#[derive(Debug, Default)]
struct Section {
    open: Range<usize>,
    close: usize,
    items: Vec<Range<usize>>,
    added: Vec<String>,
}

impl Section {
    fn len(&self) -> usize {
        self.items.len() + self.added.len()
    }
}

/// The workbook's styles, with what the marks add.
pub(super) struct Styles {
    src: String,
    /// The namespace prefix of the elements ("x:" or "").
    prefix: String,
    fonts: Section,
    fills: Section,
    xfs: Section,
    fill_ids: HashMap<u32, usize>,
    font_ids: HashMap<(usize, bool), usize>,
    derived: HashMap<(u32, Change), u32>,
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// An element's attributes as written (raw values).
pub(super) fn attributes(e: &BytesStart) -> Result<Vec<(String, String)>> {
    e.attributes()
        .map(|a| {
            let a = a.context("an attribute in styles.xml")?;
            let key: &str = a.key.as_ref();
            Ok((key.to_string(), a.value.replace('"', "&quot;")))
        })
        .collect()
}

pub(super) fn set(attrs: &mut Vec<(String, String)>, key: &str, value: String) {
    match attrs.iter_mut().find(|(k, _)| k == key) {
        Some(a) => a.1 = value,
        None => attrs.push((key.to_string(), value)),
    }
}

pub(super) fn tag(prefix: &str, name: &str, attrs: &[(String, String)], empty: bool) -> String {
    let mut s = format!("<{prefix}{name}");
    for (k, v) in attrs {
        s.push_str(&format!(" {k}=\"{v}\""));
    }
    s.push_str(if empty { "/>" } else { ">" });
    s
}

/// An element split into its start tag's attributes and its children (local name, raw text).
struct Parts {
    attrs: Vec<(String, String)>,
    children: Vec<(String, String)>,
}

fn parts(xml: &str) -> Result<Parts> {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut attrs = None;
    let mut children = Vec::new();
    let mut child_start = 0usize;
    let mut child_name = String::new();
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().context("styles.xml")?;
        let end = reader.buffer_position() as usize;
        match event {
            Event::Start(e) if depth == 0 => {
                attrs = Some(attributes(&e)?);
                depth = 1;
            }
            Event::Empty(e) if depth == 0 => {
                attrs = Some(attributes(&e)?);
                break;
            }
            Event::Start(e) => {
                if depth == 1 {
                    child_start = start;
                    child_name = local(e.name().as_ref()).to_string();
                }
                depth += 1;
            }
            Event::Empty(e) if depth == 1 => {
                let name = local(e.name().as_ref()).to_string();
                children.push((name, xml[start..end].to_string()));
            }
            Event::End(_) => {
                depth -= 1;
                if depth == 1 {
                    children.push((
                        std::mem::take(&mut child_name),
                        xml[child_start..end].to_string(),
                    ));
                } else if depth == 0 {
                    break;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Parts {
        attrs: attrs.context("an empty style")?,
        children,
    })
}

impl Styles {
    /// The styles of a workbook, from its styles.xml.
    pub(super) fn parse(src: String) -> Result<Styles> {
        let mut reader = Reader::from_str(&src);
        let mut prefix = String::new();
        let mut depth = 0usize;
        let mut sections: [Section; 3] = Default::default();
        let mut found = [false; 3];
        let mut current: Option<usize> = None;
        let mut item_start = 0usize;
        loop {
            let start = reader.buffer_position() as usize;
            let event = reader.read_event().context("styles.xml")?;
            let end = reader.buffer_position() as usize;
            match event {
                Event::Start(e) => {
                    let name = e.name();
                    let full: &str = name.as_ref();
                    let l = local(full);
                    if depth == 0 {
                        prefix = full[..full.len() - l.len()].to_string();
                    } else if depth == 1 {
                        current = LISTS.iter().position(|n| *n == l);
                        if let Some(i) = current {
                            if found[i] {
                                bail!("two {l} lists");
                            }
                            found[i] = true;
                            sections[i].open = start..end;
                        }
                    } else if depth == 2 {
                        item_start = start;
                    }
                    depth += 1;
                }
                Event::Empty(e) => {
                    if depth == 1 && LISTS.contains(&local(e.name().as_ref())) {
                        bail!("an empty list in styles.xml");
                    }
                    if depth == 2
                        && let Some(i) = current
                    {
                        sections[i].items.push(start..end);
                    }
                }
                Event::End(_) => {
                    depth = depth.checked_sub(1).context("styles.xml ends twice")?;
                    match (depth, current) {
                        (2, Some(i)) => sections[i].items.push(item_start..end),
                        (1, Some(i)) => {
                            sections[i].close = start;
                            current = None;
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if found != [true; 3] || sections[2].items.is_empty() {
            bail!("styles.xml lacks its fonts, fills or cell formats");
        }
        let [fonts, fills, xfs] = sections;
        Ok(Styles {
            src,
            prefix,
            fonts,
            fills,
            xfs,
            fill_ids: HashMap::new(),
            font_ids: HashMap::new(),
            derived: HashMap::new(),
        })
    }

    /// The cell format that is `base` with `change`.
    pub(super) fn derive(&mut self, base: u32, change: Change) -> Result<u32> {
        let base = if (base as usize) < self.xfs.items.len() {
            base
        } else {
            0
        };
        if let Some(id) = self.derived.get(&(base, change)) {
            return Ok(*id);
        }
        let xml = self.src[self.xfs.items[base as usize].clone()].to_string();
        let Parts {
            mut attrs,
            mut children,
        } = parts(&xml)?;
        let font = |attrs: &[(String, String)]| -> usize {
            attrs
                .iter()
                .find(|(k, _)| k == "fontId")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        match change {
            Change::Fill(rgb) => {
                let id = self.fill(rgb);
                set(&mut attrs, "fillId", id.to_string());
                set(&mut attrs, "applyFill", "1".into());
            }
            Change::Note | Change::Header => {
                let id = self.font(font(&attrs), change == Change::Header)?;
                set(&mut attrs, "fontId", id.to_string());
                set(&mut attrs, "applyFont", "1".into());
                set(&mut attrs, "numFmtId", "0".into());
                set(&mut attrs, "applyAlignment", "1".into());
                let vertical = if change == Change::Note {
                    "top"
                } else {
                    "center"
                };
                let mut align: Vec<(String, String)> =
                    match children.iter().position(|(n, _)| n == "alignment") {
                        Some(i) => parts(&children.remove(i).1)?.attrs,
                        None => Vec::new(),
                    };
                align.retain(|(k, _)| k != "shrinkToFit");
                set(&mut align, "vertical", vertical.into());
                set(&mut align, "wrapText", "1".into());
                let p = self.prefix.clone();
                children.insert(0, (String::new(), tag(&p, "alignment", &align, true)));
            }
        }
        let mut out = tag(&self.prefix, "xf", &attrs, false);
        children.iter().for_each(|(_, c)| out.push_str(c));
        out.push_str(&format!("</{}xf>", self.prefix));
        let id = self.xfs.len() as u32;
        self.xfs.added.push(out);
        self.derived.insert((base, change), id);
        Ok(id)
    }

    /// The index of a solid fill of `rgb`, added once.
    fn fill(&mut self, rgb: u32) -> usize {
        if let Some(id) = self.fill_ids.get(&rgb) {
            return *id;
        }
        let p = &self.prefix;
        let xml = format!(
            "<{p}fill><{p}patternFill patternType=\"solid\"><{p}fgColor rgb=\"FF{rgb:06X}\"/>\
             <{p}bgColor indexed=\"64\"/></{p}patternFill></{p}fill>"
        );
        let id = self.fills.len();
        self.fills.added.push(xml);
        self.fill_ids.insert(rgb, id);
        id
    }

    /// The index of font `base` made bold (`bold`) or in the note colour, added once.
    fn font(&mut self, base: usize, bold: bool) -> Result<usize> {
        let base = if base < self.fonts.items.len() {
            base
        } else {
            0
        };
        if let Some(id) = self.font_ids.get(&(base, bold)) {
            return Ok(*id);
        }
        let p = self.prefix.clone();
        let (attrs, mut children) = match self.fonts.items.get(base) {
            Some(r) => {
                let Parts { attrs, children } = parts(&self.src[r.clone()])?;
                (attrs, children)
            }
            None => (Vec::new(), Vec::new()),
        };
        // A font of a legacy encoding (.VnTime, VNI-Times) would show the Unicode notes as
        // noise: the notes get a Unicode font of the same size.
        let legacy = children.iter().any(|(n, xml)| {
            n == "name"
                && parts(xml).is_ok_and(|p| {
                    p.attrs
                        .iter()
                        .any(|(k, v)| k == "val" && crate::legacy::from_font(v).is_some())
                })
        });
        if legacy {
            children
                .retain(|(n, _)| n != "name" && n != "family" && n != "charset" && n != "scheme");
            children.push(("name".into(), format!("<{p}name val=\"Times New Roman\"/>")));
        }
        if bold {
            children.retain(|(n, _)| n != "b");
            children.insert(0, ("b".into(), format!("<{p}b/>")));
        } else {
            let color = format!("<{p}color rgb=\"FF{NOTE_COLOR:06X}\"/>");
            match children.iter().position(|(n, _)| n == "color") {
                Some(i) => children[i].1 = color,
                None => {
                    let at = children
                        .iter()
                        .position(|(n, _)| n == "sz")
                        .map_or(0, |i| i + 1);
                    children.insert(at, ("color".into(), color));
                }
            }
        }
        let mut out = tag(&p, "font", &attrs, false);
        children.iter().for_each(|(_, c)| out.push_str(c));
        out.push_str(&format!("</{p}font>"));
        let id = self.fonts.len();
        self.fonts.added.push(out);
        self.font_ids.insert((base, bold), id);
        Ok(id)
    }

    /// Whether anything was added.
    pub(super) fn changed(&self) -> bool {
        !self.xfs.added.is_empty()
    }

    /// styles.xml with what was added.
    pub(super) fn finish(self) -> String {
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        for s in [&self.fonts, &self.fills, &self.xfs] {
            if s.added.is_empty() {
                continue;
            }
            let open = &self.src[s.open.clone()];
            edits.push((s.open.clone(), with_count(open, s.len())));
            edits.push((s.close..s.close, s.added.concat()));
        }
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(self.src.len() + 4096);
        let mut at = 0;
        for (r, text) in edits {
            out.push_str(&self.src[at..r.start]);
            out.push_str(&text);
            at = r.end;
        }
        out.push_str(&self.src[at..]);
        out
    }
}

/// A list's start tag with its `count` attribute set to `n`.
fn with_count(open: &str, n: usize) -> String {
    for q in ['"', '\''] {
        let key = format!(" count={q}");
        if let Some(at) = open.find(&key) {
            let from = at + key.len();
            if let Some(len) = open[from..].find(q) {
                return format!("{}{n}{}", &open[..from], &open[from + len..]);
            }
        }
    }
    match open.strip_suffix('>') {
        Some(head) => format!("{head} count=\"{n}\">"),
        None => open.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><color theme="1"/><name val="Calibri"/></font><font><b/><sz val="12"/><name val="Times New Roman"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border/></borders><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="1" fillId="0" borderId="0" xfId="0" applyBorder="1"><alignment horizontal="center" wrapText="0"/></xf></cellXfs></styleSheet>"#;

    #[test]
    fn a_derived_format_copies_its_base_and_changes_only_the_mark() {
        let mut s = Styles::parse(STYLES.into()).unwrap();
        assert_eq!(s.derive(1, Change::Fill(0xFFC7CE)).unwrap(), 2);
        assert_eq!(s.derive(1, Change::Fill(0xFFC7CE)).unwrap(), 2);
        assert_eq!(s.derive(0, Change::Fill(0xFFC7CE)).unwrap(), 3);
        assert_eq!(s.derive(1, Change::Header).unwrap(), 4);
        assert_eq!(s.derive(0, Change::Note).unwrap(), 5);
        let out = s.finish();
        assert!(out.contains(r#"<cellXfs count="6">"#), "{out}");
        assert!(out.contains(r#"<fills count="3">"#), "{out}");
        assert!(out.contains(r#"<fonts count="4">"#), "{out}");
        assert!(out.contains(
            r#"<xf numFmtId="14" fontId="1" fillId="2" borderId="0" xfId="0" applyBorder="1" applyFill="1"><alignment horizontal="center" wrapText="0"/></xf>"#
        ), "{out}");
        assert!(out.contains(r#"<fgColor rgb="FFFFC7CE"/>"#), "{out}");
        // The header's font is font 1 still bold once; the note's is font 0 in the note colour.
        assert!(
            out.contains(r#"<font><b/><sz val="12"/><name val="Times New Roman"/></font></fonts>"#)
                || out.contains(
                    r#"<font><b/><sz val="12"/><name val="Times New Roman"/></font><font><sz"#
                ),
            "{out}"
        );
        assert!(
            out.contains(
                r#"<font><sz val="11"/><color rgb="FF9C0006"/><name val="Calibri"/></font>"#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"<alignment horizontal="center" wrapText="1" vertical="center"/>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<alignment vertical="top" wrapText="1"/>"#),
            "{out}"
        );
    }

    #[test]
    fn a_note_in_a_legacy_font_gets_a_unicode_one() {
        let legacy = STYLES.replace("Calibri", ".VnTime");
        let mut s = Styles::parse(legacy).unwrap();
        s.derive(0, Change::Note).unwrap();
        s.derive(0, Change::Fill(0xFFC7CE)).unwrap();
        let out = s.finish();
        assert!(
            out.contains(
                r#"<font><sz val="11"/><color rgb="FF9C0006"/><name val="Times New Roman"/></font>"#
            ),
            "{out}"
        );
        // The school's own font stays, and a wrong cell keeps it.
        assert!(out.contains(r#"<name val=".VnTime"/>"#), "{out}");
    }

    #[test]
    fn prefixed_styles_get_prefixed_additions() {
        let x = STYLES
            .replace("<", "<x:")
            .replace("<x:/", "</x:")
            .replace("<x:?", "<?")
            .replace("xmlns=", "xmlns:x=");
        let mut s = Styles::parse(x).unwrap();
        s.derive(0, Change::Fill(0xFFEB9C)).unwrap();
        let out = s.finish();
        assert!(
            out.contains(
                r#"<x:fill><x:patternFill patternType="solid"><x:fgColor rgb="FFFFEB9C"/>"#
            ),
            "{out}"
        );
        assert!(out.contains(r#"<x:cellXfs count="3">"#), "{out}");
    }
}
