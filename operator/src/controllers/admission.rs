//! Admission of runs to a pool: deciding that a run may start and recording
//! its intent happen under the pool's own lock, so two runs reconciled at
//! once cannot both take the pool's last slot. Pools do not wait on each
//! other, and the lock is released before the provider is called (a slow
//! cloud API stalls no other start).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use tokio::sync::OwnedMutexGuard;

/// One lock per pool (`namespace/name`).
#[derive(Debug, Default)]
pub struct PoolLocks {
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PoolLocks {
    /// Waits for the lock of pool `name` in `namespace`.
    pub async fn lock(&self, namespace: &str, name: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for are dropped as others are taken.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(format!("{namespace}/{name}")).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_pool_waits_for_itself_not_for_others() {
        let locks = Arc::new(PoolLocks::default());
        let held = locks.lock("ns", "a").await;
        // Another pool is free.
        let other = tokio::time::timeout(Duration::from_secs(1), locks.lock("ns", "b")).await;
        assert!(other.is_ok(), "pool b does not wait for pool a");
        // The same pool waits until the holder lets go.
        let waiter = tokio::spawn({
            let locks = locks.clone();
            async move { locks.lock("ns", "a").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "pool a is held");
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(1), waiter).await;
        assert!(got.is_ok(), "pool a is free again");
    }
}
