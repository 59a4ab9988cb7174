//! Slack incoming-webhook alert: `POST {webhook}` with `{"text": …}`.

use serde_json::json;

/// Why the alert failed.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack webhook request failed: {0}")]
    Request(reqwest::Error),
    #[error("Slack webhook answered {status}: {body}")]
    Status { status: u16, body: String },
}

/// Posts the text.
pub async fn notify(client: &reqwest::Client, webhook: &str, text: &str) -> Result<(), SlackError> {
    let response = client
        .post(webhook)
        .json(&json!({ "text": text }))
        .send()
        .await
        .map_err(SlackError::Request)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let body = response.text().await.unwrap_or_default();
        return Err(SlackError::Status { status, body });
    }
    Ok(())
}
