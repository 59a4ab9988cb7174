//! What an emr pool's reconcile reads from its runs and reports for its
//! status: the demand for capacity (attempts waiting for a step or holding
//! one), the breaker state kept between reconciles, the `clusters` entries,
//! the `Ready` condition and the Events of what changed.
//!
//! Pure.

use kube::ResourceExt;

use super::{
    breaker::{self, BreakerState},
    capacity::{Demand, PoolReport},
    planner::{Placement, TerminateReason},
    request::step_name,
};
use crate::{
    api::v1alpha1::{Attempt, BreakerStatus, ClusterPool, EtlRun, PoolCluster, Time, Usd},
    cost,
    providers::{
        AttemptHandle, AttemptRef,
        pool::{CapacityReport, ClusterCounter, PoolEvent, Readiness},
    },
};

/// The demand of `pool`'s runs: active attempts without a step queue for a
/// slot (oldest run first); those with a cluster are placed on it.
pub fn demand<'a>(pool: &str, runs: impl IntoIterator<Item = &'a EtlRun>) -> Demand {
    let mut active: Vec<(&EtlRun, &Attempt)> = runs
        .into_iter()
        .filter_map(|r| {
            let status = r.status.as_ref()?;
            if status.pool.as_deref() != Some(pool) || status.phase.is_some_and(|p| p.is_final()) {
                return None;
            }
            Some((r, status.attempts.iter().find(|a| a.outcome.is_none())?))
        })
        .collect();
    active.sort_by_key(|(r, _)| (r.metadata.creation_timestamp.as_ref().map(|t| t.0), r.name_any()));
    let mut out = Demand::default();
    for (run, attempt) in active {
        let identity = step_name(&AttemptRef {
            namespace: run.namespace().unwrap_or_default(),
            run: run.name_any(),
            run_uid: run.uid().unwrap_or_default(),
            attempt: attempt.attempt,
            handle: AttemptHandle::default(),
            pool: None,
        });
        match &attempt.cluster_id {
            Some(cluster) => out.placed.push(Placement {
                run: identity,
                cluster: cluster.clone(),
            }),
            None => out.queued.push(identity),
        }
    }
    out
}

/// The breaker state the last reconcile left in the pool's status.
pub fn breaker_state(pool: &ClusterPool) -> BreakerState {
    breaker::state_of(pool.status.as_ref().and_then(|s| s.breaker.as_ref()))
}

/// The breaker as status shows it.
pub fn breaker_status(report: &PoolReport) -> BreakerStatus {
    breaker::status_of(&report.breaker)
}

/// The `clusters` entries: live clusters, and those terminated by this reconcile (with why).
pub fn cluster_entries(report: &PoolReport) -> Vec<PoolCluster> {
    report
        .clusters
        .iter()
        .filter(|c| c.info.state.is_live() || c.terminated.is_some())
        .map(|c| PoolCluster {
            id: c.info.id.clone(),
            state: if c.terminated.is_some() {
                "TERMINATING".to_owned()
            } else {
                c.info.state_name.clone()
            },
            market: Some(c.market.as_str().to_owned()),
            running_runs: i32::try_from(c.running.len()).unwrap_or(i32::MAX),
            created_at: Some(Time(c.info.created_at)),
            idle_since: c.idle_since.map(Time),
            estimated_cost_usd: c.cost_usd.map(|usd| Usd(cost::usd(usd))),
            termination_reason: c
                .terminated
                .as_ref()
                .map(|t| format!("{}: {}", t.reason.as_str(), t.message)),
            instance_type: None,
            zone: None,
            node_name: None,
        })
        .collect()
}

/// Live clusters after this reconcile, and how many of them run nothing.
pub fn counts(report: &PoolReport) -> (usize, usize) {
    let live: Vec<_> = report
        .clusters
        .iter()
        .filter(|c| c.info.state.is_live() && c.terminated.is_none())
        .collect();
    let idle = live.iter().filter(|c| c.running.is_empty()).count();
    (live.len() + report.created.len(), idle)
}

