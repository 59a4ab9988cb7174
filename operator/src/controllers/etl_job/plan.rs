//! What an EtlJob wants: which EtlRuns to create (scheduled, catch-up and
//! backfill batches), which to cancel (`Replace`), which to delete (history
//! limits), and the job's status.
//!
//! Run names are derived from (job, batch id), so a batch never gets two runs
//! from the schedule, a catch-up or a backfill: creating an existing run is a
//! no-op. Scheduled ticks are consumed through `status.lastScheduleTime` and
//! the backfill through a cursor in `status.backfill`, so deleting old runs
//! never brings their batches back.
//!
//! A plan's cost does not grow with time: it looks up the newest due tick
//! (and for `catchUp: all` at most `limit` before it) and the next backfill
//! batches from the cursor (see [`super::backfill`]), never every tick since
//! the last schedule time or the backfill's start.
//!
//! Pure: no clock (the caller passes `now`), no I/O.

use std::{cmp::Reverse, collections::HashSet, time::Duration};

use jiff::{SignedDuration, Timestamp};

use super::{backfill, validate::cadence_of};
use crate::{
    api::v1alpha1::{
        ActiveRun, CatchUpPolicy, ClusterPool, ConcurrencyPolicy, EtlJob, EtlJobStatus, EtlRun, EtlRunSpec,
        LocalObjectReference, RunPhase, RunReason, RunWindow, Time,
    },
    controllers::{
        conditions::{self, Desired, Status},
        status::{Problem, accepted, invalid_spec},
        validation_suite::QUARANTINED,
    },
    names,
    schedule::Batch,
};

/// With `catchUp: none`, a tick this late counts as missed and is skipped.
pub const STARTING_DEADLINE: SignedDuration = SignedDuration::from_secs(120);
/// Longest wait between two looks at a job.
const RESYNC: Duration = Duration::from_secs(300);

/// A run to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// Its deterministic name.
    pub name: String,
    /// Its batch.
    pub batch: Batch,
    /// Why it exists.
    pub reason: RunReason,
    /// The schedule time it is due at, for scheduled and catch-up runs.
    pub due: Option<Timestamp>,
}

impl NewRun {
    /// The spec of this run of the job `job`.
    pub fn spec(&self, job: &str) -> EtlRunSpec {
        EtlRunSpec {
            job_ref: LocalObjectReference { name: job.to_owned() },
            batch_id: self.batch.id.clone(),
            window: Some(RunWindow {
                start: Time(self.batch.window.start),
                end: Time(self.batch.window.end),
            }),
            reason: self.reason,
            cancel: false,
        }
    }
}

/// What the job's reconcile does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Runs to create.
    pub create: Vec<NewRun>,
    /// Runs to cancel (`concurrencyPolicy: Replace`).
    pub cancel: Vec<String>,
    /// Finished runs beyond the history limits, to delete.
    pub delete: Vec<String>,
    /// The status to apply (conditions separately).
    pub status: EtlJobStatus,
    /// Accepted, Ready, Progressing, Degraded.
    pub conditions: Vec<Desired>,
    /// When to look again.
    pub requeue: Duration,
}

/// How long until the tick at `next`, at least a second.
fn until_tick(now: Timestamp, next: Timestamp) -> Duration {
    let wait = next.duration_since(now).as_millis().max(1000);
    Duration::from_millis(u64::try_from(wait).unwrap_or(u64::MAX))
}

fn phase(run: &EtlRun) -> Option<RunPhase> {
    run.status.as_ref().and_then(|s| s.phase)
}

fn is_live(run: &EtlRun) -> bool {
    !phase(run).is_some_and(RunPhase::is_final)
}

fn name(run: &EtlRun) -> &str {
    run.metadata.name.as_deref().unwrap_or_default()
}

