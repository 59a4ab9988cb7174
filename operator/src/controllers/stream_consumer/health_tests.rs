//! Ready and Degraded. Unit tests of a pure function.

use k8s_openapi::{
    api::apps::v1::{DeploymentCondition, DeploymentStatus},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::*;

fn facts() -> Facts<'static> {
    Facts {
        namespace: "data",
        consumer: "app-events",
        children: "app-events-stream",
        stream: "app-events",
        region: "us-east-1",
        sink: "s3://lake/raw/",
        desired: 2,
    }
}

fn deployment(generation: i64, observed: i64, available: i32, updated: i32) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            generation: Some(generation),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(DeploymentStatus {
            observed_generation: Some(observed),
            available_replicas: Some(available),
            updated_replicas: Some(updated),
            ..DeploymentStatus::default()
        }),
    }
}

fn worker(pod: &str, error: Option<(&str, &str)>) -> Worker {
    Worker {
        pod: pod.into(),
        open_shards: Some(4),
        error: error.map(|(r, m)| (r.to_owned(), m.to_owned())),
    }
}

#[test]
fn table() {
    let up = deployment(3, 3, 2, 2);
    let ok = [worker("a", None), worker("b", None)];
    let not_found = [
        worker("a", Some(("StreamNotFound", "ResourceNotFoundException: app-events"))),
        worker("b", Some(("StreamNotFound", "ResourceNotFoundException: app-events"))),
    ];
    let mixed = [worker("a", None), worker("b", Some(("SinkUnwritable", "AccessDenied")))];
    type Case<'a> = (
        &'a str,
        Option<&'a Deployment>,
        &'a [Worker],
        (Status, &'a str),
        (Status, &'a str),
    );
    let cases: [Case<'_>; 8] = [
        (
            "no Deployment yet",
            None,
            &[],
            (Status::False, "Creating"),
            (Status::False, "Healthy"),
        ),
        (
            "pods not available",
            Some(&deployment(3, 3, 1, 2)),
            &ok,
            (Status::False, "ReplicasUnavailable"),
            (Status::False, "Healthy"),
        ),
        (
            "a scale the Deployment has not seen yet",
            Some(&deployment(4, 3, 2, 2)),
            &ok,
            (Status::False, "ReplicasUnavailable"),
            (Status::False, "Healthy"),
        ),
        (
            "pods up, no worker lease",
            Some(&up),
            &[],
            (Status::False, "NoLiveWorkers"),
            (Status::False, "Healthy"),
        ),
        (
            "consuming",
            Some(&up),
            &ok,
            (Status::True, "Consuming"),
            (Status::False, "Healthy"),
        ),
        (
            "every replica fails the same way",
            Some(&up),
            &not_found,
            (Status::False, "StreamNotFound"),
            (Status::True, "StreamNotFound"),
        ),
        (
            "one replica fails, one works",
            Some(&up),
            &mixed,
            (Status::True, "Consuming"),
            (Status::True, "SinkUnwritable"),
        ),
        (
            "an unknown error reason",
            Some(&up),
            &[worker("a", Some(("Gremlins", "oops")))],
            (Status::False, "ConsumerError"),
            (Status::True, "ConsumerError"),
        ),
    ];
    for (name, d, workers, ready, degraded) in cases {
        let (r, g) = conditions(&facts(), d, workers);
        assert_eq!((r.status, r.reason), ready, "{name}: {r:?}");
        assert_eq!((g.status, g.reason), degraded, "{name}: {g:?}");
        assert_eq!((r.type_, g.type_), ("Ready", "Degraded"));
    }
}

#[test]
fn messages_say_what_to_do() {
    let up = deployment(3, 3, 2, 2);
    let workers = [
        worker("a", Some(("CredentialsRefused", "ExpiredToken"))),
        worker("b", Some(("StreamNotFound", "gone"))),
        worker("c", Some(("StreamNotFound", "gone"))),
    ];
    let (_, degraded) = conditions(&facts(), Some(&up), &workers);
    assert_eq!(degraded.reason, "StreamNotFound", "the reason most replicas report");
    assert_eq!(
        degraded.message,
        "Kinesis stream app-events was not found in us-east-1: create it, or correct spec.source.kinesis.streamName and region (2 of 3 live replicas report StreamNotFound; b: gone)"
    );
    let (_, degraded) = conditions(&facts(), Some(&up), &workers[..1]);
    assert!(
        degraded.message.contains("ServiceAccount data/app-events-stream"),
        "{}",
        degraded.message
    );
    assert!(degraded.message.contains("a: ExpiredToken"), "{}", degraded.message);

    let (ready, _) = conditions(&facts(), Some(&deployment(3, 3, 0, 2)), &[]);
    assert!(
        ready.message.starts_with("0 of 2 ade-stream replicas are available"),
        "{}",
        ready.message
    );
    assert!(
        ready
            .message
            .contains("kubectl describe pods -n data -l ade.dev/stream-consumer=app-events"),
        "{}",
        ready.message
    );
}

#[test]
fn a_replica_failure_degrades() {
    let mut d = deployment(3, 3, 0, 0);
    d.status.as_mut().expect("status").conditions = Some(vec![DeploymentCondition {
        type_: "ReplicaFailure".into(),
        status: "True".into(),
        message: Some("exceeded quota: compute".into()),
        ..DeploymentCondition::default()
    }]);
    let (_, degraded) = conditions(&facts(), Some(&d), &[]);
    assert_eq!((degraded.status, degraded.reason), (Status::True, "ReplicaFailure"));
    assert!(
        degraded.message.ends_with("exceeded quota: compute"),
        "{}",
        degraded.message
    );
}
