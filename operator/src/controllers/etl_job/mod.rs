//! EtlJob controller: turns a job's cadence and backfill into EtlRuns, one
//! per batch with a deterministic name, and reports the job's progress.
//! Reconcile = observe (pool, runs) → validate and plan (pure) → apply.

pub mod apply;
mod backfill;
mod catalog;
#[cfg(test)]
mod fixtures;
mod gates;
mod guards;
pub mod plan;
#[cfg(test)]
mod scenario_tests;
mod validate;

use std::sync::Arc;

use jiff::Timestamp;
use kube::{
    ResourceExt,
    runtime::{controller::Action, events::EventType, reflector::ObjectRef},
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

pub use self::validate::cadence_of;
use super::{
    Context, ErrorCategory, kube_error_category,
    runner::{self, Trigger},
};
use crate::api::v1alpha1::{EtlJob, EtlRun};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "etl-job";
const FIELD_MANAGER: &str = "ade-operator/etl-job";

/// Errors of the EtlJob controller, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating a run failed.
    #[error("creating EtlRun {run}: {source}")]
    CreateRun {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Cancelling a replaced run failed.
    #[error("cancelling EtlRun {run}: {source}")]
    CancelRun {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting an old run failed.
    #[error("deleting EtlRun {run}: {source}")]
    DeleteRun {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("applying the status of EtlJob {job}: {source}")]
    ApplyStatus {
        /// The job.
        job: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::CreateRun { source, .. }
            | Self::CancelRun { source, .. }
            | Self::DeleteRun { source, .. }
            | Self::ApplyStatus { source, .. } => kube_error_category(source),
        }
    }
}

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let runs = ctx.caches.runs.changes();
    // Every run of the job, including those a person created, which it does
    // not own; and the runs of the jobs it depends on (a quarantine holds it).
    // Its own status writes do not wake a job: it looks again at its next
    // tick (the requeue) and when one of its runs changes.
    runner::run_with::<EtlJob, _, _, _>(ctx, shutdown, CONTROLLER, Trigger::SpecChange, reconcile, move |c| {
        let store = c.store();
        c.watches_shared_stream(runs, move |run: Arc<EtlRun>| {
            let ns = run.namespace();
            let upstream = &run.spec.job_ref.name;
            let dependents: Vec<ObjectRef<EtlJob>> = store
                .state()
                .into_iter()
                .filter(|job| {
                    job.namespace() == ns && job.spec.depends_on.iter().any(|d| &d.etl_job_ref.name == upstream)
                })
                .map(|job| ObjectRef::from_obj(job.as_ref()))
                .collect();
            ns.map(|ns| ObjectRef::new(upstream).within(&ns))
                .into_iter()
                .chain(dependents)
                .collect::<Vec<_>>()
        })
    })
    .await;
}

#[instrument(skip_all, fields(namespace = job.metadata.namespace, name = job.metadata.name))]
async fn reconcile(job: Arc<EtlJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        // Its runs, and their Jobs, are owned by it and garbage-collected.
        return Ok(Action::await_change());
    }
    if !ctx.caches.ready().await {
        // Shutting down before the caches were complete: decide nothing.
        return Ok(Action::await_change());
    }
    // The store may lag the operator's last status write: decide (and
    // compare the status) against the newest known.
    let job = ctx.caches.jobs.freshest(job);
    let ns = job.namespace().unwrap_or_default();
    let pool = ctx
        .caches
        .pools
        .get(&ns, &job.spec.pool_ref.name)
        .map(|p| p.as_ref().clone());
    // This job's runs, and its upstream jobs' (gates): never the rest of
    // the namespace, so a reconcile costs what the job has, not what the
    // namespace holds.
    let name = job.name_any();
    let of_job = |job: &str| -> Vec<EtlRun> {
        ctx.caches
            .runs
            .of_job(&ns, job)
            .iter()
            .map(|r| r.as_ref().clone())
            .collect()
    };
    let runs = of_job(&name);
    let upstream_runs: Vec<EtlRun> = job
        .spec
        .depends_on
        .iter()
        .flat_map(|d| of_job(&d.etl_job_ref.name))
        .collect();
    let provider = pool
        .as_ref()
        .map(|p| ctx.providers.for_run(Some(p), &[]).profile().name);
    ctx.metrics.job_seen(&ns, &name, &job.spec.pool_ref.name, provider);
    let problems = validate::problems_with_pool(&job.spec, pool.as_ref());
    let now = Timestamp::now();
    let held = gates::held(&job.spec, &upstream_runs);
    let mut plan = plan::plan_held(&job, &runs, pool.as_ref(), &problems, &held, now);
    plan.status.quarantined_batches = gates::quarantined_batches(&name, &runs);
    plan.conditions.extend([
        guards::late(&job.spec, &runs, now),
        guards::over_budget(&job.spec, ctx.prices, &super::budget::recent_costs(&name, &runs)),
        gates::quarantine(&name, &runs),
    ]);
    if problems.is_empty() {
        let wanted = catalog::plan(&job, &runs, ctx.aws_region.as_deref());
        if let Some(outcome) = catalog::apply(&ctx, &job, wanted).await {
            plan.conditions.push(outcome.condition);
            if outcome.newest.is_some() {
                plan.status.newest_registered_batch = outcome.newest;
            }
            if outcome.more {
                plan.requeue = plan.requeue.min(std::time::Duration::from_secs(5));
            }
        }
    }
    apply::apply(&job, &ctx, &plan, now).await?;
    let was_accepted = job
        .status
        .as_ref()
        .and_then(|s| super::conditions::find(&s.conditions, "Accepted"))
        .is_none_or(|c| c.status == "True");
    let was_late = job
        .status
        .as_ref()
        .and_then(|s| super::conditions::find(&s.conditions, "Late"))
        .is_some_and(|c| c.status == "True");
    if let Some(late) = plan
        .conditions
        .iter()
        .find(|c| c.type_ == "Late" && c.status == super::conditions::Status::True)
        && !was_late
    {
        ctx.publish_event(
            job.as_ref(),
            EventType::Warning,
            late.reason,
            &late.message,
            "CheckFreshness",
        )
        .await;
    }
    if was_accepted && let Some(first) = problems.first() {
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        ctx.publish_event(
            job.as_ref(),
            EventType::Warning,
            first.reason,
            &messages.join("; "),
            "Validate",
        )
        .await;
    }
    Ok(if problems.is_empty() {
        Action::requeue(plan.requeue)
    } else {
        Action::await_change()
    })
}
