//! The persons of a generated list and what each asks for, made from TEMPLATE.md: the seven
//! request types, the fields each requires, the field rules (12-digit IDs whose digits 4–6 follow
//! the birth year, official mail domains, mobile prefixes, hexadecimal serials, ages 18–70).

use chrono::NaiveDate;
use cts_intake::schema::RequestType;
use fastrand::Rng;

/// The day ages are judged on (the fixture context's reference date).
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 12, 17).unwrap()
}

/// One person of a list and the requests made for them.
#[derive(Debug, Clone)]
pub struct Person {
    pub full_name: String,
    /// "Họ và đệm" and "Tên", for lists that split the name.
    pub family_middle: String,
    pub given: String,
    pub birth: NaiveDate,
    pub female: bool,
    pub id_number: String,
    pub issue_date: NaiveDate,
    pub issue_place: String,
    pub position: String,
    pub email: String,
    pub phone: String,
    pub serial: String,
    pub change_detail: String,
    pub reason: String,
    /// One or two requests (two: the person over two rows, or two marks in an x-grid).
    pub types: Vec<RequestType>,
    /// A field made invalid on purpose, and which one.
    pub planted: Option<Planted>,
}

/// An error written into a row on purpose: the reading must report exactly it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planted {
    /// Ten digits.
    ShortId,
    /// A personal address.
    PersonalEmail,
    /// Not a mobile number.
    BadPhone,
    /// A two-digit year.
    TwoDigitYear,
    /// A digit in the name.
    DigitInName,
    /// The serial left empty where the type requires it.
    MissingSerial,
    /// Two addresses in one cell.
    TwoEmails,
    /// A serial typed as a number (Excel rounds it).
    SerialAsNumber,
}

impl Planted {
    /// The field key the reading must name.
    pub fn field(self) -> &'static str {
        match self {
            Planted::ShortId => "id_number",
            Planted::PersonalEmail => "email",
            Planted::BadPhone => "phone",
            Planted::TwoDigitYear => "birth_date",
            Planted::DigitInName => "full_name",
            Planted::MissingSerial | Planted::SerialAsNumber => "cert_serial",
            Planted::TwoEmails => "email",
        }
    }
}

const FAMILY: [&str; 14] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
    "Trịnh",
];
const MIDDLE: [&str; 14] = [
    "Văn",
    "Thị",
    "Hữu",
    "Đức",
    "Thanh",
    "Minh",
    "Ngọc",
    "Thu",
    "Quang",
    "Xuân",
    "Thùy",
    "Hoài",
    "Thị Thanh",
    "Văn Đức",
];
const GIVEN: [&str; 20] = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hòa",
    "Thúy",
    "Khoa",
    "Hạnh",
    "Phương",
    "Tuấn",
    "Lan",
    "Hương",
    "Long",
    "Nga",
    "Quỳnh",
    "Trường",
    "Toàn",
    "Khánh",
    "Yến",
];
const POSITIONS: [&str; 8] = [
    "Giáo viên",
    "Hiệu trưởng",
    "Phó Hiệu trưởng",
    "Tổ trưởng chuyên môn",
    "Kế toán",
    "Văn thư",
    "Giám đốc",
    "Nhân viên",
];
const REASONS: [(&str, RequestType); 6] = [
    ("Nghỉ hưu", RequestType::Revoke),
    ("Chuyển công tác", RequestType::Revoke),
    ("Mất thiết bị", RequestType::Reissue),
    ("Thiết bị hỏng", RequestType::Reissue),
    ("Quên mật khẩu", RequestType::KeyRecovery),
    ("Khóa thiết bị do nhập sai mã PIN", RequestType::KeyRecovery),
];
const PLACES: [&str; 3] = [
    "Cục Cảnh sát QLHC về TTXH",
    "Công an tỉnh Nam Định",
    "Cục CS ĐKQL cư trú và DLQG về dân cư",
];

fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.usize(..xs.len())]
}

