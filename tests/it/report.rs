//! The reconciliation end to end: a campaign of 100 units through the built binary (`run --once`
//! on a generated Maildir), paper receipts, reminders, then the workbook read back with calamine,
//! the HTML page and the CSVs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::{FixedOffset, NaiveDate, TimeZone};
use cts_testkit::{
    Attachment, CellValue, ListSheet, MailSpec, MaildirMail, canonical_headers, eml, write_maildir,
    xlsx,
};

use crate::support::{csv_rows, cts, read};

const UNITS: usize = 100;
const HYPERLINK: &str = "=HYPERLINK(\"http://x\",\"y\")";

fn code(i: usize) -> String {
    format!("DV{i:03}")
}

fn address(i: usize) -> String {
    format!("c3dv{i:03}@namdinh.edu.vn")
}

/// The part each unit plays in the campaign.
fn role(i: usize) -> &'static str {
    match i {
        1..=10 => "silent",
        11..=20 => "rejected_then_corrected",
        21..=25 => "rejected",
        26..=30 => "late",
        31..=33 => "unverified",
        34 => "two_versions",
        40 | 41 => "shares_a_person",
        50 => "hyperlink_unit_name",
        51 => "hyperlink_full_name",
        _ => "accepted",
    }
}

/// A valid row (TEMPLATE.md's canonical columns) for person `k` of unit `i`.
fn row(i: usize, k: usize) -> Vec<CellValue> {
    let families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"];
    let middles = ["Văn", "Thị", "Minh", "Đức", "Thu"];
    let givens = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Mai"];
    let name = format!(
        "{} {} {}",
        families[(i + k) % 5],
        middles[k % 5],
        givens[(i * 3 + k) % 8]
    );
    let yy = 70 + (i + k) % 25;
    let id = format!("0360{yy:02}{:06}", i * 100 + k);
    let birth = NaiveDate::from_ymd_opt(1900 + yy as i32, 1 + (k % 12) as u32, 1 + (i % 28) as u32)
        .unwrap();
    person(&name, &id, birth, k % 3, "")
}

/// A row in canonical column order: request 0 new mailbox, 1 new certificate, 2 renewal.
fn person(name: &str, id: &str, birth: NaiveDate, request: usize, unit: &str) -> Vec<CellValue> {
    let (request, email, serial) = match request {
        0 => ("Cấp mới hòm thư công vụ", String::new(), ""),
        1 => ("Cấp mới chứng thư số", format!("gv{id}@namdinh.edu.vn"), ""),
        _ => (
            "Gia hạn chứng thư số",
            format!("gv{id}@namdinh.edu.vn"),
            "540101AB12CD34EF",
        ),
    };
    vec![
        CellValue::Number(1.0),
        name.into(),
        CellValue::Date(birth),
        id.into(),
        "".into(),
        "".into(),
        "Giáo viên".into(),
        unit.into(),
        email.into(),
        "0912345678".into(),
        request.into(),
        serial.into(),
        "".into(),
        "".into(),
        "".into(),
    ]
}

/// The person both DV040 and DV041 list.
fn shared_person() -> Vec<CellValue> {
    person(
        "Phạm Thị Chung",
        "036085999999",
        NaiveDate::from_ymd_opt(1985, 5, 5).unwrap(),
        1,
        "",
    )
}

fn list(rows: Vec<Vec<CellValue>>) -> Vec<u8> {
    xlsx(&[ListSheet {
        name: "Danh sách".into(),
        title_rows: vec!["DANH SÁCH ĐỀ NGHỊ".into()],
        headers: canonical_headers(),
        rows,
        footer_rows: vec!["THỦ TRƯỞNG ĐƠN VỊ".into()],
    }])
}

struct Mails {
    out: Vec<MaildirMail>,
    tz: FixedOffset,
}

