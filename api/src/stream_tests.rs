use serde_json::json;

use super::*;

/// A document as the operator builds it: every field written.
fn built() -> Config {
    Config {
        namespace: "data".into(),
        consumer: "app-events".into(),
        consumer_uid: "uid-1".into(),
        stream: StreamConfig {
            name: "app-events".into(),
            region: "us-east-1".into(),
            starting_position: StartingPosition::AtTimestamp,
            timestamp: Some("2026-11-25T13:00:00Z".parse().expect("timestamp")),
        },
        obfuscate: vec![
            ObfuscateRule {
                field: "email".into(),
                method: ObfuscationMethod::HmacSha256,
                key_file: Some("/var/run/ade/keys/0/hmac".into()),
                key_uri: None,
            },
            ObfuscateRule {
                field: "ssn".into(),
                method: ObfuscationMethod::Drop,
                key_file: None,
                key_uri: None,
            },
        ],
        sink: SinkConfig {
            uri: "s3://lake/raw/".into(),
            format: SinkFormat::Json,
            partition_by: "dt={{date}}/hour={{hour}}".into(),
            dead_letter_uri: None,
            flush: FlushConfig {
                max_records: 500,
                max_bytes: 67_108_864,
                max_interval_seconds: 90,
            },
            catalog: Some(crate::v1alpha1::CatalogPartition {
                database: "lake".into(),
                table: "app_events".into(),
                partition: [("dt", "{{date}}"), ("hour", "{{hour}}")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .into(),
                region: None,
            }),
        },
        checkpoint: CheckpointConfig {
            interval_seconds: 5,
            store: CheckpointStore::Dynamodb,
            dynamodb_table: Some("leases".into()),
        },
        lease_duration_seconds: LEASE_DURATION_SECONDS,
    }
}

#[test]
fn a_built_document_has_the_agreed_shape_and_round_trips() {
    let config = built();
    let json = serde_json::to_value(&config).expect("serialises");
    assert_eq!(
        json,
        json!({
            "namespace": "data", "consumer": "app-events", "consumerUid": "uid-1",
            "stream": {"name": "app-events", "region": "us-east-1", "startingPosition": "AT_TIMESTAMP",
                       "timestamp": "2026-11-25T13:00:00Z"},
            "obfuscate": [
                {"field": "email", "method": "hmac-sha256", "keyFile": "/var/run/ade/keys/0/hmac"},
                {"field": "ssn", "method": "drop"}
            ],
            "sink": {"uri": "s3://lake/raw/", "format": "json", "partitionBy": "dt={{date}}/hour={{hour}}",
                     "deadLetterUri": null,
                     "flush": {"maxRecords": 500, "maxBytes": 67_108_864, "maxIntervalSeconds": 90},
                     "catalog": {"database": "lake", "table": "app_events",
                                 "partition": {"dt": "{{date}}", "hour": "{{hour}}"}}},
            "checkpoint": {"intervalSeconds": 5, "store": "dynamodb", "dynamodbTable": "leases"},
            "leaseDurationSeconds": 30
        })
    );
    let text = serde_json::to_string(&config).expect("serialises");
    let back: Config = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, config);
}

#[test]
fn an_unknown_field_is_rejected_by_name() {
    let mut doc = serde_json::to_value(built()).expect("serialises");
    doc["replicas"] = json!(3);
    let err = serde_json::from_value::<Config>(doc)
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("unknown field `replicas`"), "{err}");

    let mut doc = serde_json::to_value(built()).expect("serialises");
    doc["sink"]["flush"]["maxRecord"] = json!(10);
    let err = serde_json::from_value::<Config>(doc)
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("unknown field `maxRecord`"), "{err}");
}

#[test]
fn a_hand_written_document_gets_the_defaults() {
    let config: Config = serde_json::from_value(json!({
        "namespace": "ns", "consumer": "c", "stream": {"name": "s", "region": "r"},
        "sink": {"uri": "s3://b/x"}, "checkpoint": {}
    }))
    .expect("parses");
    assert_eq!(config.consumer_uid, "");
    assert_eq!(config.stream.starting_position, StartingPosition::TrimHorizon);
    assert_eq!(config.sink.format, SinkFormat::Parquet);
    assert_eq!(config.sink.flush, FlushConfig::default());
    assert_eq!(config.sink.dead_letter_uri(), "s3://b/x_dead_letter/");
    assert_eq!(config.checkpoint.interval_seconds, 10);
    assert_eq!(config.checkpoint.store, CheckpointStore::Kubernetes);
    assert_eq!(config.lease_duration_seconds, LEASE_DURATION_SECONDS);
}

#[test]
fn the_specs_jsonl_is_the_documents_json() {
    use crate::v1alpha1::SinkFormat as Spec;
    assert_eq!(SinkFormat::from(Spec::Jsonl), SinkFormat::Json);
    assert_eq!(SinkFormat::from(Spec::Parquet), SinkFormat::Parquet);
}
