//! Composes a list as schools lay it out (TEMPLATE.md "Layout messiness"): a preamble (title
//! block, a whole letter), a one- or two-row header in any of the known variants, a numbering or
//! field-code row, sections, persons (some over two rows with merged cells), totals and a footer
//! in their many forms, and the request type written in every way schools write it. It records
//! what it wrote: the rows that must be read and the errors that must be reported.

use chrono::NaiveDate;
use cts_intake::schema::RequestType;
use fastrand::Rng;

use super::grid::{GenSheet, V};
use super::people::{self, Person, Planted};

/// A row the reading must give.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpRow {
    pub sheet: String,
    pub row: u32,
    pub request_type: &'static str,
    pub full_name: String,
    pub birth_date: Option<NaiveDate>,
    pub id_number: String,
    pub email: String,
    pub phone: String,
    pub cert_serial: String,
}

/// What the reading must give: the rows, and the errors planted (sheet, row, field).
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub rows: Vec<ExpRow>,
    pub errors: Vec<(String, u32, String)>,
}

/// How the request type is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeMode {
    /// A type column, in any spelling, short form or with its reason.
    Column,
    /// In "Ghi chú", with no type column.
    Note,
    /// A code 1..7 explained by a legend; in the type column or in "Ghi chú".
    Code {
        in_note: bool,
        above: bool,
        one_line: bool,
    },
    /// One sheet per type, named after it.
    SheetPerType,
    /// One column per type, the chosen ones marked.
    Grid { two_row: bool },
}

/// What the generator chose, to describe a failing list (read through `Debug` only).
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Choices {
    pub type_mode: TypeMode,
    pub legend_order: Vec<&'static str>,
    pub preamble_rows: usize,
    pub two_row_header: bool,
    pub split_name: bool,
    pub combined_id: Option<&'static str>,
    pub birth_nam_nu: bool,
    pub org_levels: bool,
    pub numbering_row: bool,
    pub code_row: bool,
    pub sections: bool,
    pub second_table: bool,
    pub total: Option<&'static str>,
    pub footer: bool,
    pub headers: Vec<String>,
    pub persons: usize,
    pub two_row_persons: usize,
    pub planted: Vec<(u32, &'static str)>,
}

/// What the writer can do: a text format has one sheet, no hidden rows, no fonts, no serials.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub sheets: bool,
    pub hidden: bool,
    pub fonts: bool,
    pub numbers: bool,
}

/// A column of the generated table.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    Seq,
    Name,
    Family,
    Given,
    Birth,
    BirthMale,
    BirthFemale,
    Id,
    IssueDate,
    IssuePlace,
    Combined(&'static str),
    Position,
    /// 0 for "Đơn vị công tác", 1..4 for "Tổ chức cấp N".
    Unit(u8),
    Email,
    Phone,
    Type,
    Grid(RequestType),
    Serial,
    Change,
    Reason,
    Note,
    Extra,
}

fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.usize(..xs.len())]
}

/// Decomposed Unicode, as macOS and some keyboards write it.
fn nfd(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd().collect()
}

/// Invisible or odd spacing that cleaning removes: a no-break space between words, a zero-width
/// space or a BOM at the end, doubled spaces.
fn smudge(rng: &mut Rng, s: &str) -> String {
    match rng.usize(..24) {
        0 => s.replacen(' ', "\u{A0}", 1),
        1 => format!("{s}\u{200B}"),
        2 => format!(" {s}  "),
        3 => s.replacen(' ', "  ", 1),
        4 => format!("\u{FEFF}{s}"),
        5 | 6 => nfd(s),
        _ => s.to_string(),
    }
}

fn strip_accents(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .collect()
}

/// A header as a school writes it: a variant (TEMPLATE.md "Canonical columns"), in capitals or
/// without accents, with "(bắt buộc)" or "*" after it.
fn decorate(rng: &mut Rng, text: &str) -> String {
    let mut t = text.to_string();
    match rng.usize(..10) {
        0 | 1 => t = t.to_uppercase(),
        2 => t = strip_accents(&t),
        3 => t = nfd(&t),
        _ => {}
    }
    if rng.usize(..12) == 0 {
        // Wrapped in its cell: Alt+Enter between words.
        t = t.replacen(' ', "\n", 1);
    }
    match rng.usize(..12) {
        0 => t.push_str(" (bắt buộc)"),
        1 => t.push_str(" (*)"),
        2 => t.push('*'),
        3 => t.push_str(" (ghi đầy đủ)"),
        _ => {}
    }
    t
}

