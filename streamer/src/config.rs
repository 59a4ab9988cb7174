//! The consumer's configuration: the JSON document the StreamConsumer
//! controller writes into `ADE_STREAM_CONFIG` (or a file given with
//! `--config`). The shape is the contract with the controller; see README.md.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Deserialize;

/// A configuration the consumer cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `ADE_STREAM_CONFIG` nor `--config` was given.
    #[error("no configuration: set ADE_STREAM_CONFIG to the JSON document or pass --config <file>")]
    Missing,
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON does not match the schema.
    #[error("the configuration is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// A value is out of range or inconsistent.
    #[error("the configuration is not valid: {0}")]
    Invalid(String),
}

/// The whole configuration document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Namespace of the StreamConsumer (and of its Leases).
    pub namespace: String,
    /// Name of the StreamConsumer; prefixes every lease name.
    pub consumer: String,
    /// UID of the StreamConsumer, for owner references; empty for none.
    #[serde(default)]
    pub consumer_uid: String,
    /// The Kinesis stream.
    pub stream: StreamConfig,
    /// Field obfuscation rules, applied in order.
    #[serde(default)]
    pub obfuscate: Vec<ObfuscateRule>,
    /// Where output goes.
    pub sink: SinkConfig,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
    /// Seconds a shard lease stays valid without renewal.
    #[serde(default = "default_lease_duration")]
    pub lease_duration_seconds: u32,
}

fn default_lease_duration() -> u32 {
    30
}

/// The Kinesis source.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// Where a shard without a checkpoint starts.
    #[serde(default)]
    pub starting_position: StartingPosition,
    /// Start time for `AT_TIMESTAMP`.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

/// Where a shard without a checkpoint starts reading. Shards that have a
/// parent always start at `TRIM_HORIZON`, so nothing after a reshard is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    /// The oldest record retained.
    #[default]
    TrimHorizon,
    /// Only records put after the iterator is taken.
    Latest,
    /// Records arriving at or after `stream.timestamp`.
    AtTimestamp,
}

/// One obfuscation rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObfuscateRule {
    /// Field name; a dotted path (`user.email`) reaches into nested objects.
    pub field: String,
    /// What to do with it.
    pub method: ObfuscateMethod,
    /// File holding the key (mounted from a Secret); absent for `drop`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// An obfuscation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObfuscateMethod {
    /// Lowercase hex HMAC-SHA256 of the value.
    HmacSha256,
    /// A keyed, format-preserving token (see `transform::token`).
    Token,
    /// Remove the field.
    Drop,
}

/// The object store sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SinkConfig {
    /// `s3://bucket/prefix/`.
    pub uri: String,
    /// Output format.
    #[serde(default)]
    pub format: SinkFormat,
    /// Partition template, e.g. `dt={{date}}/hour={{hour}}`.
    #[serde(default)]
    pub partition_by: String,
    /// Where dead letters go; default `<uri without trailing />_dead_letter/`.
    #[serde(default)]
    pub dead_letter_uri: Option<String>,
    /// When buffers are written.
    #[serde(default)]
    pub flush: FlushConfig,
}

impl SinkConfig {
    /// The dead-letter URI, defaulted from `uri`.
    pub fn dead_letter_uri(&self) -> String {
        match &self.dead_letter_uri {
            Some(uri) if !uri.is_empty() => uri.clone(),
            _ => format!("{}_dead_letter/", self.uri.trim_end_matches('/')),
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// Apache Parquet, schema inferred per object.
    #[default]
    Parquet,
    /// JSON lines.
    Json,
}

/// Flush thresholds; whichever is reached first flushes a shard's buffer.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlushConfig {
    /// Records per object.
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    /// Payload bytes per object.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Seconds since the first buffered record.
    #[serde(default = "default_max_interval")]
    pub max_interval_seconds: u64,
}

fn default_max_records() -> u64 {
    100_000
}
fn default_max_bytes() -> u64 {
    128 * 1024 * 1024
}
fn default_max_interval() -> u64 {
    60
}

impl Default for FlushConfig {
    fn default() -> Self {
        Self {
            max_records: default_max_records(),
            max_bytes: default_max_bytes(),
            max_interval_seconds: default_max_interval(),
        }
    }
}

/// Checkpointing and lease storage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Seconds between lease renewals carrying progress (lag, rate).
    #[serde(default = "default_checkpoint_interval")]
    pub interval_seconds: u64,
    /// Where leases live.
    #[serde(default)]
    pub store: LeaseStoreKind,
    /// DynamoDB table for `store: dynamodb`.
    #[serde(default)]
    pub dynamodb_table: Option<String>,
}

fn default_checkpoint_interval() -> u64 {
    10
}

/// Lease storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseStoreKind {
    /// `coordination.k8s.io/v1` Leases in the consumer's namespace.
    #[default]
    Kubernetes,
    /// A DynamoDB table keyed by shard id.
    Dynamodb,
}

