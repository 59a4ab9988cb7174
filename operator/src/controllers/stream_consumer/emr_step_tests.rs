use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

use crate::providers::service::StepPhase;

/// A step: (id, phase, message).
fn step(id: &str, phase: StepPhase, message: Option<&str>) -> (String, StepPhase, Option<String>) {
    (id.into(), phase, message.map(Into::into))
}

fn found(attempt: i32, cluster: &str, live: bool, (id, phase, message): (String, StepPhase, Option<String>)) -> Found {
    Found {
        attempt,
        step: FoundStep {
            cluster_id: cluster.into(),
            cluster_live: live,
            cluster_message: (!live).then(|| "Spot instances were reclaimed".to_owned()),
            step_id: id,
            name: String::new(),
            phase,
            message,
        },
    }
}

/// The status of `attempt`, its step built from generation 1 in pool `spark`.
fn recorded(attempt: i32, state: &str, restarts: i32) -> EmrStepStatus {
    EmrStepStatus {
        attempt,
        generation: Some(1),
        pool: Some("spark".into()),
        state: state.into(),
        restarts,
        ..EmrStepStatus::default()
    }
}

#[test]
fn names_carry_the_attempt_and_uid_and_only_ours_parse() {
    let name = step_name("data", "app-events", 3, "uid-1");
    assert_eq!(name, "ade-stream:data/app-events#3 uid-1");
    assert_eq!(attempt_of(&name, "data", "app-events", "uid-1"), Some(3));
    assert_eq!(
        attempt_of(&name, "data", "app-events", "uid-2"),
        None,
        "another consumer of that name"
    );
    assert_eq!(attempt_of(&name, "data", "app-event", "uid-1"), None);
    assert_eq!(
        attempt_of("ade:data/app-events#3 uid-1", "data", "app-events", "uid-1"),
        None,
        "a run's step"
    );
    let long = step_name(
        &"n".repeat(63),
        &"c".repeat(253),
        12,
        "0123456789abcdef0123456789abcdef0123",
    );
    assert!(long.len() <= 256, "{}", long.len());
}

#[test]
fn the_step_runs_ade_stream_through_env_with_the_document_and_no_secret() {
    let args = step_args(
        r#"{"consumer":"x"}"#,
        "app-events-emr-1",
        "us-east-1",
        Some("http://127.0.0.1:5000"),
    );
    assert_eq!(
        args,
        [
            "env",
            r#"ADE_STREAM_CONFIG={"consumer":"x"}"#,
            "POD_NAME=app-events-emr-1",
            "AWS_REGION=us-east-1",
            "AWS_ENDPOINT_URL=http://127.0.0.1:5000",
            "AWS_ALLOW_HTTP=true",
            "/usr/local/bin/ade-stream"
        ]
    );
    assert_eq!(step_args("{}", "w", "eu-west-1", None).len(), 5);
}

#[test]
fn what_happens_next() {
    let now = at("2026-12-01T10:00:00Z");
    struct Case {
        what: &'static str,
        status: Option<EmrStepStatus>,
        changed: bool,
        found: Vec<Found>,
        // attempt, state, restarts, add, cancelled step ids
        want: (i32, &'static str, i32, bool, Vec<&'static str>),
    }
    let cases = [
        Case {
            what: "first pass: attempt 1 is recorded and added",
            status: None,
            changed: false,
            found: vec![],
            want: (1, WAITING, 0, true, vec![]),
        },
        Case {
            what: "a step of the recorded attempt exists (added before a crash): adopted, not added again",
            status: Some(recorded(1, WAITING, 0)),
            changed: false,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::Running, None))],
            want: (1, "Running", 0, false, vec![]),
        },
        Case {
            what: "the step failed: next attempt after a backoff",
            status: Some(recorded(1, "Running", 0)),
            changed: false,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::Failed, Some("exit 1")))],
            want: (2, RESTART_PENDING, 1, false, vec![]),
        },
        Case {
            what: "a consumer never completes: a completed step restarts too",
            status: Some(recorded(2, "Running", 1)),
            changed: false,
            found: vec![found(2, "j-1", true, step("s-2", StepPhase::Completed, None))],
            want: (3, RESTART_PENDING, 2, false, vec![]),
        },
        Case {
            what: "its cluster was lost while the step ran",
            status: Some(recorded(1, "Running", 0)),
            changed: false,
            found: vec![found(1, "j-1", false, step("s-1", StepPhase::Running, None))],
            want: (2, RESTART_PENDING, 1, false, vec![]),
        },
        Case {
            what: "the spec changed: the running step is cancelled; the next waits for its slot",
            status: Some(recorded(1, "Running", 0)),
            changed: true,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::Running, None))],
            want: (2, WAITING, 0, false, vec![]),
        },
        Case {
            what: "the next pass: the old step let go (cancelled by us, no restart counted); the next is added",
            status: Some(recorded(2, WAITING, 0)),
            changed: true,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::Cancelled, None))],
            want: (2, WAITING, 0, true, vec![]),
        },
        Case {
            what: "a step being cancelled still holds its slot",
            status: Some(recorded(1, "Running", 0)),
            changed: false,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::CancelPending, None))],
            want: (1, "CancelPending", 0, false, vec![]),
        },
        Case {
            what: "an older attempt still active is cancelled; the current one runs",
            status: Some(recorded(3, "Running", 1)),
            changed: false,
            found: vec![
                found(2, "j-1", true, step("s-2", StepPhase::Running, None)),
                found(3, "j-2", true, step("s-3", StepPhase::Pending, None)),
            ],
            want: (3, "Pending", 1, false, vec!["s-2"]),
        },
        Case {
            what: "an older attempt ended: nothing to cancel; the current is missing: added",
            status: Some(recorded(2, WAITING, 1)),
            changed: false,
            found: vec![found(1, "j-1", true, step("s-1", StepPhase::Failed, None))],
            want: (2, WAITING, 1, true, vec![]),
        },
    ];
    for c in cases {
        let generation = Some(if c.changed { 2 } else { 1 });
        let d = decide(c.status.as_ref(), generation, "spark", &c.found, now);
        let mut cancelled: Vec<&str> = d.cancel.iter().map(|(_, s)| s.as_str()).collect();
        if c.changed && !d.add && c.status.as_ref().is_some_and(|s| s.attempt == 1) {
            assert_eq!(cancelled, ["s-1"], "{}", c.what);
            cancelled.clear();
        }
        if d.add {
            assert_eq!(
                (d.status.generation, d.status.pool.as_deref()),
                (generation, Some("spark")),
                "the added step is recorded with its spec and pool: {}",
                c.what
            );
        }
        assert_eq!(
            (
                d.status.attempt,
                d.status.state.as_str(),
                d.status.restarts,
                d.add,
                cancelled
            ),
            c.want,
            "{}",
            c.what
        );
    }
}

