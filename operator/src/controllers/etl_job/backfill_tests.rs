//! The backfill planner against the walk it replaced, and the bound on its
//! work: a reconcile looks up a number of ticks that does not grow with how
//! far back the backfill starts or how long ago the last tick was.

use jiff::{SignedDuration, Timestamp};

use crate::{
    api::v1alpha1::{BackfillOrder, EtlJob, EtlJobStatus, EtlRun, EtlRunStatus, RunPhase, Time},
    controllers::etl_job::{
        fixtures::{self, pool, ts},
        plan::plan,
        validate::cadence_of,
    },
    names,
    schedule::cron,
};

fn job(extra: &str) -> EtlJob {
    fixtures::job(extra, "2026-11-29T00:00:00Z", None)
}

fn finished(job: &str, new: &super::NewRun) -> EtlRun {
    let mut run = EtlRun::new(&new.name, new.spec(job));
    run.status = Some(EtlRunStatus {
        phase: Some(RunPhase::Succeeded),
        ..EtlRunStatus::default()
    });
    run
}

/// Reconciles `job` until its backfill is done, every created run
/// succeeding before the next round; returns the batch ids in creation order.
fn drive(mut job: EtlJob, now: Timestamp, keep: usize) -> (Vec<String>, EtlJobStatus) {
    let mut runs: Vec<EtlRun> = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..10_000 {
        let plan = plan(&job, &runs, Some(&pool()), &[], now);
        for new in plan
            .create
            .iter()
            .filter(|c| c.reason == crate::api::v1alpha1::RunReason::Backfill)
        {
            ids.push(new.batch.id.clone());
            runs.push(finished("orders", new));
        }
        // A history limit of `keep`: older runs are deleted.
        let excess = runs.len().saturating_sub(keep);
        runs.drain(..excess);
        let done = plan.create.is_empty();
        job.status = Some(plan.status);
        if done {
            break;
        }
    }
    (ids, job.status.unwrap_or_default())
}

#[test]
fn the_cursor_creates_exactly_the_batches_of_the_range_in_order() {
    let cases = [
        // schedule, window, from, to
        (
            "schedule: '* * * * *'",
            "",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:30:00Z",
        ),
        (
            "schedule: '5 * * * *'",
            "window: {size: 1h, delay: 5m}",
            "2026-11-01T00:00:00Z",
            "2026-11-01T07:00:00Z",
        ),
        (
            "schedule: '0 * * * *'\ntimeZone: Europe/Berlin",
            "window: {size: 1h}",
            "2026-10-24T22:00:00Z",
            "2026-10-25T04:00:00Z",
        ),
        (
            "schedule: '0 0 * * *'\ntimeZone: Europe/Berlin",
            "",
            "2026-03-20T00:00:00Z",
            "2026-04-05T00:00:00Z",
        ),
        (
            "schedule: '*/15 * * * *'",
            "",
            "2026-11-01T00:07:00Z",
            "2026-11-01T03:00:00Z",
        ),
        ("", "window: {size: 1h}", "2026-11-01T00:00:00Z", "2026-11-01T06:30:00Z"),
        (
            "",
            "window: {size: 24h}",
            "2026-11-01T00:00:00Z",
            "2026-11-11T00:00:00Z",
        ),
    ];
    for (schedule, window, from, to) in cases {
        for order in [BackfillOrder::OldestFirst, BackfillOrder::NewestFirst] {
            for parallelism in [1, 3] {
                let order_name = match order {
                    BackfillOrder::OldestFirst => "OldestFirst",
                    BackfillOrder::NewestFirst => "NewestFirst",
                };
                let job = job(&format!(
                    "{schedule}\n{window}\nbackfill: {{from: '{from}', to: '{to}', parallelism: {parallelism}, order: {order_name}}}\n"
                ));
                let cadence = cadence_of(&job.spec).expect("cadence");
                let mut want: Vec<String> = cadence
                    .batches_in(ts(from), ts(to))
                    .expect("batches")
                    .into_iter()
                    .map(|b| b.id)
                    .collect();
                if order == BackfillOrder::NewestFirst {
                    want.reverse();
                }
                let (got, status) = drive(job, ts("2026-11-29T00:00:30Z"), 2);
                let case = format!("{schedule} {window} {from}..{to} {order_name} x{parallelism}");
                assert!(!want.is_empty(), "{case}");
                assert_eq!(got, want, "{case}");
                let progress = status.backfill.expect("backfill status");
                let n = i32::try_from(want.len()).expect("small");
                assert_eq!((progress.total, progress.created), (n, n), "{case}");
            }
        }
    }
}

