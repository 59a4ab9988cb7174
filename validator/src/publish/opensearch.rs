//! OpenSearch/Elasticsearch publisher: one bulk request (`POST {url}/_bulk`,
//! NDJSON) with a document for the suite run, one per check and one per profiled
//! column. Document ids are deterministic (`suite:batch:check:name`), so a rerun
//! of a batch overwrites its documents instead of adding more. Basic auth from a
//! `user:password` string.

use serde_json::{Value, json};

use crate::result::ResultDocument;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenSearchError {
    #[error("bulk request to {url} failed: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("bulk request to {url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("bulk request to {url} reported item errors: {body}")]
    Items { url: String, body: String },
}

/// The bulk body: action line + document, per document.
pub fn bulk_body(doc: &ResultDocument, index: &str) -> String {
    let at = doc.timings.finished_at.to_string();
    let base = |kind: &str| {
        json!({
            "@timestamp": at, "type": kind, "suite": doc.suite, "batchId": doc.batch_id,
            "window": doc.window, "dataset": doc.dataset.uri,
        })
    };
    let mut docs: Vec<(String, Value)> = Vec::new();
    let mut suite = base("suite");
    merge(
        &mut suite,
        json!({"outcome": doc.outcome, "summary": doc.summary, "rowCount": doc.profile.row_count,
        "scanSeconds": doc.timings.scan_seconds, "totalSeconds": doc.timings.total_seconds}),
    );
    docs.push((format!("{}:{}:suite", doc.suite, doc.batch_id), suite));
    for c in &doc.checks {
        let mut d = base("check");
        merge(
            &mut d,
            json!({"check": c.name, "kind": c.kind, "column": c.column, "severity": c.severity,
            "status": c.status, "outcome": c.outcome, "evaluatedRows": c.evaluated_rows, "failingRows": c.failing_rows,
            "message": c.message, "observed": c.observed.to_string(), "expected": c.expected.to_string()}),
        );
        docs.push((format!("{}:{}:check:{}", doc.suite, doc.batch_id, c.name), d));
    }
    for p in &doc.profile.columns {
        let mut d = base("column");
        merge(
            &mut d,
            json!({"column": p.name, "kind": p.kind, "rows": p.rows, "nulls": p.nulls,
            "nullRatio": p.null_ratio, "distinct": p.distinct, "mean": p.mean, "stddev": p.stddev,
            "min": p.min.as_ref().map(|v| json!(v).to_string()), "max": p.max.as_ref().map(|v| json!(v).to_string())}),
        );
        docs.push((format!("{}:{}:column:{}", doc.suite, doc.batch_id, p.name), d));
    }
    let mut body = String::new();
    for (id, d) in docs {
        body.push_str(&json!({"index": {"_index": index, "_id": id}}).to_string());
        body.push('\n');
        body.push_str(&d.to_string());
        body.push('\n');
    }
    body
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

/// Sends the bulk request of `doc`.
pub async fn publish(
    client: &reqwest::Client,
    base_url: &str,
    index: &str,
    credentials: Option<&str>,
    doc: &ResultDocument,
) -> Result<(), OpenSearchError> {
    send_bulk(client, base_url, credentials, bulk_body(doc, index)).await
}

/// Sends a bulk request body (see [`bulk_body`]).
pub async fn send_bulk(
    client: &reqwest::Client,
    base_url: &str,
    credentials: Option<&str>,
    body: String,
) -> Result<(), OpenSearchError> {
    let url = format!("{}/_bulk", base_url.trim_end_matches('/'));
    let mut request = client
        .post(&url)
        .header("Content-Type", "application/x-ndjson")
        .body(body);
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.map_err(|source| OpenSearchError::Request {
        url: url.clone(),
        source,
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(OpenSearchError::Status { url, status, body });
    }
    let item_errors = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_bool));
    if item_errors == Some(true) {
        return Err(OpenSearchError::Items {
            url,
            body: body.chars().take(2000).collect(),
        });
    }
    Ok(())
}
