//! The run summary (`ade_api::validation::RunSummary`) of a finished run: a
//! small JSON document for the process that started the run, written once in
//! ade-api and read by the operator from the Pod's termination message.

use ade_api::validation::{MAX_NAMED_CHECKS, cut};
pub use ade_api::validation::{RunSummary, SUMMARY_API_VERSION, SummaryOutcome};

use crate::result::{CheckOutcome, Outcome, ResultDocument};

/// The summary of a run whose checks ran but whose publishing failed: their
/// verdict (counts and names), outcome `publishFailed`, and what failed.
pub fn publish_failed(doc: &ResultDocument, message: &str, republish: bool) -> RunSummary {
    RunSummary {
        outcome: SummaryOutcome::PublishFailed,
        message: Some(cut(message)),
        republish,
        ..of(doc)
    }
}

/// The summary of a finished run.
pub fn of(doc: &ResultDocument) -> RunSummary {
    let named = |want: CheckOutcome| {
        doc.checks
            .iter()
            .filter(|c| c.outcome == want)
            .take(MAX_NAMED_CHECKS)
            .map(|c| cut(&c.name))
            .collect()
    };
    RunSummary {
        api_version: SUMMARY_API_VERSION.to_owned(),
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
        republish: false,
    }
}
