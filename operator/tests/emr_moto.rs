//! Integration tests of the emr provider: the real aws-sdk-emr (and
//! aws-sdk-ec2) against moto on 127.0.0.1, started and stopped by each test.
//!
//! moto is shallow, and these tests say so where it matters: it ignores
//! instance fleets (the fleets of the request are asserted on the pure
//! builder in src/providers/emr/request_tests.rs), never advances a step or
//! a cluster (the tests move them through tools/moto's control endpoints),
//! and lacks `CancelSteps` (cancel is covered on the in-memory fake in
//! src/providers/emr/provider_tests.rs).
#![allow(clippy::unwrap_used)]

mod support;

use std::{collections::BTreeMap, sync::Arc};

use ade_moto::Moto;
use ade_operator::providers::{
    AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind,
    emr::{
        AwsEmr, EmrProvider, EmrSettings,
        api::EmrApi,
        breaker::BreakerState,
        capacity::Demand,
        request::{TAG_MANAGED_BY, TAG_MARKET, TAG_POOL_NAME, TAG_POOL_NAMESPACE, TAG_POOL_UID},
    },
    pool::MemoryLog,
};
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, error::CredentialsError};
use jiff::{SignedDuration, Timestamp};

const POOL: &str = r#"
provider: emr
region: us-east-1
capacity: { maxClusters: 2, maxRunsPerCluster: 3, idleTimeout: 5m }
emr:
  releaseLabel: emr-7.5.0
  applications: [Spark, Hive]
  serviceRole: EMR_DefaultRole
  instanceProfile: EMR_EC2_DefaultRole
  logUri: s3://logs/emr/
  primary: { instanceTypes: [m5.xlarge], onDemand: 1 }
  core: { instanceTypes: [r5.xlarge], spot: 2 }
  configurations:
    - classification: spark-defaults
      properties: { spark.dynamicAllocation.enabled: "true" }
  bootstrapActions: [ { name: deps, path: s3://code/bootstrap.sh, args: [--fast] } ]
  tags: { team: data }
"#;

fn provider(moto: &Moto) -> EmrProvider {
    EmrProvider::new(Arc::new(api(moto)), settings())
}

fn api(moto: &Moto) -> AwsEmr {
    AwsEmr::with_static_credentials(Some(moto.endpoint()), "testing", "testing")
}

fn settings() -> EmrSettings {
    let prices = |p: f64| {
        [("m5.xlarge".to_owned(), p), ("r5.xlarge".to_owned(), p)]
            .into_iter()
            .collect()
    };
    EmrSettings {
        operator: "ade-system/ade-operator".into(),
        default_region: None,
        on_demand_prices: prices(0.2),
        emr_uplift: prices(0.05),
    }
}

/// The cluster and step of a placed attempt.
fn placed(handle: &AttemptHandle) -> (String, String) {
    let (cluster, step) = handle.emr_step().unwrap_or_else(|| panic!("not placed: {handle:?}"));
    (cluster.to_owned(), step.to_owned())
}

fn target(request: &AttemptRequest, handle: &AttemptHandle) -> AttemptRef {
    AttemptRef {
        handle: handle.clone(),
        ..request.target.clone()
    }
}

/// moto: the RunJobFlow request as moto recorded it (name, tags, applications,
/// configurations, bootstrap actions, log URI, keep-alive, step concurrency).
#[tokio::test]
async fn run_job_flow_as_moto_records_it() {
    let log = MemoryLog::default();
    let moto = Moto::start();
    let emr = provider(&moto);
    let pool = support::pool(POOL, "spark");
    let req = support::request(&pool, "orders-1");
    let report = emr
        .reconcile_pool(
            &pool,
            BreakerState::default(),
            &support::demand(&[&req]),
            &log,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
    let id = report.created[0].0.clone();

    let client = support::raw(&moto).await;
    let cluster = client
        .describe_cluster()
        .cluster_id(&id)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    let name = cluster.name().unwrap();
    assert!(
        name.starts_with("ade-analytics-spark-") && name.len() == "ade-analytics-spark-".len() + 8,
        "{name}"
    );
    let tags: BTreeMap<&str, &str> = cluster
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("team", "data"),
            (TAG_POOL_NAMESPACE, "analytics"),
            (TAG_POOL_NAME, "spark"),
            (TAG_POOL_UID, "uid-spark"),
            (TAG_MANAGED_BY, "ade-system/ade-operator"),
            (TAG_MARKET, "spot"),
        ])
    );
    let apps: Vec<&str> = cluster.applications().iter().filter_map(|a| a.name()).collect();
    assert_eq!(apps, vec!["Spark", "Hive"]);
    let configs: Vec<(&str, Vec<(&String, &String)>)> = cluster
        .configurations()
        .iter()
        .map(|c| {
            (
                c.classification().unwrap(),
                c.properties().map(|p| p.iter().collect()).unwrap_or_default(),
            )
        })
        .collect();
    let glue = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory".to_owned();
    let factory = "hive.metastore.client.factory.class".to_owned();
    let (dyn_key, yes) = ("spark.dynamicAllocation.enabled".to_owned(), "true".to_owned());
    let (metastore, glue_word) = ("hive.metastore".to_owned(), "glue".to_owned());
    assert_eq!(
        configs,
        vec![
            ("spark-defaults", vec![(&dyn_key, &yes)]),
            ("hive-site", vec![(&factory, &glue)]),
            ("spark-hive-site", vec![(&factory, &glue)]),
            ("trino-connector-hive", vec![(&metastore, &glue_word)]),
        ]
    );
    assert_eq!(cluster.log_uri(), Some("s3://logs/emr/"));
    assert_eq!(cluster.release_label(), Some("emr-7.5.0"));
    assert_eq!(cluster.service_role(), Some("EMR_DefaultRole"));
    assert_eq!(cluster.auto_terminate(), Some(false), "KeepJobFlowAliveWhenNoSteps");
    assert_eq!(cluster.step_concurrency_level(), Some(3), "maxRunsPerCluster");
    let actions = client.list_bootstrap_actions().cluster_id(&id).send().await.unwrap();
    let actions: Vec<(&str, &str, &[String])> = actions
        .bootstrap_actions()
        .iter()
        .map(|a| (a.name().unwrap(), a.script_path().unwrap(), a.args()))
        .collect();
    assert_eq!(
        actions,
        vec![("deps", "s3://code/bootstrap.sh", &["--fast".to_owned()][..])]
    );
}

