//! EtlJob: an idempotent batch job with a cadence.

#[cfg(feature = "kube")]
use kube::{CustomResource, KubeSchema};
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Duration, LocalObjectReference, Output, Time, Usd};

mod status;
mod task;

pub use status::*;
pub use task::*;

/// A batch job that runs on a cadence. Every run covers a data window with a
/// stable batch id, so running a batch again replaces its output instead of
/// duplicating it; a backfill is just more batches.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "kube", derive(CustomResource, KubeSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "ade.dev",
        version = "v1alpha1",
        kind = "EtlJob",
        namespaced,
        status = "EtlJobStatus",
        shortname = "etl",
        category = "ade",
        doc = "An idempotent batch job with a cadence: every run covers a data window with a stable batch id.",
        printcolumn(name = "Pool", type_ = "string", json_path = ".spec.poolRef.name"),
        printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
        printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspend", priority = "1"),
        printcolumn(name = "Active", type_ = "integer", json_path = ".status.activeCount"),
        printcolumn(name = "Last-Batch", type_ = "string", json_path = ".status.lastSuccessfulBatch"),
        printcolumn(
            name = "Next",
            type_ = "date",
            json_path = ".status.nextScheduleTime",
            priority = "1"
        ),
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct EtlJobSpec {
    /// The ClusterPool the job's runs execute on.
    pub pool_ref: LocalObjectReference,

    /// What a run executes: exactly one task kind.
    pub task: Task,

    /// Cron cadence (5 fields: minute hour day-of-month month day-of-week, or
    /// `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). Omitted: the job
    /// runs only on request (a backfill, or an EtlRun created by a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 128)))]
    pub schedule: Option<String>,

    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default `UTC`.
    #[serde(default = "default_time_zone")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 64)))]
    pub time_zone: String,

    /// The data window a scheduled run covers. Omitted: the interval between the
    /// previous schedule time and this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowSpec>,

    /// Batches to run for a past range of time, `parallelism` at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,

    /// Retries of a failed run. Spot interruptions are retried without using the limit.
    #[serde(default)]
    pub retries: Retries,

    /// Longest a run attempt may take before it is stopped and counted as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,

    /// What to do when a run is due while another batch is still running:
    /// `Allow`, `Forbid` (the default: the new batch waits) or `Replace` (cancel the
    /// running batch). Two live runs of the same batch never happen.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,

    /// Which missed batches run after the operator or the job was down.
    #[serde(default)]
    pub catch_up: CatchUp,

    /// ValidationSuites a batch must pass: a failed gate marks the batch
    /// Quarantined and holds jobs that depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<Gates>,

    /// EtlJobs (in this namespace) whose output this job reads. While any of
    /// their batches is Quarantined by a gate, this job starts no scheduled
    /// or backfill batch (condition `Held`); the missed ticks then follow
    /// `catchUp` once the quarantine is lifted (a rerun that passes, or the
    /// quarantined run deleted). EtlRuns created by hand are not held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub depends_on: Vec<Dependency>,

    /// When a batch counts as late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,

    /// Datasets a batch writes. An output with a `catalog` is registered in
    /// the Glue Data Catalog as one partition per batch once the batch is
    /// final: its run succeeded and, when the job has `gates.after`, every
    /// gating suite passed it. A batch a gate quarantines is removed again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["name".into()])))]
    pub outputs: Vec<Output>,

    /// Cost guard: a run projected to cost more is not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,

    /// How many finished runs to keep.
    #[serde(default)]
    pub history_limit: HistoryLimit,

    /// Stop scheduling new runs. Running runs finish.
    #[serde(default)]
    pub suspend: bool,
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

/// The data window of a scheduled run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WindowSpec {
    /// Length of the window, e.g. `1h` or `24h`.
    pub size: Duration,

    /// How long after the window ends its run starts (for late data), e.g. `15m`.
    #[serde(default = "zero_duration")]
    pub delay: Duration,
}

fn zero_duration() -> Duration {
    Duration::from_static("0s")
}

