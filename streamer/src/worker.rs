//! The coordinator of one worker: heartbeat, shard sync, lease renewal,
//! lease taking and stealing (decided by [`crate::lease::plan`]), one
//! processor task per held shard, and the hand-off on shutdown.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use jiff::Timestamp;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub use crate::events::{Event, EventKind, EventLog};
use crate::{
    config::Config,
    held::HeldLease,
    kinesis::{Kinesis, KinesisError, ShardInfo},
    lease::{LeaseStore, ShardLease, WorkerLease, plan},
    metrics::{Metrics, ShardLabels},
    processor::{self, Outcome},
    sink::{FlushPolicy, store::Sink},
    transform::Obfuscator,
};

/// Test-only fault injection.
#[derive(Debug, Default)]
pub struct Faults {
    /// When set, a flush that has written its objects hangs before it
    /// checkpoints (a process frozen mid-flush).
    pub hang_before_checkpoint: AtomicBool,
}

/// Tuning that is not part of the controller's contract.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker identity.
    pub worker_id: String,
    /// Sleep after an empty GetRecords.
    pub idle_poll: Duration,
    /// Sleep after a non-empty GetRecords (Kinesis allows 5 calls/s/shard).
    pub busy_poll: Duration,
    /// GetRecords limit.
    pub records_per_call: i32,
    /// Shard sync period.
    pub shard_sync: Duration,
    /// Fault injection (tests).
    pub fault: Option<Arc<Faults>>,
}

impl Options {
    /// Defaults for `worker_id`.
    pub fn new(worker_id: &str) -> Self {
        Self {
            worker_id: worker_id.to_owned(),
            idle_poll: Duration::from_secs(1),
            busy_poll: Duration::from_millis(200),
            records_per_call: 10_000,
            shard_sync: Duration::from_secs(30),
            fault: None,
        }
    }
}

/// What every task of a worker shares.
#[derive(Debug)]
pub struct Shared<S> {
    /// The configuration.
    pub config: Config,
    /// Tuning.
    pub options: Options,
    /// Leases.
    pub store: Arc<S>,
    /// Kinesis.
    pub kinesis: Kinesis,
    /// Output.
    pub sink: Sink,
    /// Transforms.
    pub obfuscator: Obfuscator,
    /// Flush thresholds.
    pub policy: FlushPolicy,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The processing log.
    pub events: Arc<EventLog>,
    sync_now: Notify,
    errors: Mutex<BTreeMap<&'static str, String>>,
}

