//! Cluster requests: a new cluster's name is recorded in the pool's status
//! (`status.clusterRequests`) before `RunJobFlow` is called, and a recorded
//! request counts as a starting cluster until the pool's listing shows a
//! cluster of that name, or [`GRACE`] has passed. A crash between the call and
//! the status write, a lost answer, or a listing that does not show a new
//! cluster yet (EMR's reads are eventually consistent) therefore never makes
//! a second cluster for the same runs. `RunJobFlow` takes no idempotency
//! token, so the SDK does not retry it either (see `aws`): a failed call that
//! may have created the cluster is settled here, by name.
//!
//! Pure: no clock, no I/O.

use jiff::{SignedDuration, Timestamp};

use super::{
    Market,
    api::ClusterInfo,
    planner::{self, ClusterState},
};
use crate::api::v1alpha1::{ClusterRequest, Time};

/// How long a recorded request whose cluster is not listed counts as a
/// starting cluster: long enough for EMR's listing to show a created cluster,
/// short enough that a request that never reached EMR is soon made again.
pub const GRACE: SignedDuration = SignedDuration::from_secs(120);

/// The id of a requested cluster in the planner's view (never an EMR id).
const REQUESTED: &str = "requested:";

/// A request for a cluster named `name`, made `now`.
pub fn request(name: &str, market: Market, now: Timestamp) -> ClusterRequest {
    ClusterRequest {
        name: name.to_owned(),
        market: market.as_str().to_owned(),
        requested_at: Time(now),
    }
}

/// The recorded requests still waiting for their cluster: not among `seen`
/// (the pool's listing, by name) and younger than [`GRACE`].
pub fn outstanding(recorded: &[ClusterRequest], seen: &[ClusterInfo], now: Timestamp) -> Vec<ClusterRequest> {
    recorded
        .iter()
        .filter(|r| !seen.iter().any(|c| c.name == r.name))
        .filter(|r| now.duration_since(r.requested_at.0) < GRACE)
        .cloned()
        .collect()
}

/// A request as the planner sees it: a cluster starting since it was asked
/// for, so queued runs wait for it instead of asking for another.
pub fn as_planned(r: &ClusterRequest) -> planner::Cluster {
    planner::Cluster {
        id: format!("{REQUESTED}{}", r.name),
        state: ClusterState::Starting,
        market: if r.market == Market::OnDemand.as_str() {
            Market::OnDemand
        } else {
            Market::Spot
        },
        created_at: r.requested_at.0,
        idle_since: None,
        running: Vec::new(),
        finished_runs: 0,
    }
}

/// Whether a planner cluster id is a request (it cannot be terminated).
pub fn is_requested(id: &str) -> bool {
    id.starts_with(REQUESTED)
}

/// Whether a failed `RunJobFlow` of this error category may have created the
/// cluster all the same: a server error or no answer. A refusal (throttled,
/// invalid, denied, no credentials) created nothing.
pub fn may_have_created(category: &str) -> bool {
    matches!(category, "aws-api" | "aws-unreachable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::emr::observe::cluster_state;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn listed(name: &str) -> ClusterInfo {
        ClusterInfo {
            id: "j-1".into(),
            name: name.into(),
            state_name: "STARTING".into(),
            state: cluster_state("STARTING", None, None),
            state_message: None,
            created_at: ts("2026-11-30T10:00:00Z"),
            ready_at: None,
            ended_at: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn a_request_waits_until_its_cluster_is_listed_or_the_grace_ends() {
        let at = ts("2026-11-30T10:00:00Z");
        let recorded = vec![
            request("ade-a-b-1", Market::Spot, at),
            request("ade-a-b-2", Market::OnDemand, at),
        ];
        let soon = ts("2026-11-30T10:01:00Z");
        let names = |v: Vec<ClusterRequest>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(outstanding(&recorded, &[], soon)), ["ade-a-b-1", "ade-a-b-2"]);
        assert_eq!(
            names(outstanding(&recorded, &[listed("ade-a-b-1")], soon)),
            ["ade-a-b-2"]
        );
        assert!(outstanding(&recorded, &[], ts("2026-11-30T10:02:00Z")).is_empty());
        let planned = as_planned(&recorded[1]);
        assert!(is_requested(&planned.id) && !is_requested("j-1"));
        assert_eq!(
            (planned.state, planned.market),
            (ClusterState::Starting, Market::OnDemand)
        );
    }

    #[test]
    fn only_a_refusal_proves_nothing_was_created() {
        assert!(may_have_created("aws-api") && may_have_created("aws-unreachable"));
        for refused in ["throttled", "invalid-request", "access-denied", "credentials"] {
            assert!(!may_have_created(refused), "{refused}");
        }
    }
}
