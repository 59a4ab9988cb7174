//! SNS alert: `Publish` to a topic, with a short subject and the run summary as a
//! JSON message. The region comes from the topic ARN; the endpoint from
//! `--sns-endpoint` or the standard `AWS_ENDPOINT_URL`; credentials from the
//! standard AWS chain (static environment variables in tests).

use aws_config::{BehaviorVersion, Region};

/// Why the alert failed.
#[derive(Debug, thiserror::Error)]
#[error("SNS publish to {topic} failed: {message}")]
pub struct SnsError {
    pub topic: String,
    pub message: String,
}

/// The region inside an SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`).
pub fn arn_region(topic_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = topic_arn.split(':').collect();
    (parts.len() >= 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[3].is_empty()).then(|| parts[3])
}

/// Publishes the alert.
pub async fn notify(topic_arn: &str, endpoint: Option<&str>, subject: &str, message: &str) -> Result<(), SnsError> {
    let err = |message: String| SnsError {
        topic: topic_arn.to_owned(),
        message,
    };
    let region = arn_region(topic_arn).ok_or_else(|| err("not an SNS topic ARN".into()))?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let client = aws_sdk_sns::Client::new(&config);
    let subject: String = subject.chars().filter(|c| !c.is_control()).take(100).collect();
    client
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(|e| err(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_arns() {
        assert_eq!(arn_region("arn:aws:sns:eu-west-1:123456789012:q"), Some("eu-west-1"));
        assert_eq!(arn_region("arn:aws:sqs:eu-west-1:123456789012:q"), None);
        assert_eq!(arn_region("topic"), None);
    }
}
