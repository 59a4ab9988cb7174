//! The ClusterPool reconcile of a pool whose provider holds capacity outside
//! Kubernetes (emr now): a finalizer (set once the provider answers) that
//! releases the capacity when the pool is deleted (unless `reclaimPolicy:
//! Retain`), and on every pass: the provider plans and applies capacity for
//! the pool's runs → status, Events and metrics.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use kube::{
    ResourceExt,
    runtime::{controller::Action, events::EventType},
};

use super::{Error, FIELD_MANAGER, PoolRuns, record_queue};
use crate::{
    api::v1alpha1::{ClusterPool, ClusterRequest, Usd},
    controllers::{
        Context, conditions,
        conditions::{Desired, Status},
        finalizer, status,
    },
    cost,
    error_category::kube_error_category,
    metrics::ClusterEventLabels,
    providers::{
        ProviderError,
        pool::{ClusterCounter, PoolCapacity, PoolEvent, RequestLog},
    },
};

/// The finalizer that releases a deleted pool's capacity.
pub const FINALIZER: &str = "ade.dev/emr-clusters";
/// How often a pool with capacity or demand is looked at again.
const BUSY_RESYNC: Duration = Duration::from_secs(10);
/// How often an empty pool is looked at again.
const IDLE_RESYNC: Duration = Duration::from_secs(30);

async fn set_finalizer(ctx: &Context, pool: &ClusterPool, present: bool) -> Result<(), Error> {
    finalizer::set(ctx, pool, FINALIZER, present)
        .await
        .map_err(|source| Error::ApplyStatus {
            pool: pool.name_any(),
            source,
        })
}

/// The pool's `status.clusterRequests` as a [`RequestLog`]: each record is a
/// status write of the pool's last known status with the new requests, so
/// the request is on the API server before the provider makes it.
struct StatusLog<'c> {
    ctx: &'c Context,
    pool: &'c ClusterPool,
    requests: Mutex<Vec<ClusterRequest>>,
}

impl<'c> StatusLog<'c> {
    fn new(ctx: &'c Context, pool: &'c ClusterPool) -> Self {
        let recorded = pool.status.as_ref().map(|s| s.cluster_requests.clone());
        Self {
            ctx,
            pool,
            requests: Mutex::new(recorded.unwrap_or_default()),
        }
    }
}

impl RequestLog for StatusLog<'_> {
    fn recorded(&self) -> Vec<ClusterRequest> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record<'a>(&'a self, requests: &'a [ClusterRequest]) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            let mut status = self.pool.status.clone().unwrap_or_default();
            status.cluster_requests = requests.to_vec();
            status::apply(self.ctx, self.pool, FIELD_MANAGER, &status)
                .await
                .map_err(|e| ProviderError::Api {
                    action: "recording the cluster request in the pool's status",
                    category: kube_error_category(&e),
                    source: Box::new(e),
                })?;
            *self.requests.lock().unwrap_or_else(|e| e.into_inner()) = requests.to_vec();
            Ok(())
        }
        .boxed()
    }
}

/// A deleted pool: release (or retain) its capacity, then let it go.
async fn finalize(pool: &ClusterPool, ctx: &Context, capacity: &dyn PoolCapacity) -> Result<Action, Error> {
    if !finalizer::has(pool, FINALIZER) {
        return Ok(Action::await_change());
    }
    let released = capacity.release(pool).await.map_err(|source| Error::Provider {
        pool: pool.name_any(),
        source,
    })?;
    for _ in 0..released.terminated {
        count(ctx, released.event.counter);
    }
    publish(ctx, pool, &released.event, "Delete").await;
    set_finalizer(ctx, pool, false).await?;
    Ok(Action::await_change())
}

