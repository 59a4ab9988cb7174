//! Tables for the run state machine.

use super::*;
use crate::{
    api::v1alpha1::{EtlRunSpec, LocalObjectReference, RunReason},
    controllers::conditions::Status,
    names,
};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).expect("timestamp")
}

fn job(limit: i32) -> EtlJobSpec {
    let mut spec: EtlJobSpec =
        serde_saphyr::from_str("poolRef: {name: p}\ntask: {container: {image: busybox}}\nretries: {limit: 0, backoff: {initial: 10s, max: 40s}}")
            .expect("job spec");
    spec.retries.limit = limit;
    spec
}

fn run(status: Option<EtlRunStatus>, cancel: bool) -> EtlRun {
    let mut run = EtlRun::new(
        "orders-2026-11-25t13",
        EtlRunSpec {
            job_ref: LocalObjectReference { name: "orders".into() },
            batch_id: "2026-11-25T13".into(),
            window: None,
            reason: RunReason::Schedule,
            cancel,
        },
    );
    run.metadata.generation = Some(1);
    run.status = status;
    run
}

fn observed(state: Option<AttemptState>, blocked: Option<Blocked>, limit: i32) -> Observed {
    Observed {
        now: at(100),
        job: Some(job(limit)),
        blocked,
        attempt_state: state,
        window: None,
        pricing: (
            cost::Reserved {
                cpu: 1.0,
                memory_gib: 2.0,
            },
            cost::Prices {
                cpu_hour: 0.04,
                memory_gib_hour: 0.005,
            },
        ),
        pool_name: Some("p".into()),
        profile: Profile {
            name: "kubernetes",
            in_cluster: true,
            prices_attempts: false,
            needs_deadline: false,
            holds_external: false,
        },
        intent: AttemptHandle::Job {
            name: "orders-2026-11-25t13-1".into(),
        },
        provider_cost: Vec::new(),
        wait_limit: Duration::from_secs(7200),
    }
}

fn running_status(attempts: usize) -> EtlRunStatus {
    let mut status = EtlRunStatus {
        phase: Some(RunPhase::Running),
        ..EtlRunStatus::default()
    };
    for n in 1..=attempts {
        let n = i32::try_from(n).expect("small");
        status.attempts.push(Attempt {
            attempt: n,
            cluster_id: None,
            step_id: None,
            job_name: Some(names::job_name("orders-2026-11-25t13", n)),
            market: None,
            started_at: Some(Time(at(0))),
            finished_at: (n < i32::try_from(attempts).expect("small")).then(|| Time(at(10))),
            outcome: (n < i32::try_from(attempts).expect("small")).then_some(AttemptOutcome::Failed),
            message: None,
            estimated_cost_usd: None,
        });
    }
    status
}

fn condition<'a>(plan: &'a Plan, type_: &str) -> &'a Desired {
    plan.conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition present")
}

#[test]
fn a_new_run_records_its_intent_then_starts() {
    let plan = plan(&run(None, false), &observed(None, None, 3), 0.5);
    assert_eq!(plan.effect, Effect::Start(1));
    assert_eq!(plan.status.phase, Some(RunPhase::Provisioning));
    assert_eq!(plan.status.attempts.len(), 1);
    assert_eq!(
        plan.status.attempts[0].job_name.as_deref(),
        Some("orders-2026-11-25t13-1")
    );
    assert_eq!(plan.status.attempts[0].outcome, None);
    assert_eq!(plan.status.attempt_count, 1);
    assert_eq!(plan.status.cluster.as_deref(), Some("p"));
    assert_eq!(condition(&plan, "Scheduled").status, Status::True);
    assert_eq!(plan.notes[0].reason, "Started");
}

#[test]
fn a_blocked_run_waits_and_says_why_once() {
    let blocked = Blocked::wait("Queued", "waiting for capacity in ClusterPool p: 4 of 4 runs active");
    let first = plan(&run(None, false), &observed(None, Some(blocked.clone()), 3), 0.5);
    assert_eq!(first.effect, Effect::None);
    assert_eq!(first.status.phase, Some(RunPhase::Pending));
    let scheduled = condition(&first, "Scheduled");
    assert_eq!((scheduled.status, scheduled.reason), (Status::False, "Queued"));
    assert!(scheduled.message.contains("4 of 4"));
    assert_eq!(first.notes.len(), 1);
    assert!(first.requeue.is_some());

    // The same reason again publishes no second Event.
    let mut again = run(Some(first.status.clone()), false);
    again.status.as_mut().expect("status").conditions =
        crate::controllers::conditions::merge(&[], &first.conditions, Some(1), at(100));
    let second = plan(&again, &observed(None, Some(blocked), 3), 0.5);
    assert!(second.notes.is_empty(), "{:?}", second.notes);
}

