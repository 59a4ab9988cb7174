//! A large backfill beside a minute schedule, against the real control plane:
//! every window of the range gets exactly one run, at most `parallelism` at
//! once, and the job's `status.backfill` matches the runs at the end. (A
//! reconcile used to walk every tick of the range and of the day before each
//! window, so a backfill like this one stalled after its first wave.)
//!
//! It also measures the operator's API traffic: the LIST requests on ade.dev
//! resources (from the kube-apiserver's `apiserver_request_total`) for what
//! the reconciles read (runs, jobs, pools) must not exceed, by more than the
//! watches' start-up lists, those for kinds the operator only watches.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{collections::BTreeSet, time::Duration};

use ade_e2e::{Namespace, Operator, apiserver_metrics, get_json, install_chart, kubectl_with_stdin, wait_for};
use serde_json::Value;

fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or("")
}

#[test]
fn a_backfill_of_sixty_windows_beside_a_minute_schedule_completes() {
    install_chart();
    let ns = Namespace::create("backfill60");
    let lists_before = apiserver_metrics::list_requests("ade.dev");
    // This test's own `kubectl get etlruns` calls are LISTs too: counted here.
    let mut own_run_lists = 0u64;
    let operator = Operator::start("backfill60");
    let yaml = "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec: {provider: kubernetes}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: minutes}
spec:
  poolRef: {name: batch}
  schedule: '* * * * *'
  timeZone: UTC
  catchUp: {policy: none}
  historyLimit: {succeeded: 200, failed: 200}
  backfill: {from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z', parallelism: 20}
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}']
      podMetadata: {annotations: {e2e.ade.dev/duration: 1s}}
";
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], yaml);
    assert!(out.success, "kubectl apply failed:\n{}", out.stderr);

    let backfill_runs = |all: &[Value]| -> Vec<Value> {
        all.iter()
            .filter(|r| r["spec"]["reason"] == "backfill")
            .cloned()
            .collect()
    };
    let mut most_live = 0;
    let done = wait_for("sixty backfill runs to succeed", Duration::from_secs(300), || {
        own_run_lists += 1;
        let all = get_json(&ns.name, &["etlruns"])?["items"].as_array()?.clone();
        let backfill = backfill_runs(&all);
        let live = backfill
            .iter()
            .filter(|r| !matches!(phase(r), "Succeeded" | "Failed" | "Cancelled"))
            .count();
        most_live = most_live.max(live);
        (backfill.len() == 60 && backfill.iter().all(|r| phase(r) == "Succeeded")).then_some(backfill)
    });
    assert!(most_live <= 20, "{most_live} backfill runs were live at once");
    let ids: BTreeSet<String> = done
        .iter()
        .filter_map(|r| r["spec"]["batchId"].as_str().map(str::to_owned))
        .collect();
    let want: BTreeSet<String> = (0..60).map(|m| format!("2026-01-01T00{m:02}")).collect();
    assert_eq!(ids, want, "one run for every window of the range");
    // The job's status catches up with its runs.
    let job = wait_for(
        "the job's backfill status to match its runs",
        Duration::from_secs(60),
        || {
            let job = get_json(&ns.name, &["etljob/minutes"])?;
            (job["status"]["backfill"]["succeeded"] == 60).then_some(job)
        },
    );
    let progress = &job["status"]["backfill"];
    assert_eq!(progress["total"], 60, "{progress}");
    assert_eq!(progress["created"], 60, "{progress}");
    assert_eq!(progress["failed"], 0, "{progress}");
    assert_eq!(progress["cursor"], "2026-01-01T00:59:00Z", "{progress}");
    // The schedule ran beside the backfill.
    let scheduled = wait_for("a scheduled run to succeed", Duration::from_secs(150), || {
        own_run_lists += 1;
        let all = get_json(&ns.name, &["etlruns"])?["items"].as_array()?.clone();
        all.into_iter()
            .find(|r| r["spec"]["reason"] == "schedule" && phase(r) == "Succeeded")
    });
    assert!(
        scheduled["spec"]["batchId"]
            .as_str()
            .is_some_and(|id| id.starts_with("2026-")),
        "{scheduled}"
    );
    drop(operator);
    let mut lists = apiserver_metrics::difference(&lists_before, &apiserver_metrics::list_requests("ade.dev"));
    if let Some(runs) = lists.get_mut("etlruns") {
        *runs = runs.saturating_sub(own_run_lists);
    }
    let runs = get_json(&ns.name, &["etlruns"]).map_or(0, |l| l["items"].as_array().map_or(0, Vec::len));
    // The counter is the whole API server's: kube-controller-manager relists
    // every kind now and then. The kinds the operator only watches (it lists
    // them once, at start) are the control group: what the operator's
    // reconciles read (runs, jobs, pools) may exceed them by its own watches'
    // start-up lists, never by something that grows with the runs.
    let count = |kind: &str| lists.get(kind).copied().unwrap_or(0);
    let control = count("streamconsumers").max(count("validationsuites"));
    let excess: u64 = ["etlruns", "etljobs", "clusterpools"]
        .iter()
        .map(|k| count(k).saturating_sub(control))
        .sum();
    println!(
        "LIST requests on ade.dev resources during the test, {runs} runs: {lists:?}; \
         the operator's reads above the control group (kinds it only watches): {excess}"
    );
    assert!(
        excess < 10,
        "the operator listed runs, jobs or pools {excess} times more than the kinds it only watches, for {runs} runs ({lists:?}): reconciles must read the watch caches"
    );
}
