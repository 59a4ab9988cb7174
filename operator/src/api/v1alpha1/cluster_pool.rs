//! ClusterPool: where work runs, and what it may cost.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{Condition, Duration, Time, Usd};

/// A pool of compute that EtlJobs and StreamConsumers run on: the cluster the
/// operator runs in (`kubernetes`), ephemeral spot EMR clusters (`emr`), or
/// spot EC2 nodes joined to an EKS cluster (`eks`). Capacity exists only while
/// there is work, and every run reports what it cost.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
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
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(self.provider == 'emr') == has(self.emr)").message("spec.emr must be set when, and only when, spec.provider is emr").field_path(".emr"),
    validation = Rule::new("(self.provider == 'eks') == has(self.eks)").message("spec.eks must be set when, and only when, spec.provider is eks").field_path(".eks"),
    validation = Rule::new("self.provider == 'kubernetes' || !has(self.kubernetes)").message("spec.kubernetes may only be set when spec.provider is kubernetes").field_path(".kubernetes"),
    validation = Rule::new("self.provider == 'kubernetes' || has(self.region)").message("spec.region is required for the emr and eks providers").field_path(".region"),
    validation = Rule::new("self.provider == oldSelf.provider").message("spec.provider is immutable: create a new ClusterPool instead").field_path(".provider")
)]
pub struct ClusterPoolSpec {
    /// Where runs execute: `kubernetes` (a Job per run in this cluster), `emr`
    /// (an EMR step per run on ephemeral EMR clusters) or `eks` (a Job per run on
    /// spot EC2 nodes the operator adds to an EKS cluster). Immutable.
    pub provider: Provider,

    /// AWS region of the emr and eks providers, e.g. `us-east-1`. The endpoint can
    /// be overridden in the operator's configuration (emulators, other clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReclaimPolicy {
    /// Terminate the pool's clusters.
    #[default]
    Delete,
    /// Leave the pool's clusters running.
    Retain,
}

/// Bounds on a pool's capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minClusters <= self.maxClusters").message("capacity.minClusters must not exceed capacity.maxClusters"))]
pub struct Capacity {
    /// Most clusters (emr) or nodes (eks) alive at once.
    #[serde(default = "default_max_clusters")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_clusters: i32,

    /// Clusters (emr) or nodes (eks) kept alive even when idle: a warm pool. 0 means
    /// capacity exists only while there is work.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub min_clusters: i32,

    /// Most runs sharing one cluster at once. 1 gives every run a fresh cluster
    /// (fully ephemeral).
    #[serde(default = "default_max_runs_per_cluster")]
    #[schemars(range(min = 1, max = 256))]
    pub max_runs_per_cluster: i32,

    /// Most runs executing in the pool at once; further runs wait in a queue and
    /// say so in their `Scheduled` condition. Unset means no limit beyond clusters
    /// × runs per cluster (emr, eks) and no limit at all (kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
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

/// Settings of ephemeral EMR clusters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmrPool {
    /// EMR release, e.g. `emr-7.5.0`.
    #[schemars(regex(pattern = r"^emr-[0-9]+\.[0-9]+\.[0-9]+$"))]
    pub release_label: String,

    /// Applications to install, e.g. `Spark`, `Hive`, `Trino`.
    #[serde(default)]
    #[schemars(length(max = 32), inner(length(min = 1, max = 64)))]
    pub applications: Vec<String>,

    /// IAM role the EMR service assumes.
    #[schemars(length(min = 1, max = 2048))]
    pub service_role: String,

    /// EC2 instance profile of the cluster's instances.
    #[schemars(length(min = 1, max = 2048))]
    pub instance_profile: String,

    /// Subnets EMR may place the cluster in; with instance fleets it picks the best one.
    #[serde(default)]
    #[schemars(length(max = 32), inner(regex(pattern = r"^subnet-[0-9a-z]+$")))]
    pub subnet_ids: Vec<String>,

    /// S3 prefix for cluster and step logs, e.g. `s3://logs/emr/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"))]
    pub log_uri: Option<String>,

    /// The primary (master) fleet: exactly one instance.
    pub primary: InstanceFleet,

    /// The core fleet: HDFS and executors.
    pub core: InstanceFleet,

    /// The task fleet: executors only, the natural home of spot capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<InstanceFleet>,

    /// How spot capacity is chosen, and what happens when it cannot be had.
    #[serde(default)]
    pub spot: SpotOptions,

    /// Circuit breaker: when too many spot instances are lost within `window`,
    /// new clusters use on-demand capacity for `coolDown`, then spot again.
    #[serde(default)]
    pub interruptions: InterruptionBreaker,

    /// EMR configuration classifications (`spark-defaults`, `hive-site`, ...).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub configurations: Vec<EmrConfiguration>,

    /// Scripts run on every instance before applications start.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub bootstrap_actions: Vec<BootstrapAction>,

    /// Use the AWS Glue Data Catalog as the Hive metastore (Spark, Hive, Trino).
    #[serde(default = "default_true")]
    pub glue_catalog: bool,

    /// Extra tags for every cluster. The operator adds its own identity tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_true() -> bool {
    true
}

/// One instance fleet of an EMR cluster, in instance units (1 unit = 1 instance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.onDemand + self.spot > 0").message("a fleet needs onDemand + spot > 0 instances"))]
pub struct InstanceFleet {
    /// Instance types EMR may choose from, most preferred first (up to 30).
    #[schemars(length(min = 1, max = 30), inner(regex(pattern = r"^[a-z0-9\-]+\.[a-z0-9]+$")))]
    pub instance_types: Vec<String>,

