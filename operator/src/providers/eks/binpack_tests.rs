//! Tables for the bin-packer: first fit on the pool's nodes, first fit
//! decreasing onto new nodes of the preferred types, `maxRunsPerCluster` and
//! `maxClusters`, growing a launched node at the cap, runs too big for every
//! type, and the reasons a person reads.

use super::*;

const MI: u64 = 1 << 20;

fn shape(types: &[&str], max_nodes: usize, per_node: usize) -> Shape {
    Shape {
        instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
        max_nodes,
        max_runs_per_node: per_node,
    }
}

/// A run requesting `cpu` millicores and `mem` MiB.
fn run(name: &str, cpu: u64, mem: u64) -> Pending {
    Pending {
        run: name.into(),
        request: Resources::new(cpu, mem * MI),
    }
}

/// An accepting node of built-in type `kind`, `used` (millicores, MiB) by `runs` runs.
fn node(id: &str, kind: &str, used: (u64, u64), runs: usize) -> NodeRoom {
    let allocatable = Catalog::builtin()
        .get(kind)
        .map(InstanceType::allocatable)
        .unwrap_or_else(|| panic!("{kind} is built in"));
    NodeRoom {
        id: id.into(),
        allocatable,
        used: Resources::new(used.0, used.1 * MI),
        runs,
        accepting: true,
    }
}

fn cordoned(mut n: NodeRoom) -> NodeRoom {
    n.accepting = false;
    n
}

/// A packing in one line: `place r1>i-a | launch m5.large[r2 r3] | wait r4 | too-big r5 | unknown x9.huge`.
fn summary(p: &Packing) -> String {
    let mut parts = Vec::new();
    if !p.place.is_empty() {
        let v: Vec<String> = p.place.iter().map(|x| format!("{}>{}", x.run, x.node)).collect();
        parts.push(format!("place {}", v.join(" ")));
    }
    if !p.launch.is_empty() {
        let v: Vec<String> = p
            .launch
            .iter()
            .map(|n| format!("{}[{}]", n.instance_type, n.runs.join(" ")))
            .collect();
        parts.push(format!("launch {}", v.join(" ")));
    }
    if !p.waiting.is_empty() {
        let v: Vec<&str> = p.waiting.iter().map(|w| w.run.as_str()).collect();
        parts.push(format!("wait {}", v.join(" ")));
    }
    if !p.too_big.is_empty() {
        let v: Vec<&str> = p.too_big.iter().map(|t| t.run.as_str()).collect();
        parts.push(format!("too-big {}", v.join(" ")));
    }
    if !p.unknown_types.is_empty() {
        parts.push(format!("unknown {}", p.unknown_types.join(" ")));
    }
    parts.join(" | ")
}

struct Case {
    name: &'static str,
    shape: Shape,
    nodes: Vec<NodeRoom>,
    alive: usize,
    pending: Vec<Pending>,
    want: &'static str,
}

fn packed(c: &Case) -> Packing {
    pack(&Catalog::builtin(), &c.shape, &c.nodes, c.alive, &c.pending)
}

fn check(cases: Vec<Case>) {
    for c in cases {
        assert_eq!(summary(&packed(&c)), c.want, "{}", c.name);
    }
}

// m5.large leaves 1730m and 6647Mi to Pods, c5.large 1730m and 2858Mi,
// m5.xlarge 3720m and 13906Mi (instance_types_tests.rs).

#[test]
fn runs_go_to_the_pools_nodes_first() {
    check(vec![
        Case {
            name: "nothing pending",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![node("i-a", "m5.large", (0, 0), 0)],
            alive: 1,
            pending: vec![],
            want: "",
        },
        Case {
            name: "a run that fits goes to a node",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![node("i-a", "m5.large", (0, 0), 0)],
            alive: 1,
            pending: vec![run("r1", 500, 1024)],
            want: "place r1>i-a",
        },
        Case {
            name: "nodes fill in the caller's order, the largest run first",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![
                node("i-b", "m5.large", (1500, 0), 1),
                node("i-a", "m5.large", (0, 0), 0),
            ],
            alive: 2,
            pending: vec![run("r1", 200, 100), run("r2", 1000, 100)],
            want: "place r2>i-a r1>i-b",
        },
        Case {
            name: "a node without a free slot takes no run",
            shape: shape(&["m5.large"], 3, 2),
            nodes: vec![node("i-a", "m5.large", (100, 100), 2)],
            alive: 1,
            pending: vec![run("r1", 100, 100)],
            want: "launch m5.large[r1]",
        },
        Case {
            name: "a cordoned node takes no run",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![cordoned(node("i-a", "m5.large", (0, 0), 0))],
            alive: 1,
            pending: vec![run("r1", 100, 100)],
            want: "launch m5.large[r1]",
        },
        Case {
            name: "memory counts as much as CPU",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![node("i-a", "m5.large", (0, 6000), 1)],
            alive: 1,
            pending: vec![run("r1", 100, 1024)],
            want: "launch m5.large[r1]",
        },
        Case {
            name: "a launching node takes the runs it has room for; no second node beyond maxClusters",
            shape: shape(&["m5.large"], 1, 4),
            nodes: vec![node("i-new", "m5.large", (0, 0), 0)],
            alive: 1,
            pending: vec![run("r1", 800, 100), run("r2", 800, 100), run("r3", 800, 100)],
            want: "place r1>i-new r2>i-new | wait r3",
        },
    ]);
}

