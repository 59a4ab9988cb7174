//! Scenario tests of a StreamConsumer on runtime emr over the in-memory API
//! server and the in-memory EMR (providers::emr::fake): the consumer asks its
//! pool for a cluster, gets one step there (adopted, never added twice),
//! restarts after the step fails with a backoff the status explains, and a
//! deleted consumer cancels its step before its finalizer goes.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::{emr::FINALIZER, emr_step, reconcile};
use crate::{
    api::v1alpha1::{ClusterPool, StreamConsumer},
    providers::pool::MemoryLog,
    testing::scenario::{FakeEmr, Scenario, StepState, emr_pool},
};

const NS: &str = "analytics";

fn consumer() -> StreamConsumer {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "StreamConsumer",
        "metadata": {"name": "clicks", "namespace": NS},
        "spec": {
            "source": {"kinesis": {"streamName": "clicks", "region": "us-east-1"}},
            "runtime": "emr",
            "poolRef": {"name": "spark"},
            "transform": {"obfuscate": [
                {"field": "ip", "method": "drop"},
                {"field": "email", "method": "hmac-sha256", "keyUri": "s3://keys/pii/hmac"},
            ]},
            "sink": {"s3": {"uri": "s3://lake/raw/clicks/"}},
            "checkpoint": {"store": "dynamodb", "dynamodb": {"tableName": "clicks-leases"}},
        },
    }))
    .unwrap()
}

fn stored(s: &Scenario) -> StreamConsumer {
    s.api.get::<StreamConsumer>(Some(NS), "clicks").unwrap()
}

fn ready(c: &StreamConsumer) -> (String, String) {
    let ready = c
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    (ready.reason.clone(), ready.message.clone())
}

/// The pool's capacity pass, with the demand of the consumers as the API server holds them.
async fn pool_pass(s: &Scenario) {
    let pool: ClusterPool = s.api.get(Some(NS), "spark").unwrap();
    let demand = emr_step::pool_demand(NS, "spark", [stored(s)].iter());
    let capacity = s.ctx.providers.capacity_for(&pool).unwrap();
    capacity
        .reconcile(&pool, &[], &demand, &MemoryLog::default(), jiff::Timestamp::now())
        .await
        .unwrap();
}

async fn pass(s: &Scenario) -> StreamConsumer {
    reconcile(Arc::new(stored(s)), s.ctx.clone()).await.unwrap();
    stored(s)
}

#[tokio::test]
async fn a_consumer_waits_for_its_pools_cluster_runs_one_step_and_cancels_it_when_deleted() {
    let emr = Arc::new(FakeEmr::default());
    let s = Scenario::new(&[], &[], &[emr_pool()], emr.clone());
    s.api.insert(&consumer());

    let c = pass(&s).await;
    let step = c.status.as_ref().unwrap().emr.clone().unwrap();
    assert_eq!((step.attempt, step.state.as_str()), (1, emr_step::WAITING));
    assert_eq!(ready(&c).0, "WaitingForCluster");
    assert!(c.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER));
    assert_eq!(emr.calls("AddJobFlowSteps"), 0, "no cluster yet");

    // The pool sees the consumer's demand and starts a cluster (minClusters 0).
    pool_pass(&s).await;
    assert_eq!(emr.cluster_ids().len(), 1);
    let c = pass(&s).await;
    let step = c.status.as_ref().unwrap().emr.clone().unwrap();
    assert_eq!(emr.calls("AddJobFlowSteps"), 1);
    let (cluster, id) = (step.cluster_id.clone().unwrap(), step.step_id.clone().unwrap());
    assert_eq!(cluster, emr.cluster_ids()[0]);
    let added = emr.state.lock().unwrap().steps[&cluster][0].1.clone();
    assert_eq!(
        added.name,
        format!("ade-stream:{NS}/clicks#1 {}", c.metadata.uid.clone().unwrap())
    );
    assert_eq!(added.args.first().map(String::as_str), Some("env"));
    assert_eq!(added.args.last().map(String::as_str), Some("/usr/local/bin/ade-stream"));
    let document = added.args[1].strip_prefix("ADE_STREAM_CONFIG=").expect("the document");
    let parsed: ade_api::stream::Config = serde_json::from_str(document).unwrap();
    assert_eq!(parsed.consumer, "clicks");
    let email = &parsed.obfuscate[1];
    assert_eq!(
        (email.key_uri.as_deref(), email.key_file.as_ref()),
        (Some("s3://keys/pii/hmac"), None),
        "an EMR node reads its key from S3; nothing secret is in the step"
    );
    assert_eq!(added.args[2], "POD_NAME=clicks-emr-1");

    // Again: the step is found by name; nothing is added.
    let c = pass(&s).await;
    assert_eq!(emr.calls("AddJobFlowSteps"), 1);
    let step = c.status.as_ref().unwrap().emr.clone().unwrap();
    assert_eq!(
        (step.step_id.as_deref(), step.state.as_str()),
        (Some(id.as_str()), "Running")
    );
    assert_eq!(c.status.as_ref().unwrap().replicas, 1);
    assert_eq!(ready(&c).0, "NoLiveWorkers", "no worker lease in the table yet");
    assert!(
        emr_step::pool_demand(NS, "spark", [c.clone()].iter()).is_empty(),
        "a running step is no demand"
    );

    // Deleted: the step is cancelled, then the finalizer goes.
    let mut deleting = c.clone();
    deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::now(),
    ));
    reconcile(Arc::new(deleting), s.ctx.clone()).await.unwrap();
    assert_eq!(emr.calls("CancelSteps"), 1);
    let state = emr.state.lock().unwrap().steps[&cluster][0].0.state;
    assert_eq!(state, StepState::Cancelled);
    assert!(!stored(&s).metadata.finalizers.iter().flatten().any(|f| f == FINALIZER));
}

