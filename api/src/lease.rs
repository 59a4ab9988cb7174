//! The Leases `ade-stream` replicas write and the operator reads into the
//! StreamConsumer's status: one per shard (owner, checkpoint, lag,
//! throughput) and one per worker (heartbeat, open shards, the error that
//! stops it). Labelled with [`crate::labels::STREAM_CONSUMER`] and [`KIND`].

/// Label: [`KIND_SHARD`] or [`KIND_WORKER`].
pub const KIND: &str = "ade.dev/lease-kind";
/// [`KIND`] of a shard's lease.
pub const KIND_SHARD: &str = "shard";
/// [`KIND`] of a worker's lease.
pub const KIND_WORKER: &str = "worker";

/// Annotation: the shard id.
pub const SHARD_ID: &str = "ade.dev/shard-id";
/// Annotation: comma-separated parent shard ids.
pub const PARENT_SHARDS: &str = "ade.dev/parent-shards";
/// Annotation: the sequence number read up to, or [`SHARD_END`].
pub const CHECKPOINT: &str = "ade.dev/checkpoint";
/// Annotation: a micro-batch written but not yet checkpointed (ade-stream's own).
pub const PENDING_FLUSH: &str = "ade.dev/pending-flush";
/// Annotation: `MillisBehindLatest` of the shard.
pub const MILLIS_BEHIND: &str = "ade.dev/millis-behind-latest";
/// Annotation: records per second read from the shard.
pub const RECORDS_PER_SECOND: &str = "ade.dev/records-per-second";
/// Annotation: when the shard's last micro-batch was written (RFC 3339).
pub const LAST_FLUSH: &str = "ade.dev/last-flush";
/// Annotation: open shards of the stream, as a worker sees them.
pub const OPEN_SHARDS: &str = "ade.dev/open-shards";
/// Annotation: why a worker cannot work (e.g. `StreamNotFound`).
pub const ERROR_REASON: &str = "ade.dev/error-reason";
/// Annotation: the worker's error, in words.
pub const ERROR_MESSAGE: &str = "ade.dev/error-message";

/// The [`CHECKPOINT`] of a shard read to its end.
pub const SHARD_END: &str = "SHARD_END";

/// The DynamoDB lease table (`checkpoint.store: dynamodb`): one item per
/// lease, the attributes below, with the same meaning as the Lease fields and
/// annotations above. Written by `ade-stream`, read by the operator.
pub mod table {
    /// Partition key: the shard id, or [`WORKER_PREFIX`] and the worker id.
    pub const KEY: &str = "leaseKey";
    /// The key prefix of worker heartbeat items.
    pub const WORKER_PREFIX: &str = "worker#";
    /// Incremented by every write; writes are conditional on it.
    pub const COUNTER: &str = "leaseCounter";
    /// [`super::KIND_SHARD`] or [`super::KIND_WORKER`].
    pub const KIND: &str = "leaseKind";
    /// The holder (a worker id, the pod name).
    pub const HOLDER: &str = "holderIdentity";
    /// Last renewal (RFC 3339).
    pub const RENEW_TIME: &str = "renewTime";
    /// When the holder took the lease (RFC 3339).
    pub const ACQUIRE_TIME: &str = "acquireTime";
    /// Seconds the lease stays valid after its renewal (a number).
    pub const DURATION_SECONDS: &str = "leaseDurationSeconds";
    /// Owner changes (a number).
    pub const TRANSITIONS: &str = "leaseTransitions";
    /// As the annotation [`super::PARENT_SHARDS`].
    pub const PARENT_SHARDS: &str = "parentShards";
    /// As the annotation [`super::CHECKPOINT`].
    pub const CHECKPOINT: &str = "checkpoint";
    /// As the annotation [`super::PENDING_FLUSH`].
    pub const PENDING_FLUSH: &str = "pendingFlush";
    /// As the annotation [`super::LAST_FLUSH`].
    pub const LAST_FLUSH: &str = "lastFlush";
    /// As the annotation [`super::MILLIS_BEHIND`] (a number).
    pub const MILLIS_BEHIND: &str = "millisBehindLatest";
    /// As the annotation [`super::RECORDS_PER_SECOND`] (a number).
    pub const RECORDS_PER_SECOND: &str = "recordsPerSecond";
    /// As the annotation [`super::OPEN_SHARDS`] (a number).
    pub const OPEN_SHARDS: &str = "openShards";
    /// As the annotation [`super::ERROR_REASON`].
    pub const ERROR_REASON: &str = "errorReason";
    /// As the annotation [`super::ERROR_MESSAGE`].
    pub const ERROR_MESSAGE: &str = "errorMessage";

    /// Item attributes that are Lease annotations, with the annotation's key.
    pub const ANNOTATIONS: [(&str, &str); 9] = [
        (PARENT_SHARDS, super::PARENT_SHARDS),
        (CHECKPOINT, super::CHECKPOINT),
        (PENDING_FLUSH, super::PENDING_FLUSH),
        (LAST_FLUSH, super::LAST_FLUSH),
        (MILLIS_BEHIND, super::MILLIS_BEHIND),
        (RECORDS_PER_SECOND, super::RECORDS_PER_SECOND),
        (OPEN_SHARDS, super::OPEN_SHARDS),
        (ERROR_REASON, super::ERROR_REASON),
        (ERROR_MESSAGE, super::ERROR_MESSAGE),
    ];
}
