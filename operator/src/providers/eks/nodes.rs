//! An eks pool's nodes as the planner sees them — each EC2 instance joined
//! with the Node it registered as (by `spec.providerID`) and the Jobs pinned
//! to it — and the plan: which nodes to launch for the runs waiting, which
//! instances to terminate (never registered in time, or idle past the
//! pool's `idleTimeout` above `minClusters`), and never one a live run is on.
//!
//! Pure: no clock, no I/O.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::{
    api::{InstanceInfo, InstanceState},
    binpack::{self, NewNode, NodeRoom, Pending, Shape, TooBig, Waiting},
    instance_types::{Catalog, Resources},
    notices::{TAG_NOTICE, read_record},
};
use crate::providers::emr::Market;

/// A Node of the pool, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// Its name.
    pub name: String,
    /// `spec.providerID`, e.g. `aws:///us-east-1a/i-0abc`.
    pub provider_id: Option<String>,
    /// Its `Ready` condition is True.
    pub ready: bool,
    /// Cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// `status.allocatable`, when reported.
    pub allocatable: Option<Resources>,
}

/// A Job of the pool, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFacts {
    /// Its name (the run identity).
    pub name: String,
    /// The instance it is pinned to.
    pub instance: Option<String>,
    /// It has not finished.
    pub active: bool,
    /// What its Pod requests.
    pub request: Resources,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

/// What a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Launched, not registered (or not Ready) yet.
    Launching,
    /// A Ready, schedulable Node.
    Ready,
    /// Its Node is cordoned: it takes no new runs.
    Cordoned,
    /// The instance is going or gone.
    Terminated,
}

impl NodeState {
    /// The `status.clusters[].state` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Launching => "LAUNCHING",
            Self::Ready => "READY",
            Self::Cordoned => "CORDONED",
            Self::Terminated => "TERMINATED",
        }
    }
}

/// One instance of the pool, joined with its Node and Jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// What EC2 says.
    pub instance: InstanceInfo,
    /// The Node it registered as.
    pub node: Option<String>,
    /// Its state.
    pub state: NodeState,
    /// What it leaves to Pods: the Node's allocatable, else the type's estimate.
    pub allocatable: Resources,
    /// Requests of the live Jobs on it.
    pub used: Resources,
    /// Live Jobs on it.
    pub running: Vec<String>,
    /// Since when it has run nothing.
    pub idle_since: Option<Timestamp>,
}

impl NodeView {
    /// Its market.
    pub fn market(&self) -> Market {
        self.instance.market
    }
}

/// The instance id in a Node's `spec.providerID` (`aws:///<zone>/<id>`).
pub fn instance_of(provider_id: &str) -> Option<&str> {
    let id = provider_id.strip_prefix("aws://")?.rsplit('/').next()?;
    id.starts_with("i-").then_some(id)
}

/// The live runs on instance `id`, for a message: `: a, b`, or nothing.
pub fn runs_on(jobs: &[JobFacts], id: &str) -> String {
    let runs: Vec<&str> = jobs
        .iter()
        .filter(|j| j.active && j.instance.as_deref() == Some(id))
        .map(|j| j.name.as_str())
        .collect();
    if runs.is_empty() {
        String::new()
    } else {
        format!(": {}", runs.join(", "))
    }
}

/// Joins `instances` with their `nodes` and `jobs`. `idle_before` is each
/// node's `idleSince` from the pool's last status (finished Jobs are deleted
/// after a while, so the status remembers when a node emptied).
pub fn views(
    catalog: &Catalog,
    instances: &[InstanceInfo],
    nodes: &[NodeFacts],
    jobs: &[JobFacts],
    idle_before: &BTreeMap<String, Timestamp>,
) -> Vec<NodeView> {
    let mut by_instance: BTreeMap<&str, &NodeFacts> = BTreeMap::new();
    for n in nodes {
        if let Some(id) = n.provider_id.as_deref().and_then(instance_of) {
            by_instance.insert(id, n);
        }
    }
    instances
        .iter()
        .map(|i| {
            let node = by_instance.get(i.id.as_str()).copied();
            let state = match node {
                _ if !i.state.is_live() || i.state == InstanceState::Stopping => NodeState::Terminated,
                // EC2 warned of a reclaim or recommended a rebalance: it
                // takes no new runs, registered or not.
                _ if i.tags.contains_key(TAG_NOTICE) => NodeState::Cordoned,
                Some(n) if n.unschedulable => NodeState::Cordoned,
                Some(n) if n.ready => NodeState::Ready,
                _ => NodeState::Launching,
            };
            let on_it: Vec<&JobFacts> = jobs.iter().filter(|j| j.instance.as_deref() == Some(&i.id)).collect();
            let live: Vec<&JobFacts> = on_it.iter().copied().filter(|j| j.active).collect();
            let used = live.iter().fold(Resources::default(), |acc, j| acc.plus(j.request));
            let last_finish = on_it.iter().filter_map(|j| j.finished_at).max();
            let idle_since = live.is_empty().then(|| {
                [idle_before.get(&i.id).copied(), last_finish, i.launched_at]
                    .into_iter()
                    .flatten()
                    .max()
            });
            NodeView {
                allocatable: node
                    .and_then(|n| n.allocatable)
                    .or_else(|| catalog.get(&i.instance_type).map(|t| t.allocatable()))
                    .unwrap_or_default(),
                node: node.map(|n| n.name.clone()),
                state,
                used,
                running: live.iter().map(|j| j.name.clone()).collect(),
                idle_since: idle_since.flatten(),
                instance: i.clone(),
            }
        })
        .collect()
}

