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

    /// Runtime `emr`: the step that runs the consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emr: Option<EmrStepStatus>,
}

/// The EMR step of a consumer on runtime `emr`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmrStepStatus {
    /// Which step this is: 1, then one more for every restart or spec change.
    /// Recorded before the step is added; the step's name carries it.
    #[serde(default)]
    pub attempt: i32,
    /// The consumer's `metadata.generation` the attempt's step was built
    /// from: a newer one replaces the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The ClusterPool the attempt runs in: a consumer moved to another pool
    /// cancels its step in this one first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The cluster of the pool the step runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The step, `s-...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// `WaitingForCluster`, `Pending`, `Running`, `CancelPending`, `RestartPending`.
    #[serde(default)]
    pub state: String,
    /// Restarts after the step ended or its cluster was lost.
    #[serde(default)]
    pub restarts: i32,
    /// Why the last step ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// When the next step may be added (backoff after a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_restart_at: Option<Time>,
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
