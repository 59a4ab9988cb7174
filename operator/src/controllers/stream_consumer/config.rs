//! The configuration of a StreamConsumer's `ade-stream` pods: the document
//! of [`ade_api::stream`] (written once, read by `ade-stream` with the same
//! types), built from the consumer's spec, and where its keys are mounted.
//!
//! Pure.

use ade_api::stream::{self, Config as StreamConfig};

use crate::{
    api::v1alpha1::{ObfuscationMethod, StreamConsumer},
    cost,
};

/// Directory under which obfuscation keys are mounted, one folder per rule index.
pub const KEYS_DIR: &str = "/var/run/ade/keys";

/// Why a spec cannot be turned into a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A quantity that is not a whole positive number of bytes.
    #[error("spec.sink.s3.flush.maxBytes {0:?} is not a size: write it like 128Mi, 64M or 1000000")]
    MaxBytes(String),
    /// A record count below one (the schema normally prevents it).
    #[error("spec.sink.s3.flush.maxRecords {0} is not a positive number")]
    MaxRecords(i64),
    /// A duration that does not parse (the schema normally prevents it).
    #[error("{field}: {message}")]
    Duration {
        /// The field.
        field: &'static str,
        /// Why.
        message: String,
    },
}

/// The file an obfuscation rule's key is mounted at: `/var/run/ade/keys/<index>/<key>`.
pub fn key_file(index: usize, key: &str) -> String {
    format!("{KEYS_DIR}/{index}/{key}")
}

/// Bytes of a quantity such as `128Mi`, `64M` or `1000000`.
pub fn bytes(quantity: &str) -> Option<u64> {
    let gib = cost::memory_gib(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(
        quantity.to_owned(),
    ))?;
    let bytes = (gib * 1024.0 * 1024.0 * 1024.0).round();
    // Saturating float-to-int: anything this large is rejected below anyway.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = bytes as u64;
    (1.0..1e18).contains(&bytes).then_some(whole)
}

fn seconds(field: &'static str, d: &crate::api::v1alpha1::Duration) -> Result<u64, ConfigError> {
    let d = d.to_std().map_err(|e| ConfigError::Duration {
        field,
        message: e.to_string(),
    })?;
    // Whole seconds, rounded up, at least one.
    Ok(d.as_millis().div_ceil(1000).max(1).try_into().unwrap_or(u64::MAX))
}