fn variants(col: &Col) -> &'static [&'static str] {
    match col {
        Col::Seq => &["STT", "TT", "Số TT", "Số thứ tự"],
        Col::Name => &["Họ và tên", "Họ tên", "Họ và tên cán bộ"],
        Col::Family => &["Họ và đệm"],
        Col::Given => &["Tên"],
        Col::Birth => &["Ngày sinh", "Ngày tháng năm sinh", "NS"],
        Col::BirthMale => &["Nam"],
        Col::BirthFemale => &["Nữ"],
        Col::Id => &[
            "Số CCCD",
            "Số CMND/CCCD",
            "Số CMND/CCCD/Hộ chiếu",
            "Số định danh cá nhân",
            "CCCD",
            "CMND",
            "CMT",
        ],
        Col::IssueDate => &["Ngày cấp", "Ngày cấp CCCD"],
        Col::IssuePlace => &["Nơi cấp", "Nơi cấp CCCD"],
        Col::Combined(_) => &[],
        Col::Position => &["Chức vụ", "Chức danh", "Chức vụ/Chức danh"],
        Col::Unit(0) => &[
            "Đơn vị công tác",
            "Cơ quan, đơn vị",
            "Tên cơ quan-tổ chức công tác",
        ],
        Col::Unit(1) => &["Tổ chức cấp 1"],
        Col::Unit(2) => &["Tổ chức cấp 2"],
        Col::Unit(3) => &["Tổ chức cấp 3"],
        Col::Unit(_) => &["Tổ chức cấp 4"],
        Col::Email => &[
            "Email công vụ",
            "Địa chỉ thư điện tử công vụ",
            "Thư điện tử",
            "Hòm thư công vụ",
            "Email",
        ],
        Col::Phone => &[
            "Số điện thoại di động",
            "Điện thoại",
            "SĐT",
            "Di động",
            "Số ĐT",
        ],
        Col::Type => &[
            "Nội dung đề nghị",
            "Loại đề nghị",
            "Hình thức đề nghị",
            "Dịch vụ",
            "Hình thức",
        ],
        Col::Grid(_) => &[],
        Col::Serial => &[
            "Số hiệu chứng thư số",
            "Serial",
            "Số serial",
            "Serial CTS cũ",
            "Số hiệu chứng thư cũ",
        ],
        Col::Change => &["Nội dung thay đổi", "Thông tin thay đổi"],
        Col::Reason => &["Lý do", "Lý do đề nghị"],
        Col::Note => &["Ghi chú"],
        Col::Extra => &["Trình độ", "Quê quán", "Dân tộc", "Môn dạy"],
    }
}

/// The ways a type is written (TEMPLATE.md's accepted spellings, shown as typed).
fn spellings(t: RequestType) -> &'static [&'static str] {
    use RequestType::*;
    match t {
        NewMailbox => &[
            "Cấp mới hòm thư công vụ",
            "Cấp mới hòm thư",
            "Hòm thư công vụ",
            "Cấp hộp thư",
            "Tạo email",
        ],
        NewCert => &[
            "Cấp mới chứng thư số",
            "Cấp mới CTS",
            "Cấp mới chứng thư",
            "Cấp mới",
            "CM",
        ],
        Reissue => &["Cấp lại chứng thư số", "Cấp lại", "Cấp lại CTS"],
        KeyRecovery => &[
            "Khôi phục thiết bị lưu khoá bí mật",
            "Khôi phục",
            "Khôi phục khóa",
            "Quên mật khẩu",
            "Reset token",
        ],
        Revoke => &["Thu hồi chứng thư số", "Thu hồi", "Thu hồi CTS"],
        Renew => &["Gia hạn chứng thư số", "Gia hạn", "Gia hạn CTS"],
        Change => &[
            "Thay đổi nội dung chứng thư số",
            "Thay đổi",
            "Thay đổi nội dung",
            "Thay đổi thông tin",
        ],
    }
}

/// A type as written in a cell: a spelling, in some case, sometimes followed by its reason.
fn type_text(rng: &mut Rng, t: RequestType, p: &Person) -> String {
    let mut s = pick(rng, spellings(t)).to_string();
    match rng.usize(..8) {
        0 => s = s.to_uppercase(),
        1 => s = s.to_lowercase(),
        _ => {}
    }
    if s.chars().count() > 2 && rng.usize(..4) == 0 {
        let sep = pick(rng, &[" do ", " - ", " (", ": ", ", "]);
        let reason = match t {
            RequestType::Renew => "sắp hết hạn".to_string(),
            RequestType::NewMailbox | RequestType::NewCert => "cán bộ mới".to_string(),
            _ => p.reason.to_lowercase(),
        };
        s = format!("{s}{sep}{reason}{}", if sep == " (" { ")" } else { "" });
    }
    s
}

fn grid_header(t: RequestType) -> &'static str {
    use RequestType::*;
    match t {
        NewMailbox => "Cấp mới hòm thư công vụ",
        NewCert => "Cấp mới CTS",
        Reissue => "Cấp lại",
        KeyRecovery => "Khôi phục",
        Revoke => "Thu hồi",
        Renew => "Gia hạn",
        Change => "Thay đổi nội dung",
    }
}

const NOTES: [&str; 5] = [
    "Đã nộp bản giấy",
    "Cán bộ mới tuyển dụng",
    "Liên hệ qua số điện thoại",
    "Đang công tác",
    "",
];

