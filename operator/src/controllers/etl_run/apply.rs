//! The EtlRun reconcile's writes: the status (by server-side apply), the
//! provider call of the plan, Events and metrics. A new attempt's status is
//! written before the provider starts it; a cancel reaches the provider before
//! the final status is written.

use std::time::Duration;

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Error, FIELD_MANAGER, attempt_ref,
    observe::Inputs,
    plan::{Effect, Plan},
    set_finalizer,
};
use crate::{
    api::v1alpha1::{AttemptOutcome, EtlRun, RunPhase, Time, Usd},
    controllers::{Context, conditions, status},
    metrics::{CostLabels, PhaseLabels, RunOutcomeLabels},
    providers::AttemptHandle,
};

/// Performs `plan` for `run`.
/// `admission` (its job's and pool's locks, when the run may start) is released once
/// the intent is recorded, before the provider is called.
pub async fn apply(
    run: &EtlRun,
    ctx: &Context,
    mut plan: Plan,
    inputs: Inputs,
    admission: Option<crate::locks::Admission>,
) -> Result<Action, Error> {
    let name = run.name_any();
    let provider_error = |step, attempt, source| Error::Provider {
        step,
        run: name.clone(),
        attempt,
        source,
    };
    if let Effect::Cancel(n) = plan.effect
        && let Some(mut request) = inputs.request.clone()
    {
        request.target.attempt = n;
        inputs
            .provider
            .cancel(&request.target)
            .await
            .map_err(|e| provider_error("cancelling", n, e))?;
    }
    let profile = inputs.provider.profile();
    let active = plan.status.attempts.iter().any(|a| a.outcome.is_none());
    if profile.holds_external && active && !plan.status.phase.is_some_and(RunPhase::is_final) {
        // Before the attempt can exist (and on attempts started by an older
        // operator): deleting the run must find and cancel it.
        set_finalizer(run, ctx, true).await?;
    }
    // Every reader sees the intent now, before the watch delivers it.
    write_status(run, ctx, &plan).await?;
    drop(admission);
    if let Effect::Start(n) = plan.effect {
        match inputs.request.clone() {
            Some(mut request) => {
                request.target.attempt = n;
                match inputs.provider.start(&request).await {
                    Ok(handle) => {
                        if record_handle(&mut plan, n, &handle) {
                            write_status(run, ctx, &plan).await?;
                        }
                    }
                    Err(source) if source.is_transient() => return Err(provider_error("starting", n, source)),
                    Err(source) => {
                        // A task that cannot be built will not build on a retry: the run fails now.
                        fail_attempt(&mut plan, n, &source.to_string());
                        write_status(run, ctx, &plan).await?;
                    }
                }
            }
            None => {
                fail_attempt(&mut plan, n, "the run's EtlJob or ClusterPool no longer exists");
                write_status(run, ctx, &plan).await?;
            }
        }
    }
    release_finished(run, &plan, &inputs).await;
    record(run, ctx, &plan, profile.name).await;
    if plan.status.phase.is_some_and(RunPhase::is_final) {
        // Nothing of the run is left running.
        set_finalizer(run, ctx, false).await?;
    }
    Ok(match plan.requeue {
        Some(d) => Action::requeue(d.max(Duration::from_millis(500))),
        None => Action::await_change(),
    })
}

/// Lets the provider release what it kept of the attempts whose outcome the
/// status now holds (and did not before): the outcome is on the API server,
/// so a finished Job may be deleted. A failure is logged: the Job then stays
/// until it is deleted by hand or with its run.
async fn release_finished(run: &EtlRun, plan: &Plan, inputs: &Inputs) {
    let before = run.status.as_ref().map(|s| s.attempts.as_slice()).unwrap_or_default();
    let recorded = |n: i32| before.iter().any(|a| a.attempt == n && a.outcome.is_some());
    for attempt in plan.status.attempts.iter().filter(|a| a.outcome.is_some()) {
        if recorded(attempt.attempt) {
            continue;
        }
        let target = attempt_ref(run, attempt.attempt, AttemptHandle::of(attempt), None);
        if let Err(error) = inputs.provider.release(&target).await {
            tracing::warn!(%error, attempt = attempt.attempt, "releasing a finished attempt failed");
        }
    }
}

