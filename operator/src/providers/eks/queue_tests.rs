//! The queue of EC2 notices, on the in-memory API server, EC2 and SQS: a
//! spot warning cordons the node, records itself, moves the run and opens
//! the breaker before EC2 reclaims anything; a redelivered message is not
//! told twice; a message about another pool's instance is left for it; a
//! missing queue is said in the pool's `Ready` message.
#![allow(clippy::unwrap_used)]

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;

use super::super::provider_tests::{World, r1_on_a_node, reconcile, world};
use crate::providers::{AttemptState, ComputeProvider, FailureKind, eks::notices::TAG_NOTICE, pool::MemoryLog};

const QUEUE: &str = "ade-interruptions";

fn with_queue(mut w: World) -> World {
    w.pool.spec.eks.as_mut().unwrap().interruption_queue = Some(QUEUE.into());
    w
}

fn event(detail_type: &str, instance: &str, at: Timestamp) -> String {
    serde_json::json!({
        "version": "0", "id": "e-1", "detail-type": detail_type, "source": "aws.ec2",
        "account": "123456789012", "time": at.to_string(), "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance}")],
        "detail": {"instance-id": instance, "instance-action": "terminate"}
    })
    .to_string()
}

#[tokio::test]
async fn a_spot_warning_moves_the_run_before_ec2_reclaims_the_node() {
    let w = with_queue(world(&["r1"]));
    w.queue.create(QUEUE);
    let log = MemoryLog::default();
    let (id, node, attempt) = r1_on_a_node(&w, &log).await;
    assert_eq!(w.eks.observe(&attempt).await.unwrap(), AttemptState::Provisioning);

    let warning = event("EC2 Spot Instance Interruption Warning", &id, Timestamp::now());
    w.queue.send(QUEUE, &warning);
    let told = reconcile(&w, &log, Timestamp::now()).await;
    let said = told
        .events
        .iter()
        .find(|e| e.reason == "SpotInterruptionWarning")
        .unwrap_or_else(|| panic!("{:?}", told.events));
    assert!(
        said.warning && said.note.contains(&id) && said.note.contains("r1"),
        "{}",
        said.note
    );
    // Recorded on the instance and the Node, the Node cordoned, the message gone.
    let tagged = w.ec2.instances()[0].tags.get(TAG_NOTICE).cloned().unwrap();
    assert!(tagged.starts_with("spot-interruption-warning "), "{tagged}");
    let marked: Node = w.api.get(None, &node).unwrap();
    assert_eq!(marked.annotations().get(TAG_NOTICE), Some(&tagged));
    assert_eq!(marked.spec.unwrap().unschedulable, Some(true));
    assert!(w.queue.bodies(QUEUE).is_empty());
    // The breaker counts the warning.
    let breaker = told.breaker.unwrap();
    assert!(
        breaker.message.starts_with("1 of 1 spot instances interrupted"),
        "{}",
        breaker.message
    );

    // The run moves now, while the instance still runs.
    let state = w.eks.observe(&attempt).await.unwrap();
    assert!(
        matches!(&state, AttemptState::Failed { kind: FailureKind::Interrupted, message, .. }
            if message.contains("spot-interruption-warning") && message.contains(&id)),
        "{state:?}"
    );

    // The same message again (SQS delivers at least once): not told twice.
    w.queue.send(QUEUE, &warning);
    let again = reconcile(&w, &log, Timestamp::now()).await;
    assert!(
        !again.events.iter().any(|e| e.reason == "SpotInterruptionWarning"),
        "{:?}",
        again.events
    );
    assert!(w.queue.bodies(QUEUE).is_empty());
}

#[tokio::test]
async fn a_rebalance_recommendation_cordons_but_lets_the_run_finish() {
    let w = with_queue(world(&["r1"]));
    w.queue.create(QUEUE);
    let log = MemoryLog::default();
    let (id, node, attempt) = r1_on_a_node(&w, &log).await;
    w.queue.send(
        QUEUE,
        &event("EC2 Instance Rebalance Recommendation", &id, Timestamp::now()),
    );
    let told = reconcile(&w, &log, Timestamp::now()).await;
    assert!(
        told.events
            .iter()
            .any(|e| e.reason == "RebalanceRecommended" && !e.warning),
        "{:?}",
        told.events
    );
    let marked: Node = w.api.get(None, &node).unwrap();
    assert_eq!(marked.spec.unwrap().unschedulable, Some(true));
    assert_eq!(w.eks.observe(&attempt).await.unwrap(), AttemptState::Provisioning);
    // Not an interruption.
    let breaker = told.breaker.unwrap();
    assert!(
        breaker.message.starts_with("0 of 1 spot instances interrupted"),
        "{}",
        breaker.message
    );
}

#[tokio::test]
async fn messages_about_other_instances_are_left_and_a_missing_queue_is_said() {
    let w = with_queue(world(&["r1"]));
    let log = MemoryLog::default();
    let missing = reconcile(&w, &log, Timestamp::now()).await;
    assert!(
        missing
            .readiness
            .message
            .contains("interruption queue ade-interruptions does not exist in us-east-1"),
        "{}",
        missing.readiness.message
    );

    w.queue.create(QUEUE);
    let theirs = event("EC2 Spot Instance Interruption Warning", "i-other", Timestamp::now());
    w.queue.send(QUEUE, &theirs);
    w.queue.send(QUEUE, "not an event");
    let read = reconcile(&w, &log, Timestamp::now()).await;
    assert!(
        !read.readiness.message.contains("interruption queue"),
        "{}",
        read.readiness.message
    );
    assert_eq!(w.queue.bodies(QUEUE), std::slice::from_ref(&theirs));
    // Seen again once its hiding ends; after ten minutes no pool claimed it.
    w.queue.expire_hiding();
    reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(w.queue.bodies(QUEUE), [theirs]);
    w.queue.expire_hiding();
    let later = Timestamp::now() + jiff::SignedDuration::from_mins(11);
    reconcile(&w, &log, later).await;
    assert!(w.queue.bodies(QUEUE).is_empty());
}
