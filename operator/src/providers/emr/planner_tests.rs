//! Tables for the capacity planner: reuse, new capacity, `maxClusters`,
//! single-use clusters, idle teardown, the warm pool and lost runs.

use super::*;
use crate::api::v1alpha1::Duration as SpecDuration;

/// Minutes after 2026-03-02T12:00:00Z.
fn at(min: i64) -> Timestamp {
    Timestamp::from_second(1_772_452_800 + min * 60).expect("timestamp")
}

fn limits(max: usize, min: usize, per: usize, idle_min: u64) -> Limits {
    Limits {
        max_clusters: max,
        min_clusters: min,
        max_runs_per_cluster: per,
        idle_timeout: Duration::from_secs(idle_min * 60),
    }
}

/// A spot cluster created at minute `created`, idle since minute `idle` when given.
fn cl(id: &str, state: ClusterState, created: i64, idle: Option<i64>, running: &[&str]) -> Cluster {
    Cluster {
        id: id.into(),
        state,
        market: Market::Spot,
        created_at: at(created),
        idle_since: idle.map(at),
        running: running.iter().map(|r| (*r).to_owned()).collect(),
        finished_runs: 0,
    }
}

fn spent(mut c: Cluster) -> Cluster {
    c.finished_runs = 1;
    c
}

fn ids(runs: &[&str]) -> Vec<String> {
    runs.iter().map(|r| (*r).to_owned()).collect()
}

fn placed(pairs: &[(&str, &str)]) -> Vec<Placement> {
    pairs
        .iter()
        .map(|(run, cluster)| Placement {
            run: (*run).into(),
            cluster: (*cluster).into(),
        })
        .collect()
}

/// A plan in one line: `place r1>j-a | create [r2 r3] [] | terminate j-b:IdleTimeout | wait r4 | lost r5@j-c`.
fn summary(p: &Plan) -> String {
    let mut parts = Vec::new();
    if !p.place.is_empty() {
        let v: Vec<String> = p.place.iter().map(|x| format!("{}>{}", x.run, x.cluster)).collect();
        parts.push(format!("place {}", v.join(" ")));
    }
    if !p.create.is_empty() {
        let v: Vec<String> = p.create.iter().map(|c| format!("[{}]", c.runs.join(" "))).collect();
        parts.push(format!("create {}", v.join(" ")));
    }
    if !p.terminate.is_empty() {
        let v: Vec<String> = p
            .terminate
            .iter()
            .map(|t| format!("{}:{}", t.cluster, t.reason.as_str()))
            .collect();
        parts.push(format!("terminate {}", v.join(" ")));
    }
    if !p.waiting.is_empty() {
        let v: Vec<&str> = p.waiting.iter().map(|w| w.run.as_str()).collect();
        parts.push(format!("wait {}", v.join(" ")));
    }
    if !p.lost.is_empty() {
        let v: Vec<String> = p.lost.iter().map(|l| format!("{}@{}", l.run, l.cluster)).collect();
        parts.push(format!("lost {}", v.join(" ")));
    }
    parts.join(" | ")
}

struct Case {
    name: &'static str,
    limits: Limits,
    clusters: Vec<Cluster>,
    queued: Vec<String>,
    placed: Vec<Placement>,
    want: &'static str,
}

fn check(cases: Vec<Case>) {
    let now = at(60);
    for c in cases {
        let got = plan(&c.limits, now, &c.clusters, &c.queued, &c.placed);
        assert_eq!(summary(&got), c.want, "{}", c.name);
    }
}

use ClusterState::*;

