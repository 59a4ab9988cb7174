//! Batches in the Glue Data Catalog (moto's Glue), against the real control
//! plane: an EtlJob gated by a ValidationSuite (which reads the job's output
//! through `dataset.fromJob`; its Pods run `ade-validate` on the host) has an
//! output in the catalog. A batch that passes appears in `GetPartitions`; a
//! batch that fails never does; a rerun of it that passes makes it appear.
//!
//! The stream side (ade-stream registering its hour partitions) is checked in
//! stream_records.rs, where real consumers write.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see hack/e2e.sh).

use std::{collections::BTreeMap, time::Duration};

use ade_e2e::{
    Executor, Glue, Moto, Namespace, Operator, S3, apply, condition, event_messages, executor::validate_bin, get_json,
    install_chart_once, wait_for,
};
use serde_json::Value;

const GOOD: &str = "order_id,amount\n1,10.5\n2,3.0\n3,7.25\n";
const DUPLICATE_ID: &str = "order_id,amount\n1,10.5\n1,3.0\n";

fn location(batch: &str) -> String {
    format!("s3://lake/orders/batch={batch}/")
}

fn run(ns: &str, name: &str, batch: &str, day: u32) {
    apply(
        ns,
        &format!(
            "apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {{name: {name}}}
spec:
  jobRef: {{name: orders}}
  batchId: '{batch}'
  window: {{start: '2026-11-{day}T00:00:00Z', end: '2026-11-{}T00:00:00Z'}}
  reason: manual
",
            day + 1
        ),
    );
}

/// The run's `status.partitions`, once it has any.
fn partitions_of(ns: &str, run: &str) -> Option<Vec<Value>> {
    let run = get_json(ns, &["etlrun", run])?;
    run["status"]["partitions"].as_array().cloned()
}

#[test]
fn only_batches_that_pass_their_gate_are_in_the_catalog() {
    install_chart_once();
    let ns = Namespace::create("catalog");
    let moto = Moto::start();
    moto.put(
        "lake",
        &[
            ("orders/batch=2026-11-25/part-0.csv", GOOD),
            ("orders/batch=2026-11-26/part-0.csv", DUPLICATE_ID),
        ],
    );
    moto.put("quality", &[]);
    moto.create_glue_table("lake", "orders", &["batch"], "s3://lake/orders/");
    let endpoint = format!("--aws-endpoint-url={}", moto.endpoint());
    let _operator = Operator::start_with(
        &ns.name,
        &[
            &endpoint,
            "--aws-region=us-east-1",
            "--validator-image=ghcr.io/ade-dev/ade-operator:e2e",
        ],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    );
    let binaries = BTreeMap::from([("ade-validate".to_owned(), validate_bin())]);
    let _executor = Executor::start(&ns.name, "validation", binaries, moto.env());
    apply(
        &ns.name,
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
  outputs:
    - name: orders
      uri: 's3://lake/orders/batch={{batch.id}}/'
      catalog: {database: lake, table: orders, partition: {batch: '{{batch.id}}'}}
---
apiVersion: ade.dev/v1alpha1
kind: ValidationSuite
metadata: {name: orders-quality}
spec:
  dataset: {fromJob: {name: orders, output: orders}, format: csv}
  trigger: {after: {etlJobRef: {name: orders}}}
  checks:
    - {name: id-unique, column: order_id, unique: {}}
  publish: {s3: {uri: 's3://quality/results/'}}
",
    );
    run(&ns.name, "orders-2026-11-25", "2026-11-25", 25);
    run(&ns.name, "orders-2026-11-26", "2026-11-26", 26);

    // The passing batch is registered; the run and the job say so.
    let registered = wait_for("batch 2026-11-25 in the catalog", Duration::from_secs(180), || {
        partitions_of(&ns.name, "orders-2026-11-25")
    });
    assert_eq!(registered[0]["state"], "Registered", "{registered:?}");
    assert_eq!(registered[0]["location"], location("2026-11-25").as_str());
    // The failing batch: the operator decided (recorded as not in the catalog)
    // once its gate quarantined it.
    let removed = wait_for("batch 2026-11-26 judged", Duration::from_secs(180), || {
        partitions_of(&ns.name, "orders-2026-11-26")
    });
    assert_eq!(removed[0]["state"], "Removed", "{removed:?}");
    let failed = get_json(&ns.name, &["etlrun", "orders-2026-11-26"]).expect("run");
    assert_eq!(condition(&failed, "Quarantined").expect("verdict")["status"], "True");
    let listed = moto.glue_partitions("lake", "orders");
    eprintln!("GetPartitions after the first two batches: {listed:?}");
    assert_eq!(listed, [(vec!["2026-11-25".to_owned()], location("2026-11-25"))]);
    let job = wait_for("the job to name its newest batch", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob", "orders"])?;
        (job["status"]["newestRegisteredBatch"] == "2026-11-25").then_some(job)
    });
    let cataloged = condition(&job, "Cataloged").expect("Cataloged");
    assert_eq!(
        (cataloged["status"].as_str(), cataloged["reason"].as_str()),
        (Some("True"), Some("Registered"))
    );
    assert!(
        event_messages(&ns.name, "PartitionRegistered")
            .iter()
            .any(|m| m.contains("batch 2026-11-25 is in the catalog: lake.orders (batch=2026-11-25)")),
        "{:?}",
        event_messages(&ns.name, "PartitionRegistered")
    );

    // The data is fixed and the batch rerun: it passes and appears.
    moto.put("lake", &[("orders/batch=2026-11-26/part-0.csv", GOOD)]);
    run(&ns.name, "orders-2026-11-26-rerun", "2026-11-26", 26);
    let rerun = wait_for("the rerun's batch in the catalog", Duration::from_secs(180), || {
        partitions_of(&ns.name, "orders-2026-11-26-rerun")
    });
    assert_eq!(rerun[0]["state"], "Registered", "{rerun:?}");
    let listed = moto.glue_partitions("lake", "orders");
    eprintln!("GetPartitions after the passing rerun: {listed:?}");
    assert_eq!(
        listed,
        [
            (vec!["2026-11-25".to_owned()], location("2026-11-25")),
            (vec!["2026-11-26".to_owned()], location("2026-11-26")),
        ]
    );
    wait_for("the job to name the rerun's batch", Duration::from_secs(30), || {
        let job = get_json(&ns.name, &["etljob", "orders"])?;
        (job["status"]["newestRegisteredBatch"] == "2026-11-26").then_some(())
    });
}
