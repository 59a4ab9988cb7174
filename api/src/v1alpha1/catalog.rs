//! Datasets in the AWS Glue Data Catalog: the partition a batch or a stream
//! prefix registers, and what a run records of it.

use std::collections::BTreeMap;

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::Time;

/// A dataset an EtlJob writes, one location per batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("!has(self.catalog) || self.uri.startsWith('s3://')").message("an output registered in the catalog needs an s3:// uri: Glue partitions point at S3").field_path(".uri")))]
pub struct Output {
    /// Name of the output, unique within the job (a ValidationSuite's
    /// `dataset.fromJob.output` names it).
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$"))
    )]
    pub name: String,

    /// Where a batch writes it; may use `{{batch.id}}`, `{{window.start}}`,
    /// `{{window.end}}` and `{{job.name}}`, e.g. `s3://lake/orders/batch={{batch.id}}/`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 2048)))]
    pub uri: String,

    /// The Glue table the batch's location is registered in, as one
    /// partition, once the batch is final (succeeded and, when the job is
    /// gated, passed every gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogPartition>,
}

/// A Glue table and the partition values a writer registers in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("size(self.partition) >= 1").message("catalog.partition needs a value for every partition key of the table").field_path(".partition")))]
pub struct CatalogPartition {
    /// The Glue database.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 255)))]
    pub database: String,

    /// The table in the database. It must exist, partitioned by the keys
    /// `partition` names; a partition takes its storage descriptor (columns,
    /// formats, SerDe) with its own location.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 255)))]
    pub table: String,

    /// Partition key → value, a template: an EtlJob's values may use
    /// `{{batch.id}}`, `{{window.start}}`, `{{window.end}}` and
    /// `{{job.name}}`, a StreamConsumer's `{{date}}`, `{{hour}}`,
    /// `{{minute}}` and `{{shard}}`. E.g. `{batch: "{{batch.id}}"}`.
    #[cfg_attr(feature = "kube", schemars(extend("maxProperties" = 16)))]
    pub partition: BTreeMap<String, String>,

    /// Region of the catalog. Default: the operator's `--aws-region` (a
    /// StreamConsumer's: its stream's region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 32)))]
    pub region: Option<String>,
}

/// A partition a run registered, or removed once a gate quarantined its batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegisteredPartition {
    /// The job's output.
    pub output: String,
    /// The Glue database.
    pub database: String,
    /// The Glue table.
    pub table: String,
    /// Partition key → value.
    pub values: BTreeMap<String, String>,
    /// The partition's location.
    pub location: String,
    /// `Registered` (readers see the batch) or `Removed` (they do not).
    pub state: PartitionState,
    /// When the catalog was told.
    pub at: Time,
}

/// Whether readers of the catalog see a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub enum PartitionState {
    /// In the catalog.
    Registered,
    /// Taken out of the catalog: the batch was quarantined.
    Removed,
}
