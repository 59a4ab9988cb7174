//! The run summary: a small JSON document for the process that started the
//! run. The ValidationSuite controller runs `ade-validate` as a Kubernetes Job
//! with `--summary-file /dev/termination-log`, and reads this back from the
//! Pod's termination message, which the kubelet caps at 4096 bytes — so the
//! summary is bounded here, well below that.

use serde::Serialize;

use crate::result::{CheckOutcome, Outcome, ResultDocument};

/// Version tag of the summary document.
pub const SUMMARY_API_VERSION: &str = "ade.dev/validation-summary/v1";

/// At most this many failing check names are listed.
const MAX_NAMED_CHECKS: usize = 20;
/// Check names and the message are cut to this many characters.
const MAX_TEXT: usize = 500;

/// How a run ended, as the summary says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SummaryOutcome {
    /// Every check passed or was skipped.
    Passed,
    /// Only warn-severity failures or inconclusive checks.
    Warned,
    /// An error-severity check failed.
    Failed,
    /// The input was bad (exit code 2): nothing was published.
    InvalidInput,
    /// The checks ran, but history or a publisher failed (exit code 3).
    PublishFailed,
}

/// The summary document.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Always [`SUMMARY_API_VERSION`].
    pub api_version: &'static str,
    /// How the run ended.
    pub outcome: SummaryOutcome,
    /// Checks that passed.
    pub passed: u32,
    /// Checks that failed with severity warn (or were inconclusive).
    pub warned: u32,
    /// Checks that failed with severity error.
    pub failed: u32,
    /// Checks skipped for too little history.
    pub skipped: u32,
    /// Names of the error-severity checks that failed (at most 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// Names of the warn-severity checks that failed (at most 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warned_checks: Vec<String>,
    /// Where the full result document was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_uri: Option<String>,
    /// What went wrong, for `invalidInput` and `publishFailed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RunSummary {
    /// The summary of a finished run.
    pub fn of(doc: &ResultDocument) -> Self {
        let named = |want: CheckOutcome| {
            doc.checks
                .iter()
                .filter(|c| c.outcome == want)
                .take(MAX_NAMED_CHECKS)
                .map(|c| cut(&c.name))
                .collect()
        };
        Self {
            api_version: SUMMARY_API_VERSION,
            outcome: match doc.outcome {
                Outcome::Passed => SummaryOutcome::Passed,
                Outcome::Warned => SummaryOutcome::Warned,
                Outcome::Failed => SummaryOutcome::Failed,
            },
            passed: doc.summary.passed,
            warned: doc.summary.warned,
            failed: doc.summary.failed,
            skipped: doc.summary.skipped,
            failed_checks: named(CheckOutcome::Failed),
            warned_checks: named(CheckOutcome::Warned),
            results_uri: doc.published.results_uri.as_deref().map(cut),
            message: None,
        }
    }

    /// The summary of a run that stopped with an error; `exit_code` 2 is bad
    /// input, anything else a failure to read history or publish.
    pub fn error(exit_code: i32, message: &str) -> Self {
        Self {
            api_version: SUMMARY_API_VERSION,
            outcome: if exit_code == 2 {
                SummaryOutcome::InvalidInput
            } else {
                SummaryOutcome::PublishFailed
            },
            passed: 0,
            warned: 0,
            failed: 0,
            skipped: 0,
            failed_checks: Vec::new(),
            warned_checks: Vec::new(),
            results_uri: None,
            message: Some(cut(message)),
        }
    }

    /// The summary as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"apiVersion":"{SUMMARY_API_VERSION}","outcome":"publishFailed","message":"{e}"}}"#)
        })
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_summaries_name_the_kind_of_failure_and_stay_small() {
        let long = "x".repeat(10_000);
        let bad = RunSummary::error(2, &long);
        assert_eq!(bad.outcome, SummaryOutcome::InvalidInput);
        assert!(bad.to_json().len() < 1024, "{}", bad.to_json().len());
        assert_eq!(RunSummary::error(3, "s3 down").outcome, SummaryOutcome::PublishFailed);
        let json: serde_json::Value =
            serde_json::from_str(&RunSummary::error(2, "no such column `x`").to_json()).expect("json");
        assert_eq!(json["apiVersion"], SUMMARY_API_VERSION);
        assert_eq!(json["outcome"], "invalidInput");
        assert_eq!(json["message"], "no such column `x`");
    }

    #[test]
    fn the_largest_possible_summary_fits_a_termination_message() {
        // Check names are at most 63 characters (the CRD says so); URIs and
        // messages are cut. The kubelet keeps at most 4096 bytes.
        let largest = RunSummary {
            failed_checks: vec!["c".repeat(63); MAX_NAMED_CHECKS],
            warned_checks: vec!["w".repeat(63); MAX_NAMED_CHECKS],
            results_uri: Some(cut(&format!("s3://{}", "b".repeat(5000)))),
            ..RunSummary::error(2, &"m".repeat(5000))
        };
        assert!(largest.to_json().len() < 4096, "{}", largest.to_json().len());
    }
}
