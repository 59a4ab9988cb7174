//! The fake API server: creation by apply, deletion, Events, watches, injected faults, garbage
//! collection, cluster-scoped kinds, and the operator's leader election over it.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::{
    api::{
        batch::v1::Job,
        coordination::v1::Lease,
        core::v1::{ConfigMap, Namespace},
        events::v1::Event as K8sEvent,
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions, WatchParams},
    runtime::events::{Event, EventType, Recorder, Reporter},
};
use serde_json::json;

use super::fake_api_tests::{api_error, config_map, job, run};
use crate::{
    api::v1alpha1::EtlRun,
    testing::{Call, FakeApi, Verb},
};

#[tokio::test]
async fn apply_creates_a_missing_object_but_not_through_the_status() {
    let (api, client) = FakeApi::new();
    let maps: Api<ConfigMap> = Api::namespaced(client, "data");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let created = maps
        .patch("c", &PatchParams::apply("me"), &Patch::Apply(&body))
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["a"], "1");
    assert!(created.metadata.uid.is_some());
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}});
    let status = api_error(
        maps.patch_status("d", &PatchParams::apply("me"), &Patch::Apply(&other))
            .await,
    );
    assert_eq!(status.code, 404);
    let status = api_error(maps.patch("c", &PatchParams::default(), &Patch::Apply(&body)).await);
    assert_eq!(status.code, 400, "apply needs a field manager");
    assert_eq!(api.list::<ConfigMap>(None).len(), 1);
}

#[tokio::test]
async fn delete_waits_for_finalizers() {
    let (api, client) = FakeApi::new();
    let mut held = run("r1");
    held.metadata.finalizers = Some(vec!["ade.dev/x".into()]);
    api.insert(&held);
    api.insert(&run("r2"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");

    let marked = runs.delete("r1", &DeleteParams::background()).await.unwrap();
    let marked = marked
        .left()
        .expect("an object with finalizers is answered, not a Status");
    assert!(marked.meta().deletion_timestamp.is_some());
    assert!(api.get::<EtlRun>(Some("data"), "r1").is_some());
    let unfinalized = json!({"metadata": {"finalizers": null}});
    runs.patch("r1", &PatchParams::default(), &Patch::Merge(&unfinalized))
        .await
        .unwrap();
    assert!(
        api.get::<EtlRun>(Some("data"), "r1").is_none(),
        "gone once its finalizers are"
    );

    let gone = runs.delete("r2", &DeleteParams::default()).await.unwrap();
    let status = gone.right().expect("a Status for an object deleted at once");
    assert_eq!(status.details.unwrap().name, "r2");
    assert!(api.list::<EtlRun>(None).is_empty());
    assert_eq!(api_error(runs.delete("r2", &DeleteParams::default()).await).code, 404);
    assert_eq!(
        api.writes(),
        [
            "DELETE etlruns/r1",
            "PATCH etlruns/r1",
            "DELETE etlruns/r2",
            "DELETE etlruns/r2"
        ]
    );
}

#[tokio::test]
async fn delete_preconditions_and_dry_runs_change_nothing() {
    let (api, client) = FakeApi::new();
    let seeded = api.insert(&config_map("data", "c", &[]));
    let maps: Api<ConfigMap> = Api::namespaced(client, "data");
    let stale = DeleteParams::default().preconditions(Preconditions {
        uid: Some("other".into()),
        resource_version: None,
    });
    let status = api_error(maps.delete("c", &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("Precondition failed"), "{}", status.message);
    maps.delete("c", &DeleteParams::default().dry_run()).await.unwrap();
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    maps.create(&dry, &config_map("data", "d", &[])).await.unwrap();
    let names: Vec<_> = api.list::<ConfigMap>(None).iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["c"]);
    let matching = DeleteParams::default().preconditions(Preconditions {
        uid: seeded.uid(),
        resource_version: seeded.resource_version(),
    });
    maps.delete("c", &matching).await.unwrap();
    assert!(api.get::<ConfigMap>(Some("data"), "c").is_none());
}

#[tokio::test]
async fn recorder_events_are_stored_but_not_counted_as_writes() {
    let (api, client) = FakeApi::new();
    let target = api.insert(&run("r1"));
    let reporter = Reporter {
        controller: "ade-operator".into(),
        instance: Some("test".into()),
    };
    let recorder = Recorder::new(client, reporter);
    let event = Event {
        type_: EventType::Warning,
        reason: "Invalid".into(),
        note: Some("bad cron".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &target.object_ref(&())).await.unwrap();
    recorder.publish(&event, &target.object_ref(&())).await.unwrap();

    assert!(api.writes().is_empty());
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events.len(), 1);
    let stored = &events[0];
    assert_eq!(stored.reason.as_deref(), Some("Invalid"));
    assert_eq!(
        stored.series.as_ref().map(|s| s.count),
        Some(2),
        "the repeat patched the series"
    );
    assert_eq!(
        api.writes_with_events(),
        ["POST events".to_owned(), format!("PATCH events/{}", stored.name_any())]
    );
    let calls = api.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.path.starts_with("/apis/events.k8s.io/v1/namespaces/data/events"))
    );
}

