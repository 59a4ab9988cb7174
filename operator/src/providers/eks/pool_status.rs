//! What an eks pool's capacity reconcile reports: the `status.clusters`
//! entry of each node, the counts, and the `Ready` condition's words.
//!
//! Pure.

use super::{
    api::InstanceInfo,
    binpack::Pending,
    instance_types::Resources,
    nodes::{self, Limits, NodeState, NodeView, Plan},
};
use crate::{
    api::v1alpha1::{ClusterPool, ClusterRequest, PoolCluster, Time},
    providers::{
        emr::{self, breaker::Decision},
        pool::{CapacityReport, PoolEvent, Readiness},
    },
};

/// What one reconcile launched: the instances and the runs they are for.
pub type Launches = Vec<(InstanceInfo, Vec<String>)>;

/// A report of a pool whose nodes cannot be launched at all.
pub fn refused(pool: &ClusterPool, reason: &'static str, message: String) -> CapacityReport {
    let status = pool.status.clone().unwrap_or_default();
    CapacityReport {
        clusters: status.clusters,
        cluster_count: status.cluster_count,
        idle_clusters: status.idle_clusters,
        running_runs: status.running_runs,
        queued_runs: 0,
        breaker: None,
        readiness: Readiness {
            ready: false,
            reason,
            message,
        },
        events: Vec::new(),
        busy: true,
        requests: status.cluster_requests,
    }
}

/// The status entry of a node.
fn entry(v: &NodeView, terminated: Option<&nodes::Termination>) -> PoolCluster {
    PoolCluster {
        id: v.instance.id.clone(),
        state: if terminated.is_some() {
            "TERMINATING".to_owned()
        } else {
            v.state.as_str().to_owned()
        },
        market: Some(v.market().as_str().to_owned()),
        running_runs: i32::try_from(v.running.len()).unwrap_or(i32::MAX),
        created_at: v.instance.launched_at.map(Time),
        idle_since: v.idle_since.map(Time),
        estimated_cost_usd: None,
        termination_reason: terminated.map(|t| format!("{}: {}", t.reason.as_str(), t.message)),
        instance_type: Some(v.instance.instance_type.clone()),
        zone: (!v.instance.zone.is_empty()).then(|| v.instance.zone.clone()),
        node_name: v.node.clone(),
    }
}

/// Everything the ClusterPool controller writes and tells of one reconcile:
/// the nodes, the counts, the breaker and the `Ready` condition.
#[allow(clippy::too_many_arguments)]
pub fn report(
    views: &[NodeView],
    plan: &Plan,
    launched: &Launches,
    pending: &[Pending],
    requests: Vec<ClusterRequest>,
    events: Vec<PoolEvent>,
    limits: &Limits,
    breaker: &Decision,
) -> CapacityReport {
    let mut clusters: Vec<PoolCluster> = views
        .iter()
        .filter(|v| v.state != NodeState::Terminated)
        .map(|v| entry(v, plan.terminate.iter().find(|t| t.id == v.instance.id)))
        .collect();
    clusters.extend(launched.iter().map(|(i, _)| {
        entry(
            &NodeView {
                instance: i.clone(),
                node: None,
                state: NodeState::Launching,
                allocatable: Resources::default(),
                used: Resources::default(),
                running: Vec::new(),
                idle_since: None,
            },
            None,
        )
    }));
    let live: Vec<&PoolCluster> = clusters.iter().filter(|c| c.state != "TERMINATING").collect();
    let ready = live.iter().filter(|c| c.state == NodeState::Ready.as_str()).count();
    let idle = live.iter().filter(|c| c.running_runs == 0).count();
    let running: i32 = live.iter().map(|c| c.running_runs).sum();
    let mut message = format!(
        "{} of at most {} nodes ({ready} ready), {running} runs running, {} waiting for a node",
        live.len(),
        limits.max_nodes,
        pending.len()
    );
    if !plan.too_big.is_empty() {
        message.push_str(&format!(
            "; {} runs fit no instance type of the pool",
            plan.too_big.len()
        ));
    }
    if !plan.unknown_types.is_empty() {
        message.push_str(&format!(
            "; instance types neither the operator nor EC2's DescribeInstanceTypes knows are not used: {}",
            plan.unknown_types.join(", ")
        ));
    }
    message.push_str(&format!("; new nodes buy {}: {}", breaker.market, breaker.reason));
    CapacityReport {
        cluster_count: i32::try_from(live.len()).unwrap_or(i32::MAX),
        idle_clusters: i32::try_from(idle).unwrap_or(i32::MAX),
        running_runs: running,
        queued_runs: i32::try_from(pending.len()).unwrap_or(i32::MAX),
        breaker: Some(emr::breaker::status_of(breaker)),
        readiness: Readiness {
            ready: true,
            reason: if live.is_empty() {
                "ScalesFromZero"
            } else {
                "NodesAvailable"
            },
            message,
        },
        events,
        busy: !live.is_empty() || !pending.is_empty() || !requests.is_empty(),
        requests,
        clusters,
    }
}
