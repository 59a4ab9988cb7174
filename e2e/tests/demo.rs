//! `make demo` stays true: the e2e suite runs the demo script (hack/demo.sh,
//! every chapter) against the local control plane with the binaries it
//! built, and fails when the demo does (`ADE_DEMO_FAST=1`: shorter tasks and
//! idle timeout). The demo deletes its namespaces
//! before its operator stops (`ADE_DEMO_CLEANUP=1`), so nothing it made
//! reaches the tests after it.

use std::process::Command;

use ade_e2e::{install_chart, kubectl, repo_root};

#[test]
fn the_demo_runs_every_chapter_to_the_end() {
    install_chart();
    let out = Command::new(repo_root().join("hack/demo.sh"))
        .env("ADE_DEMO_CLEANUP", "1")
        .env("ADE_DEMO_FAST", "1")
        .env("CHAPTER", "all")
        .output()
        .expect("running hack/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "hack/demo.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for chapter in [
        "Batches on this cluster",
        "Spot EMR on demand",
        "Spot nodes for EKS",
        "A bad batch is caught",
        "PII hidden at the door",
    ] {
        assert!(stdout.contains(chapter), "chapter {chapter:?} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("ClusterTerminated"),
        "the idle cluster's termination is shown:\n{stdout}"
    );
    assert!(
        stdout.contains("NodeLaunched") && stdout.contains("NodeTerminated"),
        "the eks nodes' launch and idle termination are shown:\n{stdout}"
    );
    assert!(
        stdout.contains("ChecksFailed: ValidationSuite orders-quality failed this batch (complete)"),
        "the quarantined batch is shown with the failed check:\n{stdout}"
    );
    assert!(
        stdout.contains("(1 partition(s) in lake.orders)")
            && stdout.contains("2026-11-01T01 s3://lake/orders/batch=2026-11-01T01/")
            && stdout.contains("(2 partition(s) in lake.orders)"),
        "the catalog listed batch 00 alone, then both once the rerun passed:\n{stdout}"
    );
    assert!(
        stdout.contains("Observe: Prometheus scraped the operator")
            && stdout.contains("alertname=AdeBatchQuarantined")
            && stdout.contains("etl_job=orders"),
        "Prometheus saw the runs and the quarantine's alert:\n{stdout}"
    );
    assert!(
        stdout.contains("no object in the bucket holds a clear value")
            && stdout.contains("nothing of the consumer runs any more"),
        "the stream chapter ran to its end:\n{stdout}"
    );
    let left = kubectl(&[
        "get",
        "namespace",
        "demo",
        "demo-emr",
        "demo-eks",
        "demo-quality",
        "demo-stream",
        "samples",
        "-o",
        "name",
    ]);
    assert!(
        left.stdout.trim().is_empty(),
        "the demo's namespaces are gone: {}",
        left.stdout
    );
}
