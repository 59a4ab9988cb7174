//! `cost-sim`: a day of workload through the operator's own emr planner,
//! spot breaker and pricing, against the baselines teams would otherwise
//! pick, and the pool settings it recommends (docs/cost.md).
//!
//! Placement, creation and teardown come from `planner::plan`, the market
//! from `breaker::evaluate`, cluster state from `observe`, and every dollar
//! from `pricing`. What is simulated is what AWS would do (clusters
//! starting, steps running for their drawn duration, spot capacity lost at
//! the scenario's rates); what the operator's controllers do around the
//! planner (which clusters it sees, admission, retries of lost runs) is
//! written again in [`sim`] and [`runs`], following their rules.

pub mod chart;
pub mod prices;
pub mod recommend;
pub mod report;
pub mod runs;
pub mod scenario;
pub mod sim;
pub mod strategy;
pub mod workload;
pub mod world;

use std::path::Path;

use ade_operator::cost::usd;
use report::Outcome;
use scenario::Scenario;
use strategy::{Setup, Strategy};

/// The day under `strategy` (made concrete per pool by `setup_of`), summed over pools.
pub fn simulate(
    scenario: &Scenario,
    label: &str,
    setup_of: impl Fn(&scenario::Pool) -> Setup,
) -> anyhow::Result<Outcome> {
    let days: Vec<(sim::Day, Setup)> = scenario
        .pools
        .iter()
        .enumerate()
        .map(|(i, pool)| {
            let setup = setup_of(pool);
            (sim::run(scenario, i, &setup, scenario.seed), setup)
        })
        .collect();
    report::outcome(label, scenario, &days)
}

/// The pool as configured and the three baselines, in that order; the
/// long-lived cluster of each pool is sized for the peak concurrency its runs
/// reach with a cluster each.
pub fn compare(scenario: &Scenario) -> anyhow::Result<Vec<Outcome>> {
    let per_run = Strategy::PerRunOnDemand;
    let mut peaks = Vec::new();
    for (i, pool) in scenario.pools.iter().enumerate() {
        peaks.push(peak(&sim::run(scenario, i, &Setup::new(pool, per_run), scenario.seed)));
    }
    let peak_total: usize = peaks.iter().sum();
    let long_lived = |pool: &scenario::Pool| {
        let i = scenario.pools.iter().position(|p| p.name == pool.name).unwrap_or(0);
        Setup::new(pool, Strategy::LongLivedOnDemand { peak: peaks[i] })
    };
    Ok(vec![
        simulate(scenario, &Strategy::Pool.label(), |p| Setup::new(p, Strategy::Pool))?,
        simulate(scenario, &per_run.label(), |p| Setup::new(p, per_run))?,
        simulate(
            scenario,
            &Strategy::LongLivedOnDemand { peak: peak_total }.label(),
            long_lived,
        )?,
        simulate(scenario, &Strategy::PerRunSpot.label(), |p| {
            Setup::new(p, Strategy::PerRunSpot)
        })?,
    ])
}

/// The index of the per-run on-demand baseline in [`compare`]'s answer.
pub const PER_RUN_ON_DEMAND: usize = 1;

/// Most steps running at once in `day`.
pub fn peak(day: &sim::Day) -> usize {
    let mut edges: Vec<(jiff::Timestamp, i32)> = Vec::new();
    for s in day.clusters.iter().flat_map(|c| &c.steps) {
        if let (Some(from), Some(to)) = (s.started_at, s.ended_at) {
            edges.push((from, 1));
            edges.push((to, -1));
        }
    }
    // ends before starts at the same instant: back-to-back runs are not concurrent
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    usize::try_from(max).unwrap_or(0)
}

