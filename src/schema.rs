//! The request list's vocabulary: the seven request types, the canonical columns with the header
//! variants schools write, and which fields each request type requires (TEMPLATE.md).

use serde::{Deserialize, Serialize};

use crate::text::fold;

/// One of the seven services a unit can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    NewMailbox,
    NewCert,
    Reissue,
    KeyRecovery,
    Revoke,
    Renew,
    Change,
}

impl RequestType {
    /// Every type, in the order of the department's letter (and of every report column).
    pub const ALL: [RequestType; 7] = [
        RequestType::NewMailbox,
        RequestType::NewCert,
        RequestType::Reissue,
        RequestType::KeyRecovery,
        RequestType::Revoke,
        RequestType::Renew,
        RequestType::Change,
    ];

    /// The stable code used in CSVs and the database.
    pub fn code(self) -> &'static str {
        match self {
            RequestType::NewMailbox => "new_mailbox",
            RequestType::NewCert => "new_cert",
            RequestType::Reissue => "reissue",
            RequestType::KeyRecovery => "key_recovery",
            RequestType::Revoke => "revoke",
            RequestType::Renew => "renew",
            RequestType::Change => "change",
        }
    }

    pub fn from_code(code: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The canonical Vietnamese name, as the template's drop-down and the replies write it.
    pub fn label(self) -> &'static str {
        match self {
            RequestType::NewMailbox => "Cấp mới hòm thư công vụ",
            RequestType::NewCert => "Cấp mới chứng thư số",
            RequestType::Reissue => "Cấp lại chứng thư số",
            RequestType::KeyRecovery => "Khôi phục thiết bị lưu khoá bí mật",
            RequestType::Revoke => "Thu hồi chứng thư số",
            RequestType::Renew => "Gia hạn chứng thư số",
            RequestType::Change => "Thay đổi nội dung chứng thư số",
        }
    }

    /// Folded spellings schools use besides the canonical name (TEMPLATE.md).
    fn spellings(self) -> &'static [&'static str] {
        match self {
            RequestType::NewMailbox => &[
                "cap moi hom thu",
                "hom thu cong vu",
                "cap hop thu",
                "tao email",
                "cap moi hop thu",
                "cap moi hom thu cong vu",
            ],
            RequestType::NewCert => &[
                "cap moi cts",
                "cap moi chung thu",
                "cap moi",
                "cm",
                "cap moi chung thu so",
            ],
            RequestType::Reissue => &["cap lai", "cap lai cts", "cap lai chung thu so"],
            RequestType::KeyRecovery => &[
                "khoi phuc",
                "khoi phuc khoa",
                "quen mat khau",
                "reset token",
                "khoi phuc thiet bi",
            ],
            RequestType::Revoke => &["thu hoi", "thu hoi cts", "thu hoi chung thu so"],
            RequestType::Renew => &["gia han", "gia han cts", "gia han chung thu so"],
            RequestType::Change => &[
                "thay doi",
                "thay doi noi dung",
                "thay doi thong tin",
                "thay doi noi dung cts",
            ],
        }
    }

    /// Reads a cell or sheet name: the canonical name, a code, or a known spelling, alone or
    /// followed by its reason ("Thu hồi do nghỉ hưu", "Gia hạn - sắp hết hạn"): the longest
    /// spelling the text starts with, at a word boundary, wins ("Cấp mới hòm thư" over "Cấp
    /// mới"). A two-letter short form ("CM") counts only alone.
    pub fn parse(text: &str) -> Option<RequestType> {
        static SPELLINGS: std::sync::OnceLock<Vec<(RequestType, String)>> =
            std::sync::OnceLock::new();
        let spellings = SPELLINGS.get_or_init(|| {
            let mut all: Vec<(RequestType, String)> = Vec::new();
            for t in RequestType::ALL {
                all.push((t, fold(t.label())));
                all.extend(t.spellings().iter().map(|s| (t, s.to_string())));
            }
            // Longest first: the most specific spelling a text starts with is found first.
            all.sort_by_key(|(_, s)| std::cmp::Reverse(s.len()));
            all
        });
        if let Some(t) = RequestType::from_code(text.trim()) {
            return Some(t);
        }
        let f = fold(text);
        let f = f.trim_matches(|c: char| !c.is_alphanumeric());
        if f.is_empty() {
            return None;
        }
        spellings.iter().find_map(|(t, s)| {
            let rest = f.strip_prefix(s.as_str())?;
            let alone = rest.is_empty();
            let boundary = rest.starts_with([' ', ',', ';', ':', '-', '(', '/', '.', '\n']);
            (alone || (s.len() > 2 && boundary)).then_some(*t)
        })
    }

    /// The requirement of `field` for this type (TEMPLATE.md "Required fields per type").
    pub fn requirement(self, field: Field) -> Need {
        use Need::*;
        use RequestType::*;
        match field {
            Field::FullName | Field::UnitName | Field::IdNumber => Required,
            Field::BirthDate => match self {
                NewMailbox | NewCert | Reissue => Required,
                _ => Optional,
            },
            Field::Email => match self {
                NewMailbox => Ignored,
                _ => Required,
            },
            Field::Position => match self {
                NewCert | Reissue => Required,
                _ => Optional,
            },
            Field::Phone => match self {
                NewMailbox => Required,
                _ => Optional,
            },
            Field::CertSerial => match self {
                NewMailbox | NewCert => Ignored,
                Reissue => Optional,
                _ => Required,
            },
            Field::ChangeDetail => match self {
                Change => Required,
                _ => Ignored,
            },
            Field::Reason => match self {
                Reissue | KeyRecovery | Revoke => Required,
                Renew | Change => Optional,
                _ => Ignored,
            },
            _ => Optional,
        }
    }

    /// Two requests for one person that cannot both be granted.
    pub fn contradicts(self, other: RequestType) -> bool {
        use RequestType::*;
        matches!(
            (self, other),
            (Revoke, Renew | Change | KeyRecovery) | (Renew | Change | KeyRecovery, Revoke)
        )
    }
}

