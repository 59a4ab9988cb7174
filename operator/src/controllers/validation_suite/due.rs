//! Which batch a suite checks next.
//!
//! Trigger `after`: every batch its EtlJob completes, in the order the runs
//! finished, one at a time (history checks compare a batch with the ones
//! before it). A suite with no run yet starts from the newest finished batch
//! rather than checking the job's whole past. A rerun of a batch finishes
//! later than the first run, so it is checked again.
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

/// What was checked last: when it became due and, for trigger `after`, the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark<'a> {
    /// When the last checked batch became due.
    pub at: Timestamp,
    /// Its EtlRun, which breaks ties between runs that finished in the same second.
    pub run: &'a str,
}

/// The next run of the job to check after `last`.
pub fn next_after_job(runs: &[FinishedRun], last: Option<Mark<'_>>) -> Option<Due> {
    let key = |r: &&FinishedRun| (r.finished_at, r.name.clone());
    let pick = match last {
        None => runs.iter().max_by_key(key),
        Some(mark) => runs
            .iter()
            .filter(|r| (r.finished_at, r.name.as_str()) > (mark.at, mark.run))
            .min_by_key(key),
    }?;
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
        }
    }

    #[test]
    fn after_job_checks_each_finished_run_once_in_finish_order() {
        let runs = [
            run("orders-a", "2026-11-25T10", "2026-11-25T11:05:00Z"),
            run("orders-b", "2026-11-25T11", "2026-11-25T12:05:00Z"),
            run("orders-c", "2026-11-25T12", "2026-11-25T12:05:00Z"),
            run("orders-d", "2026-11-25T13", "2026-11-25T14:05:00Z"),
        ];
        let name = |d: Option<Due>| d.and_then(|d| d.etl_run);
        // A new suite starts from the newest batch, not the job's whole past.
        assert_eq!(name(next_after_job(&runs, None)).as_deref(), Some("orders-d"));
        // After a run, the next one to finish; same-second finishes are not skipped.
        let mark = |at: &str, run| Some(Mark { at: ts(at), run });
        assert_eq!(
            name(next_after_job(&runs, mark("2026-11-25T11:05:00Z", "orders-a"))).as_deref(),
            Some("orders-b")
        );
        assert_eq!(
            name(next_after_job(&runs, mark("2026-11-25T12:05:00Z", "orders-b"))).as_deref(),
            Some("orders-c")
        );
        assert_eq!(
            name(next_after_job(&runs, mark("2026-11-25T14:05:00Z", "orders-d"))),
            None
        );
        assert_eq!(name(next_after_job(&[], None)), None);
    }

    #[test]
    fn a_rerun_of_a_checked_batch_is_checked_again() {
        // The rerun replaced the run of the same name and finished later.
        let runs = [run("orders-a", "2026-11-25T10", "2026-11-26T09:00:00Z")];
        let due = next_after_job(
            &runs,
            Some(Mark {
                at: ts("2026-11-25T11:05:00Z"),
                run: "orders-a",
            }),
        )
        .expect("due");
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
