//! `pipeline::process` on real xlsx lists (generated with rust_xlsxwriter): sender trust,
//! versions and supplements, lateness, list-level rules.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cts_intake::config::{Config, Overrides};
use cts_intake::mail::{Attachment, ParsedMail};
use cts_intake::pipeline::{Outcome, OutcomeKind, Previous, ReplyKind, Trust, process};
use cts_intake::schema::RequestType;
use cts_intake::units::Registry;
use cts_intake::validate::ValidRow;
use cts_testkit::{CellValue, ListSheet, XLSX_CONTENT_TYPE, canonical_headers, xlsx};

use crate::support::root;

fn config() -> Config {
    Config::load(&root().join("config/default.toml"), &Overrides::default()).unwrap()
}

fn registry() -> Registry {
    Registry::load(&root().join("config/units.csv")).unwrap()
}

/// A valid row in canonical column order.
pub(crate) fn person(
    name: &str,
    id: &str,
    birth: (i32, u32, u32),
    request: &str,
) -> Vec<CellValue> {
    let serial = if matches!(
        RequestType::parse(request),
        Some(
            RequestType::Revoke
                | RequestType::Renew
                | RequestType::KeyRecovery
                | RequestType::Change
        )
    ) {
        "540101AB12CD34EF"
    } else {
        ""
    };
    let reason = if matches!(
        RequestType::parse(request),
        Some(RequestType::Revoke | RequestType::Reissue | RequestType::KeyRecovery)
    ) {
        "Nghỉ hưu"
    } else {
        ""
    };
    vec![
        CellValue::Number(1.0),
        name.into(),
        CellValue::Date(NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap()),
        id.into(),
        "".into(),
        "".into(),
        "Giáo viên".into(),
        "".into(),
        format!("{}@namdinh.edu.vn", id).as_str().into(),
        "0912345678".into(),
        request.into(),
        serial.into(),
        "".into(),
        reason.into(),
        "".into(),
    ]
}

/// A list of `rows` under the canonical headers, as an xlsx workbook.
pub(crate) fn list(rows: Vec<Vec<CellValue>>) -> Vec<u8> {
    xlsx(&[ListSheet {
        name: "Danh sách".into(),
        title_rows: vec!["SỞ GIÁO DỤC VÀ ĐÀO TẠO".into(), "DANH SÁCH ĐỀ NGHỊ".into()],
        headers: canonical_headers(),
        rows,
        footer_rows: vec!["Người lập biểu".into()],
    }])
}

fn mail(from: &str, subject: &str, attachments: Vec<(&str, Vec<u8>)>) -> ParsedMail {
    ParsedMail {
        message_id: Some(format!("{}@test", subject.len())),
        from: Some(from.into()),
        subject: subject.into(),
        attachments: attachments
            .into_iter()
            .map(|(n, b)| Attachment {
                filename: n.into(),
                content_type: XLSX_CONTENT_TYPE.into(),
                bytes: b,
            })
            .collect(),
        ..Default::default()
    }
}

fn before_deadline() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 12, 5, 3, 0, 0).unwrap()
}

fn run(m: &ParsedMail, previous: Option<Vec<ValidRow>>) -> Outcome {
    // A current version written long ago: any list is newer.
    let previous = previous.map(|rows| Previous {
        rows,
        ..Previous::default()
    });
    process(m, before_deadline(), &config(), &registry(), &move |_| {
        previous.clone()
    })
}

const AN: (&str, &str, (i32, u32, u32)) = ("Nguyễn Văn An", "036085001234", (1985, 3, 5));
const BINH: (&str, &str, (i32, u32, u32)) = ("Trần Thị Bình", "036190004321", (1990, 7, 1));

#[test]
fn a_registered_sender_with_a_clean_list_is_acknowledged() {
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "Danh sách CTS",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
        )],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Accepted, "{:?}", o.problems);
    assert_eq!(o.reply, ReplyKind::Ack);
    assert_eq!(o.trust, Trust::Registered);
    assert_eq!(o.unit.unwrap().code, "THPT-NK");
    let v = o.version.unwrap();
    assert_eq!(v.rows.len(), 1);
    assert_eq!(
        v.rows[0].source.row, 4,
        "two title rows, the header, then the row"
    );
    assert!(!v.had_previous);
    assert!(!o.late);
}

