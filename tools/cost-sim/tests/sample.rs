//! The shipped sample (examples/cost/day.yaml): the event loop keeps the
//! pool's limits over a real day of runs, and docs/cost.md, its chart and
//! the synthetic price trace are what the code produces today. When a
//! figure changes, run `make generate` and commit.

use std::{path::PathBuf, time::Duration};

use ade_cost_sim::{
    PER_RUN_ON_DEMAND, chart, compare, prices, recommend, scenario::Scenario, sim, spliced, strategy::Setup,
    strategy::Strategy, summary,
};
use ade_operator::{config, providers::emr::api::StepState};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample() -> Scenario {
    Scenario::load(&root().join("examples/cost/day.yaml")).expect("the sample loads")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_pool_keeps_its_limits_over_the_sample_day() {
    let s = sample();
    let pool = &s.pools[0];
    let day = sim::run(&s, 0, &Setup::new(pool, Strategy::Pool), s.seed);
    assert_eq!(day.runs.len(), 612, "24 hourly jobs × 24, 6 daily, 30 backfill batches");
    assert!(day.runs.iter().all(|r| r.finished_at.is_some()), "every run finishes");
    for c in &day.clusters {
        // at any instant a cluster runs at most maxRunsPerCluster steps
        for s in c.steps.iter().filter_map(|s| s.started_at) {
            let at_once = c
                .steps
                .iter()
                .filter(|o| o.started_at.is_some_and(|f| f <= s) && o.ended_at.is_none_or(|e| e > s))
                .count();
            assert!(
                at_once <= pool.limits.max_runs_per_cluster,
                "{} ran {at_once} at once",
                c.info.id
            );
        }
    }
    // maxClusters holds at every creation (terminating clusters do not count, as for the planner)
    for c in &day.clusters {
        let t = c.info.created_at;
        let live = day.clusters.iter().filter(|o| o.live_at(t)).count();
        assert!(live <= pool.limits.max_clusters, "{live} clusters at {t}");
    }
    let completed = day
        .clusters
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| s.state == StepState::Completed)
        .count();
    assert_eq!(completed, 612, "each run completes exactly once");
}

#[test]
fn docs_cost_md_and_its_charts_are_what_the_samples_give() {
    let doc = read("docs/cost.md");
    for (name, chart_file) in [
        ("day.yaml", "docs/cost-day.svg"),
        ("spot-storm.yaml", "docs/cost-storm.svg"),
    ] {
        let path = root().join("examples/cost").join(name);
        let s = Scenario::load(&path).expect("the sample loads");
        let outcomes = compare(&s).expect("compare");
        assert!(
            outcomes[0].total_usd < outcomes[PER_RUN_ON_DEMAND].total_usd,
            "{name}: the pool is cheaper than a cluster per run"
        );
        let text = summary(&path, &s, &outcomes);
        assert!(
            spliced(&doc, name) == Some(text.as_str()),
            "docs/cost.md is stale; run `make generate` and commit. {name} now gives:\n{text}"
        );
        let svg = chart::svg(&chart::title(&path), s.start, &outcomes, &s.storms);
        assert!(
            read(chart_file) == svg,
            "{chart_file} is stale; run `make generate` and commit"
        );
        assert_eq!(
            compare(&s).expect("again"),
            outcomes,
            "{name}: the same seed gives the same day"
        );
    }
}

#[test]
fn the_shipped_price_trace_is_the_labelled_synthetic_one() {
    let csv = read("examples/cost/spot-prices.csv");
    let on_demand = config::parse_prices(config::DEFAULT_ON_DEMAND).expect("defaults parse");
    let types = ["m5.xlarge".to_owned(), "m5.2xlarge".to_owned()];
    let from = "2026-11-25T00:00:00Z".parse().expect("instant");
    let regenerated = prices::synthetic(&types, &on_demand, "us-east-1a", from, 48, 1).expect("synthetic");
    assert!(
        csv == regenerated,
        "examples/cost/spot-prices.csv is not `cost-sim synth-prices --types m5.xlarge,m5.2xlarge --zone us-east-1a --from 2026-11-25T00:00:00Z --hours 48 --seed 1`"
    );
}

/// docs/cost.md's `recommend` block for the sample `name` (the whole sweep: about 20 s in a debug build).
fn recommend_block_is_current(name: &str) {
    let path = root().join("examples/cost").join(name);
    let s = Scenario::load(&path).expect("the sample loads");
    let candidates = recommend::sweep(&s, &recommend::Grid::default()).expect("sweep");
    let text = recommend::report(&path, &s, &candidates, Duration::from_secs(600), 3).expect("report");
    assert!(
        spliced(&read("docs/cost.md"), &format!("recommend {name}")) == Some(text.as_str()),
        "docs/cost.md's recommend block is stale; run `make generate` and commit. {name} now gives:\n{text}"
    );
}

#[test]
fn docs_cost_md_recommends_what_the_sweep_finds_for_the_day() {
    recommend_block_is_current("day.yaml");
}

#[test]
fn docs_cost_md_recommends_what_the_sweep_finds_for_the_storm() {
    recommend_block_is_current("spot-storm.yaml");
}
