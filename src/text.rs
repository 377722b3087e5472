//! Text clean-up shared by every stage: cleaning a cell as written (NFC, invisible characters,
//! whitespace) and folding it into a comparison key (lower case, no accents, đ → d).

use std::borrow::Cow;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Cleans a cell's text the way TEMPLATE.md orders it: NFC, U+00A0 to a space, zero-width and
/// direction marks and BOMs removed, trimmed, inner whitespace collapsed to one space.
///
/// Legacy-encoding decoding (TCVN3, VNI) must happen before this: TCVN3 uses U+00AD for "ư".
pub fn clean(text: &str) -> String {
    cleaned(text).into_owned()
}

/// [`clean`], borrowing the text when it is already clean (most cells are): the header search
/// and the field rules look at every cell, and a copy of each is most of what cleaning costs.
pub fn cleaned(text: &str) -> Cow<'_, str> {
    if is_clean(text) {
        Cow::Borrowed(text)
    } else if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        // Most cells are already NFC (and ASCII always is): skip the recomposition then.
        Cow::Owned(clean_chars(text.chars(), text.len()))
    } else {
        Cow::Owned(clean_chars(text.nfc(), text.len()))
    }
}

/// True when [`clean`] would give the text back unchanged: NFC, no invisible, control or
/// whitespace character but single spaces between words.
fn is_clean(text: &str) -> bool {
    // As if after a space: a leading space is not clean.
    let mut space = true;
    if text.is_ascii() {
        for &b in text.as_bytes() {
            match b {
                b' ' if space => return false,
                b' ' => space = true,
                // The ASCII whitespace but the space is below 0x20, as are the controls.
                0..=0x1F | 0x7F => return false,
                _ => space = false,
            }
        }
        return !space || text.is_empty();
    }
    // Vietnamese text is ASCII, Latin-1 and a few other letters below U+0300, and the precomposed
    // letters of U+1E00..U+1EFF: all starters that NFC keeps as they are (a test checks each),
    // so such text needs no look-up in the normalisation tables.
    let mut plain = true;
    for c in text.chars() {
        match c {
            // Most characters of Vietnamese text: plain letters, and no space, control or
            // invisible character (a test checks each).
            '\u{A1}'..='\u{2FF}' | '\u{1E00}'..='\u{1EFF}' | '!'..='~' => space = false,
            ' ' if space => return false,
            ' ' => space = true,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}'
            | '\u{2060}' => return false,
            c if is_bidi_control(c) => return false,
            c if c.is_whitespace() || c.is_control() => return false,
            c => {
                space = false;
                plain &= is_plain_letter(c);
            }
        }
    }
    !space && (plain || is_nfc_quick(text.chars()) == IsNormalized::Yes)
}

/// U+202A..U+202E (embeddings, overrides) and U+2066..U+2069 (isolates).
fn is_bidi_control(c: char) -> bool {
    ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A character below U+0300 or in U+1E00..U+1EFF (Latin Extended Additional, where the
/// precomposed Vietnamese letters are).
fn is_plain_letter(c: char) -> bool {
    c < '\u{300}' || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

fn clean_chars(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pending_space = false;
    for c in chars {
        match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}'
            | '\u{2060}' => {}
            // Bidirectional embeddings, overrides and isolates: they can make a name or a file
            // name read otherwise than it is ("gpj.exe" shown as "exe.jpg").
            c if is_bidi_control(c) => {}
            c if c.is_whitespace() || c == '\u{00A0}' => pending_space = true,
            c if c.is_control() => pending_space = true,
            c => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
            }
        }
    }
    out
}

/// Folds text into a comparison key: cleaned, lower case, accents stripped, đ → d.
pub fn fold(text: &str) -> String {
    let cleaned = cleaned(text);
    if cleaned.is_ascii() {
        return cleaned.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(cleaned.len());
    // Character by character rather than through `nfd()`: its canonical reordering only moves
    // characters with a combining class, and those are all combining marks, dropped here (a test
    // checks every character).
    for c in cleaned.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        decompose_canonical(c, |d| {
            if is_combining_mark(d) {
                return;
            }
            match d {
                'đ' | 'Đ' => out.push('d'),
                d => out.extend(d.to_lowercase()),
            }
        });
    }
    out
}

/// The folded key of a person's name, for candidate matching only (TEMPLATE.md "Identity"): the
/// accents go, so "Hoà"/"Hòa" and "Thuý"/"Thúy" meet.
pub fn name_key(name: &str) -> String {
    fold(name)
}

