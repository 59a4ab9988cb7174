//! Where leases are kept. Every write of an existing lease is a
//! compare-and-swap on its `version`: a writer that read a stale lease gets
//! [`StoreError::Conflict`] and must read again.

use std::future::Future;

use super::{ShardLease, WorkerLease};

/// A lease store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote the lease since it was read.
    #[error("the lease changed since it was read (compare-and-swap conflict)")]
    Conflict,
    /// The lease does not exist (any more).
    #[error("the lease does not exist")]
    NotFound,
    /// The backend refused or failed; the text says which call and why.
    #[error("lease store: {0}")]
    Backend(String),
}

/// A place to keep shard and worker leases of one consumer.
pub trait LeaseStore: Send + Sync + 'static {
    /// Every shard lease.
    fn list_shards(&self) -> impl Future<Output = Result<Vec<ShardLease>, StoreError>> + Send;

    /// One shard lease, `None` when absent.
    fn get_shard(&self, shard_id: &str) -> impl Future<Output = Result<Option<ShardLease>, StoreError>> + Send;

    /// Creates a shard lease unless one exists; `Ok(None)` when it existed.
    fn create_shard(&self, lease: &ShardLease) -> impl Future<Output = Result<Option<ShardLease>, StoreError>> + Send;

    /// Writes `lease` if the stored one still has `lease.version`; returns
    /// the stored lease with its new version.
    fn update_shard(&self, lease: &ShardLease) -> impl Future<Output = Result<ShardLease, StoreError>> + Send;

    /// Every worker heartbeat lease.
    fn list_workers(&self) -> impl Future<Output = Result<Vec<WorkerLease>, StoreError>> + Send;

    /// Creates (empty `version`) or compare-and-swaps a worker lease.
    fn put_worker(&self, lease: &WorkerLease) -> impl Future<Output = Result<WorkerLease, StoreError>> + Send;

    /// Deletes a worker lease; absent is fine.
    fn delete_worker(&self, worker_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
