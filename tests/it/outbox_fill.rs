//! Fills a data folder's outbox with rendered replies, as `run` would after taking that many
//! mails: for the 500-reply test and the SMTP benchmark (benches/smtp.rs includes this file).

#![allow(dead_code)]

use std::path::Path;

use chrono::Utc;
use cts_intake::config::{Config, Overrides};
use cts_intake::mail::ParsedMail;
use cts_intake::pipeline::{Outcome, OutcomeKind, ReplyKind};
use cts_intake::reply::{Reply, render};
use cts_intake::store::{MailRecord, OutgoingReply, Store};

/// The embedded default configuration.
pub fn default_config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    Config::load(&path, &Overrides::default()).expect("the default config loads")
}

/// `n` replies of about the size of an acknowledgement, to `recipients` in turn, rendered as
/// the intake renders them.
pub fn replies(n: usize, recipients: &[&str]) -> Vec<OutgoingReply> {
    let config = default_config();
    let people: String = (1..=20)
        .map(|i| {
            format!("  {i}. Nguyễn Văn Thành {i} — Cấp mới chứng thư số — CCCD 0361850{i:05}\n")
        })
        .collect();
    (0..n)
        .map(|i| {
            let to = recipients[i % recipients.len()];
            let reply = Reply {
                kind: ReplyKind::Ack,
                to: to.to_string(),
                cc: Vec::new(),
                subject: format!("Re: Danh sách đề nghị số {i} [Đã tiếp nhận]"),
                text: format!(
                    "Kính gửi: Trường THPT số {i}\n\nSở đã tiếp nhận danh sách đề nghị của đơn vị.\n\n\
                     Chi tiết:\n{people}\nMÃ ĐỐI CHIẾU: K{i:05}\n--\nSở Giáo dục và Đào tạo Nam Định\n"
                ),
                message_id: format!("cts-intake.fill{i:05}@namdinh.edu.vn"),
                in_reply_to: Some(format!("list{i}@school.namdinh.edu.vn")),
                references: vec![format!("list{i}@school.namdinh.edu.vn")],
                attachments: Vec::new(),
            };
            render(&reply, &config).expect("the reply renders")
        })
        .collect()
}

/// Records each reply with a mail of its own into the data folder's store.
pub fn fill(data: &Path, replies: &[OutgoingReply]) {
    let mut store = Store::open(&data.join("intake.sqlite3")).unwrap();
    for (i, r) in replies.iter().enumerate() {
        let parsed = ParsedMail {
            message_id: Some(format!("list{i}@school.namdinh.edu.vn")),
            from: Some(r.recipients[0].clone()),
            subject: format!("Danh sách đề nghị số {i}"),
            ..Default::default()
        };
        let key = format!("fill-{i}");
        let record = MailRecord {
            mailbox: "fill",
            source_key: &key,
            sha256: "0",
            size: 0,
            received_at: Utc::now(),
            parsed: &parsed,
            supersedes: None,
        };
        let mut outcome = Outcome::new(OutcomeKind::NoList, "filled for a test");
        outcome.reply = ReplyKind::Ack;
        store.record(&record, &outcome, None, Some(r)).unwrap();
    }
}
