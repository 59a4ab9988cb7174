//! Quality gates, seen from the job: which of its batches are quarantined
//! (the ValidationSuite controller marks them on the EtlRuns), and whether
//! the job is held because a job it depends on has a quarantined batch.
//!
//! Pure.

use std::collections::BTreeMap;

use crate::{
    api::v1alpha1::{EtlJobSpec, EtlRun},
    controllers::{
        conditions::{self, Desired, Status},
        validation_suite::QUARANTINED,
    },
};

/// At most this many batches are named in a message.
const NAMED: usize = 5;

/// The runs of `job` among `runs` whose batch is quarantined: for each batch,
/// the verdict of its newest validated run (one with a `Quarantined`
/// condition) decides, so a rerun that passes lifts the hold.
pub(super) fn quarantined<'a>(runs: &'a [EtlRun], job: &str) -> Vec<&'a EtlRun> {
    let mut newest: BTreeMap<&str, (&'a EtlRun, bool)> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.spec.job_ref.name == job) {
        let Some(verdict) = run
            .status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, QUARANTINED))
        else {
            continue;
        };
        let key = |r: &EtlRun| {
            (
                r.metadata.creation_timestamp.as_ref().map(|t| t.0),
                r.metadata.name.clone(),
            )
        };
        let entry = newest.entry(run.spec.batch_id.as_str()).or_insert((run, false));
        if key(run) >= key(entry.0) {
            *entry = (run, verdict.status == "True");
        }
    }
    newest
        .into_values()
        .filter(|(_, bad)| *bad)
        .map(|(run, _)| run)
        .collect()
}

/// The ids of `job`'s quarantined batches, sorted.
pub fn quarantined_batches(job: &str, runs: &[EtlRun]) -> Vec<String> {
    let mut ids: Vec<String> = quarantined(runs, job)
        .into_iter()
        .map(|r| r.spec.batch_id.clone())
        .collect();
    ids.sort_unstable();
    ids
}

