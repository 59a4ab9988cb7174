//! ValidationSuite controller: checks every batch an EtlJob completes (or one
//! batch per schedule tick) by running `ade-validate` as a Kubernetes Job, one
//! batch at a time, and reports the verdict in `status.lastRun` and the
//! `Ready` and `Healthy` conditions. When the EtlJob names the suite as a gate,
//! the verdict also marks the batch's EtlRun `Quarantined` or not.
//!
//! The run in progress is written to `status.active` before its Job is
//! created, and the Job's name comes from the suite and the batch's trigger,
//! so a restarted operator finds the same Job instead of starting another.

mod due;
mod gate;
pub mod job;
mod outcome;
mod progress;
mod republish;
#[cfg(test)]
mod scenario_tests;
mod validated;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{controller::Action, events::EventType, reflector::ObjectRef, watcher},
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

pub use self::job::ValidatorSettings;
use self::{
    due::{Due, FinishedRun},
    outcome::{Outcome, Report},
};
pub use self::{gate::QUARANTINED, validated::key as validated_key};
use super::{
    Context, ErrorCategory,
    conditions::{self, Desired, Status},
    kube_error_category, runner,
    status::{self, Problem},
};
use crate::{
    api::v1alpha1::{
        ActiveValidation, DATASET_TEMPLATE_VARIABLES, EtlRun, RunPhase, SuiteRun, Time, ValidationSuite,
        ValidationSuiteSpec,
    },
    schedule::{self, Window},
    template,
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "validation-suite";
const FIELD_MANAGER: &str = "ade-operator/validation-suite";
/// How often an idle suite looks again, besides the watches.
const RESYNC: Duration = Duration::from_secs(300);

/// Errors of the ValidationSuite controller, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading an object failed.
    #[error("reading {what}: {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating the validation Job or marking a batch failed.
    #[error("writing {what}: {source}")]
    Write {
        /// What was being written.
        what: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => kube_error_category(source),
        }
    }
}

pub(super) fn read(what: &'static str) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Read { what, source }
}

pub(super) fn write(what: &'static str) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Write { what, source }
}

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let jobs = Api::<Job>::all(ctx.client.clone());
    let runs = ctx.caches.runs.changes();
    let owned = watcher::Config::default().labels(&format!(
        "{},app.kubernetes.io/component={}",
        ade_api::labels::MANAGED_BY_OPERATOR,
        job::COMPONENT
    ));
    runner::run_with::<ValidationSuite, _, _, _>(
        ctx,
        shutdown,
        CONTROLLER,
        runner::Trigger::EveryChange,
        reconcile,
        move |c| {
            // A run that succeeds wakes the suites that check its job's batches.
            let store = c.store();
            c.owns(jobs, owned)
                .watches_shared_stream(runs, move |run: Arc<EtlRun>| {
                    let succeeded = run.status.as_ref().and_then(|s| s.phase) == Some(RunPhase::Succeeded);
                    let ns = run.namespace();
                    store
                        .state()
                        .into_iter()
                        .filter(|suite| {
                            succeeded
                                && suite.namespace() == ns
                                && suite.spec.trigger.after.as_ref().map(|a| &a.etl_job_ref.name)
                                    == Some(&run.spec.job_ref.name)
                        })
                        .map(|suite| ObjectRef::from_obj(suite.as_ref()))
                        .collect::<Vec<_>>()
                })
        },
    )
    .await;
}

#[instrument(skip_all, fields(namespace = suite.metadata.namespace, name = suite.metadata.name))]
async fn reconcile(suite: Arc<ValidationSuite>, ctx: Arc<Context>) -> Result<Action, Error> {
    if suite.metadata.deletion_timestamp.is_some() {
        // Its Jobs are owned by it and garbage-collected.
        return Ok(Action::await_change());
    }
    let status = suite.status.clone().unwrap_or_default();
    // Its verdict counters exist at 0 before its first verdict.
    ctx.metrics.suite_seen(
        &suite.namespace().unwrap_or_default(),
        &suite.name_any(),
        &outcome::Outcome::ALL.map(outcome::Outcome::as_str),
    );
    let problems = problems(&suite.spec);
    if !problems.is_empty() {
        let view = View::carry(&status, status::invalid_spec());
        apply_status(&ctx, &suite, &problems, view).await?;
        return Ok(Action::await_change());
    }
    let ns = suite.namespace().unwrap_or_default();
    if suite.spec.trigger.after.is_some() && !ctx.caches.ready().await {
        // Shutting down before the caches were complete: decide nothing.
        return Ok(Action::await_change());
    }
    let etl_job = match &suite.spec.trigger.after {
        Some(after) => ctx
            .caches
            .jobs
            .get(&ns, &after.etl_job_ref.name)
            .map(|j| Some(j.as_ref().clone()))
            .ok_or_else(|| after.etl_job_ref.name.clone()),
        None => Ok(None),
    };
    let etl_job = match etl_job {
        Ok(job) => job,
        Err(missing) => {
            let ready = Desired::new(
                "Ready",
                Status::False,
                "EtlJobNotFound",
                format!(
                    "EtlJob {missing} (spec.trigger.after.etlJobRef) does not exist in namespace {ns}; the suite checks its batches once it does"
                ),
            );
            apply_status(&ctx, &suite, &problems, View::carry(&status, ready)).await?;
            return Ok(Action::requeue(RESYNC));
        }
    };
    if let Err(missing) = dataset_template(&suite, &ctx) {
        let ready = Desired::new("Ready", Status::False, "DatasetNotFound", missing);
        apply_status(&ctx, &suite, &problems, View::carry(&status, ready)).await?;
        return Ok(Action::requeue(RESYNC));
    }
    match status.active.clone() {
        Some(active) => progress::progress(&suite, &ctx, active, etl_job.as_ref()).await,
        None => start_next(&suite, &ctx, &status).await,
    }
}

