//! A one-page PDF of text and filled rectangles, for the cover sheet ([`super::cover`]): DejaVu
//! Sans (`assets/fonts/`, Bitstream Vera licence) embedded as a TrueType subset of the glyphs the
//! page uses (`subsetter`), written as a CID font with a ToUnicode map so the text copies and
//! `pdftotext` extracts it, the streams deflated. Bold is the regular face filled and stroked (one
//! font file per document, not two: the sheet rides on every acknowledgement).
//!
//! Cost: deflating the subset takes about twice as long as making it (a profile of 20,000 replies,
//! libdeflate); the deflated subset is kept per glyph sequence ([`font_file`]), so the
//! acknowledgements of one unit, or of units whose names use the same letters, draw it once.
//!
//! Layout is by hand: the caller measures ([`Page::width`]), wraps ([`Page::wrap`]) and places
//! each line in points from the bottom left of an A4 portrait page. No kerning, no shaping: the
//! Vietnamese text is put in NFC first, and DejaVu has every precomposed letter it needs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// A4 portrait, in points.
pub const A4: (f32, f32) = (595.28, 841.89);

static TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_NAME: &str = "DejaVuSans";

/// How a line is set: the face as it is, or filled and stroked (a bold that costs no second
/// font).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Regular,
    Bold,
}

/// The stroke around bold glyphs, per point of type size.
const BOLD_STROKE: f32 = 0.04;

/// The parsed face and 1000 / units per em (font units to PDF glyph space), once per process.
struct Face {
    face: ttf_parser::Face<'static>,
    scale: f32,
    /// Glyph id and advance (glyph space) of every character below [`TABLE`]: Latin, the
    /// Vietnamese letters (U+1EA0–U+1EF9) and the general punctuation, looked up by index.
    table: Vec<(u16, f32)>,
}

const TABLE: u32 = 0x2100;

fn face() -> &'static Face {
    static FACE: OnceLock<Face> = OnceLock::new();
    FACE.get_or_init(|| {
        // The font is ours, compiled in: a parse failure is a broken build.
        let face = ttf_parser::Face::parse(TTF, 0).expect("the embedded font parses");
        let scale = 1000.0 / f32::from(face.units_per_em());
        let table = (0..TABLE)
            .map(|u| measure(&face, scale, char::from_u32(u)))
            .collect();
        Face { face, scale, table }
    })
}

/// The glyphs a page used: old → new glyph ids, each new glyph's character and width (glyph
/// space), in new-id order.
struct Used {
    remapper: GlyphRemapper,
    chars: Vec<Option<char>>,
    widths: Vec<f32>,
}

impl Used {
    fn new(face: &Face) -> Used {
        Used {
            remapper: GlyphRemapper::new(),
            chars: vec![None],
            widths: vec![measure(&face.face, face.scale, None).1],
        }
    }
}

/// A character's glyph id and advance (glyph space); `.notdef`'s for None or a character the
/// font lacks.
fn measure(face: &ttf_parser::Face, scale: f32, c: Option<char>) -> (u16, f32) {
    let g = c
        .and_then(|c| face.glyph_index(c))
        .unwrap_or(ttf_parser::GlyphId(0));
    (
        g.0,
        f32::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale,
    )
}

/// A character's glyph id and advance, from the table when it is there.
fn lookup(face: &Face, c: char) -> (u16, f32) {
    match face.table.get(c as usize) {
        Some(&known) => known,
        None => measure(&face.face, face.scale, Some(c)),
    }
}