/// Ticks looked up by one plan of a minute schedule whose backfill started
/// `years` back, before (first) and after (steady) its range is counted.
fn ticks_for_backfill_from(years: i64) -> (u64, u64) {
    let now = ts("2026-11-29T12:00:30Z");
    let from = now
        .checked_sub(SignedDuration::from_hours(24 * 365 * years))
        .expect("from");
    let from = Timestamp::from_second(from.as_second().div_euclid(60) * 60).expect("whole minute");
    let mut job = job(&format!(
        "schedule: '* * * * *'\ncatchUp: {{policy: none}}\nbackfill: {{from: '{from}', to: '{now}', parallelism: 10}}\n"
    ));
    job.status = Some(EtlJobStatus {
        last_schedule_time: Some(Time(ts("2026-11-29T12:00:00Z"))),
        ..EtlJobStatus::default()
    });
    let before = cron::calls();
    let first = plan(&job, &[], Some(&pool()), &[], now);
    let first_ticks = cron::calls() - before;
    let runs: Vec<EtlRun> = first.create.iter().map(|c| finished("orders", c)).collect();
    job.status = Some(first.status);
    let before = cron::calls();
    let steady = plan(&job, &runs, Some(&pool()), &[], now);
    let steady_ticks = cron::calls() - before;
    assert_eq!(steady.create.len(), 10);
    let progress = steady.status.backfill.expect("backfill");
    assert_eq!(progress.created, 20);
    assert_eq!(progress.succeeded, 10);
    (first_ticks, steady_ticks)
}

#[test]
fn a_plan_looks_up_the_same_few_ticks_however_far_back_the_backfill_starts() {
    let (first_1, steady_1) = ticks_for_backfill_from(1);
    let (first_100, steady_100) = ticks_for_backfill_from(100);
    println!(
        "next_after calls: 1 year first {first_1} steady {steady_1}; 100 years first {first_100} steady {steady_100}"
    );
    // Walking the range would be 525,600 ticks a year.
    assert!(steady_1 < 1_000, "steady plan, 1 year: {steady_1} ticks");
    assert!(steady_100 < 1_000, "steady plan, 100 years: {steady_100} ticks");
    assert!(steady_100.abs_diff(steady_1) <= 20, "{steady_1} vs {steady_100}");
    // The first plan counts the range by whole days (UTC has no offset change).
    assert!(first_100 < 5_000, "first plan, 100 years: {first_100} ticks");
    assert!(first_1 < 5_000, "first plan, 1 year: {first_1} ticks");
}

#[test]
fn catch_up_after_a_long_outage_looks_up_at_most_limit_ticks() {
    let mut job = job("schedule: '* * * * *'\ncatchUp: {policy: all, limit: 24}\nconcurrencyPolicy: Allow\n");
    job.status = Some(EtlJobStatus {
        last_schedule_time: Some(Time(ts("2025-11-29T12:00:00Z"))),
        ..EtlJobStatus::default()
    });
    let before = cron::calls();
    let plan = plan(&job, &[], Some(&pool()), &[], ts("2026-11-29T12:00:30Z"));
    let ticks = cron::calls() - before;
    assert_eq!(plan.create.len(), 24);
    assert_eq!(plan.create[23].batch.id, "2026-11-29T1159");
    assert_eq!(plan.create[0].batch.id, "2026-11-29T1136");
    assert!(ticks < 1_000, "{ticks} ticks for a year-long outage");
}

#[test]
fn run_names_in_the_range_are_the_jobs() {
    // A run of the range's batch under another name is not the backfill's.
    let job = job("window: {size: 1h}\nbackfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T02:00:00Z'}\n");
    let mut stranger = finished(
        "orders",
        &super::NewRun {
            name: "by-hand".into(),
            batch: cadence_of(&job.spec)
                .expect("cadence")
                .batch_starting_at(ts("2026-11-01T00:00:00Z"))
                .expect("batch"),
            reason: crate::api::v1alpha1::RunReason::Manual,
            due: None,
        },
    );
    stranger.metadata.name = Some("by-hand".into());
    let plan = plan(&job, &[stranger], Some(&pool()), &[], ts("2026-11-29T00:00:00Z"));
    let progress = plan.status.backfill.expect("backfill");
    assert_eq!((progress.total, progress.succeeded), (2, 0));
    assert_eq!(plan.create[0].name, names::run_name("orders", "2026-11-01T00"));
}
