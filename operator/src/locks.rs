//! Locks by key (a pool): what must not happen twice at once for one pool
//! (two runs deciding they may take its last slot; two placements of EMR
//! steps on its clusters) waits only for that pool, never for the others.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use tokio::sync::OwnedMutexGuard;

/// One lock per key.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for are dropped as others are taken.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_key_waits_for_itself_not_for_others() {
        let locks = Arc::new(KeyedLocks::default());
        let held = locks.lock("ns/a").await;
        // Another key is free.
        let other = tokio::time::timeout(Duration::from_secs(1), locks.lock("ns/b")).await;
        assert!(other.is_ok(), "pool b does not wait for pool a");
        // The same pool waits until the holder lets go.
        let waiter = tokio::spawn({
            let locks = locks.clone();
            async move { locks.lock("ns/a").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "pool a is held");
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(1), waiter).await;
        assert!(got.is_ok(), "pool a is free again");
    }
}
