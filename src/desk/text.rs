//! What the desk says to staff, in Vietnamese (the pages' fixed text is in the templates).

use crate::report::paper::Verdict;

pub const FORBIDDEN_ORIGIN: &str =
    "Yêu cầu bị từ chối: biểu mẫu không được gửi từ trang của bàn tiếp nhận.";
pub const FORBIDDEN_CSRF: &str =
    "Yêu cầu bị từ chối: biểu mẫu đã cũ hoặc không hợp lệ. Hãy tải lại trang rồi thử lại.";
pub const FORBIDDEN_CSRF_LOGIN: &str =
    "Yêu cầu bị từ chối: trang đăng nhập đã cũ. Hãy tải lại trang đăng nhập rồi thử lại.";
pub const FORM_TOO_LARGE: &str = "Biểu mẫu quá lớn.";
pub const INTERNAL: &str =
    "Có lỗi khi đọc cơ sở dữ liệu. Hãy thử lại; nếu vẫn lỗi, báo cho người quản trị.";
pub const NOT_FOUND: &str = "Không tìm thấy trang hoặc mục này.";
pub const LOGIN_WRONG: &str = "Sai tên đăng nhập hoặc mật khẩu.";

pub const NOT_HELD: &str = "Thư này không còn ở trạng thái chờ xử lý.";
pub const ONLY_HEADER_KEPT: &str = "Thư quá lớn nên hệ thống chỉ giữ phần tiêu đề, không có tệp \
    đính kèm để xử lý. Hãy từ chối thư với lý do, đề nghị đơn vị gửi lại thư chỉ kèm tệp danh sách.";

/// A mail over the size limit could not be fetched whole from the mailbox.
pub fn whole_not_fetched(why: &str) -> String {
    format!(
        "Thư quá lớn nên lúc nhận hệ thống chỉ giữ phần tiêu đề; lấy lại toàn bộ thư từ hộp thư \
         không được ({why}). Hãy từ chối thư với lý do, đề nghị đơn vị gửi lại thư chỉ kèm tệp \
         danh sách."
    )
}
pub const CHOOSE_UNIT: &str = "Hãy chọn đơn vị để giao thư.";
pub const NO_SENDER: &str = "Thư không có đúng một địa chỉ người gửi nên không giao cho đơn vị được; hãy từ chối hoặc bỏ qua.";
pub const REASON_NEEDED: &str = "Hãy ghi lý do từ chối: đơn vị sẽ nhận được lý do này.";
pub const UNIT_CODE_NEEDED: &str = "Hãy nhập mã đơn vị.";
pub const UNIT_NAME_NEEDED: &str = "Hãy nhập tên đơn vị.";
pub const UNIT_NAME_TOO_LONG: &str = "Tên hoặc loại đơn vị quá dài (tối đa 200 ký tự).";
pub const ADDRESS_TWICE: &str = "Có địa chỉ thư được nhập hai lần.";

pub fn address_taken(address: &str, unit: &str) -> String {
    format!("Địa chỉ {address} đã đăng ký cho đơn vị {unit}; mỗi địa chỉ chỉ thuộc một đơn vị.")
}

pub fn not_an_address(text: &str) -> String {
    format!(
        "“{}” không phải là địa chỉ thư điện tử.",
        text.chars().take(100).collect::<String>()
    )
}

pub fn too_many_addresses(max: usize) -> String {
    format!("Một đơn vị có tối đa {max} địa chỉ thư.")
}

pub fn code_taken(code: &str, name: &str) -> String {
    format!("Mã {code} đã là mã của {name}.")
}

pub fn unit_refused(detail: &str) -> String {
    format!("Danh sách đơn vị không nhận thay đổi này (chi tiết: {detail}).")
}

pub fn report_failed(detail: &str) -> String {
    format!(
        "Thao tác đã được ghi lại, nhưng chưa viết lại được báo cáo (doi-chieu.xlsx và các tệp \
         CSV) nên tệp tải về có thể chưa cập nhật. Báo cho người quản trị (chi tiết: {detail})."
    )
}

pub fn login_wait(minutes: i64) -> String {
    format!(
        "Đăng nhập sai quá nhiều lần. Hãy chờ khoảng {minutes} phút rồi thử lại, hoặc nhờ người \
         quản trị đặt lại mật khẩu."
    )
}

