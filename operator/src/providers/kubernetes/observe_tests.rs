//! Observing an attempt's Job: from the watch of the operator's Jobs when it
//! holds the run's Job, from the API server when it does not.

use k8s_openapi::api::batch::v1::Job;
use kube::runtime::{reflector::store::Writer, watcher};
use serde_json::json;

use super::{JobSettings, KubernetesProvider};
use crate::{
    providers::{AttemptHandle, AttemptRef, AttemptState, SeenJob},
    testing::FakeApi,
};

const UID: &str = "uid-of-orders-1";

fn job(owner_uid: &str, condition: &str) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "orders-1-1", "namespace": "data", "ownerReferences": [{
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun", "name": "orders-1",
            "uid": owner_uid, "controller": true}]},
        "status": {"conditions": [{"type": condition, "status": "True"}]},
    }))
    .unwrap()
}

fn target() -> AttemptRef {
    AttemptRef {
        namespace: "data".into(),
        run: "orders-1".into(),
        run_uid: UID.into(),
        attempt: 1,
        handle: AttemptHandle::Job {
            name: "orders-1-1".into(),
        },
        pool: None,
    }
}

/// A provider whose watch holds `watched`, read as the watch reads them.
fn provider(client: kube::Client, watched: Vec<Job>) -> KubernetesProvider {
    let mut writer = Writer::<SeenJob>::default();
    writer.apply_watcher_event(&watcher::Event::Init);
    for j in watched {
        let seen: SeenJob = serde_json::from_value(serde_json::to_value(j).unwrap()).unwrap();
        writer.apply_watcher_event(&watcher::Event::InitApply(seen));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let settings = JobSettings {
        spark_image: "spark".into(),
        ttl_seconds_after_finished: 60,
    };
    KubernetesProvider::new(client, settings).observing(writer.as_reader())
}

fn reads(api: &FakeApi) -> Vec<String> {
    api.calls().iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn a_job_the_watch_holds_is_observed_without_a_read() {
    let (api, client) = FakeApi::new();
    // The API server has no such Job: a read would find the attempt's Job deleted.
    let p = provider(client, vec![job(UID, "Complete")]);
    let state = p.observe_job(&target()).await.unwrap();
    assert!(matches!(state, AttemptState::Succeeded { .. }), "{state:?}");
    assert!(reads(&api).is_empty(), "{:?}", reads(&api));
}

#[tokio::test]
async fn a_job_the_watch_has_not_seen_is_read_from_the_api_server() {
    let (api, client) = FakeApi::new();
    api.insert(&job(UID, "Complete"));
    let p = provider(client, Vec::new());
    let state = p.observe_job(&target()).await.unwrap();
    assert!(matches!(state, AttemptState::Succeeded { .. }), "{state:?}");
    assert_eq!(reads(&api), ["GET jobs/orders-1-1"]);
}

#[tokio::test]
async fn a_watched_job_of_an_earlier_run_of_the_same_name_is_not_taken_for_this_one() {
    let (api, client) = FakeApi::new();
    api.insert(&job(UID, "Failed"));
    let p = provider(client, vec![job("uid-of-a-deleted-run", "Complete")]);
    let state = p.observe_job(&target()).await.unwrap();
    assert!(matches!(state, AttemptState::Failed { .. }), "{state:?}");
    assert_eq!(reads(&api)[0], "GET jobs/orders-1-1");
}

#[tokio::test]
async fn a_job_that_met_its_success_criteria_has_succeeded_before_it_is_complete() {
    let (_api, client) = FakeApi::new();
    let p = provider(client, vec![job(UID, "SuccessCriteriaMet")]);
    let state = p.observe_job(&target()).await.unwrap();
    assert!(matches!(state, AttemptState::Succeeded { .. }), "{state:?}");
}

/// Between a Pod's end and the Job's outcome the Job has no Pod active: the
/// attempt is still running (not starting again), whether the Job controller
/// has counted the Pod yet or not.
#[tokio::test]
async fn a_job_whose_pod_finished_before_its_outcome_is_still_running() {
    let (_api, client) = FakeApi::new();
    let finishing = |status: serde_json::Value| -> Job {
        let mut job = job(UID, "Complete");
        job.status = Some(serde_json::from_value(status).unwrap());
        job
    };
    let cases = [
        json!({"startTime": "2026-11-25T14:00:00Z", "active": 0,
               "uncountedTerminatedPods": {"succeeded": ["pod-uid"]}}),
        json!({"startTime": "2026-11-25T14:00:00Z", "succeeded": 1}),
        json!({"startTime": "2026-11-25T14:00:00Z", "failed": 1}),
    ];
    for status in cases {
        let p = provider(client.clone(), vec![finishing(status.clone())]);
        let state = p.observe_job(&target()).await.unwrap();
        assert!(matches!(state, AttemptState::Running { .. }), "{status}: {state:?}");
    }
    let created = finishing(json!({"startTime": "2026-11-25T14:00:00Z", "active": 0}));
    let p = provider(client, vec![created]);
    let state = p.observe_job(&target()).await.unwrap();
    assert_eq!(state, AttemptState::Provisioning, "no Pod yet");
}