/// The preamble: a title block, sometimes a whole letter.
fn preamble(rng: &mut Rng, s: &mut GenSheet, width: usize, letter_lines: usize) {
    let title = [
        "UBND TỈNH NAM ĐỊNH",
        "SỞ GIÁO DỤC VÀ ĐÀO TẠO",
        "TRƯỜNG THPT XUÂN TRƯỜNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ];
    if rng.bool() {
        // Left and right blocks side by side.
        let half = (width / 2).max(1);
        let mut row = vec![V::E; width];
        row[0] = V::t(title[2]);
        row[half] = V::t(title[3]);
        let r = s.push(row);
        s.merges.push((r, 0, r, (half - 1) as u16));
        s.merges.push((r, half as u16, r, (width - 1) as u16));
        let mut row = vec![V::E; width];
        row[half] = V::t(title[4]);
        s.push(row);
    } else {
        for t in &title[..rng.usize(1..=5)] {
            s.banner(0, width, V::t(*t));
        }
    }
    let letter = [
        "Kính gửi: Sở Giáo dục và Đào tạo Nam Định",
        "Thực hiện Công văn số 1234/SGDĐT-VP ngày 01/12/2022 của Sở Giáo dục và Đào tạo về việc \
         cấp, gia hạn, thu hồi chứng thư số và hòm thư công vụ,",
        "Trường THPT Xuân Trường đề nghị Sở xem xét, tổng hợp gửi Ban Cơ yếu Chính phủ các nội \
         dung sau:",
        "Đơn vị cam kết các thông tin kê khai dưới đây là đúng sự thật.",
        "Trân trọng đề nghị.",
    ];
    for k in 0..letter_lines {
        if rng.usize(..5) == 0 {
            s.push(vec![]);
        } else {
            s.banner(0, width, V::t(letter[k % letter.len()]));
        }
    }
    s.banner(
        0,
        width,
        V::t(pick(
            rng,
            &[
                "DANH SÁCH ĐỀ NGHỊ CẤP, THU HỒI CHỨNG THƯ SỐ",
                "DANH SÁCH CÁN BỘ ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ CHỨNG THƯ SỐ",
                "Danh sách đề nghị",
            ],
        )),
    );
    if rng.bool() {
        s.banner(
            0,
            width,
            V::t("(Kèm theo Công văn số 56/THPTXT ngày 10/12/2022)"),
        );
    }
    if rng.bool() {
        s.push(vec![]);
    }
}

/// The legend of type codes, in `order` (code k means `order[k - 1]`).
fn legend(rng: &mut Rng, s: &mut GenSheet, width: usize, order: &[RequestType], one_line: bool) {
    let entry = |k: usize, t: RequestType| format!("{}: {}", k + 1, t.label());
    if one_line {
        let text = order
            .iter()
            .enumerate()
            .map(|(k, t)| entry(k, *t))
            .collect::<Vec<_>>()
            .join("; ");
        let lead = pick(rng, &["Mã nội dung đề nghị: ", "Ghi chú: ", ""]);
        s.banner(0, width, V::t(format!("{lead}{text}")));
    } else {
        s.banner(0, width, V::t("Mã nội dung đề nghị:"));
        let col = rng.usize(..3).min(width - 1);
        for (k, t) in order.iter().enumerate() {
            let sep = pick(rng, &[": ", " - ", ". ", " = "]);
            s.banner(
                col,
                width - col,
                V::t(format!("{}{sep}{}", k + 1, t.label())),
            );
        }
    }
}

/// Everything chosen for one table's header.
struct Header {
    two_row: bool,
    top: Vec<V>,
    sub: Vec<V>,
    merges: Vec<(u16, u16, bool)>,
}

fn header(rng: &mut Rng, cols: &[Col], two_row: bool) -> Header {
    let n = cols.len();
    let mut top = vec![V::E; n];
    let mut sub = vec![V::E; n];
    // (first col, last col, vertical): merges in the header rows.
    let mut merges: Vec<(u16, u16, bool)> = Vec::new();
    let mut i = 0;
    while i < n {
        let group = |c: &Col| match c {
            Col::Id | Col::IssueDate | Col::IssuePlace => 1,
            Col::BirthMale | Col::BirthFemale => 2,
            Col::Grid(_) => 3,
            Col::Unit(k) if *k > 0 => 4,
            _ => 0,
        };
        let g = group(&cols[i]);
        let mut j = i + 1;
        while g != 0 && j < n && group(&cols[j]) == g {
            j += 1;
        }
        let text = |rng: &mut Rng, c: &Col| -> String {
            match c {
                Col::Combined(sep) => {
                    let parts = ["Số CMND/CCCD", "Ngày cấp", "Nơi cấp"];
                    parts.join(sep)
                }
                Col::Grid(t) => grid_header(*t).to_string(),
                Col::BirthMale | Col::BirthFemale if rng.bool() => {
                    pick(rng, variants(c)).to_uppercase()
                }
                Col::BirthMale | Col::BirthFemale => pick(rng, variants(c)).to_string(),
                c => {
                    let v = pick(rng, variants(c));
                    decorate(rng, v)
                }
            }
        };
        let grouped = g != 0 && (two_row || g == 2) && (g != 1 || j - i == 3);
        if grouped {
            let group_text = match g {
                1 => pick(rng, &["Thông tin CCCD", "Căn cước công dân"]),
                2 => pick(rng, &["Ngày sinh", "Ngày tháng năm sinh"]),
                3 => pick(rng, &["Nội dung đề nghị", "", "Loại đề nghị"]),
                _ => "Nơi công tác",
            };
            top[i] = V::t(group_text);
            for k in i..j {
                sub[k] = V::t(text(rng, &cols[k]));
            }
            if j - i > 1 {
                merges.push((i as u16, (j - 1) as u16, false));
            }
        } else {
            for k in i..j {
                top[k] = V::t(text(rng, &cols[k]));
                if two_row {
                    merges.push((k as u16, k as u16, true));
                }
            }
        }
        i = j;
    }
    let two_row = two_row || cols.iter().any(|c| matches!(c, Col::BirthMale));
    if two_row {
        // Columns not grouped stand over both rows.
        for (k, c) in cols.iter().enumerate() {
            let in_group = merges
                .iter()
                .any(|&(a, b, v)| !v && (a as usize..=b as usize).contains(&k));
            if !in_group && !merges.iter().any(|&(a, _, v)| v && a as usize == k) && sub[k] == V::E
            {
                let _ = c;
                merges.push((k as u16, k as u16, true));
            }
        }
    }
    Header {
        two_row,
        top,
        sub,
        merges,
    }
}

fn write_header(s: &mut GenSheet, h: &Header) {
    let r = s.push(h.top.clone());
    if h.two_row {
        s.push(h.sub.clone());
        for &(a, b, vertical) in &h.merges {
            if vertical {
                s.merges.push((r, a, r + 1, a));
            } else if a != b {
                s.merges.push((r, a, r, b));
            }
        }
    }
}

/// One generated table: its header, then persons, sections, totals.
struct TableOut<'a> {
    rng: &'a mut Rng,
    caps: Caps,
    mode: TypeMode,
    legend: Vec<RequestType>,
    exp: &'a mut Expected,
    planted: &'a mut Vec<(u32, &'static str)>,
    two_row_persons: &'a mut usize,
}

