//! A shard lease this worker holds, shared by the coordinator (which renews
//! it) and the shard's processor (which checkpoints it). Every write goes
//! through [`HeldLease::update`], so the two never race each other, and a
//! compare-and-swap conflict caused by another worker means the lease is lost.

use std::sync::{
    Arc,
    atomic::{AtomicI64, AtomicU64, Ordering},
};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::lease::{LeaseStore, ShardLease, StoreError};

/// Progress a processor reports between renewals.
#[derive(Debug, Default)]
pub struct ShardStats {
    /// MillisBehindLatest of the last GetRecords (-1: unknown).
    pub millis_behind: AtomicI64,
    /// Records read since the shard was taken.
    pub records: AtomicU64,
    /// Payload bytes read since the shard was taken.
    pub bytes: AtomicU64,
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Another worker owns the lease now.
    #[error("the lease of {0} was taken by another worker")]
    Lost(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One held lease.
#[derive(Debug)]
pub struct HeldLease {
    lease: Mutex<ShardLease>,
    me: String,
    /// Cancelled to stop the processor gracefully (flush, checkpoint, release).
    pub stop: CancellationToken,
    /// Cancelled when the lease is lost: the processor drops its buffer.
    pub lost: CancellationToken,
    /// Progress.
    pub stats: ShardStats,
}

impl HeldLease {
    /// Wraps a lease `me` just took.
    pub fn new(lease: ShardLease, me: &str) -> Arc<Self> {
        let stats = ShardStats::default();
        stats.millis_behind.store(-1, Ordering::Relaxed);
        Arc::new(Self {
            lease: Mutex::new(lease),
            me: me.to_owned(),
            stop: CancellationToken::new(),
            lost: CancellationToken::new(),
            stats,
        })
    }

    /// The lease as last written.
    pub async fn snapshot(&self) -> ShardLease {
        self.lease.lock().await.clone()
    }

    /// Applies `change` and writes the lease with compare-and-swap. A
    /// conflict re-reads it: if this worker still owns it (a harmless
    /// concurrent write), the change is applied again; otherwise the lease
    /// is lost and `lost` is cancelled.
    pub async fn update<S: LeaseStore>(
        &self,
        store: &S,
        change: impl Fn(&mut ShardLease),
    ) -> Result<ShardLease, UpdateError> {
        let mut guard = self.lease.lock().await;
        if self.lost.is_cancelled() {
            return Err(UpdateError::Lost(guard.shard_id.clone()));
        }
        for _ in 0..3 {
            let mut next = guard.clone();
            change(&mut next);
            match store.update_shard(&next).await {
                Ok(stored) => {
                    *guard = stored.clone();
                    return Ok(stored);
                }
                Err(StoreError::Conflict) => match store.get_shard(&guard.shard_id).await? {
                    Some(current) if current.owner.as_deref() == Some(self.me.as_str()) => *guard = current,
                    _ => return Err(self.mark_lost(&guard.shard_id)),
                },
                Err(StoreError::NotFound) => return Err(self.mark_lost(&guard.shard_id)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(UpdateError::Store(StoreError::Conflict))
    }

    fn mark_lost(&self, shard: &str) -> UpdateError {
        self.lost.cancel();
        UpdateError::Lost(shard.to_owned())
    }
}
