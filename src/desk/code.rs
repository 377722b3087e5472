//! Reading a reconciliation code that went through a Vietnamese input method.
//!
//! A USB barcode scanner types the code like a keyboard. With Unikey or EVKey on (Telex or VNI),
//! keys typed after a vowel become marks: Telex "AA" → "Â", "DD" → "Đ", "W" → "Ư", "AW" → "Ă",
//! and S F R X J as tones ("AS" → "Á", also typed at the end of the syllable: "ANS" → "ÁN");
//! VNI 1-5 as tones, 6 (circumflex), 7 (horn), 8 (breve), 9 (đ). What arrives is then not the
//! code. Each marked letter is taken apart again (`pieces`) and a known code matches when it can
//! be typed as what arrived: each base letter in order, each mark's key somewhere after its
//! letter (`could_be`). The codes to try are the stored ones, so the ambiguity (is "Á" "AS" or
//! "A1"?) is settled by what exists.

use unicode_normalization::char::decompose_canonical;

use crate::report::paper::normalise_code;

/// Longest input looked at (a code is 8 characters; a scanner may add a prefix or suffix).
const MAX_CHARS: usize = 40;

/// Most steps the matcher takes for one code: the search is small, but bounded all the same.
const MAX_STEPS: usize = 20_000;

/// What one typed character may have been: base letters that were typed in place, and marks
/// whose key was typed somewhere after.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    /// Alternatives for what was typed in place (usually one letter; "W" for a bare "Ư").
    base: Vec<(char, Vec<Mark>)>,
}

/// A mark an input method added, with the keys that make it (Telex's, VNI's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark(&'static [char]);

const ACUTE: Mark = Mark(&['S', '1']);
const GRAVE: Mark = Mark(&['F', '2']);
const HOOK: Mark = Mark(&['R', '3']);
const TILDE: Mark = Mark(&['X', '4']);
const DOT: Mark = Mark(&['J', '5']);
const BREVE: Mark = Mark(&['W', '8']);
const HORN: Mark = Mark(&['W', '7']);

/// The circumflex: the letter doubled in Telex, 6 in VNI.
fn circumflex(base: char) -> Mark {
    match base {
        'A' => Mark(&['A', '6']),
        'E' => Mark(&['E', '6']),
        _ => Mark(&['O', '6']),
    }
}

/// Plain ASCII as a code is typed: upper case, with the letters Crockford leaves out read as
/// digits (the same as [`normalise_code`]).
fn plain(c: char) -> char {
    match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    }
}

/// Takes a typed character apart; `None` for a character no input method makes (dropped).
fn piece(c: char) -> Option<Piece> {
    if c.is_ascii_alphanumeric() {
        return Some(Piece {
            base: vec![(plain(c), Vec::new())],
        });
    }
    match c {
        'đ' | 'Đ' => {
            return Some(Piece {
                base: vec![('D', vec![Mark(&['D', '9'])])],
            });
        }
        // Telex types "W" alone as "Ư".
        'ư' | 'Ư' => {
            return Some(Piece {
                base: vec![('W', Vec::new()), ('U', vec![HORN])],
            });
        }
        _ => {}
    }
    let mut base = None;
    let mut marks = Vec::new();
    decompose_canonical(c, |d| match d {
        '\u{301}' => marks.push(ACUTE),
        '\u{300}' => marks.push(GRAVE),
        '\u{309}' => marks.push(HOOK),
        '\u{303}' => marks.push(TILDE),
        '\u{323}' => marks.push(DOT),
        '\u{306}' => marks.push(BREVE),
        '\u{31b}' => marks.push(HORN),
        '\u{302}' => marks.push(Mark(&[])),
        d if d.is_ascii_alphabetic() => base = Some(d.to_ascii_uppercase()),
        _ => {}
    });
    let b = base?;
    for m in &mut marks {
        if m.0.is_empty() {
            *m = circumflex(b);
        }
    }
    // "Ư" standing for W is handled above; "ƯƠ" and the like decompose here.
    let mut alternatives = vec![(plain(b), marks.clone())];
    if b == 'U' && marks.contains(&HORN) {
        let rest: Vec<Mark> = marks.iter().copied().filter(|m| *m != HORN).collect();
        alternatives.push(('W', rest));
    }
    Some(Piece { base: alternatives })
}

/// What arrived, taken apart; `None` when it is plain (nothing for an input method to explain).
fn pieces(typed: &str) -> Option<Vec<Piece>> {
    let chars: Vec<char> = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '_'))
        .take(MAX_CHARS)
        .collect();
    if chars.iter().all(|c| c.is_ascii()) {
        return None;
    }
    Some(chars.into_iter().filter_map(piece).collect())
}

/// True when `code` (normalised) typed through Telex or VNI can give what `typed` holds.
fn could_be(code: &[char], typed: &[Piece]) -> bool {
    let mut steps = 0;
    matches(code, typed, &mut Vec::new(), &mut steps)
}

