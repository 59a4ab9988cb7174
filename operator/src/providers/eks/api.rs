//! The few EC2 and SQS calls the eks provider makes, as traits over domain
//! types: [`super::aws`] and [`super::aws_sqs`] implement them on the AWS SDK
//! (integration-tested against moto), unit tests implement them in memory.
//! No SDK type crosses them.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use jiff::Timestamp;

use crate::providers::emr::Market;
pub use crate::providers::emr::{
    api::{ApiError, ApiResult},
    pricing::SpotPrice,
};

/// A launch template's content, as the operator renders it from the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    /// Template name (one per pool).
    pub name: String,
    /// The content's hash: the version description, so an unchanged pool
    /// reuses its version and a changed one adds a version.
    pub version_key: String,
    /// AMI of the nodes.
    pub image_id: String,
    /// Instance profile (name or ARN) of the nodes.
    pub instance_profile: Option<String>,
    /// Security groups of the nodes.
    pub security_group_ids: Vec<String>,
    /// User data, base64.
    pub user_data: String,
    /// Tags of the template itself.
    pub tags: BTreeMap<String, String>,
}

/// One version of a launch template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    /// Its number.
    pub number: i64,
    /// Its description (the operator's version key).
    pub description: Option<String>,
}

/// A launch template that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    /// `lt-...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its versions.
    pub versions: Vec<TemplateVersion>,
}

/// One instance type (and subnet) a fleet may launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Instance type, e.g. `m5.xlarge`.
    pub instance_type: String,
    /// Subnet; the template's or the default VPC's when `None`.
    pub subnet_id: Option<String>,
}

/// How to name the launch template of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateRef {
    /// By id.
    Id(String),
    /// By name.
    Name(String),
}

/// Everything an instant `CreateFleet` is called with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSpec {
    /// The launch template.
    pub template: TemplateRef,
    /// Its version: a number, `$Latest` or `$Default`.
    pub version: String,
    /// Instance types × subnets, most preferred first.
    pub overrides: Vec<Override>,
    /// Spot or on-demand.
    pub market: Market,
    /// Number of instances.
    pub count: i32,
    /// Tags of the instances.
    pub tags: BTreeMap<String, String>,
    /// `ClientToken`: EC2 answers a call with a token it has seen with the
    /// fleet it made then, so a retried call (the SDK's, after an answer was
    /// lost) launches nothing more.
    pub client_token: String,
}

/// An instance `CreateFleet` launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// `i-...`.
    pub id: String,
    /// Its type.
    pub instance_type: String,
}

/// An override `CreateFleet` could not launch, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetError {
    /// The instance type, when EC2 names it.
    pub instance_type: Option<String>,
    /// EC2's error code, e.g. `InsufficientInstanceCapacity`.
    pub code: String,
    /// EC2's message.
    pub message: String,
}

/// What an instant `CreateFleet` did: the instances it launched and the
/// overrides it could not launch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetOutcome {
    /// Launched instances.
    pub instances: Vec<Launched>,
    /// Why some capacity could not be launched.
    pub errors: Vec<FleetError>,
}

/// An EC2 instance state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Starting.
    Pending,
    /// Running.
    Running,
    /// Terminating.
    ShuttingDown,
    /// Gone.
    Terminated,
    /// Stopping.
    Stopping,
    /// Stopped.
    Stopped,
}

impl InstanceState {
    /// Whether the instance exists (and costs money).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::Stopping | Self::Stopped)
    }
}

/// An EC2 instance as `DescribeInstances` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// `i-...`.
    pub id: String,
    /// Its type.
    pub instance_type: String,
    /// Its availability zone.
    pub zone: String,
    /// Spot or on-demand.
    pub market: Market,
    /// Its state.
    pub state: InstanceState,
    /// Why it changed state last (`Server.SpotInstanceTermination`, …).
    pub state_reason: Option<String>,
    /// When it last changed state, when EC2 says (its state transition
    /// reason, `Service initiated (2026-12-01 08:00:00 GMT)`).
    pub state_changed_at: Option<Timestamp>,
    /// When it was launched.
    pub launched_at: Option<Timestamp>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// The EC2 calls of the eks provider. Every call names its region.
