//! Unit tests of the provider's logic on the in-memory fake ([`super::fake`]),
//! not AWS: placement, adoption, state mapping, cancel, teardown, breaker
//! and cost. The same calls against the real
//! SDK and moto are in operator/tests/emr_moto.rs.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::{
    api::StepState,
    breaker::BreakerState,
    capacity::Demand,
    fake::FakeEmr,
    planner::TerminateReason,
    pricing::SpotPrice,
    request::{TAG_MARKET, step_name, tests::pool},
    *,
};
use crate::{
    api::v1alpha1::{ClusterPool, Task},
    providers::{
        AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind, pool::MemoryLog,
    },
    schedule::Window,
};

fn provider(fake: &Arc<FakeEmr>) -> EmrProvider {
    let prices = |p: f64| {
        ["m6i.xlarge", "r6i.2xlarge", "r5.xlarge"]
            .iter()
            .map(|t| ((*t).to_owned(), p))
            .collect()
    };
    EmrProvider::new(
        fake.clone(),
        EmrSettings {
            operator: "ade-system/ade-operator".into(),
            default_region: None,
            on_demand_prices: prices(1.0),
            emr_uplift: prices(0.25),
        },
    )
}

fn request(pool: &ClusterPool, run: &str) -> AttemptRequest {
    AttemptRequest {
        target: AttemptRef {
            namespace: "analytics".into(),
            run: run.into(),
            run_uid: format!("{run}-uid"),
            attempt: 1,
            handle: AttemptHandle::default(),
            pool: Some(pool.clone()),
        },
        job: "orders".into(),
        batch_id: "b1".into(),
        window: Window {
            start: "2026-11-25T13:00:00Z".parse().unwrap(),
            end: "2026-11-25T14:00:00Z".parse().unwrap(),
        },
        task: serde_saphyr::from_str::<Task>("sparkSubmit: {mainApplicationFile: s3://code/a.py}").unwrap(),
        timeout: None,
        pool: pool.clone(),
    }
}

fn attempt(request: &AttemptRequest, handle: &AttemptHandle) -> AttemptRef {
    AttemptRef {
        handle: handle.clone(),
        ..request.target.clone()
    }
}

/// The cluster and step of a placed attempt.
fn placed(handle: &AttemptHandle) -> (String, String) {
    let (cluster, step) = handle.emr_step().unwrap_or_else(|| panic!("not placed: {handle:?}"));
    (cluster.to_owned(), step.to_owned())
}

fn queued(runs: &[&AttemptRequest]) -> Demand {
    Demand {
        queued: runs.iter().map(|r| step_name(&r.target)).collect(),
        placed: Vec::new(),
    }
}

#[tokio::test]
async fn a_run_waits_gets_a_cluster_and_a_step_once() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool();
    let req = request(&pool, "orders-1");

    // No cluster: the start waits, nothing is added.
    let handle = emr.start(&req).await.unwrap();
    assert_eq!(handle, AttemptHandle::Unplaced);
    assert_eq!(
        emr.observe(&attempt(&req, &handle)).await.unwrap(),
        AttemptState::Missing
    );

    // The pool creates one cluster for it, and only one however often it looks.
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &queued(&[&req]), &log, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
    assert_eq!(report.created[0].1, vec![step_name(&req.target)]);
    emr.reconcile_pool(&pool, BreakerState::default(), &queued(&[&req]), &log, Timestamp::now())
        .await
        .unwrap();
    let restarted = provider(&fake);
    restarted
        .reconcile_pool(&pool, BreakerState::default(), &queued(&[&req]), &log, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        fake.calls("RunJobFlow"),
        1,
        "no second cluster for the same demand, even after a restart"
    );

    // The start now adds the step; starting again (or after a restart) adopts it.
    let handle = emr.start(&req).await.unwrap();
    let cluster = fake.cluster_ids()[0].clone();
    let AttemptHandle::EmrStep {
        cluster_id,
        step_id: step,
        market,
    } = handle.clone()
    else {
        panic!("{handle:?}")
    };
    assert_eq!(cluster_id, cluster);
    assert_eq!(market.as_deref(), Some("spot"));
    assert_eq!(emr.start(&req).await.unwrap(), handle);
    assert_eq!(restarted.start(&req).await.unwrap(), handle);
    assert_eq!(fake.calls("AddJobFlowSteps"), 1, "one step per attempt");
    // The same run name re-created (another uid) does not adopt the old step.
    let mut stranger = req.clone();
    stranger.target.run_uid = "recreated-uid".into();
    assert_ne!(emr.start(&stranger).await.unwrap(), handle);
    assert_eq!(fake.calls("AddJobFlowSteps"), 2, "a step of its own");

    let target = attempt(&req, &handle);
    assert!(matches!(
        emr.observe(&target).await.unwrap(),
        AttemptState::Running { .. }
    ));
    fake.set_step_state(&cluster, &step, StepState::Completed);
    assert!(matches!(
        emr.observe(&target).await.unwrap(),
        AttemptState::Succeeded { finished_at: Some(_) }
    ));
}

