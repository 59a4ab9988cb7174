//! An in-memory [`Ec2Api`] for unit tests: launch templates, instant fleets
//! that fail for chosen instance types on a market, instances by tag, and
//! the calls made, in order; and an in-memory [`QueueApi`] and [`ClusterApi`].

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
};

use futures::{
    FutureExt,
    future::{BoxFuture, ready},
};

use super::api::{
    ApiError, ApiResult, ClusterApi, ClusterInfo, Ec2Api, FleetError, FleetOutcome, FleetSpec, InstanceInfo,
    InstanceState, Launched, QueueApi, QueueMessage, SpotPrice, TemplateInfo, TemplateSpec, TemplateVersion,
};
use crate::providers::emr::Market;

#[derive(Debug, Default)]
struct State {
    templates: Vec<TemplateInfo>,
    instances: Vec<InstanceInfo>,
    fleets: Vec<FleetSpec>,
    calls: Vec<String>,
    fail_types: Vec<(String, Market)>,
    lose_next_fleet_answer: bool,
    next: u32,
    spot_prices: Vec<SpotPrice>,
    instance_types: Vec<super::instance_types::InstanceType>,
}

/// The fake. Instances launch `running` in `us-east-1a`.
#[derive(Debug, Default)]
pub struct FakeEc2 {
    state: Mutex<State>,
}

impl FakeEc2 {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fleets on `market` launch nothing of `instance_type` (an error instead).
    pub fn fail_type(&self, instance_type: &str, market: Market) {
        self.state().fail_types.push((instance_type.to_owned(), market));
    }

    /// The next `CreateFleet` launches, then answers with a network error.
    pub fn lose_next_fleet_answer(&self) {
        self.state().lose_next_fleet_answer = true;
    }

    /// EC2 reclaims spot instance `id` at `at`, as `DescribeInstances` then shows it.
    pub fn reclaim(&self, id: &str, at: jiff::Timestamp) {
        for i in self.state().instances.iter_mut().filter(|i| i.id == id) {
            i.state = InstanceState::Terminated;
            i.state_reason = Some(super::interruptions::SPOT_TERMINATION.to_owned());
            i.state_changed_at = Some(at);
        }
    }

    /// `DescribeInstanceTypes` knows `t`.
    pub fn add_instance_type(&self, t: super::instance_types::InstanceType) {
        self.state().instance_types.push(t);
    }

    /// `DescribeSpotPriceHistory` answers `prices`.
    pub fn set_spot_prices(&self, prices: Vec<SpotPrice>) {
        self.state().spot_prices = prices;
    }

    /// Every `CreateFleet` so far.
    pub fn fleets(&self) -> Vec<FleetSpec> {
        self.state().fleets.clone()
    }

    /// The calls so far, e.g. `CreateFleet spot`, `TerminateInstances i-1`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Every instance, terminated ones included.
    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.state().instances.clone()
    }

    /// The launch templates.
    pub fn templates(&self) -> Vec<TemplateInfo> {
        self.state().templates.clone()
    }
}

