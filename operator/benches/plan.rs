//! What one EtlJob reconcile's planning costs, against how far back its
//! backfill starts: a minute schedule and a backfill from 1, 10 and 100 years
//! back to now. The steady plan (the range already counted, the cursor in
//! status) must stay flat; the first plan of a range counts it by whole days.
//!
//! `make bench-plan` (release). Prints figures; asserts nothing.

use std::time::{Duration, Instant};

use ade_operator::{
    api::v1alpha1::{EtlJob, EtlJobSpec, EtlJobStatus, EtlRun, EtlRunStatus, RunPhase, Time},
    controllers::etl_job::plan::{Plan, plan},
};
use jiff::{SignedDuration, Timestamp};

fn job(years: i64, now: Timestamp) -> EtlJob {
    let from = now
        .checked_sub(SignedDuration::from_hours(24 * 365 * years))
        .and_then(|t| Timestamp::from_second(t.as_second().div_euclid(60) * 60))
        .expect("from");
    let spec: EtlJobSpec = serde_saphyr::from_str(&format!(
        "poolRef: {{name: p}}\ntask: {{container: {{image: busybox}}}}\nschedule: '* * * * *'\ncatchUp: {{policy: none}}\nbackfill: {{from: '{from}', to: '{now}', parallelism: 10}}\n"
    ))
    .expect("job spec");
    let mut job = EtlJob::new("orders", spec);
    job.metadata.uid = Some("uid".into());
    job.metadata.creation_timestamp = Some(Time(now));
    job.status = Some(EtlJobStatus {
        last_schedule_time: Some(Time(now)),
        ..EtlJobStatus::default()
    });
    job
}

/// The runs of `plan`, finished.
fn finished(plan: &Plan) -> Vec<EtlRun> {
    plan.create
        .iter()
        .map(|c| {
            let mut run = EtlRun::new(&c.name, c.spec("orders"));
            run.status = Some(EtlRunStatus {
                phase: Some(RunPhase::Succeeded),
                ..EtlRunStatus::default()
            });
            run
        })
        .collect()
}

fn time(rounds: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        f();
    }
    started.elapsed() / rounds
}

fn main() {
    let now: Timestamp = "2026-11-29T12:00:30Z".parse().expect("now");
    let mut baseline = None;
    println!("EtlJob plan, minute schedule, backfill from N years back (parallelism 10):");
    for years in [1, 10, 100] {
        let mut job = job(years, now);
        let first_plan = plan(&job, &[], None, &[], now);
        let first = time(3, || {
            std::hint::black_box(plan(&job, &[], None, &[], now));
        });
        let runs = finished(&first_plan);
        let total = first_plan.status.backfill.as_ref().map_or(0, |b| b.total);
        job.status = Some(first_plan.status);
        let steady = time(2_000, || {
            std::hint::black_box(plan(&job, &runs, None, &[], now));
        });
        let base = *baseline.get_or_insert(steady);
        println!(
            "  {years:>3} years ({total:>10} windows): first plan {:>9.1} µs, steady plan {:>7.1} µs = {:.2}× the 1-year plan",
            first.as_secs_f64() * 1e6,
            steady.as_secs_f64() * 1e6,
            steady.as_secs_f64() / base.as_secs_f64()
        );
    }
}
