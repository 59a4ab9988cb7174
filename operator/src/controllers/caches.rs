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

use futures::Stream;
use kube::{
    Client, Resource, ResourceExt,
    runtime::{
        reflector::{self, Store, store::Writer},
        watcher,
    },
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use self::groups::{GroupOf, Groups};

use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun, StreamConsumer},
    providers::SeenJob,
};

mod feed;
mod groups;

use self::feed::feed;

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
/// cache ever saw it must not linger), or for one whose resourceVersions
/// cannot be ordered. A write over an older version the cache holds stands
/// until the watch delivers it, something later, or the deletion.
const UNSEEN: Duration = Duration::from_secs(30);

/// The two objects' resourceVersions as numbers (etcd revisions), when both are.
fn revisions<K: Resource>(a: &K, b: &K) -> Option<(u64, u64)> {
    let parse = |k: &K| k.meta().resource_version.as_deref()?.parse::<u64>().ok();
    Some((parse(a)?, parse(b)?))
}

/// Whether the cache's `cached` already holds `written` or something later:
/// resourceVersions are etcd revisions, compared as numbers; one that is not
/// a number counts only when it is the write's own.
fn caught_up<K: Resource>(cached: &K, written: &K) -> bool {
    match revisions(cached, written) {
        Some((c, w)) => c >= w,
        None => cached.resource_version() == written.resource_version(),
    }
}

