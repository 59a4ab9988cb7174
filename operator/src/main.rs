//! `ade-operator`: serves /metrics, /healthz and /readyz, waits to become the
//! leader, then runs every controller until SIGTERM or SIGINT, and hands the
//! Lease over on the way out.

use std::{sync::Arc, time::Instant};

use ade_operator::{
    config::Config,
    controllers::{self, Context},
    http,
    leader::LeaderElector,
    metrics::Metrics,
    readiness::{self, Readiness},
    telemetry,
};
use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(config.log_format, &config.log_filter)?;
    // Several crypto providers may be compiled in (features unify across the
    // workspace); kube's TLS uses the one installed here.
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        tracing::debug!("a TLS crypto provider was already installed");
    }
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::default());
    let readiness = Arc::new(Readiness::default());
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));

    let server = tokio::spawn(http::serve(
        config.http_addr,
        metrics.clone(),
        readiness.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(readiness::watch_crds(
        client.clone(),
        readiness,
        metrics.clone(),
        config.crd_check_interval,
        shutdown.clone(),
    ));

    let identity = config.identity();
    let ctx = Arc::new(Context::new(client.clone(), metrics.clone(), &config, identity.clone()));
    let outcome = if config.leader_elect {
        let elector = LeaderElector::new(
            client,
            &config.lease_namespace,
            &config.lease_name,
            identity,
            config.lease_duration,
        );
        run_as_leader(&config, &elector, ctx, &metrics, shutdown.clone()).await
    } else {
        tracing::info!("leader election off: running controllers");
        controllers::run_all(ctx, shutdown.clone()).await;
        Ok(())
    };
    shutdown.cancel();
    server.await.context("HTTP server task")?.context("HTTP server")?;
    tracing::info!("stopped");
    outcome
}

/// Waits for the Lease, runs the controllers while renewing it, and releases
/// it on shutdown. Losing the Lease stops the process with an error, so that a
/// replica that may have been partitioned never reconciles beside a new leader.
async fn run_as_leader(
    config: &Config,
    elector: &LeaderElector,
    ctx: Arc<Context>,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(identity = elector.identity(), lease = %config.lease_name, "waiting to become the leader");
    loop {
        match elector.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "reading the leader Lease failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(config.lease_renew_interval) => {}
        }
    }
    tracing::info!(identity = elector.identity(), "became the leader");
    metrics.leader.set(1);

    let controllers_stop = shutdown.child_token();
    let mut controllers = tokio::spawn(controllers::run_all(ctx, controllers_stop.clone()));
    let mut last_renewal = Instant::now();
    let lost = loop {
        // Biased: on SIGTERM the controllers stop too, and when both are
        // ready (the signal came during a renewal) the stop is not a loss.
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break None,
            _ = &mut controllers => break Some("controllers stopped unexpectedly".to_owned()),
            () = tokio::time::sleep(config.lease_renew_interval) => {}
        }
        match elector.try_acquire_or_renew().await {
            Ok(true) => last_renewal = Instant::now(),
            Ok(false) => break Some("another replica took the leader Lease".to_owned()),
            Err(error) if last_renewal.elapsed() < config.lease_duration => {
                tracing::warn!(%error, "renewing the leader Lease failed; retrying");
            }
            Err(error) => break Some(format!("could not renew the leader Lease in time: {error}")),
        }
    };
    metrics.leader.set(0);
    controllers_stop.cancel();
    if !controllers.is_finished() {
        let _ = controllers.await;
    }
    match lost {
        None => {
            if let Err(error) = elector.release().await {
                tracing::warn!(%error, "releasing the leader Lease failed; it will expire");
            } else {
                tracing::info!("released the leader Lease");
            }
            Ok(())
        }
        Some(why) => anyhow::bail!("lost leadership: {why}"),
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                let _ = ctrl_c.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
