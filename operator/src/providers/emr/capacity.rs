//! A pool's capacity: observe its clusters and their steps, let the breaker
//! pick the market and the planner decide, create and terminate clusters, and
//! estimate what every cluster (and each run on it) costs.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::{
    Market,
    api::{ClusterInfo, StepInfo},
    breaker::{self, BreakerState, Decision},
    observe,
    planner::{self, Limits, Placement, Termination, Waiting},
    pricing::{self, PriceBook},
    provider::{EmrProvider, emr_of, placing_key},
    request, requests,
};
use crate::{
    api::v1alpha1::{ClusterPool, ClusterRequest},
    providers::{AttemptHandle, AttemptRef, ProviderError, pool::RequestLog},
};

/// What the pool needs capacity for, by run identity (the step name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// Attempts without a step yet, first come first.
    pub queued: Vec<String>,
    /// Attempts whose step is on a cluster.
    pub placed: Vec<Placement>,
}

/// One cluster of the pool, for its status.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterReport {
    /// What EMR says of it.
    pub info: ClusterInfo,
    /// How its capacity was bought.
    pub market: Market,
    /// Runs (step names) executing on it.
    pub running: Vec<String>,
    /// Since when it has run nothing.
    pub idle_since: Option<Timestamp>,
    /// Estimated cost so far, US dollars, when every price is known.
    pub cost_usd: Option<f64>,
    /// Why the operator terminated it in this reconcile.
    pub terminated: Option<Termination>,
}

/// What one reconcile of a pool's capacity saw and did.
#[derive(Debug, Clone)]
pub struct PoolReport {
    /// Every cluster seen: live ones and those terminated within the breaker window.
    pub clusters: Vec<ClusterReport>,
    /// The breaker's decision: the market of new clusters.
    pub breaker: Decision,
    /// Clusters created now: id and the runs they were created for.
    pub created: Vec<(String, Vec<String>)>,
    /// Runs still waiting for a slot.
    pub waiting: Vec<Waiting>,
    /// Why some cost could not be estimated.
    pub cost_error: Option<String>,
    /// Clusters asked for and not listed yet (`status.clusterRequests`).
    pub requests: Vec<ClusterRequest>,
}

impl EmrProvider {
    /// Observes `pool`'s clusters, plans for `demand` and carries the plan out:
    /// creates clusters (on the breaker's market, each recorded in `log`
    /// before it is asked for) and terminates those the pool no longer wants.
    /// Recorded requests whose cluster is not listed yet count as starting
    /// clusters ([`requests`]).
    pub async fn reconcile_pool(
        &self,
        pool: &ClusterPool,
        breaker_state: BreakerState,
        demand: &Demand,
        log: &dyn RequestLog,
        now: Timestamp,
    ) -> Result<PoolReport, ProviderError> {
        let emr = emr_of(pool)?;
        let region = self.region_of(pool)?;
        let invalid = |e: crate::api::v1alpha1::DurationError| ProviderError::Api {
            action: "reading the pool's durations",
            category: "invalid-spec",
            source: Box::new(e),
        };
        let limits = Limits::from_capacity(&pool.spec.capacity).map_err(invalid)?;
        let settings = breaker::Settings::from_spec(&emr.interruptions).map_err(invalid)?;
        let since = now
            .checked_sub(SignedDuration::try_from(settings.window).unwrap_or(SignedDuration::ZERO))
            .unwrap_or(now);

        let _placing = self.placing.lock(&placing_key(pool)).await;
        let clusters = self.pool_clusters(pool, Some(since)).await?;
        let live: Vec<ClusterInfo> = clusters.iter().filter(|c| c.state.is_live()).cloned().collect();
        let steps = self.steps_of(&region, &live).await?;
        let no_steps = Vec::new();
        let steps_of = |id: &str| steps.get(id).unwrap_or(&no_steps);
        let decision = breaker::evaluate(&settings, &observe::spot_events(&clusters), breaker_state, now);
        let planned: Vec<planner::Cluster> = clusters
            .iter()
            .map(|c| observe::planner_cluster(c, steps_of(&c.id)))
            .collect();
        let mut outstanding = requests::outstanding(&log.recorded(), &clusters, now);
        let mut planning = planned.clone();
        planning.extend(outstanding.iter().map(requests::as_planned));
        let plan = planner::plan(&limits, now, &planning, &demand.queued, &demand.placed);

        let created = self
            .create(pool, decision.market, &plan.create, &mut outstanding, log, now)
            .await?;
        let doomed: Vec<String> = plan
            .terminate
            .iter()
            .map(|t| t.cluster.clone())
            .filter(|id| !requests::is_requested(id))
            .collect();
        self.api
            .terminate(&region, &doomed)
            .await
            .map_err(ProviderError::from)?;

        let (costs, cost_error) = self.cluster_costs(&region, emr, &clusters, now).await;
        let reports = clusters
            .iter()
            .zip(planned)
            .map(|(c, p)| ClusterReport {
                info: c.clone(),
                market: p.market,
                running: p.running,
                idle_since: p.idle_since,
                cost_usd: costs.get(&c.id).copied(),
                terminated: plan.terminate.iter().find(|t| t.cluster == c.id).cloned(),
            })
            .collect();
        Ok(PoolReport {
            clusters: reports,
            breaker: decision,
            created,
            waiting: plan.waiting,
            cost_error,
            requests: outstanding,
        })
    }

