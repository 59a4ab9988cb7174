//! ValidationSuite: profiles and checks on a dataset, kept as history and alerted on.

#[cfg(feature = "kube")]
use kube::{CustomResource, KubeSchema};
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{LocalObjectReference, SecretKeyRef};

mod check_kind;
mod checks;
mod status;

pub use check_kind::*;
pub use checks::*;
pub use status::*;

/// Profiles a dataset and runs checks on it in one scan, after every batch of
/// an EtlJob or on a schedule; keeps the metrics as history for anomaly
/// checks, publishes results and alerts when the suite's health changes.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "kube", derive(CustomResource, KubeSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
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
    )
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
    #[cfg_attr(feature = "kube", schemars(length(max = 200)))]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["name".into()])))]
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
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub service_account_name: Option<String>,
}

/// A dataset: a URI, or an output of an EtlJob. Exactly one is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("has(self.uri) != has(self.fromJob)").message("set exactly one of dataset.uri and dataset.fromJob")))]
pub struct Dataset {
    /// A file, glob or partition folder, local or `s3://`; may use `{{batch.id}}`,
    /// `{{window.start}}`, `{{window.end}}` and `{{job.name}}`, e.g.
    /// `s3://lake/model/orders/batch={{batch.id}}/`. Empty when `fromJob` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub uri: String,

    /// An output of an EtlJob in this namespace (`spec.outputs`): its URI,
    /// instead of repeating it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_job: Option<DatasetFromJob>,

    /// `parquet` (the default), `csv` or `json` (JSON lines).
    #[serde(default)]
    pub format: DatasetFormat,
}

/// An EtlJob's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DatasetFromJob {
    /// The EtlJob.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub name: String,
    /// The name of one of its `spec.outputs`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 63)))]
    pub output: String,
}

/// File format of a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("has(self.after) != has(self.schedule)").message("set exactly one trigger: after or schedule")))]
pub struct Trigger {
    /// Run for every batch the EtlJob completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<AfterJob>,

    /// Run on a cron schedule (5 fields or `@daily` style), in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 128)))]
    pub schedule: Option<String>,
}

/// A trigger on an EtlJob's batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AfterJob {
    /// The EtlJob whose succeeded batches trigger the suite.
    pub etl_job_ref: LocalObjectReference,
}

/// What to profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Columns to profile; empty means all columns.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 1000)))]
    pub columns: Vec<String>,

    /// Quantiles computed for numeric columns, each between 0 and 1.
    #[serde(default = "default_quantiles")]
    #[cfg_attr(feature = "kube", schemars(length(max = 32), inner(range(min = 0.0, max = 1.0))))]
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

/// Where results are published.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct S3Publish {
    /// Prefix, e.g. `s3://quality/results/`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^s3://.+")))]
    pub uri: String,
}

/// An OpenSearch or Elasticsearch index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OpenSearchPublish {
    /// Base URL, e.g. `https://search:9200`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^https?://.+")))]
    pub url: String,
    /// Index name.
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 255), regex(pattern = r"^[a-z0-9][a-z0-9_\-.]*$"))
    )]
    pub index: String,
    /// Secret key holding `user:password` for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretKeyRef>,
}

/// Who is told when a suite's health changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SlackAlert {
    /// Secret key holding the webhook URL.
    pub webhook_secret_ref: SecretKeyRef,
}

/// An SNS topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SnsAlert {
    /// Topic ARN.
    #[cfg_attr(
        feature = "kube",
        schemars(regex(pattern = r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]+:[0-9]{12}:.+$"))
    )]
    pub topic_arn: String,
}

/// When alerts are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
