//! The run state machine: from what was observed to the next status and the
//! one external effect to perform (start or cancel an attempt).
//!
//! Pending → Provisioning → Running → Succeeded | Failed | Cancelled, with a
//! failed attempt going back to Pending for its retry backoff. The intent of an
//! attempt (its number and Job name) is part of the status written *before*
//! the provider is called, so a restarted operator adopts the attempt.
//!
//! Pure: no clock (the caller passes `now`), no randomness (the caller passes
//! `jitter`), no I/O.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::runtime::events::EventType;

use crate::{
    api::v1alpha1::{Attempt, AttemptOutcome, EtlJobSpec, EtlRun, EtlRunStatus, RunPhase, Time, Usd},
    controllers::{
        backoff,
        conditions::{Desired, Status},
    },
    cost, human,
    providers::{AttemptHandle, AttemptState, FailureKind, Profile},
    schedule::Window,
};

/// Interruptions (lost capacity) retried before a run gives up anyway.
pub const MAX_INTERRUPTIONS: usize = 10;
/// How often an active attempt outside the cluster (an EMR step, an EKS
/// node's Job seen through its own client) is looked at: nothing wakes the
/// controller when it changes.
const POLL: Duration = Duration::from_secs(15);
/// How often an active attempt that is a Job of this cluster is looked at
/// when no watch event arrives: the Job's watch wakes the run on every
/// change, so this only refreshes the running cost estimate.
const POLL_IN_CLUSTER: Duration = Duration::from_secs(60);

/// How often the active attempt is looked at when nothing wakes the run.
fn poll(observed: &Observed) -> Duration {
    if observed.profile.in_cluster {
        POLL_IN_CLUSTER
    } else {
        POLL
    }
}

/// Why a run cannot start yet (or at all): the `Scheduled` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// CamelCase reason.
    pub reason: &'static str,
    /// Explanation.
    pub message: String,
    /// Whether the spec itself is wrong (Accepted=False), not just early.
    pub invalid: bool,
}

impl Blocked {
    /// A run that waits.
    pub fn wait(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            invalid: false,
        }
    }

    /// A run whose spec is wrong.
    pub fn invalid(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            invalid: true,
        }
    }
}

/// What the observe step found.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The current time.
    pub now: Timestamp,
    /// The job's spec, when the job exists.
    pub job: Option<EtlJobSpec>,
    /// Why a new attempt may not start now (pool, queue, batch busy, budget…);
    /// `None` when it may. Only consulted when no attempt is active.
    pub blocked: Option<Blocked>,
    /// The provider's view of the active attempt, when there is one.
    pub attempt_state: Option<AttemptState>,
    /// The window of the batch.
    pub window: Option<Window>,
    /// Reserved resources and their prices, for the cost estimate.
    pub pricing: (cost::Reserved, cost::Prices),
    /// Where runs of this pool execute, for `status.cluster`.
    pub pool_name: Option<String>,
    /// What the run's provider is like: whether attempts run in this cluster
    /// (then `status.cluster` is the pool) and who prices them.
    pub profile: Profile,
    /// Where the next attempt will run as far as it is known before it starts
    /// (a Job's name), recorded with the attempt's intent.
    pub intent: AttemptHandle,
    /// The provider's estimate of each attempt it could price now, by
    /// attempt number (when it prices attempts); an attempt not listed keeps
    /// its last estimate.
    pub provider_cost: Vec<(i32, f64)>,
    /// How long an attempt may wait for external capacity, for messages.
    pub wait_limit: Duration,
}

/// The one external effect of a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing to call.
    None,
    /// Start (or adopt) attempt n. The status with its intent is written first.
    Start(i32),
    /// Stop attempt n.
    Cancel(i32),
}

/// An Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Normal or Warning.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Text.
    pub message: String,
}

impl Note {
    /// The event type.
    pub fn event_type(&self) -> EventType {
        if self.warning {
            EventType::Warning
        } else {
            EventType::Normal
        }
    }
}

/// The outcome of planning.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The status to apply.
    pub status: EtlRunStatus,
    /// Accepted, Scheduled and Ready.
    pub conditions: Vec<Desired>,
    /// The effect to perform (after writing `status` for `Start`).
    pub effect: Effect,
    /// When to look again.
    pub requeue: Option<Duration>,
    /// Events to publish.
    pub notes: Vec<Note>,
}

fn counted_failures(attempts: &[Attempt]) -> usize {
    attempts
        .iter()
        .filter(|a| matches!(a.outcome, Some(AttemptOutcome::Failed | AttemptOutcome::TimedOut)))
        .count()
}