fn batches(runs: &[&EtlRun]) -> String {
    let mut ids: Vec<&str> = runs.iter().map(|r| r.spec.batch_id.as_str()).collect();
    ids.sort_unstable();
    let more = ids.len().saturating_sub(NAMED);
    let mut text = ids.into_iter().take(NAMED).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// The `Quarantined` condition of job `job`, from every run in its namespace.
pub fn quarantine(job: &str, runs: &[EtlRun]) -> Desired {
    let bad = quarantined(runs, job);
    if bad.is_empty() {
        return Desired::new(QUARANTINED, Status::False, "NoneQuarantined", "no batch is quarantined");
    }
    Desired::new(
        QUARANTINED,
        Status::True,
        "BatchesQuarantined",
        format!(
            "{} batch(es) failed a quality gate: {}; see the Quarantined condition of their EtlRuns, and rerun a batch once its data is fixed",
            bad.len(),
            batches(&bad)
        ),
    )
}

/// The `Held` condition of a job with `spec`, from the runs of its upstream
/// jobs (runs of other jobs are ignored).
pub fn held(spec: &EtlJobSpec, runs: &[EtlRun]) -> Desired {
    let upstream: Vec<(String, Vec<&EtlRun>)> = spec
        .depends_on
        .iter()
        .map(|d| d.etl_job_ref.name.clone())
        .map(|job| {
            let bad = quarantined(runs, &job);
            (job, bad)
        })
        .filter(|(_, bad)| !bad.is_empty())
        .collect();
    if upstream.is_empty() {
        return Desired::new(
            "Held",
            Status::False,
            "UpstreamHealthy",
            "no upstream batch is quarantined",
        );
    }
    let parts: Vec<String> = upstream
        .iter()
        .map(|(job, bad)| format!("EtlJob {job} batch {}", batches(bad)))
        .collect();
    Desired::new(
        "Held",
        Status::True,
        "UpstreamQuarantined",
        format!(
            "no new batch starts while upstream data is quarantined: {}; missed batches follow catchUp once it is lifted",
            parts.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(job: &str, batch: &str, quarantined: Option<&str>) -> EtlRun {
        rerun(job, batch, quarantined, 0)
    }

    /// Run number `n` of the batch, created `n` minutes after the first.
    fn rerun(job: &str, batch: &str, quarantined: Option<&str>, n: u32) -> EtlRun {
        let conditions: Vec<_> = quarantined
            .map(|status| json!({"type": "Quarantined", "status": status, "reason": "ChecksFailed", "message": "", "lastTransitionTime": "2026-11-25T00:00:00Z"}))
            .into_iter()
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
            "metadata": {"name": format!("{job}-{batch}-{n}"), "creationTimestamp": format!("2026-11-25T01:{n:02}:00Z")},
            "spec": {"jobRef": {"name": job}, "batchId": batch, "reason": "manual"},
            "status": {"phase": "Succeeded", "conditions": conditions},
        }))
        .expect("run")
    }

    fn spec(depends_on: &[&str]) -> EtlJobSpec {
        let deps: Vec<_> = depends_on.iter().map(|d| json!({"etlJobRef": {"name": d}})).collect();
        serde_json::from_value(
            json!({"poolRef": {"name": "p"}, "task": {"container": {"image": "i"}}, "dependsOn": deps}),
        )
        .expect("spec")
    }

    #[test]
    fn a_quarantined_upstream_batch_holds_dependents_only() {
        let runs = [
            run("orders", "2026-11-24", Some("False")),
            run("orders", "2026-11-25", Some("True")),
            run("customers", "2026-11-25", None),
        ];
        let held_rollup = held(&spec(&["orders", "customers"]), &runs);
        assert_eq!(
            (held_rollup.status, held_rollup.reason),
            (Status::True, "UpstreamQuarantined")
        );
        assert!(
            held_rollup.message.contains("EtlJob orders batch 2026-11-25"),
            "{}",
            held_rollup.message
        );
        assert!(!held_rollup.message.contains("customers"), "{}", held_rollup.message);
        assert_eq!(held(&spec(&["customers"]), &runs).status, Status::False);
        assert_eq!(held(&spec(&[]), &runs).status, Status::False);
    }

    #[test]
    fn the_gated_job_lists_its_quarantined_batches() {
        let mut runs: Vec<EtlRun> = (10..17)
            .map(|d| run("orders", &format!("2026-11-{d}"), Some("True")))
            .collect();
        runs.push(run("orders", "2026-11-20", Some("False")));
        let q = quarantine("orders", &runs);
        assert_eq!((q.status, q.reason), (Status::True, "BatchesQuarantined"));
        assert!(q.message.starts_with("7 batch(es)"), "{}", q.message);
        assert!(
            q.message
                .contains("2026-11-10, 2026-11-11, 2026-11-12, 2026-11-13, 2026-11-14 and 2 more"),
            "{}",
            q.message
        );
        assert_eq!(quarantine("customers", &runs).status, Status::False);
    }

    /// Issue 12, item 1.
    #[test]
    fn quarantine_belongs_to_the_batch_and_a_passing_rerun_lifts_it() {
        let failed = rerun("orders", "2026-11-25", Some("True"), 0);
        let passed = rerun("orders", "2026-11-25", Some("False"), 1);
        let not_yet_validated = rerun("orders", "2026-11-25", None, 2);
        let runs = [failed.clone(), passed.clone(), not_yet_validated];
        assert_eq!(
            quarantine("orders", &runs).status,
            Status::False,
            "the passing rerun lifts it"
        );
        assert_eq!(held(&spec(&["orders"]), &runs).status, Status::False);
        assert!(quarantined_batches("orders", &runs).is_empty());
        // The other way round: a newer run that fails quarantines the batch again.
        let refailed = rerun("orders", "2026-11-25", Some("True"), 3);
        let runs = [failed, passed, refailed];
        assert_eq!(quarantine("orders", &runs).status, Status::True);
        assert_eq!(quarantined_batches("orders", &runs), ["2026-11-25"]);
    }
}
