//! Scenario tests of the EtlRun reconcile over an in-memory API server
//! (crate::testing): the exact writes it makes, and what the API server held
//! for the run when the provider was asked to act.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun, RunPhase},
    providers::ATTEMPT_FINALIZER,
    testing::scenario::{FakeEmr, Scenario},
};

const NS: &str = "analytics";

fn pool(name: &str, spec: serde_json::Value) -> ClusterPool {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "ClusterPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .unwrap()
}

fn job(pool: &str, task: serde_json::Value) -> EtlJob {
    named_job("orders", pool, task)
}

fn named_job(name: &str, pool: &str, task: serde_json::Value) -> EtlJob {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"poolRef": {"name": pool}, "window": {"size": "1h"}, "task": task},
    }))
    .unwrap()
}

fn container() -> serde_json::Value {
    json!({"container": {"image": "busybox"}})
}

fn run(name: &str, extra: serde_json::Value) -> EtlRun {
    let mut run = json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "jobRef": {"name": "orders"}, "batchId": "2026-11-25T13",
            "window": {"start": "2026-11-25T13:00:00Z", "end": "2026-11-25T14:00:00Z"},
        },
    });
    merge(&mut run, extra);
    serde_json::from_value(run).unwrap()
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Another batch of the job (two runs of one batch never run together anyway).
fn other_batch() -> serde_json::Value {
    json!({"spec": {"batchId": "2026-11-25T14", "window": {"start": "2026-11-25T14:00:00Z", "end": "2026-11-25T15:00:00Z"}}})
}

fn kubernetes(runs: &[EtlRun], max: Option<i32>) -> Scenario {
    let capacity = max.map_or(json!({}), |m| json!({"maxConcurrentRuns": m}));
    Scenario::new(
        runs,
        &[job("batch", container())],
        &[pool("batch", json!({"provider": "kubernetes", "capacity": capacity}))],
        Arc::new(FakeEmr::default()),
    )
}

async fn reconcile_stored(s: &Scenario, name: &str) {
    let stored = s.run(NS, name).unwrap();
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
}

#[tokio::test]
async fn an_attempt_is_recorded_in_status_before_its_job_exists() {
    let s = kubernetes(&[run("orders-1", json!({}))], None);
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(
        s.api.writes(),
        [
            "PATCH etlruns/orders-1/status",
            "POST jobs",
            "PATCH etlruns/orders-1/status"
        ],
        "the intent first, then the Job, then its name (a Job recorded and missing was deleted)"
    );
    let created = s
        .api
        .calls()
        .into_iter()
        .find(|c| c.to_string() == "POST jobs")
        .unwrap();
    assert_eq!(
        created.field_manager.as_deref(),
        Some("ade-operator/kubernetes-provider")
    );
    let asked = s.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!((asked[0].op, asked[0].attempt), ("start", 1));
    assert_eq!(
        asked[0].stored_attempts, 1,
        "the attempt was stored when the Job was created"
    );
    let stored = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(stored.phase, Some(RunPhase::Provisioning));
    assert_eq!(stored.attempts[0].job_name.as_deref(), Some("orders-1-1"));
    assert!(
        s.run(NS, "orders-1").unwrap().metadata.finalizers.is_none(),
        "a Job is garbage-collected with its run: no finalizer"
    );
}

#[tokio::test]
async fn a_job_the_api_server_refuses_as_invalid_fails_the_run_with_its_message() {
    let s = kubernetes(&[run("orders-1", json!({}))], None);
    s.api.fail_next(|c| c.to_string() == "POST jobs", 422, "Invalid");
    // Would the creation be retried, the reconcile would end in an error.
    reconcile_stored(&s, "orders-1").await;
    let jobs = s.api.writes().into_iter().filter(|w| w == "POST jobs").count();
    assert_eq!(jobs, 1, "the same Job is refused again: not asked twice");
    let stored = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(stored.phase, Some(RunPhase::Failed));
    let said = stored.attempts[0].message.clone().unwrap_or_default();
    assert_eq!(
        said,
        "creating the Job: the API server refused it: injected by the test: Invalid"
    );
    let ready = stored.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "Failed"));
    assert!(ready.message.contains(&said), "{}", ready.message);
}

