//! ClusterPools on the eks provider against moto (the operator's real AWS SDK,
//! `--aws-endpoint-url` pointing at moto on 127.0.0.1) and the real control
//! plane. Nothing boots moto's instances: e2e/src/eks_nodes.rs plays their
//! kubelets, reading each instance's user data as nodeadm would and
//! registering the Node it describes, which kwok makes Ready and whose Pods
//! it runs (and finishes: e2e/kwok).
//!
//! - Six runs of 1 CPU / 2Gi, two per node: exactly three m5.xlarge
//!   instances are launched, each run's Job is pinned to one of their Nodes
//!   and its Pod runs there, every run succeeds, the pool lists the nodes;
//!   idle for idleTimeout, every instance is cordoned and terminated; deleting
//!   the pool leaves no instance and deletes its launch template.
//! - Two spot nodes lost mid-run: one warned through the pool's
//!   interruption queue (moto's launcher plays EventBridge), whose run moves
//!   before EC2 reclaims anything, and one reclaimed without a warning
//!   (moto's control API), whose run is interrupted once its Node goes.
//!   Both runs are retried on new nodes although the job allows no retries;
//!   the losses open the breaker, so those nodes are on-demand; after
//!   coolDown the breaker closes and new nodes are spot.
//! - An operator killed right after its first CreateFleet: its successor
//!   launches nothing beyond the plan (maxClusters leaves room for a
//!   duplicate, so one would show).
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use ade_e2e::{
    Namespace, Operator, apply,
    ec2::{self, Instance},
    eks_nodes::{Change, EksNodes},
    event_messages, get_json, install_chart_once, kubectl_ok,
    moto::{InterruptionEvent, Moto},
    objects, wait_for,
};
use jiff::Timestamp;
use serde_json::Value;

const POOL: &str = "eks-nodes";
/// The SQS queue EventBridge delivers EC2's notices to.
const QUEUE: &str = "ade-interruptions";
const ZONE: &str = "us-east-1b";

const JOB: &str = "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: orders}
spec:
  poolRef: {name: eks-nodes}
  window: {size: 1h}
  backfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T06:00:00Z', parallelism: 6}
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}']
      resources: {requests: {cpu: '1', memory: 2Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 20s}}
";

/// Three one-hour batches of 60 s each, never retried after a failure.
const JOB_NO_RETRIES: &str = "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: orders}
spec:
  poolRef: {name: eks-nodes}
  window: {size: 1h}
  backfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T03:00:00Z', parallelism: 3}
  retries: {limit: 0}
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}']
      resources: {requests: {cpu: '1', memory: 2Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 60s}}
";

fn pool_yaml(ami: &str, subnet: &str, max_clusters: u32) -> String {
    pool_yaml_with(
        ami,
        subnet,
        &format!("{{maxClusters: {max_clusters}, maxRunsPerCluster: 2, idleTimeout: 20s}}"),
        "",
    )
}

/// The pool with `capacity` and `extra` lines under `spec.eks`.
fn pool_yaml_with(ami: &str, subnet: &str, capacity: &str, extra: &str) -> String {
    format!(
        "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: {POOL}}}
spec:
  provider: eks
  region: us-east-1
  capacity: {capacity}
  eks:
    clusterName: data
    instanceTypes: [m5.xlarge]
    subnetIds: [{subnet}]
    amiId: {ami}
    nodeLabels: {{team: data}}
    registrationTimeout: 10m
{extra}"
    )
}

/// The operator as `identity`, its EC2 calls going to `moto`.
fn operator(identity: &str, moto: &Moto) -> Operator {
    let endpoint = format!("--aws-endpoint-url={}", moto.endpoint());
    Operator::start_with(
        identity,
        &[&endpoint],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    )
}

/// A namespace with the eks pool (at most `max_clusters` nodes) and the job,
/// an operator and the kubelets of the pool's nodes on a moto of their own;
/// the pool's uid. Dropped in reverse: operator, kubelets, moto, namespace.
fn pool_and_job(name: &str, max_clusters: u32) -> (Namespace, Moto, String, EksNodes, Operator) {
    pool_and(name, |ami, subnet| pool_yaml(ami, subnet, max_clusters), JOB)
}

