//! Scenario tests of the StreamConsumer reconcile over an in-memory API
//! server (crate::testing): the children are applied before the status says
//! so, and a spec the pods' document cannot be built from is Accepted=False
//! with nothing created.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use crate::{
    api::v1alpha1::StreamConsumer,
    testing::scenario::{FakeEmr, Scenario},
};

const NS: &str = "analytics";

fn consumer(max_records: i64) -> StreamConsumer {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "StreamConsumer",
        "metadata": {"name": "clicks", "namespace": NS},
        "spec": {
            "source": {"kinesis": {"streamName": "clicks", "region": "us-east-1"}},
            "sink": {"s3": {"uri": "s3://lake/raw/clicks/", "flush": {"maxRecords": max_records}}},
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn a_consumer_gets_its_children_then_its_status() {
    let s = Scenario::new(&[], &[], &[], Arc::new(FakeEmr::default()));
    let stored = s.api.insert(&consumer(1000));
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    let writes = s.api.writes();
    assert_eq!(
        writes.last().map(String::as_str),
        Some("PATCH streamconsumers/clicks/status"),
        "{writes:?}"
    );
    for child in ["serviceaccounts/", "roles/", "rolebindings/", "deployments/"] {
        assert!(writes.iter().any(|w| w.contains(child)), "{child} in {writes:?}");
    }
    let deployment: k8s_openapi::api::apps::v1::Deployment = s.api.list(Some(NS)).remove(0);
    let env = deployment.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap_or_default();
    let document = env
        .iter()
        .find(|e| e.name == ade_api::stream::ENV)
        .and_then(|e| e.value.clone())
        .expect("the pods' configuration document");
    let parsed: ade_api::stream::Config = serde_json::from_str(&document).unwrap();
    assert_eq!(parsed.sink.flush.max_records, 1000, "{document}");
}

#[tokio::test]
async fn a_spec_the_pods_cannot_use_is_not_accepted_and_creates_nothing() {
    let s = Scenario::new(&[], &[], &[], Arc::new(FakeEmr::default()));
    let stored = s.api.insert(&consumer(0));
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    assert_eq!(s.api.writes(), ["PATCH streamconsumers/clicks/status"]);
    let status = s.api.get::<StreamConsumer>(Some(NS), "clicks").unwrap().status.unwrap();
    let accepted = status.conditions.iter().find(|c| c.type_ == "Accepted").unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.reason.as_str()),
        ("False", "InvalidCount")
    );
    assert!(accepted.message.contains("maxRecords 0"), "{}", accepted.message);
}

/// Issue 12, item 10: with `checkpoint.store: dynamodb` the status comes from
/// the lease table (before, the operator read only Kubernetes Leases and the
/// consumer stayed `NoLiveWorkers` for ever).
#[tokio::test]
async fn a_dynamodb_consumer_reports_its_shards_and_workers_from_the_lease_table() {
    use ade_api::lease::table;
    let s = Scenario::new(&[], &[], &[], Arc::new(FakeEmr::default()));
    let mut spec = consumer(1000);
    spec.spec.checkpoint =
        serde_json::from_value(json!({"store": "dynamodb", "dynamodb": {"tableName": "clicks-leases"}})).unwrap();
    let now = jiff::Timestamp::now().to_string();
    let item = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<crate::lease_table::Item>()
    };
    s.lease_tables.put(
        "clicks-leases",
        vec![
            item(&[
                (table::KEY, "shardId-000000000000"),
                (table::KIND, "shard"),
                (table::HOLDER, "clicks-stream-0"),
                (table::RENEW_TIME, &now),
                (table::DURATION_SECONDS, "20"),
                (table::CHECKPOINT, "4959"),
                (table::MILLIS_BEHIND, "65000"),
            ]),
            item(&[
                (table::KEY, "worker#clicks-stream-0"),
                (table::KIND, "worker"),
                (table::HOLDER, "clicks-stream-0"),
                (table::RENEW_TIME, &now),
                (table::DURATION_SECONDS, "20"),
                (table::OPEN_SHARDS, "1"),
            ]),
        ],
    );
    let stored = s.api.insert(&spec);
    reconcile(Arc::new(stored), s.ctx.clone()).await.unwrap();
    let status = s.api.get::<StreamConsumer>(Some(NS), "clicks").unwrap().status.unwrap();
    assert_eq!(status.shards.len(), 1, "{status:?}");
    assert_eq!(status.shards[0].owner.as_deref(), Some("clicks-stream-0"));
    assert_eq!(status.lag.as_deref(), Some("1m5s"));
    assert_eq!(status.open_shards, 1);
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_ne!(ready.reason, "NoLiveWorkers", "{ready:?}");
}
