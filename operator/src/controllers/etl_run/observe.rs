//! What an EtlRun's reconcile reads: its job, its pool, the other runs (for
//! the queue), the window of its batch, and the provider's view of its active
//! attempt; and why it may not start now.

use std::sync::Arc;

use jiff::Timestamp;
use kube::ResourceExt;

use super::{
    Error, attempt_ref,
    plan::{Blocked, Observed},
    provider_of, upstream,
};
use crate::{
    api::v1alpha1::{Attempt, ClusterPool, EtlJob, EtlRun, Provider},
    controllers::{Context, budget, etl_job::cadence_of, queue},
    cost,
    providers::{AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind, task_kind},
    schedule::Window,
};

/// Everything the plan and apply steps need.
pub struct Inputs {
    /// What the plan decides on.
    pub observed: Observed,
    /// The request for a new attempt (its attempt number is set by apply), when
    /// the job, pool and window are known.
    pub request: Option<AttemptRequest>,
    /// The provider of the run's attempts.
    pub provider: Arc<dyn ComputeProvider>,
}

/// Reads what `run`'s reconcile needs. `admitted`: the run holds its job's
/// lock (and maybe its pool's) while it decides whether to start, so nothing
/// here may wait on a provider then: the attempts' prices are refreshed on the
/// next reconcile instead (each attempt keeps its last estimate; the one that
/// saw an attempt end priced it).
pub async fn observe(run: &EtlRun, ctx: &Context, now: Timestamp, admitted: bool) -> Result<Inputs, Error> {
    let ns = run.namespace().unwrap_or_default();
    let name = run.name_any();
    let caches = &ctx.caches;
    let job = caches.jobs.get(&ns, &run.spec.job_ref.name);
    let pool = job
        .as_ref()
        .and_then(|job| caches.pools.get(&ns, &job.spec.pool_ref.name))
        .map(|p| p.as_ref().clone());
    let job = job.map(|j| j.as_ref().clone());
    let window = resolve_window(run, job.as_ref());
    let status = run.status.clone().unwrap_or_default();
    let provider = provider_of(ctx, pool.as_ref(), run);
    let profile = provider.profile();
    let target = |attempt: i32, handle: AttemptHandle| attempt_ref(run, attempt, handle, pool.clone());
    let attempt_state = match status.attempts.iter().find(|a| a.outcome.is_none()) {
        Some(active) => {
            let target = target(active.attempt, AttemptHandle::of(active));
            let provider_error = |step| {
                let name = name.clone();
                move |source| Error::Provider {
                    step,
                    run: name,
                    attempt: active.attempt,
                    source,
                }
            };
            let state = provider.observe(&target).await.map_err(provider_error("observing"))?;
            let timeout = job
                .as_ref()
                .and_then(|j| j.spec.timeout.as_ref())
                .and_then(|t| t.to_std().ok())
                .filter(|_| profile.needs_deadline);
            match timeout {
                // The provider has no deadline of its own: the operator enforces the job's timeout.
                Some(limit) if overdue(&state, active, limit, now) => {
                    provider.cancel(&target).await.map_err(provider_error("cancelling"))?;
                    Some(AttemptState::Failed {
                        kind: FailureKind::TimedOut,
                        message: format!(
                            "the attempt ran longer than the job's timeout of {}s and was cancelled",
                            limit.as_secs()
                        ),
                        finished_at: Some(now),
                    })
                }
                // Waiting for external capacity is bounded on its own.
                _ if profile.needs_deadline && waited_too_long(&state, active, ctx.cluster_wait_limit, now) => {
                    provider.cancel(&target).await.map_err(provider_error("cancelling"))?;
                    Some(AttemptState::Failed {
                        kind: FailureKind::TimedOut,
                        message: format!(
                            "the attempt waited longer than {} for a cluster with a free slot and its step to \
                             start (--cluster-wait-limit) and was cancelled",
                            crate::human::duration(ctx.cluster_wait_limit)
                        ),
                        finished_at: Some(now),
                    })
                }
                _ => Some(state),
            }
        }
        None => None,
    };
    let reserved = cost::reserved(
        job.as_ref()
            .and_then(|j| j.spec.task.container.as_ref())
            .and_then(|c| c.resources.as_ref()),
    );
    let may_start = attempt_state.is_none() && !run.spec.cancel && !status.phase.is_some_and(|p| p.is_final());
    let blocked = if may_start {
        let jobs = caches.jobs.in_namespace(&ns);
        let mut runs = competitors(run, job.as_ref(), pool.as_ref(), &jobs, ctx);
        if !runs.iter().any(|r| r.metadata.name.as_ref() == Some(&name)) {
            // Too new for the cache: it still queues like any other run.
            runs.push(std::sync::Arc::new(run.clone()));
        }
        let infos = queue::summarize(runs.iter().map(AsRef::as_ref), jobs.iter().map(AsRef::as_ref));
        let recent = budget::recent_costs(&run.spec.job_ref.name, runs.iter().map(AsRef::as_ref));
        let upstream = job
            .as_ref()
            .zip(window.as_ref().ok())
            .and_then(|(job, window)| upstream::pending(job, window, &runs, &jobs))
            .map(|message| Blocked::wait(upstream::REASON, message));
        blocker(
            run,
            job.as_ref(),
            pool.as_ref(),
            &window,
            &infos,
            now,
            (ctx.prices, &recent, upstream),
        )
    } else {
        None
    };
    let next = i32::try_from(status.attempts.len()).unwrap_or(i32::MAX - 1) + 1;
    let intent = provider.intent(&target(next, AttemptHandle::Unplaced));
    let request = match (&job, &pool, &window) {
        (Some(job), Some(pool), Ok(window)) => Some(AttemptRequest {
            target: target(0, AttemptHandle::Unplaced),
            job: job.name_any(),
            batch_id: run.spec.batch_id.clone(),
            window: *window,
            task: job.spec.task.clone(),
            timeout: job.spec.timeout.as_ref().and_then(|t| t.to_std().ok()),
            pool: pool.clone(),
        }),
        _ => None,
    };
    let provider_cost = if profile.prices_attempts && !admitted && !status.phase.is_some_and(|p| p.is_final()) {
        let attempts: Vec<AttemptRef> = status
            .attempts
            .iter()
            .map(|a| target(a.attempt, AttemptHandle::of(a)))
            .collect();
        match provider.cost(&attempts, now).await {
            Ok(usd) => attempts
                .iter()
                .zip(usd)
                .filter_map(|(a, usd)| Some((a.attempt, usd?)))
                .collect(),
            Err(error) => {
                // The last estimates are kept.
                tracing::warn!(%error, "estimating the cost of the run's attempts failed");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    Ok(Inputs {
        observed: Observed {
            now,
            job: job.as_ref().map(|j| j.spec.clone()),
            blocked,
            attempt_state,
            window: window.ok(),
            pricing: (reserved, ctx.prices),
            pool_name: pool.as_ref().map(|p| p.name_any()),
            profile,
            intent,
            provider_cost,
            wait_limit: ctx.cluster_wait_limit,
        },
        request,
        provider,
    })
}

/// The runs whose state decides whether `run` may start: its job's (the
/// same batch, the job's budget), its upstream jobs' (their batches), and,
/// when its pool limits concurrent runs, those of every job on that pool
/// (the queue). Not the rest of the namespace: a start costs what these
/// hold, not the namespace's history.
fn competitors(
    run: &EtlRun,
    job: Option<&EtlJob>,
    pool: Option<&ClusterPool>,
    jobs: &[Arc<EtlJob>],
    ctx: &Context,
) -> Vec<Arc<EtlRun>> {
    let ns = run.namespace().unwrap_or_default();
    let mut names: Vec<&str> = vec![run.spec.job_ref.name.as_str()];
    if let Some(job) = job {
        names.extend(job.spec.depends_on.iter().map(|d| d.etl_job_ref.name.as_str()));
    }
    if let Some(pool) = pool.filter(|p| p.spec.capacity.max_concurrent_runs.is_some()) {
        let pool = pool.metadata.name.as_deref().unwrap_or_default();
        names.extend(
            jobs.iter()
                .filter(|j| j.spec.pool_ref.name == pool)
                .filter_map(|j| j.metadata.name.as_deref()),
        );
    }
    names.sort_unstable();
    names.dedup();
    names.iter().flat_map(|job| ctx.caches.runs.of_job(&ns, job)).collect()
}

/// An attempt executing for longer than `limit`: counted from when the
/// provider says it started executing (an EMR step's start), not from when
/// the attempt was recorded, so time spent waiting for a cluster is not
/// charged to the job's timeout.
fn overdue(state: &AttemptState, attempt: &Attempt, limit: std::time::Duration, now: Timestamp) -> bool {
    let AttemptState::Running { started_at } = state else {
        return false;
    };
    let started = started_at.or(attempt.started_at.as_ref().map(|t| t.0));
    started.is_some_and(|s| now.duration_since(s).as_secs_f64() > limit.as_secs_f64())
}

/// Whether an attempt still waiting for capacity (not yet executing) has
/// waited longer than `limit` since it was recorded.
fn waited_too_long(state: &AttemptState, attempt: &Attempt, limit: std::time::Duration, now: Timestamp) -> bool {
    matches!(state, AttemptState::Provisioning | AttemptState::Missing)
        && attempt
            .started_at
            .as_ref()
            .is_some_and(|t| now.duration_since(t.0).as_secs_f64() > limit.as_secs_f64())
}

/// The window of `run`'s batch: from its spec, else from its job's cadence.
pub(crate) fn resolve_window(run: &EtlRun, job: Option<&EtlJob>) -> Result<Window, String> {
    if let Some(w) = &run.spec.window {
        return Ok(Window {
            start: w.start.0,
            end: w.end.0,
        });
    }
    let job = job.ok_or_else(|| "the EtlJob does not exist".to_owned())?;
    let cadence = cadence_of(&job.spec)?;
    cadence.window_for_batch(&run.spec.batch_id).map_err(|e| e.to_string())
}

/// The first reason `run` may not start now, if any.
///
/// Pure.
fn blocker(
    run: &EtlRun,
    job: Option<&EtlJob>,
    pool: Option<&ClusterPool>,
    window: &Result<Window, String>,
    infos: &[queue::RunInfo],
    now: Timestamp,
    (prices, recent, upstream): (cost::Prices, &[f64], Option<Blocked>),
) -> Option<Blocked> {
    let ns = run.namespace().unwrap_or_default();
    let Some(job) = job else {
        return Some(Blocked::wait(
            "JobNotFound",
            format!("EtlJob {} not found in namespace {ns}", run.spec.job_ref.name),
        ));
    };
    if let Err(e) = window {
        return Some(Blocked::invalid("InvalidBatchId", format!("spec.batchId: {e}")));
    }
    let pool_name = &job.spec.pool_ref.name;
    let Some(pool) = pool else {
        return Some(Blocked::wait(
            "PoolNotFound",
            format!(
                "ClusterPool {pool_name} (of EtlJob {}) not found in namespace {ns}",
                job.name_any()
            ),
        ));
    };
    let kind = task_kind(&job.spec.task);
    match pool.spec.provider {
        Provider::Kubernetes | Provider::Eks if !matches!(kind, "container" | "sparkSubmit") => {
            let provider = if pool.spec.provider == Provider::Eks {
                "eks"
            } else {
                "kubernetes"
            };
            return Some(Blocked::invalid(
                "TaskNotSupported",
                format!("a {kind} task cannot run on ClusterPool {pool_name} (provider {provider}); use an emr pool"),
            ));
        }
        Provider::Emr if kind == "container" => {
            return Some(Blocked::invalid(
                "TaskNotSupported",
                format!(
                    "a container task cannot run on ClusterPool {pool_name} (provider emr); use a sparkSubmit, hive or trino task, or a kubernetes pool"
                ),
            ));
        }
        _ => {}
    }
    // Every provider: requests × price × timeout, or the job's recent runs' mean cost.
    if let Some(limit) = budget::limit(&job.spec) {
        let projected = budget::project(&job.spec, prices, recent);
        if projected.usd > limit {
            return Some(Blocked::wait(
                "OverBudget",
                format!(
                    "projected cost ${} ({}) exceeds the job's budget of ${} per run",
                    cost::usd(projected.usd),
                    projected.basis,
                    cost::usd(limit)
                ),
            ));
        }
    }
    // Upstream batches not ready: waits without holding a slot of the pool.
    if upstream.is_some() {
        return upstream;
    }
    let me = infos.iter().find(|i| i.name == run.name_any())?;
    queue::batch_busy(me, infos)
        .or_else(|| queue::queue_blocker(me, infos, pool_name, pool.spec.capacity.max_concurrent_runs, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minute * 60).expect("timestamp")
    }

    /// Issue 12, item 8.
    #[test]
    fn emr_timeouts_count_from_the_steps_start() {
        let limit = std::time::Duration::from_secs(30 * 60);
        let recorded: Attempt = serde_json::from_value(serde_json::json!({
            "attempt": 1, "startedAt": at(0).to_string(),
        }))
        .expect("attempt");
        // Queued for a cluster for 50 minutes: not overdue.
        assert!(!overdue(&AttemptState::Provisioning, &recorded, limit, at(50)));
        // The step started at minute 40: 20 minutes in, not overdue; 31, overdue.
        let running = AttemptState::Running {
            started_at: Some(at(40)),
        };
        assert!(!overdue(&running, &recorded, limit, at(60)));
        assert!(overdue(&running, &recorded, limit, at(71)));
        // A provider that does not say when: the recorded start counts.
        let unknown = AttemptState::Running { started_at: None };
        assert!(overdue(&unknown, &recorded, limit, at(31)));
    }

    /// Issue 12, item 8: the wait for a cluster has a bound of its own.
    #[test]
    fn waiting_for_a_cluster_is_bounded_apart_from_the_timeout() {
        let limit = std::time::Duration::from_secs(2 * 3600);
        let recorded: Attempt = serde_json::from_value(serde_json::json!({
            "attempt": 1, "startedAt": at(0).to_string(),
        }))
        .expect("attempt");
        assert!(!waited_too_long(&AttemptState::Provisioning, &recorded, limit, at(119)));
        assert!(waited_too_long(&AttemptState::Provisioning, &recorded, limit, at(121)));
        let running = AttemptState::Running {
            started_at: Some(at(100)),
        };
        assert!(
            !waited_too_long(&running, &recorded, limit, at(500)),
            "it got its cluster"
        );
    }
}
