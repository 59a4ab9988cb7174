//! Tables for the node planner: instances joined with their Nodes and Jobs,
//! launches for waiting runs (not when a launching node or a request not
//! listed yet has room), registration timeouts, idle teardown down to
//! `minClusters`, and never a node a live run is on.

use std::collections::BTreeMap;

use super::*;

const GI: u64 = 1 << 30;

fn at(minute: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + minute * 60).expect("timestamp")
}

fn instance(id: &str, kind: &str, launched: i64) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        instance_type: kind.into(),
        zone: "us-east-1a".into(),
        market: Market::Spot,
        state: InstanceState::Running,
        state_reason: None,
        state_changed_at: None,
        launched_at: Some(at(launched)),
        tags: BTreeMap::new(),
    }
}

fn node(name: &str, id: &str) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        provider_id: Some(format!("aws:///us-east-1a/{id}")),
        ready: true,
        unschedulable: false,
        allocatable: None,
    }
}

fn job(name: &str, on: &str, active: bool, finished: Option<i64>) -> JobFacts {
    JobFacts {
        name: name.into(),
        instance: Some(on.into()),
        active,
        request: Resources::new(1000, 2 * GI),
        finished_at: finished.map(at),
    }
}

fn pending(name: &str, cpu: u64, gib: u64) -> Pending {
    Pending {
        run: name.into(),
        request: Resources::new(cpu, gib * GI),
    }
}

fn limits(max: usize, min: usize, per_node: usize) -> Limits {
    Limits {
        instance_types: vec!["m5.xlarge".into(), "m5.2xlarge".into()],
        max_nodes: max,
        min_nodes: min,
        max_runs_per_node: per_node,
        idle_timeout: SignedDuration::from_mins(10),
        registration_timeout: SignedDuration::from_mins(10),
    }
}

/// A plan in one line: `launch m5.xlarge[a b] | terminate i-1 Idle | wait c`.
fn summary(p: &Plan) -> String {
    let mut parts = Vec::new();
    if !p.launch.is_empty() {
        let v: Vec<String> = p
            .launch
            .iter()
            .map(|n| format!("{}[{}]", n.instance_type, n.runs.join(" ")))
            .collect();
        parts.push(format!("launch {}", v.join(" ")));
    }
    if !p.terminate.is_empty() {
        let v: Vec<String> = p
            .terminate
            .iter()
            .map(|t| format!("{} {}", t.id, t.reason.as_str()))
            .collect();
        parts.push(format!("terminate {}", v.join(", ")));
    }
    if !p.waiting.is_empty() {
        let v: Vec<&str> = p.waiting.iter().map(|w| w.run.as_str()).collect();
        parts.push(format!("wait {}", v.join(" ")));
    }
    if !p.too_big.is_empty() {
        let v: Vec<&str> = p.too_big.iter().map(|w| w.run.as_str()).collect();
        parts.push(format!("too-big {}", v.join(" ")));
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(" | ")
    }
}

#[test]
fn provider_ids_name_their_instance() {
    assert_eq!(instance_of("aws:///us-east-1a/i-0abc"), Some("i-0abc"));
    assert_eq!(instance_of("aws:///eu-west-1b/i-1"), Some("i-1"));
    assert_eq!(instance_of("kwok://node-1"), None);
    assert_eq!(instance_of("aws:///us-east-1a/"), None);
}

/// Instance, state, Node, running runs, idle since.
type Row<'a> = (&'a str, NodeState, Option<&'a str>, usize, Option<Timestamp>);