#[test]
fn new_nodes_are_packed_first_fit_decreasing_on_the_preferred_types() {
    check(vec![
        Case {
            name: "the first run launches a node of the first type",
            shape: shape(&["m5.large", "m5.xlarge"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 500, 1024)],
            want: "launch m5.large[r1]",
        },
        Case {
            name: "largest first, each into the first node with room",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![
                run("r1", 1500, 100),
                run("r2", 200, 100),
                run("r3", 1000, 100),
                run("r4", 600, 100),
            ],
            want: "launch m5.large[r1 r2] m5.large[r3 r4]",
        },
        Case {
            name: "equal runs keep queue order",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r2", 500, 100), run("r1", 500, 100)],
            want: "launch m5.large[r2 r1]",
        },
        Case {
            name: "a small run takes the first preferred type",
            shape: shape(&["c5.large", "m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 500, 1024)],
            want: "launch c5.large[r1]",
        },
        Case {
            name: "a run too big for the first type takes the next that holds it",
            shape: shape(&["c5.large", "m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 1000, 4096), run("r2", 500, 1024)],
            want: "launch m5.large[r1 r2]",
        },
        Case {
            name: "maxRunsPerCluster caps the runs of a node, even of runs that request nothing",
            shape: shape(&["m5.large"], 3, 2),
            nodes: vec![],
            alive: 0,
            pending: vec![
                run("r1", 0, 0),
                run("r2", 0, 0),
                run("r3", 0, 0),
                run("r4", 0, 0),
                run("r5", 0, 0),
            ],
            want: "launch m5.large[r1 r2] m5.large[r3 r4] m5.large[r5]",
        },
        Case {
            name: "a run queued twice is packed once",
            shape: shape(&["m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 500, 100), run("r1", 500, 100), run("r2", 500, 100)],
            want: "launch m5.large[r1 r2]",
        },
    ]);
}

#[test]
fn max_clusters_counts_every_live_node_and_a_launched_node_grows_at_the_cap() {
    check(vec![
        Case {
            name: "live nodes that take no run still count",
            shape: shape(&["m5.large"], 2, 4),
            nodes: vec![cordoned(node("i-a", "m5.large", (0, 0), 0))],
            alive: 2,
            pending: vec![run("r1", 100, 100)],
            want: "wait r1",
        },
        Case {
            name: "the cap leaves the rest waiting",
            shape: shape(&["m5.large"], 2, 1),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 100, 100), run("r2", 100, 100), run("r3", 100, 100)],
            want: "launch m5.large[r1] m5.large[r2] | wait r3",
        },
        Case {
            name: "at the cap a launched node grows to a larger allowed type",
            shape: shape(&["m5.large", "m5.xlarge"], 2, 4),
            nodes: vec![node("i-a", "m5.large", (1700, 0), 1)],
            alive: 1,
            pending: vec![run("r1", 1500, 1024), run("r2", 1500, 1024), run("r3", 1500, 1024)],
            want: "launch m5.xlarge[r1 r2] | wait r3",
        },
        Case {
            name: "no larger type allowed: no growth",
            shape: shape(&["m5.large"], 1, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 1500, 1024), run("r2", 1500, 1024)],
            want: "launch m5.large[r1] | wait r2",
        },
    ]);
}

#[test]
fn runs_too_big_for_every_type_and_unknown_types_are_reported() {
    check(vec![
        Case {
            name: "a run bigger than every type; the others are still packed",
            shape: shape(&["m5.large", "m5.xlarge"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 8000, 1024), run("r2", 500, 512)],
            want: "launch m5.large[r2] | too-big r1",
        },
        Case {
            name: "a type the catalog does not know is reported and not used",
            shape: shape(&["x9.huge", "m5.large"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 500, 512)],
            want: "launch m5.large[r1] | unknown x9.huge",
        },
        Case {
            name: "no type known: every run is too big",
            shape: shape(&["x9.huge"], 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![run("r1", 500, 512)],
            want: "too-big r1 | unknown x9.huge",
        },
    ]);
}

#[test]
fn reasons_say_what_holds_the_run() {
    let capped = Case {
        name: "capped",
        shape: shape(&["m5.large"], 2, 1),
        nodes: vec![],
        alive: 0,
        pending: vec![
            run("r1", 100, 100),
            run("r2", 100, 100),
            run("r3", 100, 100),
            run("r4", 100, 100),
        ],
        want: "",
    };
    let reasons: Vec<String> = packed(&capped).waiting.into_iter().map(|w| w.reason).collect();
    assert_eq!(
        reasons,
        [
            "no room on the ClusterPool's nodes: 2 of 2 nodes (maxClusters) alive or starting, 1 runs each at most; \
             0 runs waiting ahead of this one",
            "no room on the ClusterPool's nodes: 2 of 2 nodes (maxClusters) alive or starting, 1 runs each at most; \
             1 runs waiting ahead of this one",
        ]
    );

    let big = |types: &[&str], r: Pending| {
        let c = Case {
            name: "big",
            shape: shape(types, 3, 4),
            nodes: vec![],
            alive: 0,
            pending: vec![r],
            want: "",
        };
        packed(&c).too_big.into_iter().map(|t| t.reason).collect::<Vec<_>>()
    };
    assert_eq!(
        big(&["m5.large", "m5.xlarge"], run("r1", 8000, 1024)),
        [
            "requests 8 CPU, 1.0Gi, more than any of the pool's instance types leaves to Pods \
          (m5.xlarge 3.72 CPU, 13.6Gi; m5.large 1.73 CPU, 6.5Gi)"
        ]
    );
    let five = big(
        &["c5.large", "m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"],
        run("r1", 64000, 1024),
    );
    assert_eq!(five.len(), 1);
    assert!(
        five[0].starts_with(
            "requests 64 CPU, 1.0Gi, more than any of the pool's instance types leaves to Pods (m5.4xlarge "
        ) && five[0].ends_with(" and 2 smaller)"),
        "{five:?}"
    );
    assert_eq!(
        big(&["x9.huge"], run("r1", 500, 512)),
        [
            "requests 500m CPU, 512Mi, and none of the pool's instance types (x9.huge) is in the operator's instance type table"
        ]
    );
}

#[test]
fn launched_nodes_carry_their_load_and_room() {
    let c = Case {
        name: "two nodes",
        shape: shape(&["m5.large"], 3, 4),
        nodes: vec![],
        alive: 0,
        pending: vec![run("r1", 1500, 100), run("r2", 200, 100), run("r3", 1000, 100)],
        want: "",
    };
    let got = packed(&c);
    let m5 = Catalog::builtin().get("m5.large").map(InstanceType::allocatable);
    let loads: Vec<(Resources, Option<Resources>)> = got.launch.iter().map(|n| (n.load, Some(n.allocatable))).collect();
    assert_eq!(
        loads,
        [
            (Resources::new(1700, 200 * MI), m5),
            (Resources::new(1000, 100 * MI), m5)
        ]
    );
}

#[test]
fn fleet_overrides_are_the_allowed_types_that_hold_the_load() {
    let catalog = Catalog::builtin();
    let types: Vec<String> = ["c5.large", "m5.large", "m5.xlarge", "m5.large", "x9.huge"]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
    assert_eq!(
        fitting_types(&catalog, &types, Resources::new(1500, 4096 * MI)),
        ["m5.large", "m5.xlarge"]
    );
    assert_eq!(
        fitting_types(&catalog, &types, Resources::default()),
        ["c5.large", "m5.large", "m5.xlarge"]
    );
    assert!(fitting_types(&catalog, &types, Resources::new(64000, 0)).is_empty());
}

/// Whatever the inputs: never more nodes than maxClusters (or than are
/// alive already), never more runs on a node than maxRunsPerCluster, and
/// every pending run lands in exactly one place.
#[test]
fn invariants_hold_across_shapes() {
    for max_nodes in 1..=3 {
        for alive in 0..=3 {
            for per_node in 1..=3 {
                for count in 0..=7 {
                    let pending: Vec<Pending> = (0..count)
                        .map(|i| run(&format!("r{i}"), 300 + 400 * (i % 3), 512 * (i % 4)))
                        .collect();
                    let nodes: Vec<NodeRoom> = (0..alive.min(1))
                        .map(|i| node(&format!("i-{i}"), "m5.large", (900, 1024), 1))
                        .collect();
                    let s = shape(&["c5.large", "m5.large"], max_nodes, per_node);
                    let got = pack(&Catalog::builtin(), &s, &nodes, alive, &pending);
                    let what = format!("max {max_nodes} alive {alive} per {per_node} runs {count}");
                    assert!(
                        alive + got.launch.len() <= max_nodes.max(alive),
                        "{what}: {}",
                        summary(&got)
                    );
                    assert!(got.launch.iter().all(|n| n.runs.len() <= per_node), "{what}");
                    assert!(got.launch.iter().all(|n| n.load.fits_in(n.allocatable)), "{what}");
                    let mut seen: Vec<&str> = got
                        .place
                        .iter()
                        .map(|p| p.run.as_str())
                        .chain(got.launch.iter().flat_map(|n| n.runs.iter().map(String::as_str)))
                        .chain(got.waiting.iter().map(|w| w.run.as_str()))
                        .chain(got.too_big.iter().map(|t| t.run.as_str()))
                        .collect();
                    seen.sort_unstable();
                    let mut want: Vec<&str> = pending.iter().map(|p| p.run.as_str()).collect();
                    want.sort_unstable();
                    assert_eq!(seen, want, "{what}");
                }
            }
        }
    }
}