#[tokio::test]
async fn a_cancel_reaches_the_provider_before_the_final_status() {
    let running = json!({
        "spec": {"cancel": true},
        "status": {"phase": "Running", "attempts": [{"attempt": 1, "jobName": "orders-1-1", "startedAt": "2026-11-25T14:00:00Z"}]},
    });
    let s = kubernetes(&[run("orders-1", running)], None);
    // The fake stores no status on create: put it as a status write would.
    s.api.insert(&run(
        "orders-1",
        json!({"spec": {"cancel": true}, "status": {"phase": "Running", "attempts": [{"attempt": 1, "jobName": "orders-1-1"}]}}),
    ));
    reconcile_stored(&s, "orders-1").await;
    let asked = s.asked();
    let cancel = asked
        .iter()
        .find(|a| a.op == "cancel")
        .expect("the provider was asked to cancel");
    assert_eq!(
        cancel.stored_phase,
        Some(RunPhase::Running),
        "cancelled while the stored run was not final yet"
    );
    let writes = s.api.writes();
    let status_at = writes.iter().position(|w| w == "PATCH etlruns/orders-1/status");
    let delete_at = writes.iter().position(|w| w == "DELETE jobs/orders-1-1");
    assert!(
        delete_at.is_some() && delete_at < status_at,
        "the Job is deleted, then the final status written: {writes:?}"
    );
    let stored = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(stored.phase, Some(RunPhase::Cancelled));
}

#[tokio::test]
async fn two_runs_never_take_a_pools_last_slot_together() {
    let s = kubernetes(&[run("orders-1", json!({})), run("orders-2", other_batch())], Some(1));
    let (a, b) = (s.run(NS, "orders-1").unwrap(), s.run(NS, "orders-2").unwrap());
    let (ra, rb) = tokio::join!(
        reconcile(Arc::new(a), s.ctx.clone()),
        reconcile(Arc::new(b), s.ctx.clone())
    );
    ra.unwrap();
    rb.unwrap();
    let jobs: Vec<_> = s.api.writes().into_iter().filter(|w| w == "POST jobs").collect();
    assert_eq!(jobs.len(), 1, "one slot, one Job: {:?}", s.api.writes());
    let phases: Vec<_> = ["orders-1", "orders-2"]
        .iter()
        .map(|n| s.run(NS, n).unwrap().status.unwrap().phase)
        .collect();
    assert!(phases.contains(&Some(RunPhase::Provisioning)), "{phases:?}");
    assert!(phases.contains(&Some(RunPhase::Pending)), "{phases:?}");
}

/// Runs of two jobs on one pool: `max` slots.
fn two_jobs(max: Option<i32>) -> Scenario {
    let capacity = max.map_or(json!({}), |m| json!({"maxConcurrentRuns": m}));
    let returns = run("returns-1", json!({"spec": {"jobRef": {"name": "returns"}}}));
    Scenario::new(
        &[run("orders-1", json!({})), returns],
        &[job("batch", container()), named_job("returns", "batch", container())],
        &[pool("batch", json!({"provider": "kubernetes", "capacity": capacity}))],
        Arc::new(FakeEmr::default()),
    )
}

/// Both runs reconciled at once; the `POST jobs` made.
async fn start_both(s: &Scenario) -> usize {
    let (a, b) = (s.run(NS, "orders-1").unwrap(), s.run(NS, "returns-1").unwrap());
    let (ra, rb) = tokio::join!(
        reconcile(Arc::new(a), s.ctx.clone()),
        reconcile(Arc::new(b), s.ctx.clone())
    );
    ra.unwrap();
    rb.unwrap();
    s.api.writes().into_iter().filter(|w| w == "POST jobs").count()
}

/// The runs of two jobs hold their pool alone when it has a limit: the
/// job's own lock does not keep them apart.
#[tokio::test]
async fn runs_of_two_jobs_never_take_a_pools_last_slot_together() {
    let s = two_jobs(Some(1));
    assert_eq!(start_both(&s).await, 1, "one slot, one Job: {:?}", s.api.writes());
}

/// Without a limit, the runs of two jobs start side by side.
#[tokio::test]
async fn runs_of_two_jobs_both_start_on_a_pool_without_a_limit() {
    let s = two_jobs(None);
    assert_eq!(start_both(&s).await, 2, "{:?}", s.api.writes());
}

fn emr_scenario(runs: &[EtlRun], fake: &Arc<FakeEmr>) -> Scenario {
    let pool = crate::testing::scenario::emr_pool();
    let spark = json!({"sparkSubmit": {"mainApplicationFile": "s3://code/a.py"}});
    Scenario::new(runs, &[job("spark", spark)], &[pool], fake.clone())
}

