//! What the `ade-stream` replicas say through their Leases: one per shard
//! (owner, checkpoint, lag, throughput) and one per worker (heartbeat, open
//! shards, the error that stops it), read into the consumer's status.
//!
//! A lease is live while `renewTime + leaseDurationSeconds` is in the future.
//!
//! Pure.

use std::collections::BTreeMap;

use ade_api::{lease::table, stream::LEASE_DURATION_SECONDS};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};

use crate::{
    api::v1alpha1::{ShardStatus, StreamConsumerStatus, Time},
    lease_table::Item,
};

// The contract with ade-stream, written once in ade-api.
pub use ade_api::lease::{
    CHECKPOINT, ERROR_MESSAGE, ERROR_REASON, KIND as LABEL_KIND, KIND_SHARD, KIND_WORKER, LAST_FLUSH, MILLIS_BEHIND,
    OPEN_SHARDS, PARENT_SHARDS, RECORDS_PER_SECOND, SHARD_END, SHARD_ID,
};

/// A live worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// Its pod.
    pub pod: String,
    /// Open shards it reports.
    pub open_shards: Option<i32>,
    /// Why it cannot work: (reason, message).
    pub error: Option<(String, String)>,
}

/// The consumer's state, read from its leases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Every shard lease, by shard id.
    pub shards: Vec<ShardStatus>,
    /// Open shards: the most any live worker reports, else the shard leases not
    /// at `SHARD_END`; `None` when there are neither.
    pub open_shards: Option<i32>,
    /// Largest lag of an unfinished shard, in milliseconds.
    pub max_lag_ms: Option<i64>,
    /// Records per second over the live shard leases.
    pub records_per_second: Option<f64>,
    /// Latest flush of any shard.
    pub last_flush: Option<Timestamp>,
    /// Live workers, by pod name.
    pub workers: Vec<Worker>,
}

fn annotation<'a>(lease: &'a Lease, key: &str) -> Option<&'a str> {
    lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn kind(lease: &Lease) -> Option<&str> {
    lease.metadata.labels.as_ref()?.get(LABEL_KIND).map(String::as_str)
}

/// Whether `lease` was renewed within its duration before `now`.
pub fn is_live(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return false };
    let Some(renewed) = &spec.renew_time else { return false };
    let seconds = spec
        .lease_duration_seconds
        .map_or(i64::from(LEASE_DURATION_SECONDS), i64::from);
    renewed
        .0
        .checked_add(SignedDuration::from_secs(seconds))
        .is_ok_and(|until| until > now)
}

fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref()?.holder_identity.clone().filter(|h| !h.is_empty())
}

/// An item of the DynamoDB lease table (`checkpoint.store: dynamodb`) as the
/// Lease the `kubernetes` store holds for it, so one reading serves both
/// stores; `None` for an item that is not a lease.
pub fn lease_of_item(item: &Item) -> Option<Lease> {
    let kind = item.get(table::KIND)?;
    let key = item.get(table::KEY)?;
    let mut annotations = BTreeMap::new();
    if kind == KIND_SHARD {
        annotations.insert(SHARD_ID.to_owned(), key.clone());
    }
    for (attribute, annotation) in table::ANNOTATIONS {
        if let Some(value) = item.get(attribute) {
            annotations.insert(annotation.to_owned(), value.clone());
        }
    }
    Some(Lease {
        metadata: ObjectMeta {
            name: Some(key.clone()),
            labels: Some(BTreeMap::from([(LABEL_KIND.to_owned(), kind.clone())])),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: item.get(table::HOLDER).cloned(),
            renew_time: item
                .get(table::RENEW_TIME)
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(MicroTime),
            lease_duration_seconds: item.get(table::DURATION_SECONDS).and_then(|d| d.parse().ok()),
            ..LeaseSpec::default()
        }),
    })
}

impl Observed {
    /// The status fields the leases give (shards, open shards, lag, rate,
    /// last flush), for `generation` with `replicas`; conditions are the
    /// caller's.
    pub fn status(&self, generation: Option<i64>, replicas: i32) -> StreamConsumerStatus {
        StreamConsumerStatus {
            observed_generation: generation,
            shards: self.shards.clone(),
            open_shards: self.open_shards.unwrap_or(0),
            replicas,
            lag: self.max_lag_ms.map(human_lag),
            records_per_second: self.records_per_second.map(|r| (r * 100.0).round() / 100.0),
            last_flush: self.last_flush.map(Time),
            ..StreamConsumerStatus::default()
        }
    }
}

/// Reads `leases` (those labelled with the consumer) at `now`.
pub fn observe(leases: &[Lease], now: Timestamp) -> Observed {
    let mut out = Observed::default();
    let mut unfinished = 0;
    let mut rates = Vec::new();
    for lease in leases {
        let live = is_live(lease, now);
        match kind(lease) {
            Some(KIND_SHARD) => {
                let Some(shard_id) = annotation(lease, SHARD_ID) else {
                    continue;
                };
                let checkpoint = annotation(lease, CHECKPOINT).map(str::to_owned);
                let finished = checkpoint.as_deref() == Some(SHARD_END);
                let lag = annotation(lease, MILLIS_BEHIND).and_then(|v| v.parse::<i64>().ok());
                if !finished {
                    unfinished += 1;
                    if let Some(lag) = lag {
                        out.max_lag_ms = Some(out.max_lag_ms.map_or(lag, |m| m.max(lag)));
                    }
                    if live
                        && let Some(rate) = annotation(lease, RECORDS_PER_SECOND).and_then(|v| v.parse::<f64>().ok())
                    {
                        rates.push(rate);
                    }
                }
                if let Some(at) = annotation(lease, LAST_FLUSH).and_then(|v| v.parse::<Timestamp>().ok()) {
                    out.last_flush = Some(out.last_flush.map_or(at, |m| m.max(at)));
                }
                out.shards.push(ShardStatus {
                    shard_id: shard_id.to_owned(),
                    owner: holder(lease).filter(|_| live),
                    checkpoint,
                    millis_behind_latest: lag,
                    parents: annotation(lease, PARENT_SHARDS)
                        .map(|p| {
                            p.split(',')
                                .map(str::trim)
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Some(KIND_WORKER) if live => {
                let Some(pod) = holder(lease) else { continue };
                let error = annotation(lease, ERROR_REASON).map(|reason| {
                    let message = annotation(lease, ERROR_MESSAGE).unwrap_or("no message").to_owned();
                    (reason.to_owned(), message)
                });
                out.workers.push(Worker {
                    pod,
                    open_shards: annotation(lease, OPEN_SHARDS).and_then(|v| v.parse().ok()),
                    error,
                });
            }
            _ => {}
        }
    }
    out.shards.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
    out.workers.sort_by(|a, b| a.pod.cmp(&b.pod));
    let reported = out.workers.iter().filter_map(|w| w.open_shards).max();
    out.open_shards = reported.or_else(|| (!out.shards.is_empty()).then_some(unfinished));
    out.records_per_second = (!rates.is_empty()).then(|| rates.iter().sum());
    out
}

/// A lag as people read it: `850ms`, `1.2s`, `45s`, `2m5s`, `1h3m`.
pub fn human_lag(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 9_950 {
        let tenths = (ms + 50) / 100;
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let seconds = (ms + 500) / 1000;
    if seconds < 60 {
        return format!("{seconds}s");
    }
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, s) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{m}m{s}s"),
        _ if m == 0 => format!("{h}h"),
        _ => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
#[path = "leases_tests.rs"]
mod tests;