/// Whether a field must, may or need not be filled for a request type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    Ignored,
}

/// A column of the request list, by its key in TEMPLATE.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Seq,
    FullName,
    /// "Họ và đệm" of a split name; joined with `GivenName` into `FullName`.
    FamilyMiddleName,
    /// "Tên" of a split name.
    GivenName,
    BirthDate,
    IdNumber,
    IdIssueDate,
    IdIssuePlace,
    /// One cell holding "number;date;place".
    IdCombined,
    Position,
    UnitName,
    Email,
    Phone,
    RequestType,
    CertSerial,
    ChangeDetail,
    Reason,
    Note,
}

impl Field {
    /// Every field a header can map to.
    pub const ALL: [Field; 18] = [
        Field::Seq,
        Field::FullName,
        Field::FamilyMiddleName,
        Field::GivenName,
        Field::BirthDate,
        Field::IdNumber,
        Field::IdIssueDate,
        Field::IdIssuePlace,
        Field::IdCombined,
        Field::Position,
        Field::UnitName,
        Field::Email,
        Field::Phone,
        Field::RequestType,
        Field::CertSerial,
        Field::ChangeDetail,
        Field::Reason,
        Field::Note,
    ];

    /// The key from TEMPLATE.md, used in `problems.csv`.
    pub fn key(self) -> &'static str {
        match self {
            Field::Seq => "seq",
            Field::FullName => "full_name",
            Field::FamilyMiddleName => "full_name",
            Field::GivenName => "full_name",
            Field::BirthDate => "birth_date",
            Field::IdNumber => "id_number",
            Field::IdIssueDate => "id_issue_date",
            Field::IdIssuePlace => "id_issue_place",
            Field::IdCombined => "id_number",
            Field::Position => "position",
            Field::UnitName => "unit_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::RequestType => "request_type",
            Field::CertSerial => "cert_serial",
            Field::ChangeDetail => "change_detail",
            Field::Reason => "reason",
            Field::Note => "note",
        }
    }

    /// The canonical header, as the generated template writes it.
    pub fn header(self) -> &'static str {
        match self {
            Field::Seq => "STT",
            Field::FullName => "Họ và tên",
            Field::FamilyMiddleName => "Họ và đệm",
            Field::GivenName => "Tên",
            Field::BirthDate => "Ngày sinh",
            Field::IdNumber => "Số CCCD",
            Field::IdIssueDate => "Ngày cấp",
            Field::IdIssuePlace => "Nơi cấp",
            Field::IdCombined => "Số CMND/CCCD; Ngày cấp; Nơi cấp",
            Field::Position => "Chức vụ",
            Field::UnitName => "Đơn vị công tác",
            Field::Email => "Email công vụ",
            Field::Phone => "Số điện thoại di động",
            Field::RequestType => "Nội dung đề nghị",
            Field::CertSerial => "Số hiệu chứng thư số",
            Field::ChangeDetail => "Nội dung thay đổi",
            Field::Reason => "Lý do",
            Field::Note => "Ghi chú",
        }
    }

    /// Folded header variants (TEMPLATE.md "Canonical columns"), canonical first.
    fn variants(self) -> &'static [&'static str] {
        match self {
            Field::Seq => &["stt", "tt", "so tt", "so thu tu"],
            Field::FullName => &[
                "ho va ten",
                "ho ten",
                "ho va ten can bo",
                "ho va ten nguoi de nghi",
            ],
            Field::FamilyMiddleName => &["ho va dem", "ho dem", "ho"],
            Field::GivenName => &["ten"],
            Field::BirthDate => &["ngay sinh", "ngay thang nam sinh", "ns"],
            Field::IdNumber => &[
                "so cccd",
                "so cmnd/cccd",
                "so cmnd/cccd/ho chieu",
                "so dinh danh ca nhan",
                "cccd",
                "cmnd",
                "cmt",
                "so cmnd",
                "so can cuoc cong dan",
            ],
            Field::IdIssueDate => &["ngay cap", "ngay cap cccd", "ngay cap cmnd"],
            Field::IdIssuePlace => &["noi cap", "noi cap cccd", "noi cap cmnd"],
            Field::IdCombined => &[
                "so cmnd/cccd; ngay cap; noi cap",
                "so cccd; ngay cap; noi cap",
                "so cmnd/cccd, ngay cap, noi cap",
                "so cccd, ngay cap, noi cap",
            ],
            Field::Position => &["chuc vu", "chuc danh", "chuc vu/chuc danh"],
            Field::UnitName => &[
                "don vi cong tac",
                "co quan, don vi",
                "co quan don vi",
                "ten co quan-to chuc cong tac",
                "ten co quan - to chuc cong tac",
                "don vi",
                "to chuc cap 1",
                "to chuc cap 2",
                "to chuc cap 3",
                "to chuc cap 4",
            ],
            Field::Email => &[
                "email cong vu",
                "dia chi thu dien tu cong vu",
                "thu dien tu",
                "hom thu cong vu",
                "email",
                "dia chi email",
            ],
            Field::Phone => &[
                "so dien thoai di dong",
                "dien thoai",
                "sdt",
                "di dong",
                "so dt",
                "so dien thoai",
                "dien thoai di dong",
            ],
            Field::RequestType => &[
                "noi dung de nghi",
                "loai de nghi",
                "hinh thuc de nghi",
                "hinh thuc",
                "dich vu",
            ],
            Field::CertSerial => &[
                "so hieu chung thu so",
                "serial",
                "so serial",
                "serial cts cu",
                "so hieu chung thu cu",
                "so serial cts",
            ],
            Field::ChangeDetail => &["noi dung thay doi", "thong tin thay doi"],
            Field::Reason => &["ly do", "ly do de nghi"],
            Field::Note => &["ghi chu"],
        }
    }

    /// Recognises a header cell as written by a school.
    pub fn from_header(text: &str) -> Option<Field> {
        use std::cell::RefCell;
        use std::collections::HashMap;
        // The same header texts come back in every list and in every row the header search
        // looks at: remember the answers (a pure function), up to a bound.
        thread_local! {
            static SEEN: RefCell<HashMap<String, Option<Field>>> = RefCell::new(HashMap::new());
        }
        if text.trim().is_empty() || text.len() > 200 {
            return None;
        }
        if let Some(known) = SEEN.with(|s| s.borrow().get(text).copied()) {
            return known;
        }
        let f = fold_header(text);
        let field = Field::ALL
            .into_iter()
            .find(|field| !f.is_empty() && field.variants().contains(&f.as_str()))
            .or_else(|| is_combined_id_header(&f).then_some(Field::IdCombined));
        SEEN.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() >= 4096 {
                s.clear();
            }
            s.insert(text.to_string(), field);
        });
        field
    }
}

