//! The fake API server, through real `kube::Api` calls.

use std::collections::BTreeMap;

use k8s_openapi::api::{batch::v1::Job, core::v1::ConfigMap};
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::{
    api::v1alpha1::{EtlRun, EtlRunSpec, LocalObjectReference},
    testing::{FakeApi, Verb},
};

pub(super) fn run(name: &str) -> EtlRun {
    let mut run = EtlRun::new(
        name,
        EtlRunSpec {
            job_ref: LocalObjectReference { name: "orders".into() },
            batch_id: "2026-11-25T13".into(),
            window: None,
            reason: Default::default(),
            cancel: false,
        },
    );
    run.metadata.namespace = Some("data".into());
    run
}

pub(super) fn config_map(ns: &str, name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        ..ConfigMap::default()
    }
}

pub(super) fn job(name: &str) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Job::default()
    }
}

/// The `metav1.Status` of a failed call.
pub(super) fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv<K: kube::Resource>(obj: &K) -> u64 {
    obj.meta()
        .resource_version
        .as_deref()
        .expect("rv")
        .parse()
        .expect("numeric rv")
}

#[tokio::test]
async fn create_get_list_are_recorded_in_order() {
    let (api, client) = FakeApi::new();
    let jobs: Api<Job> = Api::namespaced(client, "data");
    let created = jobs.create(&PostParams::default(), &job("j1")).await.unwrap();
    assert_eq!(created.namespace().as_deref(), Some("data"));
    assert!(created.uid().is_some() && created.meta().creation_timestamp.is_some());
    assert_eq!(created.meta().generation, Some(1));
    assert_eq!(jobs.get("j1").await.unwrap().uid(), created.uid());
    assert_eq!(jobs.list(&ListParams::default()).await.unwrap().items.len(), 1);

    let calls = api.calls();
    let shown: Vec<String> = calls.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["POST jobs", "GET jobs/j1", "LIST jobs"]);
    assert_eq!(calls[0].verb, Verb::Create);
    assert_eq!(calls[0].path, "/apis/batch/v1/namespaces/data/jobs");
    assert_eq!(calls[0].namespace.as_deref(), Some("data"));
    assert_eq!(calls[0].name.as_deref(), Some("j1"), "a create is named after its body");
    assert_eq!(calls[0].body.as_ref().unwrap()["kind"], "Job");
    assert_eq!(calls[1].path, "/apis/batch/v1/namespaces/data/jobs/j1");
    assert_eq!(api.writes(), ["POST jobs"]);
    assert_eq!(api.get::<Job>(Some("data"), "j1").unwrap().uid(), created.uid());
    assert_eq!(api.take_calls().len(), 3);
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn a_second_create_is_already_exists_and_generate_name_picks_a_name() {
    let (_api, client) = FakeApi::new();
    let jobs: Api<Job> = Api::namespaced(client, "data");
    jobs.create(&PostParams::default(), &job("j1")).await.unwrap();
    let status = api_error(jobs.create(&PostParams::default(), &job("j1")).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(status.message, "jobs.batch \"j1\" already exists");
    assert_eq!(status.details.unwrap().name, "j1");

    let mut generated = job("");
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("j-".into());
    let a = jobs.create(&PostParams::default(), &generated).await.unwrap();
    let b = jobs.create(&PostParams::default(), &generated).await.unwrap();
    assert!(
        a.name_any().starts_with("j-") && a.name_any().len() == 7,
        "{}",
        a.name_any()
    );
    assert_ne!(a.name_any(), b.name_any());
}

#[tokio::test]
async fn a_missing_object_is_not_found() {
    let (_api, client) = FakeApi::new();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "data");
    let status = api_error(maps.get("nope").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "configmaps \"nope\" not found");
    assert!(maps.get_opt("nope").await.unwrap().is_none());
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let status = api_error(
        runs.patch_status("r1", &PatchParams::default(), &Patch::Merge(json!({})))
            .await,
    );
    assert_eq!(status.message, "etlruns.ade.dev \"r1\" not found");
    assert_eq!(status.details.unwrap().group, "ade.dev");
}

