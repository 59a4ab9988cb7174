//! Capacity planning of an emr pool: which queued runs go to which live
//! cluster, which clusters to create, which to terminate, and why the rest
//! of the runs wait.
//!
//! The rules, in the order [`plan`] applies them:
//!
//! 1. **Occupancy.** A live cluster (STARTING, BOOTSTRAPPING, RUNNING or
//!    WAITING) holds the runs it reports running plus the runs already placed
//!    on it. TERMINATING and TERMINATED clusters hold nothing and do not count
//!    against `maxClusters`: they accept no work and are gone within minutes,
//!    and counting them would hold queued runs back behind a teardown. Runs
//!    placed on (or running on) a cluster that is no longer live are reported
//!    as lost, for the caller to retry elsewhere.
//! 2. **Reuse.** Queued runs, first come first served, go to the first live
//!    cluster with a free slot: RUNNING/WAITING clusters first (they start the
//!    run now), then STARTING/BOOTSTRAPPING ones (they will have room sooner
//!    than a new cluster), each group oldest first. With `maxRunsPerCluster: 1`
//!    a cluster takes one run in its life: one that finished its run is not
//!    reused.
//! 3. **Teardown.** A cluster is terminated only when it holds no run:
//!    single-use clusters as soon as their run finished; idle clusters beyond
//!    `maxClusters` (the limit was lowered); clusters idle for `idleTimeout`,
//!    longest idle first, while more than `minClusters` stay alive.
//! 4. **New capacity.** Runs left over get new clusters, `maxRunsPerCluster`
//!    runs each, as long as live clusters (starting ones included) stay within
//!    `maxClusters`; the rest wait, with a reason.
//! 5. **Warm pool.** Empty clusters are created until `minClusters` are alive.
//!
//! `maxConcurrentRuns` is not the planner's concern: the queue
//! ([`crate::controllers::queue`]) admits runs before they ask for capacity.
//! Which market new clusters buy is [`super::breaker`]'s decision.
//!
//! Pure: no clock (the caller passes `now`), no I/O. Deterministic: clusters
//! are ordered by creation time, then id; runs keep the caller's queue order.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};

use super::{Market, human};
use crate::api::v1alpha1::{Capacity, DurationError};

/// A pool's capacity bounds, parsed from its `spec.capacity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most live clusters at once, starting ones included (at least 1).
    pub max_clusters: usize,
    /// Live clusters kept even when idle: the warm pool.
    pub min_clusters: usize,
    /// Most runs on one cluster at once (at least 1); 1 = a fresh cluster per run.
    pub max_runs_per_cluster: usize,
    /// A cluster idle this long is terminated, down to `min_clusters`.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The limits of `capacity`; fails only on an unparsable `idleTimeout`.
    pub fn from_capacity(capacity: &Capacity) -> Result<Self, DurationError> {
        let count = |n: i32| usize::try_from(n).unwrap_or(0);
        Ok(Self {
            max_clusters: count(capacity.max_clusters).max(1),
            min_clusters: count(capacity.min_clusters),
            max_runs_per_cluster: count(capacity.max_runs_per_cluster).max(1),
            idle_timeout: capacity.idle_timeout.to_std()?,
        })
    }

    /// `maxRunsPerCluster: 1`: every run gets a fresh cluster.
    pub fn single_use(&self) -> bool {
        self.max_runs_per_cluster == 1
    }
}

/// The lifecycle state of an EMR cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// Instances are being provisioned.
    Starting,
    /// Bootstrap actions are running.
    Bootstrapping,
    /// Executing steps.
    Running,
    /// Up, with no step to run.
    Waiting,
    /// Shutting down.
    Terminating,
    /// Gone, and why.
    Terminated(TerminationReason),
}

impl ClusterState {
    /// Exists and can take (or will soon take) work.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Starting | Self::Bootstrapping | Self::Running | Self::Waiting
        )
    }

    /// Up: a step added now starts now.
    pub fn is_ready(self) -> bool {
        matches!(self, Self::Running | Self::Waiting)
    }
}

/// Why a cluster terminated, as the adapter reads it from EMR's state change reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// Its spot capacity was reclaimed by EC2.
    SpotInterruption,
    /// Someone (a person or the operator) asked for it.
    UserRequest,
    /// The operator retired it after `idleTimeout` (or EMR's auto-termination backstop).
    IdleTimeout,
    /// All its steps completed and it was not kept alive.
    Completed,
    /// Bootstrap, instance, validation or internal failure.
    Error,
}

impl TerminationReason {
    /// For messages: "was terminated: spot interruption".
    pub fn describe(self) -> &'static str {
        match self {
            Self::SpotInterruption => "spot interruption",
            Self::UserRequest => "user request",
            Self::IdleTimeout => "idle timeout",
            Self::Completed => "all steps completed",
            Self::Error => "error",
        }
    }
}

