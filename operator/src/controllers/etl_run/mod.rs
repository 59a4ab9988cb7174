//! EtlRun controller: runs one batch of one EtlJob on its pool's compute
//! provider, attempt by attempt, until it succeeds, fails for good or is
//! cancelled. Reconcile = observe (async reads) → plan (pure state machine) →
//! apply (status first, then the provider call).

mod apply;
mod finalize;
mod observe;
pub mod plan;
#[cfg(test)]
mod scenario_tests;
mod upstream;

pub(crate) use self::{observe::resolve_window, upstream::final_run};

use std::sync::Arc;

use jiff::Timestamp;
use kube::{
    ResourceExt,
    runtime::{controller::Action, reflector::ObjectRef},
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{Context, ErrorCategory, kube_error_category, runner};
use crate::{
    api::v1alpha1::{ClusterPool, EtlRun},
    providers::{ATTEMPT_FINALIZER, AttemptHandle, AttemptRef, ComputeProvider, ProviderError},
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "etl-run";
const FIELD_MANAGER: &str = "ade-operator/etl-run";

/// Errors of the EtlRun controller, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the status failed.
    #[error("applying the status of EtlRun {run}: {source}")]
    ApplyStatus {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Adding or removing the run's finalizer failed.
    #[error("updating the finalizers of EtlRun {run}: {source}")]
    Finalizer {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The compute provider failed.
    #[error("{step} attempt {attempt} of EtlRun {run}: {source}")]
    Provider {
        /// `starting`, `observing` or `cancelling`.
        step: &'static str,
        /// The run.
        run: String,
        /// The attempt.
        attempt: i32,
        /// Why.
        #[source]
        source: ProviderError,
    },
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::ApplyStatus { source, .. } | Self::Finalizer { source, .. } => kube_error_category(source),
            Self::Provider { source, .. } => source.category(),
        }
    }
}

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    // The attempts' Jobs, from the cache the kubernetes provider observes
    // them in: a run woken by its Job reads that Job's new state.
    let jobs = ctx.caches.attempt_jobs.changes_and_deletions();
    let finished = ctx.caches.runs.changes();
    let caches = ctx.caches.clone();
    let trigger = runner::Trigger::Cached(caches.runs.clone());
    runner::run_with::<EtlRun, _, _, _>(ctx, shutdown, CONTROLLER, trigger, reconcile, move |c| {
        // When a run finishes, wake the waiting runs it may have held back.
        c.owns_shared_stream(jobs)
            .watches_shared_stream(finished, move |run: Arc<EtlRun>| {
                if !run.status.as_ref().and_then(|s| s.phase).is_some_and(|p| p.is_final()) {
                    return Vec::new();
                }
                held_back_by(&run, &caches)
                    .iter()
                    .filter(|other| waiting(other))
                    .map(|other| ObjectRef::from_obj(other.as_ref()))
                    .collect::<Vec<_>>()
            })
    })
    .await;
}

/// The runs `finished` may have held back: those of its own job (the same
/// batch, the job's budget), of jobs that depend on its job (upstream
/// batches), and, when its pool limits concurrent runs, of every job on
/// that pool (the queue).
fn held_back_by(finished: &EtlRun, caches: &super::caches::Caches) -> Vec<Arc<EtlRun>> {
    let ns = finished.namespace().unwrap_or_default();
    let job = finished.spec.job_ref.name.as_str();
    let limited_pool = caches
        .jobs
        .get(&ns, job)
        .and_then(|j| caches.pools.get(&ns, &j.spec.pool_ref.name))
        .filter(|p| p.spec.capacity.max_concurrent_runs.is_some())
        .and_then(|p| p.metadata.name.clone());
    let jobs = caches.jobs.in_namespace(&ns);
    let mut names: Vec<&str> = jobs
        .iter()
        .filter(|j| {
            j.spec.depends_on.iter().any(|d| d.etl_job_ref.name == job)
                || limited_pool.as_ref() == Some(&j.spec.pool_ref.name)
        })
        .filter_map(|j| j.metadata.name.as_deref())
        .collect();
    names.push(job);
    names.sort_unstable();
    names.dedup();
    names.iter().flat_map(|name| caches.runs.of_job(&ns, name)).collect()
}

/// The provider of `run`'s attempts: its pool's, else (the pool is gone)
/// the one its recorded attempts ran on.
fn provider_of(ctx: &Context, pool: Option<&ClusterPool>, run: &EtlRun) -> Arc<dyn ComputeProvider> {
    let placed: Vec<AttemptHandle> = run
        .status
        .iter()
        .flat_map(|s| &s.attempts)
        .map(AttemptHandle::of)
        .collect();
    ctx.providers.for_run(pool, &placed)
}

