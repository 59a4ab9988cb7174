//! The event loop against hand-computed days: with no start-up time, no
//! teardown, fixed durations, a constant spot price and no interruptions,
//! every figure follows from the planner's rules by arithmetic.

use std::collections::BTreeMap;

use ade_cost_sim::{
    compare,
    report::Outcome,
    runs::MAX_INTERRUPTIONS,
    scenario::{Scenario, ScenarioFile},
    sim,
    strategy::{Setup, Strategy},
};
use ade_operator::providers::emr::{Market, api::StepState};

const POOL: &str = "
day: 2026-11-25
zone: z
spotPrices: unused
startup: {fixed: 0s}
teardown: 0s
prices:
  onDemand: m5.xlarge=0.192,m5.2xlarge=0.384
  emrUplift: m5.xlarge=0.048,m5.2xlarge=0.096
pools:
  - name: p
    spec:
      provider: emr
      capacity: {maxClusters: 1, maxRunsPerCluster: 2, idleTimeout: 10m, MAXCONCURRENT}
      emr:
        releaseLabel: emr-7.5.0
        serviceRole: r
        instanceProfile: i
        primary: {instanceTypes: [m5.xlarge], onDemand: 1}
        core: {instanceTypes: [m5.2xlarge], spot: 2}
workload:
  - name: a
    backfill: {at: '00:00', batches: 3}
    parallelism: 3
    duration: {fixed: 30m}
";

/// The m5.2xlarge spot price, all day.
const SPOT: f64 = 0.1;

fn scenario(max_concurrent: Option<u32>) -> Scenario {
    scenario_with(max_concurrent, &[])
}

/// The scenario with `maxConcurrentRuns` and some text replaced.
fn scenario_with(max_concurrent: Option<u32>, replace: &[(&str, &str)]) -> Scenario {
    let mut yaml = POOL.replace(
        ", MAXCONCURRENT",
        &max_concurrent.map_or(String::new(), |n| format!(", maxConcurrentRuns: {n}")),
    );
    for (from, to) in replace {
        assert!(yaml.contains(from), "{from}");
        yaml = yaml.replace(from, to);
    }
    let file: ScenarioFile = serde_saphyr::from_str(&yaml).expect("scenario");
    let prices = format!("time,instance_type,zone,usd_per_hour\n2026-11-25T00:00:00Z,m5.2xlarge,z,{SPOT}\n");
    Scenario::from_file(&file, &prices, None).expect("valid scenario")
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-9, "{what}: {a} != {b}");
}

fn by_label<'a>(outcomes: &'a [Outcome], prefix: &str) -> &'a Outcome {
    outcomes
        .iter()
        .find(|o| o.label.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}"))
}

