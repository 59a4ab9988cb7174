//! Quality gates: an EtlJob that names a suite in `spec.gates.after` has each
//! batch marked by that suite's verdict. A batch that failed its checks, or
//! could not be checked, is `Quarantined` (a condition on its EtlRun, written
//! with this controller's own field manager, so the EtlRun controller's
//! conditions are left alone); the EtlJob controller holds the jobs that
//! depend on a quarantined batch. A later run that passes lifts it.

use jiff::Timestamp;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::outcome::{Outcome, Report};
use crate::{
    api::v1alpha1::{EtlJob, EtlRun},
    controllers::{
        Context,
        conditions::{self, Desired, Status},
    },
};

/// Field manager of the `Quarantined` condition on EtlRuns.
const GATE_MANAGER: &str = "ade-operator/validation-gate";
/// The condition type on EtlRuns.
pub const QUARANTINED: &str = "Quarantined";

/// Whether `job` gates its batches on the suite `suite`.
pub fn gates(job: &EtlJob, suite: &str) -> bool {
    job.spec
        .gates
        .as_ref()
        .is_some_and(|g| g.after.iter().any(|gate| gate.validation_suite_ref.name == suite))
}

/// The `Quarantined` condition of a batch after `report` of `suite`.
///
/// Pure.
pub fn verdict(report: &Report, suite: &str) -> Desired {
    // When only publishing failed, the checks ran: their result decides
    // (good data is not held because OpenSearch or Slack was down).
    let checked = report.passed + report.warned + report.failed > 0;
    let outcome = match report.outcome {
        Outcome::PublishFailed if checked && report.failed > 0 => Outcome::Failed,
        Outcome::PublishFailed if checked => Outcome::Passed,
        other => other,
    };
    let publishing = if report.outcome == Outcome::PublishFailed {
        format!(
            "; publishing its results failed ({})",
            report.message.as_deref().unwrap_or("see the suite's Ready condition")
        )
    } else {
        String::new()
    };
    match outcome {
        Outcome::Passed | Outcome::Warned => Desired::new(
            QUARANTINED,
            Status::False,
            "ChecksPassed",
            format!("ValidationSuite {suite} passed this batch{publishing}"),
        ),
        Outcome::Failed => Desired::new(
            QUARANTINED,
            Status::True,
            "ChecksFailed",
            format!(
                "ValidationSuite {suite} failed this batch ({}); jobs that depend on it are held until a rerun passes",
                report.failed_checks.join(", ")
            ),
        ),
        Outcome::InvalidInput | Outcome::PublishFailed | Outcome::Crashed => Desired::new(
            QUARANTINED,
            Status::True,
            "NotValidated",
            format!(
                "ValidationSuite {suite} could not check this batch ({}); jobs that depend on it are held",
                report.message.as_deref().unwrap_or("see the suite's Ready condition")
            ),
        ),
    }
}

/// Writes `verdict` on the EtlRun `run`.
pub async fn mark(ctx: &Context, run: &EtlRun, verdict: Desired) -> Result<(), kube::Error> {
    let existing = run.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let condition = conditions::merge(existing, &[verdict], run.metadata.generation, Timestamp::now());
    let patch = json!({
        "apiVersion": "ade.dev/v1alpha1",
        "kind": "EtlRun",
        "status": { "conditions": condition },
    });
    let api: Api<EtlRun> = Api::namespaced(
        ctx.client.clone(),
        run.metadata.namespace.as_deref().unwrap_or_default(),
    );
    api.patch_status(
        run.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::apply(GATE_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome) -> Report {
        Report {
            outcome,
            passed: 1,
            warned: 0,
            failed: 1,
            failed_checks: vec!["id-unique".into()],
            warned_checks: Vec::new(),
            results_uri: None,
            message: Some("unknown column `x`".into()),
            republish: false,
        }
    }

    #[test]
    fn failing_or_unchecked_batches_are_quarantined() {
        let v = verdict(&report(Outcome::Failed), "orders-quality");
        assert_eq!((v.status, v.reason), (Status::True, "ChecksFailed"));
        assert!(v.message.contains("id-unique"), "{}", v.message);
        let v = verdict(&report(Outcome::InvalidInput), "orders-quality");
        assert_eq!((v.status, v.reason), (Status::True, "NotValidated"));
        assert!(v.message.contains("unknown column"), "{}", v.message);
        assert_eq!(verdict(&report(Outcome::Warned), "q").status, Status::False);
    }

    /// Issue 12, item 6.
    #[test]
    fn a_publishing_failure_does_not_quarantine_good_data() {
        let mut good = report(Outcome::PublishFailed);
        (good.failed, good.failed_checks) = (0, Vec::new());
        good.message = Some("OpenSearch answered 503".into());
        let v = verdict(&good, "orders-quality");
        assert_eq!((v.status, v.reason), (Status::False, "ChecksPassed"));
        assert!(v.message.contains("OpenSearch answered 503"), "{}", v.message);
        // Checks that failed still quarantine, whatever happened to publishing.
        let v = verdict(&report(Outcome::PublishFailed), "orders-quality");
        assert_eq!((v.status, v.reason), (Status::True, "ChecksFailed"));
        // No counts at all (the runner said only "publish failed"): not validated.
        let mut unknown = report(Outcome::PublishFailed);
        (unknown.passed, unknown.failed) = (0, 0);
        assert_eq!(verdict(&unknown, "q").reason, "NotValidated");
    }

    #[test]
    fn only_jobs_naming_the_suite_are_gated() {
        let job: EtlJob = serde_json::from_value(serde_json::json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob", "metadata": {"name": "orders"},
            "spec": {"poolRef": {"name": "p"}, "task": {"container": {"image": "i"}},
                     "gates": {"after": [{"validationSuiteRef": {"name": "orders-quality"}}]}}
        }))
        .expect("job");
        assert!(gates(&job, "orders-quality"));
        assert!(!gates(&job, "other"));
    }
}