#[test]
fn an_invalid_run_is_not_accepted() {
    let blocked = Blocked::invalid("InvalidBatchId", "spec.batchId: not a window of this job");
    let plan = plan(&run(None, false), &observed(None, Some(blocked), 3), 0.5);
    let accepted = condition(&plan, "Accepted");
    assert_eq!((accepted.status, accepted.reason), (Status::False, "InvalidBatchId"));
    assert_eq!(plan.effect, Effect::None);
    assert_eq!(plan.requeue, None, "an invalid run waits for a change");
}

#[test]
fn an_attempt_whose_job_is_missing_is_started_again_not_duplicated() {
    let status = running_status(1);
    let plan = plan(
        &run(Some(status), false),
        &observed(Some(AttemptState::Missing), None, 3),
        0.5,
    );
    assert_eq!(plan.effect, Effect::Start(1), "the same attempt, same Job name");
    assert_eq!(plan.status.attempts.len(), 1);
    assert_eq!(plan.status.phase, Some(RunPhase::Provisioning));
}

#[test]
fn provider_states_drive_the_phase() {
    let cases = [
        (AttemptState::Provisioning, RunPhase::Provisioning),
        (
            AttemptState::Running {
                started_at: Some(at(5)),
            },
            RunPhase::Running,
        ),
        (
            AttemptState::Succeeded {
                finished_at: Some(at(90)),
            },
            RunPhase::Succeeded,
        ),
    ];
    for (state, want) in cases {
        let plan = plan(
            &run(Some(running_status(1)), false),
            &observed(Some(state.clone()), None, 3),
            0.5,
        );
        assert_eq!(plan.status.phase, Some(want), "{state:?}");
        assert_eq!(plan.effect, Effect::None, "{state:?}");
    }
    let done = plan(
        &run(Some(running_status(1)), false),
        &observed(
            Some(AttemptState::Succeeded {
                finished_at: Some(at(90)),
            }),
            None,
            3,
        ),
        0.5,
    );
    assert_eq!(done.status.attempts[0].outcome, Some(AttemptOutcome::Succeeded));
    assert_eq!(done.status.finished_at, Some(Time(at(90))));
    assert_eq!(condition(&done, "Ready").status, Status::True);
    // The write that makes the run final is its last: planning the final run
    // again wants the same Scheduled condition.
    assert_eq!(condition(&done, "Scheduled").reason, "Finished");
    assert_eq!(
        condition(&done, "Scheduled"),
        condition(&plan_of_final(RunPhase::Succeeded), "Scheduled")
    );
    // 90 s of 1 cpu and 2 GiB: (0.04 + 0.01) * 90 / 3600
    assert_eq!(done.status.estimated_cost_usd, Some(Usd("0.0013".into())));
}

#[test]
fn failures_back_off_exponentially_then_fail_for_good() {
    let failed = |message: &str| AttemptState::Failed {
        kind: FailureKind::Failed,
        message: message.into(),
        finished_at: Some(at(100)),
    };
    // limit 2: the first and second failures retry, with 10 s then 20 s (jitter 0.999 ≈ full delay)
    for (attempts, want_secs) in [(1usize, 10u64), (2, 20)] {
        let plan = plan(
            &run(Some(running_status(attempts)), false),
            &observed(Some(failed("exit 1")), None, 2),
            0.999,
        );
        assert_eq!(plan.status.phase, Some(RunPhase::Pending), "attempts {attempts}");
        let wait = plan.requeue.expect("requeue").as_secs_f64();
        assert!((wait - want_secs as f64).abs() < 0.1, "attempts {attempts}: {wait}");
        let scheduled = condition(&plan, "Scheduled");
        assert_eq!(scheduled.reason, "RetryBackoff");
        assert!(scheduled.message.contains("exit 1"), "{}", scheduled.message);
        assert_eq!(plan.notes[0].reason, "Retrying");
    }
    // the third failure is past the limit
    let plan = plan(
        &run(Some(running_status(3)), false),
        &observed(Some(failed("container task exited with code 1 (Error)")), None, 2),
        0.5,
    );
    assert_eq!(plan.status.phase, Some(RunPhase::Failed));
    let ready = condition(&plan, "Ready");
    assert_eq!((ready.status, ready.reason), (Status::False, "Failed"));
    assert!(
        ready
            .message
            .contains("after 3 attempts: container task exited with code 1"),
        "{}",
        ready.message
    );
    assert_eq!(plan.notes[0].reason, "Failed");
}

#[test]
fn a_jittered_backoff_is_never_longer_than_the_full_delay() {
    let failed = AttemptState::Failed {
        kind: FailureKind::TimedOut,
        message: "timeout".into(),
        finished_at: None,
    };
    for jitter in [0.0, 0.3, 0.999] {
        let plan = plan(
            &run(Some(running_status(1)), false),
            &observed(Some(failed.clone()), None, 2),
            jitter,
        );
        let wait = plan.requeue.expect("requeue");
        assert!(
            wait >= Duration::from_secs(5) && wait <= Duration::from_secs(10),
            "{jitter}: {wait:?}"
        );
        assert_eq!(plan.status.attempts[0].outcome, Some(AttemptOutcome::TimedOut));
    }
}

