//! The cover sheet's cost (not a test): renders the PDF "Phiếu đối chiếu" of a 40-row list N
//! times and prints its size and the time per sheet (the first one apart: it parses the fonts).
//!
//! Usage: `cargo run --release --example bench_cover [N] [OUT.pdf]` (default 2000); OUT.pdf
//! keeps one sheet to look at.

use std::time::Instant;

use cts_intake::reply::cover::{CoverSheet, render};
use cts_intake::schema::RequestType;
use cts_intake::validate::{RowSource, ValidRow};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    let out = args.next();
    let rows: Vec<ValidRow> = (0..40)
        .map(|i| ValidRow {
            request_type: RequestType::ALL[i % 3],
            full_name: format!("Phạm Thị Phương Thảo {i}"),
            birth_date: None,
            id_number: format!("036185000{i:03}"),
            id_issue_date: None,
            id_issue_place: String::new(),
            position: String::new(),
            unit_name: String::new(),
            email: String::new(),
            phone: String::new(),
            cert_serial: String::new(),
            change_detail: String::new(),
            reason: String::new(),
            note: String::new(),
            source: RowSource::default(),
        })
        .collect();
    let sheet = CoverSheet {
        department: "Sở Giáo dục và Đào tạo Nam Định",
        title: "DANH SÁCH ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ DỊCH VỤ CHỨNG THƯ SỐ NĂM 2022",
        unit_code: "THPT-LHP",
        unit_name: "Trường THPT chuyên Lê Hồng Phong",
        received: "15:40 ngày 08/12/2022",
        code: "2KG6690H",
        rows: &rows,
        paper_room: "Phòng 401, Sở Giáo dục và Đào tạo",
        deadline: "23:59 ngày 17/12/2022",
    };
    let start = Instant::now();
    let first = render(&sheet)?;
    let cold = start.elapsed();
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += render(&sheet)?.len();
    }
    let warm = start.elapsed();
    println!(
        "cover sheet: {} bytes; first {:.2} ms (fonts parsed); then {:.3} ms per sheet over {n} ({} bytes each)",
        first.len(),
        cold.as_secs_f64() * 1e3,
        warm.as_secs_f64() * 1e3 / n as f64,
        bytes / n.max(1)
    );
    if let Some(out) = out {
        std::fs::write(out, &first)?;
    }
    Ok(())
}