#[test]
fn reuse_prefers_ready_clusters_then_starting_ones_then_new_ones() {
    check(vec![
        Case {
            name: "nothing to do",
            limits: limits(3, 0, 4, 10),
            clusters: vec![],
            queued: vec![],
            placed: vec![],
            want: "",
        },
        Case {
            name: "the first run creates a cluster",
            limits: limits(3, 0, 4, 10),
            clusters: vec![],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "create [r1]",
        },
        Case {
            name: "new clusters take maxRunsPerCluster runs each, in queue order",
            limits: limits(3, 0, 2, 10),
            clusters: vec![],
            queued: ids(&["r1", "r2", "r3", "r4", "r5"]),
            placed: vec![],
            want: "create [r1 r2] [r3 r4] [r5]",
        },
        Case {
            name: "a waiting cluster is used before a starting one, even a younger one",
            limits: limits(3, 0, 4, 10),
            clusters: vec![
                cl("j-old", Starting, 0, None, &[]),
                cl("j-up", Waiting, 5, Some(40), &[]),
            ],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "place r1>j-up",
        },
        Case {
            name: "ready clusters fill oldest first, then starting ones, then new ones",
            limits: limits(4, 0, 2, 10),
            clusters: vec![
                cl("j-b", Running, 10, None, &["x1"]),
                cl("j-a", Running, 0, None, &["x2"]),
                cl("j-c", Bootstrapping, 20, None, &[]),
            ],
            queued: ids(&["r1", "r2", "r3", "r4", "r5"]),
            placed: vec![],
            want: "place r1>j-a r2>j-b r3>j-c r4>j-c | create [r5]",
        },
        Case {
            name: "runs already placed on a starting cluster take its slots",
            limits: limits(1, 0, 2, 10),
            clusters: vec![cl("j-a", Starting, 50, None, &[])],
            queued: ids(&["r1", "r2", "r3"]),
            placed: placed(&[("p1", "j-a")]),
            want: "place r1>j-a | wait r2 r3",
        },
        Case {
            name: "a queued run that is already placed or running is not placed twice",
            limits: limits(2, 0, 4, 10),
            clusters: vec![cl("j-a", Running, 0, None, &["r1"])],
            queued: ids(&["r1", "r2", "r2", "r3"]),
            placed: placed(&[("r2", "j-a")]),
            want: "place r3>j-a",
        },
        Case {
            name: "equal creation times order clusters by id",
            limits: limits(2, 0, 1, 10),
            clusters: vec![
                cl("j-b", Waiting, 0, Some(59), &[]),
                cl("j-a", Waiting, 0, Some(59), &[]),
            ],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "place r1>j-a",
        },
    ]);
}

#[test]
fn max_clusters_counts_starting_clusters_but_not_terminating_ones() {
    check(vec![
        Case {
            name: "two starting clusters fill maxClusters 2: the rest waits",
            limits: limits(2, 0, 1, 10),
            clusters: vec![cl("j-a", Starting, 55, None, &[]), cl("j-b", Starting, 56, None, &[])],
            queued: ids(&["r1", "r2", "r3", "r4"]),
            placed: placed(&[("p1", "j-a")]),
            want: "place r1>j-b | wait r2 r3 r4",
        },
        Case {
            name: "headroom for one more cluster",
            limits: limits(2, 0, 2, 10),
            clusters: vec![cl("j-a", Running, 0, None, &["x1", "x2"])],
            queued: ids(&["r1", "r2", "r3"]),
            placed: vec![],
            want: "create [r1 r2] | wait r3",
        },
        Case {
            name: "terminating and terminated clusters hold no slot",
            limits: limits(1, 0, 2, 10),
            clusters: vec![
                cl("j-a", Terminating, 0, None, &[]),
                cl("j-b", Terminated(TerminationReason::IdleTimeout), 1, None, &[]),
            ],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "create [r1]",
        },
        Case {
            name: "more clusters than maxClusters (the limit was lowered): no new ones",
            limits: limits(1, 0, 1, 10),
            clusters: vec![
                cl("j-a", Running, 0, None, &["x1"]),
                cl("j-b", Running, 1, None, &["x2"]),
            ],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "wait r1",
        },
    ]);
}

#[test]
fn single_use_clusters_take_one_run_and_are_then_terminated() {
    check(vec![
        Case {
            name: "a fresh cluster per run",
            limits: limits(3, 0, 1, 10),
            clusters: vec![],
            queued: ids(&["r1", "r2", "r3", "r4"]),
            placed: vec![],
            want: "create [r1] [r2] [r3] | wait r4",
        },
        Case {
            name: "a cluster whose run finished is terminated, not reused, and frees its slot",
            limits: limits(1, 0, 1, 10),
            clusters: vec![spent(cl("j-a", Waiting, 0, Some(59), &[]))],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "create [r1] | terminate j-a:RunFinished",
        },
        Case {
            name: "even when it is the warm pool: a fresh one replaces it",
            limits: limits(2, 1, 1, 10),
            clusters: vec![spent(cl("j-a", Waiting, 0, Some(59), &[]))],
            queued: vec![],
            placed: vec![],
            want: "create [] | terminate j-a:RunFinished",
        },
        Case {
            name: "a fresh warm cluster takes one run",
            limits: limits(2, 1, 1, 10),
            clusters: vec![cl("j-a", Waiting, 0, Some(5), &[])],
            queued: ids(&["r1", "r2"]),
            placed: vec![],
            want: "place r1>j-a | create [r2]",
        },
        Case {
            name: "a spent cluster still running (a step being cancelled) is left alone",
            limits: limits(1, 0, 1, 10),
            clusters: vec![spent(cl("j-a", Running, 0, None, &["x1"]))],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "wait r1",
        },
    ]);
}

