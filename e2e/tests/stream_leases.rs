//! ade-stream's Kubernetes lease store against the real API server of the
//! local control plane: shard and worker Leases with the names, labels,
//! annotations and owner reference of the contract (streamer/README.md);
//! take, renew, steal and hand-off decided by the pure planner and written
//! with compare-and-swap, which the API server enforces (409 on a stale
//! resourceVersion).
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see hack/e2e.sh).

use std::path::Path;

use ade_api::{labels::STREAM_CONSUMER, lease};
use ade_e2e::{Namespace, get_json, install_chart, kubeconfig, kubectl_ok, kubectl_with_stdin};
use ade_streamer::{
    held::{HeldLease, UpdateError},
    lease::{LeaseStore, ShardLease, StoreError, WorkerLease, kube::KubeStore, names, plan},
};
use jiff::Timestamp;

const CONSUMER: &str = "app-events";

async fn client(path: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(path).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// A StreamConsumer the Leases can be owned by; returns its uid.
fn stream_consumer(ns: &str) -> String {
    let manifest =
        std::fs::read_to_string(ade_e2e::repo_root().join("manifests/samples/streamconsumer-app-events.yaml"))
            .expect("sample");
    let out = kubectl_with_stdin(&["apply", "-n", ns, "-f", "-"], &manifest);
    assert!(out.success, "creating the StreamConsumer failed: {}", out.stderr);
    kubectl_ok(&[
        "get",
        "-n",
        ns,
        "streamconsumer",
        CONSUMER,
        "-o",
        "jsonpath={.metadata.uid}",
    ])
}

fn claim(lease: &ShardLease, me: &str, now: Timestamp) -> ShardLease {
    let mut next = lease.clone();
    if next.owner.as_deref() != Some(me) {
        next.transitions += 1;
    }
    next.owner = Some(me.to_owned());
    next.acquire_time = Some(now);
    next.renew_time = Some(now);
    next
}

fn worker(id: &str) -> WorkerLease {
    WorkerLease {
        worker_id: id.into(),
        duration_secs: 30,
        renew_time: Some(Timestamp::now()),
        open_shards: Some(4),
        error: None,
        version: String::new(),
    }
}

#[tokio::test]
async fn shard_leases_take_renew_steal_and_hand_off_on_real_leases() {
    install_chart();
    let ns = Namespace::create("leases");
    let uid = stream_consumer(&ns.name);
    let store = KubeStore::new(client(&kubeconfig()).await, &ns.name, CONSUMER, &uid);

    // Shard sync: parents first; creating twice is a no-op.
    let shard_ids = [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
        "shardId-000000000003",
    ];
    for id in shard_ids {
        let created = store
            .create_shard(&ShardLease::new(id, vec![], 30))
            .await
            .expect("create");
        assert!(created.is_some(), "{id} existed already");
        assert!(
            store
                .create_shard(&ShardLease::new(id, vec![], 30))
                .await
                .expect("create")
                .is_none()
        );
    }
    let child = ShardLease::new(
        "shardId-000000000004",
        vec![shard_ids[0].into(), shard_ids[1].into()],
        30,
    );
    store.create_shard(&child).await.expect("create child");

    // The Lease objects follow the contract.
    let name = names::shard_lease(CONSUMER, "shardId-000000000004");
    assert_eq!(name, "app-events-shardid-000000000004");
    let obj = get_json(&ns.name, &["lease", &name]).expect("lease object");
    assert_eq!(obj["metadata"]["labels"][STREAM_CONSUMER], CONSUMER);
    assert_eq!(obj["metadata"]["labels"][lease::KIND], lease::KIND_SHARD);
    assert_eq!(obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ade-stream");
    assert_eq!(obj["metadata"]["annotations"][lease::SHARD_ID], "shardId-000000000004");
    assert_eq!(
        obj["metadata"]["annotations"][lease::PARENT_SHARDS],
        "shardId-000000000000,shardId-000000000001"
    );
    let owner = &obj["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["uid"].as_str()),
        (Some("StreamConsumer"), Some(uid.as_str()))
    );
    assert!(obj["spec"]["holderIdentity"].is_null());

    // Two workers with heartbeats: each takes half; the child is not work yet.
    let (a, b) = (worker("pod-a"), worker("pod-b"));
    store.put_worker(&a).await.expect("heartbeat a");
    let b_stored = store.put_worker(&b).await.expect("heartbeat b");
    let leases = store.list_shards().await.expect("list");
    assert_eq!(leases.len(), 5);
    let workers = store.list_workers().await.expect("workers");
    let now = Timestamp::now();
    let plan_a = plan::plan("pod-a", now, &leases, &workers);
    assert_eq!((plan_a.target, plan_a.take.len()), (2, 2), "{plan_a:?}");
    assert!(!plan_a.take.contains(&"shardId-000000000004".to_owned()));

    // Take with CAS: a stale writer gets a conflict from the API server.
    let first = leases.iter().find(|l| l.shard_id == plan_a.take[0]).expect("lease");
    let taken = store.update_shard(&claim(first, "pod-a", now)).await.expect("take");
    assert_eq!(taken.owner.as_deref(), Some("pod-a"));
    assert!(matches!(
        store.update_shard(&claim(first, "pod-b", now)).await,
        Err(StoreError::Conflict)
    ));
    // Renew: a new resourceVersion.
    let mut renewed = taken.clone();
    renewed.renew_time = Some(Timestamp::now());
    renewed.millis_behind_latest = Some(1500);
    renewed.records_per_second = Some(12.5);
    let renewed = store.update_shard(&renewed).await.expect("renew");
    assert_ne!(renewed.version, taken.version);
    let obj = get_json(&ns.name, &["lease", &names::shard_lease(CONSUMER, &renewed.shard_id)]).expect("lease");
    assert_eq!(obj["spec"]["holderIdentity"], "pod-a");
    assert_eq!(obj["spec"]["leaseTransitions"], 1);
    assert_eq!(obj["metadata"]["annotations"][lease::MILLIS_BEHIND], "1500");

    // pod-a takes every parent; pod-b then steals one of them.
    let mut held_by_a = vec![HeldLease::new(renewed, "pod-a")];
    for l in store.list_shards().await.expect("list") {
        if l.parents.is_empty() && l.owner.is_none() {
            held_by_a.push(HeldLease::new(
                store.update_shard(&claim(&l, "pod-a", now)).await.expect("take"),
                "pod-a",
            ));
        }
    }
    let leases = store.list_shards().await.expect("list");
    let plan_b = plan::plan(
        "pod-b",
        Timestamp::now(),
        &leases,
        &store.list_workers().await.expect("workers"),
    );
    let stolen_id = plan_b
        .steal
        .clone()
        .expect("pod-b should steal from the overloaded pod-a");
    let victim = leases.iter().find(|l| l.shard_id == stolen_id).expect("lease");
    let stolen = store
        .update_shard(&claim(victim, "pod-b", Timestamp::now()))
        .await
        .expect("steal");
    assert_eq!(stolen.transitions, 2);
    // pod-a notices on its next write: the lease is lost, not overwritten.
    let mut a_copy = None;
    for h in &held_by_a {
        if h.snapshot().await.shard_id == stolen_id {
            a_copy = Some(h);
        }
    }
    let a_copy = a_copy.expect("pod-a held the stolen lease");
    let lost = a_copy.update(&store, |l| l.renew_time = Some(Timestamp::now())).await;
    assert!(matches!(lost, Err(UpdateError::Lost(_))), "{lost:?}");
    assert!(a_copy.lost.is_cancelled());
    assert_eq!(
        store
            .get_shard(&stolen_id)
            .await
            .expect("get")
            .expect("exists")
            .owner
            .as_deref(),
        Some("pod-b")
    );

    // Hand-off: pod-a checkpoints a parent at SHARD_END and clears its owner;
    // once both parents are finished the child becomes work.
    for h in &held_by_a {
        if h.lost.is_cancelled() {
            continue;
        }
        let snapshot = h.snapshot().await;
        if snapshot.shard_id == shard_ids[0] || snapshot.shard_id == shard_ids[1] {
            h.update(&store, |l| {
                l.checkpoint = Some(ade_streamer::lease::Checkpoint::ShardEnd);
                l.owner = None;
            })
            .await
            .expect("hand off at SHARD_END");
        }
    }
    if let Some(l) = store.get_shard(&stolen_id).await.expect("get")
        && (stolen_id == shard_ids[0] || stolen_id == shard_ids[1])
    {
        let mut done = l.clone();
        done.checkpoint = Some(ade_streamer::lease::Checkpoint::ShardEnd);
        done.owner = None;
        store.update_shard(&done).await.expect("pod-b finishes its parent");
    }
    let leases = store.list_shards().await.expect("list");
    let obj = get_json(&ns.name, &["lease", &names::shard_lease(CONSUMER, shard_ids[0])]).expect("lease");
    assert_eq!(obj["metadata"]["annotations"][lease::CHECKPOINT], lease::SHARD_END);
    assert!(obj["spec"]["holderIdentity"].is_null());
    let plan_b = plan::plan(
        "pod-b",
        Timestamp::now(),
        &leases,
        &store.list_workers().await.expect("workers"),
    );
    let by_id = leases.iter().map(|l| (l.shard_id.as_str(), l)).collect();
    let child = leases
        .iter()
        .find(|l| l.shard_id == "shardId-000000000004")
        .expect("child");
    assert!(plan::eligible(child, &by_id));
    assert!(plan_b.take.contains(&"shardId-000000000004".to_owned()), "{plan_b:?}");

    // Worker leases: heartbeat renewal by CAS, error annotations, deletion.
    let mut b_next = b_stored.clone();
    b_next.error = Some(("StreamNotFound".into(), "stream app-events does not exist".into()));
    let b_next = store.put_worker(&b_next).await.expect("report error");
    assert!(matches!(store.put_worker(&b_stored).await, Err(StoreError::Conflict)));
    let wname = names::worker_lease(CONSUMER, "pod-b");
    let obj = get_json(&ns.name, &["lease", &wname]).expect("worker lease");
    assert_eq!(obj["metadata"]["labels"][lease::KIND], lease::KIND_WORKER);
    assert_eq!(obj["spec"]["holderIdentity"], "pod-b");
    assert_eq!(obj["metadata"]["annotations"][lease::OPEN_SHARDS], "4");
    assert_eq!(obj["metadata"]["annotations"][lease::ERROR_REASON], "StreamNotFound");
    let mut recovered = b_next.clone();
    recovered.error = None;
    store.put_worker(&recovered).await.expect("recover");
    let obj = get_json(&ns.name, &["lease", &wname]).expect("worker lease");
    assert!(obj["metadata"]["annotations"].get(lease::ERROR_REASON).is_none());
    store.delete_worker("pod-b").await.expect("delete");
    store.delete_worker("pod-b").await.expect("deleting twice is fine");
    let left: Vec<String> = store
        .list_workers()
        .await
        .expect("workers")
        .into_iter()
        .map(|w| w.worker_id)
        .collect();
    assert_eq!(left, ["pod-a"]);
}
