//! EtlJob: an idempotent batch job with a cadence.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{Condition, Duration, LocalObjectReference, Time, Usd};

/// A batch job that runs on a cadence. Every run covers a data window with a
/// stable batch id, so running a batch again replaces its output instead of
/// duplicating it; a backfill is just more batches.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
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
    #[schemars(length(min = 1, max = 128))]
    pub schedule: Option<String>,

    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default `UTC`.
    #[serde(default = "default_time_zone")]
    #[schemars(length(min = 1, max = 64))]
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
    #[schemars(length(max = 16))]
    pub depends_on: Vec<Dependency>,

    /// When a batch counts as late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,

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

/// What a run executes. Exactly one field is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.sparkSubmit), has(self.hive), has(self.trino), has(self.container)].filter(x, x).size() == 1").message("set exactly one task kind: sparkSubmit, hive, trino or container"))]
pub struct Task {
    /// A Spark application (`spark-submit`): an EMR step, or a Job on kubernetes pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_submit: Option<SparkSubmitTask>,

    /// A Hive script (EMR pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hive: Option<HiveTask>,

    /// A Trino query (EMR pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trino: Option<TrinoTask>,

    /// A container image (kubernetes and eks pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerTask>,
}

/// A Spark application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SparkSubmitTask {
    /// The application: a Python file or a JAR, e.g. `s3://code/jobs/orders.py`.
    #[schemars(length(min = 1, max = 2048))]
    pub main_application_file: String,

    /// Main class of a JAR application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,

    /// Application arguments; template variables such as `{{batch.id}}` are rendered.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub args: Vec<String>,

    /// Spark configuration (`--conf key=value`); values may use template variables.
    #[serde(default)]
    pub conf: BTreeMap<String, String>,

    /// Image with `spark-submit`, for kubernetes and eks pools. Default: the
    /// operator's configured Spark image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// On kubernetes and eks pools: `local` (driver and executors in the run's
    /// Pod, the default) or `kubernetes` (the driver in the run's Pod starts
    /// executor Pods; the pool's ServiceAccount needs the RBAC Spark documents).
    #[serde(default)]
    pub mode: SparkMode,
}

/// Where a Spark application's executors run on kubernetes and eks pools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SparkMode {
    /// Driver and executors in one Pod (`--master local[*]`).
    #[default]
    Local,
    /// Executors as Pods (`--master k8s://...`, client deploy mode).
    Kubernetes,
}

/// A Hive script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HiveTask {
    /// Location of the HQL script, e.g. `s3://code/jobs/orders.hql`.
    #[schemars(length(min = 1, max = 2048))]
    pub script: String,

    /// Hive variables (`-d key=value`); values may use template variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// A Trino query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrinoTask {
    /// The SQL to run, e.g. `INSERT OVERWRITE ...`; may use template variables.
    #[schemars(length(min = 1, max = 65536))]
    pub query: String,

    /// Default catalog of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,

    /// Default schema of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// A container run as a Kubernetes Job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerTask {
    /// Container image.
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,

    /// Entrypoint; the image's when omitted.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub command: Vec<String>,

    /// Arguments; template variables such as `{{batch.id}}` are rendered.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub args: Vec<String>,

    /// Environment variables; `value`s may use template variables.
    #[serde(default)]
    #[schemars(length(max = 128))]
    pub env: Vec<EnvVar>,

    /// CPU and memory requests and limits; requests also drive the cost estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra labels and annotations for the run's Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
}

/// Labels and annotations added to the Pods of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodMetadata {
    /// Labels of the Pods.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the Pods.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The data window of a scheduled run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.from < self.to").message("backfill.from must be before backfill.to"))]
pub struct Backfill {
    /// Start of the first window (inclusive), e.g. `2026-11-01T00:00:00Z`.
    pub from: Time,

    /// End of the last window (exclusive).
    pub to: Time,

    /// Most backfill runs active at once.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 100))]
    pub parallelism: i32,

    /// `OldestFirst` (the default) or `NewestFirst`.
    #[serde(default)]
    pub order: BackfillOrder,
}

fn default_parallelism() -> i32 {
    1
}

/// Order in which backfill batches run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BackfillOrder {
    /// Oldest window first.
    #[default]
    OldestFirst,
    /// Newest window first.
    NewestFirst,
}

/// Retry policy of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    /// Attempts after the first one; 0 disables retries.
    #[serde(default = "default_retry_limit")]
    #[schemars(range(min = 0, max = 100))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("duration(self.initial) <= duration(self.max)").message("backoff.initial must not exceed backoff.max"))]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatchUp {
    /// `none` (skip missed batches), `latest` (run only the newest missed batch,
    /// the default) or `all` (run every missed batch, at most `limit`).
    #[serde(default)]
    pub policy: CatchUpPolicy,

    /// Most missed batches run by catch-up.
    #[serde(default = "default_catch_up_limit")]
    #[schemars(range(min = 1, max = 1000))]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// ValidationSuites run after every batch; a failure quarantines the batch.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub after: Vec<Gate>,
}

/// An upstream job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The EtlJob this job depends on.
    pub etl_job_ref: LocalObjectReference,
}

/// One quality gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// The ValidationSuite that must pass.
    pub validation_suite_ref: LocalObjectReference,
}

/// When a batch counts as late.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// A batch not Succeeded by its window end + deadline sets the `Late` condition.
    pub deadline: Duration,
}

/// Cost guard of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// A run projected to cost more than this (US dollars) is not started and the
    /// job gets the `OverBudget` condition.
    #[serde(rename = "maxCostPerRunUSD")]
    pub max_cost_per_run_usd: Usd,
}

/// How many finished runs to keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLimit {
    /// Succeeded runs kept.
    #[serde(default = "default_history")]
    #[schemars(range(min = 0, max = 1000))]
    pub succeeded: i32,

    /// Failed runs kept.
    #[serde(default = "default_history")]
    #[schemars(range(min = 0, max = 1000))]
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

/// Observed state of an EtlJob.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EtlJobStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted` (the spec is valid), `Ready`, `Progressing`, `Degraded` (the
    /// newest finished run failed), `Late` (a batch missed its freshness
    /// deadline) and `OverBudget` (runs are projected to cost more than the budget).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// When the last scheduled batch was due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,

    /// When the next scheduled batch is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,

    /// Batch id of the newest batch that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_batch: Option<String>,

    /// Runs not yet finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<ActiveRun>,

    /// Number of entries in `active`.
    #[serde(default)]
    pub active_count: i32,

    /// Progress of the backfill, when the job has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillStatus>,
}

/// A run that has not finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRun {
    /// The batch it covers.
    pub batch_id: String,
    /// Name of the EtlRun.
    pub run: String,
}

/// Progress of a backfill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackfillStatus {
    /// The range this progress is for; a changed `spec.backfill` starts over
    /// (batches that already have a run are not run again).
    pub from: Time,
    /// End of the range.
    pub to: Time,
    /// Batches in the backfill range.
    pub total: i32,
    /// Batches whose EtlRun has been created, in backfill order.
    pub created: i32,
    /// Window start of the last batch counted in `created`: the next batch
    /// of the backfill is the one after it (before it with `NewestFirst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Time>,
    /// Batches that succeeded.
    pub succeeded: i32,
    /// Batches that failed.
    pub failed: i32,
}
