//! An eks pool's capacity: make sure its launch template is current, see
//! its instances, Nodes and Jobs, plan ([`nodes::plan`]) and carry the plan
//! out — launch a node per planned bin with an instant fleet (each request
//! recorded in the pool's status first, so a crash or a lost answer never
//! launches twice), cordon and terminate what the pool no longer needs — and
//! release everything when the pool is deleted.

use std::collections::{BTreeMap, BTreeSet};

use futures::{FutureExt, future::BoxFuture};
use jiff::{SignedDuration, Timestamp};
use kube::{Api, ResourceExt};

use super::{
    api::{ClusterInfo, FleetOutcome, InstanceInfo, TemplateRef},
    binpack::{self, Pending},
    instance_types::Resources,
    interruptions,
    nodes::{self, JobFacts, Limits, NodeFacts, Plan},
    pool_status::{Launches, refused, report},
    provider::{EksProvider, eks_of},
    request::{self, TAG_REQUEST},
};
use crate::{
    api::v1alpha1::{ClusterPool, ClusterRequest, EtlJob, EtlRun, ReclaimPolicy, Usd},
    providers::{
        ProviderError,
        emr::{Market, breaker, requests},
        kube_error,
        pool::{CapacityReport, ClusterCounter, PoolCapacity, PoolEvent, Released, RequestLog},
    },
};

/// How long an active cluster's `DescribeCluster` answer is used: its
/// endpoint and certificate authority rarely change, and a change shows as
/// a new launch template version within this.
const CLUSTER_FRESH: SignedDuration = SignedDuration::from_mins(10);

impl EksProvider {
    async fn reconcile_pool(
        &self,
        pool: &ClusterPool,
        runs: &[std::sync::Arc<EtlRun>],
        log: &dyn RequestLog,
        now: Timestamp,
    ) -> Result<CapacityReport, ProviderError> {
        let region = self.region_of(pool)?;
        let limits = limits_of(pool)?;
        let settings = breaker::Settings::from_spec(&eks_of(pool)?.interruptions).map_err(invalid_spec)?;
        let before = breaker::state_of(pool.status.as_ref().and_then(|s| s.breaker.as_ref()));
        let _placing = self.placing.lock(&super::placing_key(pool)).await;

        let template = match self.template(pool, &region).await? {
            Ok(template) => template,
            Err(message) => return Ok(refused(pool, "InvalidNodeTemplate", message)),
        };
        let mut instances = self
            .api
            .describe_instances(&region, &request::pool_filter(pool))
            .await
            .map_err(ProviderError::from)?;
        let mut node_facts = self.pool_nodes(pool).await?;
        let job_facts = self.pool_jobs(pool).await?;
        let queue = self
            .read_notices(pool, &region, &mut instances, &mut node_facts, &job_facts, now)
            .await?;
        let decision = breaker::evaluate(&settings, &interruptions::spot_events(&instances), before, now);
        let mut events = queue.events;
        events.extend(self.interrupted(pool, &instances, &node_facts, &job_facts).await?);
        events.extend(breaker::transition(&decision, before));
        let idle_before: BTreeMap<String, Timestamp> = pool
            .status
            .iter()
            .flat_map(|s| &s.clusters)
            .filter_map(|c| Some((c.id.clone(), c.idle_since.as_ref()?.0)))
            .collect();
        self.learn_types(&region, &eks_of(pool)?.instance_types).await;
        let catalog = self.catalog();
        let views = nodes::views(&catalog, &instances, &node_facts, &job_facts, &idle_before);
        // A run placed a moment ago may still look unplaced in the cache
        // the runs come from: its Job says otherwise.
        let mut pending = self.pending(pool, runs).await?;
        pending.retain(|p| !job_facts.iter().any(|j| j.name == p.run));
        let seen: BTreeSet<&str> = instances
            .iter()
            .filter_map(|i| i.tags.get(TAG_REQUEST).map(String::as_str))
            .collect();
        let mut outstanding: Vec<ClusterRequest> = log
            .recorded()
            .into_iter()
            .filter(|r| !seen.contains(r.name.as_str()) && now.duration_since(r.requested_at.0) < requests::GRACE)
            .collect();
        let plan = nodes::plan(&catalog, &limits, &views, outstanding.len(), &pending, now);

        let launched = self
            .launch(
                pool,
                (&region, decision.market),
                template,
                &plan,
                &mut outstanding,
                log,
                now,
                &mut events,
            )
            .await?;
        for t in &plan.terminate {
            if let Some(node) = views
                .iter()
                .find(|v| v.instance.id == t.id)
                .and_then(|v| v.node.clone())
            {
                self.cordon(&node).await?;
            }
        }
        let doomed: Vec<String> = plan.terminate.iter().map(|t| t.id.clone()).collect();
        self.api
            .terminate_instances(&region, &doomed)
            .await
            .map_err(ProviderError::from)?;
        events.extend(plan.terminate.iter().map(|t| PoolEvent {
            warning: t.reason == nodes::Reason::NotRegistered,
            reason: "NodeTerminated",
            note: format!("terminated instance {}: {}", t.id, t.message),
            counter: Some(ClusterCounter::NodeTerminated(t.reason.as_str())),
        }));
        let mut report = report(
            &views,
            &plan,
            &launched,
            &pending,
            outstanding,
            events,
            &limits,
            &decision,
        );
        let (costs, unpriced) = self.pool_node_costs(pool, &region, &instances, now).await;
        for c in &mut report.clusters {
            if let Some((_, usd)) = costs.iter().find(|(id, _)| *id == c.id) {
                c.estimated_cost_usd = Some(Usd(crate::cost::usd(*usd)));
            }
        }
        if let Some(why) = unpriced {
            report.readiness.message.push_str(&format!("; no cost estimate: {why}"));
        }
        if let Some(why) = queue.problem {
            report.readiness.message.push_str(&format!("; {why}"));
        }
        Ok(report)
    }

