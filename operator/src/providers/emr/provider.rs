//! [`EmrProvider`]: run attempts as EMR steps on a pool's clusters. A step is
//! found by its name (the attempt's identity) on any cluster of the pool
//! before one is added, so a retried or restarted start adopts it.

use std::{collections::BTreeMap, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use kube::ResourceExt;

use super::{
    api::{ClusterInfo, EmrApi, StepInfo, StepSpec},
    observe,
    planner::{self, Limits},
    request::{self, TAG_POOL_UID},
};
use crate::{
    api::v1alpha1::{ClusterPool, EmrPool},
    providers::{AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, Profile, ProviderError},
};

/// Settings of the emr provider from the operator's configuration.
#[derive(Debug, Clone, Default)]
pub struct EmrSettings {
    /// The operator's identity, tagged on every cluster (`ade.dev/managed-by`).
    pub operator: String,
    /// Region of pools that name none.
    pub default_region: Option<String>,
    /// On-demand US dollars per instance-hour, by instance type.
    pub on_demand_prices: BTreeMap<String, f64>,
    /// EMR's fee in US dollars per instance-hour, by instance type.
    pub emr_uplift: BTreeMap<String, f64>,
}

/// The `emr` compute provider.
pub struct EmrProvider {
    pub(super) api: Arc<dyn EmrApi>,
    pub(super) settings: EmrSettings,
    /// Held, per pool, while a step is placed or its clusters are planned,
    /// so that two reconciles never pick the same last slot or retire a
    /// cluster being used. A slow EMR call holds back that pool only.
    pub(super) placing: crate::locks::KeyedLocks,
    pub(super) spot_cache: crate::providers::spot_prices::SpotPriceCache,
}

impl std::fmt::Debug for EmrProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmrProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The key of a pool's placement lock.
pub(crate) fn placing_key(pool: &ClusterPool) -> String {
    format!("{}/{}", pool.namespace().unwrap_or_default(), pool.name_any())
}

/// The `spec.emr` of a pool, or why there is none.
pub(super) fn emr_of(pool: &ClusterPool) -> Result<&EmrPool, ProviderError> {
    pool.spec.emr.as_ref().ok_or(ProviderError::Unsupported {
        task: "any",
        provider: "emr",
        hint: "the ClusterPool has provider emr but no spec.emr",
    })
}

impl EmrProvider {
    /// A provider calling `api`.
    pub fn new(api: Arc<dyn EmrApi>, settings: EmrSettings) -> Self {
        Self {
            api,
            settings,
            placing: crate::locks::KeyedLocks::default(),
            spot_cache: crate::providers::spot_prices::SpotPriceCache::default(),
        }
    }

    /// The region of `pool`: its own, else the operator's default.
    pub fn region_of(&self, pool: &ClusterPool) -> Result<String, ProviderError> {
        self.region_for(Some(pool))
    }

    /// The region of an attempt's pool, else (the pool is gone) the operator's default.
    fn region_for(&self, pool: Option<&ClusterPool>) -> Result<String, ProviderError> {
        pool.and_then(|p| p.spec.region.clone())
            .or_else(|| self.settings.default_region.clone())
            .ok_or(ProviderError::Unsupported {
                task: "any",
                provider: "emr",
                hint: "set spec.region on the ClusterPool or --aws-region on the operator",
            })
    }

    /// The pool's clusters: every active one and, with `terminated_since`, the
    /// terminated ones created after it. Found by name prefix, confirmed by the
    /// pool-uid tag (a pool recreated under the same name does not adopt the
    /// clusters of the old one).
    pub async fn pool_clusters(
        &self,
        pool: &ClusterPool,
        terminated_since: Option<Timestamp>,
    ) -> Result<Vec<ClusterInfo>, ProviderError> {
        let region = self.region_of(pool)?;
        let prefix = request::cluster_name_prefix(&pool.namespace().unwrap_or_default(), &pool.name_any());
        let uid = pool.uid().unwrap_or_default();
        let mut summaries = self
            .api
            .list_clusters(&region, true, None)
            .await
            .map_err(ProviderError::from)?;
        if let Some(since) = terminated_since {
            summaries.extend(
                self.api
                    .list_clusters(&region, false, Some(since))
                    .await
                    .map_err(ProviderError::from)?,
            );
        }
        let mut out: Vec<ClusterInfo> = Vec::new();
        for s in summaries.iter().filter(|s| s.name.starts_with(&prefix)) {
            if out.iter().any(|c| c.id == s.id) {
                continue;
            }
            let info = self
                .api
                .describe_cluster(&region, &s.id)
                .await
                .map_err(ProviderError::from)?;
            if let Some(info) = info.filter(|c| c.tags.get(TAG_POOL_UID) == Some(&uid)) {
                out.push(info);
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// The steps of each cluster.
    pub(super) async fn steps_of(
        &self,
        region: &str,
        clusters: &[ClusterInfo],
    ) -> Result<BTreeMap<String, Vec<StepInfo>>, ProviderError> {
        let mut out = BTreeMap::new();
        for c in clusters {
            let steps = self.api.list_steps(region, &c.id).await.map_err(ProviderError::from)?;
            out.insert(c.id.clone(), steps);
        }
        Ok(out)
    }

    async fn start_step(&self, request: &AttemptRequest) -> Result<AttemptHandle, ProviderError> {
        let step = request::step_spec(request)?;
        Ok(match self.place_step(&request.pool, &step).await? {
            Some((cluster, step_id)) => AttemptHandle::EmrStep {
                cluster_id: cluster.id.clone(),
                step_id,
                market: Some(observe::market_of(&cluster).as_str().to_owned()),
            },
            None => AttemptHandle::Unplaced,
        })
    }

    /// Adds `step` to a cluster of `pool` with a free slot, unless a step of
    /// that name exists on one (then it is adopted): the cluster and step id,
    /// or `None` when no cluster has room yet (the ClusterPool controller
    /// creates one for the demand).
    pub async fn place_step(
        &self,
        pool: &ClusterPool,
        step: &StepSpec,
    ) -> Result<Option<(ClusterInfo, String)>, ProviderError> {
        let region = self.region_of(pool)?;
        let _placing = self.placing.lock(&placing_key(pool)).await;
        let clusters = self.pool_clusters(pool, None).await?;
        let steps = self.steps_of(&region, &clusters).await?;
        // Adopt: a step with this name exists on one of the pool's clusters.
        // Names carry the owner's uid, so an object re-created under an old
        // name never adopts the old one's step.
        for c in &clusters {
            if let Some(existing) = steps.get(&c.id).into_iter().flatten().find(|s| s.name == step.name) {
                tracing::info!(cluster = %c.id, step = %existing.id, name = %step.name, "adopted the existing EMR step");
                return Ok(Some((c.clone(), existing.id.clone())));
            }
        }
        // Place: the planner's choice among live clusters with a free slot.
        let limits = Limits::from_capacity(&pool.spec.capacity).map_err(|e| ProviderError::Api {
            action: "reading spec.capacity.idleTimeout",
            category: "invalid-spec",
            source: Box::new(e),
        })?;
        let planned: Vec<planner::Cluster> = clusters
            .iter()
            .map(|c| observe::planner_cluster(c, steps.get(&c.id).map(Vec::as_slice).unwrap_or_default()))
            .collect();
        let plan = planner::plan(
            &limits,
            Timestamp::now(),
            &planned,
            std::slice::from_ref(&step.name),
            &[],
        );
        let Some(cluster) = plan
            .place
            .first()
            .and_then(|place| clusters.iter().find(|c| c.id == place.cluster))
        else {
            return Ok(None);
        };
        let id = self
            .api
            .add_step(&region, &cluster.id, step)
            .await
            .map_err(ProviderError::from)?;
        tracing::info!(cluster = %cluster.id, step = %id, name = %step.name, "added an EMR step");
        Ok(Some((cluster.clone(), id)))
    }

    async fn observe_step(&self, attempt: &AttemptRef) -> Result<AttemptState, ProviderError> {
        let AttemptHandle::EmrStep {
            cluster_id, step_id, ..
        } = &attempt.handle
        else {
            return Ok(AttemptState::Missing);
        };
        let region = &self.region_for(attempt.pool.as_ref())?;
        let cluster = self
            .api
            .describe_cluster(region, cluster_id)
            .await
            .map_err(ProviderError::from)?;
        let steps = match &cluster {
            Some(_) => self
                .api
                .list_steps(region, cluster_id)
                .await
                .map_err(ProviderError::from)?,
            None => Vec::new(),
        };
        let step = steps.iter().find(|s| &s.id == step_id);
        if step.is_none() && cluster.is_none() {
            // The step's cluster is gone from EMR's memory: capacity was lost.
            return Ok(AttemptState::Failed {
                kind: crate::providers::FailureKind::Interrupted,
                message: format!("EMR cluster {cluster_id} no longer exists"),
                finished_at: None,
            });
        }
        Ok(observe::attempt_state(step, cluster.as_ref()))
    }

    async fn cancel_step(&self, attempt: &AttemptRef) -> Result<(), ProviderError> {
        let region = self.region_for(attempt.pool.as_ref())?;
        let (cluster_id, step_id) = match &attempt.handle {
            AttemptHandle::EmrStep {
                cluster_id, step_id, ..
            } => (cluster_id.clone(), Some(step_id.clone())),
            // Not recorded: a start may have added the step before it could
            // say so. Look for it by name on the pool's clusters.
            AttemptHandle::Unplaced | AttemptHandle::Job { .. } => {
                let Some(pool) = &attempt.pool else { return Ok(()) };
                let clusters = self.pool_clusters(pool, None).await?;
                let steps = self.steps_of(&region, &clusters).await?;
                let name = request::step_name(attempt);
                let found = steps
                    .iter()
                    .find_map(|(cluster, steps)| Some((cluster.clone(), steps.iter().find(|s| s.name == name)?)));
                match found {
                    Some((cluster, step)) => (cluster, Some(step.id.clone())),
                    None => return Ok(()),
                }
            }
        };
        let Some(step_id) = step_id else { return Ok(()) };
        // A cluster EMR has forgotten, or one that ended, runs nothing.
        let live = self
            .api
            .describe_cluster(&region, &cluster_id)
            .await
            .map_err(ProviderError::from)?
            .is_some_and(|c| c.state.is_live());
        if !live {
            return Ok(());
        }
        self.cancel_if_active(&region, &cluster_id, &step_id).await
    }

    /// `CancelSteps` of `step` on `cluster`, if it is still active.
    pub(super) async fn cancel_if_active(&self, region: &str, cluster: &str, step: &str) -> Result<(), ProviderError> {
        let steps = self
            .api
            .list_steps(region, cluster)
            .await
            .map_err(ProviderError::from)?;
        if steps.iter().any(|s| s.id == step && s.state.is_active()) {
            self.api
                .cancel_step(region, cluster, step)
                .await
                .map_err(ProviderError::from)?;
        }
        Ok(())
    }
}

impl ComputeProvider for EmrProvider {
    fn profile(&self) -> Profile {
        Profile {
            name: "emr",
            in_cluster: false,
            prices_attempts: true,
            // EMR steps have no deadline.
            needs_deadline: true,
            // Steps live on EMR clusters, outside any garbage collector.
            holds_external: true,
        }
    }

    fn intent(&self, _target: &AttemptRef) -> AttemptHandle {
        // The step's id and cluster are known once it is added.
        AttemptHandle::Unplaced
    }

    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>> {
        self.start_step(request).boxed()
    }

    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>> {
        self.observe_step(attempt).boxed()
    }

    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.cancel_step(attempt).boxed()
    }

    fn release<'a>(&'a self, _attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        // A finished step stays in the cluster's history: nothing to let go.
        futures::future::ready(Ok(())).boxed()
    }

    fn cost<'a>(
        &'a self,
        attempts: &'a [AttemptRef],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>, ProviderError>> {
        self.run_cost(attempts, now).boxed()
    }
}
