//! EtlJob and EtlRun on the kubernetes provider, against the real control
//! plane: Jobs are created by the operator, their Pods scheduled by the real
//! scheduler and finished by kwok (the annotation `e2e.ade.dev/outcome: fail`
//! makes a Pod fail, `e2e.ade.dev/duration` sets how long it runs).
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{collections::BTreeSet, time::Duration};

use ade_e2e::{
    Namespace, Operator, apply, condition, get_json, install_chart_once, kubectl, kubectl_ok, objects, wait_for,
};
use serde_json::Value;

fn pool(ns: &str, max_concurrent: Option<u32>) {
    let capacity = max_concurrent
        .map(|n| format!("  capacity: {{maxConcurrentRuns: {n}}}\n"))
        .unwrap_or_default();
    apply(
        ns,
        &format!(
            "apiVersion: ade.dev/v1alpha1\nkind: ClusterPool\nmetadata: {{name: batch}}\nspec:\n  provider: kubernetes\n{capacity}"
        ),
    );
}

fn runs(ns: &str) -> Vec<Value> {
    objects(ns, &["etlruns"])
}

fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or("")
}

fn jobs_of_run(ns: &str, run: &str) -> Vec<String> {
    kubectl_ok(&[
        "get",
        "jobs.batch",
        "-n",
        ns,
        "-l",
        &format!("ade.dev/run={run}"),
        "-o",
        "name",
    ])
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Most attempts whose [startedAt, finishedAt] intervals overlap at one instant.
fn max_overlap(runs: &[Value]) -> usize {
    let mut edges: Vec<(String, i32)> = Vec::new();
    for run in runs {
        for attempt in run["status"]["attempts"].as_array().into_iter().flatten() {
            if let (Some(s), Some(f)) = (attempt["startedAt"].as_str(), attempt["finishedAt"].as_str()) {
                edges.push((s.to_owned(), 1));
                edges.push((f.to_owned(), -1));
            }
        }
    }
    // RFC 3339 in UTC sorts as text; at equal instants an end comes before a start.
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        max = max.max(now);
    }
    usize::try_from(max).unwrap_or(0)
}

#[test]
fn a_job_on_a_short_cadence_produces_runs_with_the_expected_batch_ids() {
    install_chart_once();
    let ns = Namespace::create("cadence");
    let _operator = Operator::start("cadence");
    pool(&ns.name, None);
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: ticks}
spec:
  poolRef: {name: batch}
  schedule: '* * * * *'
  timeZone: UTC
  task:
    container:
      image: busybox
      args: ['--batch={{batch.id}}', '--from={{window.start}}', '--to={{window.end}}']
",
    );
    let done = wait_for("two scheduled runs to succeed", Duration::from_secs(180), || {
        let done: Vec<Value> = runs(&ns.name).into_iter().filter(|r| phase(r) == "Succeeded").collect();
        (done.len() >= 2).then_some(done)
    });
    let mut windows = Vec::new();
    for run in &done {
        let start = run["spec"]["window"]["start"].as_str().expect("window start");
        let end = run["spec"]["window"]["end"].as_str().expect("window end");
        // A minute cadence: the batch id is the window start to the minute.
        let expected_id = format!("{}{}", &start[..13], &start[14..16]);
        assert_eq!(run["spec"]["batchId"], expected_id.as_str(), "{run}");
        assert_eq!(run["spec"]["reason"], "schedule");
        assert_eq!(
            run["metadata"]["name"],
            format!("ticks-{}", expected_id.to_lowercase()).as_str(),
            "deterministic run name"
        );
        assert!(start[..16] < end[..16], "{start} < {end}");
        windows.push((start.to_owned(), end.to_owned()));
        // The Job got the rendered template.
        let job_name = run["status"]["attempts"][0]["jobName"].as_str().expect("job name");
        let job = get_json(&ns.name, &["job.batch", job_name]).expect("the Job");
        let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[0], format!("--batch={expected_id}").as_str(), "{args}");
        assert_eq!(args[1], format!("--from={start}").as_str(), "{args}");
    }
    windows.sort();
    assert_eq!(
        windows[0].1, windows[1].0,
        "consecutive ticks cover consecutive windows: {windows:?}"
    );
    let job = get_json(&ns.name, &["etljob/ticks"]).expect("job");
    assert!(job["status"]["lastSuccessfulBatch"].is_string(), "{job}");
    assert!(job["status"]["nextScheduleTime"].is_string(), "{job}");
    assert_eq!(condition(&job, "Ready").expect("Ready")["reason"], "Scheduled");
}

