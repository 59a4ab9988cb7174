//! How a watch feeds a cache and wakes its listeners: each object is told
//! only once the store holds it, also when the watch lists everything
//! again (after a `410 Gone`, or a broken connection).
//!
//! A relist is where this matters. The reflector collects the relisted
//! objects apart and swaps them into the store only when the list is done;
//! an object told as it arrives is not in the store yet, and a controller
//! woken by it finds nothing and drops the request (kube-runtime's
//! `ObjectNotFound`). Runs created while the watch of 10,000 runs relisted
//! were never reconciled that way. So the relisted objects are told after
//! the swap, and the objects the relist no longer holds are told as
//! deletions (the watch never delivers a deletion it missed).

use std::{collections::HashSet, fmt::Debug, sync::Arc};

use futures::StreamExt;
use kube::{
    Api, Client, Resource,
    runtime::{WatchStreamExt, reflector::ObjectRef, watcher},
};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::{Cache, Readiness};

/// What the cache held when a relist began: whatever the relist no longer
/// holds was deleted while the watch was away.
#[derive(Debug)]
pub(super) struct Relist<K> {
    before: Vec<Arc<K>>,
}

impl<K> Default for Relist<K> {
    fn default() -> Self {
        Self { before: Vec::new() }
    }
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    /// Keeps the cache's own books on `event`, which the reflector has
    /// already applied to the store, and tells the listeners of it.
    pub(super) fn heard(&self, event: &watcher::Event<K>, relist: &mut Relist<K>) {
        match event {
            watcher::Event::Apply(obj) => {
                let stored = self.stored(obj);
                self.applied(&stored);
                self.tell(&stored, false);
            }
            watcher::Event::Delete(obj) => {
                self.deleted(obj);
                self.tell(&Arc::new(obj.clone()), true);
            }
            // The store keeps the old objects until the list is done.
            watcher::Event::Init => relist.before = self.store.state(),
            watcher::Event::InitApply(_) => {}
            watcher::Event::InitDone => {
                self.listed();
                let now = self.store.state();
                let held: HashSet<ObjectRef<K>> = now.iter().map(|o| ObjectRef::from_obj(o.as_ref())).collect();
                for gone in std::mem::take(&mut relist.before) {
                    if !held.contains(&ObjectRef::from_obj(gone.as_ref())) {
                        self.forget(&gone);
                        self.tell(&gone, true);
                    }
                }
                for obj in now {
                    self.tell(&obj, false);
                }
            }
        }
    }
}

/// The one waiter on the store's readiness; everyone else asks [`Cache::ready`].
pub(super) fn publish_readiness<K>(cache: Arc<Cache<K>>)
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

/// Feeds `cache` from a watch of the objects `config` selects, each
/// `trim`med of what no reader needs before it is stored.
pub(super) fn feed<K>(
    cache: Arc<Cache<K>>,
    client: &Client,
    shutdown: &CancellationToken,
    config: watcher::Config,
    trim: fn(&mut K),
) where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let Some(writer) = cache.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    publish_readiness(cache.clone());
    // Nothing reads managedFields: dropping them keeps about half of a
    // status-heavy object out of memory.
    let events = watcher(Api::<K>::all(client.clone()), config.any_semantic())
        .default_backoff()
        .modify(move |obj| {
            obj.meta_mut().managed_fields = None;
            trim(obj);
        })
        .reflect(writer);
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        let mut relist = Relist::default();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                next = events.next() => match next {
                    Some(Ok(event)) => cache.heard(&event, &mut relist),
                    Some(Err(error)) => tracing::warn!(%error, kind = %K::kind(&()), "the watch of a cache failed; retrying"),
                    None => break,
                },
            }
        }
    });
}

#[cfg(test)]
mod tests;
