//! Following a suite's active Job to its end: the verdict of a check (the
//! gate's mark and the validated mark on the EtlRun, then the suite's last
//! run), or the end of a publishing attempt (see `republish`).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use kube::{
    Api, ResourceExt,
    api::ListParams,
    runtime::{controller::Action, events::EventType},
};

use super::{
    Error, RESYNC, View, apply_status, create_job, gate,
    outcome::{self, Outcome, Report},
    read, release, republish, running, validated, write,
};
use crate::{
    api::v1alpha1::{ActiveValidation, EtlJob, SuiteRun, Time, ValidationSuite, ValidationSuiteStatus},
    controllers::{
        Context,
        conditions::{Desired, Status},
    },
    metrics::ValidationLabels,
};

/// Follows the active run's Job; when it has finished, records the verdict.
pub(super) async fn progress(
    suite: &ValidationSuite,
    ctx: &Context,
    active: ActiveValidation,
    etl_job: Option<&EtlJob>,
) -> Result<Action, Error> {
    let ns = suite.namespace().unwrap_or_default();
    let status = suite.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    if let Some(at) = active.not_before.as_ref().filter(|t| t.0 > now) {
        // A publishing attempt waits out its back-off.
        let wait = at.0.duration_since(now).unsigned_abs();
        return Ok(Action::requeue(wait.min(RESYNC) + Duration::from_secs(1)));
    }
    let job = Api::<Job>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&active.job_name)
        .await
        .map_err(read("the validation Job"))?;
    let Some(job) = job else {
        // Recorded but not created (or deleted before it was read): create it.
        create_job(suite, ctx, &active).await?;
        return Ok(Action::requeue(Duration::from_secs(60)));
    };
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={}", active.job_name)))
        .await
        .map_err(read("the validation Job's Pods"))?;
    let Some(report) = outcome::read(&job, &pods.items) else {
        apply_status(
            ctx,
            suite,
            &[],
            View {
                active: Some(active.clone()),
                ..View::carry(&status, running(&active))
            },
        )
        .await?;
        return Ok(Action::requeue(Duration::from_secs(60)));
    };
    if active.publish_attempt.is_some() {
        return published(suite, ctx, &active, &report, &status).await;
    }
    // The run first (the gate's verdict, then the mark that this suite
    // checked it): if a write fails, the validation stays active and both are
    // written on the next attempt; the suite's status comes last.
    let suite_name = suite.name_any();
    let checked = active.etl_run.as_ref().and_then(|run| ctx.caches.runs.get(&ns, run));
    if let Some(run) = checked {
        if let Some(job) = etl_job
            && gate::gates(job, &suite_name)
        {
            let verdict = gate::verdict(&report, &suite_name);
            gate::mark(ctx, &run, verdict.clone())
                .await
                .map_err(write("the Quarantined condition"))?;
            if verdict.status == Status::True {
                ctx.publish_event(
                    run.as_ref(),
                    EventType::Warning,
                    "Quarantined",
                    &verdict.message,
                    "Validate",
                )
                .await;
            }
        }
        if !validated::by(&run, suite) {
            validated::mark(ctx, &run, suite)
                .await
                .map_err(write("the validated mark of the EtlRun"))?;
        }
    }
    let last = SuiteRun {
        batch_id: active.batch_id.clone(),
        started_at: Some(active.started_at.clone()),
        finished_at: Some(Time(Timestamp::now())),
        passed: report.passed,
        warned: report.warned,
        failed: report.failed,
        results_uri: report.results_uri.clone(),
        outcome: Some(report.outcome.as_str().to_owned()),
        failed_checks: report.failed_checks.clone(),
        message: report.message.clone(),
        etl_run: active.etl_run.clone(),
        triggered_at: Some(active.triggered_at.clone()),
    };
    let ready = outcome::not_ready(&report, &active.batch_id).unwrap_or_else(|| {
        Desired::new(
            "Ready",
            Status::True,
            "Checked",
            format!("batch {} was checked", active.batch_id),
        )
    });
    // Publishing failed with what is left stored: publish it again later.
    let again = republish::next(&suite_name, &active, &report, Timestamp::now());
    let ready = again.as_ref().map_or(ready, |next| republish::retrying(next, &report));
    let view = View {
        last_run: Some(last),
        active: again,
        ready,
    };
    apply_status(ctx, suite, &[], view).await?;
    ctx.metrics
        .validations
        .get_or_create(&ValidationLabels {
            namespace: ns.clone(),
            suite: suite_name.clone(),
            outcome: report.outcome.as_str(),
        })
        .inc();
    release(ctx, &ns, &active.job_name).await;
    let healthy = outcome::healthy(Some((&report, &active.batch_id)));
    let type_ = if report.outcome.passed() {
        EventType::Normal
    } else {
        EventType::Warning
    };
    ctx.publish_event(suite, type_, report.outcome.as_str(), &healthy.message, "Validate")
        .await;
    // Look for the next due batch straight away.
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// The end of publishing attempt `active`: done (the last run gets the
/// checks' own verdict back), another attempt later, or given up.
async fn published(
    suite: &ValidationSuite,
    ctx: &Context,
    active: &ActiveValidation,
    report: &Report,
    status: &ValidationSuiteStatus,
) -> Result<Action, Error> {
    let attempt = active.publish_attempt.unwrap_or(2);
    release(ctx, &suite.namespace().unwrap_or_default(), &active.job_name).await;
    let batch = &active.batch_id;
    let (view, event) = if report.outcome == Outcome::PublishFailed {
        match republish::next(&suite.name_any(), active, report, Timestamp::now()) {
            Some(next) => {
                let ready = republish::retrying(&next, report);
                (
                    View {
                        active: Some(next),
                        ..View::carry(status, ready)
                    },
                    None,
                )
            }
            None => {
                let message = format!(
                    "the checks of batch {batch} ran but publishing their results failed {attempt} times; gave up ({}). \
                     The result document is stored; rerun the batch's validation to publish again",
                    report.message.as_deref().unwrap_or("no message")
                );
                let ready = Desired::new("Ready", Status::False, "PublishFailed", message.clone());
                (
                    View {
                        active: None,
                        ..View::carry(status, ready)
                    },
                    Some((EventType::Warning, "PublishFailed", message)),
                )
            }
        }
    } else {
        let message = format!("batch {batch} was checked; its results were published on attempt {attempt}");
        let ready = Desired::new("Ready", Status::True, "Checked", message.clone());
        (
            View {
                last_run: status.last_run.as_ref().map(republish::published),
                active: None,
                ready,
            },
            Some((EventType::Normal, "Published", message)),
        )
    };
    apply_status(ctx, suite, &[], view).await?;
    if let Some((type_, reason, message)) = event {
        ctx.publish_event(suite, type_, reason, &message, "Validate").await;
    }
    Ok(Action::requeue(Duration::from_secs(1)))
}
