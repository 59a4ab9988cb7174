//! Unit tests (pure): reading cluster and step states.

use std::collections::BTreeMap;

use super::*;
use crate::providers::emr::request::tests::pool;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("ts")
}

fn cluster(state: &str, message: Option<&str>, market: &str) -> ClusterInfo {
    ClusterInfo {
        id: "j-1".into(),
        name: "ade-analytics-spark-00000001".into(),
        state_name: state.into(),
        state: cluster_state(state, None, message),
        state_message: message.map(str::to_owned),
        created_at: at(0),
        ready_at: Some(at(300)),
        ended_at: None,
        tags: BTreeMap::from([(TAG_MARKET.to_owned(), market.to_owned())]),
    }
}

fn step(state: StepState, started: Option<i64>, ended: Option<i64>) -> StepInfo {
    StepInfo {
        id: "s-1".into(),
        name: "ade:analytics/r#1".into(),
        state,
        message: Some("exit code 1".into()),
        started_at: started.map(at),
        ended_at: ended.map(at),
    }
}

#[test]
fn cluster_states_and_termination_reasons() {
    use TerminationReason::*;
    let table = [
        ("STARTING", None, None, ClusterState::Starting),
        ("WAITING", None, None, ClusterState::Waiting),
        ("TERMINATING", None, None, ClusterState::Terminating),
        (
            "TERMINATED",
            Some("USER_REQUEST"),
            None,
            ClusterState::Terminated(UserRequest),
        ),
        (
            "TERMINATED",
            Some("ALL_STEPS_COMPLETED"),
            None,
            ClusterState::Terminated(Completed),
        ),
        (
            "TERMINATED",
            Some("IDLE_TIMEOUT"),
            None,
            ClusterState::Terminated(IdleTimeout),
        ),
        (
            "TERMINATED_WITH_ERRORS",
            Some("INSTANCE_FAILURE"),
            None,
            ClusterState::Terminated(Error),
        ),
        (
            "TERMINATED_WITH_ERRORS",
            Some("INSTANCE_FAILURE"),
            Some("The master node was lost: Spot instance interruption"),
            ClusterState::Terminated(SpotInterruption),
        ),
        (
            "TERMINATED",
            Some("BOOTSTRAP_FAILURE"),
            None,
            ClusterState::Terminated(Error),
        ),
    ];
    for (state, code, message, want) in table {
        assert_eq!(
            cluster_state(state, code, message),
            want,
            "{state} {code:?} {message:?}"
        );
    }
}

