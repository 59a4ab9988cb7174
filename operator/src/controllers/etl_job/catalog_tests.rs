//! The catalog of a job's batches: the plan (pure, tables) and the reconcile
//! over the in-memory API server and catalog (issue 19).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob},
    controllers::{etl_job::reconcile, validation_suite::validated_key},
    testing::scenario::{FakeEmr, Scenario},
};

const NS: &str = "analytics";

/// Job `orders`, hourly, one cataloged output; gated by suite `orders-quality` when `gated`.
fn job(gated: bool, catalog: Value) -> EtlJob {
    let mut spec = json!({
        "poolRef": {"name": "batch"}, "window": {"size": "1h"},
        "task": {"container": {"image": "busybox"}},
        "outputs": [{"name": "orders", "uri": "s3://lake/orders/batch={{batch.id}}/", "catalog": catalog}],
    });
    if gated {
        spec["gates"] = json!({"after": [{"validationSuiteRef": {"name": "orders-quality"}}]});
    }
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlJob",
        "metadata": {"name": "orders", "namespace": NS},
        "spec": spec,
    }))
    .unwrap()
}

fn lake() -> Value {
    json!({"database": "lake", "table": "orders", "partition": {"batch": "{{batch.id}}", "from": "{{window.start}}"}})
}

fn pool() -> ClusterPool {
    serde_json::from_value(json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "ClusterPool",
        "metadata": {"name": "batch", "namespace": NS},
        "spec": {"provider": "kubernetes"},
    }))
    .unwrap()
}

/// Run `n` of batch `2026-11-25T<hour>`, in `phase`; `verdict` is its
/// Quarantined condition ("True" failed a gate, "False" passed, None not checked).
fn run(hour: u32, n: u32, phase: &str, verdict: Option<&str>) -> EtlRun {
    let batch = format!("2026-11-25T{hour:02}");
    let mut run = json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {
            "name": format!("orders-{}-{n}", batch.to_lowercase()), "namespace": NS,
            "creationTimestamp": format!("2026-11-25T{:02}:{n:02}:00Z", hour + 1),
        },
        "spec": {
            "jobRef": {"name": "orders"}, "batchId": batch, "reason": "schedule",
            "window": {"start": format!("{batch}:00:00Z"), "end": format!("2026-11-25T{:02}:00:00Z", hour + 1)},
        },
        "status": {"phase": phase},
    });
    if let Some(status) = verdict {
        run["status"]["conditions"] = json!([{"type": "Quarantined", "status": status, "reason": "Checked",
            "message": "", "lastTransitionTime": "2026-11-25T00:00:00Z"}]);
        run["metadata"]["annotations"] = json!({validated_key("orders-quality"): "suite-uid"});
    }
    serde_json::from_value(run).unwrap()
}

fn acts(plan: &Plan) -> Vec<(String, Act)> {
    plan.work.iter().map(|w| (w.run.name_any(), w.act)).collect()
}

#[test]
fn a_batch_goes_in_once_final_and_out_when_a_gate_quarantines_it() {
    let ungated = job(false, lake());
    let gated = job(true, lake());
    let register = |name: &str| (name.to_owned(), Act::Register);
    let remove = |name: &str| (name.to_owned(), Act::Remove);
    type Case<'a> = (&'a str, &'a EtlJob, Vec<EtlRun>, Vec<(String, Act)>);
    let cases: Vec<Case> = vec![
        (
            "a running batch waits",
            &ungated,
            vec![run(13, 0, "Running", None)],
            vec![],
        ),
        (
            "a succeeded batch of an ungated job goes in",
            &ungated,
            vec![run(13, 0, "Succeeded", None)],
            vec![register("orders-2026-11-25t13-0")],
        ),
        (
            "a rerun under way leaves the batch as it is",
            &ungated,
            vec![run(13, 0, "Succeeded", None), run(13, 1, "Running", None)],
            vec![],
        ),
        (
            "a gated batch waits for its suite",
            &gated,
            vec![run(13, 0, "Succeeded", None)],
            vec![],
        ),
        (
            "a passed batch goes in, a failed one is taken out",
            &gated,
            vec![
                run(13, 0, "Succeeded", Some("False")),
                run(14, 0, "Succeeded", Some("True")),
            ],
            vec![register("orders-2026-11-25t13-0"), remove("orders-2026-11-25t14-0")],
        ),
        (
            "a rerun that passes puts a quarantined batch back",
            &gated,
            vec![
                run(14, 0, "Succeeded", Some("True")),
                run(14, 1, "Succeeded", Some("False")),
            ],
            vec![register("orders-2026-11-25t14-1")],
        ),
        (
            "a rerun that fails its gate takes a passed batch out, even while another rerun runs",
            &gated,
            vec![
                run(14, 0, "Succeeded", Some("False")),
                run(14, 1, "Succeeded", Some("True")),
                run(14, 2, "Running", None),
            ],
            vec![remove("orders-2026-11-25t14-1")],
        ),
    ];
    for (name, job, runs, want) in cases {
        let got = plan(job, &runs, Some("us-east-1"));
        assert_eq!(acts(&got), want, "{name}");
        assert!(got.problems.is_empty(), "{name}: {:?}", got.problems);
    }
}

