//! One pass: list what is new, fetch it in batches, read and record each batch, do its
//! post-action, deliver the replies, refresh the report.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;

use super::read::{Reads, ToRead};
use super::run::RunOptions;
use super::summary::{RunSummary, cpu_time, peak_memory_kib};
use super::{How, Intake, blocking};
use crate::mailbox::{Cursor, MailRef, Mailbox, RawMail};

/// One pass: list what is new, take each mail in order, deliver the replies.
pub(super) async fn pass<M: Mailbox>(
    intake: &Arc<Mutex<Intake>>,
    mailbox: &mut M,
    summary: &mut RunSummary,
    shutdown: &watch::Receiver<bool>,
    options: &RunOptions,
) -> Result<()> {
    let started = Instant::now();
    let mut replying = Duration::ZERO;
    let name = mailbox.name().to_string();
    let n = name.clone();
    let (state, limit, readers) = blocking(intake, move |i| {
        Ok((
            i.store.mailbox_state(&n)?,
            i.config.source.max_message_bytes(),
            i.readers.clone(),
        ))
    })
    .await?;
    let since = state.map(|s| Cursor {
        uid_validity: s.uid_validity,
        uid: s.last_uid,
    });
    let listing = mailbox.list(since).await?;
    tracing::debug!(mails = listing.mails.len(), "mailbox listed");
    if !listing.mails.is_empty() {
        // The readers start while the first batch is fetched.
        super::read::start_readers(&readers);
    }
    let mut rescan_until = state.map_or(0, |s| s.rescan_until);
    if let Some(reset) = listing.reset {
        if state.is_some() {
            tracing::warn!(mailbox = %name, uid_validity = reset.uid_validity,
                "UIDVALIDITY changed: reading the whole folder again; mails taken before are recognised by Message-ID and content");
        }
        // After a change, the mails up to the highest UID may be ones taken before; on the first
        // pass ever none is, and a copy delivered twice is recorded as a duplicate like any other.
        let rescan = if state.is_some() {
            reset.highest_uid
        } else {
            0
        };
        let n = name.clone();
        blocking(intake, move |i| {
            i.store.reset_mailbox_state(&n, reset.uid_validity, rescan)
        })
        .await?;
        rescan_until = rescan;
    }
    let taken = if listing.mails.is_empty() {
        HashSet::new()
    } else {
        let n = name.clone();
        blocking(intake, move |i| i.store.taken_keys(&n)).await?
    };
    // Mails whose reading began in an earlier run and never finished: each is taken alone, with
    // nothing else being read, so a mail that stops the daemon is the only one its attempts
    // count against.
    let n = name.clone();
    let unfinished = blocking(intake, move |i| i.store.unfinished_readings(&n)).await?;
    if !unfinished.is_empty() {
        tracing::warn!(mailbox = %name, mails = unfinished.len(),
            "mails whose reading did not finish last time are taken one at a time");
    }
    let mut took_any = false;
    let batches = batches(listing.mails, options.batch_size, limit, &unfinished);
    let alone = |k: usize| {
        batches[k]
            .iter()
            .any(|m| unfinished.contains_key(&m.source_key))
    };
    let wanted = Wanted {
        taken: &taken,
        limit,
        rescan_until,
    };
    // A pipeline of two sides that run at once, each at its own pace, joined by channels:
    //
    // - the server side fetches the batches in order, each as soon as fewer than `AHEAD`
    //   fetched batches wait to be recorded, and starts reading its mails on the reading threads
    //   at once; between fetches it does the post-action of each batch committed;
    // - before a batch is read, its raw bytes and reading attempts are committed (raw bytes
    //   first), on the intake's connection between two batches' records;
    // - the recording side records each batch in one transaction once all its mails are read
    //   (the next batches are read meanwhile), and moves the position past the batches whose
    //   post-action is done.
    //
    // At most `AHEAD` + 1 batches in hand: memory stays flat.
    const AHEAD: usize = 2;
    let (config, registry) =
        blocking(intake, |i| Ok((i.config.clone(), i.registry.clone()))).await?;
    // Raw bytes first: a fetched batch's bytes and one more reading attempt for each of its
    // mails are committed before any of it is read; a mail on its third attempt (its reading
    // did not finish twice) is not read again. Hashed first, off the intake's lock; committed
    // on the intake's own connection, between two batches' records: a second connection would
    // take the write lock from it by SQLite's sleeping busy handler, and each connection's
    // commits would empty the other's page cache.
    let start_reading =
        async |fetched: Vec<(usize, RawMail, How)>| -> Result<(Vec<BatchKey>, Reads)> {
            let n = name.clone();
            let (fetched, shas) = tokio::task::spawn_blocking(move || {
                use sha2::Digest;
                let shas: Vec<String> = fetched
                    .iter()
                    .map(|(_, raw, _)| crate::store::hex(&sha2::Sha256::digest(&raw.bytes)))
                    .collect();
                (fetched, shas)
            })
            .await?;
            let (fetched, tries) = blocking(intake, move |i| {
                let list: Vec<crate::store::Arrival> = fetched
                    .iter()
                    .zip(&shas)
                    .map(|((_, raw, _), sha)| crate::store::Arrival {
                        source_key: &raw.source_key,
                        sha256: sha,
                        bytes: &raw.bytes,
                    })
                    .collect();
                let tries = i.store.keep_arrivals(&n, &list)?;
                Ok((fetched.into_iter().zip(shas).collect::<Vec<_>>(), tries))
            })
            .await?;
            let mut keys = Vec::with_capacity(fetched.len());
            let mut items = Vec::with_capacity(fetched.len());
            for (((at, raw, how), sha), tries) in fetched.into_iter().zip(tries) {
                let poison = tries > MAX_READING_ATTEMPTS;
                if poison {
                    tracing::warn!(mail = %raw.source_key, attempts = tries - 1,
                    "the mail's reading did not finish twice: held for staff, not read again");
                }
                keys.push((at, raw.source_key.clone()));
                items.push(ToRead {
                    raw,
                    how,
                    sha: Some(sha),
                    poison,
                });
            }
            Ok((
                keys,
                Reads::start_items(&config, &registry, &readers, items),
            ))
        };
    // Batches fetched and being read.
    let (read_tx, read_rx) = tokio::sync::mpsc::channel::<Fetched>(AHEAD);
    // Batches committed: (index, how many of its first mails), for their post-action.
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<Committed>();
    // Post-actions done, in order: the position may pass these mails.
    let (marked_tx, marked_rx) = std::sync::mpsc::channel::<Committed>();
    let passed = |marked: &[Committed]| {
        marked
            .iter()
            .flat_map(|c| &batches[c.batch][..c.upto])
            .filter_map(|m| m.cursor)
            .max_by_key(|c| c.uid)
    };
    let mut oversized = 0;
    let server = async {
        let mut done_rx = done_rx;
        // Dropped once every batch is fetched (or fetching stops): the recording side then ends
        // after the last one.
        let mut read_tx = (!batches.is_empty()).then_some(read_tx);
        let mut next = 0;
        // Every batch before `committed` came back for its post-action; a batch read alone
        // is in flight.
        let mut committed = 0;
        let mut alone_in_flight = false;
        loop {
            enum Step<P> {
                Done(Option<Committed>),
                Room(P),
            }
            let step = tokio::select! {
                biased;
                done = done_rx.recv() => Step::Done(done),
                room = async { read_tx.clone().expect("fetching").reserve_owned().await },
                    if read_tx.is_some()
                        && !alone_in_flight
                        && !(alone(next) && committed < next) => Step::Room(room),
            };
            match step {
                // The recording side is finished.
                Step::Done(None) => break,
                Step::Done(Some(done)) => {
                    mailbox.mark_done(&batches[done.batch][..done.upto]).await?;
                    let _ = marked_tx.send(done);
                    committed = done.batch + 1;
                    alone_in_flight = false;
                }
                // The recording side stopped (an error, or shutdown).
                Step::Room(Err(_)) => read_tx = None,
                Step::Room(Ok(_)) if *shutdown.borrow() => read_tx = None,
                Step::Room(Ok(room)) => {
                    let start = Instant::now();
                    let fetched =
                        fetch_batch(mailbox, &batches[next], &wanted, &mut oversized).await?;
                    tracing::debug!(
                        fetch_ms = start.elapsed().as_millis() as u64,
                        "batch fetched"
                    );
                    let (keys, reads) = start_reading(fetched).await?;
                    alone_in_flight = alone(next);
                    room.send(Fetched {
                        index: next,
                        keys,
                        reads,
                    });
                    next += 1;
                    if next == batches.len() {
                        read_tx = None;
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let recorder = async {
        let (done_tx, mut read_rx) = (done_tx, read_rx);
        while let Some(Fetched { index, keys, reads }) = read_rx.recv().await {
            if *shutdown.borrow() {
                break;
            }
            let batch = &batches[index];
            let position = passed(&marked_rx.try_iter().collect::<Vec<_>>());
            // Every mail of the batch is read before the intake is locked to record it: the
            // next batch's raw bytes are committed (and its reading starts) meanwhile.
            let prepared =
                tokio::task::spawn_blocking(move || reads.into_results().collect::<Vec<_>>())
                    .await?;
            let n = name.clone();
            let (results, recording) = blocking(intake, move |i| {
                if let Some(c) = position {
                    i.store.advance_mailbox_state(&n, c.uid_validity, c.uid)?;
                }
                let start = Instant::now();
                Ok((i.record_batch(&n, prepared.into_iter()), start.elapsed()))
            })
            .await?;
            // The mails of the batch whose results are committed (now, or before a crash): all
            // of them up to the first that failed.
            let mut failed_at = None;
            for ((at, key), result) in keys.iter().zip(results) {
                match result {
                    Ok(Some(t)) => {
                        if t.outcome == crate::domain::OutcomeKind::Held {
                            // Held mail waits for staff: it is said louder.
                            tracing::warn!(mail = %key, message_id = %t.message_id,
                                outcome = t.outcome.code(), reply = t.reply.code(),
                                unit = t.unit.as_deref().unwrap_or("-"), note = %t.note,
                                "mail taken and held for staff");
                        } else {
                            tracing::info!(mail = %key, message_id = %t.message_id,
                                outcome = t.outcome.code(), reply = t.reply.code(),
                                unit = t.unit.as_deref().unwrap_or("-"), note = %t.note,
                                "mail taken");
                        }
                        summary.count(&t);
                        took_any = true;
                    }
                    Ok(None) => summary.known += 1,
                    Err(e) => {
                        summary.failed += 1;
                        tracing::error!(mail = %key, error = %format!("{e:#}"), "cannot take mail");
                        if batch[*at].cursor.is_some() && failed_at.is_none() {
                            // The position must not pass a mail that is not taken: finish the
                            // ones before it, then give up this pass.
                            failed_at = Some((*at, e.context(format!("cannot take mail {key}"))));
                        }
                    }
                }
            }
            tracing::debug!(
                mails = keys.len(),
                record_ms = recording.as_millis() as u64,
                "batch recorded"
            );
            // A long pass (a backlog of thousands of mails) is alive while its batches commit.
            super::notify::alive();
            if let Some((at, e)) = failed_at {
                let _ = done_tx.send(Committed {
                    batch: index,
                    upto: at,
                });
                return Err(e);
            }
            // Gone: the server side failed. This batch is committed; the next pass lists it
            // again, recognises it as taken and does its post-action.
            let _ = done_tx.send(Committed {
                batch: index,
                upto: batch.len(),
            });
            if !options.once {
                // A long first pass answers as it goes; `--once` answers at the end.
                let (start, cpu) = (Instant::now(), cpu_time());
                summary.replies_written += blocking(intake, |i| i.deliver()).await?;
                replying += start.elapsed();
                summary.replying_cpu += cpu_time().saturating_sub(cpu);
            }
        }
        Ok(())
    };
    let (server, recorded) = tokio::join!(server, recorder);
    summary.oversized += oversized;
    // The position passes every batch whose post-action is done.
    if let Some(c) = passed(&marked_rx.try_iter().collect::<Vec<_>>()) {
        let n = name.clone();
        blocking(intake, move |i| {
            i.store.advance_mailbox_state(&n, c.uid_validity, c.uid)
        })
        .await?;
    }
    // A mail that failed says more than the connection that failed after it.
    recorded?;
    server?;
    let n = name.clone();
    blocking(intake, move |i| {
        i.store.record_poll(&n, None)?;
        if took_any {
            // The burst is over: the WAL is copied into the database beside the replies.
            i.store.checkpoint_soon();
        }
        Ok(())
    })
    .await?;
    summary.taking += started.elapsed() - replying;
    summary.taking_peak_kib = peak_memory_kib();
    let stages = super::summary::reset_peak_memory();
    let (start, cpu) = (Instant::now(), cpu_time());
    summary.replies_written += blocking(intake, |i| {
        let written = i.deliver()?;
        if written > 0 {
            // The replies' bytes, stored as they were written, are copied beside the report.
            i.store.checkpoint_soon();
        }
        Ok(written)
    })
    .await?;
    summary.replying += replying + start.elapsed();
    summary.replying_cpu += cpu_time().saturating_sub(cpu);
    if stages {
        summary.replying_peak_kib = summary.replying_peak_kib.max(peak_memory_kib());
        super::summary::reset_peak_memory();
    }
    if took_any || !intake_report_exists(intake).await? {
        let (start, cpu) = (Instant::now(), cpu_time());
        blocking(intake, |i| i.write_report()).await?;
        summary.reporting += start.elapsed();
        summary.reporting_cpu += cpu_time().saturating_sub(cpu);
        if stages {
            summary.reporting_peak_kib = summary.reporting_peak_kib.max(peak_memory_kib());
        }
    }
    Ok(())
}

/// A mail is read at most this many times without its reading finishing; the next time it is
/// held for staff without being read.
const MAX_READING_ATTEMPTS: u32 = 2;

/// Splits a listing into batches: mails in order, fetched together up to `size` mails and
/// `limit` bytes (a mail over `limit` is never fetched whole, so it counts for nothing). A mail
/// whose reading did not finish before (in `alone`) is a batch of its own.
fn batches(
    mails: Vec<MailRef>,
    size: usize,
    limit: u64,
    alone: &HashMap<String, u32>,
) -> Vec<Vec<MailRef>> {
    let mut out: Vec<Vec<MailRef>> = Vec::new();
    let mut bytes = 0u64;
    let mut last_alone = false;
    for m in mails {
        let whole = m.size <= limit;
        let this_alone = alone.contains_key(&m.source_key);
        let fits = !this_alone
            && !last_alone
            && out.last().is_some_and(|b| {
                b.len() < size && !(whole && !b.is_empty() && bytes + m.size > limit)
            });
        last_alone = this_alone;
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        if whole {
            bytes += m.size;
        }
        out.last_mut().expect("pushed").push(m);
    }
    out
}

/// A fetched mail's place in its batch, and its key.
type BatchKey = (usize, String);

/// A batch fetched, its mails being read: from the server side to the recording side.
struct Fetched {
    /// The batch's index in the pass.
    index: usize,
    /// Each fetched mail's place in the batch and key, in order.
    keys: Vec<BatchKey>,
    reads: Reads,
}

/// The first `upto` mails of batch `batch` are committed: from the recording side to the
/// server side for their post-action, then back, once it is done, so the position may pass
/// them.
#[derive(Debug, Clone, Copy)]
struct Committed {
    batch: usize,
    upto: usize,
}

/// Which listed mails a pass takes, and how.
struct Wanted<'a> {
    /// Keys of the mails taken before (never taken again).
    taken: &'a HashSet<String>,
    /// The size limit: a larger mail is taken by its header only.
    limit: u64,
    /// After a UIDVALIDITY change: UIDs up to this one may be mails taken before.
    rescan_until: u32,
}

/// Fetches the mails of a batch that are to be taken, each with how to take it and its index in
/// the batch: the whole ones in one command, the header of each oversized one. A mail taken
/// before, or gone meanwhile, is left out.
async fn fetch_batch<M: Mailbox>(
    mailbox: &mut M,
    batch: &[MailRef],
    wanted: &Wanted<'_>,
    oversized: &mut usize,
) -> Result<Vec<(usize, RawMail, How)>> {
    let whole: Vec<MailRef> = batch
        .iter()
        .filter(|m| m.size <= wanted.limit && !wanted.taken.contains(&m.source_key))
        .cloned()
        .collect();
    let mut fetched: HashMap<String, RawMail> = mailbox
        .fetch(&whole)
        .await?
        .into_iter()
        .map(|r| (r.source_key.clone(), r))
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    for (at, m) in batch.iter().enumerate() {
        if wanted.taken.contains(&m.source_key) {
            continue;
        }
        if m.size > wanted.limit {
            *oversized += 1;
            let header = mailbox.fetch_header(m).await?;
            out.push((at, header, How::Oversized { size: m.size }));
        } else if let Some(raw) = fetched.remove(&m.source_key) {
            let how = if m.cursor.is_some_and(|c| c.uid <= wanted.rescan_until) {
                How::UnlessKnown
            } else {
                How::Normal
            };
            out.push((at, raw, how));
        }
    }
    Ok(out)
}

async fn intake_report_exists(intake: &Arc<Mutex<Intake>>) -> Result<bool> {
    blocking(intake, |i| {
        Ok(i.config.report_dir().join("doi-chieu.xlsx").exists())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(key: &str, size: u64) -> MailRef {
        MailRef {
            source_key: key.into(),
            received_at: None,
            size,
            cursor: None,
        }
    }

    fn keys(batches: &[Vec<MailRef>]) -> Vec<Vec<&str>> {
        batches
            .iter()
            .map(|b| b.iter().map(|m| m.source_key.as_str()).collect())
            .collect()
    }

    #[test]
    fn a_listing_is_cut_into_batches_of_at_most_size_mails_in_order() {
        let mails: Vec<MailRef> = (0..5).map(|i| mail(&format!("m{i}"), 10)).collect();
        assert_eq!(
            keys(&batches(mails, 2, 1_000, &HashMap::new())),
            [vec!["m0", "m1"], vec!["m2", "m3"], vec!["m4"]]
        );
    }

    #[test]
    fn a_batch_holds_at_most_the_size_limit_in_bytes_and_an_oversized_mail_counts_for_nothing() {
        // 60 + 60 > 100: the second mail starts a new batch. The 500-byte mail is over the
        // limit, fetched by its header only, so it joins a batch without filling it.
        let mails = vec![
            mail("a", 60),
            mail("b", 60),
            mail("big", 500),
            mail("c", 30),
        ];
        assert_eq!(
            keys(&batches(mails, 10, 100, &HashMap::new())),
            [vec!["a"], vec!["b", "big", "c"]]
        );
    }
}