/// ASCII letters of a name, for its mail address.
pub fn ascii(text: &str) -> String {
    cts_intake::text::fold(text)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The fields a request type requires (TEMPLATE.md "Required fields per type"), beyond name, unit
/// and ID.
pub fn needs(t: RequestType) -> (bool, bool, bool, bool, bool) {
    use RequestType::*;
    // (email, serial, reason, change_detail, position)
    match t {
        NewMailbox => (false, false, false, false, false),
        NewCert => (true, false, false, false, true),
        Reissue => (true, false, true, false, true),
        KeyRecovery | Revoke => (true, true, true, false, false),
        Renew => (true, true, false, false, false),
        Change => (true, true, false, true, false),
    }
}

/// A person with every field a request may need, valid.
pub fn person(rng: &mut Rng, n: usize, types: Vec<RequestType>) -> Person {
    let family = pick(rng, &FAMILY);
    let middle = pick(rng, &MIDDLE);
    let given = pick(rng, &GIVEN);
    let female = middle.contains("Thị") || rng.bool();
    let year = rng.i32(1955..=2003);
    let birth = NaiveDate::from_ymd_opt(year, rng.u32(1..=12), rng.u32(1..=28)).unwrap();
    let century = match (year >= 2000, female) {
        (false, false) => 0,
        (false, true) => 1,
        (true, false) => 2,
        (true, true) => 3,
    };
    let province = pick(rng, &["036", "001", "031", "034", "035", "037"]);
    // Unique within a list: the list's index of the person in the last digits.
    let id_number = format!(
        "{province}{century}{:02}{:03}{:03}",
        year % 100,
        rng.u32(0..1000),
        n % 1000
    );
    let serial_len = [16, 20, 32][rng.usize(..3)];
    let serial: String = (0..serial_len)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.usize(..16)]))
        .collect();
    let phone_prefix = pick(
        rng,
        &[
            "091", "098", "097", "086", "035", "038", "070", "079", "081", "056", "059", "052",
        ],
    );
    let phone = format!("{phone_prefix}{:07}", rng.u32(0..10_000_000));
    let domain = pick(
        rng,
        &["namdinh.edu.vn", "namdinh.gov.vn", "thpt.namdinh.edu.vn"],
    );
    let email = format!("{}.{}{}@{domain}", ascii(given), ascii(family), n);
    let reason = types
        .iter()
        .find_map(|t| {
            let fitting: Vec<&str> = REASONS
                .iter()
                .filter(|(_, rt)| rt == t)
                .map(|(r, _)| *r)
                .collect();
            (!fitting.is_empty()).then(|| pick(rng, &fitting).to_string())
        })
        .unwrap_or_else(|| "Theo yêu cầu công việc".to_string());
    Person {
        full_name: format!("{family} {middle} {given}"),
        family_middle: format!("{family} {middle}"),
        given: given.to_string(),
        birth,
        female,
        id_number,
        issue_date: NaiveDate::from_ymd_opt(rng.i32(2016..=2022), rng.u32(1..=12), rng.u32(1..=28))
            .unwrap(),
        issue_place: pick(rng, &PLACES).to_string(),
        position: pick(rng, &POSITIONS).to_string(),
        email,
        phone,
        serial,
        change_detail: "Đổi email công vụ do chuyển trường".to_string(),
        reason,
        types,
        planted: None,
    }
}

/// The requests of one person: mostly one, sometimes two that do not contradict.
pub fn requests(rng: &mut Rng, two: bool) -> Vec<RequestType> {
    use RequestType::*;
    if two {
        let pairs = [
            [NewMailbox, NewCert],
            [KeyRecovery, Renew],
            [Renew, Change],
            [NewCert, NewMailbox],
        ];
        pairs[rng.usize(..pairs.len())].to_vec()
    } else {
        vec![RequestType::ALL[rng.usize(..7)]]
    }
}

/// The planted errors a person can carry, given its requests (a rule that applies to them).
pub fn plantable(p: &Person, numbers: bool) -> Vec<Planted> {
    let mut out = vec![Planted::ShortId, Planted::BadPhone, Planted::DigitInName];
    if p.types.iter().all(|t| needs(*t).0) {
        out.push(Planted::PersonalEmail);
        out.push(Planted::TwoEmails);
    }
    if p.types.iter().all(|t| needs(*t).1) {
        out.push(Planted::MissingSerial);
        if numbers {
            out.push(Planted::SerialAsNumber);
        }
    }
    out.push(Planted::TwoDigitYear);
    out
}
