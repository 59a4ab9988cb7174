//! The observed state of a ValidationSuite: the active run and the last one.

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Condition, Time};

/// Observed state of a ValidationSuite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationSuiteStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Accepted`, `Ready` and `Healthy` (the last run had no error-severity failure).
    #[serde(default)]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["type".into()])))]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
    /// Set when this is not a check but publishing again what the run of
    /// the batch could not publish: the publishing attempt (the run itself
    /// was attempt 1). The checks are not run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_attempt: Option<i32>,
    /// The Job of a publishing attempt is not created before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
}

/// Summary of one run of a suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
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
