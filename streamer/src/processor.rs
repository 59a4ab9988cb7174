//! The loop of one shard: read with GetRecords, transform, buffer, flush,
//! checkpoint. The order of a flush is what makes the output effectively
//! once: (1) announce the batch in the lease (`pending`, compare-and-swap, so
//! only the owner can), (2) put its objects, (3) move the checkpoint and
//! clear `pending` (compare-and-swap again). A worker that takes the shard
//! later and finds `pending` cuts its first batch at exactly the same
//! sequence number, so it rewrites the same objects with the same content.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use jiff::Timestamp;

use crate::{
    backoff::Backoff,
    held::{HeldLease, UpdateError},
    kinesis::{KinesisError, KinesisRecord},
    lease::{Checkpoint, LeaseStore, PendingFlush, plan::StartAt, plan::start_at},
    sink::{DataRecord, DeadLetter, Entry, RESERVED_PREFIX, store::SinkError},
    worker::{EventKind, Shared},
};

/// How a shard's processing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Read to SHARD_END and checkpointed there.
    Finished,
    /// Stopped on request; flushed, checkpointed and released.
    Released,
    /// Another worker took the lease; the buffer was dropped.
    Lost,
    /// A parent is not finished (the lease was released).
    NotReady,
}

struct Buffer {
    entries: Vec<Entry>,
    bytes: u64,
    since: Option<Instant>,
}

impl Buffer {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            bytes: 0,
            since: None,
        }
    }
}

/// Turns a Kinesis record into a buffered entry (data or dead letter).
pub fn to_entry(shared_obfuscator: &crate::transform::Obfuscator, record: &KinesisRecord) -> Entry {
    let dead = |reason: String| {
        let (payload_digest, digest_keyed) = shared_obfuscator.digest(&record.data);
        Entry::Dead(DeadLetter {
            sequence: record.sequence.clone(),
            arrival_ms: record.arrival_ms,
            reason,
            payload_digest,
            digest_keyed,
            payload_length: record.data.len(),
        })
    };
    match shared_obfuscator.process(&record.data) {
        Ok(fields) if fields.keys().any(|k| k.starts_with(RESERVED_PREFIX)) => dead(format!(
            "a field name starts with the reserved prefix {RESERVED_PREFIX}"
        )),
        Ok(fields) => Entry::Data(DataRecord {
            sequence: record.sequence.clone(),
            arrival_ms: record.arrival_ms,
            fields,
        }),
        Err(reason) => dead(reason),
    }
}

/// Processes the shard of `held` until it ends, is lost or is stopped.
pub async fn run<S: LeaseStore>(shared: Arc<Shared<S>>, held: Arc<HeldLease>) -> Outcome {
    let lease = held.snapshot().await;
    let shard = lease.shard_id.clone();
    // Defensive re-check of the parents against the store.
    for parent in &lease.parents {
        if let Ok(Some(p)) = shared.store.get_shard(parent).await
            && !p.finished()
        {
            release(&shared, &held).await;
            return Outcome::NotReady;
        }
    }
    let start = start_at(
        &lease,
        shared.config.stream.starting_position,
        shared.config.stream.timestamp,
    );
    if start == StartAt::Finished {
        release(&shared, &held).await;
        return Outcome::Finished;
    }
    shared.event(&shard, EventKind::Started);
    let mut pending = lease.pending.clone();
    let mut last_read: Option<String> = match &lease.checkpoint {
        Some(Checkpoint::Sequence(s)) => Some(s.clone()),
        _ => None,
    };
    let mut iterator = match get_iterator(&shared, &held, &shard, &start).await {
        Some(it) => it,
        None => return stop_outcome(&shared, &held).await,
    };
    let mut buffer = Buffer::new();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        if held.lost.is_cancelled() {
            return Outcome::Lost;
        }
        if held.stop.is_cancelled() {
            // Flush what we have unless a replayed batch is still incomplete.
            if pending.is_none() && !buffer.entries.is_empty() && !flush(&shared, &held, &shard, &mut buffer).await {
                return stop_outcome(&shared, &held).await;
            }
            release(&shared, &held).await;
            return Outcome::Released;
        }
        let page = match shared
            .kinesis
            .get_records(&iterator, shared.options.records_per_call)
            .await
        {
            Ok(page) => {
                backoff.reset();
                page
            }
            Err(KinesisError::ExpiredIterator) => {
                let from = last_read.clone().map_or_else(|| start.clone(), StartAt::AfterSequence);
                match get_iterator(&shared, &held, &shard, &from).await {
                    Some(it) => iterator = it,
                    None => return stop_outcome(&shared, &held).await,
                }
                continue;
            }
            Err(e) => {
                if matches!(e, KinesisError::Throttled(_)) {
                    shared.metrics.throttled.inc();
                }
                tracing::warn!(%shard, error = %e, "GetRecords failed; retrying");
                pause(&held, backoff.next_delay()).await;
                continue;
            }
        };
        if let Some(m) = page.millis_behind_latest {
            held.stats.millis_behind.store(m, Ordering::Relaxed);
        }
        let got = page.records.len();
        for record in &page.records {
            let size = record.data.len() as u64;
            held.stats.records.fetch_add(1, Ordering::Relaxed);
            held.stats.bytes.fetch_add(size, Ordering::Relaxed);
            shared.metrics.records.inc();
            shared.metrics.bytes.inc_by(size);
            buffer.entries.push(to_entry(&shared.obfuscator, record));
            buffer.bytes += size;
            buffer.since.get_or_insert_with(Instant::now);
            last_read = Some(record.sequence.clone());
            let cut = match &pending {
                Some(p) => p.last == record.sequence,
                None => shared
                    .policy
                    .due(buffer.entries.len() as u64, buffer.bytes, Duration::ZERO),
            };
            if cut {
                if !flush(&shared, &held, &shard, &mut buffer).await {
                    return stop_outcome(&shared, &held).await;
                }
                pending = None;
            }
        }
        let Some(next) = page.next else {
            // SHARD_END: flush the rest, checkpoint the end, hand the lease back.
            if !buffer.entries.is_empty() && !flush(&shared, &held, &shard, &mut buffer).await {
                return stop_outcome(&shared, &held).await;
            }
            let end = held
                .update(shared.store.as_ref(), |l| {
                    l.checkpoint = Some(Checkpoint::ShardEnd);
                    l.pending = None;
                    l.owner = None;
                    l.millis_behind_latest = Some(0);
                })
                .await;
            return match end {
                Ok(_) => {
                    shared.event(&shard, EventKind::Finished);
                    shared.metrics.lease_change("finished");
                    shared.request_sync();
                    Outcome::Finished
                }
                Err(_) => Outcome::Lost,
            };
        };
        iterator = next;
        let age = buffer.since.map_or(Duration::ZERO, |s| s.elapsed());
        if pending.is_none()
            && shared.policy.due(buffer.entries.len() as u64, buffer.bytes, age)
            && !flush(&shared, &held, &shard, &mut buffer).await
        {
            return stop_outcome(&shared, &held).await;
        }
        let wait = if got == 0 {
            shared.options.idle_poll
        } else {
            shared.options.busy_poll
        };
        pause(&held, wait).await;
    }
}