    /// The pool's spot instances EC2 reclaimed: their Nodes, while they are
    /// still listed, are cordoned (nothing new lands there; the runs on them
    /// are interrupted once the Node goes), and each loss is told once.
    async fn interrupted(
        &self,
        pool: &ClusterPool,
        instances: &[InstanceInfo],
        node_facts: &[NodeFacts],
        job_facts: &[JobFacts],
    ) -> Result<Vec<PoolEvent>, ProviderError> {
        for i in instances.iter().filter(|i| interruptions::interrupted(i)) {
            let node = node_facts
                .iter()
                .find(|n| n.provider_id.as_deref().and_then(nodes::instance_of) == Some(i.id.as_str()));
            if let Some(n) = node.filter(|n| !n.unschedulable) {
                self.cordon(&n.name).await?;
            }
        }
        let listed: BTreeSet<&str> = pool
            .status
            .iter()
            .flat_map(|s| &s.clusters)
            .map(|c| c.id.as_str())
            .collect();
        let newly = {
            let mut told = self.told_interruptions.lock().unwrap_or_else(|e| e.into_inner());
            let now = Timestamp::now();
            told.retain(|_, at| now.duration_since(*at).as_secs() < 2 * 3600);
            let ids: BTreeSet<String> = told.keys().cloned().collect();
            let newly = interruptions::newly_interrupted(instances, &listed, &ids, self.started);
            told.extend(newly.iter().map(|i| (i.id.clone(), now)));
            newly
        };
        Ok(newly
            .into_iter()
            .map(|i| {
                // A run interrupted already has no Job left to name.
                let named = nodes::runs_on(job_facts, &i.id);
                let retried = format!("runs on it are retried on another node without using their retries{named}");
                PoolEvent {
                    warning: true,
                    reason: "SpotInterrupted",
                    note: format!(
                        "EC2 reclaimed spot instance {} ({}{}); {retried}",
                        i.id,
                        i.instance_type,
                        i.state_changed_at
                            .map(|t| format!(" at {}", t.strftime("%H:%M:%S UTC")))
                            .unwrap_or_default()
                    ),
                    counter: Some(ClusterCounter::SpotInterruption("reclaim")),
                }
            })
            .collect())
    }

