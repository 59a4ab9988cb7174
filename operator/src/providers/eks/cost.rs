//! What an eks pool's nodes cost, and each run attempt's share.
//!
//! A node costs its instance-hours × its EC2 price, from its launch until it
//! terminated (`now` while it lives): the operator's on-demand table, or
//! the spot price history of its type ([`pricing::ec2_cost`]; no EMR
//! uplift). That is `status.clusters[].estimatedCostUsd` of the pool.
//!
//! An attempt's share is the node's price over the attempt's time on it
//! (its Job's start to its end, or `now`) × the fraction of the node it
//! requested: the larger of its CPU and memory shares of the instance
//! type's allocatable, at most 1. Two runs that each request half a node
//! pay half each; a node's idle time and the room no run requested are the
//! price of ready capacity and stay with the node, not with the runs.
//!
//! Each attempt's estimate is kept in the run's status, so it survives the
//! Job: the run's cost is the sum of its attempts', an interrupted one
//! included.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::{Api, ResourceExt};

use super::{
    api::InstanceInfo,
    instance_types::Resources,
    provider::{EksProvider, job_facts},
    request,
};
use crate::{
    api::v1alpha1::ClusterPool,
    providers::{
        AttemptHandle, AttemptRef, ProviderError,
        emr::pricing::{self, FleetUsage, MissingPrices, PriceBook},
        kube_error,
    },
};

/// The fraction of a node of `allocatable` that `request` holds: its larger
/// CPU or memory share, at most 1; 1 when the node's size is unknown.
pub fn share(request: Resources, allocatable: Resources) -> f64 {
    let part = |want: u64, have: u64| {
        if have == 0 { 1.0 } else { want as f64 / have as f64 }
    };
    part(request.cpu_millis, allocatable.cpu_millis)
        .max(part(request.memory_bytes, allocatable.memory_bytes))
        .clamp(0.0, 1.0)
}

/// How instance `i` was used from `from` to `to`, cut at its end when EC2
/// says when it stopped.
pub fn usage(i: &InstanceInfo, from: Timestamp, to: Timestamp) -> FleetUsage {
    let ended = (!i.state.is_live()).then_some(i.state_changed_at).flatten();
    FleetUsage {
        instance_type: i.instance_type.clone(),
        market: i.market,
        count: 1,
        from,
        to: ended.map_or(to, |e| e.min(to)),
    }
}

/// What each node of `instances` cost from its launch to `now`, by id, and
/// why some could not be priced.
pub fn node_costs(
    instances: &[InstanceInfo],
    book: &PriceBook,
    now: Timestamp,
) -> (Vec<(String, f64)>, Option<MissingPrices>) {
    let mut costs = Vec::new();
    let mut missing = MissingPrices::default();
    for i in instances {
        let Some(launched) = i.launched_at else { continue };
        match pricing::ec2_cost(&[usage(i, launched, now)], book) {
            Ok(c) => costs.push((i.id.clone(), c.ec2)),
            Err(m) => {
                missing.on_demand.extend(m.on_demand);
                missing.spot.extend(m.spot);
            }
        }
    }
    let priced = missing.instance_types().is_empty();
    (costs, (!priced).then_some(missing))
}

impl EksProvider {
    /// The prices of `usage`: the operator's on-demand table and the spot
    /// price history of the spot types used (cached per region).
    pub(super) async fn price_book(
        &self,
        region: &str,
        usage: &[FleetUsage],
        now: Timestamp,
    ) -> Result<PriceBook, ProviderError> {
        let fetch = |types: Vec<String>, since| async move {
            self.api
                .spot_prices(region, &types, since)
                .await
                .map_err(ProviderError::from)
        };
        let prices = self.spot_cache.for_usage(region, usage, now, fetch).await?;
        Ok(PriceBook {
            on_demand: self.settings.on_demand_prices.clone(),
            emr_uplift: Default::default(),
            spot: prices,
        })
    }

