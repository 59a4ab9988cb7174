//! Compute providers: where a run attempt executes. One trait, one
//! implementation per `ClusterPool.spec.provider`; domain types in and out.
//!
//! Every method is idempotent and keyed by the attempt's identity: `start`
//! on an attempt that already exists adopts it, so a retried or restarted
//! reconcile never starts a second one.

pub mod emr;
pub mod kubernetes;

use futures::future::BoxFuture;
use jiff::Timestamp;

use crate::{
    api::v1alpha1::{ClusterPool, Task},
    schedule::Window,
};

/// The identity of one attempt: what providers name and tag their resources by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRef {
    /// Namespace of the run.
    pub namespace: String,
    /// The EtlRun.
    pub run: String,
    /// The EtlRun's uid: what the provider's resources are owned by.
    pub run_uid: String,
    /// Attempt number, from 1.
    pub attempt: i32,
    /// Where the attempt runs as far as the run's status knows (the EMR
    /// cluster and step); empty before the provider placed it.
    pub handle: AttemptHandle,
}

/// Everything a provider needs to start one attempt of one run.
#[derive(Debug, Clone)]
pub struct AttemptRequest {
    /// Which attempt.
    pub target: AttemptRef,
    /// The EtlJob.
    pub job: String,
    /// The batch.
    pub batch_id: String,
    /// The data window of the batch.
    pub window: Window,
    /// What to run.
    pub task: Task,
    /// Longest the attempt may take.
    pub timeout: Option<std::time::Duration>,
    /// The pool it runs on.
    pub pool: ClusterPool,
}

/// Where an attempt runs, as recorded in the run's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptHandle {
    /// Kubernetes Job (kubernetes, eks).
    pub job_name: Option<String>,
    /// EMR cluster (emr).
    pub cluster_id: Option<String>,
    /// EMR step (emr).
    pub step_id: Option<String>,
    /// `spot` or `on-demand`, when known.
    pub market: Option<String>,
    /// AWS region of the cluster (emr).
    pub region: Option<String>,
}

/// How an attempt ended badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The work failed; counts against the retry limit.
    Failed,
    /// It ran past its timeout; counts against the retry limit.
    TimedOut,
    /// Its capacity went away (eviction, spot interruption); retried without
    /// using the limit.
    Interrupted,
}

/// What a provider observes of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptState {
    /// Nothing exists for the attempt.
    Missing,
    /// Created; waiting for capacity.
    Provisioning,
    /// Executing.
    Running {
        /// When it started executing.
        started_at: Option<Timestamp>,
    },
    /// Finished successfully.
    Succeeded {
        /// When it finished.
        finished_at: Option<Timestamp>,
    },
    /// Finished badly.
    Failed {
        /// How.
        kind: FailureKind,
        /// What happened, for a person.
        message: String,
        /// When it finished.
        finished_at: Option<Timestamp>,
    },
}

/// A provider failure.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The task kind cannot run on this provider.
    #[error("a {task} task cannot run on a {provider} pool: {hint}")]
    Unsupported {
        /// Task kind.
        task: &'static str,
        /// Provider name.
        provider: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A resource with the attempt's name exists but belongs to something else.
    #[error("{kind} {name} already exists and is not owned by this run; delete it or rename the job")]
    NameTaken {
        /// Resource kind.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A template in the task does not render.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// The provider's API failed.
    #[error("{action}: {source}")]
    Api {
        /// What the provider was doing.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// A bounded category, e.g. `conflict` or `throttled`.
        category: &'static str,
    },
}

impl ProviderError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Api { .. })
    }

    /// A bounded category for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "unsupported-task",
            Self::NameTaken { .. } => "name-taken",
            Self::Template(_) => "invalid-template",
            Self::Api { category, .. } => category,
        }
    }
}

/// A compute provider.
pub trait ComputeProvider: Send + Sync {
    /// Starts the attempt, or adopts it when it already exists.
    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>>;
    /// Observes the attempt.
    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>>;
    /// Stops the attempt; nothing to do when it does not exist.
    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// The name of a task's kind, for messages.
pub fn task_kind(task: &Task) -> &'static str {
    if task.spark_submit.is_some() {
        "sparkSubmit"
    } else if task.hive.is_some() {
        "hive"
    } else if task.trino.is_some() {
        "trino"
    } else {
        "container"
    }
}