/// Writes where the provider placed attempt `n` (e.g. the EMR cluster and
/// step) into the plan's status; whether anything changed.
fn record_handle(plan: &mut Plan, attempt: i32, handle: &AttemptHandle) -> bool {
    let Some(place) = handle.describe() else {
        return false;
    };
    let Some(a) = plan.status.attempts.iter_mut().find(|a| a.attempt == attempt) else {
        return false;
    };
    if !handle.record(a) {
        return false;
    }
    if let Some(cluster) = handle.cluster() {
        plan.status.cluster = Some(cluster.to_owned());
    }
    let message = format!("attempt {attempt} runs as {place}");
    plan.conditions.retain(|c| c.type_ != "Scheduled");
    plan.conditions.push(conditions::Desired::new(
        "Scheduled",
        conditions::Status::True,
        "Started",
        message.clone(),
    ));
    plan.notes.push(super::plan::Note {
        warning: false,
        reason: "Placed",
        message,
    });
    true
}

fn fail_attempt(plan: &mut Plan, attempt: i32, message: &str) {
    let now = Timestamp::now();
    if let Some(a) = plan.status.attempts.iter_mut().find(|a| a.attempt == attempt) {
        a.outcome = Some(AttemptOutcome::Failed);
        a.message = Some(message.to_owned());
        a.finished_at = Some(Time(now));
    }
    plan.status.phase = Some(RunPhase::Failed);
    plan.status.finished_at = Some(Time(now));
    plan.effect = Effect::None;
    plan.requeue = None;
    plan.conditions.retain(|c| c.type_ != "Ready");
    plan.conditions.push(conditions::Desired::new(
        "Ready",
        conditions::Status::False,
        "Failed",
        format!("attempt {attempt} could not start: {message}"),
    ));
}

/// Applies the plan's status and records the write in the runs' cache, so
/// every reader (and a reconcile triggered by an older event, see
/// `Cache::freshest`) sees it before the watch delivers it.
async fn write_status(run: &EtlRun, ctx: &Context, plan: &Plan) -> Result<(), Error> {
    let existing = run.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut status = plan.status.clone();
    status.conditions = conditions::merge(existing, &plan.conditions, run.metadata.generation, Timestamp::now());
    // The catalog's records are written by their own field manager (etl_job::catalog).
    status.partitions.clear();
    let shown = run.status.clone().map(|mut s| {
        s.partitions.clear();
        s
    });
    if status::shows(shown.as_ref(), &status, |s| &mut s.conditions) {
        return Ok(());
    }
    let written = status::apply(ctx, run, FIELD_MANAGER, &status)
        .await
        .map_err(|source| Error::ApplyStatus {
            run: run.name_any(),
            source,
        })?;
    ctx.caches.runs.wrote(written);
    Ok(())
}

/// Events and metrics of what changed.
async fn record(run: &EtlRun, ctx: &Context, plan: &Plan, provider: &'static str) {
    let before = run.status.as_ref().and_then(|s| s.phase);
    let after = plan.status.phase;
    if before != after
        && let Some(phase) = after
    {
        ctx.metrics
            .run_transitions
            .get_or_create(&PhaseLabels {
                namespace: run.namespace().unwrap_or_default(),
                etl_job: run.spec.job_ref.name.clone(),
                phase: phase.as_str(),
            })
            .inc();
        if phase.is_final()
            && let Some(usd) = plan.status.estimated_cost_usd.as_ref().and_then(Usd::dollars)
        {
            ctx.metrics
                .run_cost_usd
                .get_or_create(&CostLabels {
                    provider,
                    namespace: run.namespace().unwrap_or_default(),
                    etl_job: run.spec.job_ref.name.clone(),
                    pool: plan.status.pool.clone().unwrap_or_default(),
                })
                .inc_by(usd);
        }
        if phase.is_final()
            && let (Some(start), Some(end)) = (&plan.status.started_at, &plan.status.finished_at)
        {
            ctx.metrics
                .run_duration
                .get_or_create(&RunOutcomeLabels {
                    outcome: phase.as_str(),
                })
                .observe(end.0.duration_since(start.0).as_secs_f64().max(0.0));
        }
    }
    for note in &plan.notes {
        if note.reason == "Retrying" {
            ctx.metrics.run_retries.inc();
        }
        ctx.publish_event(run, note.event_type(), note.reason, &note.message, "Reconcile")
            .await;
    }
}
