//! Text clean-up shared by every stage: cleaning a cell as written (NFC, invisible characters,
//! whitespace) and folding it into a comparison key (lower case, no accents, đ → d).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Cleans a cell's text the way TEMPLATE.md orders it: NFC, U+00A0 to a space, zero-width and
/// direction marks and BOMs removed, trimmed, inner whitespace collapsed to one space.
///
/// Legacy-encoding decoding (TCVN3, VNI) must happen before this: TCVN3 uses U+00AD for "ư".
pub fn clean(text: &str) -> String {
    // Most cells are already NFC (and ASCII always is): skip the recomposition then.
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        clean_chars(text.chars(), text.len())
    } else {
        clean_chars(text.nfc(), text.len())
    }
}

fn clean_chars(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pending_space = false;
    for c in chars {
        match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}'
            | '\u{2060}' => {}
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
    let cleaned = clean(text);
    if cleaned.is_ascii() {
        return cleaned.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(cleaned.len());
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

/// The folded key of a person's name, for candidate matching only (TEMPLATE.md "Identity"): the
/// accents go, so "Hoà"/"Hòa" and "Thuý"/"Thúy" meet.
pub fn name_key(name: &str) -> String {
    fold(name)
}

/// Title-cases nothing and re-cases nothing: names are stored as written. This only says whether a
/// name has at least two words made of letters (Vietnamese letters included).
pub fn is_plausible_name(name: &str) -> bool {
    let words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
    words.len() >= 2
        && words.iter().all(|w| {
            w.chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        })
}

/// A date as Vietnamese staff and schools write it: `dd/mm/yyyy`; "" when there is none.
pub fn date_dmy(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_normalises_nfd_and_strips_invisibles() {
        let nfd = "Nguye\u{0302}\u{0303}n\u{00A0}\u{00A0}Va\u{0306}n  \u{200B}Đạt\u{FEFF} ";
        assert_eq!(clean(nfd), "Nguyễn Văn Đạt");
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
}