/// The same list as a zip whose parts are named with backslashes (`xl\worksheets\sheet1.xml`),
/// as some Windows tools write them, or in upper case: a workbook all the same, read whole.
#[test]
fn a_workbook_whose_parts_are_named_with_backslashes_is_read_as_a_workbook() {
    use std::io::{Read, Write};
    let original = list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]);
    let rename = |rename: fn(&str) -> String| {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&original[..])).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            out.start_file(
                rename(&f.name().unwrap()),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            out.write_all(&bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    };
    for (how, file) in [
        ("backslashes", rename(|n| n.replace('/', "\\"))),
        ("upper case", rename(|n| n.to_uppercase())),
    ] {
        let o = run(
            &mail(
                "c3nguyenkhuyen@namdinh.edu.vn",
                "Danh sách CTS",
                vec![("ds.xlsx", file)],
            ),
            None,
        );
        assert_eq!(o.kind, OutcomeKind::Accepted, "{how}: {:?}", o.problems);
        assert_eq!(o.version.unwrap().rows.len(), 1, "{how}");
    }
}

#[test]
fn a_supplement_adds_to_the_previous_version_and_a_resend_replaces_it() {
    let first = run(
        &mail(
            "c3nguyenkhuyen@namdinh.edu.vn",
            "Danh sách CTS",
            vec![(
                "ds.xlsx",
                list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
            )],
        ),
        None,
    );
    let previous = first.version.unwrap().rows;
    let extra = list(vec![person(BINH.0, BINH.1, BINH.2, "Gia hạn")]);
    let sup = run(
        &mail(
            "c3nguyenkhuyen@namdinh.edu.vn",
            "Danh sách bổ sung",
            vec![("ds.xlsx", extra.clone())],
        ),
        Some(previous.clone()),
    );
    assert!(sup.supplement);
    let v = sup.version.unwrap();
    assert_eq!(v.rows.len(), 2);
    assert_eq!(v.changes.added.len(), 1);
    assert!(v.changes.removed.is_empty());

    let replace = run(
        &mail(
            "c3nguyenkhuyen@namdinh.edu.vn",
            "Gửi lại danh sách",
            vec![("ds.xlsx", extra)],
        ),
        Some(previous),
    );
    let v = replace.version.unwrap();
    assert_eq!(v.rows.len(), 1);
    assert_eq!(v.changes.added.len(), 1);
    assert_eq!(v.changes.removed.len(), 1);
    assert!(v.had_previous);
}

#[test]
fn an_unregistered_official_address_is_accepted_unverified_when_the_unit_is_inferred() {
    let m = mail(
        "giaovien.a@namdinh.edu.vn",
        "Danh sách đề nghị - THPT Trần Quốc Bảo",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
        )],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Accepted);
    assert_eq!(o.trust, Trust::Unverified);
    assert_eq!(o.unit.unwrap().code, "THPT-TQB");
}

#[test]
fn a_revocation_from_an_unverified_sender_is_held_for_staff() {
    let m = mail(
        "giaovien.a@namdinh.edu.vn",
        "Danh sách đề nghị - THPT Trần Quốc Bảo",
        vec![("ds.xlsx", list(vec![person(AN.0, AN.1, AN.2, "Thu hồi")]))],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Held);
    assert!(o.version.is_none());
    assert!(o.note.contains("row 4: unverified revoke"), "{}", o.note);
}

#[test]
fn every_row_acting_on_an_issued_certificate_from_an_unverified_sender_is_held() {
    for request in [
        "Thu hồi",
        "Khôi phục thiết bị lưu khoá bí mật",
        "Cấp lại chứng thư số",
        "Thay đổi nội dung chứng thư số",
    ] {
        let mut row = person(AN.0, AN.1, AN.2, request);
        row[12] = "Đổi chức vụ".into();
        let m = mail(
            "giaovien.a@namdinh.edu.vn",
            "Danh sách đề nghị - THPT Trần Quốc Bảo",
            vec![("ds.xlsx", list(vec![row]))],
        );
        let o = run(&m, None);
        assert_eq!(o.kind, OutcomeKind::Held, "{request}: {}", o.note);
        assert_eq!(o.reply, ReplyKind::Held, "{request}");
        assert!(o.version.is_none(), "{request}");
    }
    // A long list names its first rows in the note and counts the rest.
    let rows: Vec<_> = (0..30)
        .map(|i| person(AN.0, &format!("0360850{i:05}"), AN.2, "Thu hồi"))
        .collect();
    let m = mail(
        "giaovien.a@namdinh.edu.vn",
        "Danh sách đề nghị - THPT Trần Quốc Bảo",
        vec![("ds.xlsx", list(rows))],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Held, "{}", o.note);
    assert!(o.note.ends_with("; 20 more rows"), "{}", o.note);
    // From the unit's registered address, the same rows are accepted.
    let m = mail(
        "c3tranquocbao@namdinh.edu.vn",
        "Danh sách đề nghị - THPT Trần Quốc Bảo",
        vec![(
            "ds.xlsx",
            list(vec![person(
                AN.0,
                AN.1,
                AN.2,
                "Khôi phục thiết bị lưu khoá bí mật",
            )]),
        )],
    );
    assert_eq!(run(&m, None).kind, OutcomeKind::Accepted);
}