#[tokio::test]
async fn runs_share_a_cluster_up_to_max_runs_per_cluster() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool(); // maxRunsPerCluster 3, maxClusters 2
    let reqs: Vec<AttemptRequest> = (1..=4).map(|i| request(&pool, &format!("r{i}"))).collect();
    let all: Vec<&AttemptRequest> = reqs.iter().collect();
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &queued(&all), &log, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(report.created.iter().map(|c| c.1.len()).collect::<Vec<_>>(), vec![3, 1]);
    let mut on = Vec::new();
    for r in &reqs {
        on.push(placed(&emr.start(r).await.unwrap()).0);
    }
    let ids = fake.cluster_ids();
    assert_eq!(on, vec![ids[0].clone(), ids[0].clone(), ids[0].clone(), ids[1].clone()]);
}

#[tokio::test]
async fn lost_clusters_interrupt_and_failed_steps_fail() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool();
    let (a, b) = (request(&pool, "a"), request(&pool, "b"));
    emr.reconcile_pool(
        &pool,
        BreakerState::default(),
        &queued(&[&a, &b]),
        &log,
        Timestamp::now(),
    )
    .await
    .unwrap();
    let (ha, hb) = (emr.start(&a).await.unwrap(), emr.start(&b).await.unwrap());
    let (cluster, step) = placed(&ha);
    fake.set_step_state(&cluster, &step, StepState::Failed);
    let AttemptState::Failed { kind, message, .. } = emr.observe(&attempt(&a, &ha)).await.unwrap() else {
        panic!("a failed step fails the attempt");
    };
    assert_eq!(kind, FailureKind::Failed, "{message}");
    fake.set_cluster_state(
        &placed(&hb).0,
        "TERMINATED_WITH_ERRORS",
        Some("Spot instance interruption"),
    );
    let AttemptState::Failed { kind, .. } = emr.observe(&attempt(&b, &hb)).await.unwrap() else {
        panic!("a lost cluster ends the attempt");
    };
    assert_eq!(kind, FailureKind::Interrupted, "retried without using the limit");
}

#[tokio::test]
async fn cancel_cancels_the_step_once() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool();
    let r = request(&pool, "c");
    emr.reconcile_pool(&pool, BreakerState::default(), &queued(&[&r]), &log, Timestamp::now())
        .await
        .unwrap();
    let h = emr.start(&r).await.unwrap();
    emr.cancel(&attempt(&r, &h)).await.unwrap();
    emr.cancel(&attempt(&r, &h)).await.unwrap();
    assert_eq!(fake.calls("CancelSteps"), 1, "a cancelled step is not cancelled again");
    emr.cancel(&attempt(&r, &AttemptHandle::default())).await.unwrap();
}

#[tokio::test]
async fn idle_clusters_are_terminated_after_idle_timeout() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool(); // idleTimeout 5m, minClusters 0
    let r = request(&pool, "idle");
    emr.reconcile_pool(&pool, BreakerState::default(), &queued(&[&r]), &log, Timestamp::now())
        .await
        .unwrap();
    let h = emr.start(&r).await.unwrap();
    let later = |m: i64| Timestamp::now().checked_add(SignedDuration::from_mins(m)).unwrap();
    // busy: kept however long
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, later(60))
        .await
        .unwrap();
    assert!(report.clusters.iter().all(|c| c.terminated.is_none()));
    let (cluster, step) = placed(&h);
    fake.set_step_state(&cluster, &step, StepState::Completed);
    // idle, but not for 5 minutes yet
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, later(4))
        .await
        .unwrap();
    assert!(report.clusters.iter().all(|c| c.terminated.is_none()));
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, later(6))
        .await
        .unwrap();
    let t = report
        .clusters
        .iter()
        .find_map(|c| c.terminated.clone())
        .expect("terminated");
    assert_eq!(
        (t.cluster.as_str(), t.reason),
        (cluster.as_str(), TerminateReason::IdleTimeout)
    );
    assert_eq!(fake.calls("TerminateJobFlows"), 1);
    // a terminated cluster is not a slot: the next run gets a new cluster
    let next = request(&pool, "next");
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &queued(&[&next]), &log, later(7))
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
}

