//! Which batch a suite checks next.
//!
//! Trigger `after`: every run its EtlJob completes is checked exactly once,
//! one at a time, the earliest finished first (history checks compare a
//! batch with the ones before it). What was checked is marked on each run
//! ([`super::validated`]), not kept as a position in time, so a run that
//! finished earlier but was recorded later is never skipped. Runs created
//! before the suite are not its business, except that a suite with no run
//! yet starts from the newest finished batch. A rerun of a batch is a new
//! run, so it is checked again.
//!
//! Trigger `schedule`: the newest tick that is due; missed ticks are not
//! caught up one by one.
//!
//! Pure.

use jiff::{Timestamp, tz::TimeZone};

use crate::schedule::{Cadence, Cron, Window};

/// A Succeeded run of the suite's EtlJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    /// The EtlRun.
    pub name: String,
    /// Its batch.
    pub batch_id: String,
    /// Its data window, when it has one.
    pub window: Option<Window>,
    /// When it finished.
    pub finished_at: Timestamp,
    /// When the run was created.
    pub created_at: Option<Timestamp>,
    /// This suite has checked it.
    pub validated: bool,
}

/// A batch that is due to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The batch.
    pub batch_id: String,
    /// Its data window.
    pub window: Option<Window>,
    /// The EtlRun that produced it (trigger `after`).
    pub etl_run: Option<String>,
    /// When it became due: the run's finish or the tick.
    pub triggered_at: Timestamp,
}

/// The next run of the job to check: the earliest finished that this suite
/// has not checked, among the runs created since the suite was
/// (`suite_created`); when the suite has never run (`first`), also the
/// newest finished run, so it starts from the job's latest batch.
pub fn next_after_job(runs: &[FinishedRun], suite_created: Timestamp, first: bool) -> Option<Due> {
    let key = |r: &&FinishedRun| (r.finished_at, r.name.clone());
    let newest = runs.iter().max_by_key(key).map(|r| r.name.as_str());
    let pick = runs
        .iter()
        .filter(|r| !r.validated)
        .filter(|r| r.created_at.is_some_and(|c| c >= suite_created) || (first && Some(r.name.as_str()) == newest))
        .min_by_key(key)?;
    Some(Due {
        batch_id: pick.batch_id.clone(),
        window: pick.window,
        etl_run: Some(pick.name.clone()),
        triggered_at: pick.finished_at,
    })
}

/// The newest tick of `cron` (UTC) in `(since, now]`, as a batch: `since` is
/// the last checked tick, or the suite's creation.
pub fn next_on_schedule(cron: &Cron, since: Timestamp, now: Timestamp) -> Option<Due> {
    let cadence = Cadence::new(Some(cron.clone()), TimeZone::UTC, None, std::time::Duration::ZERO);
    let tick = cadence.latest_tick(now).filter(|t| *t > since)?;
    let batch = cadence.batch_for_tick(tick)?;
    Some(Due {
        batch_id: batch.id,
        window: Some(batch.window),
        etl_run: None,
        triggered_at: tick,
    })
}

