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