/// The combined "Số CMND/CCCD; Ngày cấp; Nơi cấp" header however its parts are separated (`;`,
/// `,`, `-`, a line break, with or without spaces): the ID, the issue date and the issue place,
/// in that order, and nothing else.
fn is_combined_id_header(folded: &str) -> bool {
    let compact: String = folded
        .chars()
        .filter(|c| !matches!(c, ' ' | ';' | ',' | '-' | '+' | '&'))
        .collect();
    let id = [
        "socmnd/cccd/hochieu",
        "socmnd/cccd",
        "socccd/cmnd",
        "socccd",
        "socmnd",
        "cccd",
        "cmnd",
    ]
    .iter()
    .find_map(|p| compact.strip_prefix(p));
    let Some(rest) = id else {
        return false;
    };
    let rest = rest
        .strip_prefix("ngaycap")
        .map(|r| r.strip_prefix("cccd").unwrap_or(r));
    rest.is_some_and(|r| matches!(r, "noicap" | "noicapcccd" | "vanoicap"))
}

/// The certificate authority's code for the police office that issued a CCCD: "Cục Cảnh sát
/// quản lý hành chính về trật tự xã hội".
pub const CA_PLACE_QLHC: &str = "CCSQLHCVTTXH";
/// ... and "Cục Cảnh sát đăng ký, quản lý cư trú và dữ liệu quốc gia về dân cư".
pub const CA_PLACE_DKQL: &str = "CCSĐKQLCTVDLQGVDC";

