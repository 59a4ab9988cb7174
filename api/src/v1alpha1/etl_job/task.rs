//! What an EtlJob runs: one of the task kinds (Spark, Hive, Trino, a container).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a run executes. Exactly one field is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("[has(self.sparkSubmit), has(self.hive), has(self.trino), has(self.container)].filter(x, x).size() == 1").message("set exactly one task kind: sparkSubmit, hive, trino or container")))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SparkSubmitTask {
    /// The application: a Python file or a JAR, e.g. `s3://code/jobs/orders.py`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub main_application_file: String,

    /// Main class of a JAR application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,

    /// Application arguments; template variables such as `{{batch.id}}` are rendered.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SparkMode {
    /// Driver and executors in one Pod (`--master local[*]`).
    #[default]
    Local,
    /// Executors as Pods (`--master k8s://...`, client deploy mode).
    Kubernetes,
}

/// A Hive script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HiveTask {
    /// Location of the HQL script, e.g. `s3://code/jobs/orders.hql`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub script: String,

    /// Hive variables (`-d key=value`); values may use template variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// A Trino query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrinoTask {
    /// The SQL to run, e.g. `INSERT OVERWRITE ...`; may use template variables.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 65536)))]
    pub query: String,

    /// Default catalog of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,

    /// Default schema of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// A container run as a Kubernetes Job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerTask {
    /// Container image.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 1024)))]
    pub image: String,

    /// Entrypoint; the image's when omitted.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub command: Vec<String>,

    /// Arguments; template variables such as `{{batch.id}}` are rendered.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
    pub args: Vec<String>,

    /// Environment variables; `value`s may use template variables.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 128)))]
    pub env: Vec<EnvVar>,

    /// CPU and memory requests and limits; requests also drive the cost estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra labels and annotations for the run's Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
}

/// Labels and annotations added to the Pods of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodMetadata {
    /// Labels of the Pods.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the Pods.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}
