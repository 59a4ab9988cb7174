//! ClusterPool: where work runs, and what it may cost.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
#[cfg(feature = "kube")]
use kube::{CustomResource, KubeSchema};
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::Duration;

mod emr;
mod status;

pub use emr::*;
pub use status::*;

/// A pool of compute that EtlJobs and StreamConsumers run on: the cluster the
/// operator runs in (`kubernetes`), ephemeral spot EMR clusters (`emr`), or
/// spot EC2 nodes joined to an EKS cluster (`eks`). Capacity exists only while
/// there is work, and every run reports what it cost.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "kube", derive(CustomResource, KubeSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "ade.dev",
        version = "v1alpha1",
        kind = "ClusterPool",
        namespaced,
        status = "ClusterPoolStatus",
        shortname = "cpool",
        category = "ade",
        doc = "A pool of compute (Kubernetes, ephemeral spot EMR clusters or spot EKS nodes) that EtlJobs and StreamConsumers run on.",
        printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
        printcolumn(name = "Clusters", type_ = "integer", json_path = ".status.clusterCount"),
        printcolumn(name = "Running", type_ = "integer", json_path = ".status.runningRuns"),
        printcolumn(name = "Queued", type_ = "integer", json_path = ".status.queuedRuns", priority = "1"),
        printcolumn(name = "Idle", type_ = "integer", json_path = ".status.idleClusters"),
        printcolumn(name = "Cost", type_ = "string", json_path = ".status.estimatedCostUSD"),
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(
    validation = Rule::new("(self.provider == 'emr') == has(self.emr)").message("spec.emr must be set when, and only when, spec.provider is emr").field_path(".emr"),
    validation = Rule::new("(self.provider == 'eks') == has(self.eks)").message("spec.eks must be set when, and only when, spec.provider is eks").field_path(".eks"),
    validation = Rule::new("self.provider == 'kubernetes' || !has(self.kubernetes)").message("spec.kubernetes may only be set when spec.provider is kubernetes").field_path(".kubernetes"),
    validation = Rule::new("self.provider == 'kubernetes' || has(self.region)").message("spec.region is required for the emr and eks providers").field_path(".region"),
    validation = Rule::new("self.provider == oldSelf.provider").message("spec.provider is immutable: create a new ClusterPool instead").field_path(".provider")
))]
pub struct ClusterPoolSpec {
    /// Where runs execute: `kubernetes` (a Job per run in this cluster), `emr`
    /// (an EMR step per run on ephemeral EMR clusters) or `eks` (a Job per run on
    /// spot EC2 nodes the operator adds to an EKS cluster). Immutable.
    pub provider: Provider,

    /// AWS region of the emr and eks providers, e.g. `us-east-1`. The endpoint can
    /// be overridden in the operator's configuration (emulators, other clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")))]
    pub region: Option<String>,

    /// How much capacity the pool may hold and how long idle capacity lives.
    #[serde(default)]
    pub capacity: Capacity,

    /// Settings of the `emr` provider. Required when, and only when, provider is `emr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emr: Option<EmrPool>,

    /// Settings of the `eks` provider. Required when, and only when, provider is `eks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<EksPool>,

    /// Settings of the `kubernetes` provider (all optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesPool>,

    /// What happens to the pool's clusters when the ClusterPool is deleted:
    /// `Delete` terminates them (the default), `Retain` leaves them running for
    /// a person to inspect and terminate.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
}

/// Where runs of a pool execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A `batch/v1` Job per run attempt in the operator's own cluster.
    Kubernetes,
    /// An EMR step per run attempt on ephemeral EMR clusters.
    Emr,
    /// A Job per run attempt on spot EC2 nodes joined to an EKS cluster.
    Eks,
}

/// What happens to a pool's clusters when the pool is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum ReclaimPolicy {
    /// Terminate the pool's clusters.
    #[default]
    Delete,
    /// Leave the pool's clusters running.
    Retain,
}

/// Bounds on a pool's capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.minClusters <= self.maxClusters").message("capacity.minClusters must not exceed capacity.maxClusters")))]
pub struct Capacity {
    /// Most clusters (emr) or nodes (eks) alive at once.
    #[serde(default = "default_max_clusters")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub max_clusters: i32,

    /// Clusters (emr) or nodes (eks) kept alive even when idle: a warm pool. 0 means
    /// capacity exists only while there is work.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1000)))]
    pub min_clusters: i32,

    /// Most runs sharing one cluster at once. 1 gives every run a fresh cluster
    /// (fully ephemeral).
    #[serde(default = "default_max_runs_per_cluster")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 256)))]
    pub max_runs_per_cluster: i32,

    /// Most runs executing in the pool at once; further runs wait in a queue and
    /// say so in their `Scheduled` condition. Unset means no limit beyond clusters
    /// × runs per cluster (emr, eks) and no limit at all (kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 10000)))]
    pub max_concurrent_runs: Option<i32>,