#[test]
fn idle_clusters_are_terminated_after_the_timeout_down_to_min_clusters() {
    check(vec![
        Case {
            name: "idle exactly idleTimeout: terminated",
            limits: limits(3, 0, 4, 10),
            clusters: vec![cl("j-a", Waiting, 0, Some(50), &[])],
            queued: vec![],
            placed: vec![],
            want: "terminate j-a:IdleTimeout",
        },
        Case {
            name: "idle a minute less: kept",
            limits: limits(3, 0, 4, 10),
            clusters: vec![cl("j-a", Waiting, 0, Some(51), &[])],
            queued: vec![],
            placed: vec![],
            want: "",
        },
        Case {
            name: "never idle-seen, running runs, a placed run or still starting: never terminated",
            limits: limits(4, 0, 4, 10),
            clusters: vec![
                cl("j-a", Waiting, 0, None, &[]),
                cl("j-b", Running, 0, Some(0), &["x1"]),
                cl("j-c", Waiting, 0, Some(0), &[]),
                cl("j-d", Starting, 0, Some(0), &[]),
            ],
            queued: vec![],
            placed: placed(&[("p1", "j-c")]),
            want: "",
        },
        Case {
            name: "reuse beats teardown: an expired idle cluster takes the queued run",
            limits: limits(3, 0, 4, 10),
            clusters: vec![cl("j-a", Waiting, 0, Some(0), &[]), cl("j-b", Waiting, 1, Some(0), &[])],
            queued: ids(&["r1"]),
            placed: vec![],
            want: "place r1>j-a | terminate j-b:IdleTimeout",
        },
        Case {
            name: "minClusters 2 of 3 expired: the longest idle goes",
            limits: limits(3, 2, 4, 10),
            clusters: vec![
                cl("j-a", Waiting, 0, Some(30), &[]),
                cl("j-b", Waiting, 1, Some(10), &[]),
                cl("j-c", Waiting, 2, Some(20), &[]),
            ],
            queued: vec![],
            placed: vec![],
            want: "terminate j-b:IdleTimeout",
        },
        Case {
            name: "busy clusters count towards minClusters",
            limits: limits(3, 1, 4, 10),
            clusters: vec![
                cl("j-a", Running, 0, None, &["x1"]),
                cl("j-b", Waiting, 1, Some(0), &[]),
            ],
            queued: vec![],
            placed: vec![],
            want: "terminate j-b:IdleTimeout",
        },
        Case {
            name: "idle clusters beyond a lowered maxClusters go before their timeout",
            limits: limits(1, 0, 4, 10),
            clusters: vec![
                cl("j-a", Waiting, 0, Some(58), &[]),
                cl("j-b", Waiting, 1, Some(55), &[]),
                cl("j-c", Running, 2, None, &["x1"]),
            ],
            queued: vec![],
            placed: vec![],
            want: "terminate j-b:OverCapacity j-a:OverCapacity",
        },
    ]);
}

#[test]
fn min_clusters_keeps_a_warm_pool() {
    check(vec![
        Case {
            name: "an empty pool with minClusters 2",
            limits: limits(3, 2, 4, 10),
            clusters: vec![],
            queued: vec![],
            placed: vec![],
            want: "create [] []",
        },
        Case {
            name: "starting clusters and clusters created for runs count",
            limits: limits(3, 3, 4, 10),
            clusters: vec![cl("j-a", Starting, 55, None, &[])],
            queued: ids(&["r1", "r2", "r3", "r4", "r5"]),
            placed: vec![],
            want: "place r1>j-a r2>j-a r3>j-a r4>j-a | create [r5] []",
        },
        Case {
            name: "minClusters above maxClusters is capped",
            limits: limits(1, 2, 4, 10),
            clusters: vec![],
            queued: vec![],
            placed: vec![],
            want: "create []",
        },
    ]);
}

