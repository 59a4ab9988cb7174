//! [`EksProvider`]: a run attempt is a `batch/v1` Job (the kubernetes
//! provider's builder) pinned to one of the pool's nodes. Placement is the
//! operator's, under the pool's lock, as for emr steps: that is what makes
//! `maxRunsPerCluster` a number of runs per node and lets teardown know, from
//! the Jobs alone, that a node runs nothing. An attempt with no node that has
//! room stays unplaced; the pool's capacity reconcile launches nodes for it.

use std::{collections::BTreeMap, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use k8s_openapi::api::{
    batch::v1::Job,
    core::v1::{Node, Toleration},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};

use super::{
    api::{ClusterApi, ClusterInfo, Ec2Api, QueueApi},
    binpack::{self, NodeRoom, Pending, Shape},
    instance_types::{Catalog, Resources},
    nodes::{self, JobFacts, NodeFacts},
    notices::{self, TAG_NOTICE},
    userdata::{LABEL_POOL_UID, pool_taint},
};
use crate::{
    api::v1alpha1::{ClusterPool, EksPool},
    names,
    providers::{
        AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind, Profile, ProviderError,
        kube_error,
        kubernetes::{JobSettings, KubernetesProvider},
    },
};

/// Label of a pool's Job: the instance it is pinned to.
pub const LABEL_INSTANCE: &str = "ade.dev/instance-id";

/// Settings of the eks provider from the operator's configuration.
#[derive(Debug, Clone, Default)]
pub struct EksSettings {
    /// The operator's identity, tagged on every instance (`ade.dev/managed-by`).
    pub operator: String,
    /// Region of pools that name none.
    pub default_region: Option<String>,
    /// On-demand US dollars per instance-hour, by instance type.
    pub on_demand_prices: BTreeMap<String, f64>,
}

/// The AWS APIs the eks provider calls.
#[derive(Clone)]
pub struct EksApis {
    /// EC2: launch templates, fleets, instances, spot prices.
    pub ec2: Arc<dyn Ec2Api>,
    /// SQS: the queues of EC2 notices pools name.
    pub queue: Arc<dyn QueueApi>,
    /// EKS: what nodes need to join a cluster pools do not describe.
    pub cluster: Arc<dyn ClusterApi>,
}

impl std::fmt::Debug for EksApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksApis").finish_non_exhaustive()
    }
}

/// The `eks` compute provider.
pub struct EksProvider {
    pub(super) api: Arc<dyn Ec2Api>,
    pub(super) queue: Arc<dyn QueueApi>,
    /// Queue URLs by region and name (`GetQueueUrl` once per queue).
    pub(super) queue_urls: std::sync::Mutex<BTreeMap<(String, String), String>>,
    pub(super) cluster: Arc<dyn ClusterApi>,
    /// Active clusters as `DescribeCluster` last gave them, by region and
    /// name, and when.
    pub(super) clusters: std::sync::Mutex<BTreeMap<(String, String), (Timestamp, ClusterInfo)>>,
    pub(super) client: Client,
    pub(super) jobs: KubernetesProvider,
    pub(super) settings: EksSettings,
    /// The instance types known: the built-in table and what
    /// `DescribeInstanceTypes` added. Replaced whole when a type is learned,
    /// so a reader holds its snapshot without copying the table.
    catalog: std::sync::RwLock<Arc<Catalog>>,
    /// Instance types `DescribeInstanceTypes` was asked about, by region.
    asked_types: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
    /// Held, per pool, while a run is placed or the pool's nodes are
    /// planned: two reconciles never take the same last slot, and a node is
    /// never terminated while a run is being placed on it.
    pub(super) placing: crate::locks::KeyedLocks,
    /// Spot price history by region, for the nodes' and runs' costs.
    pub(super) spot_cache: crate::providers::spot_prices::SpotPriceCache,
    /// Reclaimed instances this process told of, and when (kept 2 h, longer
    /// than EC2 lists a terminated instance).
    pub(super) told_interruptions: std::sync::Mutex<BTreeMap<String, Timestamp>>,
    /// When this process started: losses after it are told even when the
    /// status a reconcile read does not list the instance.
    pub(super) started: Timestamp,
}

impl std::fmt::Debug for EksProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The `spec.eks` of a pool, or why there is none.
pub(super) fn eks_of(pool: &ClusterPool) -> Result<&EksPool, ProviderError> {
    pool.spec.eks.as_ref().ok_or(ProviderError::Unsupported {
        task: "any",
        provider: "eks",
        hint: "the ClusterPool has provider eks but no spec.eks",
    })
}

/// The label selector of a pool's Nodes and Jobs.
pub(super) fn pool_selector(pool: &ClusterPool) -> String {
    format!("{LABEL_POOL_UID}={}", pool.uid().unwrap_or_default())
}

