//! The foundation against the real control plane: the chart installs, the
//! API server accepts every sample and rejects every invalid one with its
//! message, the operator (running with the chart's RBAC) reports status on
//! every kind, printer columns and `kubectl explain` read well, and leader
//! election keeps a second replica passive.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{path::PathBuf, sync::Once, time::Duration};

use ade_e2e::{
    Namespace, Operator, condition, get_json, install_chart, kubectl, kubectl_ok, kubectl_with_stdin, lease_holder,
    repo_root, wait_for,
};

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(dir))
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Waits until the object has status for its current generation, and returns it.
fn wait_for_status(ns: &str, resource: &str) -> serde_json::Value {
    wait_for(
        &format!("{resource} in {ns} to get status"),
        Duration::from_secs(30),
        || {
            let obj = get_json(ns, &[resource])?;
            let generation = obj["metadata"]["generation"].as_i64()?;
            (obj["status"]["observedGeneration"].as_i64() == Some(generation) && condition(&obj, "Accepted").is_some())
                .then_some(obj)
        },
    )
}

#[test]
fn every_valid_sample_is_accepted_and_gets_status() {
    setup();
    let ns = Namespace::create("samples");
    let _operator = Operator::start("samples");
    let samples = repo_root().join("manifests/samples");
    // Server-side, as a GitOps tool applies them (Argo CD's ServerSideApply).
    let out = kubectl(&[
        "apply",
        "--server-side",
        "-n",
        &ns.name,
        "-f",
        samples.to_str().unwrap_or_default(),
    ]);
    assert!(out.success, "a valid sample was rejected:\n{}", out.stderr);

    // The objects of the sample files (the operator adds EtlRuns of its own).
    let names = kubectl_ok(&[
        "get",
        "-n",
        &ns.name,
        "-f",
        samples.to_str().unwrap_or_default(),
        "-o",
        "name",
    ]);
    let resources: Vec<&str> = names.lines().collect();
    assert_eq!(
        resources.len(),
        yaml_files("manifests/samples").len(),
        "one object per sample file"
    );
    for resource in resources {
        let obj = wait_for_status(&ns.name, resource);
        let short = resource.rsplit('/').next().unwrap_or(resource);
        ade_e2e::argocd::capture(&ns.name, resource, &format!("sample-{short}"));
        let accepted = condition(&obj, "Accepted").expect("Accepted condition");
        assert_eq!(accepted["status"], "True", "{resource}: {accepted}");
        assert!(condition(&obj, "Ready").is_some(), "{resource} has a Ready condition");
        for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
            for field in ["type", "status", "reason", "message", "lastTransitionTime"] {
                assert!(c[field].is_string(), "{resource}: condition without {field}: {c}");
            }
        }
    }

    // No perpetual drift (what Argo CD's server-side diff would show): applying
    // the samples again changes nothing, though the API server defaulted
    // fields and the operator wrote status and finalizers and created runs.
    let diff = kubectl(&[
        "diff",
        "--server-side",
        // the manager `apply --server-side` used
        "--field-manager=kubectl",
        "-n",
        &ns.name,
        "-f",
        samples.to_str().unwrap_or_default(),
    ]);
    assert!(
        diff.success,
        "kubectl diff --server-side shows a difference for the applied samples:\n{}{}",
        diff.stdout, diff.stderr
    );

    let pool = wait_for_status(&ns.name, "clusterpool/batch");
    assert_eq!(condition(&pool, "Ready").expect("Ready")["status"], "True");
    // No AWS here: the emr pool says EMR cannot be reached, and sets no
    // finalizer (it has no cluster), so the namespace can go.
    let emr = wait_for_status(&ns.name, "clusterpool/spark-spot");
    let ready = condition(&emr, "Ready").expect("Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&"False".into(), &"ProviderError".into()),
        "{ready}"
    );
    assert!(emr["metadata"]["finalizers"].is_null(), "{emr}");
}

#[test]
fn every_invalid_sample_is_rejected_by_the_api_server_with_its_message() {
    setup();
    let ns = Namespace::create("invalid");
    let files = yaml_files("manifests/samples/invalid");
    assert!(files.len() >= 20, "the invalid samples are there");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable sample");
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", file.display()));
        let out = kubectl(&["apply", "-n", &ns.name, "-f", file.to_str().unwrap_or_default()]);
        assert!(!out.success, "{} was accepted", file.display());
        assert!(
            out.stderr.contains(expect),
            "{}: expected {expect:?} in:\n{}",
            file.display(),
            out.stderr
        );
    }
    let listed = get_json(&ns.name, &["ade"]).expect("kubectl get ade");
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "nothing half-created"
    );
}

