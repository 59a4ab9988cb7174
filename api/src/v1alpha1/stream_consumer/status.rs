//! The observed state of a StreamConsumer: shards, replicas, lag.

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Condition, Time};

/// Observed state of a StreamConsumer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamConsumerStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted`, `Ready` and `Degraded`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["type".into()])))]
    pub conditions: Vec<Condition>,

    /// Every shard the consumer knows, open or finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardStatus>,

    /// Open shards of the stream.
    #[serde(default)]
    pub open_shards: i32,

    /// Replicas running.
    #[serde(default)]
    pub replicas: i32,

    /// Largest per-shard lag, e.g. `1.2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<String>,

    /// Records read per second, over the last interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_per_second: Option<f64>,

    /// When a micro-batch was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_flush: Option<Time>,
}

/// One shard of the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    /// Shard id.
    pub shard_id: String,
    /// Replica holding the shard's lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Last checkpointed sequence number, or `SHARD_END`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// How far the consumer is behind the shard's newest record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis_behind_latest: Option<i64>,
    /// Parent shard ids (after a split or merge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
}