    /// The launch template new nodes start from, and its version; `Err` with
    /// why the operator cannot render it.
    async fn template(
        &self,
        pool: &ClusterPool,
        region: &str,
    ) -> Result<Result<(TemplateRef, String), String>, ProviderError> {
        let eks = eks_of(pool)?;
        if let Some(user) = request::user_template(eks) {
            return Ok(Ok(user));
        }
        let described = if request::needs_describe(eks) {
            match self.describe_cluster(region, &eks.cluster_name).await? {
                Some(d) => Some(d),
                None => {
                    return Ok(Err(format!(
                        "EKS cluster {} does not exist in {region} (eks:DescribeCluster): set spec.eks.clusterName \
                         to the cluster the nodes join, or set apiServerEndpoint, certificateAuthority and serviceCidr",
                        eks.cluster_name
                    )));
                }
            }
        } else {
            None
        };
        let spec = match request::template_spec(pool, eks, described.as_ref(), &self.settings.operator) {
            Ok(spec) => spec,
            Err(message) => return Ok(Err(message)),
        };
        let found = self
            .api
            .find_template(region, &spec.name)
            .await
            .map_err(ProviderError::from)?;
        let (id, version) = match found {
            None => {
                let created = self
                    .api
                    .create_template(region, &spec)
                    .await
                    .map_err(ProviderError::from)?;
                tracing::info!(template = %created.id, name = %spec.name, "created the pool's launch template");
                let version = created.versions.first().map_or(1, |v| v.number);
                (created.id, version)
            }
            Some(info) => match info
                .versions
                .iter()
                .find(|v| v.description.as_deref() == Some(spec.version_key.as_str()))
            {
                Some(v) => (info.id.clone(), v.number),
                None => {
                    let version = self
                        .api
                        .create_template_version(region, &info.id, &spec)
                        .await
                        .map_err(ProviderError::from)?;
                    tracing::info!(template = %info.id, version, "the pool changed: added a launch template version");
                    (info.id, version)
                }
            },
        };
        Ok(Ok((TemplateRef::Id(id), version.to_string())))
    }

