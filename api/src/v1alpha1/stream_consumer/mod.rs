//! StreamConsumer: a long-running consumer of a stream that lands records in the lake.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
#[cfg(feature = "kube")]
use kube::{CustomResource, KubeSchema};
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{CatalogPartition, Duration, LocalObjectReference, SecretKeyRef, Time};

mod status;

pub use status::*;

/// Reads a Kinesis stream with one lease per shard, obfuscates sensitive
/// fields at the door, and writes micro-batches to an object store with
/// deterministic object names: at-least-once reading, effectively-once output.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "kube", derive(CustomResource, KubeSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "ade.dev",
        version = "v1alpha1",
        kind = "StreamConsumer",
        namespaced,
        status = "StreamConsumerStatus",
        shortname = "scon",
        category = "ade",
        doc = "A Kinesis consumer that obfuscates sensitive fields and lands records in an object store as Parquet or JSON lines.",
        printcolumn(name = "Stream", type_ = "string", json_path = ".spec.source.kinesis.streamName"),
        printcolumn(name = "Shards", type_ = "integer", json_path = ".status.openShards"),
        printcolumn(name = "Replicas", type_ = "integer", json_path = ".status.replicas"),
        printcolumn(name = "Lag", type_ = "string", json_path = ".status.lag"),
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.runtime != 'emr' || has(self.poolRef)").message("runtime emr needs poolRef: the ClusterPool (provider emr) whose cluster runs the consumer").field_path(".poolRef")))]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.runtime != 'emr' || (has(self.checkpoint) && has(self.checkpoint.store) && self.checkpoint.store == 'dynamodb')").message("runtime emr needs checkpoint.store dynamodb: EMR nodes cannot reach this cluster's Leases").field_path(".checkpoint")))]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.runtime != 'emr' || !has(self.transform) || !has(self.transform.obfuscate) || self.transform.obfuscate.all(r, !has(r.keySecretRef))").message("runtime emr cannot mount Secrets on EMR nodes: give hmac-sha256 and token rules a keyUri (an S3 object the instance profile may read) instead of keySecretRef").field_path(".transform")))]
pub struct StreamConsumerSpec {
    /// The stream to read.
    pub source: StreamSource,

    /// Where the consumer runs: `kubernetes` (ade-stream pods, the default) or `emr`
    /// (a streaming step on a persistent EMR cluster of `poolRef`).
    #[serde(default)]
    pub runtime: StreamRuntime,

    /// The ClusterPool for runtime `emr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_ref: Option<LocalObjectReference>,

    /// Transforms applied to every record before anything is written.
    #[serde(default)]
    pub transform: Transform,

    /// Where records land.
    pub sink: Sink,

    /// How progress is checkpointed.
    #[serde(default)]
    pub checkpoint: Checkpoint,

    /// Replicas scale on per-shard lag, never above the number of open shards.
    #[serde(default)]
    pub scaling: Scaling,

    /// Image of the consumer pods. Default: the operator's configured ade-stream image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The stream a consumer reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamSource {
    /// An Amazon Kinesis data stream.
    pub kinesis: KinesisSource,
}

/// An Amazon Kinesis data stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("(self.startingPosition == 'AT_TIMESTAMP') == has(self.timestamp)").message("set timestamp when, and only when, startingPosition is AT_TIMESTAMP")))]
pub struct KinesisSource {
    /// Name of the stream.
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9_.\-]+$"))
    )]
    pub stream_name: String,

    /// AWS region of the stream.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")))]
    pub region: String,

    /// Where a shard without a checkpoint starts: `TRIM_HORIZON` (oldest record,
    /// the default), `LATEST` or `AT_TIMESTAMP`.
    #[serde(default)]
    pub starting_position: StartingPosition,

    /// Start time for `AT_TIMESTAMP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Time>,
}

/// Where a shard without a checkpoint starts reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    /// The oldest record still in the shard.
    #[default]
    TrimHorizon,
    /// Only records that arrive after the consumer starts.
    Latest,
    /// Records from `timestamp` on.
    AtTimestamp,
}

/// Where a consumer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum StreamRuntime {
    /// ade-stream pods in a Deployment.
    #[default]
    Kubernetes,
    /// A streaming step on a persistent EMR cluster.
    Emr,
}

/// Transforms applied to every record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Transform {
    /// Fields obfuscated at the door: nothing downstream sees them in clear.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 128)))]
    pub obfuscate: Vec<ObfuscateRule>,
}

/// How one field is obfuscated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.method == 'drop' || (has(self.keySecretRef) != has(self.keyUri))").message("methods hmac-sha256 and token need a key: set exactly one of keySecretRef and keyUri")))]
pub struct ObfuscateRule {
    /// The field, as a dotted path into the JSON record, e.g. `user.email`.
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 256),
            regex(pattern = r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
        )
    )]
    pub field: String,

    /// `drop` (remove the field), `hmac-sha256` (keyed hash, hex) or `token`
    /// (format-preserving token: letters stay letters, digits stay digits).
    pub method: ObfuscationMethod,

    /// The key of `hmac-sha256` and `token`, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_ref: Option<SecretKeyRef>,

    /// The key of `hmac-sha256` and `token`, from an S3 object (`s3://bucket/key`),
    /// read at start with the consumer's AWS credentials (the pods' role, or
    /// the EMR instance profile, needs `s3:GetObject` on it). Runtime `emr`
    /// takes keys this way only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$"))
    )]
    pub key_uri: Option<String>,
}

