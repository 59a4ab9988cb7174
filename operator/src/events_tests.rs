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
    // The oldest is not: its repeat is a new Event.
    target.uid = Some("uid-0".into());
    recorder.publish_at(&event("Invalid"), &target, at(2)).await.unwrap();
    let last = api.writes_with_events().pop().expect("a write");
    assert_eq!(last, "POST events");
}

#[tokio::test]
async fn a_series_lasts_while_its_repeats_come_within_the_ttl_of_the_last() {
    let (api, recorder, target) = recorder();
    // 500 s after the first, 200 s after the second: one series of three.
    for secs in [0, 300, 500] {
        recorder.publish_at(&event("Invalid"), &target, at(secs)).await.unwrap();
    }
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].series.as_ref().map(|s| s.count), Some(3));
}

#[tokio::test]
async fn an_event_deleted_under_its_series_starts_a_new_one() {
    let (api, recorder, target) = recorder();
    recorder.publish_at(&event("Invalid"), &target, at(0)).await.unwrap();
    let first = api.list::<K8sEvent>(Some("data")).remove(0).name_any();
    assert!(api.remove::<K8sEvent>(Some("data"), &first));
    recorder.publish_at(&event("Invalid"), &target, at(1)).await.unwrap();
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_ne!(events[0].name_any(), first);
    // The new one is remembered: the next repeat joins it.
    recorder.publish_at(&event("Invalid"), &target, at(2)).await.unwrap();
    let events = api.list::<K8sEvent>(Some("data"));
    assert_eq!(events[0].series.as_ref().map(|s| s.count), Some(2));
}

#[test]
fn an_events_name_fits_253_characters() {
    let long = format!("{}-{}", "a".repeat(219), "b".repeat(40));
    assert_eq!(prefix(&long), "a".repeat(219), "cut at 220, the trailing dash dropped");
    assert_eq!(prefix("orders-1"), "orders-1");
    let name = format!("{}.{:x}{:08x}", prefix(&long), at(0).as_nanosecond(), u32::MAX);
    assert!(name.len() <= 253, "{}", name.len());
}
