//! Integration test of long-running steps on an emr pool (a StreamConsumer on
//! runtime emr) with the real aws-sdk-emr against moto: the consumer's demand
//! creates a cluster whatever `minClusters` says, the cluster carries the
//! bootstrap action that installs `ade-stream`, the step is placed once and
//! adopted by name after that, an active step keeps its cluster from being
//! retired as idle, a failed step shows as failed and the next attempt is placed, a cancel
//! ends a step, and a lost cluster shows as not live.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use ade_moto::Moto;
use ade_operator::providers::{
    emr::{AwsEmr, EmrProvider, EmrSettings, breaker::BreakerState, capacity::Demand},
    pool::MemoryLog,
    service::{ServiceStep, ServiceSteps, StepPhase},
};
use jiff::{SignedDuration, Timestamp};

const POOL: &str = r#"
provider: emr
region: us-east-1
capacity: { minClusters: 0, maxClusters: 1, maxRunsPerCluster: 2, idleTimeout: 5m }
emr:
  releaseLabel: emr-7.5.0
  serviceRole: EMR_DefaultRole
  instanceProfile: EMR_EC2_DefaultRole
  primary: { instanceTypes: [m5.xlarge], onDemand: 1 }
  core: { instanceTypes: [r5.xlarge], onDemand: 1 }
  streamBinaryUri: s3://artifacts/ade/ade-stream-x86_64
"#;

const STEP: &str = "ade-stream:analytics/clicks#1 clicks-uid";

fn provider(moto: &Moto) -> EmrProvider {
    let api = AwsEmr::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    EmrProvider::new(
        Arc::new(api),
        EmrSettings {
            operator: "ade-system/ade-operator".into(),
            ..EmrSettings::default()
        },
    )
}

#[tokio::test]
async fn a_stream_step_gets_a_cluster_with_ade_stream_keeps_it_and_is_cancelled() {
    let moto = Moto::start();
    let emr = provider(&moto);
    let pool = support::pool(POOL, "streams");
    let log = MemoryLog::default();
    let now = Timestamp::now();
    let wants = Demand {
        queued: vec![STEP.to_owned()],
        placed: Vec::new(),
    };

    // The consumer's demand alone starts a cluster (minClusters is 0).
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &wants, &log, now)
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1, "{report:?}");
    let cluster = report.created[0].0.clone();
    let client = support::raw(&moto).await;
    let actions = client
        .list_bootstrap_actions()
        .cluster_id(&cluster)
        .send()
        .await
        .unwrap();
    let action = actions
        .bootstrap_actions()
        .iter()
        .find(|a| a.name() == Some("ade-stream"))
        .expect("the bootstrap action that installs ade-stream");
    assert_eq!(action.script_path(), Some("file:/bin/bash"));
    assert_eq!(
        action.args(),
        [
            "-c",
            "aws s3 cp \"$0\" /tmp/ade-stream && sudo install -m 0755 /tmp/ade-stream /usr/local/bin/ade-stream",
            "s3://artifacts/ade/ade-stream-x86_64"
        ]
    );

    // Placed once; placed again (a retried or restarted reconcile): adopted.
    let step = ServiceStep {
        name: STEP.into(),
        args: vec![
            "env".into(),
            "POD_NAME=clicks-emr-1".into(),
            "/usr/local/bin/ade-stream".into(),
        ],
    };
    let (on, id) = emr.place(&pool, &step).await.unwrap().expect("a slot");
    assert_eq!(on, cluster);
    assert_eq!(emr.place(&pool, &step).await.unwrap(), Some((on.clone(), id.clone())));
    let steps = client.list_steps().cluster_id(&cluster).send().await.unwrap();
    assert_eq!(steps.steps().len(), 1, "one step");
    assert_eq!(
        steps.steps()[0].config().unwrap().args(),
        ["env", "POD_NAME=clicks-emr-1", "/usr/local/bin/ade-stream"]
    );
    let found = emr.find(&pool, "ade-stream:analytics/clicks#").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].step_id.as_str(), found[0].phase, found[0].cluster_live),
        (id.as_str(), StepPhase::Running, true)
    );

    // Long past idleTimeout, with no demand: the running step keeps its cluster.
    let later = now + SignedDuration::from_mins(30);
    let report = emr
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, later)
        .await
        .unwrap();
    assert!(report.waiting.is_empty());
    let state = client.describe_cluster().cluster_id(&cluster).send().await.unwrap();
    let state = state
        .cluster()
        .unwrap()
        .status()
        .unwrap()
        .state()
        .unwrap()
        .as_str()
        .to_owned();
    assert!(!state.starts_with("TERMINAT"), "a busy cluster was retired: {state}");

    // The step fails (moved there through moto's control endpoint): found as
    // Failed, so the consumer restarts; its next attempt goes on the same cluster.
    moto.set_step_state(&cluster, &id, "FAILED");
    let found = emr.find(&pool, "ade-stream:analytics/clicks#").await.unwrap();
    assert_eq!(found[0].phase, StepPhase::Failed, "{found:?}");
    let next = ServiceStep {
        name: "ade-stream:analytics/clicks#2 clicks-uid".into(),
        args: step.args.clone(),
    };
    let (on, id) = emr.place(&pool, &next).await.unwrap().expect("a slot");
    assert_eq!(on, cluster);

    // Cancelled (the consumer was deleted): the step ends.
    emr.cancel(&pool, &cluster, &id).await.unwrap();
    let found = emr.find(&pool, "ade-stream:analytics/clicks#2").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(!found[0].phase.is_active(), "{found:?}");

    // The cluster is lost: its steps show it.
    moto.set_cluster_state(&cluster, "TERMINATED_WITH_ERRORS", "Spot instance interruption");
    let found = emr.find(&pool, "ade-stream:analytics/clicks#").await.unwrap();
    assert_eq!(found.len(), 2, "a recently ended cluster's steps are still found");
    assert!(!found[0].cluster_live);
    assert!(
        found[0]
            .cluster_message
            .as_deref()
            .is_some_and(|m| m.contains("Spot instance interruption")),
        "{found:?}"
    );
}
