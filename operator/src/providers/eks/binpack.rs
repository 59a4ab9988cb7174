//! Bin-packing of an eks pool's pending runs onto nodes: which runs fit on
//! the pool's nodes as they are, which new nodes (of which instance type) to
//! launch for the rest, and which runs no instance type of the pool can hold.
//!
//! The rules, in the order [`pack`] applies them:
//!
//! 1. **Size.** A run takes its Pod's CPU and memory requests and one of the
//!    node's `maxRunsPerCluster` slots; a run that requests nothing takes a
//!    slot only.
//! 2. **Too big.** A run whose requests exceed what every allowed instance
//!    type leaves to Pods ([`InstanceType::allocatable`]) can never run: it is
//!    reported in [`Packing::too_big`] with why (for a clear condition on the
//!    run) and takes nothing from the others. Instance types the catalog does
//!    not know are reported in [`Packing::unknown_types`] and not used.
//! 3. **First fit decreasing.** The other runs, largest first (by their
//!    dominant share of the largest allowed node; ties in queue order), go to
//!    the first node with a free slot and room for their requests: the
//!    accepting existing nodes in the caller's order (ready before launching,
//!    oldest first, say), then the nodes this plan launches, in the order it
//!    opened them.
//! 4. **New nodes.** A run that fits nowhere opens a node of the first allowed
//!    instance type (the pool's preference order) that holds it, as long as
//!    the pool's live nodes and those this plan launches stay within
//!    `maxClusters`.
//! 5. **Grow at the cap.** At `maxClusters`, a node this plan launches becomes
//!    the first allowed type that holds its runs and the new one, if there is
//!    one, rather than leave the run waiting.
//! 6. **Wait.** Runs left over wait, in queue order, with a reason.
//!
//! What the kubelet leaves to Pods is estimated from the instance type's size;
//! [`InstanceType::allocatable`] states the reservations assumed. Once a node
//! registers, the caller passes its Node's `status.allocatable` instead.
//!
//! Pure: no clock, no I/O. Deterministic: the same inputs give the same plan.

use std::collections::BTreeSet;

use super::instance_types::{Catalog, InstanceType, Resources};

/// A run waiting for a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Run identity (its attempt's Job name).
    pub run: String,
    /// What its Pod requests.
    pub request: Resources,
}

/// A node of the pool, as the packer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoom {
    /// EC2 instance id.
    pub id: String,
    /// What the kubelet leaves to Pods: the Node's `status.allocatable` once
    /// it registered, else its instance type's estimate.
    pub allocatable: Resources,
    /// Requests of the runs on it, or placed on it and not there yet.
    pub used: Resources,
    /// Runs on it, or placed on it.
    pub runs: usize,
    /// Takes new runs: not cordoned, interrupted, retiring or spent. A node
    /// still launching does, so that runs wait for it rather than ask for another.
    pub accepting: bool,
}

/// The pool's side of the packing, from its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// `spec.eks.instanceTypes`, most preferred first.
    pub instance_types: Vec<String>,
    /// `capacity.maxClusters`: most nodes alive at once (at least 1).
    pub max_nodes: usize,
    /// `capacity.maxRunsPerCluster`: most runs on one node at once (at least 1).
    pub max_runs_per_node: usize,
}

/// A run to start on an existing node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Run identity.
    pub run: String,
    /// EC2 instance id of the node.
    pub node: String,
}

/// A node to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// The instance type the runs were packed for (see [`fitting_types`] for
    /// the fleet's overrides: any type that holds `load`).
    pub instance_type: String,
    /// What that type leaves to Pods.
    pub allocatable: Resources,
    /// Runs it is launched for, in packing order.
    pub runs: Vec<String>,
    /// Their requests together.
    pub load: Resources,
}

/// A run that keeps waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Run identity.
    pub run: String,
    /// Why, for its `Scheduled` condition.
    pub reason: String,
}

/// A run no allowed instance type can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    /// Run identity.
    pub run: String,
    /// What it requests.
    pub request: Resources,
    /// Why, for a person.
    pub reason: String,
}

/// Where the pending runs go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packing {
    /// Runs to start on existing nodes, in packing order.
    pub place: Vec<Placement>,
    /// Nodes to launch, in the order they were opened.
    pub launch: Vec<NewNode>,
    /// Runs that wait for room, in queue order.
    pub waiting: Vec<Waiting>,
    /// Runs that fit no allowed instance type, in queue order.
    pub too_big: Vec<TooBig>,
    /// Allowed instance types the catalog does not know, in the pool's order.
    pub unknown_types: Vec<String>,
}

/// A node's room while packing.
#[derive(Debug, Clone, Copy)]
struct Room {
    free: Resources,
    slots: usize,
    accepting: bool,
}

