//! The ClusterPool reconcile of `provider: emr`: a finalizer (set once EMR
//! answers) that terminates the pool's clusters when it is deleted (unless
//! `reclaimPolicy: Retain`), and on every pass: demand from the pool's runs → the provider plans and
//! applies capacity → status, Events and metrics.

use std::time::Duration;

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{controller::Action, events::EventType},
};
use serde_json::json;

use super::{Error, FIELD_MANAGER, emr_status, record_queue};
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun, ReclaimPolicy},
    controllers::{Context, conditions, queue, status},
    cost,
    metrics::ClusterEventLabels,
    providers::emr::{breaker::BreakerState, planner::TerminateReason},
};

/// The finalizer that terminates a deleted pool's clusters.
pub const FINALIZER: &str = "ade.dev/emr-clusters";
/// How often a pool with clusters or demand is looked at again.
const BUSY_RESYNC: Duration = Duration::from_secs(10);
/// How often an empty pool is looked at again.
const IDLE_RESYNC: Duration = Duration::from_secs(30);

fn patch_error(pool: &ClusterPool) -> impl FnOnce(kube::Error) -> Error + '_ {
    |source| Error::ApplyStatus {
        pool: pool.name_any(),
        source,
    }
}

/// Sets or clears the finalizer, guarded by the resourceVersion read.
async fn set_finalizer(ctx: &Context, pool: &ClusterPool, present: bool) -> Result<(), Error> {
    let mut finalizers: Vec<String> = pool.finalizers().to_vec();
    finalizers.retain(|f| f != FINALIZER);
    if present {
        finalizers.push(FINALIZER.to_owned());
    }
    let api: Api<ClusterPool> = Api::namespaced(ctx.client.clone(), &pool.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": pool.resource_version()}});
    api.patch(&pool.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(patch_error(pool))?;
    Ok(())
}

/// A deleted pool: terminate (or retain) its clusters, then let it go.
async fn finalize(pool: &ClusterPool, ctx: &Context) -> Result<Action, Error> {
    if !pool.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    match pool.spec.reclaim_policy {
        ReclaimPolicy::Delete => {
            let ids = ctx.emr.terminate_pool(pool).await.map_err(|source| Error::Provider {
                pool: pool.name_any(),
                source,
            })?;
            for _ in &ids {
                ctx.metrics
                    .emr_clusters_terminated
                    .get_or_create(&ClusterEventLabels { reason: "PoolDeleted" })
                    .inc();
            }
            let note = if ids.is_empty() {
                "the pool had no live EMR cluster".to_owned()
            } else {
                format!("terminated EMR clusters {} (reclaimPolicy Delete)", ids.join(", "))
            };
            ctx.publish_event(pool, EventType::Normal, "ClustersTerminated", &note, "Delete")
                .await;
        }
        ReclaimPolicy::Retain => {
            let ids: Vec<String> = ctx
                .emr
                .pool_clusters(pool, None)
                .await
                .map_err(|source| Error::Provider {
                    pool: pool.name_any(),
                    source,
                })?
                .into_iter()
                .filter(|c| c.state.is_live())
                .map(|c| c.id)
                .collect();
            let note = format!(
                "reclaimPolicy Retain: EMR clusters {} keep running; terminate them yourself",
                ids.join(", ")
            );
            ctx.publish_event(pool, EventType::Warning, "ClustersRetained", &note, "Delete")
                .await;
        }
    }
    set_finalizer(ctx, pool, false).await?;
    Ok(Action::await_change())
}

/// Reconciles an emr pool.
pub async fn reconcile(pool: &ClusterPool, ctx: &Context) -> Result<Action, Error> {
    if pool.metadata.deletion_timestamp.is_some() {
        return finalize(pool, ctx).await;
    }
    let ns = pool.namespace().unwrap_or_default();
    let name = pool.name_any();
    let read = |what: &'static str| move |source: kube::Error| Error::Read { what, source };
    let runs = Api::<EtlRun>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .map_err(read("the EtlRuns"))?;
    let jobs = Api::<EtlJob>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .map_err(read("the EtlJobs"))?;
    let infos = queue::summarize(&runs.items, &jobs.items);
    let counts = queue::pool_counts(&infos, &name, Timestamp::now());
    let demand = emr_status::demand(&name, &runs.items);
    let before = emr_status::breaker_state(pool);
    let now = Timestamp::now();
    let report = ctx
        .emr
        .reconcile_pool(pool, before, &demand, now)
        .await
        .map_err(|e| e.to_string());
    record_queue(ctx, &format!("{ns}/{name}"), counts.queued + demand.queued.len());
    match &report {
        // Set once EMR answers: a pool that never reached EMR has no cluster
        // and stays deletable. A cluster created in the same pass as the
        // finalizer is covered by its AutoTerminationPolicy should the pool
        // be deleted before the finalizer lands.
        Ok(_) if !pool.finalizers().iter().any(|f| f == FINALIZER) => set_finalizer(ctx, pool, true).await?,
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "reconciling the EMR capacity of the pool failed"),
    }
    publish(pool, ctx, &report, before).await;

    let run_cost: f64 = runs
        .items
        .iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.pool.as_deref()) == Some(name.as_str()))
        .filter_map(|r| r.status.as_ref()?.estimated_cost_usd.as_ref()?.0.parse::<f64>().ok())
        .sum();
    let existing = pool
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let desired = [
        status::accepted(&[]),
        emr_status::ready(&report, pool.spec.capacity.max_clusters),
    ];
    let mut body = json!({
        "observedGeneration": pool.metadata.generation,
        "conditions": conditions::merge(existing, &desired, pool.metadata.generation, now),
        "queuedRuns": counts.queued + demand.queued.len(),
        "estimatedCostUSD": cost::usd(run_cost),
    });
    if let Ok(report) = &report {
        let (live, idle) = emr_status::counts(report);
        body["clusters"] = json!(emr_status::cluster_entries(report));
        body["clusterCount"] = json!(live);
        body["idleClusters"] = json!(idle);
        body["runningRuns"] = json!(report.clusters.iter().map(|c| c.running.len()).sum::<usize>());
        body["breaker"] = json!(emr_status::breaker_status(report));
    }
    status::apply(ctx, pool, FIELD_MANAGER, &body)
        .await
        .map_err(|source| Error::ApplyStatus { pool: name, source })?;
    let busy = report.as_ref().map_or(true, |r| {
        !demand.queued.is_empty() || r.clusters.iter().any(|c| c.info.state.is_live())
    });
    Ok(Action::requeue(if busy { BUSY_RESYNC } else { IDLE_RESYNC }))
}

