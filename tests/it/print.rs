//! What staff print, printed: the workbook through LibreOffice and the HTML page through
//! chromium, both to PDF, then the PDF's words measured with poppler's `pdftotext -bbox`: A4
//! landscape pages, type at 9 pt or more, and at least 20 detail rows on a printed HTML page.
//! One conversion per tool (a small workbook and a 900-row one in one LibreOffice run).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{FixedOffset, NaiveDate, TimeZone, Utc};
use cts_intake::domain::{OutcomeKind, ReplyKind, Trust};
use cts_intake::report::{
    Held, Issue, IssueKind, Reconciliation, RequestLine, Settings, UnitLine, UnitStatus,
};
use cts_intake::schema::RequestType;
use cts_intake::store::query::MailLine;
use cts_intake::validate::{RowSource, ValidRow};

/// A tool the test needs, or a failure saying how to install it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is missing: install it with `apt-get install {package}` (scripts/test does)");
}

const LONG_DETAIL: &str = "Thư trả lời không gửi được sau 5 lần thử: máy chủ thư của đơn vị \
     từ chối vì hộp thư đã đầy, cần gọi điện cho đơn vị để báo và đề nghị dọn hộp thư rồi gửi \
     lại danh sách trước khi tổng hợp gửi Ban Cơ yếu; KETTHUCCHITIET";

/// A campaign of `units` units of `per_unit` rows each, with issues whose text is long.
fn campaign(n_units: usize, per_unit: usize) -> Reconciliation<'static> {
    let tz = FixedOffset::east_opt(7 * 3600).unwrap();
    let mut settings = Settings::new(tz);
    settings.department = "Sở Giáo dục và Đào tạo Nam Định".into();
    settings.title = "DANH SÁCH ĐỀ NGHỊ CẤP HÒM THƯ CÔNG VỤ VÀ DỊCH VỤ CHỨNG THƯ SỐ".into();
    settings.deadline = Some(tz.with_ymd_and_hms(2022, 12, 17, 23, 59, 0).unwrap());
    let mut units = Vec::new();
    let mut held = Held::default();
    for u in 0..n_units {
        let code = format!("DV{:03}", u + 1);
        let name = format!("Trường Trung học phổ thông Nguyễn Văn Cừ số {}", u + 1);
        let mut counts = [0; 7];
        for i in 0..per_unit {
            let t = RequestType::ALL[i % 7];
            counts[i % 7] += 1;
            held.requests.push(RequestLine {
                unit_code: code.clone(),
                row: ValidRow {
                    request_type: t,
                    full_name: format!("Phạm Thị Phương Thảo {}", i + 1),
                    birth_date: NaiveDate::from_ymd_opt(1985, 3, 5),
                    id_number: format!("0361850{:02}{:03}", u % 100, i),
                    id_issue_date: NaiveDate::from_ymd_opt(2021, 5, 10),
                    id_issue_place: "Cục Cảnh sát QLHC về TTXH".into(),
                    position: "Giáo viên".into(),
                    unit_name: name.clone(),
                    email: format!("thaontp{}@namdinh.edu.vn", i + 1),
                    phone: "0912345678".into(),
                    cert_serial: if t == RequestType::NewCert {
                        String::new()
                    } else {
                        "54010101A1B2C3D4E5F6".into()
                    },
                    change_detail: String::new(),
                    reason: String::new(),
                    note: String::new(),
                    source: RowSource {
                        file: "Danh sach de nghi CTS.xlsx".into(),
                        sheet: "Danh sách".into(),
                        row: 8 + i as u32,
                    },
                },
                source_message_id: format!("m{u}@namdinh.edu.vn"),
                received_at: "2022-12-05T01:00:00+00:00".into(),
            });
        }
        units.push(UnitLine {
            code: code.clone(),
            name,
            kind: "THPT".into(),
            emails: vec![format!("c3dv{u}@namdinh.edu.vn")],
            status: UnitStatus::Accepted,
            submissions: 1,
            versions: 1,
            last_received_at: Some("2022-12-05T01:00:00+00:00".into()),
            rows: per_unit,
            counts,
            reconciliation_code: "2KG6690H".into(),
            late: false,
            unverified: false,
            paper_received_at: None,
            paper: None,
            reminded_on: None,
            notes: Vec::new(),
        });
    }
    held.mails.push(MailLine {
        id: 1,
        message_id: "held@gmail.com".into(),
        received_at: "2022-12-05T01:00:00+00:00".into(),
        from: "nguyenvana1980@gmail.com".into(),
        subject: "Danh sách".into(),
        unit_code: None,
        trust: Trust::Unknown,
        outcome: OutcomeKind::Held,
        reply_kind: ReplyKind::None,
        late: false,
        note: String::new(),
        errors: 0,
        warnings: 0,
        reply_status: "none".into(),
    });
    for i in 0..3 {
        held.issues.push(Issue {
            kind: IssueKind::FailedReply,
            units: vec![format!("DV{:03}", i + 1)],
            at: Some("2022-12-05T01:00:00+00:00".into()),
            subject: "c3dv1@namdinh.edu.vn".into(),
            detail: LONG_DETAIL.into(),
        });
    }
    Reconciliation::held(units, held, settings, Utc::now())
}