/// Title-cases nothing and re-cases nothing: names are stored as written. This only says whether a
/// name has at least two words made of letters (Vietnamese letters included).
pub fn is_plausible_name(name: &str) -> bool {
    let mut words = 0;
    for w in name.split(' ').filter(|w| !w.is_empty()) {
        if !w.chars().all(|c| is_letter(c) || c == '\'' || c == '-') {
            return false;
        }
        words += 1;
    }
    words >= 2
}

/// `char::is_alphabetic`, without the Unicode table look-up for the letters of Vietnamese names
/// (a test checks the ranges against it).
fn is_letter(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' => true,
        '\u{D7}' | '\u{F7}' => false,
        '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}' => true,
        c => c.is_alphabetic(),
    }
}

/// A date as Vietnamese staff and schools write it: `dd/mm/yyyy`; "" when there is none.
pub fn date_dmy(d: Option<chrono::NaiveDate>) -> String {
    use chrono::Datelike;
    match d {
        // What `%d/%m/%Y` writes, without parsing the format for every date of a report.
        Some(d) if (0..=9999).contains(&d.year()) => {
            format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
        }
        Some(d) => d.format("%d/%m/%Y").to_string(),
        None => String::new(),
    }
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The most characters Excel holds in one cell.
pub const EXCEL_CELL_CHARS: usize = 32_767;

/// How many characters of a mail's subject are echoed (in a reply's subject, `status`, logs).
pub const SUBJECT_ECHO_CHARS: usize = 200;

/// `text` cut to at most `max` characters, an ellipsis marking the cut: for text a school
/// controls that goes into an output with a limit (a cell, a subject line, a log line).
pub fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if text[at..].chars().nth(1).is_some() => {
            std::borrow::Cow::Owned(format!("{}…", &text[..at]))
        }
        _ => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_dmy_writes_what_chrono_writes() {
        for (y, m, d) in [
            (1985, 3, 5),
            (2021, 12, 31),
            (1, 1, 1),
            (999, 10, 9),
            (9999, 12, 31),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(date_dmy(Some(date)), date.format("%d/%m/%Y").to_string());
        }
        let far = chrono::NaiveDate::from_ymd_opt(12345, 1, 2).unwrap();
        assert_eq!(date_dmy(Some(far)), far.format("%d/%m/%Y").to_string());
        assert_eq!(date_dmy(None), "");
    }

    #[test]
    fn clean_normalises_nfd_and_strips_invisibles() {
        let nfd = "Nguye\u{0302}\u{0303}n\u{00A0}\u{00A0}Va\u{0306}n  \u{200B}Đạt\u{FEFF} ";
        assert_eq!(clean(nfd), "Nguyễn Văn Đạt");
    }

    #[test]
    fn cleaned_borrows_exactly_the_texts_clean_leaves_as_they_are() {
        // The cleaning as it was before the borrowing shortcut, character by character.
        fn reference(text: &str) -> String {
            if is_nfc_quick(text.chars()) == IsNormalized::Yes {
                clean_chars(text.chars(), text.len())
            } else {
                clean_chars(text.nfc(), text.len())
            }
        }
        let texts = [
            "",
            " ",
            "a",
            "Họ và tên",
            " Họ và tên",
            "Họ và tên ",
            "Họ  và tên",
            "Họ\tvà tên",
            "STT",
            "STT ",
            " STT",
            "S  T",
            "a\u{7F}b",
            "a\u{85}b",
            "a\u{A0}b",
            "a\u{2009}b",
            "a\u{3000}b",
            "Đạt\u{200B}",
            "\u{FEFF}STT",
            "Nguye\u{0302}\u{0303}n",
            "a\u{0301}",
            "a\u{200B}\u{0301}",
            "e\u{0301} \u{0301}",
            "Nữ",
            "(1)",
            "x\ny",
            "\r\n",
        ];
        for t in texts {
            let c = cleaned(t);
            assert_eq!(c, reference(t), "{t:?}");
            assert_eq!(matches!(c, Cow::Borrowed(_)), reference(t) == t, "{t:?}");
        }
        // Random texts from the characters that matter to cleaning.
        let alphabet = [
            'a', 'Z', '1', ' ', ' ', '\t', '\n', '\u{7F}', '\u{85}', '\u{A0}', '\u{2009}',
            '\u{200B}', '\u{200E}', '\u{FEFF}', '\u{2060}', 'ệ', 'Đ', 'ư', '\u{0301}', '\u{0323}',
            '\u{0306}', 'ă', 'e', '\u{1100}', '\u{1161}',
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let t: String = (0..rng.usize(0..8))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let c = cleaned(&t);
            assert_eq!(c, reference(&t), "{t:?}");
            assert!(
                !matches!(c, Cow::Borrowed(_)) || reference(&t) == t,
                "{t:?}"
            );
        }
    }

    #[test]
    fn plain_letters_are_neither_space_control_nor_invisible() {
        for c in (0xA1..=0x2FF)
            .chain(0x1E00..=0x1EFF)
            .filter_map(char::from_u32)
        {
            assert!(is_plain_letter(c), "{c:?}");
            assert!(!c.is_whitespace() && !c.is_control(), "{c:?}");
            assert_eq!(clean(&format!("a{c}")), format!("a{c}"), "{c:?}");
        }
    }

    #[test]
    fn is_letter_is_is_alphabetic() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(is_letter(c), c.is_alphabetic(), "{c:?}");
        }
    }

    #[test]
    fn plain_letters_are_starters_nfc_keeps() {
        use unicode_normalization::char::canonical_combining_class;
        for c in (0..=0x1EFF)
            .filter_map(char::from_u32)
            .filter(|&c| is_plain_letter(c))
        {
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes, "{c:?}");
        }
    }

    #[test]
    fn every_character_with_a_combining_class_is_a_combining_mark() {
        // What lets `fold` decompose character by character without reordering.
        use unicode_normalization::char::canonical_combining_class;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert!(
                canonical_combining_class(c) == 0 || is_combining_mark(c),
                "{c:?}"
            );
        }
    }

    #[test]
    fn fold_gives_what_folding_the_nfd_form_gives() {
        fn reference(text: &str) -> String {
            let cleaned = clean(text);
            let mut out = String::new();
            for c in cleaned.nfd() {
                if is_combining_mark(c) {
                    continue;
                }
                match c {
                    'đ' | 'Đ' => out.push('d'),
                    c => out.extend(c.to_lowercase()),
                }
            }
            out
        }
        let alphabet = [
            'a', 'Z', ' ', '\u{A0}', 'ệ', 'Ệ', 'Đ', 'đ', 'ư', 'Ư', '\u{0301}', '\u{0323}',
            '\u{0306}', '\u{0302}', 'ă', 'E', 'İ', 'ẞ', 'Σ', '\u{1100}', '\u{1161}', '한', 'ǅ',
            'ﬁ', '\u{0F73}', '\u{0345}', 'Ω', 'Å', '\u{212B}',
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let t: String = (0..rng.usize(0..8))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            assert_eq!(fold(&t), reference(&t), "{t:?}");
        }
    }

    #[test]
    fn fold_strips_accents_and_dd() {
        assert_eq!(fold("  Đơn vị CÔNG TÁC "), "don vi cong tac");
        assert_eq!(fold("Hoà"), fold("Hòa"));
        assert_eq!(fold("Thuý"), fold("Thúy"));
    }

    #[test]
    fn names_need_two_words_of_letters() {
        assert!(is_plausible_name("Nguyễn Văn Đạt"));
        assert!(is_plausible_name("Lò Thị Ơn"));
        assert!(!is_plausible_name("Đạt"));
        assert!(!is_plausible_name("Nguyễn Văn 2"));
        assert!(!is_plausible_name("0912345678 abc"));
    }

    #[test]
    fn text_is_cut_to_its_limit_with_an_ellipsis_and_left_alone_within_it() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("Nguyễn Văn", 4), "Ngu…");
        assert_eq!(cut("", 3), "");
        let long = "ư".repeat(EXCEL_CELL_CHARS + 10);
        let c = cut(&long, EXCEL_CELL_CHARS);
        assert_eq!(c.chars().count(), EXCEL_CELL_CHARS);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn bidirectional_controls_are_removed_from_names_and_file_names() {
        assert_eq!(clean("Nguy\u{202E}ễn Văn An"), "Nguyễn Văn An");
        assert_eq!(clean("ds\u{2066}.xlsx\u{2069}"), "ds.xlsx");
        assert_eq!(
            clean("a\u{202A}b\u{202B}c\u{202C}d\u{202D}e\u{2067}f\u{2068}"),
            "abcdef"
        );
    }
}