impl Mails {
    /// A mail with one list, delivered `minutes` after 5 December 2022 08:00 (+07), or on 19
    /// December (after the deadline) when `late`.
    fn push(&mut self, from: &str, subject: &str, rows: Vec<Vec<CellValue>>, late: bool) {
        let n = self.out.len() + 1;
        let day = if late { 19 } else { 5 };
        let date = self.tz.with_ymd_and_hms(2022, 12, day, 8, 0, 0).unwrap()
            + chrono::Duration::minutes(n as i64);
        let spec = MailSpec {
            from: from.into(),
            from_name: String::new(),
            to: "cttt@namdinh.edu.vn".into(),
            subject: subject.into(),
            date,
            message_id: format!("campaign-{n:03}@test"),
            body: "Kính gửi Sở, đơn vị gửi danh sách đề nghị.".into(),
            attachments: vec![Attachment::xlsx("danh-sach.xlsx", list(rows))],
            headers: Vec::new(),
        };
        self.out.push(MaildirMail {
            delivered: date.timestamp(),
            seen: false,
            bytes: eml(&spec),
        });
    }
}

/// A campaign folder: the registry, the Maildir, and the data folder after `run --once`.
struct Campaign {
    _dir: tempfile::TempDir,
    units: PathBuf,
    data: PathBuf,
}

impl Campaign {
    fn run() -> Campaign {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("units.csv");
        let mut registry = String::from("code,name,kind,emails\n");
        for i in 1..=UNITS {
            registry.push_str(&format!(
                "{},Trường THPT Số {i:03},THPT,{}\n",
                code(i),
                address(i)
            ));
        }
        std::fs::write(&units, registry).unwrap();

        let mut m = Mails {
            out: Vec::new(),
            tz: FixedOffset::east_opt(7 * 3600).unwrap(),
        };
        let subject = |i: usize| format!("Danh sách đề nghị cấp CTS - {}", code(i));
        for i in 1..=UNITS {
            let rows: Vec<Vec<CellValue>> = (0..2 + i % 3).map(|k| row(i, k)).collect();
            let mut bad = rows.clone();
            bad[0][9] = "12345".into();
            match role(i) {
                "silent" => {}
                "rejected_then_corrected" => {
                    m.push(&address(i), &subject(i), bad, false);
                    m.push(&address(i), &subject(i), rows, false);
                }
                "rejected" => m.push(&address(i), &subject(i), bad, false),
                "late" => m.push(&address(i), &subject(i), rows, true),
                "unverified" => {
                    let from = format!("vanthu.dv{i:03}@namdinh.edu.vn");
                    m.push(&from, &subject(i), rows, false);
                }
                "two_versions" => {
                    m.push(&address(i), &subject(i), rows[..2].to_vec(), false);
                    m.push(&address(i), &subject(i), rows, false);
                }
                "shares_a_person" => {
                    let mut rows = rows;
                    rows.push(shared_person());
                    m.push(&address(i), &subject(i), rows, false);
                }
                "hyperlink_unit_name" => {
                    let mut rows = rows;
                    rows[0][7] = HYPERLINK.into();
                    m.push(&address(i), &subject(i), rows, false);
                }
                "hyperlink_full_name" => {
                    let mut rows = rows;
                    rows[0][1] = HYPERLINK.into();
                    m.push(&address(i), &subject(i), rows, false);
                }
                _ => m.push(&address(i), &subject(i), rows, false),
            }
        }
        m.push("ai.do.1980@gmail.com", "Danh sách", vec![row(99, 7)], false);
        let maildir = dir.path().join("maildir");
        write_maildir(&maildir, &m.out).unwrap();
        let data = dir.path().join("data");
        let out = cts(&["run", "--once", "--units"])
            .arg(&units)
            .arg("--maildir")
            .arg(&maildir)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Campaign {
            _dir: dir,
            units,
            data,
        }
    }

    /// Runs a command with this campaign's registry and data folder; (exit code, stdout).
    fn cts(&self, args: &[&str]) -> (i32, String) {
        let out = cts(args)
            .arg("--units")
            .arg(&self.units)
            .arg("--data-dir")
            .arg(&self.data)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.code() != Some(1) || !stdout.is_empty(),
            "a failure without an answer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), stdout)
    }

    /// Writes the report into `data/out` and returns that folder.
    fn report(&self) -> PathBuf {
        let out = self.data.join("out");
        let (status, _) = self.cts(&["report", "--out", out.to_str().unwrap()]);
        assert_eq!(status, 0);
        out
    }
}

