//! Integration test against the real thing: the AWS SDK and object_store
//! talk to moto (Kinesis, S3, DynamoDB) on 127.0.0.1 through tools/moto
//! (whose server.py makes moto's resharding behave like Kinesis: records stay
//! in closed shards, which end with SHARD_END). Consumers run as in-process
//! workers sharing the DynamoDB lease table.
//!
//! Scenario: 4 shards; two consumers; records put in three waves; consumer A
//! frozen mid-flush (objects written, checkpoint not moved) and then killed
//! without hand-off; a shard split and two shards merged while consuming; a
//! third consumer joins. Asserted: every record put is in the output exactly
//! once (data or dead letter, counted over every object; no deduplication by
//! name), no obfuscated value appears in clear anywhere in the bucket, and
//! every child shard started only after its parents reached SHARD_END.

mod support;

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use ade_moto::Moto;
use ade_streamer::{
    config::{self, Config},
    kinesis::Kinesis,
    lease::{Checkpoint, LeaseStore, dynamo::DynamoStore},
    metrics::Metrics,
    sink::{partition::PartitionTemplate, store::Sink},
    transform::Obfuscator,
    worker::{self, EventKind, EventLog, Faults, Options, Shared},
};
use support::{all_objects, bucket, location, payload, read_output, sdk, split_first_merge_last_two};
use tokio_util::sync::CancellationToken;

const STREAM: &str = "app-events";
const BUCKET: &str = "lake";

fn config() -> Config {
    config::from_json(
        r#"{"namespace":"ns","consumer":"events","consumerUid":"",
            "stream":{"name":"app-events","region":"us-east-1","startingPosition":"TRIM_HORIZON"},
            "obfuscate":[{"field":"email","method":"hmac-sha256","keyFile":"/unused"},
                         {"field":"name","method":"hmac-sha256","keyFile":"/unused"},
                         {"field":"ssn","method":"drop"},
                         {"field":"phone","method":"token","keyFile":"/unused"}],
            "sink":{"uri":"s3://lake/raw/events/","format":"parquet","partitionBy":"dt={{date}}/hour={{hour}}",
                    "flush":{"maxRecords":1000,"maxBytes":1000000,"maxIntervalSeconds":2}},
            "checkpoint":{"intervalSeconds":1,"store":"dynamodb","dynamodbTable":"events-leases"},
            "leaseDurationSeconds":6}"#,
    )
    .expect("valid config")
}

fn obfuscator() -> Obfuscator {
    use ade_streamer::config::ObfuscationMethod::{Drop, HmacSha256, Token};
    Obfuscator::from_keys(&[
        ("email".into(), HmacSha256, Some(b"email-key".to_vec())),
        ("name".into(), HmacSha256, Some(b"name-key".to_vec())),
        ("ssn".into(), Drop, None),
        ("phone".into(), Token, Some(b"phone-key".to_vec())),
    ])
    .expect("rules")
}

/// Puts records `range`; records (shard, sequence) → Some(id) or None (dead letter).
async fn put(
    k: &aws_sdk_kinesis::Client,
    range: std::ops::Range<u64>,
    expected: &mut BTreeMap<(String, String), Option<i64>>,
) {
    for i in range {
        let (data, valid) = payload(i);
        let out = k
            .put_record()
            .stream_name(STREAM)
            .partition_key(format!("pk-{i}"))
            .data(aws_sdk_kinesis::primitives::Blob::new(data.into_bytes()))
            .send()
            .await
            .expect("PutRecord");
        let id = valid.then(|| i64::try_from(i).expect("small"));
        let key = (out.shard_id().to_owned(), out.sequence_number().to_owned());
        assert!(expected.insert(key, id).is_none(), "moto reused a sequence number");
    }
}

struct Running {
    handle: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

async fn start(
    moto: &Moto,
    aws: &aws_config::SdkConfig,
    id: &str,
    events: &Arc<EventLog>,
    faults: Option<Arc<Faults>>,
) -> Running {
    let config = config();
    let mut options = Options::new(id);
    options.idle_poll = Duration::from_millis(200);
    options.busy_poll = Duration::from_millis(100);
    options.shard_sync = Duration::from_secs(2);
    options.records_per_call = 25;
    options.fault = faults;
    let store = DynamoStore::connect(aws, "events-leases").await.expect("lease table");
    let sink = Sink::with_locations(
        location(moto, BUCKET, "raw/events"),
        location(moto, BUCKET, "raw/events_dead_letter"),
        PartitionTemplate::parse("dt={{date}}/hour={{hour}}").expect("template"),
        config.sink.format,
    );
    let shared = Arc::new(Shared::new(
        config,
        options,
        Arc::new(store),
        Kinesis::new(aws, STREAM),
        sink,
        obfuscator(),
        Arc::new(Metrics::default()),
        events.clone(),
    ));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker::run(shared, stop.clone()));
    Running { handle, stop }
}

