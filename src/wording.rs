//! Every sentence a school or a staff member reads, in Vietnamese, kept in one place so it can be
//! read and corrected together. Code, comments and logs stay English.

use crate::schema::{Field, RequestType};

// ---- Row problems (TEMPLATE.md "Field rules"): what is wrong, then how to fix it. ----

pub const NAME_INVALID: &str =
    "Họ và tên không hợp lệ: ghi đầy đủ họ, đệm và tên bằng chữ (ít nhất hai từ, không có số).";
pub const ID_INVALID: &str = "Số CCCD phải gồm 12 chữ số, bắt đầu bằng mã tỉnh (ví dụ 036...). Hãy kiểm tra lại số trên thẻ.";
pub const ID_SCIENTIFIC: &str = "Số CCCD bị Excel đổi sang dạng số mũ (E+) nên đã mất chữ số. \
     Hãy định dạng cột là Văn bản (Text) rồi gõ lại đủ 12 chữ số.";
pub const ID_OLD_CMND_REFUSED: &str = "Số CMND 9 số không còn dùng được cho loại đề nghị này: \
     hãy ghi số CCCD 12 chữ số.";
pub const ID_OLD_CMND_WARNING: &str =
    "Đây là số CMND 9 số cũ; nên thay bằng số CCCD 12 chữ số nếu đã có.";
pub const ID_BIRTH_MISMATCH: &str = "Số CCCD không khớp năm sinh (chữ số thứ 4 đến 6 của CCCD \
     cho biết năm sinh). Hãy kiểm tra lại số CCCD hoặc ngày sinh.";
pub const ID_PLACE_UNKNOWN: &str = "Nơi cấp CCCD chưa rõ: ghi đúng như in trên thẻ, là \
     \"Cục Cảnh sát quản lý hành chính về trật tự xã hội\" hoặc \
     \"Cục Cảnh sát đăng ký, quản lý cư trú và dữ liệu quốc gia về dân cư\" (viết tắt như \
     \"Cục CS QLHC về TTXH\" cũng được).";
pub const DATE_TWO_DIGIT_YEAR: &str =
    "Năm phải ghi đủ 4 chữ số (ví dụ 05/03/1985, không ghi 05/03/85).";
pub const EMAIL_ONE_ONLY: &str = "Mỗi ô chỉ ghi một địa chỉ email công vụ.";
pub const PHONE_INVALID: &str = "Số điện thoại di động không hợp lệ: ghi 10 chữ số, \
     bắt đầu bằng 03, 05, 07, 08 hoặc 09 (ví dụ 0912 345 678).";
pub const SERIAL_AS_NUMBER: &str = "Số hiệu chứng thư không hợp lệ: ô đang ở dạng số nên Excel \
     đã làm tròn. Hãy định dạng cột là Văn bản (Text) rồi dán lại số hiệu.";
pub const SERIAL_INVALID: &str = "Số hiệu chứng thư không hợp lệ: ghi dãy 8–40 ký tự gồm chữ số \
     0–9 và chữ cái A–F, như in trên chứng thư số.";
pub const REQUEST_TYPE_UNKNOWN: &str = "Nội dung đề nghị không rõ: ghi một trong các nội dung \
     Cấp mới hòm thư công vụ, Cấp mới chứng thư số, Cấp lại chứng thư số, Khôi phục thiết bị \
     lưu khoá bí mật, Thu hồi chứng thư số, Gia hạn chứng thư số, Thay đổi nội dung chứng thư số.";
pub const REQUEST_TYPE_MISSING: &str = "Thiếu nội dung đề nghị: thêm cột \"Nội dung đề nghị\" \
     hoặc đặt tên trang tính theo loại đề nghị.";

/// An invalid date in a date column.
pub fn date_invalid(field: Field) -> String {
    let what = match field {
        Field::BirthDate => "Ngày sinh",
        Field::IdIssueDate => "Ngày cấp",
        _ => "Ngày",
    };
    format!("{what} không hợp lệ: ghi theo dạng ngày/tháng/năm, ví dụ 05/03/1985.")
}

/// A birth date giving an age outside the campaign's range.
pub fn age_out_of_range(min: u32, max: u32) -> String {
    format!("Ngày sinh không hợp lệ: tuổi phải từ {min} đến {max}. Hãy kiểm tra lại năm sinh.")
}

/// An email outside the official domains.
pub fn email_invalid(domains: &[String]) -> String {
    let list = domains
        .iter()
        .map(|d| format!("@{d}"))
        .collect::<Vec<_>>()
        .join(" hoặc ");
    format!("Email công vụ phải có đuôi {list}; không dùng email cá nhân (Gmail, Yahoo...).")
}

/// A field required by the request type but left empty.
pub fn required_missing(header: &str, t: RequestType) -> String {
    format!("Thiếu {header}: bắt buộc với đề nghị \"{}\".", t.label())
}

/// The same person twice with the same request.
pub fn duplicate_person(first_row: u32) -> String {
    format!("Trùng người và nội dung đề nghị với dòng {first_row}: hãy xoá một dòng.")
}

/// Two requests for one person that cannot both be granted.
pub fn contradictory_requests(first_row: u32, a: RequestType, b: RequestType) -> String {
    format!(
        "Đề nghị \"{}\" mâu thuẫn với đề nghị \"{}\" của cùng người ở dòng {first_row}: \
         hãy giữ một đề nghị.",
        b.label(),
        a.label()
    )
}

