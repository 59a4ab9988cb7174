//! Scenario tests of the ValidationSuite reconcile over an in-memory API
//! server (crate::testing): a succeeded batch of the suite's job starts a
//! validation, recorded as `active` before its Job exists, and the Job's
//! outcome is recorded as the last run.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::{EtlJob, EtlRun, ValidationSuite},
    testing::{
        Verb,
        scenario::{FakeEmr, Scenario},
    },
};

const NS: &str = "analytics";

fn suite() -> ValidationSuite {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "ValidationSuite",
        "metadata": {"name": "orders-quality", "namespace": NS},
        "spec": {
            "dataset": {"uri": "s3://lake/orders/batch={{batch.id}}/", "format": "csv"},
            "trigger": {"after": {"etlJobRef": {"name": "orders"}}},
            "checks": [{"name": "rows", "rowCount": {"min": 1}}],
        },
    }))
    .unwrap()
}

fn succeeded_run() -> EtlRun {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": "orders-2026-11-25t13", "namespace": NS},
        "spec": {"jobRef": {"name": "orders"}, "batchId": "2026-11-25T13",
                 "window": {"start": "2026-11-25T13:00:00Z", "end": "2026-11-25T14:00:00Z"}},
        "status": {"phase": "Succeeded", "finishedAt": "2026-11-25T14:05:00Z"},
    }))
    .unwrap()
}

fn job() -> EtlJob {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": "orders", "namespace": NS},
        "spec": {"poolRef": {"name": "batch"}, "window": {"size": "1h"}, "task": {"container": {"image": "busybox"}}},
    }))
    .unwrap()
}

/// The suite's job, gated by the suite.
fn gated_job() -> EtlJob {
    let mut job = job();
    job.spec.gates =
        serde_json::from_value(json!({"after": [{"validationSuiteRef": {"name": "orders-quality"}}]})).unwrap();
    job
}

#[tokio::test]
async fn a_succeeded_batch_is_validated_and_recorded_active_before_its_job_exists() {
    // Also issue 12, item 3: the validation Job is kept until its verdict is recorded.
    let s = Scenario::new(&[succeeded_run()], &[job()], &[], Arc::new(FakeEmr::default()));
    let stored = s.api.insert(&suite());
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    assert_eq!(
        s.api.writes(),
        ["PATCH validationsuites/orders-quality/status", "POST jobs"],
        "active in status first, then the Job"
    );
    let calls = s.api.calls();
    let first = calls.iter().find(|c| c.verb == Verb::Patch).unwrap();
    let active = &first.body.as_ref().unwrap()["status"]["active"];
    assert_eq!(active["batchId"], "2026-11-25T13", "{active}");
    assert_eq!(active["etlRun"], "orders-2026-11-25t13", "{active}");
    let job_name = active["jobName"].as_str().unwrap();
    let created = calls.iter().find(|c| c.verb == Verb::Create).unwrap();
    assert_eq!(created.name.as_deref(), Some(job_name), "the Job is the one recorded");
    assert_eq!(created.field_manager.as_deref(), Some("ade-operator/validation-suite"));
    let created: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), job_name).unwrap();
    assert_eq!(
        created.spec.unwrap().ttl_seconds_after_finished,
        None,
        "Kubernetes keeps the Job until its verdict is recorded"
    );

    // Reconciled again before the Job finishes: no second Job.
    let stored: ValidationSuite = s.api.get(Some(NS), "orders-quality").unwrap();
    s.api.take_calls();
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    assert!(!s.api.writes().iter().any(|w| w == "POST jobs"), "{:?}", s.api.writes());

    // The Job finishes (exit 0: passed); the run is marked as checked by the
    // suite before the suite's status records the result.
    let mut finished: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), job_name).unwrap();
    finished.status =
        Some(serde_json::from_value(json!({"conditions": [{"type": "Complete", "status": "True"}]})).unwrap());
    s.api.insert(&finished);
    s.api.insert(
        &serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(json!({
            "metadata": {"name": format!("{job_name}-x"), "namespace": NS,
                         "labels": {"batch.kubernetes.io/job-name": job_name}},
            "status": {"containerStatuses": [{"name": "validate", "image": "i", "imageID": "", "ready": false,
                       "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]},
        }))
        .unwrap(),
    );
    s.api.take_calls();
    let stored: ValidationSuite = s.api.get(Some(NS), "orders-quality").unwrap();
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    let writes = s.api.writes();
    assert_eq!(
        &writes[..2],
        [
            "PATCH etlruns/orders-2026-11-25t13",
            "PATCH validationsuites/orders-quality/status"
        ],
        "the run's mark, then the suite's status: {writes:?}"
    );
    assert_eq!(
        writes.get(2).map(String::as_str),
        Some(format!("PATCH jobs/{job_name}").as_str()),
        "then the Job gets its TTL: {writes:?}"
    );
    let released: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), job_name).unwrap();
    assert!(released.spec.unwrap().ttl_seconds_after_finished.is_some());
    let run: EtlRun = s.api.get(Some(NS), "orders-2026-11-25t13").unwrap();
    let suite_uid = s
        .api
        .get::<ValidationSuite>(Some(NS), "orders-quality")
        .unwrap()
        .metadata
        .uid;
    assert_eq!(
        run.metadata
            .annotations
            .unwrap_or_default()
            .get("validated.ade.dev/orders-quality"),
        suite_uid.as_ref()
    );
}