async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, timeout: Duration, mut check: impl FnMut() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_a_crash_and_resharding_give_every_record_once() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let aws = sdk(&moto).await;
    let k = aws_sdk_kinesis::Client::new(&aws);
    k.create_stream()
        .stream_name(STREAM)
        .shard_count(4)
        .send()
        .await
        .expect("CreateStream");
    let mut expected = BTreeMap::new();

    let events = Arc::new(EventLog::default());
    let faults = Arc::new(Faults::default());
    let a = start(&moto, &aws, "consumer-a", &events, Some(faults.clone())).await;
    let b = start(&moto, &aws, "consumer-b", &events, None).await;
    // The first wave is put once the two hold two shards each. A consumer
    // that finds itself alone takes every shard, and the other steals one a
    // round (`shard_sync`): under load A had read the whole wave before B
    // held anything, and B had nothing to write.
    let table = DynamoStore::connect(&aws, "events-leases").await.expect("lease table");
    wait_for("each consumer to hold two shards", Duration::from_secs(60), || {
        let table = &table;
        async move {
            let leases = table.list_shards().await.ok()?;
            let held = |w: &str| leases.iter().filter(|l| l.owner.as_deref() == Some(w)).count();
            (held("consumer-a") == 2 && held("consumer-b") == 2).then_some(())
        }
    })
    .await;
    put(&k, 0..300, &mut expected).await;
    let written_by = |worker: &'static str, after: u64| {
        let events = events.clone();
        move || {
            let found = events
                .events()
                .iter()
                .any(|e| e.worker == worker && e.order >= after && matches!(e.kind, EventKind::Written { .. }));
            std::future::ready(found.then_some(()))
        }
    };
    wait_for(
        "both consumers to write",
        Duration::from_secs(60),
        written_by("consumer-a", 0),
    )
    .await;
    wait_for(
        "both consumers to write",
        Duration::from_secs(60),
        written_by("consumer-b", 0),
    )
    .await;

    // Freeze A inside its next flush (objects written, checkpoint not moved), then kill it.
    let mark = events.events().len() as u64;
    faults.hang_before_checkpoint.store(true, Ordering::SeqCst);
    put(&k, 300..500, &mut expected).await;
    wait_for(
        "consumer A to freeze mid-flush",
        Duration::from_secs(60),
        written_by("consumer-a", mark),
    )
    .await;
    a.handle.abort();
    let store = DynamoStore::connect(&aws, "events-leases").await.expect("lease table");
    let leases = store.list_shards().await.expect("leases");
    assert!(
        leases
            .iter()
            .any(|l| l.owner.as_deref() == Some("consumer-a") && l.pending.is_some()),
        "A was not killed mid-flush: {leases:#?}"
    );

    // Reshard while consuming: split shard 0, merge shards 2 and 3.
    split_first_merge_last_two(&k, STREAM).await;
    put(&k, 500..900, &mut expected).await;
    // A restarted replica joins.
    let c = start(&moto, &aws, "consumer-c", &events, None).await;

    let bucket = bucket(&moto, BUCKET);
    let want = expected.len();
    wait_for("every record in the output", Duration::from_secs(180), || {
        let bucket = bucket.clone();
        async move {
            let (found, _) = read_output(&all_objects(&bucket).await);
            (found.len() >= want).then_some(())
        }
    })
    .await;
    // Let late duplicates, if any, surface before stopping.
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.stop.cancel();
    c.stop.cancel();
    b.handle.await.expect("consumer B");
    c.handle.await.expect("consumer C");

    // Every record exactly once, counted over every object.
    let objects = all_objects(&bucket).await;
    let (found, strings) = read_output(&objects);
    support::assert_each_once(&expected, &found);
    let dead = found.iter().filter(|f| f.id.is_none()).count();
    assert!(dead > 30, "expected the malformed records as dead letters, got {dead}");

    // No obfuscated value in clear anywhere: decoded strings and raw bytes.
    support::assert_no_clear_pii(&objects, &strings);

    // Children started only after their parents reached SHARD_END.
    let log = events.events();
    let leases = store.list_shards().await.expect("leases");
    let children: Vec<_> = leases.iter().filter(|l| !l.parents.is_empty()).collect();
    assert_eq!(children.len(), 3, "split gives two children, merge one: {leases:#?}");
    for child in children {
        let started = log
            .iter()
            .find(|e| e.shard == child.shard_id && e.kind == EventKind::Started)
            .unwrap_or_else(|| panic!("{} never started", child.shard_id));
        for parent in &child.parents {
            let finished = log
                .iter()
                .find(|e| &e.shard == parent && e.kind == EventKind::Finished)
                .unwrap_or_else(|| panic!("parent {parent} never reached SHARD_END"));
            assert!(
                finished.order < started.order,
                "{} started (#{}) before its parent {parent} finished (#{})",
                child.shard_id,
                started.order,
                finished.order
            );
            let p = leases.iter().find(|l| &l.shard_id == parent).expect("parent lease");
            assert_eq!(p.checkpoint, Some(Checkpoint::ShardEnd));
        }
    }

    // Hand-off: after a graceful stop no lease has an owner, and only the
    // killed worker's heartbeat is left.
    let owned: Vec<_> = leases.iter().filter(|l| l.owner.is_some()).collect();
    assert!(owned.is_empty(), "leases still owned after hand-off: {owned:#?}");
    let workers: Vec<String> = store
        .list_workers()
        .await
        .expect("workers")
        .into_iter()
        .map(|w| w.worker_id)
        .collect();
    assert_eq!(workers, ["consumer-a"]);
    // The takeover replayed A's announced batch: some lease changed hands.
    assert!(leases.iter().any(|l| l.transitions >= 2), "no lease ever changed owner");
}
