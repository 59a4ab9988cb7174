//! Unit tests (pure): the RunJobFlow request and the steps, field by field.

use std::collections::BTreeMap;

use super::*;
use crate::{
    api::v1alpha1::{ClusterPool, Task},
    providers::{AttemptHandle, AttemptRef, AttemptRequest},
    schedule::Window,
};

pub(crate) const POOL: &str = r#"
provider: emr
region: us-east-1
capacity: { maxClusters: 2, maxRunsPerCluster: 3, idleTimeout: 5m }
emr:
  releaseLabel: emr-7.5.0
  applications: [Spark, Hive]
  serviceRole: EMR_DefaultRole
  instanceProfile: EMR_EC2_DefaultRole
  subnetIds: [subnet-a, subnet-b]
  logUri: s3://logs/emr/
  primary: { instanceTypes: [m6i.xlarge, m5.xlarge], onDemand: 1 }
  core: { instanceTypes: [r6i.2xlarge, r5.2xlarge], spot: 4, onDemand: 1 }
  task: { instanceTypes: [r5.xlarge], spot: 2 }
  spot: { timeout: 15m }
  configurations:
    - classification: spark-defaults
      properties: { spark.dynamicAllocation.enabled: "true" }
    - classification: hive-site
      properties: { hive.metastore.client.factory.class: custom.Factory }
    - classification: spark-env
      configurations: [ { classification: export, properties: { PYSPARK_PYTHON: /usr/bin/python3 } } ]
  bootstrapActions: [ { name: deps, path: s3://code/bootstrap.sh, args: [--fast] } ]
  tags: { team: data, ade.dev/pool-uid: spoofed }
"#;

pub(crate) fn pool() -> ClusterPool {
    let mut pool = ClusterPool::new("spark", serde_saphyr::from_str(POOL).expect("pool"));
    pool.metadata.namespace = Some("analytics".into());
    pool.metadata.uid = Some("uid-1".into());
    pool
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn run_job_flow_request_on_spot() {
    let pool = pool();
    let emr = pool.spec.emr.clone().expect("emr");
    let got = cluster_spec(&pool, &emr, Market::Spot, "ade-system/ade-operator", "uid-1/42/0");
    let props = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let want = ClusterSpec {
        name: cluster_name("analytics", "spark", "uid-1/42/0"),
        release_label: "emr-7.5.0".into(),
        applications: strings(&["Spark", "Hive"]),
        service_role: "EMR_DefaultRole".into(),
        instance_profile: "EMR_EC2_DefaultRole".into(),
        subnet_ids: strings(&["subnet-a", "subnet-b"]),
        log_uri: Some("s3://logs/emr/".into()),
        fleets: vec![
            FleetSpec {
                role: FleetRole::Primary,
                instance_types: strings(&["m6i.xlarge", "m5.xlarge"]),
                on_demand: 1,
                spot: 0,
            },
            FleetSpec {
                role: FleetRole::Core,
                instance_types: strings(&["r6i.2xlarge", "r5.2xlarge"]),
                on_demand: 1,
                spot: 4,
            },
            FleetSpec {
                role: FleetRole::Task,
                instance_types: strings(&["r5.xlarge"]),
                on_demand: 0,
                spot: 2,
            },
        ],
        spot: Some(SpotSpec {
            allocation_strategy: "price-capacity-optimized",
            timeout_minutes: 15,
            timeout_action: "SWITCH_TO_ON_DEMAND",
        }),
        configurations: vec![
            ConfigurationSpec {
                classification: "spark-defaults".into(),
                properties: props(&[("spark.dynamicAllocation.enabled", "true")]),
                nested: vec![],
            },
            // the pool's own factory wins over the Glue default
            ConfigurationSpec {
                classification: "hive-site".into(),
                properties: props(&[("hive.metastore.client.factory.class", "custom.Factory")]),
                nested: vec![],
            },
            ConfigurationSpec {
                classification: "spark-env".into(),
                properties: BTreeMap::new(),
                nested: vec![ConfigurationSpec {
                    classification: "export".into(),
                    properties: props(&[("PYSPARK_PYTHON", "/usr/bin/python3")]),
                    nested: vec![],
                }],
            },
            ConfigurationSpec {
                classification: "spark-hive-site".into(),
                properties: props(&[(GLUE_FACTORY.0, GLUE_FACTORY.1)]),
                nested: vec![],
            },
            ConfigurationSpec {
                classification: "trino-connector-hive".into(),
                properties: props(&[("hive.metastore", "glue")]),
                nested: vec![],
            },
        ],
        bootstrap_actions: vec![BootstrapSpec {
            name: "deps".into(),
            path: "s3://code/bootstrap.sh".into(),
            args: strings(&["--fast"]),
        }],
        keep_alive: true,
        step_concurrency: 3,
        auto_termination_idle_seconds: 600,
        tags: BTreeMap::from([
            ("team".into(), "data".into()),
            (TAG_POOL_NAMESPACE.into(), "analytics".into()),
            (TAG_POOL_NAME.into(), "spark".into()),
            // the operator's identity tags win over a user's tag of the same key
            (TAG_POOL_UID.into(), "uid-1".into()),
            (TAG_MANAGED_BY.into(), "ade-system/ade-operator".into()),
            (TAG_MARKET.into(), "spot".into()),
        ]),
    };
    assert_eq!(got, want);
    assert!(
        got.name.starts_with("ade-analytics-spark-") && got.name.len() == "ade-analytics-spark-".len() + 8,
        "{}",
        got.name
    );
}

#[test]
fn breaker_open_asks_for_on_demand_only() {
    let pool = pool();
    let emr = pool.spec.emr.clone().expect("emr");
    let got = cluster_spec(&pool, &emr, Market::OnDemand, "op", "n");
    let capacity: Vec<(i32, i32)> = got.fleets.iter().map(|f| (f.on_demand, f.spot)).collect();
    assert_eq!(capacity, vec![(1, 0), (5, 0), (2, 0)]);
    assert_eq!(got.spot, None, "no spot specification without spot capacity");
    assert_eq!(got.tags[TAG_MARKET], "on-demand");
}

#[test]
fn a_stream_binary_uri_adds_the_bootstrap_action_that_installs_ade_stream_after_the_users() {
    let pool = pool();
    let mut emr = pool.spec.emr.clone().expect("emr");
    emr.stream_binary_uri = Some("s3://artifacts/ade/ade-stream-x86_64".into());
    let got = cluster_spec(&pool, &emr, Market::Spot, "op", "n");
    let names: Vec<&str> = got.bootstrap_actions.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["deps", "ade-stream"]);
    let action = &got.bootstrap_actions[1];
    assert_eq!(action.path, "file:/bin/bash");
    assert_eq!(
        action.args,
        [
            "-c",
            "aws s3 cp \"$0\" /tmp/ade-stream && sudo install -m 0755 /tmp/ade-stream /usr/local/bin/ade-stream",
            "s3://artifacts/ade/ade-stream-x86_64"
        ]
    );
}

#[test]
fn glue_catalog_off_adds_nothing_and_names_differ_by_nonce() {
    let mut pool = pool();
    let mut emr = pool.spec.emr.clone().expect("emr");
    emr.glue_catalog = false;
    emr.configurations.clear();
    pool.spec.capacity.idle_timeout = crate::api::v1alpha1::Duration::from_static("10s");
    let got = cluster_spec(&pool, &emr, Market::Spot, "op", "a");
    assert!(got.configurations.is_empty());
    assert_eq!(got.auto_termination_idle_seconds, 60, "EMR's minimum");
    assert_ne!(cluster_name("n", "p", "a"), cluster_name("n", "p", "b"));
    assert_eq!(cluster_name("n", "p", "a"), cluster_name("n", "p", "a"));
}

fn request(task: &str) -> AttemptRequest {
    AttemptRequest {
        target: AttemptRef {
            namespace: "analytics".into(),
            run: "orders-2026-11-25t13".into(),
            run_uid: "run-uid".into(),
            attempt: 2,
            handle: AttemptHandle::default(),
            pool: None,
        },
        job: "orders".into(),
        batch_id: "2026-11-25T13".into(),
        window: Window {
            start: "2026-11-25T13:00:00Z".parse().expect("ts"),
            end: "2026-11-25T14:00:00Z".parse().expect("ts"),
        },
        task: serde_saphyr::from_str::<Task>(task).expect("task"),
        timeout: None,
        pool: pool(),
    }
}

#[test]
fn steps_by_task_kind() {
    let table = [
        (
            "sparkSubmit: {mainApplicationFile: s3://code/orders.py, mainClass: a.Main, args: [--batch, '{{batch.id}}'], conf: {spark.app.name: '{{job.name}}-{{run.attempt}}'}}",
            vec![
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--class",
                "a.Main",
                "--conf",
                "spark.app.name=orders-2",
                "s3://code/orders.py",
                "--batch",
                "2026-11-25T13",
            ],
        ),
        (
            "hive: {script: s3://code/orders.hql, variables: {START: '{{window.start}}'}}",
            vec![
                "hive-script",
                "--run-hive-script",
                "--args",
                "-f",
                "s3://code/orders.hql",
                "-d",
                "START=2026-11-25T13:00:00Z",
            ],
        ),
        (
            "trino: {query: 'INSERT INTO t SELECT * FROM s WHERE b = ''{{batch.id}}''', catalog: hive, schema: sales}",
            vec![
                "trino-cli",
                "--catalog",
                "hive",
                "--schema",
                "sales",
                "--execute",
                "INSERT INTO t SELECT * FROM s WHERE b = '2026-11-25T13'",
            ],
        ),
    ];
    for (task, want) in table {
        let got = step_spec(&request(task)).expect(task);
        assert_eq!(got.name, "ade:analytics/orders-2026-11-25t13#2 run-uid");
        assert_eq!(got.args, want, "{task}");
    }
    let err = step_spec(&request("container: {image: busybox}")).expect_err("container on emr");
    assert!(
        err.to_string().contains("a container task cannot run on a emr pool"),
        "{err}"
    );
    let err = step_spec(&request("trino: {query: '{{nope}}'}")).expect_err("unknown variable");
    assert!(err.to_string().contains("unknown template variable {{nope}}"), "{err}");
}

#[test]
fn a_step_name_carries_the_run_uid_and_fits_emr() {
    let mut target = request("sparkSubmit: {mainApplicationFile: s3://code/a.py}").target;
    let old = step_name(&target);
    target.run_uid = "another-uid".into();
    assert_ne!(
        step_name(&target),
        old,
        "a re-created run is a stranger to the old run's steps"
    );
    target.run = "r".repeat(253);
    let long = step_name(&target);
    assert_eq!(long.chars().count(), 256, "{long}");
    assert!(long.ends_with("#2 another-uid"), "{long}");
}

/// Issue 12, item 12: the application file is a template like the other task fields.
#[test]
fn templates_render_in_the_spark_main_application_file() {
    let got = step_spec(&request(
        "sparkSubmit: {mainApplicationFile: 's3://code/{{job.name}}/v1/main.py', args: ['{{batch.id}}']}",
    ))
    .expect("renders");
    assert!(
        got.args.contains(&"s3://code/orders/v1/main.py".to_owned()),
        "{:?}",
        got.args
    );
    let err = step_spec(&request("sparkSubmit: {mainApplicationFile: 's3://code/{{nope}}.py'}")).expect_err("unknown");
    assert!(
        err.to_string().contains("spec.task.sparkSubmit.mainApplicationFile"),
        "{err}"
    );
}