#[test]
fn a_backfill_of_six_windows_never_runs_more_than_two_at_once() {
    install_chart_once();
    let ns = Namespace::create("backfill");
    let _operator = Operator::start("backfill");
    pool(&ns.name, None);
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: history}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  backfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T06:00:00Z', parallelism: 2}
  task:
    container:
      image: busybox
      args: ['--output=s3://lake/history/batch={{batch.id}}/']
      podMetadata: {annotations: {e2e.ade.dev/duration: 2s}}
",
    );
    let mut most_live = 0;
    let mut captured = false;
    let all = wait_for("six backfill runs to succeed", Duration::from_secs(180), || {
        let all = runs(&ns.name);
        let live = all
            .iter()
            .filter(|r| !matches!(phase(r), "Succeeded" | "Failed" | "Cancelled"))
            .count();
        most_live = most_live.max(live);
        if !captured && all.len() > 2 && live > 0 {
            ade_e2e::argocd::capture(&ns.name, "etljob/history", "backfilling");
            captured = true;
        }
        (all.len() == 6 && all.iter().all(|r| phase(r) == "Succeeded")).then_some(all)
    });
    assert!(most_live <= 2, "{most_live} runs were live at once");
    assert_eq!(max_overlap(&all), 2, "two at a time, and never more");
    let ids: BTreeSet<&str> = all.iter().filter_map(|r| r["spec"]["batchId"].as_str()).collect();
    let want: BTreeSet<String> = (0..6).map(|h| format!("2026-11-01T0{h}")).collect();
    assert_eq!(ids, want.iter().map(String::as_str).collect());
    let job = wait_for("the job's backfill status", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob/history"])?;
        (job["status"]["backfill"]["succeeded"] == 6).then_some(job)
    });
    assert_eq!(job["status"]["backfill"]["total"], 6);
    assert_eq!(job["status"]["lastSuccessfulBatch"], "2026-11-01T05");
    ade_e2e::argocd::capture(&ns.name, "etljob/history", "backfill-done");
    for run in &all {
        assert!(run["status"]["estimatedCostUSD"].is_string(), "{run}");
    }
}

const FAILING_JOB: &str = "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: flaky}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  retries: {limit: 2, backoff: {initial: 1s, max: 2s}}
  task:
    container:
      image: busybox
      podMetadata: {annotations: {e2e.ade.dev/outcome: fail}}
";

#[test]
fn a_failing_pod_is_retried_and_the_run_fails_after_the_limit() {
    install_chart_once();
    let ns = Namespace::create("retries");
    let _operator = Operator::start("retries");
    pool(&ns.name, None);
    apply(&ns.name, FAILING_JOB);
    // A person runs one batch by hand; its window comes from the batch id.
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1\nkind: EtlRun\nmetadata: {name: flaky-by-hand}\nspec: {jobRef: {name: flaky}, batchId: '2026-11-25T13', reason: manual}\n",
    );
    let run = wait_for("the run to fail for good", Duration::from_secs(90), || {
        let run = get_json(&ns.name, &["etlrun/flaky-by-hand"])?;
        (phase(&run) == "Failed").then_some(run)
    });
    let attempts = run["status"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "1 attempt + 2 retries: {run}");
    for a in attempts {
        assert_eq!(a["outcome"], "Failed", "{a}");
        assert!(
            a["message"]
                .as_str()
                .unwrap_or_default()
                .contains("exited with code 1 (Error)"),
            "{a}"
        );
    }
    let ready = condition(&run, "Ready").expect("Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "Failed");
    assert!(
        ready["message"]
            .as_str()
            .unwrap_or_default()
            .contains("after 3 attempts"),
        "{ready}"
    );
    assert_eq!(jobs_of_run(&ns.name, "flaky-by-hand").len(), 3, "one Job per attempt");
    ade_e2e::argocd::capture(&ns.name, "etlrun/flaky-by-hand", "failed");
    let retries = kubectl_ok(&[
        "get",
        "events",
        "-n",
        &ns.name,
        "--field-selector",
        "reason=Retrying",
        "-o",
        "name",
    ]);
    assert!(retries.lines().count() >= 1, "a Retrying Event: {retries}");
    let job = wait_for("the job to report the failure", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob/flaky"])?;
        (condition(&job, "Degraded")?["status"] == "True").then_some(job)
    });
    assert!(
        condition(&job, "Degraded").expect("Degraded")["message"]
            .as_str()
            .unwrap_or_default()
            .contains("2026-11-25T13")
    );
    ade_e2e::argocd::capture(&ns.name, "etljob/flaky", "last-run-failed");
}