#[tokio::test]
async fn lists_honour_label_and_field_selectors_across_namespaces() {
    let (api, client) = FakeApi::new();
    api.insert(&config_map("a", "one", &[("app", "x"), ("tier", "web")]));
    api.insert(&config_map("a", "two", &[("app", "y")]));
    api.insert(&config_map("b", "three", &[("app", "x")]));
    let names = |lp: ListParams, ns: Option<&'static str>| {
        let client = client.clone();
        async move {
            let api: Api<ConfigMap> = match ns {
                Some(ns) => Api::namespaced(client, ns),
                None => Api::all(client),
            };
            let list = api.list(&lp).await.unwrap();
            assert_eq!(list.types.kind, "ConfigMapList");
            assert!(list.metadata.resource_version.is_some());
            list.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>()
        }
    };
    let labels = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(ListParams::default(), None).await, ["one", "two", "three"]);
    assert_eq!(names(ListParams::default(), Some("a")).await, ["one", "two"]);
    assert_eq!(names(labels("app=x"), None).await, ["one", "three"]);
    assert_eq!(names(labels("app!=x"), None).await, ["two"]);
    assert_eq!(names(labels("tier"), None).await, ["one"]);
    assert_eq!(names(labels("!tier,app=x"), None).await, ["three"]);
    assert_eq!(names(labels("app in (x,y),tier=web"), None).await, ["one"]);
    assert_eq!(names(labels("app notin (x)"), None).await, ["two"]);
    let by_name = ListParams::default().fields("metadata.name=two");
    assert_eq!(names(by_name, None).await, ["two"]);
    assert_eq!(api.list::<ConfigMap>(Some("b")).len(), 1);
    let lists = api.calls();
    assert_eq!(lists[2].params.get("labelSelector").map(String::as_str), Some("app=x"));
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_conflicts() {
    let (_api, client) = FakeApi::new();
    let maps: Api<ConfigMap> = Api::namespaced(client, "data");
    let first = maps
        .create(&PostParams::default(), &config_map("data", "c", &[]))
        .await
        .unwrap();
    let mut changed = first.clone();
    changed.data = Some(BTreeMap::from([("k".into(), "w".into())]));
    let second = maps.replace("c", &PostParams::default(), &changed).await.unwrap();
    assert!(rv(&second) > rv(&first));
    let status = api_error(maps.replace("c", &PostParams::default(), &changed).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains("the object has been modified"),
        "{}",
        status.message
    );
    changed.metadata.resource_version = None;
    maps.replace("c", &PostParams::default(), &changed).await.unwrap();
}

