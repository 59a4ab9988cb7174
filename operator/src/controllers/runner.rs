//! The run loop every controller shares: a kube-runtime `Controller` with
//! metrics around each reconciliation (the busiest object's rate among
//! them), per-object backoff on errors, and a graceful stop.

use std::{fmt::Debug, future::Future, sync::Arc, time::Instant};

use futures::{Stream, StreamExt};
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

/// The objects a reflected watch delivers, each once the reflector's store
/// holds it: a (re)list's objects only when the list is done and swapped
/// into the store. Told earlier, a new object is not in the store yet and
/// the controller drops its reconcile (kube-runtime's `ObjectNotFound`);
/// see `caches::feed` for the cached kinds.
fn settled<K: Send + 'static>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    events
        .scan(Vec::new(), |listed, event| {
            let out = match event {
                Ok(watcher::Event::Apply(obj)) => vec![Ok(obj)],
                Ok(watcher::Event::Delete(_)) => Vec::new(),
                Ok(watcher::Event::Init) => {
                    listed.clear();
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(obj)) => {
                    listed.push(obj);
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => std::mem::take(listed).into_iter().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten()
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
        Trigger::EveryChange | Trigger::SpecChange => {
            let (reader, writer) = reflector::store();
            let objects = settled(
                watcher(api, watcher::Config::default().any_semantic())
                    .default_backoff()
                    .reflect(writer),
            );
            let objects = if matches!(trigger, Trigger::SpecChange) {
                objects
                    .predicate_filter(predicates::generation, Default::default())
                    .boxed()
            } else {
                objects.boxed()
            };
            Controller::for_stream(objects, reader)
        }
        Trigger::Cached(cache) => {
            let changes = cache.changes();
            // The store's readiness wakes one waiter only (see `Cache::ready`):
            // the controller, which waits for it too, starts once it is ready.
            if !cache.ready().await {
                return;
            }
            Controller::for_shared_stream(changes, cache.reader())
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

#[cfg(test)]
mod tests {
    use futures::{StreamExt, stream};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::{
        ResourceExt,
        runtime::{WatchStreamExt, reflector, watcher::Event},
    };

    fn object(name: &str) -> ConfigMap {
        let mut o = ConfigMap::default();
        o.metadata.name = Some(name.to_string());
        o.metadata.namespace = Some("ns".to_string());
        o
    }

    /// A controller looks up what woke it in the store: every object is
    /// delivered only once the store holds it, a (re)list's objects when
    /// the list is done (kube-runtime's `applied_objects` delivers them
    /// before, and a new object's reconcile is dropped).
    #[tokio::test]
    async fn an_object_is_delivered_once_the_store_holds_it() {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let events = [
            Event::Init,
            Event::InitApply(object("a")),
            Event::InitApply(object("b")),
            Event::InitDone,
            Event::Apply(object("c")),
            Event::Delete(object("a")),
            Event::Init,
            Event::InitApply(object("d")),
            Event::InitDone,
        ];
        let delivered: Vec<(String, bool)> = super::settled(stream::iter(events.map(Ok)).reflect(writer))
            .map(|o| {
                let o = o.expect("no watch error");
                (o.name_any(), reader.get(&reflector::ObjectRef::from_obj(&o)).is_some())
            })
            .collect()
            .await;
        let held = |name: &str| (name.to_string(), true);
        assert_eq!(delivered, [held("a"), held("b"), held("c"), held("d")]);
    }
}
