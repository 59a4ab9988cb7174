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
    tenure::{Tenure, WriteGuard},
};
use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// How long reconciles in flight may take to finish when the controllers stop.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(config.log_format, &config.log_filter)?;
    // Several crypto providers may be compiled in (features unify across the
    // workspace); kube's TLS uses the one installed here.
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        tracing::debug!("a TLS crypto provider was already installed");
    }
    if config.leader_elect
        && let Some(problem) = config.lease_timing_problem()
    {
        anyhow::bail!("invalid leader-election timings: {problem}");
    }
    // Every write passes the leadership guard: a replica whose tenure ended
    // (a renewal past its deadline, a frozen process) writes nothing.
    let tenure = if config.leader_elect {
        Tenure::none()
    } else {
        Tenure::always()
    };
    let kube_config = kube::Config::infer()
        .await
        .context("finding the Kubernetes API (in-cluster or KUBECONFIG)")?;
    let client = kube::client::ClientBuilder::try_from(kube_config)
        .context("connecting to the Kubernetes API")?
        .with_layer(&WriteGuard::new(tenure.clone()))
        .build();
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
        run_as_leader(&config, &elector, &tenure, ctx, &metrics, shutdown.clone()).await
    } else {
        tracing::info!("leader election off: running controllers");
        // The only replica leads (the no-leader alert reads this).
        metrics.leader.set(1);
        controllers::run_all(ctx, shutdown.clone()).await;
        Ok(())
    };
    shutdown.cancel();
    server.await.context("HTTP server task")?.context("HTTP server")?;
    tracing::info!("stopped");
    outcome
}

/// Waits for the Lease, runs the controllers while renewing it, and releases
/// it on shutdown. A renewal sent at `t` that succeeds extends the tenure to
/// `t + --lease-renew-deadline` (shorter than the Lease); when the tenure
/// ends, the controllers stop at once and the process exits with an error,
/// so a replica that was partitioned or frozen never reconciles beside a new
/// leader (its writes are refused from that instant, [`WriteGuard`]).
async fn run_as_leader(
    config: &Config,
    elector: &LeaderElector,
    tenure: &Tenure,
    ctx: Arc<Context>,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let deadline = config.lease_renew_deadline;
    // One attempt to acquire or renew, bounded by the renew deadline; on
    // success the tenure runs to the attempt's start plus the deadline.
    let attempt = || async {
        let sent = Instant::now();
        match tokio::time::timeout(deadline, elector.try_acquire_or_renew()).await {
            Ok(Ok(true)) => {
                tenure.extend_to(sent + deadline);
                Ok(true)
            }
            Ok(Ok(false)) => Ok(false),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within the renew deadline of {deadline:?}")),
        }
    };
    tracing::info!(identity = elector.identity(), lease = %config.lease_name, "waiting to become the leader");
    loop {
        match attempt().await {
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
    let lost = loop {
        let ends = tenure.deadline().unwrap_or_else(Instant::now);
        // Biased: on SIGTERM the controllers stop too, and when both are
        // ready (the signal came during a renewal) the stop is not a loss.
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break None,
            _ = &mut controllers => break Some("controllers stopped unexpectedly".to_owned()),
            () = tokio::time::sleep_until(ends.into()) => {
                break Some(format!("no renewal succeeded within the renew deadline of {deadline:?}"));
            }
            () = tokio::time::sleep(config.lease_renew_interval) => {}
        }
        if !tenure.valid() {
            // Woken late (a frozen process): the tenure ended meanwhile.
            break Some(format!(
                "no renewal succeeded within the renew deadline of {deadline:?}"
            ));
        }
        match attempt().await {
            Ok(true) => {}
            Ok(false) => break Some("another replica took the leader Lease".to_owned()),
            Err(error) => tracing::warn!(%error, "renewing the leader Lease failed; retrying until the renew deadline"),
        }
    };
    if lost.is_some() {
        // Not the leader any more: from this instant nothing is written.
        tenure.end();
    }
    metrics.leader.set(0);
    controllers_stop.cancel();
    // Reconciles in flight may finish (they are idempotent, so one cut short
    // is redone by the next leader), but not for ever: a stuck API call must
    // not keep the Lease from being handed over.
    if !controllers.is_finished() && tokio::time::timeout(STOP_GRACE, &mut controllers).await.is_err() {
        tracing::warn!(grace = ?STOP_GRACE, "reconciles still running after the grace period; stopping without them");
        controllers.abort();
    }
    tenure.end();
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
