//! The run summary `ade-validate` writes for the process that started it. The
//! ValidationSuite controller runs `ade-validate` as a Kubernetes Job with
//! `--summary-file /dev/termination-log` and reads the summary back from the
//! Pod's termination message, which the kubelet caps at 4096 bytes, so the
//! summary is bounded (names and texts cut, at most 20 names per list).

use serde::{Deserialize, Serialize};

/// Version tag of the summary document.
pub const SUMMARY_API_VERSION: &str = "ade.dev/validation-summary/v1";
/// At most this many failing check names are listed.
pub const MAX_NAMED_CHECKS: usize = 20;
/// Check names, URIs and the message are cut to this many characters.
pub const MAX_TEXT: usize = 500;

/// How a run ended, as the summary says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The summary document. A field this version does not know is an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSummary {
    /// Always [`SUMMARY_API_VERSION`].
    pub api_version: String,
    /// How the run ended.
    pub outcome: SummaryOutcome,
    /// Checks that passed.
    #[serde(default)]
    pub passed: u32,
    /// Checks that failed with severity warn (or were inconclusive).
    #[serde(default)]
    pub warned: u32,
    /// Checks that failed with severity error.
    #[serde(default)]
    pub failed: u32,
    /// Checks skipped for too little history.
    #[serde(default)]
    pub skipped: u32,
    /// Names of the error-severity checks that failed (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// Names of the warn-severity checks that failed (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warned_checks: Vec<String>,
    /// Where the full result document was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_uri: Option<String>,
    /// What went wrong, for `invalidInput` and `publishFailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `publishFailed` only: what is left to publish is stored next to the
    /// result document, and `ade-validate --republish` sends it without
    /// running the checks again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub republish: bool,
}

/// Why a text is not a summary of this version.
#[derive(Debug)]
pub enum SummaryError {
    /// Not the JSON of a summary (an unknown field is named here).
    Json(serde_json::Error),
    /// Another version of the document.
    Version(String),
}

impl std::fmt::Display for SummaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a validation summary: {e}"),
            Self::Version(v) => write!(f, "validation summary version {v}, expected {SUMMARY_API_VERSION}"),
        }
    }
}

impl std::error::Error for SummaryError {}

impl RunSummary {
    /// The summary of a run that stopped with an error; `exit_code` 2 is bad
    /// input, anything else a failure to read history or publish.
    pub fn error(exit_code: i32, message: &str) -> Self {
        Self {
            api_version: SUMMARY_API_VERSION.to_owned(),
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
            republish: false,
        }
    }

    /// The summary as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"apiVersion":"{SUMMARY_API_VERSION}","outcome":"publishFailed","message":"{e}"}}"#)
        })
    }

    /// Reads a summary written by [`RunSummary::to_json`].
    pub fn parse(text: &str) -> Result<Self, SummaryError> {
        let summary: Self = serde_json::from_str(text.trim()).map_err(SummaryError::Json)?;
        if summary.api_version != SUMMARY_API_VERSION {
            return Err(SummaryError::Version(summary.api_version));
        }
        Ok(summary)
    }
}

/// `text` cut to [`MAX_TEXT`] characters (an ellipsis marks the cut).
pub fn cut(text: &str) -> String {
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
        let bad = RunSummary::error(2, &"x".repeat(10_000));
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
            republish: true,
            ..RunSummary::error(2, &"m".repeat(5000))
        };
        assert!(largest.to_json().len() < 4096, "{}", largest.to_json().len());
    }

    #[test]
    fn a_summary_reads_back_and_an_unknown_field_or_version_is_named() {
        let summary = RunSummary {
            failed_checks: vec!["amount_positive".into()],
            results_uri: Some("s3://quality/results/b.json".into()),
            ..RunSummary::error(3, "s3 down")
        };
        assert_eq!(RunSummary::parse(&summary.to_json()).expect("reads back"), summary);
        let extra = summary.to_json().replacen('{', r#"{"exitCode":3,"#, 1);
        let err = RunSummary::parse(&extra).expect_err("unknown field").to_string();
        assert!(err.contains("unknown field `exitCode`"), "{err}");
        let other = summary
            .to_json()
            .replace(SUMMARY_API_VERSION, "ade.dev/validation-summary/v2");
        let err = RunSummary::parse(&other).expect_err("other version").to_string();
        assert!(err.contains("ade.dev/validation-summary/v2"), "{err}");
    }
}
