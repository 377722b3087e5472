//! Legacy Vietnamese encodings in old workbooks: TCVN3 (ABC; fonts `.VnTime`, `.VnArial`, the
//! upper-case `.VnTimeH`...) and VNI-Windows (fonts `VNI-Times`...). The workbook stores such text
//! as Western (Windows-1252) characters, so it reads as "NguyÔn V¨n §¹t" or "Nguyeãn Vaên Ñaït";
//! this module turns it back into Unicode.
//!
//! A cell is decoded when its font says it is legacy text ([`from_font`]), or when its characters
//! do ([`detect`]): only text made of Western characters is a candidate, so plain Unicode
//! Vietnamese (which has letters above U+00FF such as "ă", "ơ", "ệ") and plain ASCII are never
//! touched. A column whose cells are mostly legacy text decodes its ambiguous cells too
//! ([`decode_columns`]), since "Lª Hµ" and "Lê Hà" cannot be told apart one cell at a time.
//!
//! Decoding happens before any other clean-up: TCVN3's "ư" is U+00AD, which a cleaner would drop.

use unicode_normalization::UnicodeNormalization;

/// A legacy Vietnamese encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// TCVN 5712:1993 (ABC), as glibc's `TCVN5712-1` decodes it.
    Tcvn3,
    /// TCVN3 shown with an upper-case font (`.VnTimeH`): decoded, then upper-cased.
    Tcvn3Upper,
    /// VNI-Windows: base letters followed by separate mark characters.
    Vni,
}

/// The legacy encoding a font name implies (`.VnTime`, `.VnArialH`, `VNI-Times`...).
pub fn from_font(name: &str) -> Option<Legacy> {
    let n = name.trim().to_ascii_lowercase();
    if n.starts_with(".vn") {
        // The upper-case TCVN3 fonts end in H: ".VnTimeH", ".VnArialH", ".VnTimeH 2"...
        let stem = n.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
        if stem.ends_with('h') {
            Some(Legacy::Tcvn3Upper)
        } else {
            Some(Legacy::Tcvn3)
        }
    } else if n.starts_with("vni-") || n.starts_with("vni ") {
        Some(Legacy::Vni)
    } else {
        None
    }
}

/// glibc `iconv -f TCVN5712-1`, bytes 0x80..=0xFF (generated with iconv; checked against it by
/// the tests in `tests/fixtures/tcvn3-iconv.tsv`). 0xB0..=0xB4 are combining tone marks.
const TCVN3_HIGH: [u16; 128] = [
    0x00c0, 0x1ea2, 0x00c3, 0x00c1, 0x1ea0, 0x1eb6, 0x1eac, 0x00c8, 0x1eba, 0x1ebc, 0x00c9, 0x1eb8,
    0x1ec6, 0x00cc, 0x1ec8, 0x0128, 0x00cd, 0x1eca, 0x00d2, 0x1ece, 0x00d5, 0x00d3, 0x1ecc, 0x1ed8,
    0x1edc, 0x1ede, 0x1ee0, 0x1eda, 0x1ee2, 0x00d9, 0x1ee6, 0x0168, 0x00a0, 0x0102, 0x00c2, 0x00ca,
    0x00d4, 0x01a0, 0x01af, 0x0110, 0x0103, 0x00e2, 0x00ea, 0x00f4, 0x01a1, 0x01b0, 0x0111, 0x1eb0,
    0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00e0, 0x1ea3, 0x00e3, 0x00e1, 0x1ea1, 0x1eb2, 0x1eb1,
    0x1eb3, 0x1eb5, 0x1eaf, 0x1eb4, 0x1eae, 0x1ea6, 0x1ea8, 0x1eaa, 0x1ea4, 0x1ec0, 0x1eb7, 0x1ea7,
    0x1ea9, 0x1eab, 0x1ea5, 0x1ead, 0x00e8, 0x1ec2, 0x1ebb, 0x1ebd, 0x00e9, 0x1eb9, 0x1ec1, 0x1ec3,
    0x1ec5, 0x1ebf, 0x1ec7, 0x00ec, 0x1ec9, 0x1ec4, 0x1ebe, 0x1ed2, 0x0129, 0x00ed, 0x1ecb, 0x00f2,
    0x1ed4, 0x1ecf, 0x00f5, 0x00f3, 0x1ecd, 0x1ed3, 0x1ed5, 0x1ed7, 0x1ed1, 0x1ed9, 0x1edd, 0x1edf,
    0x1ee1, 0x1edb, 0x1ee3, 0x00f9, 0x1ed6, 0x1ee7, 0x0169, 0x00fa, 0x1ee5, 0x1eeb, 0x1eed, 0x1eef,
    0x1ee9, 0x1ef1, 0x1ef3, 0x1ef7, 0x1ef9, 0x00fd, 0x1ef5, 0x1ed0,
];