#[tokio::test]
async fn status_writes_touch_only_the_status_and_spec_writes_only_the_rest() {
    let (api, client) = FakeApi::new();
    let seeded = api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let apply = json!({
        "apiVersion": "ade.dev/v1alpha1",
        "kind": "EtlRun",
        "spec": {"batchId": "ignored"},
        "status": {"phase": "Pending", "attemptCount": 0},
    });
    let applied = runs
        .patch_status("r1", &PatchParams::apply("ade-etl-run").force(), &Patch::Apply(&apply))
        .await
        .unwrap();
    assert_eq!(applied.spec, seeded.spec);
    assert_eq!(applied.meta().generation, Some(1));
    assert!(rv(&applied) > rv(&seeded));
    let merged = runs
        .patch_status(
            "r1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"attemptCount": 1}})),
        )
        .await
        .unwrap();
    let status = merged.status.unwrap();
    assert_eq!(
        (format!("{:?}", status.phase), status.attempt_count),
        ("Some(Pending)".into(), 1)
    );

    let patch = json!({"spec": {"cancel": true}, "status": {"attemptCount": 7}});
    let cancelled = runs
        .patch("r1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert!(cancelled.spec.cancel);
    assert_eq!(
        cancelled.status.as_ref().unwrap().attempt_count,
        1,
        "a spec write leaves the status"
    );
    assert_eq!(cancelled.meta().generation, Some(2));

    let calls = api.calls();
    assert_eq!(
        api.writes(),
        ["PATCH etlruns/r1/status", "PATCH etlruns/r1/status", "PATCH etlruns/r1"]
    );
    assert_eq!(
        calls[0].path,
        "/apis/ade.dev/v1alpha1/namespaces/data/etlruns/r1/status"
    );
    assert_eq!(calls[0].patch_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!(calls[0].field_manager.as_deref(), Some("ade-etl-run"));
    assert_eq!(calls[0].params.get("force").map(String::as_str), Some("true"));
    assert_eq!(calls[0].subresource.as_deref(), Some("status"));
    assert_eq!(calls[1].patch_type.as_deref(), Some("application/merge-patch+json"));
}

#[tokio::test]
async fn apply_drops_what_its_manager_stops_applying_and_merges_conditions() {
    let (api, client) = FakeApi::new();
    api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let condition = |type_: &str| json!({"type": type_, "status": "True", "reason": "R", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let apply = |manager: &'static str, status: Value| {
        let runs = runs.clone();
        async move {
            let body = json!({"apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun", "status": status});
            runs.patch_status("r1", &PatchParams::apply(manager).force(), &Patch::Apply(&body))
                .await
                .unwrap()
                .status
                .unwrap()
        }
    };
    let waiting =
        json!({"phase": "Pending", "nextAttemptAt": "2026-01-01T00:05:00Z", "conditions": [condition("Ready")]});
    apply("ade-etl-run", waiting).await;
    let gate = apply("ade-validation-gate", json!({"conditions": [condition("Validated")]})).await;
    let types: Vec<_> = gate.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Ready", "Validated"]);

    let started = apply(
        "ade-etl-run",
        json!({"phase": "Running", "conditions": [condition("Ready")]}),
    )
    .await;
    assert!(
        started.next_attempt_at.is_none(),
        "the field its manager no longer applies is gone"
    );
    let types: Vec<_> = started.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Ready", "Validated"], "another manager's condition stays");
    let dropped = apply("ade-etl-run", json!({"phase": "Running", "conditions": []})).await;
    let types: Vec<_> = dropped.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Validated"]);
}

#[tokio::test]
async fn json_patch_tests_guard_writes() {
    let (api, client) = FakeApi::new();
    let seeded = api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let guarded = |rv: &str| {
        serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/status", "value": {"phase": "Running"}},
        ]))
        .unwrap()
    };
    let status = api_error(
        runs.patch_status("r1", &PatchParams::default(), &Patch::Json::<()>(guarded("0")))
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(api.get::<EtlRun>(Some("data"), "r1").unwrap().status.is_none());
    let current = seeded.resource_version().unwrap();
    let patched = runs
        .patch_status("r1", &PatchParams::default(), &Patch::Json::<()>(guarded(&current)))
        .await
        .unwrap();
    assert!(patched.status.is_some());
    let remove: json_patch::Patch = serde_json::from_value(json!([{"op": "remove", "path": "/spec/window"}])).unwrap();
    assert_eq!(
        api_error(
            runs.patch("r1", &PatchParams::default(), &Patch::Json::<()>(remove))
                .await
        )
        .code,
        422
    );
    let replace = serde_json::from_value(json!([{"op": "replace", "path": "/spec/batchId", "value": "b"}])).unwrap();
    let replaced = runs
        .patch("r1", &PatchParams::default(), &Patch::Json::<()>(replace))
        .await
        .unwrap();
    assert_eq!(
        (replaced.spec.batch_id.as_str(), replaced.meta().generation),
        ("b", Some(2))
    );
    assert_eq!(
        api.calls()[0].patch_type.as_deref(),
        Some("application/json-patch+json")
    );
}

#[tokio::test]
async fn merge_patch_with_a_stale_resource_version_conflicts() {
    let (api, client) = FakeApi::new();
    let seeded = api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let finalizer = |rv: &str| json!({"metadata": {"finalizers": ["ade.dev/x"], "resourceVersion": rv}});
    let status = api_error(
        runs.patch("r1", &PatchParams::default(), &Patch::Merge(finalizer("0")))
            .await,
    );
    assert_eq!(status.code, 409);
    let rv = seeded.resource_version().unwrap();
    let patched = runs
        .patch("r1", &PatchParams::default(), &Patch::Merge(finalizer(&rv)))
        .await
        .unwrap();
    assert_eq!(patched.finalizers(), ["ade.dev/x"]);
    let strategic = Patch::Strategic(json!({"metadata": {"labels": {"a": "b"}}}));
    let labelled = runs.patch("r1", &PatchParams::default(), &strategic).await.unwrap();
    assert_eq!(labelled.labels()["a"], "b");
    assert_eq!(
        labelled.meta().generation,
        Some(1),
        "metadata changes keep the generation"
    );
}

#[tokio::test]
async fn an_unchanged_write_keeps_the_resource_version_and_replace_status_keeps_the_spec() {
    let (api, client) = FakeApi::new();
    let seeded = api.insert(&run("r1"));
    let runs: Api<EtlRun> = Api::namespaced(client, "data");
    let body = json!({"apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun", "status": {"phase": "Pending"}});
    let params = PatchParams::apply("ade-etl-run").force();
    let first = runs.patch_status("r1", &params, &Patch::Apply(&body)).await.unwrap();
    let again = runs.patch_status("r1", &params, &Patch::Apply(&body)).await.unwrap();
    assert!(rv(&first) > rv(&seeded));
    assert_eq!(
        rv(&again),
        rv(&first),
        "the API server does not write an unchanged object"
    );
    assert_eq!(api.writes().len(), 2, "both calls are recorded all the same");

    let mut replaced = again.clone();
    replaced.spec.batch_id = "changed".into();
    replaced.status.as_mut().unwrap().attempt_count = 3;
    let stored = runs
        .replace_status("r1", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(stored.spec.batch_id, seeded.spec.batch_id);
    assert_eq!(stored.status.unwrap().attempt_count, 3);
    assert_eq!(api.calls().last().unwrap().to_string(), "PUT etlruns/r1/status");
}
