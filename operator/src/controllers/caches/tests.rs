//! The caches' overlay of the operator's own writes, freshness and readiness.

use std::time::Duration;

use super::{feed::publish_readiness, *};

fn waiters(cache: &Arc<Cache<EtlRun>>) -> Vec<tokio::task::JoinHandle<bool>> {
    (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.ready().await })
        })
        .collect()
}

/// Reconciles wait for the caches at start-up, many at once: every one of
/// them is woken (the store's own readiness future wakes only the last).
#[tokio::test]
async fn every_waiter_hears_that_the_cache_is_ready() {
    let cache = Arc::new(Cache::<EtlRun>::unfed(RUN_GROUPINGS));
    publish_readiness(cache.clone());
    let waiting = waiters(&cache);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut writer = cache
        .writer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("writer");
    writer.apply_watcher_event(&watcher::Event::Init);
    writer.apply_watcher_event(&watcher::Event::InitDone);
    for w in waiting {
        let ready = tokio::time::timeout(Duration::from_secs(2), w).await;
        assert!(matches!(ready, Ok(Ok(true))), "a waiter was never woken: {ready:?}");
    }
}

fn run(name: &str, rv: &str, attempts: usize) -> EtlRun {
    let attempts: Vec<_> = (1..=attempts).map(|n| serde_json::json!({"attempt": n})).collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
        "spec": {"jobRef": {"name": "j"}, "batchId": "b"},
        "status": {"attempts": attempts},
    }))
    .expect("run")
}

fn attempts(run: Option<Arc<EtlRun>>) -> Option<usize> {
    Some(run?.status.as_ref()?.attempts.len())
}

/// The operator's own writes count until the watch delivers them, also
/// for a run the cache has not seen at all yet (created a moment ago,
/// its intent written at once).
#[test]
fn a_write_counts_until_the_watch_delivers_it_or_something_later() {
    let cache = filled(vec![run("seen", "5", 0)], RUN_GROUPINGS);
    cache.wrote(run("seen", "7", 1));
    cache.wrote(run("unseen", "9", 1));
    assert_eq!(
        attempts(cache.get("ns", "seen")),
        Some(1),
        "the write, not the cached rv 5"
    );
    let all = cache.in_namespace("ns");
    assert_eq!(all.len(), 2, "the unseen run counts: {all:?}");
    // The watch delivers rv 6 (older than the write): the write still stands.
    let mut writer = cache
        .writer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("writer");
    writer.apply_watcher_event(&watcher::Event::Apply(run("seen", "6", 0)));
    assert_eq!(attempts(cache.get("ns", "seen")), Some(1));
    // Then rv 8 (later than the write): the cache is right again, the write forgotten.
    writer.apply_watcher_event(&watcher::Event::Apply(run("seen", "8", 2)));
    assert_eq!(attempts(cache.get("ns", "seen")), Some(2));
    assert_eq!(cache.overlay.lock().unwrap_or_else(|e| e.into_inner()).len(), 1);
}

/// A watch that lags for minutes (an API server's watch cache behind etcd
/// under load) does not make a write expire while the cache holds an older
/// version; a write of an object the cache never saw does expire.
#[test]
fn a_write_over_an_older_version_stands_however_long_the_watch_lags() {
    let cache = filled(vec![run("seen", "5", 0)], RUN_GROUPINGS);
    cache.wrote(run("seen", "7", 1));
    cache.wrote(run("unseen", "9", 1));
    cache.age_writes(UNSEEN * 10);
    assert_eq!(
        attempts(cache.get("ns", "seen")),
        Some(1),
        "the write, not the cached rv 5"
    );
    assert_eq!(
        attempts(cache.get("ns", "unseen")),
        None,
        "never seen, written long ago"
    );
    let names: Vec<String> = cache.in_namespace("ns").iter().map(|r| r.name_any()).collect();
    assert_eq!(names, ["seen"]);
    assert_eq!(attempts(Some(cache.freshest(Arc::new(run("seen", "6", 0))))), Some(1));
    // Versions that are not numbers cannot be ordered: the write expires.
    let cache = filled(vec![run("opaque", "a", 0)], RUN_GROUPINGS);
    cache.wrote(run("opaque", "b", 1));
    cache.age_writes(UNSEEN * 10);
    assert_eq!(attempts(cache.get("ns", "opaque")), Some(0));
}

