//! The few EMR and EC2 calls the provider makes, as a trait over domain
//! types: [`super::aws`] implements it on the AWS SDK (integration-tested
//! against moto), unit tests implement it in memory. No SDK type crosses it.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use jiff::Timestamp;

use super::{planner::ClusterState, pricing::SpotPrice};

/// Which fleet of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FleetRole {
    /// The primary (master) node.
    Primary,
    /// Core nodes: HDFS and executors.
    Core,
    /// Task nodes: executors only.
    Task,
}

/// One instance fleet to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSpec {
    /// Which fleet.
    pub role: FleetRole,
    /// Instance types EMR may choose from, most preferred first.
    pub instance_types: Vec<String>,
    /// Target on-demand capacity (instance units).
    pub on_demand: i32,
    /// Target spot capacity (instance units).
    pub spot: i32,
}

/// Spot provisioning of every fleet with spot capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotSpec {
    /// EMR's allocation strategy name, e.g. `price-capacity-optimized`.
    pub allocation_strategy: &'static str,
    /// Minutes to wait for spot capacity (EMR allows 5 to 1440).
    pub timeout_minutes: i32,
    /// EMR's timeout action: `SWITCH_TO_ON_DEMAND` or `TERMINATE_CLUSTER`.
    pub timeout_action: &'static str,
}

/// An EMR configuration classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationSpec {
    /// Classification, e.g. `spark-hive-site`.
    pub classification: String,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
    /// Nested classifications.
    pub nested: Vec<ConfigurationSpec>,
}

/// A bootstrap action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapSpec {
    /// Name.
    pub name: String,
    /// S3 path of the script.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// Everything `RunJobFlow` is called with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Cluster name.
    pub name: String,
    /// EMR release, e.g. `emr-7.5.0`.
    pub release_label: String,
    /// Applications, e.g. `Spark`.
    pub applications: Vec<String>,
    /// IAM role of the EMR service.
    pub service_role: String,
    /// Instance profile of the instances (`JobFlowRole`).
    pub instance_profile: String,
    /// Subnets EMR may choose from.
    pub subnet_ids: Vec<String>,
    /// S3 prefix of the logs.
    pub log_uri: Option<String>,
    /// Primary, core and (optionally) task fleets.
    pub fleets: Vec<FleetSpec>,
    /// Spot provisioning, when some fleet asks for spot capacity.
    pub spot: Option<SpotSpec>,
    /// Configuration classifications.
    pub configurations: Vec<ConfigurationSpec>,
    /// Bootstrap actions.
    pub bootstrap_actions: Vec<BootstrapSpec>,
    /// `KeepJobFlowAliveWhenNoSteps`.
    pub keep_alive: bool,
    /// `StepConcurrencyLevel`: how many steps run at once (`maxRunsPerCluster`).
    pub step_concurrency: i32,
    /// `AutoTerminationPolicy.IdleTimeout` in seconds: EMR's own backstop.
    pub auto_termination_idle_seconds: i64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A `command-runner.jar` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSpec {
    /// Step name: the run attempt's identity.
    pub name: String,
    /// Arguments of `command-runner.jar`, the command first.
    pub args: Vec<String>,
}

/// A cluster as `ListClusters` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSummary {
    /// `j-...`.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A cluster as `DescribeCluster` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `j-...`.
    pub id: String,
    /// Name.
    pub name: String,
    /// EMR's state name, e.g. `WAITING`, `TERMINATED_WITH_ERRORS`.
    pub state_name: String,
    /// State, termination reason included.
    pub state: ClusterState,
    /// The state change reason, for people.
    pub state_message: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it became ready.
    pub ready_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// EMR step states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Waiting to run.
    Pending,
    /// Cancelling.
    CancelPending,
    /// Running.
    Running,
    /// Finished successfully.
    Completed,
    /// Cancelled.
    Cancelled,
    /// Failed.
    Failed,
    /// Interrupted (its cluster lost capacity).
    Interrupted,
}

impl StepState {
    /// Occupies its cluster.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::CancelPending | Self::Running)
    }
}

/// A step as `ListSteps` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// `s-...`.
    pub id: String,
    /// Name.
    pub name: String,
    /// State.
    pub state: StepState,
    /// Failure details or state change reason.
    pub message: Option<String>,
    /// When it started running.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
}

/// A failed EMR or EC2 call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action}: {message}")]
pub struct ApiError {
    /// What was being done, e.g. `RunJobFlow`.
    pub action: &'static str,
    /// What AWS said.
    pub message: String,
    /// A bounded category: `throttled`, `access-denied`, `invalid-request`, `not-found`, `credentials`, `aws-unreachable`, `aws-api`.
    pub category: &'static str,
}

/// Result of an API call.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<ApiError> for crate::providers::ProviderError {
    fn from(e: ApiError) -> Self {
        Self::Api {
            action: e.action,
            category: e.category,
            source: e.message.into(),
        }
    }
}

/// The EMR and EC2 calls of the provider. Every call names its region.
pub trait EmrApi: Send + Sync {
    /// `RunJobFlow`: the new cluster's id.
    fn run_job_flow<'a>(&'a self, region: &'a str, spec: &'a ClusterSpec) -> BoxFuture<'a, ApiResult<String>>;
    /// `ListClusters` in `active` states (STARTING…WAITING, TERMINATING) or, when
    /// false, in terminated states created after `created_after`.
    fn list_clusters<'a>(
        &'a self,
        region: &'a str,
        active: bool,
        created_after: Option<Timestamp>,
    ) -> BoxFuture<'a, ApiResult<Vec<ClusterSummary>>>;
    /// `DescribeCluster`; `None` when EMR does not know it.
    fn describe_cluster<'a>(&'a self, region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>>;
    /// `ListSteps` of a cluster, every page.
    fn list_steps<'a>(&'a self, region: &'a str, cluster: &'a str) -> BoxFuture<'a, ApiResult<Vec<StepInfo>>>;
    /// `AddJobFlowSteps` with one step: its id.
    fn add_step<'a>(
        &'a self,
        region: &'a str,
        cluster: &'a str,
        step: &'a StepSpec,
    ) -> BoxFuture<'a, ApiResult<String>>;
    /// `CancelSteps` of one step.
    fn cancel_step<'a>(&'a self, region: &'a str, cluster: &'a str, step: &'a str) -> BoxFuture<'a, ApiResult<()>>;
    /// `TerminateJobFlows`.
    fn terminate<'a>(&'a self, region: &'a str, clusters: &'a [String]) -> BoxFuture<'a, ApiResult<()>>;
    /// EC2 `DescribeSpotPriceHistory` (Linux/UNIX) of `instance_types` from `since`.
    fn spot_prices<'a>(
        &'a self,
        region: &'a str,
        instance_types: &'a [String],
        since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>>;
}