// ---- Problems of a whole file ----

pub const FILE_NOT_SPREADSHEET: &str = "Tệp không phải bảng tính: hãy gửi file Excel (.xlsx, .xls) theo mẫu, không gửi ảnh, PDF hay Word.";
pub const FILE_ENCRYPTED: &str =
    "Tệp được đặt mật khẩu nên không đọc được: hãy bỏ mật khẩu rồi gửi lại.";
pub const FILE_CORRUPT: &str =
    "Tệp bị hỏng hoặc không mở được: hãy mở lại bằng Excel, lưu thành .xlsx rồi gửi lại.";
pub const FILE_EMPTY: &str = "Tệp không có dữ liệu: hãy kiểm tra đã điền danh sách trước khi gửi.";
pub const FILE_NO_ROWS: &str =
    "Đã nhận ra tiêu đề cột nhưng không có dòng nào có họ tên hoặc số CCCD.";

/// No table found: say which headers were expected.
pub fn file_no_table() -> String {
    format!(
        "Không tìm thấy bảng danh sách: dòng tiêu đề cần có các cột như {}.",
        [
            Field::Seq,
            Field::FullName,
            Field::BirthDate,
            Field::IdNumber,
            Field::Email,
            Field::Phone,
            Field::RequestType
        ]
        .iter()
        .map(|f| format!("\"{}\"", f.header()))
        .collect::<Vec<_>>()
        .join(", ")
    )
}

// ---- Reconciliation report, paper copies, reminders (issue 6) ----

/// The sheets of `doi-chieu.xlsx` (and the sections of `doi-chieu.html`).
pub const SHEET_OVERVIEW: &str = "Tổng quan";
pub const SHEET_SUMMARY: &str = "Tổng hợp";
pub const SHEET_NOT_SUBMITTED: &str = "Chưa gửi";
pub const SHEET_DETAIL: &str = "Chi tiết";
pub const SHEET_ISSUES: &str = "Cần xử lý";

/// The sheet of one request type's consolidated list (Excel allows 31 characters).
pub fn type_sheet_name(t: RequestType) -> &'static str {
    match t {
        RequestType::NewMailbox => "Cấp mới hòm thư",
        RequestType::NewCert => "Cấp mới CTS",
        RequestType::Reissue => "Cấp lại CTS",
        RequestType::KeyRecovery => "Khôi phục khoá",
        RequestType::Revoke => "Thu hồi CTS",
        RequestType::Renew => "Gia hạn CTS",
        RequestType::Change => "Thay đổi CTS",
    }
}

/// The printed title of a sheet.
pub fn sheet_title(sheet: &str) -> String {
    match sheet {
        SHEET_SUMMARY => "Tổng hợp tình hình gửi danh sách của các đơn vị".to_string(),
        SHEET_NOT_SUBMITTED => "Các đơn vị chưa có danh sách được tiếp nhận".to_string(),
        SHEET_DETAIL => "Chi tiết danh sách hiện hành của các đơn vị".to_string(),
        SHEET_ISSUES => "Các việc cần cán bộ xử lý".to_string(),
        other => match RequestType::ALL
            .into_iter()
            .find(|t| type_sheet_name(*t) == other)
        {
            Some(t) => format!("Danh sách đề nghị {}", t.label().to_lowercase()),
            None => other.to_string(),
        },
    }
}

pub const YES_LATE: &str = "Muộn";
pub const YES_UNVERIFIED: &str = "Chưa xác minh";

pub const ISSUE_HELD_MAIL: &str = "Thư chờ xử lý";
pub const ISSUE_AWAITING_CORRECTION: &str = "Danh sách chờ đơn vị sửa";
pub const ISSUE_SAME_PERSON: &str = "Một người ở hai đơn vị";
pub const ISSUE_OTHER_UNIT: &str = "Người ghi thuộc đơn vị khác";
pub const ISSUE_FAILED_REPLY: &str = "Thư trả lời không gửi được";
pub const ISSUE_NO_LIST: &str = "Thư không kèm danh sách.";

pub const HELD_UNREADABLE: &str = "Thư không đọc được; cần mở bản gốc để kiểm tra.";
pub const HELD_UNKNOWN_SENDER: &str =
    "Người gửi chưa đăng ký và không dùng thư công vụ; cần xác minh trước khi tiếp nhận.";
pub const HELD_UNIT_UNKNOWN: &str =
    "Thư công vụ chưa đăng ký, không xác định được đơn vị; cần xác minh đơn vị gửi.";
pub const HELD_OVERSIZED: &str = "Thư quá dung lượng nên không được đọc (chỉ giữ phần đầu thư); \
     cần mở bản gốc để kiểm tra, hoặc chờ đơn vị gửi lại riêng tệp danh sách.";
pub const HELD_OTHER: &str = "Thư đang chờ cán bộ kiểm tra trước khi tiếp nhận.";
pub const HELD_UNVERIFIED_REVOKE: &str =
    "Đề nghị thu hồi gửi từ địa chỉ chưa đăng ký của đơn vị; cần xác minh trước khi tiếp nhận.";

