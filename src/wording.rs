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
