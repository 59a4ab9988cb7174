//! Reading a finished validation Job back, and what the suite's status and
//! conditions say about it.
//!
//! `ade-validate` writes a bounded JSON summary (`ade.dev/validation-summary/v1`)
//! to its termination message; the exit code (0 passed, 1 failed, 2 bad
//! input, 3 history or publishing failed) is the fallback when there is none.
//!
//! Pure.

use ade_api::validation::{RunSummary, SummaryOutcome};
use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};

use crate::controllers::conditions::{Desired, Status};

/// How a validation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// Only warn-severity checks failed.
    Warned,
    /// An error-severity check failed.
    Failed,
    /// The suite or the data could not be checked; nothing was published.
    InvalidInput,
    /// The checks ran, but the history or a publisher failed.
    PublishFailed,
    /// The runner ended without a result (killed, out of memory, past its deadline).
    Crashed,
}

impl Outcome {
    /// The word in `status.lastRun.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "Passed",
            Self::Warned => "Warned",
            Self::Failed => "Failed",
            Self::InvalidInput => "InvalidInput",
            Self::PublishFailed => "PublishFailed",
            Self::Crashed => "Crashed",
        }
    }

    /// Every outcome.
    pub const ALL: [Self; 6] = [
        Self::Passed,
        Self::Warned,
        Self::Failed,
        Self::InvalidInput,
        Self::PublishFailed,
        Self::Crashed,
    ];

    /// The outcome named by `word`, as written by [`Outcome::as_str`].
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == word)
    }

    /// Whether the data was checked and found good enough to use.
    pub fn passed(self) -> bool {
        matches!(self, Self::Passed | Self::Warned)
    }
}

/// What a finished validation reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// Checks that passed.
    pub passed: i32,
    /// Warn-severity failures.
    pub warned: i32,
    /// Error-severity failures.
    pub failed: i32,
    /// Names of the error-severity checks that failed.
    pub failed_checks: Vec<String>,
    /// Names of the warn-severity checks that failed.
    pub warned_checks: Vec<String>,
    /// The result document.
    pub results_uri: Option<String>,
    /// What went wrong, when the data could not be checked.
    pub message: Option<String>,
    /// Publishing failed and what is left is stored for `--republish`.
    pub republish: bool,
}

/// The report of `job` (with its `pods`), or None while it runs.
pub fn read(job: &Job, pods: &[Pod]) -> Option<Report> {
    let conditions = job.status.as_ref()?.conditions.as_deref().unwrap_or_default();
    let finished = |t: &str| conditions.iter().any(|c| c.type_ == t && c.status == "True");
    let job_failure = conditions
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .map(|c| c.reason.clone().unwrap_or_default());
    if !finished("Complete") && job_failure.is_none() {
        return None;
    }
    let terminated = pods.iter().find_map(|p| {
        p.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find_map(|s| s.state.as_ref()?.terminated.clone())
    });
    let message = terminated.as_ref().and_then(|t| t.message.clone()).unwrap_or_default();
    // The summary `ade-validate --summary-file` wrote (ade-api); anything else
    // there is a log tail, read by exit code below.
    if let Ok(summary) = RunSummary::parse(&message) {
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        return Some(Report {
            outcome: summary_outcome(summary.outcome),
            passed: count(summary.passed),
            warned: count(summary.warned),
            failed: count(summary.failed),
            failed_checks: summary.failed_checks,
            warned_checks: summary.warned_checks,
            results_uri: summary.results_uri,
            message: summary.message,
            republish: summary.republish,
        });
    }
    let exit = terminated.as_ref().map(|t| t.exit_code);
    let (outcome, text) = match exit {
        Some(0) => (Outcome::Passed, None),
        Some(1) => (Outcome::Failed, None),
        Some(2) => (Outcome::InvalidInput, Some(last_line(&message))),
        Some(3) => (Outcome::PublishFailed, Some(last_line(&message))),
        Some(code) => {
            let reason = terminated.and_then(|t| t.reason).unwrap_or_default();
            (
                Outcome::Crashed,
                Some(
                    format!("ade-validate exited with code {code} {reason}")
                        .trim_end()
                        .to_owned(),
                ),
            )
        }
        None => (
            Outcome::Crashed,
            Some(format!(
                "the validation Job {} failed ({}) before ade-validate reported a result",
                job.metadata.name.clone().unwrap_or_default(),
                job_failure.unwrap_or_else(|| "no Pod status".into())
            )),
        ),
    };
    Some(Report {
        outcome,
        passed: 0,
        warned: 0,
        failed: 0,
        failed_checks: Vec::new(),
        warned_checks: Vec::new(),
        results_uri: None,
        message: text,
        republish: false,
    })
}

fn summary_outcome(outcome: SummaryOutcome) -> Outcome {
    match outcome {
        SummaryOutcome::Passed => Outcome::Passed,
        SummaryOutcome::Warned => Outcome::Warned,
        SummaryOutcome::Failed => Outcome::Failed,
        SummaryOutcome::InvalidInput => Outcome::InvalidInput,
        SummaryOutcome::PublishFailed => Outcome::PublishFailed,
    }
}

/// The last non-empty line of a log tail (FallbackToLogsOnError puts the log there).
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_owned()
}