fn matches(code: &[char], typed: &[Piece], pending: &mut Vec<Mark>, steps: &mut usize) -> bool {
    *steps += 1;
    if *steps > MAX_STEPS {
        return false;
    }
    let Some(&c) = code.first() else {
        return typed.is_empty() && pending.is_empty();
    };
    // A key that made a pending mark.
    for i in 0..pending.len() {
        if pending[i].0.contains(&c) {
            let mark = pending.remove(i);
            let found = matches(&code[1..], typed, pending, steps);
            pending.insert(i, mark);
            if found {
                return true;
            }
        }
    }
    // The next typed character's base letter.
    if let Some((first, rest)) = typed.split_first() {
        for (base, marks) in &first.base {
            if *base == c {
                let before = pending.len();
                pending.extend(marks.iter().copied());
                let found = matches(&code[1..], rest, pending, steps);
                pending.truncate(before);
                if found {
                    return true;
                }
            }
        }
    }
    false
}

/// How a typed code reads against the known codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The code as typed, normalised (plain ASCII, or nothing known matched).
    Plain(String),
    /// An input method's marks undone: the one known code that explains what arrived.
    Unmarked(String),
    /// Several known codes explain it equally.
    Ambiguous(Vec<String>),
}

impl Reading {
    /// The code to record.
    pub fn code(&self) -> String {
        match self {
            Reading::Plain(c) | Reading::Unmarked(c) => c.clone(),
            Reading::Ambiguous(_) => String::new(),
        }
    }
}

/// Reads what the scanner typed: a plain code as [`normalise_code`] reads it; a code with marks
/// an input method added, as the one of `known` (normalised codes) it can be.
pub fn read_code<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Reading {
    let Some(typed_pieces) = pieces(typed) else {
        let plain: String = typed.chars().take(MAX_CHARS).collect();
        return Reading::Plain(normalise_code(&plain));
    };
    let mut found: Vec<String> = Vec::new();
    for k in known {
        let code: Vec<char> = k.chars().collect();
        if code.len() <= MAX_CHARS
            && could_be(&code, &typed_pieces)
            && !found.iter().any(|f| f == k)
        {
            found.push(k.to_string());
        }
    }
    match found.len() {
        1 => Reading::Unmarked(found.remove(0)),
        0 => Reading::Plain(fold_plain(&typed_pieces)),
        _ => Reading::Ambiguous(found),
    }
}

/// The base letters of what arrived, marks dropped: the best plain reading of an unknown code.
fn fold_plain(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .filter_map(|p| p.base.first())
        .map(|(b, _)| *b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(typed: &str, known: &[&str]) -> Reading {
        read_code(typed, known.iter().copied())
    }

    #[test]
    fn a_plain_code_is_read_as_paper_receive_reads_it() {
        assert_eq!(read(" 2kg6-69oh ", &[]), Reading::Plain("2KG6690H".into()));
    }

    #[test]
    fn telex_tones_and_doubled_letters_are_undone() {
        let known = ["2KG6690H", "AS7DDEJ2", "7343MYG8"];
        // A, S → Á; D, D → Đ; E, J → Ẹ.
        assert_eq!(read("Á7ĐẸ2", &known), Reading::Unmarked("AS7DDEJ2".into()));
        // Lower case from the input method does not matter.
        assert_eq!(read("á7đẹ2", &known), Reading::Unmarked("AS7DDEJ2".into()));
    }

    #[test]
    fn a_tone_typed_at_the_end_of_the_syllable_is_undone() {
        // Telex puts the tone of "A N S" on the A: "ÁN".
        assert_eq!(
            read("3ÁN9K2M", &["3ANS9K2M", "3ANX9K2M"]),
            Reading::Unmarked("3ANS9K2M".into())
        );
    }

    #[test]
    fn vni_digits_after_a_vowel_are_undone() {
        // A, 6 → Â; E, 1 → É; Y, 5 → Ỵ.
        assert_eq!(
            read("KÂÉ8Ỵ0", &["KA6E18Y50", "KA6E1"]),
            Reading::Unmarked("KA6E18Y50".into())
        );
    }

    #[test]
    fn a_bare_w_made_into_u_horn_is_read_as_w() {
        assert_eq!(read("Ư4ZZ", &["W4ZZ"]), Reading::Unmarked("W4ZZ".into()));
        // "AW" → "Ă" (Telex) and "A8" (VNI) both read as a breve.
        assert_eq!(read("ĂQ", &["AWQ"]), Reading::Unmarked("AWQ".into()));
        assert_eq!(read("ĂQ", &["A8Q"]), Reading::Unmarked("A8Q".into()));
    }

    #[test]
    fn two_codes_that_both_explain_the_input_are_not_guessed_between() {
        let r = read("ÁB", &["ASB", "A1B"]);
        assert_eq!(r, Reading::Ambiguous(vec!["ASB".into(), "A1B".into()]));
        assert_eq!(r.code(), "");
    }

    #[test]
    fn an_unknown_marked_code_is_read_without_its_marks() {
        assert_eq!(read("ÁB", &["ZZZ"]), Reading::Plain("AB".into()));
    }

    #[test]
    fn a_long_hostile_input_is_bounded() {
        let typed: String = "Ấ".repeat(10_000);
        let known = ["A".repeat(40)];
        let r = read_code(&typed, known.iter().map(|s| s.as_str()));
        assert!(matches!(r, Reading::Plain(ref p) if p.len() == MAX_CHARS));
    }
}
