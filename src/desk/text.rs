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
        return "Thư quá lớn nên không đọc tệp đính kèm; chỉ giữ phần tiêu đề.".into();
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
        _ => "Thư trả lời",
    }
}

/// A staff action in the audit log.
pub fn action(code: &str) -> &'static str {
    match code {
        "login" => "Đăng nhập",
        "logout" => "Đăng xuất",
        "ignore_mail" => "Bỏ qua thư",
        "release_reply" => "Cho gửi thư trả lời",
        "paper_receive" => "Ghi nhận bản giấy",
        "paper_undo" => "Hủy ghi nhận bản giấy",
        "download_raw" => "Tải thư gốc",
        "download_attachment" => "Tải tệp đính kèm",
        "download_report" => "Tải báo cáo",
        "staff_add" => "Thêm tài khoản",
        "staff_remove" => "Xóa tài khoản",
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