/// moto: a step per attempt, adopted by name on every later start (also by a
/// new provider: a restart), and its states (moved by the control endpoint)
/// driving the attempt; a cluster terminated with errors interrupts it.
#[tokio::test]
async fn steps_are_adopted_by_name_and_follow_their_state() {
    let log = MemoryLog::default();
    let moto = Moto::start();
    let emr = provider(&moto);
    let pool = support::pool(POOL, "steps");
    let (a, b, c) = (
        support::request(&pool, "a"),
        support::request(&pool, "b"),
        support::request(&pool, "c"),
    );
    emr.reconcile_pool(
        &pool,
        BreakerState::default(),
        &support::demand(&[&a, &b, &c]),
        &log,
        Timestamp::now(),
    )
    .await
    .unwrap();

    let ha = emr.start(&a).await.unwrap();
    let (cluster, step_a) = placed(&ha);
    assert_eq!(emr.start(&a).await.unwrap(), ha, "started twice: adopted");
    assert_eq!(provider(&moto).start(&a).await.unwrap(), ha, "after a restart: adopted");
    let client = support::raw(&moto).await;
    let steps = client.list_steps().cluster_id(&cluster).send().await.unwrap();
    assert_eq!(steps.steps().len(), 1, "one step for one attempt");
    let step = &steps.steps()[0];
    assert_eq!(step.name(), Some("ade:analytics/a#1 a-uid"));
    let args = step.config().unwrap();
    assert_eq!(args.jar(), Some("command-runner.jar"));
    assert_eq!(
        args.args(),
        [
            "spark-submit",
            "--deploy-mode",
            "cluster",
            "s3://code/orders.py",
            "--batch",
            "2026-11-25T13"
        ]
    );

    assert!(matches!(
        emr.observe(&target(&a, &ha)).await.unwrap(),
        AttemptState::Running { .. }
    ));
    moto.set_step_state(&cluster, &step_a, "COMPLETED");
    assert!(matches!(
        emr.observe(&target(&a, &ha)).await.unwrap(),
        AttemptState::Succeeded { finished_at: Some(_) }
    ));

    let hb = emr.start(&b).await.unwrap();
    let (cluster_b, step_b) = placed(&hb);
    assert_eq!(cluster_b, cluster, "the cluster has room for more runs");
    moto.set_step_state(&cluster, &step_b, "FAILED");
    let AttemptState::Failed { kind, .. } = emr.observe(&target(&b, &hb)).await.unwrap() else {
        panic!("a failed step fails the attempt");
    };
    assert_eq!(kind, FailureKind::Failed);

    let hc = emr.start(&c).await.unwrap();
    moto.set_cluster_state(&cluster, "TERMINATED_WITH_ERRORS", "Spot instance interruption");
    let AttemptState::Failed { kind, message, .. } = emr.observe(&target(&c, &hc)).await.unwrap() else {
        panic!("a lost cluster ends the attempt");
    };
    assert_eq!(kind, FailureKind::Interrupted, "{message}");
    assert!(message.contains("Spot instance interruption"), "{message}");
}

