//! Reading what EMR reports: cluster states and termination reasons, what a
//! step's state means for its run attempt, a cluster as the planner sees it,
//! its fleet usage for the cost estimate and its spot outcomes for the breaker.
//!
//! Pure.

use jiff::Timestamp;

use super::{
    Market,
    api::{ClusterInfo, StepInfo, StepState},
    breaker::{SpotEvent, SpotOutcome},
    planner::{Cluster, ClusterState, TerminationReason},
    pricing::FleetUsage,
    request::TAG_MARKET,
};
use crate::{
    api::v1alpha1::EmrPool,
    providers::{AttemptState, FailureKind},
};

/// The state of a cluster from EMR's state name and state change reason
/// (`code` such as `USER_REQUEST`, and its message).
pub fn cluster_state(state: &str, code: Option<&str>, message: Option<&str>) -> ClusterState {
    let spot = message.is_some_and(|m| m.to_ascii_lowercase().contains("spot"));
    match state {
        "STARTING" => ClusterState::Starting,
        "BOOTSTRAPPING" => ClusterState::Bootstrapping,
        "RUNNING" => ClusterState::Running,
        "WAITING" => ClusterState::Waiting,
        "TERMINATING" => ClusterState::Terminating,
        _ => ClusterState::Terminated(match (state, code) {
            _ if spot => TerminationReason::SpotInterruption,
            ("TERMINATED_WITH_ERRORS", _) => TerminationReason::Error,
            (_, Some("USER_REQUEST")) => TerminationReason::UserRequest,
            (_, Some("ALL_STEPS_COMPLETED" | "STEP_FAILURE")) => TerminationReason::Completed,
            (
                _,
                Some(
                    "INSTANCE_FAILURE"
                    | "INSTANCE_FLEET_TIMEOUT"
                    | "BOOTSTRAP_FAILURE"
                    | "INTERNAL_ERROR"
                    | "VALIDATION_ERROR",
                ),
            ) => TerminationReason::Error,
            // IDLE_TIMEOUT, or no code: EMR's auto-termination or the operator's teardown
            _ => TerminationReason::IdleTimeout,
        }),
    }
}

/// The market a cluster was created on (its tag; spot when untagged).
pub fn market_of(info: &ClusterInfo) -> Market {
    match info.tags.get(TAG_MARKET).map(String::as_str) {
        Some("on-demand") => Market::OnDemand,
        _ => Market::Spot,
    }
}

/// What `step` on `cluster` means for its attempt. A step that cannot finish
/// because its cluster went away (spot loss, errors, teardown) is
/// `Interrupted`: retried without using up the retry limit.
pub fn attempt_state(step: Option<&StepInfo>, cluster: Option<&ClusterInfo>) -> AttemptState {
    let Some(step) = step else {
        return AttemptState::Missing;
    };
    let cluster_lost = match cluster {
        None => Some("its EMR cluster no longer exists".to_owned()),
        Some(c) => match c.state {
            ClusterState::Terminated(why) => Some(format!(
                "EMR cluster {} was terminated ({}): {}",
                c.id,
                c.state_name,
                c.state_message.clone().unwrap_or_else(|| why.describe().to_owned())
            )),
            ClusterState::Terminating => Some(format!("EMR cluster {} is terminating", c.id)),
            _ => None,
        },
    };
    let failed = |kind, message: String| AttemptState::Failed {
        kind,
        message,
        finished_at: step.ended_at,
    };
    match step.state {
        StepState::Completed => AttemptState::Succeeded {
            finished_at: step.ended_at,
        },
        StepState::Interrupted => failed(
            FailureKind::Interrupted,
            format!("EMR step {} was interrupted: its cluster lost capacity", step.id),
        ),
        StepState::Failed | StepState::Cancelled if cluster_lost.is_some() => {
            failed(FailureKind::Interrupted, cluster_lost.unwrap_or_default())
        }
        StepState::Failed => failed(
            FailureKind::Failed,
            format!(
                "EMR step {} failed: {}",
                step.id,
                step.message.clone().unwrap_or_else(|| "no failure details".to_owned())
            ),
        ),
        StepState::Cancelled => failed(
            FailureKind::Failed,
            format!("EMR step {} was cancelled outside ADE", step.id),
        ),
        _ if cluster_lost.is_some() && !matches!(cluster.map(|c| c.state), Some(ClusterState::Terminating)) => {
            failed(FailureKind::Interrupted, cluster_lost.unwrap_or_default())
        }
        StepState::Running => AttemptState::Running {
            started_at: step.started_at,
        },
        StepState::Pending | StepState::CancelPending => AttemptState::Provisioning,
    }
}

/// A cluster as the planner sees it. Runs are step names; a cluster is idle
/// since it became ready or since its last step ended, whichever is later.
pub fn planner_cluster(info: &ClusterInfo, steps: &[StepInfo]) -> Cluster {
    let running: Vec<String> = steps
        .iter()
        .filter(|s| s.state.is_active())
        .map(|s| s.name.clone())
        .collect();
    let idle_since = (running.is_empty() && info.state.is_ready()).then(|| {
        let ready = info.ready_at.unwrap_or(info.created_at);
        steps.iter().filter_map(|s| s.ended_at).fold(ready, Timestamp::max)
    });
    Cluster {
        id: info.id.clone(),
        state: info.state,
        market: market_of(info),
        created_at: info.created_at,
        idle_since,
        running,
        finished_runs: u32::try_from(steps.iter().filter(|s| !s.state.is_active()).count()).unwrap_or(u32::MAX),
    }
}

/// The instances a cluster of `emr` on `market` holds from its creation to its
/// end (or `now`): the fleets' target capacities, counted as the first
/// instance type of each fleet (EMR may choose another of the list; the
/// estimate does not ask which).
pub fn fleet_usage(emr: &EmrPool, info: &ClusterInfo, now: Timestamp) -> Vec<FleetUsage> {
    let market = market_of(info);
    let to = info.ended_at.unwrap_or(now);
    let mut fleets = vec![&emr.primary, &emr.core];
    fleets.extend(emr.task.as_ref());
    let mut out = Vec::new();
    for f in fleets {
        let Some(instance_type) = f.instance_types.first() else {
            continue;
        };
        let (on_demand, spot) = match market {
            Market::Spot => (f.on_demand, f.spot),
            Market::OnDemand => (f.on_demand + f.spot, 0),
        };
        for (m, count) in [(Market::OnDemand, on_demand), (Market::Spot, spot)] {
            if count > 0 {
                out.push(FleetUsage {
                    instance_type: instance_type.clone(),
                    market: m,
                    count: u32::try_from(count).unwrap_or(0),
                    from: info.created_at,
                    to,
                });
            }
        }
    }
    out
}

/// Spot outcomes for the breaker, one "instance" per spot cluster: launched
/// when created, interrupted when EMR terminated it for lost spot capacity.
pub fn spot_events(clusters: &[ClusterInfo]) -> Vec<SpotEvent> {
    let mut out = Vec::new();
    for c in clusters.iter().filter(|c| market_of(c) == Market::Spot) {
        out.push(SpotEvent {
            instance: c.id.clone(),
            outcome: SpotOutcome::Launched,
            at: c.created_at,
        });
        if c.state == ClusterState::Terminated(TerminationReason::SpotInterruption) {
            out.push(SpotEvent {
                instance: c.id.clone(),
                outcome: SpotOutcome::Interrupted,
                at: c.ended_at.unwrap_or(c.created_at),
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