/// A reconcile triggered by a watch event older than the operator's own
/// write decides on the write; a newer trigger, or another object of the
/// same name (another uid), is taken as it is.
#[test]
fn the_freshest_version_is_decided_on() {
    let cache = filled(vec![run("r", "5", 0)], RUN_GROUPINGS);
    cache.wrote(run("r", "7", 2));
    let stale = Arc::new(run("r", "6", 1));
    assert_eq!(attempts(Some(cache.freshest(stale))), Some(2), "the write (rv 7)");
    let newer = Arc::new(run("r", "8", 3));
    assert_eq!(attempts(Some(cache.freshest(newer))), Some(3), "the trigger (rv 8)");
    let mut other = run("r", "6", 1);
    other.metadata.uid = Some("another".into());
    assert_eq!(
        attempts(Some(cache.freshest(Arc::new(other)))),
        Some(1),
        "another object"
    );
}

/// A run written and then deleted is gone once the watch says so, not
/// 30 s later; a write of a new object of the same name stays.
#[test]
fn a_deleted_object_is_not_kept_alive_by_an_earlier_write() {
    let cache = filled(vec![], RUN_GROUPINGS);
    let with_uid = |name: &str, rv: &str, uid: &str| {
        let mut r = run(name, rv, 1);
        r.metadata.uid = Some(uid.to_owned());
        r
    };
    cache.wrote(with_uid("old", "7", "u1"));
    cache.wrote(with_uid("renewed", "9", "u3"));
    cache.forget(&with_uid("old", "8", "u1"));
    cache.forget(&with_uid("renewed", "8", "u2"));
    let names: Vec<String> = cache.in_namespace("ns").iter().map(|r| r.name_any()).collect();
    assert_eq!(names, ["renewed"]);
}

/// Shutting down before the first list: every waiter hears it, and decides nothing.
#[tokio::test]
async fn every_waiter_hears_that_the_cache_closed() {
    let cache = Arc::new(Cache::<EtlRun>::unfed(RUN_GROUPINGS));
    publish_readiness(cache.clone());
    let waiting = waiters(&cache);
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(cache.writer.lock().unwrap_or_else(|e| e.into_inner()).take());
    for w in waiting {
        let ready = tokio::time::timeout(Duration::from_secs(2), w).await;
        assert!(matches!(ready, Ok(Ok(false))), "{ready:?}");
    }
}

/// A job's runs are read from its group, with the operator's own writes laid
/// over them like over the whole namespace; a run is in its pool's group
/// once its status records the pool.
#[test]
fn a_jobs_runs_include_its_unseen_writes_and_no_other_jobs() {
    let of = |name: &str, job: &str, rv: &str, pool: Option<&str>| {
        let mut r = run(name, rv, 0);
        r.spec.job_ref.name = job.to_owned();
        r.status.get_or_insert_default().pool = pool.map(str::to_owned);
        r
    };
    let cache = filled(
        vec![of("a", "orders", "5", Some("spot")), of("b", "users", "5", None)],
        RUN_GROUPINGS,
    );
    cache.wrote(of("c", "orders", "9", None));
    cache.wrote(of("d", "users", "9", None));
    let names = |runs: Vec<Arc<EtlRun>>| runs.iter().map(|r| r.name_any()).collect::<Vec<_>>();
    assert_eq!(names(cache.of_job("ns", "orders")), ["a", "c"]);
    assert_eq!(names(cache.of_job("ns", "users")), ["b", "d"]);
    assert_eq!(names(cache.recorded_in_pool("ns", "spot")), ["a"]);
    assert!(cache.of_job("other", "orders").is_empty());
    assert_eq!(names(cache.in_namespace("ns")), ["a", "b", "c", "d"]);
}

/// A write that moves a run into a group (its pool, recorded when it
/// starts) while the store still holds it outside: reading the group long
/// after the write includes the run and keeps the write for every other
/// reader; the group it left no longer lists it.
#[test]
fn a_write_that_moves_a_run_into_a_group_is_kept_however_long_the_watch_lags() {
    let pooled = |rv: &str, pool: Option<&str>| {
        let mut r = run("r", rv, usize::from(pool.is_some()));
        r.status.get_or_insert_default().pool = pool.map(str::to_owned);
        r
    };
    let cache = filled(vec![pooled("5", None)], RUN_GROUPINGS);
    cache.wrote(pooled("7", Some("spot")));
    cache.age_writes(UNSEEN * 10);
    let names = |runs: Vec<Arc<EtlRun>>| runs.iter().map(|r| r.name_any()).collect::<Vec<_>>();
    assert_eq!(names(cache.recorded_in_pool("ns", "spot")), ["r"]);
    assert!(
        cache.recorded_in_pool("ns", "").is_empty(),
        "it left the group of runs without a pool"
    );
    assert_eq!(
        attempts(cache.get("ns", "r")),
        Some(1),
        "the write, not the cached rv 5"
    );
}