/// A row for a person whose unit column names another registered unit (a warning).
pub fn person_of_other_unit_named(unit_name: &str) -> String {
    format!(
        "Người này ghi đơn vị công tác là {unit_name}, một đơn vị khác đã đăng ký: đề nghị cho \
         người của đơn vị khác cần cán bộ Sở xác minh; nếu ghi nhầm, hãy sửa lại tên đơn vị."
    )
}
/// A row for a person another registered unit's accepted list holds (a warning).
pub const PERSON_OF_OTHER_UNIT_LISTED: &str = "Số CCCD này đã có trong danh sách của một đơn vị \
     khác: đề nghị cho người của đơn vị khác cần cán bộ Sở xác minh.";

/// Why a mail is held, for staff, when the pipeline's note is one of the trust policy's (rows
/// waiting for staff, a From that is not one address, an answer to our reply): `None` for
/// other notes.
pub fn held_trust_reason(note: &str) -> Option<String> {
    use crate::domain::outcome::{ANSWERS_OURS, FROM_NOT_ONE_ADDRESS, ROWS_HELD};
    if note.starts_with(FROM_NOT_ONE_ADDRESS) {
        return Some(
            "Dòng người gửi (From) không phải đúng một địa chỉ thư (có thể bị giả mạo): không \
             trả lời tự động, cần xác minh thư này của ai."
                .into(),
        );
    }
    if note.starts_with(ANSWERS_OURS) {
        return Some(
            "Thư trả lời lại thư của hệ thống, không kèm danh sách: không trả lời tự động để \
             tránh vòng lặp; cán bộ đọc và xử lý."
                .into(),
        );
    }
    let rest = note.strip_prefix(ROWS_HELD)?;
    // " from TRUST address FROM for unit CODE: row N: reason; row M: reason"
    let (head, rows) = rest.split_once(": ")?;
    let from = head.split(" address ").nth(1)?.split(' ').next()?;
    let unit = head.rsplit(' ').next()?;
    let rows: Vec<String> = rows
        .split("; ")
        .map(|item| {
            if let Some(n) = item.strip_suffix(" more rows") {
                return format!("và {n} dòng khác");
            }
            let (at, why) = item.split_once(": ").unwrap_or((item, ""));
            let at = at.replace("row", "dòng");
            let why = if let Some(t) = why.strip_prefix("unverified ") {
                match RequestType::from_code(t) {
                    Some(t) => format!("{} từ địa chỉ chưa đăng ký", t.label()),
                    None if t == "email change" => {
                        "email khác với email trong danh sách đã tiếp nhận, từ địa chỉ chưa đăng ký"
                            .to_string()
                    }
                    None => why.to_string(),
                }
            } else if let Some(code) = why.strip_prefix("revoke of a person of unit ") {
                format!("thu hồi chứng thư số của người thuộc đơn vị {code}")
            } else {
                why.to_string()
            };
            format!("{at}: {why}")
        })
        .collect();
    Some(format!(
        "Thư của {from} cho đơn vị {unit} có đề nghị cần cán bộ xác minh trước khi tiếp nhận \
         ({}).",
        rows.join("; ")
    ))
}

