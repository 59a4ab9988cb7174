//! Tables for the job planner: schedule, catch-up, concurrency, backfill,
//! history and conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::api::v1alpha1::{BackfillOrder, BackfillStatus, EtlRunSpec, EtlRunStatus, LocalObjectReference, RunWindow};

use crate::controllers::etl_job::fixtures::{job, pool, ts};

fn run(batch: &str, start: &str, reason: RunReason, phase: Option<RunPhase>) -> EtlRun {
    let start = ts(start);
    let mut run = EtlRun::new(
        &names::run_name("orders", batch),
        EtlRunSpec {
            job_ref: LocalObjectReference { name: "orders".into() },
            batch_id: batch.into(),
            window: Some(RunWindow {
                start: Time(start),
                end: Time(start.checked_add(SignedDuration::from_hours(1)).expect("end")),
            }),
            reason,
            cancel: false,
        },
    );
    run.metadata.owner_references = Some(vec![OwnerReference {
        uid: "job-uid".into(),
        ..OwnerReference::default()
    }]);
    run.status = phase.map(|p| EtlRunStatus {
        phase: Some(p),
        ..EtlRunStatus::default()
    });
    run
}

fn created(plan: &Plan) -> Vec<(&str, RunReason)> {
    plan.create.iter().map(|c| (c.batch.id.as_str(), c.reason)).collect()
}

fn condition<'a>(plan: &'a Plan, type_: &str) -> &'a Desired {
    plan.conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition present")
}

const HOURLY: &str = "schedule: '5 * * * *'\nwindow: {size: 1h, delay: 5m}\n";