#[test]
fn partitions_render_from_the_batch_and_a_recorded_one_is_not_sent_again() {
    let job = job(false, lake());
    let mut done = run(13, 0, "Succeeded", None);
    let wanted = plan(&job, std::slice::from_ref(&done), Some("eu-west-1"));
    let (output, partition) = &wanted.work[0].partitions[0];
    assert_eq!(output, "orders");
    assert_eq!(partition.region, "eu-west-1");
    assert_eq!(partition.location, "s3://lake/orders/batch=2026-11-25T13/");
    assert_eq!(
        partition.values,
        [("batch", "2026-11-25T13"), ("from", "2026-11-25T13:00:00Z")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into()
    );
    let recorded = records(
        &done,
        &wanted.work[0].partitions,
        PartitionState::Registered,
        Timestamp::now(),
    );
    done.status.as_mut().unwrap().partitions = recorded;
    let again = plan(&job, &[done], Some("eu-west-1"));
    assert!(again.work.is_empty(), "recorded: {:?}", acts(&again));
    assert_eq!(again.registered.len(), 1);
    assert!(plan(&job, &[], None).work.is_empty());
    let no_region = plan(&job, &[run(13, 0, "Succeeded", None)], None);
    assert!(
        no_region.problems[0].contains("spec.outputs[0].catalog.region"),
        "{:?}",
        no_region.problems
    );
}

#[test]
fn the_condition_says_what_blocks_the_catalog() {
    let missing = CatalogError {
        kind: ade_catalog::ErrorKind::TableNotFound,
        message: "the Glue table lake.orders does not exist in us-east-1".into(),
    };
    let c = condition(&[], std::slice::from_ref(&missing), None, false);
    assert_eq!((c.status, c.reason), (Status::False, "CatalogTableNotFound"));
    assert!(c.message.contains("lake.orders"), "{}", c.message);
    let c = condition(&[], &[], Some("2026-11-25T13"), false);
    assert_eq!((c.status, c.reason), (Status::True, "Registered"));
    assert!(c.message.contains("2026-11-25T13"), "{}", c.message);
    assert_eq!(condition(&[], &[], None, true).reason, "Registering");
}

fn stored_job(s: &Scenario) -> Arc<EtlJob> {
    Arc::new(s.api.get(Some(NS), "orders").unwrap())
}

fn cataloged(s: &Scenario) -> (String, String, Option<String>) {
    let job = stored_job(s);
    let status = job.status.clone().unwrap();
    let c = crate::controllers::conditions::find(&status.conditions, CATALOGED).unwrap();
    (c.reason.clone(), c.message.clone(), status.newest_registered_batch)
}

#[tokio::test]
async fn passed_batches_are_registered_once_and_a_quarantined_one_is_removed() {
    let runs = [
        run(13, 0, "Succeeded", Some("False")),
        run(14, 0, "Succeeded", Some("True")),
    ];
    let s = Scenario::new(&runs, &[job(true, lake())], &[pool()], Arc::new(FakeEmr::default()));

    // No table yet: a condition that names it, one call, nothing recorded.
    reconcile(stored_job(&s), s.ctx.clone()).await.unwrap();
    let (reason, message, newest) = cataloged(&s);
    assert_eq!(reason, "CatalogTableNotFound");
    assert!(message.contains("lake.orders"), "{message}");
    assert_eq!(newest, None);
    assert_eq!(
        s.catalog.calls().len(),
        1,
        "not asked again for the same table: {:?}",
        s.catalog.calls()
    );

    s.catalog.create_table("lake", "orders", &["batch", "from"]);
    reconcile(stored_job(&s), s.ctx.clone()).await.unwrap();
    let parts = s.catalog.partitions("lake", "orders");
    assert_eq!(
        parts.keys().collect::<Vec<_>>(),
        [&vec!["2026-11-25T13".to_owned(), "2026-11-25T13:00:00Z".to_owned()]],
        "the passed batch only"
    );
    let passed = s.run(NS, "orders-2026-11-25t13-0").unwrap();
    let recorded = &passed.status.unwrap().partitions[0];
    assert_eq!(
        (recorded.state, recorded.table.as_str()),
        (PartitionState::Registered, "orders")
    );
    let (reason, _, newest) = cataloged(&s);
    assert_eq!(
        (reason.as_str(), newest.as_deref()),
        ("Registered", Some("2026-11-25T13"))
    );
    let failed = s.run(NS, "orders-2026-11-25t14-0").unwrap();
    assert_eq!(failed.status.unwrap().partitions[0].state, PartitionState::Removed);

    // Reconciled again: nothing more reaches the catalog.
    let calls = s.catalog.calls().len();
    reconcile(stored_job(&s), s.ctx.clone()).await.unwrap();
    assert_eq!(s.catalog.calls().len(), calls, "{:?}", s.catalog.calls());

    // A rerun of batch 13 fails its gate: the batch leaves the catalog, with Events.
    let rerun = s.api.insert(&run(13, 1, "Succeeded", Some("True")));
    s.ctx.caches.runs.wrote(rerun);
    s.api.take_calls();
    reconcile(stored_job(&s), s.ctx.clone()).await.unwrap();
    assert!(s.catalog.partitions("lake", "orders").is_empty());
    let removed: Vec<_> = s
        .api
        .calls()
        .into_iter()
        .filter(|c| c.is_event())
        .filter_map(|c| c.body)
        .filter(|b| b["reason"] == "PartitionRemoved")
        .collect();
    assert_eq!(removed.len(), 2, "on the run and on the job");
    assert!(
        removed[0]["note"]
            .as_str()
            .unwrap()
            .contains("batch 2026-11-25T13 was quarantined"),
        "{removed:?}"
    );
}