#[test]
fn a_day_with_no_startup_and_no_interruptions_costs_what_arithmetic_says() {
    let outcomes = compare(&scenario(None)).expect("compare");
    let (od_primary, od_core, spot_core) = (0.192 + 0.048, 0.384 + 0.096, SPOT + 0.096);

    // The pool: one cluster (maxClusters 1) takes runs 0 and 1 at 00:00; run 2
    // waits for a slot until 00:30; the cluster idles from 01:00 and goes at
    // 01:10 (idleTimeout 10m, no teardown): 70 minutes of 1 primary + 2 spot cores.
    let pool = by_label(&outcomes, "pool");
    close(pool.total_usd, 7.0 / 6.0 * (od_primary + 2.0 * spot_core), "pool cost");
    assert_eq!(
        (pool.clusters, pool.runs, pool.retries, pool.interruptions),
        (1, 3, 0, 0)
    );
    close(pool.delay_p50, 0.0, "pool p50 wait");
    close(pool.delay_p95, 1800.0, "pool p95 wait: run 2 waited 30 minutes");
    close(pool.makespan, 3600.0, "makespan");
    close(pool.instance_hours, 3.0 * 7.0 / 6.0, "instance-hours");
    // unused: the 10 idle minutes, and the free slot while run 2 ran alone (00:30-01:00)
    close(pool.idle_hours, 3.0 * (10.0 + 15.0) / 60.0, "unused instance-hours");
    assert_eq!(pool.per_job.keys().collect::<Vec<_>>(), ["a"]);
    close(pool.per_job["a"], pool.total_usd, "the job carries the whole cost");

    // One on-demand cluster per run, a primary and one core each (two runs'
    // worth of cores per two-run cluster), for its 30 minutes.
    let per_run = by_label(&outcomes, "on-demand cluster per run");
    close(
        per_run.total_usd,
        3.0 * 0.5 * (od_primary + od_core),
        "per-run on-demand",
    );
    assert_eq!(per_run.clusters, 3);
    close(per_run.delay_p95, 0.0, "no wait");

    let spot = by_label(&outcomes, "spot cluster per run");
    close(spot.total_usd, 3.0 * 0.5 * (od_primary + spot_core), "per-run spot");

    // Sized for the peak of 3 runs: 3 on-demand cores, up the whole day.
    let long = by_label(&outcomes, "long-lived");
    assert_eq!(long.label, "long-lived on-demand (3 runs)");
    close(long.total_usd, 24.0 * (od_primary + 3.0 * od_core), "long-lived");
    assert_eq!(long.clusters, 1);

    // The timeline ends at the day's total.
    for o in &outcomes {
        close(o.timeline.last().map_or(0.0, |p| p.usd), o.total_usd, &o.label);
    }
}

#[test]
fn teardown_is_billed_and_the_timeline_ends_at_the_total() {
    let s = scenario_with(None, &[("teardown: 0s", "teardown: 2m")]);
    let outcomes = compare(&s).expect("compare");
    let pool = by_label(&outcomes, "pool");
    // terminated at 01:10, gone at 01:12
    close(
        pool.total_usd,
        72.0 / 60.0 * (0.24 + 2.0 * (SPOT + 0.096)),
        "pool cost with teardown",
    );
    let per_run = by_label(&outcomes, "on-demand cluster per run");
    close(
        per_run.total_usd,
        3.0 * 32.0 / 60.0 * (0.24 + 0.48),
        "per-run clusters billed 2 more minutes",
    );
    for o in &outcomes {
        close(o.timeline.last().map_or(0.0, |p| p.usd), o.total_usd, &o.label);
    }
}

fn minutes_from_start(s: &Scenario, t: Option<jiff::Timestamp>) -> i64 {
    t.expect("set").duration_since(s.start).as_mins()
}

#[test]
fn the_pool_queue_admits_runs_first_come_and_a_backfill_keeps_its_parallelism() {
    // all three created at 00:00 (parallelism 3), admitted one at a time
    let s = scenario(Some(1));
    let day = sim::run(&s, 0, &Setup::new(&s.pools[0], Strategy::Pool), 1);
    let starts: Vec<i64> = day.runs.iter().map(|r| minutes_from_start(&s, r.started_at)).collect();
    assert_eq!(starts, [0, 30, 60], "one run at a time, in creation order");
    let waits: Vec<f64> = day.runs.iter().filter_map(|r| r.waited()).collect();
    assert_eq!(waits, [0.0, 1800.0, 3600.0]);
    assert_eq!(
        day.clusters.len(),
        1,
        "the cluster is reused: never idle for 10 minutes"
    );

    // parallelism 2: the third batch exists only once the first finished
    let s = scenario_with(Some(1), &[("parallelism: 3", "parallelism: 2")]);
    let day = sim::run(&s, 0, &Setup::new(&s.pools[0], Strategy::Pool), 1);
    let ready: Vec<i64> = day.runs.iter().map(|r| minutes_from_start(&s, r.ready_at)).collect();
    assert_eq!(ready, [0, 0, 30], "created when a slot of the job is free");
    let starts: Vec<i64> = day.runs.iter().map(|r| minutes_from_start(&s, r.started_at)).collect();
    assert_eq!(starts, [0, 30, 60]);
    assert_eq!(
        day.runs[2].waited(),
        Some(1800.0),
        "waits from its creation, not from its due time"
    );
}