impl TableOut<'_> {
    /// Writes one person's row(s) under `cols`.
    fn person(
        &mut self,
        s: &mut GenSheet,
        cols: &[Col],
        seq: usize,
        p: &Person,
        sheet_type: Option<RequestType>,
    ) {
        let rng = &mut *self.rng;
        let caps = self.caps;
        let grid = matches!(self.mode, TypeMode::Grid { .. });
        // The types this row asks for.
        let row_types: Vec<RequestType> = match sheet_type {
            Some(t) => vec![t],
            None if grid => p.types.clone(),
            None => vec![p.types[0]],
        };
        let first = row_types[0];
        let planted = p.planted;
        let id_text = match planted {
            Some(Planted::ShortId) => V::t(&p.id_number[..10]),
            _ => match rng.usize(..6) {
                0 if caps.numbers => V::N(p.id_number.parse::<f64>().unwrap()),
                0 => V::t(p.id_number.trim_start_matches('0')),
                1 => V::t(format!(
                    "{} {} {} {}",
                    &p.id_number[..3],
                    &p.id_number[3..6],
                    &p.id_number[6..9],
                    &p.id_number[9..]
                )),
                _ => V::t(&p.id_number),
            },
        };
        let date = |rng: &mut Rng, d: NaiveDate| -> V {
            match rng.usize(..6) {
                0 if caps.numbers => V::D(d),
                1 if caps.numbers => {
                    let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
                    V::N((d - base).num_days() as f64)
                }
                2 if rng.bool() => V::t(d.format("%Y-%m-%d").to_string()),
                2 => V::t(d.format("%-d/%-m/%Y").to_string()),
                3 => V::t(d.format("%d.%m.%Y").to_string()),
                4 => V::t(d.format("%d-%m-%Y").to_string()),
                _ => V::t(d.format("%d/%m/%Y").to_string()),
            }
        };
        let birth = match planted {
            Some(Planted::TwoDigitYear) => V::t(p.birth.format("%d/%m/%y").to_string()),
            _ => date(rng, p.birth),
        };
        let phone_digits = &p.phone;
        let phone = match planted {
            Some(Planted::BadPhone) => V::t("0241234567"),
            _ => match rng.usize(..7) {
                0 => V::t(format!(
                    "{} {} {}",
                    &phone_digits[..4],
                    &phone_digits[4..7],
                    &phone_digits[7..]
                )),
                1 => V::t(format!(
                    "{}.{}.{}",
                    &phone_digits[..4],
                    &phone_digits[4..7],
                    &phone_digits[7..]
                )),
                2 => V::t(format!(
                    "+84 {} {} {}",
                    &phone_digits[1..4],
                    &phone_digits[4..7],
                    &phone_digits[7..]
                )),
                3 => V::t(format!("84{}", &phone_digits[1..])),
                // The old 11-digit number of a 03x mobile: 016x.
                5 if phone_digits.starts_with("03") => V::t(format!(
                    "016{}{}",
                    char::from(phone_digits.as_bytes()[2]),
                    &phone_digits[3..]
                )),
                4 if caps.numbers => V::N(phone_digits[1..].parse::<f64>().unwrap()),
                _ => V::t(phone_digits),
            },
        };
        let email = match planted {
            Some(Planted::PersonalEmail) => {
                V::t(format!("{}@gmail.com", people::ascii(&p.full_name)))
            }
            Some(Planted::TwoEmails) => V::t(format!(
                "{}; {}@namdinh.edu.vn",
                p.email,
                people::ascii(&p.given)
            )),
            _ if rng.usize(..5) == 0 => {
                let (local, domain) = p.email.split_once('@').unwrap();
                V::t(format!(
                    "{}@{}",
                    local.to_uppercase(),
                    domain.replace("namdinh", "NamDinh")
                ))
            }
            _ => V::t(&p.email),
        };
        let serial = match planted {
            Some(Planted::MissingSerial) => V::E,
            Some(Planted::SerialAsNumber) => V::N(5_401_012_345_678.0),
            _ => match rng.usize(..5) {
                0 => V::t(
                    p.serial
                        .as_bytes()
                        .chunks(2)
                        .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                1 => V::t(
                    p.serial
                        .as_bytes()
                        .chunks(2)
                        .map(|c| std::str::from_utf8(c).unwrap())
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                2 => V::t(format!("0x{}", p.serial.to_lowercase())),
                _ => V::t(&p.serial),
            },
        };
        let (name, given) = match planted {
            Some(Planted::DigitInName) => {
                (format!("{} 3", p.family_middle), format!("{}3", p.given))
            }
            _ => (p.full_name.clone(), p.given.clone()),
        };
        let upper = rng.usize(..10) == 0;
        let (name, given, family) = if upper {
            (
                name.to_uppercase(),
                given.to_uppercase(),
                p.family_middle.to_uppercase(),
            )
        } else {
            (name, given, p.family_middle.clone())
        };
        let split = cols.contains(&Col::Given);
        let full_name = if split {
            format!("{family} {given}")
        } else {
            name.clone()
        };
        let mode = self.mode;
        let legend = self.legend.clone();
        let type_cell = |rng: &mut Rng, t: RequestType| -> V {
            match mode {
                TypeMode::Code { .. } => {
                    let k = legend.iter().position(|x| *x == t).unwrap() + 1;
                    if caps.numbers && rng.bool() {
                        V::N(k as f64)
                    } else {
                        V::t(k.to_string())
                    }
                }
                _ => V::t(type_text(rng, t, p)),
            }
        };
        let mark = |rng: &mut Rng| -> V {
            match rng.usize(..5) {
                0 => V::t("X"),
                1 => V::t("✓"),
                2 if caps.numbers => V::N(1.0),
                3 => V::t("1"),
                _ => V::t("x"),
            }
        };
        let needs_any = |f: fn((bool, bool, bool, bool, bool)) -> bool| {
            p.types.iter().any(|t| f(people::needs(*t)))
        };
        let female = p.female;
        let mut row = Vec::with_capacity(cols.len());
        for c in cols {
            let v = match c {
                Col::Seq => {
                    if caps.numbers && rng.bool() {
                        V::N(seq as f64)
                    } else {
                        V::t(seq.to_string())
                    }
                }
                Col::Name => V::t(smudge(rng, &name)),
                Col::Family => V::t(&family),
                Col::Given => V::t(&given),
                Col::Birth => birth.clone(),
                Col::BirthMale => {
                    if female {
                        V::E
                    } else {
                        birth.clone()
                    }
                }
                Col::BirthFemale => {
                    if female {
                        birth.clone()
                    } else {
                        V::E
                    }
                }
                Col::Id => id_text.clone(),
                Col::IssueDate => date(rng, p.issue_date),
                Col::IssuePlace => V::t(&p.issue_place),
                Col::Combined(_) => {
                    let sep = pick(rng, &["; ", ";", "\n"]);
                    V::t(format!(
                        "{}{sep}{}{sep}{}",
                        id_text.shown(),
                        p.issue_date.format("%d/%m/%Y"),
                        p.issue_place
                    ))
                }
                Col::Position => V::t(&p.position),
                Col::Unit(0) => V::t("Trường THPT Xuân Trường"),
                Col::Unit(1) => V::t("UBND tỉnh Nam Định"),
                Col::Unit(2) => V::t("Sở Giáo dục và Đào tạo"),
                Col::Unit(3) => V::t("Trường THPT Xuân Trường"),
                Col::Unit(_) => V::E,
                Col::Email => {
                    if needs_any(|n| n.0) {
                        email.clone()
                    } else {
                        V::E
                    }
                }
                Col::Phone => phone.clone(),
                Col::Type => type_cell(rng, first),
                Col::Grid(t) => {
                    if row_types.contains(t) {
                        mark(rng)
                    } else {
                        V::E
                    }
                }
                Col::Serial => {
                    if needs_any(|n| n.1) {
                        serial.clone()
                    } else {
                        V::E
                    }
                }
                Col::Change => {
                    if needs_any(|n| n.3) {
                        V::t(&p.change_detail)
                    } else {
                        V::E
                    }
                }
                Col::Reason => {
                    if needs_any(|n| n.2) || rng.usize(..4) == 0 {
                        V::t(&p.reason)
                    } else {
                        V::E
                    }
                }
                Col::Note => match mode {
                    TypeMode::Note => V::t(type_text(rng, first, p)),
                    TypeMode::Code { in_note: true, .. } => type_cell(rng, first),
                    _ => V::t(pick(rng, &NOTES)),
                },
                Col::Extra => V::t(pick(rng, &["Đại học", "Thạc sĩ", "Kinh", ""])),
            };
            row.push(v);
        }
        let r = s.push(row);
        let sheet = s.name.clone();
        let expect = |exp: &mut Expected, row: u32, t: RequestType| {
            exp.rows.push(ExpRow {
                sheet: sheet.clone(),
                row: row + 1,
                request_type: t.code(),
                full_name: full_name.clone(),
                birth_date: Some(p.birth),
                id_number: p.id_number.clone(),
                // Filled from the person once every row is known (see `finish_expected`).
                email: String::new(),
                phone: p.phone.clone(),
                cert_serial: String::new(),
            });
        };
        if let Some(pl) = planted {
            self.exp
                .errors
                .push((sheet.clone(), r + 1, pl.field().to_string()));
            self.planted.push((r + 1, pl.field()));
            return;
        }
        for t in &row_types {
            expect(self.exp, r, *t);
        }
        // The second request of a person over two rows: only the type in its own row, the
        // person's cells merged over both.
        if sheet_type.is_none() && !grid && p.types.len() == 2 {
            let second = p.types[1];
            let rng = &mut *self.rng;
            let mut row2 = vec![V::E; cols.len()];
            for (k, c) in cols.iter().enumerate() {
                match (c, mode) {
                    (Col::Type, _) => row2[k] = type_cell(rng, second),
                    (Col::Note, TypeMode::Note) => row2[k] = V::t(type_text(rng, second, p)),
                    (Col::Note, TypeMode::Code { in_note: true, .. }) => {
                        row2[k] = type_cell(rng, second)
                    }
                    _ => {}
                }
            }
            let r2 = s.push(row2.clone());
            for (k, v) in row2.iter().enumerate() {
                if *v == V::E && s.cells[r as usize].get(k).is_some_and(|x| *x != V::E) {
                    s.merges.push((r, k as u16, r2, k as u16));
                }
            }
            *self.two_row_persons += 1;
            expect(self.exp, r2, second);
        }
    }
}

/// Fills the fields of the expected rows the reading normalises (email lower-cased, serial
/// upper-case) from the persons: done once all rows are known.
fn finish_expected(exp: &mut Expected, persons: &[Person]) {
    for r in &mut exp.rows {
        let p = persons.iter().find(|p| p.id_number == r.id_number).unwrap();
        let t = RequestType::from_code(r.request_type).unwrap();
        let any_needs_email = p.types.iter().any(|t| people::needs(*t).0);
        let _ = t;
        r.email = if any_needs_email {
            p.email.to_lowercase()
        } else {
            String::new()
        };
        r.cert_serial = if p.types.iter().any(|t| people::needs(*t).1) {
            p.serial.clone()
        } else {
            String::new()
        };
    }
}

/// Composes one workbook: its sheets, what must be read from it, and the choices made.
pub fn compose(rng: &mut Rng, caps: Caps) -> (Vec<GenSheet>, Expected, Choices) {
    let mode = match rng.usize(..10) {
        0..=3 => TypeMode::Column,
        4 => TypeMode::Note,
        5 | 6 => TypeMode::Code {
            in_note: rng.usize(..3) == 0,
            above: rng.bool(),
            one_line: rng.bool(),
        },
        7 if caps.sheets => TypeMode::SheetPerType,
        7 => TypeMode::Column,
        _ => TypeMode::Grid {
            two_row: rng.bool(),
        },
    };
    let mut legend_order = RequestType::ALL.to_vec();
    if rng.bool() {
        rng.shuffle(&mut legend_order);
    }
    // The persons.
    let n = rng.usize(2..=30);
    let mut persons: Vec<Person> = (0..n)
        .map(|k| {
            let two = rng.usize(..6) == 0;
            let types = people::requests(rng, two);
            people::person(rng, k, types)
        })
        .collect();
    // Up to two planted errors, on persons with one request.
    for _ in 0..rng.usize(..3) {
        let k = rng.usize(..n);
        if persons[k].types.len() == 1 && persons[k].planted.is_none() {
            let options = people::plantable(&persons[k], caps.numbers);
            persons[k].planted = Some(options[rng.usize(..options.len())]);
        }
    }

    // An old 9-digit CMND: a warning only, for the types that still accept it.
    for (k, p) in persons.iter_mut().enumerate() {
        let accepts = p
            .types
            .iter()
            .all(|t| !matches!(t, RequestType::NewCert | RequestType::Reissue));
        if accepts && p.planted.is_none() && rng.usize(..30) == 0 {
            p.id_number = format!("16{:07}", k);
        }
    }
    // The columns.
    let split_name = rng.usize(..6) == 0;
    let birth_nam_nu = rng.usize(..7) == 0;
    let combined_id =
        (rng.usize(..6) == 0).then(|| pick(rng, &["; ", ";", ",", ", ", " - ", "\n"]));
    let org_levels = rng.usize(..8) == 0;
    let mut cols = vec![Col::Seq];
    if split_name {
        cols.extend([Col::Family, Col::Given]);
    } else {
        cols.push(Col::Name);
    }
    if birth_nam_nu {
        cols.extend([Col::BirthMale, Col::BirthFemale]);
    } else {
        cols.push(Col::Birth);
    }
    match combined_id {
        Some(sep) => cols.push(Col::Combined(sep)),
        None if rng.bool() => cols.extend([Col::Id, Col::IssueDate, Col::IssuePlace]),
        None => cols.push(Col::Id),
    }
    cols.push(Col::Position);
    if org_levels {
        cols.extend([Col::Unit(1), Col::Unit(2), Col::Unit(3), Col::Unit(4)]);
    } else if rng.bool() {
        cols.push(Col::Unit(0));
    }
    cols.extend([Col::Email, Col::Phone]);
    match mode {
        TypeMode::Column | TypeMode::Code { in_note: false, .. } => cols.push(Col::Type),
        TypeMode::Grid { .. } => cols.extend(RequestType::ALL.iter().map(|t| Col::Grid(*t))),
        _ => {}
    }
    cols.extend([Col::Serial, Col::Change, Col::Reason]);
    let note = matches!(mode, TypeMode::Note | TypeMode::Code { in_note: true, .. }) || rng.bool();
    if note {
        cols.push(Col::Note);
    }
    if rng.usize(..4) == 0 {
        let at = rng.usize(2..cols.len());
        cols.insert(at, Col::Extra);
    }
    let two_row_header = matches!(mode, TypeMode::Grid { two_row: true }) || rng.usize(..4) == 0;
    let width = cols.len();

    let letter_lines = match rng.usize(..10) {
        0..=5 => 0,
        6..=8 => rng.usize(1..30),
        _ => rng.usize(30..200),
    };
    let numbering_row = rng.usize(..4) == 0;
    let code_row = rng.usize(..6) == 0;
    let sections = rng.usize(..4) == 0;
    let second_table = rng.usize(..8) == 0;
    let total = (rng.usize(..3) != 0).then(|| {
        pick(
            rng,
            &[
                "Tổng số: {n} đồng chí",
                "Tổng cộng: {n} người",
                "Cộng|{n} đ/c",
                "(Danh sách có {n} người)",
                "Tổng số {n} người",
                "TỔNG CỘNG",
                "legacy",
            ],
        )
    });
    let footer = rng.usize(..5) != 0;

    let mut exp = Expected::default();
    let mut planted = Vec::new();
    let mut two_row_persons = 0;
    let mut sheets = Vec::new();
    let mut header_texts = Vec::new();
    let mut preamble_rows = 0;

    // Which persons go on which sheet.
    let groups: Vec<(String, Option<RequestType>, Vec<usize>)> = if mode == TypeMode::SheetPerType {
        RequestType::ALL
            .iter()
            .filter_map(|t| {
                let ks: Vec<usize> = (0..n).filter(|&k| persons[k].types.contains(t)).collect();
                (!ks.is_empty()).then(|| {
                    let short: Vec<&str> = spellings(*t)
                        .iter()
                        .copied()
                        .filter(|s| s.chars().count() <= 31)
                        .collect();
                    let name = pick(rng, &short[..short.len().min(3)]).to_string();
                    (name, Some(*t), ks)
                })
            })
            .collect()
    } else if caps.sheets && n >= 4 && rng.usize(..8) == 0 {
        // A district office's list: one sheet per school.
        let schools = [
            "THPT Xuân Trường",
            "THPT Xuân Trường B",
            "THPT Nguyễn Trường Thúy",
        ];
        let parts = rng.usize(2..=3);
        (0..parts)
            .map(|k| {
                let ks: Vec<usize> = (0..n).filter(|i| i % parts == k).collect();
                (schools[k].to_string(), None, ks)
            })
            .collect()
    } else {
        vec![("Danh sách".to_string(), None, (0..n).collect())]
    };
    if caps.sheets && rng.usize(..6) == 0 {
        // A summary of counts per type, as district offices add: no person in it.
        let mut summary = GenSheet::new("Tổng hợp");
        summary.push(vec![V::t("TỔNG HỢP SỐ LƯỢNG ĐỀ NGHỊ")]);
        summary.push(vec![
            V::t("STT"),
            V::t("Nội dung đề nghị"),
            V::t("Số lượng"),
        ]);
        for (k, t) in RequestType::ALL.iter().enumerate() {
            let count = persons.iter().filter(|p| p.types.contains(t)).count();
            summary.push(vec![
                V::t((k + 1).to_string()),
                V::t(t.label()),
                V::t(count.to_string()),
            ]);
        }
        summary.push(vec![V::E, V::t("Tổng cộng"), V::t(n.to_string())]);
        sheets.push(summary);
    }
    if caps.sheets && rng.usize(..5) == 0 {
        let mut help = GenSheet::new("Hướng dẫn");
        help.push(vec![V::t("Hướng dẫn điền mẫu")]);
        help.push(vec![V::t("1. Ghi đủ họ và tên, không viết tắt.")]);
        help.push(vec![V::t("2. Số CCCD gồm 12 chữ số.")]);
        sheets.push(help);
    }
    for (sheet_name, sheet_type, ks) in groups {
        let mut s = GenSheet::new(if caps.sheets { &sheet_name } else { "" });
        preamble(rng, &mut s, width, letter_lines);
        if let TypeMode::Code {
            above: true,
            one_line,
            ..
        } = mode
        {
            legend(rng, &mut s, width, &legend_order, one_line);
        }
        preamble_rows = s.cells.len();
        let h = header(rng, &cols, two_row_header);
        header_texts = h
            .top
            .iter()
            .zip(&h.sub)
            .map(|(a, b)| {
                format!(
                    "{}{}",
                    a.shown(),
                    if *b == V::E {
                        String::new()
                    } else {
                        format!(" / {}", b.shown())
                    }
                )
            })
            .collect();
        write_header(&mut s, &h);
        if numbering_row {
            s.push((1..=width).map(|k| V::t(format!("({k})"))).collect());
        }
        if code_row {
            let codes: Vec<V> = cols
                .iter()
                .map(|c| {
                    V::t(match c {
                        Col::Seq => "seq",
                        Col::Name => "full_name",
                        Col::Family | Col::Given => "full_name",
                        Col::Birth | Col::BirthMale | Col::BirthFemale => "birth_date",
                        Col::Id => "id_number",
                        Col::IssueDate => "id_issue_date",
                        Col::IssuePlace => "id_issue_place",
                        Col::Combined(_) => "id_combined",
                        Col::Position => "position",
                        Col::Unit(_) => "unit_name",
                        Col::Email => "email",
                        Col::Phone => "phone",
                        Col::Type | Col::Grid(_) => "request_type",
                        Col::Serial => "cert_serial",
                        Col::Change => "change_detail",
                        Col::Reason => "reason",
                        Col::Note => "note",
                        Col::Extra => "",
                    })
                })
                .collect();
            let r = s.push(codes);
            if caps.hidden {
                s.hidden.push(r);
            }
        }
        let mut out = TableOut {
            rng,
            caps,
            mode,
            legend: legend_order.clone(),
            exp: &mut exp,
            planted: &mut planted,
            two_row_persons: &mut two_row_persons,
        };
        let section_names = [
            "I. CÁN BỘ QUẢN LÝ",
            "II. GIÁO VIÊN",
            "III. NHÂN VIÊN",
            "A. Khối văn phòng",
            "B. Tổ Toán - Tin",
        ];
        let split_at = if second_table && ks.len() >= 4 {
            ks.len() / 2
        } else {
            usize::MAX
        };
        let mut seq = 0;
        for (pos, &k) in ks.iter().enumerate() {
            if pos == split_at {
                // A second table on the same sheet, with its own header row.
                out.rng.usize(..2);
                s.push(vec![]);
                s.banner(0, width, V::t("DANH SÁCH ĐỀ NGHỊ (TIẾP)"));
                let h2 = header(out.rng, &cols, two_row_header);
                write_header(&mut s, &h2);
                seq = 0;
            }
            if sections && pos % 4 == 0 {
                let name = section_names[(pos / 4) % section_names.len()];
                if out.rng.bool() {
                    s.banner(0, width, V::t(name));
                } else {
                    let (mark, text) = name.split_once(". ").unwrap();
                    let mut row = vec![V::E; width];
                    row[0] = V::t(mark);
                    row[1] = V::t(text.to_uppercase());
                    let r = s.push(row);
                    s.merges.push((r, 1, r, (width - 1) as u16));
                }
                seq = 0;
            }
            if out.rng.usize(..15) == 0 {
                s.push(vec![V::E; width]);
            }
            seq += 1;
            let hide = caps.hidden && out.rng.usize(..25) == 0;
            out.person(&mut s, &cols, seq, &persons[k], sheet_type);
            if hide {
                let r = s.next_row() - 1;
                s.hidden.push(r);
            }
        }
        let count = ks.len();
        if let TypeMode::Grid { .. } = mode
            && rng.bool()
        {
            // Counts under the x-grid.
            let mut row = vec![V::E; width];
            row[1] = V::t("Tổng");
            for (k, c) in cols.iter().enumerate() {
                if let Col::Grid(t) = c {
                    let n = ks.iter().filter(|&&i| persons[i].types.contains(t)).count();
                    if n > 0 {
                        row[k] = if caps.numbers {
                            V::N(n as f64)
                        } else {
                            V::t(n.to_string())
                        };
                    }
                }
            }
            s.push(row);
        }
        if let Some(form) = total {
            let text = form.replace("{n}", &count.to_string());
            if let Some((a, b)) = text.split_once('|') {
                let mut row = vec![V::E; width];
                row[1] = V::t(a);
                row[2.min(width - 1) + 1] = V::t(b);
                s.push(row);
            } else if text == "legacy" {
                let t = format!("Tổng số: {count} đồng chí");
                let v = if caps.fonts {
                    tcvn3(&t).map(V::Tcvn3).unwrap_or(V::t(&t))
                } else {
                    V::t(t)
                };
                s.banner(1, 3, v);
            } else if rng.bool() {
                s.banner(0, width, V::t(text));
            } else {
                let mut row = vec![V::E; width];
                row[1] = V::t(text);
                s.push(row);
            }
        }
        if let TypeMode::Code {
            above: false,
            one_line,
            ..
        } = mode
        {
            legend(rng, &mut s, width, &legend_order, one_line);
        }
        if footer {
            let right = width.saturating_sub(4).max(2);
            let date_line = pick(
                rng,
                &[
                    "Xuân Trường, ngày 15 tháng 12 năm 2022",
                    "Nam Định, ngày    tháng 12 năm 2022",
                    "Ngày 15/12/2022",
                ],
            );
            let mut row = vec![V::E; width];
            row[right] = V::t(date_line);
            s.push(row);
            let mut row = vec![V::E; width];
            let left = pick(
                rng,
                &["Người lập biểu", "NGƯỜI LẬP DANH SÁCH", "Người lập bảng"],
            );
            let chief = pick(
                rng,
                &[
                    "THỦ TRƯỞNG ĐƠN VỊ",
                    "HIỆU TRƯỞNG",
                    "KT. HIỆU TRƯỞNG",
                    "GIÁM ĐỐC",
                ],
            );
            row[1] = V::t(left);
            row[right] = V::t(chief);
            s.push(row);
            if rng.bool() {
                let mut row = vec![V::E; width];
                row[1] = V::t("(Ký, ghi rõ họ tên)");
                row[right] = V::t("(Ký, đóng dấu)");
                s.push(row);
            }
            for _ in 0..rng.usize(0..4) {
                s.push(vec![]);
            }
            let mut row = vec![V::E; width];
            row[1] = V::t("Trần Thị Hoa");
            row[right] = V::t("Nguyễn Văn Bình");
            s.push(row);
        }
        sheets.push(s);
    }
    finish_expected(&mut exp, &persons);
    let choices = Choices {
        type_mode: mode,
        legend_order: legend_order.iter().map(|t| t.code()).collect(),
        preamble_rows,
        two_row_header,
        split_name,
        combined_id,
        birth_nam_nu,
        org_levels,
        numbering_row,
        code_row,
        sections,
        second_table,
        total,
        footer,
        headers: header_texts,
        persons: n,
        two_row_persons,
        planted,
    };
    (sheets, exp, choices)
}

/// Text in TCVN3 as a `.VnTime` cell stores it (the Western character of each byte), when every
/// character has a TCVN3 byte.
pub fn tcvn3(text: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let table: Vec<(char, u8)> = (1..=255u8)
        .map(|b| (cts_intake::legacy::tcvn3_byte(b), b))
        .collect();
    text.nfc()
        .map(|c| {
            if c.is_ascii() {
                return Some(c);
            }
            table
                .iter()
                .find(|(u, _)| *u == c)
                .filter(|&&(_, b)| !(0x80..0xA0).contains(&b))
                .map(|&(_, b)| char::from(b))
        })
        .collect()
}