/// One kind's cache: the reflector's store and the operator's own writes.
#[derive(Debug)]
pub struct Cache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    /// Until [`Caches::start`] hands it to the watch.
    writer: Mutex<Option<Writer<K>>>,
    overlay: Mutex<BTreeMap<(String, String), Written<K>>>,
    /// How the kind is grouped (runs: by job, by pool), for kinds read a
    /// group at a time.
    groupings: &'static [GroupOf<K>],
    /// The store's objects by each grouping; `None` until the watch's first
    /// list is in.
    grouped: Mutex<Option<Vec<Groups<K>>>>,
    /// Who hears of each change once the store holds it ([`Cache::changes`]),
    /// and whether of deletions too.
    listeners: Mutex<Vec<(mpsc::UnboundedSender<Arc<K>>, bool)>>,
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
    fn new(store: Store<K>, writer: Option<Writer<K>>, groupings: &'static [GroupOf<K>]) -> Self {
        Self {
            store,
            writer: Mutex::new(writer),
            overlay: Mutex::default(),
            groupings,
            grouped: Mutex::new(None),
            listeners: Mutex::default(),
            ready: watch::Sender::new(Readiness::Pending),
        }
    }

    /// Every object the store holds now, then every object the watch
    /// delivers from now on, after the store holds it: a controller woken by
    /// this stream reads a cache that already knows what woke it (a separate
    /// watch could be behind), and one that subscribes after the cache
    /// listed still hears of every object (as a shared informer replays its
    /// store to a handler added late).
    /// Listeners share the store's copy of each object: a burst's events
    /// waiting in five listeners' queues are not five copies of each run.
    pub fn changes(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.listen(false)
    }

    /// [`Self::changes`] and the deletions, once the store no longer holds
    /// the object: an owner woken by it finds its child gone.
    pub fn changes_and_deletions(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.listen(true)
    }

    /// A new listener. The store is read under the listeners' lock: an
    /// object the store took before is replayed, one it takes after is told
    /// (an object in between is heard twice, which a controller's queue
    /// merges). The controllers subscribe while the caches' first lists are
    /// under way; one that subscribed after its cache's list was told never
    /// heard of the listed objects, and nothing woke them again.
    fn listen(&self, deletions: bool) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for obj in self.store.state() {
            let _ = tx.send(obj);
        }
        listeners.push((tx, deletions));
        drop(listeners);
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|k| (k, rx)) })
    }

    fn tell(&self, obj: &Arc<K>, deleted: bool) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.retain(|(l, deletions)| (deleted && !deletions) || l.send(obj.clone()).is_ok());
    }

    /// The store's copy of `obj`, which the watch just delivered (a copy of
    /// `obj` when the store no longer holds it).
    fn stored(&self, obj: &K) -> Arc<K> {
        self.store
            .get(&reflector::ObjectRef::from_obj(obj))
            .unwrap_or_else(|| Arc::new(obj.clone()))
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

    fn unfed(groupings: &'static [GroupOf<K>]) -> Self {
        let (store, writer) = reflector::store();
        Self::new(store, Some(writer), groupings)
    }

    /// The watch delivered `obj` (the store holds it now).
    fn applied(&self, stored: &Arc<K>) {
        let mut grouped = self.grouped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(groups) = grouped.as_mut() {
            for g in groups {
                g.insert(stored.clone());
            }
        }
    }

    /// The watch delivered the deletion of `obj`.
    fn deleted(&self, obj: &K) {
        self.forget(obj);
        if let Some(groups) = self.grouped.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            for g in groups {
                g.remove(obj);
            }
        }
    }

    /// The watch (re)listed every object: the groups are rebuilt from the store.
    fn listed(&self) {
        if self.groupings.is_empty() {
            return;
        }
        let objects = self.store.state();
        let groups = self
            .groupings
            .iter()
            .map(|&group_of| {
                let mut groups = Groups::new(group_of);
                groups.replace(objects.iter().cloned());
                groups
            })
            .collect();
        *self.grouped.lock().unwrap_or_else(|e| e.into_inner()) = Some(groups);
    }

    /// The newer of the cached object and the operator's own write of it,
    /// and whether the write can be forgotten (the watch delivered it or
    /// something later, or it stood in for an unseen object long enough).
    fn resolve(cached: Option<Arc<K>>, written: Option<&Written<K>>) -> (Option<Arc<K>>, bool) {
        match (cached, written) {
            (cached, None) => (cached, false),
            (Some(c), Some(w)) if caught_up(c.as_ref(), w.object.as_ref()) => (Some(c), true),
            // The cache holds an older version: the write stands however long
            // the watch lags (an API server's watch cache fell minutes behind
            // in a 10,000-run burst; runs decided on the older status started
            // their attempts again and again).
            (Some(c), Some(w)) if revisions(c.as_ref(), w.object.as_ref()).is_some() => (Some(w.object.clone()), false),
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

    /// Every object of `namespace`, by name.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let mut out: Vec<Arc<K>> = self
            .store
            .state()
            .into_iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
            .collect();
        out.sort_unstable_by(|a, b| a.meta().name.cmp(&b.meta().name));
        self.overlaid(namespace, out, |_| true)
    }

    /// The objects of `group` of `grouping` in `namespace` (e.g. the runs
    /// of one job), by name: what [`in_namespace`](Self::in_namespace)
    /// holds of that group, without reading the rest.
    ///
    /// # Panics
    ///
    /// When the kind has no such grouping (a programming error).
    fn in_group(&self, grouping: usize, namespace: &str, group: &str) -> Vec<Arc<K>> {
        let group_of = self.groupings[grouping];
        let listed = self
            .grouped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|groups| groups[grouping].get(namespace, group));
        let members = listed.unwrap_or_else(|| {
            // Before the groups are built: the store, read whole.
            let mut members: Vec<Arc<K>> = self
                .store
                .state()
                .into_iter()
                .filter(|o| o.meta().namespace.as_deref() == Some(namespace) && group_of(o) == group)
                .collect();
            members.sort_unstable_by(|a, b| a.meta().name.cmp(&b.meta().name));
            members
        });
        self.overlaid(namespace, members, |o| group_of(o) == group)
    }

    /// `out` (the objects of `namespace` that `wanted` accepts, sorted by
    /// name) with the operator's own writes in `namespace` laid over it: a
    /// write joins `out` when `wanted` accepts it and leaves it when not.
    /// A write is weighed against the store's version of its object, in
    /// `out` or not: a run whose write records its pool is not in its pool's
    /// group in the store yet, and reading that group must not take the
    /// write for one of an object the cache never saw, and drop it (the run's
    /// next reconcile then decided on the store's older status and started
    /// its attempt again).
    fn overlaid(&self, namespace: &str, mut out: Vec<Arc<K>>, wanted: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        overlay.retain(|(ns, name), written| {
            if ns != namespace {
                return true;
            }
            let at = out.binary_search_by(|o| o.meta().name.as_deref().unwrap_or_default().cmp(name.as_str()));
            let cached = match at {
                Ok(i) => Some(out[i].clone()),
                Err(_) => self.store.get(&reflector::ObjectRef::new(name).within(ns)),
            };
            let (resolved, forget) = Self::resolve(cached, Some(written));
            match (resolved.filter(|o| wanted(o)), at) {
                (Some(o), Ok(i)) => out[i] = o,
                (Some(o), Err(i)) => out.insert(i, o),
                (None, Ok(i)) => {
                    out.remove(i);
                }
                (None, Err(_)) => {}
            }
            !forget
        });
        out
    }

    /// The store itself, for a controller reconciling the cached objects.
    pub fn reader(&self) -> Store<K> {
        self.store.clone()
    }

    /// Every object the watch delivered (without the operator's own writes
    /// not delivered yet: for metrics, which may lag by a watch event).
    pub fn all(&self) -> Vec<Arc<K>> {
        self.store.state()
    }

    /// Records that the operator wrote `after` (as the API server returned it).
    pub fn wrote(&self, mut after: K) {
        after.meta_mut().managed_fields = None;
        let written = Written {
            object: Arc::new(after),
            at: Instant::now(),
        };
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        overlay.insert(key(written.object.as_ref()), written);
    }

    /// Makes every write not delivered yet `by` older (a watch that lags, in tests).
    #[cfg(test)]
    pub(crate) fn age_writes(&self, by: Duration) {
        for w in self.overlay.lock().unwrap_or_else(|e| e.into_inner()).values_mut() {
            w.at -= by;
        }
    }

    /// Waits until the watch listed every object once: `false` when it
    /// stopped before (the process is shutting down; nothing may be decided
    /// on an incomplete cache).
    pub(super) async fn ready(&self) -> bool {
        let mut state = self.ready.subscribe();
        state
            .wait_for(|s| *s != Readiness::Pending)
            .await
            .is_ok_and(|s| *s == Readiness::Ready)
    }
}