/// An emr run through its first two reconciles: the intent (no cluster yet),
/// the pool's capacity reconcile creating a cluster, then the step.
async fn placed_emr_run(s: &Scenario) {
    reconcile_stored(s, "orders-1").await;
    let pool: ClusterPool = s.api.get(Some(NS), "spark").unwrap();
    let runs = vec![Arc::new(s.run(NS, "orders-1").unwrap())];
    let capacity = s.ctx.providers.capacity_for(&pool).unwrap();
    let log = crate::providers::pool::MemoryLog::default();
    capacity
        .reconcile(&pool, &runs, &[], &log, jiff::Timestamp::now())
        .await
        .unwrap();
    reconcile_stored(s, "orders-1").await;
}

#[tokio::test]
async fn an_emr_run_carries_its_finalizer_and_intent_before_the_step_exists() {
    let fake = Arc::new(FakeEmr::default());
    let s = emr_scenario(&[run("orders-1", json!({}))], &fake);
    placed_emr_run(&s).await;
    let writes = s.api.writes();
    assert_eq!(
        &writes[..2],
        ["PATCH etlruns/orders-1", "PATCH etlruns/orders-1/status"],
        "the finalizer, then the intent: {writes:?}"
    );
    let starts: Vec<_> = s.asked().into_iter().filter(|a| a.op == "start").collect();
    assert_eq!(starts.len(), 2, "no cluster yet, then placed: {starts:?}");
    for start in &starts {
        assert_eq!(start.stored_attempts, 1);
        assert_eq!(start.stored_finalizers, [ATTEMPT_FINALIZER]);
    }
    assert_eq!(fake.calls("AddJobFlowSteps"), 1);
    let stored = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert!(stored.attempts[0].step_id.is_some(), "{stored:?}");
}

#[tokio::test]
async fn deleting_an_emr_run_cancels_its_step_then_lets_it_go() {
    let fake = Arc::new(FakeEmr::default());
    let s = emr_scenario(&[run("orders-1", json!({}))], &fake);
    placed_emr_run(&s).await;
    let api: kube::Api<EtlRun> = kube::Api::namespaced(s.ctx.client.clone(), NS);
    api.delete("orders-1", &Default::default()).await.unwrap();
    let deleting = s.run(NS, "orders-1").unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some(), "held by its finalizer");
    s.api.take_calls();
    reconcile(Arc::new(deleting), s.ctx.clone()).await.unwrap();
    assert_eq!(fake.calls("CancelSteps"), 1, "the step was cancelled");
    assert_eq!(s.api.writes(), ["PATCH etlruns/orders-1"], "then the finalizer removed");
    assert!(s.run(NS, "orders-1").is_none(), "and the run is gone");
    let events = s.api.writes_with_events();
    assert!(events.iter().any(|w| w.contains("events")), "{events:?}");
}

