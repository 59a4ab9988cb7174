//! `make bench-operator`: the operator under load on the local control
//! plane, against Kubernetes' own Job controller in the same run.
//!
//! For each size in `ADE_BENCH_SIZES` (default `1000 10000`), a fresh
//! operator (`ADE_OPERATOR_BIN`, the release build under `make`) and:
//!
//! 1. **Burst**: size/100 EtlJobs × 100 hourly backfill batches, parallelism
//!    100 each, on a kubernetes pool with no limit. One watcher (this
//!    process) times, per run, its EtlRun's creation → its Job's creation
//!    → `Succeeded`.
//! 2. **Anchor**: as many plain `batch/v1` Jobs, created directly at the
//!    rate the operator created EtlRuns, timed creation → first Pod →
//!    `Complete`: what the Job controller itself takes.
//!
//! The watcher's times leave out how late it saw each object (its watch of
//! EtlRuns carries every status write of every run): after each phase the
//! bench also reads the objects' creation stamps (whole seconds, the API
//! server's clock) and prints EtlRun → Job and Job → first Pod from them,
//! and how long after its stamp the watcher saw each run and anchor Job.
//!
//! After the largest size, with its runs kept: **idle** for
//! `ADE_BENCH_IDLE_SECONDS` (default 300), then **steady** EtlRuns created at
//! `ADE_BENCH_STEADY_RATE` a second (default 50) for
//! `ADE_BENCH_STEADY_SECONDS` (default 120).
//!
//! Prints the figures (docs/performance.md holds a run of them); asserts
//! nothing. Needs the control plane up (`e2e/cluster up`) with the chart's
//! CRDs installable.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    time::{Duration, Instant},
};

use ade_e2e::{
    Namespace, Operator,
    bench::{self, Timeline, Usage},
    env_or, install_chart_once, kubectl_with_stdin,
};
use futures::StreamExt;
use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::{
    Api, Client, ResourceExt,
    api::{DynamicObject, ListParams, PostParams},
    core::{ApiResource, GroupVersionKind},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;

/// Batches per job in the burst.
const BATCHES: usize = 100;
/// Longest wait for a phase to finish.
const PHASE_LIMIT: Duration = Duration::from_secs(3600);

fn runs_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ade.dev", "v1alpha1", "EtlRun");
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

/// Calls `saw` with every object `api` applies, for as long as the bench
/// runs. A watch error (a `410 Expired`, a timeout under load) is told and
/// the watch resumes with backoff: ending at the first error would leave a
/// phase waiting for events nobody records.
fn on_applied<K, F>(api: Api<K>, mut saw: F)
where
    K: kube::Resource + Clone + std::fmt::Debug + DeserializeOwned + Send + 'static,
    F: FnMut(K) + Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Some(item) = stream.next().await {
            match item {
                Ok(object) => saw(object),
                Err(e) => eprintln!("  a watch failed, resuming: {e}"),
            }
        }
    });
}

/// Watches the operator's namespace: EtlRuns created and succeeded, the
/// Jobs of their attempts created (keyed by run).
fn watch_runs(client: &Client, ns: &str, seen: &Timeline) {
    let seen_runs = seen.clone();
    on_applied(runs_api(client, ns), move |run: DynamicObject| {
        seen_runs.saw("run", &run.name_any());
        if run.data["status"]["phase"] == "Succeeded" {
            seen_runs.saw("run-succeeded", &run.name_any());
        }
    });
    let seen_jobs = seen.clone();
    on_applied(Api::<Job>::namespaced(client.clone(), ns), move |job: Job| {
        if let Some(run) = run_of(&job) {
            seen_jobs.saw("run-job", &run);
            if finished(&job) {
                seen_jobs.saw("run-job-done", &run);
            }
        }
    });
}

