//! The `emr` provider's settings of a ClusterPool: ephemeral EMR clusters on spot.

use std::collections::BTreeMap;

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::Duration;

/// Settings of ephemeral EMR clusters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmrPool {
    /// EMR release, e.g. `emr-7.5.0`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^emr-[0-9]+\.[0-9]+\.[0-9]+$")))]
    pub release_label: String,

    /// Applications to install, e.g. `Spark`, `Hive`, `Trino`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 32), inner(length(min = 1, max = 64))))]
    pub applications: Vec<String>,

    /// IAM role the EMR service assumes.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub service_role: String,

    /// EC2 instance profile of the cluster's instances.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub instance_profile: String,

    /// Subnets EMR may place the cluster in; with instance fleets it picks the best one.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(length(max = 32), inner(regex(pattern = r"^subnet-[0-9a-z]+$")))
    )]
    pub subnet_ids: Vec<String>,

    /// S3 prefix for cluster and step logs, e.g. `s3://logs/emr/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"))
    )]
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
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub configurations: Vec<EmrConfiguration>,

    /// Scripts run on every instance before applications start.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub bootstrap_actions: Vec<BootstrapAction>,

    /// An `ade-stream` binary in S3 (built for the instances' architecture),
    /// for StreamConsumers with runtime `emr`: every cluster of the pool gets a
    /// bootstrap action that copies it to `/usr/local/bin/ade-stream`. The
    /// instance profile needs `s3:GetObject` on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$"))
    )]
    pub stream_binary_uri: Option<String>,

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.onDemand + self.spot > 0").message("a fleet needs onDemand + spot > 0 instances")))]
pub struct InstanceFleet {
    /// Instance types EMR may choose from, most preferred first (up to 30).
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 30), inner(regex(pattern = r"^[a-z0-9\-]+\.[a-z0-9]+$")))
    )]
    pub instance_types: Vec<String>,

    /// Target on-demand capacity.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1000)))]
    pub on_demand: i32,

    /// Target spot capacity.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1000)))]
    pub spot: i32,
}

/// How spot capacity is chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SpotTimeoutAction {
    /// Provision on-demand capacity instead.
    #[default]
    SwitchToOnDemand,
    /// Give up on the cluster.
    TerminateCluster,
}

/// Spot interruption circuit breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InterruptionBreaker {
    /// Fraction (0 to 1) of spot instances lost within `window` that opens the breaker.
    #[serde(default = "default_max_rate")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0, max = 1.0)))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmrConfiguration {
    /// Classification, e.g. `spark-defaults`, `hive-site`, `spark-env`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 128)))]
    pub classification: String,

    /// Properties of the classification.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,

    /// Nested classifications (for example `export` under `spark-env`); one level deep.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub configurations: Vec<EmrNestedConfiguration>,
}

/// A nested EMR configuration classification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmrNestedConfiguration {
    /// Classification, e.g. `export`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 128)))]
    pub classification: String,

    /// Properties of the classification.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A bootstrap action run on every instance of a cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BootstrapAction {
    /// Name of the action.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub name: String,

    /// S3 location of the script.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^s3://.+")))]
    pub path: String,

    /// Arguments passed to the script.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub args: Vec<String>,
}
