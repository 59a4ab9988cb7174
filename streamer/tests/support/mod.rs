//! Test helpers: the moto AWS emulator on 127.0.0.1 (started through
//! tools/moto, killed on drop), AWS clients pointed at it, and readers of
//! everything the consumer wrote to the bucket.
// Test helpers panic on failure, like the tests that call them (see clippy.toml).
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use ade_streamer::sink::store::Location;
use object_store::{ObjectStore, ObjectStoreExt, aws::AmazonS3Builder};

/// A moto server on 127.0.0.1, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Installs moto if needed (tools/moto/ensure.sh) and starts it on a free port.
    pub fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ensure = root.join("tools/moto/ensure.sh");
        let out = Command::new("bash")
            .arg(&ensure)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", ensure.display()));
        assert!(
            out.status.success(),
            "moto could not be installed by {} (needs python3 with venv and PyPI access)",
            ensure.display()
        );
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        let port = free_port();
        let mut child = Command::new(bin.join("python"))
            .arg(root.join("tools/moto/server.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto server.py");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !line.starts_with("ready") {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("moto server did not start");
            }
        }
        Self { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates an S3 bucket (moto accepts an unsigned PUT).
    pub fn create_bucket(&self, bucket: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "CreateBucket failed: {answer}");
    }

    /// The AWS SDK configuration for moto (static credentials).
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .load()
            .await
    }

    /// An object_store client on `bucket`.
    pub fn bucket(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(self.endpoint())
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(bucket)
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .build()
                .unwrap(),
        )
    }

    /// A sink location under `prefix` of `bucket`.
    pub fn location(&self, bucket: &str, prefix: &str) -> Location {
        Location {
            store: self.bucket(bucket),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