/// Watches the anchor's namespace: Jobs created and complete, their first Pod.
fn watch_jobs(client: &Client, ns: &str, seen: &Timeline) {
    let seen_jobs = seen.clone();
    on_applied(Api::<Job>::namespaced(client.clone(), ns), move |job: Job| {
        seen_jobs.saw("job", &job.name_any());
        if finished(&job) {
            seen_jobs.saw("job-complete", &job.name_any());
        }
    });
    let seen_pods = seen.clone();
    on_applied(Api::<Pod>::namespaced(client.clone(), ns), move |pod: Pod| {
        if let Some(job) = pod.labels().get("job-name") {
            seen_pods.saw("job-pod", job);
        }
    });
}

/// The creation stamps of `api`'s objects by `key` (the earliest of a key's
/// objects: a Job's first Pod). Read after a phase: one LIST.
async fn stamps<K>(api: &Api<K>, key: impl Fn(&K) -> Option<String>) -> bench::Stamps
where
    K: kube::Resource + Clone + std::fmt::Debug + DeserializeOwned,
{
    let list = api
        .list(&ListParams::default())
        .await
        .expect("a list of the phase's objects");
    let mut out = bench::Stamps::new();
    for object in &list.items {
        if let (Some(k), Some(at)) = (key(object), object.meta().creation_timestamp.as_ref()) {
            let earliest = out.entry(k).or_insert(at.0);
            *earliest = (*earliest).min(at.0);
        }
    }
    out
}

/// The run an operator's Job belongs to.
fn run_of(job: &Job) -> Option<String> {
    job.owner_references()
        .iter()
        .find(|o| o.kind == "EtlRun")
        .map(|o| o.name.clone())
}

/// Whether the Job controller says `job` succeeded (`SuccessCriteriaMet`
/// comes before `Complete`, once its Pods are gone).
fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| matches!(c.type_.as_str(), "Complete" | "SuccessCriteriaMet") && c.status == "True")
        })
}