#[test]
fn the_operator_reports_what_the_schema_cannot_check() {
    setup();
    let ns = Namespace::create("operator-checks");
    let _operator = Operator::start("operator-checks");
    let job = r#"
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: { name: bad-cron }
spec:
  poolRef: { name: batch }
  schedule: "every hour"
  timeZone: Mars/Olympus
  task: { container: { image: busybox, args: ["--day={{batch.day}}"] } }
"#;
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], job);
    assert!(out.success, "{}", out.stderr);
    let obj = wait_for_status(&ns.name, "etljob/bad-cron");
    let accepted = condition(&obj, "Accepted").expect("Accepted");
    assert_eq!(accepted["status"], "False");
    assert_eq!(accepted["reason"], "InvalidSchedule");
    let message = accepted["message"].as_str().unwrap_or_default();
    for part in [
        "spec.schedule",
        "has 2 fields",
        "unknown time zone \"Mars/Olympus\"",
        "{{batch.day}}",
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    assert_eq!(condition(&obj, "Ready").expect("Ready")["reason"], "InvalidSpec");
    ade_e2e::argocd::capture(&ns.name, "etljob/bad-cron", "invalid-schedule");
    wait_for("an InvalidSchedule Event", Duration::from_secs(20), || {
        let events = kubectl_ok(&[
            "get",
            "events",
            "-n",
            &ns.name,
            "--field-selector",
            "reason=InvalidSchedule",
            "-o",
            "name",
        ]);
        (!events.trim().is_empty()).then_some(())
    });

    // Fixing the spec makes it accepted, at the new generation.
    kubectl_ok(&[
        "patch",
        "etljob",
        "bad-cron",
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"0 * * * *","timeZone":"Europe/Berlin","task":{"container":{"image":"busybox","args":["--batch={{batch.id}}"]}}}}"#,
    ]);
    let fixed = wait_for("the fixed job to be accepted", Duration::from_secs(30), || {
        let obj = get_json(&ns.name, &["etljob/bad-cron"])?;
        (condition(&obj, "Accepted")?["status"] == "True").then_some(obj)
    });
    assert_eq!(fixed["status"]["observedGeneration"], fixed["metadata"]["generation"]);
    assert_eq!(
        condition(&fixed, "Accepted").expect("Accepted")["observedGeneration"],
        fixed["metadata"]["generation"]
    );
}

#[test]
fn immutable_fields_cannot_change() {
    setup();
    let ns = Namespace::create("immutable");
    let sample = repo_root().join("manifests/samples/etlrun-rerun.yaml");
    kubectl_ok(&["create", "-n", &ns.name, "-f", sample.to_str().unwrap_or_default()]);
    let out = kubectl(&[
        "patch",
        "etlrun",
        "orders-hourly-rerun-20261125t13",
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"batchId":"2026-11-25T14"}}"#,
    ]);
    assert!(!out.success, "batchId changed");
    assert!(out.stderr.contains("batchId is immutable"), "{}", out.stderr);

    let pool = repo_root().join("manifests/samples/clusterpool-kubernetes.yaml");
    kubectl_ok(&["create", "-n", &ns.name, "-f", pool.to_str().unwrap_or_default()]);
    let out = kubectl(&[
        "patch",
        "clusterpool",
        "batch",
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"provider":"eks","eks":{"clusterName":"data","instanceTypes":["m5.xlarge"],"launchTemplate":{"name":"nodes"}},"region":"us-east-1","kubernetes":null}}"#,
    ]);
    assert!(!out.success, "provider changed");
    assert!(out.stderr.contains("spec.provider is immutable"), "{}", out.stderr);
}