fn window_start(run: &EtlRun) -> Timestamp {
    run.spec
        .window
        .as_ref()
        .map(|w| w.start.0)
        .or_else(|| run.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Plans `job` at `now`, given its runs, its pool and the spec problems found,
/// for a job that no upstream holds (the tests and `benches/plan.rs`).
pub fn plan(job: &EtlJob, runs: &[EtlRun], pool: Option<&ClusterPool>, problems: &[Problem], now: Timestamp) -> Plan {
    let not_held = Desired::new("Held", Status::False, "UpstreamHealthy", "");
    plan_held(job, runs, pool, problems, &not_held, now)
}

/// [`plan`], with the job's `Held` condition (see [`super::gates::held`]): a
/// held job creates no scheduled or backfill run and consumes no tick, like
/// a suspended one.
pub fn plan_held(
    job: &EtlJob,
    runs: &[EtlRun],
    pool: Option<&ClusterPool>,
    problems: &[Problem],
    held: &Desired,
    now: Timestamp,
) -> Plan {
    let spec = &job.spec;
    let is_held = held.status == Status::True;
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let previous = job.status.clone().unwrap_or_default();
    let mut status = EtlJobStatus {
        observed_generation: job.metadata.generation,
        last_schedule_time: previous.last_schedule_time.clone(),
        last_successful_batch: previous.last_successful_batch.clone(),
        newest_registered_batch: previous.newest_registered_batch.clone(),
        backfill: previous.backfill.clone(),
        ..EtlJobStatus::default()
    };
    let mut create = Vec::new();
    let mut cancel = Vec::new();
    let cadence = if problems.is_empty() {
        cadence_of(spec).ok()
    } else {
        None
    };
    // Names of the runs that exist or are planned: a batch never gets two.
    let mut taken: HashSet<String> = runs.iter().map(|r| name(r).to_owned()).collect();
    // A batch run by hand (`reason: manual`: "run now", or an EtlRun created
    // for a batch not run before) has its run, whatever that run's name: its
    // tick does not run it again (run now, then resume a suspended job).
    let by_hand: HashSet<&str> = runs
        .iter()
        .filter(|r| r.spec.reason == RunReason::Manual)
        .map(|r| r.spec.batch_id.as_str())
        .collect();
    let mut requeue = RESYNC;

    if let Some(cadence) = cadence.as_ref().filter(|_| !spec.suspend && !is_held) {
        // Scheduled batches.
        let last = previous
            .last_schedule_time
            .as_ref()
            .map(|t| t.0)
            .or_else(|| job.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(now);
        // Only the newest due tick, and for `all` the `limit` before it, are
        // looked up: never every tick since `last`, however long ago it was.
        if let Some(latest) = cadence.latest_tick(now).filter(|t| *t > last) {
            let live_scheduled: Vec<&EtlRun> = runs
                .iter()
                .filter(|r| is_live(r) && matches!(r.spec.reason, RunReason::Schedule | RunReason::CatchUp))
                .collect();
            let limit = usize::try_from(spec.catch_up.limit.max(1)).unwrap_or(1);
            // Forbid with a batch still running decides nothing: no older tick is looked up.
            let held_by_forbid = spec.concurrency_policy == ConcurrencyPolicy::Forbid && !live_scheduled.is_empty();
            let chosen: Vec<Timestamp> = match spec.catch_up.policy {
                _ if held_by_forbid => vec![],
                CatchUpPolicy::None => {
                    if now.duration_since(latest) <= STARTING_DEADLINE {
                        vec![latest]
                    } else {
                        vec![]
                    }
                }
                CatchUpPolicy::Latest => vec![latest],
                CatchUpPolicy::All => {
                    let mut ticks = vec![latest];
                    while ticks.len() < limit
                        && let Some(tick) = ticks
                            .last()
                            .and_then(|t| cadence.previous_tick(*t))
                            .filter(|t| *t > last)
                    {
                        ticks.push(tick);
                    }
                    ticks.reverse();
                    ticks
                }
            };
            let (to_create, consumed): (Vec<Timestamp>, Option<Timestamp>) = match spec.concurrency_policy {
                ConcurrencyPolicy::Forbid if held_by_forbid => (vec![], None),
                ConcurrencyPolicy::Forbid => match chosen.first() {
                    Some(&first) => (vec![first], Some(if chosen.len() == 1 { latest } else { first })),
                    None => (vec![], Some(latest)),
                },
                ConcurrencyPolicy::Allow => (chosen, Some(latest)),
                ConcurrencyPolicy::Replace => {
                    cancel.extend(live_scheduled.iter().map(|r| name(r).to_owned()));
                    (chosen.last().copied().into_iter().collect(), Some(latest))
                }
            };
            for tick in to_create {
                let Some(batch) = cadence
                    .batch_for_tick(tick)
                    .filter(|b| !by_hand.contains(b.id.as_str()))
                else {
                    continue;
                };
                let run_name = names::run_name(&job_name, &batch.id);
                if taken.insert(run_name.clone()) {
                    let reason = if tick == latest {
                        RunReason::Schedule
                    } else {
                        RunReason::CatchUp
                    };
                    create.push(NewRun {
                        name: run_name,
                        batch,
                        reason,
                        due: Some(tick),
                    });
                }
            }
            if let Some(t) = consumed {
                status.last_schedule_time = Some(Time(t));
            }
        }
        let from = status.last_schedule_time.as_ref().map_or(now, |t| t.0.max(now));
        if let Some(next) = cadence.next_tick(from) {
            status.next_schedule_time = Some(Time(next));
            requeue = requeue.min(until_tick(now, next));
        }

        // Backfill.
        if let Some(backfill) = &spec.backfill {
            let live = runs
                .iter()
                .filter(|r| is_live(r) && r.spec.reason == RunReason::Backfill)
                .count();
            let recorded = backfill::Recorded {
                progress: previous.backfill.as_ref(),
                current: previous.observed_generation == job.metadata.generation,
            };
            if let Ok(step) = backfill::plan(cadence, backfill, recorded, &job_name, runs, &mut taken, live) {
                create.extend(step.create);
                status.backfill = Some(step.status);
            }
        }
    }
    if spec.backfill.is_none() {
        status.backfill = None;
    }
    if let Some(cadence) = &cadence {
        // What "run now" runs; a suspended or held job looks again at the
        // next tick too, so the batch it names is never a tick behind.
        status.current_batch = cadence
            .latest_tick(now)
            .and_then(|t| cadence.batch_for_tick(t))
            .map(|b| b.id);
        if (spec.suspend || is_held)
            && let Some(next) = cadence.next_tick(now)
        {
            requeue = requeue.min(until_tick(now, next));
        }
    }

    // Status of the runs.
    let mut live: Vec<&EtlRun> = runs.iter().filter(|r| is_live(r)).collect();
    live.sort_by_key(|r| window_start(r));
    status.active = live
        .iter()
        .map(|r| ActiveRun {
            batch_id: r.spec.batch_id.clone(),
            run: name(r).to_owned(),
        })
        .chain(create.iter().map(|c| ActiveRun {
            batch_id: c.batch.id.clone(),
            run: c.name.clone(),
        }))
        .collect();
    status.active_count = i32::try_from(status.active.len()).unwrap_or(i32::MAX);
    if let Some(newest) = runs
        .iter()
        .filter(|r| phase(r) == Some(RunPhase::Succeeded))
        .max_by_key(|r| window_start(r))
    {
        status.last_successful_batch = Some(newest.spec.batch_id.clone());
    }

    let delete = history_to_delete(job, runs);
    let mut conditions = conditions(job, runs, pool, problems, &status);
    if is_held && problems.is_empty() {
        // Ready says why nothing starts, in the words of the Held condition.
        conditions[1] = Desired::new("Ready", Status::True, "Held", held.message.clone());
    }
    conditions.push(held.clone());
    Plan {
        create,
        cancel,
        delete,
        status,
        conditions,
        requeue,
    }
}

/// Finished runs the job owns beyond its history limits, oldest first.
fn history_to_delete(job: &EtlJob, runs: &[EtlRun]) -> Vec<String> {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let owned = |r: &&EtlRun| {
        r.metadata
            .owner_references
            .as_ref()
            .is_some_and(|refs| refs.iter().any(|o| o.uid == uid))
    };
    let mut out = Vec::new();
    let groups: [(&[RunPhase], i32); 2] = [
        (&[RunPhase::Succeeded], job.spec.history_limit.succeeded),
        (&[RunPhase::Failed, RunPhase::Cancelled], job.spec.history_limit.failed),
    ];
    for (phases, limit) in groups {
        let mut finished: Vec<&EtlRun> = runs
            .iter()
            .filter(owned)
            .filter(|r| phase(r).is_some_and(|p| phases.contains(&p)))
            .collect();
        finished.sort_by_key(|r| Reverse(window_start(r)));
        let keep = usize::try_from(limit).unwrap_or(0);
        out.extend(
            finished
                .iter()
                .skip(keep)
                .filter(|r| !holds_quality_state(job, r))
                .map(|r| name(r).to_owned()),
        );
    }
    out
}

/// A run the history limit must keep: its batch is quarantined, or it
/// succeeded in a gated job and no gate has judged it yet.
fn holds_quality_state(job: &EtlJob, run: &EtlRun) -> bool {
    let verdict = run
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, QUARANTINED));
    let gated = job.spec.gates.as_ref().is_some_and(|g| !g.after.is_empty());
    match verdict {
        Some(c) => c.status == "True",
        None => gated && phase(run) == Some(RunPhase::Succeeded),
    }
}

fn conditions(
    job: &EtlJob,
    runs: &[EtlRun],
    pool: Option<&ClusterPool>,
    problems: &[Problem],
    status: &EtlJobStatus,
) -> Vec<Desired> {
    let spec = &job.spec;
    let pool_name = &spec.pool_ref.name;
    let ready = if !problems.is_empty() {
        invalid_spec()
    } else if pool.is_none() {
        Desired::new(
            "Ready",
            Status::False,
            "PoolNotFound",
            format!("ClusterPool {pool_name} not found: runs wait until it exists"),
        )
    } else if spec.suspend {
        Desired::new("Ready", Status::True, "Suspended", "suspended: no new runs are created")
    } else if let Some(next) = &status.next_schedule_time {
        Desired::new(
            "Ready",
            Status::True,
            "Scheduled",
            format!("the next batch is due at {}", next.0),
        )
    } else {
        Desired::new(
            "Ready",
            Status::True,
            "OnDemand",
            "no schedule: runs come from the backfill and from EtlRuns created by hand",
        )
    };
    let backfilling = status.backfill.as_ref().filter(|b| b.succeeded + b.failed < b.total);
    let progressing = if status.active_count > 0 {
        let names: Vec<&str> = status.active.iter().take(5).map(|a| a.run.as_str()).collect();
        Desired::new(
            "Progressing",
            Status::True,
            "RunsActive",
            format!("{} runs active: {}", status.active_count, names.join(", ")),
        )
    } else if let Some(b) = backfilling {
        Desired::new(
            "Progressing",
            Status::True,
            "Backfilling",
            format!("backfill: {} of {} batches done", b.succeeded + b.failed, b.total),
        )
    } else {
        Desired::new("Progressing", Status::False, "Idle", "no run is active")
    };
    let newest_final = runs
        .iter()
        .filter(|r| phase(r).is_some_and(RunPhase::is_final))
        .max_by_key(|r| r.status.as_ref().and_then(|s| s.finished_at.as_ref()).map(|t| t.0));
    let degraded = match newest_final {
        Some(r) if phase(r) == Some(RunPhase::Failed) => {
            let why = r
                .status
                .as_ref()
                .and_then(|s| s.attempts.last())
                .and_then(|a| a.message.clone())
                .unwrap_or_default();
            Desired::new(
                "Degraded",
                Status::True,
                "RunFailed",
                format!("batch {} failed (EtlRun {}): {why}", r.spec.batch_id, name(r)),
            )
        }
        _ => Desired::new(
            "Degraded",
            Status::False,
            "AsExpected",
            "the newest finished run did not fail",
        ),
    };
    vec![accepted(problems), ready, progressing, degraded]
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