/// Events and metrics of what the reconcile did.
async fn publish(
    pool: &ClusterPool,
    ctx: &Context,
    report: &Result<crate::providers::emr::capacity::PoolReport, String>,
    before: BreakerState,
) {
    let Ok(report) = report else { return };
    for (id, runs) in &report.created {
        let market = report.breaker.market.as_str();
        ctx.metrics
            .emr_clusters_created
            .get_or_create(&ClusterEventLabels { reason: market })
            .inc();
        let why = if runs.is_empty() {
            "to keep minClusters warm".to_owned()
        } else {
            format!("for {}", runs.join(", "))
        };
        let note = format!("created EMR cluster {id} ({market}) {why}");
        ctx.publish_event(pool, EventType::Normal, "ClusterCreated", &note, "Scale")
            .await;
    }
    for c in &report.clusters {
        let Some(t) = &c.terminated else { continue };
        let reason = match t.reason {
            TerminateReason::IdleTimeout => "IdleTimeout",
            TerminateReason::RunFinished => "RunFinished",
            TerminateReason::OverCapacity => "OverCapacity",
        };
        ctx.metrics
            .emr_clusters_terminated
            .get_or_create(&ClusterEventLabels { reason })
            .inc();
        let note = format!("terminated EMR cluster {}: {}", c.info.id, t.message);
        ctx.publish_event(pool, EventType::Normal, "ClusterTerminated", &note, "Scale")
            .await;
    }
    let opened = matches!(report.breaker.state, BreakerState::Open { .. });
    if opened != matches!(before, BreakerState::Open { .. }) {
        let (kind, reason) = if opened {
            (EventType::Warning, "BreakerOpened")
        } else {
            (EventType::Normal, "BreakerClosed")
        };
        ctx.publish_event(pool, kind, reason, &report.breaker.reason, "Scale")
            .await;
    }
}
