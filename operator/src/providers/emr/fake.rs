//! An in-memory [`EmrApi`] for unit tests: clusters and steps in a map,
//! every call recorded. Not AWS: tests that need the real SDK talk to moto
//! (operator/tests/emr_moto.rs).
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, sync::Mutex};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;

use super::{
    api::{ApiError, ApiResult, ClusterInfo, ClusterSpec, ClusterSummary, EmrApi, StepInfo, StepSpec, StepState},
    observe::cluster_state,
    pricing::SpotPrice,
};

/// The fake's state.
#[derive(Debug, Default)]
pub struct State {
    pub clusters: BTreeMap<String, ClusterInfo>,
    pub specs: BTreeMap<String, ClusterSpec>,
    pub steps: BTreeMap<String, Vec<(StepInfo, StepSpec)>>,
    pub calls: Vec<String>,
    pub spot: Vec<SpotPrice>,
    /// `RunJobFlow` answers still to lose: the cluster is created, the
    /// caller hears a connection error (a crash or a dropped answer).
    pub lose_answers: u32,
    /// `RunJobFlow` calls still to refuse (throttled, nothing created).
    pub refuse: u32,
    /// How many `ListClusters` calls miss a new cluster (EMR's eventually
    /// consistent reads).
    pub list_lag: u32,
    /// Clusters `ListClusters` does not show yet, with the misses left.
    unlisted: BTreeMap<String, u32>,
    next: u32,
}

/// In-memory EMR: a cluster is WAITING as soon as it is created.
#[derive(Debug, Default)]
pub struct FakeEmr {
    pub state: Mutex<State>,
}

impl FakeEmr {
    pub fn set_cluster_state(&self, id: &str, state: &str, message: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        let c = s.clusters.get_mut(id).unwrap();
        c.state_name = state.to_owned();
        c.state_message = message.map(str::to_owned);
        c.state = cluster_state(state, None, message);
        if !c.state.is_live() {
            c.ended_at = Some(Timestamp::now());
        }
    }

    pub fn set_step_state(&self, cluster: &str, step: &str, state: StepState) {
        let mut s = self.state.lock().unwrap();
        let now = Timestamp::now();
        let info = &mut s
            .steps
            .get_mut(cluster)
            .unwrap()
            .iter_mut()
            .find(|(i, _)| i.id == step)
            .unwrap()
            .0;
        info.state = state;
        if !state.is_active() {
            info.ended_at = Some(now);
        }
    }