#[tokio::test]
async fn spot_losses_open_the_breaker_and_new_clusters_go_on_demand() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool(); // maxRate 0.2 (default), at least MIN_SAMPLE instances
    let reqs: Vec<AttemptRequest> = (0..3).map(|i| request(&pool, &format!("s{i}"))).collect();
    // three spot clusters in a row, each lost to a spot interruption
    for r in &reqs {
        let report = emr
            .reconcile_pool(&pool, BreakerState::default(), &queued(&[r]), &log, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(report.breaker.market, Market::Spot, "{}", report.breaker.reason);
        let id = &report.created[0].0;
        fake.set_cluster_state(id, "TERMINATED_WITH_ERRORS", Some("Spot instance interruption"));
    }
    let next = request(&pool, "next");
    let report = emr
        .reconcile_pool(
            &pool,
            BreakerState::default(),
            &queued(&[&next]),
            &log,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(
        matches!(report.breaker.state, BreakerState::Open { .. }),
        "{:?}",
        report.breaker
    );
    assert!(
        report.breaker.reason.contains("3 of 3 spot instances interrupted"),
        "{}",
        report.breaker.reason
    );
    let new = &report.created[0].0;
    let spec = fake.state.lock().unwrap().specs[new].clone();
    assert_eq!(spec.tags[TAG_MARKET], "on-demand");
    assert!(spec.fleets.iter().all(|f| f.spot == 0), "{:?}", spec.fleets);
}

#[tokio::test]
async fn cost_is_estimated_and_apportioned_by_step_seconds() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool();
    let since = Timestamp::now().checked_sub(SignedDuration::from_hours(1)).unwrap();
    fake.state.lock().unwrap().spot = ["r6i.2xlarge", "r5.xlarge"]
        .iter()
        .map(|t| SpotPrice {
            instance_type: (*t).into(),
            at: since,
            usd_per_hour: 0.5,
        })
        .collect();
    let r = request(&pool, "costly");
    emr.reconcile_pool(&pool, BreakerState::default(), &queued(&[&r]), &log, Timestamp::now())
        .await
        .unwrap();
    let h = emr.start(&r).await.unwrap();
    let in_an_hour = Timestamp::now().checked_add(SignedDuration::from_hours(1)).unwrap();
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, in_an_hour)
        .await
        .unwrap();
    let usd = report.clusters[0].cost_usd.expect("priced");
    // one hour: on-demand 1 + 1 at 1.0, spot 4 + 2 at 0.5, EMR 8 × 0.25
    assert!((usd - (2.0 + 3.0 + 2.0)).abs() < 0.01, "{usd}");
    assert_eq!(report.cost_error, None);
    // the only step ran the whole time: it carries the whole cost
    let share = emr
        .cost(std::slice::from_ref(&attempt(&r, &h)), in_an_hour)
        .await
        .unwrap()[0]
        .expect("share");
    assert!((share - usd).abs() < 0.05, "{share} vs {usd}");
    // A run with no step on the cluster has no share of it.
    let mut other = request(&pool, "other");
    other.target.handle = h.clone();
    let none = emr.cost(std::slice::from_ref(&other.target), in_an_hour).await.unwrap();
    assert_eq!(none, [None]);
    // the spot history was fetched once and cached
    assert_eq!(fake.calls("DescribeSpotPriceHistory"), 1);
}

#[tokio::test]
async fn deleting_the_pool_terminates_its_clusters_only() {
    let log = MemoryLog::default();
    let fake = Arc::new(FakeEmr::default());
    let emr = provider(&fake);
    let pool = pool();
    let mut other = pool.clone();
    other.metadata.uid = Some("uid-other".into());
    let r = request(&pool, "d");
    emr.reconcile_pool(&pool, BreakerState::default(), &queued(&[&r]), &log, Timestamp::now())
        .await
        .unwrap();
    // The recreated pool's status records no request of the old one.
    emr.reconcile_pool(
        &other,
        BreakerState::default(),
        &queued(&[&r]),
        &MemoryLog::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let ids = fake.cluster_ids();
    assert_eq!(
        ids.len(),
        2,
        "a pool recreated under the same name does not adopt the old pool's clusters"
    );
    let gone = emr.terminate_pool(&pool).await.unwrap();
    assert_eq!(gone, vec![ids[0].clone()]);
    assert_eq!(emr.terminate_pool(&pool).await.unwrap(), Vec::<String>::new());
}