/// What a Job's Pod requests.
pub fn job_request(job: &Job) -> Resources {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers.iter().fold(Resources::default(), |acc, c| {
                acc.plus(Resources::requested(c.resources.as_ref()))
            })
        })
        .unwrap_or_default()
}

/// A Job as the planner sees it.
pub fn job_facts(job: &Job) -> JobFacts {
    let status = job.status.clone().unwrap_or_default();
    let finished = status
        .conditions
        .iter()
        .flatten()
        .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True");
    JobFacts {
        name: job.name_any(),
        instance: job.labels().get(LABEL_INSTANCE).cloned(),
        active: finished.is_none(),
        request: job_request(job),
        finished_at: finished.and_then(|c| c.last_transition_time.as_ref().map(|t| t.0)),
    }
}

/// A Node as the planner sees it.
pub fn node_facts(node: &Node) -> NodeFacts {
    let spec = node.spec.clone().unwrap_or_default();
    let status = node.status.clone().unwrap_or_default();
    let allocatable = status.allocatable.as_ref().map(|a| {
        let reserved = crate::cost::reserved(Some(&k8s_openapi::api::core::v1::ResourceRequirements {
            requests: Some(a.clone()),
            ..Default::default()
        }));
        Resources::new(
            (reserved.cpu * 1000.0).round() as u64,
            (reserved.memory_gib * 1024.0 * 1024.0 * 1024.0).round() as u64,
        )
    });
    NodeFacts {
        name: node.name_any(),
        provider_id: spec.provider_id,
        ready: status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        unschedulable: spec.unschedulable.unwrap_or(false) || node.metadata.deletion_timestamp.is_some(),
        allocatable,
    }
}

impl EksProvider {
    /// A provider calling `apis` for AWS and `client` for Nodes and Jobs.
    pub fn new(apis: EksApis, client: Client, jobs: JobSettings, settings: EksSettings) -> Self {
        Self {
            api: apis.ec2,
            queue: apis.queue,
            queue_urls: std::sync::Mutex::default(),
            cluster: apis.cluster,
            clusters: std::sync::Mutex::default(),
            jobs: KubernetesProvider::new(client.clone(), jobs),
            client,
            settings,
            catalog: std::sync::RwLock::new(Arc::new(Catalog::builtin())),
            asked_types: std::sync::Mutex::default(),
            placing: crate::locks::KeyedLocks::default(),
            spot_cache: crate::providers::spot_prices::SpotPriceCache::default(),
            told_interruptions: std::sync::Mutex::default(),
            started: Timestamp::now(),
        }
    }