#[test]
fn interruptions_retry_at_once_without_using_the_limit() {
    let interrupted = AttemptState::Failed {
        kind: FailureKind::Interrupted,
        message: "evicted".into(),
        finished_at: None,
    };
    // limit 0: a failure would be final, an interruption is not
    let plan = plan(
        &run(Some(running_status(1)), false),
        &observed(Some(interrupted), None, 0),
        0.5,
    );
    assert_eq!(plan.status.phase, Some(RunPhase::Pending));
    assert_eq!(plan.requeue, Some(Duration::ZERO));
    assert_eq!(plan.status.attempts[0].outcome, Some(AttemptOutcome::Interrupted));
}

#[test]
fn a_run_waiting_out_its_backoff_does_not_start() {
    let mut status = running_status(2);
    status.attempts[1].outcome = Some(AttemptOutcome::Failed);
    status.phase = Some(RunPhase::Pending);
    status.next_attempt_at = Some(Time(at(130)));
    let waiting = plan(&run(Some(status.clone()), false), &observed(None, None, 3), 0.5);
    assert_eq!(waiting.effect, Effect::None);
    assert_eq!(waiting.requeue, Some(Duration::from_secs(30)));
    status.next_attempt_at = Some(Time(at(50)));
    let due = plan(&run(Some(status), false), &observed(None, None, 3), 0.5);
    assert_eq!(due.effect, Effect::Start(3));
}

#[test]
fn cancel_stops_the_active_attempt_and_ends_cancelled() {
    let plan = plan(
        &run(Some(running_status(1)), true),
        &observed(Some(AttemptState::Running { started_at: None }), None, 3),
        0.5,
    );
    assert_eq!(plan.effect, Effect::Cancel(1));
    assert_eq!(plan.status.phase, Some(RunPhase::Cancelled));
    assert_eq!(plan.status.attempts[0].outcome, Some(AttemptOutcome::Cancelled));
    let idle = plan_of_final(RunPhase::Succeeded);
    assert_eq!(idle.effect, Effect::None);
    assert_eq!(
        idle.status.phase,
        Some(RunPhase::Succeeded),
        "a final run stays final, even if cancel is set later"
    );
}

fn plan_of_final(phase: RunPhase) -> Plan {
    let mut status = running_status(1);
    status.phase = Some(phase);
    plan(&run(Some(status), true), &observed(None, None, 3), 0.5)
}

#[test]
fn on_an_emr_pool_an_attempt_is_a_step_that_waits_for_a_cluster_and_is_costed_by_the_provider() {
    let mut emr = observed(None, None, 3);
    emr.profile = Profile {
        name: "emr",
        in_cluster: false,
        prices_attempts: true,
        needs_deadline: true,
        holds_external: true,
    };
    emr.intent = AttemptHandle::Unplaced;
    let first = plan(&run(None, false), &emr, 0.5);
    assert_eq!(first.effect, Effect::Start(1));
    assert_eq!(
        first.status.attempts[0].job_name, None,
        "no Kubernetes Job on emr pools"
    );
    assert_eq!(first.status.cluster, None, "the cluster is the EMR cluster, once known");
    let scheduled = condition(&first, "Scheduled");
    assert_eq!(
        (scheduled.status, scheduled.reason),
        (Status::False, "WaitingForCluster")
    );
    assert_eq!(
        first.status.estimated_cost_usd, None,
        "no estimate before the provider gives one"
    );

    // Placed: the step and cluster are in the attempt; the provider's cost is used.
    let mut status = first.status.clone();
    status.attempts[0].cluster_id = Some("j-1".into());
    status.attempts[0].step_id = Some("s-1".into());
    status.estimated_cost_usd = Some(Usd("0.5000".into()));
    emr.attempt_state = Some(AttemptState::Running {
        started_at: Some(at(5)),
    });
    emr.provider_cost = vec![(1, 1.25)];
    let running = plan(&run(Some(status.clone()), false), &emr, 0.5);
    assert_eq!(running.status.phase, Some(RunPhase::Running));
    assert_eq!(running.status.estimated_cost_usd, Some(Usd("1.2500".into())));
    let scheduled = condition(&running, "Scheduled");
    assert_eq!(scheduled.message, "attempt 1 runs as EMR step s-1 on cluster j-1");
    // No estimate this time (EMR unreachable): the last one stays.
    emr.provider_cost = Vec::new();
    let kept = plan(&run(Some(status), false), &emr, 0.5);
    assert_eq!(kept.status.estimated_cost_usd, Some(Usd("0.5000".into())));
}
