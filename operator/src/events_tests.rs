use k8s_openapi::api::{core::v1::ConfigMap, events::v1::Event as K8sEvent};
use kube::{Resource, ResourceExt};

use super::*;
use crate::testing::FakeApi;

fn recorder() -> (FakeApi, Recorder, ObjectReference) {
    let (api, client) = FakeApi::new();
    let mut map = ConfigMap::default();
    map.metadata.name = Some("target".into());
    map.metadata.namespace = Some("data".into());
    let target = api.insert(&map);
    let reporter = Reporter {
        controller: "ade-operator".into(),
        instance: Some("test".into()),
    };
    (api, Recorder::new(client, reporter), target.object_ref(&()))
}

fn event(reason: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some("bad cron".into()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).expect("a timestamp")
}

#[tokio::test]
async fn a_repeat_within_the_ttl_extends_the_first_events_series() {
    let (api, recorder, target) = recorder();
    recorder.publish_at(&event("Invalid"), &target, at(0)).await.unwrap();
    recorder.publish_at(&event("Invalid"), &target, at(10)).await.unwrap();
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events.len(), 1, "{events:?}");
    let stored = &events[0];
    assert_eq!(stored.reason.as_deref(), Some("Invalid"));
    assert_eq!(stored.note.as_deref(), Some("bad cron"));
    assert_eq!(stored.reporting_instance.as_deref(), Some("test"));
    let series = stored.series.as_ref().expect("a series");
    assert_eq!(series.count, 2);
    assert_eq!(series.last_observed_time.0, at(10));
    assert_eq!(
        api.writes_with_events(),
        ["POST events".to_owned(), format!("PATCH events/{}", stored.name_any())]
    );
    // Another reason is another Event.
    recorder.publish_at(&event("Other"), &target, at(11)).await.unwrap();
    assert_eq!(api.list::<K8sEvent>(Some("data")).len(), 2);
}

#[tokio::test]
async fn a_repeat_after_the_ttl_is_a_new_event_and_the_old_one_is_forgotten() {
    let (api, recorder, target) = recorder();
    recorder.publish_at(&event("Invalid"), &target, at(0)).await.unwrap();
    let later = at(i64::try_from(TTL.as_secs()).unwrap() + 1);
    recorder.publish_at(&event("Invalid"), &target, later).await.unwrap();
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.series.is_none()));
    assert_eq!(recorder.remembered(), 1, "only the second is remembered");
}

#[tokio::test]
async fn at_most_capacity_events_are_remembered() {
    let (api, recorder, mut target) = recorder();
    for i in 0..CAPACITY + 10 {
        target.uid = Some(format!("uid-{i}"));
        recorder.publish_at(&event("Invalid"), &target, at(0)).await.unwrap();
    }
    assert_eq!(recorder.remembered(), CAPACITY, "the oldest were forgotten");
    // The newest is still remembered: its repeat joins its series.
    recorder.publish_at(&event("Invalid"), &target, at(1)).await.unwrap();
    let last = api.writes_with_events().pop().expect("a write");
    assert!(last.starts_with("PATCH events/"), "{last}");
}
