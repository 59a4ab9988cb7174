//! Scenario tests of the ClusterPool reconcile over an in-memory API server
//! (crate::testing): a kubernetes pool's status counts its runs from the
//! caches, written from the status type in one server-side apply.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun},
    testing::{
        Verb,
        scenario::{FakeEmr, Scenario},
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
