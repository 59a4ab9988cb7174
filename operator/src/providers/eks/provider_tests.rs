//! Unit tests of the eks provider on an in-memory API server and EC2
//! ([`super::fake`]): nodes launched for waiting runs (the request recorded
//! first, never twice), spot falling back to on-demand, runs pinned to a
//! Ready node with room, a run whose node went away interrupted, idle
//! nodes cordoned and terminated, and the pool's release.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::{batch::v1::Job, core::v1::Node};
use kube::ResourceExt;

use super::{
    fake::{FakeCluster, FakeEc2, FakeQueue},
    request::tests::pool,
    *,
};
use crate::providers::emr::Market;
use crate::{
    api::v1alpha1::{Attempt, ClusterPool, EtlJob, EtlRun, EtlRunStatus, RunPhase, Task},
    providers::{
        AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind, ProviderError,
        kubernetes::JobSettings,
        pool::{MemoryLog, PoolCapacity, RequestLog},
    },
    schedule::Window,
    testing::FakeApi,
};

const TASK: &str = "container: {image: busybox, resources: {requests: {cpu: '1', memory: 2Gi}}}";

pub(super) struct World {
    pub api: FakeApi,
    pub ec2: Arc<FakeEc2>,
    pub queue: Arc<FakeQueue>,
    pub cluster: Arc<FakeCluster>,
    pub eks: EksProvider,
    pub pool: ClusterPool,
    pub runs: Vec<Arc<EtlRun>>,
}

pub(super) fn world(runs: &[&str]) -> World {
    let (api, client) = FakeApi::new();
    let pool = api.insert(&pool());
    let job: EtlJob = serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": "orders", "namespace": "analytics"},
        "spec": {"poolRef": {"name": "spot-nodes"}, "task": serde_saphyr::from_str::<serde_json::Value>(TASK).unwrap()}
    }))
    .unwrap();
    api.insert(&job);
    let runs = runs.iter().map(|r| Arc::new(api.insert(&waiting_run(r)))).collect();
    let ec2 = Arc::new(FakeEc2::default());
    let queue = Arc::new(FakeQueue::default());
    let cluster = Arc::new(FakeCluster::default());
    let eks = EksProvider::new(
        EksApis {
            ec2: ec2.clone(),
            queue: queue.clone(),
            cluster: cluster.clone(),
        },
        client,
        JobSettings {
            spark_image: "spark:test".into(),
            ttl_seconds_after_finished: 60,
        },
        EksSettings {
            operator: "ade-system/ade-operator".into(),
            default_region: None,
            on_demand_prices: [("m5.xlarge".to_owned(), 0.192)].into(),
        },
    );
    World {
        api,
        ec2,
        queue,
        cluster,
        eks,
        pool,
        runs,
    }
}

fn waiting_run(name: &str) -> EtlRun {
    let mut r: EtlRun = serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": "analytics"},
        "spec": {"jobRef": {"name": "orders"}, "batchId": name}
    }))
    .unwrap();
    r.status = Some(EtlRunStatus {
        pool: Some("spot-nodes".into()),
        phase: Some(RunPhase::Running),
        attempts: vec![Attempt {
            attempt: 1,
            cluster_id: None,
            step_id: None,
            job_name: None,
            market: None,
            started_at: None,
            finished_at: None,
            outcome: None,
            message: None,
            estimated_cost_usd: None,
        }],
        ..EtlRunStatus::default()
    });
    r
}

pub(super) fn request(w: &World, run: &str) -> AttemptRequest {
    let stored: EtlRun = w.api.get(Some("analytics"), run).unwrap();
    AttemptRequest {
        target: AttemptRef {
            namespace: "analytics".into(),
            run: run.into(),
            run_uid: stored.metadata.uid.clone().unwrap(),
            attempt: 1,
            handle: AttemptHandle::default(),
            pool: Some(w.pool.clone()),
        },
        job: "orders".into(),
        batch_id: run.into(),
        window: Window {
            start: "2026-11-25T13:00:00Z".parse().unwrap(),
            end: "2026-11-25T14:00:00Z".parse().unwrap(),
        },
        task: serde_saphyr::from_str::<Task>(TASK).unwrap(),
        timeout: None,
        pool: w.pool.clone(),
    }
}

