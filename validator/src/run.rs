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
use crate::history::{self, CheckSketch, ColumnMetrics, Current, HistoryError, METRICS_API_VERSION, MetricsRecord};
use crate::publish::{
    self,
    deliver::{FIRST_WAIT, PENDING_API_VERSION, PENDING_FILE, Payload, Targets, deliver},
    opensearch, sns,
};
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
    /// The checks ran (`doc` holds their results) but publishing failed;
    /// `republish`: what is left was stored for `--republish`.
    #[error("validation finished but publishing failed: {message}")]
    Publish {
        message: String,
        doc: Box<ResultDocument>,
        republish: bool,
    },
    /// `--republish` failed again (what is left is stored again).
    #[error("publishing the stored results failed: {0}")]
    Republish(String),
}

impl RunError {
    /// Process exit code: 2 for bad input, 3 when history or a publisher failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::ReadHistory(_) | Self::Publish { .. } | Self::Republish(_) => 3,
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

/// Where `cfg` publishes: the result document at `result`, history at `history`.
fn targets_of<'a>(cfg: &'a RunConfig, result: Option<&'a Location>, history: Option<&'a Location>) -> Targets<'a> {
    Targets {
        result,
        history,
        opensearch: cfg
            .spec
            .publish
            .opensearch
            .as_ref()
            .map(|o| (o.url.as_str(), cfg.opensearch_credentials.as_deref())),
        slack: cfg.slack_webhook.as_deref().filter(|_| cfg.spec.alerts.slack.is_some()),
        sns: cfg
            .spec
            .alerts
            .sns
            .as_ref()
            .map(|t| (t.topic_arn.as_str(), cfg.sns_endpoint.as_deref())),
    }
}

/// The location of `name` in the folder of `suite`'s batch `batch` under `results`.
pub fn batch_file(results: &Location, suite: &str, batch: &str, name: &str) -> Location {
    results.child(&format!("suite={suite}/batch={batch}/{name}"))
}

/// Stores what is `left` to publish at `pending` (next to the stored result
/// document), for `--republish`; what happened, for the run's message.
async fn keep_for_later(pending: Option<Location>, left: Payload) -> (String, bool) {
    let pending = match pending {
        Some(pending) if left.result.is_none() => pending,
        _ => {
            let why =
                "the result document is not stored: publishing cannot be retried without running the checks again";
            return (why.to_owned(), false);
        }
    };
    let stored = serde_json::to_vec_pretty(&left).map_err(|e| e.to_string());
    match stored {
        Ok(bytes) => match pending.put(bytes).await {
            Ok(()) => (
                format!("what is left to publish is stored at {} for --republish", pending.uri),
                true,
            ),
            Err(e) => (
                format!("storing what is left to publish at {} failed: {e}", pending.uri),
                false,
            ),
        },
        Err(e) => (format!("storing what is left to publish failed: {e}"), false),
    }
}

/// `--republish`: sends what an earlier run of the batch could not publish
/// (stored by it next to its result document), without running the checks.
pub async fn republish(cfg: &RunConfig) -> Result<(), RunError> {
    let targets = preflight(cfg)?;
    let Some(results) = &targets.results else {
        return Err(RunError::Input(
            "--republish needs --results (or publish.s3.uri)".into(),
        ));
    };
    let pending = batch_file(results, &cfg.suite, &cfg.batch_id, PENDING_FILE);
    let stored = pending
        .get()
        .await
        .map_err(|e| RunError::Republish(format!("cannot read {}: {e}", pending.uri)))?
        .ok_or_else(|| RunError::Input(format!("nothing to republish: {} does not exist", pending.uri)))?;
    let payload: Payload = serde_json::from_slice(&stored)
        .map_err(|e| RunError::Input(format!("{} is not a stored publication: {e}", pending.uri)))?;
    let (left, failures) = deliver(payload, &targets_of(cfg, None, targets.history.as_ref()), FIRST_WAIT).await;
    // What is still left replaces what was stored: a repeat sends only that.
    let left = Payload {
        api_version: PENDING_API_VERSION.to_owned(),
        ..left
    };
    let bytes = serde_json::to_vec_pretty(&left).map_err(|e| RunError::Republish(e.to_string()))?;
    pending
        .put(bytes)
        .await
        .map_err(|e| RunError::Republish(format!("cannot update {}: {e}", pending.uri)))?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RunError::Republish(failures.join("; ")))
    }
}

/// Exit code for a finished run: 1 if the suite failed, else 0.
pub fn exit_code(outcome: Outcome) -> i32 {
    if outcome == Outcome::Failed { 1 } else { 0 }
}