#[test]
fn a_due_tick_creates_the_run_of_its_window() {
    let job = job(HOURLY, "2026-11-25T13:20:00Z", None);
    let plan = plan(&job, &[], Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert_eq!(created(&plan), [("2026-11-25T13", RunReason::Schedule)]);
    assert_eq!(plan.create[0].name, "orders-2026-11-25t13");
    assert_eq!(plan.create[0].due, Some(ts("2026-11-25T14:05:00Z")));
    assert_eq!(plan.status.last_schedule_time, Some(Time(ts("2026-11-25T14:05:00Z"))));
    assert_eq!(plan.status.next_schedule_time, Some(Time(ts("2026-11-25T15:05:00Z"))));
    assert_eq!(plan.status.active_count, 1);
    assert_eq!(plan.status.current_batch.as_deref(), Some("2026-11-25T13"));
    assert_eq!(condition(&plan, "Ready").reason, "Scheduled");
    // Nothing due before the first tick after creation.
    let early = super::plan(&job, &[], Some(&pool()), &[], ts("2026-11-25T14:00:00Z"));
    assert!(early.create.is_empty());
    assert!(early.requeue <= Duration::from_secs(300));
}

#[test]
fn catch_up_after_downtime_follows_the_policy() {
    let now = ts("2026-11-25T14:06:00Z");
    let cases: [(&str, Vec<(&str, RunReason)>); 4] = [
        (
            "catchUp: {policy: latest}\n",
            vec![("2026-11-25T13", RunReason::Schedule)],
        ),
        (
            "catchUp: {policy: all}\nconcurrencyPolicy: Allow\n",
            vec![
                ("2026-11-25T10", RunReason::CatchUp),
                ("2026-11-25T11", RunReason::CatchUp),
                ("2026-11-25T12", RunReason::CatchUp),
                ("2026-11-25T13", RunReason::Schedule),
            ],
        ),
        (
            "catchUp: {policy: all, limit: 2}\nconcurrencyPolicy: Allow\n",
            vec![
                ("2026-11-25T12", RunReason::CatchUp),
                ("2026-11-25T13", RunReason::Schedule),
            ],
        ),
        (
            "catchUp: {policy: none}\n",
            vec![("2026-11-25T13", RunReason::Schedule)],
        ),
    ];
    for (extra, want) in cases {
        let job = job(
            &format!("{HOURLY}{extra}"),
            "2026-11-25T09:00:00Z",
            Some("2026-11-25T10:05:00Z"),
        );
        let plan = plan(&job, &[], Some(&pool()), &[], now);
        assert_eq!(created(&plan), want, "{extra}");
        assert_eq!(
            plan.status.last_schedule_time,
            Some(Time(ts("2026-11-25T14:05:00Z"))),
            "{extra}"
        );
    }
    // `none` skips even the latest tick once it is late
    let job = job(
        &format!("{HOURLY}catchUp: {{policy: none}}\n"),
        "2026-11-25T09:00:00Z",
        Some("2026-11-25T10:05:00Z"),
    );
    let late = plan(&job, &[], Some(&pool()), &[], ts("2026-11-25T14:30:00Z"));
    assert!(late.create.is_empty());
    assert_eq!(late.status.last_schedule_time, Some(Time(ts("2026-11-25T14:05:00Z"))));
}

#[test]
fn forbid_holds_due_batches_while_one_runs_and_catches_up_one_at_a_time() {
    let job = job(
        &format!("{HOURLY}catchUp: {{policy: all}}\n"),
        "2026-11-25T09:00:00Z",
        Some("2026-11-25T11:05:00Z"),
    );
    let busy = [run(
        "2026-11-25T10",
        "2026-11-25T10:00:00Z",
        RunReason::Schedule,
        Some(RunPhase::Running),
    )];
    let held = plan(&job, &busy, Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert!(held.create.is_empty());
    assert_eq!(
        held.status.last_schedule_time,
        Some(Time(ts("2026-11-25T11:05:00Z"))),
        "nothing consumed"
    );
    let done = [run(
        "2026-11-25T10",
        "2026-11-25T10:00:00Z",
        RunReason::Schedule,
        Some(RunPhase::Succeeded),
    )];
    let next = plan(&job, &done, Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert_eq!(created(&next), [("2026-11-25T11", RunReason::CatchUp)]);
    assert_eq!(next.status.last_schedule_time, Some(Time(ts("2026-11-25T12:05:00Z"))));
}

#[test]
fn replace_cancels_the_running_batch() {
    let job = job(
        &format!("{HOURLY}concurrencyPolicy: Replace\n"),
        "2026-11-25T09:00:00Z",
        Some("2026-11-25T13:05:00Z"),
    );
    let busy = [run(
        "2026-11-25T12",
        "2026-11-25T12:00:00Z",
        RunReason::Schedule,
        Some(RunPhase::Running),
    )];
    let plan = plan(&job, &busy, Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert_eq!(plan.cancel, ["orders-2026-11-25t12"]);
    assert_eq!(created(&plan), [("2026-11-25T13", RunReason::Schedule)]);
}

#[test]
fn an_existing_run_of_the_batch_is_never_created_twice() {
    let job = job(HOURLY, "2026-11-25T13:20:00Z", None);
    // e.g. the backfill or a person already ran this batch
    let existing = [run(
        "2026-11-25T13",
        "2026-11-25T13:00:00Z",
        RunReason::Backfill,
        Some(RunPhase::Failed),
    )];
    let plan = plan(&job, &existing, Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert!(plan.create.is_empty());
    assert_eq!(plan.status.last_schedule_time, Some(Time(ts("2026-11-25T14:05:00Z"))));
}

const BACKFILL: &str =
    "window: {size: 1h}\nbackfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T06:00:00Z', parallelism: 2}\n";

#[test]
fn a_backfill_keeps_at_most_parallelism_runs_live() {
    let now = ts("2026-11-25T14:06:00Z");
    let fresh = job(BACKFILL, "2026-11-25T14:00:00Z", None);
    let first = plan(&fresh, &[], Some(&pool()), &[], now);
    assert_eq!(
        created(&first),
        [
            ("2026-11-01T00", RunReason::Backfill),
            ("2026-11-01T01", RunReason::Backfill)
        ]
    );
    let progress = first.status.backfill.clone().expect("backfill status");
    assert_eq!((progress.total, progress.created), (6, 2));
    assert_eq!(condition(&first, "Ready").reason, "OnDemand");

    let mut next = fresh.clone();
    next.status = Some(first.status.clone());
    let two_live = [
        run(
            "2026-11-01T00",
            "2026-11-01T00:00:00Z",
            RunReason::Backfill,
            Some(RunPhase::Running),
        ),
        run("2026-11-01T01", "2026-11-01T01:00:00Z", RunReason::Backfill, None),
    ];
    assert!(plan(&next, &two_live, Some(&pool()), &[], now).create.is_empty());

    let one_done = [
        run(
            "2026-11-01T00",
            "2026-11-01T00:00:00Z",
            RunReason::Backfill,
            Some(RunPhase::Succeeded),
        ),
        run(
            "2026-11-01T01",
            "2026-11-01T01:00:00Z",
            RunReason::Backfill,
            Some(RunPhase::Running),
        ),
    ];
    let third = plan(&next, &one_done, Some(&pool()), &[], now);
    assert_eq!(created(&third), [("2026-11-01T02", RunReason::Backfill)]);
    let progress = third.status.backfill.clone().expect("backfill status");
    assert_eq!((progress.created, progress.succeeded), (3, 1));
    assert_eq!(condition(&third, "Progressing").reason, "RunsActive");
}

#[test]
fn the_backfill_cursor_survives_deleted_runs_and_restarts_on_a_new_range() {
    let now = ts("2026-11-25T14:06:00Z");
    let mut job = job(BACKFILL, "2026-11-25T14:00:00Z", None);
    job.status = Some(EtlJobStatus {
        backfill: Some(BackfillStatus {
            from: Time(ts("2026-11-01T00:00:00Z")),
            to: Time(ts("2026-11-01T06:00:00Z")),
            total: 6,
            created: 6,
            cursor: None,
            succeeded: 6,
            failed: 0,
        }),
        ..EtlJobStatus::default()
    });
    // every run deleted by the history limit: nothing comes back
    assert!(plan(&job, &[], Some(&pool()), &[], now).create.is_empty());
    // a new range starts over
    job.spec.backfill.as_mut().expect("backfill").to = Time(ts("2026-11-01T08:00:00Z"));
    assert_eq!(plan(&job, &[], Some(&pool()), &[], now).create.len(), 2);
    // newest first
    job.spec.backfill.as_mut().expect("backfill").order = BackfillOrder::NewestFirst;
    job.status = None;
    assert_eq!(created(&plan(&job, &[], Some(&pool()), &[], now))[0].0, "2026-11-01T07");
}

#[test]
fn history_limits_delete_the_oldest_finished_runs_the_job_owns() {
    let job = job(
        "historyLimit: {succeeded: 2, failed: 1}\n",
        "2026-11-25T00:00:00Z",
        None,
    );
    let mut runs: Vec<EtlRun> = (0..4)
        .map(|h| {
            run(
                &format!("2026-11-25T0{h}"),
                &format!("2026-11-25T0{h}:00:00Z"),
                RunReason::Manual,
                Some(RunPhase::Succeeded),
            )
        })
        .collect();
    runs.push(run(
        "2026-11-25T05",
        "2026-11-25T05:00:00Z",
        RunReason::Manual,
        Some(RunPhase::Failed),
    ));
    runs.push(run(
        "2026-11-25T06",
        "2026-11-25T06:00:00Z",
        RunReason::Manual,
        Some(RunPhase::Cancelled),
    ));
    let mut foreign = run(
        "2026-11-24T00",
        "2026-11-24T00:00:00Z",
        RunReason::Rerun,
        Some(RunPhase::Succeeded),
    );
    foreign.metadata.owner_references = None;
    runs.push(foreign);
    let plan = plan(&job, &runs, Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert_eq!(
        plan.delete,
        ["orders-2026-11-25t01", "orders-2026-11-25t00", "orders-2026-11-25t05"]
    );
    assert_eq!(plan.status.last_successful_batch.as_deref(), Some("2026-11-25T03"));
}

/// Issue 12, item 4.
#[test]
fn the_history_limit_never_erases_quality_state() {
    let verdict = |mut run: EtlRun, quarantined: Option<&str>| {
        if let (Some(status), Some(q)) = (run.status.as_mut(), quarantined) {
            status.conditions.push(crate::api::v1alpha1::Condition {
                type_: "Quarantined".into(),
                status: q.into(),
                reason: "ChecksFailed".into(),
                message: String::new(),
                last_transition_time: Time(ts("2026-11-25T12:00:00Z")),
                observed_generation: None,
            });
        }
        run
    };
    let succeeded = |h: u32, quarantined| {
        let batch = format!("2026-11-25T0{h}");
        verdict(
            run(
                &batch,
                &format!("{batch}:00:00Z"),
                RunReason::Manual,
                Some(RunPhase::Succeeded),
            ),
            quarantined,
        )
    };
    let runs = [
        succeeded(3, Some("False")), // the newest: within the limit
        succeeded(2, Some("False")), // judged and passed: may go
        succeeded(1, Some("True")),  // quarantined: kept
        succeeded(0, None),          // not judged yet
    ];
    let now = ts("2026-11-25T14:06:00Z");
    let gated = job(
        "historyLimit: {succeeded: 1, failed: 1}
gates: {after: [{validationSuiteRef: {name: quality}}]}
",
        "2026-11-25T00:00:00Z",
        None,
    );
    assert_eq!(
        plan(&gated, &runs, Some(&pool()), &[], now).delete,
        ["orders-2026-11-25t02"],
        "the quarantined and the unvalidated runs stay"
    );
    let ungated = job(
        "historyLimit: {succeeded: 1, failed: 1}
",
        "2026-11-25T00:00:00Z",
        None,
    );
    assert_eq!(
        plan(&ungated, &runs, Some(&pool()), &[], now).delete,
        ["orders-2026-11-25t02", "orders-2026-11-25t00"],
        "without a gate nothing waits for a verdict; a quarantined run still stays"
    );
}

/// "Run now" on a suspended job, then resume: the schedule's tick for that
/// batch finds it run (under another name) and does not run it again.
#[test]
fn a_batch_run_now_is_not_run_again_by_the_schedule() {
    let job = job(HOURLY, "2026-11-25T13:20:00Z", None);
    let mut by_hand = run(
        "2026-11-25T13",
        "2026-11-25T13:00:00Z",
        RunReason::Manual,
        Some(RunPhase::Succeeded),
    );
    by_hand.metadata.name = Some("orders-now-261125140530".into());
    let plan = plan(&job, &[by_hand.clone()], Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert!(plan.create.is_empty(), "{:?}", created(&plan));
    assert_eq!(
        plan.status.last_schedule_time,
        Some(Time(ts("2026-11-25T14:05:00Z"))),
        "the tick is consumed"
    );
    // A rerun is not the batch's run: without one, the schedule runs the batch.
    by_hand.spec.reason = RunReason::Rerun;
    let plan = super::plan(&job, &[by_hand], Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert_eq!(created(&plan), [("2026-11-25T13", RunReason::Schedule)]);
}

#[test]
fn suspend_creates_nothing() {
    let job = job(
        &format!("{HOURLY}suspend: true\n{BACKFILL}").replace("window: {size: 1h}\n", ""),
        "2026-11-25T09:00:00Z",
        None,
    );
    let plan = plan(&job, &[], Some(&pool()), &[], ts("2026-11-25T14:06:00Z"));
    assert!(plan.create.is_empty());
    assert_eq!(condition(&plan, "Ready").reason, "Suspended");
    // "Run now" still knows the current batch, and the job looks again at the
    // next tick, when that batch changes.
    assert_eq!(plan.status.current_batch.as_deref(), Some("2026-11-25T13"));
    let minutely = crate::controllers::etl_job::fixtures::job(
        "schedule: '* * * * *'\nsuspend: true\n",
        "2026-11-25T09:00:00Z",
        None,
    );
    let plan = super::plan(&minutely, &[], Some(&pool()), &[], ts("2026-11-25T14:06:20Z"));
    assert_eq!(plan.status.current_batch.as_deref(), Some("2026-11-25T1405"));
    assert_eq!(plan.requeue, Duration::from_secs(40));
}

#[test]
fn conditions_explain_the_job() {
    let now = ts("2026-11-25T14:06:00Z");
    let job = job("", "2026-11-25T09:00:00Z", None);
    let missing = plan(&job, &[], None, &[], now);
    assert_eq!(condition(&missing, "Ready").reason, "PoolNotFound");
    let mut failed = run(
        "2026-11-25T12",
        "2026-11-25T12:00:00Z",
        RunReason::Manual,
        Some(RunPhase::Failed),
    );
    if let Some(s) = failed.status.as_mut() {
        s.finished_at = Some(Time(ts("2026-11-25T13:00:00Z")));
        s.attempts.push(crate::api::v1alpha1::Attempt {
            attempt: 1,
            cluster_id: None,
            step_id: None,
            job_name: None,
            market: None,
            started_at: None,
            finished_at: None,
            outcome: None,
            message: Some("container task exited with code 1 (Error)".into()),
            estimated_cost_usd: None,
        });
    }
    let degraded = plan(&job, &[failed], Some(&pool()), &[], now);
    let d = condition(&degraded, "Degraded");
    assert_eq!((d.status, d.reason), (Status::True, "RunFailed"));
    assert!(d.message.contains("batch 2026-11-25T12 failed"), "{}", d.message);
    let invalid = plan(&job, &[], Some(&pool()), &[Problem::new("InvalidSchedule", "bad")], now);
    assert_eq!(condition(&invalid, "Accepted").status, Status::False);
    assert_eq!(condition(&invalid, "Ready").reason, "InvalidSpec");
}