/// [`pool_and_job`] with the pool `pool` renders (from the AMI and subnet) and `job`.
fn pool_and(
    name: &str,
    pool: impl FnOnce(&str, &str) -> String,
    job: &str,
) -> (Namespace, Moto, String, EksNodes, Operator) {
    install_chart_once();
    let ns = Namespace::create(name);
    let moto = Moto::start();
    // us-east-1's m5.xlarge spot price of a recent day (moto answers 0.00001).
    moto.set_spot_prices(&[("m5.xlarge", 0.0712)]);
    let (ami, subnet) = ec2::ami_and_subnet(&moto, ZONE);
    // The pool names the cluster only: its nodes join what DescribeCluster gives.
    ec2::eks_cluster(&moto, "data", &subnet);
    let operator = operator(name, &moto);
    apply(&ns.name, &pool(&ami, &subnet));
    let uid = kubectl_ok(&[
        "get",
        "clusterpool",
        POOL,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let uid = uid.trim().to_owned();
    let nodes = EksNodes::start(&moto, Some(uid.as_str()));
    apply(&ns.name, job);
    (ns, moto, uid, nodes, operator)
}

fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or_default()
}

fn all_succeeded(ns: &str, timeout: Duration) -> Vec<Value> {
    succeeded(ns, 6, timeout)
}

fn succeeded(ns: &str, count: usize, timeout: Duration) -> Vec<Value> {
    wait_for(&format!("{count} runs to succeed"), timeout, || {
        let runs = objects(ns, &["etlruns"]);
        (runs.len() == count && runs.iter().all(|r| phase(r) == "Succeeded")).then_some(runs)
    })
}

fn pool_instances(moto: &Moto, uid: &str) -> Vec<Instance> {
    ec2::instances(moto, Some(uid)).expect("moto lists the instances")
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

/// Every Job of the pool is pinned to the Node of the instance it names and
/// tolerates the pool's taint, every Pod ran on a Node of the pool, never
/// more than two Jobs at once on a node, and every run's Job is among them:
/// the instance of each Job.
fn assert_pinned(ns: &str, uid: &str, nodes: &EksNodes, runs: &[Value]) -> BTreeMap<String, String> {
    let jobs = objects(ns, &["jobs", "-l", &format!("ade.dev/pool-uid={uid}")]);
    let mut on: BTreeMap<String, String> = BTreeMap::new();
    let mut spans: BTreeMap<String, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
    for job in &jobs {
        let name = job["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let pod = &job["spec"]["template"]["spec"];
        let host = pod["nodeSelector"]["kubernetes.io/hostname"]
            .as_str()
            .unwrap_or_default();
        let instance = job["metadata"]["labels"]["ade.dev/instance-id"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            nodes.node_of(instance).as_deref(),
            Some(host),
            "{name} is pinned to its instance's Node: {job}"
        );
        assert_eq!(pod["nodeSelector"]["ade.dev/pool-uid"], uid, "{job}");
        let tolerated = pod["tolerations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["key"] == "ade.dev/pool-uid" && t["value"] == uid && t["effect"] == "NoSchedule");
        assert!(tolerated, "{name} tolerates the pool's taint: {job}");
        if let (Some(start), Some(end)) = (
            time(&job["status"]["startTime"]),
            time(&job["status"]["completionTime"]),
        ) {
            spans.entry(instance.to_owned()).or_default().push((start, end));
        }
        on.insert(name, instance.to_owned());
    }
    for (instance, times) in &spans {
        let most = times
            .iter()
            .map(|(at, _)| times.iter().filter(|(s, e)| s <= at && at < e).count())
            .max()
            .unwrap_or(0);
        assert!(
            most <= 2,
            "{most} Jobs at once on {instance} (maxRunsPerCluster 2): {times:?}"
        );
    }
    for run in runs {
        let attempts = run["status"]["attempts"].as_array().cloned().unwrap_or_default();
        let job = attempts.last().and_then(|a| a["jobName"].as_str()).unwrap_or_default();
        assert!(
            on.contains_key(job),
            "the Job {job:?} of {run} is one of the pool's: {on:?}"
        );
    }
    let ours: BTreeSet<String> = nodes.joined().into_iter().map(|j| j.node).collect();
    for pod in objects(ns, &["pods"]) {
        if let Some(node) = pod["spec"]["nodeName"].as_str() {
            assert!(
                ours.contains(node),
                "Pod {} ran on {node}, not a Node of the pool",
                pod["metadata"]["name"]
            );
        }
    }
    on
}

/// Deletes the pool: no instance of it is left and its launch template is gone.
fn delete_pool(ns: &str, moto: &Moto, uid: &str) {
    let template = format!("ade-{ns}-{POOL}");
    assert!(
        ec2::launch_template_exists(moto, &template),
        "the pool's launch template {template}"
    );
    kubectl_ok(&["delete", "clusterpool", POOL, "-n", ns, "--wait=true", "--timeout=90s"]);
    let live: Vec<Instance> = pool_instances(moto, uid)
        .into_iter()
        .filter(Instance::is_live)
        .collect();
    assert!(live.is_empty(), "instances left after the pool was deleted: {live:?}");
    assert!(
        !ec2::launch_template_exists(moto, &template),
        "{template} is deleted with the pool"
    );
    println!("deleted the pool: no live instance, launch template {template} gone");
}

fn print_status(what: &str, pool: &Value) {
    let yaml = serde_saphyr::to_string(&pool["status"]).unwrap_or_default();
    println!("ClusterPool {POOL} status, {what}:\n{yaml}");
}

fn print_nodes(nodes: &EksNodes) {
    for e in nodes.events() {
        let what = match e.change {
            Change::Registered => "registered".to_owned(),
            Change::Deleted { cordoned } => format!("deleted (cordoned: {cordoned})"),
        };
        println!("{}  {}  Node {}  {what}", e.at, e.instance, e.node);
    }
}

#[test]
fn six_runs_get_three_nodes_that_are_terminated_once_idle() {
    let (ns, moto, uid, nodes, _operator) = pool_and_job("eks", 3);

    // Three nodes join, and the pool lists them with their type, zone and Node
    // and the runs on them.
    let ready = wait_for(
        "three READY nodes in the pool's status",
        Duration::from_secs(180),
        || {
            let pool = get_json(&ns.name, &["clusterpool", POOL])?;
            let clusters = pool["status"]["clusters"].as_array()?;
            let listed = clusters.iter().filter(|c| {
                let id = c["id"].as_str().unwrap_or_default();
                c["state"] == "READY" && nodes.node_of(id).is_some_and(|n| c["nodeName"] == n.as_str())
            });
            // Listed once the pool has seen the runs on them.
            let busy = pool["status"]["runningRuns"].as_i64().unwrap_or(0) > 0;
            (clusters.len() == 3 && listed.count() == 3 && busy).then_some(pool)
        },
    );
    for c in ready["status"]["clusters"].as_array().into_iter().flatten() {
        assert_eq!(c["instanceType"], "m5.xlarge", "{c}");
        assert_eq!(c["zone"], ZONE, "{c}");
        assert_eq!(c["market"], "spot", "{c}");
        assert!(c["estimatedCostUSD"].is_string(), "each node's cost so far: {c}");
    }
    print_status("three nodes running the backfill", &ready);

    let runs = all_succeeded(&ns.name, Duration::from_secs(300));
    let jobs = assert_pinned(&ns.name, &uid, &nodes, &runs);
    for run in &runs {
        let attempt = &run["status"]["attempts"][0];
        assert!(attempt["estimatedCostUSD"].is_string(), "{run}");
        assert_eq!(attempt["estimatedCostUSD"], run["status"]["estimatedCostUSD"], "{run}");
    }
    println!(
        "EtlRun {} status:\n{}",
        runs[0]["metadata"]["name"].as_str().unwrap_or_default(),
        serde_saphyr::to_string(&runs[0]["status"]).unwrap_or_default()
    );
    let launched = pool_instances(&moto, &uid);
    assert_eq!(
        launched.len(),
        3,
        "exactly three instances for six runs, two per node: {launched:?}"
    );
    let requests: BTreeSet<&str> = launched
        .iter()
        .filter_map(|i| i.tags.get("ade.dev/request").map(String::as_str))
        .collect();
    assert_eq!(requests.len(), 3, "one request each: {launched:?}");
    for i in &launched {
        assert_eq!(i.instance_type, "m5.xlarge", "{i:?}");
        assert_eq!(
            i.tags.get("kubernetes.io/cluster/data").map(String::as_str),
            Some("owned"),
            "{i:?}"
        );
        assert_eq!(
            i.tags.get("ade.dev/managed-by").map(String::as_str),
            Some("ade-system/ade-operator"),
            "{i:?}"
        );
    }
    assert!(nodes.failures().is_empty(), "{:?}", nodes.failures());
    for joined in nodes.joined() {
        let r = &joined.registration;
        assert_eq!(r.cluster, "data");
        assert_eq!(r.labels.get("ade.dev/pool-uid"), Some(&uid), "{r:?}");
        assert_eq!(r.labels.get("ade.dev/pool").map(String::as_str), Some(POOL), "{r:?}");
        assert_eq!(r.labels.get("team").map(String::as_str), Some("data"), "{r:?}");
        let taints: Vec<String> = r
            .taints
            .iter()
            .map(|t| format!("{}={}:{}", t.key, t.value, t.effect))
            .collect();
        assert_eq!(taints, [format!("ade.dev/pool-uid={uid}:NoSchedule")]);
        println!(
            "{} joined as {} from user data read by {:?}",
            joined.instance.id, joined.node, joined.instance.user_data_from
        );
    }
    println!("Jobs and the instances they ran on: {jobs:?}");

    // Idle for idleTimeout (20s): every instance is terminated, its Node cordoned first.
    let started = Instant::now();
    let gone = wait_for(
        "every instance to be terminated once idle",
        Duration::from_secs(240),
        || {
            let all = ec2::instances(&moto, Some(uid.as_str()))?;
            (all.len() == 3 && all.iter().all(|i| !i.is_live())).then_some(all)
        },
    );
    println!(
        "all instances terminated {:?} after the last run succeeded",
        started.elapsed()
    );
    wait_for(
        "the Nodes of the terminated instances to go",
        Duration::from_secs(30),
        || nodes.live().is_empty().then_some(()),
    );
    let deleted: Vec<(String, bool)> = nodes
        .events()
        .into_iter()
        .filter_map(|e| match e.change {
            Change::Deleted { cordoned } => Some((e.instance, cordoned)),
            Change::Registered => None,
        })
        .collect();
    assert_eq!(deleted.len(), 3, "{deleted:?}");
    assert!(
        deleted.iter().all(|(_, cordoned)| *cordoned),
        "cordoned before terminated: {deleted:?}"
    );
    // Events of one reason on one pool form a series (kube's Recorder keeps
    // the first note and counts the rest): one of the instances is named.
    let notes = event_messages(&ns.name, "NodeTerminated");
    assert!(
        notes.iter().any(|n| gone
            .iter()
            .any(|i| n.contains(&format!("terminated instance {}", i.id)))
            && n.contains("idle for")),
        "{notes:?}"
    );
    let idle = wait_for("the pool to list no node", Duration::from_secs(60), || {
        let pool = get_json(&ns.name, &["clusterpool", POOL])?;
        (pool["status"]["clusterCount"] == 0).then_some(pool)
    });
    print_status("after idleTimeout", &idle);
    print_nodes(&nodes);
    println!(
        "instances: {:?}",
        gone.iter().map(|i| (&i.id, &i.state)).collect::<Vec<_>>()
    );

    delete_pool(&ns.name, &moto, &uid);
}

#[test]
fn an_operator_killed_after_its_first_fleet_launches_nothing_beyond_the_plan() {
    // maxClusters 4: a node launched twice would not be hidden by the cap.
    let (ns, moto, uid, nodes, mut first) = pool_and_job("eks-restart", 4);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !first.log().contains("launched a node") {
        assert!(Instant::now() < deadline, "no node launched:\n{}", first.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill();
    let at_kill = pool_instances(&moto, &uid);
    let pool = get_json(&ns.name, &["clusterpool", POOL]).expect("the pool");
    let recorded: Vec<&str> = pool["status"]["clusterRequests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    println!(
        "killed the operator after its first CreateFleet: instances {:?}, requests recorded {recorded:?}",
        at_kill.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    assert!(!at_kill.is_empty());

    let restarted = Instant::now();
    let _second = operator("eks-restart-b", &moto);
    let runs = all_succeeded(&ns.name, Duration::from_secs(420));
    println!("six runs succeeded {:?} after the restart", restarted.elapsed());
    assert_pinned(&ns.name, &uid, &nodes, &runs);
    let all = pool_instances(&moto, &uid);
    assert!(
        (1..=3).contains(&all.len()),
        "at most three nodes for six runs, two per node, whatever the restart: {all:?}"
    );
    let requests: BTreeSet<&str> = all
        .iter()
        .filter_map(|i| i.tags.get("ade.dev/request").map(String::as_str))
        .collect();
    assert_eq!(requests.len(), all.len(), "no request launched twice: {all:?}");
    for i in &at_kill {
        assert!(all.iter().any(|a| a.id == i.id), "{} is still the pool's", i.id);
    }
    print_nodes(&nodes);
    println!(
        "instances: {:?}",
        all.iter()
            .map(|i| (&i.id, &i.state, i.tags.get("ade.dev/request")))
            .collect::<Vec<_>>()
    );
    delete_pool(&ns.name, &moto, &uid);
}

#[test]
fn warned_and_reclaimed_spot_nodes_retry_their_runs_on_demand_without_using_their_retries() {
    // One run per node, three spot nodes; one is warned through the pool's
    // interruption queue, another reclaimed without a warning; 1 of 3 is
    // above maxRate 20%.
    let (ns, moto, uid, nodes, _operator) = pool_and(
        "eks-spot",
        |ami, subnet| {
            pool_yaml_with(
                ami,
                subnet,
                "{maxClusters: 6, maxRunsPerCluster: 1, idleTimeout: 20s}",
                &format!(
                    "    interruptions: {{maxRate: 0.2, window: 1h, coolDown: 45s}}\n    interruptionQueue: {QUEUE}\n"
                ),
            )
        },
        JOB_NO_RETRIES,
    );
    moto.create_queue(QUEUE);
    let on: BTreeMap<String, String> = wait_for(
        "three runs running on three spot nodes",
        Duration::from_secs(180),
        || {
            let jobs = objects(&ns.name, &["jobs", "-l", &format!("ade.dev/pool-uid={uid}")]);
            let running: BTreeMap<String, String> = jobs
                .iter()
                .filter(|j| j["status"]["active"].as_i64().unwrap_or(0) > 0)
                .filter_map(|j| {
                    let instance = j["metadata"]["labels"]["ade.dev/instance-id"].as_str()?;
                    nodes.node_of(instance)?;
                    Some((j["metadata"]["name"].as_str()?.to_owned(), instance.to_owned()))
                })
                .collect();
            (running.len() == 3).then_some(running)
        },
    );
    let mut victims = on.iter().map(|(j, i)| (j.clone(), i.clone()));
    let (warned_job, warned) = victims.next().expect("a run");
    let (reclaimed_job, reclaimed) = victims.next().expect("a second run");
    // EventBridge puts EC2's two-minute warning on the queue; another
    // instance is reclaimed with no warning (EC2 may give none in time).
    moto.send_interruption_event(QUEUE, &warned, InterruptionEvent::SpotWarning);
    moto.interrupt_spot_instance(&reclaimed);
    println!("EC2 warned {warned}, which ran {warned_job}, and reclaimed {reclaimed}, which ran {reclaimed_job}");

    let runs = succeeded(&ns.name, 3, Duration::from_secs(300));
    let run_of = |job: &str| {
        runs.iter()
            .find(|r| {
                r["status"]["attempts"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["jobName"] == job))
            })
            .unwrap_or_else(|| panic!("the run of {job}"))
            .clone()
    };
    let mut retried_on = Vec::new();
    for (job, moved) in [
        (&warned_job, "spot-interruption-warning"),
        (&reclaimed_job, "went away"),
    ] {
        let hit = run_of(job);
        let attempts = hit["status"]["attempts"].as_array().cloned().unwrap_or_default();
        assert_eq!(attempts.len(), 2, "{hit}");
        assert_eq!(attempts[0]["outcome"], "Interrupted", "{hit}");
        assert!(
            attempts[0]["message"].as_str().is_some_and(|m| m.contains(moved)),
            "{hit}"
        );
        assert_eq!(attempts[1]["outcome"], "Succeeded", "{hit}");
        // Each attempt carries its share of its node; the run's cost is their sum.
        let usd = |v: &Value| v["estimatedCostUSD"].as_str().and_then(|s| s.parse::<f64>().ok());
        assert!(usd(&attempts[1]).is_some_and(|c| c > 0.0), "{hit}");
        let run_cost = usd(&hit["status"]).expect("the run's cost");
        let sum: f64 = attempts.iter().filter_map(usd).sum();
        assert!((run_cost - sum).abs() < 0.0001, "{run_cost} vs {sum}: {hit}");
        let retry_job = attempts[1]["jobName"].as_str().unwrap_or_default().to_owned();
        retried_on.push(kubectl_ok(&[
            "get",
            "job",
            &retry_job,
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.metadata.labels.ade\\.dev/instance-id}",
        ]));
        println!("{hit}");
    }
    let third = runs
        .iter()
        .find(|r| r["status"]["attempts"].as_array().map(Vec::len) == Some(1))
        .expect("the run no interruption touched");
    assert_eq!(runs.len(), 3, "{third}");
    // Two nodes were launched for the retries, on-demand while the breaker
    // was open, and each retry ran on one.
    let instances = pool_instances(&moto, &uid);
    let market = |i: &Instance| i.tags.get("ade.dev/market").cloned().unwrap_or_default();
    let bought: Vec<(String, String)> = instances.iter().map(|i| (i.id.clone(), market(i))).collect();
    assert_eq!(
        instances.len(),
        5,
        "three spot nodes and two for the retries: {bought:?}"
    );
    assert_eq!(
        bought.iter().filter(|(_, m)| m == "on-demand").count(),
        2,
        "the nodes launched after the interruptions are on-demand: {bought:?}"
    );
    for on in &retried_on {
        let node = instances
            .iter()
            .find(|i| i.id == on.trim())
            .unwrap_or_else(|| panic!("{on} among {instances:?}"));
        assert_eq!(market(node), "on-demand", "{bought:?}");
    }
    // The warned instance carries the warning; the queue is drained.
    let warned_tag = instances
        .iter()
        .find(|i| i.id == warned)
        .and_then(|i| i.tags.get("ade.dev/interruption").cloned())
        .unwrap_or_default();
    assert!(warned_tag.starts_with("spot-interruption-warning "), "{warned_tag:?}");
    let told = event_messages(&ns.name, "SpotInterruptionWarning");
    assert!(
        told.iter().any(|m| m.contains(&warned) && m.contains(&warned_job)),
        "{told:?}"
    );
    let told = event_messages(&ns.name, "SpotInterrupted");
    assert!(told.iter().any(|m| m.contains(&reclaimed)), "{told:?}");
    let opened = event_messages(&ns.name, "BreakerOpened");
    assert!(
        opened.iter().any(|m| m.contains(" of 3 spot instances interrupted")),
        "{opened:?}"
    );
    println!("retried on {retried_on:?}; instances {bought:?}; BreakerOpened: {opened:?}");

    // After coolDown (45 s) the breaker closes: new nodes are spot again.
    let closed = wait_for(
        "the breaker to close after its cool-down",
        Duration::from_secs(150),
        || {
            let pool = get_json(&ns.name, &["clusterpool", POOL])?;
            (pool["status"]["breaker"]["state"] == "Closed" && pool["status"]["breaker"]["market"] == "spot")
                .then_some(pool)
        },
    );
    print_status("after the breaker's cool-down", &closed);
    print_nodes(&nodes);
    delete_pool(&ns.name, &moto, &uid);
}
