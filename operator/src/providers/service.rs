//! Long-running steps on a pool's capacity (a StreamConsumer on runtime
//! `emr`): found by name, placed on a cluster with a free slot (or adopted
//! when one of that name exists), cancelled. Domain types in and out, like
//! [`super::ComputeProvider`] for run attempts.

use futures::future::BoxFuture;

use super::ProviderError;
use crate::api::v1alpha1::ClusterPool;

/// Where the pool's nodes have `ade-stream` (`spec.emr.streamBinaryUri` installs it there).
pub const STREAM_BINARY: &str = "/usr/local/bin/ade-stream";

/// A step to add: its name is its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStep {
    /// Name, unique per (owner, attempt).
    pub name: String,
    /// The command and its arguments.
    pub args: Vec<String>,
}

/// Where a step is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPhase {
    /// Waiting to run.
    Pending,
    /// Running.
    Running,
    /// Being cancelled.
    CancelPending,
    /// Ended successfully (a service should not).
    Completed,
    /// Cancelled.
    Cancelled,
    /// Failed.
    Failed,
    /// Its cluster lost capacity.
    Interrupted,
}

impl StepPhase {
    /// Occupies its cluster.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::CancelPending)
    }

    /// The name status fields use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::CancelPending => "CancelPending",
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
            Self::Failed => "Failed",
            Self::Interrupted => "Interrupted",
        }
    }
}

/// A step found on one of the pool's clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundStep {
    /// Its cluster.
    pub cluster_id: String,
    /// Whether that cluster still runs.
    pub cluster_live: bool,
    /// Why the cluster ended, when it did.
    pub cluster_message: Option<String>,
    /// The step's id.
    pub step_id: String,
    /// Its name.
    pub name: String,
    /// Its phase.
    pub phase: StepPhase,
    /// Failure details or state change reason.
    pub message: Option<String>,
}

/// Long-running steps on a pool's clusters.
pub trait ServiceSteps: Send + Sync {
    /// Steps whose name starts with `prefix` on the pool's live clusters and
    /// those that ended in the last hour.
    fn find<'a>(
        &'a self,
        pool: &'a ClusterPool,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<FoundStep>, ProviderError>>;
    /// Adds `step` to a cluster with a free slot unless one of that name
    /// exists (then adopts it): `(cluster, step id)`, or `None` when no
    /// cluster has room yet.
    fn place<'a>(
        &'a self,
        pool: &'a ClusterPool,
        step: &'a ServiceStep,
    ) -> BoxFuture<'a, Result<Option<(String, String)>, ProviderError>>;
    /// Cancels `step` on `cluster` if it is still active.
    fn cancel<'a>(
        &'a self,
        pool: &'a ClusterPool,
        cluster: &'a str,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
}