/// What the planner knows of one cluster of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// EMR cluster id, `j-...`.
    pub id: String,
    /// Its state.
    pub state: ClusterState,
    /// How its capacity was bought.
    pub market: Market,
    /// When it was created.
    pub created_at: Timestamp,
    /// Since when it has run nothing; `None` while it runs something or
    /// before it was first seen idle (such a cluster is never retired for idleness).
    pub idle_since: Option<Timestamp>,
    /// Runs whose steps execute on it now.
    pub running: Vec<String>,
    /// How many runs have finished on it: a single-use cluster with one is spent.
    pub finished_runs: u32,
}

/// A run on a cluster: an input (placed earlier, its step perhaps not yet
/// visible) and an output (place it there now).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    /// Run identity.
    pub run: String,
    /// EMR cluster id.
    pub cluster: String,
}

/// A cluster to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCluster {
    /// Queued runs it is created for, in queue order; empty for a warm-pool cluster.
    pub runs: Vec<String>,
}

/// Why the planner terminates a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateReason {
    /// Idle for `idleTimeout`, and more than `minClusters` are alive.
    IdleTimeout,
    /// `maxRunsPerCluster: 1` and its run has finished.
    RunFinished,
    /// Idle, and more clusters are alive than `maxClusters` allows.
    OverCapacity,
}

impl TerminateReason {
    /// A CamelCase reason for status and Events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdleTimeout => "IdleTimeout",
            Self::RunFinished => "RunFinished",
            Self::OverCapacity => "OverCapacity",
        }
    }
}

/// A cluster to terminate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// EMR cluster id.
    pub cluster: String,
    /// Why, as a fixed reason.
    pub reason: TerminateReason,
    /// Why, for a person.
    pub message: String,
}

/// A queued run that gets no capacity yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Run identity.
    pub run: String,
    /// Why it waits, for its `Scheduled` condition.
    pub reason: String,
}

/// A run placed on, or running on, a cluster that is no longer live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRun {
    /// Run identity.
    pub run: String,
    /// The cluster it was on.
    pub cluster: String,
    /// What happened to the cluster, for a person.
    pub reason: String,
}

/// What to do with a pool's capacity now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Queued runs to start on existing clusters, in queue order.
    pub place: Vec<Placement>,
    /// Clusters to create: for runs first, then for the warm pool.
    pub create: Vec<NewCluster>,
    /// Clusters to terminate.
    pub terminate: Vec<Termination>,
    /// Queued runs that keep waiting, in queue order.
    pub waiting: Vec<Waiting>,
    /// Runs whose cluster went away: the caller retries them elsewhere
    /// without using up their retry limit.
    pub lost: Vec<LostRun>,
}

/// The plan for a pool with `limits` and `clusters` at `now`: `queued` are the
/// runs needing capacity in queue order (first come first), `placed` the
/// runs already assigned to a cluster.
pub fn plan(limits: &Limits, now: Timestamp, clusters: &[Cluster], queued: &[String], placed: &[Placement]) -> Plan {
    let mut sorted: Vec<&Cluster> = clusters.iter().collect();
    sorted.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let live: Vec<&Cluster> = sorted.iter().copied().filter(|c| c.state.is_live()).collect();

    // 1. occupancy
    let mut load: BTreeMap<&str, BTreeSet<&str>> = live
        .iter()
        .map(|c| (c.id.as_str(), c.running.iter().map(String::as_str).collect()))
        .collect();
    for p in placed {
        if let Some(runs) = load.get_mut(p.cluster.as_str()) {
            runs.insert(p.run.as_str());
        }
    }
    let holding: BTreeSet<&str> = load.values().flatten().copied().collect();
    let mut seen = BTreeSet::new();
    let queue: Vec<&str> = queued
        .iter()
        .map(String::as_str)
        .filter(|r| !holding.contains(r) && seen.insert(*r))
        .collect();
    let lost = lost_runs(&sorted, placed, &holding, &queue);

    // 2. reuse: ready clusters first, then starting ones; oldest first within each
    let mut order = live.clone();
    order.sort_by_key(|c| !c.state.is_ready());
    let free = |c: &Cluster, load: &BTreeMap<&str, BTreeSet<&str>>| {
        if limits.single_use() && c.finished_runs > 0 {
            return 0;
        }
        let used = load.get(c.id.as_str()).map_or(0, BTreeSet::len);
        limits.max_runs_per_cluster.saturating_sub(used)
    };
    let mut place = Vec::new();
    let mut leftover = Vec::new();
    for run in queue {
        match order.iter().find(|c| free(c, &load) > 0) {
            Some(c) => {
                load.entry(c.id.as_str()).or_default().insert(run);
                place.push(Placement {
                    run: run.to_owned(),
                    cluster: c.id.clone(),
                });
            }
            None => leftover.push(run),
        }
    }

    // 3. teardown
    let terminate = retire(limits, now, &live, &load);
    let mut alive = live.len() - terminate.len();

    // 4. new capacity for the runs left over
    let headroom = limits.max_clusters.saturating_sub(alive);
    let mut create: Vec<NewCluster> = leftover
        .chunks(limits.max_runs_per_cluster)
        .take(headroom)
        .map(|runs| NewCluster {
            runs: runs.iter().map(|r| (*r).to_owned()).collect(),
        })
        .collect();
    alive += create.len();
    let served = create.len() * limits.max_runs_per_cluster;
    let waiting = leftover
        .iter()
        .skip(served)
        .enumerate()
        .map(|(ahead, run)| Waiting {
            run: (*run).to_owned(),
            reason: format!(
                "no free slot in ClusterPool: {alive} of {} clusters (maxClusters) alive or starting, {} runs each at most; {ahead} runs waiting ahead of this one",
                limits.max_clusters, limits.max_runs_per_cluster
            ),
        })
        .collect();

    // 5. warm pool
    let warm = limits.min_clusters.min(limits.max_clusters).saturating_sub(alive);
    create.extend((0..warm).map(|_| NewCluster { runs: Vec::new() }));

    Plan {
        place,
        create,
        terminate,
        waiting,
        lost,
    }
}

