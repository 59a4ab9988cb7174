//! The consumer's configuration: the JSON document the StreamConsumer
//! controller writes into `ADE_STREAM_CONFIG` (or a file given with
//! `--config`). The document's types are the contract with the controller,
//! written once in [`ade_api::stream`]; here it is read and checked for what
//! serde cannot see (consistency, ranges, the partition template).

use std::path::{Path, PathBuf};

pub use ade_api::stream::*;

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

/// Parses and checks a JSON document.
pub fn from_json(text: &str) -> Result<Config, ConfigError> {
    let config: Config = serde_json::from_str(text)?;
    validate(&config)?;
    Ok(config)
}

/// Reads `--config <file>` if given, else [`ENV`] (`ADE_STREAM_CONFIG`).
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        return from_json(&text);
    }
    match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => from_json(&text),
        _ => Err(ConfigError::Missing),
    }
}

fn validate(config: &Config) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if config.consumer.is_empty() || config.namespace.is_empty() {
        return invalid("namespace and consumer must not be empty".into());
    }
    if config.stream.name.is_empty() || config.stream.region.is_empty() {
        return invalid("stream.name and stream.region must not be empty".into());
    }
    if config.stream.starting_position == StartingPosition::AtTimestamp && config.stream.timestamp.is_none() {
        return invalid("stream.startingPosition AT_TIMESTAMP needs stream.timestamp (RFC 3339)".into());
    }
    for rule in &config.obfuscate {
        if rule.field.is_empty() {
            return invalid("obfuscate[].field must not be empty".into());
        }
        if rule.method != ObfuscationMethod::Drop && rule.key_file.is_none() == rule.key_uri.is_none() {
            return invalid(format!(
                "obfuscate rule for {:?} needs exactly one of keyFile and keyUri",
                rule.field
            ));
        }
    }
    if !config.sink.uri.starts_with("s3://") && !config.sink.uri.starts_with("memory://") {
        return invalid(format!("sink.uri {:?} must be an s3:// URI", config.sink.uri));
    }
    crate::sink::partition::PartitionTemplate::parse(&config.sink.partition_by)
        .map_err(|e| ConfigError::Invalid(format!("sink.partitionBy: {e}")))?;
    for (key, value) in config.sink.catalog.iter().flat_map(|c| &c.partition) {
        crate::sink::partition::PartitionTemplate::parse(value)
            .map_err(|e| ConfigError::Invalid(format!("sink.catalog.partition.{key}: {e}")))?;
    }
    let flush = &config.sink.flush;
    if flush.max_records == 0 || flush.max_bytes == 0 || flush.max_interval_seconds == 0 {
        return invalid("sink.flush values must be positive".into());
    }
    if config.checkpoint.store == CheckpointStore::Dynamodb
        && config.checkpoint.dynamodb_table.as_deref().unwrap_or("").is_empty()
    {
        return invalid("checkpoint.store dynamodb needs checkpoint.dynamodbTable".into());
    }
    if config.lease_duration_seconds < 3 {
        return invalid("leaseDurationSeconds must be at least 3".into());
    }
    Ok(())
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
        let c = from_json(FULL).expect("valid");
        assert_eq!(c.stream.starting_position, StartingPosition::AtTimestamp);
        assert_eq!(c.obfuscate[0].method, ObfuscationMethod::HmacSha256);
        assert_eq!(c.sink.format, SinkFormat::Json);
        assert_eq!(c.sink.dead_letter_uri(), "s3://b/p_dead_letter/");
        assert_eq!(c.checkpoint.store, CheckpointStore::Dynamodb);
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
            (
                FULL.replace(r#""keyFile":"/k""#, r#""keyFile":"/k","keyUri":"s3://keys/k""#),
                "exactly one of keyFile and keyUri",
            ),
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
            let err = from_json(&doc).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn defaults_apply() {
        let c = from_json(
            r#"{"namespace":"ns","consumer":"c","stream":{"name":"s","region":"r"},
                "sink":{"uri":"s3://b/x"},"checkpoint":{}}"#,
        )
        .expect("valid");
        assert_eq!(c.stream.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(c.sink.format, SinkFormat::Parquet);
        assert_eq!(c.sink.flush.max_records, 100_000);
        assert_eq!(c.checkpoint.store, CheckpointStore::Kubernetes);
        assert_eq!(c.sink.dead_letter_uri(), "s3://b/x_dead_letter/");
    }
}
