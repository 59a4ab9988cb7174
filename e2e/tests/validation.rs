//! ValidationSuite against the real control plane: the operator runs
//! `ade-validate` as a Kubernetes Job after each batch of an EtlJob; the
//! validation Pod is run for real on the host by the e2e executor (kwok runs
//! no containers), reading its dataset from and publishing its results to a
//! real moto S3 on 127.0.0.1 through the AWS SDK. A failing check marks the
//! gated batch Quarantined; bad input makes the suite not Ready with the
//! runner's own words.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see hack/e2e.sh).

use std::{collections::BTreeMap, time::Duration};

use ade_e2e::{
    Executor, Moto, Namespace, Operator, S3, apply, condition, executor::validate_bin, get_json, install_chart_once,
    wait_for,
};
use serde_json::Value;

fn start(ns: &Namespace, moto: &Moto) -> (Operator, Executor) {
    let endpoint = format!("--aws-endpoint-url={}", moto.endpoint());
    let operator = Operator::start_with(
        &ns.name,
        &[
            &endpoint,
            "--aws-region=us-east-1",
            "--validator-image=ghcr.io/ade-dev/ade-operator:e2e",
        ],
        &[],
    );
    let binaries = BTreeMap::from([("ade-validate".to_owned(), validate_bin())]);
    let executor = Executor::start(&ns.name, "validation", binaries, moto.env());
    (operator, executor)
}

const ORDERS_CSV: &str = "order_id,status,amount\n1,new,10.5\n2,paid,3.0\n2,paid,7.25\n3,shipped,1.0\n";

fn job_and_run(ns: &str) {
    apply(
        ns,
        "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec: {provider: kubernetes}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: orders}
spec:
  poolRef: {name: batch}
  task: {container: {image: busybox, args: ['--batch={{batch.id}}']}}
  gates: {after: [{validationSuiteRef: {name: orders-quality}}]}
",
    );
    apply(
        ns,
        "apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {name: orders-2026-11-25}
spec:
  jobRef: {name: orders}
  batchId: '2026-11-25'
  window: {start: '2026-11-25T00:00:00Z', end: '2026-11-26T00:00:00Z'}
  reason: manual
",
    );
}

fn suite(ns: &str, name: &str, checks: &str) {
    apply(
        ns,
        &format!(
            "apiVersion: ade.dev/v1alpha1
kind: ValidationSuite
metadata: {{name: {name}}}
spec:
  dataset: {{uri: 's3://lake/orders/batch={{{{batch.id}}}}/', format: csv}}
  trigger: {{after: {{etlJobRef: {{name: orders}}}}}}
  checks:
{checks}
  publish: {{s3: {{uri: 's3://quality/results/'}}}}
"
        ),
    );
}

fn last_run(ns: &str, name: &str) -> Option<Value> {
    let suite = get_json(ns, &["validationsuite", name])?;
    let last = suite["status"]["lastRun"].clone();
    (!last.is_null()).then_some(last)
}

