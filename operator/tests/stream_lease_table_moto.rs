//! Issue 12, item 10: a StreamConsumer with `checkpoint.store: dynamodb` is
//! visible to the operator. `ade-stream`'s own DynamoDB lease store writes
//! the leases into moto's DynamoDB; the operator reads the table through the
//! real AWS SDK and gets the same shards, lag and workers as from Kubernetes
//! Leases.

use ade_moto::Moto;
use ade_operator::{
    controllers::stream_consumer::leases::{lease_of_item, observe},
    lease_table::{AwsLeaseTable, LeaseTable},
};
use ade_streamer::lease::{Checkpoint, LeaseStore, ShardLease, WorkerLease, dynamo::DynamoStore};
use jiff::{SignedDuration, Timestamp};

const TABLE: &str = "events-leases";

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

#[tokio::test]
async fn the_operator_reads_shards_lag_and_workers_from_the_dynamodb_lease_table() {
    let moto = Moto::start();
    let reader = AwsLeaseTable::with_static_credentials(Some(moto.endpoint()), "test", "test");
    let missing = reader.items("us-east-1", TABLE).await.expect_err("no table yet");
    assert_eq!(missing.category, "not-found", "{missing}");
    assert!(missing.to_string().contains(TABLE), "{missing}");

    let store = DynamoStore::connect(&sdk(&moto).await, TABLE)
        .await
        .expect("lease table");
    let now = Timestamp::now();
    for (shard, owner, lag, checkpoint) in [
        (
            "shardId-000000000000",
            Some("pod-a"),
            1200,
            Some(Checkpoint::Sequence("49590".into())),
        ),
        ("shardId-000000000001", None, 0, Some(Checkpoint::ShardEnd)),
    ] {
        let created = store
            .create_shard(&ShardLease::new(shard, Vec::new(), 20))
            .await
            .expect("create")
            .expect("new");
        let mut lease = created;
        lease.owner = owner.map(str::to_owned);
        lease.renew_time = Some(now);
        lease.checkpoint = checkpoint;
        lease.millis_behind_latest = Some(lag);
        lease.records_per_second = Some(12.5);
        store.update_shard(&lease).await.expect("update");
    }
    store
        .put_worker(&WorkerLease {
            worker_id: "pod-a".into(),
            duration_secs: 20,
            renew_time: Some(now),
            open_shards: Some(1),
            error: None,
            version: String::new(),
        })
        .await
        .expect("worker");

    let items = reader.items("us-east-1", TABLE).await.expect("scan");
    assert_eq!(items.len(), 3, "{items:?}");
    let leases: Vec<_> = items.iter().filter_map(lease_of_item).collect();
    let seen = observe(&leases, now + SignedDuration::from_secs(5));
    let shards: Vec<_> = seen
        .shards
        .iter()
        .map(|s| (s.shard_id.as_str(), s.owner.as_deref(), s.checkpoint.as_deref()))
        .collect();
    assert_eq!(
        shards,
        [
            ("shardId-000000000000", Some("pod-a"), Some("49590")),
            ("shardId-000000000001", None, Some("SHARD_END")),
        ]
    );
    assert_eq!(seen.max_lag_ms, Some(1200), "the open shard's lag");
    assert_eq!(seen.open_shards, Some(1), "as the live worker reports");
    assert_eq!(seen.records_per_second, Some(12.5));
    let workers: Vec<_> = seen.workers.iter().map(|w| w.pod.as_str()).collect();
    assert_eq!(workers, ["pod-a"]);
    // Past the lease duration nobody is live: the same rule as for Leases.
    let later = observe(&leases, now + SignedDuration::from_secs(30));
    assert!(later.workers.is_empty() && later.shards[0].owner.is_none(), "{later:?}");
}
