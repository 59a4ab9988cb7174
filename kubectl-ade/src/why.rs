//! `kubectl ade why RUN`: an EtlRun's state and what holds it, in one sentence.

use ade_api::v1alpha1::{EtlRun, RunPhase, find_condition as condition};

/// One sentence on where `run` stands and why.
pub fn explain(run: &EtlRun) -> String {
    let name = run.metadata.name.as_deref().unwrap_or("EtlRun");
    let head = format!(
        "{name} (batch {} of EtlJob {})",
        run.spec.batch_id, run.spec.job_ref.name
    );
    let Some(status) = &run.status else {
        return format!("{head} has no status yet: the operator has not seen it (is ade-operator running?)");
    };
    let conditions = &status.conditions;
    if let Some(c) = condition(conditions, "Accepted").filter(|c| c.status == "False") {
        return format!("{head} is not accepted ({}): {}", c.reason, c.message);
    }
    let attempts = status.attempts.len();
    let last = status.attempts.last();
    let last_message = last
        .and_then(|a| a.message.clone())
        .unwrap_or_else(|| "no message".to_owned());
    let place = status
        .cluster
        .as_deref()
        .map(|c| format!(" on cluster {c}"))
        .or_else(|| last.and_then(|a| a.job_name.as_deref()).map(|j| format!(" as Job {j}")))
        .unwrap_or_default();
    let cost = status
        .estimated_cost_usd
        .as_ref()
        .map(|c| format!(", estimated cost {} USD", c.0))
        .unwrap_or_default();
    match status.phase {
        None => format!("{head} is waiting for the operator to plan it"),
        // `Scheduled` says what the run waits for; `nextAttemptAt` only matters
        // while it waits for a retry (the operator leaves it set until the
        // next attempt starts).
        Some(RunPhase::Pending) => match condition(conditions, "Scheduled").filter(|c| c.status == "False") {
            Some(c) if c.reason == "RetryBackoff" => match &status.next_attempt_at {
                Some(at) => format!(
                    "{head} waits for its retry at {} (attempt {attempts} ended: {last_message})",
                    at.0
                ),
                None => format!("{head} waits to retry (attempt {attempts} ended: {last_message})"),
            },
            Some(c) => format!("{head} waits ({}): {}", c.reason, c.message),
            None => format!("{head} is pending: its turn comes at the next reconcile"),
        },
        Some(RunPhase::Provisioning) => {
            format!(
                "{head} is getting capacity in ClusterPool {}{place}",
                status.pool.as_deref().unwrap_or("?")
            )
        }
        Some(RunPhase::Running) => {
            let since = last
                .and_then(|a| a.started_at.as_ref())
                .map(|t| format!(" since {}", t.0))
                .unwrap_or_default();
            format!("{head} is running attempt {attempts}{place}{since}")
        }
        Some(RunPhase::Succeeded) => {
            let quarantine = match condition(conditions, "Quarantined").filter(|c| c.status == "True") {
                Some(c) => format!(", but the batch is quarantined ({}): {}", c.reason, c.message),
                None => String::new(),
            };
            format!("{head} succeeded after {attempts} attempt(s){cost}{quarantine}")
        }
        Some(RunPhase::Failed) => format!("{head} failed after {attempts} attempt(s): {last_message}{cost}"),
        Some(RunPhase::Cancelled) => format!("{head} was cancelled: {last_message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str) -> EtlRun {
        let json = format!(
            r#"{{"apiVersion":"ade.dev/v1alpha1","kind":"EtlRun","metadata":{{"name":"orders-2026-11-25t13"}},
                "spec":{{"jobRef":{{"name":"orders"}},"batchId":"2026-11-25T13"}},"status":{status}}}"#
        );
        serde_json::from_str(&json).expect("run")
    }

    fn cond(type_: &str, status: &str, reason: &str, message: &str) -> String {
        format!(
            r#"{{"type":"{type_}","status":"{status}","reason":"{reason}","message":"{message}","lastTransitionTime":"2026-11-25T14:00:00Z"}}"#
        )
    }

    #[test]
    fn sentences() {
        let head = "orders-2026-11-25t13 (batch 2026-11-25T13 of EtlJob orders)";
        let cases = [
            (
                format!(
                    r#"{{"phase":"Pending","conditions":[{}]}}"#,
                    cond("Scheduled", "False", "UpstreamPending", "waiting for batch 2026-11-25T13 of EtlJob raw")
                ),
                format!("{head} waits (UpstreamPending): waiting for batch 2026-11-25T13 of EtlJob raw"),
            ),
            (
                format!(
                    r#"{{"phase":"Pending","nextAttemptAt":"2026-11-25T14:05:00Z","attempts":[{{"attempt":1,"outcome":"Failed","message":"exit 1"}}],"conditions":[{}]}}"#,
                    cond("Scheduled", "False", "RetryBackoff", "retrying at 14:05")
                ),
                format!("{head} waits for its retry at 2026-11-25T14:05:00Z (attempt 1 ended: exit 1)"),
            ),
            (
                // the retry time is stale once the run waits for something else
                format!(
                    r#"{{"phase":"Pending","nextAttemptAt":"2026-11-25T14:05:00Z","attempts":[{{"attempt":1,"outcome":"Interrupted"}}],"conditions":[{}]}}"#,
                    cond("Scheduled", "False", "Queued", "waiting for capacity in ClusterPool batch")
                ),
                format!("{head} waits (Queued): waiting for capacity in ClusterPool batch"),
            ),
            (
                r#"{"phase":"Running","cluster":"j-1","attempts":[{"attempt":1,"startedAt":"2026-11-25T14:00:00Z"}]}"#.to_owned(),
                format!("{head} is running attempt 1 on cluster j-1 since 2026-11-25T14:00:00Z"),
            ),
            (
                format!(
                    r#"{{"phase":"Succeeded","estimatedCostUSD":"0.0100","attempts":[{{"attempt":1}}],"conditions":[{}]}}"#,
                    cond("Quarantined", "True", "ChecksFailed", "ValidationSuite q failed this batch (id-unique)")
                ),
                format!(
                    "{head} succeeded after 1 attempt(s), estimated cost 0.0100 USD, but the batch is quarantined (ChecksFailed): ValidationSuite q failed this batch (id-unique)"
                ),
            ),
            (
                r#"{"phase":"Failed","attempts":[{"attempt":1},{"attempt":2,"message":"container task exited with code 1 (Error)"}]}"#.to_owned(),
                format!("{head} failed after 2 attempt(s): container task exited with code 1 (Error)"),
            ),
            (
                format!(
                    r#"{{"conditions":[{}]}}"#,
                    cond("Accepted", "False", "JobNotFound", "EtlJob orders not found")
                ),
                format!("{head} is not accepted (JobNotFound): EtlJob orders not found"),
            ),
        ];
        for (status, want) in cases {
            assert_eq!(explain(&run(&status)), want, "{status}");
        }
        let mut none = run("{}");
        none.status = None;
        assert!(explain(&none).ends_with("has no status yet: the operator has not seen it (is ade-operator running?)"));
    }
}