    /// What each of one run's `attempts` cost so far: for an attempt whose
    /// Job is still there, its share of its node over the Job's time; `None`
    /// for one without a Job (its estimate recorded before stands) or whose
    /// node's price is unknown.
    pub(super) async fn attempt_costs(
        &self,
        attempts: &[AttemptRef],
        now: Timestamp,
    ) -> Result<Vec<Option<f64>>, ProviderError> {
        let mut out = vec![None; attempts.len()];
        let Some(pool) = attempts.iter().find_map(|a| a.pool.as_ref()) else {
            return Ok(out);
        };
        let mut found: Vec<(usize, Job)> = Vec::new();
        for (n, attempt) in attempts.iter().enumerate() {
            let AttemptHandle::Job { name } = &attempt.handle else {
                continue;
            };
            let jobs: Api<Job> = Api::namespaced(self.client.clone(), &attempt.namespace);
            if let Some(job) = jobs.get_opt(name).await.map_err(kube_error("reading the Job"))? {
                found.push((n, job));
            }
        }
        if found.is_empty() {
            return Ok(out);
        }
        let region = self.region_of(pool)?;
        let instances = self
            .api
            .describe_instances(&region, &request::pool_filter(pool))
            .await
            .map_err(ProviderError::from)?;
        let mut used: Vec<(usize, FleetUsage, f64)> = Vec::new();
        let catalog = self.catalog();
        for (n, job) in &found {
            let facts = job_facts(job);
            let (Some(id), Some(started)) = (&facts.instance, job.status.as_ref().and_then(|s| s.start_time.as_ref()))
            else {
                continue;
            };
            let Some(instance) = instances.iter().find(|i| &i.id == id) else {
                continue;
            };
            let allocatable = catalog
                .get(&instance.instance_type)
                .map(|t| t.allocatable())
                .unwrap_or_default();
            let to = facts.finished_at.unwrap_or(now);
            used.push((*n, usage(instance, started.0, to), share(facts.request, allocatable)));
        }
        let usage: Vec<FleetUsage> = used.iter().map(|(_, u, _)| u.clone()).collect();
        let book = self.price_book(&region, &usage, now).await?;
        for (n, u, part) in used {
            match pricing::ec2_cost(std::slice::from_ref(&u), &book) {
                Ok(c) => out[n] = Some(c.ec2 * part),
                Err(missing) => tracing::debug!(%missing, run = %attempts[n].run, "no cost estimate for the attempt"),
            }
        }
        Ok(out)
    }

    /// The cost of each of the pool's `instances` so far, and why some could
    /// not be priced (for the pool's `Ready` message).
    pub(super) async fn pool_node_costs(
        &self,
        pool: &ClusterPool,
        region: &str,
        instances: &[InstanceInfo],
        now: Timestamp,
    ) -> (Vec<(String, f64)>, Option<String>) {
        let live: Vec<InstanceInfo> = instances.iter().filter(|i| i.state.is_live()).cloned().collect();
        let usage: Vec<FleetUsage> = live
            .iter()
            .filter_map(|i| Some(usage(i, i.launched_at?, now)))
            .collect();
        match self.price_book(region, &usage, now).await {
            Ok(book) => {
                let (costs, missing) = node_costs(&live, &book, now);
                (costs, missing.map(|m| m.to_string()))
            }
            Err(e) => {
                tracing::warn!(pool = %pool.name_any(), error = %e, "reading spot prices failed");
                (Vec::new(), Some(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::providers::{
        eks::api::InstanceState,
        emr::{Market, pricing::SpotPrice},
    };

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    const GIB: u64 = 1 << 30;

    #[test]
    fn an_attempt_pays_for_the_larger_of_its_cpu_and_memory_share() {
        let node = Resources::new(4000, 16 * GIB);
        let cases = [
            (Resources::new(1000, 2 * GIB), 0.25),
            (Resources::new(1000, 8 * GIB), 0.5),
            (Resources::new(8000, GIB), 1.0),
            (Resources::default(), 0.0),
        ];
        for (request, want) in cases {
            assert!((share(request, node) - want).abs() < 1e-9, "{request:?}");
        }
        assert_eq!(
            share(Resources::new(1000, GIB), Resources::default()),
            1.0,
            "unknown size"
        );
    }

    fn instance(id: &str, market: Market, live: bool, ended: Option<&str>) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            instance_type: "m5.xlarge".into(),
            zone: "us-east-1a".into(),
            market,
            state: if live {
                InstanceState::Running
            } else {
                InstanceState::Terminated
            },
            state_reason: None,
            state_changed_at: ended.map(at),
            launched_at: Some(at("2026-12-01T08:00:00Z")),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn nodes_cost_their_hours_at_their_market_price() {
        let book = PriceBook {
            on_demand: BTreeMap::from([("m5.xlarge".to_owned(), 0.192)]),
            emr_uplift: BTreeMap::new(),
            spot: vec![SpotPrice {
                instance_type: "m5.xlarge".into(),
                at: at("2026-12-01T00:00:00Z"),
                usd_per_hour: 0.08,
            }],
        };
        let now = at("2026-12-01T10:00:00Z");
        let instances = [
            instance("i-od", Market::OnDemand, true, None),
            instance("i-spot", Market::Spot, true, None),
            // Reclaimed at 08:30: half an hour, not two.
            instance("i-gone", Market::Spot, false, Some("2026-12-01T08:30:00Z")),
        ];
        let (costs, missing) = node_costs(&instances, &book, now);
        assert!(missing.is_none());
        let want = [("i-od", 0.384), ("i-spot", 0.16), ("i-gone", 0.04)];
        assert_eq!(costs.len(), want.len());
        for ((id, usd), (want_id, want_usd)) in costs.iter().zip(want) {
            assert_eq!(id, want_id);
            assert!((usd - want_usd).abs() < 1e-9, "{id}: {usd}");
        }
        let unpriced = PriceBook::default();
        let (costs, missing) = node_costs(&instances, &unpriced, now);
        assert!(costs.is_empty());
        assert_eq!(
            missing.map(|m| m.to_string()).as_deref(),
            Some("cannot estimate the cost: no on-demand price for m5.xlarge; no spot price history for m5.xlarge")
        );
    }
}
