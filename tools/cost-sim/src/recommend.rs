//! `cost-sim recommend`: sweep a pool's `idleTimeout`, `maxRunsPerCluster`,
//! `minClusters` and the spot breaker's `maxRate` over the scenario's day and keep the cheapest settings
//! whose p95 wait stays within a bound.
//!
//! Changing `maxRunsPerCluster` changes what a cluster must hold, so the core
//! and task fleets are scaled with it (the pool's per-run share stays), and
//! `maxClusters` is scaled to keep the pool's total run slots.

use std::time::Duration;

use ade_operator::{api::v1alpha1::InstanceFleet, human};

use crate::{
    report::{self, Outcome},
    scenario::{Pool, Scenario},
    strategy::{self, MarketPolicy, Setup, Strategy},
};

/// The values swept.
#[derive(Debug, Clone)]
pub struct Grid {
    /// `idleTimeout` values.
    pub idle_timeouts: Vec<Duration>,
    /// `maxRunsPerCluster` values.
    pub runs_per_cluster: Vec<usize>,
    /// `minClusters` values.
    pub min_clusters: Vec<usize>,
    /// The breaker's `maxRate` values (1 never opens it); the pool's own is added.
    pub breaker_max_rates: Vec<f64>,
}

impl Default for Grid {
    fn default() -> Self {
        let m = |n: u64| Duration::from_secs(60 * n);
        Self {
            idle_timeouts: vec![m(1), m(5), m(10), m(15), m(30), m(60)],
            runs_per_cluster: vec![1, 2, 4, 8, 16],
            min_clusters: vec![0, 1, 2],
            breaker_max_rates: vec![0.2, 0.5, 1.0],
        }
    }
}

/// One point of the sweep and its day.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The pool with these settings.
    pub setup: Setup,
    /// Its day.
    pub outcome: Outcome,
}

/// Every point of `grid` for the scenario's only pool, cheapest first.
pub fn sweep(scenario: &Scenario, grid: &Grid) -> anyhow::Result<Vec<Candidate>> {
    anyhow::ensure!(
        scenario.pools.len() == 1,
        "recommend tunes one pool: the scenario has {}",
        scenario.pools.len()
    );
    let pool = &scenario.pools[0];
    let base = Setup::new(pool, Strategy::Pool);
    let slots = pool.limits.max_runs_per_cluster;
    let total_slots = pool.limits.max_clusters * slots;
    // the pool's own rate first: on a tie, the setting it has is kept
    let mut rates = vec![pool.breaker.max_rate];
    rates.extend(grid.breaker_max_rates.iter().filter(|r| **r != pool.breaker.max_rate));
    let mut out = Vec::new();
    for &runs in &grid.runs_per_cluster {
        for &idle in &grid.idle_timeouts {
            for &min in &grid.min_clusters {
                for &rate in &rates {
                    let mut setup = base.clone();
                    setup.emr = strategy::resize(&pool.emr, slots, runs);
                    setup.limits.max_runs_per_cluster = runs;
                    setup.limits.max_clusters = total_slots.div_ceil(runs).clamp(1, 1000);
                    setup.limits.min_clusters = min.min(setup.limits.max_clusters);
                    setup.limits.idle_timeout = idle;
                    let mut breaker = pool.breaker.clone();
                    breaker.max_rate = rate;
                    setup.emr.interruptions.max_rate = rate;
                    setup.market = MarketPolicy::Breaker(breaker);
                    let label = format!(
                        "maxRunsPerCluster {runs}, idleTimeout {}, minClusters {}, breaker maxRate {rate}",
                        human::duration(idle),
                        setup.limits.min_clusters
                    );
                    let outcome = crate::simulate(scenario, &label, |_: &Pool| setup.clone())?;
                    out.push(Candidate { setup, outcome });
                }
            }
        }
    }
    out.sort_by(|a, b| a.outcome.total_usd.total_cmp(&b.outcome.total_usd));
    Ok(out)
}

/// The cheapest of `candidates` whose p95 wait is at most `bound`.
pub fn best(candidates: &[Candidate], bound: Duration) -> Option<&Candidate> {
    candidates.iter().find(|c| c.outcome.delay_p95 <= bound.as_secs_f64())
}

/// What `cost-sim recommend` prints: the `top` cheapest distinct outcomes
/// within `bound` and the snippet of the cheapest. Deterministic.
pub fn report(
    path: &std::path::Path,
    scenario: &Scenario,
    candidates: &[Candidate],
    bound: Duration,
    top: usize,
) -> anyhow::Result<String> {
    let mut within: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.outcome.delay_p95 <= bound.as_secs_f64())
        .collect();
    // settings that make no difference (a breaker that never opens) give the same day: list it once
    within.dedup_by(|b, a| same_day(&a.outcome, &b.outcome));
    let best = within.first().ok_or_else(|| {
        anyhow::anyhow!(
            "no setting keeps the p95 wait within {}: allow a longer wait or raise maxClusters",
            report::secs(bound.as_secs_f64())
        )
    })?;
    let mut rows: Vec<Outcome> = within.iter().take(top).map(|c| c.outcome.clone()).collect();
    let pool = &scenario.pools[0];
    rows.push(crate::simulate(
        scenario,
        &Strategy::PerRunOnDemand.label(),
        |_: &Pool| Setup::new(pool, Strategy::PerRunOnDemand),
    )?);
    Ok(format!(
        "{}: of {} settings, the cheapest whose p95 wait is at most {} (equal days listed once), and the baseline:\n\n{}\n```yaml\n{}```\n",
        crate::file_name(path),
        candidates.len(),
        human::duration(bound),
        report::table(&rows, rows.len() - 1),
        snippet(&scenario.pools[0], best, bound)
    ))
}

fn same_day(a: &Outcome, b: &Outcome) -> bool {
    a.total_usd == b.total_usd && a.delay_p95 == b.delay_p95 && a.clusters == b.clusters && a.retries == b.retries
}

/// A ClusterPool snippet with `c`'s settings, ready to paste.
pub fn snippet(pool: &Pool, c: &Candidate, bound: Duration) -> String {
    let l = &c.setup.limits;
    let fleet = |name: &str, f: &InstanceFleet| {
        format!(
            "    {name}: {{instanceTypes: [{}], onDemand: {}, spot: {}}}\n",
            f.instance_types.join(", "),
            f.on_demand,
            f.spot
        )
    };
    let mut s = format!(
        "# cost-sim recommend: the cheapest settings whose p95 wait is at most {}\n\
         # {} USD for the day ({} USD per run), p95 wait {}\n\
         apiVersion: ade.dev/v1alpha1\nkind: ClusterPool\nmetadata:\n  name: {}\nspec:\n  capacity:\n    maxClusters: {}\n    minClusters: {}\n    maxRunsPerCluster: {}\n    idleTimeout: {}\n  emr:\n    # the rest of spec.emr as today\n    interruptions: {{maxRate: {}}}\n",
        human::duration(bound),
        ade_operator::cost::usd(c.outcome.total_usd),
        ade_operator::cost::usd(c.outcome.per_run()),
        report::secs(c.outcome.delay_p95),
        pool.name,
        l.max_clusters,
        l.min_clusters,
        l.max_runs_per_cluster,
        human::duration(l.idle_timeout),
        c.setup.emr.interruptions.max_rate,
    );
    s.push_str(&fleet("core", &c.setup.emr.core));
    if let Some(task) = &c.setup.emr.task {
        s.push_str(&fleet("task", task));
    }
    s
}
