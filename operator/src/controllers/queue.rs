//! Who may run now: a pool's concurrency limit with a first-come queue, and
//! "never two live runs of the same batch". Shared by the EtlRun controller
//! (may this run start?) and the ClusterPool controller (status counts).
//!
//! Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::etl_run::plan::Blocked;
use crate::api::v1alpha1::{EtlJob, EtlRun, RunPhase};

/// What the queue needs to know of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// Name of the EtlRun.
    pub name: String,
    /// Its EtlJob.
    pub job: String,
    /// The pool of its job, when the job exists.
    pub pool: Option<String>,
    /// Its batch.
    pub batch: String,
    /// Its phase.
    pub phase: Option<RunPhase>,
    /// When it was created: queue order.
    pub created: Timestamp,
    /// When its next attempt may start, while it waits out a retry backoff.
    pub next_attempt_at: Option<Timestamp>,
}

impl RunInfo {
    /// Holding capacity: an attempt is starting or running.
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Some(RunPhase::Provisioning | RunPhase::Running))
    }

    /// Not final.
    pub fn is_live(&self) -> bool {
        !self.phase.is_some_and(RunPhase::is_final)
    }

    /// Waiting for its turn (not for a backoff timer).
    fn is_waiting(&self, now: Timestamp) -> bool {
        matches!(self.phase, None | Some(RunPhase::Pending)) && self.next_attempt_at.is_none_or(|t| t <= now)
    }

    fn key(&self) -> (Timestamp, &str) {
        (self.created, &self.name)
    }
}

/// The queue's view of `runs`, with each run's pool taken from its job in `jobs`.
pub fn summarize<'a>(
    runs: impl IntoIterator<Item = &'a EtlRun>,
    jobs: impl IntoIterator<Item = &'a EtlJob>,
) -> Vec<RunInfo> {
    let pools: BTreeMap<&str, &str> = jobs
        .into_iter()
        .filter_map(|j| Some((j.metadata.name.as_deref()?, j.spec.pool_ref.name.as_str())))
        .collect();
    runs.into_iter()
        .map(|r| RunInfo {
            name: r.metadata.name.clone().unwrap_or_default(),
            job: r.spec.job_ref.name.clone(),
            pool: pools.get(r.spec.job_ref.name.as_str()).map(|p| (*p).to_owned()),
            batch: r.spec.batch_id.clone(),
            phase: r.status.as_ref().and_then(|s| s.phase),
            created: r
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            next_attempt_at: r.status.as_ref().and_then(|s| s.next_attempt_at.as_ref()).map(|t| t.0),
        })
        .collect()
}

/// Runs of `pool` holding capacity, and runs waiting for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolCounts {
    /// Provisioning or Running.
    pub running: usize,
    /// Pending and not in a retry backoff.
    pub queued: usize,
}

/// Counts of `pool`'s runs.
pub fn pool_counts(runs: &[RunInfo], pool: &str, now: Timestamp) -> PoolCounts {
    let in_pool = runs.iter().filter(|r| r.pool.as_deref() == Some(pool));
    let mut counts = PoolCounts::default();
    for r in in_pool {
        if r.is_active() {
            counts.running += 1;
        } else if r.is_waiting(now) {
            counts.queued += 1;
        }
    }
    counts
}

/// Why `me` may not start now in a pool that allows `limit` runs at once.
pub fn queue_blocker(
    me: &RunInfo,
    runs: &[RunInfo],
    pool: &str,
    limit: Option<i32>,
    now: Timestamp,
) -> Option<Blocked> {
    let limit = usize::try_from(limit?).unwrap_or(0);
    let others = || {
        runs.iter()
            .filter(|r| r.name != me.name && r.pool.as_deref() == Some(pool))
    };
    let active = others().filter(|r| r.is_active()).count();
    let ahead = others().filter(|r| r.is_waiting(now) && r.key() < me.key()).count();
    (active + ahead >= limit).then(|| {
        Blocked::wait(
            "Queued",
            format!(
                "waiting for capacity in ClusterPool {pool}: {active} of {limit} runs active, {ahead} waiting ahead of this one"
            ),
        )
    })
}

