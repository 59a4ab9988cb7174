//! ValidationSuite: profiles and checks on a dataset, kept as history and alerted on.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{Condition, Duration, LocalObjectReference, SecretKeyRef, Time};

/// Profiles a dataset and runs checks on it in one scan, after every batch of
/// an EtlJob or on a schedule; keeps the metrics as history for anomaly
/// checks, publishes results and alerts when the suite's health changes.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "ade.dev",
    version = "v1alpha1",
    kind = "ValidationSuite",
    namespaced,
    status = "ValidationSuiteStatus",
    shortname = "vsuite",
    category = "ade",
    doc = "Profiles and checks on a dataset, run after every batch of an EtlJob or on a schedule.",
    printcolumn(name = "Dataset", type_ = "string", json_path = ".spec.dataset.uri"),
    printcolumn(name = "Last-Batch", type_ = "string", json_path = ".status.lastRun.batchId"),
    printcolumn(name = "Passed", type_ = "integer", json_path = ".status.lastRun.passed"),
    printcolumn(
        name = "Warned",
        type_ = "integer",
        json_path = ".status.lastRun.warned",
        priority = "1"
    ),
    printcolumn(name = "Failed", type_ = "integer", json_path = ".status.lastRun.failed"),
    printcolumn(
        name = "Healthy",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Healthy\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ValidationSuiteSpec {
    /// The data to profile and check.
    pub dataset: Dataset,

    /// When the suite runs.
    pub trigger: Trigger,

    /// What to profile.
    #[serde(default)]
    pub profile: Profile,

    /// The checks. Names are unique within the suite.
    #[serde(default)]
    #[schemars(length(max = 200))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub checks: Vec<Check>,

    /// Where results are published (besides status).
    #[serde(default)]
    pub publish: Publish,

    /// Who is told when the suite's health changes.
    #[serde(default)]
    pub alerts: Alerts,

    /// ServiceAccount the validation Jobs run as: give it read access to the
    /// dataset and write access to the publish targets (IRSA, EKS Pod
    /// Identity). Default: the namespace's `default` ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
}

/// A dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// A file, glob or partition folder, local or `s3://`; may use `{{batch.id}}`,
    /// `{{window.start}}`, `{{window.end}}` and `{{job.name}}`, e.g.
    /// `s3://lake/model/orders/batch={{batch.id}}/`.
    #[schemars(length(min = 1, max = 2048))]
    pub uri: String,

    /// `parquet` (the default), `csv` or `json` (JSON lines).
    #[serde(default)]
    pub format: DatasetFormat,
}

/// File format of a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// Apache Parquet.
    #[default]
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON lines.
    Json,
}

/// When a suite runs. Exactly one field is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.after) != has(self.schedule)").message("set exactly one trigger: after or schedule"))]
pub struct Trigger {
    /// Run for every batch the EtlJob completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<AfterJob>,

    /// Run on a cron schedule (5 fields or `@daily` style), in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub schedule: Option<String>,
}

/// A trigger on an EtlJob's batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AfterJob {
    /// The EtlJob whose succeeded batches trigger the suite.
    pub etl_job_ref: LocalObjectReference,
}

/// What to profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Columns to profile; empty means all columns.
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub columns: Vec<String>,

    /// Quantiles computed for numeric columns, each between 0 and 1.
    #[serde(default = "default_quantiles")]
    #[schemars(length(max = 32), inner(range(min = 0.0, max = 1.0)))]
    pub quantiles: Vec<f64>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            quantiles: default_quantiles(),
        }
    }
}

fn default_quantiles() -> Vec<f64> {
    vec![0.5, 0.9, 0.99]
}

/// One check. Exactly one check kind is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.rowCount), has(self.notNull), has(self.unique), has(self.inSet), has(self.range), has(self.regex), has(self.sql), has(self.freshness), has(self.anomaly), has(self.change)].filter(x, x).size() == 1").message("set exactly one check kind: rowCount, notNull, unique, inSet, range, regex, sql, freshness, anomaly or change"),
    validation = Rule::new("has(self.column) || !(has(self.notNull) || has(self.unique) || has(self.inSet) || has(self.range) || has(self.regex) || has(self.freshness))").message("notNull, unique, inSet, range, regex and freshness checks need a column")
)]
pub struct Check {
    /// Name of the check, unique within the suite.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([a-z0-9\-_.]*[a-z0-9])?$"))]
    pub name: String,