/// The configuration of `consumer`'s `ade-stream` pods.
pub fn build(consumer: &StreamConsumer) -> Result<StreamConfig, ConfigError> {
    let spec = &consumer.spec;
    let kinesis = &spec.source.kinesis;
    let s3 = &spec.sink.s3;
    let max_bytes = bytes(&s3.flush.max_bytes.0).ok_or_else(|| ConfigError::MaxBytes(s3.flush.max_bytes.0.clone()))?;
    let max_records = u64::try_from(s3.flush.max_records)
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ConfigError::MaxRecords(s3.flush.max_records))?;
    let obfuscate = spec
        .transform
        .obfuscate
        .iter()
        .enumerate()
        .map(|(i, rule)| stream::ObfuscateRule {
            field: rule.field.clone(),
            method: rule.method,
            key_file: match rule.method {
                ObfuscationMethod::Drop => None,
                _ => rule.key_secret_ref.as_ref().map(|r| key_file(i, &r.key).into()),
            },
            key_uri: match rule.method {
                ObfuscationMethod::Drop => None,
                _ => rule.key_uri.clone(),
            },
        })
        .collect();
    Ok(StreamConfig {
        namespace: consumer.metadata.namespace.clone().unwrap_or_default(),
        consumer: consumer.metadata.name.clone().unwrap_or_default(),
        consumer_uid: consumer.metadata.uid.clone().unwrap_or_default(),
        stream: stream::StreamConfig {
            name: kinesis.stream_name.clone(),
            region: kinesis.region.clone(),
            starting_position: kinesis.starting_position,
            timestamp: kinesis.timestamp.as_ref().map(|t| t.0),
        },
        obfuscate,
        sink: stream::SinkConfig {
            uri: s3.uri.clone(),
            format: s3.format.into(),
            partition_by: s3.partition_by.clone(),
            dead_letter_uri: s3.dead_letter_uri.clone(),
            flush: stream::FlushConfig {
                max_records,
                max_bytes,
                max_interval_seconds: seconds("spec.sink.s3.flush.maxInterval", &s3.flush.max_interval)?,
            },
            // The region written out: the stream's unless the catalog names one.
            catalog: s3.catalog.clone().map(|mut catalog| {
                catalog.region.get_or_insert_with(|| kinesis.region.clone());
                catalog
            }),
        },
        checkpoint: stream::CheckpointConfig {
            interval_seconds: seconds("spec.checkpoint.interval", &spec.checkpoint.interval)?,
            store: spec.checkpoint.store,
            dynamodb_table: spec.checkpoint.dynamodb.as_ref().map(|d| d.table_name.clone()),
        },
        lease_duration_seconds: stream::LEASE_DURATION_SECONDS,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::v1alpha1::{CheckpointStore, StartingPosition, StreamConsumerSpec};

    pub(super) fn consumer(spec: &str) -> StreamConsumer {
        let spec: StreamConsumerSpec = serde_saphyr::from_str(spec).expect("spec");
        let mut c = StreamConsumer::new("app-events", spec);
        c.metadata.namespace = Some("data".into());
        c.metadata.uid = Some("uid-1".into());
        c
    }

    #[test]
    fn the_document_has_the_agreed_shape() {
        let c = consumer(
            "source: {kinesis: {streamName: app-events, region: us-east-1}}
transform:
  obfuscate:
    - {field: email, method: hmac-sha256, keySecretRef: {name: pii-key, key: hmac}}
    - {field: ssn, method: drop}
    - {field: phone, method: token, keySecretRef: {name: pii-key, key: token}}
sink: {s3: {uri: 's3://lake/raw/', flush: {maxRecords: 500, maxBytes: 64Mi, maxInterval: 1m30s}}}
",
        );
        let built = build(&c).expect("builds");
        let got = serde_json::to_value(&built).expect("json");
        // ade-stream reads it back as it was built.
        let read: StreamConfig = serde_json::from_value(got.clone()).expect("ade-stream parses it");
        assert_eq!(read, built);
        assert_eq!(
            got,
            json!({
                "namespace": "data", "consumer": "app-events", "consumerUid": "uid-1",
                "stream": {"name": "app-events", "region": "us-east-1", "startingPosition": "TRIM_HORIZON", "timestamp": null},
                "obfuscate": [
                    {"field": "email", "method": "hmac-sha256", "keyFile": "/var/run/ade/keys/0/hmac"},
                    {"field": "ssn", "method": "drop"},
                    {"field": "phone", "method": "token", "keyFile": "/var/run/ade/keys/2/token"}
                ],
                "sink": {"uri": "s3://lake/raw/", "format": "parquet", "partitionBy": "dt={{date}}/hour={{hour}}",
                         "deadLetterUri": null,
                         "flush": {"maxRecords": 500, "maxBytes": 67_108_864, "maxIntervalSeconds": 90},
                         "catalog": null},
                "checkpoint": {"intervalSeconds": 10, "store": "kubernetes", "dynamodbTable": null},
                "leaseDurationSeconds": 30
            })
        );
    }

    #[test]
    fn timestamps_formats_and_dynamodb() {
        let c = consumer(
            "source: {kinesis: {streamName: s, region: eu-west-1, startingPosition: AT_TIMESTAMP, timestamp: '2026-11-25T13:00:00Z'}}
sink: {s3: {uri: 's3://lake/raw/', format: jsonl, deadLetterUri: 's3://lake/dlq/', flush: {maxBytes: '1000000', maxInterval: 1500ms}}}
checkpoint: {interval: 5s, store: dynamodb, dynamodb: {tableName: leases}}
",
        );
        let got = build(&c).expect("builds");
        assert_eq!(got.stream.starting_position, StartingPosition::AtTimestamp);
        assert_eq!(
            got.stream.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2026-11-25T13:00:00Z")
        );
        assert_eq!(got.sink.format, stream::SinkFormat::Json);
        assert_eq!(got.sink.dead_letter_uri.as_deref(), Some("s3://lake/dlq/"));
        assert_eq!(got.sink.flush.max_bytes, 1_000_000);
        assert_eq!(got.sink.flush.max_interval_seconds, 2, "rounded up");
        assert_eq!(
            (got.checkpoint.interval_seconds, got.checkpoint.store),
            (5, CheckpointStore::Dynamodb)
        );
        assert_eq!(got.checkpoint.dynamodb_table.as_deref(), Some("leases"));
    }

    #[test]
    fn sizes() {
        for (q, want) in [
            ("128Mi", Some(134_217_728)),
            ("64M", Some(64_000_000)),
            ("1Gi", Some(1_073_741_824)),
            ("1000", Some(1000)),
            ("0", None),
            ("lots", None),
        ] {
            assert_eq!(bytes(q), want, "{q}");
        }
        let c = consumer(
            "source: {kinesis: {streamName: s, region: us-east-1}}\nsink: {s3: {uri: 's3://lake/raw/', flush: {maxBytes: lots}}}\n",
        );
        assert!(build(&c).unwrap_err().to_string().contains("\"lots\" is not a size"));
    }
}
