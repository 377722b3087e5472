//! The frames between the daemon and a reader, over the reader's standard input and output.
//!
//! - The reader starts by writing [`HELLO`].
//! - A request: the length of its header (8 bytes, little-endian), the header (the validation
//!   context and each attachment's name, type and length), then each attachment's bytes in
//!   order.
//! - An answer: its length (8 bytes, little-endian), then the lists as read.
//! - Headers and answers are [postcard](https://docs.rs/postcard) (serde's compact binary form:
//!   half the bytes of JSON, and half the time to write and read, for the rows of every mail).
//!   Daemon and reader are the same program, so both sides always agree on the types.
//! - Requests come in groups (a few mails, written at once): a request whose header says
//!   `more` is followed by another of its group, and the answers of a group are written
//!   together once its last request is read, so each side wakes once a group, not once a mail.
//!
//! Every length is checked before anything is allocated for it; a frame that breaks a rule is
//! an error, never a panic or a large allocation (the fuzz target `read_worker` drives
//! [`decode_request`] with arbitrary bytes).

use std::io::Read;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::mail::Attachment;
use crate::pipeline::ReadLists;
use crate::validate::Context;

/// What a reader writes first, so the daemon knows it started the right program.
pub const HELLO: &[u8] = b"cts-intake reader 2\n";

/// The longest request header: a context and a few thousand attachment names.
pub const MAX_HEADER_BYTES: u64 = 4 * 1024 * 1024;
/// The most attachment bytes one request may carry (a mail over the size limit is never read).
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024 * 1024;
/// The longest answer the daemon accepts (the rows and problems of one mail's lists).
pub const MAX_ANSWER_BYTES: u64 = 256 * 1024 * 1024;
/// The most attachments one request may carry.
pub const MAX_FILES: usize = 10_000;

#[derive(Serialize, Deserialize)]
struct Header {
    context: Context,
    files: Vec<FileHeader>,
    /// Another request of the same group follows: its answer waits for the group's last.
    #[serde(default)]
    more: bool,
}

#[derive(Serialize, Deserialize)]
struct FileHeader {
    filename: String,
    content_type: String,
    len: u64,
}

/// A request as the reader receives it.
pub struct Request {
    pub context: Context,
    pub attachments: Vec<Attachment>,
    /// Another request of its group follows (see the module's documentation).
    pub more: bool,
}

/// The bytes of a request for these attachments, added to `out`; `more`: another request of the
/// same group follows it.
pub fn encode_request(
    out: &mut Vec<u8>,
    context: &Context,
    attachments: &[Attachment],
    more: bool,
) -> Result<()> {
    let header = Header {
        more,
        context: context.clone(),
        files: attachments
            .iter()
            .map(|a| FileHeader {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                len: a.bytes.len() as u64,
            })
            .collect(),
    };
    let header = postcard::to_allocvec(&header).context("cannot write a reader's request")?;
    let total: usize = attachments.iter().map(|a| a.bytes.len()).sum();
    out.reserve(8 + header.len() + total);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for a in attachments {
        out.extend_from_slice(&a.bytes);
    }
    Ok(())
}

/// Reads one request; `Ok(None)` at the end of the input (the daemon closed it).
pub fn decode_request(input: &mut impl Read) -> Result<Option<Request>> {
    let mut len = [0u8; 8];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e).context("cannot read a request"),
    }
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER_BYTES {
        bail!("a request header of {len} bytes is over the limit");
    }
    let header_bytes = read_up_to(input, len)?;
    let header: Header =
        postcard::from_bytes(&header_bytes).context("a request header is garbled")?;
    if header.files.len() > MAX_FILES {
        bail!(
            "a request of {} attachments is over the limit",
            header.files.len()
        );
    }
    let total = header
        .files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.len))
        .filter(|t| *t <= MAX_REQUEST_BYTES)
        .context("a request's attachments are over the limit")?;
    tracing::trace!(bytes = total, files = header.files.len(), "request");
    let mut attachments = Vec::with_capacity(header.files.len());
    for f in header.files {
        let bytes = read_up_to(input, f.len)?;
        attachments.push(Attachment {
            filename: f.filename,
            content_type: f.content_type,
            bytes,
        });
    }
    Ok(Some(Request {
        context: header.context,
        attachments,
        more: header.more,
    }))
}

/// Exactly `len` bytes, allocated as they arrive beyond the first MiB (a length that lies costs
/// no memory; a list's attachment fits the first allocation).
fn read_up_to(input: &mut impl Read, len: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(len.min(1024 * 1024) as usize);
    input
        .take(len)
        .read_to_end(&mut bytes)
        .context("cannot read a request")?;
    if bytes.len() as u64 != len {
        bail!("a request ended early");
    }
    Ok(bytes)
}

