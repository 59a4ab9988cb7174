//! Publishing again what a run could not publish. When the checks ran but a
//! publisher (the result store, history, OpenSearch, Slack, SNS) was down,
//! `ade-validate` stores what is left next to the result document and says
//! so in its summary; the suite's verdict is the checks' (see `gate`), the
//! suite is `Ready=False, PublishFailed`, and the controller runs
//! `ade-validate --republish` for the batch after a back-off (1, 2, 4, 8
//! minutes): it sends only what is left, the checks are never run again.
//! After [`MAX_ATTEMPTS`] the suite gives up and says so.
//!
//! Pure.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::{
    job,
    outcome::{Outcome, Report},
};
use crate::{
    api::v1alpha1::{ActiveValidation, SuiteRun, Time},
    controllers::conditions::{Desired, Status},
};

/// Publishing attempts of one run, the run itself included.
pub const MAX_ATTEMPTS: i32 = 5;

/// The wait before publishing attempt `attempt` (2, 3, …).
pub fn backoff(attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(2).clamp(0, 10)).unwrap_or(0);
    Duration::from_secs(60 * 2u64.pow(doublings))
}

/// The next publishing attempt after `active` ended with `report`, when
/// publishing failed, what is left was stored, and attempts remain.
pub fn next(suite: &str, active: &ActiveValidation, report: &Report, now: Timestamp) -> Option<ActiveValidation> {
    if report.outcome != Outcome::PublishFailed || !(report.republish || active.publish_attempt.is_some()) {
        return None;
    }
    let attempt = active.publish_attempt.unwrap_or(1) + 1;
    if attempt > MAX_ATTEMPTS {
        return None;
    }
    let wait = SignedDuration::try_from(backoff(attempt)).unwrap_or(SignedDuration::ZERO);
    let triggered = active.triggered_at.0.to_string();
    Some(ActiveValidation {
        job_name: job::republish_job_name(suite, &active.batch_id, &triggered, attempt),
        started_at: Time(now),
        publish_attempt: Some(attempt),
        not_before: Some(Time(now.checked_add(wait).unwrap_or(now))),
        ..active.clone()
    })
}

/// `Ready` while a publishing attempt is due: why, and when it is tried.
pub fn retrying(next: &ActiveValidation, report: &Report) -> Desired {
    let when = next
        .not_before
        .as_ref()
        .map_or_else(String::new, |t| format!(" at {}", t.0));
    Desired::new(
        "Ready",
        Status::False,
        "PublishFailed",
        format!(
            "the checks of batch {} ran but publishing their results failed ({}); publishing again{when} \
             (attempt {} of {MAX_ATTEMPTS}), without running the checks again",
            next.batch_id,
            report.message.as_deref().unwrap_or("no message"),
            next.publish_attempt.unwrap_or(2),
        ),
    )
}

/// The last run once publishing attempt `attempt` sent everything: the
/// checks' own verdict, nothing failing.
pub fn published(last: &SuiteRun) -> SuiteRun {
    let verdict = if last.failed > 0 {
        Outcome::Failed
    } else if last.warned > 0 {
        Outcome::Warned
    } else {
        Outcome::Passed
    };
    SuiteRun {
        outcome: Some(verdict.as_str().to_owned()),
        message: None,
        ..last.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, republish: bool) -> Report {
        Report {
            outcome,
            passed: 3,
            warned: 0,
            failed: 0,
            failed_checks: Vec::new(),
            warned_checks: Vec::new(),
            results_uri: Some("s3://q/results/suite=a.b/batch=b1/result.json".into()),
            message: Some("OpenSearch: connection refused (tried 3 times)".into()),
            republish,
        }
    }

    fn active() -> ActiveValidation {
        serde_json::from_value(serde_json::json!({
            "batchId": "b1", "triggeredAt": "2026-11-30T10:00:00Z", "jobName": "q-b1-x",
            "startedAt": "2026-11-30T10:00:00Z",
        }))
        .unwrap()
    }

    /// Issue 12, item 6: publishing is retried, with a back-off, never by
    /// running the checks again, and not for ever.
    #[test]
    fn publishing_is_retried_without_running_the_checks_and_not_for_ever() {
        let now: Timestamp = "2026-11-30T10:05:00Z".parse().unwrap();
        assert_eq!(next("q", &active(), &report(Outcome::Passed, false), now), None);
        assert_eq!(
            next("q", &active(), &report(Outcome::PublishFailed, false), now),
            None,
            "nothing stored: nothing to send later"
        );
        let second = next("q", &active(), &report(Outcome::PublishFailed, true), now).unwrap();
        assert_eq!(second.publish_attempt, Some(2));
        assert_eq!(
            second.not_before.as_ref().unwrap().0.to_string(),
            "2026-11-30T10:06:00Z"
        );
        assert_ne!(second.job_name, active().job_name, "a Job of its own");
        let third = next("q", &second, &report(Outcome::PublishFailed, false), now).unwrap();
        assert_eq!(
            (third.publish_attempt, third.not_before.as_ref().unwrap().0.to_string()),
            (Some(3), "2026-11-30T10:07:00Z".into())
        );
        let mut last = second.clone();
        last.publish_attempt = Some(MAX_ATTEMPTS);
        assert_eq!(
            next("q", &last, &report(Outcome::PublishFailed, true), now),
            None,
            "gives up"
        );
        let ready = retrying(&third, &report(Outcome::PublishFailed, true));
        assert_eq!(ready.reason, "PublishFailed");
        assert!(ready.message.contains("attempt 3 of 5"), "{}", ready.message);
    }
}
