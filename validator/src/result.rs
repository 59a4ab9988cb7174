//! The result document (`ade.dev/validation-result/v1`): suite, batch, timings,
//! each check's status with what was observed and expected and a sample of
//! failing rows, and the profile. Also the suite outcome rule. Pure.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::profile::ColumnProfile;
use ade_api::v1alpha1::{DatasetFormat, Severity};

/// Version tag of the result document.
pub const RESULT_API_VERSION: &str = "ade.dev/validation-result/v1";

/// How a suite run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Every check passed (or was skipped).
    Passed,
    /// Only warn-severity failures or inconclusive checks.
    Warned,
    /// At least one error-severity check failed.
    Failed,
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// A history check with fewer comparable batches than `minHistory`: neither passes nor fails.
    InsufficientHistory,
    /// The check could not decide (uniqueness beyond its memory cap): counted as a warning.
    Inconclusive,
}

/// What a check means for the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckOutcome {
    Passed,
    Warned,
    Failed,
    Skipped,
}

impl CheckOutcome {
    /// The rule: failed error checks fail, failed warn checks and inconclusive ones warn,
    /// insufficient history skips.
    pub fn of(status: CheckStatus, severity: Severity) -> Self {
        match (status, severity) {
            (CheckStatus::Passed, _) => Self::Passed,
            (CheckStatus::Failed, Severity::Error) => Self::Failed,
            (CheckStatus::Failed, Severity::Warn) | (CheckStatus::Inconclusive, _) => Self::Warned,
            (CheckStatus::InsufficientHistory, _) => Self::Skipped,
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub severity: Severity,
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    pub status: CheckStatus,
    pub outcome: CheckOutcome,
    pub observed: Value,
    pub expected: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluated_rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mostly: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing_sample: Vec<Map<String, Value>>,
    pub message: String,
}

/// Counts of check outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: u32,
    pub warned: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// Counts outcomes and derives the suite outcome.
pub fn summarize(checks: &[CheckResult]) -> (Summary, Outcome) {
    let mut s = Summary::default();
    for c in checks {
        match c.outcome {
            CheckOutcome::Passed => s.passed += 1,
            CheckOutcome::Warned => s.warned += 1,
            CheckOutcome::Failed => s.failed += 1,
            CheckOutcome::Skipped => s.skipped += 1,
        }
    }
    let outcome = if s.failed > 0 {
        Outcome::Failed
    } else if s.warned > 0 {
        Outcome::Warned
    } else {
        Outcome::Passed
    };
    (s, outcome)
}

/// The batch window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Window {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// The dataset as scanned.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetInfo {
    pub uri: String,
    pub format: DatasetFormat,
    pub files: usize,
    pub bytes: u64,
}

/// When and how long.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub scan_seconds: f64,
    pub total_seconds: f64,
}

/// The profile section.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSection {
    pub row_count: u64,
    /// `footer` when Parquet footers gave the row count, else `scan`.
    pub row_count_from: &'static str,
    pub columns: Vec<ColumnProfile>,
}

/// The whole document.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultDocument {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub suite: String,
    pub batch_id: String,
    pub window: Window,
    pub dataset: DatasetInfo,
    pub outcome: Outcome,
    pub summary: Summary,
    pub timings: Timings,
    pub checks: Vec<CheckResult>,
    pub profile: ProfileSection,
    /// Where the document, history record and alerts went.
    pub published: Published,
}

/// Where things were published (filled in before publishing, so the stored document says so too).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opensearch_index: Option<String>,
    /// Alert channels notified (`slack`, `sns`); empty when health did not change.
    pub alerts: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_rules() {
        use CheckStatus as S;
        use Severity::{Error as E, Warn as W};
        let cases = [
            (S::Passed, E, CheckOutcome::Passed),
            (S::Failed, E, CheckOutcome::Failed),
            (S::Failed, W, CheckOutcome::Warned),
            (S::Inconclusive, E, CheckOutcome::Warned),
            (S::InsufficientHistory, E, CheckOutcome::Skipped),
        ];
        for (status, severity, want) in cases {
            assert_eq!(CheckOutcome::of(status, severity), want, "{status:?} {severity:?}");
        }
        let check = |outcome| CheckResult {
            name: "c".into(),
            kind: "rowCount",
            column: None,
            severity: E,
            where_: None,
            status: S::Passed,
            outcome,
            observed: Value::Null,
            expected: Value::Null,
            evaluated_rows: None,
            failing_rows: None,
            mostly: None,
            failing_sample: vec![],
            message: String::new(),
        };
        let suites = [
            (vec![], Outcome::Passed),
            (
                vec![check(CheckOutcome::Passed), check(CheckOutcome::Skipped)],
                Outcome::Passed,
            ),
            (
                vec![check(CheckOutcome::Passed), check(CheckOutcome::Warned)],
                Outcome::Warned,
            ),
            (
                vec![check(CheckOutcome::Warned), check(CheckOutcome::Failed)],
                Outcome::Failed,
            ),
        ];
        for (checks, want) in suites {
            assert_eq!(summarize(&checks).1, want);
        }
    }
}