#[tokio::test]
async fn a_run_admitted_moments_ago_holds_its_slot_before_the_cache_shows_it() {
    // orders-1 is ahead in the queue but waits out a retry backoff, so
    // orders-2 takes the only slot; when the backoff ends, the caches
    // (which are never fed here, like a watch that lags) still show
    // orders-2 waiting: the operator's own write must count.
    // Status times are whole seconds: the backoff ends 1 to 2 s from now.
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let backoff = json!({"status": {
        "phase": "Pending",
        "nextAttemptAt": soon.to_string(),
        "attempts": [{"attempt": 1, "jobName": "orders-1-1", "outcome": "Failed",
                      "startedAt": "2026-11-25T14:00:00Z", "finishedAt": "2026-11-25T14:01:00Z"}],
    }});
    let s = kubernetes(&[run("orders-1", backoff), run("orders-2", other_batch())], Some(1));
    reconcile_stored(&s, "orders-2").await;
    assert_eq!(
        s.api.writes(),
        [
            "PATCH etlruns/orders-2/status",
            "POST jobs",
            "PATCH etlruns/orders-2/status"
        ],
        "orders-2 starts while orders-1 waits out its backoff: {:?}",
        s.run(NS, "orders-2").unwrap().status.map(|st| st.conditions)
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    reconcile_stored(&s, "orders-1").await;
    let jobs = s.api.writes().into_iter().filter(|w| w == "POST jobs").count();
    assert_eq!(jobs, 1, "the pool's one slot is taken: {:?}", s.api.writes());
    let waiting = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(waiting.attempts.len(), 1, "no second attempt yet: {waiting:?}");
}

#[tokio::test]
async fn an_emr_attempt_started_without_the_finalizer_gets_it() {
    // A run whose step an older operator added (no finalizer then).
    let fake = Arc::new(FakeEmr::default());
    let s = emr_scenario(&[run("orders-1", json!({}))], &fake);
    placed_emr_run(&s).await;
    let mut old = s.run(NS, "orders-1").unwrap();
    old.metadata.finalizers = None;
    // A change: the API server gives it a new resourceVersion.
    old.metadata.resource_version = None;
    s.api.insert(&old);
    s.api.take_calls();
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(
        s.run(NS, "orders-1").unwrap().metadata.finalizers,
        Some(vec![ATTEMPT_FINALIZER.to_owned()]),
        "{:?}",
        s.api.writes()
    );
}

/// A run whose attempt 1 runs as Job `orders-1-1` (its name recorded once created).
fn running_on_a_job() -> serde_json::Value {
    json!({"status": {"phase": "Running", "pool": "batch",
                      "attempts": [{"attempt": 1, "jobName": "orders-1-1"}]}})
}

/// Job `orders-1-1` of `run`, finished with `condition` (`Complete`, `Failed`).
fn finished_job(run: &EtlRun, condition: &str) -> k8s_openapi::api::batch::v1::Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "orders-1-1", "namespace": NS, "ownerReferences": [{
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun", "name": "orders-1",
            "uid": run.metadata.uid, "controller": true}]},
        "spec": {"template": {"spec": {"containers": []}}},
        "status": {"conditions": [{"type": condition, "status": "True"}],
                   "completionTime": "2026-11-25T14:10:00Z"},
    }))
    .unwrap()
}

/// Issue 12, item 3: a finished Job has no TTL until its outcome is in the
/// run's status, so Kubernetes cannot delete it unread (e.g. while the
/// operator is down); the TTL is set right after the outcome is written.
#[tokio::test]
async fn a_finished_job_is_kept_until_its_outcome_is_recorded() {
    let s = kubernetes(&[run("orders-1", running_on_a_job())], None);
    let stored = s.run(NS, "orders-1").unwrap();
    s.api.insert(&finished_job(&stored, "Complete"));
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(
        s.api.writes(),
        ["PATCH etlruns/orders-1/status", "PATCH jobs/orders-1-1"],
        "the outcome first, then the Job's TTL"
    );
    let status = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(status.phase, Some(RunPhase::Succeeded));
    let job: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), "orders-1-1").unwrap();
    assert_eq!(job.spec.unwrap().ttl_seconds_after_finished, Some(3600));
    let released: Vec<_> = s.asked().into_iter().filter(|a| a.op == "release").collect();
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(
        released[0].stored_phase,
        Some(RunPhase::Succeeded),
        "asked after the write"
    );
}

/// A Job that met its success criteria, its Pod still terminating (no Pod
/// active, `Complete` not yet added): the run has succeeded, in one write; it
/// does not go back to Provisioning until `Complete` arrives.
#[tokio::test]
async fn a_job_that_met_its_success_criteria_has_succeeded() {
    let s = kubernetes(&[run("orders-1", running_on_a_job())], None);
    let stored = s.run(NS, "orders-1").unwrap();
    s.api.insert(&finished_job(&stored, "SuccessCriteriaMet"));
    reconcile_stored(&s, "orders-1").await;
    let status = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(status.phase, Some(RunPhase::Succeeded));
    let scheduled = status.conditions.iter().find(|c| c.type_ == "Scheduled").unwrap();
    assert_eq!(
        scheduled.reason, "Finished",
        "said in the write that made the run final"
    );
    let writes = s.api.writes().len();
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(
        s.api.writes().len(),
        writes,
        "nothing left to write: {:?}",
        s.api.writes()
    );
}