    pub fn calls(&self, prefix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    pub fn cluster_ids(&self) -> Vec<String> {
        self.state.lock().unwrap().clusters.keys().cloned().collect()
    }
}

impl EmrApi for FakeEmr {
    fn run_job_flow<'a>(&'a self, _region: &'a str, spec: &'a ClusterSpec) -> BoxFuture<'a, ApiResult<String>> {
        let mut s = self.state.lock().unwrap();
        if s.refuse > 0 {
            s.refuse -= 1;
            s.calls.push("RunJobFlow refused".into());
            let refused = ApiError {
                action: "RunJobFlow",
                message: "AWS answered ThrottlingException: Rate exceeded".into(),
                category: "throttled",
            };
            return async move { Err(refused) }.boxed();
        }
        s.next += 1;
        let id = format!("j-FAKE{:04}", s.next);
        let now = Timestamp::now();
        s.calls.push(format!("RunJobFlow {id}"));
        s.clusters.insert(
            id.clone(),
            ClusterInfo {
                id: id.clone(),
                name: spec.name.clone(),
                state_name: "WAITING".into(),
                state: cluster_state("WAITING", None, None),
                state_message: None,
                created_at: now,
                ready_at: Some(now),
                ended_at: None,
                tags: spec.tags.clone(),
            },
        );
        s.specs.insert(id.clone(), spec.clone());
        s.steps.insert(id.clone(), Vec::new());
        if s.list_lag > 0 {
            let lag = s.list_lag;
            s.unlisted.insert(id.clone(), lag);
        }
        let answer = if s.lose_answers > 0 {
            s.lose_answers -= 1;
            Err(ApiError {
                action: "RunJobFlow",
                message: "AWS could not be reached: connection reset".into(),
                category: "aws-unreachable",
            })
        } else {
            Ok(id)
        };
        async move { answer }.boxed()
    }

    fn list_clusters<'a>(
        &'a self,
        _region: &'a str,
        active: bool,
        created_after: Option<Timestamp>,
    ) -> BoxFuture<'a, ApiResult<Vec<ClusterSummary>>> {
        let mut s = self.state.lock().unwrap();
        s.calls.push("ListClusters".into());
        let hidden: Vec<String> = s.unlisted.keys().cloned().collect();
        for id in &hidden {
            let left = s.unlisted.get_mut(id).unwrap();
            *left -= 1;
            if *left == 0 {
                s.unlisted.remove(id);
            }
        }
        let out = s
            .clusters
            .values()
            .filter(|c| !hidden.contains(&c.id))
            .filter(|c| (c.state.is_live() || c.state_name == "TERMINATING") == active)
            .filter(|c| created_after.is_none_or(|t| c.created_at > t))
            .map(|c| ClusterSummary {
                id: c.id.clone(),
                name: c.name.clone(),
            })
            .collect();
        async move { Ok(out) }.boxed()
    }

    fn describe_cluster<'a>(&'a self, _region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>> {
        let out = self.state.lock().unwrap().clusters.get(id).cloned();
        async move { Ok(out) }.boxed()
    }

    fn list_steps<'a>(&'a self, _region: &'a str, cluster: &'a str) -> BoxFuture<'a, ApiResult<Vec<StepInfo>>> {
        let s = self.state.lock().unwrap();
        let out = s
            .steps
            .get(cluster)
            .map(|v| v.iter().map(|(i, _)| i.clone()).collect())
            .unwrap_or_default();
        async move { Ok(out) }.boxed()
    }

    fn add_step<'a>(
        &'a self,
        _region: &'a str,
        cluster: &'a str,
        step: &'a StepSpec,
    ) -> BoxFuture<'a, ApiResult<String>> {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let id = format!("s-FAKE{:04}", s.next);
        s.calls.push(format!("AddJobFlowSteps {cluster} {}", step.name));
        let running = s.steps[cluster].iter().any(|(i, _)| i.state.is_active());
        let info = StepInfo {
            id: id.clone(),
            name: step.name.clone(),
            state: if running {
                StepState::Pending
            } else {
                StepState::Running
            },
            message: None,
            started_at: (!running).then(Timestamp::now),
            ended_at: None,
        };
        s.steps.get_mut(cluster).unwrap().push((info, step.clone()));
        async move { Ok(id) }.boxed()
    }

    fn cancel_step<'a>(&'a self, _region: &'a str, cluster: &'a str, step: &'a str) -> BoxFuture<'a, ApiResult<()>> {
        self.state
            .lock()
            .unwrap()
            .calls
            .push(format!("CancelSteps {cluster} {step}"));
        self.set_step_state(cluster, step, StepState::Cancelled);
        async move { Ok(()) }.boxed()
    }

    fn terminate<'a>(&'a self, _region: &'a str, clusters: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        for id in clusters {
            self.state.lock().unwrap().calls.push(format!("TerminateJobFlows {id}"));
            self.set_cluster_state(id, "TERMINATED", Some("Terminated by user request"));
        }
        async move { Ok(()) }.boxed()
    }

    fn spot_prices<'a>(
        &'a self,
        _region: &'a str,
        instance_types: &'a [String],
        _since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>> {
        let mut s = self.state.lock().unwrap();
        s.calls.push("DescribeSpotPriceHistory".into());
        let out = s
            .spot
            .iter()
            .filter(|p| instance_types.contains(&p.instance_type))
            .cloned()
            .collect();
        async move { Ok(out) }.boxed()
    }
}
