//! One controller per kind, and what they share: the [`Context`], the generic
//! run loop, conditions, backoff and status writes.
//!
//! In this release every controller validates its object (the rules the
//! schema cannot express: cron syntax, time zones, template variables) and
//! reports `observedGeneration`, an `Accepted` condition and a `Ready`
//! condition by server-side apply. The work behind each kind arrives with its
//! own controller; until then `Ready` says plainly that it is not implemented.

pub mod backoff;
pub mod conditions;
mod runner;
mod status;

mod cluster_pool;
mod etl_job;
mod etl_run;
mod stream_consumer;
mod validation_suite;

use std::sync::Arc;

use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// What every reconciliation may use. Built once at start-up.
#[derive(Clone)]
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on the objects.
    pub recorder: Recorder,
    /// Per-object retry backoff.
    pub backoff: Arc<backoff::Backoff>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `client`, reporting Events as `identity`.
    pub fn new(client: Client, metrics: Arc<Metrics>, identity: String) -> Self {
        let reporter = Reporter {
            controller: "ade-operator".into(),
            instance: Some(identity),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            backoff: Arc::default(),
        }
    }
}

/// A fixed, bounded word for an error, used as a metric label and Event reason.
pub trait ErrorCategory {
    /// The category, e.g. `kube-api`.
    fn category(&self) -> &'static str;
}

/// Errors of the controllers in this release: all of them are failed writes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the status failed.
    #[error("applying the status of {kind} {name}: {source}")]
    ApplyStatus {
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::ApplyStatus { source, .. } => kube_error_category(source),
        }
    }
}

/// A bounded category for a Kubernetes API error.
pub fn kube_error_category(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) => match status.code {
            403 => "forbidden",
            404 => "not-found",
            409 => "conflict",
            422 => "invalid",
            429 => "throttled",
            500..=599 => "server-error",
            _ => "kube-api",
        },
        _ => "kube-client",
    }
}

/// Runs every controller until `shutdown` is cancelled.
pub async fn run_all(ctx: Arc<Context>, shutdown: CancellationToken) {
    tokio::join!(
        cluster_pool::run(ctx.clone(), shutdown.clone()),
        etl_job::run(ctx.clone(), shutdown.clone()),
        etl_run::run(ctx.clone(), shutdown.clone()),
        stream_consumer::run(ctx.clone(), shutdown.clone()),
        validation_suite::run(ctx, shutdown),
    );
}