/// Registers instance `id` as a Ready Node, as the kubelet would.
pub(super) fn register(w: &World, id: &str) -> String {
    let name = format!("ip-{id}.ec2.internal");
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"ade.dev/pool-uid": w.pool.metadata.uid.clone().unwrap()}},
        "spec": {"providerID": format!("aws:///us-east-1a/{id}")},
        "status": {
            "allocatable": {"cpu": "3920m", "memory": "14Gi"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .unwrap();
    w.api.insert(&node);
    name
}

/// `w`'s run `r1` on a node of its own: the pool launches it, its kubelet
/// registers it, the run is placed there. The instance, Node and attempt.
pub(super) async fn r1_on_a_node(w: &World, log: &MemoryLog) -> (String, String, AttemptRef) {
    reconcile(w, log, Timestamp::now()).await;
    let id = w.ec2.instances()[0].id.clone();
    let node = register(w, &id);
    let r1 = request(w, "r1");
    let attempt = AttemptRef {
        handle: w.eks.start(&r1).await.unwrap(),
        ..r1.target.clone()
    };
    (id, node, attempt)
}

pub(super) async fn reconcile(w: &World, log: &MemoryLog, now: Timestamp) -> crate::providers::pool::CapacityReport {
    w.eks.reconcile(&w.pool, &w.runs, &[], log, now).await.unwrap()
}

#[tokio::test]
async fn waiting_runs_launch_packed_nodes_once() {
    let w = world(&["r1", "r2", "r3"]);
    let log = MemoryLog::default();
    let report = reconcile(&w, &log, Timestamp::now()).await;
    // 1 CPU / 2 GiB each, two runs per node: two m5.xlarge nodes.
    assert_eq!(w.ec2.fleets().len(), 2);
    assert_eq!(report.cluster_count, 2);
    assert!(
        report.clusters.iter().all(|c| c.state == "LAUNCHING"),
        "{:?}",
        report.clusters
    );
    assert_eq!(
        report.requests.len(),
        2,
        "requests recorded until the instances are listed"
    );
    assert_eq!(log.recorded().len(), 2, "recorded before CreateFleet");
    let template = &w.ec2.templates()[0];
    assert_eq!(template.name, "ade-analytics-spot-nodes");
    let fleet = &w.ec2.fleets()[0];
    assert_eq!(fleet.overrides[0].instance_type, "m5.xlarge");
    assert_eq!(fleet.template, api::TemplateRef::Id(template.id.clone()));

    // Again, nothing registered yet: the launching nodes hold the runs.
    let again = reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(w.ec2.fleets().len(), 2, "no second launch: {:?}", w.ec2.calls());
    assert!(again.requests.is_empty(), "listed: {:?}", again.requests);
    assert_eq!(w.ec2.templates()[0].versions.len(), 1, "the template is current");
}

#[tokio::test]
async fn a_lost_answer_never_launches_twice() {
    let w = world(&["r1"]);
    let log = MemoryLog::default();
    w.ec2.lose_next_fleet_answer();
    let lost = w.eks.reconcile(&w.pool, &w.runs, &[], &log, Timestamp::now()).await;
    assert!(lost.is_err());
    assert_eq!(log.recorded().len(), 1, "the request stays recorded");
    reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(w.ec2.fleets().len(), 1, "found by its request tag: {:?}", w.ec2.calls());
}

#[tokio::test]
async fn spot_then_on_demand_falls_back_when_spot_has_no_capacity() {
    let w = world(&["r1"]);
    w.ec2.fail_type("m5.xlarge", Market::Spot);
    w.ec2.fail_type("m5.2xlarge", Market::Spot);
    let report = reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    assert_eq!(w.ec2.calls().iter().filter(|c| c.starts_with("CreateFleet")).count(), 2);
    assert_eq!(report.clusters[0].market.as_deref(), Some("on-demand"));
    assert_eq!(w.ec2.instances()[0].market, Market::OnDemand);
}

#[tokio::test]
async fn no_capacity_on_any_market_says_why() {
    let mut w = world(&["r1"]);
    w.pool.spec.eks.as_mut().unwrap().capacity_type = crate::api::v1alpha1::EksCapacityType::Spot;
    w.ec2.fail_type("m5.xlarge", Market::Spot);
    w.ec2.fail_type("m5.2xlarge", Market::Spot);
    let log = MemoryLog::default();
    let report = reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(report.cluster_count, 0);
    let failed = report.events.iter().find(|e| e.reason == "NodeLaunchFailed").unwrap();
    assert!(failed.note.contains("InsufficientInstanceCapacity"), "{}", failed.note);
    assert!(log.recorded().is_empty(), "a request that launched nothing is over");
}

#[tokio::test]
async fn runs_are_pinned_to_a_ready_node_with_room() {
    let w = world(&["r1", "r2", "r3"]);
    let r1 = request(&w, "r1");
    assert_eq!(w.eks.start(&r1).await.unwrap(), AttemptHandle::Unplaced, "no node yet");
    reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    let id = w.ec2.instances()[0].id.clone();
    let node = register(&w, &id);

    for run in ["r1", "r2", "r3"] {
        let handle = w.eks.start(&request(&w, run)).await.unwrap();
        let placed = matches!(handle, AttemptHandle::Job { .. });
        assert_eq!(placed, run != "r3", "{run}: two runs per node");
    }
    let job: Job = w.api.get(Some("analytics"), "r1-1").unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let selector = pod.node_selector.unwrap();
    assert_eq!(selector.get("kubernetes.io/hostname"), Some(&node));
    assert_eq!(selector.get("ade.dev/pool-uid"), w.pool.metadata.uid.as_ref());
    let toleration = &pod.tolerations.unwrap()[0];
    assert_eq!(toleration.key.as_deref(), Some("ade.dev/pool-uid"));
    assert_eq!(toleration.effect.as_deref(), Some("NoSchedule"));
    assert_eq!(job.metadata.labels.unwrap().get(provider::LABEL_INSTANCE), Some(&id));

    // Started again (a restart): adopted, not a second Job.
    assert!(matches!(w.eks.start(&r1).await.unwrap(), AttemptHandle::Job { .. }));
}

#[tokio::test]
async fn a_run_bigger_than_every_type_fails_with_why() {
    let w = world(&["r1"]);
    let mut big = request(&w, "r1");
    big.task = serde_saphyr::from_str("container: {image: busybox, resources: {requests: {cpu: '64'}}}").unwrap();
    let err = w.eks.start(&big).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unschedulable { .. }), "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("m5.2xlarge"), "{err}");
}