/// Starts the next due batch, if any.
async fn start_next(
    suite: &ValidationSuite,
    ctx: &Context,
    status: &crate::api::v1alpha1::ValidationSuiteStatus,
) -> Result<Action, Error> {
    let now = Timestamp::now();
    let last = status.last_run.as_ref();
    let (due, idle, wake) = match (&suite.spec.trigger.after, &suite.spec.trigger.schedule) {
        (Some(after), _) => {
            let ns = suite.namespace().unwrap_or_default();
            let runs = ctx.caches.runs.of_job(&ns, &after.etl_job_ref.name);
            let finished: Vec<FinishedRun> = runs
                .iter()
                .map(AsRef::as_ref)
                .filter_map(|r| finished_run(r, suite))
                .collect();
            let created = suite.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
            let idle = format!(
                "waits for the next batch of EtlJob {} to succeed",
                after.etl_job_ref.name
            );
            (due::next_after_job(&finished, created, last.is_none()), idle, RESYNC)
        }
        (None, Some(expr)) => {
            // Parsed by `problems` already.
            let Ok(cron) = expr.parse::<schedule::Cron>() else {
                return Ok(Action::await_change());
            };
            let created = suite.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
            let since = last.and_then(|l| l.triggered_at.as_ref()).map_or(created, |t| t.0);
            let next = due::next_tick(&cron, now);
            let idle = next.map_or("the schedule never fires".to_owned(), |t| format!("next run at {t}"));
            let wake = next
                .and_then(|t| t.duration_since(now).try_into().ok())
                .map_or(RESYNC, |d: Duration| d.min(RESYNC) + Duration::from_secs(1));
            (due::next_on_schedule(&cron, since, now), idle, wake)
        }
        (None, None) => return Ok(Action::await_change()),
    };
    let Some(due) = due else {
        let ready = last
            .and_then(|l| outcome::not_ready(&report_of(l)?, &l.batch_id))
            .unwrap_or_else(|| Desired::new("Ready", Status::True, "Waiting", format!("the suite {idle}")));
        apply_status(ctx, suite, &[], View::carry(status, ready)).await?;
        return Ok(Action::requeue(wake));
    };
    let active = active_run(suite, &due, now);
    let ready = running(&active);
    // Recorded before the Job exists: a restart finds this Job, never a second.
    apply_status(
        ctx,
        suite,
        &[],
        View {
            active: Some(active.clone()),
            ..View::carry(status, ready)
        },
    )
    .await?;
    create_job(suite, ctx, &active).await?;
    ctx.publish_event(
        suite,
        EventType::Normal,
        "Started",
        &format!("checking batch {} in Job {}", active.batch_id, active.job_name),
        "Validate",
    )
    .await;
    Ok(Action::requeue(Duration::from_secs(60)))
}

/// Creates the Job of `active`; one that exists already is the same run.
pub(super) async fn create_job(suite: &ValidationSuite, ctx: &Context, active: &ActiveValidation) -> Result<(), Error> {
    // Checked by the reconcile; an output gone since reads as an empty URI,
    // which ade-validate reports as invalid input.
    let template = dataset_template(suite, ctx).unwrap_or_default();
    let dataset = render_dataset(suite, active, &template);
    let job = job::build(suite, active, &dataset, &ctx.validator);
    let api = Api::<Job>::namespaced(ctx.client.clone(), &suite.namespace().unwrap_or_default());
    let created_by = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    match api.create(&created_by, &job).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(Error::Write {
            what: "the validation Job",
            source: e,
        }),
    }
}

