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