    /// The column the check is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub column: Option<String>,

    /// `error` (the default: a failure fails the suite) or `warn`.
    #[serde(default)]
    pub severity: Severity,

    /// Fraction of rows (0 to 1) that must pass a row-level check (inSet, range,
    /// regex, sql); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,

    /// SQL filter: only rows matching it are checked, e.g. `country = 'DE'`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "where")]
    #[schemars(length(min = 1, max = 4096))]
    pub where_: Option<String>,

    /// Bounds on the number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<RowCountCheck>,

    /// The column is mostly not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null: Option<NotNullCheck>,

    /// Every non-null value of the column is unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<UniqueCheck>,

    /// Every value is one of a set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_set: Option<InSetCheck>,

    /// Every value lies in a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeCheck>,

    /// Every value matches a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<RegexCheck>,

    /// Every row satisfies a SQL predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlCheck>,

    /// The newest timestamp in the column is recent enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessCheck>,

    /// A metric stays within k standard deviations of its history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyCheck>,

    /// A metric changes by at most a fraction since the previous comparable batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeCheck>,
}

/// How much a failed check matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure fails the suite.
    #[default]
    Error,
    /// A failure only warns.
    Warn,
}

/// Bounds on the number of rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("rowCount.min must not exceed rowCount.max"))]
pub struct RowCountCheck {
    /// Fewest rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min: Option<i64>,
    /// Most rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max: Option<i64>,
}

/// The column is mostly not null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotNullCheck {
    /// Fraction of rows that must be non-null (default 1).
    #[serde(default = "one")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_ratio: f64,
}

fn one() -> f64 {
    1.0
}

/// Every non-null value is unique.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniqueCheck {}

/// Every value is one of a set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InSetCheck {
    /// The allowed values, as strings.
    #[schemars(length(min = 1, max = 1000))]
    pub values: Vec<String>,
}

/// Every value lies in a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.min) || has(self.max)").message("range needs min, max or both"),
    validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("range.min must not exceed range.max")
)]
pub struct RangeCheck {
    /// Smallest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// Every value matches a regular expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegexCheck {
    /// The expression (Rust `regex` syntax), anchored by the user, e.g. `^[A-Z]{3}-\d+$`.
    #[schemars(length(min = 1, max = 1024))]
    pub pattern: String,
}

/// Every row satisfies a SQL predicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqlCheck {
    /// A boolean SQL expression over the row, e.g. `total = subtotal + tax`.
    #[schemars(length(min = 1, max = 4096))]
    pub predicate: String,
}

/// The newest timestamp is recent enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessCheck {
    /// Largest allowed age of the newest value, measured from the batch's window end.
    pub max_age: Duration,
}

/// Metrics that history checks compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HistoryMetric {
    /// Rows in the batch.
    RowCount,
    /// Null fraction of the column.
    NullRatio,
    /// Approximate distinct values of the column.
    DistinctCount,
    /// Mean of the column.
    Mean,
    /// Minimum of the column.
    Min,
    /// Maximum of the column.
    Max,
}

/// Which past batches are comparable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Seasonality {
    /// Every past batch.
    #[default]
    None,
    /// Batches at the same hour of day.
    Daily,
    /// Batches on the same weekday (and hour, for hourly batches).
    Weekly,
}

/// A metric stays within `stddevs` standard deviations of the mean of the last
/// `history` comparable batches: "rows loaded yesterday within 2σ of the last 10 Sundays".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minHistory <= self.history").message("anomaly.minHistory must not exceed anomaly.history"))]
pub struct AnomalyCheck {
    /// The metric compared.
    pub metric: HistoryMetric,
    /// Allowed distance from the mean, in standard deviations.
    #[serde(default = "default_stddevs")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub stddevs: f64,
    /// Number of comparable past batches used.
    #[serde(default = "default_history_len")]
    #[schemars(range(min = 2, max = 1000))]
    pub history: i32,
    /// Fewest comparable batches needed; with fewer the check reports
    /// `InsufficientHistory` instead of passing or failing.
    #[serde(default = "default_min_history")]
    #[schemars(range(min = 2, max = 1000))]
    pub min_history: i32,
    /// `none`, `daily` or `weekly`: which past batches are comparable.
    #[serde(default)]
    pub seasonality: Seasonality,
}