/// Packs `pending` (queue order) for a pool of `shape` onto `nodes` (first
/// fit in this order) and new nodes. `alive` counts the pool's nodes against
/// `maxClusters`: every live or launching node, cordoned and retiring ones
/// included (at least `nodes.len()`).
pub fn pack(catalog: &Catalog, shape: &Shape, nodes: &[NodeRoom], alive: usize, pending: &[Pending]) -> Packing {
    let max_runs = shape.max_runs_per_node.max(1);
    let max_nodes = shape.max_nodes.max(1);
    let alive = alive.max(nodes.len());
    let mut unknown_types: Vec<String> = Vec::new();
    let mut allowed: Vec<&InstanceType> = Vec::new();
    for name in &shape.instance_types {
        match catalog.get(name) {
            Some(t) => {
                if !allowed.iter().any(|a| a.name == t.name) {
                    allowed.push(t);
                }
            }
            None => {
                if !unknown_types.contains(name) {
                    unknown_types.push(name.clone());
                }
            }
        }
    }

    // Each run once, in queue order; the too big ones aside.
    let mut seen = BTreeSet::new();
    let queue: Vec<&Pending> = pending.iter().filter(|p| seen.insert(p.run.as_str())).collect();
    let mut too_big = Vec::new();
    let mut fitting: Vec<(usize, &Pending)> = Vec::new();
    for (i, p) in queue.iter().copied().enumerate() {
        if allowed.iter().any(|t| p.request.fits_in(t.allocatable())) {
            fitting.push((i, p));
        } else {
            too_big.push(TooBig {
                run: p.run.clone(),
                request: p.request,
                reason: too_big_reason(p.request, &allowed, &unknown_types),
            });
        }
    }
    let largest = allowed.iter().fold(Resources::default(), |m, t| {
        let a = t.allocatable();
        Resources::new(m.cpu_millis.max(a.cpu_millis), m.memory_bytes.max(a.memory_bytes))
    });
    fitting.sort_by(|(ia, a), (ib, b)| {
        share(b.request, largest)
            .total_cmp(&share(a.request, largest))
            .then(ia.cmp(ib))
    });

    let mut rooms: Vec<Room> = nodes
        .iter()
        .map(|n| Room {
            free: n.allocatable.minus(n.used),
            slots: max_runs.saturating_sub(n.runs),
            accepting: n.accepting,
        })
        .collect();
    let mut place = Vec::new();
    let mut launch: Vec<NewNode> = Vec::new();
    let mut left: BTreeSet<usize> = BTreeSet::new();
    for (i, p) in fitting {
        let request = p.request;
        // 3. first fit: existing nodes, then the ones this plan launches
        if let Some(room) = rooms
            .iter_mut()
            .zip(nodes)
            .find(|(r, _)| r.accepting && r.slots > 0 && request.fits_in(r.free))
        {
            room.0.free = room.0.free.minus(request);
            room.0.slots -= 1;
            place.push(Placement {
                run: p.run.clone(),
                node: room.1.id.clone(),
            });
            continue;
        }
        if let Some(new) = launch
            .iter_mut()
            .find(|n| n.runs.len() < max_runs && n.load.plus(request).fits_in(n.allocatable))
        {
            new.runs.push(p.run.clone());
            new.load = new.load.plus(request);
            continue;
        }
        // 4. a new node of the first allowed type that holds the run
        if alive + launch.len() < max_nodes
            && let Some(t) = allowed.iter().find(|t| request.fits_in(t.allocatable()))
        {
            launch.push(NewNode {
                instance_type: t.name.clone(),
                allocatable: t.allocatable(),
                runs: vec![p.run.clone()],
                load: request,
            });
            continue;
        }
        // 5. at the cap: a launched node grows to a type that holds one more run
        let grown = launch.iter_mut().filter(|n| n.runs.len() < max_runs).find_map(|n| {
            let load = n.load.plus(request);
            let t = allowed.iter().find(|t| load.fits_in(t.allocatable()))?;
            Some((n, *t))
        });
        if let Some((n, t)) = grown {
            n.instance_type = t.name.clone();
            n.allocatable = t.allocatable();
            n.runs.push(p.run.clone());
            n.load = n.load.plus(request);
            continue;
        }
        left.insert(i);
    }

    // 6. the rest waits, in queue order
    let counted = alive + launch.len();
    let waiting = left
        .iter()
        .enumerate()
        .map(|(ahead, &i)| Waiting {
            run: queue[i].run.clone(),
            reason: format!(
                "no room on the ClusterPool's nodes: {counted} of {max_nodes} nodes (maxClusters) alive or starting, \
                 {max_runs} runs each at most; {ahead} runs waiting ahead of this one"
            ),
        })
        .collect();
    Packing {
        place,
        launch,
        waiting,
        too_big,
        unknown_types,
    }
}

/// The allowed instance types (`instance_types`, preference order) that
/// hold `load`: the overrides of the fleet that launches a planned node, so
/// that whichever EC2 picks, its runs fit.
pub fn fitting_types(catalog: &Catalog, instance_types: &[String], load: Resources) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in instance_types {
        if out.contains(name) {
            continue;
        }
        if catalog.get(name).is_some_and(|t| load.fits_in(t.allocatable())) {
            out.push(name.clone());
        }
    }
    out
}

/// `request`'s dominant share of `largest`: the sort key of first fit decreasing.
fn share(request: Resources, largest: Resources) -> f64 {
    let part = |x: u64, of: u64| if of == 0 { 0.0 } else { x as f64 / of as f64 };
    part(request.cpu_millis, largest.cpu_millis).max(part(request.memory_bytes, largest.memory_bytes))
}

/// Why a run of `request` fits no type of `allowed`: the three largest types and what they leave to Pods.
fn too_big_reason(request: Resources, allowed: &[&InstanceType], unknown: &[String]) -> String {
    if allowed.is_empty() {
        return format!(
            "requests {request}, and none of the pool's instance types ({}) is in the operator's instance type table",
            unknown.join(", ")
        );
    }
    let mut largest: Vec<(&str, Resources)> = allowed.iter().map(|t| (t.name.as_str(), t.allocatable())).collect();
    largest.sort_by(|(na, a), (nb, b)| (b.cpu_millis, b.memory_bytes, na).cmp(&(a.cpu_millis, a.memory_bytes, nb)));
    let shown: Vec<String> = largest.iter().take(3).map(|(n, a)| format!("{n} {a}")).collect();
    let more = match largest.len().saturating_sub(3) {
        0 => String::new(),
        n => format!(" and {n} smaller"),
    };
    format!(
        "requests {request}, more than any of the pool's instance types leaves to Pods ({}{more})",
        shown.join("; ")
    )
}

#[cfg(test)]
#[path = "binpack_tests.rs"]
mod tests;