/// Adds one answer's frame to `frames`: the answers of a group, written together in one piece
/// (the daemon, waiting on the pipe, wakes once for them).
pub fn add_answer(frames: &mut Vec<u8>, lists: &ReadLists) -> Result<()> {
    let start = frames.len();
    frames.extend_from_slice(&[0u8; 8]);
    *frames =
        postcard::to_extend(lists, std::mem::take(frames)).context("cannot write an answer")?;
    let len = (frames.len() - start - 8) as u64;
    frames[start..start + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The lists of one answer's frame (its bytes after the length).
pub fn decode_answer(bytes: &[u8]) -> Result<ReadLists> {
    postcard::from_bytes(bytes).context("an answer is garbled")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            reference_date: chrono::NaiveDate::from_ymd_opt(2022, 12, 17).unwrap(),
            min_age: 18,
            max_age: 70,
            official_domains: vec!["namdinh.edu.vn".into()],
            unit_name: "Trường THPT A".into(),
        }
    }

    #[test]
    fn a_request_comes_back_as_it_was_sent() {
        let files = vec![
            Attachment {
                filename: "Danh sách.xlsx".into(),
                content_type: "application/octet-stream".into(),
                bytes: b"PK\x03\x04abc".to_vec(),
            },
            Attachment {
                filename: "ds.csv".into(),
                content_type: "text/csv".into(),
                bytes: Vec::new(),
            },
        ];
        let mut bytes = Vec::new();
        encode_request(&mut bytes, &context(), &files, true).unwrap();
        encode_request(&mut bytes, &context(), &files[1..], false).unwrap();
        let mut input = &bytes[..];
        let request = decode_request(&mut input).unwrap().unwrap();
        assert!(request.more, "the first of a group of two");
        let view = |a: &[Attachment]| {
            a.iter()
                .map(|a| (a.filename.clone(), a.content_type.clone(), a.bytes.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&request.attachments), view(&files));
        assert_eq!(request.context.unit_name, "Trường THPT A");
        let request = decode_request(&mut input).unwrap().unwrap();
        assert_eq!(view(&request.attachments), view(&files[1..]));
        assert!(!request.more, "the last of its group");
        assert!(
            decode_request(&mut input).unwrap().is_none(),
            "then the end"
        );
    }

    #[test]
    fn a_request_that_lies_about_its_lengths_is_an_error_not_an_allocation() {
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(decode_request(&mut &huge[..]).is_err());
        let frame = |lens: &[u64]| {
            let header = postcard::to_allocvec(&Header {
                context: context(),
                files: lens
                    .iter()
                    .map(|&len| FileHeader {
                        filename: "a".into(),
                        content_type: "b".into(),
                        len,
                    })
                    .collect(),
                more: false,
            })
            .unwrap();
            let mut frame = (header.len() as u64).to_le_bytes().to_vec();
            frame.extend_from_slice(&header);
            frame
        };
        // A header that promises 900 MB of attachments and sends none.
        let e = decode_request(&mut &frame(&[900_000_000])[..])
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("ended early"), "{e:#}");
        // Over the limit in all (and a sum that overflows).
        assert!(decode_request(&mut &frame(&[u64::MAX, 2])[..]).is_err());
        assert!(decode_request(&mut &frame(&[MAX_REQUEST_BYTES, 1])[..]).is_err());
        // A header that is not one.
        let mut garbled = 3u64.to_le_bytes().to_vec();
        garbled.extend_from_slice(&[0xff, 0xff, 0xff]);
        let e = decode_request(&mut &garbled[..]).err().unwrap();
        assert!(format!("{e:#}").contains("garbled"), "{e:#}");
    }

    #[test]
    fn an_answer_comes_back_as_it_was_written() {
        let lists = ReadLists {
            any_candidate: true,
            any_list: true,
            files: vec![crate::pipeline::FileResult {
                filename: "Danh sách.xlsx".into(),
                sheets: vec!["Sheet1".into()],
                rows: 3,
            }],
            unread: Some(crate::domain::Unread::TimedOut),
            ..ReadLists::default()
        };
        let mut frames = Vec::new();
        add_answer(&mut frames, &lists).unwrap();
        add_answer(&mut frames, &ReadLists::default()).unwrap();
        let len = u64::from_le_bytes(frames[..8].try_into().unwrap()) as usize;
        let back = decode_answer(&frames[8..8 + len]).unwrap();
        assert_eq!(back.files, lists.files);
        assert_eq!(back.unread, lists.unread);
        assert!(back.any_candidate && back.any_list);
        let rest = &frames[8 + len..];
        let len2 = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        assert_eq!(rest.len(), 8 + len2, "the second answer follows the first");
        let back = decode_answer(&rest[8..]).unwrap();
        assert!(back.unread.is_none() && !back.any_candidate);
    }
}
