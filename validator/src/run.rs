//! One suite run, start to finish: check every input (bad input → exit 2 and
//! nothing written), scan, evaluate, then publish — result document, history
//! record, OpenSearch, alerts — in that order. Only after everything that can be
//! validated has been does anything get written.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use jiff::Timestamp;

use crate::checks::{self, Context, Observed};
use crate::engine::{self, EngineError, EngineOptions, ScanOutput};
use crate::history::{self, ColumnMetrics, Current, HistoryError, METRICS_API_VERSION, MetricsRecord};
use crate::publish::{self, opensearch, slack, sns};
use crate::result::{
    DatasetInfo, Outcome, ProfileSection, Published, RESULT_API_VERSION, ResultDocument, Timings, Window, summarize,
};
use crate::scalar::Scalar;
use crate::source::{self, SourceError};
use crate::store::{Location, StoreConfig, StoreError};
use ade_api::v1alpha1::{DatasetFormat, Seasonality, ValidationSuiteSpec};

/// Everything a run needs, parsed by the CLI.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub suite: String,
    pub batch_id: String,
    pub window_start: Option<Timestamp>,
    pub window_end: Option<Timestamp>,
    pub spec: ValidationSuiteSpec,
    /// Overrides the spec's dataset URI (the controller renders templates).
    pub dataset: Option<String>,
    pub format: Option<DatasetFormat>,
    pub history: Option<String>,
    /// Results prefix; overrides `publish.s3.uri`.
    pub results: Option<String>,
    pub output: Option<PathBuf>,
    pub store: StoreConfig,
    pub sns_endpoint: Option<String>,
    pub slack_webhook: Option<String>,
    pub opensearch_credentials: Option<String>,
    pub engine: EngineOptions,
    /// Skip every publisher (a dry run): still writes `--output`.
    pub no_publish: bool,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("bad input: {0}")]
    Input(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot read the metrics history: {0}")]
    ReadHistory(HistoryError),
    #[error("validation finished but publishing failed: {0}")]
    Publish(String),
}

impl RunError {
    /// Process exit code: 2 for bad input, 3 when history or a publisher failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::ReadHistory(_) | Self::Publish(_) => 3,
            Self::Engine(EngineError::Execute { source, .. }) if is_io(source) => 3,
            _ => 2,
        }
    }
}

fn is_io(e: &datafusion::error::DataFusionError) -> bool {
    matches!(
        e,
        datafusion::error::DataFusionError::ObjectStore(_) | datafusion::error::DataFusionError::IoError(_)
    )
}

/// Exit code for a finished run: 1 if the suite failed, else 0.
pub fn exit_code(outcome: Outcome) -> i32 {
    if outcome == Outcome::Failed { 1 } else { 0 }
}

struct Targets {
    results: Option<Location>,
    history: Option<Location>,
}

fn preflight(cfg: &RunConfig) -> Result<Targets, RunError> {
    let bad = |m: String| RunError::Input(m);
    if let (Some(s), Some(e)) = (cfg.window_start, cfg.window_end)
        && e < s
    {
        return Err(bad(format!("--window-end {e} is before --window-start {s}")));
    }
    if cfg.suite.is_empty() || cfg.suite.contains('/') || cfg.batch_id.is_empty() || cfg.batch_id.contains('/') {
        return Err(bad(
            "--suite-name and --batch-id must be non-empty and contain no '/'".into()
        ));
    }
    let location = |uri: &str| Location::parse(uri, &cfg.store).map_err(|e: StoreError| bad(e.to_string()));
    let results_uri = cfg
        .results
        .clone()
        .or_else(|| cfg.spec.publish.s3.as_ref().map(|s| s.uri.clone()));
    let results = results_uri.as_deref().map(location).transpose()?;
    let history = cfg.history.as_deref().map(location).transpose()?;
    if let Some(os) = &cfg.spec.publish.opensearch {
        if reqwest::Url::parse(&os.url).is_err() {
            return Err(bad(format!("publish.opensearch.url {:?} is not a URL", os.url)));
        }
        if os.credentials_secret_ref.is_some() && cfg.opensearch_credentials.is_none() {
            return Err(bad(
                "publish.opensearch names a credentials Secret: pass --opensearch-credentials-file".into(),
            ));
        }
    }
    if cfg.spec.alerts.slack.is_some() && cfg.slack_webhook.is_none() {
        return Err(bad(
            "alerts.slack is set: pass --slack-webhook-file (or ADE_SLACK_WEBHOOK_URL)".into(),
        ));
    }
    if let Some(s) = &cfg.spec.alerts.sns
        && sns::arn_region(&s.topic_arn).is_none()
    {
        return Err(bad(format!(
            "alerts.sns.topicArn {:?} is not an SNS topic ARN",
            s.topic_arn
        )));
    }
    Ok(Targets { results, history })
}

