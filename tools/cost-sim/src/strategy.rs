//! What is compared: the pool as configured, and the baselines a team would
//! otherwise pick, each expressed as capacity limits, fleets and a market
//! policy that the operator's own planner then runs.
//!
//! A pool's fleets are sized for `maxRunsPerCluster` runs, so one run's
//! share of a cluster is the core and task capacity divided by that number.
//! Baselines get clusters sized the same way: a per-run cluster holds one
//! share (at least one core instance), the long-lived cluster as many shares
//! as runs ran at once at the peak.

use ade_operator::{
    api::v1alpha1::{EmrPool, InstanceFleet},
    providers::emr::{Market, breaker, planner::Limits},
};

use crate::scenario::Pool;

/// A way to buy capacity for the day's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The ClusterPool as configured: the planner and the breaker.
    Pool,
    /// One on-demand cluster per run: what teams do without us.
    PerRunOnDemand,
    /// One on-demand cluster up all day, sized for `peak` concurrent runs.
    LongLivedOnDemand {
        /// Runs at once at the peak.
        peak: usize,
    },
    /// One spot cluster per run, without the breaker.
    PerRunSpot,
}

impl Strategy {
    /// A short name for tables and charts.
    pub fn label(self) -> String {
        match self {
            Self::Pool => "pool as configured".to_owned(),
            Self::PerRunOnDemand => "on-demand cluster per run".to_owned(),
            Self::LongLivedOnDemand { peak } => format!("long-lived on-demand ({peak} runs)"),
            Self::PerRunSpot => "spot cluster per run, no breaker".to_owned(),
        }
    }
}

/// Which market new clusters buy.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketPolicy {
    /// The operator's breaker decides.
    Breaker(breaker::Settings),
    /// Always this one.
    Fixed(Market),
}

/// A strategy made concrete for one pool.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The fleets of every cluster.
    pub emr: EmrPool,
    /// The planner's limits.
    pub limits: Limits,
    /// Most runs admitted at once (`maxConcurrentRuns`).
    pub max_concurrent: Option<usize>,
    /// The market of new clusters.
    pub market: MarketPolicy,
    /// How far back the breaker counts (and so which ended clusters the planner sees).
    pub window: std::time::Duration,
}

/// No limit worth the name: the API's own maximum of `maxClusters`.
const UNLIMITED_CLUSTERS: usize = 1000;
/// A day and more: never idle long enough to go.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);

impl Setup {
    /// `strategy` for `pool`.
    pub fn new(pool: &Pool, strategy: Strategy) -> Self {
        let slots = pool.limits.max_runs_per_cluster;
        let per_run = |market| Self {
            emr: resize(&pool.emr, slots, 1),
            limits: Limits {
                max_clusters: UNLIMITED_CLUSTERS,
                min_clusters: 0,
                max_runs_per_cluster: 1,
                idle_timeout: std::time::Duration::ZERO,
            },
            max_concurrent: None,
            market: MarketPolicy::Fixed(market),
            window: pool.breaker.window,
        };
        match strategy {
            Strategy::Pool => Self {
                emr: pool.emr.clone(),
                limits: pool.limits.clone(),
                max_concurrent: pool
                    .spec
                    .capacity
                    .max_concurrent_runs
                    .and_then(|n| usize::try_from(n).ok()),
                market: MarketPolicy::Breaker(pool.breaker.clone()),
                window: pool.breaker.window,
            },
            Strategy::PerRunOnDemand => per_run(Market::OnDemand),
            Strategy::PerRunSpot => per_run(Market::Spot),
            Strategy::LongLivedOnDemand { peak } => Self {
                emr: resize(&pool.emr, slots, peak.max(1)),
                limits: Limits {
                    max_clusters: 1,
                    min_clusters: 1,
                    max_runs_per_cluster: peak.max(1),
                    idle_timeout: FOREVER,
                },
                max_concurrent: None,
                market: MarketPolicy::Fixed(Market::OnDemand),
                window: pool.breaker.window,
            },
        }
    }
}

/// `emr` with its core and task fleets scaled from `from` runs to `to` runs
/// per cluster (rounded up; a cluster keeps at least one core instance).
pub fn resize(emr: &EmrPool, from: usize, to: usize) -> EmrPool {
    let scale = |n: i32| -> i32 {
        if n <= 0 {
            return 0;
        }
        let scaled = (f64::from(n) * to as f64 / from.max(1) as f64).ceil();
        // bounded by the API's 1000 per fleet
        scaled.min(1000.0) as i32
    };
    let fleet = |f: &InstanceFleet| InstanceFleet {
        instance_types: f.instance_types.clone(),
        on_demand: scale(f.on_demand),
        spot: scale(f.spot),
    };
    let mut out = emr.clone();
    out.core = fleet(&emr.core);
    if out.core.on_demand + out.core.spot == 0 {
        out.core.on_demand = 1;
    }
    out.task = emr.task.as_ref().map(fleet);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(on_demand: i32, spot: i32) -> InstanceFleet {
        InstanceFleet {
            instance_types: vec!["m5.xlarge".to_owned()],
            on_demand,
            spot,
        }
    }

    #[test]
    fn fleets_scale_by_runs_per_cluster() {
        let emr: EmrPool = serde_saphyr::from_str(
            "releaseLabel: emr-7.5.0\nserviceRole: r\ninstanceProfile: p\nsubnetIds: [s]\n\
             primary: {instanceTypes: [m5.xlarge], onDemand: 1}\ncore: {instanceTypes: [m5.xlarge], onDemand: 1, spot: 7}\n\
             task: {instanceTypes: [m5.xlarge], spot: 4}",
        )
        .expect("emr");
        let one = resize(&emr, 4, 1);
        assert_eq!(one.primary, emr.primary, "the primary stays");
        assert_eq!(one.core, fleet(1, 2));
        assert_eq!(one.task, Some(fleet(0, 1)));
        let peak = resize(&emr, 4, 10);
        assert_eq!(peak.core, fleet(3, 18));
        assert_eq!(peak.task, Some(fleet(0, 10)));
        let tiny: EmrPool = serde_saphyr::from_str(
            "releaseLabel: emr-7.5.0\nserviceRole: r\ninstanceProfile: p\nsubnetIds: [s]\n\
             primary: {instanceTypes: [m5.xlarge], onDemand: 1}\ncore: {instanceTypes: [m5.xlarge], spot: 1}",
        )
        .expect("emr");
        assert_eq!(resize(&tiny, 8, 1).core, fleet(0, 1), "rounded up, never to zero");
    }
}