/// glibc `TCVN5712-1`: the control bytes it uses for upper-case letters.
fn tcvn3_low(b: u8) -> Option<char> {
    Some(match b {
        0x01 => 'Ú',
        0x02 => 'Ụ',
        0x04 => 'Ừ',
        0x05 => 'Ử',
        0x06 => 'Ữ',
        0x11 => 'Ứ',
        0x12 => 'Ự',
        0x13 => 'Ỳ',
        0x14 => 'Ỷ',
        0x15 => 'Ỹ',
        0x16 => 'Ý',
        0x17 => 'Ỵ',
        _ => return None,
    })
}

/// Decodes one TCVN3 byte.
pub fn tcvn3_byte(b: u8) -> char {
    if b >= 0x80 {
        char::from_u32(u32::from(TCVN3_HIGH[usize::from(b - 0x80)])).unwrap_or('\u{FFFD}')
    } else {
        tcvn3_low(b).unwrap_or(char::from(b))
    }
}

/// The byte a legacy font's character was typed as: Latin-1 directly, or the Windows-1252
/// punctuation that stands for 0x80..=0x9F.
fn byte_of(c: char) -> Option<u8> {
    let u = c as u32;
    if u <= 0xFF {
        return Some(u as u8);
    }
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    })
}

/// True when the text could be legacy text at all: every character is a Western byte and at least
/// one is above ASCII (a non-breaking space alone does not count).
fn is_candidate(text: &str) -> bool {
    let mut high = false;
    for c in text.chars() {
        match byte_of(c) {
            None => return false,
            Some(b) if b >= 0x80 && b != 0xA0 => high = true,
            Some(_) => {}
        }
    }
    high
}

/// Latin-1 letters that are also letters of Unicode Vietnamese: alone they prove nothing.
fn is_vietnamese_latin1(c: char) -> bool {
    "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý".contains(c)
}

fn is_vowel(c: char) -> bool {
    "aeiouyAEIOUY".contains(c)
}

/// VNI evidence: marks after vowels and letters that Unicode Vietnamese never writes.
fn vni_score(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut score = 0;
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        let after_vowel = prev.is_some_and(|p| is_vowel(p) || "ôöÔÖ".contains(p));
        let after_aeo = prev.is_some_and(|p| "aeoAEO".contains(p));
        let after_a = prev.is_some_and(|p| "aA".contains(p));
        if "ñÑöÖ".contains(c)
            || (after_vowel && "ùøûõïÙØÛÕÏ".contains(c))
            || (after_aeo && "âäåÂÄÅ".contains(c))
            || (after_a && "êëüèéÊËÜÈÉ".contains(c))
        {
            score += 1;
        }
    }
    score
}