fn interruptions(attempts: &[Attempt]) -> usize {
    attempts
        .iter()
        .filter(|a| a.outcome == Some(AttemptOutcome::Interrupted))
        .count()
}

fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(at.duration_since(now).as_millis()).unwrap_or(0))
}

fn add(now: Timestamp, d: Duration) -> Timestamp {
    now.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(now)
}

/// Decides the next status and effect of `run`.
pub fn plan(run: &EtlRun, observed: &Observed, jitter: f64) -> Plan {
    let now = observed.now;
    let mut status = run.status.clone().unwrap_or_default();
    status.observed_generation = run.metadata.generation;
    let mut effect = Effect::None;
    let mut requeue = None;
    let mut notes = Vec::new();
    let mut scheduled;
    let mut accepted = Desired::new("Accepted", Status::True, "Valid", "the spec is valid");
    let active = status.attempts.iter().position(|a| a.outcome.is_none());

    if status.phase.is_some_and(RunPhase::is_final) {
        // Final: keep everything as it is.
        scheduled = finished_condition(status.phase);
    } else if run.spec.cancel {
        if let Some(i) = active {
            effect = Effect::Cancel(status.attempts[i].attempt);
            finish_attempt(
                &mut status.attempts[i],
                AttemptOutcome::Cancelled,
                "cancelled by spec.cancel",
                now,
            );
        }
        status.phase = Some(RunPhase::Cancelled);
        status.finished_at = Some(Time(now));
        scheduled = finished_condition(status.phase);
        notes.push(Note {
            warning: false,
            reason: "Cancelled",
            message: "the run was cancelled".into(),
        });
    } else if let Some(i) = active {
        let number = status.attempts[i].attempt;
        scheduled = started(&status.attempts[i], observed);
        match observed.attempt_state.clone().unwrap_or(AttemptState::Missing) {
            AttemptState::Missing => {
                // The intent is recorded but nothing exists: (re)create it, idempotently.
                effect = Effect::Start(number);
                status.phase = Some(RunPhase::Provisioning);
                requeue = Some(poll(observed));
            }
            AttemptState::Provisioning => {
                status.phase = Some(RunPhase::Provisioning);
                requeue = Some(poll(observed));
            }
            AttemptState::Running { .. } => {
                status.phase = Some(RunPhase::Running);
                requeue = Some(poll(observed));
            }
            AttemptState::Succeeded { finished_at } => {
                let at = finished_at.unwrap_or(now);
                finish_attempt(&mut status.attempts[i], AttemptOutcome::Succeeded, "succeeded", at);
                status.phase = Some(RunPhase::Succeeded);
                status.finished_at = Some(Time(at));
                notes.push(Note {
                    warning: false,
                    reason: "Succeeded",
                    message: format!("batch {} succeeded on attempt {number}", run.spec.batch_id),
                });
            }
            AttemptState::Failed {
                kind,
                message,
                finished_at,
            } => {
                let at = finished_at.unwrap_or(now);
                let outcome = match kind {
                    FailureKind::Failed => AttemptOutcome::Failed,
                    FailureKind::TimedOut => AttemptOutcome::TimedOut,
                    FailureKind::Interrupted => AttemptOutcome::Interrupted,
                };
                finish_attempt(&mut status.attempts[i], outcome, &message, at);
                let limit = observed.job.as_ref().map(|j| j.retries.limit).unwrap_or(0).max(0) as usize;
                let failures = counted_failures(&status.attempts);
                let retry = match kind {
                    FailureKind::Interrupted => interruptions(&status.attempts) <= MAX_INTERRUPTIONS,
                    _ => failures <= limit,
                };
                if retry {
                    let wait = match (kind, &observed.job) {
                        (FailureKind::Interrupted, _) | (_, None) => Duration::ZERO,
                        (_, Some(job)) => backoff::exponential(
                            job.retries.backoff.initial.to_std().unwrap_or(Duration::from_secs(30)),
                            job.retries.backoff.max.to_std().unwrap_or(Duration::from_secs(600)),
                            u32::try_from(failures).unwrap_or(u32::MAX),
                            jitter,
                        ),
                    };
                    status.phase = Some(RunPhase::Pending);
                    status.next_attempt_at = Some(Time(add(now, wait)));
                    requeue = Some(wait);
                    let budget = if kind == FailureKind::Interrupted {
                        "capacity was lost; retrying without using the retry limit".to_owned()
                    } else {
                        format!("{failures} of {} allowed failures used", limit + 1)
                    };
                    scheduled = Desired::new(
                        "Scheduled",
                        Status::False,
                        "RetryBackoff",
                        format!(
                            "attempt {number} failed ({message}); retrying in {}s, {budget}",
                            wait.as_secs()
                        ),
                    );
                    notes.push(Note {
                        warning: true,
                        reason: "Retrying",
                        message: format!("attempt {number} failed: {message}"),
                    });
                } else {
                    status.phase = Some(RunPhase::Failed);
                    status.finished_at = Some(Time(at));
                    notes.push(Note {
                        warning: true,
                        reason: "Failed",
                        message: format!("attempt {number} of {} failed: {message}", status.attempts.len()),
                    });
                }
            }
        }
    } else {
        // No active attempt: start one unless something blocks it.
        let waiting_for_backoff = status.next_attempt_at.as_ref().filter(|t| t.0 > now);
        match (&observed.blocked, waiting_for_backoff) {
            (Some(blocked), _) => {
                status.phase = Some(RunPhase::Pending);
                if blocked.invalid {
                    accepted = Desired::new("Accepted", Status::False, blocked.reason, blocked.message.clone());
                } else {
                    // Some waits (the job or pool missing) have no event of their own.
                    requeue = Some(POLL);
                }
                let was = run.status.as_ref().and_then(|s| {
                    crate::controllers::conditions::find(&s.conditions, "Scheduled").map(|c| c.reason.clone())
                });
                if was.as_deref() != Some(blocked.reason) {
                    notes.push(Note {
                        warning: blocked.invalid,
                        reason: blocked.reason,
                        message: blocked.message.clone(),
                    });
                }
                scheduled = Desired::new("Scheduled", Status::False, blocked.reason, blocked.message.clone());
            }
            (None, Some(at)) => {
                status.phase = Some(RunPhase::Pending);
                requeue = Some(until(now, at.0));
                scheduled = crate::controllers::conditions::find(&status.conditions, "Scheduled")
                    .map(|c| Desired::new("Scheduled", Status::False, "RetryBackoff", c.message.clone()))
                    .unwrap_or_else(|| Desired::new("Scheduled", Status::False, "RetryBackoff", "waiting to retry"));
            }
            (None, None) => {
                let number = i32::try_from(status.attempts.len()).unwrap_or(i32::MAX - 1) + 1;
                let mut attempt = Attempt {
                    attempt: number,
                    cluster_id: None,
                    step_id: None,
                    job_name: None,
                    market: None,
                    started_at: Some(Time(now)),
                    finished_at: None,
                    outcome: None,
                    message: None,
                    estimated_cost_usd: None,
                };
                observed.intent.record(&mut attempt);
                status.attempts.push(attempt);
                status.phase = Some(RunPhase::Provisioning);
                status.next_attempt_at = None;
                status.started_at.get_or_insert(Time(now));
                effect = Effect::Start(number);
                requeue = Some(poll(observed));
                scheduled = started(&status.attempts[status.attempts.len() - 1], observed);
                notes.push(Note {
                    warning: false,
                    reason: "Started",
                    message: match observed.intent.describe() {
                        Some(place) => format!("attempt {number} started as {place}"),
                        None => format!(
                            "attempt {number} started: it waits for a place on ClusterPool {}",
                            observed.pool_name.clone().unwrap_or_default()
                        ),
                    },
                });
            }
        }
    }

    status.attempt_count = i32::try_from(status.attempts.len()).unwrap_or(i32::MAX);
    if let Some(pool) = &observed.pool_name {
        status.pool.get_or_insert_with(|| pool.clone());
        if observed.profile.in_cluster {
            status.cluster.get_or_insert_with(|| pool.clone());
        }
    }
    if observed.profile.prices_attempts {
        // Each attempt keeps its last estimate; the run's is their sum.
        for (number, usd) in &observed.provider_cost {
            if let Some(a) = status.attempts.iter_mut().find(|a| a.attempt == *number) {
                a.estimated_cost_usd = Some(Usd(cost::usd(*usd)));
            }
        }
        let recorded: Vec<f64> = status
            .attempts
            .iter()
            .filter_map(|a| a.estimated_cost_usd.as_ref()?.dollars())
            .collect();
        if !recorded.is_empty() {
            status.estimated_cost_usd = Some(Usd(cost::usd(recorded.iter().sum())));
        }
    } else {
        status.estimated_cost_usd = Some(Usd(cost::usd(run_cost(&status.attempts, observed, now))));
    }
    if status.phase.is_some_and(RunPhase::is_final) {
        // Said in the write that makes the run final, not in one more write after it.
        scheduled = finished_condition(status.phase);
    }
    let ready = ready_condition(status.phase, &status.attempts);
    Plan {
        conditions: vec![accepted, scheduled, ready],
        status,
        effect,
        requeue,
        notes,
    }
}