/// One word of `pdftotext -bbox`.
#[derive(Debug)]
struct Word {
    page: usize,
    height: f64,
    text: String,
}

/// The pages' sizes and the words of a PDF.
fn words(pdf: &Path) -> (Vec<(f64, f64)>, Vec<Word>) {
    let out = crate::support::succeeds(
        Command::new(tool("pdftotext", "poppler-utils"))
            .arg("-bbox")
            .arg(pdf)
            .arg("-"),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let attr = |tag: &str, name: &str| -> f64 {
        let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
    };
    let (mut pages, mut words) = (Vec::new(), Vec::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with("<page ") {
            pages.push((attr(line, "width"), attr(line, "height")));
        } else if line.starts_with("<word ") {
            let close = line.find('>').unwrap();
            let tag = &line[..close];
            let text = line[close + 1..].trim_end_matches("</word>");
            words.push(Word {
                page: pages.len(),
                height: attr(tag, "yMax") - attr(tag, "yMin"),
                text: text
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            });
        }
    }
    (pages, words)
}

fn assert_a4_landscape_and_readable(name: &str, pages: &[(f64, f64)], words: &[Word]) {
    assert!(!pages.is_empty(), "{name}: no page");
    for (w, h) in pages {
        // A4 landscape: 842 × 595 points.
        assert!(
            (w - 842.0).abs() < 3.0 && (h - 595.0).abs() < 3.0,
            "{name}: page {w}×{h}"
        );
    }
    let smallest = words
        .iter()
        .min_by(|a, b| a.height.total_cmp(&b.height))
        .unwrap();
    assert!(
        smallest.height >= 9.0,
        "{name}: type of {:.1} pt on page {} ({:?})",
        smallest.height,
        smallest.page,
        smallest.text
    );
}

#[test]
fn the_printed_workbook_and_html_page_are_a4_landscape_at_reading_size() {
    let dir = tempfile::tempdir().unwrap();
    let soffice = tool("soffice", "libreoffice-calc-nogui");
    let chromium = tool("chromium", "chromium");
    let small = campaign(3, 4);
    let large = campaign(60, 15);
    assert_eq!(large.request_count(), 900);
    let (small_x, large_x) = (dir.path().join("small.xlsx"), dir.path().join("large.xlsx"));
    cts_intake::report::xlsx::write(&small, &small_x).unwrap();
    cts_intake::report::xlsx::write(&large, &large_x).unwrap();
    let html = dir.path().join("large.html");
    std::fs::write(&html, cts_intake::report::html::render(&large).unwrap()).unwrap();

    let profile = dir.path().join("lo-profile");
    crate::support::succeeds(
        Command::new(&soffice)
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args(["--headless", "--convert-to", "pdf", "--outdir"])
            .arg(dir.path())
            .arg(&small_x)
            .arg(&large_x),
    );
    let pdf = dir.path().join("chromium.pdf");
    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("chromium").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(pdf.is_file(), "{}", String::from_utf8_lossy(&out.stderr));

    // CTS_PRINT_KEEP=DIR keeps the PDFs (the README's pictures come from them).
    if let Some(keep) = std::env::var_os("CTS_PRINT_KEEP") {
        for f in ["small.pdf", "large.pdf", "chromium.pdf"] {
            std::fs::copy(dir.path().join(f), Path::new(&keep).join(f)).unwrap();
        }
    }
    for name in ["small", "large"] {
        let (pages, words) = words(&dir.path().join(format!("{name}.pdf")));
        assert_a4_landscape_and_readable(name, &pages, &words);
        let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        // The first page says when the workbook was made and carries the overview.
        let first: Vec<&str> = words
            .iter()
            .filter(|w| w.page == 1)
            .map(|w| w.text.as_str())
            .collect();
        assert!(
            first.windows(2).any(|w| w == ["Lập", "lúc"]),
            "{name}: {first:?}"
        );
        assert!(
            first.contains(&"Tổng") && first.contains(&"đề"),
            "{name}: {first:?}"
        );
        // "Chi tiết" (20 columns) prints over pages across at sensible widths, its key columns
        // (the person's name among them) on each, not squeezed into narrow columns whose every
        // cell wraps on five lines: at least 15 rows on a page, on most of its pages.
        let per_page: Vec<usize> = (1..=pages.len())
            .filter_map(|p| {
                let on: Vec<&str> = words
                    .iter()
                    .filter(|w| w.page == p)
                    .map(|w| w.text.as_str())
                    .collect();
                on.windows(3)
                    .any(|w| w == ["Chi", "tiết", "danh"])
                    .then(|| on.windows(2).filter(|w| w == &["Phương", "Thảo"]).count())
            })
            .collect();
        assert!(!per_page.is_empty(), "{name}: no Chi tiết page");
        let full = per_page.iter().filter(|n| **n >= 15).count();
        if name == "large" {
            assert!(
                full * 4 >= per_page.len() * 3,
                "{name}: rows on each Chi tiết page: {per_page:?}"
            );
        }
        // "Cần xử lý" wraps: the end of a long detail is printed, not cut off.
        assert!(
            text.iter().filter(|t| t.contains("KETTHUCCHITIET")).count() >= 3,
            "{name}: a long detail is cut"
        );
    }

    let (pages, words) = words(&pdf);
    assert_a4_landscape_and_readable("html", &pages, &words);
    // Each sheet starts on a new page under its heading (12 pt: its "—" is the tallest); on
    // every page of a list but its last, 20 rows or more (a row's name starts with "Phạm"): the
    // long cells wrap on two lines (it was 4-6 rows a page before issue 15).
    let headings: Vec<usize> = words
        .iter()
        .filter(|w| w.text == "—" && w.height > 12.0)
        .map(|w| w.page)
        .collect();
    assert!(headings.len() >= 10, "{headings:?}");
    let ids = |page: usize| {
        words
            .iter()
            .filter(|w| w.page == page && w.text.starts_with("Phạm"))
            .count()
    };
    let mut full_pages = 0;
    for (k, &start) in headings.iter().enumerate() {
        let end = headings.get(k + 1).copied().unwrap_or(pages.len() + 1);
        for page in start..end.saturating_sub(1) {
            let rows = ids(page);
            if rows > 0 {
                full_pages += 1;
                assert!(
                    rows >= 20,
                    "page {page} of the printed HTML holds {rows} rows"
                );
            }
        }
    }
    assert!(full_pages >= 20, "the 900 rows fill pages: {full_pages}");
}

/// The cover sheet as the school gets it: the acknowledgement of the sample campaign's first
/// list (`run --once`, the reply written to the outbox folder) attaches one PDF, which poppler
/// reads back as text with the unit's name, the code and the title, at 10 pt or more, on one A4
/// portrait page, its fonts embedded; and zbar reads the code off its barcode at 200 dpi.
#[test]
fn the_cover_sheet_is_a_pdf_with_its_text_fonts_and_a_barcode_that_reads() {
    use mail_parser::{MessageParser, MimeHeaders};
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    crate::support::copy_dir(&crate::support::root().join("samples/maildir"), &maildir);
    let data = dir.path().join("data");
    crate::support::run_once(&maildir, &data);
    let ack = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .find(|m| {
            let s = crate::support::reply_summary(m);
            s.contains("In-Reply-To: <sample-01@namdinh.edu.vn>")
        })
        .expect("the acknowledgement of sample 1");
    let parsed = MessageParser::default().parse(&ack).unwrap();
    let body = parsed.body_text(0).unwrap().into_owned();
    // The code as printed, with its check character.
    let printed = body
        .split("MÃ ĐỐI CHIẾU: ")
        .nth(1)
        .expect("the ack gives the code")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>();
    assert_eq!(parsed.attachment_count(), 1, "the cover sheet only");
    let a = parsed.attachment(0).unwrap();
    let name = a.attachment_name().unwrap().to_string();
    let ct = a.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("pdf")),
        "{name}"
    );
    assert!(name.ends_with(".pdf"), "{name}");
    // The body names the file and says what to do with it.
    assert!(
        body.contains(&format!("phiếu đối chiếu (tệp \"{name}\")"))
            && body.contains("in phiếu, ghim phiếu vào bản giấy"),
        "{body}"
    );
    let pdf = dir.path().join(&name);
    std::fs::write(&pdf, a.contents()).unwrap();
    if let Some(keep) = std::env::var_os("CTS_PRINT_KEEP") {
        std::fs::copy(&pdf, Path::new(&keep).join("cover.pdf")).unwrap();
    }

    let (pages, words) = words(&pdf);
    assert_eq!(pages.len(), 1, "one page");
    let (w, h) = pages[0];
    assert!(
        (w - 595.0).abs() < 3.0 && (h - 842.0).abs() < 3.0,
        "A4 portrait: {w}×{h}"
    );
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let joined = text.join(" ");
    for want in [
        "PHIẾU ĐỐI CHIẾU",
        "Trường THPT chuyên Lê Hồng Phong",
        "THPT-LHP",
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "THỦ TRƯỞNG ĐƠN VỊ",
        "Phòng 401",
    ] {
        assert!(joined.contains(want), "{want:?} in {joined}");
    }
    assert!(text.contains(&printed.as_str()), "{printed} in {joined}");
    let smallest = words
        .iter()
        .min_by(|a, b| a.height.total_cmp(&b.height))
        .unwrap();
    assert!(
        smallest.height >= 10.0,
        "type of {:.1} pt ({:?})",
        smallest.height,
        smallest.text
    );

    // The fonts are embedded (pdffonts: the "emb" column), as subsets.
    let out = crate::support::succeeds(Command::new(tool("pdffonts", "poppler-utils")).arg(&pdf));
    let fonts = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!lines.is_empty(), "{fonts}");
    for l in &lines {
        let cols: Vec<&str> = l.split_whitespace().collect();
        // name type encoding emb sub uni object ID
        let n = cols.len();
        assert_eq!(
            &cols[n - 5..n - 2],
            &["yes", "yes", "yes"],
            "embedded subset with a ToUnicode map: {l}"
        );
    }

    // The barcode reads back as the printed code.
    let png = dir.path().join("cover");
    crate::support::succeeds(
        Command::new(tool("pdftoppm", "poppler-utils"))
            .args(["-png", "-r", "200", "-singlefile"])
            .arg(&pdf)
            .arg(&png),
    );
    let out = crate::support::succeeds(
        Command::new(tool("zbarimg", "zbar-tools"))
            .args(["--quiet", "--raw"])
            .arg(png.with_extension("png")),
    );
    let read = String::from_utf8(out.stdout).unwrap();
    assert_eq!(read.trim(), printed, "the barcode decodes to the code");
}