/// Why `me` may not start while another live run of the same batch exists.
pub fn batch_busy(me: &RunInfo, runs: &[RunInfo]) -> Option<Blocked> {
    runs.iter()
        .filter(|r| r.name != me.name && r.job == me.job && r.batch == me.batch && r.is_live())
        .find(|r| r.is_active() || r.key() < me.key())
        .map(|r| {
            Blocked::wait(
                "BatchBusy",
                format!(
                    "EtlRun {} of the same batch {} has not finished; this run starts after it",
                    r.name, me.batch
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("timestamp")
    }

    fn run(name: &str, job: &str, batch: &str, phase: Option<RunPhase>, created: i64) -> RunInfo {
        RunInfo {
            name: name.into(),
            job: job.into(),
            pool: Some("p".into()),
            batch: batch.into(),
            phase,
            created: at(created),
            next_attempt_at: None,
        }
    }

    #[test]
    fn queue_is_first_come_first_served_within_the_limit() {
        use RunPhase::*;
        let runs = vec![
            run("a", "j", "1", Some(Running), 0),
            run("b", "j", "2", Some(Pending), 1),
            run("c", "j", "3", Some(Pending), 2),
            run("d", "j", "4", None, 3),
            run("e", "j", "5", Some(Succeeded), -5),
        ];
        let now = at(10);
        // limit 2: a holds one slot; b is first in line, c waits behind b
        assert_eq!(queue_blocker(&runs[1], &runs, "p", Some(2), now), None);
        let c = queue_blocker(&runs[2], &runs, "p", Some(2), now).expect("c waits");
        assert_eq!(c.reason, "Queued");
        assert!(
            c.message.contains("1 of 2 runs active, 1 waiting ahead"),
            "{}",
            c.message
        );
        // limit 3: b and c may go, d waits behind them
        assert_eq!(queue_blocker(&runs[2], &runs, "p", Some(3), now), None);
        assert!(queue_blocker(&runs[3], &runs, "p", Some(3), now).is_some());
        // no limit: everyone goes
        assert_eq!(queue_blocker(&runs[3], &runs, "p", None, now), None);
        assert_eq!(pool_counts(&runs, "p", now), PoolCounts { running: 1, queued: 3 });
        assert_eq!(pool_counts(&runs, "other", now), PoolCounts::default());
    }

    #[test]
    fn a_run_in_backoff_does_not_hold_the_line() {
        let mut b = run("b", "j", "2", Some(RunPhase::Pending), 1);
        b.next_attempt_at = Some(at(100));
        let c = run("c", "j", "3", Some(RunPhase::Pending), 2);
        let runs = vec![b, c];
        assert_eq!(queue_blocker(&runs[1], &runs, "p", Some(1), at(10)), None);
        assert_eq!(pool_counts(&runs, "p", at(10)).queued, 1);
    }

    #[test]
    fn one_live_run_per_batch() {
        use RunPhase::*;
        let runs = vec![
            run("first", "j", "b1", Some(Running), 0),
            run("rerun", "j", "b1", None, 5),
            run("other-job", "k", "b1", None, 6),
            run("done", "j", "b2", Some(Failed), 0),
            run("b2-rerun", "j", "b2", None, 7),
        ];
        assert_eq!(batch_busy(&runs[1], &runs).map(|b| b.reason), Some("BatchBusy"));
        assert_eq!(batch_busy(&runs[0], &runs), None, "the older live run goes first");
        assert_eq!(
            batch_busy(&runs[2], &runs),
            None,
            "another job's batch is another batch"
        );
        assert_eq!(
            batch_busy(&runs[4], &runs),
            None,
            "a finished run does not block a rerun"
        );
    }
}
