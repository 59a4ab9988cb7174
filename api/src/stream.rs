//! What the operator and `ade-stream` agree on besides the Leases
//! ([`crate::lease`]): the environment of the pods ([`ENV`], [`WORKER_ID_ENV`]),
//! the health port, and the configuration document.
//!
//! The configuration document of `ade-stream`: the StreamConsumer controller
//! builds it from the StreamConsumer and puts it in the pods' [`ENV`]
//! variable; `ade-stream` parses it (or the same JSON from `--config <file>`)
//! and checks what serde cannot (consistency, ranges).
//!
//! camelCase; an absent optional value is written as `null`, except
//! `keyFile` and `keyUri`, which are left out when not used. Every struct denies unknown
//! fields, so a document from a newer operator fails loudly, naming the field,
//! instead of being half understood. The defaults are for hand-written
//! documents: the operator writes every field.
//!
//! The enums the document shares with the StreamConsumer spec
//! ([`StartingPosition`], [`ObfuscationMethod`], [`CheckpointStore`]) are the
//! CRD's own: they are written the same in both. The sink format is not
//! (`jsonl` in the spec, `json` here), so it has its own [`SinkFormat`].

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::v1alpha1::{CheckpointStore, ObfuscationMethod, StartingPosition};

/// The environment variable that holds the document.
pub const ENV: &str = "ADE_STREAM_CONFIG";

/// The environment variable that holds the worker's identity: the operator
/// sets it to the pod's name (downward API); ade-stream names its worker
/// Lease and holds shard Leases with it.
pub const WORKER_ID_ENV: &str = "POD_NAME";

/// The port of ade-stream's `/metrics` and [`HEALTH_PATH`] (its default
/// `--metrics-addr`, and the port the operator's probes and scrapers use).
pub const METRICS_PORT: u16 = 9090;

/// The liveness and readiness path ade-stream serves.
pub const HEALTH_PATH: &str = "/healthz";

/// Seconds a lease (shard or worker) stays valid without renewal: what the
/// operator writes, and what `ade-stream` assumes when the field is absent.
pub const LEASE_DURATION_SECONDS: u32 = 30;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Namespace of the StreamConsumer (and of its Leases).
    pub namespace: String,
    /// Name of the StreamConsumer; prefixes every lease name.
    pub consumer: String,
    /// UID of the StreamConsumer, for owner references; empty for none.
    #[serde(default)]
    pub consumer_uid: String,
    /// The Kinesis stream.
    pub stream: StreamConfig,
    /// Field obfuscation rules, applied in order (the spec's order).
    #[serde(default)]
    pub obfuscate: Vec<ObfuscateRule>,
    /// Where output goes.
    pub sink: SinkConfig,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
    /// Seconds a lease stays valid without renewal.
    #[serde(default = "default_lease_duration")]
    pub lease_duration_seconds: u32,
}

fn default_lease_duration() -> u32 {
    LEASE_DURATION_SECONDS
}

/// The Kinesis source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// Where a shard without a checkpoint starts. Shards that have a parent
    /// always start at `TRIM_HORIZON`, so nothing after a reshard is lost.
    #[serde(default)]
    pub starting_position: StartingPosition,
    /// Start time for `AT_TIMESTAMP` (RFC 3339), else null.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

/// One obfuscation rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObfuscateRule {
    /// Field name; a dotted path (`user.email`) reaches into nested objects.
    pub field: String,
    /// What to do with it.
    pub method: ObfuscationMethod,
    /// File holding the key (mounted from a Secret); absent for `drop` and
    /// when the key is in S3 (`keyUri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// S3 object holding the key (`s3://bucket/key`), read once at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_uri: Option<String>,
}

/// The object store sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SinkConfig {
    /// `s3://bucket/prefix/`.
    pub uri: String,
    /// Output format.
    #[serde(default)]
    pub format: SinkFormat,
    /// Partition template, e.g. `dt={{date}}/hour={{hour}}`.
    #[serde(default)]
    pub partition_by: String,
    /// Where dead letters go, or null for the default (see [`SinkConfig::dead_letter_uri`]).
    #[serde(default)]
    pub dead_letter_uri: Option<String>,
    /// When buffers are written.
    #[serde(default)]
    pub flush: FlushConfig,
    /// The Glue table partitions are registered in, or null: its values are
    /// templates over the `partitionBy` variables; an absent region is the
    /// stream's.
    #[serde(default)]
    pub catalog: Option<crate::v1alpha1::CatalogPartition>,
}

impl SinkConfig {
    /// The dead-letter URI: the one given, else `<uri without trailing />_dead_letter/`.
    pub fn dead_letter_uri(&self) -> String {
        match &self.dead_letter_uri {
            Some(uri) if !uri.is_empty() => uri.clone(),
            _ => format!("{}_dead_letter/", self.uri.trim_end_matches('/')),
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// Apache Parquet, schema inferred per object.
    #[default]
    Parquet,
    /// JSON lines (the spec's `jsonl`).
    Json,
}

impl From<crate::v1alpha1::SinkFormat> for SinkFormat {
    fn from(format: crate::v1alpha1::SinkFormat) -> Self {
        match format {
            crate::v1alpha1::SinkFormat::Parquet => Self::Parquet,
            crate::v1alpha1::SinkFormat::Jsonl => Self::Json,
        }
    }
}

/// Flush thresholds; whichever is reached first flushes a shard's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlushConfig {
    /// Records per object.
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    /// Payload bytes per object.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Seconds since the first buffered record.
    #[serde(default = "default_max_interval")]
    pub max_interval_seconds: u64,
}

fn default_max_records() -> u64 {
    100_000
}

fn default_max_bytes() -> u64 {
    128 * 1024 * 1024
}

fn default_max_interval() -> u64 {
    60
}

impl Default for FlushConfig {
    fn default() -> Self {
        Self {
            max_records: default_max_records(),
            max_bytes: default_max_bytes(),
            max_interval_seconds: default_max_interval(),
        }
    }
}

/// Checkpointing and lease storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Seconds between lease renewals carrying progress (lag, rate).
    #[serde(default = "default_checkpoint_interval")]
    pub interval_seconds: u64,
    /// Where leases live.
    #[serde(default)]
    pub store: CheckpointStore,
    /// The DynamoDB table for store `dynamodb`, else null.
    #[serde(default)]
    pub dynamodb_table: Option<String>,
}

fn default_checkpoint_interval() -> u64 {
    10
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
