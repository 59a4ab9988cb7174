//! Issue 13, item 2 (the short version in `make test`): runs on a kubernetes
//! pool and an emr pool complete exactly once while the operator is
//! SIGKILLed (the Lease holder of two competing replicas) and replaced at
//! seeded random moments, the kube-apiserver is
//! restarted once, and every AWS call goes
//! through the fault proxy (`ade_moto::faults`: 20% throttling, 5% server
//! errors, the first `RunJobFlow`'s answer lost after EMR created the
//! cluster). At the end, from the API server and the emulator (never the
//! operator's logs): every run `Succeeded` with one attempt; one Job per
//! (run, attempt); one EMR step per (run, attempt); as many `RunJobFlow`
//! calls that reached EMR as clusters; after the pools and jobs are deleted,
//! no live cluster and no Job. A figures table is printed, with the seed
//! (`ADE_CHAOS_SEED` replays one; `ADE_CHAOS_RUNS` scales the kubernetes
//! backfill; `ADE_CHAOS_KILL_EVERY` sets the seconds between kills).

use std::{
    sync::Once,
    time::{Duration, Instant},
};

use ade_e2e::{Moto, Namespace, Operator, S3, get_json, install_chart, kubectl_ok, kubectl_with_stdin, wait_for};
use ade_moto::faults::{Draws, FailPoint, FaultProxy, Faults};
use serde_json::Value;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
}