/// TCVN3 evidence: characters that are TCVN3 letters but never Unicode Vietnamese letters.
fn tcvn3_score(text: &str) -> (usize, bool) {
    let mut score = 0;
    let mut block_a1_bf = false;
    for c in text.chars() {
        let u = c as u32;
        if (0xA1..=0xBF).contains(&u) && !(0xB0..=0xB4).contains(&u) {
            score += 1;
            block_a1_bf = true;
        } else if (0xC0..=0xFF).contains(&u) && !is_vietnamese_latin1(c) {
            score += 1;
        }
    }
    (score, block_a1_bf)
}

/// The legacy encoding the characters of one cell show, if they show one clearly.
pub fn detect(text: &str) -> Option<Legacy> {
    if !is_candidate(text) {
        return None;
    }
    let (tcvn3, block) = tcvn3_score(text);
    // VNI never uses 0xA1..=0xBF, where TCVN3 keeps its commonest letters (à á ă â ê ô ơ ư đ).
    if block {
        return Some(Legacy::Tcvn3);
    }
    if vni_score(text) > 0 {
        return Some(Legacy::Vni);
    }
    (tcvn3 > 0).then_some(Legacy::Tcvn3)
}

/// Decodes a cell's text from `legacy`. Text that cannot be legacy text (it holds Unicode letters
/// above U+00FF, or nothing but ASCII) is returned unchanged.
pub fn decode(text: &str, legacy: Legacy) -> String {
    if !is_candidate(text) {
        return text.to_string();
    }
    let decoded = match legacy {
        Legacy::Tcvn3 | Legacy::Tcvn3Upper => decode_tcvn3(text),
        Legacy::Vni => decode_vni(text),
    };
    let upper = legacy == Legacy::Tcvn3Upper || (legacy == Legacy::Tcvn3 && shouted(text));
    if upper {
        decoded.to_uppercase()
    } else {
        decoded
    }
}

/// Text typed in capitals with an upper-case TCVN3 font: its ASCII letters are all capitals, and
/// the Vietnamese letters (typed at the lower-case positions, shown upper-case) must follow them.
fn shouted(text: &str) -> bool {
    let all_upper = text
        .chars()
        .filter(char::is_ascii_alphabetic)
        .all(|c| c.is_ascii_uppercase());
    let two_in_a_row = text
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase());
    all_upper && two_in_a_row
}

fn decode_tcvn3(text: &str) -> String {
    let raw: String = text
        .chars()
        .map(|c| match byte_of(c) {
            Some(b) if b >= 0x80 || tcvn3_low(b).is_some() => tcvn3_byte(b),
            _ => c,
        })
        .collect();
    raw.nfc().collect()
}

/// A VNI mark character: what it adds to the vowel before it.
#[derive(Clone, Copy)]
enum Mark {
    Tone(char),
    Circumflex(Option<char>),
    Breve(Option<char>),
}

fn vni_mark(c: char) -> Option<Mark> {
    const ACUTE: char = '\u{0301}';
    const GRAVE: char = '\u{0300}';
    const HOOK: char = '\u{0309}';
    const TILDE: char = '\u{0303}';
    const DOT: char = '\u{0323}';
    Some(match c.to_lowercase().next().unwrap_or(c) {
        'ù' => Mark::Tone(ACUTE),
        'ø' => Mark::Tone(GRAVE),
        'û' => Mark::Tone(HOOK),
        'õ' => Mark::Tone(TILDE),
        'ï' => Mark::Tone(DOT),
        'â' => Mark::Circumflex(None),
        'á' => Mark::Circumflex(Some(ACUTE)),
        'à' => Mark::Circumflex(Some(GRAVE)),
        'å' => Mark::Circumflex(Some(HOOK)),
        'ã' => Mark::Circumflex(Some(TILDE)),
        'ä' => Mark::Circumflex(Some(DOT)),
        'ê' => Mark::Breve(None),
        'é' => Mark::Breve(Some(ACUTE)),
        'è' => Mark::Breve(Some(GRAVE)),
        'ú' => Mark::Breve(Some(HOOK)),
        'ü' => Mark::Breve(Some(TILDE)),
        'ë' => Mark::Breve(Some(DOT)),
        _ => return None,
    })
}

