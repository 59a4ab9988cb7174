//! What an EMR cluster costs, and each run's share of it.
//!
//! A cluster's cost is the sum over its instance fleets of instance-hours ×
//! price, where the price is
//!
//! - the EC2 price: for on-demand instances a fixed hourly price from the
//!   operator's price table; for spot instances the spot price history of the
//!   instance type (recorded from EC2 `DescribeSpotPriceHistory` for the
//!   cluster's availability zone), a price that holds from its timestamp until
//!   the next one, integrated over the usage interval;
//! - plus the EMR uplift: EMR's own hourly fee per instance type, charged on
//!   spot and on-demand instances alike.
//!
//! A usage interval must be covered by the price history from its start (ask
//! `DescribeSpotPriceHistory` from the usage start: it returns the price in
//! effect then). Any instance type without a price fails the estimate with
//! [`MissingPrices`], naming all of them at once, rather than silently costing
//! it at zero. For a live cluster the caller ends the usage at `now`.
//!
//! **Apportioning to runs.** A cluster's whole cost, idle time included
//! (bootstrapping, waiting for steps, the idle timeout before teardown), is
//! shared among the runs that used it in proportion to their run-seconds on
//! it: a run's share = its seconds / all runs' seconds. Concurrent runs each
//! count their own seconds. Idle time is thus spread pro rata rather than
//! billed to the pool or to the last run: the idle time is the price of
//! having capacity ready for exactly those runs, the shares add up to the
//! cluster's cost (so the pool's cost is the sum of its runs' costs), and a
//! run's share does not depend on the order in which runs came. A cluster
//! that ran nothing (a warm pool nobody used) is left unattributed.
//!
//! Pure: no clock, no I/O. Amounts are US dollars as `f64`, written out with
//! [`crate::cost::usd`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::Market;
use crate::cost::usd;

/// Instances of one type and market, alive over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetUsage {
    /// EC2 instance type, e.g. `r6i.2xlarge`.
    pub instance_type: String,
    /// How they were bought.
    pub market: Market,
    /// How many.
    pub count: u32,
    /// When they started (or the estimate's start).
    pub from: Timestamp,
    /// When they stopped (or `now` for running instances).
    pub to: Timestamp,
}

/// One point of a spot price history: `usd_per_hour` holds from `at` until
/// the next point of the same instance type.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotPrice {
    /// EC2 instance type.
    pub instance_type: String,
    /// When the price took effect.
    pub at: Timestamp,
    /// US dollars per instance-hour.
    pub usd_per_hour: f64,
}

/// Every price an estimate needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceBook {
    /// On-demand US dollars per instance-hour, by instance type (operator configuration).
    pub on_demand: BTreeMap<String, f64>,
    /// EMR's fee in US dollars per instance-hour, by instance type (operator configuration).
    pub emr_uplift: BTreeMap<String, f64>,
    /// Spot price history, any order.
    pub spot: Vec<SpotPrice>,
}

/// What a cluster cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClusterCost {
    /// EC2 instances, US dollars.
    pub ec2: f64,
    /// EMR uplift, US dollars.
    pub emr: f64,
    /// Instance-hours over all fleets.
    pub instance_hours: f64,
}

impl ClusterCost {
    /// EC2 plus EMR, US dollars.
    pub fn total(&self) -> f64 {
        self.ec2 + self.emr
    }

    /// For status and Events: `3.5900 USD (EC2 2.2100 + EMR 1.3800, 12.5 instance-hours)`.
    pub fn describe(&self) -> String {
        format!(
            "{} USD (EC2 {} + EMR {}, {} instance-hours)",
            usd(self.total()),
            usd(self.ec2),
            usd(self.emr),
            (self.instance_hours * 100.0).round() / 100.0
        )
    }
}

/// Instance types an estimate has no price for.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("cannot estimate the cost: {}", self.describe())]
pub struct MissingPrices {
    /// Used on-demand, with no on-demand price.
    pub on_demand: BTreeSet<String>,
    /// Used on spot, with no spot price in effect from the start of the usage.
    pub spot: BTreeSet<String>,
    /// Used, with no EMR uplift.
    pub emr_uplift: BTreeSet<String>,
}

impl MissingPrices {
    /// Every instance type without some price.
    pub fn instance_types(&self) -> BTreeSet<&str> {
        self.on_demand
            .iter()
            .chain(&self.spot)
            .chain(&self.emr_uplift)
            .map(String::as_str)
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.on_demand.is_empty() && self.spot.is_empty() && self.emr_uplift.is_empty()
    }