#[test]
fn interrupted_runs_are_retried_and_the_breaker_moves_new_clusters_on_demand() {
    let mut s = scenario(None);
    // every spot core lost within minutes
    s.hazard = BTreeMap::from([("m5.2xlarge".to_owned(), 6.0)]);
    let pool = Setup::new(&s.pools[0], Strategy::Pool);
    let day = sim::run(&s, 0, &pool, 3);
    assert!(day.runs.iter().all(|r| r.finished_at.is_some()), "every run finishes");
    assert!(day.interruptions > 0 && day.breaker_opened > 0, "{day:?}");
    let steps = || day.clusters.iter().flat_map(|c| &c.steps);
    for r in &day.runs {
        let of_run = |state| {
            steps()
                .filter(|st| st.name.starts_with(&format!("{}#", r.id)) && st.state == state)
                .count()
        };
        assert_eq!(of_run(StepState::Completed), 1, "{} completed once", r.id);
        let lost = of_run(StepState::Interrupted);
        assert_eq!(
            r.attempts as usize,
            lost + 1,
            "{}: one attempt per loss, plus the last",
            r.id
        );
        // it ran its full 30 minutes once, plus whatever its lost attempts ran
        assert!(
            r.ran_seconds >= 1800.0 && (lost > 0 || r.ran_seconds == 1800.0),
            "{r:?}"
        );
    }
    assert!(
        day.clusters.iter().any(|c| c.market() == Market::OnDemand),
        "the open breaker bought on-demand"
    );
}

#[test]
fn a_run_lost_more_than_the_operators_limit_fails() {
    let mut s = scenario(None);
    // spot capacity lost within seconds, and no breaker: every attempt is lost
    s.hazard = BTreeMap::from([("m5.2xlarge".to_owned(), 3600.0)]);
    let day = sim::run(&s, 0, &Setup::new(&s.pools[0], Strategy::PerRunSpot), 3);
    for r in &day.runs {
        assert_eq!(r.finished_at, None, "{r:?}");
        assert!(r.failed_at.is_some(), "{r:?}");
        assert_eq!(
            r.attempts as usize,
            MAX_INTERRUPTIONS + 1,
            "the operator retries 10 losses, then fails"
        );
    }
    let outcome = ade_cost_sim::simulate(&s, "storm", |p| Setup::new(p, Strategy::PerRunSpot)).expect("outcome");
    assert_eq!((outcome.runs, outcome.failed, outcome.retries), (0, 3, 30));
}

#[test]
fn spot_losses_follow_the_base_rate_and_the_storms() {
    use ade_cost_sim::{scenario::Storm, sim::first_loss};
    let t0: jiff::Timestamp = "2026-11-25T00:00:00Z".parse().expect("instant");
    let at = |mins: i64| t0 + jiff::SignedDuration::from_mins(mins);
    // a constant 2 per hour: a draw of 1 falls after half an hour
    assert_eq!(first_loss(t0, 1.0, 2.0, 4.0, &[]), Some(at(30)));
    assert_eq!(first_loss(t0, 1.0, 0.0, 4.0, &[]), None, "on-demand: never");
    // a storm of 1 per instance-hour from 01:00 to 02:00 on 2 instances: rate 2 then
    let storm = [Storm {
        from: at(60),
        to: at(120),
        per_instance_hour: 1.0,
    }];
    assert_eq!(first_loss(t0, 1.0, 0.0, 2.0, &storm), Some(at(90)));
    assert_eq!(
        first_loss(t0, 3.0, 0.0, 2.0, &storm),
        None,
        "the storm passed before the draw was used up"
    );
    // base 1 per hour: 1 used by 01:00, then 3 per hour: 1 more in 20 minutes
    assert_eq!(first_loss(t0, 2.0, 1.0, 2.0, &storm), Some(at(80)));
    // launched during the storm
    assert_eq!(first_loss(at(100), 0.5, 0.0, 2.0, &storm), Some(at(115)));
}