/// Waits until `what` happened to `n` keys, printing progress every 10 s.
/// Waits until `seen` counts `n` of `what`; stops the bench when the
/// `operator` it waits on exits (its leadership ended, it crashed).
async fn until(seen: &Timeline, what: &'static str, n: usize, mut operator: Option<&mut Operator>) {
    let start = Instant::now();
    let mut told = Instant::now();
    while seen.count(what) < n {
        if let Some(op) = operator.as_deref_mut()
            && let Some(status) = op.exited()
        {
            let log = op.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            panic!(
                "the operator exited ({status}) at {} of {n} {what}; its log ends:\n{}",
                seen.count(what),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        assert!(
            start.elapsed() < PHASE_LIMIT,
            "{what}: {} of {n} after {PHASE_LIMIT:?}",
            seen.count(what)
        );
        if told.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  {what}: {} of {n} after {:.0}s",
                seen.count(what),
                start.elapsed().as_secs_f64()
            );
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pool and `jobs` EtlJobs of 100 hourly batches each, as one manifest.
fn burst_manifest(jobs: usize) -> String {
    let mut yaml = String::from(
        "apiVersion: ade.dev/v1alpha1\nkind: ClusterPool\nmetadata: {name: bench}\nspec: {provider: kubernetes}\n",
    );
    for j in 0..jobs {
        let _ = write!(
            yaml,
            "---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {{name: job-{j:03}}}
spec:
  poolRef: {{name: bench}}
  window: {{size: 1h}}
  backfill: {{from: '2026-01-01T00:00:00Z', to: '2026-01-05T04:00:00Z', parallelism: 100}}
  historyLimit: {{succeeded: 1000, failed: 1000}}
  task: {{container: {{image: busybox, podMetadata: {{annotations: {{e2e.ade.dev/duration: 1s}}}}}}}}
"
        );
    }
    yaml
}

/// One size's figures.
#[derive(Debug, Default)]
struct Row {
    runs: usize,
    runs_per_second: f64,
    created_per_second: f64,
    run_to_job: (Duration, Duration),
    run_to_succeeded: (Duration, Duration),
    job_to_pod: (Duration, Duration),
    job_to_complete: (Duration, Duration),
    /// The operator's Jobs: created → done (the Job controller and kwok),
    /// and done → the run's Succeeded (the operator).
    run_job_to_done: (Duration, Duration),
    done_to_succeeded: (Duration, Duration),
    /// Anchor Jobs done per second, first created to last done.
    anchor_per_second: f64,
    /// By the API server's creation stamps (whole seconds): EtlRun → its
    /// Job, and the anchor's Job → its first Pod.
    stamped_run_to_job: (Duration, Duration),
    stamped_job_to_pod: (Duration, Duration),
    /// How long after its creation stamp the watcher saw each run, and
    /// each of the anchor's Jobs: what the watcher's figures leave out.
    runs_seen_late: (Duration, Duration),
    jobs_seen_late: (Duration, Duration),
    /// CPU-seconds of each control-plane process and the operator during the burst.
    cpu: BTreeMap<String, f64>,
    cpu_per_1000: f64,
    peak_rss_mib: f64,
    requests_per_run: f64,
    requests: BTreeMap<(String, String), u64>,
}

/// The processes whose CPU the bench reports (the bench itself is `bench-operator`).
const CONTROL_PLANE: &[&str] = &["kube-apiserver", "etcd", "kube-controller", "kwok", "bench-operator"];

/// CPU-seconds each process used between two readings.
fn grew_cpu(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, cpu)| (name.clone(), cpu - before.get(name).copied().unwrap_or(0.0)))
        .collect()
}

fn p50_p99(values: &[Duration]) -> (Duration, Duration) {
    (bench::percentile(values, 50.0), bench::percentile(values, 99.0))
}

#[allow(clippy::cast_precision_loss)]
async fn burst(client: &Client, runs: usize) -> (Row, Operator, Namespace) {
    let ops = Namespace::create("bench-ops");
    let anchor = Namespace::create("bench-jobs");
    let seen = Timeline::default();
    let origin = (Instant::now(), jiff::Timestamp::now());
    watch_runs(client, &ops.name, &seen);
    watch_jobs(client, &anchor.name, &seen);
    // The Lease timings of a deployed operator (client-go's): the e2e
    // launcher's short ones end the leadership when the saturated API server
    // answers a renewal in more than 4 s (it did 5,300 runs into a 10,000-run burst).
    let deployed = [
        "--lease-duration=15s",
        "--lease-renew-deadline=10s",
        "--lease-renew-interval=2s",
        // A deployed operator's CRD check (the e2e tests check every second:
        // 5 GETs a second, most of what an idle operator asked of the API server).
        "--crd-check-interval=10s",
    ];
    let mut operator = Operator::start_with("bench", &deployed, &[("ADE_LOG", "warn")]);
    let pid = operator.pid().expect("the operator's pid");
    let before = bench::usage(pid);
    let requests_before = bench::requests(&["ade.dev", "batch"]);
    let cpu_before = bench::cpu_by_command(CONTROL_PLANE);
    let out = kubectl_with_stdin(&["apply", "-n", &ops.name, "-f", "-"], &burst_manifest(runs / BATCHES));
    assert!(out.success, "{}", out.stderr);
    until(&seen, "run-succeeded", runs, Some(&mut operator)).await;
    let after: Usage = bench::usage(pid);
    let grew = bench::grew(&requests_before, &bench::requests(&["ade.dev", "batch"]));
    let created = seen.of("run");
    let succeeded = seen.of("run-succeeded");
    let first = created.values().min().copied().unwrap_or_else(Instant::now);
    let last = succeeded.values().max().copied().unwrap_or_else(Instant::now);
    let total = last.saturating_duration_since(first).as_secs_f64().max(0.001);
    let creating = bench::span(&created).as_secs_f64().max(0.001);
    let mut row = Row {
        runs,
        runs_per_second: runs as f64 / total,
        created_per_second: runs as f64 / creating,
        run_to_job: p50_p99(&bench::gaps(&created, &seen.of("run-job"))),
        run_to_succeeded: p50_p99(&bench::gaps(&created, &succeeded)),
        cpu_per_1000: (after.cpu_seconds - before.cpu_seconds) * 1000.0 / runs as f64,
        peak_rss_mib: after.peak_rss_mib,
        requests_per_run: grew.values().sum::<u64>() as f64 / runs as f64,
        requests: grew,
        run_job_to_done: p50_p99(&bench::gaps(&seen.of("run-job"), &seen.of("run-job-done"))),
        done_to_succeeded: p50_p99(&bench::gaps(&seen.of("run-job-done"), &succeeded)),
        cpu: grew_cpu(&cpu_before, &bench::cpu_by_command(CONTROL_PLANE)),
        ..Row::default()
    };
    row.cpu
        .insert("ade-operator".to_owned(), after.cpu_seconds - before.cpu_seconds);
    // After the request counts: these LISTs are the bench's.
    let run_stamps = stamps(&runs_api(client, &ops.name), |r| Some(r.name_any())).await;
    let job_stamps = stamps(&Api::<Job>::namespaced(client.clone(), &ops.name), run_of).await;
    row.stamped_run_to_job = p50_p99(&bench::stamped_gaps(&run_stamps, &job_stamps));
    row.runs_seen_late = p50_p99(&bench::seen_late(&run_stamps, &created, origin));
    // The anchor: plain Jobs at the rate the operator created runs.
    let jobs = Api::<Job>::namespaced(client.clone(), &anchor.name);
    let every = Duration::from_secs_f64(1.0 / row.created_per_second.max(1.0));
    let mut tick = tokio::time::interval(every);
    for i in 0..runs {
        tick.tick().await;
        let job: Job = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": format!("plain-{i:05}")},
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"annotations": {"e2e.ade.dev/duration": "1s"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]},
            }},
        }))
        .expect("a Job");
        let jobs = jobs.clone();
        tokio::spawn(async move { jobs.create(&PostParams::default(), &job).await });
    }
    until(&seen, "job-complete", runs, None).await;
    let made = seen.of("job");
    let done = seen.of("job-complete");
    let anchor_span = done
        .values()
        .max()
        .zip(made.values().min())
        .map_or(0.0, |(last, first)| {
            last.saturating_duration_since(*first).as_secs_f64()
        });
    row.anchor_per_second = runs as f64 / anchor_span.max(0.001);
    row.job_to_pod = p50_p99(&bench::gaps(&made, &seen.of("job-pod")));
    row.job_to_complete = p50_p99(&bench::gaps(&made, &seen.of("job-complete")));
    let anchor_jobs = stamps(&jobs, |j| Some(j.name_any())).await;
    let anchor_pods = stamps(&Api::<Pod>::namespaced(client.clone(), &anchor.name), |p| {
        p.labels().get("job-name").cloned()
    })
    .await;
    row.stamped_job_to_pod = p50_p99(&bench::stamped_gaps(&anchor_jobs, &anchor_pods));
    row.jobs_seen_late = p50_p99(&bench::seen_late(&anchor_jobs, &made, origin));
    // Gone before anything else is measured: deleting a namespace lists
    // every kind in it and deletes its Pods.
    ade_e2e::kubectl(&["delete", "namespace", &anchor.name, "--wait=true", "--timeout=600s"]);
    drop(anchor);
    (row, operator, ops)
}