#[test]
fn an_unverified_sender_whose_unit_cannot_be_inferred_is_held() {
    let m = mail(
        "giaovien.a@namdinh.edu.vn",
        "Danh sách đề nghị",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
        )],
    );
    assert_eq!(run(&m, None).kind, OutcomeKind::Held);
}

#[test]
fn a_personal_address_is_held_without_a_reply() {
    let m = mail(
        "someone@gmail.com",
        "Danh sách THPT Nguyễn Khuyến",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
        )],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Held);
    assert_eq!(o.reply, ReplyKind::None);
}

#[test]
fn a_list_reaching_the_mailbox_after_the_deadline_is_accepted_and_marked_late() {
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "Danh sách CTS",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS")]),
        )],
    );
    // 17/12/2022 23:59:30 +07:00 is after the 23:59 deadline.
    let t = Utc.with_ymd_and_hms(2022, 12, 17, 16, 59, 30).unwrap();
    let o = process(&m, t, &config(), &registry(), &|_| None);
    assert_eq!(o.kind, OutcomeKind::Accepted);
    assert!(o.late);
    let o = process(
        &m,
        t - chrono::Duration::seconds(60),
        &config(),
        &registry(),
        &|_| None,
    );
    assert!(!o.late);
}

#[test]
fn a_person_listed_twice_sends_the_list_back() {
    let row = person(AN.0, AN.1, AN.2, "Cấp mới CTS");
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "Danh sách CTS",
        vec![("ds.xlsx", list(vec![row.clone(), row]))],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Rejected);
    assert_eq!(o.reply, ReplyKind::Errors);
    assert_eq!(o.problems.len(), 1);
    assert_eq!(o.problems[0].row, 5);
    assert!(o.problems[0].message.contains("dòng 4"));
}

#[test]
fn with_reject_whole_list_off_the_valid_rows_are_accepted() {
    let mut c = config();
    c.rules.reject_whole_list = false;
    let mut bad = person(BINH.0, BINH.1, BINH.2, "Cấp mới CTS");
    bad[9] = "12345".into();
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "Danh sách CTS",
        vec![(
            "ds.xlsx",
            list(vec![person(AN.0, AN.1, AN.2, "Cấp mới CTS"), bad]),
        )],
    );
    let o = process(&m, before_deadline(), &c, &registry(), &|_| None);
    assert_eq!(o.kind, OutcomeKind::Accepted);
    assert_eq!(
        o.reply,
        ReplyKind::Errors,
        "the school still hears about the bad row"
    );
    assert_eq!(o.version.unwrap().rows.len(), 1);
}

#[test]
fn one_sheet_per_request_type_gives_each_row_its_sheet_type() {
    let mut headers = canonical_headers();
    let type_col = headers
        .iter()
        .position(|h| h == "Nội dung đề nghị")
        .unwrap();
    headers.remove(type_col);
    let strip = |mut r: Vec<CellValue>| {
        r.remove(type_col);
        r
    };
    let bytes = xlsx(&[
        ListSheet {
            name: "Cấp mới".into(),
            headers: headers.clone(),
            rows: vec![strip(person(AN.0, AN.1, AN.2, "Cấp mới CTS"))],
            ..Default::default()
        },
        ListSheet {
            name: "Gia hạn".into(),
            headers,
            rows: vec![strip(person(BINH.0, BINH.1, BINH.2, "Gia hạn"))],
            ..Default::default()
        },
    ]);
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "DS",
        vec![("ds.xlsx", bytes)],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Accepted, "{:?}", o.problems);
    let types: Vec<RequestType> = o
        .version
        .unwrap()
        .rows
        .iter()
        .map(|r| r.request_type)
        .collect();
    assert_eq!(types, [RequestType::NewCert, RequestType::Renew]);
}

#[test]
fn a_workbook_without_a_recognisable_table_names_the_expected_headers() {
    let bytes = xlsx(&[ListSheet {
        name: "Sheet1".into(),
        headers: vec!["Cột A".into(), "Cột B".into()],
        rows: vec![vec!["x".into(), "y".into()]],
        ..Default::default()
    }]);
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "DS",
        vec![("ds.xlsx", bytes)],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Rejected);
    assert!(
        o.problems[0].message.contains("\"Họ và tên\""),
        "{}",
        o.problems[0].message
    );
}