/// Issue 12, item 3: a Job recorded as created and gone without a recorded
/// outcome was deleted by someone else: the attempt fails and says so; the
/// same attempt is not created again as if it had never run.
#[tokio::test]
async fn a_job_gone_before_its_outcome_was_recorded_is_reported_not_rerun() {
    let s = kubernetes(&[run("orders-1", running_on_a_job())], None);
    reconcile_stored(&s, "orders-1").await;
    let writes = s.api.writes();
    assert!(!writes.iter().any(|w| w == "POST jobs"), "not re-created: {writes:?}");
    let status = s.run(NS, "orders-1").unwrap().status.unwrap();
    let attempt = &status.attempts[0];
    assert_eq!(attempt.outcome, Some(crate::api::v1alpha1::AttemptOutcome::Failed));
    let message = attempt.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("orders-1-1 was deleted before the operator recorded its outcome"),
        "{message}"
    );
}

/// The other side of item 3: an attempt whose intent was recorded but whose
/// Job was never created (the operator stopped in between) is started now.
#[tokio::test]
async fn an_attempt_recorded_but_never_created_is_started() {
    let intent = json!({"status": {"phase": "Provisioning", "pool": "batch", "attempts": [{"attempt": 1}]}});
    let s = kubernetes(&[run("orders-1", intent)], None);
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(s.api.writes().iter().filter(|w| *w == "POST jobs").count(), 1);
    let status = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(status.attempts[0].job_name.as_deref(), Some("orders-1-1"));
}

/// Issue 12, item 5: a run of a job that `dependsOn` another waits until the
/// upstream batch covering its window has succeeded; before, it started on
/// data nobody had produced (let alone validated) yet.
#[tokio::test]
async fn a_dependent_run_waits_for_its_upstream_batch_before_the_fact() {
    let mut orders = job("batch", container());
    orders.spec.depends_on = serde_json::from_value(json!([{"etlJobRef": {"name": "raw"}}])).unwrap();
    let mut raw = job("batch", container());
    raw.metadata.name = Some("raw".into());
    let raw_run: EtlRun = serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": "raw-1", "namespace": NS},
        "spec": {"jobRef": {"name": "raw"}, "batchId": "2026-11-25T13"},
        "status": {"phase": "Running"},
    }))
    .unwrap();
    let pools = [pool("batch", json!({"provider": "kubernetes"}))];
    let jobs = [orders, raw];
    let s = Scenario::new(
        &[run("orders-1", json!({})), raw_run.clone()],
        &jobs,
        &pools,
        Arc::new(FakeEmr::default()),
    );
    reconcile_stored(&s, "orders-1").await;
    assert_eq!(s.api.writes(), ["PATCH etlruns/orders-1/status"], "no Job yet");
    let status = s.run(NS, "orders-1").unwrap().status.unwrap();
    let scheduled = status.conditions.iter().find(|c| c.type_ == "Scheduled").unwrap();
    assert_eq!(scheduled.reason, "UpstreamPending");
    assert!(
        scheduled
            .message
            .contains("batch 2026-11-25T13 of EtlJob raw to succeed"),
        "{}",
        scheduled.message
    );

    // The upstream batch succeeds: the dependent run starts.
    let mut done = raw_run;
    done.status = serde_json::from_value(json!({"phase": "Succeeded"})).unwrap();
    let s = Scenario::new(
        &[run("orders-1", json!({})), done],
        &jobs,
        &pools,
        Arc::new(FakeEmr::default()),
    );
    reconcile_stored(&s, "orders-1").await;
    assert!(s.api.writes().iter().any(|w| w == "POST jobs"), "{:?}", s.api.writes());
}

/// While a run decides whether to start it holds its job's lock (and a limited
/// pool's): it does not wait there on the provider to price its earlier
/// attempts. A running attempt is still priced on every reconcile.
#[tokio::test]
async fn a_run_deciding_whether_to_retry_does_not_wait_on_pricing_its_attempts() {
    let fake = Arc::new(FakeEmr::default());
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let backoff = json!({"status": {
        "phase": "Pending",
        "nextAttemptAt": later.to_string(),
        "attempts": [{"attempt": 1, "clusterId": "j-1", "stepId": "s-1", "outcome": "Failed",
                      "startedAt": "2026-11-25T14:00:00Z", "finishedAt": "2026-11-25T14:01:00Z",
                      "estimatedCostUSD": "0.42"}],
    }});
    let s = emr_scenario(&[run("orders-1", backoff)], &fake);
    reconcile_stored(&s, "orders-1").await;
    let asked: Vec<_> = s.asked().into_iter().map(|a| a.op).collect();
    assert!(!asked.contains(&"cost"), "priced while deciding: {asked:?}");
    let waiting = s.run(NS, "orders-1").unwrap().status.unwrap();
    assert_eq!(waiting.attempts.len(), 1, "still waiting out its backoff: {waiting:?}");
    assert!(
        waiting.attempts[0].estimated_cost_usd.is_some(),
        "the estimate is kept: {waiting:?}"
    );

    let s = emr_scenario(&[run("orders-1", json!({}))], &fake);
    placed_emr_run(&s).await;
    reconcile_stored(&s, "orders-1").await;
    let priced = s.asked().into_iter().filter(|a| a.op == "cost").count();
    assert!(priced > 0, "a running attempt is priced: {:?}", s.asked());
}