/// `text` in NFC (a name typed on a Mac may come decomposed), borrowed when it already is.
fn nfc(text: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// Text alignment of a line at `x`: its left end, its centre or its right end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// One page being drawn.
pub struct Page {
    content: Content,
    used: Used,
}

impl Default for Page {
    fn default() -> Self {
        Self::new()
    }
}

impl Page {
    pub fn new() -> Page {
        Page {
            content: Content::new(),
            used: Used::new(face()),
        }
    }

    /// The width of `text` set in `style` at `size` points.
    pub fn width(&self, style: Style, size: f32, text: &str) -> f32 {
        let f = face();
        let set = nfc(text).chars().map(|c| lookup(f, c).1).sum::<f32>() * size / 1000.0;
        // A stroked line is half a stroke wider at either end.
        match style {
            Style::Regular => set,
            Style::Bold => set + size * BOLD_STROKE,
        }
    }

    /// `text` broken at spaces into lines no wider than `max` (a word wider than `max` stands
    /// alone on its line).
    pub fn wrap(&self, style: Style, size: f32, text: &str, max: f32) -> Vec<String> {
        let space = self.width(style, size, " ");
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut width = 0.0;
        for word in text.split_whitespace() {
            let w = self.width(style, size, word);
            if !line.is_empty() && width + space + w > max {
                lines.push(std::mem::take(&mut line));
                width = 0.0;
            }
            if !line.is_empty() {
                line.push(' ');
                width += space;
            }
            line.push_str(word);
            width += w;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// One line of text, its baseline at `y`.
    pub fn text(&mut self, style: Style, size: f32, x: f32, y: f32, align: Align, text: &str) {
        let x = match align {
            Align::Left => x,
            Align::Center => x - self.width(style, size, text) / 2.0,
            Align::Right => x - self.width(style, size, text),
        };
        let f = face();
        let used = &mut self.used;
        let mut encoded = Vec::with_capacity(text.len() * 2);
        for c in nfc(text).chars() {
            let (old, advance) = lookup(f, c);
            let new = used.remapper.remap(old);
            if usize::from(new) == used.chars.len() {
                used.chars.push(Some(c));
                used.widths.push(advance);
            }
            encoded.extend_from_slice(&new.to_be_bytes());
        }
        self.content.begin_text().set_font(Name(b"F1"), size);
        if style == Style::Bold {
            self.content
                .set_text_rendering_mode(TextRenderingMode::FillStroke)
                .set_line_width(size * BOLD_STROKE);
        }
        self.content
            .next_line(x, y)
            .show(Str(&encoded))
            .set_text_rendering_mode(TextRenderingMode::Fill)
            .end_text();
    }

    /// Wrapped text from the baseline `y` down, `leading` points apart; returns the baseline
    /// after the last line.
    #[allow(clippy::too_many_arguments)]
    pub fn paragraph(
        &mut self,
        style: Style,
        size: f32,
        (x, max): (f32, f32),
        mut y: f32,
        leading: f32,
        align: Align,
        text: &str,
    ) -> f32 {
        let at = match align {
            Align::Left => x,
            Align::Center => x + max / 2.0,
            Align::Right => x + max,
        };
        for line in self.wrap(style, size, text, max) {
            self.text(style, size, at, y, align, &line);
            y -= leading;
        }
        y
    }

    /// A filled black rectangle (a bar of the barcode).
    pub fn bar(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.content.rect(x, y, width, height).fill_nonzero();
    }

    /// A stroked rectangle (a frame).
    pub fn frame(&mut self, x: f32, y: f32, width: f32, height: f32, line: f32) {
        self.content
            .set_line_width(line)
            .rect(x, y, width, height)
            .stroke();
    }

    /// A straight line (a dotted signature line is a plain line here).
    pub fn line(&mut self, (x1, y1): (f32, f32), (x2, y2): (f32, f32), width: f32) {
        self.content
            .set_line_width(width)
            .move_to(x1, y1)
            .line_to(x2, y2)
            .stroke();
    }

    /// The document: this page, A4 portrait, titled `title`, with the fonts it used.
    pub fn finish(self, title: &str) -> anyhow::Result<Vec<u8>> {
        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let (catalog, pages, page, content, info) = (alloc(), alloc(), alloc(), alloc(), alloc());
        pdf.catalog(catalog).pages(pages);
        pdf.pages(pages).kids([page]).count(1);
        pdf.document_info(info).title(TextStr(title));

        let font = [alloc(), alloc(), alloc(), alloc(), alloc()];
        write_font(&mut pdf, &self.used, font)?;
        pdf.page(page)
            .media_box(Rect::new(0.0, 0.0, A4.0, A4.1))
            .parent(pages)
            .contents(content)
            .resources()
            .fonts()
            .pair(Name(b"F1"), font[0]);
        // The page's own stream: the fast level (it is new on every page; the font's is kept).
        let stream = deflate(&self.content.finish(), 1);
        pdf.stream(content, &stream).filter(Filter::FlateDecode);
        Ok(pdf.finish())
    }
}

/// The TrueType font `font` without the tables `drop` (their records and bytes), the other
/// tables' bytes as they are, each at a 4-byte boundary, the whole file's checksum adjusted in
/// `head`. A PDF needs only the tables that draw glyphs (ISO 32000-1 §9.9): the subset's `name`
/// (about 10 kB of DejaVu's copyright and licence strings) and `post` (glyph names; the text is
/// mapped by the ToUnicode map) were half the bytes of every cover sheet's font. `None` when
/// `font` is not a table directory this can read (the subset is then embedded as it is).
fn without_tables(font: &[u8], drop: &[[u8; 4]]) -> Option<Vec<u8>> {
    let u16_at = |at: usize| Some(u16::from_be_bytes(font.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_be_bytes(font.get(at..at + 4)?.try_into().ok()?));
    let count = usize::from(u16_at(4)?);
    let mut tables = Vec::with_capacity(count);
    for i in 0..count {
        let at = 12 + 16 * i;
        let tag: [u8; 4] = font.get(at..at + 4)?.try_into().ok()?;
        let (sum, offset, length) = (u32_at(at + 4)?, u32_at(at + 8)?, u32_at(at + 12)?);
        let bytes = font.get(offset as usize..(offset as usize).checked_add(length as usize)?)?;
        if !drop.contains(&tag) {
            tables.push((tag, sum, bytes));
        }
    }
    let n = tables.len() as u16;
    let power = if n == 0 {
        0
    } else {
        1u16 << (15 - n.leading_zeros())
    };
    let mut out = Vec::with_capacity(font.len());
    out.extend_from_slice(font.get(0..4)?);
    for v in [
        n,
        power * 16,
        power.trailing_zeros() as u16,
        (n - power) * 16,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head = None;
    for (tag, sum, bytes) in &tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&sum.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        if tag == b"head" {
            head = Some(offset);
        }
        offset += bytes.len().next_multiple_of(4);
    }
    for (_, _, bytes) in &tables {
        out.extend_from_slice(bytes);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    // head.checkSumAdjustment (offset 8 in head): 0xB1B0AFBA less the sum of the whole file
    // with the adjustment read as zero.
    if let Some(at) = head.filter(|at| at + 12 <= out.len()) {
        out[at + 8..at + 12].fill(0);
        let sum = out.chunks(4).fold(0u32, |s, c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            s.wrapping_add(u32::from_be_bytes(w))
        });
        out[at + 8..at + 12].copy_from_slice(&0xB1B0_AFBAu32.wrapping_sub(sum).to_be_bytes());
    }
    Some(out)
}

/// `data` in zlib format (PDF's FlateDecode) at `level` (libdeflate's, 1 to 12). libdeflate
/// rather than miniz_oxide: at the same level about twice as fast and no larger, and its
/// compressor, kept per thread and level, is not allocated and zeroed again for every stream
/// (miniz_oxide's is, a few hundred kilobytes each time).
fn deflate(data: &[u8], level: u8) -> Vec<u8> {
    use std::cell::RefCell;
    thread_local! {
        static COMPRESSORS: RefCell<Vec<(u8, libdeflater::Compressor)>> =
            const { RefCell::new(Vec::new()) };
    }
    COMPRESSORS.with_borrow_mut(|all| {
        let at = match all.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                let lvl = libdeflater::CompressionLvl::new(i32::from(level)).unwrap_or_default();
                all.push((level, libdeflater::Compressor::new(lvl)));
                all.len() - 1
            }
        };
        let c = &mut all[at].1;
        let mut out = vec![0; c.zlib_compress_bound(data.len())];
        let n = c
            .zlib_compress(data, &mut out)
            .expect("the output is as large as libdeflate's bound");
        out.truncate(n);
        out
    })
}

const SYSTEM: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// A font subset, deflated, its length before, and its ToUnicode map, deflated.
struct FontFile {
    deflated: Vec<u8>,
    length: usize,
    to_unicode: Vec<u8>,
}

/// The font files made, by the characters they hold in the order of their glyphs.
type FontFiles = HashMap<Vec<Option<char>>, Arc<FontFile>>;

/// The deflated subset of the glyphs `used` and its ToUnicode map, from the cache or made and
/// kept. The characters in the order they were first drawn give the glyphs and their new ids,
/// so they are the key. The cache holds a few hundred subsets (about 15 kB each) and starts over
/// when full.
fn font_file(used: &Used) -> anyhow::Result<Arc<FontFile>> {
    const MOST: usize = 256;
    static CACHE: OnceLock<Mutex<FontFiles>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = &used.chars;
    // A panic elsewhere while holding the lock leaves a map that is still whole.
    if let Some(f) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok(f.clone());
    }
    let subset = subsetter::subset(TTF, 0, &used.remapper)
        .map_err(|e| anyhow::anyhow!("subsetting {FONT_NAME}: {e}"))?;
    let subset = without_tables(&subset, &[*b"name", *b"post"]).unwrap_or(subset);
    let mut map = UnicodeCmap::new(Name(b"Custom"), SYSTEM);
    for (gid, ch) in used.chars.iter().enumerate() {
        if let Some(ch) = ch {
            map.pair(gid as u16, *ch);
        }
    }
    let file = Arc::new(FontFile {
        deflated: deflate(&subset, 6),
        length: subset.len(),
        to_unicode: deflate(&map.finish(), 6),
    });
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MOST {
        map.clear();
    }
    map.insert(key.clone(), file.clone());
    Ok(file)
}

/// The font's five objects: the Type 0 font, its CID font, the descriptor, the subset font file
/// and the ToUnicode map.
fn write_font(pdf: &mut Pdf, used: &Used, ids: [Ref; 5]) -> anyhow::Result<()> {
    let [type0, cid, descriptor, file, cmap] = ids;
    let f = face();
    let subset = font_file(used)?;
    // A subset's name carries a tag of six capitals, here drawn from its glyphs.
    let mut hash: u32 = 2_166_136_261;
    for g in used.remapper.remapped_gids() {
        for b in g.to_be_bytes() {
            hash = (hash ^ u32::from(b)).wrapping_mul(16_777_619);
        }
    }
    let tag: String = (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
        .collect();
    let base = format!("{tag}+{FONT_NAME}");

    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(SYSTEM)
        .font_descriptor(descriptor)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    c.widths().consecutive(0, used.widths.iter().copied());
    c.finish();

    let face = &f.face;
    let s = f.scale;
    let b = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            f32::from(b.x_min) * s,
            f32::from(b.y_min) * s,
            f32::from(b.x_max) * s,
            f32::from(b.y_max) * s,
        ))
        .italic_angle(0.0)
        .ascent(f32::from(face.ascender()) * s)
        .descent(f32::from(face.descender()) * s)
        .cap_height(f32::from(face.capital_height().unwrap_or(face.ascender())) * s)
        .stem_v(80.0)
        .font_file2(file);
    pdf.stream(file, &subset.deflated)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.length as i32);
    pdf.cmap(cmap, &subset.to_unicode)
        .filter(Filter::FlateDecode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_subset_has_no_name_or_post_table_and_still_parses() {
        let mut page = Page::new();
        page.text(
            Style::Regular,
            12.0,
            60.0,
            700.0,
            Align::Left,
            "Trường THPT Giao Thuỷ",
        );
        let full = subsetter::subset(TTF, 0, &page.used.remapper).unwrap();
        let small = without_tables(&full, &[*b"name", *b"post"]).unwrap();
        assert!(
            small.len() + 5_000 < full.len(),
            "{} vs {}",
            small.len(),
            full.len()
        );
        let face = ttf_parser::Face::parse(&small, 0).expect("the stripped subset parses");
        assert!(face.names().is_empty());
        let g = ttf_parser::GlyphId(1);
        assert!(face.glyph_hor_advance(g).is_some());
        // Nothing to drop: the same tables, the same glyphs.
        let same = without_tables(&full, &[]).unwrap();
        assert_eq!(
            ttf_parser::Face::parse(&same, 0)
                .unwrap()
                .number_of_glyphs(),
            ttf_parser::Face::parse(&full, 0)
                .unwrap()
                .number_of_glyphs()
        );
        assert!(without_tables(b"junk", &[]).is_none());
    }

    #[test]
    fn text_wraps_at_spaces_within_its_width() {
        let page = Page::new();
        let text = "Đơn vị in phiếu này, ghim phiếu vào bản giấy của danh sách";
        let lines = page.wrap(Style::Regular, 10.0, text, 150.0);
        assert!(lines.len() >= 2, "{lines:?}");
        assert_eq!(lines.join(" "), text);
        for l in &lines {
            assert!(page.width(Style::Regular, 10.0, l) <= 150.0, "{l}");
        }
    }

    #[test]
    fn the_same_text_gives_the_same_bytes_and_other_letters_another_subset() {
        let page = |name: &str| {
            let mut p = Page::new();
            p.text(Style::Regular, 12.0, 60.0, 700.0, Align::Left, name);
            p.finish("t").unwrap()
        };
        // The second is drawn with the kept subset: byte for byte the first.
        assert_eq!(page("Trường THPT Giao Thuỷ"), page("Trường THPT Giao Thuỷ"));
        let (a, b) = (page("Trường THPT Giao Thuỷ"), page("Trường THCS Hải Hậu"));
        assert_ne!(a, b);
        // Decomposed input is put in NFC: the same glyphs as the precomposed text.
        let nfd: String = "Thuỷ".nfd().collect();
        assert_ne!(nfd, "Thuỷ");
        assert_eq!(page(&nfd), page("Thuỷ"));
    }

    #[test]
    fn a_page_is_a_pdf_with_its_font_subset() {
        let mut page = Page::new();
        page.text(
            Style::Bold,
            16.0,
            100.0,
            700.0,
            Align::Left,
            "PHIẾU ĐỐI CHIẾU",
        );
        page.text(Style::Regular, 10.0, 100.0, 680.0, Align::Left, "Nam Định");
        page.bar(100.0, 600.0, 2.0, 40.0);
        let pdf = page.finish("Phiếu đối chiếu").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert_eq!(
            text.matches("/FontFile2").count(),
            1,
            "one font for both styles"
        );
        assert!(text.contains("+DejaVuSans"));
        assert!(text.contains("/FontFile2") && text.contains("/ToUnicode"));
        // A subset, not the 700 kB fonts.
        assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
    }
}
