//! The few EC2 calls the eks provider makes, as a trait over domain types:
//! [`super::aws`] implements it on the AWS SDK (integration-tested against
//! moto), unit tests implement it in memory. No SDK type crosses it.

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
    /// `TerminateInstances`; no call when `ids` is empty.
    fn terminate_instances<'a>(&'a self, region: &'a str, ids: &'a [String]) -> BoxFuture<'a, ApiResult<()>>;
    /// `DescribeSpotPriceHistory` of `instance_types` from `since` (the price
    /// in effect then included), every page.
    fn spot_prices<'a>(
        &'a self,
        region: &'a str,
        instance_types: &'a [String],
        since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>>;
}