/// Idle, then steady runs, with `operator` and its finished runs in `ops`.
#[allow(clippy::cast_precision_loss)]
async fn idle_and_steady(client: &Client, operator: &Operator, ops: &Namespace) {
    let pid = operator.pid().expect("the operator's pid");
    let idle = Duration::from_secs(env_or("ADE_BENCH_IDLE_SECONDS", 300));
    let before = bench::usage(pid);
    let requests_before = bench::requests(&[]);
    tokio::time::sleep(idle).await;
    let after = bench::usage(pid);
    let grew = bench::grew(&requests_before, &bench::requests(&[]));
    let minutes = idle.as_secs_f64() / 60.0;
    let lists: u64 = grew
        .iter()
        .filter(|((verb, _), _)| verb == "LIST")
        .map(|(_, n)| n)
        .sum();
    println!("\nidle {}s with the finished runs kept", idle.as_secs());
    println!(
        "  operator CPU {:.2}% of a core, RSS {:.1} → {:.1} MiB",
        (after.cpu_seconds - before.cpu_seconds) / idle.as_secs_f64() * 100.0,
        before.rss_mib,
        after.rss_mib
    );
    println!(
        "  API requests {:.1}/min in all, LIST {lists} (every client and group of the API server: {grew:?})",
        grew.values().sum::<u64>() as f64 / minutes
    );

    let rate = env_or("ADE_BENCH_STEADY_RATE", 50);
    let seconds = env_or("ADE_BENCH_STEADY_SECONDS", 120);
    let seen = Timeline::default();
    watch_runs(client, &ops.name, &seen);
    let runs = runs_api(client, &ops.name);
    // Counted by the API server, then waited for: the watcher's first list
    // of 10,000 runs takes more than seconds, and a steady run it listed
    // late would read as started late.
    let already = runs
        .list_metadata(&ListParams::default())
        .await
        .expect("a list of the kept runs")
        .items
        .len();
    until(&seen, "run", already, None).await;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let n = usize::try_from(rate * seconds).unwrap_or(usize::MAX);
    let start = jiff::Timestamp::from_second(1_798_761_600).expect("2027-01-01");
    for i in 0..n {
        tick.tick().await;
        let window_start = start + jiff::SignedDuration::from_hours(i64::try_from(i).unwrap_or(0));
        let run: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
            "metadata": {"name": format!("steady-{i:05}")},
            "spec": {"jobRef": {"name": "job-000"}, "batchId": format!("steady-{i:05}"), "reason": "manual",
                     "window": {"start": window_start.to_string(),
                                "end": (window_start + jiff::SignedDuration::from_hours(1)).to_string()}},
        }))
        .expect("an EtlRun");
        let runs = runs.clone();
        tokio::spawn(async move { runs.create(&PostParams::default(), &run).await });
    }
    let waited = Instant::now();
    let steady: BTreeMap<String, Instant> = loop {
        let succeeded: BTreeMap<String, Instant> = seen
            .of("run-succeeded")
            .into_iter()
            .filter(|(k, _)| k.starts_with("steady-"))
            .collect();
        if succeeded.len() >= n {
            break succeeded;
        }
        // As every other phase (`until`): a stuck phase fails with a count
        // instead of waiting forever.
        assert!(
            waited.elapsed() < PHASE_LIMIT,
            "steady: {} of {n} runs succeeded after {PHASE_LIMIT:?}",
            succeeded.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let created: BTreeMap<String, Instant> = seen
        .of("run")
        .into_iter()
        .filter(|(k, _)| k.starts_with("steady-"))
        .collect();
    let (p50, p99) = p50_p99(&bench::gaps(&created, &seen.of("run-job")));
    let (d50, d99) = p50_p99(&bench::gaps(&created, &steady));
    println!(
        "\nsteady {rate} runs/s for {seconds}s ({n} runs, {already} kept): creation→Job p50 {} ms p99 {} ms, →Succeeded p50 {} ms p99 {} ms; RSS {:.1} MiB (peak {:.1})",
        bench::ms(p50),
        bench::ms(p99),
        bench::ms(d50),
        bench::ms(d99),
        bench::usage(pid).rss_mib,
        bench::usage(pid).peak_rss_mib
    );
}

fn print(rows: &[Row]) {
    println!(
        "\n| runs | runs/s | creation→Job p50/p99 (ms) | Job controller: creation→Pod p50/p99 (ms) | ratio p99 | creation→Succeeded p50/p99 (ms) | Job creation→Complete p50/p99 (ms) | CPU-s per 1000 runs | peak RSS MiB | API requests per run |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        #[allow(clippy::cast_precision_loss)]
        let ratio = r.run_to_job.1.as_secs_f64() / r.job_to_pod.1.as_secs_f64().max(0.001);
        println!(
            "| {} | {:.1} | {} / {} | {} / {} | {ratio:.2} | {} / {} | {} / {} | {:.2} | {:.1} | {:.1} |",
            r.runs,
            r.runs_per_second,
            bench::ms(r.run_to_job.0),
            bench::ms(r.run_to_job.1),
            bench::ms(r.job_to_pod.0),
            bench::ms(r.job_to_pod.1),
            bench::ms(r.run_to_succeeded.0),
            bench::ms(r.run_to_succeeded.1),
            bench::ms(r.job_to_complete.0),
            bench::ms(r.job_to_complete.1),
            r.cpu_per_1000,
            r.peak_rss_mib,
            r.requests_per_run
        );
    }
    for r in rows {
        let cpu: Vec<String> = r.cpu.iter().map(|(name, s)| format!("{name} {s:.1}")).collect();
        println!(
            "\n{} runs: the operator's Jobs created → done p50/p99 {} / {} ms, done → run Succeeded {} / {} ms; \
             anchor Jobs done {:.1}/s; CPU-s during the burst: {}",
            r.runs,
            bench::ms(r.run_job_to_done.0),
            bench::ms(r.run_job_to_done.1),
            bench::ms(r.done_to_succeeded.0),
            bench::ms(r.done_to_succeeded.1),
            r.anchor_per_second,
            cpu.join(", ")
        );
    }
    for r in rows {
        let s = |d: Duration| d.as_secs_f64();
        println!(
            "\n{} runs, by the API server's creation stamps (whole seconds; no watcher's lag in them): \
             EtlRun → Job p50/p99 {:.0} / {:.0} s, the Job controller's Job → Pod {:.0} / {:.0} s; \
             the watcher saw runs {:.1} / {:.1} s and the anchor's Jobs {:.1} / {:.1} s after their stamps",
            r.runs,
            s(r.stamped_run_to_job.0),
            s(r.stamped_run_to_job.1),
            s(r.stamped_job_to_pod.0),
            s(r.stamped_job_to_pod.1),
            s(r.runs_seen_late.0),
            s(r.runs_seen_late.1),
            s(r.jobs_seen_late.0),
            s(r.jobs_seen_late.1)
        );
    }
    for r in rows {
        println!(
            "\nAPI requests during the {}-run burst (ade.dev and batch, every client): {:?}",
            r.runs, r.requests
        );
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sizes: Vec<usize> = std::env::var("ADE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000 10000".to_owned())
        .split_whitespace()
        .map(|s| s.parse().expect("ADE_BENCH_SIZES: numbers of runs"))
        .collect();
    install_chart_once();
    let client = Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(ade_e2e::kubeconfig()).expect("the cluster's kubeconfig"),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("a client configuration"),
    )
    .expect("a client");
    let mut rows = Vec::new();
    let mut last: Option<(Operator, Namespace)> = None;
    for size in sizes {
        // One operator at a time, and the sizes measured apart: the last
        // size's namespace is deleted, and waited for, while its operator
        // still runs; then that operator stops and the next burst begins.
        if let Some((operator, ops)) = last.take() {
            ade_e2e::kubectl(&["delete", "namespace", &ops.name, "--wait=true", "--timeout=900s"]);
            drop((operator, ops));
        }
        let size = size.div_ceil(BATCHES) * BATCHES;
        eprintln!("burst of {size} runs");
        let (row, operator, ops) = burst(&client, size).await;
        rows.push(row);
        last = Some((operator, ops));
    }
    print(&rows);
    if let Some((operator, ops)) = &last {
        idle_and_steady(&client, operator, ops).await;
    }
}