    fn describe(&self) -> String {
        let list = |s: &BTreeSet<String>| s.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        [
            (&self.on_demand, "no on-demand price for "),
            (&self.spot, "no spot price history for "),
            (&self.emr_uplift, "no EMR uplift for "),
        ]
        .into_iter()
        .filter(|(s, _)| !s.is_empty())
        .map(|(s, what)| format!("{what}{}", list(s)))
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// The cost of a cluster whose fleets were used as `usage`, at `prices`.
pub fn cluster_cost(usage: &[FleetUsage], prices: &PriceBook) -> Result<ClusterCost, MissingPrices> {
    priced(usage, prices, true)
}

/// The EC2 cost alone of instances used as `usage` (EKS nodes: no EMR
/// uplift), at `prices`.
pub fn ec2_cost(usage: &[FleetUsage], prices: &PriceBook) -> Result<ClusterCost, MissingPrices> {
    priced(usage, prices, false)
}

fn priced(usage: &[FleetUsage], prices: &PriceBook, uplift: bool) -> Result<ClusterCost, MissingPrices> {
    let mut cost = ClusterCost::default();
    let mut missing = MissingPrices::default();
    for u in usage {
        let hours = hours(u.from, u.to);
        if u.count == 0 || hours <= 0.0 {
            continue;
        }
        let instances = f64::from(u.count);
        let ec2 = match u.market {
            Market::OnDemand => prices.on_demand.get(&u.instance_type).map(|p| p * hours),
            Market::Spot => spot_cost(&prices.spot, &u.instance_type, u.from, u.to),
        };
        match ec2 {
            Some(one) => cost.ec2 += one * instances,
            None => {
                let unpriced = match u.market {
                    Market::Spot => &mut missing.spot,
                    Market::OnDemand => &mut missing.on_demand,
                };
                unpriced.insert(u.instance_type.clone());
            }
        }
        match prices.emr_uplift.get(&u.instance_type) {
            _ if !uplift => {}
            Some(fee) => cost.emr += fee * hours * instances,
            None => {
                missing.emr_uplift.insert(u.instance_type.clone());
            }
        }
        cost.instance_hours += hours * instances;
    }
    if missing.is_empty() { Ok(cost) } else { Err(missing) }
}

/// US dollars of one spot instance of `instance_type` from `from` to `to`:
/// the piecewise constant price integrated over the interval. `None` when no
/// price is in effect at `from`.
fn spot_cost(history: &[SpotPrice], instance_type: &str, from: Timestamp, to: Timestamp) -> Option<f64> {
    let mut points: Vec<&SpotPrice> = history.iter().filter(|p| p.instance_type == instance_type).collect();
    // stable: of two points at the same instant, the later one in the history wins
    points.sort_by_key(|p| p.at);
    let first = points.partition_point(|p| p.at <= from).checked_sub(1)?;
    let (mut price, mut since, mut total) = (points[first].usd_per_hour, from, 0.0);
    for p in points[first + 1..].iter().take_while(|p| p.at < to) {
        total += price * hours(since, p.at);
        (price, since) = (p.usd_per_hour, p.at);
    }
    Some(total + price * hours(since, to))
}

/// Hours from `from` to `to` (negative when reversed).
fn hours(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64() / 3600.0
}

/// A run executing on the cluster from `from` to `to`; a run with several
/// attempts or steps on the cluster appears once per interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTime {
    /// Run identity.
    pub run: String,
    /// When its step started.
    pub from: Timestamp,
    /// When its step ended (or `now`).
    pub to: Timestamp,
}

/// One run's share of a cluster's cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCost {
    /// Run identity.
    pub run: String,
    /// Its seconds on the cluster.
    pub seconds: f64,
    /// Its share, US dollars.
    pub usd: f64,
}

/// A cluster's cost split among its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Apportioned {
    /// Shares by run, ordered by run identity; they add up to the cluster's cost.
    pub runs: Vec<RunCost>,
    /// The cost no run used: all of it when no run ran on the cluster, else 0.
    pub unattributed: f64,
}

/// `cluster_usd` shared among `runs` by run-seconds, idle time included pro rata.
pub fn apportion(cluster_usd: f64, runs: &[RunTime]) -> Apportioned {
    let mut seconds: BTreeMap<&str, f64> = BTreeMap::new();
    for r in runs {
        let s = r.to.duration_since(r.from).as_secs_f64().max(0.0);
        *seconds.entry(r.run.as_str()).or_default() += s;
    }
    let total: f64 = seconds.values().sum();
    if total <= 0.0 {
        return Apportioned {
            runs: Vec::new(),
            unattributed: cluster_usd,
        };
    }
    Apportioned {
        runs: seconds
            .into_iter()
            .map(|(run, s)| RunCost {
                run: run.to_owned(),
                seconds: s,
                usd: cluster_usd * s / total,
            })
            .collect(),
        unattributed: 0.0,
    }
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
