//! Reading leases into status. Unit tests of pure functions.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::coordination::v1::LeaseSpec,
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};

use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

const NOW: &str = "2026-11-25T13:00:00Z";

/// A lease of `kind` held by `holder`, renewed `age` seconds before NOW.
fn lease(kind: &str, holder: Option<&str>, age: i64, annotations: &[(&str, &str)]) -> Lease {
    Lease {
        metadata: ObjectMeta {
            labels: Some(BTreeMap::from([
                (LABEL_KIND.to_owned(), kind.to_owned()),
                (ade_api::labels::STREAM_CONSUMER.to_owned(), "c".to_owned()),
            ])),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            renew_time: Some(MicroTime(
                at(NOW).checked_sub(SignedDuration::from_secs(age)).expect("time"),
            )),
            lease_duration_seconds: Some(30),
            ..LeaseSpec::default()
        }),
    }
}

fn shard(id: &str, holder: Option<&str>, age: i64, checkpoint: Option<&str>, lag: &str, rate: &str) -> Lease {
    let mut a = vec![(SHARD_ID, id), (MILLIS_BEHIND, lag), (RECORDS_PER_SECOND, rate)];
    if let Some(c) = checkpoint {
        a.push((CHECKPOINT, c));
    }
    lease("shard", holder, age, &a)
}

#[test]
fn liveness_follows_renew_time_and_duration() {
    let now = at(NOW);
    assert!(is_live(&lease("worker", Some("p"), 29, &[]), now));
    assert!(!is_live(&lease("worker", Some("p"), 30, &[]), now));
    let mut never = lease("worker", Some("p"), 0, &[]);
    never.spec.as_mut().expect("spec").renew_time = None;
    assert!(!is_live(&never, now));
    let mut long = lease("worker", Some("p"), 100, &[]);
    long.spec.as_mut().expect("spec").lease_duration_seconds = Some(120);
    assert!(is_live(&long, now));
}

#[test]
fn shards_workers_lag_and_throughput() {
    let leases = [
        // a finished parent: its old lag and rate do not count
        shard("shardId-0", None, 300, Some(SHARD_END), "999999", "500"),
        // children of the split, one live, one whose owner died
        lease(
            "shard",
            Some("pod-a"),
            3,
            &[
                (SHARD_ID, "shardId-2"),
                (PARENT_SHARDS, "shardId-0"),
                (CHECKPOINT, "4960"),
                (MILLIS_BEHIND, "1200"),
                (RECORDS_PER_SECOND, "10.5"),
                (LAST_FLUSH, "2026-11-25T12:59:40Z"),
            ],
        ),
        lease(
            "shard",
            Some("pod-dead"),
            45,
            &[
                (SHARD_ID, "shardId-1"),
                (PARENT_SHARDS, "shardId-0, "),
                (MILLIS_BEHIND, "45000"),
                (RECORDS_PER_SECOND, "7"),
                (LAST_FLUSH, "2026-11-25T12:58:00Z"),
            ],
        ),
        shard("shardId-3", Some("pod-b"), 1, Some("12"), "300", "2"),
        lease("worker", Some("pod-b"), 2, &[(OPEN_SHARDS, "3")]),
        lease("worker", Some("pod-a"), 2, &[(OPEN_SHARDS, "2")]),
        lease("worker", Some("pod-dead"), 60, &[(OPEN_SHARDS, "9")]),
        // a shard lease without its id is not the contract: ignored
        lease("shard", Some("pod-a"), 1, &[]),
        lease("other", Some("pod-a"), 1, &[]),
    ];
    let got = observe(&leases, at(NOW));
    let summary: Vec<_> = got
        .shards
        .iter()
        .map(|s| {
            (
                s.shard_id.as_str(),
                s.owner.as_deref(),
                s.checkpoint.as_deref(),
                s.millis_behind_latest,
                s.parents.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("shardId-0", None, Some(SHARD_END), Some(999_999), vec![]),
            ("shardId-1", None, None, Some(45_000), vec!["shardId-0".to_owned()]),
            (
                "shardId-2",
                Some("pod-a"),
                Some("4960"),
                Some(1200),
                vec!["shardId-0".to_owned()]
            ),
            ("shardId-3", Some("pod-b"), Some("12"), Some(300), vec![]),
        ]
    );
    assert_eq!(got.open_shards, Some(3), "the most a live worker reports");
    assert_eq!(got.max_lag_ms, Some(45_000), "unfinished shards only, owned or not");
    assert_eq!(got.records_per_second, Some(12.5), "live unfinished shards");
    assert_eq!(got.last_flush, Some(at("2026-11-25T12:59:40Z")));
    assert_eq!(
        got.workers.iter().map(|w| w.pod.as_str()).collect::<Vec<_>>(),
        ["pod-a", "pod-b"],
        "live workers only"
    );
}

#[test]
fn open_shards_fall_back_to_unfinished_shard_leases() {
    let leases = [
        shard("s-0", None, 300, Some(SHARD_END), "0", "0"),
        shard("s-1", Some("p"), 1, None, "10", "1"),
        shard("s-2", Some("p"), 1, Some("5"), "10", "1"),
        lease("worker", Some("p"), 1, &[]),
    ];
    assert_eq!(observe(&leases, at(NOW)).open_shards, Some(2));
    assert_eq!(observe(&[], at(NOW)), Observed::default());
}

#[test]
fn worker_errors() {
    let leases = [lease(
        "worker",
        Some("p"),
        1,
        &[
            (ERROR_REASON, "StreamNotFound"),
            (ERROR_MESSAGE, "no stream app-events"),
        ],
    )];
    let got = observe(&leases, at(NOW));
    assert_eq!(
        got.workers[0].error,
        Some(("StreamNotFound".to_owned(), "no stream app-events".to_owned()))
    );
}

#[test]
fn lags_read_well() {
    for (ms, want) in [
        (0, "0ms"),
        (850, "850ms"),
        (1000, "1s"),
        (1230, "1.2s"),
        (9_960, "10s"),
        (45_000, "45s"),
        (59_600, "1m"),
        (125_000, "2m5s"),
        (3_600_000, "1h"),
        (3_780_000, "1h3m"),
        (-5, "0ms"),
    ] {
        assert_eq!(human_lag(ms), want, "{ms}");
    }
}
