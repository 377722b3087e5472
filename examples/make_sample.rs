//! Writes the sample campaign (`testkit::sample_mails()`) into a Maildir.
//!
//! Usage: `cargo run --example make_sample -- [DIR]` (default `samples/maildir`).

use std::path::PathBuf;

use cts_testkit as testkit;
use mail_parser::MessageParser;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("samples/maildir"));
    let mails = testkit::sample_mails();
    testkit::write_maildir(&dir, &mails)?;

    let parser = MessageParser::default();
    for (i, mail) in mails.iter().enumerate() {
        let path = dir.join(testkit::maildir_path(i, mail));
        let (from, subject, attachments) = match parser.parse(&mail.bytes) {
            Some(msg) => (
                msg.from()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or("?")
                    .to_string(),
                msg.subject().unwrap_or("").to_string(),
                msg.attachment_count(),
            ),
            None => ("?".to_string(), "(unparsable)".to_string(), 0),
        };
        println!(
            "{}  {:>6} B  {} attachment(s)  {from}  {subject}",
            path.display(),
            mail.bytes.len(),
            attachments
        );
    }
    println!("wrote {} mails to {}", mails.len(), dir.display());
    Ok(())
}