/// Runs the suite; returns the result document (already published).
pub async fn run(cfg: &RunConfig) -> Result<ResultDocument, RunError> {
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let targets = preflight(cfg)?;
    let uri = cfg.dataset.clone().unwrap_or_else(|| cfg.spec.dataset.uri.clone());
    let format = cfg.format.unwrap_or(cfg.spec.dataset.format);
    let dataset = source::resolve(&uri, format, &cfg.store).await?;
    let records = match &targets.history {
        Some(h) => history::read_records(h, &cfg.suite)
            .await
            .map_err(RunError::ReadHistory)?,
        None => Vec::new(),
    };
    let has_window = cfg.window_start.is_some();
    let ScanOutput {
        compiled,
        state,
        footer,
        scan_seconds,
    } = engine::scan(&cfg.spec, &dataset, has_window, cfg.engine).await?;

    // Evaluate.
    let current = Current {
        batch_id: &cfg.batch_id,
        window_start: cfg.window_start,
        window_end: cfg.window_end,
    };
    let ctx = Context {
        records: &records,
        current,
        now: started_at,
    };
    let mut results = Vec::new();
    let mut recorded = BTreeMap::new();
    for (check, binding) in cfg.spec.checks.iter().zip(&compiled.bindings) {
        let view = &state.views[binding.view];
        let observed = Observed {
            rows: view.rows,
            column: binding.column.map(|i| &view.columns[i]),
            row_check: binding.row_check.map(|i| &view.checks[i]),
        };
        let (result, value) = checks::evaluate(check, observed, ctx);
        if let Some(v) = value {
            recorded.insert(check.name.clone(), v);
        }
        results.push(result);
    }
    let (summary, outcome) = summarize(&results);
    let view0 = &state.views[0];
    let row_count = footer.as_ref().map_or(view0.rows, |f| f.rows);
    let columns = compiled
        .profile
        .iter()
        .map(|(name, data_type, i)| view0.columns[*i].finish(name, data_type, &cfg.spec.profile.quantiles))
        .collect();

    // Publication targets are decided before anything is written, so the stored document lists them.
    let previous = history::comparable(&records, current, Seasonality::None)
        .first()
        .map(|r| r.outcome);
    let alert = publish::should_alert(cfg.spec.alerts.notify_on, previous, outcome) && !cfg.no_publish;
    let mut published = Published::default();
    let result_location = targets
        .results
        .as_ref()
        .filter(|_| !cfg.no_publish)
        .map(|r| r.child(&format!("suite={}/batch={}/result.json", cfg.suite, cfg.batch_id)));
    published.results_uri = result_location.as_ref().map(|l| l.uri.clone());
    let history_target = targets.history.as_ref().filter(|_| !cfg.no_publish);
    published.history_uri = history_target.map(|h| history::record_location(h, &cfg.suite, &cfg.batch_id).uri);
    let opensearch = cfg.spec.publish.opensearch.as_ref().filter(|_| !cfg.no_publish);
    published.opensearch_index = opensearch.map(|o| o.index.clone());
    if alert {
        if cfg.spec.alerts.slack.is_some() {
            published.alerts.push("slack");
        }
        if cfg.spec.alerts.sns.is_some() {
            published.alerts.push("sns");
        }
    }

    let finished_at = Timestamp::now();
    let doc = ResultDocument {
        api_version: RESULT_API_VERSION,
        kind: "ValidationResult",
        suite: cfg.suite.clone(),
        batch_id: cfg.batch_id.clone(),
        window: Window {
            start: cfg.window_start,
            end: cfg.window_end,
        },
        dataset: DatasetInfo {
            uri,
            format,
            files: dataset.files.len(),
            bytes: dataset.bytes(),
        },
        outcome,
        summary,
        timings: Timings {
            started_at,
            finished_at,
            scan_seconds,
            total_seconds: clock.elapsed().as_secs_f64(),
        },
        checks: results,
        profile: ProfileSection {
            row_count,
            row_count_from: if footer.is_some() { "footer" } else { "scan" },
            columns,
        },
        published,
    };
    let json = serde_json::to_vec_pretty(&doc).map_err(|e| RunError::Publish(e.to_string()))?;
    if let Some(path) = &cfg.output {
        std::fs::write(path, &json).map_err(|e| RunError::Publish(format!("cannot write {}: {e}", path.display())))?;
    }

    // Publish.
    let publish_err = |e: &dyn std::fmt::Display| RunError::Publish(e.to_string());
    if let Some(location) = &result_location {
        location.put(json.clone()).await.map_err(|e| publish_err(&e))?;
    }
    if let Some(h) = history_target {
        let record = MetricsRecord {
            api_version: METRICS_API_VERSION.into(),
            suite: cfg.suite.clone(),
            batch_id: cfg.batch_id.clone(),
            window_start: cfg.window_start,
            window_end: cfg.window_end,
            recorded_at: finished_at,
            outcome,
            row_count,
            columns: compiled
                .profile
                .iter()
                .map(|(name, _, i)| {
                    let c = &view0.columns[*i];
                    let (hll, kll) = c.states();
                    let metrics = ColumnMetrics {
                        rows: c.rows,
                        nulls: c.nulls,
                        null_ratio: c.null_ratio(),
                        distinct_count: c.distinct(),
                        mean: c.moments.mean(),
                        min: c.min.as_ref().and_then(Scalar::as_f64),
                        max: c.max.as_ref().and_then(Scalar::as_f64),
                        hll,
                        kll,
                    };
                    (name.clone(), metrics)
                })
                .collect(),
            checks: recorded,
        };
        history::write_record(h, &record).await.map_err(|e| publish_err(&e))?;
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| publish_err(&e))?;
    if let Some(os) = opensearch {
        opensearch::publish(&client, &os.url, &os.index, cfg.opensearch_credentials.as_deref(), &doc)
            .await
            .map_err(|e| publish_err(&e))?;
    }
    if alert {
        let text = publish::alert_text(&doc, previous);
        if let (Some(_), Some(webhook)) = (&cfg.spec.alerts.slack, &cfg.slack_webhook) {
            slack::notify(&client, webhook, &text)
                .await
                .map_err(|e| publish_err(&e))?;
        }
        if let Some(topic) = &cfg.spec.alerts.sns {
            let message = serde_json::json!({
                "suite": doc.suite, "batchId": doc.batch_id, "outcome": doc.outcome, "previousOutcome": previous,
                "summary": doc.summary, "resultsUri": doc.published.results_uri, "text": text,
            });
            sns::notify(
                &topic.topic_arn,
                cfg.sns_endpoint.as_deref(),
                &text,
                &message.to_string(),
            )
            .await
            .map_err(|e| publish_err(&e))?;
        }
    }
    Ok(doc)
}