/// The verdict of Job `name` is in the suite's status: Kubernetes may delete
/// the Job after the TTL now. A failure is logged (the Job then stays until
/// deleted by hand or with its suite).
pub(super) async fn release(ctx: &Context, ns: &str, name: &str) {
    let ttl = ctx.validator.ttl_seconds_after_finished;
    if let Err(error) = crate::job_ttl::release(&ctx.client, ns, name, ttl).await {
        tracing::warn!(%error, job = name, "setting the validation Job's TTL failed");
    }
}

/// The suite's dataset URI template: `dataset.uri`, or the URI of the
/// EtlJob output `dataset.fromJob` names (or why there is none).
fn dataset_template(suite: &ValidationSuite, ctx: &Context) -> Result<String, String> {
    let Some(from) = &suite.spec.dataset.from_job else {
        return Ok(suite.spec.dataset.uri.clone());
    };
    let ns = suite.namespace().unwrap_or_default();
    let job = ctx.caches.jobs.get(&ns, &from.name).ok_or_else(|| {
        format!(
            "EtlJob {} (spec.dataset.fromJob) does not exist in namespace {ns}; the suite reads its output once it does",
            from.name
        )
    })?;
    job.spec
        .outputs
        .iter()
        .find(|o| o.name == from.output)
        .map(|o| o.uri.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = job.spec.outputs.iter().map(|o| o.name.as_str()).collect();
            format!(
                "EtlJob {} has no output {} (spec.dataset.fromJob.output); it has [{}]",
                from.name,
                from.output,
                names.join(", ")
            )
        })
}

/// The dataset URI of the active batch, from `template` (checked by `problems`,
/// or by the EtlJob's when it is an output of the job).
fn render_dataset(suite: &ValidationSuite, active: &ActiveValidation, template: &str) -> String {
    let at = |t: &Option<Time>| t.as_ref().map(|t| t.0);
    let job_name = suite
        .spec
        .trigger
        .after
        .as_ref()
        .map_or_else(|| suite.name_any(), |a| a.etl_job_ref.name.clone());
    let values = template::dataset_values(
        &active.batch_id,
        (at(&active.window_start), at(&active.window_end)),
        &job_name,
    );
    template::render("spec.dataset.uri", template, &values).unwrap_or_else(|_| template.to_owned())
}

fn active_run(suite: &ValidationSuite, due: &Due, now: Timestamp) -> ActiveValidation {
    let triggered = due.triggered_at.to_string();
    ActiveValidation {
        batch_id: due.batch_id.clone(),
        window_start: due.window.map(|w: Window| Time(w.start)),
        window_end: due.window.map(|w: Window| Time(w.end)),
        etl_run: due.etl_run.clone(),
        triggered_at: Time(due.triggered_at),
        job_name: job::job_name(&suite.name_any(), &due.batch_id, &triggered),
        started_at: Time(now),
        publish_attempt: None,
        not_before: None,
    }
}

pub(super) fn running(active: &ActiveValidation) -> Desired {
    Desired::new(
        "Ready",
        Status::True,
        "Running",
        format!("checking batch {} in Job {}", active.batch_id, active.job_name),
    )
}

/// A Succeeded EtlRun as the scheduler of checks sees it.
fn finished_run(run: &EtlRun, suite: &ValidationSuite) -> Option<FinishedRun> {
    let status = run.status.as_ref()?;
    if status.phase != Some(RunPhase::Succeeded) {
        return None;
    }
    Some(FinishedRun {
        name: run.name_any(),
        batch_id: run.spec.batch_id.clone(),
        window: run.spec.window.as_ref().map(|w| Window {
            start: w.start.0,
            end: w.end.0,
        }),
        finished_at: status.finished_at.as_ref()?.0,
        created_at: run.metadata.creation_timestamp.as_ref().map(|t| t.0),
        validated: validated::by(run, suite),
    })
}

/// The report a recorded run stands for.
fn report_of(run: &SuiteRun) -> Option<Report> {
    Some(Report {
        outcome: Outcome::parse(run.outcome.as_deref()?)?,
        passed: run.passed,
        warned: run.warned,
        failed: run.failed,
        failed_checks: run.failed_checks.clone(),
        warned_checks: Vec::new(),
        results_uri: run.results_uri.clone(),
        message: run.message.clone(),
        republish: false,
    })
}

/// The status fields this controller owns.
#[derive(Debug, Clone)]
pub(super) struct View {
    last_run: Option<SuiteRun>,
    active: Option<ActiveValidation>,
    ready: Desired,
}

impl View {
    /// The recorded runs as they are, with `ready`.
    fn carry(status: &crate::api::v1alpha1::ValidationSuiteStatus, ready: Desired) -> Self {
        Self {
            last_run: status.last_run.clone(),
            active: status.active.clone(),
            ready,
        }
    }
}

