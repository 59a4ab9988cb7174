//! The run loop every controller shares: a kube-runtime `Controller` with
//! metrics around each reconciliation (the busiest object's rate among
//! them), per-object backoff on errors, and a graceful stop.

use std::{fmt::Debug, future::Future, sync::Arc, time::Instant};

use futures::StreamExt;
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates, reflector, watcher,
    },
};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::{Context, ErrorCategory, caches::Cache};
use crate::metrics::{ControllerLabels, FailureLabels};

fn key<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Which changes of the controller's own objects trigger a reconciliation
/// (changes of watched and owned objects always do).
#[derive(Debug)]
pub enum Trigger<K: Resource<DynamicType = ()> + Clone + 'static> {
    /// Every change, status included.
    EveryChange,
    /// A change of `metadata.generation` (the spec, or deletion): the
    /// controller's own status writes do not wake it again.
    SpecChange,
    /// Every change, as the shared cache of the kind delivers it: the
    /// controller reads that cache's objects instead of keeping a second
    /// copy of every object from a watch of its own.
    Cached(Arc<Cache<K>>),
}

/// Runs `reconcile` for every object of kind `K` until `shutdown`, woken by
/// the changes `trigger` names, with `configure` adding watches (`owns`,
/// `watches`) to the controller.
pub async fn run_with<K, F, Fut, E>(
    ctx: Arc<Context>,
    shutdown: CancellationToken,
    controller: &'static str,
    trigger: Trigger<K>,
    reconcile: F,
    configure: impl FnOnce(Controller<K>) -> Controller<K>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + ErrorCategory + Send + Sync + 'static,
{
    let api = Api::<K>::all(ctx.client.clone());
    let labels = ControllerLabels { controller };
    let reconcile = Arc::new(reconcile);
    tracing::info!(controller, "controller started");
    let base = match trigger {
        Trigger::EveryChange => Controller::new(api, watcher::Config::default().any_semantic()),
        Trigger::SpecChange => {
            let (reader, writer) = reflector::store();
            let objects = watcher(api, watcher::Config::default().any_semantic())
                .default_backoff()
                .reflect(writer)
                .applied_objects()
                .predicate_filter(predicates::generation, Default::default());
            Controller::for_stream(objects, reader)
        }
        Trigger::Cached(cache) => {
            let changes = cache.changes();
            // The store's readiness wakes one waiter only (see `Cache::ready`):
            // the controller, which waits for it too, starts once it is ready.
            if !cache.ready().await {
                return;
            }
            Controller::for_stream(changes, cache.reader())
        }
    };
    configure(base)
        .with_config(controller::Config::default().concurrency(ctx.concurrent_reconciles))
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(
            move |obj: Arc<K>, ctx: Arc<Context>| {
                let reconcile = reconcile.clone();
                let labels = labels.clone();
                async move {
                    ctx.metrics.reconciliations.get_or_create(&labels).inc();
                    let started = Instant::now();
                    let key = key(obj.as_ref());
                    let recorded = ctx.metrics.record_reconcile(controller, &key, started);
                    if recorded.warn {
                        tracing::warn!(
                            controller,
                            object = %key,
                            last_minute = recorded.last_minute,
                            "an object was reconciled {} times in the last minute; a hot loop?",
                            recorded.last_minute
                        );
                    }
                    let result = reconcile(obj, ctx.clone()).await;
                    ctx.metrics
                        .reconcile_duration
                        .get_or_create(&labels)
                        .observe(started.elapsed().as_secs_f64());
                    if result.is_ok() {
                        ctx.backoff.succeeded(&key);
                    }
                    result
                }
            },
            move |obj: Arc<K>, error: &E, ctx: Arc<Context>| {
                let category = error.category();
                ctx.metrics
                    .failures
                    .get_or_create(&FailureLabels { controller, category })
                    .inc();
                let wait = ctx.backoff.failed(&key(obj.as_ref()));
                tracing::warn!(controller, category, error = %error, retry_in = ?wait, "reconcile failed");
                Action::requeue(wait)
            },
            ctx,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(controller, %error, "controller event");
            }
        })
        .await;
    tracing::info!(controller, "controller stopped");
}
