//! Scenario tests of the ClusterPool reconcile over an in-memory API server
//! (crate::testing): a kubernetes pool's status counts its runs from the
//! caches, written from the status type in one server-side apply.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun},
    providers::pool::{MemoryLog, RequestLog},
    testing::{
        Verb,
        scenario::{FakeEmr, Scenario, emr_pool},
    },
};

const NS: &str = "analytics";

fn run(name: &str, batch: &str, status: serde_json::Value) -> EtlRun {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"jobRef": {"name": "orders"}, "batchId": batch},
        "status": status,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_kubernetes_pool_counts_its_running_and_queued_runs() {
    let job: EtlJob = serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": "orders", "namespace": NS},
        "spec": {"poolRef": {"name": "batch"}, "window": {"size": "1h"}, "task": {"container": {"image": "busybox"}}},
    }))
    .unwrap();
    let pool: ClusterPool = serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "ClusterPool",
        "metadata": {"name": "batch", "namespace": NS},
        "spec": {"provider": "kubernetes", "capacity": {"maxConcurrentRuns": 1}},
    }))
    .unwrap();
    let runs = [
        run(
            "a",
            "b1",
            json!({"phase": "Running", "pool": "batch", "estimatedCostUSD": "0.2500"}),
        ),
        run("b", "b2", json!({"phase": "Pending"})),
        run(
            "c",
            "b3",
            json!({"phase": "Succeeded", "pool": "batch", "estimatedCostUSD": "1.0000"}),
        ),
    ];
    let s = Scenario::new(&runs, &[job], &[pool], Arc::new(FakeEmr::default()));
    let stored: ClusterPool = s.api.get(Some(NS), "batch").unwrap();
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    assert_eq!(s.api.writes(), ["PATCH clusterpools/batch/status"]);
    assert!(
        !s.api.calls().iter().any(|c| c.verb == Verb::List),
        "read from the caches, not listed"
    );
    let status = s.api.get::<ClusterPool>(Some(NS), "batch").unwrap().status.unwrap();
    assert_eq!((status.running_runs, status.queued_runs), (1, 1));
    assert_eq!(status.estimated_cost_usd.unwrap().0, "1.2500");
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "Available"));
}

/// The pool as the API server `s` holds it now.
fn stored_pool(s: &Scenario, name: &str) -> ClusterPool {
    s.api.get(Some(NS), name).unwrap()
}

/// Issue 12, item 9: `RunJobFlow` creates the cluster but its answer is lost
/// (the operator crashes, or the connection drops), and EMR's listing does
/// not show the new cluster for a while. The request was recorded in the
/// pool's status before the call, so the restarted operator waits for that
/// cluster by name instead of creating a second one for the same run.
#[tokio::test]
async fn an_emr_cluster_is_created_once_across_a_crash_after_run_job_flow() {
    let fake = Arc::new(FakeEmr::default());
    {
        let mut state = fake.state.lock().unwrap();
        state.lose_answers = 1;
        // Each reconcile lists twice (live clusters, recently terminated
        // ones): the first two reconciles after the restart miss the cluster.
        state.list_lag = 4;
    }
    let queued = run(
        "orders-1",
        "b1",
        json!({"phase": "Pending", "pool": "spark", "attempts": [{"attempt": 1}]}),
    );
    let first = Scenario::new(std::slice::from_ref(&queued), &[], &[emr_pool()], fake.clone());
    reconcile(Arc::new(stored_pool(&first, "spark")), first.ctx.clone())
        .await
        .unwrap();
    assert_eq!(fake.calls("RunJobFlow"), 1);
    let created = fake.state.lock().unwrap().specs.values().next().unwrap().name.clone();
    let status = stored_pool(&first, "spark").status.unwrap();
    let recorded: Vec<_> = status.cluster_requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        recorded,
        [created.as_str()],
        "recorded before the call, kept after its lost answer"
    );

    // A new operator process: the pool as the API server holds it.
    let second = Scenario::new(&[queued], &[], &[stored_pool(&first, "spark")], fake.clone());
    for _ in 0..3 {
        reconcile(Arc::new(stored_pool(&second, "spark")), second.ctx.clone())
            .await
            .unwrap();
    }
    assert_eq!(
        fake.calls("RunJobFlow"),
        1,
        "one cluster for one run: {:?}",
        fake.cluster_ids()
    );
    let status = stored_pool(&second, "spark").status.unwrap();
    assert!(status.cluster_requests.is_empty(), "settled once listed: {status:?}");
    let listed: Vec<_> = status.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(listed, fake.cluster_ids());
}

#[tokio::test]
async fn a_cluster_request_waits_for_its_cluster_only_while_it_may_exist() {
    let fake = Arc::new(FakeEmr::default());
    let queued = run(
        "orders-1",
        "b1",
        json!({"phase": "Pending", "pool": "spark", "attempts": [{"attempt": 1}]}),
    );
    let s = Scenario::new(&[queued], &[], &[emr_pool()], fake.clone());
    let log = MemoryLog::default();
    let pool = stored_pool(&s, "spark");
    let capacity = s.ctx.providers.capacity_for(&pool).unwrap();
    let runs: Vec<_> = s.ctx.caches.runs.in_namespace(NS);
    // A request that may have created a cluster waits for it ...
    fake.state.lock().unwrap().lose_answers = 1;
    fake.state.lock().unwrap().list_lag = 2;
    assert!(
        capacity
            .reconcile(&pool, &runs, &[], &log, jiff::Timestamp::now())
            .await
            .is_err()
    );
    assert_eq!(log.recorded().len(), 1);
    let report = capacity
        .reconcile(&pool, &runs, &[], &log, jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!((fake.calls("RunJobFlow"), report.requests.len()), (1, 1));
    // ... until its grace has passed without the cluster listed.
    // Past the provider's grace for a request (2 minutes).
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(3);
    fake.state.lock().unwrap().clusters.clear();
    let report = capacity.reconcile(&pool, &runs, &[], &log, later).await.unwrap();
    assert_eq!(fake.calls("RunJobFlow"), 2, "asked again after the grace");
    assert_eq!(report.requests.len(), 1, "the new request");

    // A refused request created nothing: it is dropped, and asked again at once.
    let log = MemoryLog::default();
    fake.state.lock().unwrap().clusters.clear();
    fake.state.lock().unwrap().refuse = 1;
    assert!(capacity.reconcile(&pool, &runs, &[], &log, later).await.is_err());
    assert!(log.recorded().is_empty(), "{:?}", log.recorded());
    capacity.reconcile(&pool, &runs, &[], &log, later).await.unwrap();
    assert_eq!(fake.calls("RunJobFlow j-"), 3);
}