#[test]
fn a_restart_waits_out_its_backoff_then_adds_the_next_attempt() {
    let now = at("2026-12-01T10:00:00Z");
    let failed = decide(
        Some(&recorded(1, "Running", 0)),
        Some(1),
        "spark",
        &[found(1, "j-1", true, step("s-1", StepPhase::Failed, Some("exit 1")))],
        now,
    );
    assert_eq!(
        failed.status.last_failure.as_deref(),
        Some("step s-1 on cluster j-1 ended Failed: exit 1")
    );
    assert_eq!(failed.status.next_restart_at, Some(Time(at("2026-12-01T10:00:10Z"))));
    assert_eq!(failed.requeue, Duration::from_secs(10));
    let early = decide(Some(&failed.status), Some(1), "spark", &[], at("2026-12-01T10:00:04Z"));
    assert!(!early.add, "within the backoff");
    assert_eq!(early.requeue, Duration::from_secs(6));
    let due = decide(Some(&failed.status), Some(1), "spark", &[], at("2026-12-01T10:00:10Z"));
    assert!(due.add);
    assert_eq!((due.status.attempt, due.status.state.as_str()), (2, WAITING));
    assert_eq!(due.status.restarts, 1, "the count stays for people to read");
    let lost = decide(
        Some(&recorded(4, "Running", 3)),
        Some(1),
        "spark",
        &[found(4, "j-9", false, step("s-4", StepPhase::Running, None))],
        now,
    );
    assert_eq!(
        lost.status.last_failure.as_deref(),
        Some("cluster j-9 of step s-4 ended: Spot instances were reclaimed")
    );
    assert_eq!(lost.requeue, Duration::from_secs(80));
}

#[test]
fn backoff_doubles_up_to_five_minutes() {
    let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
}

#[test]
fn a_pool_counts_its_emr_consumers_without_a_running_step_as_demand() {
    let consumer = |name: &str, runtime: &str, pool: &str, state: Option<(&str, i32)>, created: &str| {
        let mut c: StreamConsumer = serde_json::from_value(serde_json::json!({
            "apiVersion": "ade.dev/v1alpha1",
            "kind": "StreamConsumer",
            "metadata": {"name": name, "namespace": "data", "uid": format!("uid-{name}"), "creationTimestamp": created},
            "spec": {
                "source": {"kinesis": {"streamName": "s", "region": "us-east-1"}},
                "runtime": runtime,
                "poolRef": {"name": pool},
                "sink": {"s3": {"uri": "s3://lake/x/"}},
                "checkpoint": {"store": "dynamodb", "dynamodb": {"tableName": "t-leases"}}
            }
        }))
        .expect("a consumer");
        let accepted = crate::api::v1alpha1::Condition {
            type_: "Accepted".into(),
            status: if name == "invalid" { "False" } else { "True" }.into(),
            reason: "Valid".into(),
            message: String::new(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        };
        c.status = Some(crate::api::v1alpha1::StreamConsumerStatus {
            conditions: vec![accepted],
            emr: state.map(|(state, attempt)| recorded(attempt, state, 0)),
            ..Default::default()
        });
        c
    };
    let all = [
        consumer("new", "emr", "spark", None, "2026-12-01T10:00:02Z"),
        consumer("waiting", "emr", "spark", Some((WAITING, 2)), "2026-12-01T10:00:01Z"),
        consumer(
            "restarting",
            "emr",
            "spark",
            Some((RESTART_PENDING, 3)),
            "2026-12-01T10:00:03Z",
        ),
        consumer("running", "emr", "spark", Some(("Running", 1)), "2026-12-01T10:00:00Z"),
        consumer("pending", "emr", "spark", Some(("Pending", 1)), "2026-12-01T10:00:00Z"),
        consumer("other-pool", "emr", "etl", None, "2026-12-01T10:00:00Z"),
        consumer("pods", "kubernetes", "spark", None, "2026-12-01T10:00:00Z"),
        consumer("invalid", "emr", "spark", None, "2026-12-01T09:00:00Z"),
    ];
    assert_eq!(
        pool_demand("data", "spark", all.iter()),
        [
            "ade-stream:data/waiting#2 uid-waiting",
            "ade-stream:data/new#1 uid-new",
            "ade-stream:data/restarting#3 uid-restarting"
        ],
        "oldest first; running and pending steps hold their cluster by running; a refused spec asks for nothing"
    );
    assert!(
        pool_demand("other", "spark", all.iter()).is_empty(),
        "another namespace"
    );
}
