//! Compute providers: where a run attempt executes. One trait, one
//! implementation per `ClusterPool.spec.provider`; domain types in and out.
//!
//! Every method is idempotent and keyed by the attempt's identity: `start`
//! on an attempt that already exists adopts it, so a retried or restarted
//! reconcile never starts a second one.

pub mod eks;
pub mod emr;
pub mod kubernetes;
pub mod pool;
mod registry;
mod seen_job;
pub mod service;
pub mod spot_prices;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use self::{registry::Providers, seen_job::SeenJob};
use crate::{
    api::v1alpha1::{Attempt, ClusterPool, Task},
    error_category::kube_error_category,
    schedule::Window,
};

/// The identity of one attempt: what providers name and tag their resources by.
#[derive(Debug, Clone)]
pub struct AttemptRef {
    /// Namespace of the run.
    pub namespace: String,
    /// The EtlRun.
    pub run: String,
    /// The EtlRun's uid: what the provider's resources are owned by.
    pub run_uid: String,
    /// Attempt number, from 1.
    pub attempt: i32,
    /// Where the attempt runs as far as the run's status knows;
    /// [`AttemptHandle::Unplaced`] before the provider placed it.
    pub handle: AttemptHandle,
    /// The run's pool, when it exists (a provider reads its region and
    /// prices from it).
    pub pool: Option<ClusterPool>,
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
pub enum AttemptHandle {
    /// Not placed yet (an EMR attempt waiting for a cluster with a free slot).
    #[default]
    Unplaced,
    /// A Kubernetes Job (kubernetes, eks).
    Job {
        /// Its name.
        name: String,
    },
    /// An EMR step on an EMR cluster (emr).
    EmrStep {
        /// The cluster.
        cluster_id: String,
        /// The step.
        step_id: String,
        /// `spot` or `on-demand`, when known.
        market: Option<String>,
    },
}

impl AttemptHandle {
    /// The handle recorded in `attempt`'s status.
    pub fn of(attempt: &Attempt) -> Self {
        match (&attempt.job_name, &attempt.cluster_id, &attempt.step_id) {
            (Some(name), _, _) => Self::Job { name: name.clone() },
            (None, Some(cluster), Some(step)) => Self::EmrStep {
                cluster_id: cluster.clone(),
                step_id: step.clone(),
                market: attempt.market.clone(),
            },
            _ => Self::Unplaced,
        }
    }

    /// Records the handle in `attempt`'s status; whether anything changed.
    pub fn record(&self, attempt: &mut Attempt) -> bool {
        let before = attempt.clone();
        match self {
            Self::Unplaced => {}
            Self::Job { name } => attempt.job_name = Some(name.clone()),
            Self::EmrStep {
                cluster_id,
                step_id,
                market,
            } => {
                attempt.cluster_id = Some(cluster_id.clone());
                attempt.step_id = Some(step_id.clone());
                attempt.market.clone_from(market);
            }
        }
        *attempt != before
    }

    /// The EMR cluster and step, when the attempt is one.
    pub fn emr_step(&self) -> Option<(&str, &str)> {
        match self {
            Self::EmrStep {
                cluster_id, step_id, ..
            } => Some((cluster_id, step_id)),
            Self::Unplaced | Self::Job { .. } => None,
        }
    }

    /// The cluster the attempt runs on, when it is not the operator's own.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Self::EmrStep { cluster_id, .. } => Some(cluster_id),
            Self::Unplaced | Self::Job { .. } => None,
        }
    }

    /// Where the attempt runs, for a person: `Job x`, `EMR step s on cluster c`;
    /// `None` before it is placed.
    pub fn describe(&self) -> Option<String> {
        match self {
            Self::Unplaced => None,
            Self::Job { name } => Some(format!("Job {name}")),
            Self::EmrStep {
                cluster_id, step_id, ..
            } => Some(format!("EMR step {step_id} on cluster {cluster_id}")),
        }
    }
}

/// What a provider is like, for the run state machine and its controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The provider's name: `kubernetes`, `emr` (metric label).
    pub name: &'static str,
    /// Attempts run in the operator's own cluster: the pool is where they run.
    pub in_cluster: bool,
    /// The provider estimates an attempt's cost ([`ComputeProvider::cost`]);
    /// otherwise the run's reserved Pod resources are priced.
    pub prices_attempts: bool,
    /// The provider enforces no deadline of its own: the operator cancels an
    /// attempt that runs past the job's timeout.
    pub needs_deadline: bool,
    /// Attempts hold resources outside Kubernetes that no garbage collector
    /// removes: a run carries [`ATTEMPT_FINALIZER`] while one is active.
    pub holds_external: bool,
}

/// The finalizer on an EtlRun whose attempt holds resources outside
/// Kubernetes (an EMR step): deleting the run cancels them first.
pub const ATTEMPT_FINALIZER: &str = "ade.dev/attempt";

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
    /// The attempt can never be placed on the pool (it asks for more than
    /// any of the pool's machines has).
    #[error("{reason}")]
    Unschedulable {
        /// Why, for a person.
        reason: String,
    },
    /// A template in the task does not render.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// The API server refused the provider's object as invalid (422), e.g. a
    /// container whose memory request exceeds its limit: the same object is
    /// refused again on every retry.
    #[error("{action}: the API server refused it: {message}")]
    Refused {
        /// What the provider was doing.
        action: &'static str,
        /// The API server's message, naming the field.
        message: String,
    },
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
            Self::Unschedulable { .. } => "unschedulable",
            Self::Template(_) => "invalid-template",
            Self::Refused { .. } => "invalid",
            Self::Api { category, .. } => category,
        }
    }
}

/// The error of Kubernetes call `action`: [`ProviderError::Refused`] with
/// the API server's message when it found the object invalid, else
/// [`ProviderError::Api`], which a later retry may get past.
pub(crate) fn kube_error(action: &'static str) -> impl FnOnce(kube::Error) -> ProviderError {
    move |e| match e {
        kube::Error::Api(status) if status.code == 422 => ProviderError::Refused {
            action,
            message: status.message,
        },
        e => ProviderError::Api {
            action,
            category: kube_error_category(&e),
            source: Box::new(e),
        },
    }
}

/// A compute provider.
pub trait ComputeProvider: Send + Sync {
    /// What the provider is like.
    fn profile(&self) -> Profile;
    /// Where attempt `target` will run, as far as it is known before it
    /// starts (a Job's name is; an EMR step's id is not).
    fn intent(&self, target: &AttemptRef) -> AttemptHandle;
    /// Starts the attempt, or adopts it when it already exists.
    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>>;
    /// Observes the attempt.
    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>>;
    /// Stops the attempt; nothing to do when it does not exist.
    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// The attempt's outcome is recorded in the run's status: what the
    /// provider kept so that it could be read (a finished Job) may go now.
    fn release<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// What each of `attempts` (one run's, in order) cost so far, US dollars,
    /// when the provider prices them ([`Profile::prices_attempts`]); `None`
    /// for one it cannot estimate now (the estimate recorded before stands).
    fn cost<'a>(
        &'a self,
        attempts: &'a [AttemptRef],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>, ProviderError>>;
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
