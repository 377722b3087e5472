//! The reader process's side of the worker protocol on arbitrary bytes: whatever arrives on its
//! input, decoding requests never panics nor allocates what a length field claims, and every
//! request decoded is read and answered (as `cts-intake read-worker` does), and the daemon reads
//! every answer back.

#![no_main]

use cts_intake::mail::ParsedMail;
use cts_intake::pipeline::read_lists;
use cts_intake::worker::protocol::{add_answer, decode_answer, decode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A panic inside a third-party reader is caught by the reader (`sheet::read` gives
    // "damaged" for it; tests/fixtures/bad-xls-calamine-index-panic.xls is one calamine has):
    // libFuzzer's own hook would abort on it even so. An uncaught panic still aborts.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let mut input = data;
    // The answers of a group, kept until its last request as the reader keeps them.
    let mut answers = Vec::new();
    // A few requests at most per input: each is read and answered like the reader does.
    for _ in 0..4 {
        match decode_request(&mut input) {
            Ok(Some(request)) => {
                let mail = ParsedMail {
                    attachments: request.attachments,
                    ..Default::default()
                };
                let lists = read_lists(&mail, &request.context);
                let start = answers.len();
                add_answer(&mut answers, &lists).expect("an answer is written to memory");
                let back = decode_answer(&answers[start + 8..]).expect("the daemon reads an answer back");
                assert_eq!(back.rows, lists.rows, "the rows come back as they were read");
                assert_eq!(back.problems, lists.problems);
                if !request.more {
                    answers.clear();
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
});