#[tokio::test]
async fn a_run_whose_node_went_away_is_interrupted() {
    let w = world(&["r1"]);
    reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    let id = w.ec2.instances()[0].id.clone();
    let node = register(&w, &id);
    let r1 = request(&w, "r1");
    let handle = w.eks.start(&r1).await.unwrap();
    let attempt = AttemptRef {
        handle,
        ..r1.target.clone()
    };
    assert_eq!(w.eks.observe(&attempt).await.unwrap(), AttemptState::Provisioning);
    assert!(w.api.remove::<Node>(None, &node));
    let state = w.eks.observe(&attempt).await.unwrap();
    assert!(
        matches!(&state, AttemptState::Failed { kind: FailureKind::Interrupted, message, .. } if message.contains(&node)),
        "{state:?}"
    );
    assert!(
        w.api.get::<Job>(Some("analytics"), "r1-1").is_none(),
        "its Job is deleted"
    );
}

#[tokio::test]
async fn a_node_of_the_same_name_from_another_instance_interrupts_the_run() {
    let w = world(&["r1"]);
    let (id, node, attempt) = r1_on_a_node(&w, &MemoryLog::default()).await;
    // Placing labelled the Node with its instance; the Job is pinned by it too.
    let labelled: Node = w.api.get(None, &node).unwrap();
    assert_eq!(labelled.labels().get(provider::LABEL_INSTANCE), Some(&id));
    let job: Job = w.api.get(Some("analytics"), "r1-1").unwrap();
    let selector = job.spec.unwrap().template.spec.unwrap().node_selector.unwrap();
    assert_eq!(selector.get(provider::LABEL_INSTANCE), Some(&id));
    assert_eq!(w.eks.observe(&attempt).await.unwrap(), AttemptState::Provisioning);

    // The instance is gone and a new one got its address: same Node name.
    let mut reborn = labelled.clone();
    reborn
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(provider::LABEL_INSTANCE);
    reborn.spec.as_mut().unwrap().provider_id = Some("aws:///us-east-1a/i-0new".into());
    w.api.insert(&reborn);
    let state = w.eks.observe(&attempt).await.unwrap();
    assert!(
        matches!(&state, AttemptState::Failed { kind: FailureKind::Interrupted, message, .. } if message.contains(&id)),
        "{state:?}"
    );
}

