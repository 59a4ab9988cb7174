//! Gates before the fact: a run of a job that `dependsOn` others starts only
//! once, for every upstream job, each batch whose window overlaps the run's
//! window has succeeded (its newest run) and, when the upstream job is gated
//! (`gates.after`), has been checked by every gating suite without being
//! quarantined. Until then the run waits with `Scheduled=False,
//! UpstreamPending` naming the first upstream batch it waits for. (A job
//! whose upstream has a quarantined batch is also `Held`: see etl_job::gates.)
//!
//! Pure.

use std::sync::Arc;

use jiff::Timestamp;

use crate::{
    api::v1alpha1::{EtlJob, EtlRun, RunPhase},
    controllers::{
        conditions,
        etl_job::cadence_of,
        validation_suite::{QUARANTINED, validated_key},
    },
    schedule::{Batch, Cadence, Window},
};

/// The reason of the `Scheduled` condition while upstream batches are not ready.
pub const REASON: &str = "UpstreamPending";

/// Most upstream batches one run waits for (e.g. a daily run on an upstream
/// job of minutes); past it the run waits for the first ones only.
const MAX_BATCHES: usize = 1500;

/// Why a run of `job` over `window` may not start yet, if it may not:
/// the first upstream batch that is not ready, in words.
pub fn pending(job: &EtlJob, window: &Window, runs: &[Arc<EtlRun>], jobs: &[Arc<EtlJob>]) -> Option<String> {
    job.spec.depends_on.iter().find_map(|dep| {
        let name = &dep.etl_job_ref.name;
        let Some(upstream) = jobs.iter().find(|j| j.metadata.name.as_deref() == Some(name)) else {
            return Some(format!(
                "waits for EtlJob {name} (spec.dependsOn), which does not exist in this namespace"
            ));
        };
        let cadence = match cadence_of(&upstream.spec) {
            Ok(c) => c,
            Err(e) => {
                return Some(format!(
                    "waits for EtlJob {name}, whose batches have no valid window: {e}"
                ));
            }
        };
        covering(&cadence, window)
            .iter()
            .find_map(|batch| not_ready(upstream, batch, runs))
    })
}

/// The batches of `cadence` whose windows overlap `window`, oldest first.
fn covering(cadence: &Cadence, window: &Window) -> Vec<Batch> {
    let Ok(Some(mut batch)) = cadence.first_batch_in(window.start, Timestamp::MAX) else {
        return Vec::new();
    };
    // The batch before may start earlier and still overlap.
    for _ in 0..MAX_BATCHES {
        match cadence.batch_before(&batch) {
            Some(before) if before.window.end > window.start && before.window.start < batch.window.start => {
                batch = before;
            }
            _ => break,
        }
    }
    let mut out = Vec::new();
    while batch.window.start < window.end && out.len() < MAX_BATCHES {
        if batch.window.end > window.start {
            out.push(batch.clone());
        }
        match cadence.batch_after(&batch) {
            Some(next) if next.window.start > batch.window.start => batch = next,
            _ => break,
        }
    }
    out
}

/// Why `batch` of `upstream` is not ready, if it is not.
fn not_ready(upstream: &EtlJob, batch: &Batch, runs: &[Arc<EtlRun>]) -> Option<String> {
    final_run(upstream, &batch.id, runs.iter().map(AsRef::as_ref)).err()
}

/// The run that makes `batch` of `job` final — its newest run, when that
/// succeeded and, when the job is gated (`gates.after`), every gating suite
/// checked it without quarantining it — or why there is none yet, in words.
/// What dependents wait for, and what the catalog registers.
pub fn final_run<'a>(
    job: &EtlJob,
    batch: &str,
    runs: impl IntoIterator<Item = &'a EtlRun>,
) -> Result<&'a EtlRun, String> {
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let newest = runs
        .into_iter()
        .filter(|r| r.spec.job_ref.name == name && r.spec.batch_id == batch)
        .max_by_key(|r| {
            (
                r.metadata.creation_timestamp.as_ref().map(|t| t.0),
                r.metadata.name.clone(),
            )
        });
    let Some(run) = newest else {
        return Err(format!(
            "waits for batch {batch} of EtlJob {name}, which has no run yet"
        ));
    };
    let status = run.status.clone().unwrap_or_default();
    if status.phase != Some(RunPhase::Succeeded) {
        let phase = status.phase.map_or("new".to_owned(), |p| format!("{p:?}"));
        return Err(format!(
            "waits for batch {batch} of EtlJob {name} to succeed (its run {} is {phase})",
            run.metadata.name.as_deref().unwrap_or_default()
        ));
    }
    if conditions::find(&status.conditions, QUARANTINED).is_some_and(|c| c.status == "True") {
        return Err(format!(
            "batch {batch} of EtlJob {name} is quarantined by a failed quality gate"
        ));
    }
    let gates = job.spec.gates.iter().flat_map(|g| &g.after);
    let annotations = run.metadata.annotations.clone().unwrap_or_default();
    match gates
        .map(|g| &g.validation_suite_ref.name)
        .find(|suite| !annotations.contains_key(&validated_key(suite)))
    {
        Some(suite) => Err(format!(
            "waits for ValidationSuite {suite} to check batch {batch} of EtlJob {name} (a gate of that job)"
        )),
        None => Ok(run),
    }
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