/// An attribute's value in an XML start tag (`name="value"`).
fn xml_attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let (at, _) = tag
        .match_indices(&key)
        .find(|(i, _)| *i == 0 || tag.as_bytes()[i - 1] == b' ')?;
    let at = at + key.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// The blank template as `cts-intake template` writes it: no border on any cell of the title
/// block or the signature block, nor in the columns' default formats (which reach those rows);
/// printed through LibreOffice, the list sheet with its bordered empty rows and the signature
/// block is one or two A4 pages.
#[test]
fn the_blank_template_prints_its_bordered_rows_on_one_or_two_pages_and_no_stray_borders() {
    use cts_intake::template::{DATA_ROWS, HEADER_ROW};
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("mau.xlsx");
    crate::support::succeeds(crate::support::cts(&["template", "--out"]).arg(&xlsx));

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut part = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let styles = part("xl/styles.xml");
    let sheet = part("xl/worksheets/sheet1.xml");
    let xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let borders: Vec<&str> = xfs
        .split("<xf ")
        .skip(1)
        .map(|xf| xml_attr(xf, "borderId").unwrap_or("0"))
        .map(|b| if b == "0" { "none" } else { "border" })
        .collect();
    let bordered = |style: Option<&str>| {
        style.is_some_and(|s| borders[s.parse::<usize>().unwrap()] == "border")
    };
    for col in sheet.split("<col ").skip(1) {
        let tag = &col[..col.find('>').unwrap()];
        assert!(
            !bordered(xml_attr(tag, "style")),
            "a column's default has a border: {tag}"
        );
    }
    // Rows are 1-based in the XML: the header is HEADER_ROW + 1, the bordered rows follow.
    let (header, last) = (HEADER_ROW + 1, HEADER_ROW + 1 + DATA_ROWS);
    let mut cells = 0;
    for c in sheet.split("<c ").skip(1) {
        let tag = &c[..c.find('>').unwrap()];
        let r = xml_attr(tag, "r").unwrap();
        let row: u32 = r
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .unwrap();
        if row < header || row > last {
            cells += 1;
            assert!(
                !bordered(xml_attr(tag, "s")),
                "cell {r} outside the table has a border"
            );
        } else {
            assert!(
                bordered(xml_attr(tag, "s")),
                "cell {r} of the table has its border"
            );
        }
    }
    assert!(
        cells > 10,
        "the title and signature blocks are there: {cells}"
    );

    let profile = dir.path().join("lo-profile");
    crate::support::succeeds(
        Command::new(tool("soffice", "libreoffice-calc-nogui"))
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args(["--headless", "--convert-to", "pdf", "--outdir"])
            .arg(dir.path())
            .arg(&xlsx),
    );
    let pdf = dir.path().join("mau.pdf");
    if let Some(keep) = std::env::var_os("CTS_PRINT_KEEP") {
        std::fs::copy(&pdf, Path::new(&keep).join("template.pdf")).unwrap();
    }
    let (pages, words) = words(&pdf);
    // The instructions sheet follows the list: the list's pages are those before its title.
    // (LibreOffice may cut a word where a glyph carries two marks: the page's text is read with
    // no spaces.)
    let page_text = |page: usize| -> String {
        words
            .iter()
            .filter(|w| w.page == page)
            .map(|w| w.text.as_str())
            .collect()
    };
    let guide = (1..=pages.len())
        .find(|&p| page_text(p).contains("HƯỚNGDẪN"))
        .expect("the instructions sheet is printed");
    let list_pages = guide - 1;
    assert!(
        (1..=2).contains(&list_pages),
        "the list prints on {list_pages} pages of {}",
        pages.len()
    );
    assert!(
        page_text(list_pages).contains("THỦTRƯỞNGĐƠNVỊ"),
        "the signature block is on the list's last page"
    );
    for (w, h) in &pages[..list_pages] {
        assert!(
            (w - 842.0).abs() < 3.0 && (h - 595.0).abs() < 3.0,
            "A4 landscape: {w}×{h}"
        );
    }
}
