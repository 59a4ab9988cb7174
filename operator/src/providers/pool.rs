//! The capacity side of a provider: what a pool holds outside Kubernetes
//! (EMR clusters now, EKS nodes next), kept for the pool's runs and
//! released when the pool is deleted. The ClusterPool controller calls only
//! this trait; what a provider reports comes back as the pool's status
//! fields, its `Ready` condition and Events.

use futures::future::BoxFuture;
use jiff::Timestamp;

use super::ProviderError;
use crate::api::v1alpha1::{BreakerStatus, ClusterPool, ClusterRequest, EtlRun, PoolCluster};

/// The pool's `Ready` condition as the provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Whether runs can be given to the pool.
    pub ready: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// What capacity there is, for a person.
    pub message: String,
}

/// A change to count in the operator's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterCounter {
    /// A cluster was created, on this market.
    Created(&'static str),
    /// A cluster was terminated, for this reason.
    Terminated(&'static str),
    /// An eks node was launched, on this market.
    NodeLaunched(&'static str),
    /// The operator terminated an eks node, for this reason.
    NodeTerminated(&'static str),
    /// EC2 warned of (`warning`) or carried out (`reclaim`) the reclaim of a
    /// spot node of an eks pool.
    SpotInterruption(&'static str),
}

/// An Event to publish on the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    /// Warning or Normal.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Text.
    pub note: String,
    /// What to count.
    pub counter: Option<ClusterCounter>,
}

/// What one reconcile of a pool's capacity saw and did.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityReport {
    /// `status.clusters`: live clusters, and those terminated now (with why).
    pub clusters: Vec<PoolCluster>,
    /// Live clusters after this reconcile.
    pub cluster_count: i32,
    /// Live clusters that run nothing.
    pub idle_clusters: i32,
    /// Runs executing on the pool's clusters.
    pub running_runs: i32,
    /// Runs waiting for capacity.
    pub queued_runs: i32,
    /// The spot-interruption breaker, when the provider has one.
    pub breaker: Option<BreakerStatus>,
    /// The `Ready` condition.
    pub readiness: Readiness,
    /// Events (and metrics) of what changed.
    pub events: Vec<PoolEvent>,
    /// Whether the pool has live capacity or demand (look again soon).
    pub busy: bool,
    /// `status.clusterRequests`: requests not yet seen fulfilled.
    pub requests: Vec<ClusterRequest>,
}

/// Where a provider records the capacity it is about to ask for (the pool's
/// `status.clusterRequests`), before it asks: a crash or a lost answer
/// between the request and the next status write then leaves a name to
/// look for, not an unknown cluster and a second request.
pub trait RequestLog: Send + Sync {
    /// The requests recorded so far (the pool's status, then what this
    /// reconcile recorded).
    fn recorded(&self) -> Vec<ClusterRequest>;
    /// Persists `requests` as the pool's outstanding ones; no request may be
    /// made until this returns Ok.
    fn record<'a>(&'a self, requests: &'a [ClusterRequest]) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// What releasing a deleted pool's capacity did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// What to tell (a Warning when something was left running on purpose).
    pub event: PoolEvent,
    /// Clusters terminated.
    pub terminated: usize,
}

/// A provider that holds capacity for a pool.
pub trait PoolCapacity: Send + Sync {
    /// What its calls are, for a message: `an EMR call`.
    fn calls(&self) -> &'static str;
    /// Plans the pool's capacity for `runs` (those of its namespace) and
    /// `streams` (the names of long-running steps that want a slot: stream
    /// consumers without a running step) and carries the plan out: creates
    /// (recording each request in `log` first), adopts and terminates capacity.
    fn reconcile<'a>(
        &'a self,
        pool: &'a ClusterPool,
        runs: &'a [std::sync::Arc<EtlRun>],
        streams: &'a [String],
        log: &'a dyn RequestLog,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CapacityReport, ProviderError>>;
    /// The pool is being deleted: terminates its capacity (or keeps it, as
    /// its `reclaimPolicy` says).
    fn release<'a>(&'a self, pool: &'a ClusterPool) -> BoxFuture<'a, Result<Released, ProviderError>>;
}

/// A [`RequestLog`] in memory: for callers that keep no status (tests, tools).
#[derive(Debug, Default)]
pub struct MemoryLog(std::sync::Mutex<Vec<ClusterRequest>>);

impl RequestLog for MemoryLog {
    fn recorded(&self) -> Vec<ClusterRequest> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record<'a>(&'a self, requests: &'a [ClusterRequest]) -> BoxFuture<'a, Result<(), ProviderError>> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = requests.to_vec();
        Box::pin(async { Ok(()) })
    }
}