#[test]
fn views_join_instances_nodes_and_jobs() {
    let catalog = Catalog::builtin();
    let instances = [
        instance("i-ready", "m5.xlarge", 0),
        instance("i-new", "m5.xlarge", 5),
        instance("i-cordoned", "m5.xlarge", 0),
        InstanceInfo {
            state: InstanceState::Terminated,
            ..instance("i-gone", "m5.xlarge", 0)
        },
    ];
    let mut cordoned = node("n-c", "i-cordoned");
    cordoned.unschedulable = true;
    let nodes = [node("n-r", "i-ready"), cordoned, node("n-g", "i-gone")];
    let jobs = [
        job("run-a-1", "i-ready", true, None),
        job("run-b-1", "i-ready", false, Some(3)),
        job("run-c-1", "i-cordoned", false, Some(4)),
    ];
    let views = views(&catalog, &instances, &nodes, &jobs, &BTreeMap::new());
    let got: Vec<Row<'_>> = views
        .iter()
        .map(|v| {
            (
                v.instance.id.as_str(),
                v.state,
                v.node.as_deref(),
                v.running.len(),
                v.idle_since,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("i-ready", NodeState::Ready, Some("n-r"), 1, None),
            ("i-new", NodeState::Launching, None, 0, Some(at(5))),
            ("i-cordoned", NodeState::Cordoned, Some("n-c"), 0, Some(at(4))),
            ("i-gone", NodeState::Terminated, Some("n-g"), 0, Some(at(0))),
        ]
    );
    assert_eq!(views[0].used, Resources::new(1000, 2 * GI));
    // No Node yet: the instance type's estimate.
    assert_eq!(
        views[1].allocatable,
        catalog.get("m5.xlarge").expect("built in").allocatable()
    );
}

#[test]
fn the_status_remembers_when_a_node_emptied_after_its_jobs_are_deleted() {
    let catalog = Catalog::builtin();
    let remembered = BTreeMap::from([("i-1".to_owned(), at(30))]);
    let views = views(
        &catalog,
        &[instance("i-1", "m5.xlarge", 0)],
        &[node("n-1", "i-1")],
        &[],
        &remembered,
    );
    assert_eq!(views[0].idle_since, Some(at(30)));
}

#[test]
fn plans() {
    let catalog = Catalog::builtin();
    struct Case {
        name: &'static str,
        instances: Vec<InstanceInfo>,
        nodes: Vec<NodeFacts>,
        jobs: Vec<JobFacts>,
        requested: usize,
        pending: Vec<Pending>,
        limits: Limits,
        now: i64,
        want: &'static str,
    }
    let base = |name, want| Case {
        name,
        instances: vec![],
        nodes: vec![],
        jobs: vec![],
        requested: 0,
        pending: vec![],
        limits: limits(4, 0, 2),
        now: 20,
        want,
    };
    let cases = [
        Case {
            pending: vec![pending("a", 1000, 2), pending("b", 1000, 2), pending("c", 1000, 2)],
            ..base("from zero: two runs per node", "launch m5.xlarge[a b] m5.xlarge[c]")
        },
        Case {
            pending: vec![pending("a", 1000, 2), pending("b", 1000, 2), pending("c", 1000, 2)],
            limits: limits(1, 0, 2),
            ..base("maxClusters bounds the nodes", "launch m5.xlarge[a b] | wait c")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 18)],
            pending: vec![pending("a", 1000, 2)],
            ..base("a launching node has room: no second node", "nothing")
        },
        Case {
            requested: 1,
            pending: vec![pending("a", 1000, 2)],
            ..base("a request not listed yet has room: no second node", "nothing")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0)],
            now: 10,
            ..base(
                "never registered within registrationTimeout",
                "terminate i-1 NotRegistered",
            )
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0)],
            pending: vec![pending("a", 1000, 2)],
            now: 10,
            ..base(
                "a node that never registered is replaced",
                "launch m5.xlarge[a] | terminate i-1 NotRegistered",
            )
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0), instance("i-2", "m5.xlarge", 0)],
            nodes: vec![node("n-1", "i-1"), node("n-2", "i-2")],
            jobs: vec![job("x", "i-1", false, Some(2)), job("y", "i-2", false, Some(15))],
            ..base("idle past idleTimeout; the other not yet", "terminate i-1 Idle")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0), instance("i-2", "m5.xlarge", 0)],
            nodes: vec![node("n-1", "i-1"), node("n-2", "i-2")],
            limits: limits(4, 1, 2),
            now: 60,
            ..base("down to minClusters, longest idle first", "terminate i-1 Idle")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0)],
            nodes: vec![node("n-1", "i-1")],
            jobs: vec![job("x", "i-1", true, None)],
            now: 600,
            ..base("never a node a live run is on", "nothing")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0)],
            nodes: vec![node("n-1", "i-1")],
            pending: vec![pending("a", 1000, 2)],
            now: 600,
            ..base("an idle node given a run stays", "nothing")
        },
        Case {
            instances: vec![instance("i-1", "m5.xlarge", 0)],
            nodes: vec![NodeFacts {
                unschedulable: true,
                ..node("n-1", "i-1")
            }],
            ..base("a cordoned empty node goes", "terminate i-1 Drained")
        },
        Case {
            instances: vec![warned(instance("i-1", "m5.xlarge", 0))],
            nodes: vec![node("n-1", "i-1")],
            jobs: vec![job("x", "i-1", true, None)],
            pending: vec![pending("a", 1000, 2)],
            ..base(
                "a warned node takes no new run, keeps its live one, and a new node is launched",
                "launch m5.xlarge[a]",
            )
        },
        Case {
            instances: vec![warned(instance("i-1", "m5.xlarge", 0))],
            nodes: vec![node("n-1", "i-1")],
            ..base("a warned empty node goes at once", "terminate i-1 Drained")
        },
        Case {
            instances: vec![warned(instance("i-1", "m5.xlarge", 0))],
            ..base("a warned instance that never registered goes", "terminate i-1 Drained")
        },
        Case {
            pending: vec![pending("huge", 64_000, 2)],
            ..base("a run no type holds launches nothing", "too-big huge")
        },
    ];
    for case in cases {
        let views = views(&catalog, &case.instances, &case.nodes, &case.jobs, &BTreeMap::new());
        let plan = plan(
            &catalog,
            &case.limits,
            &views,
            case.requested,
            &case.pending,
            at(case.now),
        );
        assert_eq!(summary(&plan), case.want, "{}", case.name);
    }
}

fn warned(mut i: InstanceInfo) -> InstanceInfo {
    i.tags.insert(
        crate::providers::eks::notices::TAG_NOTICE.into(),
        "spot-interruption-warning 2023-11-14T22:13:20Z".into(),
    );
    i
}

#[test]
fn a_drained_warned_node_says_what_ec2_sent() {
    let catalog = Catalog::builtin();
    let views = views(
        &catalog,
        &[warned(instance("i-1", "m5.xlarge", 0))],
        &[node("n-1", "i-1")],
        &[],
        &BTreeMap::new(),
    );
    let plan = plan(&catalog, &limits(4, 0, 2), &views, 0, &[], at(1));
    assert_eq!(
        plan.terminate[0].message,
        "EC2 sent a spot-interruption-warning at 2023-11-14T22:13:20Z; node n-1 runs nothing now"
    );
}

#[test]
fn a_registration_timeout_says_what_to_check() {
    let catalog = Catalog::builtin();
    let views = views(&catalog, &[instance("i-1", "m5.xlarge", 0)], &[], &[], &BTreeMap::new());
    let plan = plan(&catalog, &limits(4, 0, 2), &views, 0, &[], at(11));
    assert_eq!(
        plan.terminate[0].message,
        "instance i-1 has not registered as a Ready Node within 10m of its launch; check its user data, \
         instance profile and security groups"
    );
}
