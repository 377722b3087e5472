//! The Vietnamese text of every reply a school reads, in one place.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::pipeline::Outcome;
use crate::schema::RequestType;
use crate::validate::{RowProblem, Severity, ValidRow};

use super::Answered;

/// "14:05 ngày 03/12/2022", in the campaign's time zone.
pub fn local_time(t: DateTime<Utc>, config: &Config) -> String {
    t.with_timezone(&config.campaign.deadline.timezone())
        .format("%H:%M ngày %d/%m/%Y")
        .to_string()
}

fn greeting(outcome: &Outcome) -> String {
    match &outcome.unit {
        Some(u) => format!("Kính gửi: {}\n\n", u.name),
        None => "Kính gửi: Quý đơn vị\n\n".to_string(),
    }
}

fn signature(config: &Config) -> String {
    format!(
        "\n--\n{}\nThư này được hệ thống tiếp nhận danh sách gửi tự động. Nếu cần hỗ trợ, \
         đơn vị vui lòng liên hệ bộ phận phụ trách tại {}.\n",
        config.campaign.department_name, config.campaign.paper_room
    )
}

fn deadline(config: &Config) -> String {
    config
        .campaign
        .deadline
        .format("%H:%M ngày %d/%m/%Y")
        .to_string()
}

fn describe_row(r: &ValidRow) -> String {
    let mut s = format!("{} — {}", r.full_name, r.request_type.label());
    if !r.id_number.is_empty() {
        let _ = write!(s, " — CCCD {}", r.id_number);
    }
    s
}

fn where_(p: &RowProblem) -> String {
    let mut parts = Vec::new();
    if !p.file.is_empty() {
        parts.push(format!("Tệp \"{}\"", p.file));
    }
    if !p.sheet.is_empty() {
        parts.push(format!("trang \"{}\"", p.sheet));
    }
    if p.row > 0 {
        parts.push(format!("dòng {}", p.row));
    }
    if !p.column.is_empty() {
        parts.push(format!("cột \"{}\"", p.column));
    }
    parts.join(", ")
}

fn problem_line(i: usize, p: &RowProblem) -> String {
    let value = if p.value.is_empty() {
        "(để trống)".to_string()
    } else {
        format!("\"{}\"", p.value)
    };
    let at = where_(p);
    if p.row == 0 && p.column.is_empty() {
        format!("{i}. {at}: {}\n", p.message)
    } else {
        format!("{i}. {at}: {value}\n   → {}\n", p.message)
    }
}

fn warnings(outcome: &Outcome) -> String {
    let list: Vec<&RowProblem> = outcome
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .collect();
    if list.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nLƯU Ý (không bắt buộc sửa, đề nghị đơn vị kiểm tra lại):\n");
    for (i, p) in list.iter().enumerate() {
        s.push_str(&problem_line(i + 1, p));
    }
    s
}

fn counts(rows: &[ValidRow]) -> String {
    let c = Outcome::counts(rows);
    let mut s = String::new();
    for (t, n) in RequestType::ALL.iter().zip(c) {
        if n > 0 {
            let _ = writeln!(s, "  - {}: {n}", t.label());
        }
    }
    s
}

