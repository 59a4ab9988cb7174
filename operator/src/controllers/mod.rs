//! One controller per kind, and what they share: the [`Context`], the generic
//! run loop, conditions, backoff and status writes.
//!
//! In this release every controller validates its object (the rules the
//! schema cannot express: cron syntax, time zones, template variables) and
//! reports `observedGeneration`, an `Accepted` condition and a `Ready`
//! condition by server-side apply. The work behind each kind arrives with its
//! own controller; until then `Ready` says plainly that it is not implemented.

pub mod backoff;
mod budget;
pub mod caches;
pub mod conditions;
mod finalizer;
pub mod queue;
mod runner;
mod status;

mod cluster_pool;
pub mod etl_job;
pub mod etl_run;
pub mod stream_consumer;
pub mod validation_suite;

use std::sync::Arc;

use kube::{
    Client, Resource,
    runtime::events::{Event, EventType, Reporter},
};
use tokio_util::sync::CancellationToken;

pub use crate::error_category::kube_error_category;
use crate::{config::Config, cost, events::Recorder, metrics::Metrics, providers::Providers};

/// What every reconciliation may use. Built once at start-up.
#[derive(Clone)]
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on the objects.
    pub recorder: Arc<Recorder>,
    /// Per-object retry backoff.
    pub backoff: Arc<backoff::Backoff>,
    /// The compute providers.
    pub providers: Providers,
    /// Prices of reserved capacity, for cost estimates.
    pub prices: cost::Prices,
    /// The watch caches reconcilers read (started by [`run_all`]).
    pub caches: caches::Caches,
    /// Held while a run decides whether it may start on its pool and records
    /// that it does (released before the provider starts the attempt): its
    /// job's, and its pool's, alone when the pool limits its concurrent runs.
    pub admissions: Arc<crate::locks::Admissions>,
    /// Queue depth of every pool, for the `ade_pool_queue_depth` gauge.
    pub pool_queues: Arc<cluster_pool::PoolQueues>,
    /// How ValidationSuite Jobs run `ade-validate`.
    pub validator: validation_suite::ValidatorSettings,
    /// Image and AWS endpoint of StreamConsumer pods.
    pub stream: stream_consumer::children::StreamSettings,
    /// How long an attempt may wait for external capacity (`--cluster-wait-limit`).
    pub cluster_wait_limit: std::time::Duration,
    /// Reads the DynamoDB lease tables of StreamConsumers.
    pub lease_table: Arc<dyn crate::lease_table::LeaseTable>,
    /// The Glue Data Catalog EtlJob outputs are registered in.
    pub catalog: Arc<dyn ade_catalog::Catalog>,
    /// The region of AWS resources that name none (`--aws-region`).
    pub aws_region: Option<String>,
    /// Reconciles each controller runs at once (`--concurrent-reconciles`; 0: no bound).
    pub concurrent_reconciles: u16,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `client` configured by `config`, reporting Events as `identity`.
    pub fn new(client: Client, metrics: Arc<Metrics>, config: &Config, identity: String) -> Self {
        let reporter = Reporter {
            controller: "ade-operator".into(),
            instance: Some(identity),
        };
        let validator = validation_suite::ValidatorSettings {
            image: config.validator_image.clone(),
            ttl_seconds_after_finished: i32::try_from(config.job_ttl.as_secs()).unwrap_or(i32::MAX),
            aws_region: config.aws_region.clone(),
            aws_endpoint_url: config.aws_endpoint_url.clone(),
        };
        let caches = caches::Caches::default();
        metrics.observe(caches.clone());
        Self {
            validator,
            recorder: Arc::new(Recorder::new(client.clone(), reporter)),
            providers: Providers::new(client.clone(), config, caches.attempt_jobs.reader()),
            prices: cost::Prices {
                cpu_hour: config.price_cpu_hour,
                memory_gib_hour: config.price_memory_gib_hour,
            },
            client,
            metrics,
            backoff: Arc::default(),
            caches,
            admissions: Arc::default(),
            pool_queues: Arc::default(),
            cluster_wait_limit: config.cluster_wait_limit,
            lease_table: Arc::new(crate::lease_table::AwsLeaseTable::new(config.aws_endpoint_url.clone())),
            catalog: Arc::new(crate::catalog::AwsCatalog::new(config.aws_endpoint_url.clone())),
            aws_region: config.aws_region.clone(),
            concurrent_reconciles: config.concurrent_reconciles,
            stream: stream_consumer::children::StreamSettings {
                image: config.stream_image.clone(),
                aws_endpoint_url: config.aws_endpoint_url.clone(),
            },
        }
    }
}

impl Context {
    /// Publishes an Event on `obj`; `note` is cut to the API's 1 kB. An Event is
    /// a courtesy: failing to publish one is logged, never returned.
    pub async fn publish_event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        note: &str,
        action: &str,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(note, 1000)),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason, "publishing an Event failed");
        }
    }
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
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

/// Runs every controller until `shutdown` is cancelled.
pub async fn run_all(ctx: Arc<Context>, shutdown: CancellationToken) {
    ctx.caches.start(&ctx.client, &shutdown);
    tokio::join!(
        cluster_pool::run(ctx.clone(), shutdown.clone()),
        etl_job::run(ctx.clone(), shutdown.clone()),
        etl_run::run(ctx.clone(), shutdown.clone()),
        stream_consumer::run(ctx.clone(), shutdown.clone()),
        validation_suite::run(ctx, shutdown),
    );
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