    /// The instance types known now.
    pub(super) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Learns the sizes of those of `names` the catalog does not know from
    /// EC2, asking about each type once; a type EC2 does not know either
    /// stays unknown (the pool's `Ready` message names it).
    pub(super) async fn learn_types(&self, region: &str, names: &[String]) {
        let ask: Vec<String> = {
            let mut asked = self.asked_types.lock().unwrap_or_else(|e| e.into_inner());
            self.catalog()
                .unknown(names)
                .into_iter()
                .filter(|n| asked.insert((region.to_owned(), (*n).to_owned())))
                .map(str::to_owned)
                .collect()
        };
        if ask.is_empty() {
            return;
        }
        match self.api.instance_types(region, &ask).await {
            Ok(found) if !found.is_empty() => {
                let mut catalog = self.catalog.write().unwrap_or_else(|e| e.into_inner());
                let mut learned = Catalog::clone(&catalog);
                for t in found {
                    tracing::info!(instance_type = %t.name, vcpus = t.vcpus, memory_mib = t.memory_mib, max_pods = t.max_pods, "learned an instance type from EC2");
                    learned.insert(t);
                }
                *catalog = Arc::new(learned);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, types = ?ask, "DescribeInstanceTypes failed; asking again next time");
                let mut asked = self.asked_types.lock().unwrap_or_else(|e| e.into_inner());
                for n in &ask {
                    asked.remove(&(region.to_owned(), n.clone()));
                }
            }
        }
    }

    /// The region of `pool`: its own, else the operator's default.
    pub fn region_of(&self, pool: &ClusterPool) -> Result<String, ProviderError> {
        pool.spec
            .region
            .clone()
            .or_else(|| self.settings.default_region.clone())
            .ok_or(ProviderError::Unsupported {
                task: "any",
                provider: "eks",
                hint: "set spec.region on the ClusterPool or --aws-region on the operator",
            })
    }

    /// The pool's Nodes.
    pub(super) async fn pool_nodes(&self, pool: &ClusterPool) -> Result<Vec<NodeFacts>, ProviderError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let list = nodes
            .list(&ListParams::default().labels(&pool_selector(pool)))
            .await
            .map_err(kube_error("listing the pool's Nodes"))?;
        Ok(list.items.iter().map(node_facts).collect())
    }

    /// The pool's Jobs (in its namespace).
    pub(super) async fn pool_jobs(&self, pool: &ClusterPool) -> Result<Vec<JobFacts>, ProviderError> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &pool.namespace().unwrap_or_default());
        let list = jobs
            .list(&ListParams::default().labels(&pool_selector(pool)))
            .await
            .map_err(kube_error("listing the pool's Jobs"))?;
        Ok(list.items.iter().map(job_facts).collect())
    }

    /// Labels Node `name` with the instance it is (`ade.dev/instance-id`),
    /// which Jobs are pinned by: a Node name is the instance's private DNS
    /// name, and a later instance given the same address registers a Node of
    /// the same name.
    async fn label_instance(&self, name: &str, instance: &str) -> Result<(), ProviderError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let patch = serde_json::json!({"metadata": {"labels": {LABEL_INSTANCE: instance}}});
        nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(kube_error("labelling the Node with its instance"))?;
        Ok(())
    }

    /// Cordons Node `name` (it takes no new Pods).
    pub(super) async fn cordon(&self, name: &str) -> Result<(), ProviderError> {
        self.cordon_noting(name, None).await
    }

    /// Cordons Node `name` and, when given, annotates it with the record of
    /// EC2's notice about its instance ([`TAG_NOTICE`]); a Node already gone
    /// is no error.
    pub(super) async fn cordon_noting(&self, name: &str, notice: Option<&str>) -> Result<(), ProviderError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let mut patch = serde_json::json!({"spec": {"unschedulable": true}});
        if let Some(record) = notice {
            patch["metadata"] = serde_json::json!({"annotations": {TAG_NOTICE: record}});
        }
        match nodes.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(kube_error("cordoning the Node")(e)),
        }
    }

    async fn start_job(&self, request: &AttemptRequest) -> Result<AttemptHandle, ProviderError> {
        let pool = &request.pool;
        let eks = eks_of(pool)?;
        let target = &request.target;
        let name = names::job_name(&target.run, target.attempt);
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &target.namespace);
        let _placing = self.placing.lock(&super::placing_key(pool)).await;
        if jobs
            .get_opt(&name)
            .await
            .map_err(kube_error("reading the Job"))?
            .is_some()
        {
            // Placed before (a lost answer or a restart): adopt it.
            let desired = crate::providers::kubernetes::job::build(request, self.jobs.settings())?;
            return self.jobs.create_or_adopt(&desired, target).await;
        }
        let mut desired = crate::providers::kubernetes::job::build(request, self.jobs.settings())?;
        let request_res = job_request(&desired);
        let nodes = self.pool_nodes(pool).await?;
        let pool_jobs = self.pool_jobs(pool).await?;
        let rooms: Vec<(NodeRoom, String)> = nodes
            .iter()
            .filter(|n| n.ready && !n.unschedulable)
            .filter_map(|n| {
                let id = nodes::instance_of(n.provider_id.as_deref()?)?.to_owned();
                let live: Vec<&JobFacts> = pool_jobs
                    .iter()
                    .filter(|j| j.active && j.instance.as_deref() == Some(id.as_str()))
                    .collect();
                let room = NodeRoom {
                    allocatable: n.allocatable.unwrap_or_default(),
                    used: live.iter().fold(Resources::default(), |acc, j| acc.plus(j.request)),
                    runs: live.len(),
                    accepting: true,
                    id,
                };
                Some((room, n.name.clone()))
            })
            .collect();
        let shape = Shape {
            instance_types: eks.instance_types.clone(),
            max_nodes: rooms.len(),
            max_runs_per_node: usize::try_from(pool.spec.capacity.max_runs_per_cluster).unwrap_or(1),
        };
        let only: Vec<NodeRoom> = rooms.iter().map(|(r, _)| r.clone()).collect();
        let packing = binpack::pack(
            &self.catalog(),
            &shape,
            &only,
            only.len(),
            &[Pending {
                run: name.clone(),
                request: request_res,
            }],
        );
        if let Some(too_big) = packing.too_big.first() {
            return Err(ProviderError::Unschedulable {
                reason: format!("the run {}", too_big.reason),
            });
        }
        let Some(placed) = packing.place.first() else {
            return Ok(AttemptHandle::Unplaced);
        };
        let node = rooms
            .iter()
            .find(|(r, _)| r.id == placed.node)
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        self.label_instance(&node, &placed.node).await?;
        pin(&mut desired, pool, &placed.node, &node);
        tracing::info!(job = %name, node = %node, instance = %placed.node, "placed the run on a node of the pool");
        self.jobs.create_or_adopt(&desired, target).await
    }

    async fn observe_job(&self, attempt: &AttemptRef) -> Result<AttemptState, ProviderError> {
        let state = self.jobs.observe_job(attempt).await?;
        if !matches!(state, AttemptState::Provisioning | AttemptState::Running { .. }) {
            return Ok(state);
        }
        // A live Job whose instance is gone (a spot reclaim, a terminated
        // instance) would wait for ever: it is interrupted. The instance is
        // gone when its Node is, or when the Node of that name is now
        // another instance (one given the same private address).
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &attempt.namespace);
        let name = names::job_name(&attempt.run, attempt.attempt);
        let Some(job) = jobs.get_opt(&name).await.map_err(kube_error("reading the Job"))? else {
            return Ok(state);
        };
        let instance = job.labels().get(LABEL_INSTANCE).cloned();
        let Some(node) = job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.node_selector.as_ref())
            .and_then(|s| s.get("kubernetes.io/hostname").cloned())
        else {
            return Ok(state);
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        let found = nodes.get_opt(&node).await.map_err(kube_error("reading the Node"))?;
        let now_is = found
            .as_ref()
            .and_then(|n| n.spec.as_ref()?.provider_id.as_deref())
            .and_then(nodes::instance_of)
            .map(str::to_owned);
        // EC2 warned it reclaims the node, or it is going away: the run
        // moves now rather than die with it.
        let notice = found
            .as_ref()
            .and_then(|n| n.annotations().get(TAG_NOTICE))
            .and_then(|r| notices::moving(r));
        let same = found.is_some() && (instance.is_none() || now_is == instance);
        if same && notice.is_none() {
            return Ok(state);
        }
        self.jobs.cancel_job(attempt).await?;
        let instance = instance.unwrap_or_default();
        let message = match notice.filter(|_| same) {
            Some((what, at)) => format!(
                "EC2 sent a {what} for node {node} (instance {instance}) at {at}: the run moves to another node"
            ),
            None => format!("node {node} (instance {instance}) of the pool went away while the run was on it"),
        };
        Ok(AttemptState::Failed {
            kind: FailureKind::Interrupted,
            message,
            finished_at: Some(Timestamp::now()),
        })
    }
}

