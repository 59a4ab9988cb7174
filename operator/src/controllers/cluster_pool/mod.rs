//! ClusterPool controller. For `kubernetes` pools it reports `Ready` and the
//! pool's run counts (running, and queued behind `capacity.maxConcurrentRuns`)
//! and the estimated cost of its runs; the queue itself is enforced by the
//! EtlRun controller. For pools whose provider holds capacity ([`capacity`]:
//! emr) the provider also creates, adopts and terminates the pool's clusters.
//! The `eks` provider arrives in a later release, and its pools say so.

mod capacity;
#[cfg(test)]
mod scenario_tests;
mod wake;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{
    ResourceExt,
    runtime::{controller::Action, reflector::ObjectRef},
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, ErrorCategory, conditions,
    conditions::{Desired, Status},
    kube_error_category, queue, runner, status,
};
use crate::{
    api::v1alpha1::{ClusterPool, ClusterPoolStatus, EtlRun, StreamConsumer, StreamRuntime, Usd},
    controllers::etl_job::apply::LABEL_POOL,
    cost,
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "cluster-pool";
const FIELD_MANAGER: &str = "ade-operator/cluster-pool";
/// Counts are refreshed at least this often, besides every change of a run of the pool.
const RESYNC: Duration = Duration::from_secs(30);

/// Errors of the ClusterPool controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The compute provider failed.
    #[error("ClusterPool {pool}: {source}")]
    Provider {
        /// The pool.
        pool: String,
        /// Why.
        #[source]
        source: crate::providers::ProviderError,
    },
    /// Writing the status failed.
    #[error("applying the status of ClusterPool {pool}: {source}")]
    ApplyStatus {
        /// The pool.
        pool: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::ApplyStatus { source, .. } => kube_error_category(source),
            Self::Provider { source, .. } => source.category(),
        }
    }
}

/// Runs the controller until `shutdown`. A pool is woken by its spec (and
/// deletion), the changes of its runs it acts on ([`wake`]), and its resync
/// timer, never by its own status: that
/// carries the cost of live clusters so far, which changes on every pass, and
/// would wake the pool again at once (a hot loop the spec fuzz test found).
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let runs = ctx.caches.runs.changes();
    let consumers = ctx.caches.consumers.changes();
    runner::run_with::<ClusterPool, _, _, _>(
        ctx,
        shutdown,
        CONTROLLER,
        runner::Trigger::SpecChange,
        reconcile,
        move |c| {
            let wakes = wake::Wakes::default();
            let consumer_wakes = wake::Wakes::default();
            c.watches_shared_stream(runs, move |run: Arc<EtlRun>| {
                if !wakes.changed(&run) {
                    return None;
                }
                let pool = run
                    .status
                    .as_ref()
                    .and_then(|s| s.pool.clone())
                    .or_else(|| run.labels().get(LABEL_POOL).cloned())?;
                Some(ObjectRef::new(&pool).within(&run.namespace()?))
            })
            .watches_shared_stream(consumers, move |consumer: Arc<StreamConsumer>| {
                if consumer.spec.runtime != StreamRuntime::Emr || !consumer_wakes.consumer_changed(&consumer) {
                    return None;
                }
                let pool = consumer.spec.pool_ref.as_ref()?.name.clone();
                Some(ObjectRef::new(&pool).within(&consumer.namespace()?))
            })
        },
    )
    .await;
}