/// When the schedule next fires after `now`.
pub fn next_tick(cron: &Cron, now: Timestamp) -> Option<Timestamp> {
    Cadence::new(Some(cron.clone()), TimeZone::UTC, None, std::time::Duration::ZERO).next_tick(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn run(name: &str, batch: &str, finished: &str) -> FinishedRun {
        FinishedRun {
            name: name.into(),
            batch_id: batch.into(),
            window: None,
            finished_at: ts(finished),
            created_at: None,
            validated: false,
        }
    }

    /// A run created after the suite (at 2026-11-25T00:00).
    fn since(mut run: FinishedRun, validated: bool) -> FinishedRun {
        run.created_at = Some(ts("2026-11-25T10:00:00Z"));
        run.validated = validated;
        run
    }

    const SUITE_CREATED: &str = "2026-11-25T00:00:00Z";

    fn next(runs: &[FinishedRun], first: bool) -> Option<String> {
        next_after_job(runs, ts(SUITE_CREATED), first).and_then(|d| d.etl_run)
    }

    #[test]
    fn after_job_checks_each_finished_run_once_earliest_first() {
        let runs = |checked: usize| -> Vec<FinishedRun> {
            [
                run("orders-a", "2026-11-25T10", "2026-11-25T11:05:00Z"),
                run("orders-b", "2026-11-25T11", "2026-11-25T12:05:00Z"),
                run("orders-c", "2026-11-25T12", "2026-11-25T12:05:00Z"),
                run("orders-d", "2026-11-25T13", "2026-11-25T14:05:00Z"),
            ]
            .into_iter()
            .enumerate()
            .map(|(i, r)| since(r, i < checked))
            .collect()
        };
        assert_eq!(next(&runs(1), false).as_deref(), Some("orders-b"));
        // Same-second finishes are not skipped.
        assert_eq!(next(&runs(2), false).as_deref(), Some("orders-c"));
        assert_eq!(next(&runs(4), false), None);
        assert_eq!(next(&[], true), None);
    }

    #[test]
    fn a_new_suite_starts_from_the_newest_batch_not_the_jobs_past() {
        let before = [
            run("orders-a", "2026-11-24T10", "2026-11-24T11:05:00Z"),
            run("orders-b", "2026-11-24T11", "2026-11-24T12:05:00Z"),
        ];
        assert_eq!(next(&before, true).as_deref(), Some("orders-b"));
        // Once it has run, runs from before it are not its business.
        assert_eq!(next(&before, false), None);
    }

    /// Issue 12, item 2.
    #[test]
    fn no_batch_escapes_validation() {
        // orders-b finished before orders-a but reached the operator after
        // orders-a had been checked (backfill parallelism, EMR polling): it is
        // still checked, once.
        let runs = [
            since(run("orders-a", "2026-11-25T11", "2026-11-25T12:05:00Z"), true),
            since(run("orders-b", "2026-11-25T10", "2026-11-25T11:05:00Z"), false),
        ];
        assert_eq!(next(&runs, false).as_deref(), Some("orders-b"));
        let both = [runs[0].clone(), since(runs[1].clone(), true)];
        assert_eq!(next(&both, false), None, "and only once");
    }

    #[test]
    fn a_rerun_of_a_checked_batch_is_checked_again() {
        // The rerun is a new run of the same batch: nothing marks it yet.
        let runs = [
            since(run("orders-a", "2026-11-25T10", "2026-11-25T11:05:00Z"), true),
            since(run("orders-a-rerun-1", "2026-11-25T10", "2026-11-26T09:00:00Z"), false),
        ];
        let due = next_after_job(&runs, ts(SUITE_CREATED), false).expect("due");
        assert_eq!(
            (due.batch_id.as_str(), due.triggered_at),
            ("2026-11-25T10", ts("2026-11-26T09:00:00Z"))
        );
    }

    #[test]
    fn schedule_takes_the_newest_due_tick_only() {
        let cron: Cron = "0 6 * * *".parse().expect("cron");
        let since = ts("2026-11-20T06:00:00Z");
        // Nothing due before the next tick.
        assert_eq!(next_on_schedule(&cron, since, ts("2026-11-21T05:59:59Z")), None);
        // Missed ticks: the newest one, its window the day before it.
        let due = next_on_schedule(&cron, since, ts("2026-11-24T07:00:00Z")).expect("due");
        assert_eq!(due.triggered_at, ts("2026-11-24T06:00:00Z"));
        assert_eq!(due.batch_id, "2026-11-23T06");
        assert_eq!(
            due.window,
            Some(Window {
                start: ts("2026-11-23T06:00:00Z"),
                end: ts("2026-11-24T06:00:00Z")
            })
        );
        assert_eq!(
            next_tick(&cron, ts("2026-11-24T07:00:00Z")),
            Some(ts("2026-11-25T06:00:00Z"))
        );
    }
}