#[tokio::test]
async fn idle_nodes_are_cordoned_and_terminated_busy_ones_never() {
    let mut w = world(&["r1", "r2", "r3"]);
    reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    let ids: Vec<String> = w.ec2.instances().iter().map(|i| i.id.clone()).collect();
    let nodes: Vec<String> = ids.iter().map(|id| register(&w, id)).collect();
    w.eks.start(&request(&w, "r1")).await.unwrap();
    w.runs.clear();
    // An hour later: the node with r1 stays, the empty one goes.
    let later = Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let report = reconcile(&w, &MemoryLog::default(), later).await;
    let busy = ids.iter().position(|id| {
        w.api
            .get::<Job>(Some("analytics"), "r1-1")
            .and_then(|j| j.metadata.labels)
            .and_then(|l| l.get(provider::LABEL_INSTANCE).cloned())
            .as_deref()
            == Some(id)
    });
    let busy = busy.unwrap();
    let idle = 1 - busy;
    let terminated: Vec<String> = w
        .ec2
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("Terminate"))
        .collect();
    assert_eq!(terminated, vec![format!("TerminateInstances {}", ids[idle])]);
    let cordoned: Node = w.api.get(None, &nodes[idle]).unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));
    let entry = report.clusters.iter().find(|c| c.id == ids[idle]).unwrap();
    assert_eq!(entry.state, "TERMINATING");
    assert!(
        entry.termination_reason.as_deref().unwrap().starts_with("Idle"),
        "{entry:?}"
    );
}

#[tokio::test]
async fn deleting_the_pool_terminates_its_nodes_and_deletes_its_template() {
    let w = world(&["r1"]);
    reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    let released = PoolCapacity::release(&w.eks, &w.pool).await.unwrap();
    assert_eq!(released.terminated, 1);
    assert!(w.ec2.instances().iter().all(|i| !i.state.is_live()));
    assert!(w.ec2.templates().is_empty());
    assert!(
        released.event.note.contains("reclaimPolicy Delete"),
        "{}",
        released.event.note
    );

    let mut retained = world(&["r1"]);
    retained.pool.spec.reclaim_policy = crate::api::v1alpha1::ReclaimPolicy::Retain;
    reconcile(&retained, &MemoryLog::default(), Timestamp::now()).await;
    let kept = PoolCapacity::release(&retained.eks, &retained.pool).await.unwrap();
    assert_eq!(kept.terminated, 0);
    assert!(kept.event.warning);
    assert!(retained.ec2.instances().iter().all(|i| i.state.is_live()));
}

#[tokio::test]
async fn a_run_placed_a_moment_ago_is_not_demand_again() {
    let w = world(&["r1", "r2"]);
    reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    assert_eq!(w.ec2.fleets().len(), 1);
    register(&w, &w.ec2.instances()[0].id);
    for run in ["r1", "r2"] {
        assert!(matches!(
            w.eks.start(&request(&w, run)).await.unwrap(),
            AttemptHandle::Job { .. }
        ));
    }
    // The runs as the cache still shows them: unplaced. Their Jobs say otherwise.
    let report = reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    assert_eq!(w.ec2.fleets().len(), 1, "{:?}", w.ec2.calls());
    assert_eq!(report.queued_runs, 0);
    assert_eq!(report.running_runs, 2);
}

