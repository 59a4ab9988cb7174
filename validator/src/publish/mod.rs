//! Publishers, each optional: the result document to an object store, documents
//! to OpenSearch/Elasticsearch through the bulk API, and alerts to a Slack
//! webhook and an SNS topic. [`should_alert`] is the pure rule for when to alert.

pub mod deliver;
pub mod opensearch;
pub mod slack;
pub mod sns;

use crate::result::{Outcome, ResultDocument};
use ade_api::v1alpha1::AlertOn;

/// Whether to alert, given when the suite wants alerts and the previous batch's outcome.
///
/// Alerts go out when the suite's health changes: with `failure`, when the run
/// starts or stops failing; with `warning`, when the outcome changes (passed,
/// warned, failed); with `always`, after every run. A first run (no previous batch)
/// counts as a change from healthy.
pub fn should_alert(notify_on: AlertOn, previous: Option<Outcome>, current: Outcome) -> bool {
    let previous = previous.unwrap_or(Outcome::Passed);
    match notify_on {
        AlertOn::Always => true,
        AlertOn::Failure => (previous == Outcome::Failed) != (current == Outcome::Failed),
        AlertOn::Warning => previous != current,
    }
}

/// One line for humans: suite, batch, outcome, counts and the failing checks.
pub fn alert_text(doc: &ResultDocument, previous: Option<Outcome>) -> String {
    let name = |o: Outcome| match o {
        Outcome::Passed => "passed",
        Outcome::Warned => "warned",
        Outcome::Failed => "FAILED",
    };
    let failing: Vec<&str> = doc
        .checks
        .iter()
        .filter(|c| {
            !matches!(
                c.outcome,
                crate::result::CheckOutcome::Passed | crate::result::CheckOutcome::Skipped
            )
        })
        .map(|c| c.name.as_str())
        .collect();
    let mut text = format!(
        "ADE suite {} batch {}: {} (passed {}, warned {}, failed {})",
        doc.suite,
        doc.batch_id,
        name(doc.outcome),
        doc.summary.passed,
        doc.summary.warned,
        doc.summary.failed
    );
    if let Some(p) = previous {
        text.push_str(&format!("; previous batch {}", name(p)));
    }
    if !failing.is_empty() {
        text.push_str(&format!("; checks: {}", failing.join(", ")));
    }
    if let Some(uri) = &doc.published.results_uri {
        text.push_str(&format!("; result: {uri}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::{Failed as F, Passed as P, Warned as W};

    #[test]
    fn alert_table() {
        let cases = [
            (AlertOn::Failure, None, P, false),
            (AlertOn::Failure, None, F, true),
            (AlertOn::Failure, Some(F), F, false),
            (AlertOn::Failure, Some(F), P, true),
            (AlertOn::Failure, Some(P), W, false),
            (AlertOn::Failure, Some(W), F, true),
            (AlertOn::Warning, None, W, true),
            (AlertOn::Warning, Some(W), W, false),
            (AlertOn::Warning, Some(W), F, true),
            (AlertOn::Warning, Some(W), P, true),
            (AlertOn::Warning, Some(P), P, false),
            (AlertOn::Always, Some(P), P, true),
        ];
        for (on, previous, current, want) in cases {
            assert_eq!(
                should_alert(on, previous, current),
                want,
                "{on:?} {previous:?} -> {current:?}"
            );
        }
    }
}
