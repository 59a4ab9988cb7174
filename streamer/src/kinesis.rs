//! The Kinesis calls the consumer makes (ListShards, GetShardIterator,
//! GetRecords), with errors sorted into what the caller does about them.
//! The AWS SDK's types stay in this module.

use aws_sdk_kinesis::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    primitives::DateTime,
    types::ShardIteratorType,
};

use crate::lease::plan::StartAt;

/// A Kinesis failure, by what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KinesisError {
    /// ProvisionedThroughputExceeded / LimitExceeded / KMS throttling: back off and retry.
    #[error("throttled by Kinesis ({0}); backing off")]
    Throttled(String),
    /// The shard iterator expired (5 minutes unused): get a new one.
    #[error("the shard iterator expired")]
    ExpiredIterator,
    /// The stream (or shard) does not exist.
    #[error("stream not found: {0}")]
    StreamNotFound(String),
    /// The credentials were refused.
    #[error("credentials refused by Kinesis: {0}")]
    CredentialsRefused(String),
    /// Anything else (network, server errors): retried with backoff.
    #[error("Kinesis {0}")]
    Other(String),
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(call: &str, e: &SdkError<E>) -> KinesisError {
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
    let message = e
        .as_service_error()
        .and_then(|s| s.message())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{e:?}"));
    let text = format!("{call}: {code} {message}");
    match code {
        "ProvisionedThroughputExceededException"
        | "LimitExceededException"
        | "KMSThrottlingException"
        | "ThrottlingException" => KinesisError::Throttled(text),
        "ExpiredIteratorException" => KinesisError::ExpiredIterator,
        "ResourceNotFoundException" => KinesisError::StreamNotFound(text),
        "UnrecognizedClientException"
        | "AccessDeniedException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => KinesisError::CredentialsRefused(text),
        _ if matches!(e, SdkError::ConstructionFailure(_)) || format!("{e:?}").contains("CredentialsNotLoaded") => {
            KinesisError::CredentialsRefused(text)
        }
        _ => KinesisError::Other(text),
    }
}

/// A shard as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// Shard id.
    pub id: String,
    /// Parent and adjacent parent, when present.
    pub parents: Vec<String>,
    /// True when the shard has an ending sequence number (closed by a reshard).
    pub closed: bool,
}

/// One record as read.
#[derive(Debug, Clone)]
pub struct KinesisRecord {
    /// Sequence number.
    pub sequence: String,
    /// Payload.
    pub data: Vec<u8>,
    /// Approximate arrival time, ms since the epoch.
    pub arrival_ms: i64,
}

/// One GetRecords answer.
#[derive(Debug, Clone)]
pub struct Page {
    /// Records, in sequence order.
    pub records: Vec<KinesisRecord>,
    /// The next iterator; `None` at SHARD_END.
    pub next: Option<String>,
    /// Lag of this shard.
    pub millis_behind_latest: Option<i64>,
}

/// A client bound to one stream.
#[derive(Debug, Clone)]
pub struct Kinesis {
    client: Client,
    stream: String,
}

impl Kinesis {
    /// A client for `stream` from a loaded AWS configuration.
    pub fn new(config: &aws_config::SdkConfig, stream: &str) -> Self {
        Self {
            client: Client::new(config),
            stream: stream.to_owned(),
        }
    }

    /// Every shard of the stream (open and closed within retention).
    pub async fn list_shards(&self) -> Result<Vec<ShardInfo>, KinesisError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = self.client.list_shards();
            let req = match &token {
                Some(t) => req.next_token(t),
                None => req.stream_name(&self.stream),
            };
            let out = req.send().await.map_err(|e| classify("ListShards", &e))?;
            for s in out.shards() {
                let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect();
                let closed = s
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some_and(|e| !e.is_empty());
                shards.push(ShardInfo {
                    id: s.shard_id().to_owned(),
                    parents,
                    closed,
                });
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(shards),
            }
        }
    }

    /// An iterator for `shard` at `start` (not `Finished`).
    pub async fn iterator(&self, shard: &str, start: &StartAt) -> Result<String, KinesisError> {
        let req = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(shard);
        let req = match start {
            StartAt::AfterSequence(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            StartAt::TrimHorizon | StartAt::Finished => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            StartAt::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
            StartAt::AtTimestamp(ts) => req
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(ts.as_millisecond())),
        };
        let out = req.send().await.map_err(|e| classify("GetShardIterator", &e))?;
        out.shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| KinesisError::Other(format!("GetShardIterator returned no iterator for {shard}")))
    }

    /// Up to `limit` records from `iterator`.
    pub async fn get_records(&self, iterator: &str, limit: i32) -> Result<Page, KinesisError> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(|e| classify("GetRecords", &e))?;
        let records = out
            .records()
            .iter()
            .map(|r| KinesisRecord {
                sequence: r.sequence_number().to_owned(),
                data: r.data().as_ref().to_vec(),
                arrival_ms: r
                    .approximate_arrival_timestamp()
                    .map_or(0, |t| t.to_millis().unwrap_or(0)),
            })
            .collect();
        Ok(Page {
            records,
            next: out.next_shard_iterator().filter(|n| !n.is_empty()).map(str::to_owned),
            millis_behind_latest: out.millis_behind_latest(),
        })
    }
}