/// The `Ready` condition of an emr pool: it can take runs while EMR answers;
/// the message says what capacity there is and which market new clusters buy.
pub fn ready(report: &PoolReport, max_clusters: i32) -> Readiness {
    let live: Vec<_> = report
        .clusters
        .iter()
        .filter(|c| c.info.state.is_live() && c.terminated.is_none())
        .collect();
    let ready: Vec<&str> = live
        .iter()
        .filter(|c| c.info.state.is_ready())
        .map(|c| c.info.id.as_str())
        .collect();
    let market = format!("new clusters buy {}: {}", report.breaker.market, report.breaker.reason);
    let cost_note = report
        .cost_error
        .as_ref()
        .map(|e| format!("; no cost estimate: {e}"))
        .unwrap_or_default();
    if !ready.is_empty() {
        return Readiness {
            ready: true,
            reason: "ClustersReady",
            message: format!(
                "{} of {max_clusters} clusters ready ({}); {market}{cost_note}",
                ready.len(),
                ready.join(", ")
            ),
        };
    }
    if !live.is_empty() || !report.created.is_empty() {
        let starting: Vec<String> = live
            .iter()
            .map(|c| format!("{} {}", c.info.id, c.info.state_name))
            .chain(report.created.iter().map(|(id, _)| format!("{id} STARTING")))
            .collect();
        return Readiness {
            ready: true,
            reason: "ClusterStarting",
            message: format!("runs wait for {}; {market}{cost_note}", starting.join(", ")),
        };
    }
    Readiness {
        ready: true,
        reason: "ScalesOnDemand",
        message: format!("no cluster is alive; the first run gets one (up to {max_clusters}); {market}{cost_note}"),
    }
}

/// The Events (and metrics) of what the reconcile did: clusters created and
/// terminated, the breaker opening or closing since `before`.
pub fn events(report: &PoolReport, before: BreakerState) -> Vec<PoolEvent> {
    let mut out = Vec::new();
    let market = report.breaker.market.as_str();
    for (id, runs) in &report.created {
        let why = if runs.is_empty() {
            "to keep minClusters warm".to_owned()
        } else {
            format!("for {}", runs.join(", "))
        };
        out.push(PoolEvent {
            warning: false,
            reason: "ClusterCreated",
            note: format!("created EMR cluster {id} ({market}) {why}"),
            counter: Some(ClusterCounter::Created(market)),
        });
    }
    for c in &report.clusters {
        let Some(t) = &c.terminated else { continue };
        let reason = match t.reason {
            TerminateReason::IdleTimeout => "IdleTimeout",
            TerminateReason::RunFinished => "RunFinished",
            TerminateReason::OverCapacity => "OverCapacity",
        };
        out.push(PoolEvent {
            warning: false,
            reason: "ClusterTerminated",
            note: format!("terminated EMR cluster {}: {}", c.info.id, t.message),
            counter: Some(ClusterCounter::Terminated(reason)),
        });
    }
    out.extend(breaker::transition(&report.breaker, before));
    out
}

/// Everything the ClusterPool controller writes and tells of one reconcile.
pub fn capacity_report(
    report: &PoolReport,
    demand: &Demand,
    before: BreakerState,
    max_clusters: i32,
) -> CapacityReport {
    let (live, idle) = counts(report);
    let as_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    CapacityReport {
        clusters: cluster_entries(report),
        cluster_count: as_i32(live),
        idle_clusters: as_i32(idle),
        running_runs: as_i32(report.clusters.iter().map(|c| c.running.len()).sum()),
        queued_runs: as_i32(demand.queued.len()),
        breaker: Some(breaker_status(report)),
        readiness: ready(report, max_clusters),
        events: events(report, before),
        busy: !demand.queued.is_empty()
            || !report.requests.is_empty()
            || report.clusters.iter().any(|c| c.info.state.is_live()),
        requests: report.requests.clone(),
    }
}

#[cfg(test)]
#[path = "pool_status_tests.rs"]
mod tests;