struct Places {
    results: Option<Location>,
    history: Option<Location>,
}

fn preflight(cfg: &RunConfig) -> Result<Places, RunError> {
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
    Ok(Places { results, history })
}

/// Runs the suite; returns the result document (already published).
pub async fn run(cfg: &RunConfig) -> Result<ResultDocument, RunError> {
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let targets = preflight(cfg)?;
    let uri = cfg.dataset.clone().unwrap_or_else(|| cfg.spec.dataset.uri.clone());
    let format = cfg.format.unwrap_or(cfg.spec.dataset.format);
    let dataset = source::resolve(&uri, format, &cfg.store).await?;
    let mut references = Vec::new();
    for check in &cfg.spec.checks {
        if let Some(r) = &check.reference {
            references.push(engine::Reference {
                check: check.name.clone(),
                dataset: source::resolve(&r.dataset.uri, r.dataset.format, &cfg.store).await?,
            });
        }
    }
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
        schema,
        scan_seconds,
    } = engine::scan(&cfg.spec, &dataset, &references, has_window, cfg.engine).await?;

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
    let mut sketches = BTreeMap::new();
    for (check, binding) in cfg.spec.checks.iter().zip(&compiled.bindings) {
        let view = &state.views[binding.view];
        let observed = Observed {
            rows: view.rows,
            column: binding.column.map(|i| &view.columns[i]),
            row_check: binding.row_check.map(|i| &view.checks[i]),
            schema: &schema,
            declares_nullability: format == DatasetFormat::Parquet,
        };
        let (result, value) = checks::evaluate(check, observed, ctx);
        if let Some(v) = value {
            recorded.insert(check.name.clone(), v);
        }
        if let Some(column) = observed.column {
            let sketch = CheckSketch {
                kll: check.distribution.as_ref().map(|_| column.kll.to_state()),
                hll: check.distinct.as_ref().map(|_| column.hll.to_state()),
            };
            if sketch != CheckSketch::default() {
                sketches.insert(check.name.clone(), sketch);
            }
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
        .map(|r| batch_file(r, &cfg.suite, &cfg.batch_id, "result.json"));
    let targets_results = targets.results.as_ref().filter(|_| !cfg.no_publish);
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
    let failed = |message: String, doc: ResultDocument, republish: bool| RunError::Publish {
        message,
        doc: Box::new(doc),
        republish,
    };
    let json = match serde_json::to_vec_pretty(&doc) {
        Ok(json) => json,
        Err(e) => return Err(failed(e.to_string(), doc, false)),
    };
    let mut failures = Vec::new();
    if let Some(path) = &cfg.output
        && let Err(e) = std::fs::write(path, &json)
    {
        failures.push(format!("cannot write {}: {e}", path.display()));
    }

    // Publish: each publisher tried again on failure, the checks never re-run.
    let record = history_target.map(|h| {
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
                    let (hll, kll, top) = c.states();
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
                        top,
                    };
                    (name.clone(), metrics)
                })
                .collect(),
            checks: recorded,
            schema: schema.clone(),
            sketches,
        };
        (h, record)
    });
    let alert_text = alert.then(|| publish::alert_text(&doc, previous));
    let payload = Payload {
        api_version: PENDING_API_VERSION.to_owned(),
        result: result_location.as_ref().map(|_| json.clone()),
        history: record.as_ref().map(|(_, r)| r.clone()),
        opensearch_bulk: opensearch.map(|o| opensearch::bulk_body(&doc, &o.index)),
        slack: cfg.spec.alerts.slack.as_ref().and(alert_text.clone()),
        sns: cfg.spec.alerts.sns.as_ref().and(alert_text.clone()).map(|text| {
            let message = serde_json::json!({
                "suite": doc.suite, "batchId": doc.batch_id, "outcome": doc.outcome, "previousOutcome": previous,
                "summary": doc.summary, "resultsUri": doc.published.results_uri, "text": text,
            });
            (text, message.to_string())
        }),
    };
    let targets = targets_of(cfg, result_location.as_ref(), record.as_ref().map(|(h, _)| *h));
    let (left, failed_steps) = deliver(payload, &targets, FIRST_WAIT).await;
    let mut republish = false;
    failures.extend(failed_steps);
    if !left.is_empty() {
        let pending = targets_results.map(|r| batch_file(r, &cfg.suite, &cfg.batch_id, PENDING_FILE));
        let (message, stored) = keep_for_later(pending, left).await;
        failures.push(message);
        republish = stored;
    }
    if !failures.is_empty() {
        return Err(failed(failures.join("; "), doc, republish));
    }
    Ok(doc)
}
