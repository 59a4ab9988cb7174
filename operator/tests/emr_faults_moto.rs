//! Issue 13, item 1: the operator's EMR calls ride through a struggling AWS.
//! The real AWS SDK talks to moto through the fault proxy (`ade_moto::faults`),
//! which throttles 20% of the calls, fails 5% with server errors, resets 2%
//! of the connections and loses the answer of the first `RunJobFlow` after
//! EMR created the cluster. The capacity reconcile and the starts are
//! repeated as the controllers repeat them (every failure is a transient
//! provider error, retried later); at the end, from moto's own state: the
//! clusters are the ones the planner needed, and every run has exactly one
//! step. Figures are printed. One seed runs in `make test` (about two
//! minutes: every throttle costs an SDK back-off); `ADE_FAULT_SEEDS=11,12,13`
//! runs others.
#![allow(clippy::unwrap_used)]

mod support;

use std::{collections::BTreeMap, sync::Arc};

use ade_moto::{
    Moto,
    faults::{FailPoint, FaultProxy, Faults},
};
use ade_operator::providers::{
    AttemptHandle, AttemptRequest, ComputeProvider,
    emr::{AwsEmr, EmrProvider, EmrSettings, breaker::BreakerState, request::step_name},
    pool::MemoryLog,
};
use jiff::Timestamp;

const POOL: &str = r#"
provider: emr
region: us-east-1
capacity: { maxClusters: 2, maxRunsPerCluster: 3, idleTimeout: 5m }
emr:
  releaseLabel: emr-7.5.0
  applications: [Spark]
  serviceRole: EMR_DefaultRole
  instanceProfile: EMR_EC2_DefaultRole
  primary: { instanceTypes: [m5.xlarge], onDemand: 1 }
  core: { instanceTypes: [r5.xlarge], spot: 2 }
"#;
const RUNS: usize = 6;

/// moto's own view: clusters of the pool (by name prefix) and the names of their steps.
async fn stored(moto: &Moto, prefix: &str) -> (Vec<String>, Vec<String>) {
    let client = support::raw(moto).await;
    let clusters: Vec<String> = client
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .iter()
        .filter(|c| c.name().is_some_and(|n| n.starts_with(prefix)))
        .filter_map(|c| c.id().map(str::to_owned))
        .collect();
    let mut steps = Vec::new();
    for id in &clusters {
        let listed = client.list_steps().cluster_id(id).send().await.unwrap();
        steps.extend(listed.steps().iter().filter_map(|s| s.name().map(str::to_owned)));
    }
    (clusters, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emr_capacity_and_steps_ride_through_throttling_errors_and_a_lost_answer() {
    let moto = Moto::start();
    let seeds: Vec<u64> = std::env::var("ADE_FAULT_SEEDS")
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![11]);
    let mut figures = Vec::new();
    for seed in seeds {
        let proxy = FaultProxy::start(
            moto.port(),
            Faults {
                throttle: 0.20,
                error: 0.05,
                reset: 0.02,
                fail_once: vec![("RunJobFlow".into(), FailPoint::After)],
                ..Faults::none(seed)
            },
        );
        let api = AwsEmr::with_static_credentials(Some(proxy.endpoint()), "testing", "testing");
        let emr = EmrProvider::new(
            Arc::new(api),
            EmrSettings {
                operator: "ade-system/ade-operator".into(),
                ..EmrSettings::default()
            },
        );
        let name = format!("faults-{seed}");
        let pool = support::pool(POOL, &name);
        let requests: Vec<AttemptRequest> = (0..RUNS)
            .map(|i| support::request(&pool, &format!("r{seed}-{i}")))
            .collect();
        // The pool's status.clusterRequests, kept across reconciles.
        let log = MemoryLog::default();
        let mut placed: BTreeMap<String, AttemptHandle> = BTreeMap::new();
        let (mut rounds, mut failures) = (0, 0);
        while placed.len() < RUNS {
            rounds += 1;
            assert!(rounds <= 60, "seed {seed}: not converged after 60 rounds: {placed:?}");
            let queued: Vec<&AttemptRequest> = requests
                .iter()
                .filter(|r| !placed.contains_key(&r.target.run))
                .collect();
            let demand = support::demand(&queued);
            if emr
                .reconcile_pool(&pool, BreakerState::default(), &demand, &log, Timestamp::now())
                .await
                .is_err()
            {
                failures += 1;
            }
            let waiting: Vec<&AttemptRequest> = requests
                .iter()
                .filter(|r| !placed.contains_key(&r.target.run))
                .collect();
            for r in waiting {
                match emr.start(r).await {
                    Ok(handle) if handle.emr_step().is_some() => {
                        placed.insert(r.target.run.clone(), handle);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        assert!(e.is_transient(), "seed {seed}: {e}");
                        failures += 1;
                    }
                }
            }
        }
        let prefix = format!("ade-analytics-{name}-");
        let (clusters, steps) = stored(&moto, &prefix).await;
        assert_eq!(
            clusters.len(),
            2,
            "seed {seed}: {RUNS} runs, 3 per cluster: {clusters:?}"
        );
        for r in &requests {
            let want = step_name(&r.target);
            let n = steps.iter().filter(|s| **s == want).count();
            assert_eq!(n, 1, "seed {seed}: one step for {want}: {steps:?}");
        }
        let stats = proxy.stats();
        assert!(
            stats.injected.get("throttle").copied().unwrap_or(0) > 0,
            "seed {seed}: {stats:?}"
        );
        assert_eq!(stats.injected.get("fail-once").copied(), Some(1), "seed {seed}");
        figures.push(format!(
            "seed {seed}: {rounds} rounds, {} AWS calls, injected {:?}, {failures} reconcile/start failures, \
             RunJobFlow calls {}, clusters {}, steps {}, duplicates 0",
            stats.calls.values().sum::<u64>(),
            stats.injected,
            stats.calls.get("RunJobFlow").copied().unwrap_or(0),
            clusters.len(),
            steps.len()
        ));
    }
    for line in figures {
        println!("{line}");
    }
}