#[test]
fn recommend_keeps_the_cheapest_setting_within_the_wait_bound() {
    use ade_cost_sim::recommend::{Grid, best, snippet, sweep};
    use std::time::Duration;
    let s = scenario(None);
    let grid = Grid {
        idle_timeouts: vec![Duration::from_secs(60), Duration::from_secs(3600)],
        runs_per_cluster: vec![1, 3],
        min_clusters: vec![0],
        breaker_max_rates: vec![1.0],
    };
    let all = sweep(&s, &grid).expect("sweep");
    // 2 idle timeouts × 2 run counts × 2 breaker rates (the pool's 0.2 is added)
    assert_eq!(all.len(), 8);
    // with 3 runs per cluster (maxClusters 1 × 2 slots = 2 slots → 1 cluster of 3) all start at once
    let bound = Duration::ZERO;
    let pick = best(&all, bound).expect("a setting with no wait");
    assert_eq!(
        pick.setup.limits.max_runs_per_cluster, 3,
        "one cluster for all three runs: no wait"
    );
    assert_eq!(
        pick.setup.limits.idle_timeout,
        Duration::from_secs(60),
        "the short idle timeout is cheaper"
    );
    let text = snippet(&s.pools[0], pick, bound);
    assert!(
        text.contains("maxRunsPerCluster: 3") && text.contains("idleTimeout: 1m"),
        "{text}"
    );
    assert!(
        text.contains("core: {instanceTypes: [m5.2xlarge], onDemand: 0, spot: 3}"),
        "{text}"
    );
}

#[test]
fn traces_and_bad_scenarios_get_errors_that_name_the_line_or_field() {
    let file: ScenarioFile = serde_saphyr::from_str(&POOL.replace(", MAXCONCURRENT", "")).expect("scenario");
    let prices = "2026-11-25T00:00:00Z,m5.2xlarge,z,0.1\n";
    let trace = "arrival,job,pool,duration\n# a comment\n2026-11-25T05:00:00Z,t,p,10m\n2026-11-25T04:00:00Z,t,,5m\n";
    let s = Scenario::from_file(&file, prices, Some(trace)).expect("trace");
    assert_eq!(s.runs.len(), 5, "3 backfill runs and 2 from the trace");
    let last = s.runs.last().expect("runs");
    assert_eq!((last.id(), last.seconds), ("t/0".to_owned(), 600.0), "in arrival order");
    let err = |trace: &str| {
        Scenario::from_file(&file, prices, Some(trace))
            .map(|_| ())
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err("2026-11-25T05:00:00Z,t,p"),
        "trace line 1: expected arrival,job,pool,duration, got \"2026-11-25T05:00:00Z,t,p\""
    );
    assert!(err("2026-11-25T05:00:00Z,t,q,5m").contains("trace line 1: job t: no pool named \"q\""));
    assert!(err("2026-11-25T05:00:00Z,t,p,5 minutes").contains("trace line 1: invalid duration"));
    let wrong = |from: &str, to: &str| {
        let file: ScenarioFile =
            serde_saphyr::from_str(&POOL.replace(", MAXCONCURRENT", "").replace(from, to)).expect("yaml");
        Scenario::from_file(&file, prices, None)
            .map(|_| ())
            .expect_err("invalid")
            .to_string()
    };
    assert!(wrong("provider: emr", "provider: eks").contains("only emr pools"));
    assert!(err("2026-11-25T05:00:00Z,a,p,5m").contains("job a has two runs numbered 0: job names must be unique"));
    assert!(
        wrong(
            "backfill: {at: '00:00', batches: 3}",
            "backfill: {at: '25:00', batches: 3}"
        )
        .contains("backfill.at")
    );
    assert!(wrong("duration: {fixed: 30m}", "duration: {min: 30m}").contains("give `fixed`, or `min` and `max`"));
    assert!(
        Scenario::from_file(&file, "2026-11-25T00:00:00Z,m5.2xlarge,elsewhere,0.1\n", None)
            .map(|_| ())
            .expect_err("no prices")
            .to_string()
            .contains("no prices for zone z")
    );
}
