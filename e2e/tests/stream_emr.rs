//! A StreamConsumer on runtime emr against the real control plane and moto:
//! the consumer's demand makes its emr pool start a cluster (minClusters 0),
//! the operator adds one long-running step there, and e2e/src/emr_steps.rs
//! plays the node: it runs the step's `env … /usr/local/bin/ade-stream` as
//! the real `ade-stream` against moto's Kinesis, S3 and DynamoDB. Records
//! land in S3 with the dropped field gone and e-mails hashed with a key the
//! step reads from S3 (`keyUri`: EMR nodes cannot mount Secrets); the status
//! shows the cluster, the step and the shards from the DynamoDB lease table.
//! The process is killed: the step fails and the next attempt starts after
//! the backoff. The cluster is lost: a new one is started and the consumer
//! resumes on it from its checkpoints. Every record put lands once. Deleting
//! the consumer cancels its step (the process gets SIGTERM and hands off) and
//! the cluster goes back to the pool's idle rules.

use std::{collections::BTreeMap, time::Duration};

use ade_e2e::{
    Namespace, Operator, apply, condition,
    emr_steps::{EmrSteps, EmrStepsConfig},
    event_messages, get_json, install_chart_once, kubectl_ok,
    moto::{Moto, S3},
    pods::stream_bin,
    wait_for,
};
use serde_json::Value;

const RESOURCES: &str = "apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: streams}
spec:
  provider: emr
  region: us-east-1
  capacity: {minClusters: 0, maxClusters: 2, maxRunsPerCluster: 2, idleTimeout: 20s}
  emr:
    releaseLabel: emr-7.5.0
    serviceRole: EMR_DefaultRole
    instanceProfile: EMR_EC2_DefaultRole
    primary: {instanceTypes: [m5.xlarge], onDemand: 1}
    core: {instanceTypes: [r5.xlarge], onDemand: 1}
    streamBinaryUri: s3://artifacts/ade/ade-stream