#[test]
fn printer_columns_and_explain_tell_the_story() {
    setup();
    let ns = Namespace::create("columns");
    let _operator = Operator::start("columns");
    let samples = repo_root().join("manifests/samples");
    kubectl_ok(&["apply", "-n", &ns.name, "-f", samples.to_str().unwrap_or_default()]);
    wait_for_status(&ns.name, "etljob/orders-hourly");
    wait_for_status(&ns.name, "clusterpool/batch");

    let headers = [
        ("clusterpools", "NAME PROVIDER CLUSTERS RUNNING IDLE COST READY AGE"),
        ("etljobs", "NAME POOL SCHEDULE ACTIVE LAST-BATCH READY AGE"),
        ("etlruns", "NAME JOB BATCH PHASE ATTEMPTS CLUSTER COST AGE"),
        ("streamconsumers", "NAME STREAM SHARDS REPLICAS LAG READY AGE"),
        ("validationsuites", "NAME DATASET LAST-BATCH PASSED FAILED HEALTHY AGE"),
    ];
    for (resource, want) in headers {
        let out = kubectl_ok(&["get", resource, "-n", &ns.name]);
        let header = out
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(header, want, "{resource}:\n{out}");
    }
    let pools = kubectl_ok(&["get", "clusterpools", "-n", &ns.name]);
    let batch = pools.lines().find(|l| l.starts_with("batch ")).expect("a batch row");
    assert!(batch.split_whitespace().any(|c| c == "kubernetes"), "{batch}");
    assert!(batch.split_whitespace().any(|c| c == "True"), "{batch}");

    // `kubectl get ade` lists every kind through the category.
    let all = kubectl_ok(&["get", "ade", "-n", &ns.name, "-o", "name"]);
    for kind in [
        "clusterpool.ade.dev/batch",
        "etljob.ade.dev/orders-hourly",
        "etlrun.ade.dev/",
        "streamconsumer.ade.dev/app-events",
        "validationsuite.ade.dev/sessions-quality",
    ] {
        assert!(all.contains(kind), "{kind} missing from `kubectl get ade`:\n{all}");
    }
    // Short names.
    for short in ["cpool", "etl", "etlrun", "scon", "vsuite"] {
        kubectl_ok(&["get", short, "-n", &ns.name]);
    }
    // Not `sc`: that is StorageClass's, and kubectl would list those instead.
    let consumers = kubectl_ok(&["get", "scon", "-n", &ns.name, "-o", "name"]);
    assert!(consumers.contains("streamconsumer.ade.dev/app-events"), "{consumers}");

    let explain = kubectl_ok(&["explain", "etljob.spec.window"]);
    assert!(explain.contains("The data window a scheduled run covers"), "{explain}");
    let explain = kubectl_ok(&["explain", "clusterpool.spec.capacity.maxRunsPerCluster"]);
    assert!(explain.contains("1 gives every run a fresh cluster"), "{explain}");
    let explain = kubectl_ok(&["explain", "etlrun.status.attempts"]);
    assert!(explain.contains("adopts it"), "{explain}");
}

#[test]
fn health_metrics_and_readiness_follow_the_crds() {
    setup();
    let operator = Operator::start("readiness");
    assert_eq!(operator.get("/healthz").map(|(c, _)| c), Some(200));
    wait_for("/readyz to be ok", Duration::from_secs(20), || {
        operator.get("/readyz").filter(|(c, _)| *c == 200)
    });
    wait_for("ade_crds_installed 1", Duration::from_secs(20), || {
        (operator.metric("ade_crds_installed") == Some(1.0)).then_some(())
    });

    // Remove one CRD: not ready, and the message says which and what to do.
    kubectl_ok(&["delete", "crd", "validationsuites.ade.dev", "--wait=true"]);
    let (code, body) = wait_for("/readyz to fail", Duration::from_secs(20), || {
        operator.get("/readyz").filter(|(c, _)| *c == 503)
    });
    assert_eq!(code, 503);
    assert!(body.contains("validationsuites.ade.dev"), "{body}");
    assert_eq!(operator.metric("ade_crds_installed"), Some(0.0));

    // The chart puts it back.
    install_chart();
    wait_for("/readyz to recover", Duration::from_secs(30), || {
        operator.get("/readyz").filter(|(c, _)| *c == 200)
    });
}

#[test]
fn a_second_replica_stays_passive_until_the_leader_stops() {
    setup();
    let ns = Namespace::create("leader");
    let mut first = Operator::start("replica-a");
    wait_for("replica-a to lead", Duration::from_secs(30), || {
        (lease_holder().as_deref() == Some("replica-a")).then_some(())
    });
    let second = Operator::start("replica-b");

    let pool = repo_root().join("manifests/samples/clusterpool-kubernetes.yaml");
    kubectl_ok(&["apply", "-n", &ns.name, "-f", pool.to_str().unwrap_or_default()]);
    wait_for_status(&ns.name, "clusterpool/batch");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(first.metric("ade_leader"), Some(1.0));
    assert_eq!(second.metric("ade_leader"), Some(0.0));
    assert_eq!(
        second.metric("ade_reconciliations_total{controller=\"cluster-pool\"}"),
        None,
        "the standby reconciled:\n{}",
        second.log()
    );
    assert_eq!(lease_holder().as_deref(), Some("replica-a"));

    // The leader stops gracefully, releases the Lease, and the standby takes over at once.
    let status = first.stop().expect("replica-a was running");
    assert!(status.success(), "replica-a exited with {status}:\n{}", first.log());
    wait_for("replica-b to lead", Duration::from_secs(15), || {
        (lease_holder().as_deref() == Some("replica-b")).then_some(())
    });
    wait_for("replica-b to report leadership", Duration::from_secs(10), || {
        (second.metric("ade_leader") == Some(1.0)).then_some(())
    });
    kubectl_ok(&[
        "patch",
        "clusterpool",
        "batch",
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"capacity":{"maxConcurrentRuns":2}}}"#,
    ]);
    let obj = wait_for_status(&ns.name, "clusterpool/batch");
    assert_eq!(obj["status"]["observedGeneration"], 2);
}