fn default_stddevs() -> f64 {
    3.0
}

fn default_history_len() -> i32 {
    10
}

fn default_min_history() -> i32 {
    3
}

/// A metric changes by at most `maxRelative` since the previous comparable batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCheck {
    /// The metric compared.
    pub metric: HistoryMetric,
    /// Largest allowed relative change, e.g. 0.5 for ±50%.
    #[schemars(range(min = 0.0))]
    pub max_relative: f64,
    /// `none`, `daily` or `weekly`: which past batch is comparable.
    #[serde(default)]
    pub seasonality: Seasonality,
}

/// Where results are published.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Publish {
    /// A versioned JSON result document per run under this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Publish>,
    /// One document per check and metric, through the bulk API (for Kibana/Dashboards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opensearch: Option<OpenSearchPublish>,
}

/// An object-store prefix for results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Publish {
    /// Prefix, e.g. `s3://quality/results/`.
    #[schemars(regex(pattern = r"^s3://.+"))]
    pub uri: String,
}

/// An OpenSearch or Elasticsearch index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenSearchPublish {
    /// Base URL, e.g. `https://search:9200`.
    #[schemars(regex(pattern = r"^https?://.+"))]
    pub url: String,
    /// Index name.
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[a-z0-9][a-z0-9_\-.]*$"))]
    pub index: String,
    /// Secret key holding `user:password` for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretKeyRef>,
}

/// Who is told when a suite's health changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    /// A Slack incoming webhook, its URL in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackAlert>,
    /// An SNS topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsAlert>,
    /// When to alert: `failure` (the default), `warning` (failures and warnings)
    /// or `always`. (Not `on`: YAML 1.1 reads a bare `on` key as `true`.)
    #[serde(default)]
    pub notify_on: AlertOn,
}

/// A Slack incoming webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackAlert {
    /// Secret key holding the webhook URL.
    pub webhook_secret_ref: SecretKeyRef,
}

/// An SNS topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnsAlert {
    /// Topic ARN.
    #[schemars(regex(pattern = r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]+:[0-9]{12}:.+$"))]
    pub topic_arn: String,
}

/// When alerts are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertOn {
    /// When the suite fails.
    #[default]
    Failure,
    /// When the suite fails or warns.
    Warning,
    /// After every run.
    Always,
}

/// Observed state of a ValidationSuite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationSuiteStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted`, `Ready` and `Healthy` (the last run had no error-severity failure).
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The newest finished run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<SuiteRun>,

    /// The run in progress: recorded before its Job is created, so a restarted
    /// operator finds the same Job instead of starting a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveValidation>,
}

/// A run of a suite that has started and not yet been read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveValidation {
    /// The batch being checked.
    pub batch_id: String,
    /// The batch's data window, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<Time>,
    /// End of the batch's data window, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<Time>,
    /// The EtlRun whose completion triggered the run (trigger `after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etl_run: Option<String>,
    /// When the batch became due: the EtlRun's finish or the schedule's tick.
    pub triggered_at: Time,
    /// The Kubernetes Job running `ade-validate`.
    pub job_name: String,
    /// When the run was started.
    pub started_at: Time,
}

/// Summary of one run of a suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuiteRun {
    /// The batch checked.
    pub batch_id: String,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Checks that passed.
    pub passed: i32,
    /// Checks that failed with severity warn.
    pub warned: i32,
    /// Checks that failed with severity error.
    pub failed: i32,
    /// Where the result document is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_uri: Option<String>,
    /// `Passed`, `Warned`, `Failed`, `InvalidInput` (the suite or the data
    /// could not be checked; nothing was published), `PublishFailed` or
    /// `Crashed` (the runner ended without a result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Error-severity checks that failed (at most 20 named).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// What went wrong, when the run could not check the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The EtlRun whose batch was checked (trigger `after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etl_run: Option<String>,
    /// When the batch became due: the EtlRun's finish or the schedule's tick.
    /// The next run is for the next batch due after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_at: Option<Time>,
}
