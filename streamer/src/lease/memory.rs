//! An in-memory [`LeaseStore`] with the same compare-and-swap semantics as
//! the real ones, for unit tests and the benchmark.

use std::{collections::BTreeMap, sync::Mutex};

use super::{ShardLease, StoreError, WorkerLease, store::LeaseStore};

#[derive(Debug, Default)]
struct State {
    counter: u64,
    shards: BTreeMap<String, ShardLease>,
    workers: BTreeMap<String, WorkerLease>,
}

/// Leases in a mutex-guarded map; versions are a global counter.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl LeaseStore for MemoryStore {
    async fn list_shards(&self) -> Result<Vec<ShardLease>, StoreError> {
        Ok(self.with(|s| s.shards.values().cloned().collect()))
    }

    async fn get_shard(&self, shard_id: &str) -> Result<Option<ShardLease>, StoreError> {
        Ok(self.with(|s| s.shards.get(shard_id).cloned()))
    }

    async fn create_shard(&self, lease: &ShardLease) -> Result<Option<ShardLease>, StoreError> {
        Ok(self.with(|s| {
            if s.shards.contains_key(&lease.shard_id) {
                return None;
            }
            s.counter += 1;
            let mut stored = lease.clone();
            stored.version = s.counter.to_string();
            s.shards.insert(stored.shard_id.clone(), stored.clone());
            Some(stored)
        }))
    }

    async fn update_shard(&self, lease: &ShardLease) -> Result<ShardLease, StoreError> {
        self.with(|s| {
            let current = s.shards.get(&lease.shard_id).ok_or(StoreError::NotFound)?;
            if current.version != lease.version {
                return Err(StoreError::Conflict);
            }
            s.counter += 1;
            let mut stored = lease.clone();
            stored.version = s.counter.to_string();
            s.shards.insert(stored.shard_id.clone(), stored.clone());
            Ok(stored)
        })
    }

    async fn list_workers(&self) -> Result<Vec<WorkerLease>, StoreError> {
        Ok(self.with(|s| s.workers.values().cloned().collect()))
    }

    async fn put_worker(&self, lease: &WorkerLease) -> Result<WorkerLease, StoreError> {
        self.with(|s| {
            let current = s.workers.get(&lease.worker_id).map(|w| w.version.clone());
            match (current, lease.version.is_empty()) {
                (Some(_), true) => return Err(StoreError::Conflict),
                (Some(v), false) if v != lease.version => return Err(StoreError::Conflict),
                (None, false) => return Err(StoreError::NotFound),
                _ => {}
            }
            s.counter += 1;
            let mut stored = lease.clone();
            stored.version = s.counter.to_string();
            s.workers.insert(stored.worker_id.clone(), stored.clone());
            Ok(stored)
        })
    }

    async fn delete_worker(&self, worker_id: &str) -> Result<(), StoreError> {
        self.with(|s| s.workers.remove(worker_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compare_and_swap() {
        let store = MemoryStore::default();
        let created = store
            .create_shard(&ShardLease::new("a", vec![], 30))
            .await
            .expect("create")
            .expect("new");
        assert!(store.create_shard(&created).await.expect("create").is_none());
        let mut mine = created.clone();
        mine.owner = Some("w1".into());
        let stored = store.update_shard(&mine).await.expect("first writer wins");
        let mut stale = created;
        stale.owner = Some("w2".into());
        assert!(matches!(store.update_shard(&stale).await, Err(StoreError::Conflict)));
        assert_eq!(
            store.get_shard("a").await.expect("get").expect("exists").owner,
            stored.owner
        );
    }
}