/// The reconciliation reads its rows and issues from the store as each renderer asks: any
/// window of them (across units, of one request type or two) is that slice of the whole.
fn windows_agree_with_the_whole(c: &Campaign) {
    use cts_intake::report::Window;
    use cts_intake::schema::RequestType;
    let store = cts_intake::store::Store::open(&c.data.join("intake.sqlite3")).unwrap();
    let registry = cts_intake::units::Registry::load(&c.units).unwrap();
    let rec =
        cts_intake::report::reconcile(&store, &registry, FixedOffset::east_opt(7 * 3600).unwrap())
            .unwrap();
    let requests = |only: &[RequestType], w: Window| {
        let mut seen = Vec::new();
        rec.each_request(only, w, &mut |i, l| {
            seen.push((
                i,
                l.unit_code.clone(),
                l.row.id_number.clone(),
                l.row.request_type,
            ));
            Ok(())
        })
        .unwrap();
        seen
    };
    let all = requests(&[], Window::ALL);
    assert_eq!(all.len(), rec.request_count());
    assert!(all.len() > 100, "{} rows", all.len());
    assert!(all.iter().enumerate().all(|(k, (i, ..))| k == *i));
    for (skip, take) in [
        (0, 1),
        (7, 30),
        (95, 200),
        (all.len() - 3, 10),
        (all.len(), 5),
    ] {
        let end = (skip + take).min(all.len());
        assert_eq!(
            requests(&[], Window { skip, take }),
            all[skip..end],
            "{skip}+{take}"
        );
    }
    let certs = [RequestType::NewCert, RequestType::Reissue];
    let of_certs = requests(&certs, Window::ALL);
    let expected: Vec<_> = all
        .iter()
        .filter(|(_, _, _, t)| certs.contains(t))
        .enumerate()
        .map(|(i, (_, unit, id, t))| (i, unit.clone(), id.clone(), *t))
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    assert_eq!(of_certs, expected, "numbered among the rows of those types");
    assert_eq!(
        requests(&certs, Window { skip: 5, take: 9 }),
        of_certs[5..14.min(of_certs.len())]
    );
    let mut issues = Vec::new();
    rec.each_issue(Window::ALL, &mut |i| {
        issues.push(format!("{:?} {} {}", i.kind, i.subject, i.detail));
        Ok(())
    })
    .unwrap();
    assert_eq!(issues.len(), rec.issue_count());
    for (skip, take) in [(0, 2), (1, 3), (issues.len().saturating_sub(2), 5)] {
        let mut part = Vec::new();
        rec.each_issue(Window { skip, take }, &mut |i| {
            part.push(format!("{:?} {} {}", i.kind, i.subject, i.detail));
            Ok(())
        })
        .unwrap();
        let end = (skip + take).min(issues.len());
        assert_eq!(part, issues[skip..end], "issues {skip}+{take}");
    }
}

/// units.csv as maps from header to field, by unit code.
fn units_csv(dir: &Path) -> HashMap<String, HashMap<String, String>> {
    let rows = csv_rows(&dir.join("units.csv"));
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|r| {
            let m: HashMap<String, String> =
                header.iter().cloned().zip(r.iter().cloned()).collect();
            (m["unit_code"].clone(), m)
        })
        .collect()
}

fn workbook(dir: &Path) -> Xlsx<std::io::BufReader<std::fs::File>> {
    open_workbook(dir.join("doi-chieu.xlsx")).unwrap()
}

/// A sheet as the strings a reader sees (numbers as Rust prints them: 2, not 2.0).
fn sheet(wb: &mut Xlsx<std::io::BufReader<std::fs::File>>, name: &str) -> Vec<Vec<String>> {
    let range = wb.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The row of a unit in a sheet whose first column is the unit code.
fn line<'a>(rows: &'a [Vec<String>], unit: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == unit)
        .unwrap_or_else(|| panic!("no line for {unit}"))
}

fn col(rows: &[Vec<String>], header: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no column {header}: {:?}", rows[0]))
}

/// The HTML page's tables, by section id: rows of unescaped cell texts (header row first).
fn html_tables(html: &str) -> HashMap<String, Vec<Vec<String>>> {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    let mut out = HashMap::new();
    for section in html.split("<section data-sheet=\"").skip(1) {
        let id = unescape(&section[..section.find('"').unwrap()]);
        let rows: Vec<Vec<String>> = section
            .split("<tr>")
            .skip(1)
            .map(|tr| {
                let tr = &tr[..tr.find("</tr>").unwrap()];
                tr.split("</t")
                    .filter_map(|c| c.rfind('>').map(|i| unescape(&c[i + 1..])))
                    .collect::<Vec<_>>()
            })
            .map(|mut r: Vec<String>| {
                // The text after the last closing tag is empty.
                if r.last().is_some_and(|s| s.is_empty()) {
                    r.pop();
                }
                r
            })
            .collect();
        out.insert(id, rows);
    }
    out
}