/// moto: after a restart (a new provider) the pool's cluster is found by tag,
/// not created again; idle past idleTimeout it is terminated; deleting the
/// pool terminates what is left.
#[tokio::test]
async fn no_duplicate_cluster_after_restart_and_idle_teardown() {
    let log = MemoryLog::default();
    let moto = Moto::start();
    let pool = support::pool(POOL, "idle");
    let req = support::request(&pool, "r");
    let first = provider(&moto);
    let created = first
        .reconcile_pool(
            &pool,
            BreakerState::default(),
            &support::demand(&[&req]),
            &log,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(created.created.len(), 1);
    let id = created.created[0].0.clone();
    let restarted = provider(&moto);
    let again = restarted
        .reconcile_pool(
            &pool,
            BreakerState::default(),
            &support::demand(&[&req]),
            &log,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(again.created.is_empty(), "adopted by tag: {:?}", again.created);
    assert_eq!(
        again.clusters.iter().map(|c| c.info.id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    let client = support::raw(&moto).await;
    assert_eq!(client.list_clusters().send().await.unwrap().clusters().len(), 1);

    // Its run finishes; 6 minutes later (idleTimeout 5m) the cluster goes.
    let h = restarted.start(&req).await.unwrap();
    moto.set_step_state(&id, &placed(&h).1, "COMPLETED");
    let soon = Timestamp::now().checked_add(SignedDuration::from_mins(1)).unwrap();
    let kept = restarted
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, soon)
        .await
        .unwrap();
    assert!(kept.clusters.iter().all(|c| c.terminated.is_none()));
    let later = Timestamp::now().checked_add(SignedDuration::from_mins(6)).unwrap();
    let report = restarted
        .reconcile_pool(&pool, BreakerState::default(), &Demand::default(), &log, later)
        .await
        .unwrap();
    let gone: Vec<&str> = report
        .clusters
        .iter()
        .filter(|c| c.terminated.is_some())
        .map(|c| c.info.id.as_str())
        .collect();
    assert_eq!(gone, vec![id.as_str()]);
    let state = client.describe_cluster().cluster_id(&id).send().await.unwrap();
    assert_eq!(
        state.cluster.unwrap().status.unwrap().state.unwrap().as_str(),
        "TERMINATED"
    );
    // the cost of the cluster's life is estimated (moto's fixture spot prices)
    assert!(report.clusters[0].cost_usd.is_some() || report.cost_error.is_some());

    let other = support::request(&pool, "other");
    restarted
        .reconcile_pool(
            &pool,
            BreakerState::default(),
            &support::demand(&[&other]),
            &log,
            Timestamp::now(),
        )
        .await
        .unwrap();
    let terminated = restarted.terminate_pool(&pool).await.unwrap();
    assert_eq!(terminated.len(), 1);
    assert!(
        restarted
            .pool_clusters(&pool, None)
            .await
            .unwrap()
            .iter()
            .all(|c| !c.state.is_live())
    );
}

/// moto: DescribeSpotPriceHistory through aws-sdk-ec2 answers (fixture prices:
/// the cost maths is tested on recorded prices in pricing_tests.rs).
#[tokio::test]
async fn spot_price_history_from_ec2() {
    let moto = Moto::start();
    let api = api(&moto);
    let types = vec!["m5.xlarge".to_owned()];
    let since = Timestamp::now().checked_sub(SignedDuration::from_hours(1)).unwrap();
    let prices = api.spot_prices("us-east-1", &types, since).await.unwrap();
    assert!(!prices.is_empty(), "moto's fixture has m5.xlarge prices");
    assert!(
        prices
            .iter()
            .all(|p| p.instance_type == "m5.xlarge" && p.usd_per_hour > 0.0),
        "{prices:?}"
    );
}

/// A credential chain that found nothing, as the default one does on a
/// machine without AWS configuration.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credentials in the environment, the profile files or instance metadata",
        )))
    }
}

#[tokio::test]
async fn a_call_without_credentials_says_so_in_one_sentence() {
    let moto = Moto::start();
    let api = AwsEmr::with_credentials(Some(moto.endpoint()), SharedCredentialsProvider::new(NoCredentials));
    let err = api.list_clusters("us-east-1", true, None).await.unwrap_err();
    assert_eq!(err.category, "credentials");
    let message = err.to_string();
    assert!(
        message.starts_with("ListClusters: no AWS credentials: the default chain"),
        "{message}"
    );
    assert!(
        message.contains("no credentials in the environment, the profile files or instance metadata"),
        "{message}"
    );
    assert!(
        message.contains("IRSA") && message.contains("AWS_ACCESS_KEY_ID"),
        "{message}"
    );
    assert!(
        !message.contains("dispatch failure") && !message.contains('{'),
        "the SDK's layers and Debug dump stay out: {message}"
    );
}