/// Pins `job` to Node `node` of instance `instance` of `pool`: its node
/// selector (the Node's name and its instance label, so that a later
/// instance registering a Node of the same name never runs it), the pool's
/// toleration and the labels the pool's Jobs are found by.
pub fn pin(job: &mut Job, pool: &ClusterPool, instance: &str, node: &str) {
    let uid = pool.uid().unwrap_or_default();
    let labels = BTreeMap::from([
        (LABEL_POOL_UID.to_owned(), uid.clone()),
        (LABEL_INSTANCE.to_owned(), instance.to_owned()),
    ]);
    job.metadata.labels.get_or_insert_with(BTreeMap::new).extend(labels);
    let Some(pod) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) else {
        return;
    };
    let selector = pod.node_selector.get_or_insert_with(BTreeMap::new);
    selector.insert(LABEL_POOL_UID.to_owned(), uid.clone());
    selector.insert("kubernetes.io/hostname".to_owned(), node.to_owned());
    selector.insert(LABEL_INSTANCE.to_owned(), instance.to_owned());
    let taint = pool_taint(&uid);
    pod.tolerations.get_or_insert_with(Vec::new).push(Toleration {
        key: Some(taint.key),
        operator: Some("Equal".to_owned()),
        value: Some(taint.value),
        effect: Some(taint.effect.as_str().to_owned()),
        toleration_seconds: None,
    });
}

impl ComputeProvider for EksProvider {
    fn profile(&self) -> Profile {
        Profile {
            name: "eks",
            // The run waits for a node of the pool, which the pool launches.
            in_cluster: false,
            // Its share of its node's EC2 price (super::cost).
            prices_attempts: true,
            // A Job's activeDeadlineSeconds is the job's timeout.
            needs_deadline: false,
            // Jobs are owned by their run; the nodes are the pool's.
            holds_external: false,
        }
    }

    fn intent(&self, _target: &AttemptRef) -> AttemptHandle {
        AttemptHandle::Unplaced
    }

    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>> {
        self.start_job(request).boxed()
    }

    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>> {
        self.observe_job(attempt).boxed()
    }

    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.jobs.cancel_job(attempt).boxed()
    }

    fn release<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.jobs.release_job(attempt).boxed()
    }

    fn cost<'a>(
        &'a self,
        attempts: &'a [AttemptRef],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>, ProviderError>> {
        self.attempt_costs(attempts, now).boxed()
    }
}