/// The `Scheduled` condition of a final run.
fn finished_condition(phase: Option<RunPhase>) -> Desired {
    match phase {
        Some(RunPhase::Cancelled) => Desired::new("Scheduled", Status::False, "Cancelled", "the run was cancelled"),
        _ => Desired::new("Scheduled", Status::True, "Finished", "the run has finished"),
    }
}

/// The `Scheduled` condition of a started attempt: where it runs, or what it waits for.
fn started(attempt: &Attempt, observed: &Observed) -> Desired {
    let number = attempt.attempt;
    match AttemptHandle::of(attempt).describe() {
        Some(place) => Desired::new(
            "Scheduled",
            Status::True,
            "Started",
            format!("attempt {number} runs as {place}"),
        ),
        None if observed.profile.in_cluster => Desired::new(
            "Scheduled",
            Status::False,
            "Starting",
            format!("attempt {number} is being created"),
        ),
        None => {
            let since = attempt.started_at.as_ref().map_or(observed.now, |t| t.0);
            // Whole minutes: the message (and the status) changes once a minute.
            let minutes = observed.now.duration_since(since).unsigned_abs().as_secs() / 60;
            let waited = match minutes {
                0 => "less than a minute".to_owned(),
                m => human::duration(Duration::from_secs(m * 60)),
            };
            Desired::new(
                "Scheduled",
                Status::False,
                "WaitingForCluster",
                format!(
                    "attempt {number} has waited {} for a cluster of ClusterPool {} with a free slot (at most {}, \
                     --cluster-wait-limit; the job's timeout starts with the step)",
                    waited,
                    observed.pool_name.clone().unwrap_or_default(),
                    human::duration(observed.wait_limit)
                ),
            )
        }
    }
}