/// Sleeps unless stopped or lost first.
async fn pause(held: &HeldLease, d: Duration) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = held.stop.cancelled() => {}
        () = held.lost.cancelled() => {}
    }
}

async fn stop_outcome<S: LeaseStore>(shared: &Shared<S>, held: &HeldLease) -> Outcome {
    if held.lost.is_cancelled() {
        Outcome::Lost
    } else {
        release(shared, held).await;
        Outcome::Released
    }
}

/// Gets an iterator, retrying throttles and errors until stopped or lost.
async fn get_iterator<S: LeaseStore>(
    shared: &Shared<S>,
    held: &HeldLease,
    shard: &str,
    start: &StartAt,
) -> Option<String> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        if held.stop.is_cancelled() || held.lost.is_cancelled() {
            return None;
        }
        match shared.kinesis.iterator(shard, start).await {
            Ok(it) => return Some(it),
            Err(e) => {
                if matches!(e, KinesisError::Throttled(_)) {
                    shared.metrics.throttled.inc();
                }
                tracing::warn!(%shard, error = %e, "GetShardIterator failed; retrying");
                pause(held, backoff.next_delay()).await;
            }
        }
    }
}

/// Announces, writes and checkpoints the buffer. False when the lease was
/// lost or the processor was stopped before the checkpoint moved.
async fn flush<S: LeaseStore>(shared: &Shared<S>, held: &HeldLease, shard: &str, buffer: &mut Buffer) -> bool {
    let started = Instant::now();
    let (Some(first), Some(last)) = (buffer.entries.first(), buffer.entries.last()) else {
        return true;
    };
    let batch = PendingFlush {
        first: first.sequence().to_owned(),
        last: last.sequence().to_owned(),
    };
    let announced = held
        .update(shared.store.as_ref(), |l| l.pending = Some(batch.clone()))
        .await;
    if let Err(e) = announced {
        tracing::warn!(%shard, error = %e, "could not announce a flush");
        return false;
    }
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let written = loop {
        match shared.sink.write(shard, &buffer.entries).await {
            Ok(w) => {
                shared.set_sink_error(None);
                shared.set_catalog_error(None);
                break w;
            }
            Err(e) => {
                tracing::warn!(%shard, error = %e, "writing the batch failed; retrying");
                match e {
                    SinkError::Catalog { .. } => shared.set_catalog_error(Some(e.to_string())),
                    _ => shared.set_sink_error(Some(e.to_string())),
                }
                pause(held, backoff.next_delay()).await;
                if held.stop.is_cancelled() || held.lost.is_cancelled() {
                    return false;
                }
            }
        }
    };
    shared.event(
        shard,
        EventKind::Written {
            first: batch.first.clone(),
            last: batch.last.clone(),
        },
    );
    if let Some(fault) = &shared.options.fault
        && fault.hang_before_checkpoint.load(Ordering::SeqCst)
    {
        // Test-only fault injection: behave like a process frozen mid-flush.
        std::future::pending::<()>().await;
    }
    let now = Timestamp::now();
    let checkpointed = held
        .update(shared.store.as_ref(), |l| {
            l.checkpoint = Some(Checkpoint::Sequence(batch.last.clone()));
            l.pending = None;
            l.last_flush = Some(now);
        })
        .await;
    match checkpointed {
        Ok(_) => {
            shared.metrics.flush_duration.observe(started.elapsed().as_secs_f64());
            shared.metrics.objects_written.inc_by(written.objects.len() as u64);
            shared.metrics.dead_letters.inc_by(written.dead_letters as u64);
            buffer.entries.clear();
            buffer.bytes = 0;
            buffer.since = None;
            true
        }
        Err(UpdateError::Lost(_)) => false,
        Err(e) => {
            tracing::warn!(%shard, error = %e, "checkpoint failed; the next owner rewrites the batch");
            false
        }
    }
}

/// Clears the owner so another worker can take the shard at once.
async fn release<S: LeaseStore>(shared: &Shared<S>, held: &HeldLease) {
    match held.update(shared.store.as_ref(), |l| l.owner = None).await {
        Ok(l) => {
            shared.metrics.lease_change("released");
            shared.event(&l.shard_id, EventKind::Released);
        }
        Err(e) => tracing::warn!(error = %e, "releasing a lease failed; it will expire"),
    }
}