/// A Job the API server refuses as invalid (a memory request above its
/// limit, which the EtlJob's schema does not compare) fails its run at once
/// with the API server's words: before, the creation was retried forever.
#[test]
fn a_job_the_api_server_refuses_fails_its_run_with_the_api_servers_reason() {
    install_chart_once();
    let ns = Namespace::create("refused");
    let _operator = Operator::start("refused");
    pool(&ns.name, None);
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1\nkind: EtlJob\nmetadata: {name: greedy}\nspec:\n  poolRef: {name: batch}\n  \
         window: {size: 1h}\n  retries: {limit: 2, backoff: {initial: 1s, max: 2s}}\n  task:\n    container:\n      \
         image: busybox\n      resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}\n",
    );
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1\nkind: EtlRun\nmetadata: {name: greedy-by-hand}\nspec: {jobRef: {name: greedy}, batchId: '2026-11-25T13', reason: manual}\n",
    );
    let run = wait_for("the run to fail", Duration::from_secs(60), || {
        let run = get_json(&ns.name, &["etlrun/greedy-by-hand"])?;
        (phase(&run) == "Failed").then_some(run)
    });
    let attempts = run["status"]["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts.len(),
        1,
        "the same Job would be refused again: no retry: {run}"
    );
    let said = attempts[0]["message"].as_str().unwrap_or_default();
    assert!(
        said.starts_with("creating the Job: the API server refused it: ")
            && said.contains("less than or equal to memory limit"),
        "{said}"
    );
    let ready = condition(&run, "Ready").expect("Ready");
    assert!(ready["message"].as_str().unwrap_or_default().contains(said), "{ready}");
    assert!(jobs_of_run(&ns.name, "greedy-by-hand").is_empty());
}

#[test]
fn an_operator_killed_mid_run_adopts_the_job_instead_of_creating_another() {
    install_chart_once();
    let ns = Namespace::create("restart");
    let mut first = Operator::start("restart-a");
    pool(&ns.name, None);
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: slow}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  task:
    container:
      image: busybox
      podMetadata: {annotations: {e2e.ade.dev/duration: 8s}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {name: slow-once}
spec: {jobRef: {name: slow}, batchId: '2026-11-25T13', reason: manual}
",
    );
    wait_for("the attempt to run", Duration::from_secs(30), || {
        let run = get_json(&ns.name, &["etlrun/slow-once"])?;
        (phase(&run) == "Running").then_some(())
    });
    first.kill();
    assert_eq!(jobs_of_run(&ns.name, "slow-once").len(), 1);
    let _second = Operator::start("restart-b");
    let run = wait_for(
        "the run to succeed under the new operator",
        Duration::from_secs(60),
        || {
            let run = get_json(&ns.name, &["etlrun/slow-once"])?;
            (phase(&run) == "Succeeded").then_some(run)
        },
    );
    assert_eq!(run["status"]["attempts"].as_array().map(Vec::len), Some(1), "{run}");
    assert_eq!(
        jobs_of_run(&ns.name, "slow-once"),
        ["job.batch/slow-once-1"],
        "never a second Job"
    );
}