/// The errors of a returned list: how many, and the first few.
pub fn issue_errors(count: usize, first: &[(i64, &str, &str)]) -> String {
    let mut s = format!("{count} lỗi");
    if !first.is_empty() {
        let list = first
            .iter()
            .map(|(row, value, message)| {
                if *row > 0 {
                    format!("dòng {row} \"{value}\": {message}")
                } else {
                    message.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" | ");
        s.push_str(", ví dụ: ");
        s.push_str(&list);
    }
    s
}

/// A returned list of a unit that still has an earlier accepted one.
pub fn issue_still_current(code: &str) -> String {
    format!("Vẫn dùng danh sách đã tiếp nhận trước (mã {code}).")
}

/// One unit's request for a person listed by two units.
pub fn issue_same_person_in(unit: &str, request: &str, row: u32) -> String {
    format!("{unit}: {request} (dòng {row})")
}

/// A unit's row for a person whose unit column names another registered unit.
pub fn issue_other_unit(unit: &str, named: &str, request: &str, row: u32) -> String {
    format!("{unit}: {request} (dòng {row}), đơn vị công tác ghi là {named}")
}

/// A person as staff find them.
pub fn person(name: &str, id_number: &str) -> String {
    if id_number.is_empty() {
        name.to_string()
    } else {
        format!("{name} — CCCD {id_number}")
    }
}

/// A reply or reminder the outbox gave up on.
pub fn issue_failed_reply(kind: &str, attempts: i64, error: &str) -> String {
    let what = match kind {
        "ack" => "Thư xác nhận",
        "errors" => "Thư báo lỗi",
        "no_list" => "Thư báo thiếu danh sách",
        "held" => "Thư báo đang kiểm tra",
        "reminder" => "Thư nhắc",
        _ => "Thư",
    };
    format!("{what} chưa gửi được sau {attempts} lần thử: {error}")
}

pub fn note_paper(note: &str) -> String {
    format!("Bản giấy: {note}")
}

pub fn note_correction_awaited(when: &str) -> String {
    format!("Danh sách gửi lúc {when} có lỗi, đang chờ đơn vị sửa")
}

pub fn note_same_person(name: &str, other_units: &str) -> String {
    format!("{name} có cả trong danh sách của {other_units}")
}

/// The paper copy's state in the report. `when` formats an RFC 3339 time for staff.
pub fn paper_verdict(v: &crate::domain::paper::Verdict, when: &dyn Fn(&str) -> String) -> String {
    use crate::domain::paper::Verdict;
    match v {
        Verdict::Match => "Khớp".to_string(),
        Verdict::Unchecked => "Đã nhận, chưa đối chiếu mã".to_string(),
        Verdict::WrongRows { paper, list } => {
            format!("Không khớp số dòng (bản giấy {paper}, danh sách {list})")
        }
        Verdict::OlderVersion {
            number,
            received_at,
        } => format!("Của danh sách cũ (lần {number}, gửi {})", when(received_at)),
        Verdict::Mismatch => "Không khớp mã".to_string(),
        Verdict::NoList => "Chưa có danh sách điện tử".to_string(),
        Verdict::Typo => "Mã gõ sai".to_string(),
    }
}

pub const COVER_TITLE: &str = "Phiếu đối chiếu";
pub const COVER_UNIT: &str = "Đơn vị:";
pub const COVER_CODE: &str = "Mã đối chiếu của danh sách đã gửi qua thư điện tử:";
pub const COVER_TOTAL: &str = "Tổng số đề nghị";
pub const COVER_UNIT_CODE: &str = "Mã đơn vị:";
pub const COVER_RECEIVED: &str = "Sở tiếp nhận lúc:";
pub const COVER_NATION: &str = "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM";
pub const COVER_MOTTO: &str = "Độc lập - Tự do - Hạnh phúc";
pub const COVER_DATE_LINE: &str = "........., ngày ..... tháng ..... năm ..........";
pub const COVER_DESK: &str = "Phần dành cho Sở (bộ phận tiếp nhận bản giấy)";
pub const COVER_DESK_LINES: [&str; 2] = [
    "Ngày nhận bản giấy: ...................................",
    "Người nhận (ký, ghi rõ họ tên): ...................................",
];
pub const COVER_SIGNER: &str = "THỦ TRƯỞNG ĐƠN VỊ";
pub const COVER_SIGNER_HINT: &str = "(Ký, ghi rõ họ tên, đóng dấu)";

pub fn cover_received(when: &str) -> String {
    format!("Sở tiếp nhận danh sách lúc {when}")
}

/// What the school does with the cover sheet; `deadline` is empty once it has passed (a late
/// list): then the paper copy is asked for as soon as possible, not before a past date.
pub fn cover_instructions(paper_room: &str, deadline: &str) -> String {
    let when = if deadline.is_empty() {
        "càng sớm càng tốt (danh sách đã quá hạn)".to_string()
    } else {
        format!("trước {deadline}")
    };
    format!(
        "Đơn vị in phiếu này, ghim phiếu vào bản giấy của danh sách (có chữ ký của thủ trưởng và \
         đóng dấu) và nộp về {paper_room} {when}. Bản giấy phải đúng với danh sách trên: nếu \
         đơn vị gửi lại danh sách, hãy in phiếu đối chiếu mới kèm theo thư xác nhận mới."
    )
}

/// The one-line answer of `paper receive`, for staff at the desk. `unit` is "CODE (name)";
/// `current` is the unit's current version as (code, rows, received), when it has one.
pub fn paper_answer(
    unit: &str,
    verdict: &crate::domain::paper::Verdict,
    code: &str,
    current: Option<(&str, usize, &str)>,
    when: &dyn Fn(&str) -> String,
) -> String {
    use crate::domain::paper::Verdict;
    let (cur_code, cur_rows, cur_when) = current.unwrap_or(("", 0, ""));
    // Staff compare with the paper, which carries the printed code (with its check character).
    let cur_code = &crate::domain::paper::printed_code(cur_code);
    match verdict {
        Verdict::Match => format!(
            "KHỚP — {unit}: bản giấy đúng danh sách gửi lúc {}, mã {cur_code}, {cur_rows} dòng.",
            when(cur_when)
        ),
        Verdict::Unchecked => format!(
            "ĐÃ GHI NHẬN — {unit}: chưa đối chiếu mã; danh sách hiện hành có mã {cur_code}, \
             {cur_rows} dòng (gửi lúc {}).",
            when(cur_when)
        ),
        Verdict::WrongRows { paper, list } => format!(
            "KHÔNG KHỚP — {unit}: bản giấy có {paper} dòng, danh sách hiện hành (mã {cur_code}) \
             có {list} dòng."
        ),
        Verdict::OlderVersion {
            number,
            received_at,
        } => format!(
            "KHÔNG KHỚP — {unit}: mã {code} là của danh sách gửi lần {number} lúc {}; đơn vị đã \
             gửi danh sách mới (mã {cur_code}, {cur_rows} dòng, gửi lúc {}), cần nộp bản giấy \
             của danh sách mới.",
            when(received_at),
            when(cur_when)
        ),
        Verdict::Mismatch => format!(
            "KHÔNG KHỚP — {unit}: mã {code} không phải mã danh sách nào của đơn vị; mã hiện hành \
             là {cur_code} ({cur_rows} dòng)."
        ),
        Verdict::NoList => format!(
            "CHƯA CÓ DANH SÁCH — {unit}: đã ghi nhận bản giấy, nhưng đơn vị chưa có danh sách \
             điện tử được tiếp nhận."
        ),
        Verdict::Typo => format!(
            "MÃ GÕ SAI — {unit}: ký tự kiểm tra cuối của mã {code} không đúng, nên mã đã bị gõ \
             hoặc chép sai (không phải mã của danh sách khác). Hãy quét hoặc gõ lại mã; mã hiện \
             hành của đơn vị là {cur_code} ({cur_rows} dòng)."
        ),
    }
}

/// `paper receive` for a code that is not in the registry.
pub fn paper_unknown_unit(code: &str) -> String {
    format!(
        "KHÔNG RÕ ĐƠN VỊ — không có đơn vị mã \"{code}\" trong danh sách đơn vị; bản giấy chưa \
         được ghi nhận (xem mã bằng lệnh `units list`)."
    )
}

pub fn paper_undone(unit: &str, recorded: &str) -> String {
    format!("ĐÃ HUỶ — ghi nhận bản giấy của {unit} lúc {recorded} không còn được tính.")
}

pub const PAPER_NOTHING_TO_UNDO: &str = "Không có ghi nhận bản giấy nào để huỷ.";

/// The reminder's subject.
pub fn reminder_subject(no_list: bool, unit_name: &str) -> String {
    if no_list {
        format!("[Nhắc] Gửi danh sách đề nghị cấp hòm thư công vụ, chứng thư số — {unit_name}")
    } else {
        format!("[Nhắc] Nộp bản giấy danh sách đề nghị — {unit_name}")
    }
}

/// What the reminder needs to say.
#[derive(Debug, Clone)]
pub struct ReminderText<'a> {
    pub unit_name: &'a str,
    pub no_list: bool,
    /// The current version's code and row count (for a paper reminder).
    pub code: &'a str,
    pub rows: usize,
    /// The state of a paper copy already brought that does not match, if any.
    pub paper_state: Option<String>,
    pub deadline: &'a str,
    pub deadline_passed: bool,
    pub department_name: &'a str,
    pub department_address: &'a str,
    pub paper_room: &'a str,
}

/// The body of a reminder: polite, short, and saying exactly what is missing.
pub fn reminder_body(t: &ReminderText) -> String {
    let mut s = format!("Kính gửi: {}\n\n", t.unit_name);
    let deadline = if t.deadline_passed {
        format!(
            "Hạn gửi danh sách ({}) đã qua; Sở vẫn tiếp nhận và đề nghị đơn vị hoàn thành sớm.",
            t.deadline
        )
    } else {
        format!("Hạn gửi danh sách là {}.", t.deadline)
    };
    if t.no_list {
        s.push_str(&format!(
            "{} trân trọng nhắc: đến nay Sở chưa tiếp nhận được danh sách đề nghị cấp hòm thư \
             công vụ và dịch vụ chứng thư số của đơn vị. {deadline}\n\n\
             Đơn vị vui lòng gửi danh sách theo mẫu (tệp Excel) đến địa chỉ {} từ địa chỉ thư \
             công vụ đã đăng ký của đơn vị, và nộp bản giấy (có chữ ký của thủ trưởng, đóng dấu) \
             về {}.\n\n\
             Nếu đơn vị đã gửi danh sách và nhận được thư báo lỗi, xin vui lòng sửa theo hướng \
             dẫn trong thư đó rồi gửi lại toàn bộ danh sách. Nếu đơn vị không có cán bộ cần đề \
             nghị, xin vui lòng trả lời thư này để Sở được biết.\n",
            t.department_name, t.department_address, t.paper_room
        ));
    } else {
        s.push_str(&format!(
            "{} đã tiếp nhận danh sách đề nghị của đơn vị qua thư điện tử (mã đối chiếu {}, {} \
             đề nghị), ",
            t.department_name, t.code, t.rows
        ));
        match &t.paper_state {
            Some(state) => s.push_str(&format!(
                "nhưng bản giấy đơn vị đã nộp chưa khớp với danh sách này ({state}).\n\n"
            )),
            None => s.push_str("nhưng chưa nhận được bản giấy.\n\n"),
        }
        s.push_str(&format!(
            "Đơn vị vui lòng in danh sách, ghi mã đối chiếu {} lên bản giấy (hoặc đóng kèm \
             phiếu đối chiếu gửi theo thư xác nhận), trình thủ trưởng ký, đóng dấu và nộp về {}. \
             {deadline}\n",
            t.code, t.paper_room
        ));
    }
    s.push_str(&format!(
        "\nTrân trọng cảm ơn.\n\n--\n{}\nThư này được hệ thống tiếp nhận danh sách gửi tự động. \
         Nếu cần hỗ trợ, đơn vị vui lòng liên hệ bộ phận phụ trách tại {}.\n",
        t.department_name, t.paper_room
    ));
    s
}

pub fn remind_not_yet(opens: &str, deadline: &str) -> String {
    format!("Chưa đến lúc nhắc: hạn gửi là {deadline}, bắt đầu nhắc từ ngày {opens}.")
}

pub fn remind_line(done: &str, unit: &str, no_list: bool, to: &str) -> String {
    let why = if no_list {
        "chưa có danh sách được tiếp nhận"
    } else {
        "chưa có bản giấy khớp"
    };
    format!("{done} — {unit}: {why}; gửi {to}")
}

pub const REMIND_WRITTEN: &str = "Đã nhắc";
pub const REMIND_WOULD: &str = "Sẽ nhắc";
pub const REMIND_ALREADY: &str = "Đã nhắc hôm nay, bỏ qua";
pub const REMIND_NO_ADDRESS: &str = "Không có địa chỉ đã đăng ký, bỏ qua";

// ---- A mail over the size limit (IMAP intake) ----

/// The whole reply to a mail too large to be read: what happened and what to do.
pub fn oversized_reply(
    unit_name: Option<&str>,
    size_mb: f64,
    limit_mb: u64,
    department_name: &str,
    contact: &str,
) -> String {
    format!(
        "Kính gửi: {}\n\n\
         Thư của đơn vị có dung lượng {size_mb:.1} MB, vượt quá giới hạn {limit_mb} MB mà hệ thống \
         tiếp nhận tự động đọc được, nên danh sách đính kèm chưa được xử lý. Thư đã được lưu lại \
         và chuyển cán bộ của Sở kiểm tra.\n\n\
         Để danh sách được tiếp nhận ngay, đơn vị vui lòng gửi lại thư chỉ đính kèm tệp danh sách \
         (Excel .xlsx hoặc .xls theo mẫu), không kèm ảnh chụp hay tệp scan, để tổng dung lượng \
         dưới {limit_mb} MB.\n\
         \n--\n{department_name}\nThư này được hệ thống tiếp nhận danh sách gửi tự động. Nếu cần \
         hỗ trợ, đơn vị vui lòng liên hệ bộ phận phụ trách tại {contact}.\n",
        unit_name.unwrap_or("Quý đơn vị")
    )
}

/// The tag of the subject of a reply that carries a clerk's refusal.
pub const REJECTED_TAG: &str = "Không tiếp nhận";

/// The reply to a held mail staff rejected: the clerk's reason, quoted, in the department's
/// wrapper text.
pub fn staff_rejection_reply(
    unit_name: Option<&str>,
    subject: &str,
    reason: &str,
    department_name: &str,
    contact: &str,
) -> String {
    let quoted: String = reason
        .lines()
        .map(|l| format!("> {l}\n"))
        .collect::<String>();
    let subject = if subject.is_empty() {
        "(không có tiêu đề)"
    } else {
        subject
    };
    format!(
        "Kính gửi: {}\n\n\
         Cán bộ của Sở đã xem thư của đơn vị (tiêu đề: {subject}) và không tiếp nhận danh sách \
         trong thư này, với lý do như sau:\n\n\
         {quoted}\n\
         Đơn vị vui lòng xem lý do trên, sửa lại (nếu cần) rồi gửi lại thư mới đến hộp thư tiếp \
         nhận; thư này không cần trả lời.\n\
         \n--\n{department_name}\nNếu cần hỗ trợ, đơn vị vui lòng liên hệ bộ phận phụ trách tại \
         {contact}.\n",
        unit_name.unwrap_or("Quý đơn vị")
    )
}

/// The reply to a mail whose attachments could not be read to the end (a reader ran out of
/// memory or time, or crashed): held for staff; the school is told how to send a list that
/// reads.
pub fn unreadable_reply(unit_name: Option<&str>, department_name: &str, contact: &str) -> String {
    format!(
        "Kính gửi: {}\n\n\
         Hệ thống tiếp nhận tự động không đọc hết được tệp đính kèm trong thư của đơn vị (tệp quá \
         lớn, quá phức tạp hoặc bị hỏng), nên danh sách chưa được xử lý. Thư đã được lưu lại và \
         chuyển cán bộ của Sở kiểm tra.\n\n\
         Để danh sách được tiếp nhận ngay, đơn vị vui lòng mở tệp danh sách, lưu lại thành một \
         tệp Excel mới (.xlsx, chỉ gồm trang danh sách theo mẫu) rồi gửi lại trong một thư chỉ \
         đính kèm tệp đó.\n\
         \n--\n{department_name}\nThư này được hệ thống tiếp nhận danh sách gửi tự động. Nếu cần \
         hỗ trợ, đơn vị vui lòng liên hệ bộ phận phụ trách tại {contact}.\n",
        unit_name.unwrap_or("Quý đơn vị")
    )
}

/// Why a mail's reading did not finish, for staff (the report's "Cần xử lý", the desk).
pub fn unread_reason(why: crate::domain::Unread) -> &'static str {
    use crate::domain::Unread;
    match why {
        Unread::Crashed => {
            "Tệp đính kèm làm trình đọc dừng đột ngột (hết bộ nhớ hoặc tệp hỏng); thư chưa được xử lý"
        }
        Unread::CpuTime | Unread::TimedOut => {
            "Tệp đính kèm đọc quá lâu (vượt giới hạn thời gian); thư chưa được xử lý"
        }
        Unread::Garbled => "Trình đọc trả kết quả không hợp lệ; thư chưa được xử lý",
        Unread::Poison => {
            "Việc đọc thư này đã hai lần không hoàn thành; thư không được thử lại tự động"
        }
    }
}

