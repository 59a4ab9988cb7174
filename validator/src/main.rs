//! `ade-validate`: profile a dataset and run a ValidationSuite's checks on it in
//! one scan, then publish. Exit codes: 0 passed (warnings allowed), 1 failed
//! checks, 2 bad input (nothing published), 3 history or a publisher failed.
//!
//! The result document is printed to stdout (and written to `--output`); logs
//! and errors go to stderr.

use std::io::Write as _;
use std::path::PathBuf;

use ade_api::v1alpha1::{Alerts, Dataset, DatasetFormat, Profile, Publish, Trigger, ValidationSuiteSpec};
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use ade_validator::engine::EngineOptions;
use ade_validator::run::{self, RunConfig};
use ade_validator::store::StoreConfig;
use ade_validator::summary::RunSummary;

#[derive(Debug, Parser)]
#[command(name = "ade-validate", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the benchmark's Parquet file (12 columns).
    GenBenchData {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 5_000_000)]
        rows: usize,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The ValidationSuite `.spec` as JSON: a file path, or the JSON itself (starting with `{`).
    /// Without it, the run profiles `--dataset` with no checks.
    #[arg(long)]
    suite_spec: Option<String>,
    /// Suite name (history and result paths use it).
    #[arg(long, default_value = "adhoc")]
    suite_name: String,
    /// Batch id (history and result paths use it).
    #[arg(long, default_value = "adhoc")]
    batch_id: String,
    /// Start of the batch's data window (RFC 3339), for seasonality.
    #[arg(long)]
    window_start: Option<Timestamp>,
    /// End of the batch's data window (RFC 3339), for freshness and seasonality.
    #[arg(long)]
    window_end: Option<Timestamp>,
    /// Dataset URI (file, glob, folder or s3://…); overrides the spec's.
    #[arg(long)]
    dataset: Option<String>,
    /// Dataset format; overrides the spec's.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Metrics history location (local folder or s3://bucket/prefix).
    #[arg(long)]
    history: Option<String>,
    /// Results location (local folder or s3://…); overrides the spec's publish.s3.uri.
    #[arg(long)]
    results: Option<String>,
    /// Also write the result document here.
    #[arg(long)]
    output: Option<PathBuf>,
    /// S3 endpoint override (else AWS_ENDPOINT_URL).
    #[arg(long, env = "ADE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// SNS endpoint override (else AWS_ENDPOINT_URL).
    #[arg(long, env = "ADE_SNS_ENDPOINT")]
    sns_endpoint: Option<String>,
    /// File holding the Slack webhook URL (a mounted Secret key).
    #[arg(long)]
    slack_webhook_file: Option<PathBuf>,
    /// File holding `user:password` for OpenSearch (a mounted Secret key).
    #[arg(long)]
    opensearch_credentials_file: Option<PathBuf>,
    /// Partitions scanned in parallel (default: CPU count).
    #[arg(long)]
    threads: Option<usize>,
    /// Distinct values an exact uniqueness check may hold (8 bytes each, ~16 with overhead).
    #[arg(long, default_value_t = 16_000_000)]
    unique_cap: usize,
    /// Publish nothing (still prints and writes --output).
    #[arg(long)]
    no_publish: bool,
    /// Do not check: send what an earlier run of this batch could not publish
    /// (it stored it next to its result document). Exit 0 when everything is
    /// sent, 3 when something still fails (kept for the next --republish).
    #[arg(long, conflicts_with = "no_publish")]
    republish: bool,
    /// Write a small JSON summary of how the run ended here, whatever the
    /// outcome (the operator passes `/dev/termination-log`).
    #[arg(long)]
    summary_file: Option<PathBuf>,
}

/// `--format`: the spec's [`DatasetFormat`] as a command-line value (clap's
/// derive stays out of ade-api).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON lines.
    Json,
}

impl From<Format> for DatasetFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Parquet => Self::Parquet,
            Format::Csv => Self::Csv,
            Format::Json => Self::Json,
        }
    }
}

/// The suite of `--dataset` without `--suite-spec`: profile only, no checks.
/// (A spec always has a trigger; an ad-hoc run has none.)
fn profile_only(uri: String) -> ValidationSuiteSpec {
    ValidationSuiteSpec {
        dataset: Dataset {
            uri,
            from_job: None,
            format: DatasetFormat::default(),
        },
        trigger: Trigger {
            after: None,
            schedule: None,
        },
        profile: Profile::default(),
        checks: Vec::new(),
        publish: Publish::default(),
        alerts: Alerts::default(),
        service_account_name: None,
    }
}