impl Ec2Api for FakeEc2 {
    fn instance_types<'a>(
        &'a self,
        _region: &'a str,
        names: &'a [String],
    ) -> BoxFuture<'a, ApiResult<Vec<super::instance_types::InstanceType>>> {
        let mut s = self.state();
        s.calls.push(format!("DescribeInstanceTypes {}", names.join(" ")));
        let found = s
            .instance_types
            .iter()
            .filter(|t| names.contains(&t.name))
            .cloned()
            .collect();
        ready(Ok(found)).boxed()
    }

    fn spot_prices<'a>(
        &'a self,
        _region: &'a str,
        instance_types: &'a [String],
        _since: jiff::Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>> {
        let mut s = self.state();
        s.calls
            .push(format!("DescribeSpotPriceHistory {}", instance_types.join(" ")));
        let found = s
            .spot_prices
            .iter()
            .filter(|p| instance_types.contains(&p.instance_type))
            .cloned()
            .collect();
        ready(Ok(found)).boxed()
    }

    fn find_template<'a>(&'a self, _region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<TemplateInfo>>> {
        let mut s = self.state();
        s.calls.push(format!("DescribeLaunchTemplates {name}"));
        ready(Ok(s.templates.iter().find(|t| t.name == name).cloned())).boxed()
    }

    fn create_template<'a>(
        &'a self,
        _region: &'a str,
        spec: &'a TemplateSpec,
    ) -> BoxFuture<'a, ApiResult<TemplateInfo>> {
        let mut s = self.state();
        s.calls.push(format!("CreateLaunchTemplate {}", spec.name));
        let t = TemplateInfo {
            id: format!("lt-{}", s.templates.len() + 1),
            name: spec.name.clone(),
            versions: vec![TemplateVersion {
                number: 1,
                description: Some(spec.version_key.clone()),
            }],
        };
        s.templates.push(t.clone());
        ready(Ok(t)).boxed()
    }

    fn create_template_version<'a>(
        &'a self,
        _region: &'a str,
        id: &'a str,
        spec: &'a TemplateSpec,
    ) -> BoxFuture<'a, ApiResult<i64>> {
        let mut s = self.state();
        s.calls.push(format!("CreateLaunchTemplateVersion {id}"));
        let Some(t) = s.templates.iter_mut().find(|t| t.id == id) else {
            return ready(Err(not_found("CreateLaunchTemplateVersion"))).boxed();
        };
        let number = t.versions.len() as i64 + 1;
        t.versions.push(TemplateVersion {
            number,
            description: Some(spec.version_key.clone()),
        });
        ready(Ok(number)).boxed()
    }

    fn delete_template<'a>(&'a self, _region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<()>> {
        let mut s = self.state();
        s.calls.push(format!("DeleteLaunchTemplate {id}"));
        s.templates.retain(|t| t.id != id);
        ready(Ok(())).boxed()
    }

    fn create_fleet<'a>(&'a self, _region: &'a str, spec: &'a FleetSpec) -> BoxFuture<'a, ApiResult<FleetOutcome>> {
        let mut s = self.state();
        s.calls.push(format!("CreateFleet {}", spec.market));
        s.fleets.push(spec.clone());
        let mut outcome = FleetOutcome::default();
        let usable = spec.overrides.iter().find(|o| {
            let failing = s
                .fail_types
                .iter()
                .any(|(t, m)| t == &o.instance_type && *m == spec.market);
            if failing {
                outcome.errors.push(FleetError {
                    instance_type: Some(o.instance_type.clone()),
                    code: "InsufficientInstanceCapacity".into(),
                    message: format!("no {} capacity", spec.market),
                });
            }
            !failing
        });
        if let Some(o) = usable.cloned() {
            s.next += 1;
            let id = format!("i-{:04}", s.next);
            s.instances.push(InstanceInfo {
                id: id.clone(),
                instance_type: o.instance_type.clone(),
                zone: "us-east-1a".into(),
                market: spec.market,
                state: InstanceState::Running,
                state_reason: None,
                state_changed_at: None,
                launched_at: Some(jiff::Timestamp::now()),
                tags: spec.tags.clone(),
            });
            outcome.instances.push(Launched {
                id,
                instance_type: o.instance_type,
            });
        }
        if std::mem::take(&mut s.lose_next_fleet_answer) {
            return ready(Err(ApiError {
                action: "CreateFleet",
                message: "connection reset".into(),
                category: "aws-unreachable",
            }))
            .boxed();
        }
        ready(Ok(outcome)).boxed()
    }

    fn describe_instances<'a>(
        &'a self,
        _region: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, ApiResult<Vec<InstanceInfo>>> {
        let mut s = self.state();
        s.calls.push("DescribeInstances".into());
        let found = s
            .instances
            .iter()
            .filter(|i| tags.iter().all(|(k, v)| i.tags.get(k) == Some(v)))
            .cloned()
            .collect();
        ready(Ok(found)).boxed()
    }

    fn tag_instance<'a>(
        &'a self,
        _region: &'a str,
        id: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, ApiResult<()>> {
        let mut s = self.state();
        s.calls.push(format!("CreateTags {id} {key}"));
        for i in s.instances.iter_mut().filter(|i| i.id == id) {
            i.tags.insert(key.to_owned(), value.to_owned());
        }
        ready(Ok(())).boxed()
    }

    fn terminate_instances<'a>(&'a self, _region: &'a str, ids: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        if ids.is_empty() {
            return ready(Ok(())).boxed();
        }
        let mut s = self.state();
        s.calls.push(format!("TerminateInstances {}", ids.join(" ")));
        for i in s.instances.iter_mut().filter(|i| ids.contains(&i.id)) {
            i.state = InstanceState::Terminated;
        }
        ready(Ok(())).boxed()
    }
}