#[instrument(skip_all, fields(namespace = pool.metadata.namespace, name = pool.metadata.name))]
async fn reconcile(pool: Arc<ClusterPool>, ctx: Arc<Context>) -> Result<Action, Error> {
    if let Some(provider) = ctx.providers.capacity_for(&pool) {
        return capacity::reconcile(&pool, &ctx, provider).await;
    }
    // The store may lag the operator's last status write: compare against the newest known.
    let pool = ctx.caches.pools.freshest(pool);
    let ns = pool.namespace().unwrap_or_default();
    let name = pool.name_any();
    let now = Timestamp::now();
    let Some(runs) = PoolRuns::read(&ctx, &pool, now).await else {
        return Ok(Action::await_change());
    };
    record_queue(&ctx, &format!("{ns}/{name}"), runs.counts.queued);
    let existing = pool
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let desired = [status::accepted(&[]), ready()];
    let as_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let status = ClusterPoolStatus {
        observed_generation: pool.metadata.generation,
        conditions: conditions::merge(existing, &desired, pool.metadata.generation, now),
        running_runs: as_i32(runs.counts.running),
        queued_runs: as_i32(runs.counts.queued),
        estimated_cost_usd: Some(Usd(cost::usd(runs.cost_usd))),
        ..ClusterPoolStatus::default()
    };
    if !status::shows(pool.status.as_ref(), &status, |s| &mut s.conditions) {
        let written = status::apply(&ctx, pool.as_ref(), FIELD_MANAGER, &status)
            .await
            .map_err(|source| Error::ApplyStatus { pool: name, source })?;
        ctx.caches.pools.wrote(written);
    }
    Ok(Action::requeue(RESYNC))
}

/// The runs of a pool, and what the pool's status says of them.
struct PoolRuns {
    /// The runs recorded in the pool (`status.pool`) and the runs of the
    /// jobs on it (a provider picks those it places).
    all: Vec<Arc<EtlRun>>,
    /// The pool's runs running and queued behind `maxConcurrentRuns`.
    counts: queue::PoolCounts,
    /// The estimated cost of the pool's runs, US dollars.
    cost_usd: f64,
}

impl PoolRuns {
    /// `None` when the caches stopped before they were complete (shutdown).
    /// Reads the pool's runs only: its cost does not grow with the rest of
    /// the namespace.
    async fn read(ctx: &Context, pool: &ClusterPool, now: Timestamp) -> Option<Self> {
        if !ctx.caches.ready().await {
            return None;
        }
        let ns = pool.namespace().unwrap_or_default();
        let name = pool.name_any();
        let jobs = ctx.caches.jobs.in_namespace(&ns);
        let mut runs = ctx.caches.runs.recorded_in_pool(&ns, &name);
        for job in jobs.iter().filter(|j| j.spec.pool_ref.name == name) {
            runs.extend(ctx.caches.runs.of_job(&ns, &job.name_any()));
        }
        runs.sort_unstable_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        runs.dedup_by(|a, b| a.metadata.name == b.metadata.name);
        let infos = queue::summarize(runs.iter().map(AsRef::as_ref), jobs.iter().map(AsRef::as_ref));
        let counts = queue::pool_counts(&infos, &name, now);
        // `summarize` keeps the runs' order: a run and its queue view pair up.
        let cost_usd = runs
            .iter()
            .zip(&infos)
            .filter(|(r, i)| {
                r.status.as_ref().and_then(|s| s.pool.as_deref()) == Some(name.as_str())
                    || i.pool.as_deref() == Some(name.as_str())
            })
            .filter_map(|(r, _)| r.status.as_ref()?.estimated_cost_usd.as_ref()?.dollars())
            .sum();
        Some(Self {
            all: runs,
            counts,
            cost_usd,
        })
    }
}

/// Updates the queue-depth gauge: the sum over all pools.
fn record_queue(ctx: &Context, pool: &str, queued: usize) {
    let mut queues = ctx.pool_queues.lock().unwrap_or_else(|e| e.into_inner());
    queues.insert(pool.to_owned(), queued);
    let total: usize = queues.values().sum();
    ctx.metrics.queue_depth.set(i64::try_from(total).unwrap_or(i64::MAX));
}

/// The `Ready` condition of a pool whose provider holds no capacity (kubernetes).
///
/// Pure.
fn ready() -> Desired {
    Desired::new(
        "Ready",
        Status::True,
        "Available",
        "runs execute as Kubernetes Jobs in this cluster",
    )
}

/// Pool queue depths by `namespace/name`.
pub type PoolQueues = std::sync::Mutex<BTreeMap<String, usize>>;