    /// Capacity idle this long is terminated (down to `minClusters`).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Duration,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            max_clusters: default_max_clusters(),
            min_clusters: 0,
            max_runs_per_cluster: default_max_runs_per_cluster(),
            max_concurrent_runs: None,
            idle_timeout: default_idle_timeout(),
        }
    }
}

fn default_max_clusters() -> i32 {
    1
}

fn default_max_runs_per_cluster() -> i32 {
    4
}

fn default_idle_timeout() -> Duration {
    Duration::from_static("10m")
}

/// Settings of the `eks` provider: spot EC2 nodes joined to an EKS cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(
    validation = Rule::new("has(self.launchTemplate) || has(self.amiId)").message("without launchTemplate, the operator renders the nodes' launch template and needs amiId (apiServerEndpoint, certificateAuthority and serviceCidr come from eks:DescribeCluster unless set)"),
    validation = Rule::new("!has(self.launchTemplate) || !has(self.amiId)").message("amiId and launchTemplate are exclusive: the launch template names its own image").field_path(".amiId")
))]
pub struct EksPool {
    /// Name of the EKS cluster the nodes join.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 100)))]
    pub cluster_name: String,

    /// Instance types to request, most preferred first.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 30)))]
    pub instance_types: Vec<String>,

    /// `spot`, `on-demand`, or `spot-then-on-demand` (spot first, on-demand when
    /// spot cannot be had).
    #[serde(default)]
    pub capacity_type: EksCapacityType,

    /// Subnets the nodes may be placed in.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(length(max = 32), inner(regex(pattern = r"^subnet-[0-9a-z]+$")))
    )]
    pub subnet_ids: Vec<String>,

    /// Security groups of the nodes.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(length(max = 16), inner(regex(pattern = r"^sg-[0-9a-z]+$")))
    )]
    pub security_group_ids: Vec<String>,

    /// Instance profile of the nodes (its role must be allowed to join the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile: Option<String>,

    /// An existing launch template to start the nodes from, instead of one the
    /// operator renders from the fields above. Its user data must register
    /// the node with the pool's label and taint (`ade.dev/pool-uid=<uid>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateRef>,

    /// AMI of the nodes: an EKS-optimized Amazon Linux 2023 image (it runs
    /// `nodeadm`). Required without `launchTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^ami-[0-9a-f]+$")))]
    pub ami_id: Option<String>,

    /// The cluster's API server URL; from `eks:DescribeCluster` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^https://"), length(max = 512)))]
    pub api_server_endpoint: Option<String>,

    /// The cluster's certificate authority, base64; from `eks:DescribeCluster`
    /// (`certificateAuthority.data`) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 16384)))]
    pub certificate_authority: Option<String>,

    /// The cluster's service CIDR; from `eks:DescribeCluster`
    /// (`kubernetesNetworkConfig.serviceIpv4Cidr`) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 9, max = 43)))]
    pub service_cidr: Option<String>,

    /// Extra labels of the nodes (the pool's identity labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,

    /// An instance that has not registered as a Ready Node this long after
    /// its launch is terminated and replaced.
    #[serde(default = "default_registration_timeout")]
    pub registration_timeout: Duration,

    /// Circuit breaker: when too many spot nodes are interrupted within
    /// `window`, new nodes are launched on-demand for `coolDown`, then on
    /// spot again (the same breaker as emr pools).
    #[serde(default)]
    pub interruptions: InterruptionBreaker,

    /// Name of an SQS queue (in the pool's region) an EventBridge rule
    /// delivers EC2 events to: spot interruption warnings, rebalance
    /// recommendations and instance state changes. A warned node is
    /// cordoned and its runs move to another node two minutes before EC2
    /// reclaims it. Without a queue, a reclaim is seen by listing the
    /// pool's instances, once EC2 starts shutting the node down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,80}$")))]
    pub interruption_queue: Option<String>,
}

fn default_registration_timeout() -> Duration {
    Duration::from_static("10m")
}

/// How the eks provider buys capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum EksCapacityType {
    /// Spot only.
    #[default]
    Spot,
    /// On-demand only.
    OnDemand,
    /// Spot first, on-demand when spot cannot be had.
    SpotThenOnDemand,
}

/// A reference to an EC2 launch template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("has(self.id) != has(self.name)").message("set exactly one of launchTemplate.id and launchTemplate.name")))]
pub struct LaunchTemplateRef {
    /// Launch template id (`lt-...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Launch template name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version: a number, `$Latest` or `$Default` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Settings of the `kubernetes` provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KubernetesPool {
    /// Node labels the pool's Pods must match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the pool's Pods (for tainted, dedicated nodes).
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 32)))]
    pub tolerations: Vec<Toleration>,

    /// ServiceAccount the pool's Pods run as (for cloud credentials through IRSA or
    /// Pod Identity). Defaults to the namespace's `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub service_account_name: Option<String>,

    /// PriorityClass of the pool's Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}