fn not_found(action: &'static str) -> ApiError {
    ApiError {
        action,
        message: "not found".into(),
        category: "not-found",
    }
}

/// A message of [`FakeQueue`].
#[derive(Debug, Clone)]
struct Message {
    receipt: String,
    body: String,
    hidden: bool,
}

/// An in-memory SQS: queues by name (their URL is `sqs://<name>`), messages
/// hidden once received until deleted or [`FakeQueue::expire_hiding`].
#[derive(Debug, Default)]
pub struct FakeQueue {
    queues: Mutex<BTreeMap<String, Vec<Message>>>,
    next: std::sync::atomic::AtomicU32,
}

impl FakeQueue {
    fn queues(&self) -> MutexGuard<'_, BTreeMap<String, Vec<Message>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates queue `name`.
    pub fn create(&self, name: &str) {
        self.queues().entry(name.to_owned()).or_default();
    }

    /// Sends `body` to queue `name`.
    pub fn send(&self, name: &str, body: &str) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.queues().entry(name.to_owned()).or_default().push(Message {
            receipt: format!("r-{n}"),
            body: body.to_owned(),
            hidden: false,
        });
    }

    /// The bodies still on queue `name`, hidden or not.
    pub fn bodies(&self, name: &str) -> Vec<String> {
        self.queues()
            .get(name)
            .map(|q| q.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// Every received message not deleted is visible again.
    pub fn expire_hiding(&self) {
        for m in self.queues().values_mut().flatten() {
            m.hidden = false;
        }
    }
}

impl QueueApi for FakeQueue {
    fn queue_url<'a>(&'a self, _region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<String>>> {
        let found = self.queues().contains_key(name).then(|| format!("sqs://{name}"));
        ready(Ok(found)).boxed()
    }

    fn receive<'a>(
        &'a self,
        _region: &'a str,
        url: &'a str,
        max: i32,
        _hide_seconds: i32,
    ) -> BoxFuture<'a, ApiResult<Vec<QueueMessage>>> {
        let name = url.trim_start_matches("sqs://");
        let mut queues = self.queues();
        let mut out = Vec::new();
        for m in queues.get_mut(name).into_iter().flatten().filter(|m| !m.hidden) {
            if out.len() >= usize::try_from(max).unwrap_or(0) {
                break;
            }
            m.hidden = true;
            out.push(QueueMessage {
                receipt: m.receipt.clone(),
                body: m.body.clone(),
            });
        }
        ready(Ok(out)).boxed()
    }

    fn delete<'a>(&'a self, _region: &'a str, url: &'a str, receipts: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        let name = url.trim_start_matches("sqs://");
        if let Some(q) = self.queues().get_mut(name) {
            q.retain(|m| !receipts.contains(&m.receipt));
        }
        ready(Ok(())).boxed()
    }
}

/// An in-memory EKS: clusters by name, and how many times each was described.
#[derive(Debug, Default)]
pub struct FakeCluster {
    clusters: Mutex<BTreeMap<String, (ClusterInfo, usize)>>,
}

impl FakeCluster {
    /// Cluster `name` is `info`.
    pub fn set(&self, name: &str, info: ClusterInfo) {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), (info, 0));
    }

    /// How many times cluster `name` was described.
    pub fn described(&self, name: &str) -> usize {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map_or(0, |c| c.1)
    }
}

impl ClusterApi for FakeCluster {
    fn describe_cluster<'a>(
        &'a self,
        _region: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>> {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        let found = clusters.get_mut(name).map(|c| {
            c.1 += 1;
            c.0.clone()
        });
        ready(Ok(found)).boxed()
    }
}