impl Cache<EtlRun> {
    /// The runs of EtlJob `job` in `namespace`, by name.
    pub fn of_job(&self, namespace: &str, job: &str) -> Vec<Arc<EtlRun>> {
        self.in_group(BY_JOB, namespace, job)
    }

    /// The runs recorded in ClusterPool `pool` (`status.pool`, set when a
    /// run first starts), by name.
    pub fn recorded_in_pool(&self, namespace: &str, pool: &str) -> Vec<Arc<EtlRun>> {
        self.in_group(BY_POOL, namespace, pool)
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
    /// Every Job the operator made (labelled as managed by it), its owners
    /// and status only: the kubernetes provider observes attempts from it
    /// instead of reading each Job from the API server on every reconcile.
    pub attempt_jobs: Arc<Cache<SeenJob>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            runs: Arc::new(Cache::unfed(RUN_GROUPINGS)),
            jobs: Arc::new(Cache::unfed(&[])),
            pools: Arc::new(Cache::unfed(&[])),
            consumers: Arc::new(Cache::unfed(&[])),
            attempt_jobs: Arc::new(Cache::unfed(&[])),
        }
    }
}

impl Caches {
    /// Feeds the caches from one watch per kind over the whole cluster,
    /// until `shutdown` (once; later calls do nothing).
    pub fn start(&self, client: &Client, shutdown: &CancellationToken) {
        let everything = watcher::Config::default();
        feed(self.runs.clone(), client, shutdown, everything.clone(), |_| {});
        feed(self.jobs.clone(), client, shutdown, everything.clone(), |_| {});
        feed(self.pools.clone(), client, shutdown, everything.clone(), |_| {});
        feed(self.consumers.clone(), client, shutdown, everything, |_| {});
        let made = watcher::Config::default().labels(ade_api::labels::MANAGED_BY_OPERATOR);
        feed(self.attempt_jobs.clone(), client, shutdown, made, SeenJob::trim);
    }

    /// Caches holding exactly these objects (reconciler tests).
    pub fn of(runs: Vec<EtlRun>, jobs: Vec<EtlJob>, pools: Vec<ClusterPool>) -> Self {
        Self {
            runs: Arc::new(filled(runs, RUN_GROUPINGS)),
            jobs: Arc::new(filled(jobs, &[])),
            pools: Arc::new(filled(pools, &[])),
            consumers: Arc::new(filled(Vec::new(), &[])),
            attempt_jobs: Arc::new(filled(Vec::new(), &[])),
        }
    }

    /// Waits until every cache has listed its kind once: `false` when one
    /// stopped before it did (shutdown): the caller decides nothing.
    pub async fn ready(&self) -> bool {
        self.runs.ready().await && self.jobs.ready().await && self.pools.ready().await
    }
}

/// The runs of one job.
const BY_JOB: usize = 0;
/// The runs recorded in one pool (`status.pool`; a run not started yet has
/// none, the group `""`).
const BY_POOL: usize = 1;
const RUN_GROUPINGS: &[GroupOf<EtlRun>] = &[
    |run| &run.spec.job_ref.name,
    |run| run.status.as_ref().and_then(|s| s.pool.as_deref()).unwrap_or_default(),
];

fn filled<K>(objects: Vec<K>, groupings: &'static [GroupOf<K>]) -> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    let mut writer = Writer::<K>::default();
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let cache = Cache::new(writer.as_reader(), Some(writer), groupings);
    cache.listed();
    cache.ready.send_replace(Readiness::Ready);
    cache
}

#[cfg(test)]
mod tests;