/// How a field is obfuscated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ObfuscationMethod {
    /// Remove the field.
    Drop,
    /// Keyed HMAC-SHA256 of the value, hex encoded.
    HmacSha256,
    /// A keyed, format-preserving token.
    Token,
}

/// Where records land.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Sink {
    /// An S3 (or S3-compatible) prefix.
    pub s3: S3Sink,
}

/// An object-store sink.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct S3Sink {
    /// Prefix records are written under, e.g. `s3://lake/raw/app_events/`.
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"))
    )]
    pub uri: String,

    /// `parquet` (the default) or `jsonl`.
    #[serde(default)]
    pub format: SinkFormat,

    /// Partition path under `uri`; may use `{{date}}`, `{{hour}}`, `{{minute}}`
    /// and `{{shard}}`, taken from each record's arrival time.
    #[serde(default = "default_partition_by")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 512)))]
    pub partition_by: String,

    /// When a micro-batch is written: whichever limit is reached first.
    #[serde(default)]
    pub flush: Flush,

    /// Where records that cannot be parsed go, with the reason. Default:
    /// `_dead_letter/` under `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^s3://.+")))]
    pub dead_letter_uri: Option<String>,

    /// The Glue table each partition prefix is registered in, once, before
    /// the first object under it is checkpointed. Its values may use the
    /// variables of `partitionBy`, e.g. `{dt: "{{date}}", hour: "{{hour}}"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogPartition>,
}

fn default_partition_by() -> String {
    "dt={{date}}/hour={{hour}}".to_owned()
}

/// Output file format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// Apache Parquet.
    #[default]
    Parquet,
    /// JSON lines.
    Jsonl,
}

/// Micro-batch flush limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Flush {
    /// Most records in one object.
    #[serde(default = "default_max_records")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 10_000_000)))]
    pub max_records: i64,

    /// Most bytes in one object, e.g. `128Mi`.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: Quantity,

    /// Longest a record waits before it is written.
    #[serde(default = "default_max_interval")]
    pub max_interval: Duration,
}

impl Default for Flush {
    fn default() -> Self {
        Self {
            max_records: default_max_records(),
            max_bytes: default_max_bytes(),
            max_interval: default_max_interval(),
        }
    }
}

fn default_max_records() -> i64 {
    100_000
}

fn default_max_bytes() -> Quantity {
    Quantity("128Mi".to_owned())
}

fn default_max_interval() -> Duration {
    Duration::from_static("60s")
}

/// Checkpointing of a consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("(self.store == 'dynamodb') == has(self.dynamodb)").message("set dynamodb when, and only when, store is dynamodb")))]
pub struct Checkpoint {
    /// How often leases are renewed and progress is recorded.
    #[serde(default = "default_checkpoint_interval")]
    pub interval: Duration,

    /// Where leases and checkpoints live: `kubernetes` (coordination.k8s.io
    /// Leases, the default) or `dynamodb` (a lease table, for very large streams).
    #[serde(default)]
    pub store: CheckpointStore,

    /// The DynamoDB lease table, for store `dynamodb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb: Option<DynamoDbLeaseTable>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Self {
            interval: default_checkpoint_interval(),
            store: CheckpointStore::default(),
            dynamodb: None,
        }
    }
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_static("10s")
}

/// Where leases and checkpoints live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CheckpointStore {
    /// coordination.k8s.io Leases in the consumer's namespace.
    #[default]
    Kubernetes,
    /// A DynamoDB table.
    Dynamodb,
}

/// A DynamoDB lease table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbLeaseTable {
    /// Name of the table (created when missing).
    #[cfg_attr(feature = "kube", schemars(length(min = 3, max = 255)))]
    pub table_name: String,
}

/// Lag-based scaling of a consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("scaling.minReplicas must not exceed scaling.maxReplicas")))]
pub struct Scaling {
    /// Fewest replicas.
    #[serde(default = "default_min_replicas")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub min_replicas: i32,

    /// Most replicas (never more than open shards).
    #[serde(default = "default_max_replicas")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub max_replicas: i32,

    /// Per-shard lag (`MillisBehindLatest`) above which the consumer scales out.
    #[serde(default = "default_target_lag")]
    pub target_lag: Duration,
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            min_replicas: default_min_replicas(),
            max_replicas: default_max_replicas(),
            target_lag: default_target_lag(),
        }
    }
}

fn default_min_replicas() -> i32 {
    1
}

fn default_max_replicas() -> i32 {
    8
}

fn default_target_lag() -> Duration {
    Duration::from_static("30s")
}
