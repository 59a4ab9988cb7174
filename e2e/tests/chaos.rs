//! Issue 13, item 2 (the short version in `make test`; `make chaos` runs it
//! at scale): while the operator is SIGKILLed (the Lease holder of two
//! competing replicas) and replaced at seeded random moments, the
//! kube-apiserver is restarted once, and every AWS call — the operator's and
//! `ade-validate`'s — goes through the fault proxy (`ade_moto::faults`: 20%
//! throttling, 5% server errors, the first `RunJobFlow`'s answer lost after
//! EMR created the cluster, the first `CreateFleet`'s after EC2 launched the
//! node), a mix of work runs on a kubernetes pool, an emr pool and an eks
//! pool (its nodes' kubelets played by `ade_e2e::eks_nodes`): backfills, a
//! task that fails and is retried, a cancel on each of kubernetes and emr, a
//! rerun, and a gated job whose suite runs the real `ade-validate`, with a
//! job that depends on it.
//!
//! At the end, from the API server and the emulator (never the operator's
//! logs): every run reached its expected phase with its expected attempts,
//! and each batch has one run (two for the rerun batch); one Job per (run,
//! attempt); one EMR step per (run, attempt), the cancelled one cancelled; as
//! many `RunJobFlow` calls that reached EMR as clusters, and one eks node per
//! request the pool recorded; every gated batch
//! validated once, and each dependent batch started only after its upstream
//! batch was; after the pools, jobs and suite are deleted, no live cluster and
//! no Job and no live instance. A figures table is printed, with the seed (`ADE_CHAOS_SEED`
//! replays one; `ADE_CHAOS_RUNS` scales the kubernetes backfill;
//! `ADE_CHAOS_KILL_EVERY` sets the seconds between kills).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Once,
    time::{Duration, Instant},
};