impl Config {
    /// Parses and checks a JSON document.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads `--config <file>` if given, else `ADE_STREAM_CONFIG`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            return Self::from_json(&text);
        }
        match std::env::var("ADE_STREAM_CONFIG") {
            Ok(text) if !text.trim().is_empty() => Self::from_json(&text),
            _ => Err(ConfigError::Missing),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.consumer.is_empty() || self.namespace.is_empty() {
            return invalid("namespace and consumer must not be empty".into());
        }
        if self.stream.name.is_empty() || self.stream.region.is_empty() {
            return invalid("stream.name and stream.region must not be empty".into());
        }
        if self.stream.starting_position == StartingPosition::AtTimestamp && self.stream.timestamp.is_none() {
            return invalid("stream.startingPosition AT_TIMESTAMP needs stream.timestamp (RFC 3339)".into());
        }
        for rule in &self.obfuscate {
            if rule.field.is_empty() {
                return invalid("obfuscate[].field must not be empty".into());
            }
            if rule.method != ObfuscateMethod::Drop && rule.key_file.is_none() {
                return invalid(format!("obfuscate rule for {:?} needs keyFile", rule.field));
            }
        }
        if !self.sink.uri.starts_with("s3://") && !self.sink.uri.starts_with("memory://") {
            return invalid(format!("sink.uri {:?} must be an s3:// URI", self.sink.uri));
        }
        crate::sink::partition::PartitionTemplate::parse(&self.sink.partition_by)
            .map_err(|e| ConfigError::Invalid(format!("sink.partitionBy: {e}")))?;
        let flush = &self.sink.flush;
        if flush.max_records == 0 || flush.max_bytes == 0 || flush.max_interval_seconds == 0 {
            return invalid("sink.flush values must be positive".into());
        }
        if self.checkpoint.store == LeaseStoreKind::Dynamodb
            && self.checkpoint.dynamodb_table.as_deref().unwrap_or("").is_empty()
        {
            return invalid("checkpoint.store dynamodb needs checkpoint.dynamodbTable".into());
        }
        if self.lease_duration_seconds < 3 {
            return invalid("leaseDurationSeconds must be at least 3".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"namespace":"ns","consumer":"c","consumerUid":"u",
      "stream":{"name":"s","region":"us-east-1","startingPosition":"AT_TIMESTAMP","timestamp":"2026-11-25T10:00:00Z"},
      "obfuscate":[{"field":"email","method":"hmac-sha256","keyFile":"/k"},{"field":"ssn","method":"drop"}],
      "sink":{"uri":"s3://b/p/","format":"json","partitionBy":"dt={{date}}/hour={{hour}}","deadLetterUri":null,
              "flush":{"maxRecords":10,"maxBytes":1000,"maxIntervalSeconds":5}},
      "checkpoint":{"intervalSeconds":3,"store":"dynamodb","dynamodbTable":"t"},
      "leaseDurationSeconds":12}"#;

    #[test]
    fn parses_the_contract_document() {
        let c = Config::from_json(FULL).expect("valid");
        assert_eq!(c.stream.starting_position, StartingPosition::AtTimestamp);
        assert_eq!(c.obfuscate[0].method, ObfuscateMethod::HmacSha256);
        assert_eq!(c.sink.format, SinkFormat::Json);
        assert_eq!(c.sink.dead_letter_uri(), "s3://b/p_dead_letter/");
        assert_eq!(c.checkpoint.store, LeaseStoreKind::Dynamodb);
        assert_eq!(c.lease_duration_seconds, 12);
    }

    #[test]
    fn rejects_inconsistent_documents() {
        let cases = [
            (
                FULL.replace(r#""timestamp":"2026-11-25T10:00:00Z""#, r#""timestamp":null"#),
                "AT_TIMESTAMP",
            ),
            (FULL.replace(r#","keyFile":"/k""#, ""), "keyFile"),
            (FULL.replace("s3://b/p/", "gs://b/p/"), "s3://"),
            (FULL.replace("{{hour}}", "{{nope}}"), "partitionBy"),
            (
                FULL.replace(r#""dynamodbTable":"t""#, r#""dynamodbTable":null"#),
                "dynamodbTable",
            ),
            (FULL.replace(r#""maxRecords":10"#, r#""maxRecords":0"#), "positive"),
            (FULL.replace("hmac-sha256", "rot13"), "unknown variant"),
        ];
        for (doc, needle) in cases {
            let err = Config::from_json(&doc).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn defaults_apply() {
        let c = Config::from_json(
            r#"{"namespace":"ns","consumer":"c","stream":{"name":"s","region":"r"},
                "sink":{"uri":"s3://b/x"},"checkpoint":{}}"#,
        )
        .expect("valid");
        assert_eq!(c.stream.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(c.sink.format, SinkFormat::Parquet);
        assert_eq!(c.sink.flush.max_records, 100_000);
        assert_eq!(c.checkpoint.store, LeaseStoreKind::Kubernetes);
        assert_eq!(c.sink.dead_letter_uri(), "s3://b/x_dead_letter/");
    }
}
