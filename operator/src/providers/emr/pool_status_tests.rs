//! Unit tests (pure): demand, breaker round trip, status entries, Ready.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::*;
use crate::{
    api::v1alpha1::{AttemptOutcome, ClusterPoolStatus, EtlRunStatus, RunPhase},
    providers::emr::{
        Market,
        api::ClusterInfo,
        breaker::Decision,
        capacity::ClusterReport,
        observe::cluster_state,
        planner::{TerminateReason, Termination},
    },
};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("ts")
}

fn run(name: &str, created: i64, pool: &str, attempts: Vec<(Option<&str>, Option<AttemptOutcome>)>) -> EtlRun {
    let mut r: EtlRun = serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": "analytics", "creationTimestamp": at(created).to_string()},
        "spec": {"jobRef": {"name": "orders"}, "batchId": "b"}
    }))
    .expect("run");
    r.status = Some(EtlRunStatus {
        pool: Some(pool.into()),
        phase: Some(RunPhase::Running),
        attempts: attempts
            .into_iter()
            .enumerate()
            .map(|(i, (cluster, outcome))| Attempt {
                attempt: i32::try_from(i).expect("small") + 1,
                cluster_id: cluster.map(str::to_owned),
                step_id: cluster.map(|_| "s-1".to_owned()),
                job_name: None,
                market: None,
                started_at: None,
                finished_at: None,
                outcome,
                message: None,
                estimated_cost_usd: None,
            })
            .collect(),
        ..EtlRunStatus::default()
    });
    r
}

#[test]
fn demand_is_active_attempts_of_this_pool_oldest_first() {
    let mut done = run("done", 0, "spark", vec![(Some("j-1"), Some(AttemptOutcome::Succeeded))]);
    done.status.as_mut().expect("status").phase = Some(RunPhase::Succeeded);
    let runs = [
        run("late", 50, "spark", vec![(None, None)]),
        run(
            "early",
            10,
            "spark",
            vec![(Some("j-0"), Some(AttemptOutcome::Interrupted)), (None, None)],
        ),
        run("placed", 20, "spark", vec![(Some("j-1"), None)]),
        run("elsewhere", 5, "other", vec![(None, None)]),
        run("backoff", 1, "spark", vec![(Some("j-1"), Some(AttemptOutcome::Failed))]),
        done,
    ];
    let got = demand("spark", &runs);
    assert_eq!(got.queued, vec!["ade:analytics/early#2", "ade:analytics/late#1"]);
    assert_eq!(got, demand("spark", runs.iter()), "any iterator of runs");
    assert_eq!(
        got.placed,
        vec![Placement {
            run: "ade:analytics/placed#1".into(),
            cluster: "j-1".into()
        }]
    );
}

fn report(states: &[(&str, &str)], market: Market) -> PoolReport {
    PoolReport {
        clusters: states
            .iter()
            .map(|(id, state)| ClusterReport {
                info: ClusterInfo {
                    id: (*id).into(),
                    name: "n".into(),
                    state_name: (*state).into(),
                    state: cluster_state(state, None, None),
                    state_message: None,
                    created_at: at(0),
                    ready_at: None,
                    ended_at: None,
                    tags: BTreeMap::new(),
                },
                market,
                running: if *state == "RUNNING" {
                    vec!["ade:analytics/r#1".into()]
                } else {
                    vec![]
                },
                idle_since: (*state == "WAITING").then(|| at(60)),
                cost_usd: Some(1.5),
                terminated: None,
            })
            .collect(),
        breaker: Decision {
            state: BreakerState::Open { since: at(100) },
            market: Market::OnDemand,
            reason: "3 of 3 spot instances interrupted".into(),
            until: Some(at(7300)),
        },
        created: vec![],
        waiting: vec![],
        cost_error: None,
        requests: Vec::new(),
    }
}

#[test]
fn breaker_survives_the_round_trip_through_status() {
    let r = report(&[], Market::OnDemand);
    let status = breaker_status(&r);
    assert_eq!((status.state.as_str(), status.market.as_str()), ("Open", "on-demand"));
    let mut pool = crate::providers::emr::request::tests::pool();
    pool.status = Some(ClusterPoolStatus {
        breaker: Some(status),
        ..ClusterPoolStatus::default()
    });
    assert_eq!(breaker_state(&pool), BreakerState::Open { since: at(100) });
    pool.status = None;
    assert_eq!(breaker_state(&pool), BreakerState::default());
}

#[test]
fn entries_counts_and_ready() {
    let mut r = report(
        &[("j-1", "RUNNING"), ("j-2", "WAITING"), ("j-3", "TERMINATED")],
        Market::Spot,
    );
    r.clusters[1].terminated = Some(Termination {
        cluster: "j-2".into(),
        reason: TerminateReason::IdleTimeout,
        message: "idle for 10m".into(),
    });
    let entries = cluster_entries(&r);
    assert_eq!(entries.len(), 2, "live and just-terminated clusters: {entries:?}");
    assert_eq!(entries[0].running_runs, 1);
    assert_eq!(entries[0].estimated_cost_usd, Some(Usd("1.5000".into())));
    assert_eq!(entries[1].state, "TERMINATING");
    assert_eq!(
        entries[1].termination_reason.as_deref(),
        Some("IdleTimeout: idle for 10m")
    );
    assert_eq!(counts(&r), (1, 0));
    let events = events(&r, BreakerState::default());
    assert_eq!(
        events.iter().map(|e| (e.reason, e.warning)).collect::<Vec<_>>(),
        [("ClusterTerminated", false), ("BreakerOpened", true)]
    );
    assert_eq!(events[0].counter, Some(ClusterCounter::Terminated("IdleTimeout")));

    let got = ready(&r, 3);
    assert_eq!((got.ready, got.reason), (true, "ClustersReady"));
    assert!(
        got.message
            .starts_with("1 of 3 clusters ready (j-1); new clusters buy on-demand"),
        "{}",
        got.message
    );
    let got = ready(&report(&[("j-9", "STARTING")], Market::Spot), 3);
    assert_eq!(got.reason, "ClusterStarting");
    assert!(got.message.contains("j-9 STARTING"), "{}", got.message);
    let got = ready(&report(&[], Market::Spot), 3);
    assert_eq!(got.reason, "ScalesOnDemand");
}