/// A mail with more attachments than are read: the rest were not read.
pub fn too_many_files(max: usize) -> String {
    format!(
        "Thư có quá nhiều tệp đính kèm: chỉ {max} tệp đầu tiên được đọc, tệp này và các tệp sau \
         không được đọc. Đơn vị vui lòng gộp danh sách vào một tệp Excel (.xlsx) rồi gửi lại."
    )
}

// ---- Reading every list a school sends (formats, layouts, legacy encodings) ----

/// A PDF, Word file or photo sent instead of the list.
pub fn file_document(kind: crate::sheet::Document) -> &'static str {
    use crate::sheet::Document;
    match kind {
        Document::Pdf => {
            "Tệp PDF không đọc được danh sách: hãy gửi file Excel (.xlsx hoặc .xls) theo mẫu; \
             bản có chữ ký, đóng dấu nộp bằng bản giấy."
        }
        Document::Word => {
            "Tệp Word không đọc được danh sách: hãy gửi file Excel (.xlsx hoặc .xls) theo mẫu, \
             không dán bảng vào Word."
        }
        Document::Image => {
            "Ảnh chụp danh sách không đọc được: hãy gửi file Excel (.xlsx hoặc .xls) theo mẫu, \
             không chụp ảnh hay quét bản giấy."
        }
        Document::Other => FILE_NOT_SPREADSHEET,
    }
}