/// Applies every field this controller owns (a field left out would be removed).
pub(super) async fn apply_status(
    ctx: &Context,
    suite: &ValidationSuite,
    problems: &[Problem],
    view: View,
) -> Result<(), Error> {
    let existing = suite
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let last = view.last_run.as_ref();
    let healthy = outcome::healthy(last.and_then(report_of).as_ref().zip(last.map(|l| l.batch_id.as_str())));
    let generation = suite.metadata.generation;
    let merged = conditions::merge(
        existing,
        &[status::accepted(problems), view.ready, healthy],
        generation,
        Timestamp::now(),
    );
    let status = crate::api::v1alpha1::ValidationSuiteStatus {
        observed_generation: generation,
        conditions: merged,
        last_run: view.last_run,
        active: view.active,
    };
    status::apply(ctx, suite, FIELD_MANAGER, &status)
        .await
        .map(drop)
        .map_err(write("the ValidationSuite status"))
}

/// What the schema cannot check in a ValidationSuite.
///
/// Pure.
fn problems(spec: &ValidationSuiteSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(expr) = &spec.trigger.schedule
        && let Err(e) = expr.parse::<schedule::Cron>()
    {
        out.push(Problem::new("InvalidSchedule", format!("spec.trigger.schedule: {e}")));
    }
    if let Err(e) = template::check("spec.dataset.uri", &spec.dataset.uri, DATASET_TEMPLATE_VARIABLES) {
        out.push(Problem::new("InvalidTemplate", e.to_string()));
    }
    for (i, check) in spec.checks.iter().enumerate() {
        if let Some(r) = &check.reference
            && r.dataset.uri.contains("{{")
        {
            out.push(Problem::new(
                "InvalidTemplate",
                format!(
                    "spec.checks[{i}].reference.dataset.uri: {:?} uses a template, but a reference dataset is read as written (one dataset for every batch)",
                    r.dataset.uri
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(trigger: &str, uri: &str) -> ValidationSuiteSpec {
        serde_saphyr::from_str(&format!("dataset: {{uri: '{uri}'}}\ntrigger: {trigger}\n")).expect("spec")
    }

    #[test]
    fn schedule_and_templates() {
        assert_eq!(problems(&spec("{schedule: '0 6 * * *'}", "s3://b/{{batch.id}}/")), []);
        let got = problems(&spec("{schedule: 'daily'}", "s3://b/{{batch}}/"));
        assert_eq!(
            got.iter().map(|p| p.reason).collect::<Vec<_>>(),
            ["InvalidSchedule", "InvalidTemplate"]
        );
        let mut with_reference = spec("{schedule: '0 6 * * *'}", "s3://b/{{batch.id}}/");
        with_reference.checks = serde_saphyr::from_str(
            "[{name: c, column: id, reference: {dataset: {uri: 's3://dim/{{batch.id}}/'}, columns: [id]}}]",
        )
        .expect("checks");
        let got = problems(&with_reference);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].message.contains("spec.checks[0].reference.dataset.uri"),
            "{}",
            got[0].message
        );
    }

    #[test]
    fn the_dataset_uri_is_rendered_for_the_batch() {
        let suite = ValidationSuite::new(
            "orders-quality",
            spec(
                "{after: {etlJobRef: {name: orders}}}",
                "s3://lake/{{job.name}}/batch={{batch.id}}/from={{window.start}}/",
            ),
        );
        let due = Due {
            batch_id: "2026-11-25T13".into(),
            window: Some(Window {
                start: "2026-11-25T13:00:00Z".parse().expect("ts"),
                end: "2026-11-25T14:00:00Z".parse().expect("ts"),
            }),
            etl_run: Some("orders-2026-11-25t13".into()),
            triggered_at: "2026-11-25T14:20:00Z".parse().expect("ts"),
        };
        let active = active_run(&suite, &due, "2026-11-25T14:20:01Z".parse().expect("ts"));
        assert_eq!(
            render_dataset(&suite, &active, &suite.spec.dataset.uri),
            "s3://lake/orders/batch=2026-11-25T13/from=2026-11-25T13:00:00Z/"
        );
        assert!(
            active.job_name.starts_with("orders-quality-2026-11-25t13-"),
            "{}",
            active.job_name
        );
        // Same trigger, same Job; a rerun's later trigger, another Job.
        let again = active_run(&suite, &due, "2026-11-25T15:00:00Z".parse().expect("ts"));
        assert_eq!(again.job_name, active.job_name);
        let rerun = active_run(
            &suite,
            &Due {
                triggered_at: "2026-11-26T09:00:00Z".parse().expect("ts"),
                ..due
            },
            "2026-11-26T09:00:01Z".parse().expect("ts"),
        );
        assert_ne!(rerun.job_name, active.job_name);
    }
}