/// Why a mail was held, for staff: the pipeline's note (English, for logs) read into Vietnamese.
pub fn held_reason(note: &str) -> String {
    if let Some(reason) = crate::wording::held_trust_reason(note) {
        return reason;
    }
    let after = |prefix: &str| note.strip_prefix(prefix).map(str::trim);
    if let Some(rest) = after("sender ") {
        let from = rest.split(' ').next().unwrap_or("");
        if note.ends_with("not on an official domain") {
            return format!(
                "Người gửi {from} chưa đăng ký và không thuộc tên miền chính thức: cần xác minh \
                 thư này của đơn vị nào."
            );
        }
        if note.ends_with("could be inferred") {
            return format!(
                "Người gửi {from} chưa đăng ký và không xác định được đơn vị từ tiêu đề hay \
                 danh sách."
            );
        }
    }
    if let Some(rest) = after("unreadable mail:") {
        return format!("Thư không đọc được ({rest}).");
    }
    if note.starts_with("too large to read") {
        return "Thư quá lớn nên không tự động đọc tệp đính kèm (chỉ giữ phần tiêu đề); \
                “Xử lý lại thư” hoặc “Giao thư cho đơn vị” sẽ lấy toàn bộ thư từ hộp thư rồi đọc."
            .into();
    }
    if let Some(rest) = after("revocation requested from unregistered address ") {
        let from = rest.split(' ').next().unwrap_or("");
        let unit = rest.rsplit(' ').next().unwrap_or("");
        return format!(
            "Đề nghị thu hồi chứng thư số từ địa chỉ chưa đăng ký {from} cho đơn vị {unit}: cần \
             xác minh trước khi xử lý."
        );
    }
    if note.is_empty() {
        return "Chờ cán bộ xem xét.".into();
    }
    format!("Chờ cán bộ xem xét (ghi chú của hệ thống: {note}).")
}

/// Why a reply is held in the outbox (a reply budget; see `outbox::rate_limit`), for staff;
/// any other error (a refusal by the SMTP server) as it is.
pub fn held_reply_reason(error: &str) -> String {
    let said = |what: &str| format!("{what} (hệ thống: {error})");
    if error.starts_with("rate limit:") {
        said("Giữ lại: đã gửi quá nhiều thư trả lời tới địa chỉ này trong một giờ")
    } else if error.starts_with("domain budget:") {
        said(
            "Giữ lại: quá nhiều thư trả lời tới người gửi chưa đăng ký của cùng tên miền trong một giờ",
        )
    } else if error.starts_with("overall budget:") {
        said("Giữ lại: tổng số thư trả lời trong một giờ đã vượt mức cho phép")
    } else if error.starts_with("repeat:") {
        said("Giữ lại: địa chỉ này đã nhận cùng loại thư trả lời tự động trong mấy ngày gần đây")
    } else if error.starts_with("loop:") {
        said("Giữ lại: thư này trả lời lại thư của hệ thống; trả lời tự động có thể gây vòng lặp")
    } else {
        error.to_string()
    }
}

/// A mail's outcome, as staff read it.
pub fn outcome(code: &str) -> &'static str {
    match code {
        "accepted" => "Đã tiếp nhận",
        "rejected" => "Trả lại để sửa",
        "no_list" => "Không có danh sách",
        "held" => "Chờ xử lý",
        "ignored" => "Bỏ qua",
        "duplicate" => "Thư trùng",
        _ => "Khác",
    }
}

/// A reply's state in the outbox.
pub fn reply_status(code: &str) -> &'static str {
    match code {
        "pending" => "Đang chờ gửi",
        "sent" => "Đã gửi",
        "failed" => "Gửi không được",
        "held" => "Tạm giữ (vượt giới hạn gửi)",
        _ => "Khác",
    }
}

/// What kind of reply it is.
pub fn reply_kind(code: &str) -> &'static str {
    match code {
        "ack" => "Xác nhận tiếp nhận",
        "errors" => "Báo lỗi cần sửa",
        "no_list" => "Báo không có danh sách",
        "held" => "Báo đang kiểm tra",
        "reminder" => "Nhắc nhở",
        "rejection" => "Báo không tiếp nhận",
        "digest" => "Tổng hợp hằng ngày cho cán bộ",
        "poll_down" => "Cảnh báo không đọc được hộp thư",
        "poll_up" => "Báo đọc lại được hộp thư",
        _ => "Thư trả lời",
    }
}