#[tokio::test]
async fn a_failed_step_is_restarted_after_a_backoff_the_status_explains() {
    let emr = Arc::new(FakeEmr::default());
    let s = Scenario::new(&[], &[], &[emr_pool()], emr.clone());
    s.api.insert(&consumer());
    pass(&s).await;
    pool_pass(&s).await;
    let c = pass(&s).await;
    let step = c.status.unwrap().emr.unwrap();
    emr.set_step_state(
        step.cluster_id.as_deref().unwrap(),
        step.step_id.as_deref().unwrap(),
        StepState::Failed,
    );
    let c = pass(&s).await;
    let status = c.status.clone().unwrap();
    let after = status.emr.clone().unwrap();
    assert_eq!(
        (after.attempt, after.restarts, after.state.as_str()),
        (2, 1, emr_step::RESTART_PENDING)
    );
    assert!(after.next_restart_at.is_some());
    let degraded = status.conditions.iter().find(|c| c.type_ == "Degraded").unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "StepFailed")
    );
    assert!(degraded.message.contains("ended Failed"), "{}", degraded.message);
    assert_eq!(ready(&c).0, "RestartPending");
    assert_eq!(
        emr_step::pool_demand(NS, "spark", [c].iter()),
        [format!("ade-stream:{NS}/clicks#2 {}", after_uid(&s))],
        "a restart due keeps asking the pool for a slot"
    );
    // Within the backoff nothing is added.
    pass(&s).await;
    assert_eq!(emr.calls("AddJobFlowSteps"), 1);
}

fn after_uid(s: &Scenario) -> String {
    stored(s).metadata.uid.unwrap()
}

/// A reconcile of the stored consumer as if its spec were at `generation`.
async fn pass_at(s: &Scenario, generation: i64) -> StreamConsumer {
    let mut c = stored(s);
    c.metadata.generation = Some(generation);
    reconcile(Arc::new(c), s.ctx.clone()).await.unwrap();
    stored(s)
}

#[tokio::test]
async fn a_spec_change_replaces_the_step_once_the_old_one_let_go_and_counts_no_failure() {
    let emr = Arc::new(FakeEmr::default());
    let s = Scenario::new(&[], &[], &[emr_pool()], emr.clone());
    s.api.insert(&consumer());
    pass_at(&s, 1).await;
    pool_pass(&s).await;
    let c = pass_at(&s, 1).await;
    let first = c.status.unwrap().emr.unwrap();
    assert_eq!(
        (first.attempt, first.generation, first.pool.as_deref()),
        (1, Some(1), Some("spark"))
    );

    // Generation 2: the old step is cancelled; nothing is added in that pass.
    let c = pass_at(&s, 2).await;
    let after = c.status.unwrap().emr.unwrap();
    assert_eq!(emr.calls("CancelSteps"), 1);
    assert_eq!(emr.calls("AddJobFlowSteps"), 1, "the old step still held its slot");
    assert_eq!(
        (after.attempt, after.restarts, after.state.as_str()),
        (2, 0, emr_step::WAITING)
    );

    // The next pass adds attempt 2, built from generation 2; no restart is counted.
    let c = pass_at(&s, 2).await;
    let second = c.status.unwrap().emr.unwrap();
    assert_eq!(emr.calls("AddJobFlowSteps"), 1 + 1);
    assert_eq!(
        (
            second.attempt,
            second.generation,
            second.restarts,
            second.state.as_str()
        ),
        (2, Some(2), 0, "Pending")
    );
}
