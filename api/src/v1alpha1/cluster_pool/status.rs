//! The observed state of a ClusterPool: runs, cost, clusters and the spot breaker.

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Condition, Time, Usd};

/// Observed state of a ClusterPool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterPoolStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted` (the spec is valid) and `Ready` (the pool can take runs).
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["type".into()])))]
    pub conditions: Vec<Condition>,

    /// One entry per live cluster (emr) or node (eks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<PoolCluster>,

    /// Number of live clusters or nodes.
    #[serde(default)]
    pub cluster_count: i32,

    /// Live clusters or nodes running nothing.
    #[serde(default)]
    pub idle_clusters: i32,

    /// Runs executing in the pool now.
    #[serde(default)]
    pub running_runs: i32,

    /// Runs waiting for capacity or for a concurrency slot.
    #[serde(default)]
    pub queued_runs: i32,

    /// Estimated cost of the pool's capacity so far, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "estimatedCostUSD")]
    pub estimated_cost_usd: Option<Usd>,

    /// The spot interruption circuit breaker of an emr pool: which market new
    /// clusters buy, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerStatus>,

    /// Clusters the operator asked the provider for and has not seen yet,
    /// recorded before each request: after a crash or a lost answer, the next
    /// reconcile looks for the cluster by this name instead of creating
    /// another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["name".into()])))]
    pub cluster_requests: Vec<ClusterRequest>,
}

/// A cluster the operator asked for: recorded in the pool's status before
/// the request is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterRequest {
    /// The cluster's name (deterministic: the pool's prefix and a hash).
    pub name: String,
    /// `spot` or `on-demand`.
    pub market: String,
    /// When it was asked for.
    pub requested_at: Time,
}

/// The state of a pool's spot interruption circuit breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreakerStatus {
    /// `Closed` (new clusters use spot) or `Open` (on-demand until `until`).
    pub state: String,
    /// When it last opened (Open) or closed again (Closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
    /// When an open breaker closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
    /// The market of new clusters: `spot` or `on-demand`.
    pub market: String,
    /// Why, e.g. `1 of 4 spot instances interrupted in the last 1h ≤ 20%: spot`.
    pub message: String,
}

/// A live cluster or node of a pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PoolCluster {
    /// Provider id: an EMR cluster id (`j-...`) or an EC2 instance id.
    pub id: String,
    /// Provider state, e.g. `STARTING`, `BOOTSTRAPPING`, `RUNNING`, `WAITING`,
    /// `TERMINATING` (emr); `LAUNCHING`, `READY`, `CORDONED`, `TERMINATING` (eks).
    pub state: String,
    /// `spot` or `on-demand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// Runs executing on it now.
    #[serde(default)]
    pub running_runs: i32,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// Since when it has run nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_since: Option<Time>,
    /// Estimated cost so far, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "estimatedCostUSD")]
    pub estimated_cost_usd: Option<Usd>,
    /// Why the operator is terminating it, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    /// EC2 instance type of a node (eks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Availability zone of a node (eks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The Node an instance registered as (eks), once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}