fn apply(ns: &str, yaml: &str) {
    let out = kubectl_with_stdin(&["apply", "-n", ns, "-f", "-"], yaml);
    assert!(out.success, "kubectl apply failed:\n{}\n{yaml}", out.stderr);
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn objects(ns: &str, kind: &str) -> Vec<Value> {
    get_json(ns, &[kind])
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

/// moto's EMR state: (cluster id, state) of the clusters named with `prefix`,
/// and the names of every step on them.
fn emr_state(moto: &Moto, prefix: &str) -> (Vec<(String, String)>, Vec<String>) {
    let out = moto.boto3(&format!(
        "emr = boto3.client('emr', region_name='us-east-1')\n\
         cs = [c for c in emr.list_clusters()['Clusters'] if c['Name'].startswith({prefix:?})]\n\
         steps = [s['Name'] for c in cs for s in emr.list_steps(ClusterId=c['Id'])['Steps']]\n\
         print(json.dumps({{'clusters': [[c['Id'], c['Status']['State']] for c in cs], 'steps': steps}}))\n"
    ));
    let v: Value = serde_json::from_str(out.trim()).expect("moto's answer");
    let clusters = v["clusters"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c[0].as_str().unwrap_or("").to_owned(),
                        c[1].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let steps = v["steps"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (clusters, steps)
}

fn start(i: u32, endpoint: &str) -> Operator {
    Operator::start_with(
        &format!("chaos-{i}"),
        &[&format!("--aws-endpoint-url={endpoint}")],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    )
}

#[test]
fn runs_complete_exactly_once_while_the_operator_is_killed_and_aws_struggles() {
    setup();
    let seed = env_or("ADE_CHAOS_SEED", 42);
    let k_runs = env_or("ADE_CHAOS_RUNS", 8);
    // Seconds between kills: a draw in [every, 2 × every).
    let every = env_or("ADE_CHAOS_KILL_EVERY", 8);
    let e_runs = 3;
    let mut draws = Draws::new(seed);
    let ns = Namespace::create("chaos");
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        moto.port(),
        Faults {
            throttle: 0.20,
            error: 0.05,
            fail_once: Some(("RunJobFlow".into(), FailPoint::After)),
            ..Faults::none(seed)
        },
    );
    let started = Instant::now();
    let mut kills = 0;
    // Two replicas compete for the Lease: the leader is the one killed.
    let mut started_operators = 0;
    let mut launch = || {
        started_operators += 1;
        start(started_operators, &proxy.endpoint())
    };
    let mut replicas = vec![launch(), launch()];
    let k_to = jiff::Timestamp::from_second(1_793_491_200 + i64::try_from(k_runs).unwrap_or(0) * 3600)
        .expect("the backfill's end");
    apply(
        &ns.name,
        &format!(
            "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: batch}}
spec: {{provider: kubernetes, capacity: {{maxConcurrentRuns: 3}}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: k}}
spec:
  poolRef: {{name: batch}}
  window: {{size: 1h}}
  backfill: {{from: '2026-11-01T00:00:00Z', to: '{k_to}', parallelism: 3}}
  historyLimit: {{succeeded: 1000, failed: 1000}}
  task:
    container:
      image: busybox
      podMetadata: {{annotations: {{e2e.ade.dev/duration: 3s}}}}
---
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {{name: spark}}
spec:
  provider: emr
  region: us-east-1
  capacity: {{maxClusters: 2, maxRunsPerCluster: 2, idleTimeout: 20s}}
  emr:
    releaseLabel: emr-7.5.0
    applications: [Spark]
    serviceRole: EMR_DefaultRole
    instanceProfile: EMR_EC2_DefaultRole
    primary: {{instanceTypes: [m5.xlarge], onDemand: 1}}
    core: {{instanceTypes: [r5.xlarge], spot: 2}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: e}}
spec:
  poolRef: {{name: spark}}
  window: {{size: 1h}}
  backfill: {{from: '2026-11-02T00:00:00Z', to: '2026-11-02T{e_runs:02}:00:00Z', parallelism: 3}}
  historyLimit: {{succeeded: 1000, failed: 1000}}
  task:
    sparkSubmit: {{mainApplicationFile: 's3://code/e.py'}}
"
        ),
    );
    let want = usize::try_from(k_runs + e_runs).unwrap_or(usize::MAX);
    let deadline_secs = 120 + 6 * (k_runs + e_runs);
    let prefix = format!("ade-{}-spark-", ns.name);
    let mut next_kill = Instant::now() + Duration::from_secs(draws.between(every, 2 * every));
    // The kube-apiserver is restarted once, at a seeded moment early in the run.
    let mut restart_at = Some(Instant::now() + Duration::from_secs(draws.between(5, 15)));
    let (mut apiserver_restarts, mut exits) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(deadline_secs);
    loop {
        let runs = objects(&ns.name, "etlruns");
        let done = runs.iter().filter(|r| r["status"]["phase"] == "Succeeded").count();
        if runs.len() == want && done == want {
            break;
        }
        if Instant::now() >= deadline {
            let stuck: Vec<String> = runs
                .iter()
                .filter(|r| r["status"]["phase"] != "Succeeded")
                .map(|r| format!("{}: {}", r["metadata"]["name"], r["status"]))
                .collect();
            let pools = objects(&ns.name, "clusterpools");
            let pool_status: Vec<String> = pools.iter().map(|p| p["status"].to_string()).collect();
            panic!(
                "seed {seed}: {done} of {want} runs succeeded after {deadline_secs} s ({} runs exist)\nstuck: {stuck:#?}\npools: {pool_status:#?}\nEMR: {:?}\noperator log:\n{}",
                runs.len(),
                emr_state(&moto, &prefix),
                replicas
                    .iter()
                    .flat_map(|r| r.log().lines().rev().take(20).map(str::to_owned).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        // moto never advances steps: start the pending ones, complete the running ones.
        for run in &runs {
            let next = match run["status"]["phase"].as_str() {
                Some("Provisioning") => "RUNNING",
                Some("Running") => "COMPLETED",
                _ => continue,
            };
            let attempt = &run["status"]["attempts"][0];
            if let (Some(cluster), Some(step)) = (attempt["clusterId"].as_str(), attempt["stepId"].as_str()) {
                moto.set_step_state(cluster, step, next);
            }
        }
        if restart_at.is_some_and(|at| Instant::now() >= at) {
            let cluster = ade_e2e::repo_root().join("e2e/cluster");
            let out = std::process::Command::new(cluster)
                .arg("restart-apiserver")
                .output()
                .expect("running e2e/cluster restart-apiserver");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            apiserver_restarts += 1;
            restart_at = None;
        }
        for replica in &mut replicas {
            if replica.exited().is_some() {
                // A leader whose renewals failed (e.g. while the apiserver was
                // down) steps down by design; a new replica joins.
                exits += 1;
                *replica = launch();
            }
        }
        if Instant::now() >= next_kill {
            let holder = ade_e2e::lease_holder();
            let leader = replicas
                .iter()
                .position(|r| Some(&r.identity) == holder.as_ref())
                .unwrap_or(0);
            replicas[leader].kill();
            kills += 1;
            replicas[leader] = launch();
            next_kill = Instant::now() + Duration::from_secs(draws.between(every, 2 * every));
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    let runs = objects(&ns.name, "etlruns");
    for run in &runs {
        let name = run["metadata"]["name"].as_str().unwrap_or_default();
        let attempts = run["status"]["attempts"].as_array().map_or(0, Vec::len);
        assert_eq!(
            attempts, 1,
            "seed {seed}: {name} took {attempts} attempts: {}",
            run["status"]
        );
    }
    let jobs = kubectl_ok(&["get", "jobs.batch", "-n", &ns.name, "-o", "name"]);
    let jobs: Vec<&str> = jobs.lines().collect();
    assert_eq!(
        jobs.len(),
        usize::try_from(k_runs).unwrap_or(0),
        "seed {seed}: one Job per kubernetes run: {jobs:?}"
    );
    let (clusters, steps) = emr_state(&moto, &prefix);
    for run in runs.iter().filter(|r| r["spec"]["jobRef"]["name"] == "e") {
        let name = run["metadata"]["name"].as_str().unwrap_or_default();
        let mine = steps
            .iter()
            .filter(|s| s.starts_with(&format!("ade:{}/{name}#1 ", ns.name)))
            .count();
        assert_eq!(mine, 1, "seed {seed}: one step for {name}: {steps:?}");
    }
    let stats = proxy.stats();
    let reached = stats.calls.get("RunJobFlow").copied().unwrap_or(0)
        - stats.injected_by_operation.get("RunJobFlow").copied().unwrap_or(0)
        + 1; // the lost answer reached EMR
    assert_eq!(
        usize::try_from(reached).unwrap_or(0),
        clusters.len(),
        "seed {seed}: RunJobFlow calls that reached EMR = clusters: {clusters:?} {stats:?}"
    );

    // Nothing left behind once the pools and jobs are gone.
    kubectl_ok(&[
        "delete",
        "etljobs,clusterpools",
        "--all",
        "-n",
        &ns.name,
        "--wait=false",
    ]);
    wait_for("no Job and no live EMR cluster", Duration::from_secs(120), || {
        let jobs = kubectl_ok(&["get", "jobs.batch", "-n", &ns.name, "-o", "name"]);
        let (clusters, _) = emr_state(&moto, &prefix);
        let live = clusters.iter().filter(|(_, s)| !s.starts_with("TERMINATED")).count();
        (jobs.trim().is_empty() && live == 0).then_some(())
    });
    let leaked = 0;
    println!(
        "chaos figures: seed {seed}; runs {want} ({k_runs} kubernetes, {e_runs} emr); operator kills {kills}; \
         2 replicas competing; operator exits on lost tenure {exits}; kube-apiserver restarts {apiserver_restarts}; AWS calls {}; faults injected {:?}; EMR clusters {}; duplicates 0; leaked {leaked}; wall time {} s",
        stats.calls.values().sum::<u64>(),
        stats.injected,
        clusters.len(),
        started.elapsed().as_secs()
    );
    drop(replicas);
}
