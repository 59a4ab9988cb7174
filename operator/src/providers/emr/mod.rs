//! The `emr` compute provider: runs as EMR steps on ephemeral EMR clusters.
//!
//! Design (issue 5):
//!
//! - **Clusters carry the pool's identity.** Every cluster the provider starts
//!   (`RunJobFlow` with instance fleets, spot first with an on-demand fallback)
//!   is tagged with the ClusterPool's namespace, name and uid and with the
//!   operator's identity. Those tags are the idempotency key: after a restart
//!   the provider lists clusters by tag and adopts them, so one intent never
//!   becomes two clusters.
//! - **Steps carry the run's identity.** One run attempt is one EMR step added
//!   with `AddJobFlowSteps`, named after (namespace, run, attempt).
//!   `AddJobFlowSteps` takes no idempotency token, so the provider looks for a
//!   step with that name on the pool's clusters before it adds one.
//! - **Decisions are pure, effects are thin.** What to create, reuse or
//!   terminate ([`planner`]), whether new capacity buys spot or on-demand
//!   ([`breaker`]) and what a cluster and each of its runs cost ([`pricing`])
//!   are pure functions of observed state, table-tested without AWS, and so
//!   are the requests ([`request`]) and the reading of EMR's answers
//!   ([`observe`]).
//! - **Effects go through one small trait.** [`api::EmrApi`] names the EMR and
//!   EC2 calls in domain types; [`aws::AwsEmr`] implements it on the AWS SDK
//!   (the only module that sees SDK types), tests implement it in memory.
//!   [`EmrProvider`] runs attempts as steps ([`provider`]) and a pool's
//!   capacity ([`capacity`]) on top of it.
//!
//! A reconcile of an emr pool composes them: observe clusters, steps and spot
//! outcomes → [`breaker::evaluate`] picks the market → [`planner::plan`] says
//! which runs go where and which clusters to create or terminate →
//! the adapter applies that → [`pricing`] turns fleet usage into cost.

pub mod api;
pub mod aws;
pub mod breaker;
pub mod capacity;
pub mod observe;
pub mod planner;
mod pool;
pub mod pool_status;
pub mod pricing;
pub mod provider;
pub mod request;
pub mod requests;
mod service;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod provider_tests;

pub use self::{
    api::EmrApi,
    aws::AwsEmr,
    provider::{EmrProvider, EmrSettings},
};

use std::fmt;

/// How EC2 capacity is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Market {
    /// Spot: spare capacity at a varying price, reclaimable at two minutes' notice.
    Spot,
    /// On-demand: a fixed price, not reclaimed.
    OnDemand,
}

impl Market {
    /// The name status fields use: `spot` or `on-demand`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spot => "spot",
            Self::OnDemand => "on-demand",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) use crate::human::duration as human;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_read_like_the_spec() {
        let table = [
            (3600, "1h"),
            (5400, "1h30m"),
            (90, "1m30s"),
            (600, "10m"),
            (7261, "2h1m1s"),
        ];
        for (secs, want) in table {
            assert_eq!(human(Duration::from_secs(secs)), want, "{secs}s");
        }
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(Market::OnDemand.to_string(), "on-demand");
        assert_eq!(Market::Spot.as_str(), "spot");
    }
}
