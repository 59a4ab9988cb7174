//! The watch caches reconcilers read instead of listing: one reflector store
//! per kind the controllers read across objects (EtlRun, EtlJob,
//! ClusterPool), fed by one watch each for the whole process and shared
//! through [`Context`](super::Context). API traffic no longer grows with the
//! number of runs times the number of reconciles.
//!
//! A cache lags the API server by a watch event. What the operator itself
//! just wrote (a run it created, the intent of a run's attempt) is kept in an
//! overlay until the watch delivers it or something newer, so a reconcile
//! right after a write never decides on the state before it (two runs
//! taking a pool's last slot, a backfill creating past its parallelism).

use std::{
    collections::BTreeMap,
    fmt::Debug,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{Stream, StreamExt};
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store, store::Writer},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::api::v1alpha1::{ClusterPool, EtlJob, EtlRun, StreamConsumer};

/// An object the operator wrote that the watch may not have delivered yet.
#[derive(Debug)]
struct Written<K> {
    /// The object as the API server returned it (its resourceVersion is the write's).
    object: Arc<K>,
    /// When it was written.
    at: Instant,
}

/// How long a write stands in for an object the cache has not seen at all
/// (a watch lags by milliseconds to seconds; an object deleted before the
/// cache ever saw it must not linger).
const UNSEEN: Duration = Duration::from_secs(30);

/// Whether the cache's `cached` already holds `written` or something later:
/// resourceVersions are etcd revisions, compared as numbers; one that is not
/// a number counts only when it is the write's own.
fn caught_up<K: Resource>(cached: &K, written: &K) -> bool {
    let (c, w) = (cached.resource_version(), written.resource_version());
    match (c.as_deref().map(str::parse::<u64>), w.as_deref().map(str::parse::<u64>)) {
        (Some(Ok(c)), Some(Ok(w))) => c >= w,
        _ => c == w,
    }
}

/// One kind's cache: the reflector's store and the operator's own writes.
#[derive(Debug)]
pub struct Cache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    /// Until [`Caches::start`] hands it to the watch.
    writer: Mutex<Option<Writer<K>>>,
    overlay: Mutex<BTreeMap<(String, String), Written<K>>>,
    /// Who hears of each change once the store holds it ([`Cache::changes`]).
    listeners: Mutex<Vec<mpsc::UnboundedSender<K>>>,
    /// Whether the store has listed its kind once. (The store's own
    /// `wait_until_ready` wakes only one of several waiters, so one task
    /// waits on it and publishes the answer here.)
    ready: watch::Sender<Readiness>,
}

/// Where a cache's first list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    /// Not listed yet.
    Pending,
    /// Listed: the cache is complete.
    Ready,
    /// Its watch stopped before the first list (shutdown).
    Closed,
}

fn key<K: Resource>(obj: &K) -> (String, String) {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    fn new(store: Store<K>, writer: Option<Writer<K>>) -> Self {
        Self {
            store,
            writer: Mutex::new(writer),
            overlay: Mutex::default(),
            listeners: Mutex::default(),
            ready: watch::Sender::new(Readiness::Pending),
        }
    }

    /// Every object the watch delivers from now on, after the store holds
    /// it: a controller woken by this stream reads a cache that already
    /// knows what woke it (a separate watch could be behind).
    pub fn changes(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|k| (Ok(k), rx)) })
    }

    fn tell(&self, obj: &K) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.retain(|l| l.send(obj.clone()).is_ok());
    }

    /// The watch delivered the deletion of `obj`: a write of it (the same
    /// object, by uid) no longer stands in for it. Without this, a run the
    /// operator wrote just before it was deleted would count for 30 s more:
    /// a new job of the same name would find its backfill batches taken.
    fn forget(&self, obj: &K) {
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        if overlay
            .get(&key(obj))
            .is_some_and(|w| w.object.meta().uid == obj.meta().uid)
        {
            overlay.remove(&key(obj));
        }
    }

    fn unfed() -> Self {
        let (store, writer) = reflector::store();
        Self::new(store, Some(writer))
    }

    /// The newer of the cached object and the operator's own write of it,
    /// and whether the write can be forgotten (the watch delivered it or
    /// something later, or it stood in for an unseen object long enough).
    fn resolve(cached: Option<Arc<K>>, written: Option<&Written<K>>) -> (Option<Arc<K>>, bool) {
        match (cached, written) {
            (cached, None) => (cached, false),
            (Some(c), Some(w)) if caught_up(c.as_ref(), w.object.as_ref()) => (Some(c), true),
            (_, Some(w)) if w.at.elapsed() < UNSEEN => (Some(w.object.clone()), false),
            (cached, Some(_)) => (cached, true),
        }
    }

    /// The object `name` in `namespace`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let cached = self.store.get(&reflector::ObjectRef::new(name).within(namespace));
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        let k = (namespace.to_owned(), name.to_owned());
        let (out, forget) = Self::resolve(cached, overlay.get(&k));
        if forget {
            overlay.remove(&k);
        }
        out
    }

    /// `obj`, or the cache's version of it when that is as new or newer (the
    /// watch's, or the operator's own write): a reconcile triggered by an
    /// event older than the operator's last write decides on that write, and
    /// does not count or announce the same transition twice.
    pub fn freshest(&self, obj: Arc<K>) -> Arc<K> {
        let (namespace, name) = key(obj.as_ref());
        match self.get(&namespace, &name) {
            Some(known) if known.meta().uid == obj.meta().uid && caught_up(known.as_ref(), obj.as_ref()) => known,
            _ => obj,
        }
    }

    /// Every object of `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let mut out: BTreeMap<String, Arc<K>> = self
            .store
            .state()
            .into_iter()
            .filter(|o| o.namespace().as_deref() == Some(namespace))
            .map(|o| (o.name_any(), o))
            .collect();
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        overlay.retain(|(ns, name), written| {
            if ns != namespace {
                return true;
            }
            let (resolved, forget) = Self::resolve(out.get(name).cloned(), Some(written));
            match resolved {
                Some(o) => out.insert(name.clone(), o),
                None => out.remove(name),
            };
            !forget
        });
        out.into_values().collect()
    }

    /// Every object the watch delivered (without the operator's own writes
    /// not delivered yet: for metrics, which may lag by a watch event).
    pub fn all(&self) -> Vec<Arc<K>> {
        self.store.state()
    }

    /// Records that the operator wrote `after` (as the API server returned it).
    pub fn wrote(&self, after: K) {
        let written = Written {
            object: Arc::new(after),
            at: Instant::now(),
        };
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        overlay.insert(key(written.object.as_ref()), written);
    }

    /// Waits until the watch listed every object once: `false` when it
    /// stopped before (the process is shutting down; nothing may be decided
    /// on an incomplete cache).
    async fn ready(&self) -> bool {
        let mut state = self.ready.subscribe();
        state
            .wait_for(|s| *s != Readiness::Pending)
            .await
            .is_ok_and(|s| *s == Readiness::Ready)
    }
}

