//! Scenario tests of the EtlJob reconcile over an in-memory API server
//! (crate::testing): a backfill creates its runs up to its parallelism, and
//! the runs it just created count before any watch delivers them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun},
    testing::scenario::{FakeEmr, Scenario},
};

const NS: &str = "analytics";

fn job() -> EtlJob {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": "orders", "namespace": NS},
        "spec": {
            "poolRef": {"name": "batch"}, "window": {"size": "1h"},
            "backfill": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-01T05:00:00Z", "parallelism": 2},
            "task": {"container": {"image": "busybox"}},
        },
    }))
    .unwrap()
}

fn pool() -> ClusterPool {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "ClusterPool",
        "metadata": {"name": "batch", "namespace": NS},
        "spec": {"provider": "kubernetes"},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_backfill_creates_runs_up_to_its_parallelism_and_says_so() {
    let s = Scenario::new(&[], &[job()], &[pool()], Arc::new(FakeEmr::default()));
    let stored: EtlJob = s.api.get(Some(NS), "orders").unwrap();
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    assert_eq!(
        s.api.writes(),
        ["POST etlruns", "POST etlruns", "PATCH etljobs/orders/status"],
        "two runs (parallelism 2), then the job's status"
    );
    for created in s.api.calls().into_iter().filter(|c| c.to_string() == "POST etlruns") {
        assert_eq!(
            created.field_manager.as_deref(),
            Some("ade-operator/etl-job"),
            "who made the run"
        );
    }
    let runs: Vec<EtlRun> = s.api.list(Some(NS));
    let batches: Vec<_> = runs.iter().map(|r| r.spec.batch_id.as_str()).collect();
    assert_eq!(batches, ["2026-11-01T00", "2026-11-01T01"]);
    let stored: EtlJob = s.api.get(Some(NS), "orders").unwrap();
    let backfill = stored.status.unwrap().backfill.unwrap();
    assert_eq!((backfill.total, backfill.created), (5, 2));

    // Reconciled again at once: the caches were never fed (a lagging watch),
    // yet the two runs it created are live and hold both slots.
    s.api.take_calls();
    reconcile(Arc::new(stored_job(&s)), s.ctx.clone()).await.unwrap();
    assert!(
        !s.api.writes().iter().any(|w| w == "POST etlruns"),
        "no run past the parallelism: {:?}",
        s.api.writes()
    );
}

fn stored_job(s: &Scenario) -> EtlJob {
    s.api.get(Some(NS), "orders").unwrap()
}
