//! Paper copies against versions: is the code written on the paper the unit's current list, an
//! older one, or none of them; does the row count agree. Pure: `paper receive` answers with it
//! and the report judges every receipt again against the versions as they are now (a paper that
//! matched becomes "for an older version" when the unit sends a new list).

use crate::domain::paper::Checked;
pub use crate::domain::paper::{Judgement, Verdict, printed_code};
use crate::store::paper::VersionLine;

/// Normalises a code as staff type it from paper: upper case, spaces and dashes dropped, and the
/// letters Crockford's alphabet leaves out read as the digits they look like (O→0, I and L→1).
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '_'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// Judges a paper copy (`code` normalised, empty when none was written) against the unit's
/// versions, oldest first.
pub fn judge(code: &str, rows: Option<usize>, versions: &[&VersionLine]) -> Judgement {
    // A printed code ends in its check character; one that disagrees is a typo, not another
    // list's code. A code printed before there were check characters has none.
    let code = match crate::domain::paper::check(code) {
        Checked::Valid(c) | Checked::Unchecked(c) => c,
        Checked::Typo(_) => {
            return Judgement {
                verdict: Verdict::Typo,
                version_id: None,
            };
        }
    };
    let code = code.as_str();
    let Some(current) = versions.last() else {
        return Judgement {
            verdict: Verdict::NoList,
            version_id: None,
        };
    };
    let rows_differ = |v: &VersionLine| rows.is_some_and(|n| n != v.row_count);
    if code.is_empty() || code == current.code {
        let verdict = if rows_differ(current) {
            Verdict::WrongRows {
                paper: rows.unwrap_or_default(),
                list: current.row_count,
            }
        } else if code.is_empty() {
            Verdict::Unchecked
        } else {
            Verdict::Match
        };
        return Judgement {
            verdict,
            version_id: (!code.is_empty()).then_some(current.id),
        };
    }
    match versions.iter().rev().find(|v| v.code == code) {
        Some(old) => Judgement {
            verdict: Verdict::OlderVersion {
                number: old.number,
                received_at: old.received_at.clone(),
            },
            version_id: Some(old.id),
        },
        None => Judgement {
            verdict: Verdict::Mismatch,
            version_id: None,
        },
    }
}

/// A paper copy recorded by [`receive`].
#[derive(Debug, Clone)]
pub struct Received {
    pub judgement: Judgement,
    /// The unit's current version, when it has one.
    pub current: Option<VersionLine>,
    pub receipt: crate::store::paper::ReceiptLine,
}

/// Records a unit's paper copy (`code` normalised, empty when none was written) and judges it
/// against the unit's versions: `paper receive` and the desk's paper page both record through
/// this.
pub fn receive(
    store: &crate::store::Store,
    unit_code: &str,
    code: &str,
    rows: Option<usize>,
    note: &str,
) -> anyhow::Result<Received> {
    let all = crate::store::paper::versions(store.conn())?;
    let versions: Vec<&VersionLine> = all.iter().filter(|v| v.unit_code == unit_code).collect();
    let judgement = judge(code, rows, &versions);
    let receipt = store.add_receipt(&crate::store::paper::NewReceipt {
        unit_code,
        code,
        row_count: rows,
        note: note.trim(),
        verdict: judgement.verdict.code(),
        version_id: judgement.version_id,
    })?;
    let current = versions.last().map(|v| (*v).clone());
    Ok(Received {
        judgement,
        current,
        receipt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: i64, number: usize, code: &str, rows: usize) -> VersionLine {
        VersionLine {
            id,
            unit_code: "U".into(),
            number,
            code: code.into(),
            row_count: rows,
            received_at: format!("2022-12-0{number}T08:00:00+00:00"),
        }
    }

    #[test]
    fn codes_are_read_as_staff_may_type_them() {
        assert_eq!(normalise_code(" 2kg6-69oh "), "2KG6690H");
        assert_eq!(normalise_code("abil"), "AB11");
    }

    #[test]
    fn a_paper_is_judged_against_current_and_older_versions() {
        let (a, b) = (v(1, 1, "AAAAAAAA", 3), v(2, 2, "BBBBBBBB", 4));
        let both = [&a, &b];
        assert_eq!(judge("BBBBBBBB", Some(4), &both).verdict, Verdict::Match);
        assert_eq!(judge("BBBBBBBB", None, &both).version_id, Some(2));
        assert_eq!(
            judge("BBBBBBBB", Some(5), &both).verdict,
            Verdict::WrongRows { paper: 5, list: 4 }
        );
        let old = judge("AAAAAAAA", Some(3), &both);
        assert_eq!(old.version_id, Some(1));
        assert!(matches!(
            old.verdict,
            Verdict::OlderVersion { number: 1, .. }
        ));
        assert_eq!(judge("CCCCCCCC", None, &both).verdict, Verdict::Mismatch);
        assert_eq!(judge("", Some(4), &both).verdict, Verdict::Unchecked);
        assert_eq!(judge("AAAAAAAA", None, &[]).verdict, Verdict::NoList);
        assert!(!judge("CCCCCCCC", None, &both).verdict.is_ok());
    }
}