/// The status writes of a run whose first attempt succeeds, as its Job moves
/// through the states the Job controller gives it: the intent, the Job's name,
/// Running, Succeeded; nothing when the Pod has finished and the Job has not
/// said so yet (the run does not go back to Provisioning), nor after the end.
#[tokio::test]
async fn a_run_that_succeeds_first_time_writes_its_status_four_times() {
    let s = kubernetes(&[run("orders-1", json!({}))], None);
    let job_status = |status: serde_json::Value| {
        let mut job: k8s_openapi::api::batch::v1::Job = s.api.get(Some(NS), "orders-1-1").unwrap();
        job.status = Some(serde_json::from_value(status).unwrap());
        s.api.insert(&job);
    };
    let mut phases = Vec::new();
    let steps = [
        None,
        Some(json!({"startTime": "2026-11-25T14:00:00Z", "active": 1})),
        Some(json!({"startTime": "2026-11-25T14:00:00Z", "active": 1, "ready": 1})),
        Some(json!({"startTime": "2026-11-25T14:00:00Z", "active": 0, "ready": 0,
                    "uncountedTerminatedPods": {"succeeded": ["pod-uid"]}})),
        Some(json!({"startTime": "2026-11-25T14:00:00Z", "succeeded": 1,
                    "conditions": [{"type": "SuccessCriteriaMet", "status": "True",
                                    "lastTransitionTime": "2026-11-25T14:01:00Z"}]})),
        Some(json!({"startTime": "2026-11-25T14:00:00Z", "succeeded": 1,
                    "completionTime": "2026-11-25T14:01:01Z",
                    "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                   {"type": "Complete", "status": "True"}]})),
    ];
    for status in steps {
        if let Some(status) = status {
            job_status(status);
        }
        reconcile_stored(&s, "orders-1").await;
        phases.push(s.run(NS, "orders-1").unwrap().status.unwrap().phase.unwrap());
    }
    let status_writes = s.api.writes().iter().filter(|w| w.ends_with("/status")).count();
    assert_eq!(status_writes, 4, "{:?}", s.api.writes());
    use RunPhase::{Provisioning, Running, Succeeded};
    assert_eq!(phases, [Provisioning, Running, Running, Running, Succeeded, Succeeded]);
}

/// A run's watch that lags minutes behind the operator's writes (the API
/// server's watch cache behind etcd under load): a reconcile woken with the
/// run as the watch last showed it, before its attempt, decides on the
/// operator's own write and does not start the attempt again.
#[tokio::test]
async fn a_run_whose_watch_lags_minutes_behind_is_not_started_again() {
    let s = kubernetes(&[run("orders-1", json!({}))], None);
    reconcile_stored(&s, "orders-1").await;
    let before = s.api.writes();
    s.ctx.caches.runs.age_writes(std::time::Duration::from_secs(600));
    let as_watched = s.ctx.caches.runs.reader().state();
    assert!(as_watched[0].status.is_none(), "the watch never delivered the attempt");
    reconcile(as_watched[0].clone(), s.ctx.clone()).await.unwrap();
    assert_eq!(s.api.writes(), before, "the attempt was started again");
}

/// In a backfill thousands of reconciles wait on their job's lock at once,
/// each holding its future, and a future is as large as its largest step:
/// with the writing steps inline a waiting run held 33 KB (debug build), 864
/// bytes with them boxed.
#[tokio::test]
async fn a_reconcile_waiting_for_its_turn_holds_little_memory() {
    let s = kubernetes(&[run("orders-1", json!({}))], None);
    let waiting = reconcile(Arc::new(s.run(NS, "orders-1").unwrap()), s.ctx.clone());
    let size = std::mem::size_of_val(&waiting);
    assert!(size <= 2048, "a reconcile's future takes {size} bytes");
}