/// What `cost-sim run` prints for the scenario at `path`: the table and
/// what it means. Deterministic (no timings): docs/cost.md embeds it.
pub fn summary(path: &Path, scenario: &Scenario, outcomes: &[Outcome]) -> String {
    let name = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut out = format!(
        "{name}: {} runs on {} pool(s) over {} ({} spot price points, seed {})\n\n",
        scenario.runs.len(),
        scenario.pools.len(),
        scenario.start,
        scenario.spot.len(),
        scenario.seed
    );
    out.push_str(&report::table(outcomes, PER_RUN_ON_DEMAND));
    let (pool, per_run) = (&outcomes[0], &outcomes[PER_RUN_ON_DEMAND]);
    let mut durations: Vec<f64> = scenario.runs.iter().map(|r| r.seconds).collect();
    durations.sort_by(f64::total_cmp);
    let median = report::percentile(&durations, 0.5);
    out.push_str(&format!(
        "\nOn the pool the breaker opened {} time(s), {} cluster(s) were lost to spot and {} run(s) failed \
         (lost more than {} times); its p95 wait was {} against {} on a cluster per run (median run {}).\n",
        pool.breaker_opened,
        pool.interruptions,
        pool.failed,
        runs::MAX_INTERRUPTIONS,
        report::secs(pool.delay_p95),
        report::secs(per_run.delay_p95),
        report::secs(median),
    ));
    let mut jobs: Vec<_> = pool.per_job.iter().collect();
    jobs.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = jobs
        .iter()
        .take(3)
        .map(|(j, c)| format!("{j} {} USD", usd(**c)))
        .collect();
    out.push_str(&format!(
        "The costliest jobs on the pool: {}; clusters that ran nothing: {} USD.\n",
        top.join(", "),
        usd(pool.unattributed_usd)
    ));
    let saving = 100.0 * (1.0 - pool.total_usd / per_run.total_usd.max(f64::MIN_POSITIVE));
    let extra_wait = 100.0 * (pool.delay_p95 - per_run.delay_p95) / median.max(1.0);
    let verdict = |met: bool| if met { "met" } else { "not met" };
    out.push_str(&format!(
        "Targets (docs/cost.md): the pool at least 70 % cheaper than a cluster per run: {} ({saving:.1} %); \
         its p95 wait at most 10 % of the median run above the per-run clusters': {} ({extra_wait:+.1} %).\n",
        verdict(saving >= 70.0),
        verdict(extra_wait <= 10.0)
    ));
    out
}

/// `doc` with the block between its `<!-- cost-sim: NAME -->` and
/// `<!-- cost-sim: end NAME -->` lines replaced by `text`.
pub fn splice(doc: &str, name: &str, text: &str) -> Result<String, String> {
    let (begin, end) = markers(name);
    let (Some(b), Some(e)) = (doc.find(&begin), doc.find(&end)) else {
        return Err(format!("no {begin} … {end} block"));
    };
    if e < b {
        return Err(format!("{end} comes before {begin}"));
    }
    Ok(format!("{}{begin}\n{text}{}", &doc[..b], &doc[e..]))
}

/// The block named `name` that [`splice`] writes, as found in `doc`.
pub fn spliced<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let (begin, end) = markers(name);
    let b = doc.find(&begin)? + begin.len() + 1;
    let e = doc.find(&end)?;
    doc.get(b..e)
}

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- cost-sim: {name} -->"),
        format!("<!-- cost-sim: end {name} -->"),
    )
}

/// A scenario's name in docs and charts: its file name.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The rows of a small CSV file with the `columns` given, as (line number,
/// fields); blank lines, `#` comments and the header line are skipped.
pub(crate) fn csv_rows<'a, const N: usize>(
    csv: &'a str,
    what: &'a str,
    columns: [&'a str; N],
) -> impl Iterator<Item = anyhow::Result<(usize, [&'a str; N])>> + 'a {
    csv.lines().enumerate().filter_map(move |(n, line)| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(columns[0]) {
            return None;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        Some(
            <[&str; N]>::try_from(fields)
                .map(|f| (n + 1, f))
                .map_err(|_| anyhow::anyhow!("{what} line {}: expected {}, got {line:?}", n + 1, columns.join(","))),
        )
    })
}