/// A declarative backfill of past windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.from < self.to").message("backfill.from must be before backfill.to")))]
pub struct Backfill {
    /// Start of the first window (inclusive), e.g. `2026-11-01T00:00:00Z`.
    pub from: Time,

    /// End of the last window (exclusive).
    pub to: Time,

    /// Most backfill runs active at once.
    #[serde(default = "default_parallelism")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 100)))]
    pub parallelism: i32,

    /// `OldestFirst` (the default) or `NewestFirst`.
    #[serde(default)]
    pub order: BackfillOrder,
}

fn default_parallelism() -> i32 {
    1
}

/// Order in which backfill batches run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum BackfillOrder {
    /// Oldest window first.
    #[default]
    OldestFirst,
    /// Newest window first.
    NewestFirst,
}

/// Retry policy of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    /// Attempts after the first one; 0 disables retries.
    #[serde(default = "default_retry_limit")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 100)))]
    pub limit: i32,

    /// Exponential backoff between attempts (with jitter).
    #[serde(default)]
    pub backoff: Backoff,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            limit: default_retry_limit(),
            backoff: Backoff::default(),
        }
    }
}

fn default_retry_limit() -> i32 {
    3
}

/// Exponential backoff bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("duration(self.initial) <= duration(self.max)").message("backoff.initial must not exceed backoff.max")))]
pub struct Backoff {
    /// Wait before the first retry; doubled on every further retry.
    #[serde(default = "default_backoff_initial")]
    pub initial: Duration,

    /// Longest wait between retries.
    #[serde(default = "default_backoff_max")]
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: default_backoff_initial(),
            max: default_backoff_max(),
        }
    }
}

fn default_backoff_initial() -> Duration {
    Duration::from_static("30s")
}

fn default_backoff_max() -> Duration {
    Duration::from_static("10m")
}

/// What to do when a run is due while another batch of the job is running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum ConcurrencyPolicy {
    /// Run batches side by side.
    Allow,
    /// The new batch waits until the running one ends.
    #[default]
    Forbid,
    /// Cancel the running batch and start the new one.
    Replace,
}

/// Catch-up after downtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CatchUp {
    /// `none` (skip missed batches), `latest` (run only the newest missed batch,
    /// the default) or `all` (run every missed batch, at most `limit`).
    #[serde(default)]
    pub policy: CatchUpPolicy,

    /// Most missed batches run by catch-up.
    #[serde(default = "default_catch_up_limit")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub limit: i32,
}

impl Default for CatchUp {
    fn default() -> Self {
        Self {
            policy: CatchUpPolicy::default(),
            limit: default_catch_up_limit(),
        }
    }
}

fn default_catch_up_limit() -> i32 {
    24
}

/// Which missed batches run after downtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CatchUpPolicy {
    /// Skip missed batches.
    None,
    /// Run only the newest missed batch.
    #[default]
    Latest,
    /// Run every missed batch, oldest first, up to the limit.
    All,
}

/// Quality gates of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// ValidationSuites run after every batch; a failure quarantines the batch.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16)))]
    pub after: Vec<Gate>,
}

/// An upstream job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The EtlJob this job depends on.
    pub etl_job_ref: LocalObjectReference,
}

/// One quality gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// The ValidationSuite that must pass.
    pub validation_suite_ref: LocalObjectReference,
}

/// When a batch counts as late.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// A batch not Succeeded by its window end + deadline sets the `Late` condition.
    pub deadline: Duration,
}

/// Cost guard of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// A run projected to cost more than this (US dollars) is not started and the
    /// job gets the `OverBudget` condition.
    #[serde(rename = "maxCostPerRunUSD")]
    pub max_cost_per_run_usd: Usd,
}

/// How many finished runs to keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryLimit {
    /// Succeeded runs kept.
    #[serde(default = "default_history")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1000)))]
    pub succeeded: i32,

    /// Failed runs kept.
    #[serde(default = "default_history")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0, max = 1000)))]
    pub failed: i32,
}

impl Default for HistoryLimit {
    fn default() -> Self {
        Self {
            succeeded: default_history(),
            failed: default_history(),
        }
    }
}

fn default_history() -> i32 {
    10
}