/// The letters VNI writes as one character of their own.
fn vni_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ñ' => "đ",
        'Ñ' => "Đ",
        'ô' => "ơ",
        'Ô' => "Ơ",
        'ö' => "ư",
        'Ö' => "Ư",
        'æ' => "ỉ",
        'Æ' => "Ỉ",
        'ó' => "ĩ",
        'Ó' => "Ĩ",
        'ò' => "ị",
        'Ò' => "Ị",
        'î' => "ỵ",
        'Î' => "Ỵ",
        _ => return None,
    })
}

fn decode_vni(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        // The vowel this character is, VNI's own ơ/ư included.
        let base = if is_vowel(c) {
            Some(c.to_string())
        } else if "ôöÔÖ".contains(c) {
            vni_letter(c).map(String::from)
        } else {
            None
        };
        if let (Some(base), Some(n)) = (base.clone(), next)
            && let Some(mark) = vni_mark(n)
        {
            let lower = c.to_ascii_lowercase();
            let fits = match mark {
                Mark::Tone(_) => true,
                Mark::Circumflex(_) => "aeo".contains(lower),
                Mark::Breve(_) => lower == 'a',
            };
            if fits {
                out.push_str(&base);
                match mark {
                    Mark::Tone(t) => out.push(t),
                    Mark::Circumflex(t) => {
                        out.push('\u{0302}');
                        out.extend(t);
                    }
                    Mark::Breve(t) => {
                        out.push('\u{0306}');
                        out.extend(t);
                    }
                }
                i += 2;
                continue;
            }
        }
        match vni_letter(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
        i += 1;
    }
    out.nfc().collect()
}

/// How the cells of a column (or a sheet) lean: legacy text of either kind, or Unicode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Votes {
    pub tcvn3: usize,
    pub vni: usize,
    /// Cells holding Vietnamese letters above U+00FF: certainly Unicode.
    pub unicode: usize,
}

impl Votes {
    /// Counts the cells that show their encoding.
    pub fn count<'a>(texts: impl Iterator<Item = &'a str>) -> Votes {
        let mut v = Votes::default();
        for t in texts {
            match detect(t) {
                Some(Legacy::Vni) => v.vni += 1,
                Some(_) => v.tcvn3 += 1,
                None if t.chars().any(|c| c as u32 > 0xFF && byte_of(c).is_none()) => {
                    v.unicode += 1
                }
                None => {}
            }
        }
        v
    }

    /// The encoding most cells show, when they outnumber the Unicode cells.
    pub fn decision(&self) -> Option<Legacy> {
        if self.tcvn3 > self.unicode && self.tcvn3 >= self.vni {
            Some(Legacy::Tcvn3)
        } else if self.vni > self.unicode && self.vni > self.tcvn3 {
            Some(Legacy::Vni)
        } else {
            None
        }
    }
}

/// Decodes one cell: by its own characters, else by `fallback` (its column's or its sheet's
/// encoding) when it could be legacy text at all. `None` when it stays as it is.
pub fn decode_cell(text: &str, fallback: Option<Legacy>) -> Option<String> {
    let legacy = detect(text).or(fallback.filter(|_| is_candidate(text)))?;
    let d = decode(text, legacy);
    (d != text).then_some(d)
}

