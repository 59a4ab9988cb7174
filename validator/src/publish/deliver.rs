//! Carrying a finished run's results out: the result document, the history
//! record, OpenSearch and the alerts, as a [`Payload`] (what to send) to
//! [`Targets`] (where). The checks have run by now and are never run again
//! for publishing: each publisher is tried [`ATTEMPTS`] times, waiting
//! [`FIRST_WAIT`] then three times as long, and every publisher is tried even
//! when one before it failed. What could not be sent is returned as a payload
//! of its own, which `ade-validate --republish` sends later (it is stored
//! next to the result document as [`PENDING_FILE`]).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{opensearch, slack, sns};
use crate::history::{self, MetricsRecord};
use crate::store::Location;

/// Tries of each publisher.
pub const ATTEMPTS: u32 = 3;
/// The wait after the first failed try.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The stored payload left to send, next to `result.json`.
pub const PENDING_FILE: &str = "publication-pending.json";
/// Version tag of the stored payload.
pub const PENDING_API_VERSION: &str = "ade.dev/validation-publication/v1";

/// What to send. Everything but the result document itself can be stored
/// and sent later.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Payload {
    /// Always [`PENDING_API_VERSION`] when stored.
    #[serde(default)]
    pub api_version: String,
    /// The result document's JSON (`result.json`); never stored here.
    #[serde(skip)]
    pub result: Option<Vec<u8>>,
    /// The history record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<MetricsRecord>,
    /// The OpenSearch bulk request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opensearch_bulk: Option<String>,
    /// The Slack alert's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    /// The SNS alert: subject and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<(String, String)>,
}

impl Payload {
    /// Nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.result.is_none()
            && self.history.is_none()
            && self.opensearch_bulk.is_none()
            && self.slack.is_none()
            && self.sns.is_none()
    }
}

/// Where to send it.
#[derive(Debug, Default)]
pub struct Targets<'a> {
    /// The result document's location.
    pub result: Option<&'a Location>,
    /// The history location.
    pub history: Option<&'a Location>,
    /// OpenSearch: base URL and `user:password`.
    pub opensearch: Option<(&'a str, Option<&'a str>)>,
    /// Slack webhook URL.
    pub slack: Option<&'a str>,
    /// SNS topic ARN and endpoint override.
    pub sns: Option<(&'a str, Option<&'a str>)>,
}

/// Tries `step` up to [`ATTEMPTS`] times; the last error, with how often it was tried.
async fn retried<F, Fut, E>(what: &str, wait: Duration, mut step: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut pause = wait;
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= ATTEMPTS => return Err(format!("{what}: {e} (tried {ATTEMPTS} times)")),
            Err(e) => {
                eprintln!(
                    "warning: publishing {what} failed (try {attempt} of {ATTEMPTS}): {e}; trying again in {pause:?}"
                );
                tokio::time::sleep(pause).await;
                pause *= 3;
                attempt += 1;
            }
        }
    }
}

/// Sends what of `payload` has a target, waiting `wait` after a first
/// failure: what is left (sent parts removed) and every failure.
pub async fn deliver(mut payload: Payload, to: &Targets<'_>, wait: Duration) -> (Payload, Vec<String>) {
    let mut failures = Vec::new();
    let mut settle = |r: Result<(), String>| match r {
        Ok(()) => true,
        Err(e) => {
            failures.push(e);
            false
        }
    };
    if let (Some(json), Some(location)) = (&payload.result, to.result)
        && settle(retried("the result document", wait, || location.put(json.clone())).await)
    {
        payload.result = None;
    }
    if let (Some(record), Some(location)) = (&payload.history, to.history)
        && settle(
            retried("the metrics history", wait, || async {
                history::write_record(location, record).await.map(|_| ())
            })
            .await,
        )
    {
        payload.history = None;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    if let (Some(body), Some((url, credentials))) = (&payload.opensearch_bulk, to.opensearch)
        && settle(
            retried("OpenSearch", wait, || {
                opensearch::send_bulk(&client, url, credentials, body.clone())
            })
            .await,
        )
    {
        payload.opensearch_bulk = None;
    }
    if let (Some(text), Some(webhook)) = (&payload.slack, to.slack)
        && settle(retried("Slack", wait, || slack::notify(&client, webhook, text)).await)
    {
        payload.slack = None;
    }
    if let (Some((subject, message)), Some((topic, endpoint))) = (&payload.sns, to.sns)
        && settle(retried("SNS", wait, || sns::notify(topic, endpoint, subject, message)).await)
    {
        payload.sns = None;
    }
    (payload, failures)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_publisher_is_tried_again_and_its_last_error_is_told() {
        let tries = std::cell::Cell::new(0);
        let flaky = || {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move { if n < 3 { Err(format!("down ({n})")) } else { Ok(()) } }
        };
        assert_eq!(retried("OpenSearch", Duration::ZERO, flaky).await, Ok(()));
        assert_eq!(tries.get(), 3);
        tries.set(0);
        let down = || {
            tries.set(tries.get() + 1);
            async { Err::<(), _>("connection refused") }
        };
        assert_eq!(
            retried("Slack", Duration::ZERO, down).await,
            Err("Slack: connection refused (tried 3 times)".to_owned())
        );
        assert_eq!(tries.get(), 3);
    }

    #[test]
    fn a_stored_payload_round_trips_without_the_result_document() {
        let payload = Payload {
            api_version: PENDING_API_VERSION.into(),
            result: Some(b"{}".to_vec()),
            opensearch_bulk: Some("{}\n".into()),
            slack: Some("FAILED".into()),
            ..Payload::default()
        };
        let stored: Payload = serde_json::from_str(&serde_json::to_string(&payload).unwrap()).unwrap();
        assert_eq!(stored.result, None);
        assert_eq!(
            (stored.opensearch_bulk, stored.slack),
            (payload.opensearch_bulk, payload.slack)
        );
        assert!(serde_json::from_str::<Payload>(r#"{"bogus": 1}"#).is_err());
    }
}