---
apiVersion: ade.dev/v1alpha1
kind: StreamConsumer
metadata: {name: clicks}
spec:
  source:
    kinesis: {streamName: clicks, region: us-east-1, startingPosition: TRIM_HORIZON}
  runtime: emr
  poolRef: {name: streams}
  transform:
    obfuscate:
      - {field: ip, method: drop}
      - {field: email, method: hmac-sha256, keyUri: s3://keys/pii/hmac}
  sink:
    s3:
      uri: s3://lake/raw/clicks/
      format: jsonl
      flush: {maxRecords: 50, maxBytes: 1Mi, maxInterval: 2s}
  checkpoint: {interval: 2s, store: dynamodb, dynamodb: {tableName: clicks-leases}}
";

/// Puts records `from..to` (each with an `ip` and an `email`) on the stream.
fn put(moto: &Moto, from: u32, to: u32) {
    moto.boto3(&format!(
        "k = boto3.client('kinesis')\n\
         for start in range({from}, {to}, 50):\n\
         \x20   records = [{{'Data': json.dumps({{'id': i, 'ip': f'10.0.0.{{i % 250}}', 'email': f'user{{i}}@example.com'}}).encode(), 'PartitionKey': str(i)}} for i in range(start, min(start + 50, {to}))]\n\
         \x20   k.put_records(StreamName='clicks', Records=records)\n"
    ));
}

/// Every id in the lake, with how often it appears, and whether a clear
/// value is there (an `ip`, or an `email` that is not a 64-digit hash).
fn lake(moto: &Moto) -> (BTreeMap<i64, usize>, bool) {
    let mut ids = BTreeMap::new();
    let mut clear = false;
    for key in moto.keys("lake", "raw/clicks/") {
        for line in moto.get("lake", &key).lines() {
            let record: Value = serde_json::from_str(line).expect("a JSON line");
            let hashed = record["email"]
                .as_str()
                .is_some_and(|e| e.len() == 64 && e.chars().all(|c| c.is_ascii_hexdigit()));
            clear |= record.get("ip").is_some() || !hashed || line.contains("@example.com");
            *ids.entry(record["id"].as_i64().expect("an id")).or_default() += 1;
        }
    }
    (ids, clear)
}

fn emr_status(ns: &str) -> Option<Value> {
    let c = get_json(ns, &["streamconsumer", "clicks"])?;
    Some(c["status"]["emr"].clone())
}

/// Waits for a running step of attempt `attempt` whose process runs: (cluster, step).
fn running(ns: &str, steps: &EmrSteps, attempt: i64) -> (String, String) {
    wait_for(
        &format!("attempt {attempt} running on the node"),
        Duration::from_secs(150),
        || {
            let emr = emr_status(ns)?;
            let step = emr["stepId"].as_str()?.to_owned();
            let cluster = emr["clusterId"].as_str()?.to_owned();
            (emr["attempt"] == attempt
                && emr["state"] == "Running"
                && steps.running().contains(&(cluster.clone(), step.clone())))
            .then_some((cluster, step))
        },
    )
}

#[test]
fn a_stream_consumer_on_emr_runs_as_a_step_restarts_moves_off_a_lost_cluster_and_is_cancelled() {
    install_chart_once();
    let ns = Namespace::create("stream-emr");
    let moto = Moto::start();
    moto.boto3(
        "s3.create_bucket(Bucket='lake')\n\
         s3.create_bucket(Bucket='keys')\n\
         s3.put_object(Bucket='keys', Key='pii/hmac', Body=b'e2e-emr-key\\n')\n\
         boto3.client('kinesis').create_stream(StreamName='clicks', ShardCount=2)\n",
    );
    let _operator = Operator::start_with(
        "stream-emr",
        &[&format!("--aws-endpoint-url={}", moto.endpoint())],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    );
    let mut env = moto.env();
    env.push(("ADE_STREAM_METRICS_ADDR".into(), "127.0.0.1:0".into()));
    env.push(("ADE_STREAM_IDLE_POLL_MS".into(), "300".into()));
    env.push(("ADE_STREAM_SHARD_SYNC_SECONDS".into(), "2".into()));
    let steps = EmrSteps::start(
        &moto,
        EmrStepsConfig {
            binaries: BTreeMap::from([("/usr/local/bin/ade-stream".into(), stream_bin())]),
            env,
        },
    );
    put(&moto, 0, 100);
    apply(&ns.name, RESOURCES);

    // 1. The pool starts a cluster for the consumer; its step runs ade-stream.
    let (cluster, step) = running(&ns.name, &steps, 1);
    wait_for("the pool to list the cluster", Duration::from_secs(60), || {
        let pool = get_json(&ns.name, &["clusterpool", "streams"])?;
        pool["status"]["clusters"]
            .as_array()?
            .iter()
            .any(|c| c["id"] == cluster.as_str())
            .then_some(())
    });
    let consumer = wait_for("Ready=True Consuming", Duration::from_secs(90), || {
        let c = get_json(&ns.name, &["streamconsumer", "clicks"])?;
        (condition(&c, "Ready")?["reason"] == "Consuming").then_some(c)
    });
    let status = &consumer["status"];
    assert_eq!(status["replicas"], 1, "{status}");
    assert_eq!(status["openShards"], 2, "{status}");
    let message = condition(&consumer, "Ready").expect("Ready")["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains(&step) && m.contains(&cluster)),
        "{message}"
    );
    wait_for("the first 100 records in the lake", Duration::from_secs(60), || {
        (lake(&moto).0.len() == 100).then_some(())
    });
    let log = steps.log(&step);
    assert!(
        log.contains("clicks-emr-1"),
        "the worker is named after the attempt:\n{log}"
    );

    // 2. The process dies: the step fails, the next attempt starts after 10 s.
    assert!(steps.kill(&step));
    let restarting = wait_for("a restart pending", Duration::from_secs(60), || {
        let emr = emr_status(&ns.name)?;
        (emr["state"] == "RestartPending").then_some(emr)
    });
    assert_eq!(restarting["restarts"], 1, "{restarting}");
    assert!(
        restarting["lastFailure"]
            .as_str()
            .is_some_and(|f| f.contains(&step) && f.contains("Failed")),
        "{restarting}"
    );
    let ended = event_messages(&ns.name, "StepEnded");
    assert!(ended.iter().any(|m| m.contains("attempt 2 starts after")), "{ended:?}");
    put(&moto, 100, 200);
    let (cluster2, _) = running(&ns.name, &steps, 2);
    assert_eq!(
        cluster2, cluster,
        "the cluster is still there: the next step goes on it"
    );
    wait_for("records 100..200 in the lake", Duration::from_secs(120), || {
        (lake(&moto).0.len() == 200).then_some(())
    });

    // 3. The cluster is lost: the step's process dies with it; the pool
    // starts another cluster and the consumer resumes there from its checkpoints.
    moto.set_cluster_state(&cluster, "TERMINATED_WITH_ERRORS", "Spot instance interruption");
    put(&moto, 200, 300);
    let (cluster3, step3) = running(&ns.name, &steps, 3);
    assert_ne!(cluster3, cluster, "a new cluster");
    let emr = emr_status(&ns.name).expect("status");
    assert_eq!(emr["restarts"], 2, "{emr}");
    wait_for("records 200..300 in the lake", Duration::from_secs(150), || {
        (lake(&moto).0.len() == 300).then_some(())
    });
    let (ids, clear) = lake(&moto);
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
    assert_eq!(ids.keys().copied().collect::<Vec<_>>(), (0..300).collect::<Vec<i64>>());
    assert!(!clear, "an ip or a clear e-mail reached the lake");
    eprintln!(
        "300 records put, 300 in the lake once each, no ip, e-mails hashed with the key from S3; steps: {step} -> attempt 2 -> {step3}"
    );

    // 4. Deleting the consumer cancels its step: the process hands off and
    // exits 0, and the cluster is left to the pool's idle rules.
    kubectl_ok(&["delete", "streamconsumer", "clicks", "-n", &ns.name, "--wait=false"]);
    wait_for("the consumer gone", Duration::from_secs(60), || {
        get_json(&ns.name, &["streamconsumer", "clicks"])
            .is_none()
            .then_some(())
    });
    wait_for("the step's process to end", Duration::from_secs(60), || {
        steps.exit(&step3)
    });
    assert_eq!(steps.exit(&step3), Some(Some(0)), "{}", steps.log(&step3));
    wait_for("the idle cluster terminated", Duration::from_secs(120), || {
        let pool = get_json(&ns.name, &["clusterpool", "streams"])?;
        let live = pool["status"]["clusters"]
            .as_array()?
            .iter()
            .any(|c| c["id"] == cluster3.as_str() && !c["state"].as_str().unwrap_or_default().starts_with("TERMINAT"));
        (!live).then_some(())
    });
}