/// Decodes a column of cells: each cell whose characters show a legacy encoding is decoded, and
/// when a column's legacy cells outnumber its Unicode ones, its ambiguous candidates ("Lª Hµ"
/// reads as Unicode too) are decoded with the column's encoding. Returns how many changed.
pub fn decode_column<'a>(cells: impl Iterator<Item = &'a mut String>) -> usize {
    let mut cells: Vec<&'a mut String> = cells.collect();
    let fallback = Votes::count(cells.iter().map(|t| t.as_str())).decision();
    let mut decoded = 0;
    for t in cells.iter_mut() {
        if let Some(d) = decode_cell(t, fallback) {
            **t = d;
            decoded += 1;
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcvn3_text_is_decoded_and_its_u_horn_survives() {
        assert_eq!(detect("NguyÔn V¨n §¹t"), Some(Legacy::Tcvn3));
        assert_eq!(decode("NguyÔn V¨n §¹t", Legacy::Tcvn3), "Nguyễn Văn Đạt");
        // "Trường" has "ư" = U+00AD, the soft hyphen a cleaner would strip.
        assert_eq!(decode("Tr\u{AD}êng", Legacy::Tcvn3), "Trường");
        assert_eq!(decode("Gi¸o viªn", Legacy::Tcvn3), "Giáo viên");
    }

    #[test]
    fn vni_text_is_decoded() {
        assert_eq!(detect("Nguyeãn Vaên Ñaït"), Some(Legacy::Vni));
        assert_eq!(decode("Nguyeãn Vaên Ñaït", Legacy::Vni), "Nguyễn Văn Đạt");
        assert_eq!(decode("Tröôøng THPT", Legacy::Vni), "Trường THPT");
        assert_eq!(decode("NGUYEÃN THÒ HÖÔNG", Legacy::Vni), "NGUYỄN THỊ HƯƠNG");
        assert_eq!(decode("Leâ Thò Thuùy", Legacy::Vni), "Lê Thị Thúy");
    }

    #[test]
    fn unicode_and_ascii_are_never_decoded() {
        for text in [
            "Nguyễn Văn Đạt",
            "Lê Hà",
            "Hoàng Toàn",
            "Nguyen Van Dat",
            "Thuý",
            "036085001234",
            "Trường THPT A – Nam Định",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
        assert_eq!(decode("Nguyễn Văn Đạt", Legacy::Tcvn3), "Nguyễn Văn Đạt");
    }

    #[test]
    fn a_legacy_column_decodes_its_ambiguous_cells() {
        let mut column = [
            "Hä vµ tªn".to_string(),
            "Lª Hµ".to_string(),
            "NguyÔn".to_string(),
            "Ph¹m ThÞ Lan".to_string(),
        ];
        decode_column(column.iter_mut());
        assert_eq!(column, ["Họ và tên", "Lê Hà", "Nguyễn", "Phạm Thị Lan"]);
        let mut unicode = ["Lê Hà".to_string(), "Hoàng Toàn".to_string()];
        decode_column(unicode.iter_mut());
        assert_eq!(unicode, ["Lê Hà", "Hoàng Toàn"]);
    }

    #[test]
    fn fonts_name_their_encoding() {
        assert_eq!(from_font(".VnTime"), Some(Legacy::Tcvn3));
        assert_eq!(from_font(".VnArialH"), Some(Legacy::Tcvn3Upper));
        assert_eq!(from_font("VNI-Times"), Some(Legacy::Vni));
        assert_eq!(from_font("Times New Roman"), None);
        assert_eq!(
            decode("NGUYÔN V¡N", Legacy::Tcvn3Upper),
            "NGUYỄN VĂN",
            "upper-case fonts show lower-case positions as capitals"
        );
    }

    #[test]
    fn every_tcvn3_byte_decodes_as_glibc_iconv_does() {
        let table = include_str!("../tests/fixtures/tcvn3-iconv.tsv");
        let mut checked = 0;
        for line in table.lines().filter(|l| !l.starts_with('#')) {
            let (hex, want) = line.split_once('\t').expect("byte<TAB>text");
            let b = u8::from_str_radix(hex, 16).unwrap();
            assert_eq!(tcvn3_byte(b).to_string(), want, "byte {hex}");
            checked += 1;
        }
        assert!(checked >= 140, "the table covers the letters");
    }
}
