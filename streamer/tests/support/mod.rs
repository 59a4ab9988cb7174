//! Test helpers: AWS clients pointed at the moto emulator (`ade_moto`), and
//! readers of everything the consumer wrote to the bucket.
// Test helpers panic on failure, like the tests that call them (see clippy.toml).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use ade_moto::Moto;
use ade_streamer::sink::store::Location;
use object_store::{ObjectStore, ObjectStoreExt, aws::AmazonS3Builder};

/// The AWS SDK configuration for `moto` (static credentials).
pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// An object_store client on `bucket` of `moto`.
pub fn bucket(moto: &Moto, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(moto.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    )
}

/// A sink location under `prefix` of `bucket` on `moto`.
pub fn location(moto: &Moto, name: &str, prefix: &str) -> Location {
    Location {
        store: bucket(moto, name),
        prefix: prefix.to_owned(),
    }
}

/// The payload of record `i`: a JSON object with PII (e-mail, name, SSN,
/// phone), except every 25th (not JSON) and every 40th (a JSON string),
/// which must become dead letters. The bool says whether it is a data record.
pub fn payload(i: u64) -> (String, bool) {
    if i % 25 == 7 {
        (format!("oops user{i}@example.com 123-45-{i:04}"), false)
    } else if i % 40 == 3 {
        (format!("\"user{i}@example.com\""), false)
    } else {
        let json = format!(
            r#"{{"id":{i},"email":"user{i}@example.com","name":"Person {i}","ssn":"123-45-{i:04}","phone":"+1 415-555-{i:04}","amount":{}.5}}"#,
            i % 97
        );
        (json, true)
    }
}

/// Reshards `stream` while it is read: splits its first shard at the middle
/// of its hash range and merges its third and fourth.
pub async fn split_first_merge_last_two(k: &aws_sdk_kinesis::Client, stream: &str) {
    let shards = k.list_shards().stream_name(stream).send().await.expect("ListShards");
    let range = shards.shards()[0].hash_key_range().expect("range");
    let (lo, hi): (u128, u128) = (
        range.starting_hash_key().parse().expect("u128"),
        range.ending_hash_key().parse().expect("u128"),
    );
    k.split_shard()
        .stream_name(stream)
        .shard_to_split(shards.shards()[0].shard_id())
        .new_starting_hash_key((lo + (hi - lo) / 2).to_string())
        .send()
        .await
        .expect("SplitShard");
    k.merge_shards()
        .stream_name(stream)
        .shard_to_merge(shards.shards()[2].shard_id())
        .adjacent_shard_to_merge(shards.shards()[3].shard_id())
        .send()
        .await
        .expect("MergeShards");
}

/// Every object of a bucket: (key, bytes).
pub async fn all_objects(store: &Arc<dyn ObjectStore>) -> Vec<(String, Vec<u8>)> {
    use futures::TryStreamExt;
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.push((m.location.to_string(), bytes.to_vec()));
    }
    out.sort();
    out
}

/// One record found in the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub shard: String,
    pub sequence: String,
    /// `id` of a data record; `None` for a dead letter.
    pub id: Option<i64>,
    pub object: String,
}

/// Reads every Parquet, JSON-lines and dead-letter object; returns each
/// record found (one per row/line) and every string value seen.
pub fn read_output(objects: &[(String, Vec<u8>)]) -> (Vec<Found>, Vec<String>) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut found = Vec::new();
    let mut strings = Vec::new();
    for (key, bytes) in objects {
        if key.ends_with(".parquet") {
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                for col in batch.columns() {
                    if col.data_type() == &DataType::Utf8 {
                        let a = col.as_string::<i32>();
                        strings.extend((0..a.len()).filter(|i| !a.is_null(*i)).map(|i| a.value(i).to_owned()));
                    }
                }
                let shard = batch
                    .column_by_name("_ade_shard_id")
                    .unwrap()
                    .as_string::<i32>()
                    .clone();
                let seq = batch
                    .column_by_name("_ade_sequence_number")
                    .unwrap()
                    .as_string::<i32>()
                    .clone();
                let id = batch.column_by_name("id").unwrap().as_primitive::<Int64Type>().clone();
                for i in 0..batch.num_rows() {
                    found.push(Found {
                        shard: shard.value(i).to_owned(),
                        sequence: seq.value(i).to_owned(),
                        id: Some(id.value(i)),
                        object: key.clone(),
                    });
                }
            }
        } else if key.ends_with(".jsonl") {
            let text = String::from_utf8(bytes.clone()).unwrap();
            strings.push(text.clone());
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let dead = v.get("payloadDigest").is_some();
                found.push(Found {
                    shard: v[if dead { "shardId" } else { "_ade_shard_id" }]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    sequence: v[if dead { "sequenceNumber" } else { "_ade_sequence_number" }]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    id: if dead { None } else { v["id"].as_i64() },
                    object: key.clone(),
                });
            }
        } else {
            panic!("unexpected object {key}");
        }
    }
    (found, strings)
}

/// Asserts that every record of `expected` ((shard, sequence) → the id of a
/// data record, or `None` for a dead letter) is in `found` exactly once, as
/// the right kind, and nothing else is.
pub fn assert_each_once(expected: &std::collections::BTreeMap<(String, String), Option<i64>>, found: &[Found]) {
    let mut seen: std::collections::BTreeMap<(String, String), Vec<&Found>> = std::collections::BTreeMap::new();
    for f in found {
        seen.entry((f.shard.clone(), f.sequence.clone())).or_default().push(f);
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(duplicates.is_empty(), "duplicated records: {duplicates:#?}");
    let missing: Vec<_> = expected.keys().filter(|k| !seen.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} lost records, first {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(seen.len(), expected.len(), "records that were never put");
    for (key, id) in expected {
        assert_eq!(seen[key][0].id, *id, "record {key:?} has the wrong content or kind");
    }
}

/// Asserts that no value of `payload`'s PII (e-mail, name, SSN, phone) is in
/// clear in any decoded string or any raw byte of `objects`.
pub fn assert_no_clear_pii(objects: &[(String, Vec<u8>)], strings: &[String]) {
    for needle in ["@example.com", "Person ", "123-45-", "415-555-"] {
        assert!(
            !strings.iter().any(|s| s.contains(needle)),
            "{needle} found in clear in a value"
        );
        for (key, bytes) in objects {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} found in clear in {key}"
            );
        }
    }
}