#[test]
fn a_mail_with_only_an_image_has_no_list() {
    let mut m = mail("c3nguyenkhuyen@namdinh.edu.vn", "DS", vec![]);
    m.attachments.push(Attachment {
        filename: "logo.png".into(),
        content_type: "image/png".into(),
        bytes: b"\x89PNG\r\n".to_vec(),
    });
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::NoList);
    assert_eq!(o.reply, ReplyKind::NoList);
}

#[test]
fn a_stray_value_far_below_the_table_is_left_out_with_a_warning() {
    // Someone typed in the sheet's last cell (Ctrl+End): the list is read, the cell is not (the
    // grid would need 512 GiB), and the school is told.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in canonical_headers().iter().enumerate() {
        ws.write(0, c as u16, h.as_str()).unwrap();
    }
    let row = [
        "1",
        AN.0,
        "05/03/1985",
        AN.1,
        "",
        "",
        "Giáo viên",
        "",
        "036085001234@namdinh.edu.vn",
        "0912345678",
        "Cấp mới CTS",
    ];
    for (c, v) in row.iter().enumerate() {
        ws.write(1, c as u16, *v).unwrap();
    }
    ws.write(1_048_575, 16_383, "x").unwrap();
    let m = mail(
        "c3nguyenkhuyen@namdinh.edu.vn",
        "Danh sách CTS",
        vec![("ds.xlsx", wb.save_to_buffer().unwrap())],
    );
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::Accepted, "{:?}", o.problems);
    assert_eq!(o.version.unwrap().rows.len(), 1);
    assert!(
        o.problems
            .iter()
            .any(|p| p.message.contains("quá xa bảng") && p.message.contains("Có 1 ô")),
        "{:?}",
        o.problems
    );
}

#[test]
fn a_mail_with_only_a_pdf_has_no_list_and_keeps_its_own_message() {
    let mut m = mail("c3nguyenkhuyen@namdinh.edu.vn", "DS", vec![]);
    m.attachments.push(Attachment {
        filename: "ds.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: b"%PDF-1.5\n".to_vec(),
    });
    let o = run(&m, None);
    assert_eq!(o.kind, OutcomeKind::NoList);
    assert_eq!(o.problems.len(), 1);
    assert!(
        o.problems[0].message.contains("PDF"),
        "{}",
        o.problems[0].message
    );
}

#[test]
fn unit_inference_for_an_unregistered_address_takes_the_most_specific_nested_unit() {
    let registry = Registry::parse(
        "code,name,kind,emails\n\
         XT,Trường THPT Xuân Trường,THPT,c3xuantruong@namdinh.edu.vn\n\
         XTB,Trường THPT Xuân Trường B,THPT,c3xuantruongb@namdinh.edu.vn\n\
         XTC,Trường THPT Xuân Trường C,THPT,c3xuantruongc@namdinh.edu.vn\n"
            .as_bytes(),
    )
    .unwrap();
    let csv = "STT;Họ và tên;Ngày sinh;Số CCCD;Chức vụ;Đơn vị công tác;Email công vụ;Nội dung đề nghị\n\
               1;Nguyễn Văn An;05/03/1985;036085001234;Giáo viên;Trường THPT Xuân Trường C;an@namdinh.edu.vn;Cấp mới CTS\n";
    let mut m = mail(
        "giaovu.xt@namdinh.edu.vn",
        "Danh sách CTS trường Xuân Trường",
        vec![],
    );
    m.attachments.push(Attachment {
        filename: "ds.csv".into(),
        content_type: "text/csv".into(),
        bytes: csv.as_bytes().to_vec(),
    });
    let o = process(&m, before_deadline(), &config(), &registry, &|_| None);
    assert_eq!(o.trust, Trust::Unverified);
    assert_eq!(o.unit.map(|u| u.code).as_deref(), Some("XTC"));
}

#[test]
fn a_mail_of_more_attachments_than_are_read_says_which_were_not() {
    let csv = "STT;Họ và tên;Số CCCD\n1;Nguyễn Văn An;036085001234\n";
    let mail = ParsedMail {
        attachments: (0..60)
            .map(|i| Attachment {
                filename: format!("ds-{i:02}.csv"),
                content_type: "text/csv".into(),
                bytes: csv.as_bytes().to_vec(),
            })
            .collect(),
        ..Default::default()
    };
    let ctx = crate::support::context("Trường THPT A");
    let read = cts_intake::pipeline::read_lists(&mail, &ctx);
    let max = cts_intake::pipeline::MAX_FILES_READ;
    assert_eq!(read.files.len(), max);
    let told: Vec<_> = read
        .problems
        .iter()
        .filter(|p| p.message.contains("quá nhiều tệp đính kèm"))
        .collect();
    assert_eq!(told.len(), 1, "{:#?}", read.problems);
    assert_eq!(told[0].file, format!("ds-{max:02}.csv"));
}