/// The caches of every kind the controllers read across objects.
#[derive(Debug, Clone)]
pub struct Caches {
    /// Every EtlRun.
    pub runs: Arc<Cache<EtlRun>>,
    /// Every EtlJob.
    pub jobs: Arc<Cache<EtlJob>>,
    /// Every ClusterPool.
    pub pools: Arc<Cache<ClusterPool>>,
    /// Every StreamConsumer (read by the object metrics only).
    pub consumers: Arc<Cache<StreamConsumer>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            runs: Arc::new(Cache::unfed()),
            jobs: Arc::new(Cache::unfed()),
            pools: Arc::new(Cache::unfed()),
            consumers: Arc::new(Cache::unfed()),
        }
    }
}

impl Caches {
    /// Feeds the caches from one watch per kind over the whole cluster,
    /// until `shutdown` (once; later calls do nothing).
    pub fn start(&self, client: &Client, shutdown: &CancellationToken) {
        feed(self.runs.clone(), client, shutdown);
        feed(self.jobs.clone(), client, shutdown);
        feed(self.pools.clone(), client, shutdown);
        feed(self.consumers.clone(), client, shutdown);
    }

    /// Caches holding exactly these objects (reconciler tests).
    pub fn of(runs: Vec<EtlRun>, jobs: Vec<EtlJob>, pools: Vec<ClusterPool>) -> Self {
        Self {
            runs: Arc::new(filled(runs)),
            jobs: Arc::new(filled(jobs)),
            pools: Arc::new(filled(pools)),
            consumers: Arc::new(filled(Vec::new())),
        }
    }

    /// Waits until every cache has listed its kind once: `false` when one
    /// stopped before it did (shutdown): the caller decides nothing.
    pub async fn ready(&self) -> bool {
        self.runs.ready().await && self.jobs.ready().await && self.pools.ready().await
    }
}

/// The one waiter on the store's readiness; everyone else asks [`Cache::ready`].
fn publish_readiness<K>(cache: Arc<Cache<K>>)
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let listed = cache.store.wait_until_ready().await.is_ok();
        cache
            .ready
            .send_replace(if listed { Readiness::Ready } else { Readiness::Closed });
    });
}

fn feed<K>(cache: Arc<Cache<K>>, client: &Client, shutdown: &CancellationToken)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let Some(writer) = cache.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    publish_readiness(cache.clone());
    let events = watcher(Api::<K>::all(client.clone()), watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer);
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                next = events.next() => match next {
                    Some(Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj))) => cache.tell(&obj),
                    Some(Ok(watcher::Event::Delete(obj))) => cache.forget(&obj),
                    Some(Ok(watcher::Event::Init | watcher::Event::InitDone)) => {}
                    Some(Err(error)) => tracing::warn!(%error, kind = %K::kind(&()), "the watch of a cache failed; retrying"),
                    None => break,
                },
            }
        }
    });
}

fn filled<K>(objects: Vec<K>) -> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    let mut writer = Writer::<K>::default();
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let cache = Cache::new(writer.as_reader(), Some(writer));
    cache.ready.send_replace(Readiness::Ready);
    cache
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
        let cache = Arc::new(Cache::<EtlRun>::unfed());
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
        let cache = filled(vec![run("seen", "5", 0)]);
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

    /// A reconcile triggered by a watch event older than the operator's own
    /// write decides on the write; a newer trigger, or another object of the
    /// same name (another uid), is taken as it is.
    #[test]
    fn the_freshest_version_is_decided_on() {
        let cache = filled(vec![run("r", "5", 0)]);
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
        let cache = filled(vec![]);
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
        let cache = Arc::new(Cache::<EtlRun>::unfed());
        publish_readiness(cache.clone());
        let waiting = waiters(&cache);
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(cache.writer.lock().unwrap_or_else(|e| e.into_inner()).take());
        for w in waiting {
            let ready = tokio::time::timeout(Duration::from_secs(2), w).await;
            assert!(matches!(ready, Ok(Ok(false))), "{ready:?}");
        }
    }
}