    /// Creates the clusters of `new`: records their requests in `log` with
    /// the `outstanding` ones, then calls `RunJobFlow` for each. A call that
    /// was refused drops its request (recorded again before the error
    /// returns); one that may have created the cluster keeps it, to be found
    /// by name.
    async fn create(
        &self,
        pool: &ClusterPool,
        market: super::Market,
        new: &[planner::NewCluster],
        outstanding: &mut Vec<ClusterRequest>,
        log: &dyn RequestLog,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<String>)>, ProviderError> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let emr = emr_of(pool)?;
        let region = self.region_of(pool)?;
        let specs: Vec<_> = (0..new.len())
            .map(|i| {
                let nonce = format!("{}/{}/{i}", pool.uid().unwrap_or_default(), now.as_nanosecond());
                request::cluster_spec(pool, emr, market, &self.settings.operator, &nonce)
            })
            .collect();
        outstanding.extend(specs.iter().map(|s| requests::request(&s.name, market, now)));
        log.record(outstanding).await?;
        let mut created = Vec::new();
        for (spec, new) in specs.iter().zip(new) {
            match self.api.run_job_flow(&region, spec).await {
                Ok(id) => {
                    tracing::info!(cluster = %id, name = %spec.name, %market, "created an EMR cluster");
                    created.push((id, new.runs.clone()));
                }
                Err(e) => {
                    if !requests::may_have_created(e.category) {
                        outstanding.retain(|r| r.name != spec.name);
                        // A request left recorded only delays the next one by its grace.
                        if let Err(error) = log.record(outstanding).await {
                            tracing::warn!(%error, "dropping a refused cluster request from the pool's status failed");
                        }
                    }
                    return Err(ProviderError::from(e));
                }
            }
        }
        Ok(created)
    }

    /// The ids of `pool`'s live clusters.
    pub async fn live_cluster_ids(&self, pool: &ClusterPool) -> Result<Vec<String>, ProviderError> {
        Ok(self
            .pool_clusters(pool, None)
            .await?
            .into_iter()
            .filter(|c| c.state.is_live())
            .map(|c| c.id)
            .collect())
    }

    /// Terminates every live cluster of `pool` (the pool is being deleted): their ids.
    pub async fn terminate_pool(&self, pool: &ClusterPool) -> Result<Vec<String>, ProviderError> {
        let region = self.region_of(pool)?;
        let _placing = self.placing.lock(&placing_key(pool)).await;
        let ids = self.live_cluster_ids(pool).await?;
        self.api.terminate(&region, &ids).await.map_err(ProviderError::from)?;
        Ok(ids)
    }

    /// What each of one run's `attempts` cost so far, US dollars: for an
    /// attempt with a step, its cluster's cost so far (`now` for a live one)
    /// split among the cluster's steps by run-seconds. `None` for one without
    /// a step or a pool, or when a price is missing.
    pub async fn run_cost(&self, attempts: &[AttemptRef], now: Timestamp) -> Result<Vec<Option<f64>>, ProviderError> {
        let mut out = Vec::with_capacity(attempts.len());
        for attempt in attempts {
            let share = match (&attempt.handle, &attempt.pool) {
                (AttemptHandle::EmrStep { cluster_id, .. }, Some(pool)) => {
                    self.attempt_cost(pool, cluster_id, &request::step_name(attempt), now)
                        .await?
                }
                _ => None,
            };
            out.push(share);
        }
        Ok(out)
    }

    /// The share of cluster `cluster_id`'s cost that the step named `step_name`
    /// used, US dollars: the cluster's cost so far (`now` for a live one) split
    /// among its steps by run-seconds. `None` when a price is missing or the
    /// step has not started.
    async fn attempt_cost(
        &self,
        pool: &ClusterPool,
        cluster_id: &str,
        step_name: &str,
        now: Timestamp,
    ) -> Result<Option<f64>, ProviderError> {
        let emr = emr_of(pool)?;
        let region = self.region_of(pool)?;
        let Some(cluster) = self
            .api
            .describe_cluster(&region, cluster_id)
            .await
            .map_err(ProviderError::from)?
        else {
            return Ok(None);
        };
        let steps = self
            .api
            .list_steps(&region, cluster_id)
            .await
            .map_err(ProviderError::from)?;
        let (costs, _) = self
            .cluster_costs(&region, emr, std::slice::from_ref(&cluster), now)
            .await;
        let Some(total) = costs.get(cluster_id) else {
            return Ok(None);
        };
        let shares = pricing::apportion(*total, &run_times(&steps, cluster.ended_at.unwrap_or(now)));
        Ok(shares.runs.iter().find(|r| r.run == step_name).map(|r| r.usd))
    }

    /// The estimated cost of each cluster, and why some could not be estimated.
    async fn cluster_costs(
        &self,
        region: &str,
        emr: &crate::api::v1alpha1::EmrPool,
        clusters: &[ClusterInfo],
        now: Timestamp,
    ) -> (BTreeMap<String, f64>, Option<String>) {
        let usage: Vec<(String, Vec<pricing::FleetUsage>)> = clusters
            .iter()
            .map(|c| (c.id.clone(), observe::fleet_usage(emr, c, now)))
            .collect();
        let mut errors = Vec::new();
        let fetch = |types: Vec<String>, since| async move {
            self.api
                .spot_prices(region, &types, since)
                .await
                .map_err(ProviderError::from)
        };
        let used = usage.iter().flat_map(|(_, u)| u);
        let spot = match self.spot_cache.for_usage(region, used, now, fetch).await {
            Ok(prices) => prices,
            Err(e) => {
                errors.push(e.to_string());
                Vec::new()
            }
        };
        let book = PriceBook {
            on_demand: self.settings.on_demand_prices.clone(),
            emr_uplift: self.settings.emr_uplift.clone(),
            spot,
        };
        let mut out = BTreeMap::new();
        for (id, u) in usage {
            match pricing::cluster_cost(&u, &book) {
                Ok(cost) => {
                    out.insert(id, cost.total());
                }
                Err(missing) => errors.push(format!("cluster {id}: {missing}")),
            }
        }
        errors.dedup();
        (out, (!errors.is_empty()).then(|| errors.join("; ")))
    }
}

/// The run-seconds of every step that started, ending at `now` when still running.
pub fn run_times(steps: &[StepInfo], now: Timestamp) -> Vec<pricing::RunTime> {
    steps
        .iter()
        .filter_map(|s| {
            Some(pricing::RunTime {
                run: s.name.clone(),
                from: s.started_at?,
                to: s.ended_at.unwrap_or(now),
            })
        })
        .collect()
}