/// Runs on clusters that are no longer live, unless the caller already queued them again.
fn lost_runs(sorted: &[&Cluster], placed: &[Placement], holding: &BTreeSet<&str>, queue: &[&str]) -> Vec<LostRun> {
    let by_id: BTreeMap<&str, &Cluster> = sorted.iter().map(|c| (c.id.as_str(), *c)).collect();
    let mut gone: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for c in sorted.iter().filter(|c| !c.state.is_live()) {
        for run in &c.running {
            gone.insert((run.as_str(), c.id.as_str()), gone_reason(Some(c)));
        }
    }
    for p in placed
        .iter()
        .filter(|p| by_id.get(p.cluster.as_str()).is_none_or(|c| !c.state.is_live()))
    {
        gone.insert(
            (p.run.as_str(), p.cluster.as_str()),
            gone_reason(by_id.get(p.cluster.as_str()).copied()),
        );
    }
    gone.into_iter()
        .filter(|((run, _), _)| !holding.contains(run) && !queue.contains(run))
        .map(|((run, cluster), reason)| LostRun {
            run: run.to_owned(),
            cluster: cluster.to_owned(),
            reason,
        })
        .collect()
}

fn gone_reason(cluster: Option<&Cluster>) -> String {
    match cluster.map(|c| c.state) {
        None => "the cluster no longer exists".to_owned(),
        Some(ClusterState::Terminated(why)) => format!("the cluster was terminated: {}", why.describe()),
        Some(_) => "the cluster is terminating".to_owned(),
    }
}

/// Clusters holding no run that should go: spent single-use ones, idle ones
/// beyond `maxClusters`, and idle ones past `idleTimeout` above `minClusters`.
fn retire(
    limits: &Limits,
    now: Timestamp,
    live: &[&Cluster],
    load: &BTreeMap<&str, BTreeSet<&str>>,
) -> Vec<Termination> {
    let empty = |c: &Cluster| load.get(c.id.as_str()).is_none_or(BTreeSet::is_empty);
    let mut idle: Vec<&Cluster> = live
        .iter()
        .copied()
        .filter(|c| c.state.is_ready() && empty(c))
        .collect();
    // longest idle first; clusters never seen idle last
    idle.sort_by(|a, b| {
        (a.idle_since.is_none(), a.idle_since, a.created_at, &a.id).cmp(&(
            b.idle_since.is_none(),
            b.idle_since,
            b.created_at,
            &b.id,
        ))
    });
    let mut out = Vec::new();
    let spent = |c: &Cluster| limits.single_use() && c.finished_runs > 0;
    for c in idle.iter().filter(|c| spent(c)) {
        out.push(Termination {
            cluster: c.id.clone(),
            reason: TerminateReason::RunFinished,
            message: "maxRunsPerCluster is 1: the cluster finished its run and is not reused".to_owned(),
        });
    }
    let mut alive = live.len() - out.len();
    let timeout = SignedDuration::try_from(limits.idle_timeout).unwrap_or(SignedDuration::MAX);
    for c in idle.into_iter().filter(|c| !spent(c)) {
        let idle_for = c.idle_since.map(|t| now.duration_since(t));
        let (reason, message) = if alive > limits.max_clusters {
            (
                TerminateReason::OverCapacity,
                format!(
                    "idle, and {alive} clusters are alive where maxClusters allows {}",
                    limits.max_clusters
                ),
            )
        } else if alive > limits.min_clusters && idle_for.is_some_and(|d| d >= timeout) {
            let idle_for = idle_for.and_then(|d| Duration::try_from(d).ok()).unwrap_or_default();
            (
                TerminateReason::IdleTimeout,
                format!(
                    "idle for {} (idleTimeout {}); {} clusters stay alive (minClusters {})",
                    human(idle_for),
                    human(limits.idle_timeout),
                    alive - 1,
                    limits.min_clusters
                ),
            )
        } else {
            continue;
        };
        out.push(Termination {
            cluster: c.id.clone(),
            reason,
            message,
        });
        alive -= 1;
    }
    out
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