    /// Cluster `name` as `DescribeCluster` gives it; an active one is kept
    /// for [`CLUSTER_FRESH`].
    async fn describe_cluster(&self, region: &str, name: &str) -> Result<Option<ClusterInfo>, ProviderError> {
        let key = (region.to_owned(), name.to_owned());
        let now = Timestamp::now();
        if let Some((at, info)) = self.clusters.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
            && now.duration_since(*at) < CLUSTER_FRESH
        {
            return Ok(Some(info.clone()));
        }
        let info = self
            .cluster
            .describe_cluster(region, name)
            .await
            .map_err(ProviderError::from)?;
        if let Some(info) = info.as_ref().filter(|i| i.status == "ACTIVE") {
            self.clusters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (now, info.clone()));
        }
        Ok(info)
    }

    /// The runs of `pool` waiting for a node, with what their Pods request.
    async fn pending(
        &self,
        pool: &ClusterPool,
        runs: &[std::sync::Arc<EtlRun>],
    ) -> Result<Vec<Pending>, ProviderError> {
        let name = pool.name_any();
        let mut queued: Vec<(&EtlRun, i32)> = runs
            .iter()
            .filter_map(|r| {
                let status = r.status.as_ref()?;
                if status.pool.as_deref() != Some(name.as_str()) || status.phase.is_some_and(|p| p.is_final()) {
                    return None;
                }
                let attempt = status.attempts.iter().find(|a| a.outcome.is_none())?;
                attempt.job_name.is_none().then_some((r.as_ref(), attempt.attempt))
            })
            .collect();
        queued.sort_by_key(|(r, _)| (r.metadata.creation_timestamp.as_ref().map(|t| t.0), r.name_any()));
        let jobs: Api<EtlJob> = Api::namespaced(self.client.clone(), &pool.namespace().unwrap_or_default());
        let mut requests: BTreeMap<String, Resources> = BTreeMap::new();
        let mut out = Vec::new();
        for (run, attempt) in queued {
            let job = run.spec.job_ref.name.clone();
            if !requests.contains_key(&job) {
                let found = jobs
                    .get_opt(&job)
                    .await
                    .map_err(kube_error("reading the run's EtlJob"))?;
                let request = found
                    .and_then(|j| j.spec.task.container.and_then(|c| c.resources))
                    .map(|r| Resources::requested(Some(&r)))
                    .unwrap_or_default();
                requests.insert(job.clone(), request);
            }
            out.push(Pending {
                run: crate::names::job_name(&run.name_any(), attempt),
                request: requests[&job],
            });
        }
        Ok(out)
    }

    /// Launches the plan's nodes: records each request in `log` first, then
    /// tries the pool's markets in order with an instant fleet.
    #[allow(clippy::too_many_arguments)]
    async fn launch(
        &self,
        pool: &ClusterPool,
        (region, breaker_market): (&str, Market),
        (template, version): (TemplateRef, String),
        plan: &Plan,
        outstanding: &mut Vec<ClusterRequest>,
        log: &dyn RequestLog,
        now: Timestamp,
        events: &mut Vec<PoolEvent>,
    ) -> Result<Launches, ProviderError> {
        if plan.launch.is_empty() {
            return Ok(Vec::new());
        }
        let eks = eks_of(pool)?;
        let markets = request::markets(eks.capacity_type, breaker_market);
        let names: Vec<String> = (0..plan.launch.len())
            .map(|i| {
                let nonce = format!("{}/{}/{i}", pool.uid().unwrap_or_default(), now.as_nanosecond());
                request::request_name(pool, &nonce)
            })
            .collect();
        outstanding.extend(names.iter().map(|n| requests::request(n, markets[0], now)));
        log.record(outstanding).await?;
        let mut launched = Vec::new();
        for (node, name) in plan.launch.iter().zip(&names) {
            let types = binpack::fitting_types(&self.catalog(), &eks.instance_types, node.load);
            let mut failures = Vec::new();
            let mut done = false;
            for market in &markets {
                let tags = request::instance_tags(pool, eks, *market, &self.settings.operator, name);
                let fleet = request::fleet_spec(eks, template.clone(), version.clone(), &types, *market, tags.clone());
                let FleetOutcome { instances, errors } = match self.api.create_fleet(region, &fleet).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        if !requests::may_have_created(e.category) {
                            outstanding.retain(|r| &r.name != name);
                            if let Err(error) = log.record(outstanding).await {
                                tracing::warn!(%error, "dropping a refused node request from the pool's status failed");
                            }
                        }
                        return Err(ProviderError::from(e));
                    }
                };
                failures.extend(errors.iter().map(|e| {
                    format!(
                        "{} {}: {} {}",
                        market,
                        e.instance_type.as_deref().unwrap_or("?"),
                        e.code,
                        e.message
                    )
                }));
                if let Some(i) = instances.first() {
                    tracing::info!(instance = %i.id, instance_type = %i.instance_type, %market, request = %name, launched = instances.len(), "launched a node");
                    events.push(PoolEvent {
                        warning: false,
                        reason: "NodeLaunched",
                        note: format!(
                            "launched {} instance {} ({}) for {}",
                            market,
                            i.id,
                            i.instance_type,
                            node.runs.join(", ")
                        ),
                        counter: Some(ClusterCounter::NodeLaunched(market.as_str())),
                    });
                    launched.push((
                        InstanceInfo {
                            id: i.id.clone(),
                            instance_type: i.instance_type.clone(),
                            zone: String::new(),
                            market: *market,
                            state: super::api::InstanceState::Pending,
                            state_reason: None,
                            state_changed_at: None,
                            launched_at: Some(now),
                            tags,
                        },
                        node.runs.clone(),
                    ));
                    done = true;
                    break;
                }
            }
            if !done {
                // Nothing launched on any market: the request is over.
                outstanding.retain(|r| &r.name != name);
                log.record(outstanding).await?;
                events.push(PoolEvent {
                    warning: true,
                    reason: "NodeLaunchFailed",
                    note: format!(
                        "EC2 launched no instance for {}: {}",
                        node.runs.join(", "),
                        failures.join("; ")
                    ),
                    counter: None,
                });
            }
        }
        Ok(launched)
    }

    async fn release_pool(&self, pool: &ClusterPool) -> Result<Released, ProviderError> {
        let region = self.region_of(pool)?;
        let _placing = self.placing.lock(&super::placing_key(pool)).await;
        let live: Vec<String> = self
            .api
            .describe_instances(&region, &request::pool_filter(pool))
            .await
            .map_err(ProviderError::from)?
            .into_iter()
            .filter(|i| i.state.is_live())
            .map(|i| i.id)
            .collect();
        let own_template = eks_of(pool).is_ok_and(|e| e.launch_template.is_none());
        Ok(match pool.spec.reclaim_policy {
            ReclaimPolicy::Delete => {
                self.api
                    .terminate_instances(&region, &live)
                    .await
                    .map_err(ProviderError::from)?;
                let mut deleted = String::new();
                if own_template
                    && let Some(t) = self
                        .api
                        .find_template(&region, &request::template_name(pool))
                        .await
                        .map_err(ProviderError::from)?
                {
                    self.api
                        .delete_template(&region, &t.id)
                        .await
                        .map_err(ProviderError::from)?;
                    deleted = format!(" and deleted launch template {}", t.id);
                }
                let what = if live.is_empty() {
                    "the pool had no live instance".to_owned()
                } else {
                    format!("terminated instances {}", live.join(", "))
                };
                Released {
                    event: PoolEvent {
                        warning: false,
                        reason: "NodesTerminated",
                        note: format!("{what}{deleted} (reclaimPolicy Delete)"),
                        counter: None,
                    },
                    terminated: live.len(),
                }
            }
            ReclaimPolicy::Retain => Released {
                event: PoolEvent {
                    warning: true,
                    reason: "NodesRetained",
                    note: format!(
                        "reclaimPolicy Retain: instances {} and the pool's launch template are kept; terminate and delete them yourself",
                        live.join(", ")
                    ),
                    counter: None,
                },
                terminated: 0,
            },
        })
    }
}

