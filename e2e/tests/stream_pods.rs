//! A StreamConsumer whose Pods really consume: the operator deploys
//! `ade-stream`, and e2e/src/pods.rs runs each Pod as a host process (its env,
//! its Secret key file, a token of its ServiceAccount) against moto's Kinesis
//! and S3 and the real API server for its Leases. Records put on the stream
//! land in S3 once each, e-mails hashed; the consumer's status names the Pod
//! as each shard's owner with a checkpoint; deleting the consumer stops the
//! processes (SIGTERM, hand-off) and leaves none running.

use std::{collections::BTreeMap, time::Duration};

use ade_e2e::{
    Namespace, apply, get_json, install_chart_once, kubectl_with_stdin,
    moto::{Moto, S3},
    operator::Operator,
    pods::{Pods, PodsConfig, stream_bin},
    wait_for,
};

const CONSUMER: &str = r#"apiVersion: v1
kind: Secret
metadata: {name: pii-key}
stringData: {hmac: "e2e-hmac-key"}
---
apiVersion: ade.dev/v1alpha1
kind: StreamConsumer
metadata: {name: events}
spec:
  source:
    kinesis: {streamName: events, region: us-east-1, startingPosition: TRIM_HORIZON}
  runtime: kubernetes
  transform:
    obfuscate:
      - {field: email, method: hmac-sha256, keySecretRef: {name: pii-key, key: hmac}}
      - {field: ssn, method: drop}
  sink:
    s3:
      uri: s3://lake/raw/events/
      format: jsonl
      flush: {maxRecords: 50, maxBytes: 1Mi, maxInterval: 2s}
  checkpoint: {interval: 2s}
  scaling: {minReplicas: 1, maxReplicas: 1, targetLag: 30s}
"#;

#[test]
fn real_ade_stream_pods_consume_into_s3_and_stop_when_the_consumer_goes() {
    install_chart_once();
    let ns = Namespace::create("stream-pods");
    let moto = Moto::start();
    moto.boto3(
        "k = boto3.client('kinesis')\n\
         k.create_stream(StreamName='events', ShardCount=2)\n\
         s3.create_bucket(Bucket='lake')\n",
    );
    let endpoint = format!("--aws-endpoint-url={}", moto.endpoint());
    let _operator = Operator::start_with(
        "stream-pods",
        &[&endpoint],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    );
    let mut env: Vec<(String, String)> = moto.env();
    env.push(("ADE_STREAM_IDLE_POLL_MS".into(), "200".into()));
    env.push(("ADE_STREAM_SHARD_SYNC_SECONDS".into(), "5".into()));
    let pods = Pods::start(PodsConfig {
        namespace: ns.name.clone(),
        selector: "app.kubernetes.io/name=ade-stream".into(),
        binaries: BTreeMap::from([("ade-stream".into(), stream_bin())]),
        env,
        ports: vec![("metrics".into(), "ADE_STREAM_METRICS_ADDR".into())],
    });
    apply(&ns.name, CONSUMER);

    let pod = wait_for("an ade-stream process", Duration::from_secs(90), || {
        pods.running().into_iter().next()
    });
    // 200 records across both shards, each with an e-mail and an SSN.
    moto.boto3(
        "k = boto3.client('kinesis')\n\
         for batch in range(4):\n\
         \x20   records = [{'Data': json.dumps({'id': i, 'email': f'user{i}@example.com', 'ssn': f'000-00-{i:04d}'}).encode(), 'PartitionKey': str(i)} for i in range(batch * 50, batch * 50 + 50)]\n\
         \x20   k.put_records(StreamName='events', Records=records)\n",
    );
    let ids = wait_for("all 200 records in S3", Duration::from_secs(120), || {
        let keys = moto.keys("lake", "raw/events/");
        let mut ids = Vec::new();
        let mut bodies = String::new();
        for key in keys.iter().filter(|k| !k.contains("dead")) {
            let body = moto.get("lake", key);
            for line in body.lines() {
                let record: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                ids.push(record["id"].as_i64().expect("an id"));
            }
            bodies.push_str(&body);
        }
        ids.sort_unstable();
        (ids.len() >= 200).then_some((ids, bodies))
    });
    let (ids, bodies) = ids;
    assert_eq!(ids, (0..200).collect::<Vec<i64>>(), "every record exactly once");
    assert!(!bodies.contains("@example.com"), "an e-mail in clear:\n{bodies}");
    assert!(!bodies.contains("000-00-"), "an SSN in clear");
    assert!(!pods.log(&pod).contains("panicked"), "{}", pods.log(&pod));

    // The status: both shards owned by the Pod, with a checkpoint.
    let shards = wait_for("both shards owned, with checkpoints", Duration::from_secs(60), || {
        let c = get_json(&ns.name, &["streamconsumer", "events"])?;
        let shards = c["status"]["shards"].as_array()?.clone();
        (shards.len() == 2
            && shards
                .iter()
                .all(|s| s["owner"] == pod.as_str() && !s["checkpoint"].is_null()))
        .then_some(shards)
    });
    eprintln!("shards: {}", serde_json::Value::Array(shards));

    // Deleting the consumer deletes the Pod: its process hands off and ends.
    let out = kubectl_with_stdin(&["delete", "-n", &ns.name, "-f", "-", "--wait=false"], CONSUMER);
    assert!(out.success, "{}", out.stderr);
    wait_for("no ade-stream process left", Duration::from_secs(90), || {
        pods.running().is_empty().then_some(())
    });
}
