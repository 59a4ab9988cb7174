//! Never two leaders, against the real control plane: a leader frozen
//! (SIGSTOP) past its Lease while a standby takes over resumes to find its
//! tenure ended, writes nothing, and exits. The harness runs operators with
//! short timings (Lease 6 s, renew deadline 4 s, retry 1 s). And the chart
//! serves the operator's Lease requests at the leader-election priority level.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::time::Duration;

use ade_e2e::{
    Namespace, Operator, RELEASE, SYSTEM_NAMESPACE, get_json, install_chart, kubectl, kubectl_ok, kubectl_with_stdin,
    lease_holder, service_account_kubeconfig, wait_for,
};
use jiff::Timestamp;
use serde_json::Value;

fn pool(ns: &str, name: &str) {
    let yaml = format!(
        "apiVersion: ade.dev/v1alpha1\nkind: ClusterPool\nmetadata: {{name: {name}}}\nspec: {{provider: kubernetes}}\n"
    );
    let out = kubectl_with_stdin(&["apply", "-n", ns, "-f", "-"], &yaml);
    assert!(out.success, "kubectl apply failed:\n{}", out.stderr);
    wait_for(
        &format!("ClusterPool {name} to get a status"),
        Duration::from_secs(30),
        || {
            get_json(ns, &["clusterpool", name])?["status"]["observedGeneration"]
                .as_i64()
                .map(|_| ())
        },
    );
}

/// Events written by `instance` in `ns` after `since`.
fn events_by(ns: &str, instance: &str, since: Timestamp) -> Vec<Value> {
    let out = kubectl(&["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reportingInstance"] == instance)
        .filter(|e| {
            let at = e["eventTime"].as_str().or(e["metadata"]["creationTimestamp"].as_str());
            at.and_then(|t| t.parse::<Timestamp>().ok()).is_some_and(|t| t > since)
        })
        .cloned()
        .collect()
}

#[test]
fn a_frozen_leader_resumes_without_writing() {
    install_chart();
    let ns = Namespace::create("frozen");
    let mut first = Operator::start("frozen-a");
    wait_for("frozen-a to lead", Duration::from_secs(30), || {
        (lease_holder().as_deref() == Some("frozen-a")).then_some(())
    });
    let second = Operator::start("frozen-b");
    pool(&ns.name, "before");

    // Frozen past the Lease: the standby takes over.
    first.signal("STOP");
    wait_for("frozen-b to take over", Duration::from_secs(30), || {
        (lease_holder().as_deref() == Some("frozen-b")).then_some(())
    });
    let takeover = Timestamp::now();
    // Work the frozen replica will find queued when it wakes, stale: a new
    // pool and a backfill whose runs the new leader starts meanwhile (a
    // replica acting on its stale view would start them again, and say so
    // in Events).
    pool(&ns.name, "during");
    let job = "apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: orders}
spec:
  poolRef: {name: during}
  window: {size: 1h}
  backfill: {from: '2026-11-01T00:00:00Z', to: '2026-11-01T03:00:00Z', parallelism: 3}
  task: {container: {image: busybox, podMetadata: {annotations: {e2e.ade.dev/duration: 30s}}}}
";
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], job);
    assert!(out.success, "kubectl apply failed:\n{}", out.stderr);
    wait_for("the new leader to start the backfill", Duration::from_secs(30), || {
        let runs = get_json(&ns.name, &["etlruns"])?;
        let started = runs["items"]
            .as_array()?
            .iter()
            .filter(|r| r["status"]["attempts"].as_array().is_some_and(|a| !a.is_empty()))
            .count();
        (started == 3).then_some(())
    });
    wait_for("frozen-b to report leadership", Duration::from_secs(10), || {
        (second.metric("ade_leader") == Some(1.0)).then_some(())
    });

    first.signal("CONT");
    let status = wait_for("frozen-a to exit", Duration::from_secs(30), || first.exited());
    assert!(!status.success(), "a replica that lost its tenure exits with an error");
    let log = first.log();
    assert!(log.contains("lost leadership"), "{log}");
    assert_eq!(lease_holder().as_deref(), Some("frozen-b"));
    let written = events_by(&ns.name, "frozen-a", takeover);
    assert!(
        written.is_empty(),
        "frozen-a wrote Events after the takeover: {written:?}\n{log}"
    );
    // The new leader keeps going.
    pool(&ns.name, "after");
}

/// The priority level API Priority and Fairness served a request of the
/// operator's ServiceAccount (`kubeconfig`) to `path` at, by its uid: the
/// API server names it in a response header, which `kubectl -v=8` prints.
fn served_at(kubeconfig: &std::path::Path, path: &str) -> String {
    let config = kubeconfig.to_str().expect("a UTF-8 path");
    // A missing Lease is a 404: the request was classified all the same.
    let out = kubectl(&["--kubeconfig", config, "get", "--raw", path, "-v=8"]);
    out.stderr
        .lines()
        .find_map(|line| {
            let at = line.to_ascii_lowercase().find("x-kubernetes-pf-prioritylevel-uid:")?;
            let value = line[at..].split_once(':')?.1.trim();
            value.split_whitespace().next().map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no priority level header for {path}:\n{}", out.stderr))
}

/// The chart's FlowSchema: the operator's Lease requests are served at the
/// API server's `leader-election` priority level, as kube-controller-manager's
/// are, so a renewal does not queue behind a saturated API server's other
/// work; the rest of its requests stay in the service accounts' level.
#[test]
fn the_operators_lease_requests_are_served_at_the_leader_election_priority_level() {
    install_chart();
    let uid_of = |level: &str| {
        kubectl_ok(&[
            "get",
            "prioritylevelconfiguration",
            level,
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .trim()
        .to_owned()
    };
    let (leader_election, workload_low) = (uid_of("leader-election"), uid_of("workload-low"));
    let kubeconfig = service_account_kubeconfig();
    let lease = format!("/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NAMESPACE}/leases/{RELEASE}");
    assert_eq!(served_at(kubeconfig, &lease), leader_election, "the Lease");
    let runs = format!("/apis/ade.dev/v1alpha1/namespaces/{SYSTEM_NAMESPACE}/etlruns");
    assert_eq!(served_at(kubeconfig, &runs), workload_low, "a list of runs");
}