#[test]
fn a_campaign_of_100_units_gives_a_workbook_an_html_page_and_csvs_that_agree() {
    let c = Campaign::run();
    // A reply the outbox gave up on (the SMTP sender marks them so).
    let store = cts_intake::store::Store::open(&c.data.join("intake.sqlite3")).unwrap();
    store
        .conn()
        .execute(
            "UPDATE outbox SET status = 'failed', attempts = 5, last_error = '550 mailbox full' \
             WHERE id = (SELECT max(id) FROM outbox WHERE kind = 'ack')",
            [],
        )
        .unwrap();
    drop(store);
    let out = c.report();
    windows_agree_with_the_whole(&c);
    let units = units_csv(&out);
    assert_eq!(units.len(), UNITS, "one line per registered unit");
    let status = |u: usize| units[&code(u)]["status"].clone();
    assert_eq!(status(1), "not_submitted");
    assert_eq!(status(11), "accepted", "corrected after a rejection");
    assert_eq!(units[&code(11)]["submissions"], "2");
    assert_eq!(units[&code(11)]["versions"], "1");
    assert_eq!(status(21), "rejected");
    assert_eq!(units[&code(26)]["late"], "true");
    assert_eq!(units[&code(60)]["late"], "false");
    assert_eq!(units[&code(31)]["unverified_sender"], "true");
    assert_eq!(units[&code(34)]["versions"], "2");
    let count = |s: &str| units.values().filter(|u| u["status"] == s).count();
    assert_eq!(count("not_submitted"), 10);
    assert_eq!(count("rejected"), 6, "DV021-DV025 and the =HYPERLINK name");
    assert_eq!(count("accepted"), 84);

    let requests = csv_rows(&out.join("requests.csv"));
    let total_rows = requests.len() - 1;
    let csv_rows_sum: usize = units
        .values()
        .map(|u| u["rows"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(total_rows, csv_rows_sum);

    let mut wb = workbook(&out);
    assert_eq!(
        wb.sheet_names(),
        [
            "Tổng quan",
            "Tổng hợp",
            "Chưa gửi",
            "Chi tiết",
            "Cấp mới hòm thư",
            "Cấp mới CTS",
            "Cấp lại CTS",
            "Khôi phục khoá",
            "Thu hồi CTS",
            "Gia hạn CTS",
            "Thay đổi CTS",
            "Cần xử lý"
        ]
    );
    let summary = sheet(&mut wb, "Tổng hợp");
    assert_eq!(summary.len(), UNITS + 1, "a header and one line per unit");
    let status_col = col(&summary, "Trạng thái");
    assert_eq!(line(&summary, "DV001")[status_col], "Chưa gửi");
    assert_eq!(line(&summary, "DV011")[status_col], "Đã tiếp nhận");
    assert_eq!(line(&summary, "DV011")[col(&summary, "Số lần gửi")], "2");
    assert_eq!(line(&summary, "DV021")[status_col], "Cần sửa");
    assert_eq!(line(&summary, "DV026")[col(&summary, "Nộp muộn")], "Muộn");
    assert_eq!(
        line(&summary, "DV031")[col(&summary, "Người gửi chưa xác minh")],
        "Chưa xác minh"
    );
    assert_eq!(line(&summary, "DV034")[col(&summary, "Số phiên bản")], "2");
    for (u, fields) in &units {
        let l = line(&summary, u);
        assert_eq!(
            l[col(&summary, "Mã đối chiếu")],
            fields["reconciliation_code"]
        );
        assert_eq!(l[col(&summary, "Số đề nghị")], fields["rows"]);
        assert_eq!(l[col(&summary, "Cấp mới chứng thư số")], fields["new_cert"]);
        assert_eq!(l[col(&summary, "Gia hạn chứng thư số")], fields["renew"]);
    }
    assert!(
        line(&summary, "DV040")[col(&summary, "Ghi chú")].contains("DV041"),
        "the note names the other unit"
    );

    let not_submitted = sheet(&mut wb, "Chưa gửi");
    assert_eq!(not_submitted.len(), 1 + 10 + 6);
    assert_eq!(
        line(&not_submitted, "DV005")[col(&not_submitted, "Địa chỉ thư đã đăng ký")],
        "c3dv005@namdinh.edu.vn"
    );

    let detail = sheet(&mut wb, "Chi tiết");
    assert_eq!(detail.len(), 1 + total_rows);
    let d = line(&detail, "DV060");
    assert_eq!(
        d[col(&detail, "Số CCCD")].len(),
        12,
        "IDs keep their leading zero"
    );
    assert!(d[col(&detail, "Số CCCD")].starts_with('0'));
    assert_eq!(d[col(&detail, "Tệp nguồn")], "danh-sach.xlsx");
    assert_eq!(d[col(&detail, "Trang")], "Danh sách");
    assert_eq!(
        d[col(&detail, "Dòng")],
        "3",
        "the first row under a title and a header"
    );
    assert!(d[col(&detail, "Ngày gửi thư")].starts_with("05/12/2022"));

    // The consolidated lists add up to the detail, type by type.
    let mut by_type = 0;
    for (name, field) in [
        ("Cấp mới hòm thư", "new_mailbox"),
        ("Cấp mới CTS", "new_cert"),
        ("Gia hạn CTS", "renew"),
        ("Thu hồi CTS", "revoke"),
    ] {
        let s = sheet(&mut wb, name);
        let want: usize = units
            .values()
            .map(|u| u[field].parse::<usize>().unwrap())
            .sum();
        assert_eq!(s.len() - 1, want, "{name}");
        by_type += want;
        assert_eq!(s[0][0], "STT");
    }
    assert_eq!(by_type, total_rows);
    let mailbox = sheet(&mut wb, "Cấp mới hòm thư");
    assert!(
        !mailbox[0].contains(&"Email công vụ".to_string()),
        "a new mailbox has no email yet"
    );

    let issues = sheet(&mut wb, "Cần xử lý");
    let kind = |k: &str| issues.iter().filter(|r| r[0] == k).count();
    assert_eq!(kind("Thư chờ xử lý"), 1, "the Gmail sender");
    assert_eq!(kind("Danh sách chờ đơn vị sửa"), 6);
    assert_eq!(kind("Một người ở hai đơn vị"), 1);
    let failed = issues
        .iter()
        .find(|r| r[0] == "Thư trả lời không gửi được")
        .expect("the failed reply is listed");
    assert!(failed[5].contains("550 mailbox full"), "{failed:?}");
    assert!(failed[1].starts_with("DV"), "the unit of the mail answered");
    let same = issues
        .iter()
        .find(|r| r[0] == "Một người ở hai đơn vị")
        .unwrap();
    assert_eq!(same[1], "DV040, DV041");
    assert!(same[4].contains("036085999999"));

    // The HTML page shows the same tables, cell for cell.
    let html = read(&out.join("doi-chieu.html"));
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    let tables = html_tables(&html);
    for name in wb.sheet_names().into_iter().filter(|n| n != "Tổng quan") {
        let in_xlsx = sheet(&mut wb, &name);
        let in_html = &tables[&name];
        if in_xlsx.len() == 1 {
            assert!(
                in_html.is_empty(),
                "{name}: an empty sheet is said, not drawn"
            );
            continue;
        }
        assert_eq!(in_html.len(), in_xlsx.len(), "{name}");
        for (a, b) in in_xlsx.iter().zip(in_html) {
            let b: Vec<String> = b
                .iter()
                .cloned()
                .chain(std::iter::repeat(String::new()))
                .take(a.len())
                .collect();
            assert_eq!(a, &b, "{name}");
        }
    }
    let overview = &tables["tong-quan"];
    let figure = |label: &str| {
        overview
            .iter()
            .find(|r| r[0] == label)
            .map(|r| r[1].clone())
            .unwrap()
    };
    assert_eq!(figure("Số đơn vị"), "100");
    assert_eq!(figure("Đã tiếp nhận"), "84");
    assert_eq!(figure("Tổng số đề nghị"), total_rows.to_string());
    // "Chờ xử lý" counts the held mails, those of no known unit too.
    let mails = csv_rows(&out.join("mails.csv"));
    let held = mails[1..].iter().filter(|m| m[5] == "held").count();
    assert!(held > 0, "the campaign holds mails");
    assert_eq!(figure("Chờ xử lý"), held.to_string());
    assert_eq!(mails[0].last().map(String::as_str), Some("reply_status"));
}

#[test]
fn a_formula_in_a_school_cell_is_text_in_every_output() {
    let c = Campaign::run();
    let out = c.report();

    // The workbook: a string cell, no formula anywhere.
    let mut wb = workbook(&out);
    for name in wb.sheet_names() {
        let formulas = wb.worksheet_formula(&name).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{name} holds a formula"
        );
    }
    let detail = wb.worksheet_range("Chi tiết").unwrap();
    assert!(
        detail
            .used_cells()
            .any(|(_, _, v)| *v == Data::String(HYPERLINK.into())),
        "the unit name cell reads back as the school wrote it"
    );
    let raw = std::fs::read(out.join("doi-chieu.xlsx")).unwrap();
    let sheets = unzip_text(&raw);
    assert!(!sheets.contains("<f>"), "no formula element in any sheet");
    assert!(
        sheets.contains("quotePrefix=\"1\""),
        "the risky cells are quote-prefixed"
    );

    // The CSVs: a leading quote.
    let requests = read(&out.join("requests.csv"));
    assert!(
        requests.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "{requests}"
    );
    assert!(!requests.contains(",\"=HYPERLINK"));
    let problems = read(&out.join("problems.csv"));
    assert!(
        problems.contains("'=HYPERLINK"),
        "the rejected name cell, in the problems"
    );
    assert!(!problems.contains(",\"=HYPERLINK"));

    // The HTML page: escaped text, no link.
    let html = read(&out.join("doi-chieu.html"));
    assert!(html.contains("=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)"));
    assert!(!html.contains("http://x\""));
}

/// The worksheets and styles of an xlsx, as one text (they are stored uncompressed or deflated;
/// calamine's zip dependency reads them).
fn unzip_text(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        if name.starts_with("xl/worksheets/") || name == "xl/styles.xml" {
            std::io::Read::read_to_string(&mut f, &mut out).unwrap();
        }
    }
    out
}