#[test]
fn a_failing_check_after_a_batch_quarantines_it() {
    install_chart_once();
    let ns = Namespace::create("vsuite");
    let moto = Moto::start();
    moto.put("lake", &[("orders/batch=2026-11-25/part-0.csv", ORDERS_CSV)]);
    moto.put("quality", &[]);
    let (_operator, _executor) = start(&ns, &moto);
    job_and_run(&ns.name);
    suite(
        &ns.name,
        "orders-quality",
        "  - {name: has-rows, rowCount: {min: 1}}
  - {name: id-unique, column: order_id, unique: {}}
  - {name: status-known, column: status, inSet: {values: [new, paid, shipped]}}
  - {name: amount-positive, column: amount, range: {min: 0}}",
    );

    let last = wait_for("the suite to check batch 2026-11-25", Duration::from_secs(120), || {
        last_run(&ns.name, "orders-quality")
    });
    assert_eq!(last["batchId"], "2026-11-25", "{last}");
    assert_eq!(last["outcome"], "Failed", "{last}");
    assert_eq!(
        (last["passed"].as_i64(), last["failed"].as_i64()),
        (Some(3), Some(1)),
        "{last}"
    );
    assert_eq!(last["failedChecks"], serde_json::json!(["id-unique"]), "{last}");
    assert_eq!(last["etlRun"], "orders-2026-11-25");
    let suite = get_json(&ns.name, &["validationsuite", "orders-quality"]).expect("suite");
    let healthy = condition(&suite, "Healthy").expect("Healthy");
    assert_eq!(
        (healthy["status"].as_str(), healthy["reason"].as_str()),
        (Some("False"), Some("ChecksFailed")),
        "{healthy}"
    );
    assert!(
        healthy["message"].as_str().unwrap_or_default().contains("id-unique"),
        "{healthy}"
    );
    assert!(suite["status"]["active"].is_null(), "nothing left running: {suite}");

    // The result document is where status says, written by the real runner.
    let results_uri = last["resultsUri"].as_str().expect("resultsUri");
    let key = results_uri
        .strip_prefix("s3://quality/")
        .expect("in the quality bucket");
    let doc: Value = serde_json::from_str(&moto.get("quality", key)).expect("result JSON");
    assert_eq!(doc["apiVersion"], "ade.dev/validation-result/v1");
    assert_eq!(doc["profile"]["rowCount"], 4);
    let history = moto.keys("quality", "results/_history/");
    assert_eq!(history.len(), 1, "one history record for the batch: {history:?}");

    // The gated batch is quarantined, with the failed check named.
    let run = get_json(&ns.name, &["etlrun", "orders-2026-11-25"]).expect("run");
    assert_eq!(run["status"]["phase"], "Succeeded");
    let quarantined = condition(&run, "Quarantined").expect("Quarantined");
    assert_eq!(
        (quarantined["status"].as_str(), quarantined["reason"].as_str()),
        (Some("True"), Some("ChecksFailed")),
        "{quarantined}"
    );
    assert!(
        quarantined["message"]
            .as_str()
            .unwrap_or_default()
            .contains("id-unique")
    );
    ade_e2e::argocd::capture(&ns.name, "etlrun/orders-2026-11-25", "quarantined");
    ade_e2e::argocd::capture(&ns.name, "validationsuite/orders-quality", "checks-failed");
    wait_for("the job to say it is quarantined", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob/orders"])?;
        (condition(&job, "Quarantined")?["status"] == "True").then_some(())
    });
    ade_e2e::argocd::capture(&ns.name, "etljob/orders", "quarantined");

    // One validation Job for the one batch: later reconciles do not start another.
    std::thread::sleep(Duration::from_secs(5));
    let jobs = get_json(
        &ns.name,
        &["jobs.batch", "-l", "app.kubernetes.io/component=validation"],
    )
    .expect("jobs");
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(1), "{jobs}");
}

#[test]
fn a_suite_naming_an_unknown_column_is_not_ready_and_publishes_nothing() {
    install_chart_once();
    let ns = Namespace::create("vsuite-bad");
    let moto = Moto::start();
    moto.put("lake", &[("orders/batch=2026-11-25/part-0.csv", ORDERS_CSV)]);
    moto.put("quality", &[]);
    let (_operator, _executor) = start(&ns, &moto);
    job_and_run(&ns.name);
    suite(
        &ns.name,
        "orders-quality",
        "  - {name: amount-positive, column: amout, range: {min: 0}}",
    );

    let last = wait_for("the suite to try batch 2026-11-25", Duration::from_secs(120), || {
        last_run(&ns.name, "orders-quality")
    });
    assert_eq!(last["outcome"], "InvalidInput", "{last}");
    let suite = get_json(&ns.name, &["validationsuite", "orders-quality"]).expect("suite");
    let ready = condition(&suite, "Ready").expect("Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("InvalidInput")),
        "{ready}"
    );
    assert!(
        ready["message"].as_str().unwrap_or_default().contains("amout"),
        "names the column: {ready}"
    );
    assert!(moto.keys("quality", "").is_empty(), "nothing published");
    // A batch that could not be checked is not vouched for.
    let run = get_json(&ns.name, &["etlrun", "orders-2026-11-25"]).expect("run");
    let quarantined = condition(&run, "Quarantined").expect("Quarantined");
    assert_eq!(quarantined["reason"], "NotValidated", "{quarantined}");
    ade_e2e::argocd::capture(&ns.name, "validationsuite/orders-quality", "invalid-input");
}
