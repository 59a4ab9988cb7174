//! Prometheus, for real: a Prometheus built from its upstream module scrapes
//! the operator every second while a backfill runs, with the chart's alert
//! rules loaded; PromQL over its HTTP API then returns the runs by phase, the
//! finished-run counters and the cost per job and pool, which must match the
//! EtlRuns' own status. `promtool check metrics` lints the operator's
//! `/metrics` as a plain scraper gets it.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::time::Duration;

use ade_e2e::{
    Namespace, Operator, get_json, install_chart, kubectl_with_stdin,
    prometheus::{Prometheus, promtool_check_metrics},
    repo_root, wait_for,
};
use serde_json::Value;

/// The value of the sample of `result` whose labels include `labels`.
fn value(result: &[Value], labels: &[(&str, &str)]) -> Option<f64> {
    result
        .iter()
        .find(|s| labels.iter().all(|(k, v)| s["metric"][*k] == *v))
        .and_then(|s| s["value"][1].as_str()?.parse().ok())
}

#[test]
fn prometheus_scrapes_runs_and_cost_during_a_backfill() {
    install_chart();
    // The operator reconciles every namespace: the alerts below are about this
    // backfill, so earlier tests' namespaces finish their teardown first.
    wait_for("earlier tests' namespaces to be gone", Duration::from_secs(180), || {
        let all = get_json("default", &["namespaces"])?["items"].as_array()?.clone();
        let terminating: Vec<&str> = all
            .iter()
            .filter(|n| n["status"]["phase"] == "Terminating")
            .filter_map(|n| n["metadata"]["name"].as_str())
            .collect();
        terminating.is_empty().then_some(())
    });
    let ns = Namespace::create("prom");
    // 36 USD per vCPU-hour is a cent a second: a run of a few seconds costs cents.
    let operator = Operator::start_with("prom", &["--price-cpu-hour=36"], &[]);
    let rules = repo_root().join("charts/ade-operator/monitoring/alerts.yaml");
    let prometheus = Prometheus::start(&[("ade-operator", operator.port)], &[rules]);
    let yaml = "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec: {provider: kubernetes}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: nightly}
spec:
  poolRef: {name: batch}
  schedule: '0 * 1 1 *'
  timeZone: UTC
  catchUp: {policy: none}
  window: {size: 1h}
  backfill: {from: '2026-01-01T00:00:00Z', to: '2026-01-01T08:00:00Z', parallelism: 3}
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}']
      resources: {requests: {cpu: '1', memory: 1Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 3s}}
";
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], yaml);
    assert!(out.success, "kubectl apply failed:\n{}", out.stderr);
    let runs = wait_for("eight backfill runs to succeed", Duration::from_secs(240), || {
        let all = get_json(&ns.name, &["etlruns"])?["items"].as_array()?.clone();
        (all.len() == 8 && all.iter().all(|r| r["status"]["phase"] == "Succeeded")).then_some(all)
    });
    let status_cost: f64 = runs
        .iter()
        .filter_map(|r| r["status"]["estimatedCostUSD"].as_str()?.parse::<f64>().ok())
        .sum();
    assert!(status_cost > 0.0, "the runs report a cost: {runs:?}");

    // What a plain scraper (no OpenMetrics in Accept) gets passes promtool's lint.
    let (code, exposition) = operator.get("/metrics").expect("the operator serves /metrics");
    assert_eq!(code, 200);
    let (ok, lint) = promtool_check_metrics(&exposition);
    assert!(
        ok,
        "promtool check metrics failed:\n{lint}\n--- /metrics:\n{exposition}"
    );

    let ns_sel = format!("namespace=\"{}\"", ns.name);
    let by_phase = format!("sum by (phase) (ade_etl_runs{{{ns_sel}}})");
    let phases = wait_for(
        "Prometheus to see eight succeeded runs",
        Duration::from_secs(60),
        || {
            let result = prometheus.query(&by_phase)?;
            (value(&result, &[("phase", "Succeeded")]) == Some(8.0)).then_some(result)
        },
    );
    println!("{by_phase}\n  => {}", Value::from(phases));
    // Scraped during the backfill, not only after it: runs were live at some scrape.
    let live = format!("max_over_time(sum(ade_etl_runs{{{ns_sel},phase=~\"Pending|Provisioning|Running\"}})[10m:1s])");
    let result = prometheus.query(&live).expect("the live-runs query");
    let most_live = value(&result, &[]).unwrap_or(0.0);
    println!("{live}\n  => {most_live}");
    assert!(
        (1.0..=3.0).contains(&most_live),
        "between 1 and parallelism (3) runs live at some scrape: {result:?}"
    );

    // The counter moves after the run's write and the release of its Job (a
    // TTL patch): a scrape may see the eighth run Succeeded before it counts.
    let finished = format!("sum by (etl_job) (ade_etl_run_transitions_total{{{ns_sel},phase=\"Succeeded\"}})");
    let result = wait_for(
        "eight Succeeded transitions in Prometheus",
        Duration::from_secs(30),
        || {
            let result = prometheus.query(&finished)?;
            (value(&result, &[("etl_job", "nightly")]) == Some(8.0)).then_some(result)
        },
    );
    println!("{finished}\n  => {}", Value::from(result));

    let cost = format!("sum by (etl_job, pool) (ade_etl_run_cost_usd_total{{{ns_sel}}})");
    let result = wait_for(
        "the cost of all eight runs in Prometheus",
        Duration::from_secs(30),
        || {
            let result = prometheus.query(&cost)?;
            let usd = value(&result, &[("etl_job", "nightly"), ("pool", "batch")])?;
            ((usd - status_cost).abs() < 1e-6).then_some(result)
        },
    );
    println!(
        "{cost}\n  => {} (the runs' status.estimatedCostUSD sum to {status_cost:.4})",
        Value::from(result)
    );
    let pool_cost = format!("ade_pool_cost_usd{{{ns_sel},pool=\"batch\"}}");
    assert!(
        prometheus.query(&pool_cost).is_some_and(|r| r.len() == 1),
        "{pool_cost}"
    );

    // The chart's alert rules load and evaluate without errors; none fires.
    let groups = wait_for("every rule evaluated", Duration::from_secs(30), || {
        let answer = prometheus.api("/api/v1/rules")?;
        let groups = answer["data"]["groups"].as_array()?.clone();
        let rules: Vec<&Value> = groups
            .iter()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        (rules.len() == 7 && rules.iter().all(|r| r["health"] == "ok")).then_some(groups)
    });
    let firing: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter(|r| r["state"] != "inactive")
        .collect();
    if !firing.is_empty() {
        // What failed, by controller and category, and the operator's own words.
        let (_, metrics) = operator.get("/metrics").unwrap_or_default();
        let failures: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("ade_reconcile_failures_total") || l.starts_with("ade_reconciliations_total"))
            .collect();
        let log = operator.log();
        let failed: Vec<&str> = log.lines().filter(|l| l.contains("reconcile failed")).collect();
        panic!(
            "alerts pending or firing on a healthy backfill: {firing:?}\n{}\n--- the operator's failed reconciles:\n{}",
            failures.join("\n"),
            failed.join("\n")
        );
    }
    drop(prometheus);
}