use ade_e2e::{
    Executor, Moto, Namespace, S3,
    chaos::{EKS_POOL, EKS_RUNS, GATED, RERUN_BATCH, Replicas, cancel, emr_state, expected, finished, workload},
    condition, ec2,
    eks_nodes::EksNodes,
    env_or,
    executor::validate_bin,
    install_chart, kubectl_ok, kubectl_with_stdin, label, name, objects,
};
use ade_moto::faults::{Draws, FailPoint, FaultProxy, Faults};
use serde_json::Value;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
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
    let csv = "id,amount\n1,2.5\n2,4.0\n";
    let data: Vec<(String, &str)> = GATED.iter().map(|b| (format!("g/batch={b}/part-0.csv"), csv)).collect();
    let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    moto.put("lake", &data);
    moto.put("quality", &[]);
    let proxy = FaultProxy::start(
        moto.port(),
        Faults {
            throttle: 0.20,
            error: 0.05,
            fail_once: vec![
                ("RunJobFlow".into(), FailPoint::After),
                ("CreateFleet".into(), FailPoint::After),
            ],
            ..Faults::none(seed)
        },
    );
    let started = Instant::now();
    let args = [
        format!("--aws-endpoint-url={}", proxy.endpoint()),
        "--aws-region=us-east-1".to_owned(),
        "--validator-image=ghcr.io/ade-dev/ade-operator:e2e".to_owned(),
    ];
    let mut replicas = Replicas::start(&args, every, &mut draws);
    // Validation Pods run `ade-validate` for real, on the host; the
    // operator points them at the proxy.
    let binaries = BTreeMap::from([("ade-validate".to_owned(), validate_bin())]);
    let executor = Executor::start(&ns.name, "validation", binaries, moto.env());
    // The eks pool's nodes join cluster `data`, as DescribeCluster gives it.
    let (ami, subnet) = ec2::ami_and_subnet(&moto, "us-east-1b");
    ec2::eks_cluster(&moto, "data", &subnet);
    workload(&ns.name, k_runs, e_runs, (&ami, &subnet));
    let eks_uid = kubectl_ok(&[
        "get",
        "clusterpool",
        EKS_POOL,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let _kubelets = EksNodes::start(&moto, Some(eks_uid.trim()));

    // The backfills, the two hand runs and the rerun.
    let want = usize::try_from(k_runs + e_runs + EKS_RUNS).unwrap_or(usize::MAX) + 2 + 2 * GATED.len() + 3;
    let deadline_secs = 150 + 6 * u64::try_from(want).unwrap_or(0);
    let prefix = format!("ade-{}-spark-", ns.name);
    let (mut cancelled, mut rerun) = (BTreeSet::new(), false);
    let deadline = Instant::now() + Duration::from_secs(deadline_secs);
    loop {
        let runs = objects(&ns.name, &["etlruns"]);
        let suite = objects(&ns.name, &["validationsuites"]);
        let validated = runs
            .iter()
            .filter(|r| !r["metadata"]["annotations"]["validated.ade.dev/g-quality"].is_null())
            .count();
        let idle = suite.first().is_some_and(|s| s["status"]["active"].is_null());
        if runs.len() == want && runs.iter().all(finished) && validated == GATED.len() && idle {
            break;
        }
        assert!(executor.is_running(), "seed {seed}: the e2e executor stopped");
        if Instant::now() >= deadline {
            let stuck: Vec<String> = runs
                .iter()
                .filter(|r| !finished(r))
                .map(|r| format!("{}: {}", name(r), r["status"]))
                .collect();
            panic!(
                "seed {seed}: {} of {want} runs finished, {validated} gated batches validated after {deadline_secs} s \
                 ({} runs exist)\nstuck: {stuck:#?}\nsuite: {suite:?}\nEMR: {:?}\noperator logs:\n{}",
                runs.iter().filter(|r| finished(r)).count(),
                runs.len(),
                emr_state(&moto, &prefix),
                replicas.log_tails(20)
            );
        }
        for run in &runs {
            let run_name = name(run);
            let phase = run["status"]["phase"].as_str();
            // The cancels: once each hand run is running.
            if run_name.ends_with("-cancel") && phase == Some("Running") && !cancelled.contains(run_name) {
                if cancel(&ns.name, run_name) {
                    cancelled.insert(run_name.to_owned());
                }
                continue;
            }
            // moto never advances steps: start the pending ones, complete the
            // running ones (the one to be cancelled keeps running).
            let next = match phase {
                Some("Provisioning") => "RUNNING",
                Some("Running") if !run_name.ends_with("-cancel") => "COMPLETED",
                _ => continue,
            };
            let attempt = &run["status"]["attempts"][0];
            if let (Some(cluster), Some(step)) = (attempt["clusterId"].as_str(), attempt["stepId"].as_str()) {
                moto.set_step_state(cluster, step, next);
            }
        }
        // The rerun, once the batch's first run has succeeded.
        if !rerun
            && runs
                .iter()
                .any(|r| r["spec"]["batchId"] == RERUN_BATCH && r["status"]["phase"] == "Succeeded")
        {
            let out = kubectl_with_stdin(
                &["apply", "-n", &ns.name, "-f", "-"],
                &format!(
                    "apiVersion: ade.dev/v1alpha1\nkind: EtlRun\nmetadata: {{name: k-rerun}}\n\
                     spec: {{jobRef: {{name: k}}, batchId: '{RERUN_BATCH}', reason: rerun}}\n"
                ),
            );
            rerun = out.success;
        }
        replicas.tick(&mut draws);
        std::thread::sleep(Duration::from_millis(500));
    }

    let runs = objects(&ns.name, &["etlruns"]);
    let mut per_batch: BTreeMap<(String, String), usize> = BTreeMap::new();
    for run in &runs {
        let (phase, attempts) = expected(run);
        let got = run["status"]["attempts"].as_array().map_or(0, Vec::len);
        assert_eq!(
            (run["status"]["phase"].as_str(), got),
            (Some(phase), attempts),
            "seed {seed}: {} should end {phase} after {attempts} attempts: {}",
            name(run),
            run["status"]
        );
        let batch = (
            run["spec"]["jobRef"]["name"].as_str().unwrap_or_default().to_owned(),
            run["spec"]["batchId"].as_str().unwrap_or_default().to_owned(),
        );
        *per_batch.entry(batch).or_default() += 1;
    }
    for ((job, batch), n) in &per_batch {
        let want = if job == "k" && batch == RERUN_BATCH { 2 } else { 1 };
        assert_eq!(*n, want, "seed {seed}: runs of {job} batch {batch}");
    }

    // One Job per (run, attempt), for every attempt of a kubernetes run.
    let jobs = objects(&ns.name, &["jobs.batch", "-l", "app.kubernetes.io/component=etl-run"]);
    let mut per_attempt: BTreeMap<(String, String), usize> = BTreeMap::new();
    for job in &jobs {
        let key = (
            label(job, "ade.dev/run").to_owned(),
            label(job, "ade.dev/attempt").to_owned(),
        );
        *per_attempt.entry(key).or_default() += 1;
    }
    assert!(
        per_attempt.values().all(|n| *n == 1),
        "seed {seed}: one Job per (run, attempt): {per_attempt:?}"
    );
    for run in runs.iter().filter(|r| r["spec"]["jobRef"]["name"] != "e") {
        let (phase, attempts) = expected(run);
        let mine = per_attempt.keys().filter(|(r, _)| r == name(run)).count();
        // A cancelled attempt's Job may already be gone.
        let ok = if phase == "Cancelled" {
            mine <= attempts
        } else {
            mine == attempts
        };
        assert!(ok, "seed {seed}: {mine} Jobs for {}", name(run));
    }

    // One EMR step per (run, attempt); the cancelled run's step cancelled.
    let (clusters, steps) = emr_state(&moto, &prefix);
    for run in runs.iter().filter(|r| r["spec"]["jobRef"]["name"] == "e") {
        let mine: Vec<_> = steps
            .iter()
            .filter(|s| s.name.starts_with(&format!("ade:{}/{}#1 ", ns.name, name(run))))
            .collect();
        assert_eq!(mine.len(), 1, "seed {seed}: one step for {}: {steps:?}", name(run));
        if expected(run).0 == "Cancelled" {
            assert_eq!(mine[0].state, "CANCELLED", "seed {seed}: {:?}", mine[0]);
        }
    }
    let stats = proxy.stats();
    // Calls of `op` that reached the emulator: the lost answer's did.
    let reached = |op: &str| {
        let calls = stats.calls.get(op).copied().unwrap_or(0);
        let injected = stats.injected_by_operation.get(op).copied().unwrap_or(0);
        usize::try_from(calls - injected + 1).unwrap_or(0)
    };
    assert_eq!(
        reached("RunJobFlow"),
        clusters.len(),
        "seed {seed}: RunJobFlow calls that reached EMR = clusters: {clusters:?} {stats:?}"
    );
    // One eks node per request the pool recorded: the lost answer's call,
    // sent again by the SDK with its ClientToken, launched nothing more, and
    // its node was found by its request tag rather than launched again.
    let nodes = ec2::instances(&moto, Some(eks_uid.trim())).expect("moto lists the instances");
    assert!(
        !nodes.is_empty() && nodes.len() <= reached("CreateFleet"),
        "seed {seed}: eks nodes, at most one per CreateFleet that reached EC2: {nodes:?} {stats:?}"
    );
    let mut per_request: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &nodes {
        *per_request
            .entry(n.tags.get("ade.dev/request").map_or("", String::as_str))
            .or_default() += 1;
    }
    assert!(
        per_request.iter().all(|(r, n)| !r.is_empty() && *n == 1),
        "seed {seed}: one eks node per recorded request: {per_request:?}\n{nodes:#?}"
    );

    // Every gated batch validated once, passing, and each dependent batch
    // started only after its upstream batch was validated.
    let validations = objects(
        &ns.name,
        &["jobs.batch", "-l", "app.kubernetes.io/component=validation"],
    );
    for batch in GATED {
        // A republish Job (after a publisher failed) only publishes; it does not check again.
        let republish = |j: &Value| j.to_string().contains("--republish");
        let checks: Vec<&Value> = validations
            .iter()
            .filter(|j| label(j, "ade.dev/batch") == batch && !republish(j))
            .collect();
        assert_eq!(checks.len(), 1, "seed {seed}: one validation of batch {batch}");
        let gated = runs
            .iter()
            .find(|r| r["spec"]["jobRef"]["name"] == "g" && r["spec"]["batchId"] == batch)
            .expect("the gated run");
        let quarantined = condition(gated, "Quarantined").is_some_and(|c| c["status"] == "True");
        assert!(!quarantined, "seed {seed}: {}", gated["status"]);
        let checked_at = checks[0]["status"]["completionTime"].as_str().unwrap_or("~");
        let dependent = jobs
            .iter()
            .find(|j| label(j, "ade.dev/job") == "d" && j["metadata"]["annotations"]["ade.dev/batch-id"] == batch)
            .expect("the dependent batch's Job");
        let started_at = dependent["metadata"]["creationTimestamp"].as_str().unwrap_or_default();
        assert!(
            started_at >= checked_at,
            "seed {seed}: d batch {batch} started at {started_at}, before g's was validated at {checked_at}"
        );
    }

    // Nothing left behind once the pools, jobs, suite and the runs made by
    // hand (which no job owns) are gone.
    kubectl_ok(&[
        "delete",
        "validationsuites,etljobs,etlruns,clusterpools",
        "--all",
        "-n",
        &ns.name,
        "--wait=false",
    ]);
    let mut left = String::new();
    let gone = Instant::now() + Duration::from_secs(120);
    while Instant::now() < gone {
        let jobs = kubectl_ok(&["get", "jobs.batch", "-n", &ns.name, "-o", "name"]);
        let (clusters, _) = emr_state(&moto, &prefix);
        let live: Vec<_> = clusters.iter().filter(|(_, s)| !s.starts_with("TERMINATED")).collect();
        let instances = ec2::instances(&moto, Some(eks_uid.trim())).unwrap_or_default();
        let running: Vec<_> = instances.iter().filter(|i| i.is_live()).map(|i| &i.id).collect();
        if jobs.trim().is_empty() && live.is_empty() && running.is_empty() {
            left.clear();
            break;
        }
        left = format!("Jobs: {jobs}\nlive clusters: {live:?}\nlive instances: {running:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(left.is_empty(), "seed {seed}: left behind after 120 s:\n{left}");
    let phases = runs.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, r| {
        *m.entry(expected(r).0).or_default() += 1;
        m
    });
    println!(
        "chaos figures: seed {seed}; runs {want} ({k_runs} kubernetes backfill, {e_runs} emr, 2 failing after a retry, \
         {EKS_RUNS} eks, 2 cancelled, 1 rerun of a batch, {g} gated and {g} dependent); phases {phases:?}; gated batches \
         validated {g}; operator kills {}; 2 replicas competing; operator exits on lost tenure {}; kube-apiserver \
         restarts {}; AWS calls {}; faults injected {:?}; EMR clusters {}; eks nodes {}; duplicates 0; leaked 0; \
         wall time {} s",
        replicas.kills,
        replicas.exits,
        replicas.apiserver_restarts,
        stats.calls.values().sum::<u64>(),
        stats.injected,
        clusters.len(),
        nodes.len(),
        started.elapsed().as_secs(),
        g = GATED.len(),
    );
    drop(replicas);
}