/// A staff action in the audit log.
pub fn action(code: &str) -> &'static str {
    match code {
        "login" => "Đăng nhập",
        "logout" => "Đăng xuất",
        "ignore_mail" => "Bỏ qua thư",
        "release_mail" => "Giao thư cho đơn vị",
        "reject_mail" => "Từ chối thư",
        "reprocess_mail" => "Xử lý lại thư",
        "unit_no_need" => "Đánh dấu không có nhu cầu",
        "unit_need" => "Bỏ đánh dấu không có nhu cầu",
        "unit_add" => "Thêm đơn vị",
        "unit_edit" => "Sửa đơn vị",
        "release_reply" => "Cho gửi thư trả lời",
        "paper_receive" => "Ghi nhận bản giấy",
        "paper_undo" => "Huỷ ghi nhận bản giấy",
        "download_raw" => "Tải thư gốc",
        "download_attachment" => "Tải tệp đính kèm",
        "download_report" => "Tải báo cáo",
        "staff_add" => "Thêm tài khoản",
        "staff_remove" => "Xoá tài khoản",
        _ => "Khác",
    }
}

/// The large verdict of the paper desk, and its tone (`ok` or `bad`).
pub fn verdict_title(v: &Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Match => ("Khớp", "ok"),
        Verdict::Unchecked => ("Đã ghi nhận, chưa đối chiếu mã", "ok"),
        Verdict::WrongRows { .. } => ("Không khớp số dòng", "bad"),
        Verdict::OlderVersion { .. } => ("Bản giấy của danh sách cũ", "bad"),
        Verdict::Mismatch => ("Không khớp mã", "bad"),
        Verdict::NoList => ("Chưa có danh sách điện tử", "bad"),
        Verdict::Typo => ("Mã gõ sai", "bad"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_held_note_the_pipeline_writes_reads_in_vietnamese() {
        let r = held_reason("sender a@gmail.com is not registered and not on an official domain");
        assert!(r.starts_with("Người gửi a@gmail.com chưa đăng ký"), "{r}");
        let r = held_reason(
            "sender b@namdinh.edu.vn is not registered and no registered unit could be inferred",
        );
        assert!(r.contains("không xác định được đơn vị"), "{r}");
        let r =
            held_reason("revocation requested from unregistered address c@x.vn for unit THPT-A");
        assert!(
            r.contains("c@x.vn") && r.ends_with("cần xác minh trước khi xử lý."),
            "{r}"
        );
        assert!(held_reason("too large to read: 3 bytes").starts_with("Thư quá lớn"));
        assert!(held_reason("unreadable mail: no header").contains("no header"));
        assert!(held_reason("something new").contains("something new"));
        let r = held_reason(
            "rows held for staff from unverified address x@namdinh.edu.vn for unit THPT-GT: \
             row 3: unverified key_recovery; row 4: unverified email change",
        );
        assert!(
            r.contains("x@namdinh.edu.vn") && r.contains("THPT-GT"),
            "{r}"
        );
        assert!(
            r.contains("dòng 3: Khôi phục") || r.contains("dòng 3:"),
            "{r}"
        );
        assert!(r.contains("dòng 4: email khác"), "{r}");
        let r = held_reason(
            "rows held for staff from registered address a@namdinh.edu.vn for unit THPT-A: \
             row 5: revoke of a person of unit THPT-B",
        );
        assert!(r.contains("thuộc đơn vị THPT-B"), "{r}");
        let r = held_reason(
            "rows held for staff from unverified address x@namdinh.edu.vn for unit THPT-GT: \
             row 3: unverified revoke; 5 more rows",
        );
        assert!(
            r.contains("dòng 3: Thu hồi chứng thư số") && r.contains("và 5 dòng khác"),
            "{r}"
        );
        assert!(
            held_reason("the From header is not exactly one plain address (x)").contains("From")
        );
        assert!(held_reply_reason("loop: the mail answers").starts_with("Giữ lại"));
        assert_eq!(held_reply_reason("550 refused"), "550 refused");
    }
}