/// A pool duration that does not parse.
fn invalid_spec(e: crate::api::v1alpha1::DurationError) -> ProviderError {
    ProviderError::Api {
        action: "reading the pool's durations",
        category: "invalid-spec",
        source: Box::new(e),
    }
}

/// The pool's limits, or why its spec cannot be read.
fn limits_of(pool: &ClusterPool) -> Result<Limits, ProviderError> {
    let eks = eks_of(pool)?;
    let capacity = &pool.spec.capacity;
    let count = |n: i32| usize::try_from(n).unwrap_or(0);
    let signed = |d: std::time::Duration| SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    Ok(Limits {
        instance_types: eks.instance_types.clone(),
        max_nodes: count(capacity.max_clusters).max(1),
        min_nodes: count(capacity.min_clusters),
        max_runs_per_node: count(capacity.max_runs_per_cluster).max(1),
        idle_timeout: signed(capacity.idle_timeout.to_std().map_err(invalid_spec)?),
        registration_timeout: signed(eks.registration_timeout.to_std().map_err(invalid_spec)?),
    })
}

impl PoolCapacity for EksProvider {
    fn calls(&self) -> &'static str {
        "an EC2 call"
    }

    fn reconcile<'a>(
        &'a self,
        pool: &'a ClusterPool,
        runs: &'a [std::sync::Arc<EtlRun>],
        _streams: &'a [String],
        log: &'a dyn RequestLog,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CapacityReport, ProviderError>> {
        self.reconcile_pool(pool, runs, log, now).boxed()
    }

    fn release<'a>(&'a self, pool: &'a ClusterPool) -> BoxFuture<'a, Result<Released, ProviderError>> {
        self.release_pool(pool).boxed()
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
