//! Every record once, with real consumers under load: 20,000 records with
//! e-mails, names, phones and SSNs go onto a 4-shard Kinesis stream (moto)
//! while the operator runs a StreamConsumer whose Pods are real `ade-stream`
//! processes (e2e/src/pods.rs). The pods read slowly on purpose (20 records a
//! call, 200 ms apart), so the lag they report rises and the operator scales
//! 1 → 3 on it, never above the open shards. One pod is killed (SIGKILL) while
//! its write to S3 hangs between the object and the checkpoint (the fault
//! proxy holds the answer), and one shard is split and two merged while
//! records still arrive. At the end every record put is in the bucket exactly
//! once (data in Parquet read back with the `parquet` crate, or a dead letter;
//! counted over every object, nothing deduplicated by name), no e-mail, name,
//! phone or SSN is in clear in any decoded value or raw byte, and the
//! consumer's status shows every shard with its owner and final checkpoint.
//!
//! Twice: with the Kubernetes Lease store, and with `checkpoint.store:
//! dynamodb` (the operator then reads the DynamoDB table for the status).
//! `ADE_E2E_STREAM_RECORDS` (default 20000) narrows the run; the pods' reading
//! rate narrows with it, so the backlog still takes as long to read and the
//! lag still builds.

#[path = "../../streamer/tests/support/mod.rs"]
mod support;

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use ade_api::labels::STREAM_CONSUMER;
use ade_e2e::{
    Namespace, Operator, apply, env_or, event_messages, get_json, install_chart_once,
    moto::{Glue, Moto, S3},
    pods::{Pods, PodsConfig},
    wait_for,
};
use ade_moto::faults::{FaultProxy, Faults};
use ade_streamer::lease::{Checkpoint, LeaseStore, dynamo::DynamoStore};
use aws_sdk_kinesis::primitives::Blob;
use serde_json::Value;

const CONSUMER: &str = "app-events";
const STREAM: &str = "app-events";
const BUCKET: &str = "acme-lake";
const TABLE: &str = "app-events-leases";
/// The shard whose write hangs when its owner is killed (not resharded).
const HELD_SHARD: &str = "shardId-000000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Kubernetes,
    Dynamodb,
}

