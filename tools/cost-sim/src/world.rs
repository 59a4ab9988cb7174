//! The simulated EMR of one pool: clusters and steps as the operator reads
//! them from EMR (`ClusterInfo`, `StepInfo`), moved through their states by
//! the event loop ([`crate::sim`]).

use std::collections::BTreeMap;

use ade_operator::providers::emr::{
    Market,
    api::{ClusterInfo, StepInfo, StepState},
    observe,
    planner::{ClusterState, TerminationReason},
    request::TAG_MARKET,
};
use jiff::Timestamp;

/// One simulated cluster.
#[derive(Debug, Clone)]
pub struct SimCluster {
    /// What `DescribeCluster` would say.
    pub info: ClusterInfo,
    /// What `ListSteps` would say.
    pub steps: Vec<StepInfo>,
    /// When the operator asked for its termination.
    pub terminating_since: Option<Timestamp>,
}

impl SimCluster {
    /// A cluster created at `at` on `market`, STARTING (or WAITING when `ready`).
    pub fn new(n: usize, market: Market, at: Timestamp, ready: bool) -> Self {
        Self {
            info: ClusterInfo {
                id: format!("j-{n:06}"),
                name: format!("sim-{n}"),
                state_name: if ready { "WAITING" } else { "STARTING" }.to_owned(),
                state: if ready {
                    ClusterState::Waiting
                } else {
                    ClusterState::Starting
                },
                state_message: None,
                created_at: at,
                ready_at: ready.then_some(at),
                ended_at: None,
                tags: BTreeMap::from([(TAG_MARKET.to_owned(), market.as_str().to_owned())]),
            },
            steps: Vec::new(),
            terminating_since: None,
        }
    }

    /// Its market, read the way the operator reads it.
    pub fn market(&self) -> Market {
        observe::market_of(&self.info)
    }

    /// Adds the step `name` at `now`: running at once when the cluster is up.
    /// Returns its index when it started.
    pub fn add_step(&mut self, name: &str, now: Timestamp) -> Option<usize> {
        let ready = self.info.state.is_ready();
        self.steps.push(StepInfo {
            id: format!("s-{}-{}", self.info.id, self.steps.len()),
            name: name.to_owned(),
            state: if ready { StepState::Running } else { StepState::Pending },
            message: None,
            started_at: ready.then_some(now),
            ended_at: None,
        });
        if ready {
            self.set_state(ClusterState::Running);
            Some(self.steps.len() - 1)
        } else {
            None
        }
    }

    /// Up at `now`: its pending steps start. Returns their indices.
    pub fn ready(&mut self, now: Timestamp) -> Vec<usize> {
        if !self.info.state.is_live() {
            return Vec::new();
        }
        self.info.ready_at = Some(now);
        let mut started = Vec::new();
        for (i, s) in self.steps.iter_mut().enumerate() {
            if s.state == StepState::Pending {
                s.state = StepState::Running;
                s.started_at = Some(now);
                started.push(i);
            }
        }
        self.set_state(if started.is_empty() {
            ClusterState::Waiting
        } else {
            ClusterState::Running
        });
        started
    }

    /// Step `i` completes at `now`, unless it already ended (its cluster was
    /// lost). Returns its name and start when it completed.
    pub fn complete(&mut self, i: usize, now: Timestamp) -> Option<(String, Option<Timestamp>)> {
        let step = self.steps.get_mut(i).filter(|s| s.state == StepState::Running)?;
        step.state = StepState::Completed;
        step.ended_at = Some(now);
        let name = (step.name.clone(), step.started_at);
        if !self.steps.iter().any(|s| s.state.is_active()) && self.info.state.is_live() {
            self.set_state(ClusterState::Waiting);
        }
        Some(name)
    }

    /// EC2 reclaims its spot capacity at `now`: the cluster ends and its
    /// active steps are interrupted. Returns their names and when they had
    /// started; `None` when the cluster was no longer live.
    pub fn interrupt(&mut self, now: Timestamp) -> Option<Vec<(String, Option<Timestamp>)>> {
        if !self.info.state.is_live() {
            return None;
        }
        self.info.state = ClusterState::Terminated(TerminationReason::SpotInterruption);
        self.info.state_name = "TERMINATED_WITH_ERRORS".to_owned();
        self.info.ended_at = Some(now);
        let mut lost = Vec::new();
        for s in self.steps.iter_mut().filter(|s| s.state.is_active()) {
            s.state = StepState::Interrupted;
            s.ended_at = Some(now);
            lost.push((s.name.clone(), s.started_at));
        }
        Some(lost)
    }

    /// The operator asked for its termination at `now`.
    pub fn terminate(&mut self, now: Timestamp) {
        if self.info.state.is_live() {
            self.set_state(ClusterState::Terminating);
            self.terminating_since = Some(now);
        }
    }

    /// Live at `t`: created, and neither terminating nor ended.
    pub fn live_at(&self, t: Timestamp) -> bool {
        let gone = self.terminating_since.or(self.info.ended_at);
        self.info.created_at <= t && gone.is_none_or(|g| g > t)
    }

    /// Gone at `now` (its teardown finished, or the simulated day is over).
    pub fn ended(&mut self, now: Timestamp, reason: TerminationReason) {
        if matches!(self.info.state, ClusterState::Terminated(_)) {
            return;
        }
        self.info.state = ClusterState::Terminated(reason);
        self.info.state_name = "TERMINATED".to_owned();
        self.info.ended_at = Some(now);
    }

    fn set_state(&mut self, state: ClusterState) {
        self.info.state = state;
        self.info.state_name = match state {
            ClusterState::Starting => "STARTING",
            ClusterState::Bootstrapping => "BOOTSTRAPPING",
            ClusterState::Running => "RUNNING",
            ClusterState::Waiting => "WAITING",
            ClusterState::Terminating => "TERMINATING",
            ClusterState::Terminated(_) => "TERMINATED",
        }
        .to_owned();
    }
}