#[tokio::test]
async fn reclaimed_spot_nodes_open_the_breaker_and_new_nodes_buy_on_demand() {
    // Six runs, two per node: three spot nodes.
    let mut w = world(&["r1", "r2", "r3", "r4", "r5", "r6"]);
    let log = MemoryLog::default();
    let first = reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(w.ec2.fleets().len(), 3);
    assert!(w.ec2.fleets().iter().all(|f| f.market == Market::Spot));
    let breaker = first.breaker.clone().unwrap();
    assert_eq!((breaker.state.as_str(), breaker.market.as_str()), ("Closed", "spot"));
    assert!(
        first.readiness.message.contains("new nodes buy spot"),
        "{}",
        first.readiness.message
    );
    let ids: Vec<String> = w.ec2.instances().iter().map(|i| i.id.clone()).collect();
    let node = register(&w, &ids[0]);

    // EC2 reclaims the first: 1 of 3 spot instances is above the default 20%.
    w.pool.status = Some(crate::api::v1alpha1::ClusterPoolStatus {
        clusters: first.clusters.clone(),
        breaker: first.breaker.clone(),
        ..Default::default()
    });
    w.ec2.reclaim(&ids[0], Timestamp::now());
    let second = reconcile(&w, &log, Timestamp::now()).await;
    let breaker = second.breaker.clone().unwrap();
    assert_eq!(
        (breaker.state.as_str(), breaker.market.as_str()),
        ("Open", "on-demand"),
        "{breaker:?}"
    );
    assert!(
        breaker.message.starts_with("1 of 3 spot instances interrupted"),
        "{}",
        breaker.message
    );
    let reasons: Vec<&str> = second.events.iter().map(|e| e.reason).collect();
    assert!(
        reasons.contains(&"SpotInterrupted") && reasons.contains(&"BreakerOpened"),
        "{reasons:?}"
    );
    let told = second.events.iter().find(|e| e.reason == "SpotInterrupted").unwrap();
    assert!(told.note.contains(&ids[0]), "{}", told.note);
    // Its Node is cordoned; the replacement for the runs it held is on-demand.
    let cordoned: Node = w.api.get(None, &node).unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));
    let fleets = w.ec2.fleets();
    assert_eq!(fleets.len(), 4, "{:?}", w.ec2.calls());
    assert_eq!(fleets[3].market, Market::OnDemand);
    assert!(!second.clusters.iter().any(|c| c.id == ids[0]), "{:?}", second.clusters);

    // Told once: the next reconcile, whose status no longer lists it, says nothing.
    w.pool.status = Some(crate::api::v1alpha1::ClusterPoolStatus {
        clusters: second.clusters.clone(),
        breaker: second.breaker.clone(),
        ..Default::default()
    });
    let third = reconcile(&w, &log, Timestamp::now()).await;
    assert!(
        !third.events.iter().any(|e| e.reason == "SpotInterrupted"),
        "{:?}",
        third.events
    );
    assert_eq!(third.breaker.unwrap().state, "Open");
}

#[tokio::test]
async fn an_attempt_pays_its_requested_share_of_its_node() {
    let w = world(&["r1"]);
    w.ec2.set_spot_prices(vec![crate::providers::emr::pricing::SpotPrice {
        instance_type: "m5.xlarge".into(),
        at: "2026-01-01T00:00:00Z".parse().unwrap(),
        usd_per_hour: 0.08,
    }]);
    let launched = reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    let id = w.ec2.instances()[0].id.clone();
    register(&w, &id);
    let r1 = request(&w, "r1");
    let handle = w.eks.start(&r1).await.unwrap();
    let attempt = AttemptRef {
        handle,
        ..r1.target.clone()
    };
    // Its Pod started an hour ago (the Job controller's startTime).
    let now = Timestamp::now();
    let mut job: Job = w.api.get(Some("analytics"), "r1-1").unwrap();
    job.status.get_or_insert_with(Default::default).start_time = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now - jiff::SignedDuration::from_hours(1)),
    );
    w.api.insert(&job);

    let waiting = AttemptRef {
        attempt: 2,
        handle: AttemptHandle::Unplaced,
        ..r1.target.clone()
    };
    let costs = w.eks.cost(&[attempt, waiting], now).await.unwrap();
    // 1 CPU / 2 GiB of an m5.xlarge: the CPU share is the larger.
    let node = w.eks.catalog().get("m5.xlarge").unwrap().allocatable();
    let part = cost::share(instance_types::Resources::new(1000, 2 << 30), node);
    assert!((part - 1000.0 / node.cpu_millis as f64).abs() < 1e-9, "{part}");
    let usd = costs[0].expect("priced");
    // startTime has whole seconds.
    assert!((usd - 0.08 * part).abs() < 1e-4, "{usd} vs {}", 0.08 * part);
    assert_eq!(costs[1], None, "no Job: its recorded estimate stands");
    assert_eq!(
        w.ec2
            .calls()
            .iter()
            .filter(|c| c.starts_with("DescribeSpotPriceHistory"))
            .count(),
        1,
        "the history is fetched once: {:?}",
        w.ec2.calls()
    );
    // The pool lists each node's cost so far, once EC2 lists the node.
    assert_eq!(launched.clusters[0].estimated_cost_usd, None);
    let listed = reconcile(&w, &MemoryLog::default(), now).await;
    assert!(listed.clusters[0].estimated_cost_usd.is_some(), "{:?}", listed.clusters);
}
