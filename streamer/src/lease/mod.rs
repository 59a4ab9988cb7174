//! Shard leases in the Kinesis Client Library's model: one lease per shard
//! with an owner, a renewal time, a transition counter and a checkpoint; one
//! heartbeat lease per worker. [`plan`] decides (pure), [`store`] persists
//! with compare-and-swap, [`names`] derives Kubernetes object names.

pub mod dynamo;
pub mod kube;
pub mod memory;
pub mod names;
pub mod plan;
pub mod store;

use jiff::{SignedDuration, Timestamp};

pub use store::{LeaseStore, StoreError};

/// How far a shard has been durably processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Every record up to and including this sequence number is in the sink.
    Sequence(String),
    /// The shard is closed and every record of it is in the sink.
    ShardEnd,
}

impl Checkpoint {
    /// The stored text: the sequence number or `SHARD_END`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sequence(s) => s,
            Self::ShardEnd => ade_api::lease::SHARD_END,
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" => None,
            ade_api::lease::SHARD_END => Some(Self::ShardEnd),
            s => Some(Self::Sequence(s.to_owned())),
        }
    }
}

/// A flush that was announced but not yet checkpointed: records after the
/// checkpoint up to `last` form one batch. Whoever processes the shard next
/// cuts its first batch exactly there, so the objects it writes have the same
/// names (and content) as any the previous owner may already have written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFlush {
    /// First sequence number of the batch.
    pub first: String,
    /// Last sequence number of the batch.
    pub last: String,
}

impl PendingFlush {
    /// `first..last`, as stored.
    pub fn encode(&self) -> String {
        format!("{}..{}", self.first, self.last)
    }

    /// Parses `first..last`.
    pub fn decode(text: &str) -> Option<Self> {
        let (first, last) = text.split_once("..")?;
        (!first.is_empty() && !last.is_empty()).then(|| Self {
            first: first.to_owned(),
            last: last.to_owned(),
        })
    }
}

/// The lease of one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardLease {
    /// Shard id, e.g. `shardId-000000000003`.
    pub shard_id: String,
    /// Parent shard ids (one after a split, two after a merge).
    pub parents: Vec<String>,
    /// Worker holding it, `None` when free.
    pub owner: Option<String>,
    /// Seconds the lease stays valid after `renew_time`.
    pub duration_secs: u32,
    /// Last renewal.
    pub renew_time: Option<Timestamp>,
    /// When the current owner took it.
    pub acquire_time: Option<Timestamp>,
    /// How many times it changed owner.
    pub transitions: i32,
    /// Durable progress.
    pub checkpoint: Option<Checkpoint>,
    /// An announced, unconfirmed flush.
    pub pending: Option<PendingFlush>,
    /// Lag reported by the last GetRecords.
    pub millis_behind_latest: Option<i64>,
    /// Recent processing rate.
    pub records_per_second: Option<f64>,
    /// Time of the last successful flush.
    pub last_flush: Option<Timestamp>,
    /// The store's concurrency token (resourceVersion, or a counter); empty
    /// for a lease not yet stored.
    pub version: String,
}

impl ShardLease {
    /// A new, free lease.
    pub fn new(shard_id: &str, parents: Vec<String>, duration_secs: u32) -> Self {
        Self {
            shard_id: shard_id.to_owned(),
            parents,
            owner: None,
            duration_secs,
            renew_time: None,
            acquire_time: None,
            transitions: 0,
            checkpoint: None,
            pending: None,
            millis_behind_latest: None,
            records_per_second: None,
            last_flush: None,
            version: String::new(),
        }
    }

    /// True when the shard has been processed to its end.
    pub fn finished(&self) -> bool {
        self.checkpoint == Some(Checkpoint::ShardEnd)
    }

    /// True when the lease has an owner whose renewal is still valid at `now`.
    pub fn held_at(&self, now: Timestamp) -> bool {
        match self.owner.as_deref() {
            None | Some("") => false,
            Some(_) => valid_until(self.renew_time.or(self.acquire_time), self.duration_secs) > Some(now),
        }
    }
}

/// The heartbeat lease of one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerLease {
    /// Worker identity (pod name).
    pub worker_id: String,
    /// Seconds it stays valid after `renew_time`.
    pub duration_secs: u32,
    /// Last heartbeat.
    pub renew_time: Option<Timestamp>,
    /// Open shards seen at its last shard sync.
    pub open_shards: Option<u32>,
    /// Why it cannot work, if it cannot: (reason, message).
    pub error: Option<(String, String)>,
    /// Store concurrency token.
    pub version: String,
}

impl WorkerLease {
    /// True while the heartbeat is fresh.
    pub fn alive_at(&self, now: Timestamp) -> bool {
        valid_until(self.renew_time, self.duration_secs) > Some(now)
    }
}

fn valid_until(renewed: Option<Timestamp>, secs: u32) -> Option<Timestamp> {
    renewed.and_then(|t| t.checked_add(SignedDuration::from_secs(i64::from(secs))).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_and_pending_round_trip() {
        assert_eq!(Checkpoint::parse("SHARD_END"), Some(Checkpoint::ShardEnd));
        assert_eq!(Checkpoint::parse("495"), Some(Checkpoint::Sequence("495".into())));
        assert_eq!(Checkpoint::parse(""), None);
        let p = PendingFlush {
            first: "1".into(),
            last: "9".into(),
        };
        assert_eq!(PendingFlush::decode(&p.encode()), Some(p));
        assert_eq!(PendingFlush::decode("..9"), None);
        assert_eq!(PendingFlush::decode("19"), None);
    }

    #[test]
    fn held_means_owned_and_fresh() {
        let now: Timestamp = "2026-11-26T10:00:00Z".parse().expect("ts");
        let mut l = ShardLease::new("s", vec![], 30);
        assert!(!l.held_at(now));
        l.owner = Some("w".into());
        l.renew_time = Some(now - SignedDuration::from_secs(29));
        assert!(l.held_at(now));
        l.renew_time = Some(now - SignedDuration::from_secs(30));
        assert!(!l.held_at(now));
        l.owner = Some(String::new());
        l.renew_time = Some(now);
        assert!(!l.held_at(now));
    }
}
