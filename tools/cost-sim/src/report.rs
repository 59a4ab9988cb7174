//! What a simulated day cost and how long runs waited, priced with the
//! operator's own pricing ([`pricing::cluster_cost`], [`pricing::apportion`]).

use std::collections::BTreeMap;

use ade_operator::{
    cost::usd,
    human,
    providers::emr::{
        capacity::run_times,
        observe,
        pricing::{self, PriceBook},
    },
};
use jiff::{SignedDuration, Timestamp};

use crate::{scenario::Scenario, sim::Day, strategy::Setup};

/// One point of the day's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// When.
    pub at: Timestamp,
    /// Cost so far, US dollars.
    pub usd: f64,
    /// Clusters alive (starting, running, idle or terminating).
    pub live: usize,
}

/// A strategy's day, summed over the scenario's pools.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The strategy.
    pub label: String,
    /// Total cost, US dollars.
    pub total_usd: f64,
    /// Runs completed.
    pub runs: usize,
    /// Runs that gave up after losing their cluster too often.
    pub failed: usize,
    /// First due to last finished, seconds.
    pub makespan: f64,
    /// Median time a run waited, seconds: from its creation to its end, less
    /// the time its attempts ran (queued, starting clusters, and again after
    /// each lost attempt).
    pub delay_p50: f64,
    /// 95th percentile of that wait, seconds.
    pub delay_p95: f64,
    /// Clusters lost to spot interruptions.
    pub interruptions: u32,
    /// Attempts beyond the first.
    pub retries: u32,
    /// Clusters launched.
    pub clusters: usize,
    /// Times the breaker opened.
    pub breaker_opened: u32,
    /// Instance-hours bought.
    pub instance_hours: f64,
    /// Instance-hours no run used: start-up, idle and teardown, and the free
    /// slots of a shared cluster (one run on a cluster of N slots uses 1/N of it).
    pub idle_hours: f64,
    /// Cost by job, US dollars (a cluster's idle time shared pro rata among its runs).
    pub per_job: BTreeMap<String, f64>,
    /// Cost of clusters that ran no run (a warm pool nobody used, a cluster
    /// lost while starting), US dollars: the operator leaves it unattributed too.
    pub unattributed_usd: f64,
    /// Cost and clusters over the day.
    pub timeline: Vec<Point>,
}

impl Outcome {
    /// Cost per run, US dollars.
    pub fn per_run(&self) -> f64 {
        self.total_usd / self.runs.max(1) as f64
    }
}

/// The outcome of `days` (one per pool, each with its setup) as `label`.
pub fn outcome(label: &str, scenario: &Scenario, days: &[(Day, Setup)]) -> anyhow::Result<Outcome> {
    let book = PriceBook {
        on_demand: scenario.on_demand.clone(),
        emr_uplift: scenario.emr_uplift.clone(),
        spot: scenario.spot.clone(),
    };
    let mut out = Outcome {
        label: label.to_owned(),
        total_usd: 0.0,
        runs: 0,
        failed: 0,
        makespan: 0.0,
        delay_p50: 0.0,
        delay_p95: 0.0,
        interruptions: 0,
        retries: 0,
        clusters: 0,
        breaker_opened: 0,
        instance_hours: 0.0,
        idle_hours: 0.0,
        per_job: BTreeMap::new(),
        unattributed_usd: 0.0,
        timeline: Vec::new(),
    };
    let mut delays = Vec::new();
    let (mut first, mut last) = (Timestamp::MAX, Timestamp::MIN);
    // (created, ended, total cost, setup index, cluster index) for the timeline
    let mut spans = Vec::new();
    // to the last cluster's end: teardowns under way at the stop are billed to their end
    let stop = days
        .iter()
        .flat_map(|(d, _)| d.clusters.iter().filter_map(|c| c.info.ended_at).chain([d.stop]))
        .max()
        .unwrap_or(scenario.end);
    for (n, (day, setup)) in days.iter().enumerate() {
        for (i, c) in day.clusters.iter().enumerate() {
            let ended = c.info.ended_at.unwrap_or(day.stop);
            let usage = observe::fleet_usage(&setup.emr, &c.info, ended);
            let cost = pricing::cluster_cost(&usage, &book).map_err(|missing| {
                anyhow::anyhow!(
                    "{missing}: add it to the scenario's prices (spot: the price CSV, from the start of the day)"
                )
            })?;
            out.total_usd += cost.total();
            out.instance_hours += cost.instance_hours;
            let instances: u32 = usage.iter().map(|u| u.count).sum();
            let times = run_times(&c.steps, ended);
            let used = used_seconds(&times, setup.limits.max_runs_per_cluster);
            let life = ended.duration_since(c.info.created_at).as_secs_f64();
            out.idle_hours += f64::from(instances) * (life - used).max(0.0) / 3600.0;
            let shares = pricing::apportion(cost.total(), &times);
            out.unattributed_usd += shares.unattributed;
            for share in shares.runs {
                *out.per_job.entry(job_of(&share.run).to_owned()).or_default() += share.usd;
            }
            spans.push((c.info.created_at, ended, cost.total(), n, i));
        }
        out.clusters += day.clusters.len();
        out.interruptions += day.interruptions;
        out.breaker_opened += day.breaker_opened;
        for r in &day.runs {
            out.runs += usize::from(r.finished_at.is_some());
            out.failed += usize::from(r.failed_at.is_some());
            out.retries += r.attempts.saturating_sub(1);
            first = first.min(r.due_at);
            last = last.max(r.finished_at.or(r.failed_at).unwrap_or(r.due_at));
            delays.extend(r.waited());
        }
    }
    out.makespan = last.duration_since(first).as_secs_f64().max(0.0);
    delays.sort_by(f64::total_cmp);
    out.delay_p50 = percentile(&delays, 0.50);
    out.delay_p95 = percentile(&delays, 0.95);
    out.timeline = timeline(scenario.start, stop, &spans, |n, i, at| {
        let (day, setup) = &days[n];
        let mut info = day.clusters[i].info.clone();
        info.ended_at = Some(at);
        pricing::cluster_cost(&observe::fleet_usage(&setup.emr, &info, at), &book).map_or(0.0, |c| c.total())
    });
    Ok(out)
}