pub trait Ec2Api: Send + Sync {
    /// `DescribeLaunchTemplates` by name, with its versions; `None` when
    /// there is none.
    fn find_template<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<TemplateInfo>>>;
    /// `CreateLaunchTemplate` (version 1 described by `spec.version_key`).
    fn create_template<'a>(&'a self, region: &'a str, spec: &'a TemplateSpec)
    -> BoxFuture<'a, ApiResult<TemplateInfo>>;
    /// `CreateLaunchTemplateVersion`: the new version's number.
    fn create_template_version<'a>(
        &'a self,
        region: &'a str,
        id: &'a str,
        spec: &'a TemplateSpec,
    ) -> BoxFuture<'a, ApiResult<i64>>;
    /// `DeleteLaunchTemplate`; nothing to do when it is gone.
    fn delete_template<'a>(&'a self, region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<()>>;
    /// `CreateFleet` of type `instant`.
    fn create_fleet<'a>(&'a self, region: &'a str, spec: &'a FleetSpec) -> BoxFuture<'a, ApiResult<FleetOutcome>>;
    /// `DescribeInstances` of the instances carrying every tag of `tags`
    /// (terminated ones included while EC2 still lists them), every page.
    fn describe_instances<'a>(
        &'a self,
        region: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, ApiResult<Vec<InstanceInfo>>>;
    /// `CreateTags`: sets `key` to `value` on instance `id`.
    fn tag_instance<'a>(
        &'a self,
        region: &'a str,
        id: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, ApiResult<()>>;
    /// `TerminateInstances`; no call when `ids` is empty.
    fn terminate_instances<'a>(&'a self, region: &'a str, ids: &'a [String]) -> BoxFuture<'a, ApiResult<()>>;
    /// `DescribeInstanceTypes` of `names`: the size of each EC2 knows (one
    /// it does not know is left out).
    fn instance_types<'a>(
        &'a self,
        region: &'a str,
        names: &'a [String],
    ) -> BoxFuture<'a, ApiResult<Vec<super::instance_types::InstanceType>>>;
    /// `DescribeSpotPriceHistory` of `instance_types` from `since` (the price
    /// in effect then included), every page.
    fn spot_prices<'a>(
        &'a self,
        region: &'a str,
        instance_types: &'a [String],
        since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>>;
}

/// A message received from an SQS queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// Its receipt handle: what deletes it.
    pub receipt: String,
    /// Its body (an EventBridge event, JSON).
    pub body: String,
}

/// The SQS calls of the eks provider: reading the queue of EC2 events a pool
/// names. Every call names its region.
pub trait QueueApi: Send + Sync {
    /// `GetQueueUrl`; `None` when there is no queue of that name.
    fn queue_url<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<String>>>;
    /// `ReceiveMessage`: at most `max` (≤ 10) messages without waiting, each
    /// hidden from other readers for `hide_seconds`.
    fn receive<'a>(
        &'a self,
        region: &'a str,
        url: &'a str,
        max: i32,
        hide_seconds: i32,
    ) -> BoxFuture<'a, ApiResult<Vec<QueueMessage>>>;
    /// `DeleteMessageBatch` of `receipts`; no call when it is empty.
    fn delete<'a>(&'a self, region: &'a str, url: &'a str, receipts: &'a [String]) -> BoxFuture<'a, ApiResult<()>>;
}

/// What `eks:DescribeCluster` says a node needs to join the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `CREATING`, `ACTIVE`, …
    pub status: String,
    /// The API server's URL.
    pub endpoint: Option<String>,
    /// The certificate authority, base64.
    pub certificate_authority: Option<String>,
    /// The service CIDR (IPv4).
    pub service_cidr: Option<String>,
}

/// The EKS call of the eks provider.
pub trait ClusterApi: Send + Sync {
    /// `DescribeCluster`; `None` when there is no cluster of that name.
    fn describe_cluster<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>>;
}
