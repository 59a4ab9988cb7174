//! Locks by key (a pool, a job): what must not happen twice at once for one
//! pool (two runs deciding they may take its last slot; two placements of
//! EMR steps on its clusters) waits only for that pool, never for the
//! others; and what may happen at once (runs of different jobs starting on
//! a pool without a limit) does not wait at all.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// One lock per key, held alone ([`lock`](Self::lock)) or shared
/// ([`share`](Self::share)).
#[derive(Debug, Default)]
pub struct KeyedLocks {
    locks: Mutex<BTreeMap<String, Arc<RwLock<()>>>>,
}

impl KeyedLocks {
    fn of(&self, key: &str) -> Arc<RwLock<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Locks nobody holds or waits for are dropped as others are taken.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Waits until nobody else holds the lock of `key`, and holds it alone.
    pub async fn lock(&self, key: &str) -> OwnedRwLockWriteGuard<()> {
        self.of(key).write_owned().await
    }

    /// Waits until nobody holds the lock of `key` alone, and holds it with
    /// the others who share it.
    pub async fn share(&self, key: &str) -> OwnedRwLockReadGuard<()> {
        self.of(key).read_owned().await
    }
}

/// How a run holds its pool while it decides whether it may start.
#[derive(Debug)]
enum PoolHold {
    /// Alone: the pool limits its concurrent runs, and every start counts
    /// against the same slots.
    Alone(#[allow(dead_code, reason = "held, not read")] OwnedRwLockWriteGuard<()>),
    /// Shared with the runs of other jobs: the pool has no limit.
    Shared(#[allow(dead_code, reason = "held, not read")] OwnedRwLockReadGuard<()>),
}

/// What a run holds from deciding that it starts until that is recorded:
/// its job (one live run per batch, the job's budget) and its pool (the
/// pool's limit). Dropping it lets go of both.
#[derive(Debug)]
pub struct Admission {
    /// Taken first, so that the runs of one job queue here, not at the pool.
    _job: OwnedRwLockWriteGuard<()>,
    pool: PoolHold,
}

impl Admission {
    /// Whether the pool is held alone.
    pub fn pool_alone(&self) -> bool {
        matches!(self.pool, PoolHold::Alone(_))
    }
}

/// The locks runs take to start: one per job and one per pool.
#[derive(Debug, Default)]
pub struct Admissions {
    jobs: KeyedLocks,
    pools: KeyedLocks,
}

impl Admissions {
    /// Waits for job `job` alone, then for pool `pool` alone when `limited`
    /// (it limits its concurrent runs) or shared otherwise. Keys name their
    /// namespace.
    pub async fn admit(&self, job: &str, pool: &str, limited: bool) -> Admission {
        let job = self.jobs.lock(job).await;
        let pool = if limited {
            PoolHold::Alone(self.pools.lock(pool).await)
        } else {
            PoolHold::Shared(self.pools.share(pool).await)
        };
        Admission { _job: job, pool }
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

    #[tokio::test]
    async fn runs_of_two_jobs_share_a_pool_without_a_limit_but_not_one_with() {
        let admissions = Arc::new(Admissions::default());
        let a = admissions.admit("ns/a", "ns/p", false).await;
        assert!(!a.pool_alone());
        let b = tokio::time::timeout(Duration::from_secs(1), admissions.admit("ns/b", "ns/p", false)).await;
        let b = b.expect("job b starts beside job a on a pool without a limit");
        // A second run of job a waits for the first: one live run per batch.
        let again = tokio::spawn({
            let admissions = admissions.clone();
            async move { admissions.admit("ns/a", "ns/p", false).await }
        });
        // A run on the pool with a limit waits for every run deciding on it.
        let limited = tokio::spawn({
            let admissions = admissions.clone();
            async move { admissions.admit("ns/c", "ns/p", true).await }
        });
        tokio::task::yield_now().await;
        assert!(!again.is_finished(), "job a is held");
        assert!(!limited.is_finished(), "pool p is shared by a and b");
        drop((a, b));
        // First come, first served: the limited run queued for the pool
        // before job a's second run got to it.
        let limited = tokio::time::timeout(Duration::from_secs(1), limited).await;
        let limited = limited.expect("pool p is free").expect("task");
        assert!(limited.pool_alone());
        assert!(!again.is_finished(), "pool p is held alone");
        drop(limited);
        let again = tokio::time::timeout(Duration::from_secs(1), again).await;
        assert!(!again.expect("pool p is free again").expect("task").pool_alone());
    }
}