/// Every 10 minutes from `start` to `stop`: the cost so far (clusters that
/// ended count whole, live ones are priced up to the instant) and the clusters alive.
fn timeline(
    start: Timestamp,
    stop: Timestamp,
    spans: &[(Timestamp, Timestamp, f64, usize, usize)],
    cost_until: impl Fn(usize, usize, Timestamp) -> f64,
) -> Vec<Point> {
    let mut out = Vec::new();
    let mut at = start;
    loop {
        let mut point = Point { at, usd: 0.0, live: 0 };
        for &(from, to, total, n, i) in spans {
            if to <= at {
                point.usd += total;
            } else if from < at {
                point.usd += cost_until(n, i, at);
                point.live += 1;
            } else if from == at {
                point.live += 1;
            }
        }
        out.push(point);
        if at >= stop {
            return out;
        }
        at = (at + SignedDuration::from_mins(10)).min(stop);
    }
}

/// Seconds of a cluster with `slots` run slots used by the runs of `times`:
/// each instant counts by the share of slots busy then.
fn used_seconds(times: &[pricing::RunTime], slots: usize) -> f64 {
    let mut edges: Vec<(Timestamp, i64)> = times.iter().flat_map(|t| [(t.from, 1), (t.to, -1)]).collect();
    edges.sort();
    let (mut busy, mut since, mut total) = (0i64, None::<Timestamp>, 0.0);
    let slots = slots.max(1) as f64;
    for (at, d) in edges {
        if let Some(since) = since {
            total += at.duration_since(since).as_secs_f64() * (busy as f64).min(slots) / slots;
        }
        busy += d;
        since = Some(at);
    }
    total
}

/// The job of a step name `job/index#attempt`.
fn job_of(step: &str) -> &str {
    let run = step.split_once('#').map_or(step, |(run, _)| run);
    run.rsplit_once('/').map_or(run, |(job, _)| job)
}

/// The `q` quantile of sorted `values` (nearest rank), 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Seconds for people: `7m30s`, `0s`.
pub fn secs(s: f64) -> String {
    if s < 1.0 {
        return "0s".to_owned();
    }
    human::duration(std::time::Duration::from_secs(s.round() as u64))
}

/// The comparison as a Markdown table; `reference` is the row the savings are measured against.
pub fn table(outcomes: &[Outcome], reference: usize) -> String {
    let base = outcomes.get(reference).map(|o| o.total_usd).filter(|b| *b > 0.0);
    let mut out = String::from(
        "| strategy | total USD | USD per run | saving vs per-run on-demand | makespan | p50 wait | p95 wait | clusters lost | retries | failed runs | clusters | instance-hours | unused instance-hours |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for o in outcomes {
        let saving = base.map_or("–".to_owned(), |b| {
            format!("{:.1} %", 100.0 * (1.0 - o.total_usd / b))
        });
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |\n",
            o.label,
            usd(o.total_usd),
            usd(o.per_run()),
            saving,
            secs(o.makespan),
            secs(o.delay_p50),
            secs(o.delay_p95),
            o.interruptions,
            o.retries,
            o.failed,
            o.clusters,
            o.instance_hours,
            o.idle_hours,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let t = |m: i64| Timestamp::UNIX_EPOCH + SignedDuration::from_mins(m);
        let run = |from: i64, to: i64| pricing::RunTime {
            run: "r".to_owned(),
            from: t(from),
            to: t(to),
        };
        // 0-5 one run, 5-10 two, 10-20 one, 30-31 one; of two slots
        let times = [run(0, 10), run(5, 20), run(30, 31)];
        assert_eq!(used_seconds(&times, 2), (2.5 + 5.0 + 5.0 + 0.5) * 60.0);
        assert_eq!(used_seconds(&times, 1), 21.0 * 60.0, "one slot: the union");
        assert_eq!(used_seconds(&[], 4), 0.0);
        assert_eq!(job_of("hourly-3/17#2"), "hourly-3");
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.95), 4.0);
        assert_eq!(secs(450.0), "7m30s");
    }
}