#[test]
fn paper_receipts_answer_in_one_line_and_show_in_the_report() {
    let c = Campaign::run();
    let out = c.report();
    let units = units_csv(&out);
    let current = |u: &str| units[u]["reconciliation_code"].clone();
    let rows = |u: &str| units[u]["rows"].clone();
    let store = cts_intake::store::Store::open(&c.data.join("intake.sqlite3")).unwrap();
    let versions = cts_intake::store::paper::versions(store.conn()).unwrap();
    drop(store);
    let first_of_34 = versions
        .iter()
        .find(|v| v.unit_code == "DV034" && v.number == 1)
        .unwrap()
        .code
        .clone();

    // A matching code and row count, typed in lower case with a dash.
    let typed = format!("{}-{}", &current("DV035")[..4], &current("DV035")[4..]).to_lowercase();
    let (status, answer) = c.cts(&[
        "paper",
        "receive",
        "DV035",
        "--code",
        &typed,
        "--rows",
        &rows("DV035"),
    ]);
    assert_eq!(status, 0, "{answer}");
    assert_eq!(answer.lines().count(), 1);
    assert!(answer.starts_with("KHỚP — DV035"), "{answer}");

    // The code of the version the unit replaced.
    let (status, answer) = c.cts(&["paper", "receive", "DV034", "--code", &first_of_34]);
    assert_eq!(status, 1);
    assert!(answer.starts_with("KHÔNG KHỚP — DV034"), "{answer}");
    assert!(
        answer.contains("lần 1") && answer.contains(&current("DV034")),
        "{answer}"
    );

    // The right code, the wrong row count.
    let (status, answer) = c.cts(&[
        "paper",
        "receive",
        "DV036",
        "--code",
        &current("DV036"),
        "--rows",
        "99",
    ]);
    assert_eq!(status, 1);
    assert!(answer.contains("99 dòng"), "{answer}");

    // A code of nothing the unit sent.
    let (status, answer) = c.cts(&["paper", "receive", "DV038", "--code", "ZZZZZZZZ"]);
    assert_eq!(status, 1);
    assert!(answer.contains("không phải mã"), "{answer}");

    // An unknown unit: answered, not recorded.
    let (status, answer) = c.cts(&["paper", "receive", "KHONG-CO", "--code", "ABCDEFGH"]);
    assert_eq!(status, 1);
    assert!(answer.starts_with("KHÔNG RÕ ĐƠN VỊ"), "{answer}");

    // A receipt recorded by mistake, then undone.
    let (status, _) = c.cts(&[
        "paper",
        "receive",
        "DV037",
        "--code",
        &current("DV037"),
        "--note",
        "nhầm đơn vị",
    ]);
    assert_eq!(status, 0);
    let (status, answer) = c.cts(&["paper", "undo", "DV037"]);
    assert_eq!(status, 0);
    assert!(answer.starts_with("ĐÃ HUỶ"), "{answer}");
    let (status, _) = c.cts(&["paper", "undo", "DV037"]);
    assert_eq!(status, 1, "nothing left to undo");

    let (_, list) = c.cts(&["paper", "list"]);
    assert_eq!(
        list.lines().count(),
        5,
        "every receipt is kept, the undone one too:\n{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("DV037") && l.contains("đã huỷ lúc"))
    );

    let out = c.report();
    let units = units_csv(&out);
    let state = |u: &str| units[u]["paper_state"].clone();
    assert_eq!(state("DV035"), "match");
    assert_eq!(state("DV034"), "older_version");
    assert_eq!(state("DV036"), "wrong_rows");
    assert_eq!(state("DV038"), "mismatch");
    assert_eq!(state("DV037"), "", "an undone receipt does not count");
    assert!(!units["DV035"]["paper_received_at"].is_empty());
    assert!(units["DV037"]["paper_received_at"].is_empty());
    let mut wb = workbook(&out);
    let summary = sheet(&mut wb, "Tổng hợp");
    let paper = col(&summary, "Đối chiếu bản giấy");
    assert_eq!(line(&summary, "DV035")[paper], "Khớp");
    assert!(line(&summary, "DV034")[paper].starts_with("Của danh sách cũ (lần 1"));
    assert!(line(&summary, "DV036")[paper].contains("bản giấy 99"));
    assert!(!line(&summary, "DV035")[col(&summary, "Bản giấy nhận ngày")].is_empty());
}