fn secret(file: Option<&PathBuf>, env: &str) -> anyhow::Result<Option<String>> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Some(text.trim().to_owned()))
        }
        None => Ok(std::env::var(env).ok().filter(|v| !v.is_empty())),
    }
}

fn config(args: RunArgs) -> anyhow::Result<RunConfig> {
    let spec: ValidationSuiteSpec = match &args.suite_spec {
        Some(s) if s.trim_start().starts_with('{') => serde_json::from_str(s).context("invalid --suite-spec JSON")?,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --suite-spec {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("invalid suite spec in {path}"))?
        }
        None => {
            let uri = args
                .dataset
                .clone()
                .context("pass --suite-spec, or --dataset to profile without checks")?;
            profile_only(uri)
        }
    };
    Ok(RunConfig {
        suite: args.suite_name,
        batch_id: args.batch_id,
        window_start: args.window_start,
        window_end: args.window_end,
        spec,
        dataset: args.dataset,
        format: args.format.map(DatasetFormat::from),
        history: args.history,
        results: args.results,
        output: args.output,
        store: StoreConfig {
            s3_endpoint: args.s3_endpoint,
        },
        sns_endpoint: args.sns_endpoint,
        slack_webhook: secret(args.slack_webhook_file.as_ref(), "ADE_SLACK_WEBHOOK_URL")?,
        opensearch_credentials: secret(args.opensearch_credentials_file.as_ref(), "ADE_OPENSEARCH_CREDENTIALS")?,
        engine: EngineOptions {
            threads: args
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            unique_cap: args.unique_cap,
        },
        no_publish: args.no_publish,
    })
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::GenBenchData { out, rows }) => match ade_validator::benchdata::write(&out, rows) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", out.display());
                1
            }
        },
        None => validate(cli.run),
    };
    std::process::exit(code);
}

fn validate(mut args: RunArgs) -> i32 {
    let summary_file = args.summary_file.take();
    let (code, summary) = validate_and_summarize(args);
    if let Some(path) = summary_file
        && let Err(e) = std::fs::write(&path, summary.to_json())
    {
        eprintln!("error: cannot write the summary to {}: {e}", path.display());
    }
    code
}

fn validate_and_summarize(args: RunArgs) -> (i32, RunSummary) {
    let republish = args.republish;
    let cfg = match config(args) {
        Ok(cfg) => cfg,
        Err(e) => {
            let message = format!("bad input: {e:#}");
            eprintln!("error: {message}");
            return (2, RunSummary::error(2, &message));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.engine.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let message = format!("cannot start the runtime: {e}");
            eprintln!("error: {message}");
            return (3, RunSummary::error(3, &message));
        }
    };
    if republish {
        return match runtime.block_on(run::republish(&cfg)) {
            Ok(()) => {
                eprintln!(
                    "{}: published what an earlier run of batch {} could not",
                    cfg.suite, cfg.batch_id
                );
                // The checks' verdict is the earlier run's; this run only published.
                let done = RunSummary {
                    outcome: ade_validator::summary::SummaryOutcome::Passed,
                    message: Some("published the stored results".to_owned()),
                    ..RunSummary::error(0, "")
                };
                (0, done)
            }
            Err(e) => {
                eprintln!("error: {e}");
                (e.exit_code(), RunSummary::error(e.exit_code(), &e.to_string()))
            }
        };
    }
    match runtime.block_on(run::run(&cfg)) {
        Ok(doc) => {
            let mut out = std::io::stdout().lock();
            let printed = serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::other)
                .and_then(|()| writeln!(out));
            if let Err(e) = printed {
                eprintln!("error: cannot print the result: {e}");
            }
            eprintln!(
                "{}: {:?} (passed {}, warned {}, failed {}, skipped {})",
                doc.suite, doc.outcome, doc.summary.passed, doc.summary.warned, doc.summary.failed, doc.summary.skipped
            );
            (run::exit_code(doc.outcome), ade_validator::summary::of(&doc))
        }
        Err(run::RunError::Publish {
            message,
            doc,
            republish,
        }) => {
            // The checks ran: the summary carries their verdict.
            eprintln!("error: validation finished but publishing failed: {message}");
            (3, ade_validator::summary::publish_failed(&doc, &message, republish))
        }
        Err(e) => {
            eprintln!("error: {e}");
            (e.exit_code(), RunSummary::error(e.exit_code(), &e.to_string()))
        }
    }
}