/// The `Healthy` condition after a run with `outcome` (None: no run yet).
pub fn healthy(last: Option<(&Report, &str)>) -> Desired {
    let Some((report, batch)) = last else {
        return Desired::new(
            "Healthy",
            Status::Unknown,
            "NoResult",
            "the suite has not checked a batch yet",
        );
    };
    let where_ = report
        .results_uri
        .as_deref()
        .map(|u| format!("; results: {u}"))
        .unwrap_or_default();
    match report.outcome {
        Outcome::Passed => Desired::new(
            "Healthy",
            Status::True,
            "Passed",
            format!("all {} checks passed on batch {batch}{where_}", report.passed),
        ),
        Outcome::Warned => Desired::new(
            "Healthy",
            Status::True,
            "Warned",
            format!(
                "batch {batch} passed with warnings: {}{where_}",
                report.warned_checks.join(", ")
            ),
        ),
        Outcome::Failed => Desired::new(
            "Healthy",
            Status::False,
            "ChecksFailed",
            format!(
                "{} check(s) failed on batch {batch}: {}{where_}",
                report.failed,
                report.failed_checks.join(", ")
            ),
        ),
        Outcome::InvalidInput | Outcome::PublishFailed | Outcome::Crashed => Desired::new(
            "Healthy",
            Status::Unknown,
            "NotChecked",
            format!("batch {batch} could not be checked: see the Ready condition"),
        ),
    }
}

/// `Ready` False when the last run could not check its batch: the reason and
/// what to do about it. None when it could.
pub fn not_ready(report: &Report, batch: &str) -> Option<Desired> {
    let message = report.message.as_deref().unwrap_or("no message");
    let (reason, advice) = match report.outcome {
        Outcome::InvalidInput => (
            "InvalidInput",
            "fix the suite or the dataset; the batch is checked again when the suite changes",
        ),
        Outcome::PublishFailed => (
            "PublishFailed",
            "the checks ran but their results could not be stored; check the publish targets and their credentials",
        ),
        Outcome::Crashed => ("RunnerFailed", "see the validation Job's Pod for why it stopped"),
        _ => return None,
    };
    Some(Desired::new(
        "Ready",
        Status::False,
        reason,
        format!("checking batch {batch}: {message}; {advice}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(condition: Option<&str>) -> Job {
        let conditions: Vec<_> = condition
            .map(|c| json!({"type": c, "status": "True", "reason": if c == "Failed" { "BackoffLimitExceeded" } else { "" }}))
            .into_iter()
            .collect();
        serde_json::from_value(json!({"metadata": {"name": "q-1"}, "status": {"conditions": conditions}})).expect("job")
    }

    fn pod(exit: i32, message: &str) -> Pod {
        serde_json::from_value(json!({"status": {"containerStatuses": [{
            "name": "validate", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit, "message": message, "reason": if exit == 137 { "OOMKilled" } else { "Completed" }}}
        }]}}))
        .expect("pod")
    }

    #[test]
    fn a_running_job_has_no_report() {
        assert_eq!(read(&job(None), &[]), None);
    }

    #[test]
    fn the_summary_is_the_report() {
        let summary = r#"{"apiVersion":"ade.dev/validation-summary/v1","outcome":"failed","passed":9,"warned":1,"failed":2,"skipped":0,"failedChecks":["id-unique","amount-positive"],"warnedChecks":["email"],"resultsUri":"s3://q/r.json"}"#;
        let report = read(&job(Some("Failed")), &[pod(1, summary)]).expect("report");
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!((report.passed, report.warned, report.failed), (9, 1, 2));
        assert_eq!(report.failed_checks, ["id-unique", "amount-positive"]);
        let healthy = healthy(Some((&report, "2026-11-25")));
        assert_eq!((healthy.status, healthy.reason), (Status::False, "ChecksFailed"));
        assert!(
            healthy.message.contains("id-unique, amount-positive"),
            "{}",
            healthy.message
        );
        assert!(healthy.message.contains("s3://q/r.json"), "{}", healthy.message);
        assert_eq!(not_ready(&report, "b"), None);
    }

    #[test]
    fn bad_input_makes_the_suite_not_ready_with_the_runner_s_words() {
        let summary =
            r#"{"outcome":"invalidInput","message":"bad input: unknown column `amout` in check amount-positive"}"#;
        let report = read(&job(Some("Failed")), &[pod(2, summary)]).expect("report");
        assert_eq!(report.outcome, Outcome::InvalidInput);
        let ready = not_ready(&report, "2026-11-25").expect("not ready");
        assert_eq!((ready.status, ready.reason), (Status::False, "InvalidInput"));
        assert!(ready.message.contains("unknown column `amout`"), "{}", ready.message);
        assert_eq!(healthy(Some((&report, "b"))).status, Status::Unknown);
    }

    #[test]
    fn without_a_summary_the_exit_code_decides() {
        let cases = [
            (0, Outcome::Passed),
            (1, Outcome::Failed),
            (2, Outcome::InvalidInput),
            (3, Outcome::PublishFailed),
            (137, Outcome::Crashed),
        ];
        for (exit, want) in cases {
            let report = read(
                &job(Some(if exit == 0 { "Complete" } else { "Failed" })),
                &[pod(exit, "log line\n")],
            );
            assert_eq!(report.map(|r| r.outcome), Some(want), "exit {exit}");
        }
        let crashed = read(&job(Some("Failed")), &[pod(137, "")]).expect("report");
        assert_eq!(
            crashed.message.as_deref(),
            Some("ade-validate exited with code 137 OOMKilled")
        );
        // The Job failed with no Pod left to ask (deadline, deleted Pod).
        let lost = read(&job(Some("Failed")), &[]).expect("report");
        assert_eq!(lost.outcome, Outcome::Crashed);
        assert!(
            lost.message
                .as_deref()
                .unwrap_or_default()
                .contains("BackoffLimitExceeded")
        );
    }

    #[test]
    fn outcome_words_round_trip() {
        for o in [Outcome::Passed, Outcome::Failed, Outcome::Crashed] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert!(Outcome::Warned.passed() && !Outcome::InvalidInput.passed());
    }
}
