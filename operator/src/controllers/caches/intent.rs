//! A write laid over the cache while it is in flight: a run that decided to
//! start lets go of its job's (and pool's) lock as soon as its decision is
//! in the cache, not once the API server has stored it, so the next run of
//! the job decides on it without waiting for the write's round trip.

use std::{fmt::Debug, sync::Arc, time::Instant};

use kube::Resource;

use super::{Cache, Written, key};

/// A write in flight, laid over the cache until it is dropped: by then the
/// write either returned (and [`Cache::wrote`] replaced it with what the API
/// server stored) or failed (and it is withdrawn, so nobody decides on a
/// change that was never made).
#[derive(Debug)]
#[must_use = "the intent is withdrawn when dropped"]
pub struct Intent<K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static> {
    cache: Arc<Cache<K>>,
    object: Arc<K>,
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    /// Lays `intended`, an object about to be written, over the cache: every
    /// reader sees it (however long the write takes) until the returned
    /// [`Intent`] is dropped.
    pub fn intend(self: &Arc<Self>, mut intended: K) -> Intent<K> {
        intended.meta_mut().managed_fields = None;
        // Not a version the API server gave: never taken for one the watch delivered.
        intended.meta_mut().resource_version = None;
        let object = Arc::new(intended);
        let written = Written {
            object: object.clone(),
            at: Instant::now(),
            pending: true,
        };
        let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
        overlay.insert(key(object.as_ref()), written);
        Intent {
            cache: self.clone(),
            object,
        }
    }
}

impl<K> Drop for Intent<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    fn drop(&mut self) {
        let mut overlay = self.cache.overlay.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(self.object.as_ref());
        // Only this intent: a write that returned has replaced it already.
        if overlay.get(&k).is_some_and(|w| Arc::ptr_eq(&w.object, &self.object)) {
            overlay.remove(&k);
        }
    }
}
