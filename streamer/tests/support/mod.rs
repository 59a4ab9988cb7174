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
