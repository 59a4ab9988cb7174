//! What an emr pool's reconcile reads from its runs and writes to its status:
//! the demand for capacity (attempts waiting for a step or holding one), the
//! breaker state kept between reconciles, the `clusters` entries and the
//! `Ready` condition.
//!
//! Pure.

use kube::ResourceExt;
use serde_json::{Value, json};

use crate::{
    api::v1alpha1::{BreakerStatus, ClusterPool, EtlRun, Time},
    controllers::conditions::{Desired, Status},
    cost,
    providers::{
        AttemptHandle, AttemptRef,
        emr::{
            breaker::BreakerState,
            capacity::{Demand, PoolReport},
            planner::Placement,
            request::step_name,
        },
    },
};

/// The demand of `pool`'s runs: active attempts without a step queue for a
/// slot (oldest run first); those with a cluster are placed on it.
pub fn demand(pool: &str, runs: &[EtlRun]) -> Demand {
    let mut active: Vec<(&EtlRun, &crate::api::v1alpha1::Attempt)> = runs
        .iter()
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
    match pool.status.as_ref().and_then(|s| s.breaker.as_ref()) {
        Some(b) if b.state == "Open" => match &b.since {
            Some(since) => BreakerState::Open { since: since.0 },
            None => BreakerState::default(),
        },
        Some(b) => BreakerState::Closed {
            since: b.since.as_ref().map(|t| t.0),
        },
        None => BreakerState::default(),
    }
}

/// The breaker as status shows it.
pub fn breaker_status(report: &PoolReport) -> BreakerStatus {
    let d = &report.breaker;
    let (state, since) = match d.state {
        BreakerState::Open { since } => ("Open", Some(since)),
        BreakerState::Closed { since } => ("Closed", since),
    };
    BreakerStatus {
        state: state.to_owned(),
        since: since.map(Time),
        until: d.until.map(Time),
        market: d.market.as_str().to_owned(),
        message: d.reason.clone(),
    }
}

/// The `clusters` entries: live clusters, and those terminated by this reconcile (with why).
pub fn cluster_entries(report: &PoolReport) -> Vec<Value> {
    report
        .clusters
        .iter()
        .filter(|c| c.info.state.is_live() || c.terminated.is_some())
        .map(|c| {
            let mut entry = json!({
                "id": c.info.id,
                "state": if c.terminated.is_some() { "TERMINATING" } else { c.info.state_name.as_str() },
                "market": c.market.as_str(),
                "runningRuns": c.running.len(),
                "createdAt": Time(c.info.created_at),
            });
            if let Some(idle) = c.idle_since {
                entry["idleSince"] = json!(Time(idle));
            }
            if let Some(usd) = c.cost_usd {
                entry["estimatedCostUSD"] = json!(cost::usd(usd));
            }
            if let Some(t) = &c.terminated {
                entry["terminationReason"] = json!(format!("{}: {}", t.reason.as_str(), t.message));
            }
            entry
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
pub fn ready(report: &Result<PoolReport, String>, max_clusters: i32) -> Desired {
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            return Desired::new(
                "Ready",
                Status::False,
                "ProviderError",
                format!("an EMR call failed: {e}"),
            );
        }
    };
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
        return Desired::new(
            "Ready",
            Status::True,
            "ClustersReady",
            format!(
                "{} of {max_clusters} clusters ready ({}); {market}{cost_note}",
                ready.len(),
                ready.join(", ")
            ),
        );
    }
    if !live.is_empty() || !report.created.is_empty() {
        let starting: Vec<String> = live
            .iter()
            .map(|c| format!("{} {}", c.info.id, c.info.state_name))
            .chain(report.created.iter().map(|(id, _)| format!("{id} STARTING")))
            .collect();
        return Desired::new(
            "Ready",
            Status::True,
            "ClusterStarting",
            format!("runs wait for {}; {market}{cost_note}", starting.join(", ")),
        );
    }
    Desired::new(
        "Ready",
        Status::True,
        "ScalesOnDemand",
        format!("no cluster is alive; the first run gets one (up to {max_clusters}); {market}{cost_note}"),
    )
}

#[cfg(test)]
#[path = "emr_status_tests.rs"]
mod tests;
