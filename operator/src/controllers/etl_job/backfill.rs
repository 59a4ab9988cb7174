//! An EtlJob's backfill: the next batches to create from a cursor kept in
//! `status.backfill`, and the progress counts.
//!
//! A plan's work is bounded by what it decides now: it steps from the cursor
//! to the next `parallelism` batches (passing over batches that already have
//! a run), and counts progress over the runs that exist. It never walks the
//! range from its start: how far back a backfill starts does not change the
//! cost of a reconcile. The size of the range is counted once, by whole
//! days, when the range first appears (or changes), and kept in status.
//!
//! Pure: no clock, no I/O.

use std::collections::HashSet;

use jiff::Timestamp;

use super::plan::NewRun;
use crate::{
    api::v1alpha1::{Backfill, BackfillOrder, BackfillStatus, EtlRun, RunPhase, RunReason, Time},
    names,
    schedule::{Batch, Cadence, CadenceError},
};

/// What the backfill does in this reconcile.
#[derive(Debug, Clone)]
pub struct Step {
    /// Runs to create, in backfill order.
    pub create: Vec<NewRun>,
    /// The backfill's progress after them.
    pub status: BackfillStatus,
}

fn as_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What a backfill plan starts from.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The progress in status.
    pub progress: Option<&'a BackfillStatus>,
    /// Whether that status was written for the current spec (generation): if
    /// not, the range is counted again (the schedule or window may have
    /// changed); the cursor is kept while it still names a batch.
    pub current: bool,
}

/// Plans `spec` for the job `job_name` from what status `recorded`: `runs`
/// are the job's runs, `taken` the names of runs that exist or are being
/// created (the runs this step creates are added), `live` the backfill runs
/// not yet finished.
pub fn plan(
    cadence: &Cadence,
    spec: &Backfill,
    recorded: Recorded<'_>,
    job_name: &str,
    runs: &[EtlRun],
    taken: &mut HashSet<String>,
    live: usize,
) -> Result<Step, CadenceError> {
    let previous = recorded.progress;
    let (from, to) = (spec.from.0, spec.to.0);
    let newest_first = spec.order == BackfillOrder::NewestFirst;
    let in_range = |start: Timestamp, end: Timestamp| start >= from && end <= to;
    let same_range = previous.filter(|b| b.from == spec.from && b.to == spec.to);
    let first = cadence.first_batch_in(from, to)?;
    let last = cadence.last_batch_in(from, to)?;
    let total = match (same_range.filter(|_| recorded.current), &first, &last) {
        (Some(b), _, _) => u64::try_from(b.total).unwrap_or(0),
        (None, Some(first), Some(last)) => cadence.batches_from_to(first, last),
        _ => 0,
    };
    let start = if newest_first { last } else { first };
    let next = |cursor: Option<&Batch>| -> Option<Batch> {
        let batch = match cursor {
            None => start.clone(),
            Some(b) if newest_first => cadence.batch_before(b),
            Some(b) => cadence.batch_after(b),
        };
        batch.filter(|b| in_range(b.window.start, b.window.end))
    };

    let mut created = same_range.map_or(0, |b| u64::try_from(b.created).unwrap_or(0));
    let mut cursor = match same_range.and_then(|b| b.cursor.as_ref()) {
        Some(at) => {
            let batch = cadence.batch_starting_at(at.0);
            if batch.is_none() {
                // The cadence changed under the range: its batches are new ones.
                created = 0;
            }
            batch
        }
        None => {
            // Progress recorded without a cursor (an older release): step
            // over the batches it counted, once.
            let mut cursor = None;
            for _ in 0..created {
                match next(cursor.as_ref()) {
                    Some(b) => cursor = Some(b),
                    None => break,
                }
            }
            cursor
        }
    };

    let mut slots = usize::try_from(spec.parallelism).unwrap_or(1).saturating_sub(live);
    let mut create = Vec::new();
    while slots > 0 && created < total {
        let Some(batch) = next(cursor.as_ref()) else { break };
        let run = names::run_name(job_name, &batch.id);
        if taken.insert(run.clone()) {
            create.push(NewRun {
                name: run,
                batch: batch.clone(),
                reason: RunReason::Backfill,
                due: None,
            });
            slots -= 1;
        }
        created += 1;
        cursor = Some(batch);
    }

    // A run is one of the backfill's when its window is in the range and its
    // name is the one the job gives that batch.
    let count = |p: RunPhase| {
        let n = runs
            .iter()
            .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(p))
            .filter(|r| r.spec.window.as_ref().is_some_and(|w| in_range(w.start.0, w.end.0)))
            .filter(|r| r.metadata.name.as_deref() == Some(names::run_name(job_name, &r.spec.batch_id).as_str()))
            .count();
        i32::try_from(n).unwrap_or(i32::MAX)
    };
    Ok(Step {
        create,
        status: BackfillStatus {
            from: spec.from.clone(),
            to: spec.to.clone(),
            total: as_i32(total),
            created: as_i32(created),
            cursor: cursor.map(|b| Time(b.window.start)),
            succeeded: count(RunPhase::Succeeded),
            failed: count(RunPhase::Failed),
        },
    })
}

#[cfg(test)]
#[path = "backfill_tests.rs"]
mod tests;