/// A Pod of Job `job` that ended with `summary` as its termination message.
fn finished_pod(job: &str, exit: i32, summary: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{job}-x"), "namespace": NS,
                     "labels": {"batch.kubernetes.io/job-name": job}},
        "status": {"containerStatuses": [{"name": "validate", "image": "i", "imageID": "", "ready": false,
                   "restartCount": 0, "state": {"terminated": {"exitCode": exit, "message": summary.to_string()}}}]},
    }))
    .unwrap()
}

/// Marks Job `name` finished (`Complete` or `Failed`).
fn finish_job(s: &Scenario, name: &str, condition: &str) {
    let mut job: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), name).unwrap();
    job.status = Some(serde_json::from_value(json!({"conditions": [{"type": condition, "status": "True"}]})).unwrap());
    s.api.insert(&job);
}

/// Issue 12, item 6: the checks passed but OpenSearch was down. The batch is
/// not quarantined, the suite says `PublishFailed` and publishes again later
/// with `--republish` (the checks are not run again); once that works the
/// last run gets the checks' verdict back.
#[tokio::test]
async fn a_publishing_failure_is_retried_without_running_the_checks_again() {
    let s = Scenario::new(&[succeeded_run()], &[gated_job()], &[], Arc::new(FakeEmr::default()));
    let stored = s.api.insert(&suite());
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    let suite_now = || s.api.get::<ValidationSuite>(Some(NS), "orders-quality").unwrap();
    let first = suite_now().status.unwrap().active.unwrap().job_name;
    finish_job(&s, &first, "Failed");
    let summary = json!({"apiVersion": "ade.dev/validation-summary/v1", "outcome": "publishFailed",
        "passed": 1, "warned": 0, "failed": 0, "skipped": 0, "republish": true,
        "message": "OpenSearch: connection refused (tried 3 times); what is left to publish is stored"});
    s.api.insert(&finished_pod(&first, 3, summary));
    reconcile(Arc::new(suite_now()), s.ctx.clone()).await.unwrap();

    let status = suite_now().status.unwrap();
    let run: EtlRun = s.api.get(Some(NS), "orders-2026-11-25t13").unwrap();
    let quarantined = run.status.unwrap().conditions;
    let verdict = quarantined.iter().find(|c| c.type_ == "Quarantined").unwrap();
    assert_eq!(
        (verdict.status.as_str(), verdict.reason.as_str()),
        ("False", "ChecksPassed")
    );
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason, "PublishFailed");
    assert!(ready.message.contains("attempt 2 of 5"), "{}", ready.message);
    let again = status.active.clone().unwrap();
    assert_eq!(again.publish_attempt, Some(2));
    assert!(again.not_before.is_some());

    // The back-off has passed: the Job of attempt 2 only publishes.
    // (Written as the controller writes it, so the fake API server keeps
    // track of who applied which field.)
    let mut status = suite_now().status.unwrap();
    status.active.as_mut().unwrap().not_before = None;
    crate::controllers::status::apply(&s.ctx, &suite_now(), super::FIELD_MANAGER, &status)
        .await
        .unwrap();
    reconcile(Arc::new(suite_now()), s.ctx.clone()).await.unwrap();
    let job: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), &again.job_name).unwrap();
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(args.iter().any(|a| a == "--republish"), "{args:?}");
    finish_job(&s, &again.job_name, "Complete");
    let done = json!({"apiVersion": "ade.dev/validation-summary/v1", "outcome": "passed",
        "passed": 0, "warned": 0, "failed": 0, "skipped": 0, "message": "published the stored results"});
    s.api.insert(&finished_pod(&again.job_name, 0, done));
    reconcile(Arc::new(suite_now()), s.ctx.clone()).await.unwrap();
    let status = suite_now().status.unwrap();
    assert!(status.active.is_none(), "{status:?}");
    let last = status.last_run.unwrap();
    assert_eq!(
        (last.outcome.as_deref(), last.passed),
        (Some("Passed"), 1),
        "the checks' verdict, kept"
    );
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "Checked"));
    assert!(ready.message.contains("published on attempt 2"), "{}", ready.message);
}
