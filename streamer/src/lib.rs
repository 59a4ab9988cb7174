//! `ade-stream`: a Kinesis consumer with the Kinesis Client Library's lease
//! model (one lease per shard, stored as Kubernetes Leases or in DynamoDB),
//! PII obfuscation at the door and an effectively-once Parquet / JSON-lines
//! sink. See README.md for the contract with the StreamConsumer controller.

pub mod backoff;
pub mod config;
pub mod events;
pub mod held;
pub mod http;
pub mod kinesis;
pub mod lease;
pub mod metrics;
pub mod processor;
pub mod sink;
pub mod transform;
pub mod worker;

/// Loads the AWS configuration for `region` from the default chain; the
/// standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables
/// override endpoints.
pub async fn aws_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await
}