pub const FILE_WINMAIL: &str = "Tệp winmail.dat do Outlook tạo nên không mở được: hãy gửi lại \
     file Excel như tệp đính kèm thông thường (trong Outlook chọn định dạng thư HTML hoặc Văn bản \
     thuần, không chọn Rich Text).";

/// A zip that was not unpacked.
pub fn file_archive(problem: crate::sheet::ArchiveProblem) -> &'static str {
    use crate::sheet::ArchiveProblem;
    match problem {
        ArchiveProblem::TooLarge => {
            "Tệp nén quá lớn hoặc chứa quá nhiều tệp nên không được mở: hãy gửi trực tiếp file \
             Excel danh sách, không nén."
        }
        ArchiveProblem::Nested => {
            "Tệp nén nằm trong một tệp nén khác: hãy gửi trực tiếp file Excel danh sách, không nén."
        }
        ArchiveProblem::Encrypted => {
            "Tệp nén được đặt mật khẩu nên không mở được: hãy gửi file Excel không đặt mật khẩu."
        }
        ArchiveProblem::NoList => {
            "Trong tệp nén không có file Excel danh sách nào: hãy gửi file Excel (.xlsx hoặc .xls) \
             theo mẫu."
        }
    }
}

/// A file holding more cells or text than a list may (`sheet::MAX_CELLS`,
/// `sheet::MAX_TEXT_BYTES`): a workbook with far more than the list in it, or a crafted file.
pub const FILE_TOO_LARGE: &str = "Tệp quá lớn hoặc quá phức tạp nên không đọc được (có quá \
     nhiều ô hoặc quá nhiều chữ so với một danh sách). Hãy chép riêng bảng danh sách sang một \
     tệp Excel mới (.xlsx) chỉ chứa danh sách đó rồi gửi lại; nếu tệp nằm trong một tệp nén, \
     hãy gửi riêng tệp danh sách.";