/// The CA's code ([`CA_PLACE_QLHC`] or [`CA_PLACE_DKQL`]) for an issuing office as schools
/// write it ("Cục CS QLHC về TTXH", "Cục Cảnh sát ĐKQL cư trú và DLQG về dân cư", the codes
/// themselves, any case, with or without accents); `None` when it names neither, or both.
pub fn ca_issue_place(place: &str) -> Option<&'static str> {
    let folded = fold(place);
    let squashed: String = folded.chars().filter(|c| c.is_alphanumeric()).collect();
    let has = |keys: &[&str]| {
        keys.iter()
            .any(|k| folded.contains(k) || squashed.contains(&k.replace(' ', "")))
    };
    let qlhc = has(&[
        "qlhc",
        "quan ly hanh chinh",
        "ttxh",
        "trat tu xa hoi",
        "ccsqlhcvttxh",
    ]);
    let dkql = has(&[
        "dkql",
        "dang ky quan ly",
        "cu tru",
        "dlqg",
        "du lieu quoc gia",
        "dan cu",
        "ccsdkqlctvdlqgvdc",
    ]);
    match (qlhc, dkql) {
        (true, false) => Some(CA_PLACE_QLHC),
        (false, true) => Some(CA_PLACE_DKQL),
        _ => None,
    }
}

/// Folds a header: [`fold`], with text in parentheses ("(bắt buộc)") and a trailing `*` or `:`
/// dropped.
pub fn fold_header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let folded = fold(&out);
    folded
        .trim_end_matches(['*', ':', '.'])
        .trim()
        .replace(" / ", "/")
        .replace(" ;", ";")
}

