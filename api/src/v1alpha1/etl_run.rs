//! EtlRun: one batch of one EtlJob.

#[cfg(feature = "kube")]
use kube::{CustomResource, KubeSchema};
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    catalog::RegisteredPartition,
    shared::{Condition, LocalObjectReference, Time, Usd},
};

/// One batch of one EtlJob. Created by the EtlJob controller for scheduled,
/// backfill and catch-up batches, or by a person to rerun a batch: a rerun
/// replaces the batch's output, it never adds to it.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "kube", derive(CustomResource, KubeSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "ade.dev",
        version = "v1alpha1",
        kind = "EtlRun",
        namespaced,
        status = "EtlRunStatus",
        shortname = "etlrun",
        category = "ade",
        doc = "One batch of one EtlJob: created on schedule, by a backfill, or by a person to rerun a batch.",
        printcolumn(name = "Job", type_ = "string", json_path = ".spec.jobRef.name"),
        printcolumn(name = "Batch", type_ = "string", json_path = ".spec.batchId"),
        printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
        printcolumn(name = "Attempts", type_ = "integer", json_path = ".status.attemptCount"),
        printcolumn(name = "Cluster", type_ = "string", json_path = ".status.cluster"),
        printcolumn(name = "Cost", type_ = "string", json_path = ".status.estimatedCostUSD"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct EtlRunSpec {
    /// The EtlJob this run is a batch of. Immutable.
    #[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self == oldSelf").message("jobRef is immutable: create a new EtlRun instead")))]
    pub job_ref: LocalObjectReference,

    /// Stable id of the batch, derived from its window start, e.g. `2026-11-25T13`
    /// for an hourly window. Immutable.
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 63),
            regex(pattern = r"^[0-9A-Za-z]([0-9A-Za-z.:_\-]*[0-9A-Za-z])?$")
        )
    )]
    #[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self == oldSelf").message("batchId is immutable: create a new EtlRun to run another batch")))]
    pub batch_id: String,

    /// The data window the batch covers. Omitted on a rerun: the controller takes
    /// it from the job's window for this batch id. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self == oldSelf").message("window is immutable: create a new EtlRun instead")))]
    pub window: Option<RunWindow>,

    /// Why the run exists: `schedule`, `backfill`, `catchUp`, `rerun` or `manual`.
    #[serde(default)]
    pub reason: RunReason,

    /// Set to true to cancel the run: a running attempt is stopped and the run
    /// ends `Cancelled`. A cancelled run cannot be resumed; create a new one.
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self || !oldSelf").message("a cancelled run cannot be resumed: create a new EtlRun instead")))]
    pub cancel: bool,
}

/// The data window of one batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.start < self.end").message("window.start must be before window.end")))]
pub struct RunWindow {
    /// Start of the window (inclusive).
    pub start: Time,
    /// End of the window (exclusive).
    pub end: Time,
}

/// Why a run exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum RunReason {
    /// Due on the job's schedule.
    Schedule,
    /// Part of the job's backfill.
    Backfill,
    /// A batch missed while the job or the operator was down.
    CatchUp,
    /// A person reran a batch.
    Rerun,
    /// Created by a person: by hand, or "run now" (`kubectl ade run-now`,
    /// Argo CD's `run-now` action) for the job's current batch.
    #[default]
    Manual,
}

/// Observed state of an EtlRun.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
pub struct EtlRunStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted`, `Scheduled` (it has capacity, or says why it waits) and `Ready`
    /// (True once the run has finished successfully).
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["type".into()])))]
    pub conditions: Vec<Condition>,

    /// `Pending`, `Provisioning`, `Running`, `Succeeded`, `Failed` or `Cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RunPhase>,

    /// Every attempt, oldest first. An attempt is written here before its
    /// external work (Job, EMR step) is created, so a restarted operator adopts it
    /// instead of starting it twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,

    /// Number of attempts so far.
    #[serde(default)]
    pub attempt_count: i32,

    /// The ClusterPool the run executes on (its job's pool when it started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,

    /// Where the current or last attempt runs: a cluster id, or the pool name on
    /// kubernetes pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,

    /// When the next attempt may start, while waiting out a retry backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,

    /// When the first attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When the run reached a final phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,

    /// Estimated cost of all attempts, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "estimatedCostUSD")]
    pub estimated_cost_usd: Option<Usd>,

    /// The catalog partitions this run registered (its batch is final) or
    /// removed (a gate quarantined it), one per cataloged output of the job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["output".into()])))]
    pub partitions: Vec<RegisteredPartition>,
}

/// Phase of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum RunPhase {
    /// Accepted; waiting for its turn, for capacity or for a retry backoff.
    Pending,
    /// Capacity is being provisioned for it.
    Provisioning,
    /// An attempt is executing.
    Running,
    /// An attempt succeeded.
    Succeeded,
    /// The last allowed attempt failed.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl RunPhase {
    /// Whether the phase is final.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The phase as written in `status.phase`, e.g. `Running`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// One attempt of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Attempt number, from 1.
    pub attempt: i32,
    /// EMR cluster the attempt ran on (emr pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// EMR step of the attempt (emr pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// Kubernetes Job of the attempt (kubernetes and eks pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// `spot` or `on-demand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// When the attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the attempt ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How it ended: `Succeeded`, `Failed`, `TimedOut`, `Interrupted` (capacity lost;
    /// does not use up the retry limit) or `Cancelled`. Empty while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AttemptOutcome>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the attempt cost so far, US dollars, on pools whose provider
    /// prices attempts (emr: its share of its cluster; eks: its share of its
    /// node). Kept once the attempt's record at the provider is gone.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "estimatedCostUSD")]
    pub estimated_cost_usd: Option<Usd>,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum AttemptOutcome {
    /// It succeeded.
    Succeeded,
    /// It failed; counts against the retry limit.
    Failed,
    /// It ran past the job's timeout; counts against the retry limit.
    TimedOut,
    /// Its capacity was lost (spot interruption); retried without using the limit.
    Interrupted,
    /// It was cancelled.
    Cancelled,
}
