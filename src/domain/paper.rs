//! What a paper copy is, judged against a unit's accepted versions: the verdict `paper receive`,
//! the desk and the report show (the judging itself is `report::paper`).

/// Crockford's base 32 without I, L, O, U: the alphabet of reconciliation codes, nothing a
/// school can misread on paper.
pub const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The check character's alphabet: the eleven letters of [`CODE_ALPHABET`] that no Vietnamese
/// input method rewrites wherever they are typed: not a vowel, not a Telex key (D doubled, W,
/// the tones S F R X J, Z that clears marks), not a VNI digit. So a check character typed after
/// a vowel by a scanner into Unikey or EVKey arrives as itself. Eleven is prime: the check is a
/// weighted sum modulo 11.
pub const CHECK_ALPHABET: &[u8; 11] = b"BCGHKMNPQTV";

/// The check character of a code of [`CODE_ALPHABET`] (`None` when it holds another
/// character): the weighted sum of its characters' values (weights 1, 2, 3... from the left)
/// modulo 11. A character typed wrong changes the sum by a multiple of its weight that 11 divides
/// only when the two values differ by 11 or 22, and two neighbours swapped change it unless their
/// values differ by 11 or 22: about 94 % of either slip is caught.
pub fn check_char(code: &str) -> Option<char> {
    if code.is_empty() {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in code.chars().enumerate() {
        let v = CODE_ALPHABET.iter().position(|&a| a as char == c)? as u32;
        sum += v * (i as u32 % 10 + 1);
    }
    Some(CHECK_ALPHABET[(sum % 11) as usize] as char)
}

/// A code as it is printed and written on the paper copy: the code, then its check character.
/// Codes are stored without it.
pub fn printed_code(code: &str) -> String {
    match check_char(code) {
        Some(c) => format!("{code}{c}"),
        None => code.to_string(),
    }
}

/// Length of a stored reconciliation code.
pub const CODE_CHARS: usize = 8;

/// A typed code (normalised) read for its check character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// No check character (a code printed before there was one, or a shorter or longer text):
    /// taken as it is.
    Unchecked(String),
    /// The check character agrees: the code without it.
    Valid(String),
    /// The last character is a check character that does not agree: the code was typed wrong.
    Typo(String),
}

/// Reads the check character of a typed code (normalised): a code of [`CODE_CHARS`] characters
/// followed by one of [`CHECK_ALPHABET`].
pub fn check(typed: &str) -> Checked {
    let chars: Vec<char> = typed.chars().collect();
    if chars.len() == CODE_CHARS + 1
        && CHECK_ALPHABET.contains(&(chars[CODE_CHARS] as u8))
        && chars[CODE_CHARS].is_ascii()
    {
        let code: String = chars[..CODE_CHARS].iter().collect();
        return match check_char(&code) {
            Some(c) if c == chars[CODE_CHARS] => Checked::Valid(code),
            Some(_) => Checked::Typo(code),
            None => Checked::Unchecked(typed.to_string()),
        };
    }
    Checked::Unchecked(typed.to_string())
}

/// What a paper copy is, against the unit's accepted versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The code is the current version's, and the row count (when given) agrees.
    Match,
    /// No code given; the row count (when given) agrees with the current version.
    Unchecked,
    /// The code is the current version's (or none was given) but the row count differs.
    WrongRows { paper: usize, list: usize },
    /// The code is an older version's: the unit replaced that list since.
    OlderVersion { number: usize, received_at: String },
    /// The code is none of the unit's versions.
    Mismatch,
    /// The unit has no accepted list to compare with.
    NoList,
    /// The code's check character does not agree: it was typed (or written) wrong, rather than
    /// being another list's code.
    Typo,
}

impl Verdict {
    /// As `units.csv` and the database write it.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Unchecked => "unchecked",
            Verdict::WrongRows { .. } => "wrong_rows",
            Verdict::OlderVersion { .. } => "older_version",
            Verdict::Mismatch => "mismatch",
            Verdict::NoList => "no_list",
            Verdict::Typo => "typo",
        }
    }

    /// True when nothing disagrees (exit status 0 of `paper receive`).
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Match | Verdict::Unchecked)
    }
}

/// The judgement with the version the code named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The version the code named (current or older), if any.
    pub version_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_code_carries_a_check_character_that_survives_input_methods() {
        let printed = printed_code("2KG6690H");
        assert_eq!(printed.len(), 9);
        let last = printed.chars().last().unwrap();
        // None of the letters Telex or VNI rewrite.
        assert!(!"AEIOUYDWSFRXJZ0123456789".contains(last), "{printed}");
        assert_eq!(check(&printed), Checked::Valid("2KG6690H".into()));
        // An old code, without one, is taken as it is.
        assert_eq!(check("2KG6690H"), Checked::Unchecked("2KG6690H".into()));
    }

    #[test]
    fn most_single_slips_and_swaps_are_told_from_a_real_code() {
        let code = "2KG6690H";
        let printed = printed_code(code);
        let check_c = printed.chars().last().unwrap();
        let (mut caught, mut total) = (0, 0);
        for i in 0..CODE_CHARS {
            for &a in CODE_ALPHABET {
                let mut typed: Vec<char> = code.chars().collect();
                if typed[i] == a as char {
                    continue;
                }
                typed[i] = a as char;
                let typed: String = typed.into_iter().chain([check_c]).collect();
                total += 1;
                if matches!(check(&typed), Checked::Typo(_)) {
                    caught += 1;
                }
            }
        }
        assert!(caught * 100 >= total * 90, "{caught} of {total}");
        // Two neighbours swapped ("2K" → "K2").
        assert_eq!(
            check(&format!("K2G6690H{check_c}")),
            Checked::Typo("K2G6690H".into())
        );
    }
}