#[test]
fn a_pool_limit_queues_runs_and_says_so() {
    install_chart_once();
    let ns = Namespace::create("queue");
    let _operator = Operator::start("queue");
    pool(&ns.name, Some(1));
    let mut yaml = String::from(
        "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: queued}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  task:
    container:
      image: busybox
      resources: {requests: {cpu: '16', memory: 128Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 4s}}
",
    );
    for h in 0..3 {
        yaml.push_str(&format!(
            "---\napiVersion: ade.dev/v1alpha1\nkind: EtlRun\nmetadata: {{name: queued-{h}}}\nspec: {{jobRef: {{name: queued}}, batchId: '2026-11-25T0{h}'}}\n"
        ));
    }
    apply(&ns.name, &yaml);
    let (queued_run, queued) = wait_for("a run to say it is queued", Duration::from_secs(30), || {
        runs(&ns.name).into_iter().find_map(|r| {
            let c = condition(&r, "Scheduled")?;
            (c["reason"] == "Queued").then(|| {
                let message = c["message"].as_str().unwrap_or_default().to_owned();
                (r["metadata"]["name"].as_str().unwrap_or_default().to_owned(), message)
            })
        })
    });
    ade_e2e::argocd::capture(&ns.name, &format!("etlrun/{queued_run}"), "queued");
    // The first queued run may be reconciled before any run is active: then it
    // waits behind the one ahead of it ("0 of 1 runs active, 1 waiting ahead").
    assert!(
        queued.starts_with("waiting for capacity in ClusterPool batch: ") && queued.contains(" of 1 runs active, "),
        "{queued}"
    );
    wait_for("the pool to count a queued run", Duration::from_secs(40), || {
        let pool = get_json(&ns.name, &["clusterpool/batch"])?;
        (pool["status"]["queuedRuns"].as_i64()? >= 1 && pool["status"]["runningRuns"] == 1).then_some(())
    });
    ade_e2e::argocd::capture(&ns.name, "etljob/queued", "runs-active");
    let all = wait_for("three runs to succeed", Duration::from_secs(120), || {
        let all = runs(&ns.name);
        (all.len() == 3 && all.iter().all(|r| phase(r) == "Succeeded")).then_some(all)
    });
    assert_eq!(max_overlap(&all), 1, "one at a time in a pool of one");
    ade_e2e::argocd::capture(&ns.name, "etlrun/queued-0", "succeeded");
    let pool = wait_for("the pool to report its cost", Duration::from_secs(40), || {
        let pool = get_json(&ns.name, &["clusterpool/batch"])?;
        (pool["status"]["runningRuns"] == 0 && pool["status"]["estimatedCostUSD"] != "0.0000").then_some(pool)
    });
    assert_eq!(pool["status"]["queuedRuns"], 0);
}

#[test]
fn kubectl_wait_for_ready_works_on_a_run_and_deleting_the_job_cleans_up() {
    install_chart_once();
    let ns = Namespace::create("cleanup");
    let _operator = Operator::start("cleanup");
    pool(&ns.name, None);
    apply(
        &ns.name,
        "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: tidy}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  backfill: {from: '2026-11-02T00:00:00Z', to: '2026-11-02T02:00:00Z', parallelism: 2}
  task: {container: {image: busybox}}
",
    );
    wait_for("two runs", Duration::from_secs(30), || {
        (runs(&ns.name).len() == 2).then_some(())
    });
    let out = kubectl(&[
        "wait",
        "-n",
        &ns.name,
        "--for=condition=Ready",
        "etlrun/tidy-2026-11-02t00",
        "--timeout=60s",
    ]);
    assert!(out.success, "kubectl wait failed: {}", out.stderr);
    assert!(out.stdout.contains("condition met"), "{}", out.stdout);
    let out = kubectl(&[
        "wait",
        "-n",
        &ns.name,
        "--for=condition=Ready",
        "etlrun/tidy-2026-11-02t01",
        "--timeout=60s",
    ]);
    assert!(out.success, "kubectl wait failed: {}", out.stderr);
    assert_eq!(
        kubectl_ok(&["get", "jobs.batch", "-n", &ns.name, "-o", "name"])
            .lines()
            .count(),
        2
    );

    kubectl_ok(&["delete", "etljob", "tidy", "-n", &ns.name]);
    wait_for("runs and Jobs to be garbage-collected", Duration::from_secs(60), || {
        let runs_left = runs(&ns.name).len();
        let jobs_left = kubectl_ok(&["get", "jobs.batch", "-n", &ns.name, "-o", "name"])
            .lines()
            .count();
        let pods_left = kubectl_ok(&["get", "pods", "-n", &ns.name, "-o", "name"])
            .lines()
            .count();
        (runs_left + jobs_left + pods_left == 0).then_some(())
    });
}
