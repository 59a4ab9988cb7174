//! The observed state of an EtlJob: schedule times, active runs, backfill progress.

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Condition, Time};

/// Observed state of an EtlJob.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
pub struct EtlJobStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted` (the spec is valid), `Ready`, `Progressing`, `Degraded` (the
    /// newest finished run failed), `Late` (a batch missed its freshness
    /// deadline), `OverBudget` (runs are projected to cost more than the
    /// budget) and, with cataloged outputs, `Cataloged` (whether the catalog
    /// holds every final batch).
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["type".into()])))]
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

    /// Batch id of the newest batch whose outputs are registered in the
    /// catalog (`spec.outputs[].catalog`): what readers of the table see last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_registered_batch: Option<String>,

    /// Batch id of the schedule's newest due batch (its latest tick), whether
    /// or not it has run, suspended or not: the batch that "run now"
    /// (`kubectl ade run-now`, Argo CD's `run-now` action) runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_batch: Option<String>,

    /// Runs not yet finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<ActiveRun>,

    /// Number of entries in `active`.
    #[serde(default)]
    pub active_count: i32,

    /// Progress of the backfill, when the job has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillStatus>,

    /// Batches whose newest validated run failed a quality gate (`gates.after`):
    /// jobs that depend on this one are held while any is listed. A rerun
    /// that passes takes its batch off the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined_batches: Vec<String>,
}

/// A run that has not finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActiveRun {
    /// The batch it covers.
    pub batch_id: String,
    /// Name of the EtlRun.
    pub run: String,
}

/// Progress of a backfill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
