//! What a paper copy is, judged against a unit's accepted versions: the verdict `paper receive`,
//! the desk and the report show (the judging itself is `report::paper`).

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
