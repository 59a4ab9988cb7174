//! `kubectl ade`, the plugin, as a user calls it: the real `kubectl` finds
//! `kubectl-ade` on PATH and runs it against the local control plane while
//! the operator backfills a job on a kubernetes pool that takes one run at a
//! time: `batches`, `why` (on a queued run and a finished one), `rerun
//! --wait`, `cost`, `backfill` and `run-now --wait`.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{path::PathBuf, sync::Once, time::Duration};

use ade_e2e::{Namespace, Operator, get_json, install_chart, kubectl_with_env, kubectl_with_stdin, objects, wait_for};

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
}

/// The folder holding `kubectl-ade`: the target directory `ade-validate` was built in.
fn plugin_dir() -> PathBuf {
    ade_e2e::executor::validate_bin()
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// `kubectl ade ARGS -n NS` with the plugin on PATH: (success, stdout + stderr).
fn ade(ns: &str, args: &[&str]) -> (bool, String) {
    let path = format!(
        "{}:{}",
        plugin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut all = vec!["ade"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-n", ns]);
    let out = kubectl_with_env(&all, &[("PATH", &path)]);
    let text = format!("{}{}", out.stdout, out.stderr);
    eprintln!("$ kubectl ade {} -n {ns}\n{text}", args.join(" "));
    (out.success, text)
}

const OBJECTS: &str = "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec:
  provider: kubernetes
  capacity: {maxConcurrentRuns: 1}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: history}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  backfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T03:00:00Z', parallelism: 3}
  task:
    container:
      image: busybox
      resources: {requests: {cpu: '16', memory: 128Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 4s}}
";

fn phase(run: &serde_json::Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or_default()
}

#[test]
fn kubectl_ade_explains_reruns_backfills_and_costs_batches() {
    setup();
    let ns = Namespace::create("plugin");
    let _operator = Operator::start("plugin");
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], OBJECTS);
    assert!(out.success, "{}", out.stderr);

    // One run at a time: while one runs, `why` on a waiting one says what it waits for.
    let queued = wait_for("a run queued behind the pool's limit", Duration::from_secs(60), || {
        objects(&ns.name, &["etlrun"]).into_iter().find_map(|r| {
            let waits = ade_e2e::condition(&r, "Scheduled")?["reason"] == "Queued" && phase(&r) == "Pending";
            waits.then(|| ade_e2e::name(&r).to_owned())
        })
    });
    let (ok, why) = ade(&ns.name, &["why", &queued]);
    assert!(ok, "{why}");
    assert!(
        why.contains(&format!("{queued} (batch 2026-11-01T0"))
            && why.contains("of EtlJob history) waits (Queued): waiting for capacity in ClusterPool batch"),
        "{why}"
    );

    let runs = wait_for("three batches to succeed", Duration::from_secs(120), || {
        let runs = objects(&ns.name, &["etlrun"]);
        (runs.len() == 3 && runs.iter().all(|r| phase(r) == "Succeeded")).then_some(runs)
    });
    let (ok, table) = ade(&ns.name, &["batches", "history"]);
    assert!(ok, "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("BATCH") && lines[0].contains("VALIDATION"),
        "{table}"
    );
    for h in 0..3 {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("2026-11-01T0{h} ")))
            .unwrap_or_else(|| panic!("batch {h} in {table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1..5], ["Succeeded", "1", "1", "-"], "{row}");
    }
    let first = ade_e2e::name(&runs[0]).to_owned();
    let (ok, why) = ade(&ns.name, &["why", &first]);
    assert!(
        ok && why.contains("succeeded after 1 attempt(s), estimated cost "),
        "{why}"
    );

    // A rerun, waited for, as a person would after fixing data.
    let (ok, rerun) = ade(
        &ns.name,
        &["rerun", "history", "2026-11-01T01", "--wait", "--timeout", "2m"],
    );
    assert!(ok, "{rerun}");
    assert!(
        rerun.contains("created: batch 2026-11-01T01 of EtlJob history runs again")
            && rerun.contains("(batch 2026-11-01T01 of EtlJob history) succeeded after 1 attempt(s)"),
        "{rerun}"
    );
    let rerun_name = rerun
        .split_whitespace()
        .next()
        .and_then(|n| n.strip_prefix("etlrun.ade.dev/"))
        .expect("the new run's name");
    let created = get_json(&ns.name, &[&format!("etlrun/{rerun_name}")]).expect("the rerun");
    assert_eq!(
        (
            &created["metadata"]["ownerReferences"][0]["kind"],
            &created["spec"]["reason"]
        ),
        (&"EtlJob".into(), &"rerun".into()),
        "owned by the job, as the operator's runs: {created}"
    );
    let (_, table) = ade(&ns.name, &["batches", "history"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("2026-11-01T01 "))
        .expect("the rerun batch");
    assert_eq!(row.split_whitespace().nth(3), Some("2"), "two runs of the batch: {row}");

    let (ok, cost) = ade(&ns.name, &["cost"]);
    assert!(ok, "{cost}");
    let history = cost.lines().find(|l| l.starts_with("history ")).expect("the job's row");
    assert_eq!(
        history.split_whitespace().collect::<Vec<_>>()[1..4],
        ["4", "4", "0"],
        "{cost}"
    );
    let usd: f64 = history
        .split_whitespace()
        .nth(4)
        .and_then(|c| c.parse().ok())
        .expect("a cost");
    assert!(usd > 0.0, "{cost}");
    let (ok, pool) = ade(&ns.name, &["cost", "batch", "--since", "1h"]);
    assert!(
        ok && pool.starts_with("ClusterPool batch: ")
            && pool.contains("USD for the runs on it (history) created since "),
        "{pool}"
    );
    let (ok, missing) = ade(&ns.name, &["cost", "nothing"]);
    assert!(
        !ok && missing.contains("no EtlJob or ClusterPool named nothing"),
        "{missing}"
    );

    // A backfill from the command line extends the job.
    let (ok, out) = ade(
        &ns.name,
        &[
            "backfill",
            "history",
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "2026-11-01T05:00:00Z",
            "--parallelism",
            "2",
        ],
    );
    assert!(ok, "{out}");
    let job = get_json(&ns.name, &["etljob/history"]).expect("job");
    assert_eq!(job["spec"]["backfill"]["to"], "2026-11-01T05:00:00Z", "{job}");
    assert_eq!(job["spec"]["backfill"]["parallelism"], 2, "{job}");
    wait_for("the two new batches", Duration::from_secs(120), || {
        let runs = objects(&ns.name, &["etlrun"]);
        let batches: std::collections::BTreeSet<_> = runs
            .iter()
            .filter_map(|r| r["spec"]["batchId"].as_str().map(str::to_owned))
            .collect();
        (batches.len() == 5).then_some(())
    });
    let (ok, bad) = ade(
        &ns.name,
        &[
            "backfill",
            "history",
            "--from",
            "2026-11-02T00:00:00Z",
            "--to",
            "2026-11-01T00:00:00Z",
        ],
    );
    assert!(!ok && bad.contains("--from must be before --to"), "{bad}");

    // Run now: the batch a job names as current (its schedule's newest due
    // window), here of a suspended job, which starts nothing by itself; the
    // Argo CD run-now action does the same (its test reads this capture).
    let hourly = "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: hourly}
spec:
  poolRef: {name: batch}
  schedule: '0 * * * *'
  timeZone: UTC
  window: {size: 1h}
  suspend: true
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}']
      podMetadata: {annotations: {e2e.ade.dev/duration: 2s}}
";
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], hourly);
    assert!(out.success, "{}", out.stderr);
    let current = wait_for("the job to name its current batch", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob/hourly"])?;
        job["status"]["currentBatch"].as_str().map(str::to_owned)
    });
    ade_e2e::argocd::capture(&ns.name, "etljob/hourly", "suspended-current-batch");
    let (ok, now) = ade(&ns.name, &["run-now", "hourly", "--wait", "--timeout", "2m"]);
    assert!(
        ok && now.contains(&format!(
            "created: batch {current} of EtlJob hourly, its current batch, runs now"
        )) && now.contains(&format!(
            "(batch {current} of EtlJob hourly) succeeded after 1 attempt(s)"
        )),
        "{now}"
    );
    let manual = objects(&ns.name, &["etlrun"])
        .into_iter()
        .find(|r| r["spec"]["jobRef"]["name"] == "hourly")
        .expect("the run of the current batch");
    assert_eq!(
        (&manual["spec"]["batchId"], &manual["spec"]["reason"]),
        (&current.as_str().into(), &"manual".into()),
        "{manual}"
    );
    let (ok, none) = ade(&ns.name, &["run-now", "history"]);
    assert!(
        !ok && none.contains("EtlJob history has no schedule, so no current batch"),
        "a job without a schedule has none: {none}"
    );
}