fn consumer(store: Store) -> String {
    let checkpoint = match store {
        Store::Kubernetes => "{ interval: 2s }".to_owned(),
        Store::Dynamodb => format!("{{ interval: 2s, store: dynamodb, dynamodb: {{ tableName: {TABLE} }} }}"),
    };
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: pii-key}}
stringData: {{hmac: e2e-hmac-key, token: e2e-token-key}}
---
apiVersion: ade.dev/v1alpha1
kind: StreamConsumer
metadata: {{name: {CONSUMER}}}
spec:
  source:
    kinesis: {{ streamName: {STREAM}, region: us-east-1, startingPosition: TRIM_HORIZON }}
  runtime: kubernetes
  transform:
    obfuscate:
      - {{ field: email, method: hmac-sha256, keySecretRef: {{ name: pii-key, key: hmac }} }}
      - {{ field: name, method: hmac-sha256, keySecretRef: {{ name: pii-key, key: hmac }} }}
      - {{ field: phone, method: token, keySecretRef: {{ name: pii-key, key: token }} }}
      - {{ field: ssn, method: drop }}
  sink:
    s3:
      uri: s3://{BUCKET}/raw/app_events/
      format: parquet
      partitionBy: \"dt={{{{date}}}}/hour={{{{hour}}}}\"
      flush: {{ maxRecords: 500, maxBytes: 128Mi, maxInterval: 2s }}
      catalog: {{ database: lake, table: app_events, partition: {{ dt: \"{{{{date}}}}\", hour: \"{{{{hour}}}}\" }} }}
  checkpoint: {checkpoint}
  scaling: {{ minReplicas: 1, maxReplicas: 3, targetLag: 5s }}
"
    )
}

/// (shard, sequence) → the id of a data record, or `None` for a dead letter.
type Expected = BTreeMap<(String, String), Option<i64>>;

/// Puts records `range` in batches of 50, `per_second` records a second.
async fn produce(k: aws_sdk_kinesis::Client, range: std::ops::Range<u64>, per_second: u64) -> Expected {
    let mut expected = Expected::new();
    let started = Instant::now();
    let ids: Vec<u64> = range.collect();
    for (n, batch) in ids.chunks(50).enumerate() {
        let due = started + Duration::from_millis(n as u64 * 50_000 / per_second);
        tokio::time::sleep_until(due.into()).await;
        let entries = batch
            .iter()
            .map(|i| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key(format!("pk-{i}"))
                    .data(Blob::new(support::payload(*i).0.into_bytes()))
                    .build()
                    .expect("an entry")
            })
            .collect::<Vec<_>>();
        let out = k
            .put_records()
            .stream_name(STREAM)
            .set_records(Some(entries))
            .send()
            .await
            .expect("PutRecords");
        assert_eq!(out.failed_record_count(), Some(0), "moto refused records");
        for (i, r) in batch.iter().zip(out.records()) {
            let key = (
                r.shard_id().expect("a shard").to_owned(),
                r.sequence_number().expect("a sequence").to_owned(),
            );
            let id = support::payload(*i).1.then(|| i64::try_from(*i).expect("small"));
            assert!(expected.insert(key, id).is_none(), "moto reused a sequence number");
        }
    }
    expected
}

/// The shard's lease as the pods keep it: (owner, a flush announced and not confirmed).
fn shard_lease(
    rt: &tokio::runtime::Runtime,
    store: Store,
    ns: &str,
    aws: &aws_config::SdkConfig,
    shard: &str,
) -> Option<(String, bool)> {
    match store {
        Store::Kubernetes => {
            let name = format!("{CONSUMER}-{}", shard.to_lowercase());
            let lease = get_json(ns, &["lease", &name])?;
            let owner = lease["spec"]["holderIdentity"].as_str()?.to_owned();
            let pending = lease["metadata"]["annotations"][ade_api::lease::PENDING_FLUSH].is_string();
            Some((owner, pending))
        }
        Store::Dynamodb => rt.block_on(async {
            let table = DynamoStore::connect(aws, TABLE).await.ok()?;
            let lease = table
                .list_shards()
                .await
                .ok()?
                .into_iter()
                .find(|l| l.shard_id == shard)?;
            Some((lease.owner?, lease.pending.is_some()))
        }),
    }
}

/// `dt%3D2026-12-01` → `dt=2026-12-01` (an object key in a request line).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sequence numbers are decimal strings of any length: longer is later.
fn later(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// Watches the Deployment for the whole test: every replica count seen, and
/// any moment it exceeds the open shards the consumer reports.
fn sample_replicas(
    ns: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(Vec<i64>, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut seen, mut over) = (Vec::<i64>::new(), Vec::new());
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let replicas =
                get_json(&ns, &["deployment.apps", "app-events-stream"]).and_then(|d| d["spec"]["replicas"].as_i64());
            let open = get_json(&ns, &["streamconsumer", CONSUMER]).and_then(|c| c["status"]["openShards"].as_i64());
            if let Some(r) = replicas {
                if seen.last() != Some(&r) {
                    seen.push(r);
                }
                if let Some(open) = open
                    && r > open.max(1)
                {
                    over.push(format!("{r} replicas with {open} open shards"));
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        (seen, over)
    })
}

fn real_consumers_give_every_record_once(store: Store) {
    let records = env_or("ADE_E2E_STREAM_RECORDS", 20_000).max(400);
    install_chart_once();
    let ns = Namespace::create("records");
    let moto = Moto::start();
    moto.boto3(&format!("s3.create_bucket(Bucket='{BUCKET}')\n"));
    moto.create_glue_table(
        "lake",
        "app_events",
        &["dt", "hour"],
        &format!("s3://{BUCKET}/raw/app_events/"),
    );
    let proxy = FaultProxy::start(moto.port(), Faults::none(18));
    let _operator = Operator::start_with(
        "records",
        &[&format!("--aws-endpoint-url={}", moto.endpoint())],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    );
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let aws = rt.block_on(support::sdk(&moto));
    let k = aws_sdk_kinesis::Client::new(&aws);
    rt.block_on(k.create_stream().stream_name(STREAM).shard_count(4).send())
        .expect("CreateStream");

    // Half the records before the consumer exists, spread over 20 s: the
    // first lag a pod reports is far above the 5 s target.
    let half = records / 2;
    let quarter = records / 4;
    let mut expected = rt.block_on(produce(k.clone(), 0..half, half / 20));
    apply(&ns.name, &consumer(store));
    let mut env = moto.env();
    for (key, value) in [
        // 20 a call for 20,000 records: each shard's backlog takes the same time to read at any count.
        ("ADE_STREAM_RECORDS_PER_CALL", (records / 1000).clamp(1, 20).to_string()),
        ("ADE_STREAM_BUSY_POLL_MS", "200".to_owned()),
        ("ADE_STREAM_IDLE_POLL_MS", "500".to_owned()),
        ("ADE_STREAM_SHARD_SYNC_SECONDS", "2".to_owned()),
        // S3 through the fault proxy; Kinesis and DynamoDB straight to moto.
        ("AWS_ENDPOINT_URL_S3", proxy.endpoint()),
    ] {
        env.push((key.to_owned(), value));
    }
    let pods = Pods::start(PodsConfig::ade_stream(
        &ns.name,
        &format!("{STREAM_CONSUMER}={CONSUMER}"),
        env,
    ));
    let stop_sampler = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_replicas(ns.name.clone(), stop_sampler.clone());
    let producing = rt.spawn(produce(k.clone(), half..half + quarter, (quarter / 40).max(1)));

    // (a) The lag the pods report rises above the target: 1 → 3 replicas
    // (ceil(lag / 5 s) is at least 3; the ceiling is min(maxReplicas 3, 4 open shards)).
    let scaled = wait_for(
        "a scale-up from 1 to 3 replicas on lag",
        Duration::from_secs(120),
        || {
            event_messages(&ns.name, "Scaled")
                .into_iter()
                .find(|m| m.starts_with("scaled from 1 to 3 replicas: lag "))
        },
    );
    assert!(scaled.ends_with("is above the target 5s"), "{scaled}");
    let status = get_json(&ns.name, &["streamconsumer", CONSUMER]).expect("the consumer")["status"].clone();
    eprintln!("scaled: {scaled}; status lag {}", status["lag"]);
    let three = wait_for(
        "three pods running, each owning a shard",
        Duration::from_secs(120),
        || {
            let running = pods.running();
            let owners: Vec<String> = (0..4)
                .filter_map(|i| shard_lease(&rt, store, &ns.name, &aws, &format!("shardId-00000000000{i}")))
                .map(|(owner, _)| owner)
                .collect();
            (running.len() == 3 && running.iter().all(|p| owners.contains(p))).then_some(running)
        },
    );

    // (b) The owner of HELD_SHARD is killed while its write hangs: moto has
    // the object, the checkpoint has not moved. The kubelet emulation starts
    // it again; the batch is replayed under the same object name.
    proxy.hold("PUT", HELD_SHARD);
    let held = wait_for("a write of the held shard to hang", Duration::from_secs(60), || {
        proxy.held().into_iter().next()
    });
    let (victim, pending) = shard_lease(&rt, store, &ns.name, &aws, HELD_SHARD).expect("the held shard's lease");
    assert!(pending, "the flush was announced on the lease before the write");
    assert!(three.contains(&victim), "{victim} not in {three:?}");
    assert!(pods.kill(&victim));
    wait_for("the killed pod to be started again", Duration::from_secs(30), || {
        (pods.restarts(&victim) == 1 && pods.running().contains(&victim)).then_some(())
    });
    proxy.release();
    assert_eq!(pods.exits(&victim), [None], "ended by SIGKILL");
    let object = held
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.split_once(&format!("/{BUCKET}/")))
        .map(|(_, key)| percent_decoded(key))
        .expect("a path-style S3 key");
    eprintln!("killed {victim} while {object} hung");

    // Reshard while records arrive: split shard 0, merge 2 and 3.
    expected.extend(rt.block_on(producing).expect("the producer"));
    rt.block_on(support::split_first_merge_last_two(&k, STREAM));
    expected.extend(rt.block_on(produce(k.clone(), half + quarter..records, quarter / 10)));

    // (c) Everything in the bucket, once.
    let bucket = support::bucket(&moto, BUCKET);
    let want = expected.len();
    wait_for("every record in the bucket", Duration::from_secs(300), || {
        let (found, _) = support::read_output(&rt.block_on(support::all_objects(&bucket)));
        (found.len() >= want).then_some(())
    });
    // The status catches up: every open shard checkpointed at its last record.
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (shard, seq) in expected.keys() {
        if last.get(shard.as_str()).is_none_or(|l| later(seq, l)) {
            last.insert(shard, seq);
        }
    }
    let running = pods.running();
    let shards = wait_for(
        "every shard in the status with its final checkpoint",
        Duration::from_secs(90),
        || {
            let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
            let shards = sc["status"]["shards"].as_array()?.clone();
            let done = shards.len() == 7
                && sc["status"]["openShards"] == 4
                && shards.iter().all(|s| {
                    let id = s["shardId"].as_str().unwrap_or_default();
                    let parent = ["shardId-000000000000", "shardId-000000000002", "shardId-000000000003"].contains(&id);
                    if parent {
                        s["checkpoint"] == Checkpoint::ShardEnd.as_str()
                    } else {
                        s["owner"].as_str().is_some_and(|o| running.iter().any(|p| p == o))
                            && last.get(id).is_some_and(|l| s["checkpoint"] == *l)
                    }
                });
            done.then_some(shards)
        },
    );
    for s in &shards {
        eprintln!(
            "shard {} owner={} checkpoint=…{}",
            s["shardId"].as_str().unwrap_or_default(),
            s["owner"].as_str().unwrap_or("-"),
            s["checkpoint"]
                .as_str()
                .map_or("-", |c| &c[c.len().saturating_sub(6)..])
        );
    }
    stop_sampler.store(true, std::sync::atomic::Ordering::Relaxed);
    let (replicas, over) = sampler.join().expect("the sampler");
    eprintln!("replica counts seen, in order: {replicas:?}");
    assert!(over.is_empty(), "more replicas than open shards: {over:?}");
    assert_eq!(replicas.first(), Some(&1), "{replicas:?}");
    assert!(replicas.contains(&3), "{replicas:?}");
    if store == Store::Dynamodb {
        // The status is what the table says.
        let table = rt
            .block_on(async {
                DynamoStore::connect(&aws, TABLE)
                    .await
                    .expect("the table")
                    .list_shards()
                    .await
            })
            .expect("a scan");
        for lease in &table {
            let s = shards
                .iter()
                .find(|s| s["shardId"] == lease.shard_id.as_str())
                .expect("in the status");
            assert_eq!(
                s["checkpoint"].as_str(),
                lease.checkpoint.as_ref().map(Checkpoint::as_str),
                "{}",
                lease.shard_id
            );
        }
        assert_eq!(table.len(), 7);
    }

    let objects = rt.block_on(support::all_objects(&bucket));
    let (found, strings) = support::read_output(&objects);
    assert!(
        objects.iter().any(|(key, _)| *key == object),
        "the replayed batch {object} is missing"
    );
    support::assert_each_once(&expected, &found);
    let mut ids: Vec<i64> = found.iter().filter_map(|f| f.id).collect();
    ids.sort_unstable();
    let unique = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), unique, "an id twice");
    let dead = found.iter().filter(|f| f.id.is_none()).count();
    let parquet = objects.iter().filter(|(k, _)| k.ends_with(".parquet")).count();
    eprintln!(
        "{} records put; {} in {parquet} Parquet objects, {dead} dead letters in {} objects; none twice, none missing",
        expected.len(),
        ids.len(),
        objects.len() - parquet
    );
    // Dead letters: a reason and a digest, never the payload.
    for (key, bytes) in objects.iter().filter(|(k, _)| k.ends_with(".jsonl")) {
        for line in String::from_utf8_lossy(bytes).lines() {
            let letter: Value = serde_json::from_str(line).expect("a JSON line");
            assert!(
                letter["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{key}: {line}"
            );
            assert!(letter["payloadDigest"].is_string(), "{key}: {line}");
            assert!(letter.get("payload").is_none(), "{key}: {line}");
        }
    }
    // No PII in clear: not in any decoded value, not in any raw byte.
    support::assert_no_clear_pii(&objects, &strings);
    eprintln!(
        "PII: no e-mail, name, SSN or phone in clear in {} objects",
        objects.len()
    );
    // Every hour partition holding data is in the catalog, once, at its prefix.
    let mut prefixes: Vec<(Vec<String>, String)> = objects
        .iter()
        .filter(|(key, _)| key.ends_with(".parquet"))
        .filter_map(|(key, _)| {
            let dir = &key[..key.rfind('/')?];
            let (dt, hour) = dir.strip_prefix("raw/app_events/dt=")?.split_once("/hour=")?;
            Some((vec![dt.to_owned(), hour.to_owned()], format!("s3://{BUCKET}/{dir}/")))
        })
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let listed = moto.glue_partitions("lake", "app_events");
    eprintln!("catalog partitions: {listed:?}");
    assert!(!prefixes.is_empty());
    assert_eq!(listed, prefixes, "one partition per hour written, none other");
}

#[test]
fn real_consumers_give_every_record_once_with_kubernetes_leases() {
    real_consumers_give_every_record_once(Store::Kubernetes);
}

#[test]
fn real_consumers_give_every_record_once_with_a_dynamodb_lease_store() {
    real_consumers_give_every_record_once(Store::Dynamodb);
}