#[test]
fn step_states_drive_the_attempt() {
    let waiting = cluster("WAITING", None, "spot");
    let lost = cluster("TERMINATED_WITH_ERRORS", Some("Spot interruption"), "spot");
    let terminating = cluster("TERMINATING", None, "spot");
    let kind = |s: AttemptState| match s {
        AttemptState::Failed { kind, .. } => format!("{kind:?}"),
        other => format!("{other:?}")
            .split([' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let table = [
        (None, Some(&waiting), "Missing"),
        (
            Some(step(StepState::Pending, None, None)),
            Some(&waiting),
            "Provisioning",
        ),
        (
            Some(step(StepState::Running, Some(10), None)),
            Some(&waiting),
            "Running",
        ),
        (
            Some(step(StepState::Completed, Some(10), Some(20))),
            Some(&waiting),
            "Succeeded",
        ),
        (
            Some(step(StepState::Failed, Some(10), Some(20))),
            Some(&waiting),
            "Failed",
        ),
        (
            Some(step(StepState::Cancelled, None, Some(20))),
            Some(&waiting),
            "Failed",
        ),
        (
            Some(step(StepState::Interrupted, None, Some(20))),
            Some(&waiting),
            "Interrupted",
        ),
        // the cluster died under the step: not the run's fault
        (
            Some(step(StepState::Running, Some(10), None)),
            Some(&lost),
            "Interrupted",
        ),
        (
            Some(step(StepState::Failed, Some(10), Some(20))),
            Some(&lost),
            "Interrupted",
        ),
        (
            Some(step(StepState::Cancelled, None, Some(20))),
            Some(&lost),
            "Interrupted",
        ),
        (Some(step(StepState::Running, Some(10), None)), None, "Interrupted"),
        // still going down: wait for the step's own end
        (
            Some(step(StepState::Running, Some(10), None)),
            Some(&terminating),
            "Running",
        ),
        // a completed step stays a success whatever happened to the cluster later
        (
            Some(step(StepState::Completed, Some(10), Some(20))),
            Some(&lost),
            "Succeeded",
        ),
    ];
    for (s, c, want) in table {
        let got = attempt_state(s.as_ref(), c);
        assert_eq!(
            kind(got.clone()),
            want,
            "{s:?} on {:?}: {got:?}",
            c.map(|c| &c.state_name)
        );
    }
    let AttemptState::Failed {
        message, finished_at, ..
    } = attempt_state(Some(&step(StepState::Failed, Some(10), Some(20))), Some(&waiting))
    else {
        panic!("failed");
    };
    assert_eq!(message, "EMR step s-1 failed: exit code 1");
    assert_eq!(finished_at, Some(at(20)));
    let AttemptState::Failed { message, .. } = attempt_state(Some(&step(StepState::Running, None, None)), Some(&lost))
    else {
        panic!("interrupted");
    };
    assert!(
        message.contains("j-1 was terminated (TERMINATED_WITH_ERRORS): Spot interruption"),
        "{message}"
    );
}

#[test]
fn planner_view_idle_since_and_occupancy() {
    let c = cluster("WAITING", None, "on-demand");
    let busy = planner_cluster(&c, &[step(StepState::Running, Some(400), None)]);
    assert_eq!((busy.running.len(), busy.idle_since, busy.finished_runs), (1, None, 0));
    assert_eq!(busy.market, Market::OnDemand);
    let never_used = planner_cluster(&c, &[]);
    assert_eq!(never_used.idle_since, Some(at(300)), "idle since it became ready");
    let done = planner_cluster(&c, &[step(StepState::Completed, Some(400), Some(900))]);
    assert_eq!((done.idle_since, done.finished_runs), (Some(at(900)), 1));
    let starting = planner_cluster(&cluster("STARTING", None, "spot"), &[]);
    assert_eq!(starting.idle_since, None, "a starting cluster is not idle");
}

#[test]
fn fleet_usage_by_market_and_spot_events() {
    let pool = pool();
    let emr = pool.spec.emr.as_ref().expect("emr");
    let spot = cluster("WAITING", None, "spot");
    let usage: Vec<(String, Market, u32)> = fleet_usage(emr, &spot, at(3600))
        .into_iter()
        .map(|u| (u.instance_type, u.market, u.count))
        .collect();
    assert_eq!(
        usage,
        vec![
            ("m6i.xlarge".to_owned(), Market::OnDemand, 1),
            ("r6i.2xlarge".to_owned(), Market::OnDemand, 1),
            ("r6i.2xlarge".to_owned(), Market::Spot, 4),
            ("r5.xlarge".to_owned(), Market::Spot, 2),
        ]
    );
    let od = cluster("WAITING", None, "on-demand");
    let counts: Vec<(Market, u32)> = fleet_usage(emr, &od, at(3600))
        .into_iter()
        .map(|u| (u.market, u.count))
        .collect();
    assert_eq!(
        counts,
        vec![(Market::OnDemand, 1), (Market::OnDemand, 5), (Market::OnDemand, 2)]
    );

    let mut lost = cluster("TERMINATED_WITH_ERRORS", Some("spot capacity reclaimed"), "spot");
    lost.id = "j-2".into();
    lost.ended_at = Some(at(500));
    let events = spot_events(&[spot, od, lost]);
    let got: Vec<(&str, SpotOutcome)> = events.iter().map(|e| (e.instance.as_str(), e.outcome)).collect();
    assert_eq!(
        got,
        vec![
            ("j-1", SpotOutcome::Launched),
            ("j-2", SpotOutcome::Launched),
            ("j-2", SpotOutcome::Interrupted)
        ]
    );
    assert_eq!(events[2].at, at(500));
}