impl<S: LeaseStore> Shared<S> {
    /// Everything a worker needs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        options: Options,
        store: Arc<S>,
        kinesis: Kinesis,
        sink: Sink,
        obfuscator: Obfuscator,
        metrics: Arc<Metrics>,
        events: Arc<EventLog>,
    ) -> Self {
        let policy = FlushPolicy::from(config.sink.flush);
        Self {
            config,
            options,
            store,
            kinesis,
            sink,
            obfuscator,
            policy,
            metrics,
            events,
            sync_now: Notify::new(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// Logs an event of `shard`.
    pub fn event(&self, shard: &str, kind: EventKind) {
        tracing::info!(shard, event = ?kind, "shard event");
        self.events.push(&self.options.worker_id, shard, kind);
    }

    /// Asks the coordinator for a shard sync now (after a SHARD_END).
    pub fn request_sync(&self) {
        self.sync_now.notify_one();
    }

    fn set_error(&self, reason: &'static str, message: Option<String>) {
        let mut errors = self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match message {
            Some(m) => errors.insert(reason, m),
            None => errors.remove(reason),
        };
    }

    /// Records (or clears) the `SinkUnwritable` condition.
    pub fn set_sink_error(&self, message: Option<String>) {
        self.set_error("SinkUnwritable", message);
    }

    /// Records (or clears) the `CatalogUnwritable` condition: a partition
    /// could not be registered, so nothing under it is written yet.
    pub fn set_catalog_error(&self, message: Option<String>) {
        self.set_error("CatalogUnwritable", message);
    }

    fn error(&self) -> Option<(String, String)> {
        let errors = self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        errors.iter().next().map(|(r, m)| ((*r).to_owned(), m.clone()))
    }
}

/// Runs the worker until `shutdown`, then hands every lease off: each
/// processor flushes, checkpoints and clears its owner; the worker's
/// heartbeat lease is deleted.
pub async fn run<S: LeaseStore>(shared: Arc<Shared<S>>, shutdown: CancellationToken) {
    let me = shared.options.worker_id.clone();
    let duration = shared.config.lease_duration_seconds;
    let tick = Duration::from_secs(shared.config.checkpoint.interval_seconds.max(1))
        .min(Duration::from_secs(u64::from(duration)) / 3);
    let mut held: BTreeMap<String, Arc<HeldLease>> = BTreeMap::new();
    let mut tasks: JoinSet<(String, Outcome)> = JoinSet::new();
    let mut heartbeat: Option<WorkerLease> = None;
    let mut open_shards: Option<u32> = None;
    let mut last_sync: Option<Instant> = None;
    let mut last_tick = Instant::now();

    while !shutdown.is_cancelled() {
        // Shard sync.
        if last_sync.is_none_or(|t| t.elapsed() >= shared.options.shard_sync) {
            match sync_shards(&shared).await {
                Ok(open) => {
                    open_shards = Some(open);
                    last_sync = Some(Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "shard sync failed"),
            }
        }
        heartbeat = beat(&shared, heartbeat, open_shards, duration).await;
        renew(&shared, &held, last_tick.elapsed()).await;
        last_tick = Instant::now();
        take(&shared, &mut held, &mut tasks).await;
        shared
            .metrics
            .leases_held
            .set(i64::try_from(held.len()).unwrap_or(i64::MAX));

        let deadline = tokio::time::sleep(tick);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                () = shutdown.cancelled() => break,
                () = shared.sync_now.notified() => { last_sync = None; break }
                Some(done) = tasks.join_next() => {
                    if let Ok((shard, outcome)) = done {
                        held.remove(&shard);
                        if outcome == Outcome::Lost {
                            shared.metrics.lease_change("lost");
                            shared.event(&shard, crate::worker::EventKind::Lost);
                        }
                    }
                }
            }
        }
    }

    // Hand-off: stop every processor gracefully and wait for it.
    tracing::info!(leases = held.len(), "shutting down: flushing and handing leases off");
    for h in held.values() {
        h.stop.cancel();
    }
    while tasks.join_next().await.is_some() {}
    shared.metrics.leases_held.set(0);
    if let Err(e) = shared.store.delete_worker(&me).await {
        tracing::warn!(error = %e, "deleting the worker lease failed");
    }
}

/// Keeps a heartbeat lease carrying `reason` and `message` until
/// `shutdown`, for a worker that cannot work at all (e.g. `InvalidConfig`:
/// an obfuscation key is missing), then deletes it.
pub async fn report_only<S: LeaseStore>(
    store: &S,
    worker_id: &str,
    duration: u32,
    reason: &str,
    message: &str,
    shutdown: CancellationToken,
) {
    let mut lease = WorkerLease {
        worker_id: worker_id.to_owned(),
        duration_secs: duration,
        renew_time: None,
        open_shards: None,
        error: Some((reason.to_owned(), message.to_owned())),
        version: String::new(),
    };
    while !shutdown.is_cancelled() {
        lease.renew_time = Some(Timestamp::now());
        match store.put_worker(&lease).await {
            Ok(stored) => lease = stored,
            Err(e) => {
                tracing::warn!(error = %e, "reporting the error failed");
                let found = store
                    .list_workers()
                    .await
                    .ok()
                    .and_then(|ws| ws.into_iter().find(|w| w.worker_id == worker_id));
                lease.version = found.map(|w| w.version).unwrap_or_default();
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(Duration::from_secs(u64::from(duration.max(3)) / 3)) => {}
        }
    }
    if let Err(e) = store.delete_worker(worker_id).await {
        tracing::warn!(error = %e, "deleting the worker lease failed");
    }
}

/// Lists shards and creates the missing leases, parents first. Returns the
/// number of open shards.
async fn sync_shards<S: LeaseStore>(shared: &Shared<S>) -> Result<u32, String> {
    let shards = match shared.kinesis.list_shards().await {
        Ok(s) => {
            shared.set_error("StreamNotFound", None);
            shared.set_error("CredentialsRefused", None);
            s
        }
        Err(e) => {
            match &e {
                KinesisError::StreamNotFound(m) => shared.set_error("StreamNotFound", Some(m.clone())),
                KinesisError::CredentialsRefused(m) => shared.set_error("CredentialsRefused", Some(m.clone())),
                _ => {}
            }
            return Err(e.to_string());
        }
    };
    let existing: Vec<String> = shared
        .store
        .list_shards()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|l| l.shard_id)
        .collect();
    for shard in parents_first(&shards) {
        if existing.contains(&shard.id) {
            continue;
        }
        let lease = ShardLease::new(&shard.id, shard.parents.clone(), shared.config.lease_duration_seconds);
        shared.store.create_shard(&lease).await.map_err(|e| e.to_string())?;
    }
    Ok(u32::try_from(shards.iter().filter(|s| !s.closed).count()).unwrap_or(u32::MAX))
}

/// Orders shards so that every parent comes before its children (pure).
pub fn parents_first(shards: &[ShardInfo]) -> Vec<&ShardInfo> {
    let mut out: Vec<&ShardInfo> = Vec::with_capacity(shards.len());
    let mut rest: Vec<&ShardInfo> = shards.iter().collect();
    while !rest.is_empty() {
        let before = rest.len();
        rest.retain(|s| {
            let ready = s
                .parents
                .iter()
                .all(|p| out.iter().any(|o| &o.id == p) || !shards.iter().any(|x| &x.id == p));
            if ready {
                out.push(s);
            }
            !ready
        });
        if rest.len() == before {
            out.append(&mut rest); // a cycle cannot happen in Kinesis; keep going anyway
        }
    }
    out
}

async fn beat<S: LeaseStore>(
    shared: &Shared<S>,
    current: Option<WorkerLease>,
    open_shards: Option<u32>,
    duration: u32,
) -> Option<WorkerLease> {
    let mut lease = current.unwrap_or_else(|| WorkerLease {
        worker_id: shared.options.worker_id.clone(),
        duration_secs: duration,
        renew_time: None,
        open_shards: None,
        error: None,
        version: String::new(),
    });
    lease.renew_time = Some(Timestamp::now());
    lease.open_shards = open_shards;
    lease.error = shared.error();
    match shared.store.put_worker(&lease).await {
        Ok(stored) => Some(stored),
        Err(e) => {
            tracing::warn!(error = %e, "heartbeat failed; re-reading the worker lease");
            let mine = shared
                .store
                .list_workers()
                .await
                .ok()
                .and_then(|ws| ws.into_iter().find(|w| w.worker_id == shared.options.worker_id));
            Some(mine.unwrap_or(WorkerLease {
                version: String::new(),
                ..lease
            }))
        }
    }
}

async fn renew<S: LeaseStore>(shared: &Shared<S>, held: &BTreeMap<String, Arc<HeldLease>>, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(0.001);
    let mut bytes_total = 0u64;
    for (shard, h) in held {
        let records = h.stats.records.swap(0, Ordering::Relaxed);
        bytes_total += h.stats.bytes.swap(0, Ordering::Relaxed);
        let lag = h.stats.millis_behind.load(Ordering::Relaxed);
        let rate = records as f64 / secs;
        let labels = ShardLabels { shard: shard.clone() };
        shared.metrics.records_per_second.get_or_create(&labels).set(rate);
        if lag >= 0 {
            shared.metrics.millis_behind_latest.get_or_create(&labels).set(lag);
        }
        let now = Timestamp::now();
        let renewed = h
            .update(shared.store.as_ref(), |l| {
                if l.owner.as_deref() == Some(shared.options.worker_id.as_str()) {
                    l.renew_time = Some(now);
                }
                l.records_per_second = Some(rate);
                if lag >= 0 {
                    l.millis_behind_latest = Some(lag);
                }
            })
            .await;
        if let Err(e) = renewed {
            tracing::warn!(%shard, error = %e, "renewal failed");
        }
    }
    shared.metrics.bytes_per_second.set(bytes_total as f64 / secs);
}

async fn take<S: LeaseStore>(
    shared: &Arc<Shared<S>>,
    held: &mut BTreeMap<String, Arc<HeldLease>>,
    tasks: &mut JoinSet<(String, Outcome)>,
) {
    let me = shared.options.worker_id.clone();
    let (leases, workers) = match (shared.store.list_shards().await, shared.store.list_workers().await) {
        (Ok(l), Ok(w)) => (l, w),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "listing leases failed");
            return;
        }
    };
    if shared.error().is_some_and(|(r, _)| r != "SinkUnwritable") {
        return; // cannot read the stream: take nothing
    }
    let now = Timestamp::now();
    let view = plan::unheld_mine_freed(&me, |shard| held.contains_key(shard), &leases);
    let decided = plan::plan(&me, now, &view, &workers);
    let steal = decided.steal.iter().map(|s| (s, "stolen"));
    for (shard, change) in decided.take.iter().map(|s| (s, "taken")).chain(steal) {
        if held.contains_key(shard) {
            continue;
        }
        let Some(current) = leases.iter().find(|l| &l.shard_id == shard) else {
            continue;
        };
        let mut next = current.clone();
        if next.owner.as_deref() != Some(me.as_str()) {
            next.transitions += 1;
        }
        next.owner = Some(me.clone());
        next.acquire_time = Some(now);
        next.renew_time = Some(now);
        next.duration_secs = shared.config.lease_duration_seconds;
        match shared.store.update_shard(&next).await {
            Ok(stored) => {
                shared.metrics.lease_change(change);
                shared.event(shard, EventKind::Taken);
                let h = HeldLease::new(stored, &me);
                held.insert(shard.clone(), h.clone());
                let task_shared = shared.clone();
                let id = shard.clone();
                tasks.spawn(async move { (id, processor::run(task_shared, h).await) });
            }
            Err(e) => tracing::debug!(%shard, error = %e, "lost the race for a lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str]) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            closed: false,
        }
    }

    #[test]
    fn parents_come_first() {
        let shards = [
            shard("m", &["c", "d"]),
            shard("c", &["a"]),
            shard("d", &[]),
            shard("a", &[]),
            shard("x", &["gone"]),
        ];
        let order: Vec<&str> = parents_first(&shards).iter().map(|s| s.id.as_str()).collect();
        let pos = |id: &str| order.iter().position(|o| *o == id).expect("present");
        assert_eq!(order.len(), 5);
        assert!(pos("a") < pos("c") && pos("c") < pos("m") && pos("d") < pos("m"));
    }
}