    /// Target on-demand capacity.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub on_demand: i32,

    /// Target spot capacity.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub spot: i32,
}

/// How spot capacity is chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpotOptions {
    /// Spot allocation strategy: `price-capacity-optimized` (default),
    /// `capacity-optimized`, `lowest-price` or `diversified`.
    #[serde(default)]
    pub allocation_strategy: SpotAllocationStrategy,

    /// How long to wait for spot capacity before `onTimeout` applies.
    #[serde(default = "default_spot_timeout")]
    pub timeout: Duration,

    /// What to do when spot capacity is not provisioned within `timeout`:
    /// `switch-to-on-demand` (default) or `terminate-cluster`.
    #[serde(default)]
    pub on_timeout: SpotTimeoutAction,
}

impl Default for SpotOptions {
    fn default() -> Self {
        Self {
            allocation_strategy: SpotAllocationStrategy::default(),
            timeout: default_spot_timeout(),
            on_timeout: SpotTimeoutAction::default(),
        }
    }
}

fn default_spot_timeout() -> Duration {
    Duration::from_static("10m")
}

/// Spot allocation strategy of an EMR instance fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpotAllocationStrategy {
    /// Lowest price among the pools with the most capacity (recommended by AWS).
    #[default]
    PriceCapacityOptimized,
    /// The pools with the most spare capacity.
    CapacityOptimized,
    /// The cheapest pools.
    LowestPrice,
    /// Spread across all pools.
    Diversified,
}

/// What to do when spot capacity cannot be had in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpotTimeoutAction {
    /// Provision on-demand capacity instead.
    #[default]
    SwitchToOnDemand,
    /// Give up on the cluster.
    TerminateCluster,
}

/// Spot interruption circuit breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterruptionBreaker {
    /// Fraction (0 to 1) of spot instances lost within `window` that opens the breaker.
    #[serde(default = "default_max_rate")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_rate: f64,

    /// The window over which interruptions are counted.
    #[serde(default = "default_breaker_window")]
    pub window: Duration,

    /// How long new capacity stays on-demand once the breaker opens.
    #[serde(default = "default_cool_down")]
    pub cool_down: Duration,
}

impl Default for InterruptionBreaker {
    fn default() -> Self {
        Self {
            max_rate: default_max_rate(),
            window: default_breaker_window(),
            cool_down: default_cool_down(),
        }
    }
}

fn default_max_rate() -> f64 {
    0.2
}

fn default_breaker_window() -> Duration {
    Duration::from_static("1h")
}

fn default_cool_down() -> Duration {
    Duration::from_static("2h")
}

/// An EMR configuration classification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmrConfiguration {
    /// Classification, e.g. `spark-defaults`, `hive-site`, `spark-env`.
    #[schemars(length(min = 1, max = 128))]
    pub classification: String,

    /// Properties of the classification.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,

    /// Nested classifications (for example `export` under `spark-env`); one level deep.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub configurations: Vec<EmrNestedConfiguration>,
}

/// A nested EMR configuration classification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmrNestedConfiguration {
    /// Classification, e.g. `export`.
    #[schemars(length(min = 1, max = 128))]
    pub classification: String,

    /// Properties of the classification.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A bootstrap action run on every instance of a cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapAction {
    /// Name of the action.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,

    /// S3 location of the script.
    #[schemars(regex(pattern = r"^s3://.+"))]
    pub path: String,

    /// Arguments passed to the script.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub args: Vec<String>,
}

/// Settings of the `eks` provider: spot EC2 nodes joined to an EKS cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPool {
    /// Name of the EKS cluster the nodes join.
    #[schemars(length(min = 1, max = 100))]
    pub cluster_name: String,

    /// Instance types to request, most preferred first.
    #[schemars(length(min = 1, max = 30))]
    pub instance_types: Vec<String>,

    /// `spot`, `on-demand`, or `spot-then-on-demand` (spot first, on-demand when
    /// spot cannot be had).
    #[serde(default)]
    pub capacity_type: EksCapacityType,

    /// Subnets the nodes may be placed in.
    #[serde(default)]
    #[schemars(length(max = 32), inner(regex(pattern = r"^subnet-[0-9a-z]+$")))]
    pub subnet_ids: Vec<String>,

    /// Security groups of the nodes.
    #[serde(default)]
    #[schemars(length(max = 16), inner(regex(pattern = r"^sg-[0-9a-z]+$")))]
    pub security_group_ids: Vec<String>,

    /// Instance profile of the nodes (its role must be allowed to join the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile: Option<String>,

    /// An existing launch template to start the nodes from, instead of one the
    /// operator renders from the fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateRef>,
}

/// How the eks provider buys capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.id) != has(self.name)").message("set exactly one of launchTemplate.id and launchTemplate.name"))]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesPool {
    /// Node labels the pool's Pods must match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the pool's Pods (for tainted, dedicated nodes).
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub tolerations: Vec<Toleration>,

    /// ServiceAccount the pool's Pods run as (for cloud credentials through IRSA or
    /// Pod Identity). Defaults to the namespace's `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// PriorityClass of the pool's Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// Observed state of a ClusterPool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPoolStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted` (the spec is valid) and `Ready` (the pool can take runs).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
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
}

/// The state of a pool's spot interruption circuit breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolCluster {
    /// Provider id: an EMR cluster id (`j-...`) or an EC2 instance id.
    pub id: String,
    /// Provider state, e.g. `STARTING`, `BOOTSTRAPPING`, `RUNNING`, `WAITING`, `TERMINATING`.
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
}