fn finish_attempt(attempt: &mut Attempt, outcome: AttemptOutcome, message: &str, at: Timestamp) {
    attempt.outcome = Some(outcome);
    attempt.message = Some(message.to_owned());
    attempt.finished_at = Some(Time(at));
}

/// The run's cost from its Pods' reserved resources. An attempt still
/// running is counted in whole minutes, so that its estimate (and the
/// status) moves once a minute, not on every reconcile; a finished one to
/// the second.
fn run_cost(attempts: &[Attempt], observed: &Observed, now: Timestamp) -> f64 {
    let (reserved, prices) = observed.pricing;
    attempts
        .iter()
        .filter_map(|a| {
            let start = a.started_at.as_ref()?.0;
            let seconds = match &a.finished_at {
                Some(end) => end.0.duration_since(start).as_secs_f64(),
                None => (now.duration_since(start).as_secs_f64() / 60.0).floor() * 60.0,
            };
            Some(cost::cost(reserved, prices, seconds.max(0.0)))
        })
        .sum()
}

fn ready_condition(phase: Option<RunPhase>, attempts: &[Attempt]) -> Desired {
    let last = attempts.last();
    let message = |default: &str| {
        last.and_then(|a| a.message.clone())
            .unwrap_or_else(|| default.to_owned())
    };
    match phase {
        Some(RunPhase::Succeeded) => Desired::new("Ready", Status::True, "Succeeded", "the batch succeeded"),
        Some(RunPhase::Failed) => Desired::new(
            "Ready",
            Status::False,
            "Failed",
            format!(
                "the run failed after {} attempts: {}",
                attempts.len(),
                message("failed")
            ),
        ),
        Some(RunPhase::Cancelled) => Desired::new("Ready", Status::False, "Cancelled", "the run was cancelled"),
        Some(RunPhase::Running) => Desired::new("Ready", Status::False, "Running", "an attempt is running"),
        Some(RunPhase::Provisioning) => Desired::new("Ready", Status::False, "Provisioning", "an attempt is starting"),
        Some(RunPhase::Pending) | None => Desired::new("Ready", Status::False, "Pending", "the run has not started"),
    }
}

/// How long the run is projected to hold its resources: the job's timeout, else an hour.
pub fn projected_seconds(job: &EtlJobSpec) -> f64 {
    job.timeout
        .as_ref()
        .and_then(|t| t.to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
        .as_secs_f64()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