#[tokio::test]
async fn watches_answer_an_empty_stream() {
    let (api, client) = FakeApi::new();
    api.insert(&config_map("data", "c", &[]));
    let maps: Api<ConfigMap> = Api::namespaced(client, "data");
    let stream = maps.watch(&WatchParams::default(), "0").await.unwrap();
    let events = tokio::time::timeout(Duration::from_secs(1), stream.collect::<Vec<_>>())
        .await
        .expect("the watch ends");
    assert!(events.is_empty());
    assert_eq!(api.calls()[0].verb, Verb::Watch);
    assert_eq!(api.calls()[0].to_string(), "WATCH configmaps");
}

#[tokio::test]
async fn fail_next_answers_one_matching_call_without_performing_it() {
    let (api, client) = FakeApi::new();
    api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client.clone(), "data");
    api.fail_next(
        |c| c.verb == Verb::Patch && c.subresource.as_deref() == Some("status"),
        500,
        "InternalError",
    );
    api.fail_next(|c: &Call| c.kind_plural == "jobs", 409, "Conflict");
    let status = Patch::Merge(json!({"status": {"phase": "Running"}}));
    let params = PatchParams::default();
    let patch_status = || runs.patch_status("r1", &params, &status);

    runs.get("r1").await.unwrap();
    let failed = api_error(patch_status().await);
    assert_eq!((failed.code, failed.reason.as_str()), (500, "InternalError"));
    assert!(failed.is_failure());
    assert!(api.get::<EtlRun>(Some("data"), "r1").unwrap().status.is_none());
    assert!(patch_status().await.unwrap().status.is_some(), "a fault answers once");

    let jobs: Api<Job> = Api::namespaced(client, "data");
    assert_eq!(
        api_error(jobs.create(&PostParams::default(), &job("j")).await).code,
        409
    );
    assert!(api.list::<Job>(None).is_empty());
    let writes = api.writes();
    assert_eq!(
        writes,
        ["PATCH etlruns/r1/status", "PATCH etlruns/r1/status", "POST jobs"]
    );
}

#[tokio::test]
async fn collect_garbage_deletes_what_lost_its_owners() {
    let (api, client) = FakeApi::new();
    let owner = api.insert(&run("r1"));
    let owned = |name: &str, uid: &str| {
        let mut j = job(name);
        j.metadata.namespace = Some("data".into());
        j.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "ade.dev/v1alpha1".into(),
            kind: "EtlRun".into(),
            name: "r1".into(),
            uid: uid.into(),
            ..OwnerReference::default()
        }]);
        j
    };
    api.insert(&owned("kept", &owner.uid().unwrap()));
    api.insert(&owned("orphan", "gone"));
    api.insert(&job("free"));
    assert_eq!(api.collect_garbage(), 1);
    let mut names: Vec<_> = api.list::<Job>(None).iter().map(ResourceExt::name_any).collect();
    names.sort();
    assert_eq!(names, ["free", "kept"]);
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    runs.delete("r1", &DeleteParams::default()).await.unwrap();
    assert_eq!(api.collect_garbage(), 1);
    assert!(api.remove::<Job>(Some("default"), "free"));
    assert!(api.list::<Job>(None).is_empty());
}

#[tokio::test]
async fn cluster_scoped_kinds_live_outside_namespaces() {
    let (api, client) = FakeApi::new();
    let namespaces: Api<Namespace> = Api::all(client);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("data".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let created = namespaces.create(&PostParams::default(), &ns).await.unwrap();
    assert!(created.metadata.namespace.is_none());
    assert_eq!(namespaces.get("data").await.unwrap().uid(), created.uid());
    assert_eq!(api.get::<Namespace>(None, "data").unwrap().uid(), created.uid());
    let calls = api.calls();
    assert_eq!(calls[1].path, "/api/v1/namespaces/data");
    assert_eq!(
        (calls[1].namespace.as_deref(), calls[1].to_string().as_str()),
        (None, "GET namespaces/data")
    );
}

/// The seam end to end: the operator's own leader election, unchanged, over the fake.
#[tokio::test]
async fn the_operators_leader_election_runs_over_the_fake() {
    use crate::leader::LeaderElector;
    let (api, client) = FakeApi::new();
    let elector = |who: &str| {
        LeaderElector::new(
            client.clone(),
            "ade",
            "ade-operator",
            who.into(),
            Duration::from_secs(15),
        )
    };
    let (a, b) = (elector("a"), elector("b"));
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap(), "a holds a valid Lease");
    assert!(a.try_acquire_or_renew().await.unwrap());
    a.release().await.unwrap();
    assert!(b.try_acquire_or_renew().await.unwrap(), "a released it");
    let lease = api.get::<Lease>(Some("ade"), "ade-operator").unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("b"));
    let shown: Vec<String> = api.take_calls().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "GET leases/ade-operator",
            "POST leases",
            "GET leases/ade-operator",
            "GET leases/ade-operator",
            "PUT leases/ade-operator",
            "GET leases/ade-operator",
            "PUT leases/ade-operator",
            "GET leases/ade-operator",
            "PUT leases/ade-operator",
        ]
    );
    api.fail_next(|c| c.verb == Verb::Replace, 409, "Conflict");
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "a lost race is not leadership"
    );
}