/// Cells far from the table that were not read: the grid holding them would pass the
/// attachment's budget (`sheet::MAX_CELLS`).
pub fn stray_cells(n: usize) -> String {
    format!(
        "Có {n} ô có dữ liệu nằm quá xa bảng nên không được đọc (tệp sẽ quá lớn nếu đọc cả \
         các ô đó). Nếu danh sách thật sự dài hơn, hãy chia thành nhiều file; nếu không, hãy \
         xoá các ô thừa đó."
    )
}

/// Rows the school hid in Excel: read anyway, and said once for the sheet.
pub fn hidden_rows(rows: &[u32]) -> String {
    let which = if rows.len() == 1 {
        "Dòng"
    } else {
        "Các dòng"
    };
    format!(
        "{which} {} đang bị ẩn trong Excel nhưng vẫn được tính vào danh sách. Nếu không đề nghị \
         cho những người này, hãy xoá hẳn các dòng đó rồi gửi lại.",
        row_list(rows)
    )
}

/// A row of an x-grid with no column marked.
pub fn grid_unmarked(headers: &[String]) -> String {
    format!(
        "Chưa đánh dấu loại đề nghị: ghi x vào một trong các cột {}.",
        headers
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A whole column wrong in the same way: said once for the column, not once per row.
pub fn whole_column(count: usize, rows: &[u32], message: &str) -> String {
    format!(
        "Cả cột này sai giống nhau ở {count} dòng ({}): {message}",
        row_list(rows)
    )
}

/// "5, 6, 7 … 40" for long lists of rows.
fn row_list(rows: &[u32]) -> String {
    if rows.len() <= 8 {
        rows.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!(
            "{}, … {}",
            rows[..5]
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            rows[rows.len() - 1]
        )
    }
}

// ---- Mails to staff (the digest, polling alerts) ----

/// What the daily digest counts.
pub struct DigestCounts {
    pub held: usize,
    pub stuck: usize,
    /// Units whose list was returned for correction and not yet sent again.
    pub awaiting: Vec<String>,
    pub not_submitted: Vec<String>,
    pub accepted: usize,
    pub units: usize,
}

pub fn digest_subject(day: &str, to_handle: usize) -> String {
    if to_handle == 0 {
        format!("[Tiếp nhận danh sách] Tổng hợp ngày {day}")
    } else {
        format!("[Tiếp nhận danh sách] Tổng hợp ngày {day}: {to_handle} việc cần xử lý")
    }
}

/// The daily digest to staff.
pub fn digest_text(c: &DigestCounts, deadline: &str, desk: &str) -> String {
    let list = |names: &[String]| -> String {
        const SHOWN: usize = 20;
        let mut s: String = names
            .iter()
            .take(SHOWN)
            .map(|n| format!("   - {n}\n"))
            .collect();
        if names.len() > SHOWN {
            s.push_str(&format!("   - và {} đơn vị khác\n", names.len() - SHOWN));
        }
        s
    };
    let mut s = format!(
        "Kính gửi: Cán bộ phụ trách tiếp nhận danh sách\n\n\
         Tình hình tiếp nhận đến thời điểm này (hạn nộp: {deadline}):\n\n\
         - {} thư chờ xử lý (người gửi chưa đăng ký, tệp không đọc được, thư quá lớn...)\n\
         - {} thư trả lời bị tạm giữ hoặc gửi không được\n\
         - {} đơn vị chờ gửi lại danh sách đã sửa\n",
        c.held,
        c.stuck,
        c.awaiting.len()
    );
    s.push_str(&list(&c.awaiting));
    s.push_str(&format!(
        "- {} đơn vị chưa gửi danh sách\n",
        c.not_submitted.len()
    ));
    s.push_str(&list(&c.not_submitted));
    s.push_str(&format!(
        "- {} trên {} đơn vị đã có danh sách được tiếp nhận\n\n\
         Mở bàn tiếp nhận để xử lý: {desk}\n\n--\n\
         Thư này do hệ thống tiếp nhận danh sách gửi tự động mỗi ngày.\n",
        c.accepted, c.units
    ));
    s
}

pub const POLL_DOWN_SUBJECT: &str = "[Tiếp nhận danh sách] CẢNH BÁO: không đọc được hộp thư";
pub const POLL_UP_SUBJECT: &str = "[Tiếp nhận danh sách] Đã đọc lại được hộp thư";

/// The alert: polling has failed for a while.
pub fn poll_down_text(last_success: &str, minutes: u64, desk: &str) -> String {
    format!(
        "Kính gửi: Cán bộ phụ trách tiếp nhận danh sách\n\n\
         Hệ thống tiếp nhận danh sách không đọc được hộp thư của Sở từ {last_success} (đã quá \
         {minutes} phút). Thư các đơn vị gửi đến trong thời gian này chưa được tiếp nhận và chưa \
         được trả lời; thư không bị mất và sẽ được xử lý khi đọc lại được hộp thư.\n\n\
         Đề nghị báo ngay cho người quản trị hệ thống (kiểm tra kết nối, mật khẩu hộp thư). Hệ \
         thống sẽ gửi thư báo khi hoạt động trở lại.\n\n\
         Bàn tiếp nhận: {desk}\n\n--\n\
         Thư này do hệ thống tiếp nhận danh sách gửi tự động.\n"
    )
}

/// Polling works again.
pub fn poll_up_text(last_success: &str, desk: &str) -> String {
    format!(
        "Kính gửi: Cán bộ phụ trách tiếp nhận danh sách\n\n\
         Hệ thống đã đọc lại được hộp thư của Sở (lần đọc thành công gần nhất: {last_success}). \
         Thư gửi đến trong thời gian gián đoạn đang được tiếp nhận và trả lời như thường lệ.\n\n\
         Bàn tiếp nhận: {desk}\n\n--\n\
         Thư này do hệ thống tiếp nhận danh sách gửi tự động.\n"
    )
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The old tone-mark convention's spellings: the mark on the first vowel of an open "oa",
    /// "oe" or "uy" ("hòa", "khóa", "hủy", "thủy"); the project writes "hoà", "khoá", "huỷ".
    fn old_style(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut found = Vec::new();
        for i in 0..chars.len().saturating_sub(1) {
            let (a, b) = (chars[i].to_lowercase().next(), chars[i + 1]);
            let b = b.to_lowercase().next();
            let open = chars.get(i + 2).is_none_or(|c| !c.is_alphabetic());
            let hit = match (a, b) {
                (Some(a), Some(b)) => {
                    ("óòỏõọ".contains(a) && (b == 'a' || b == 'e'))
                        || ("úùủũụ".contains(a) && b == 'y')
                }
                _ => false,
            };
            if hit && open {
                let start = chars[..i]
                    .iter()
                    .rposition(|c| !c.is_alphabetic())
                    .map_or(0, |p| p + 1);
                found.push(chars[start..i + 2].iter().collect());
            }
        }
        found
    }

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs" || x == "html") {
                out.push(p);
            }
        }
    }

    #[test]
    fn the_old_tone_mark_spellings_are_found() {
        assert_eq!(
            old_style("CỘNG HÒA, khóa, hủy, Thủy, tòa, hóa; hoàn, khoá, huỷ, của, quý"),
            ["HÒA", "khóa", "hủy", "Thủy", "tòa", "hóa"]
        );
    }

    /// One tone-mark convention in every text a school or a clerk reads: the replies, the
    /// report, the template, the desk (its templates too), and the README's quotes of them.
    /// `text.rs` and `legacy.rs` are left out: they fold and decode what schools write, in
    /// either convention; so are unit tests.
    #[test]
    fn user_facing_text_uses_one_tone_mark_convention() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut all = Vec::new();
        files(&root.join("src"), &mut all);
        files(&root.join("templates"), &mut all);
        all.push(root.join("README.md"));
        let mut bad = Vec::new();
        for p in all {
            let name = p.file_name().unwrap().to_string_lossy();
            if name == "text.rs" || name == "legacy.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            // Unit tests hold examples of what is looked for (this one) and of what schools
            // write.
            let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            for (n, line) in text.lines().enumerate() {
                for w in old_style(line) {
                    bad.push(format!("{}:{}: {w}", p.display(), n + 1));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "write the tone mark on the main vowel (hoà, khoá, huỷ, thuỷ):\n{}",
            bad.join("\n")
        );
    }
}