/// Reconciles a pool whose provider holds capacity.
pub async fn reconcile(pool: &ClusterPool, ctx: &Context, capacity: Arc<dyn PoolCapacity>) -> Result<Action, Error> {
    if pool.metadata.deletion_timestamp.is_some() {
        return finalize(pool, ctx, capacity.as_ref()).await;
    }
    let ns = pool.namespace().unwrap_or_default();
    let name = pool.name_any();
    let now = Timestamp::now();
    let Some(runs) = PoolRuns::read(ctx, pool, now).await else {
        return Ok(Action::await_change());
    };
    let log = StatusLog::new(ctx, pool);
    let streams = crate::controllers::stream_consumer::emr_step::pool_demand(
        &ns,
        &name,
        ctx.caches.consumers.all().iter().map(AsRef::as_ref),
    );
    let report = capacity.reconcile(pool, &runs.all, &streams, &log, now).await;
    match &report {
        // Set once the provider answers: a pool that never reached it has no
        // capacity and stays deletable. A cluster created in the same pass as
        // the finalizer is covered by its AutoTerminationPolicy should the
        // pool be deleted before the finalizer lands.
        Ok(_) => set_finalizer(ctx, pool, true).await?,
        Err(error) => tracing::warn!(%error, "reconciling the capacity of the pool failed"),
    }
    // The last known capacity stays in the status while the provider does not answer.
    let mut status = pool.status.clone().unwrap_or_default();
    let ready = match &report {
        Ok(report) => {
            for event in &report.events {
                count(ctx, event.counter);
                publish(ctx, pool, event, "Scale").await;
            }
            status.clusters.clone_from(&report.clusters);
            status.cluster_count = report.cluster_count;
            status.idle_clusters = report.idle_clusters;
            status.running_runs = report.running_runs;
            status.breaker.clone_from(&report.breaker);
            status.cluster_requests.clone_from(&report.requests);
            let r = &report.readiness;
            Desired::new(
                "Ready",
                if r.ready { Status::True } else { Status::False },
                r.reason,
                r.message.clone(),
            )
        }
        Err(error) => {
            status.cluster_requests = log.recorded();
            Desired::new(
                "Ready",
                Status::False,
                "ProviderError",
                format!("{} failed: {error}", capacity.calls()),
            )
        }
    };
    let queued = runs.counts.queued
        + report
            .as_ref()
            .map_or(0, |r| usize::try_from(r.queued_runs).unwrap_or(0));
    record_queue(ctx, &format!("{ns}/{name}"), queued);
    status.observed_generation = pool.metadata.generation;
    status.conditions = conditions::merge(
        &status.conditions,
        &[status::accepted(&[]), ready],
        pool.metadata.generation,
        now,
    );
    status.queued_runs = i32::try_from(queued).unwrap_or(i32::MAX);
    status.estimated_cost_usd = Some(Usd(cost::usd(runs.cost_usd)));
    status::apply(ctx, pool, FIELD_MANAGER, &status)
        .await
        .map_err(|source| Error::ApplyStatus { pool: name, source })?;
    let busy = report.as_ref().map_or(true, |r| r.busy);
    Ok(Action::requeue(if busy { BUSY_RESYNC } else { IDLE_RESYNC }))
}

fn count(ctx: &Context, counter: Option<ClusterCounter>) {
    let (family, reason) = match counter {
        Some(ClusterCounter::Created(market)) => (&ctx.metrics.emr_clusters_created, market),
        Some(ClusterCounter::Terminated(reason)) => (&ctx.metrics.emr_clusters_terminated, reason),
        Some(ClusterCounter::NodeLaunched(market)) => (&ctx.metrics.eks_nodes_launched, market),
        Some(ClusterCounter::NodeTerminated(reason)) => (&ctx.metrics.eks_nodes_terminated, reason),
        Some(ClusterCounter::SpotInterruption(kind)) => (&ctx.metrics.eks_spot_interruptions, kind),
        None => return,
    };
    family.get_or_create(&ClusterEventLabels { reason }).inc();
}

async fn publish(ctx: &Context, pool: &ClusterPool, event: &PoolEvent, action: &str) {
    let type_ = if event.warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    ctx.publish_event(pool, type_, event.reason, &event.note, action).await;
}