/// The template's data columns, in order (TEMPLATE.md's canonical columns).
pub const TEMPLATE_COLUMNS: [Field; 15] = [
    Field::Seq,
    Field::FullName,
    Field::BirthDate,
    Field::IdNumber,
    Field::IdIssueDate,
    Field::IdIssuePlace,
    Field::Position,
    Field::UnitName,
    Field::Email,
    Field::Phone,
    Field::RequestType,
    Field::CertSerial,
    Field::ChangeDetail,
    Field::Reason,
    Field::Note,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuing_offices_map_to_exactly_one_of_the_cas_two_codes() {
        for q in [
            "Cục Cảnh sát QLHC về TTXH",
            "Cục CS QLHC về TTXH",
            "cuc canh sat quan ly hanh chinh ve trat tu xa hoi",
            "CCSQLHCVTTXH",
        ] {
            assert_eq!(ca_issue_place(q), Some(CA_PLACE_QLHC), "{q}");
        }
        for d in [
            "Cục Cảnh sát ĐKQL cư trú và DLQG về dân cư",
            "Cục CS ĐKQL cư trú và DLQG về dân cư",
            "Cục Cảnh sát đăng ký, quản lý cư trú và dữ liệu quốc gia về dân cư",
            "CCSĐKQLCTVDLQGVDC",
            "ccsdkqlctvdlqgvdc",
        ] {
            assert_eq!(ca_issue_place(d), Some(CA_PLACE_DKQL), "{d}");
        }
        for none in ["Công an tỉnh Nam Định", "", "Hà Nội"] {
            assert_eq!(ca_issue_place(none), None, "{none}");
        }
    }

    #[test]
    fn request_type_spellings_are_recognised_after_folding() {
        assert_eq!(
            RequestType::parse("Cấp mới CTS"),
            Some(RequestType::NewCert)
        );
        assert_eq!(RequestType::parse("  THU HỒI "), Some(RequestType::Revoke));
        assert_eq!(
            RequestType::parse("Quên mật khẩu"),
            Some(RequestType::KeyRecovery)
        );
        assert_eq!(
            RequestType::parse("Thay đổi nội dung chứng thư số"),
            Some(RequestType::Change)
        );
        assert_eq!(RequestType::parse("gia_han"), None);
        assert_eq!(RequestType::parse("renew"), Some(RequestType::Renew));
        assert_eq!(RequestType::parse("xin cấp"), None);
    }

    #[test]
    fn header_variants_map_to_their_field() {
        assert_eq!(
            Field::from_header("Họ và tên (bắt buộc)"),
            Some(Field::FullName)
        );
        assert_eq!(Field::from_header("Số CMND/CCCD"), Some(Field::IdNumber));
        assert_eq!(Field::from_header("Số CMND / CCCD"), Some(Field::IdNumber));
        assert_eq!(Field::from_header("SĐT"), Some(Field::Phone));
        assert_eq!(
            Field::from_header("Địa chỉ thư điện tử công vụ"),
            Some(Field::Email)
        );
        assert_eq!(
            Field::from_header("Số CMND/CCCD; Ngày cấp; Nơi cấp"),
            Some(Field::IdCombined)
        );
        assert_eq!(Field::from_header("Cột lạ"), None);
    }

    #[test]
    fn required_fields_follow_the_template_table() {
        assert_eq!(
            RequestType::NewMailbox.requirement(Field::Email),
            Need::Ignored
        );
        assert_eq!(
            RequestType::NewMailbox.requirement(Field::Phone),
            Need::Required
        );
        assert_eq!(
            RequestType::Revoke.requirement(Field::CertSerial),
            Need::Required
        );
        assert_eq!(
            RequestType::Change.requirement(Field::ChangeDetail),
            Need::Required
        );
        assert_eq!(
            RequestType::KeyRecovery.requirement(Field::BirthDate),
            Need::Optional
        );
        assert!(RequestType::Revoke.contradicts(RequestType::Renew));
        assert!(!RequestType::NewCert.contradicts(RequestType::NewMailbox));
    }

    #[test]
    fn the_combined_id_header_is_recognised_however_its_parts_are_separated() {
        for h in [
            "Số CMND/CCCD;Ngày cấp;Nơi cấp",
            "Số CMND/CCCD, Ngày cấp, Nơi cấp",
            "Số CMND/CCCD - Ngày cấp - Nơi cấp",
            "Số CMND/CCCD\nNgày cấp\nNơi cấp",
            "SỐ CCCD; NGÀY CẤP; NƠI CẤP (bắt buộc)",
        ] {
            assert_eq!(Field::from_header(h), Some(Field::IdCombined), "{h:?}");
        }
        assert_eq!(Field::from_header("Số CCCD"), Some(Field::IdNumber));
        assert_eq!(Field::from_header("Ngày cấp"), Some(Field::IdIssueDate));
    }

    #[test]
    fn a_type_followed_by_its_reason_or_shortened_is_read() {
        let cases = [
            ("Thu hồi do nghỉ hưu", RequestType::Revoke),
            ("Thu hồi (chuyển công tác)", RequestType::Revoke),
            ("Gia hạn - sắp hết hạn", RequestType::Renew),
            ("Gia hạn CTS", RequestType::Renew),
            ("Khôi phục", RequestType::KeyRecovery),
            ("Cấp lại", RequestType::Reissue),
            ("CM", RequestType::NewCert),
            (
                "Cấp mới hòm thư công vụ cho cán bộ mới",
                RequestType::NewMailbox,
            ),
            ("Cấp mới: cán bộ mới", RequestType::NewCert),
        ];
        for (text, want) in cases {
            assert_eq!(RequestType::parse(text), Some(want), "{text:?}");
        }
        assert_eq!(
            RequestType::parse("CMND"),
            None,
            "a short form counts only alone"
        );
        assert_eq!(RequestType::parse("Đã nộp bản giấy"), None);
        assert_eq!(
            RequestType::parse("Thu hồiii"),
            None,
            "a word boundary is needed"
        );
    }
}
