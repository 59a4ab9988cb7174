//! `ade-stream`: runs one consumer worker of a StreamConsumer until SIGTERM
//! or SIGINT, then flushes, checkpoints and hands its shard leases off.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use ade_api::stream;
use ade_streamer::{
    config::{self, CheckpointStore, Config},
    http,
    kinesis::Kinesis,
    lease::{LeaseStore, dynamo::DynamoStore, kube::KubeStore},
    metrics::Metrics,
    sink::{
        catalog::{GlueCatalog, SinkCatalog},
        store::Sink,
    },
    transform::Obfuscator,
    worker::{self, EventLog, Options, Shared},
};
use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// Command line; the consumer itself is configured by `ADE_STREAM_CONFIG`.
#[derive(Debug, Parser)]
#[command(name = "ade-stream", version, about = "Kinesis consumer of an ADE StreamConsumer")]
struct Args {
    /// A file holding the configuration JSON (instead of ADE_STREAM_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of /metrics and /healthz (port 0: any free port, logged).
    #[arg(long, env = "ADE_STREAM_METRICS_ADDR", default_value_t = SocketAddr::from(([0, 0, 0, 0], stream::METRICS_PORT)))]
    metrics_addr: SocketAddr,
    /// Worker identity (default: POD_NAME, else the host name).
    #[arg(long, env = stream::WORKER_ID_ENV)]
    worker_id: Option<String>,
    /// Milliseconds to wait after an empty GetRecords.
    #[arg(long, env = "ADE_STREAM_IDLE_POLL_MS", default_value_t = 1000)]
    idle_poll_ms: u64,
    /// Milliseconds to wait after a GetRecords that returned records.
    #[arg(long, env = "ADE_STREAM_BUSY_POLL_MS", default_value_t = 200)]
    busy_poll_ms: u64,
    /// Records asked of each GetRecords (Kinesis allows up to 10,000).
    #[arg(long, env = "ADE_STREAM_RECORDS_PER_CALL", default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    records_per_call: i32,
    /// Seconds between shard syncs (ListShards).
    #[arg(long, env = "ADE_STREAM_SHARD_SYNC_SECONDS", default_value_t = 30)]
    shard_sync_seconds: u64,
    /// Log filter (RUST_LOG syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_filter: String,
}

fn worker_id(args: &Args) -> String {
    args.worker_id
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| format!("ade-stream-{}", std::process::id()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_filter))
        .init();
    // Several crypto providers are compiled in (features unify across the
    // workspace); kube's TLS uses the one installed here.
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        tracing::debug!("a TLS crypto provider was already installed");
    }
    let listener = http::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {}", args.metrics_addr))?;
    let config = config::load(args.config.as_deref()).context("loading the configuration")?;
    let me = worker_id(&args);
    tracing::info!(worker = %me, consumer = %config.consumer, stream = %config.stream.name, "starting");

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    let metrics = Arc::new(Metrics::default());
    let server = tokio::spawn(http::serve(listener, metrics.clone(), shutdown.clone()));

    let aws = ade_streamer::aws_config(&config.stream.region).await;
    let mut options = Options::new(&me);
    options.idle_poll = std::time::Duration::from_millis(args.idle_poll_ms);
    options.busy_poll = std::time::Duration::from_millis(args.busy_poll_ms);
    options.records_per_call = args.records_per_call;
    options.shard_sync = std::time::Duration::from_secs(args.shard_sync_seconds.max(1));
    match config.checkpoint.store {
        CheckpointStore::Kubernetes => {
            let client = kube::Client::try_default()
                .await
                .context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
            let store = KubeStore::new(client, &config.namespace, &config.consumer, &config.consumer_uid);
            run(config, options, store, &aws, metrics, shutdown.clone()).await;
        }
        CheckpointStore::Dynamodb => {
            let table = config.checkpoint.dynamodb_table.clone().unwrap_or_default();
            let store = DynamoStore::connect(&aws, &table)
                .await
                .with_context(|| format!("opening the DynamoDB lease table {table}"))?;
            run(config, options, store, &aws, metrics, shutdown.clone()).await;
        }
    }
    shutdown.cancel();
    server.await.context("metrics server task")?.context("metrics server")?;
    tracing::info!("stopped");
    Ok(())
}

async fn run<S: LeaseStore>(
    config: Config,
    options: Options,
    store: S,
    aws: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let parts = Obfuscator::load_fetching(&config.obfuscate, &config.stream.region)
        .await
        .map_err(|e| e.to_string())
        .and_then(|o| {
            Sink::new(&config.sink, &config.stream.region)
                .map(|s| (o, s))
                .map_err(|e| e.to_string())
        })
        .and_then(|(o, sink)| match &config.sink.catalog {
            None => Ok((o, sink)),
            Some(catalog) => {
                let region = catalog.region.as_deref().unwrap_or(&config.stream.region);
                let glue = Arc::new(GlueCatalog::new(aws, region));
                SinkCatalog::new(catalog, &config.sink.uri, region, glue).map(|c| (o, sink.with_catalog(c)))
            }
        });
    let (obfuscator, sink) = match parts {
        Ok(parts) => parts,
        Err(message) => {
            tracing::error!(%message, "cannot work: reporting InvalidConfig on the worker lease");
            let duration = config.lease_duration_seconds;
            worker::report_only(
                &store,
                &options.worker_id,
                duration,
                "InvalidConfig",
                &message,
                shutdown,
            )
            .await;
            return;
        }
    };
    let kinesis = Kinesis::new(aws, &config.stream.name);
    let shared = Arc::new(Shared::new(
        config,
        options,
        Arc::new(store),
        kinesis,
        sink,
        obfuscator,
        metrics,
        Arc::new(EventLog::default()),
    ));
    worker::run(shared, shutdown).await;
}

async fn wait_for_signal(shutdown: CancellationToken) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("signal received: shutting down");
    shutdown.cancel();
}