#[test]
fn runs_on_clusters_that_went_away_are_lost() {
    check(vec![
        Case {
            name: "placed on an interrupted cluster, running on a terminating one, placed on a vanished one",
            limits: limits(3, 0, 4, 10),
            clusters: vec![
                cl("j-a", Terminated(TerminationReason::SpotInterruption), 0, None, &[]),
                cl("j-b", Terminating, 1, None, &["r2"]),
            ],
            queued: vec![],
            placed: placed(&[("r1", "j-a"), ("r3", "j-gone")]),
            want: "lost r1@j-a r2@j-b r3@j-gone",
        },
        Case {
            name: "a lost run the caller queued again is placed, not reported",
            limits: limits(3, 0, 4, 10),
            clusters: vec![
                cl("j-a", Terminated(TerminationReason::Error), 0, None, &[]),
                cl("j-b", Waiting, 1, Some(59), &[]),
            ],
            queued: ids(&["r1"]),
            placed: placed(&[("r1", "j-a")]),
            want: "place r1>j-b",
        },
    ]);
    let clusters = [
        cl("j-a", Terminated(TerminationReason::SpotInterruption), 0, None, &[]),
        cl("j-b", Terminating, 1, None, &["r2"]),
    ];
    let p = plan(
        &limits(3, 0, 4, 10),
        at(60),
        &clusters,
        &[],
        &placed(&[("r1", "j-a"), ("r3", "j-gone")]),
    );
    let reasons: Vec<&str> = p.lost.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "the cluster was terminated: spot interruption",
            "the cluster is terminating",
            "the cluster no longer exists"
        ]
    );
}

#[test]
fn plans_do_not_depend_on_input_order() {
    let clusters = vec![
        cl("j-c", Starting, 30, None, &[]),
        cl("j-a", Waiting, 0, Some(0), &[]),
        cl("j-b", Running, 10, None, &["x1"]),
        cl("j-d", Waiting, 0, Some(0), &[]),
    ];
    let l = limits(5, 1, 2, 10);
    let queued = ids(&["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]);
    let first = plan(&l, at(60), &clusters, &queued, &[]);
    let mut reversed = clusters.clone();
    reversed.reverse();
    assert_eq!(plan(&l, at(60), &reversed, &queued, &[]), first);
    assert_eq!(
        summary(&first),
        "place r1>j-a r2>j-a r3>j-d r4>j-d r5>j-b r6>j-c r7>j-c | create [r8]"
    );
}

#[test]
fn messages_say_why() {
    let p = plan(
        &limits(2, 1, 2, 10),
        at(60),
        &[
            cl("j-a", Running, 0, None, &["x1", "x2"]),
            cl("j-b", Waiting, 1, Some(25), &[]),
            cl("j-c", Waiting, 2, Some(30), &[]),
        ],
        &[],
        &[],
    );
    let messages: Vec<(&str, &str)> = p
        .terminate
        .iter()
        .map(|t| (t.reason.as_str(), t.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "OverCapacity",
                "idle, and 3 clusters are alive where maxClusters allows 2"
            ),
            (
                "IdleTimeout",
                "idle for 30m (idleTimeout 10m); 1 clusters stay alive (minClusters 1)"
            ),
        ]
    );
    let p = plan(
        &limits(3, 1, 2, 10),
        at(60),
        &[
            cl("j-a", Running, 0, None, &["x1"]),
            cl("j-b", Waiting, 1, Some(25), &[]),
        ],
        &[],
        &[],
    );
    assert_eq!(
        p.terminate[0].message,
        "idle for 35m (idleTimeout 10m); 1 clusters stay alive (minClusters 1)"
    );
    let p = plan(
        &limits(1, 0, 1, 10),
        at(60),
        &[spent(cl("j-a", Waiting, 0, Some(59), &[]))],
        &[],
        &[],
    );
    assert_eq!(
        p.terminate[0].message,
        "maxRunsPerCluster is 1: the cluster finished its run and is not reused"
    );
    let p = plan(
        &limits(1, 0, 2, 10),
        at(60),
        &[cl("j-a", Running, 0, None, &["x1", "x2"])],
        &ids(&["r1", "r2"]),
        &[],
    );
    let reasons: Vec<&str> = p.waiting.iter().map(|w| w.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "no free slot in ClusterPool: 1 of 1 clusters (maxClusters) alive or starting, 2 runs each at most; 0 runs waiting ahead of this one",
            "no free slot in ClusterPool: 1 of 1 clusters (maxClusters) alive or starting, 2 runs each at most; 1 runs waiting ahead of this one",
        ]
    );
}

#[test]
fn limits_come_from_the_spec() {
    let capacity = Capacity::default();
    assert_eq!(Limits::from_capacity(&capacity), Ok(limits(1, 0, 4, 10)));
    let capacity = Capacity {
        max_clusters: 0,
        min_clusters: -1,
        max_runs_per_cluster: 1,
        idle_timeout: SpecDuration("1h30m".into()),
        ..Capacity::default()
    };
    let l = Limits::from_capacity(&capacity).expect("valid");
    assert_eq!(l, limits(1, 0, 1, 90));
    assert!(l.single_use());
    let bad = Capacity {
        idle_timeout: SpecDuration("soon".into()),
        ..Capacity::default()
    };
    assert!(Limits::from_capacity(&bad).is_err());
}