/// The acknowledgement of an accepted list.
pub fn ack(outcome: &Outcome, a: Answered, config: &Config) -> String {
    let version = outcome
        .version
        .as_ref()
        .expect("an accepted outcome has a version");
    let mut s = greeting(outcome);
    let _ = writeln!(
        s,
        "Sở đã tiếp nhận danh sách đề nghị của đơn vị gửi lúc {}.",
        local_time(a.received_at, config)
    );
    if let Some(newer) = &version.newer {
        let _ = writeln!(
            s,
            "Lưu ý: Sở đã nhận trước đó một danh sách MỚI HƠN của đơn vị (thư soạn lúc {}, mã \
             đối chiếu {}). Thư này được soạn trước thư đó nên danh sách chỉ được lưu làm bản cũ, \
             KHÔNG thay thế danh sách hiện tại. Nếu đơn vị muốn dùng danh sách này, đề nghị gửi \
             lại thư.",
            local_time(newer.written_at, config),
            newer.code
        );
    } else if outcome.supplement {
        s.push_str("Danh sách được ghi nhận là danh sách BỔ SUNG vào danh sách đã gửi trước.\n");
    } else if version.had_previous {
        s.push_str("Danh sách này THAY THẾ danh sách đơn vị đã gửi trước đó.\n");
    }
    if outcome.late {
        let _ = writeln!(
            s,
            "Lưu ý: danh sách được gửi sau hạn ({}); Sở vẫn tiếp nhận và ghi nhận là nộp muộn.",
            deadline(config)
        );
    }
    if outcome.trust == crate::pipeline::Trust::Unverified {
        let _ = writeln!(
            s,
            "Lưu ý: thư được gửi từ địa chỉ {} chưa đăng ký với Sở; bộ phận phụ trách sẽ kiểm tra lại.",
            a.mail.from.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        s,
        "\n{} gồm {} đề nghị:",
        if version.newer.is_some() {
            "Danh sách trong thư này"
        } else {
            "Danh sách hiện tại của đơn vị"
        },
        version.rows.len()
    );
    s.push_str(&counts(&version.rows));
    s.push_str("\nChi tiết:\n");
    for (i, r) in version.rows.iter().enumerate() {
        let _ = writeln!(s, "  {}. {}", i + 1, describe_row(r));
    }
    let ch = &version.changes;
    if version.had_previous && version.newer.is_none() {
        if ch.is_empty() {
            s.push_str("\nSo với danh sách đã tiếp nhận trước: không có thay đổi.\n");
        } else {
            let _ = writeln!(
                s,
                "\nSo với danh sách đã tiếp nhận trước: thêm {}, bỏ {}, sửa {}.",
                ch.added.len(),
                ch.removed.len(),
                ch.changed.len()
            );
            for r in &ch.added {
                let _ = writeln!(s, "  + Thêm: {}", describe_row(r));
            }
            for r in &ch.removed {
                let _ = writeln!(s, "  - Bỏ: {}", describe_row(r));
            }
            for (old, r) in &ch.changed {
                let fields = crate::dedupe::changed_fields(old, r)
                    .into_iter()
                    .map(|(f, a, b)| {
                        let a = if a.is_empty() {
                            "(trống)".to_string()
                        } else {
                            a
                        };
                        let b = if b.is_empty() {
                            "(trống)".to_string()
                        } else {
                            b
                        };
                        format!("{f}: {a} → {b}")
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(s, "  ~ Sửa: {} ({fields})", describe_row(r));
            }
        }
    }
    s.push_str(&warnings(outcome));
    if let Some(newer) = &version.newer {
        let _ = writeln!(
            s,
            "\nMã đối chiếu của danh sách trong thư này: {}. Bản giấy nộp về {} là bản của danh \
             sách hiện tại (mã {}); nếu đơn vị gửi lại danh sách này, Sở sẽ trả lời kèm mã mới.",
            version.code, config.campaign.paper_room, newer.code
        );
        s.push_str(&signature(config));
        return s;
    }
    let _ = writeln!(
        s,
        "\nMÃ ĐỐI CHIẾU: {}\n\nĐề nghị đơn vị ghi mã đối chiếu này lên bản giấy của danh sách \
         (có chữ ký của thủ trưởng và đóng dấu) và nộp về {} trước {}. Bản giấy phải khớp với \
         danh sách đã gửi qua thư điện tử.",
        version.code,
        config.campaign.paper_room,
        deadline(config)
    );
    s.push_str(&signature(config));
    s
}

/// The header of the column added to the school's file sent back with its errors marked.
pub const ERROR_COLUMN: &str = "Lỗi";

/// Marks a warning (not an error) in that column.
pub const WARNING_PREFIX: &str = "(Lưu ý) ";

/// The name of the school's file sent back annotated: "DS.xlsx" → "DS - đánh dấu lỗi.xlsx".
pub fn annotated_file_name(original: &str) -> String {
    let stem = original
        .rsplit_once('.')
        .map_or(original, |(stem, _)| stem)
        .trim();
    let stem = if stem.is_empty() { "Danh sách" } else { stem };
    format!("{stem} - đánh dấu lỗi.xlsx")
}

/// The name of the blank template attached to the reply to a mail without a list.
pub const TEMPLATE_FILE_NAME: &str = "Mẫu danh sách đề nghị.xlsx";

/// The most problems an error reply lists one by one (the rest are counted): a list with
/// thousands of errors still gets a reply a school can read, of a bounded size.
pub const MAX_LISTED_PROBLEMS: usize = 300;

/// The reply to a list with errors: every problem, where it is and how to fix it; `annotated`
/// names the school's files sent back with their errors marked.
pub fn errors(outcome: &Outcome, a: Answered, config: &Config, annotated: &[String]) -> String {
    let mut s = greeting(outcome);
    let errors: Vec<&RowProblem> = outcome
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    let accepted = outcome.version.is_some();
    if accepted {
        let _ = writeln!(
            s,
            "Sở đã tiếp nhận các dòng hợp lệ trong danh sách gửi lúc {}, nhưng còn {} lỗi cần sửa \
             ở các dòng dưới đây. Đơn vị vui lòng sửa và gửi lại toàn bộ danh sách.",
            local_time(a.received_at, config),
            errors.len()
        );
    } else {
        let _ = writeln!(
            s,
            "Danh sách đơn vị gửi lúc {} CHƯA được tiếp nhận vì có {} lỗi. Đơn vị vui lòng sửa các \
             lỗi dưới đây rồi gửi lại TOÀN BỘ danh sách (không gửi riêng các dòng đã sửa), để bản \
             giấy và bản điện tử khớp nhau.",
            local_time(a.received_at, config),
            errors.len()
        );
    }
    s.push_str("\nCÁC LỖI CẦN SỬA:\n");
    for (i, p) in errors.iter().take(MAX_LISTED_PROBLEMS).enumerate() {
        s.push_str(&problem_line(i + 1, p));
    }
    if errors.len() > MAX_LISTED_PROBLEMS {
        let _ = writeln!(
            s,
            "... và {} lỗi khác (xem cột \"{ERROR_COLUMN}\" trong tệp gửi kèm, hoặc sửa các lỗi \
             trên rồi gửi lại để nhận danh sách lỗi còn lại).",
            errors.len() - MAX_LISTED_PROBLEMS
        );
    }
    s.push_str(&warnings(outcome));
    if !outcome.rows.is_empty() && !accepted {
        let _ = writeln!(
            s,
            "\nCác dòng khác ({} dòng) không có lỗi.",
            outcome.rows.len()
        );
    }
    if !annotated.is_empty() {
        let files = annotated
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "\nSở gửi kèm lại tệp của đơn vị ({files}): các ô có lỗi được tô màu đỏ (lưu ý: màu \
             vàng), cột \"{ERROR_COLUMN}\" ở cuối bảng ghi lỗi của từng dòng. Đơn vị có thể sửa \
             ngay trên tệp này, xoá cột \"{ERROR_COLUMN}\" rồi gửi lại."
        );
    }
    let _ = writeln!(s, "\nHạn gửi danh sách: {}.", deadline(config));
    s.push_str(&signature(config));
    s
}

/// The reply to a mail with no list attached; `template_attached` when the blank template goes
/// with it.
pub fn no_list(outcome: &Outcome, a: Answered, config: &Config, template_attached: bool) -> String {
    let mut s = greeting(outcome);
    let _ = writeln!(
        s,
        "Sở đã nhận thư của đơn vị gửi lúc {} nhưng thư không kèm danh sách đề nghị.\n\n\
         Đơn vị vui lòng gửi lại thư có đính kèm danh sách theo mẫu, dạng bảng tính Excel \
         (.xlsx hoặc .xls), LibreOffice (.ods) hoặc .csv; có thể nén nhiều tệp trong một tệp .zip. \
         Không gửi ảnh chụp, PDF hay Word.\n\n\
         Danh sách cần có các cột: STT, Họ và tên, Ngày sinh, Số CCCD, Chức vụ, Email công vụ, \
         Số điện thoại di động, Nội dung đề nghị (và Số hiệu chứng thư số, Lý do khi loại đề nghị \
         yêu cầu).\n\nHạn gửi danh sách: {}.",
        local_time(a.received_at, config),
        deadline(config)
    );
    if template_attached {
        let _ = writeln!(
            s,
            "\nMẫu danh sách trống được gửi kèm thư này (tệp \"{TEMPLATE_FILE_NAME}\"); trang \
             \"Hướng dẫn\" trong tệp giải thích cách điền từng cột."
        );
    }
    s.push_str(&signature(config));
    s
}

/// The short note to a sender whose mail is held for staff.
pub fn held(outcome: &Outcome, a: Answered, config: &Config) -> String {
    let mut s = greeting(outcome);
    let _ = writeln!(
        s,
        "Sở đã nhận thư gửi lúc {}. Vì thư được gửi từ địa chỉ chưa đăng ký với Sở ({}), \
         bộ phận phụ trách sẽ kiểm tra trước khi tiếp nhận. Để được tiếp nhận ngay, đơn vị vui lòng \
         gửi danh sách từ địa chỉ thư công vụ đã đăng ký của đơn vị.",
        local_time(a.received_at, config),
        a.mail.from.as_deref().unwrap_or("")
    );
    s.push_str(&signature(config));
    s
}
