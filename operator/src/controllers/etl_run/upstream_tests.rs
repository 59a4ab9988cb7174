//! Issue 12, item 5: gates act before the fact.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn etl_job(name: &str, spec: serde_json::Value) -> Arc<EtlJob> {
    let mut full = json!({"poolRef": {"name": "batch"}, "task": {"container": {"image": "busybox"}}});
    for (k, v) in spec.as_object().unwrap() {
        full[k] = v.clone();
    }
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
            "metadata": {"name": name, "namespace": "analytics"},
            "spec": full,
        }))
        .unwrap(),
    )
}

/// An hourly upstream job, gated by `raw-quality` when `gated`.
fn raw(gated: bool) -> Arc<EtlJob> {
    let gates = if gated {
        json!({"after": [{"validationSuiteRef": {"name": "raw-quality"}}]})
    } else {
        json!(null)
    };
    etl_job("raw", json!({"schedule": "0 * * * *", "gates": gates}))
}

/// A daily job depending on `raw`.
fn daily() -> Arc<EtlJob> {
    etl_job(
        "orders",
        json!({"schedule": "0 0 * * *", "dependsOn": [{"etlJobRef": {"name": "raw"}}]}),
    )
}

fn day() -> Window {
    Window {
        start: ts("2026-11-25T00:00:00Z"),
        end: ts("2026-11-26T00:00:00Z"),
    }
}

/// A run of `raw` for hour `hour` of the day, created at minute `created`.
fn raw_run(hour: u32, created: i64, status: serde_json::Value, annotations: serde_json::Value) -> Arc<EtlRun> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
            "metadata": {"name": format!("raw-{hour}-{created}"), "namespace": "analytics",
                         "creationTimestamp": Timestamp::from_second(1_800_000_000 + created * 60).unwrap().to_string(),
                         "annotations": annotations},
            "spec": {"jobRef": {"name": "raw"}, "batchId": format!("2026-11-25T{hour:02}")},
            "status": status,
        }))
        .unwrap(),
    )
}

fn succeeded() -> serde_json::Value {
    json!({"phase": "Succeeded"})
}

fn checked() -> serde_json::Value {
    json!({"validated.ade.dev/raw-quality": "uid-1"})
}

fn all_hours(gated: bool) -> Vec<Arc<EtlRun>> {
    let marks = if gated { checked() } else { json!({}) };
    (0..24).map(|h| raw_run(h, 0, succeeded(), marks.clone())).collect()
}

#[test]
fn a_dependent_batch_waits_for_every_upstream_batch_of_its_window() {
    let jobs = [raw(false), daily()];
    let mut runs = all_hours(false);
    assert_eq!(pending(&daily(), &day(), &runs, &jobs), None, "all 24 hours succeeded");
    runs.remove(13);
    assert_eq!(
        pending(&daily(), &day(), &runs, &jobs).as_deref(),
        Some("waits for batch 2026-11-25T13 of EtlJob raw, which has no run yet")
    );
    // A rerun in progress: the newest run of the batch decides.
    runs.push(raw_run(13, 0, succeeded(), json!({})));
    runs.push(raw_run(13, 5, json!({"phase": "Running"}), json!({})));
    let message = pending(&daily(), &day(), &runs, &jobs).unwrap();
    assert!(
        message.contains("batch 2026-11-25T13 of EtlJob raw to succeed (its run raw-13-5 is Running)"),
        "{message}"
    );
}

#[test]
fn a_gated_upstream_batch_counts_once_its_suites_passed_it() {
    let jobs = [raw(true), daily()];
    let mut runs = all_hours(false);
    let message = pending(&daily(), &day(), &runs, &jobs).unwrap();
    assert_eq!(
        message,
        "waits for ValidationSuite raw-quality to check batch 2026-11-25T00 of EtlJob raw (a gate of that job)"
    );
    runs = all_hours(true);
    assert_eq!(pending(&daily(), &day(), &runs, &jobs), None);
    let quarantined = json!({"phase": "Succeeded", "conditions": [{
        "type": "Quarantined", "status": "True", "reason": "ChecksFailed", "message": "rows",
        "lastTransitionTime": "2026-11-25T10:00:00Z"}]});
    runs[7] = raw_run(7, 0, quarantined, checked());
    assert_eq!(
        pending(&daily(), &day(), &runs, &jobs).as_deref(),
        Some("batch 2026-11-25T07 of EtlJob raw is quarantined by a failed quality gate")
    );
}

#[test]
fn an_upstream_batch_longer_than_the_window_covers_it() {
    // An hourly job depending on a daily one: the day's batch covers every hour.
    let upstream = etl_job("raw", json!({"schedule": "0 0 * * *"}));
    let hourly = etl_job(
        "orders",
        json!({"schedule": "0 * * * *", "dependsOn": [{"etlJobRef": {"name": "raw"}}]}),
    );
    let hour = Window {
        start: ts("2026-11-25T13:00:00Z"),
        end: ts("2026-11-25T14:00:00Z"),
    };
    let jobs = [upstream, hourly.clone()];
    assert_eq!(
        pending(&hourly, &hour, &[], &jobs).as_deref(),
        Some("waits for batch 2026-11-25 of EtlJob raw, which has no run yet")
    );
    let missing = pending(&hourly, &hour, &[], std::slice::from_ref(&hourly)).unwrap();
    assert!(
        missing.contains("EtlJob raw (spec.dependsOn), which does not exist"),
        "{missing}"
    );
}