/// The pool's limits, from its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Instance types, most preferred first.
    pub instance_types: Vec<String>,
    /// `maxClusters`: most nodes.
    pub max_nodes: usize,
    /// `minClusters`: nodes kept even when idle.
    pub min_nodes: usize,
    /// `maxRunsPerCluster`: runs per node.
    pub max_runs_per_node: usize,
    /// `idleTimeout`.
    pub idle_timeout: SignedDuration,
    /// `registrationTimeout`.
    pub registration_timeout: SignedDuration,
}

/// Why an instance is terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Idle past `idleTimeout`, above `minClusters`.
    Idle,
    /// Not a Ready Node within `registrationTimeout`.
    NotRegistered,
    /// Cordoned by someone and empty.
    Drained,
}

impl Reason {
    /// CamelCase, for events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::NotRegistered => "NotRegistered",
            Self::Drained => "Drained",
        }
    }
}

/// An instance to terminate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Its id.
    pub id: String,
    /// Why.
    pub reason: Reason,
    /// For a person.
    pub message: String,
}

/// What the pool does now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Nodes to launch.
    pub launch: Vec<NewNode>,
    /// Instances to terminate.
    pub terminate: Vec<Termination>,
    /// Runs that keep waiting, and why.
    pub waiting: Vec<Waiting>,
    /// Runs no instance type of the pool can hold.
    pub too_big: Vec<TooBig>,
    /// Instance types of the pool the catalog does not know.
    pub unknown_types: Vec<String>,
}

/// Plans the pool: `views` its instances, `requested` nodes asked for and not
/// listed yet (each holds room like a launching node of the pool's first
/// type), `pending` the runs waiting for a node (queue order).
pub fn plan(
    catalog: &Catalog,
    limits: &Limits,
    views: &[NodeView],
    requested: usize,
    pending: &[Pending],
    now: Timestamp,
) -> Plan {
    let mut terminate = Vec::new();
    for v in views {
        let Some(launched) = v.instance.launched_at else {
            continue;
        };
        if v.state == NodeState::Launching && now.duration_since(launched) >= limits.registration_timeout {
            terminate.push(Termination {
                id: v.instance.id.clone(),
                reason: Reason::NotRegistered,
                message: format!(
                    "instance {} has not registered as a Ready Node within {} of its launch; check its user data, \
                     instance profile and security groups",
                    v.instance.id,
                    crate::human::duration(limits.registration_timeout.unsigned_abs())
                ),
            });
        }
    }
    for v in views {
        if v.state == NodeState::Cordoned && v.running.is_empty() && !is_doomed(&terminate, &v.instance.id) {
            let node = v.node.as_deref().unwrap_or("(not registered)");
            let message = match v.instance.tags.get(TAG_NOTICE).and_then(|r| read_record(r)) {
                Some((notice, at)) => format!("EC2 sent a {notice} at {at}; node {node} runs nothing now"),
                None => format!("node {node} is cordoned and runs nothing"),
            };
            terminate.push(Termination {
                id: v.instance.id.clone(),
                reason: Reason::Drained,
                message,
            });
        }
    }

    // Room: Ready nodes and launching ones (runs wait for them rather than
    // ask for more), then the requests not listed yet.
    let mut rooms: Vec<NodeRoom> = views
        .iter()
        .filter(|v| matches!(v.state, NodeState::Ready | NodeState::Launching))
        .filter(|v| !is_doomed(&terminate, &v.instance.id))
        .map(|v| NodeRoom {
            id: v.instance.id.clone(),
            allocatable: v.allocatable,
            used: v.used,
            runs: v.running.len(),
            accepting: true,
        })
        .collect();
    let first = limits
        .instance_types
        .iter()
        .find_map(|t| catalog.get(t))
        .map(|t| t.allocatable())
        .unwrap_or_default();
    rooms.extend((0..requested).map(|i| NodeRoom {
        id: format!("requested-{i}"),
        allocatable: first,
        used: Resources::default(),
        runs: 0,
        accepting: true,
    }));
    let alive = views
        .iter()
        .filter(|v| v.state != NodeState::Terminated && !is_doomed(&terminate, &v.instance.id))
        .count()
        + requested;
    let shape = Shape {
        instance_types: limits.instance_types.clone(),
        max_nodes: limits.max_nodes,
        max_runs_per_node: limits.max_runs_per_node,
    };
    let packing = binpack::pack(catalog, &shape, &rooms, alive, pending);

    // Idle nodes past their timeout, longest idle first, down to minClusters;
    // never one that runs something or was just given a run.
    let mut idle: Vec<&NodeView> = views
        .iter()
        .filter(|v| v.state == NodeState::Ready && v.running.is_empty())
        .filter(|v| !packing.place.iter().any(|p| p.node == v.instance.id))
        .filter(|v| {
            v.idle_since
                .is_some_and(|t| now.duration_since(t) >= limits.idle_timeout)
        })
        .collect();
    idle.sort_by_key(|v| (v.idle_since, v.instance.id.clone()));
    let mut keep = alive + packing.launch.len();
    for v in idle {
        if keep <= limits.min_nodes {
            break;
        }
        keep -= 1;
        terminate.push(Termination {
            id: v.instance.id.clone(),
            reason: Reason::Idle,
            message: format!(
                "idle for {} (idleTimeout)",
                crate::human::duration(limits.idle_timeout.unsigned_abs())
            ),
        });
    }
    Plan {
        launch: packing.launch,
        terminate,
        waiting: packing.waiting,
        too_big: packing.too_big,
        unknown_types: packing.unknown_types,
    }
}

fn is_doomed(terminate: &[Termination], id: &str) -> bool {
    terminate.iter().any(|t| t.id == id)
}

#[cfg(test)]
#[path = "nodes_tests.rs"]
mod tests;