/// The identity of attempt `attempt` of `run`, placed at `handle`.
fn attempt_ref(run: &EtlRun, attempt: i32, handle: AttemptHandle, pool: Option<ClusterPool>) -> AttemptRef {
    AttemptRef {
        namespace: run.namespace().unwrap_or_default(),
        run: run.name_any(),
        run_uid: run.uid().unwrap_or_default(),
        attempt,
        handle,
        pool,
    }
}

/// Adds or removes the run's [`ATTEMPT_FINALIZER`].
async fn set_finalizer(run: &EtlRun, ctx: &Context, present: bool) -> Result<(), Error> {
    super::finalizer::set(ctx, run, ATTEMPT_FINALIZER, present)
        .await
        .map_err(|source| Error::Finalizer {
            run: run.name_any(),
            source,
        })
}

/// Not started and not final: waiting for its turn.
fn waiting(run: &EtlRun) -> bool {
    let status = run.status.as_ref();
    !status.and_then(|s| s.phase).is_some_and(|p| p.is_final())
        && status.is_none_or(|s| s.attempts.iter().all(|a| a.outcome.is_some()))
}

/// Reconciles one run. In a backfill most reconciles in flight wait on their
/// job's lock (`admit`), and a future is as large as its largest step: the
/// steps that write (observe, apply, finalize) are boxed, so a waiting run
/// holds a few hundred bytes instead of tens of kilobytes.
#[instrument(skip_all, fields(namespace = run.metadata.namespace, name = run.metadata.name))]
async fn reconcile(run: Arc<EtlRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    if run.metadata.deletion_timestamp.is_some() {
        // Deleting a run cancels it: a Job is owned by it and garbage-collected;
        // an attempt outside Kubernetes is cancelled under the run's finalizer.
        return Box::pin(finalize::finalize(&run, &ctx)).await;
    }
    if !ctx.caches.ready().await {
        // Shutting down before the caches were complete: decide nothing.
        return Ok(Action::await_change());
    }
    // The trigger may carry a version older than the operator's last write
    // of the run (a queued watch event): decide on the newest known.
    let run = ctx.caches.runs.freshest(run);
    let status = run.status.clone().unwrap_or_default();
    let may_start = !status.phase.is_some_and(|p| p.is_final()) && status.attempts.iter().all(|a| a.outcome.is_some());
    // Deciding to start on a pool and recording it happen under the job's
    // lock and the pool's; apply lets go of them before the provider starts
    // the attempt.
    let ns = run.namespace().unwrap_or_default();
    let job = &run.spec.job_ref.name;
    let (admission, inputs) = loop {
        let admitted = if may_start { admit(&ctx, &ns, job).await } else { None };
        let now = Timestamp::now();
        let inputs = Box::pin(observe::observe(&run, &ctx, now, admitted.is_some())).await?;
        // The job's pool, or whether it limits its runs, may have changed
        // while this run waited: it decides only on what it holds.
        if !may_start || holds(&ctx, &ns, job, admitted.as_ref()) {
            // Boxed: the loop's result has its place in the future while
            // the loop waits on the lock.
            break (admitted.map(|(_, admission)| admission), Box::new(inputs));
        }
    };
    let plan = plan::plan(&run, &inputs.observed, fastrand::f64());
    Box::pin(apply::apply(&run, &ctx, plan, *inputs, admission)).await
}

/// Whether ClusterPool `pool` limits its concurrent runs.
fn limited(ctx: &Context, ns: &str, pool: &str) -> bool {
    ctx.caches
        .pools
        .get(ns, pool)
        .is_some_and(|p| p.spec.capacity.max_concurrent_runs.is_some())
}

/// The locks a run that may start holds while it decides, and the pool they
/// are for: its job's alone, and its pool's, alone when the pool limits its
/// concurrent runs (every start there takes from the same slots) and shared
/// with other jobs' runs otherwise. `None` while the job is unknown.
async fn admit(ctx: &Context, ns: &str, job: &str) -> Option<(String, crate::locks::Admission)> {
    let pool = ctx.caches.jobs.get(ns, job)?.spec.pool_ref.name.clone();
    let alone = limited(ctx, ns, &pool);
    let admission = ctx
        .admissions
        .admit(&format!("{ns}/{job}"), &format!("{ns}/{pool}"), alone)
        .await;
    Some((pool, admission))
}

/// Whether `admitted` still covers what the run decides on: no job and no
/// locks, or the job's pool locked, alone if it limits its runs.
fn holds(ctx: &Context, ns: &str, job: &str, admitted: Option<&(String, crate::locks::Admission)>) -> bool {
    let pool = ctx.caches.jobs.get(ns, job).map(|j| j.spec.pool_ref.name.clone());
    match (pool, admitted) {
        (None, None) => true,
        (Some(pool), Some((locked, admission))) => {
            pool == *locked && (admission.pool_alone() || !limited(ctx, ns, &pool))
        }
        _ => false,
    }
}