#[test]
fn remind_writes_once_a_day_to_units_missing_a_list_or_a_paper() {
    let c = Campaign::run();
    let (_, answer) = c.cts(&["paper", "receive", "DV060", "--code", "x"]);
    assert!(answer.starts_with("KHÔNG KHỚP"));
    let outbox = c.data.join("outbox");
    let count = || std::fs::read_dir(&outbox).unwrap().count();
    let replies = count();

    let (status, answer) = c.cts(&["remind", "--today", "2022-12-01"]);
    assert_eq!(status, 0);
    assert!(answer.starts_with("Chưa đến lúc nhắc"), "{answer}");
    assert_eq!(count(), replies);

    let (status, answer) = c.cts(&["remind", "--today", "2022-12-15"]);
    assert_eq!(status, 0);
    // Every unit: 16 without an accepted list, 84 with a list and no matching paper.
    assert_eq!(
        answer
            .lines()
            .filter(|l| l.starts_with("Đã nhắc —"))
            .count(),
        UNITS
    );
    assert_eq!(count(), replies + UNITS, "delivered as .eml files");
    let (_, again) = c.cts(&["remind", "--today", "2022-12-15"]);
    assert_eq!(
        again.lines().filter(|l| l.starts_with("Đã nhắc —")).count(),
        0
    );
    assert_eq!(count(), replies + UNITS, "never twice the same day");

    let reminder = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| std::fs::read(p).unwrap())
        .map(|b| crate::support::reply_summary(&b))
        .find(|s| s.contains("To: c3dv060@"))
        .unwrap();
    assert!(
        reminder.contains("Auto-Submitted: auto-generated"),
        "{reminder}"
    );
    assert!(
        reminder.contains("bản giấy đơn vị đã nộp chưa khớp"),
        "{reminder}"
    );
    assert!(
        reminder.contains("Kính gửi: Trường THPT Số 060"),
        "{reminder}"
    );
}
